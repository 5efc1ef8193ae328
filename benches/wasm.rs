//! The same logic as a Wasm plugin and as a native DataFusion function, over
//! 10M rows (FLOE_BENCH_ROWS), in one process and one run:
//!
//! - scalar `daypart(hour)` (integer in, short string out),
//! - scalar `mask_pii(note)` (string in, string out),
//! - aggregate `hll_distinct(viewer)` without and with `GROUP BY`.
//!
//! The native versions compile the plugins' own logic files (`#[path]`), so
//! only the calling convention differs. Each case runs 9 Wasm/native pairs
//! (FLOE_BENCH_ROUNDS), alternating so that a slow stretch of a shared machine
//! hits both; reported are the median times and the median of the pairs'
//! Wasm/native ratios (target ≤ 1.5×), with the lowest and highest.
//!
//! `cargo bench --bench wasm` (needs `rustup target add wasm32-wasip2`).

// The plugins' own logic, compiled natively; not every function is used here.
#[allow(dead_code)]
#[path = "../plugins/daypart/src/logic.rs"]
mod daypart;
#[allow(dead_code)]
#[path = "../plugins/approx_distinct/src/hll.rs"]
mod hll;
#[allow(dead_code)]
#[path = "../plugins/pii_mask/src/mask.rs"]
mod mask;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, Int64Array, Int64Builder, RecordBatch,
    StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, EmitTo, GroupsAccumulator,
    Signature, Volatility, create_udf,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use floe::wasm::PluginOptions;
use floe::wasm::plugin::Plugin;
use floe::wasm::runtime::Runtime;
use floe::wasm::udf::{SessionLimits, Udf, udf};

/// floe's binaries run on mimalloc; so do both sides here.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 8192;

fn build_plugins() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .current_dir(&root)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the plugins build");
    root.join("target/wasm32-wasip2/release")
}

/// `rows` airings in `parts` partitions: hour, viewer (1M distinct), channel (16), a note with PII.
fn table(rows: usize, parts: usize) -> MemTable {
    let schema = Arc::new(Schema::new(vec![
        Field::new("hour", DataType::Int64, false),
        Field::new("viewer", DataType::Int64, false),
        Field::new("channel", DataType::Int64, false),
        Field::new("note", DataType::Utf8, false),
    ]));
    let mut partitions = vec![Vec::new(); parts];
    let mut start = 0;
    let mut n = 0;
    while start < rows {
        let len = BATCH.min(rows - start);
        let ids = start..start + len;
        let hour: Int64Array = ids.clone().map(|i| (i % 24) as i64).collect();
        let viewer: Int64Array = ids
            .clone()
            .map(|i| (hll::mix(i as u64) % 1_000_000) as i64)
            .collect();
        let channel: Int64Array = ids.clone().map(|i| (i % 16) as i64).collect();
        let note: StringArray = ids
            .map(|i| {
                Some(format!(
                    "viewer tel 13{:09} id 1101011990{:08}",
                    i % 1_000_000_000,
                    i % 100_000_000
                ))
            })
            .collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(hour),
                Arc::new(viewer),
                Arc::new(channel),
                Arc::new(note),
            ],
        )
        .expect("batch");
        partitions[n % parts].push(batch);
        n += 1;
        start += len;
    }
    MemTable::try_new(schema, partitions).expect("table")
}

fn native_daypart(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let hours = args[0].to_array(1)?;
    let hours = hours.as_primitive::<Int64Type>();
    let mut out = StringBuilder::with_capacity(hours.len(), hours.len() * 10);
    for h in hours.iter() {
        out.append_option(h.and_then(daypart::daypart));
    }
    Ok(ColumnarValue::Array(Arc::new(out.finish())))
}

fn native_mask(args: &[ColumnarValue]) -> Result<ColumnarValue> {
    let notes = args[0].to_array(1)?;
    let notes = notes.as_string::<i32>();
    let mut out = StringBuilder::with_capacity(notes.len(), notes.value_data().len());
    for s in notes.iter() {
        out.append_option(s.map(mask::mask_pii));
    }
    Ok(ColumnarValue::Array(Arc::new(out.finish())))
}

/// HyperLogLog as a native DataFusion aggregate, vectorized over groups.
#[derive(Debug, PartialEq, Eq, Hash)]
struct NativeHll(Signature);

#[derive(Debug, Default)]
struct NativeGroups(Vec<hll::Hll>);

impl NativeGroups {
    fn take(&mut self, emit: EmitTo) -> Vec<hll::Hll> {
        let n = match emit {
            EmitTo::All => self.0.len(),
            EmitTo::First(n) => n,
        };
        self.0.drain(..n).collect()
    }
}

impl GroupsAccumulator for NativeGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        groups: &[usize],
        _filter: Option<&BooleanArray>,
        total: usize,
    ) -> Result<()> {
        self.0.resize_with(total, hll::Hll::default);
        let v = values[0].as_primitive::<Int64Type>();
        for (row, &g) in groups.iter().enumerate() {
            if v.is_valid(row) {
                self.0[g].add_hash(hll::mix(v.value(row) as u64));
            }
        }
        Ok(())
    }
    fn evaluate(&mut self, emit: EmitTo) -> Result<ArrayRef> {
        let mut out = Int64Builder::new();
        for h in self.take(emit) {
            out.append_value(h.estimate());
        }
        Ok(Arc::new(out.finish()))
    }
    fn state(&mut self, emit: EmitTo) -> Result<Vec<ArrayRef>> {
        let mut out = BinaryBuilder::new();
        for h in self.take(emit) {
            out.append_value(h.bytes());
        }
        Ok(vec![Arc::new(out.finish())])
    }
    fn merge_batch(&mut self, values: &[ArrayRef], groups: &[usize], total: usize) -> Result<()> {
        self.0.resize_with(total, hll::Hll::default);
        let v = values[0].as_binary::<i32>();
        for (row, &g) in groups.iter().enumerate() {
            self.0[g]
                .merge_bytes(v.value(row))
                .map_err(datafusion::error::DataFusionError::Execution)?;
        }
        Ok(())
    }
    fn convert_to_state(
        &self,
        _values: &[ArrayRef],
        _filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        Err(datafusion::error::DataFusionError::NotImplemented(
            "not asked for".into(),
        ))
    }
    fn size(&self) -> usize {
        self.0.len() * hll::REGISTERS
    }
}

#[derive(Debug)]
struct NativeOne(NativeGroups);

impl Accumulator for NativeOne {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0
            .update_batch(values, &vec![0; values[0].len()], None, 1)
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.0.0.resize_with(1, hll::Hll::default);
        ScalarValue::try_from_array(&self.0.evaluate(EmitTo::All)?, 0)
    }
    fn size(&self) -> usize {
        self.0.size()
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.0.0.resize_with(1, hll::Hll::default);
        let s = self.0.state(EmitTo::All)?;
        Ok(vec![ScalarValue::try_from_array(&s[0], 0)?])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.merge_batch(states, &vec![0; states[0].len()], 1)
    }
}

impl AggregateUDFImpl for NativeHll {
    fn name(&self) -> &str {
        "native_hll_distinct"
    }
    fn signature(&self) -> &Signature {
        &self.0
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<arrow::datatypes::FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[hll]", args.name),
            DataType::Binary,
            true,
        ))])
    }
    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(NativeOne(NativeGroups::default())))
    }
    fn groups_accumulator_supported(&self, _: AccumulatorArgs) -> bool {
        true
    }
    fn create_groups_accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(NativeGroups::default()))
    }
}

fn register_wasm(ctx: &SessionContext, runtime: &Arc<Runtime>, dir: &Path) {
    let limits = SessionLimits::new(Duration::from_secs(600), None);
    for (file, names) in [
        ("daypart.wasm", &["daypart"][..]),
        ("pii_mask.wasm", &["mask_pii"][..]),
        ("approx_distinct.wasm", &["hll_distinct"][..]),
    ] {
        let wasm = std::fs::read(dir.join(file)).expect("plugin file");
        let sha = floe::wasm::runtime::digest(&wasm);
        let plugin = Plugin::load(runtime, file, &sha, &wasm).expect("plugin loads");
        for name in names {
            let spec = plugin.function(name).expect("exported").clone();
            match udf(&plugin, &spec, &limits) {
                Udf::Scalar(u) => ctx.register_udf(u),
                Udf::Aggregate(a) => ctx.register_udaf(a),
            }
        }
    }
}

/// Runs `sql` once: its time and its answer.
async fn run(ctx: &SessionContext, sql: &str) -> (Duration, Vec<RecordBatch>) {
    let started = Instant::now();
    let batches = ctx
        .sql(sql)
        .await
        .expect("plans")
        .collect()
        .await
        .expect("runs");
    (started.elapsed(), batches)
}

/// The first row of an answer, as printed.
fn first_row(batches: &[RecordBatch]) -> String {
    arrow::util::pretty::pretty_format_batches(batches)
        .map(|t| t.to_string().lines().nth(3).unwrap_or("").to_string())
        .unwrap_or_default()
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// One case: Wasm and native runs alternate, so that a slower stretch of a
/// shared machine lands on both; the ratio is the median of the rounds' ratios.
struct Measured {
    wasm_ms: f64,
    native_ms: f64,
    ratio: f64,
    /// The lowest and highest ratio of a round.
    spread: (f64, f64),
    answers: (String, String),
}

async fn measure(
    ctx: &SessionContext,
    wasm_sql: &str,
    native_sql: &str,
    rounds: usize,
) -> Measured {
    let (mut wasm, mut native, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut answers = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (w, a) = run(ctx, wasm_sql).await;
        let (n, b) = run(ctx, native_sql).await;
        let (w, n) = (w.as_secs_f64() * 1000.0, n.as_secs_f64() * 1000.0);
        wasm.push(w);
        native.push(n);
        ratios.push(w / n);
        answers = (a, b);
    }
    let (wasm, native, ratios) = (sorted(wasm), sorted(native), sorted(ratios));
    let mid = rounds / 2;
    Measured {
        wasm_ms: wasm[mid],
        native_ms: native[mid],
        ratio: ratios[mid],
        spread: (ratios[0], ratios[rounds - 1]),
        answers: (first_row(&answers.0), first_row(&answers.1)),
    }
}

fn main() {
    let rows = std::env::var("FLOE_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10_000_000usize);
    let dir = build_plugins();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let ctx = SessionContext::new();
        let started = Instant::now();
        ctx.register_table("airings", Arc::new(table(rows, cores)))
            .expect("table");
        println!(
            "{rows} rows in {cores} partitions generated in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // FLOE_BENCH_CACHE=DIR keeps the compiled plugins there, to read their machine code.
        let runtime = Runtime::new(PluginOptions {
            cache: std::env::var_os("FLOE_BENCH_CACHE").map(Into::into),
            ..PluginOptions::default()
        })
        .expect("wasm runtime");
        let started = Instant::now();
        register_wasm(&ctx, &runtime, &dir);
        println!(
            "3 plugins compiled and described in {:.0} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
        ctx.register_udf(create_udf(
            "native_daypart",
            vec![DataType::Int64],
            DataType::Utf8,
            Volatility::Immutable,
            Arc::new(native_daypart),
        ));
        ctx.register_udf(create_udf(
            "native_mask_pii",
            vec![DataType::Utf8],
            DataType::Utf8,
            Volatility::Immutable,
            Arc::new(native_mask),
        ));
        ctx.register_udaf(AggregateUDF::new_from_impl(NativeHll(Signature::exact(
            vec![DataType::Int64],
            Volatility::Immutable,
        ))));

        let cases = [
            ("scalar daypart(hour)", "SELECT COUNT({f}daypart(hour)) FROM airings"),
            ("scalar mask_pii(note)", "SELECT COUNT({f}mask_pii(note)) FROM airings"),
            ("aggregate hll_distinct(viewer)", "SELECT {f}hll_distinct(viewer) FROM airings"),
            (
                "aggregate ... GROUP BY channel",
                "SELECT channel, {f}hll_distinct(viewer) FROM airings GROUP BY channel ORDER BY channel",
            ),
        ];
        // FLOE_BENCH_ROUNDS: how many Wasm/native pairs each case runs.
        let rounds = std::env::var("FLOE_BENCH_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .filter(|&r: &usize| r > 0)
            .unwrap_or(9);
        println!();
        println!(
            "{:<34} {:>9} {:>10} {:>7} {:>13}  answers (wasm | native)",
            "case", "wasm ms", "native ms", "ratio", "round ratios"
        );
        let mut ratios = Vec::new();
        // FLOE_BENCH_CASES=daypart runs only the cases whose name contains it.
        let only = std::env::var("FLOE_BENCH_CASES").unwrap_or_default();
        for (name, sql) in cases.into_iter().filter(|(n, _)| n.contains(only.as_str())) {
            let m = measure(
                &ctx,
                &sql.replace("{f}", ""),
                &sql.replace("{f}", "native_"),
                rounds,
            )
            .await;
            ratios.push(m.ratio);
            println!(
                "{name:<34} {:>9.1} {:>10.1} {:>6.2}x {:>5.2}..{:<5.2}  {} | {}",
                m.wasm_ms,
                m.native_ms,
                m.ratio,
                m.spread.0,
                m.spread.1,
                m.answers.0.trim(),
                m.answers.1.trim()
            );
        }
        let geo = ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64;
        println!("geometric mean wasm/native: {:.2}x (target <= 1.5x)", geo.exp());
    });
}

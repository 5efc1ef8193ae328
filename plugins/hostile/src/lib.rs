//! A plugin that misbehaves on purpose, for floe's sandbox tests. It uses the
//! raw bindings instead of `export!`, because the SDK would not let it lie.
//!
//! - `spin(x)` never returns.
//! - `hog(x)` allocates until the host refuses memory.
//! - `boom(x)` panics with a message naming `x`.
//! - `liar(x)` says it returns BIGINT and returns VARCHAR.
//! - `short(x)` returns one row fewer than it was given.
//! - `sneaky_clock(x)` claims to be deterministic and reads the clock.
//! - `wall_clock()` declares that it needs the clock, and reads it.
//! - `linger(x)` is honest but slow: it counts to `x` million, then returns `x`.

use floe_plugin::bindings::exports::floe::plugin::functions::{Guest, GuestAccumulator};
use floe_plugin::bindings::floe::plugin::host;
use floe_plugin::bindings::floe::plugin::types::{BytesColumn, Values};
use floe_plugin::{Capability, Column, DataType, Function, FunctionKind};

struct Hostile;

const NAMES: [&str; 6] = ["spin", "hog", "boom", "liar", "short", "sneaky_clock"];

fn bigints(values: Vec<i64>) -> Column {
    Column {
        values: Values::Bigint(values),
        validity: None,
    }
}

fn first_arg(args: &[Column]) -> Result<&[i64], String> {
    match args.first().map(|c| &c.values) {
        Some(Values::Bigint(v)) => Ok(v),
        _ => Err("expected one BIGINT argument".into()),
    }
}

impl Guest for Hostile {
    type Accumulator = NoAggregates;

    fn describe() -> Vec<Function> {
        let mut all: Vec<Function> = NAMES
            .iter()
            .map(|name| Function {
                name: name.to_string(),
                kind: FunctionKind::Scalar,
                args: vec![DataType::Bigint],
                returns: DataType::Bigint,
                deterministic: true,
                needs: vec![],
            })
            .collect();
        all.push(Function {
            name: "wall_clock".into(),
            kind: FunctionKind::Scalar,
            args: vec![],
            returns: DataType::Bigint,
            deterministic: false,
            needs: vec![Capability::Clock],
        });
        all.push(Function {
            name: "linger".into(),
            kind: FunctionKind::Scalar,
            args: vec![DataType::Bigint],
            returns: DataType::Bigint,
            deterministic: true,
            needs: vec![],
        });
        all
    }

    fn call(function: u32, args: Vec<Column>, rows: u32) -> Result<Column, String> {
        floe_plugin::catch_panics();
        match function {
            0 => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            1 => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut block = vec![0u8; 1 << 20];
                    block[hoard.len() % (1 << 20)] = 1;
                    hoard.push(std::hint::black_box(block));
                }
            }
            2 => {
                let x = first_arg(&args)?.first().copied().unwrap_or_default();
                panic!("boom: refusing {x}");
            }
            3 => Ok(Column {
                values: Values::Varchar(BytesColumn {
                    offsets: vec![0; rows as usize + 1],
                    data: vec![],
                }),
                validity: None,
            }),
            4 => {
                let mut v = first_arg(&args)?.to_vec();
                v.pop();
                Ok(bigints(v))
            }
            5 | 6 => Ok(bigints(vec![host::now_micros(); rows as usize])),
            7 => {
                let x = first_arg(&args)?;
                for &millions in x {
                    let mut n = 0u64;
                    while n < millions.max(0) as u64 * 1_000_000 {
                        n = std::hint::black_box(n + 1);
                    }
                }
                Ok(bigints(x.to_vec()))
            }
            _ => Err(format!("no function number {function}")),
        }
    }
}

struct NoAggregates;

impl GuestAccumulator for NoAggregates {
    fn new(_function: u32) -> Self {
        NoAggregates
    }
    fn update(&self, _: Vec<u32>, _: u32, _: Vec<Column>) -> Result<(), String> {
        Err("hostile has no aggregates".into())
    }
    fn state(&self, _: u32) -> Result<Column, String> {
        Err("hostile has no aggregates".into())
    }
    fn merge(&self, _: Vec<u32>, _: u32, _: Column) -> Result<(), String> {
        Err("hostile has no aggregates".into())
    }
    fn finish(&self, _: u32) -> Result<Column, String> {
        Err("hostile has no aggregates".into())
    }
}

floe_plugin::bindings::__export_world!(Hostile with_types_in floe_plugin::bindings);

//! Sealed-segment scan over 50M rows (50 segments of 1M): the sum of an i64
//! column, and an equality filter on a string column, on one core, straight
//! from the memory-mapped files. Throughput is the bytes of the column read.
//! The data is generated once into target/ (FLOE_BENCH_DIR) and reused.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{AsArray, Int64Array, RecordBatch, Scalar, StringArray};
use arrow::compute;
use arrow::datatypes::Int64Type;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use floe_storage::segment::{SealedSegment, sealed_key, write_segment};
use floe_storage::volume::Volume;
use floe_storage::{ColumnDef, ColumnType, TableDef};

mod common;

const SEGMENTS: u64 = 50;
const ROWS_PER_SEGMENT: i64 = 1_000_000;

fn table() -> TableDef {
    TableDef::new(
        1,
        "bench.scan",
        vec![
            ColumnDef::new("cost", ColumnType::Int64, false),
            ColumnDef::new("province", ColumnType::Utf8, false),
        ],
    )
}

fn segments() -> Vec<SealedSegment> {
    let dir = common::base_dir().join("scan-50m-v1");
    let volume = Volume::open(&dir).expect("volume");
    let store = volume.store().as_ref();
    let def = table();
    let schema = def.arrow_schema();
    (0..SEGMENTS)
        .map(|s| {
            let key = sealed_key(1, s + 1);
            if !store.exists(&key).expect("stat") {
                let first = s as i64 * ROWS_PER_SEGMENT;
                let ids = first..first + ROWS_PER_SEGMENT;
                let batch = RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(Int64Array::from_iter_values(
                            ids.clone().map(|i| (i * 7919) % 100_000),
                        )),
                        Arc::new(StringArray::from_iter_values(
                            ids.map(|i| format!("province-{:02}", (i * 31) % 34)),
                        )),
                    ],
                )
                .expect("batch");
                write_segment(store, &key, 1, s + 1, &schema, &[batch]).expect("write segment");
            }
            SealedSegment::open(store, &key, &schema).expect("open segment")
        })
        .collect()
}

fn scan(c: &mut Criterion) {
    let segs = segments();
    // The bytes each scan reads (the arrays are slices of whole-file mappings,
    // so Arrow's buffer sizes would count the entire file).
    let rows: u64 = segs.iter().map(|s| s.rows as u64).sum();
    let i64_bytes = rows * 8;
    let str_bytes: u64 = segs
        .iter()
        .map(|s| {
            let a = s.batch.column(1).as_string::<i32>();
            (a.value_data().len() + a.value_offsets().len() * 4) as u64
        })
        .sum();
    let expected: i64 = segs
        .iter()
        .map(|s| compute::sum(s.batch.column(0).as_primitive::<Int64Type>()).unwrap_or(0))
        .sum();

    let mut group = c.benchmark_group("sealed_scan_50m_rows");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Bytes(i64_bytes));
    group.bench_function("sum_i64", |b| {
        b.iter(|| {
            let total: i64 = segs
                .iter()
                .map(|s| compute::sum(s.batch.column(0).as_primitive::<Int64Type>()).unwrap_or(0))
                .sum();
            assert_eq!(total, expected);
            total
        })
    });
    group.throughput(Throughput::Bytes(str_bytes));
    let needle = Scalar::new(StringArray::from(vec!["province-07"]));
    group.bench_function("filter_string_eq", |b| {
        b.iter(|| {
            segs.iter()
                .map(|s| {
                    let mask = compute::kernels::cmp::eq(s.batch.column(1), &needle).expect("eq");
                    mask.true_count()
                })
                .sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);

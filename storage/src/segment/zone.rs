//! Zone maps: per-column min, max and null count of a segment, for pruning.

use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute;
use arrow::datatypes::*;
use serde::{Deserialize, Serialize};

/// Bounds longer than this are not kept (a prefix would not bound a max).
const MAX_BOUND_BYTES: usize = 64;

/// Rows per zone-map block: the unit a scan can skip inside a segment (a
/// segment's own zone map is too coarse for a query on one day of a year).
pub const BLOCK_ROWS: usize = 16 * 1024;

/// The zone maps of a segment's blocks in row order: block `k` holds rows
/// `k * BLOCK_ROWS ..`; rows past the last block have none yet.
pub type BlockZones = Arc<Vec<Vec<ColumnZone>>>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ZoneValue {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Decimal(i128),
    Bytes(Vec<u8>),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnZone {
    pub min: Option<ZoneValue>,
    pub max: Option<ZoneValue>,
    pub nulls: u64,
}

fn prim<T: ArrowPrimitiveType>(
    a: &dyn Array,
    f: impl Fn(T::Native) -> ZoneValue,
) -> (Option<ZoneValue>, Option<ZoneValue>) {
    let a = a.as_primitive::<T>();
    (compute::min(a).map(&f), compute::max(a).map(&f))
}

fn bytes(v: Option<&[u8]>) -> Option<ZoneValue> {
    v.filter(|b| b.len() <= MAX_BOUND_BYTES)
        .map(|b| ZoneValue::Bytes(b.to_vec()))
}

/// The zone maps of each `BLOCK_ROWS` rows of `batch`, the last block
/// possibly shorter.
pub fn compute_block_zones(batch: &RecordBatch) -> Vec<Vec<ColumnZone>> {
    let rows = batch.num_rows();
    (0..rows)
        .step_by(BLOCK_ROWS)
        .map(|at| compute_zones(&batch.slice(at, BLOCK_ROWS.min(rows - at))))
        .collect()
}

pub fn compute_zones(batch: &RecordBatch) -> Vec<ColumnZone> {
    batch
        .columns()
        .iter()
        .map(|col| {
            let a = col.as_ref();
            let (min, max) = match a.data_type() {
                DataType::Boolean => {
                    let b = a.as_boolean();
                    (
                        compute::min_boolean(b).map(ZoneValue::Bool),
                        compute::max_boolean(b).map(ZoneValue::Bool),
                    )
                }
                DataType::Int8 => prim::<Int8Type>(a, |v| ZoneValue::Int(v.into())),
                DataType::Int16 => prim::<Int16Type>(a, |v| ZoneValue::Int(v.into())),
                DataType::Int32 => prim::<Int32Type>(a, |v| ZoneValue::Int(v.into())),
                DataType::Int64 => prim::<Int64Type>(a, ZoneValue::Int),
                DataType::Date32 => prim::<Date32Type>(a, |v| ZoneValue::Int(v.into())),
                DataType::Timestamp(TimeUnit::Microsecond, _) => {
                    prim::<TimestampMicrosecondType>(a, ZoneValue::Int)
                }
                DataType::Time64(TimeUnit::Microsecond) => {
                    prim::<Time64MicrosecondType>(a, ZoneValue::Int)
                }
                DataType::UInt8 => prim::<UInt8Type>(a, |v| ZoneValue::UInt(v.into())),
                DataType::UInt16 => prim::<UInt16Type>(a, |v| ZoneValue::UInt(v.into())),
                DataType::UInt32 => prim::<UInt32Type>(a, |v| ZoneValue::UInt(v.into())),
                DataType::UInt64 => prim::<UInt64Type>(a, ZoneValue::UInt),
                DataType::Float32 => prim::<Float32Type>(a, |v| ZoneValue::Float(v.into())),
                DataType::Float64 => prim::<Float64Type>(a, ZoneValue::Float),
                DataType::Decimal128(_, _) => prim::<Decimal128Type>(a, ZoneValue::Decimal),
                DataType::Utf8 => {
                    let s = a.as_string::<i32>();
                    (
                        bytes(compute::min_string(s).map(str::as_bytes)),
                        bytes(compute::max_string(s).map(str::as_bytes)),
                    )
                }
                DataType::Binary => {
                    let b = a.as_binary::<i32>();
                    (bytes(compute::min_binary(b)), bytes(compute::max_binary(b)))
                }
                _ => (None, None),
            };
            // NaN has no place in a range (and none in JSON).
            let finite = |v: Option<ZoneValue>| {
                v.filter(|v| !matches!(v, ZoneValue::Float(f) if f.is_nan()))
            };
            ColumnZone {
                min: finite(min),
                max: finite(max),
                nulls: a.null_count() as u64,
            }
        })
        .collect()
}

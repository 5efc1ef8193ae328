//! Arrow arrays to the contract's columns and back. Going in, fixed-width
//! values and bytes are borrowed from the arrays (the component model copies
//! them once, into the guest); coming out, the guest's vectors become Arrow
//! buffers without a copy, after checks: a plugin's output is untrusted.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType as ArrowType, TimeUnit};

use super::bindings::floe::plugin::types::{
    BytesColumnParam, BytesColumnResult, ColumnParam, ColumnResult, DataType, DecimalColumnParam,
    DecimalType, ValuesParam, ValuesResult,
};

/// The Arrow type that carries a contract type.
pub fn arrow_type(t: &DataType) -> ArrowType {
    match t {
        DataType::Bigint => ArrowType::Int64,
        DataType::Double => ArrowType::Float64,
        DataType::Decimal(DecimalType { precision, scale }) => {
            ArrowType::Decimal128(*precision, *scale)
        }
        DataType::Varchar => ArrowType::Utf8,
        DataType::Varbinary => ArrowType::Binary,
        DataType::Boolean => ArrowType::Boolean,
        DataType::Date => ArrowType::Date32,
        DataType::Datetime => ArrowType::Timestamp(TimeUnit::Microsecond, None),
    }
}

/// The SQL name of a contract type, for messages and `RETURNS` checks.
pub fn sql_name(t: &DataType) -> String {
    match t {
        DataType::Bigint => "BIGINT".into(),
        DataType::Double => "DOUBLE".into(),
        DataType::Decimal(d) => format!("DECIMAL({},{})", d.precision, d.scale),
        DataType::Varchar => "VARCHAR".into(),
        DataType::Varbinary => "VARBINARY".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Date => "DATE".into(),
        DataType::Datetime => "DATETIME".into(),
    }
}

/// Whether a type is one the contract allows (decimal precision 1..=38,
/// scale within it).
pub fn valid_type(t: &DataType) -> bool {
    match t {
        DataType::Decimal(d) => {
            (1..=38).contains(&d.precision) && (d.scale as i16) <= d.precision as i16
        }
        _ => true,
    }
}

enum Held {
    Int64(ScalarBuffer<i64>),
    Micros(ScalarBuffer<i64>),
    Float64(ScalarBuffer<f64>),
    Int32(ScalarBuffer<i32>),
    Bool(Vec<bool>),
    Bytes {
        binary: bool,
        offsets: ScalarBuffer<u32>,
        data: Buffer,
    },
    Decimal {
        precision: u8,
        scale: i8,
        data: Buffer,
    },
}

/// One argument column, held in the shape the contract passes.
pub struct Lowered {
    held: Held,
    validity: Option<Buffer>,
}

/// Offsets rebased to start at 0, reusing Arrow's buffer when they already do.
fn rebase(offsets: &OffsetBuffer<i32>) -> ScalarBuffer<u32> {
    let first = offsets.first().copied().unwrap_or(0);
    if first == 0 {
        // Non-negative i32 offsets have the same bits as u32.
        ScalarBuffer::from(offsets.inner().inner().clone())
    } else {
        offsets.iter().map(|o| (o - first) as u32).collect()
    }
}

fn bytes_of(offsets: &OffsetBuffer<i32>, values: &Buffer) -> Buffer {
    let first = offsets.first().copied().unwrap_or(0) as usize;
    let last = offsets.last().copied().unwrap_or(0) as usize;
    values.slice_with_length(first, last - first)
}

impl Lowered {
    /// `array` must already have the declared type (the caller casts).
    pub fn new(array: &ArrayRef) -> Result<Lowered, String> {
        let held = match array.data_type() {
            ArrowType::Int64 => Held::Int64(
                array
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .values()
                    .clone(),
            ),
            ArrowType::Float64 => Held::Float64(
                array
                    .as_primitive::<arrow::datatypes::Float64Type>()
                    .values()
                    .clone(),
            ),
            ArrowType::Date32 => Held::Int32(
                array
                    .as_primitive::<arrow::datatypes::Date32Type>()
                    .values()
                    .clone(),
            ),
            ArrowType::Timestamp(TimeUnit::Microsecond, _) => Held::Micros(
                array
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .values()
                    .clone(),
            ),
            ArrowType::Boolean => Held::Bool(array.as_boolean().values().iter().collect()),
            ArrowType::Utf8 => {
                let a = array.as_string::<i32>();
                Held::Bytes {
                    binary: false,
                    offsets: rebase(a.offsets()),
                    data: bytes_of(a.offsets(), a.values()),
                }
            }
            ArrowType::Binary => {
                let a = array.as_binary::<i32>();
                Held::Bytes {
                    binary: true,
                    offsets: rebase(a.offsets()),
                    data: bytes_of(a.offsets(), a.values()),
                }
            }
            ArrowType::Decimal128(p, s) => Held::Decimal {
                precision: *p,
                scale: *s,
                data: array
                    .as_primitive::<arrow::datatypes::Decimal128Type>()
                    .values()
                    .inner()
                    .clone(),
            },
            other => return Err(format!("no plugin type carries {other}")),
        };
        let validity = array
            .logical_nulls()
            .filter(|n| n.null_count() > 0)
            .map(|n| n.inner().sliced());
        Ok(Lowered { held, validity })
    }

    pub fn param(&self) -> ColumnParam<'_> {
        let values = match &self.held {
            Held::Int64(v) => ValuesParam::Bigint(v),
            Held::Micros(v) => ValuesParam::Datetime(v),
            Held::Float64(v) => ValuesParam::Double(v),
            Held::Int32(v) => ValuesParam::Date(v),
            Held::Bool(v) => ValuesParam::Boolean(v),
            Held::Bytes {
                binary,
                offsets,
                data,
            } => {
                let c = BytesColumnParam {
                    offsets,
                    data: data.as_slice(),
                };
                if *binary {
                    ValuesParam::Varbinary(c)
                } else {
                    ValuesParam::Varchar(c)
                }
            }
            Held::Decimal {
                precision,
                scale,
                data,
            } => ValuesParam::Decimal(DecimalColumnParam {
                precision: *precision,
                scale: *scale,
                values: data.as_slice(),
            }),
        };
        ColumnParam {
            values,
            validity: self.validity.as_deref(),
        }
    }
}

fn nulls(validity: Option<Vec<u8>>, rows: usize) -> Result<Option<NullBuffer>, String> {
    let Some(bits) = validity else {
        return Ok(None);
    };
    if bits.len() < rows.div_ceil(8) {
        return Err(format!(
            "a validity bitmap of {} bytes for {rows} rows",
            bits.len()
        ));
    }
    let n = NullBuffer::new(BooleanBuffer::new(Buffer::from_vec(bits), 0, rows));
    Ok((n.null_count() > 0).then_some(n))
}

fn check_len(len: usize, rows: usize) -> Result<(), String> {
    if len == rows {
        Ok(())
    } else {
        Err(format!("{len} values for {rows} rows"))
    }
}

/// A variable-length result as Arrow's offsets and values, after one pass of
/// checks: `rows + 1` offsets from 0, never decreasing, within `data` (so
/// within i32) and, for VARCHAR, each at the start of a character of valid
/// UTF-8. The guest's vectors become the buffers without a copy.
fn bytes(
    c: BytesColumnResult,
    rows: usize,
    utf8: bool,
) -> Result<(OffsetBuffer<i32>, Buffer), String> {
    if c.offsets.len() != rows + 1 {
        return Err(format!("{} offsets for {rows} rows", c.offsets.len()));
    }
    if utf8 {
        simdutf8::compat::from_utf8(&c.data).map_err(|e| format!("invalid VARCHAR values: {e}"))?;
    }
    let end = c.data.len().min(i32::MAX as usize);
    let mut prev = 0usize;
    for (i, &o) in c.offsets.iter().enumerate() {
        let o = o as usize;
        // A UTF-8 continuation byte is 0b10xxxxxx: -64..=-1 as i8 means it starts a character.
        let starts_char = !utf8 || c.data.get(o).is_none_or(|&b| (b as i8) >= -0x40);
        if (i == 0 && o != 0) || o < prev || o > end || !starts_char {
            return Err(format!("offset {o} at {i} is out of order or bounds"));
        }
        prev = o;
    }
    let offsets = ScalarBuffer::<i32>::new(Buffer::from_vec(c.offsets), 0, rows + 1);
    // SAFETY: checked above: the offsets start at 0, never decrease, and are at most i32::MAX.
    let offsets = unsafe { OffsetBuffer::new_unchecked(offsets) };
    Ok((offsets, Buffer::from_vec(c.data)))
}

/// A result column as an Arrow array of the declared type, or why not.
pub fn lift(result: ColumnResult, declared: &DataType, rows: usize) -> Result<ArrayRef, String> {
    let nulls = nulls(result.validity, rows)?;
    let mismatch = |got: &str| {
        Err(format!(
            "returned {got} where it declared {}",
            sql_name(declared)
        ))
    };
    let array: ArrayRef = match (declared, result.values) {
        (DataType::Bigint, ValuesResult::Bigint(v)) => {
            check_len(v.len(), rows)?;
            Arc::new(Int64Array::new(ScalarBuffer::from(v), nulls))
        }
        (DataType::Datetime, ValuesResult::Datetime(v)) => {
            check_len(v.len(), rows)?;
            Arc::new(TimestampMicrosecondArray::new(ScalarBuffer::from(v), nulls))
        }
        (DataType::Double, ValuesResult::Double(v)) => {
            check_len(v.len(), rows)?;
            Arc::new(Float64Array::new(ScalarBuffer::from(v), nulls))
        }
        (DataType::Date, ValuesResult::Date(v)) => {
            check_len(v.len(), rows)?;
            Arc::new(Date32Array::new(ScalarBuffer::from(v), nulls))
        }
        (DataType::Boolean, ValuesResult::Boolean(v)) => {
            check_len(v.len(), rows)?;
            Arc::new(BooleanArray::new(BooleanBuffer::from(v), nulls))
        }
        (DataType::Varchar, ValuesResult::Varchar(c)) => {
            let (offsets, data) = bytes(c, rows, true)?;
            // SAFETY: `bytes` checked the offsets against `data`, `data` as UTF-8 and every
            // offset as a character boundary; `nulls` has `rows` bits.
            Arc::new(unsafe { StringArray::new_unchecked(offsets, data, nulls) })
        }
        (DataType::Varbinary, ValuesResult::Varbinary(c)) => {
            let (offsets, data) = bytes(c, rows, false)?;
            // SAFETY: `bytes` checked the offsets against `data`; `nulls` has `rows` bits.
            Arc::new(unsafe { BinaryArray::new_unchecked(offsets, data, nulls) })
        }
        (DataType::Decimal(d), ValuesResult::Decimal(c)) => {
            if (c.precision, c.scale) != (d.precision, d.scale) {
                return mismatch(&format!("DECIMAL({},{})", c.precision, c.scale));
            }
            if c.values.len() != rows * 16 {
                return Err(format!("{} decimal bytes for {rows} rows", c.values.len()));
            }
            let values: Vec<i128> = c
                .values
                .chunks_exact(16)
                .map(|b| i128::from_le_bytes(b.try_into().unwrap_or([0; 16])))
                .collect();
            let array = Decimal128Array::new(ScalarBuffer::from(values), nulls)
                .with_precision_and_scale(d.precision, d.scale)
                .map_err(|e| e.to_string())?;
            array.validate_decimal_precision(d.precision).map_err(|e| {
                format!(
                    "a DECIMAL({},{}) value out of range: {e}",
                    d.precision, d.scale
                )
            })?;
            Arc::new(array)
        }
        (_, other) => {
            let got = match other {
                ValuesResult::Bigint(_) => "BIGINT",
                ValuesResult::Double(_) => "DOUBLE",
                ValuesResult::Decimal(_) => "DECIMAL",
                ValuesResult::Varchar(_) => "VARCHAR",
                ValuesResult::Varbinary(_) => "VARBINARY",
                ValuesResult::Boolean(_) => "BOOLEAN",
                ValuesResult::Date(_) => "DATE",
                ValuesResult::Datetime(_) => "DATETIME",
            };
            return mismatch(got);
        }
    };
    Ok(array)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varchar(offsets: Vec<u32>, data: &[u8], validity: Option<Vec<u8>>) -> ColumnResult {
        ColumnResult {
            values: ValuesResult::Varchar(BytesColumnResult {
                offsets,
                data: data.to_vec(),
            }),
            validity,
        }
    }

    #[test]
    fn strings_from_a_plugin_become_arrow_arrays() {
        let text = "prime_time深夜";
        let end = text.len() as u32;
        let column = varchar(vec![0, 10, 10, end], text.as_bytes(), Some(vec![0b101]));
        let array = lift(column, &DataType::Varchar, 3).expect("valid");
        let array = array.as_string::<i32>();
        assert_eq!(array.value(0), "prime_time");
        assert!(array.is_null(1));
        assert_eq!(array.value(2), "深夜");
        let bin = ColumnResult {
            values: ValuesResult::Varbinary(BytesColumnResult {
                offsets: vec![0, 1, 3],
                data: vec![0xFF, 0x80, 0x00],
            }),
            validity: None,
        };
        let array = lift(bin, &DataType::Varbinary, 2).expect("any bytes are VARBINARY");
        assert_eq!(array.as_binary::<i32>().value(1), [0x80, 0x00]);
    }

    #[test]
    fn strings_that_break_the_contract_are_refused() {
        let text = "深夜".as_bytes();
        let bad = [
            (vec![0, 3], 2, "2 offsets for 2 rows"),      // too few
            (vec![1, 3, 6], 2, "out of order or bounds"), // not from 0
            (vec![0, 6, 3], 2, "out of order or bounds"), // decreasing
            (vec![0, 3, 7], 2, "out of order or bounds"), // past the data
            (vec![0, 1, 6], 2, "out of order or bounds"), // inside a character
        ];
        for (offsets, rows, message) in bad {
            let err = lift(
                varchar(offsets.clone(), text, None),
                &DataType::Varchar,
                rows,
            )
            .expect_err("refused");
            assert!(err.contains(message), "{offsets:?}: {err}");
        }
        let err = lift(
            varchar(vec![0, 2], &[0xC3, 0x28], None),
            &DataType::Varchar,
            1,
        )
        .expect_err("not UTF-8");
        assert!(err.contains("invalid VARCHAR"), "{err}");
        let err = lift(
            varchar(vec![0, 0], b"", Some(vec![])),
            &DataType::Varchar,
            1,
        )
        .expect_err("short bitmap");
        assert!(err.contains("validity bitmap"), "{err}");
    }
}

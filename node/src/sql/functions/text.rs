//! String functions where MySQL and DataFusion differ: CONCAT is NULL when
//! any argument is, LENGTH counts bytes, LOCATE takes the needle first, and
//! values turn into text the way MySQL prints them.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;

use super::{Call, MySqlFn};

pub fn functions() -> Vec<MySqlFn> {
    let int = |_: &[DataType], _: &[Option<&ScalarValue>]| Ok(DataType::Int64);
    let text = |_: &[DataType], _: &[Option<&ScalarValue>]| Ok(DataType::Utf8);
    vec![
        MySqlFn::new("concat", 1..=usize::MAX, text, concat),
        MySqlFn::new("length", 1..=1, int, |c| lengths(c, |s| s.len())).aliases(&["octet_length"]),
        MySqlFn::new("locate", 2..=3, int, locate),
        MySqlFn::new("hex", 1..=1, text, hex),
    ]
}

/// HEX(): integers in base 16 (two's complement for negatives, as MySQL's
/// BIGINT UNSIGNED conversion), strings and binaries byte by byte, upper case.
fn hex(c: &Call) -> Result<ArrayRef> {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let a = &c.args[0];
    let out: StringArray = match a.data_type() {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let v = cast(a, &DataType::Int64)?;
            v.as_primitive::<arrow::datatypes::Int64Type>()
                .iter()
                .map(|v| v.map(|v| format!("{:X}", v as u64)))
                .collect()
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            let v = cast(a, &DataType::UInt64)?;
            v.as_primitive::<arrow::datatypes::UInt64Type>()
                .iter()
                .map(|v| v.map(|v| format!("{v:X}")))
                .collect()
        }
        _ => {
            let b = match a.data_type() {
                DataType::Binary => a.clone(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    cast(a, &DataType::Binary)?
                }
                _ => cast(&cast(a, &DataType::Utf8)?, &DataType::Binary)?,
            };
            b.as_binary::<i32>()
                .iter()
                .map(|b| {
                    b.map(|b| {
                        let mut s = String::with_capacity(b.len() * 2);
                        for x in b {
                            s.push(DIGITS[(x >> 4) as usize] as char);
                            s.push(DIGITS[(x & 15) as usize] as char);
                        }
                        s
                    })
                })
                .collect()
        }
    };
    Ok(Arc::new(out))
}

/// Each value as MySQL prints it (NULL stays NULL).
pub fn as_text(a: &ArrayRef) -> Result<Vec<Option<String>>> {
    Ok(match a.data_type() {
        DataType::Null => vec![None; a.len()],
        DataType::Utf8 => a
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_string))
            .collect(),
        DataType::Timestamp(_, _) | DataType::Date64 => super::time::datetimes(a)?
            .into_iter()
            .map(|d| d.map(super::time::text_datetime))
            .collect(),
        DataType::Boolean => a
            .as_boolean()
            .iter()
            .map(|b| b.map(|b| if b { "1" } else { "0" }.to_string()))
            .collect(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            let b = cast(a, &DataType::Binary)?;
            b.as_binary::<i32>()
                .iter()
                .map(|b| b.map(|b| String::from_utf8_lossy(b).into_owned()))
                .collect()
        }
        _ => {
            let s = cast(a, &DataType::Utf8)?;
            s.as_string::<i32>()
                .iter()
                .map(|s| s.map(str::to_string))
                .collect()
        }
    })
}

fn concat(c: &Call) -> Result<ArrayRef> {
    let columns = c.args.iter().map(as_text).collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(StringArray::from_iter((0..c.rows).map(|i| {
        let mut out = String::new();
        for col in &columns {
            out.push_str(col[i].as_deref()?);
        }
        Some(out)
    }))))
}

fn lengths(c: &Call, f: impl Fn(&str) -> usize) -> Result<ArrayRef> {
    // Bytes of binary values, bytes of the UTF-8 text of anything else.
    if matches!(
        c.args[0].data_type(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView
    ) {
        let b = cast(&c.args[0], &DataType::Binary)?;
        return Ok(Arc::new(Int64Array::from_iter(
            b.as_binary::<i32>()
                .iter()
                .map(|b| b.map(|b| b.len() as i64)),
        )));
    }
    let s = as_text(&c.args[0])?;
    Ok(Arc::new(Int64Array::from_iter(
        s.iter().map(|s| s.as_deref().map(|s| f(s) as i64)),
    )))
}

/// LOCATE(needle, haystack[, from]): the 1-based character position of the
/// first match at or after `from`, 0 if none.
fn locate(c: &Call) -> Result<ArrayRef> {
    let needle = as_text(&c.args[0])?;
    let hay = as_text(&c.args[1])?;
    let from: Vec<Option<i64>> = match c.args.get(2) {
        Some(a) if a.data_type() != &DataType::Null => {
            let n = cast(a, &DataType::Int64)?;
            n.as_primitive::<arrow::datatypes::Int64Type>()
                .iter()
                .collect()
        }
        Some(_) => vec![None; c.rows],
        None => vec![Some(1); c.rows],
    };
    Ok(Arc::new(Int64Array::from_iter((0..c.rows).map(|i| {
        let (needle, hay, from) = (needle[i].as_deref()?, hay[i].as_deref()?, from[i]?);
        if from < 1 {
            return Some(0);
        }
        let skip = hay.char_indices().nth(from as usize - 1).map(|(b, _)| b);
        let Some(skip) = skip.or((from as usize - 1 == hay.chars().count()).then_some(hay.len()))
        else {
            return Some(0);
        };
        Some(match hay[skip..].find(needle) {
            Some(b) => (hay[..skip + b].chars().count() + 1) as i64,
            None => 0,
        })
    }))))
}

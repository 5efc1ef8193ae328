//! MySQL column types: how each is stored (an Arrow type in a segment), how
//! it is described to clients, and how text becomes a value of it.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Decimal128Array, Int64Array, StringArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field};
use arrow::util::display::FormatOptions;
use datafusion::sql::sqlparser::ast::{DataType as SqlDataType, ExactNumberInfo};
use floe_storage::ColumnType;
use serde::{Deserialize, Serialize};

use crate::mysql::SqlError;
use crate::mysql::resultset::{META_DECIMALS, META_TYPE};

/// A column's MySQL type as declared (what SHOW CREATE TABLE prints) and stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlType {
    /// Upper-case MySQL type text, e.g. `VARCHAR(120)`, `DECIMAL(12,2)`, `INT UNSIGNED`.
    pub text: String,
    pub storage: ColumnType,
    /// Declared length for CHAR/VARCHAR/BINARY (characters or bytes).
    pub length: Option<u64>,
    /// Fractional seconds digits for DATETIME/TIMESTAMP/TIME.
    pub fsp: u8,
}

fn unsupported(what: &str) -> SqlError {
    SqlError::new(1064, "42000", format!("Unsupported column type {what}"))
}

impl SqlType {
    pub fn from_ast(t: &SqlDataType) -> Result<SqlType, SqlError> {
        use SqlDataType as D;
        let int = |name: &str, signed: ColumnType, unsigned: ColumnType, u: bool| SqlType {
            text: if u {
                format!("{name} UNSIGNED")
            } else {
                name.to_string()
            },
            storage: if u { unsigned } else { signed },
            length: None,
            fsp: 0,
        };
        let plain = |text: &str, storage: ColumnType| SqlType {
            text: text.to_string(),
            storage,
            length: None,
            fsp: 0,
        };
        let sized = |name: &str, n: Option<u64>, storage: ColumnType| SqlType {
            text: match n {
                Some(n) => format!("{name}({n})"),
                None => name.to_string(),
            },
            storage,
            length: n,
            fsp: 0,
        };
        let timed = |name: &str, p: Option<u64>, storage: ColumnType| SqlType {
            text: match p {
                Some(p) if p > 0 => format!("{name}({p})"),
                _ => name.to_string(),
            },
            storage,
            length: None,
            fsp: p.unwrap_or(0).min(6) as u8,
        };
        Ok(match t {
            D::TinyInt(_) => int("TINYINT", ColumnType::Int8, ColumnType::UInt8, false),
            D::TinyIntUnsigned(_) | D::UTinyInt => {
                int("TINYINT", ColumnType::Int8, ColumnType::UInt8, true)
            }
            D::Bool | D::Boolean => plain("TINYINT(1)", ColumnType::Int8),
            D::SmallInt(_) => int("SMALLINT", ColumnType::Int16, ColumnType::UInt16, false),
            D::SmallIntUnsigned(_) | D::USmallInt => {
                int("SMALLINT", ColumnType::Int16, ColumnType::UInt16, true)
            }
            D::MediumInt(_) => int("MEDIUMINT", ColumnType::Int32, ColumnType::UInt32, false),
            D::MediumIntUnsigned(_) => {
                int("MEDIUMINT", ColumnType::Int32, ColumnType::UInt32, true)
            }
            D::Int(_) | D::Integer(_) => int("INT", ColumnType::Int32, ColumnType::UInt32, false),
            D::IntUnsigned(_) | D::IntegerUnsigned(_) | D::UnsignedInteger => {
                int("INT", ColumnType::Int32, ColumnType::UInt32, true)
            }
            D::BigInt(_) => int("BIGINT", ColumnType::Int64, ColumnType::UInt64, false),
            D::BigIntUnsigned(_) | D::UBigInt => {
                int("BIGINT", ColumnType::Int64, ColumnType::UInt64, true)
            }
            D::Float(_) | D::FloatUnsigned(_) | D::Real | D::Float4 | D::Float32 => {
                plain("FLOAT", ColumnType::Float32)
            }
            D::Double(_) | D::DoubleUnsigned(_) | D::DoublePrecision | D::Float8 | D::Float64 => {
                plain("DOUBLE", ColumnType::Float64)
            }
            D::Decimal(info)
            | D::DecimalUnsigned(info)
            | D::Numeric(info)
            | D::Dec(info)
            | D::DecUnsigned(info) => {
                let (p, s) = match info {
                    ExactNumberInfo::None => (10, 0),
                    ExactNumberInfo::Precision(p) => (*p, 0),
                    ExactNumberInfo::PrecisionAndScale(p, s) => (*p, (*s).max(0) as u64),
                };
                if p == 0 || p > 38 || s > p || s > 30 {
                    return Err(SqlError::new(
                        1426,
                        "42000",
                        format!("Too-big precision {p} for DECIMAL (max 38)"),
                    ));
                }
                SqlType {
                    text: format!("DECIMAL({p},{s})"),
                    storage: ColumnType::Decimal128 {
                        precision: p as u8,
                        scale: s as i8,
                    },
                    length: None,
                    fsp: 0,
                }
            }
            D::Char(n) | D::Character(n) => {
                sized("CHAR", char_len(n).or(Some(1)), ColumnType::Utf8)
            }
            D::Varchar(n) | D::CharacterVarying(n) | D::CharVarying(n) | D::Nvarchar(n) => {
                sized("VARCHAR", char_len(n), ColumnType::Utf8)
            }
            D::Text => plain("TEXT", ColumnType::Utf8),
            D::TinyText => plain("TINYTEXT", ColumnType::Utf8),
            D::MediumText => plain("MEDIUMTEXT", ColumnType::Utf8),
            D::LongText => plain("LONGTEXT", ColumnType::Utf8),
            D::String(_) => plain("TEXT", ColumnType::Utf8),
            D::JSON => plain("JSON", ColumnType::Utf8),
            D::Enum(values, _) => plain(
                &format!(
                    "ENUM({})",
                    values
                        .iter()
                        .map(|v| match v {
                            datafusion::sql::sqlparser::ast::EnumMember::Name(n)
                            | datafusion::sql::sqlparser::ast::EnumMember::NamedValue(n, _) =>
                                format!("'{n}'"),
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                ColumnType::Utf8,
            ),
            D::Set(values) => plain(
                &format!(
                    "SET({})",
                    values
                        .iter()
                        .map(|v| format!("'{v}'"))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                ColumnType::Utf8,
            ),
            D::Binary(n) => sized("BINARY", n.or(Some(1)), ColumnType::Binary),
            D::Varbinary(n) => sized(
                "VARBINARY",
                n.as_ref().and_then(|n| match n {
                    datafusion::sql::sqlparser::ast::BinaryLength::IntegerLength { length } => {
                        Some(*length)
                    }
                    _ => None,
                }),
                ColumnType::Binary,
            ),
            D::Blob(_) | D::Bytea | D::Bytes(_) => plain("BLOB", ColumnType::Binary),
            D::TinyBlob => plain("TINYBLOB", ColumnType::Binary),
            D::MediumBlob => plain("MEDIUMBLOB", ColumnType::Binary),
            D::LongBlob => plain("LONGBLOB", ColumnType::Binary),
            D::Date => plain("DATE", ColumnType::Date32),
            D::Datetime(p) => timed("DATETIME", *p, ColumnType::TimestampMicros),
            D::Timestamp(p, _) => timed("TIMESTAMP", *p, ColumnType::TimestampMicros),
            D::Time(p, _) => timed("TIME", *p, ColumnType::TimeMicros),
            D::Custom(name, args)
                if name.to_string().eq_ignore_ascii_case("YEAR") && args.len() <= 1 =>
            {
                plain("YEAR", ColumnType::Int16)
            }
            other => return Err(unsupported(&other.to_string())),
        })
    }

    /// The Arrow field of a column of this type, with what clients must be told.
    pub fn field(&self, name: &str, nullable: bool) -> Field {
        let mut md = HashMap::new();
        let base = self.text.split(['(', ' ']).next().unwrap_or("");
        if matches!(
            base,
            "TIMESTAMP"
                | "YEAR"
                | "CHAR"
                | "TEXT"
                | "TINYTEXT"
                | "MEDIUMTEXT"
                | "LONGTEXT"
                | "BLOB"
                | "TINYBLOB"
                | "MEDIUMBLOB"
                | "LONGBLOB"
        ) {
            md.insert(META_TYPE.to_string(), base.to_string());
        }
        if self.fsp > 0 {
            md.insert(META_DECIMALS.to_string(), self.fsp.to_string());
        }
        Field::new(name, self.storage.data_type(), nullable).with_metadata(md)
    }
}

fn char_len(n: &Option<datafusion::sql::sqlparser::ast::CharacterLength>) -> Option<u64> {
    use datafusion::sql::sqlparser::ast::CharacterLength;
    match n {
        Some(CharacterLength::IntegerLength { length, .. }) => Some(*length),
        _ => None,
    }
}

/// Converts text values (from SQL literals or a data file) into a column of
/// `target`, as MySQL would store them; `column` names it in errors.
pub fn column_from_text(
    values: &[Option<&str>],
    target: &DataType,
    column: &str,
) -> Result<ArrayRef, SqlError> {
    if *target == DataType::Binary {
        let bytes: Vec<Option<Vec<u8>>> = values
            .iter()
            .map(|v| v.map(crate::mysql::wire::raw_bytes))
            .collect();
        return Ok(Arc::new(arrow::array::BinaryArray::from_iter(bytes)));
    }
    let options = CastOptions {
        safe: false,
        format_options: FormatOptions::default(),
    };
    if *target == DataType::Utf8 {
        return Ok(Arc::new(StringArray::from_iter(values.iter().copied())));
    }
    if let Some(array) = plain_numbers(values, target) {
        return Ok(array);
    }
    // MySQL accepts '' and surrounding spaces in numbers, booleans as words.
    let source: ArrayRef = Arc::new(StringArray::from_iter(
        values.iter().map(|v| v.map(|s| numeric_text(s.trim()))),
    ));
    cast_with_options(&source, target, &options).map_err(|_| {
        // Name the first value that does not convert, as MySQL does.
        let bad = values
            .iter()
            .flatten()
            .find(|v| {
                let one: ArrayRef = Arc::new(StringArray::from(vec![numeric_text(v.trim())]));
                cast_with_options(&one, target, &options).is_err()
            })
            .copied()
            .unwrap_or("");
        incorrect_value(target, bad, column)
    })
}

/// Integer and DECIMAL columns whose values are all plain numbers that fit
/// (a dump's, a loader's), parsed directly; `None` sends the column through
/// arrow's cast, which also finds the value to name in an error.
fn plain_numbers(values: &[Option<&str>], target: &DataType) -> Option<ArrayRef> {
    if target.is_integer() {
        let parsed: Option<Int64Array> = values
            .iter()
            .map(|v| match v {
                None => Some(None),
                Some(v) => v.trim().parse::<i64>().ok().map(Some),
            })
            .collect();
        let array: ArrayRef = Arc::new(parsed?);
        let options = CastOptions {
            safe: false,
            format_options: FormatOptions::default(),
        };
        return cast_with_options(&array, target, &options).ok();
    }
    let DataType::Decimal128(precision, scale) = *target else {
        return None;
    };
    let scale = u32::try_from(scale).ok()?;
    let whole_digits = u32::from(precision).checked_sub(scale)?;
    let parsed: Option<Decimal128Array> = values
        .iter()
        .map(|v| match v {
            None => Some(None),
            Some(v) => plain_decimal(v.trim(), whole_digits, scale).map(Some),
        })
        .collect();
    parsed?
        .with_precision_and_scale(precision, scale as i8)
        .ok()
        .map(|a| Arc::new(a) as ArrayRef)
}

/// `[+-]digits[.digits]` as a DECIMAL with `scale` fraction digits, if it
/// has at most `whole` digits before the point and `scale` after it.
fn plain_decimal(s: &str, whole: u32, scale: u32) -> Option<i128> {
    let (negative, s) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() && frac.is_empty()
        || !digits(int)
        || !digits(frac)
        || frac.len() > scale as usize
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    if int.len() > whole as usize {
        return None;
    }
    let mut v: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        v = v * 10 + i128::from(b - b'0');
    }
    v *= 10i128.pow(scale - frac.len() as u32);
    Some(if negative { -v } else { v })
}

fn numeric_text(s: &str) -> &str {
    match s {
        "" => "0",
        s if s.eq_ignore_ascii_case("true") => "1",
        s if s.eq_ignore_ascii_case("false") => "0",
        s => s,
    }
}

/// Whether `value` is a number too large (or small) for `target`: MySQL's
/// 1264 in strict mode, where anything else that does not convert is 1366.
fn out_of_range(target: &DataType, value: &str) -> bool {
    let text = value.trim();
    // Only digits, signs, points and exponents ("inf" and "nan" are 1366).
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        return false;
    }
    let Ok(v) = text.parse::<f64>() else {
        return false;
    };
    let whole = v.trunc();
    let (min, max) = match target {
        DataType::Int8 => (i8::MIN as f64, i8::MAX as f64),
        DataType::Int16 => (i16::MIN as f64, i16::MAX as f64),
        DataType::Int32 => (i32::MIN as f64, i32::MAX as f64),
        DataType::Int64 => (i64::MIN as f64, i64::MAX as f64),
        DataType::UInt8 => (0.0, u8::MAX as f64),
        DataType::UInt16 => (0.0, u16::MAX as f64),
        DataType::UInt32 => (0.0, u32::MAX as f64),
        DataType::UInt64 => (0.0, u64::MAX as f64),
        DataType::Float32 => (f32::MIN as f64, f32::MAX as f64),
        DataType::Float64 => (f64::MIN, f64::MAX),
        DataType::Decimal128(p, s) => {
            let limit = 10f64.powi(i32::from(*p) - i32::from(*s));
            (-limit, limit)
        }
        _ => return false,
    };
    let below = if matches!(target, DataType::Decimal128(..)) {
        whole <= min
    } else {
        whole < min
    };
    let above = if matches!(target, DataType::Decimal128(..)) {
        whole >= max
    } else {
        whole > max
    };
    v.is_infinite() || below || above
}

pub fn incorrect_value(target: &DataType, value: &str, column: &str) -> SqlError {
    if out_of_range(target, value) {
        return SqlError::new(
            1264,
            "22003",
            format!("Out of range value for column '{column}' at row 1"),
        );
    }
    let kind = match target {
        DataType::Date32 => "date",
        DataType::Timestamp(_, _) => "datetime",
        DataType::Time64(_) => "time",
        DataType::Decimal128(_, _) => "decimal",
        DataType::Float32 | DataType::Float64 => "double",
        _ => "integer",
    };
    SqlError::new(
        1366,
        "HY000",
        format!("Incorrect {kind} value: '{value}' for column '{column}' at row 1"),
    )
}

/// Checks CHAR/VARCHAR lengths (in characters) like MySQL's strict mode.
pub fn check_length(array: &dyn Array, ty: &SqlType, column: &str) -> Result<(), SqlError> {
    let Some(max) = ty.length else { return Ok(()) };
    if let Some(s) = array.as_any().downcast_ref::<StringArray>() {
        for v in s.iter().flatten() {
            if v.len() as u64 > max && v.chars().count() as u64 > max {
                return Err(SqlError::new(
                    1406,
                    "22001",
                    format!("Data too long for column '{column}' at row 1"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What arrow's cast (the path for everything else) makes of `values`.
    fn cast_path(values: &[Option<&str>], target: &DataType) -> Option<ArrayRef> {
        let source: ArrayRef = Arc::new(StringArray::from_iter(
            values.iter().map(|v| v.map(|s| numeric_text(s.trim()))),
        ));
        let options = CastOptions {
            safe: false,
            format_options: FormatOptions::default(),
        };
        cast_with_options(&source, target, &options).ok()
    }

    #[test]
    fn out_of_range_is_a_number_that_does_not_fit() {
        let d = DataType::Decimal128(10, 3);
        for (t, v, out) in [
            (DataType::Int32, "3000000000", true),
            (DataType::Int32, "-2147483648", false),
            (DataType::Int32, "1.5", false),
            (DataType::Int32, "1e3", false),
            (DataType::Int32, "inf", false),
            (DataType::Int32, "abc", false),
            (DataType::UInt8, "-1", true),
            (DataType::UInt8, "255", false),
            (DataType::UInt8, "256", true),
            (d.clone(), "12345678.9", true),
            (d.clone(), "-12345678", true),
            (d.clone(), "9999999.999", false),
            (DataType::Float32, "1e39", true),
            (DataType::Float64, "1e400", true),
            (DataType::Float64, "1e300", false),
        ] {
            assert_eq!(out_of_range(&t, v), out, "{v} into {t}");
        }
    }

    #[test]
    fn plain_numbers_parse_as_the_cast_would() {
        let values = [
            Some("0"),
            Some("-12"),
            Some(" 7 "),
            Some("+3"),
            None,
            Some("123.4"),
            Some("-0.05"),
            Some(".5"),
            Some("9."),
            Some("00012.30"),
        ];
        let decimal = DataType::Decimal128(8, 2);
        let fast = plain_numbers(&values, &decimal).expect("plain decimals");
        assert_eq!(Some(fast), cast_path(&values, &decimal));
        let ints = &values[..5];
        for t in [
            DataType::Int8,
            DataType::Int32,
            DataType::Int64,
            DataType::UInt64,
        ] {
            let fast = plain_numbers(ints, &t);
            assert_eq!(fast, cast_path(ints, &t), "{t}");
        }
        // Anything else goes to the cast (which rounds, reports, or converts).
        for odd in ["1.234", "1234567.8", "1e3", "", "abc", "-", "1.2.3", "0x10"] {
            assert!(plain_numbers(&[Some(odd)], &decimal).is_none(), "{odd}");
        }
        assert!(plain_numbers(&[Some("300")], &DataType::Int8).is_none());
        assert!(plain_numbers(&[Some("1.5")], &DataType::Int64).is_none());
    }
}

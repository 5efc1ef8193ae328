//! Result sets written straight from Arrow record batches: column
//! definitions from the schema, then rows in the text protocol (COM_QUERY)
//! or the binary protocol (COM_STMT_EXECUTE). Each column is downcast once
//! per batch; values are formatted into the packet buffer, never boxed.

use arrow::array::*;
use arrow::datatypes::{DataType, Field, TimeUnit};
use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::io::BufMutExt;

pub const CHARSET_UTF8MB4: u16 = 45;
pub const CHARSET_BINARY: u16 = 63;

/// Field metadata keys an engine may set to say what MySQL type a column has
/// (e.g. `DATETIME` vs `TIMESTAMP`, both stored as microseconds).
pub const META_TYPE: &str = "mysql.type";
pub const META_DECIMALS: &str = "mysql.decimals";
pub const META_TABLE: &str = "mysql.table";
pub const META_SCHEMA: &str = "mysql.schema";
pub const META_FLAGS: &str = "mysql.flags";

#[derive(Clone, Debug, PartialEq)]
pub struct ColumnMeta {
    pub schema: String,
    pub table: String,
    pub org_table: String,
    pub name: String,
    pub org_name: String,
    pub ty: ColumnType,
    pub flags: ColumnFlags,
    pub charset: u16,
    pub length: u32,
    pub decimals: u8,
}

impl ColumnMeta {
    pub fn new(name: impl Into<String>, ty: ColumnType) -> ColumnMeta {
        let name = name.into();
        ColumnMeta {
            schema: String::new(),
            table: String::new(),
            org_table: String::new(),
            org_name: name.clone(),
            name,
            ty,
            flags: ColumnFlags::empty(),
            charset: if is_textual(ty) {
                CHARSET_UTF8MB4
            } else {
                CHARSET_BINARY
            },
            length: default_length(ty),
            decimals: 0,
        }
    }

    /// How MySQL would describe an Arrow column.
    pub fn for_field(field: &Field) -> ColumnMeta {
        use ColumnType::*;
        let md = field.metadata();
        let (ty, mut flags, decimals) = match field.data_type() {
            DataType::Boolean => (MYSQL_TYPE_TINY, ColumnFlags::NUM_FLAG, 0),
            DataType::Int8 => (MYSQL_TYPE_TINY, ColumnFlags::NUM_FLAG, 0),
            DataType::Int16 => (MYSQL_TYPE_SHORT, ColumnFlags::NUM_FLAG, 0),
            DataType::Int32 => (MYSQL_TYPE_LONG, ColumnFlags::NUM_FLAG, 0),
            DataType::Int64 => (MYSQL_TYPE_LONGLONG, ColumnFlags::NUM_FLAG, 0),
            DataType::UInt8 => (
                MYSQL_TYPE_TINY,
                ColumnFlags::NUM_FLAG | ColumnFlags::UNSIGNED_FLAG,
                0,
            ),
            DataType::UInt16 => (
                MYSQL_TYPE_SHORT,
                ColumnFlags::NUM_FLAG | ColumnFlags::UNSIGNED_FLAG,
                0,
            ),
            DataType::UInt32 => (
                MYSQL_TYPE_LONG,
                ColumnFlags::NUM_FLAG | ColumnFlags::UNSIGNED_FLAG,
                0,
            ),
            DataType::UInt64 => (
                MYSQL_TYPE_LONGLONG,
                ColumnFlags::NUM_FLAG | ColumnFlags::UNSIGNED_FLAG,
                0,
            ),
            DataType::Float32 => (MYSQL_TYPE_FLOAT, ColumnFlags::NUM_FLAG, 31),
            DataType::Float64 => (MYSQL_TYPE_DOUBLE, ColumnFlags::NUM_FLAG, 31),
            DataType::Decimal128(_, s) => (
                MYSQL_TYPE_NEWDECIMAL,
                ColumnFlags::NUM_FLAG,
                (*s).max(0) as u8,
            ),
            DataType::Date32 => (MYSQL_TYPE_DATE, ColumnFlags::BINARY_FLAG, 0),
            DataType::Timestamp(_, _) => (MYSQL_TYPE_DATETIME, ColumnFlags::BINARY_FLAG, 0),
            DataType::Time64(_) => (MYSQL_TYPE_TIME, ColumnFlags::BINARY_FLAG, 0),
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => (
                MYSQL_TYPE_BLOB,
                ColumnFlags::BLOB_FLAG | ColumnFlags::BINARY_FLAG,
                0,
            ),
            DataType::Null => (MYSQL_TYPE_NULL, ColumnFlags::BINARY_FLAG, 0),
            _ => (MYSQL_TYPE_VAR_STRING, ColumnFlags::empty(), 0),
        };
        let mut meta = ColumnMeta::new(field.name().clone(), ty);
        meta.decimals = decimals;
        if let DataType::Decimal128(p, s) = field.data_type() {
            meta.length = *p as u32 + if *s > 0 { 2 } else { 1 };
        }
        if let Some(t) = md.get(META_TYPE) {
            match t.as_str() {
                "TIMESTAMP" => meta.ty = MYSQL_TYPE_TIMESTAMP,
                "YEAR" => meta.ty = MYSQL_TYPE_YEAR,
                "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" | "TEXT" | "TINYTEXT"
                | "MEDIUMTEXT" | "LONGTEXT" => {
                    meta.ty = MYSQL_TYPE_BLOB;
                    flags |= ColumnFlags::BLOB_FLAG;
                }
                "CHAR" => meta.ty = MYSQL_TYPE_STRING,
                _ => {}
            }
        }
        if let Some(d) = md.get(META_DECIMALS).and_then(|d| d.parse().ok()) {
            meta.decimals = d;
        }
        if let Some(bits) = md.get(META_FLAGS).and_then(|f| f.parse().ok()) {
            flags |= ColumnFlags::from_bits_truncate(bits);
        }
        if !field.is_nullable() {
            flags |= ColumnFlags::NOT_NULL_FLAG;
        }
        meta.flags = flags;
        if let Some(t) = md.get(META_TABLE) {
            meta.table = t.clone();
            meta.org_table = t.clone();
        }
        if let Some(s) = md.get(META_SCHEMA) {
            meta.schema = s.clone();
        }
        meta
    }
}

fn is_textual(ty: ColumnType) -> bool {
    matches!(
        ty,
        ColumnType::MYSQL_TYPE_VAR_STRING
            | ColumnType::MYSQL_TYPE_STRING
            | ColumnType::MYSQL_TYPE_VARCHAR
    )
}

fn default_length(ty: ColumnType) -> u32 {
    use ColumnType::*;
    match ty {
        MYSQL_TYPE_TINY => 4,
        MYSQL_TYPE_SHORT => 6,
        MYSQL_TYPE_LONG => 11,
        MYSQL_TYPE_LONGLONG => 20,
        MYSQL_TYPE_FLOAT => 12,
        MYSQL_TYPE_DOUBLE => 22,
        MYSQL_TYPE_DATE => 10,
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_TIMESTAMP => 19,
        MYSQL_TYPE_TIME => 10,
        MYSQL_TYPE_YEAR => 4,
        MYSQL_TYPE_BLOB => 65_535,
        _ => 1_048_576,
    }
}

/// One column of a batch, downcast once.
enum Col<'a> {
    Null,
    Bool(&'a BooleanArray),
    I8(&'a Int8Array),
    I16(&'a Int16Array),
    I32(&'a Int32Array),
    I64(&'a Int64Array),
    U8(&'a UInt8Array),
    U16(&'a UInt16Array),
    U32(&'a UInt32Array),
    U64(&'a UInt64Array),
    F32(&'a Float32Array),
    F64(&'a Float64Array),
    Dec(&'a Decimal128Array, i8),
    Str(&'a StringArray),
    LStr(&'a LargeStringArray),
    View(&'a StringViewArray),
    Bin(&'a BinaryArray),
    LBin(&'a LargeBinaryArray),
    Date(&'a Date32Array),
    /// Raw values in the array's unit, converted to microseconds per value.
    Ts(&'a [i64], TimeUnit),
    Time(&'a Time64MicrosecondArray),
}

fn col(a: &dyn Array) -> Option<Col<'_>> {
    Some(match a.data_type() {
        DataType::Null => Col::Null,
        DataType::Boolean => Col::Bool(a.as_boolean()),
        DataType::Int8 => Col::I8(a.as_primitive()),
        DataType::Int16 => Col::I16(a.as_primitive()),
        DataType::Int32 => Col::I32(a.as_primitive()),
        DataType::Int64 => Col::I64(a.as_primitive()),
        DataType::UInt8 => Col::U8(a.as_primitive()),
        DataType::UInt16 => Col::U16(a.as_primitive()),
        DataType::UInt32 => Col::U32(a.as_primitive()),
        DataType::UInt64 => Col::U64(a.as_primitive()),
        DataType::Float32 => Col::F32(a.as_primitive()),
        DataType::Float64 => Col::F64(a.as_primitive()),
        DataType::Decimal128(_, s) => Col::Dec(a.as_primitive(), *s),
        DataType::Utf8 => Col::Str(a.as_string()),
        DataType::LargeUtf8 => Col::LStr(a.as_string()),
        DataType::Utf8View => Col::View(a.as_string_view()),
        DataType::Binary => Col::Bin(a.as_binary()),
        DataType::LargeBinary => Col::LBin(a.as_binary()),
        DataType::Date32 => Col::Date(a.as_primitive()),
        DataType::Timestamp(unit, _) => {
            use arrow::datatypes::*;
            let values: &[i64] = match unit {
                TimeUnit::Second => a.as_primitive::<TimestampSecondType>().values(),
                TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().values(),
                TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().values(),
                TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().values(),
            };
            Col::Ts(values, *unit)
        }
        DataType::Time64(TimeUnit::Microsecond) => Col::Time(a.as_primitive()),
        _ => return None,
    })
}

/// The columns of a batch, ready to encode; types Arrow has but MySQL does
/// not (lists, structs...) are cast to strings first.
pub struct Encoder {
    arrays: Vec<ArrayRef>,
}

impl Encoder {
    pub fn new(batch: &RecordBatch) -> Result<Encoder, arrow::error::ArrowError> {
        let arrays = batch
            .columns()
            .iter()
            .map(|a| match col(a.as_ref()) {
                Some(_) => Ok(a.clone()),
                None => arrow::compute::cast(a, &DataType::Utf8),
            })
            .collect::<Result<_, _>>()?;
        Ok(Encoder { arrays })
    }

    pub fn rows(&self) -> usize {
        self.arrays.first().map_or(0, |a| a.len())
    }

    /// The columns downcast once, for encoding the batch's rows.
    pub fn columns(&self) -> Columns<'_> {
        Columns {
            // `new` cast every column to a type `col` knows.
            cols: self
                .arrays
                .iter()
                .map(|a| col(a.as_ref()).unwrap_or(Col::Null))
                .collect(),
            nulls: self.arrays.iter().map(|a| a.logical_nulls()).collect(),
            scratch: String::new(),
        }
    }
}

/// A batch's columns, downcast, with one scratch buffer for formatting.
pub struct Columns<'a> {
    cols: Vec<Col<'a>>,
    /// Each column's validity, if it has NULLs.
    nulls: Vec<Option<arrow::buffer::NullBuffer>>,
    scratch: String,
}

impl Columns<'_> {
    /// Writes rows `range` as packets through `emit`: in the binary protocol
    /// (prepared statements) or the text protocol.
    pub fn rows(
        &mut self,
        metas: &[ColumnMeta],
        range: std::ops::Range<usize>,
        binary: bool,
        mut emit: impl FnMut(&mut dyn FnMut(&mut Vec<u8>)),
    ) {
        let Columns {
            cols,
            nulls,
            scratch,
        } = self;
        // Binary rows: a 0x00 header, then NULLs as bits (from bit 2) of a bitmap.
        let bitmap_len = (cols.len() + 7 + 2) / 8;
        for row in range {
            emit(&mut |buf: &mut Vec<u8>| {
                let bitmap_at = buf.len() + 1;
                if binary {
                    buf.push(0x00);
                    buf.resize(bitmap_at + bitmap_len, 0);
                }
                for (i, (c, (n, m))) in cols.iter().zip(nulls.iter().zip(metas)).enumerate() {
                    let null = n.as_ref().is_some_and(|n| n.is_null(row));
                    match (null, binary) {
                        (true, true) => buf[bitmap_at + (i + 2) / 8] |= 1 << ((i + 2) % 8),
                        (true, false) => buf.push(0xFB),
                        (false, true) => binary_value(buf, c, row, m, scratch),
                        (false, false) => text_value(buf, c, row, m, scratch),
                    }
                }
            });
        }
    }
}

/// A length-encoded string; almost every value is shorter than 251 bytes,
/// whose length is one byte.
fn put_str(buf: &mut Vec<u8>, v: &[u8]) {
    match u8::try_from(v.len()) {
        Ok(n) if n < 251 => {
            buf.push(n);
            buf.extend_from_slice(v);
        }
        _ => buf.put_lenenc_str(v),
    }
}

fn put_int(buf: &mut Vec<u8>, v: impl itoa::Integer) {
    let mut b = itoa::Buffer::new();
    put_str(buf, b.format(v).as_bytes());
}

fn put_float(buf: &mut Vec<u8>, s: &str) {
    // MySQL prints 1 where Rust prints 1.0.
    put_str(buf, s.strip_suffix(".0").unwrap_or(s).as_bytes());
}

pub fn format_decimal(out: &mut String, v: i128, scale: i8) {
    use std::fmt::Write;
    if scale <= 0 {
        let _ = write!(out, "{}", v * 10i128.pow((-scale) as u32));
        return;
    }
    let p = 10i128.pow(scale as u32);
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let _ = write!(
        out,
        "{sign}{}.{:0width$}",
        a / p as u128,
        a % p as u128,
        width = scale as usize
    );
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn ts_micros(v: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => v.saturating_mul(1_000_000),
        TimeUnit::Millisecond => v.saturating_mul(1000),
        TimeUnit::Microsecond => v,
        TimeUnit::Nanosecond => v / 1000,
    }
}

/// `(y, m, d, h, i, s, micros)` of microseconds since the epoch.
pub fn datetime_parts(micros: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let secs = micros.div_euclid(1_000_000);
    let us = micros.rem_euclid(1_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    (y, m, d, sod / 3600, sod / 60 % 60, sod % 60, us)
}

/// How many fractional digits of seconds a column declares (31: none given).
fn fraction_places(decimals: u8) -> usize {
    if decimals == 31 {
        0
    } else {
        decimals.min(6) as usize
    }
}

fn fraction(out: &mut String, us: u32, decimals: u8) {
    use std::fmt::Write;
    let d = fraction_places(decimals);
    if d > 0 {
        let _ = write!(out, ".{:06}", us);
        out.truncate(out.len() - (6 - d));
    }
}

/// Appends the last `width` decimal digits of `v`, zero-padded. Dates and
/// times are most of a result's formatting; `fmt` costs several times this.
fn put_digits(buf: &mut Vec<u8>, mut v: u32, width: usize) {
    let at = buf.len();
    buf.resize(at + width, b'0');
    for slot in buf[at..].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Three zero-padded numbers of the given widths joined by `sep`:
/// `YYYY-MM-DD` (years 0..=9999) or `HH:MM:SS`.
fn put_fields(buf: &mut Vec<u8>, fields: [(u32, usize); 3], sep: u8) {
    for (i, (v, width)) in fields.into_iter().enumerate() {
        if i > 0 {
            buf.push(sep);
        }
        put_digits(buf, v, width);
    }
}

fn text_value(buf: &mut Vec<u8>, c: &Col<'_>, row: usize, m: &ColumnMeta, s: &mut String) {
    use std::fmt::Write;
    match c {
        Col::Null => buf.push(0xFB),
        Col::Bool(a) => put_str(buf, if a.value(row) { b"1" } else { b"0" }),
        Col::I8(a) => put_int(buf, a.value(row)),
        Col::I16(a) => put_int(buf, a.value(row)),
        Col::I32(a) => put_int(buf, a.value(row)),
        Col::I64(a) => put_int(buf, a.value(row)),
        Col::U8(a) => put_int(buf, a.value(row)),
        Col::U16(a) => put_int(buf, a.value(row)),
        Col::U32(a) => put_int(buf, a.value(row)),
        Col::U64(a) => put_int(buf, a.value(row)),
        // A double with declared decimals (ROUND(x, 2)) prints all of them.
        Col::F32(a) if m.decimals < 31 => {
            s.clear();
            let _ = write!(s, "{:.*}", m.decimals as usize, a.value(row));
            put_str(buf, s.as_bytes());
        }
        Col::F64(a) if m.decimals < 31 => {
            s.clear();
            let _ = write!(s, "{:.*}", m.decimals as usize, a.value(row));
            put_str(buf, s.as_bytes());
        }
        Col::F32(a) => put_float(buf, ryu::Buffer::new().format(a.value(row))),
        Col::F64(a) => put_float(buf, ryu::Buffer::new().format(a.value(row))),
        Col::Dec(a, scale) => {
            s.clear();
            format_decimal(s, a.value(row), *scale);
            put_str(buf, s.as_bytes());
        }
        Col::Str(a) => put_str(buf, a.value(row).as_bytes()),
        Col::LStr(a) => put_str(buf, a.value(row).as_bytes()),
        Col::View(a) => put_str(buf, a.value(row).as_bytes()),
        Col::Bin(a) => put_str(buf, a.value(row)),
        Col::LBin(a) => put_str(buf, a.value(row)),
        Col::Date(a) => {
            let (y, mo, d) = civil_from_days(a.value(row) as i64);
            match u32::try_from(y).ok().filter(|y| *y <= 9999) {
                Some(y) => {
                    buf.push(10);
                    put_fields(buf, [(y, 4), (mo, 2), (d, 2)], b'-');
                }
                None => {
                    s.clear();
                    let _ = write!(s, "{y:04}-{mo:02}-{d:02}");
                    put_str(buf, s.as_bytes());
                }
            }
        }
        Col::Ts(a, unit) => {
            let (y, mo, d, h, mi, se, us) = datetime_parts(ts_micros(a[row], *unit));
            match u32::try_from(y).ok().filter(|y| *y <= 9999) {
                Some(y) => {
                    let places = fraction_places(m.decimals);
                    buf.push(19 + if places > 0 { 1 + places as u8 } else { 0 });
                    put_fields(buf, [(y, 4), (mo, 2), (d, 2)], b'-');
                    buf.push(b' ');
                    put_fields(buf, [(h, 2), (mi, 2), (se, 2)], b':');
                    if places > 0 {
                        buf.push(b'.');
                        put_digits(buf, us / 10u32.pow(6 - places as u32), places);
                    }
                }
                None => {
                    s.clear();
                    let _ = write!(s, "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{se:02}");
                    fraction(s, us, m.decimals);
                    put_str(buf, s.as_bytes());
                }
            }
        }
        Col::Time(a) => {
            s.clear();
            let v = a.value(row);
            let sign = if v < 0 { "-" } else { "" };
            let abs = v.unsigned_abs();
            let secs = abs / 1_000_000;
            let _ = write!(
                s,
                "{sign}{:02}:{:02}:{:02}",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            );
            fraction(s, (abs % 1_000_000) as u32, m.decimals);
            put_str(buf, s.as_bytes());
        }
    }
}

/// An integer in the width the column's declared type promises.
fn put_bin_int(buf: &mut Vec<u8>, ty: ColumnType, v: i128) {
    use ColumnType::*;
    match ty {
        MYSQL_TYPE_TINY => buf.push(v as u8),
        MYSQL_TYPE_SHORT | MYSQL_TYPE_YEAR => buf.extend_from_slice(&(v as u16).to_le_bytes()),
        MYSQL_TYPE_LONG | MYSQL_TYPE_INT24 => buf.extend_from_slice(&(v as u32).to_le_bytes()),
        _ => buf.extend_from_slice(&(v as u64).to_le_bytes()),
    }
}

fn put_bin_datetime(buf: &mut Vec<u8>, micros: i64, with_time: bool) {
    let (y, mo, d, h, mi, s, us) = datetime_parts(micros);
    let len = if !with_time {
        4
    } else if us != 0 {
        11
    } else if h | mi | s != 0 {
        7
    } else {
        4
    };
    buf.push(len);
    buf.extend_from_slice(&(y.clamp(0, 9999) as u16).to_le_bytes());
    buf.push(mo as u8);
    buf.push(d as u8);
    if len >= 7 {
        buf.extend_from_slice(&[h as u8, mi as u8, s as u8]);
    }
    if len == 11 {
        buf.extend_from_slice(&us.to_le_bytes());
    }
}

fn binary_value(buf: &mut Vec<u8>, c: &Col<'_>, row: usize, m: &ColumnMeta, s: &mut String) {
    match c {
        Col::Null => {}
        Col::Bool(a) => put_bin_int(buf, m.ty, a.value(row) as i128),
        Col::I8(a) => put_bin_int(buf, m.ty, a.value(row) as i128),
        Col::I16(a) => put_bin_int(buf, m.ty, a.value(row) as i128),
        Col::I32(a) => put_bin_int(buf, m.ty, a.value(row) as i128),
        Col::I64(a) => put_bin_int(buf, m.ty, a.value(row) as i128),
        Col::U8(a) => put_bin_int(buf, m.ty, a.value(row) as i128),
        Col::U16(a) => put_bin_int(buf, m.ty, a.value(row) as i128),
        Col::U32(a) => put_bin_int(buf, m.ty, a.value(row) as i128),
        Col::U64(a) => put_bin_int(buf, m.ty, a.value(row) as i128),
        Col::F32(a) => buf.extend_from_slice(&a.value(row).to_le_bytes()),
        Col::F64(a) => buf.extend_from_slice(&a.value(row).to_le_bytes()),
        Col::Date(a) => put_bin_datetime(buf, a.value(row) as i64 * 86_400_000_000, false),
        Col::Ts(a, unit) => put_bin_datetime(buf, ts_micros(a[row], *unit), true),
        Col::Time(a) => {
            let v = a.value(row);
            let abs = v.unsigned_abs();
            let secs = abs / 1_000_000;
            let us = (abs % 1_000_000) as u32;
            if abs == 0 {
                buf.push(0);
                return;
            }
            buf.push(if us != 0 { 12 } else { 8 });
            buf.push((v < 0) as u8);
            buf.extend_from_slice(&((secs / 86_400) as u32).to_le_bytes());
            buf.extend_from_slice(&[
                (secs / 3600 % 24) as u8,
                (secs / 60 % 60) as u8,
                (secs % 60) as u8,
            ]);
            if us != 0 {
                buf.extend_from_slice(&us.to_le_bytes());
            }
        }
        // Decimals and strings are length-encoded strings in both protocols.
        other => text_value(buf, other, row, m, s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_decimals_format_like_mysql() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let mut s = String::new();
        format_decimal(&mut s, -1234, 2);
        assert_eq!(s, "-12.34");
        s.clear();
        format_decimal(&mut s, 5, 3);
        assert_eq!(s, "0.005");
        assert_eq!(
            datetime_parts(1_700_000_000_123_456),
            (2023, 11, 14, 22, 13, 20, 123_456)
        );
    }

    /// The text protocol's values of one row, as strings (NULL as None).
    fn text_row(batch: &RecordBatch, metas: &[ColumnMeta]) -> Vec<Option<String>> {
        let encoder = Encoder::new(batch).expect("encoder");
        let mut packet = Vec::new();
        encoder
            .columns()
            .rows(metas, 0..1, false, |f| f(&mut packet));
        let mut out = Vec::new();
        let mut at = 0;
        while at < packet.len() {
            if packet[at] == 0xFB {
                out.push(None);
                at += 1;
                continue;
            }
            let len = packet[at] as usize;
            out.push(Some(
                String::from_utf8(packet[at + 1..at + 1 + len].to_vec()).expect("utf8"),
            ));
            at += 1 + len;
        }
        out
    }

    #[test]
    fn dates_and_datetimes_print_as_mysql_does() {
        use arrow::datatypes::Schema;
        use std::sync::Arc;
        let us = 1_700_000_000_123_456i64;
        let far = 400_000 * 86_400_000_000i64; // year 3065
        let before_zero = -62_200_000_000_000_000i64; // year -2
        let fields = vec![
            Field::new("d", DataType::Date32, true),
            Field::new("t0", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("t3", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("t6", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Field::new("tn", DataType::Timestamp(TimeUnit::Microsecond, None), true),
        ];
        let decimals = [0u8, 0, 3, 6, 31];
        let metas: Vec<ColumnMeta> = fields
            .iter()
            .zip(decimals)
            .map(|(f, d)| {
                let mut m = ColumnMeta::for_field(f);
                m.decimals = d;
                m
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let ts = |v: Vec<Option<i64>>| -> ArrayRef { Arc::new(TimestampMicrosecondArray::from(v)) };
        let batch = |d: Option<i32>, t: Option<i64>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Date32Array::from(vec![d])),
                    ts(vec![t]),
                    ts(vec![t]),
                    ts(vec![t]),
                    ts(vec![t]),
                ],
            )
            .expect("batch")
        };
        let strings = |v: &[&str]| v.iter().map(|s| Some(s.to_string())).collect::<Vec<_>>();
        assert_eq!(
            text_row(&batch(Some(19_723), Some(us)), &metas),
            strings(&[
                "2024-01-01",
                "2023-11-14 22:13:20",
                "2023-11-14 22:13:20.123",
                "2023-11-14 22:13:20.123456",
                "2023-11-14 22:13:20",
            ])
        );
        assert_eq!(
            text_row(&batch(Some(0), Some(far + 5_000)), &metas),
            strings(&[
                "1970-01-01",
                "3065-03-01 00:00:00",
                "3065-03-01 00:00:00.005",
                "3065-03-01 00:00:00.005000",
                "3065-03-01 00:00:00",
            ])
        );
        assert_eq!(
            text_row(&batch(None, Some(before_zero)), &metas)[..2],
            [None, Some("-002-12-17 14:13:20".to_string())]
        );
    }
}

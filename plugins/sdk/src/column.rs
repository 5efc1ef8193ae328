//! Typed access to the columns floe passes, and builders for the column a
//! function returns.

use crate::bindings::floe::plugin::types::{
    BytesColumn, Column, DataType, DecimalColumn, DecimalType, Values,
};

/// DATE: days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i32);

/// DATETIME: microseconds since 1970-01-01 00:00:00.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(pub i64);

impl DateTime {
    /// The hour of the day, 0..=23.
    pub fn hour(self) -> u32 {
        self.0.div_euclid(3_600_000_000).rem_euclid(24) as u32
    }
}

/// DECIMAL(38, SCALE) as its unscaled value: `Decimal::<2>(1234)` is 12.34.
/// floe converts arguments to this scale before the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal<const SCALE: i8>(pub i128);

/// Whether row `row` is not NULL in an Arrow validity bitmap.
fn valid(validity: Option<&[u8]>, row: usize) -> bool {
    match validity {
        None => true,
        Some(bits) => bits.get(row / 8).is_some_and(|b| b & (1 << (row % 8)) != 0),
    }
}

/// How many rows a column holds.
pub(crate) fn rows(column: &Column) -> usize {
    match &column.values {
        Values::Bigint(v) | Values::Datetime(v) => v.len(),
        Values::Double(v) => v.len(),
        Values::Date(v) => v.len(),
        Values::Boolean(v) => v.len(),
        Values::Varchar(c) | Values::Varbinary(c) => c.offsets.len().saturating_sub(1),
        Values::Decimal(d) => d.values.len() / 16,
    }
}

fn mismatch(expected: &str, got: &Values) -> String {
    let got = match got {
        Values::Bigint(_) => "BIGINT",
        Values::Double(_) => "DOUBLE",
        Values::Decimal(_) => "DECIMAL",
        Values::Varchar(_) => "VARCHAR",
        Values::Varbinary(_) => "VARBINARY",
        Values::Boolean(_) => "BOOLEAN",
        Values::Date(_) => "DATE",
        Values::Datetime(_) => "DATETIME",
    };
    format!("expected a {expected} argument, got {got}")
}

/// A function argument type.
pub trait Param<'a>: Sized {
    /// The column's values, checked once per batch.
    type View;
    fn data_type() -> DataType;
    fn view(column: &'a Column) -> Result<Self::View, String>;
    /// Row `row`'s value; `None` when it is NULL and the function is not to be called.
    fn get(view: &Self::View, row: usize) -> Option<Self>;
}

/// A function result type.
pub trait Output {
    type Builder: ColumnBuilder;
    fn data_type() -> DataType;
    fn push(self, builder: &mut Self::Builder);
}

/// Collects a result column row by row.
pub trait ColumnBuilder {
    fn with_capacity(rows: usize) -> Self;
    fn push_null(&mut self);
    fn finish(self) -> Column;
}

/// Validity bits for a builder; allocated at the first NULL, so a column
/// without NULLs costs nothing per row.
#[derive(Default)]
pub struct Nulls {
    bits: Option<Vec<u8>>,
}

impl Nulls {
    /// Records whether row `row` (the rows before it already recorded) is valid.
    #[inline(always)]
    fn push(&mut self, row: usize, is_valid: bool) {
        if is_valid && self.bits.is_none() {
            return;
        }
        self.push_slow(row, is_valid)
    }

    fn push_slow(&mut self, row: usize, is_valid: bool) {
        let bits = self.bits.get_or_insert_with(|| {
            // All rows so far were valid.
            let mut bits = vec![0xFFu8; row.div_ceil(8)];
            if !row.is_multiple_of(8) {
                let last = bits.len() - 1;
                bits[last] = (1u8 << (row % 8)) - 1;
            }
            bits
        });
        if row / 8 >= bits.len() {
            bits.push(0);
        }
        if is_valid {
            bits[row / 8] |= 1 << (row % 8);
        }
    }
}

/// Appends `v` to `data`. A `memory.copy` leaves the guest's code for a host
/// builtin, which costs more than the copy itself for the short values most
/// functions return, so values of up to 16 bytes move as two overlapping words.
#[inline(always)]
fn append(data: &mut Vec<u8>, v: &[u8]) {
    let n = v.len();
    if n > 16 {
        data.extend_from_slice(v);
        return;
    }
    data.reserve(16);
    let len = data.len();
    let src = v.as_ptr();
    // SAFETY: `reserve` left at least 16 >= n bytes of capacity past `len`, so
    // every write below lands in `data`'s allocation; every read stays inside
    // `v` (offsets below n, word reads end at n); `set_len` then covers exactly
    // the n bytes written, all initialised.
    unsafe {
        let dst = data.as_mut_ptr().add(len);
        if n >= 8 {
            let head = src.cast::<u64>().read_unaligned();
            let tail = src.add(n - 8).cast::<u64>().read_unaligned();
            dst.cast::<u64>().write_unaligned(head);
            dst.add(n - 8).cast::<u64>().write_unaligned(tail);
        } else if n >= 4 {
            let head = src.cast::<u32>().read_unaligned();
            let tail = src.add(n - 4).cast::<u32>().read_unaligned();
            dst.cast::<u32>().write_unaligned(head);
            dst.add(n - 4).cast::<u32>().write_unaligned(tail);
        } else if n > 0 {
            *dst = *src;
            *dst.add(n / 2) = *src.add(n / 2);
            *dst.add(n - 1) = *src.add(n - 1);
        }
        data.set_len(len + n);
    }
}

/// A fixed-width SQL type and the value type that carries it.
pub trait FixedKind {
    type Raw: Default + Copy;
    fn wrap(values: Vec<Self::Raw>) -> Values;
}

/// A builder of fixed-width values of kind `K`.
pub struct Fixed<K: FixedKind> {
    values: Vec<K::Raw>,
    nulls: Nulls,
}

impl<K: FixedKind> Fixed<K> {
    #[inline(always)]
    fn push_value(&mut self, v: K::Raw) {
        self.nulls.push(self.values.len(), true);
        self.values.push(v);
    }
}

impl<K: FixedKind> ColumnBuilder for Fixed<K> {
    fn with_capacity(rows: usize) -> Self {
        Fixed {
            values: Vec::with_capacity(rows),
            nulls: Nulls::default(),
        }
    }
    fn push_null(&mut self) {
        self.nulls.push(self.values.len(), false);
        self.values.push(K::Raw::default());
    }
    fn finish(self) -> Column {
        Column {
            values: K::wrap(self.values),
            validity: self.nulls.bits,
        }
    }
}

/// A builder of variable-length values.
pub struct Bytes {
    offsets: Vec<u32>,
    data: Vec<u8>,
    nulls: Nulls,
    wrap: fn(BytesColumn) -> Values,
}

impl Bytes {
    #[inline(always)]
    fn push_value(&mut self, v: &[u8]) {
        // `offsets` holds one entry more than the rows pushed so far.
        self.nulls.push(self.offsets.len() - 1, true);
        append(&mut self.data, v);
        self.offsets.push(self.data.len() as u32);
    }
}

impl ColumnBuilder for Bytes {
    fn with_capacity(rows: usize) -> Self {
        let mut offsets: Vec<u32> = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Bytes {
            offsets,
            data: Vec::with_capacity(rows * 8),
            nulls: Nulls::default(),
            wrap: Values::Varchar,
        }
    }
    fn push_null(&mut self) {
        self.nulls.push(self.offsets.len() - 1, false);
        self.offsets.push(self.data.len() as u32);
    }
    fn finish(self) -> Column {
        Column {
            values: (self.wrap)(BytesColumn {
                offsets: self.offsets,
                data: self.data,
            }),
            validity: self.nulls.bits,
        }
    }
}

/// Varbinary results use the same builder with another tag.
pub struct Binary(Bytes);

impl ColumnBuilder for Binary {
    fn with_capacity(rows: usize) -> Self {
        let mut b = Bytes::with_capacity(rows);
        b.wrap = Values::Varbinary;
        Binary(b)
    }
    fn push_null(&mut self) {
        self.0.push_null()
    }
    fn finish(self) -> Column {
        self.0.finish()
    }
}

/// A fixed-width type: its column tag, its SQL type, and the value type floe passes.
macro_rules! fixed {
    ($t:ty, $raw:ty, $tag:ident, $sql:expr, $name:literal, |$r:ident| $from:expr, |$v:ident| $to:expr) => {
        impl<'a> Param<'a> for $t {
            type View = (&'a [$raw], Option<&'a [u8]>);
            fn data_type() -> DataType {
                $sql
            }
            fn view(column: &'a Column) -> Result<Self::View, String> {
                match &column.values {
                    Values::$tag(values) => Ok((values, column.validity.as_deref())),
                    other => Err(mismatch($name, other)),
                }
            }
            #[inline]
            fn get(view: &Self::View, row: usize) -> Option<Self> {
                if !valid(view.1, row) {
                    return None;
                }
                let $r = *view.0.get(row)?;
                Some($from)
            }
        }

        impl<'a> Param<'a> for Option<$t> {
            type View = (&'a [$raw], Option<&'a [u8]>);
            fn data_type() -> DataType {
                <$t as Param<'a>>::data_type()
            }
            fn view(column: &'a Column) -> Result<Self::View, String> {
                <$t as Param<'a>>::view(column)
            }
            #[inline]
            fn get(view: &Self::View, row: usize) -> Option<Self> {
                Some(<$t as Param<'a>>::get(view, row))
            }
        }

        impl FixedKind for $t {
            type Raw = $raw;
            fn wrap(values: Vec<$raw>) -> Values {
                Values::$tag(values)
            }
        }

        impl Output for $t {
            type Builder = Fixed<$t>;
            fn data_type() -> DataType {
                $sql
            }
            #[inline]
            fn push(self, builder: &mut Self::Builder) {
                let $v = self;
                builder.push_value($to);
            }
        }

        impl Output for Option<$t> {
            type Builder = Fixed<$t>;
            fn data_type() -> DataType {
                $sql
            }
            #[inline]
            fn push(self, builder: &mut Self::Builder) {
                match self {
                    Some(v) => v.push(builder),
                    None => builder.push_null(),
                }
            }
        }
    };
}

fixed!(i64, i64, Bigint, DataType::Bigint, "BIGINT", |r| r, |v| v);
fixed!(f64, f64, Double, DataType::Double, "DOUBLE", |r| r, |v| v);
fixed!(
    bool,
    bool,
    Boolean,
    DataType::Boolean,
    "BOOLEAN",
    |r| r,
    |v| v
);
fixed!(Date, i32, Date, DataType::Date, "DATE", |r| Date(r), |v| v
    .0);
fixed!(
    DateTime,
    i64,
    Datetime,
    DataType::Datetime,
    "DATETIME",
    |r| DateTime(r),
    |v| v.0
);

/// Variable-length argument types.
macro_rules! bytes_param {
    ($t:ty, $tag:ident, $sql:expr, $name:literal, |$b:ident| $from:expr) => {
        impl<'a> Param<'a> for $t {
            type View = (&'a [u32], &'a [u8], Option<&'a [u8]>);
            fn data_type() -> DataType {
                $sql
            }
            fn view(column: &'a Column) -> Result<Self::View, String> {
                match &column.values {
                    Values::$tag(c) => Ok((&c.offsets, &c.data, column.validity.as_deref())),
                    other => Err(mismatch($name, other)),
                }
            }
            #[inline]
            fn get(view: &Self::View, row: usize) -> Option<Self> {
                if !valid(view.2, row) {
                    return None;
                }
                let (start, end) = (*view.0.get(row)? as usize, *view.0.get(row + 1)? as usize);
                let $b = view.1.get(start..end)?;
                $from
            }
        }

        impl<'a> Param<'a> for Option<$t> {
            type View = (&'a [u32], &'a [u8], Option<&'a [u8]>);
            fn data_type() -> DataType {
                $sql
            }
            fn view(column: &'a Column) -> Result<Self::View, String> {
                <$t as Param<'a>>::view(column)
            }
            #[inline]
            fn get(view: &Self::View, row: usize) -> Option<Self> {
                Some(<$t as Param<'a>>::get(view, row))
            }
        }
    };
}

/// VARCHAR arguments: each value is a slice of the batch's bytes (NULL if
/// floe ever sent a slice off a character boundary, rather than a panic).
impl<'a> Param<'a> for &'a str {
    type View = (&'a [u32], &'a str, Option<&'a [u8]>);
    fn data_type() -> DataType {
        DataType::Varchar
    }
    fn view(column: &'a Column) -> Result<Self::View, String> {
        match &column.values {
            Values::Varchar(c) => {
                // SAFETY: the contract's VARCHAR is UTF-8, and floe passes
                // the bytes of Arrow Utf8 arrays (UTF-8 by Arrow's invariant)
                // cut at value boundaries. The host is the trusted side of the
                // sandbox; checking again cost a pass over every batch.
                let text = unsafe { std::str::from_utf8_unchecked(&c.data) };
                Ok((&c.offsets, text, column.validity.as_deref()))
            }
            other => Err(mismatch("VARCHAR", other)),
        }
    }
    #[inline]
    fn get(view: &Self::View, row: usize) -> Option<Self> {
        if !valid(view.2, row) {
            return None;
        }
        let (start, end) = (*view.0.get(row)? as usize, *view.0.get(row + 1)? as usize);
        view.1.get(start..end)
    }
}

impl<'a> Param<'a> for Option<&'a str> {
    type View = (&'a [u32], &'a str, Option<&'a [u8]>);
    fn data_type() -> DataType {
        DataType::Varchar
    }
    fn view(column: &'a Column) -> Result<Self::View, String> {
        <&'a str as Param<'a>>::view(column)
    }
    #[inline]
    fn get(view: &Self::View, row: usize) -> Option<Self> {
        Some(<&'a str as Param<'a>>::get(view, row))
    }
}
bytes_param!(&'a [u8], Varbinary, DataType::Varbinary, "VARBINARY", |b| {
    Some(b)
});

macro_rules! bytes_output {
    ($t:ty, $builder:ident, $sql:expr, |$v:ident| $bytes:expr) => {
        impl Output for $t {
            type Builder = $builder;
            fn data_type() -> DataType {
                $sql
            }
            #[inline]
            fn push(self, builder: &mut $builder) {
                let $v = &self;
                builder.push_bytes($bytes);
            }
        }

        impl Output for Option<$t> {
            type Builder = $builder;
            fn data_type() -> DataType {
                $sql
            }
            #[inline]
            fn push(self, builder: &mut $builder) {
                match self {
                    Some(v) => v.push(builder),
                    None => builder.push_null(),
                }
            }
        }
    };
}

impl Bytes {
    #[inline]
    fn push_bytes(&mut self, v: &[u8]) {
        self.push_value(v)
    }
}

impl Binary {
    #[inline]
    fn push_bytes(&mut self, v: &[u8]) {
        self.0.push_value(v)
    }
}

bytes_output!(String, Bytes, DataType::Varchar, |v| v.as_bytes());
bytes_output!(&str, Bytes, DataType::Varchar, |v| v.as_bytes());
bytes_output!(Vec<u8>, Binary, DataType::Varbinary, |v| v.as_slice());
bytes_output!(&[u8], Binary, DataType::Varbinary, |v| v);

fn decimal_type<const SCALE: i8>() -> DataType {
    DataType::Decimal(DecimalType {
        precision: 38,
        scale: SCALE,
    })
}

impl<'a, const SCALE: i8> Param<'a> for Decimal<SCALE> {
    type View = (&'a [u8], Option<&'a [u8]>);
    fn data_type() -> DataType {
        decimal_type::<SCALE>()
    }
    fn view(column: &'a Column) -> Result<Self::View, String> {
        match &column.values {
            Values::Decimal(c) if c.scale == SCALE => Ok((&c.values, column.validity.as_deref())),
            Values::Decimal(c) => Err(format!(
                "expected a DECIMAL argument of scale {SCALE}, got scale {}",
                c.scale
            )),
            other => Err(mismatch("DECIMAL", other)),
        }
    }
    #[inline]
    fn get(view: &Self::View, row: usize) -> Option<Self> {
        if !valid(view.1, row) {
            return None;
        }
        let bytes: [u8; 16] = view.0.get(row * 16..row * 16 + 16)?.try_into().ok()?;
        Some(Decimal(i128::from_le_bytes(bytes)))
    }
}

impl<'a, const SCALE: i8> Param<'a> for Option<Decimal<SCALE>> {
    type View = (&'a [u8], Option<&'a [u8]>);
    fn data_type() -> DataType {
        decimal_type::<SCALE>()
    }
    fn view(column: &'a Column) -> Result<Self::View, String> {
        <Decimal<SCALE> as Param<'a>>::view(column)
    }
    #[inline]
    fn get(view: &Self::View, row: usize) -> Option<Self> {
        Some(<Decimal<SCALE> as Param<'a>>::get(view, row))
    }
}

/// A builder of DECIMAL(38, SCALE) values.
pub struct Decimals<const SCALE: i8> {
    values: Vec<u8>,
    nulls: Nulls,
}

impl<const SCALE: i8> ColumnBuilder for Decimals<SCALE> {
    fn with_capacity(rows: usize) -> Self {
        Decimals {
            values: Vec::with_capacity(rows * 16),
            nulls: Nulls::default(),
        }
    }
    fn push_null(&mut self) {
        self.nulls.push(self.values.len() / 16, false);
        self.values.extend_from_slice(&[0; 16]);
    }
    fn finish(self) -> Column {
        Column {
            values: Values::Decimal(DecimalColumn {
                precision: 38,
                scale: SCALE,
                values: self.values,
            }),
            validity: self.nulls.bits,
        }
    }
}

impl<const SCALE: i8> Output for Decimal<SCALE> {
    type Builder = Decimals<SCALE>;
    fn data_type() -> DataType {
        decimal_type::<SCALE>()
    }
    fn push(self, builder: &mut Self::Builder) {
        builder.nulls.push(builder.values.len() / 16, true);
        builder.values.extend_from_slice(&self.0.to_le_bytes());
    }
}

impl<const SCALE: i8> Output for Option<Decimal<SCALE>> {
    type Builder = Decimals<SCALE>;
    fn data_type() -> DataType {
        decimal_type::<SCALE>()
    }
    fn push(self, builder: &mut Self::Builder) {
        match self {
            Some(v) => v.push(builder),
            None => builder.push_null(),
        }
    }
}

//! Arithmetic with MySQL's types: `/` on exact numbers is DECIMAL with four
//! more digits of scale (NULL on division by zero), `DIV` is integer
//! division, ROUND rounds exact values half away from zero and doubles to
//! even, TRUNCATE cuts toward zero.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array};
use arrow::compute::cast;
use arrow::compute::kernels::arity::unary;
use arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int32Type, Int64Type};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;

use super::{Call, MySqlFn, is_exact};

/// MySQL's `div_precision_increment`.
const DIV_SCALE_INCREMENT: i8 = 4;
const MAX_PRECISION: u8 = 38;
const MAX_SCALE: i8 = 30;

pub fn functions() -> Vec<MySqlFn> {
    vec![
        MySqlFn::new("mysql_divide", 2..=2, divide_type, divide),
        MySqlFn::new("mysql_intdiv", 2..=2, |_, _| Ok(DataType::Int64), intdiv),
        MySqlFn::new("round", 1..=2, rounded_type, |c| rounded(c, Mode::HalfAway))
            .decimals(declared_decimals),
        MySqlFn::new("truncate", 2..=2, rounded_type, |c| {
            rounded(c, Mode::Truncate)
        })
        .decimals(declared_decimals),
    ]
}

/// `(precision, scale)` an exact type converts to.
fn exact_shape(t: &DataType) -> (u8, i8) {
    match t {
        DataType::Decimal128(p, s) => (*p, *s),
        DataType::Int8 | DataType::UInt8 => (3, 0),
        DataType::Int16 | DataType::UInt16 => (5, 0),
        DataType::Int32 | DataType::UInt32 => (10, 0),
        DataType::UInt64 => (20, 0),
        DataType::Int64 => (19, 0),
        _ => (1, 0),
    }
}

fn divide_type(types: &[DataType], _: &[Option<&ScalarValue>]) -> Result<DataType> {
    if !(is_exact(&types[0]) && is_exact(&types[1])) {
        return Ok(DataType::Float64);
    }
    let (pa, sa) = exact_shape(&types[0]);
    let (_, sb) = exact_shape(&types[1]);
    let scale = (sa + DIV_SCALE_INCREMENT).min(MAX_SCALE);
    let precision = ((pa as i16 - sa as i16) + sb as i16 + scale as i16)
        .clamp(scale as i16 + 1, MAX_PRECISION as i16) as u8;
    Ok(DataType::Decimal128(precision, scale))
}

/// Unscaled values of an exact array at its own scale.
fn unscaled(a: &ArrayRef) -> Result<(Vec<Option<i128>>, i8)> {
    if a.data_type() == &DataType::Null {
        return Ok((vec![None; a.len()], 0));
    }
    let (_, s) = exact_shape(a.data_type());
    let d = cast(a, &DataType::Decimal128(MAX_PRECISION, s))?;
    Ok((d.as_primitive::<Decimal128Type>().iter().collect(), s))
}

fn doubles(a: &ArrayRef) -> Result<Vec<Option<f64>>> {
    if a.data_type() == &DataType::Null {
        return Ok(vec![None; a.len()]);
    }
    let f = cast(a, &DataType::Float64)?;
    Ok(f.as_primitive::<Float64Type>().iter().collect())
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

#[derive(Clone, Copy)]
enum Mode {
    HalfAway,
    Truncate,
}

/// `n / d` rounded by `mode` (`d` is not zero).
fn div_round(n: i128, d: i128, mode: Mode) -> i128 {
    let q = n / d;
    let r = n % d;
    match mode {
        Mode::Truncate => q,
        Mode::HalfAway => {
            if r.unsigned_abs() * 2 >= d.unsigned_abs() {
                if (n < 0) != (d < 0) { q - 1 } else { q + 1 }
            } else {
                q
            }
        }
    }
}

/// `v` at scale `from`, rescaled to `to`.
fn rescale(v: i128, from: i8, to: i8, mode: Mode) -> Option<i128> {
    if to >= from {
        v.checked_mul(pow10((to - from) as u32)?)
    } else {
        Some(div_round(v, pow10((from - to) as u32)?, mode))
    }
}

fn out_of_range() -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution("DECIMAL value is out of range".into())
}

fn divide(c: &Call) -> Result<ArrayRef> {
    let DataType::Decimal128(p, s) = *c.ret else {
        let (a, b) = (doubles(&c.args[0])?, doubles(&c.args[1])?);
        return Ok(Arc::new(Float64Array::from_iter((0..c.rows).map(|i| {
            let b = b[i].filter(|b| *b != 0.0)?;
            Some(a[i]? / b)
        }))));
    };
    let ((a, sa), (b, sb)) = (unscaled(&c.args[0])?, unscaled(&c.args[1])?);
    let mut out = Vec::with_capacity(c.rows);
    for i in 0..c.rows {
        let (Some(a), Some(b)) = (a[i], b[i]) else {
            out.push(None);
            continue;
        };
        if b == 0 {
            out.push(None);
            continue;
        }
        // a/10^sa / (b/10^sb) at scale s = a * 10^(s + sb - sa) / b.
        let shift = (s as i32 + sb as i32 - sa as i32) as u32;
        let n = pow10(shift)
            .and_then(|m| a.checked_mul(m))
            .ok_or_else(out_of_range)?;
        out.push(Some(div_round(n, b, Mode::HalfAway)));
    }
    Ok(Arc::new(
        Decimal128Array::from(out).with_precision_and_scale(p, s)?,
    ))
}

/// The divisor when it is a constant that cannot fail or overflow a
/// division (not 0, not -1).
fn constant_divisor(c: &Call) -> Result<Option<i64>> {
    if c.consts[1].is_none() || c.args[1].is_empty() {
        return Ok(None);
    }
    let b = cast(&c.args[1], &DataType::Int64)?;
    let b = b.as_primitive::<Int64Type>();
    if b.is_null(0) {
        return Ok(None);
    }
    Ok(Some(b.value(0)).filter(|b| *b != 0 && *b != -1))
}

/// `a DIV b` for a constant `b`: one kernel over the values, nulls kept,
/// in 32 bits when both fit (integer division is the cost, and the 32-bit
/// instruction is the faster one).
fn divided_by_constant(a: &ArrayRef, b: i64) -> Result<ArrayRef> {
    if let (Some(a), Ok(b)) = (a.as_primitive_opt::<Int32Type>(), i32::try_from(b)) {
        return Ok(Arc::new(unary::<_, _, Int64Type>(a, |x| i64::from(x / b))));
    }
    let a = cast(a, &DataType::Int64)?;
    Ok(Arc::new(unary::<_, _, Int64Type>(
        a.as_primitive::<Int64Type>(),
        |x| x / b,
    )))
}

fn intdiv(c: &Call) -> Result<ArrayRef> {
    let (ta, tb) = (c.args[0].data_type(), c.args[1].data_type());
    if ta.is_integer() && tb.is_integer() {
        if let Some(b) = constant_divisor(c)? {
            return divided_by_constant(&c.args[0], b);
        }
        let a = cast(&c.args[0], &DataType::Int64)?;
        let b = cast(&c.args[1], &DataType::Int64)?;
        let (a, b) = (a.as_primitive::<Int64Type>(), b.as_primitive::<Int64Type>());
        let out: Int64Array = a
            .iter()
            .zip(b.iter())
            .map(|(a, b)| match (a, b) {
                (Some(a), Some(b)) if b != 0 => a.checked_div(b),
                _ => None,
            })
            .collect();
        return Ok(Arc::new(out));
    }
    if is_exact(ta) && is_exact(tb) {
        let ((a, sa), (b, sb)) = (unscaled(&c.args[0])?, unscaled(&c.args[1])?);
        let mut out = Vec::with_capacity(c.rows);
        for i in 0..c.rows {
            let v = match (a[i], b[i]) {
                (Some(a), Some(b)) if b != 0 => {
                    // Both at the larger scale, then a plain integer division.
                    let s = sa.max(sb);
                    let a = rescale(a, sa, s, Mode::Truncate).ok_or_else(out_of_range)?;
                    let b = rescale(b, sb, s, Mode::Truncate).ok_or_else(out_of_range)?;
                    Some(i64::try_from(a / b).map_err(|_| out_of_range())?)
                }
                _ => None,
            };
            out.push(v);
        }
        return Ok(Arc::new(Int64Array::from(out)));
    }
    let (a, b) = (doubles(&c.args[0])?, doubles(&c.args[1])?);
    Ok(Arc::new(Int64Array::from_iter((0..c.rows).map(|i| {
        let b = b[i].filter(|b| *b != 0.0)?;
        Some((a[i]? / b).trunc() as i64)
    }))))
}

/// The digits argument, when it is a constant.
fn literal_digits(scalars: &[Option<&ScalarValue>]) -> Option<i64> {
    match scalars.get(1).copied().flatten()? {
        ScalarValue::Int64(Some(d)) => Some(*d),
        other => other.cast_to(&DataType::Int64).ok().and_then(|v| match v {
            ScalarValue::Int64(d) => d,
            _ => None,
        }),
    }
}

/// ROUND(double, d) declares `d` decimals when `d` is a constant.
fn declared_decimals(scalars: &[Option<&ScalarValue>]) -> Option<u8> {
    match scalars.len() {
        1 => Some(0),
        _ => literal_digits(scalars).map(|d| d.clamp(0, MAX_SCALE as i64) as u8),
    }
}

fn rounded_type(types: &[DataType], scalars: &[Option<&ScalarValue>]) -> Result<DataType> {
    Ok(match &types[0] {
        t if t.is_integer() || t == &DataType::Boolean => DataType::Int64,
        DataType::Decimal128(p, s) => {
            // The result has the asked-for number of decimals (a constant), or the input's.
            let scale = match (types.len(), literal_digits(scalars)) {
                (1, _) => 0,
                (_, Some(d)) => d.clamp(0, MAX_SCALE as i64) as i8,
                (_, None) => *s,
            };
            let precision = (*p as i16 - *s as i16 + scale as i16 + 1)
                .clamp(scale as i16 + 1, MAX_PRECISION as i16) as u8;
            DataType::Decimal128(precision, scale)
        }
        _ => DataType::Float64,
    })
}

fn rounded(c: &Call, mode: Mode) -> Result<ArrayRef> {
    let digits: Vec<Option<i64>> = match c.args.get(1) {
        Some(d) if d.data_type() == &DataType::Null => vec![None; c.rows],
        Some(d) => {
            let d = cast(d, &DataType::Int64)?;
            d.as_primitive::<Int64Type>().iter().collect()
        }
        None => vec![Some(0); c.rows],
    };
    match c.ret {
        DataType::Int64 | DataType::Decimal128(..) => {
            let (v, s) = unscaled(&c.args[0])?;
            let out_scale = match c.ret {
                DataType::Decimal128(_, s) => *s,
                _ => 0,
            };
            let mut out = Vec::with_capacity(c.rows);
            for i in 0..c.rows {
                let (Some(v), Some(d)) = (v[i], digits[i]) else {
                    out.push(None);
                    continue;
                };
                // Round at `d` decimals, then express at the output scale.
                let d = d.clamp(-(MAX_PRECISION as i64), MAX_SCALE as i64) as i8;
                let at = if d < s {
                    rescale(v, s, d, mode).and_then(|r| rescale(r, d, s, mode))
                } else {
                    Some(v)
                };
                let at = at.and_then(|r| rescale(r, s, out_scale, mode));
                out.push(Some(at.ok_or_else(out_of_range)?));
            }
            if let DataType::Decimal128(p, s) = *c.ret {
                Ok(Arc::new(
                    Decimal128Array::from(out).with_precision_and_scale(p, s)?,
                ))
            } else {
                let ints = out
                    .into_iter()
                    .map(|v| v.map(i64::try_from).transpose())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|_| out_of_range())?;
                Ok(Arc::new(Int64Array::from(ints)))
            }
        }
        DataType::Float64 => {
            let v = doubles(&c.args[0])?;
            Ok(Arc::new(Float64Array::from_iter((0..c.rows).map(|i| {
                let (v, d) = (v[i]?, digits[i]?);
                let m = 10f64.powi(d.clamp(-308, 308) as i32);
                let scaled = v * m;
                let r = match mode {
                    // MySQL rounds doubles with rint(): ties to even.
                    Mode::HalfAway => scaled.round_ties_even(),
                    Mode::Truncate => scaled.trunc(),
                };
                Some(if m.is_finite() && m != 0.0 { r / m } else { v })
            }))))
        }
        other => exec_err!("cannot round a {other}"),
    }
}

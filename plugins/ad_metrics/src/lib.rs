//! Advertising metrics on exact and calendar types:
//! `cpm(cost, impressions)` is the cost per thousand impressions as an exact
//! DECIMAL (rounded half away from zero, like MySQL), `week_start(day)` the
//! Monday of a DATE's week, and `creative_id(bytes)` an 8-byte fingerprint
//! (FNV-1a) of a creative's VARBINARY content, for deduplication.

use floe_plugin::{Date, Decimal};

fn cpm(cost: Decimal<2>, impressions: i64) -> Option<Decimal<4>> {
    if impressions <= 0 {
        return None;
    }
    // cost (scale 2) * 1000, at scale 4: * 100_000.
    let scaled = cost.0.checked_mul(100_000)?;
    let n = i128::from(impressions);
    let (q, r) = (scaled / n, scaled % n);
    let q = if 2 * r.abs() >= n {
        q + scaled.signum()
    } else {
        q
    };
    Some(Decimal(q))
}

fn week_start(day: Date) -> Date {
    // 1970-01-01 was a Thursday: days + 3 counts from a Monday.
    Date(day.0 - (day.0 + 3).rem_euclid(7))
}

fn creative_id(content: &[u8]) -> Vec<u8> {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in content {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h.to_be_bytes().to_vec()
}

floe_plugin::export! {
    scalar: [
        cpm(cost: Decimal<2>, impressions: i64) -> Option<Decimal<4>>,
        week_start(day: Date) -> Date,
        creative_id(content: &[u8]) -> Vec<u8>,
    ],
}

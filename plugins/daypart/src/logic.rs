//! Dayparts of Chinese television advertising, by hour of airing. Plain Rust
//! with no dependencies, so the benchmark can compile the same logic natively.

/// The daypart of an hour of the day (0..=23); `None` for any other number.
pub fn daypart(hour: i64) -> Option<&'static str> {
    Some(match hour {
        0..=5 => "overnight",
        6..=8 => "early_morning",
        9..=11 => "morning",
        12..=13 => "midday",
        14..=17 => "afternoon",
        18 => "early_fringe",
        19..=21 => "prime_time",
        22..=23 => "late_fringe",
        _ => return None,
    })
}

/// Prime time: 19:00 to 21:59.
pub fn is_prime_time(hour: i64) -> bool {
    (19..=21).contains(&hour)
}

/// The hour of a DATETIME given in microseconds since the epoch.
pub fn hour_of(micros: i64) -> i64 {
    micros.div_euclid(3_600_000_000).rem_euclid(24)
}

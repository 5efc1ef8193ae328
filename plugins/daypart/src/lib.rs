//! Ad-airing dayparts: `daypart(hour)`, `airing_daypart(aired_at)`,
//! `is_prime_time(aired_at)`.

pub mod logic;

use floe_plugin::DateTime;

fn daypart(hour: i64) -> Option<&'static str> {
    logic::daypart(hour)
}

fn airing_daypart(at: DateTime) -> Option<&'static str> {
    logic::daypart(logic::hour_of(at.0))
}

fn is_prime_time(at: DateTime) -> bool {
    logic::is_prime_time(logic::hour_of(at.0))
}

floe_plugin::export! {
    scalar: [
        daypart(hour: i64) -> Option<&'static str>,
        airing_daypart(at: DateTime) -> Option<&'static str>,
        is_prime_time(at: DateTime) -> bool,
    ],
}

//! `hll_distinct(bigint)` and `hll_distinct_text(varchar)`: distinct
//! counts (viewers, devices, creatives) in a few KiB per group, mergeable
//! across parallel partial aggregations.

pub mod hll;

use floe_plugin::Aggregate;
use hll::Hll;

#[derive(Default)]
struct DistinctInts(Hll);

impl Aggregate for DistinctInts {
    type Input<'a> = i64;
    type Output = i64;
    fn update(&mut self, value: i64) {
        self.0.add_hash(hll::mix(value as u64));
    }
    fn state(&self) -> Vec<u8> {
        self.0.bytes().to_vec()
    }
    fn merge(&mut self, state: &[u8]) -> Result<(), String> {
        self.0.merge_bytes(state)
    }
    fn finish(&self) -> i64 {
        self.0.estimate()
    }
}

#[derive(Default)]
struct DistinctText(Hll);

impl Aggregate for DistinctText {
    type Input<'a> = &'a str;
    type Output = i64;
    fn update(&mut self, value: &str) {
        self.0.add_hash(hll::hash_bytes(value.as_bytes()));
    }
    fn state(&self) -> Vec<u8> {
        self.0.bytes().to_vec()
    }
    fn merge(&mut self, state: &[u8]) -> Result<(), String> {
        self.0.merge_bytes(state)
    }
    fn finish(&self) -> i64 {
        self.0.estimate()
    }
}

floe_plugin::export! {
    scalar: [],
    aggregate: [
        hll_distinct = DistinctInts,
        hll_distinct_text = DistinctText,
    ],
}

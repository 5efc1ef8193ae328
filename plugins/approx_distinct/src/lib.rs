//! `hll_distinct(bigint)` and `hll_distinct_text(varchar)`: distinct
//! counts (viewers, devices, creatives) in a few KiB per group, mergeable
//! across parallel partial aggregations.

pub mod hll;

use floe_plugin::Aggregate;
use hll::Hll;

/// What a distinct count hashes: its SQL argument type and how.
trait Key: 'static {
    type Input<'a>: floe_plugin::Param<'a>;
    fn hash(value: Self::Input<'_>) -> u64;
}

struct Ints;

impl Key for Ints {
    type Input<'a> = i64;
    fn hash(value: i64) -> u64 {
        hll::mix(value as u64)
    }
}

struct Text;

impl Key for Text {
    type Input<'a> = &'a str;
    fn hash(value: &str) -> u64 {
        hll::hash_bytes(value.as_bytes())
    }
}

/// One group's sketch of the values of key type `K`.
struct Distinct<K>(Hll, std::marker::PhantomData<K>);

impl<K> Default for Distinct<K> {
    fn default() -> Self {
        Distinct(Hll::default(), std::marker::PhantomData)
    }
}

impl<K: Key> Aggregate for Distinct<K> {
    type Input<'a> = K::Input<'a>;
    type Output = i64;
    fn update(&mut self, value: K::Input<'_>) {
        self.0.add_hash(K::hash(value));
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
        hll_distinct = Distinct<Ints>,
        hll_distinct_text = Distinct<Text>,
    ],
}

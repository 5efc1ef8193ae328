//! HyperLogLog with 2^12 one-byte registers (standard error about 1.6%).
//! Plain Rust with no dependencies, so the benchmark can compile the same
//! logic natively.

pub const BITS: u32 = 12;
pub const REGISTERS: usize = 1 << BITS;

/// A 64-bit mix with full avalanche (splitmix64's finalizer).
pub fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a over bytes, then mixed.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(h)
}

#[derive(Clone, Debug, Default)]
pub struct Hll {
    /// Empty until the first value, so empty groups cost nothing.
    registers: Vec<u8>,
}

impl Hll {
    pub fn add_hash(&mut self, hash: u64) {
        if self.registers.is_empty() {
            self.start();
        }
        let index = (hash >> (64 - BITS)) as usize;
        let rank = ((hash << BITS) | (1 << (BITS - 1))).leading_zeros() as u8 + 1;
        let r = &mut self.registers[index];
        *r = (*r).max(rank);
    }

    /// Out of line and cold: it runs once per group, while `add_hash` runs
    /// per row and must stay small enough to be inlined into the row loop.
    #[cold]
    #[inline(never)]
    fn start(&mut self) {
        self.registers = vec![0; REGISTERS];
    }

    /// The registers, or nothing for an empty sketch.
    pub fn bytes(&self) -> &[u8] {
        &self.registers
    }

    pub fn merge_bytes(&mut self, other: &[u8]) -> Result<(), String> {
        if other.is_empty() {
            return Ok(());
        }
        if other.len() != REGISTERS {
            return Err(format!(
                "a sketch has {REGISTERS} registers, not {}",
                other.len()
            ));
        }
        if self.registers.is_empty() {
            self.registers = other.to_vec();
        } else {
            for (r, o) in self.registers.iter_mut().zip(other) {
                *r = (*r).max(*o);
            }
        }
        Ok(())
    }

    pub fn estimate(&self) -> i64 {
        if self.registers.is_empty() {
            return 0;
        }
        let m = REGISTERS as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let mut sum = 0.0;
        let mut zeros = 0;
        for &r in &self.registers {
            sum += 1.0 / (1u64 << r) as f64;
            zeros += usize::from(r == 0);
        }
        let raw = alpha * m * m / sum;
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            // Small cardinalities: linear counting is exact-ish.
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        estimate.round() as i64
    }
}

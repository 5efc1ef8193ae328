//! A plugin that misbehaves on purpose, for floe's sandbox tests. It uses the
//! raw bindings instead of `export!`, because the SDK would not let it lie.
//!
//! - `spin(x)` never returns.
//! - `hog(x)` allocates until the host refuses memory.
//! - `boom(x)` panics with a message naming `x`.
//! - `liar(x)` says it returns BIGINT and returns VARCHAR.
//! - `short(x)` returns one row fewer than it was given.
//! - `sneaky_clock(x)` claims to be deterministic and reads the clock.
//! - `wall_clock()` declares that it needs the clock, and reads it.
//! - `linger(x)` is honest but slow: it counts to `x` million, then returns `x`.
//! - `linger_sum(x)`, an aggregate, sums `x` as slowly.

use std::cell::RefCell;

use floe_plugin::bindings::exports::floe::plugin::functions::{Guest, GuestAccumulator};
use floe_plugin::bindings::floe::plugin::host;
use floe_plugin::bindings::floe::plugin::types::{BytesColumn, Values};
use floe_plugin::{Capability, Column, DataType, Function, FunctionKind};

struct Hostile;

const NAMES: [&str; 6] = ["spin", "hog", "boom", "liar", "short", "sneaky_clock"];

fn bigints(values: Vec<i64>) -> Column {
    Column {
        values: Values::Bigint(values),
        validity: None,
    }
}

fn first_arg(args: &[Column]) -> Result<&[i64], String> {
    match args.first().map(|c| &c.values) {
        Some(Values::Bigint(v)) => Ok(v),
        _ => Err("expected one BIGINT argument".into()),
    }
}

impl Guest for Hostile {
    type Accumulator = Lingering;

    fn describe() -> Vec<Function> {
        let mut all: Vec<Function> = NAMES
            .iter()
            .map(|name| Function {
                name: name.to_string(),
                kind: FunctionKind::Scalar,
                args: vec![DataType::Bigint],
                returns: DataType::Bigint,
                deterministic: true,
                needs: vec![],
            })
            .collect();
        all.push(Function {
            name: "wall_clock".into(),
            kind: FunctionKind::Scalar,
            args: vec![],
            returns: DataType::Bigint,
            deterministic: false,
            needs: vec![Capability::Clock],
        });
        for (name, kind) in [
            ("linger", FunctionKind::Scalar),
            ("linger_sum", FunctionKind::Aggregate),
        ] {
            all.push(Function {
                name: name.into(),
                kind,
                args: vec![DataType::Bigint],
                returns: DataType::Bigint,
                deterministic: true,
                needs: vec![],
            });
        }
        all
    }

    fn call(function: u32, args: Vec<Column>, rows: u32) -> Result<Column, String> {
        floe_plugin::catch_panics();
        match function {
            0 => {
                let mut n = 0u64;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            1 => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    let mut block = vec![0u8; 1 << 20];
                    block[hoard.len() % (1 << 20)] = 1;
                    hoard.push(std::hint::black_box(block));
                }
            }
            2 => {
                let x = first_arg(&args)?.first().copied().unwrap_or_default();
                panic!("boom: refusing {x}");
            }
            3 => Ok(Column {
                values: Values::Varchar(BytesColumn {
                    offsets: vec![0; rows as usize + 1],
                    data: vec![],
                }),
                validity: None,
            }),
            4 => {
                let mut v = first_arg(&args)?.to_vec();
                v.pop();
                Ok(bigints(v))
            }
            5 | 6 => Ok(bigints(vec![host::now_micros(); rows as usize])),
            7 => {
                let x = first_arg(&args)?;
                x.iter().for_each(|&millions| linger(millions));
                Ok(bigints(x.to_vec()))
            }
            _ => Err(format!("no function number {function}")),
        }
    }
}

/// Counts to `millions` million, slowly on purpose.
fn linger(millions: i64) {
    let mut n = 0u64;
    while n < millions.max(0) as u64 * 1_000_000 {
        n = std::hint::black_box(n + 1);
    }
}

/// `linger_sum`'s sums by group.
struct Lingering(RefCell<Vec<i64>>);

impl Lingering {
    /// The sums of the first `emit` groups, which are then forgotten.
    fn take(&self, emit: u32) -> Vec<i64> {
        let sums = &mut *self.0.borrow_mut();
        sums.drain(..(emit as usize).min(sums.len())).collect()
    }
}

/// Makes `sums` hold `total` groups, and checks that `groups` names only those.
fn hold_groups(sums: &mut Vec<i64>, groups: &[u32], total: u32) -> Result<(), String> {
    sums.resize(total as usize, 0);
    match groups.iter().find(|&&g| g >= total) {
        Some(g) => Err(format!("group {g} of {total}")),
        None => Ok(()),
    }
}

impl GuestAccumulator for Lingering {
    fn new(_function: u32) -> Self {
        Lingering(RefCell::new(Vec::new()))
    }
    fn update(&self, groups: Vec<u32>, total: u32, args: Vec<Column>) -> Result<(), String> {
        let sums = &mut *self.0.borrow_mut();
        hold_groups(sums, &groups, total.max(1))?;
        for (row, &x) in first_arg(&args)?.iter().enumerate() {
            // No group ids: every row is group 0's.
            let g = groups.get(row).copied().unwrap_or(0);
            linger(x);
            sums[g as usize] += x;
        }
        Ok(())
    }
    fn state(&self, emit: u32) -> Result<Column, String> {
        let emitted = self.take(emit);
        let offsets = (0..=emitted.len() as u32).map(|i| i * 8).collect();
        Ok(Column {
            values: Values::Varbinary(BytesColumn {
                offsets,
                data: emitted.iter().flat_map(|s| s.to_le_bytes()).collect(),
            }),
            validity: None,
        })
    }
    fn merge(&self, groups: Vec<u32>, total: u32, states: Column) -> Result<(), String> {
        let sums = &mut *self.0.borrow_mut();
        hold_groups(sums, &groups, total)?;
        let Values::Varbinary(states) = states.values else {
            return Err("states are VARBINARY".into());
        };
        for (&g, bytes) in groups.iter().zip(states.data.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(bytes);
            sums[g as usize] += i64::from_le_bytes(le);
        }
        Ok(())
    }
    fn finish(&self, emit: u32) -> Result<Column, String> {
        Ok(bigints(self.take(emit)))
    }
}

floe_plugin::bindings::__export_world!(Hostile with_types_in floe_plugin::bindings);

//! Aggregate functions: one state per group, updated a batch at a time,
//! serialized so that floe can merge partial states computed in parallel.

use crate::bindings::floe::plugin::types::{Column, Values};
use crate::column::{ColumnBuilder, Output, Param, rows};

/// The state of one group of an aggregate function.
pub trait Aggregate: Default + 'static {
    /// The argument type; NULL arguments are skipped unless it is an `Option`.
    type Input<'a>: Param<'a>;
    type Output: Output;
    fn update(&mut self, value: Self::Input<'_>);
    /// The state as bytes, for [`Aggregate::merge`] in another accumulator.
    fn state(&self) -> Vec<u8>;
    /// Adds a state that [`Aggregate::state`] produced.
    fn merge(&mut self, state: &[u8]) -> Result<(), String>;
    fn finish(&self) -> Self::Output;
}

/// The groups of one accumulator (object-safe, so one resource type serves
/// every aggregate of a plugin).
pub trait Groups {
    fn update(&mut self, groups: &[u32], total: u32, args: &[Column]) -> Result<(), String>;
    fn state(&mut self, emit: u32) -> Result<Column, String>;
    fn merge(&mut self, groups: &[u32], total: u32, states: &Column) -> Result<(), String>;
    fn finish(&mut self, emit: u32) -> Result<Column, String>;
}

fn grow<A: Default>(states: &mut Vec<A>, total: u32) {
    if states.len() < total as usize {
        states.resize_with(total as usize, A::default);
    }
}

fn group(states: &mut [impl Aggregate], g: u32) -> Result<usize, String> {
    let g = g as usize;
    if g < states.len() {
        Ok(g)
    } else {
        Err(format!(
            "group {g} is not below the total of {}",
            states.len()
        ))
    }
}

// The two row loops are functions of their own, so that the compiler
// optimizes (and inlines the aggregate's `update` into) each apart.

#[inline(never)]
fn update_one<'a, A: Aggregate>(
    state: &mut A,
    view: &<A::Input<'a> as Param<'a>>::View,
    rows: usize,
) {
    for row in 0..rows {
        if let Some(v) = <A::Input<'a> as Param>::get(view, row) {
            state.update(v);
        }
    }
}

#[inline(never)]
fn update_groups<'a, A: Aggregate>(
    states: &mut [A],
    view: &<A::Input<'a> as Param<'a>>::View,
    groups: &[u32],
) -> Result<(), String> {
    for (row, &g) in groups.iter().enumerate() {
        let g = group(states, g)?;
        if let Some(v) = <A::Input<'a> as Param>::get(view, row) {
            states[g].update(v);
        }
    }
    Ok(())
}

fn take<A>(states: &mut Vec<A>, emit: u32) -> Vec<A> {
    let emit = (emit as usize).min(states.len());
    states.drain(..emit).collect()
}

impl<A: Aggregate> Groups for Vec<A> {
    fn update(&mut self, groups: &[u32], total: u32, args: &[Column]) -> Result<(), String> {
        let [arg] = args else {
            return Err(format!("aggregates take 1 argument, got {}", args.len()));
        };
        let view = <A::Input<'_> as Param>::view(arg)?;
        // Without GROUP BY floe sends no group ids: every row is group 0's.
        // With one group they can only be 0s (checked in one pass). Either
        // way the per-row loop then has no group to look up.
        let (rows, total) = match groups {
            [] => (rows(arg), total.max(1)),
            _ => (groups.len(), total),
        };
        grow(self, total);
        match self.first_mut() {
            Some(only) if groups.iter().all(|&g| g == 0) => {
                update_one(only, &view, rows);
                Ok(())
            }
            _ => update_groups(self, &view, groups),
        }
    }

    fn state(&mut self, emit: u32) -> Result<Column, String> {
        let taken = take(self, emit);
        let mut out = <Vec<u8> as Output>::Builder::with_capacity(taken.len());
        for s in &taken {
            s.state().push(&mut out);
        }
        Ok(out.finish())
    }

    fn merge(&mut self, groups: &[u32], total: u32, states: &Column) -> Result<(), String> {
        grow(self, total);
        let Values::Varbinary(c) = &states.values else {
            return Err("aggregate states must be VARBINARY".into());
        };
        let view = <&[u8] as Param>::view(states)?;
        if c.offsets.len() != groups.len() + 1 {
            return Err("one state per group index expected".into());
        }
        for (row, &g) in groups.iter().enumerate() {
            let g = group(self, g)?;
            if let Some(bytes) = <&[u8] as Param>::get(&view, row) {
                self[g].merge(bytes)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self, emit: u32) -> Result<Column, String> {
        let taken = take(self, emit);
        let mut out = <A::Output as Output>::Builder::with_capacity(taken.len());
        for s in &taken {
            s.finish().push(&mut out);
        }
        Ok(out.finish())
    }
}

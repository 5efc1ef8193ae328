//! A reader's core: start from the newest checkpoint, then tail the log and
//! apply each record, never talking to the primary.

use std::time::{Duration, Instant};

use crate::Lsn;
use crate::error::Result;
use crate::log::Tailer;
use crate::state::{Snapshot, State};
use crate::volume::Volume;

pub struct Follower {
    state: State,
    tailer: Tailer,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("applied", &self.state.applied_lsn())
            .finish()
    }
}

impl Follower {
    pub fn open(volume: &Volume) -> Result<Follower> {
        let state = volume.checkpointed_state()?;
        let tailer = Tailer::open(&volume.log_dir(), state.applied_lsn() + 1)?;
        Ok(Follower { state, tailer })
    }

    /// Applies every record durable now; waits up to `timeout` for the first.
    /// Returns how many were applied.
    pub fn poll(&mut self, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        let mut applied = 0;
        loop {
            let wait = if applied == 0 {
                deadline.saturating_duration_since(Instant::now())
            } else {
                Duration::ZERO
            };
            let record = self.tailer.next(wait)?;
            let Some(r) = record else { return Ok(applied) };
            self.state.apply_raw(r.lsn, r.kind, &r.payload)?;
            applied += 1;
        }
    }

    /// Applies records until `lsn` is applied or `timeout` passes.
    pub fn catch_up(&mut self, lsn: Lsn, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        while self.state.applied_lsn() < lsn {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            self.poll(left)?;
        }
        Ok(true)
    }

    pub fn applied_lsn(&self) -> Lsn {
        self.state.applied_lsn()
    }

    /// The newest lsn the writer has published as durable.
    pub fn durable_lsn(&self) -> Lsn {
        self.tailer.durable_lsn().max(self.state.applied_lsn())
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn snapshot(&mut self) -> Snapshot {
        self.state.snapshot()
    }
}

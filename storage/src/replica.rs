//! A reader's live copy of the volume: a [`State`] that a background thread
//! advances by tailing the log, shared with the threads that answer queries.
//! Queries take snapshots between records, so each sees exactly one lsn.
//!
//! The thread applies whatever is durable in one go under the state lock
//! (records are whole transactions, so no snapshot sees half of one), then
//! sleeps on the tailer until the writer publishes more.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Lsn;
use crate::error::Result;
use crate::log::{LogRecord, Tailer, now_micros};
use crate::state::{Snapshot, State};
use crate::volume::Volume;

/// Records applied per turn of the state lock, so that a reader catching up
/// on a long log still lets queries take snapshots in between.
const APPLY_BATCH: usize = 256;
/// How long the thread sleeps on the log before it checks for a stop.
const IDLE_WAIT: Duration = Duration::from_millis(200);
/// Waits between attempts to recover from a failure to follow.
const RETRY_WAIT: Duration = Duration::from_millis(500);

/// Where a replica stands, as `SHOW STATUS` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub applied: Lsn,
    /// The newest lsn the writer has published as durable (that we know of).
    pub durable: Lsn,
    /// How long the oldest published, unapplied record has waited (0 when
    /// caught up).
    pub lag: Duration,
    /// Log bytes written but not applied here.
    pub lag_bytes: u64,
    /// Publication to applied, for the last records applied.
    pub last_apply_delay: Duration,
    /// Why the replica cannot follow the log right now, if it cannot.
    pub error: Option<String>,
}

#[derive(Default)]
struct Shared {
    applied: AtomicU64,
    durable: AtomicU64,
    /// Publication time (µs since the Unix epoch) of `durable`.
    durable_at: AtomicU64,
    lag_bytes: AtomicU64,
    last_delay_us: AtomicU64,
    error: Mutex<Option<String>>,
}

pub struct Replica {
    volume: Volume,
    state: Mutex<State>,
    /// Signalled after each applied batch (for [`Replica::wait_for`]).
    applied_cv: Condvar,
    shared: Shared,
    stop: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("applied", &self.applied_lsn())
            .finish()
    }
}

impl Replica {
    /// Opens the newest checkpoint, replays the log that is durable now, and
    /// starts following it.
    pub fn start(volume: Volume) -> Result<Arc<Replica>> {
        let (state, mut tailer) = open_at_checkpoint(&volume)?;
        let replica = Arc::new(Replica {
            volume,
            state: Mutex::new(state),
            applied_cv: Condvar::new(),
            shared: Shared::default(),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        // Catch up before serving, so a new reader answers with what is
        // committed now, not with the checkpoint's past.
        while replica.apply_available(&mut tailer)? > 0 {}
        replica.note_position(&tailer);
        let me = replica.clone();
        let handle = std::thread::Builder::new()
            .name("floe-replica".into())
            .spawn(move || me.follow(tailer))
            .map_err(crate::error::Error::io("spawn", "floe-replica"))?;
        *crate::lock(&replica.thread) = Some(handle);
        Ok(replica)
    }

    pub fn volume(&self) -> &Volume {
        &self.volume
    }

    pub fn snapshot(&self) -> Snapshot {
        crate::lock(&self.state).snapshot()
    }

    pub fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&crate::lock(&self.state))
    }

    pub fn applied_lsn(&self) -> Lsn {
        self.shared.applied.load(Ordering::Acquire)
    }

    pub fn progress(&self) -> Progress {
        let applied = self.applied_lsn();
        let durable = self.shared.durable.load(Ordering::Acquire).max(applied);
        let lag = if applied < durable {
            let at = self.shared.durable_at.load(Ordering::Acquire);
            Duration::from_micros(now_micros().saturating_sub(at))
        } else {
            Duration::ZERO
        };
        Progress {
            applied,
            durable,
            lag,
            lag_bytes: self.shared.lag_bytes.load(Ordering::Relaxed),
            last_apply_delay: Duration::from_micros(
                self.shared.last_delay_us.load(Ordering::Relaxed),
            ),
            error: crate::lock(&self.shared.error).clone(),
        }
    }

    /// Waits until `lsn` is applied here; `false` if `timeout` passes first.
    pub fn wait_for(&self, lsn: Lsn, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = crate::lock(&self.state);
        while state.applied_lsn() < lsn {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = match self.applied_cv.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }

    /// Stops following (queries still read the last state). The thread holds
    /// the replica, so this is how it ends.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = crate::lock(&self.thread).take() {
            let _ = t.join();
        }
    }

    fn follow(&self, mut tailer: Tailer) {
        while !self.stop.load(Ordering::SeqCst) {
            let outcome = match tailer.next(IDLE_WAIT) {
                Ok(None) => Ok(()),
                Ok(Some(first)) => self.apply_from(first, &mut tailer).map(|_| ()),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => {
                    self.note_position(&tailer);
                    let mut error = crate::lock(&self.shared.error);
                    if error.is_some() {
                        tracing::info!("replica follows the log again");
                        *error = None;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "replica cannot follow the log");
                    *crate::lock(&self.shared.error) = Some(e.to_string());
                    std::thread::sleep(RETRY_WAIT);
                    if let Some(t) = self.recover() {
                        tailer = t;
                    }
                }
            }
        }
    }

    /// After a failure (say, the log we needed was collected while we were
    /// far behind): start again from a newer checkpoint, if there is one.
    /// Never goes back in time: an older checkpoint is not taken.
    fn recover(&self) -> Option<Tailer> {
        let (state, tailer) = match open_at_checkpoint(&self.volume) {
            Ok(opened) => opened,
            Err(e) => {
                tracing::warn!(error = %e, "replica cannot reopen the newest checkpoint");
                return None;
            }
        };
        let mut current = crate::lock(&self.state);
        if state.applied_lsn() <= current.applied_lsn() {
            // Retry the log from where we are.
            return Tailer::open(&self.volume.log_dir(), current.applied_lsn() + 1).ok();
        }
        *current = state;
        self.shared
            .applied
            .store(current.applied_lsn(), Ordering::Release);
        Some(tailer)
    }

    /// Applies every record durable now; returns how many.
    fn apply_available(&self, tailer: &mut Tailer) -> Result<usize> {
        match tailer.try_next()? {
            Some(first) => self.apply_from(first, tailer),
            None => Ok(0),
        }
    }

    /// Applies `first` and whatever follows it durably, a batch per lock.
    fn apply_from(&self, first: LogRecord, tailer: &mut Tailer) -> Result<usize> {
        self.note_durable(tailer);
        let mut batch = vec![first];
        let mut total = 0;
        loop {
            while batch.len() < APPLY_BATCH {
                match tailer.try_next()? {
                    Some(r) => batch.push(r),
                    None => break,
                }
            }
            let more = batch.len() == APPLY_BATCH;
            {
                let mut state = crate::lock(&self.state);
                for r in &batch {
                    state.apply_raw(r.lsn, r.kind, &r.payload)?;
                }
                self.shared
                    .applied
                    .store(state.applied_lsn(), Ordering::Release);
            }
            self.applied_cv.notify_all();
            total += batch.len();
            batch.clear();
            if !more {
                let delay = now_micros().saturating_sub(tailer.durable_at());
                self.shared.last_delay_us.store(delay, Ordering::Relaxed);
                return Ok(total);
            }
        }
    }

    fn note_durable(&self, tailer: &Tailer) {
        self.shared
            .durable_at
            .store(tailer.durable_at(), Ordering::Release);
        self.shared
            .durable
            .store(tailer.durable_lsn(), Ordering::Release);
    }

    fn note_position(&self, tailer: &Tailer) {
        self.note_durable(tailer);
        self.shared
            .lag_bytes
            .store(tailer.unread_bytes(), Ordering::Relaxed);
    }
}

/// The newest checkpoint's state and a tailer from just after it. A
/// checkpoint may be collected between listing and reading it (the primary
/// keeps only the newest few); then the next newest is tried.
fn open_at_checkpoint(volume: &Volume) -> Result<(State, Tailer)> {
    let mut attempt = 0;
    loop {
        match volume.checkpointed_state() {
            Ok(state) => {
                let tailer = Tailer::open(&volume.log_dir(), state.applied_lsn() + 1)?;
                return Ok((state, tailer));
            }
            Err(e) if attempt < 5 => {
                tracing::debug!(error = %e, "checkpoint moved while opening it; trying again");
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

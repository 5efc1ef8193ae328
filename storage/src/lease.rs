//! One writer per volume: a lease with an epoch.
//!
//! Epoch `e` is claimed by creating the blob `lease/<e>` with put-if-absent,
//! so two contenders can never both win it. The holder rewrites its blob
//! (with a fresh expiry) every third of the lease duration. A contender takes
//! over by claiming `e+1`: when the lease has expired, or at once when forced
//! (an operator's failover). The holder is fenced as soon as `lease/<e+1>`
//! exists, and it also stops acknowledging on its own once its last renewal is
//! older than the lease could last, so a partitioned writer falls silent
//! before anyone may take over by waiting.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::blob::BlobStore;
use crate::error::{Error, Result};

const DIR: &str = "lease";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// Fail with [`Error::LeaseHeld`] while another writer's lease is live.
    IfFree,
    /// Wait (at most this long) for a live lease to expire, then take over.
    WaitForExpiry(Duration),
    /// Take over at once; the previous writer is fenced at its next commit.
    Force,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct LeaseRecord {
    epoch: u64,
    holder: String,
    expires_unix_ms: u64,
}

impl LeaseRecord {
    fn bytes(epoch: u64, holder: &str, expires_unix_ms: u64) -> Result<Vec<u8>> {
        let record = LeaseRecord {
            epoch,
            holder: holder.to_string(),
            expires_unix_ms,
        };
        serde_json::to_vec(&record).map_err(|e| Error::InvalidRecord(e.to_string()))
    }
}

pub struct Lease {
    store: Arc<dyn BlobStore>,
    epoch: u64,
    holder: String,
    duration: Duration,
    /// When the last successful renewal *started*: the lease is surely ours
    /// until this instant plus the duration (less a margin for clock skew).
    renewed_at: Mutex<Instant>,
    /// `lease/<epoch+1>`: checked after every group commit, so built once.
    fence_key: String,
    paused: AtomicBool,
    stop: Arc<(Mutex<bool>, Condvar)>,
    renewer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("epoch", &self.epoch)
            .field("holder", &self.holder)
            .finish()
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn key(epoch: u64) -> String {
    format!("{DIR}/{epoch:020}")
}

fn latest(store: &dyn BlobStore) -> Result<Option<LeaseRecord>> {
    let Some(name) = store
        .list(DIR)?
        .into_iter()
        .rev()
        .find(|n| n.parse::<u64>().is_ok())
    else {
        return Ok(None);
    };
    let key = format!("{DIR}/{name}");
    let Some(bytes) = store.get(&key)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::corrupt(store.locate(&key), e.column() as u64, e.to_string()))
}

/// The epoch of the newest lease on the volume, if any (for status displays).
pub fn current_epoch(store: &dyn BlobStore) -> Result<Option<u64>> {
    Ok(latest(store)?.map(|r| r.epoch))
}

impl Lease {
    pub fn acquire(
        store: Arc<dyn BlobStore>,
        holder: impl Into<String>,
        duration: Duration,
        mode: Acquire,
    ) -> Result<Arc<Lease>> {
        let holder = holder.into();
        let started = Instant::now();
        loop {
            let current = latest(store.as_ref())?;
            let next_epoch = current.as_ref().map_or(1, |r| r.epoch + 1);
            let now = unix_ms();
            if let Some(cur) = &current
                && cur.expires_unix_ms > now
                && mode != Acquire::Force
            {
                let remaining = cur.expires_unix_ms - now;
                match mode {
                    Acquire::WaitForExpiry(limit) if started.elapsed() < limit => {
                        // Re-read after the expiry: the holder may have renewed.
                        let nap = Duration::from_millis(remaining.min(50) + 1);
                        std::thread::sleep(nap.min(limit.saturating_sub(started.elapsed())));
                        continue;
                    }
                    _ => {
                        return Err(Error::LeaseHeld {
                            holder: cur.holder.clone(),
                            epoch: cur.epoch,
                            remaining_ms: remaining,
                        });
                    }
                }
            }
            let renewed_at = Instant::now();
            let bytes =
                LeaseRecord::bytes(next_epoch, &holder, unix_ms() + duration.as_millis() as u64)?;
            if !store.put_if_absent(&key(next_epoch), &bytes)? {
                // Someone else claimed this epoch between our read and our claim.
                if mode == Acquire::IfFree {
                    let cur = latest(store.as_ref())?;
                    return Err(Error::LeaseHeld {
                        holder: cur.as_ref().map(|c| c.holder.clone()).unwrap_or_default(),
                        epoch: cur.map_or(next_epoch, |c| c.epoch),
                        remaining_ms: duration.as_millis() as u64,
                    });
                }
                continue;
            }
            let lease = Arc::new(Lease {
                store,
                epoch: next_epoch,
                holder,
                duration,
                renewed_at: Mutex::new(renewed_at),
                fence_key: key(next_epoch + 1),
                paused: AtomicBool::new(false),
                stop: Arc::new((Mutex::new(false), Condvar::new())),
                renewer: Mutex::new(None),
            });
            lease.start_renewer();
            lease.remove_old_epochs();
            tracing::info!(epoch = next_epoch, "acquired volume lease");
            return Ok(lease);
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// `Ok` while this writer may still acknowledge commits.
    pub fn check(&self) -> Result<()> {
        if self.store.exists(&self.fence_key)? {
            let by = latest(self.store.as_ref())?.map_or(self.epoch + 1, |r| r.epoch);
            return Err(Error::Fenced {
                epoch: self.epoch,
                by,
            });
        }
        let renewed_at = *crate::lock(&self.renewed_at);
        // A tenth of the duration covers clock drift between machines.
        if renewed_at.elapsed() >= self.duration - self.duration / 10 {
            return Err(Error::LeaseLapsed { epoch: self.epoch });
        }
        Ok(())
    }

    /// Like [`Lease::check`], but rides out a renewal that is merely late (a
    /// slow disk): waits up to one lease duration for it before giving up.
    /// Fencing is never waited out.
    pub fn check_patiently(&self) -> Result<()> {
        let started = Instant::now();
        loop {
            match self.check() {
                Err(Error::LeaseLapsed { .. })
                    if started.elapsed() < self.duration && !self.paused.load(Ordering::SeqCst) =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                other => return other,
            }
        }
    }

    /// Test hook: stop renewing, as a writer cut off from the volume would.
    pub fn pause_renewal(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    fn renew(&self) -> Result<()> {
        let started = Instant::now();
        let expires = unix_ms() + self.duration.as_millis() as u64;
        // Never resurrect a lease that someone already took over.
        if self.store.exists(&self.fence_key)? {
            return Ok(());
        }
        let bytes = LeaseRecord::bytes(self.epoch, &self.holder, expires)?;
        self.store.put(&key(self.epoch), &bytes)?;
        *crate::lock(&self.renewed_at) = started;
        Ok(())
    }

    fn start_renewer(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let stop = self.stop.clone();
        let period = self.duration / 3;
        let handle = std::thread::Builder::new()
            .name("floe-lease".into())
            .spawn(move || {
                loop {
                    let (lock, cv) = &*stop;
                    let stopped = crate::lock(lock);
                    let (stopped, _) = cv
                        .wait_timeout_while(stopped, period, |s| !*s)
                        .unwrap_or_else(|e| e.into_inner());
                    if *stopped {
                        return;
                    }
                    drop(stopped);
                    let Some(lease) = weak.upgrade() else { return };
                    if lease.paused.load(Ordering::SeqCst) {
                        continue;
                    }
                    if let Err(e) = lease.renew() {
                        tracing::warn!(epoch = lease.epoch, error = %e, "lease renewal failed");
                    }
                }
            });
        match handle {
            Ok(h) => *crate::lock(&self.renewer) = Some(h),
            Err(e) => {
                tracing::error!(error = %e, "cannot start lease renewal; the lease will lapse")
            }
        }
    }

    /// Keeps the last few epochs (enough to explain a takeover), drops the rest.
    fn remove_old_epochs(&self) {
        let Ok(names) = self.store.list(DIR) else {
            return;
        };
        for name in names {
            if let Ok(e) = name.parse::<u64>()
                && e + 8 < self.epoch
            {
                let _ = self.store.delete(&key(e));
            }
        }
    }

    /// Gives the lease up so that the next writer need not wait for it.
    pub fn release(&self) {
        self.stop_renewer();
        if self.check().is_ok()
            && let Ok(bytes) = LeaseRecord::bytes(self.epoch, &self.holder, 0)
        {
            let _ = self.store.put(&key(self.epoch), &bytes);
        }
    }

    fn stop_renewer(&self) {
        let (lock, cv) = &*self.stop;
        *crate::lock(lock) = true;
        cv.notify_all();
        let handle = crate::lock(&self.renewer).take();
        if let Some(h) = handle
            && h.thread().id() != std::thread::current().id()
        {
            let _ = h.join();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.stop_renewer();
    }
}

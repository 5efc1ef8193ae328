//! The volume's one writer: lease, log and state machine together. A commit
//! is appended (group commit), made durable, then applied in lsn order, so
//! the primary's state is exactly what every reader rebuilds from the log.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::checkpoint;
use crate::error::{Error, Result};
use crate::lease::{Acquire, Lease};
use crate::log::{LogWriter, LogWriterOptions};
use crate::record::{Ddl, Record};
use crate::segment::{sealed_key, write_segment};
use crate::state::{InsertedRange, Snapshot, State};
use crate::volume::Volume;
use crate::{Lsn, log};

#[derive(Clone, Debug)]
pub struct WriterOptions {
    pub holder: String,
    pub lease: Duration,
    pub acquire: Acquire,
    pub log: LogWriterOptions,
    /// Keep the log from this lsn on, whatever checkpoints allow (backups, PITR).
    pub retain_log_from: Option<Lsn>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            holder: format!("pid {}", std::process::id()),
            lease: Duration::from_secs(5),
            acquire: Acquire::WaitForExpiry(Duration::from_secs(10)),
            log: LogWriterOptions::default(),
            retain_log_from: None,
        }
    }
}

struct Applied {
    state: State,
    /// Set when a record could not be applied: the writer stops.
    poisoned: Option<String>,
}

pub struct VolumeWriter {
    volume: Volume,
    log: LogWriter,
    applied: Mutex<Applied>,
    turn: Condvar,
    retain_log_from: Option<Lsn>,
}

impl std::fmt::Debug for VolumeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeWriter")
            .field("log", &self.log)
            .finish()
    }
}

impl VolumeWriter {
    pub fn open(volume: Volume, opts: WriterOptions) -> Result<VolumeWriter> {
        // The lease first: nobody else may append while we find the log's end.
        let lease = Lease::acquire(
            volume.store().clone(),
            opts.holder,
            opts.lease,
            opts.acquire,
        )?;
        let state = volume.load_state()?;
        let log = LogWriter::open(&volume.log_dir(), lease, opts.log)?;
        if log.durable_lsn() != state.applied_lsn() {
            return Err(Error::corrupt(
                volume.log_dir(),
                0,
                format!(
                    "log ends at lsn {} but replay reached {}",
                    log.durable_lsn(),
                    state.applied_lsn()
                ),
            ));
        }
        Ok(VolumeWriter {
            volume,
            log,
            applied: Mutex::new(Applied {
                state,
                poisoned: None,
            }),
            turn: Condvar::new(),
            retain_log_from: opts.retain_log_from,
        })
    }

    pub fn volume(&self) -> &Volume {
        &self.volume
    }

    pub fn log(&self) -> &LogWriter {
        &self.log
    }

    fn lock(&self) -> MutexGuard<'_, Applied> {
        self.applied.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `record`, waits until it is durable, applies it, and returns
    /// its lsn and where inserted rows went. Concurrent commits share syncs.
    pub fn commit(&self, record: &Record) -> Result<(Lsn, Vec<InsertedRange>)> {
        let payload = record.encode()?;
        let lsn = self.log.submit(record.kind(), &payload)?;
        // From here on, lsn must be applied (or the writer poisoned), or
        // every later commit would wait for it forever.
        let outcome = self.log.wait_durable(lsn);
        let mut a = self.lock();
        while a.poisoned.is_none() && a.state.applied_lsn() + 1 < lsn {
            a = self.turn.wait(a).unwrap_or_else(|e| e.into_inner());
        }
        let result = match (&a.poisoned, outcome) {
            (Some(p), _) => Err(Error::WriterStopped(p.clone())),
            (None, Err(e)) => {
                a.poisoned = Some(e.to_string());
                Err(e)
            }
            (None, Ok(())) => match a.state.apply(lsn, record) {
                Ok(inserted) => Ok((lsn, inserted)),
                Err(e) => {
                    a.poisoned = Some(e.to_string());
                    Err(e)
                }
            },
        };
        drop(a);
        self.turn.notify_all();
        result
    }

    pub fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock().state)
    }

    pub fn snapshot(&self) -> Snapshot {
        self.lock().state.snapshot()
    }

    /// Writes every frozen segment to its file and logs that it is sealed.
    pub fn flush_frozen(&self) -> Result<usize> {
        let frozen = self.with_state(|s| s.frozen_segments());
        let store = self.volume.store();
        for (table, segment, schema, chunks) in &frozen {
            let key = sealed_key(*table, *segment);
            if !store.exists(&key)? {
                write_segment(store.as_ref(), &key, *table, *segment, schema, chunks)?;
            }
            let rows = chunks.iter().map(|c| c.num_rows() as u32).sum();
            match self.commit(&Record::Ddl(Ddl::SegmentFlushed {
                table: *table,
                segment: *segment,
                rows,
            })) {
                Ok(_) => {}
                // The table was dropped or truncated meanwhile: nothing to seal.
                Err(Error::Apply { .. }) if self.with_state(|s| s.table(*table).is_none()) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(frozen.len())
    }

    /// Writes a checkpoint at the current lsn and removes what it makes unnecessary.
    pub fn checkpoint(&self) -> Result<Lsn> {
        let snap = self.snapshot();
        let store = self.volume.store();
        checkpoint::write(store.as_ref(), &snap)?;
        checkpoint::collect_garbage(store.as_ref(), &self.volume.log_dir(), self.retain_log_from)?;
        Ok(snap.lsn)
    }

    /// Flushes what is queued, stops appending and gives the lease up.
    pub fn close(&self) {
        self.log.close();
        self.log.lease().release();
    }
}

/// The lsn up to which a volume's log is durable, read without a lease.
pub fn log_end(volume: &Volume) -> Result<Lsn> {
    Ok(log::find_end(&volume.log_dir())?.last_lsn)
}

//! The volume's one writer: lease, log and state machine together. A commit
//! is appended (group commit), made durable, then applied in lsn order, so
//! the primary's state is exactly what every reader rebuilds from the log.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::Lsn;
use crate::checkpoint;
use crate::error::{Error, Result};
use crate::lease::{Acquire, Lease};
use crate::log::{LogWriter, LogWriterOptions};
use crate::record::{Ddl, Record};
use crate::segment::write_sealed_if_absent;
use crate::state::{InsertedRange, Snapshot, State};
use crate::volume::Volume;

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
    /// Submitted records not yet applied, in lsn order.
    pending: VecDeque<(Lsn, Record)>,
    /// Outcomes of applied records whose committers have not collected them.
    results: HashMap<Lsn, Result<Vec<InsertedRange>, String>>,
}

pub struct VolumeWriter {
    volume: Volume,
    log: LogWriter,
    applied: Mutex<Applied>,
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
                pending: VecDeque::new(),
                results: HashMap::new(),
            }),
            retain_log_from: opts.retain_log_from,
        })
    }

    pub fn log(&self) -> &LogWriter {
        &self.log
    }

    pub fn volume(&self) -> &Volume {
        &self.volume
    }

    fn lock(&self) -> MutexGuard<'_, Applied> {
        crate::lock(&self.applied)
    }

    /// Queues `record` in the log and returns its lsn; it is committed once
    /// durable, which [`VolumeWriter::commit`] and [`VolumeWriter::commit_async`] wait for.
    pub fn submit(&self, record: &Record) -> Result<Lsn> {
        let payload = record.encode()?;
        let mut a = self.lock();
        if let Some(p) = &a.poisoned {
            return Err(Error::WriterStopped(p.clone()));
        }
        // Under the state lock, so that `pending` is in lsn order.
        let lsn = self.log.submit(record.kind(), &payload)?;
        a.pending.push_back((lsn, record.clone()));
        Ok(lsn)
    }

    /// Applies every durable record not yet applied, in lsn order, keeping
    /// each outcome for whoever collects it.
    fn apply_durable(&self, a: &mut Applied) {
        let upto = self.log.durable_lsn();
        while a.pending.front().is_some_and(|(l, _)| *l <= upto) {
            let Some((l, record)) = a.pending.pop_front() else {
                break;
            };
            let outcome = match &a.poisoned {
                Some(p) => Err(p.clone()),
                None => a.state.apply(l, &record).map_err(|e| e.to_string()),
            };
            if let Err(e) = &outcome
                && a.poisoned.is_none()
            {
                a.poisoned = Some(e.clone());
            }
            a.results.insert(l, outcome);
        }
    }

    /// Applies what is durable once `durable` (the wait for it) is known.
    fn applied_after(&self, durable: Result<()>) -> Result<MutexGuard<'_, Applied>> {
        let mut a = self.lock();
        if let Err(e) = durable {
            if a.poisoned.is_none() {
                a.poisoned = Some(e.to_string());
            }
            return Err(e);
        }
        self.apply_durable(&mut a);
        Ok(a)
    }

    /// Applies every durable record in lsn order, then hands back `lsn`'s outcome.
    fn finish(&self, lsn: Lsn, durable: Result<()>) -> Result<(Lsn, Vec<InsertedRange>)> {
        let mut a = self.applied_after(durable)?;
        match a.results.remove(&lsn) {
            Some(Ok(inserted)) => Ok((lsn, inserted)),
            Some(Err(e)) => Err(Error::WriterStopped(e)),
            None => Err(Error::WriterStopped(format!("lsn {lsn} was not applied"))),
        }
    }

    /// Waits until the submitted record `lsn` is durable and applied; its
    /// outcome stays for [`VolumeWriter::outcome`]. Committers that let
    /// others submit while they wait (group commit) use this.
    pub async fn settle(&self, lsn: Lsn) -> Result<()> {
        let durable = self.log.durable(lsn).await;
        let a = self.applied_after(durable)?;
        match a.results.get(&lsn) {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(Error::WriterStopped(e.clone())),
            // Collected already: it was applied.
            None if a.state.applied_lsn() >= lsn => Ok(()),
            None => Err(Error::WriterStopped(format!("lsn {lsn} was not applied"))),
        }
    }

    /// Takes the outcome of the applied record `lsn` (where its inserted
    /// rows went); `None` if it is not applied yet or was taken.
    pub fn outcome(&self, lsn: Lsn) -> Option<Result<Vec<InsertedRange>>> {
        self.lock()
            .results
            .remove(&lsn)
            .map(|r| r.map_err(Error::WriterStopped))
    }

    /// Appends `record`, waits until it is durable, applies it (in lsn
    /// order), and returns its lsn and where inserted rows went.
    pub fn commit(&self, record: &Record) -> Result<(Lsn, Vec<InsertedRange>)> {
        let lsn = self.submit(record)?;
        let durable = self.log.wait_durable(lsn);
        self.finish(lsn, durable)
    }

    /// [`VolumeWriter::commit`] for async callers: waits without blocking a thread.
    pub async fn commit_async(&self, record: &Record) -> Result<(Lsn, Vec<InsertedRange>)> {
        let lsn = self.submit(record)?;
        let durable = self.log.durable(lsn).await;
        self.finish(lsn, durable)
    }

    /// The lsn of the newest applied record.
    pub fn applied_lsn(&self) -> Lsn {
        self.lock().state.applied_lsn()
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
        for (table, seg) in &frozen {
            write_sealed_if_absent(store.as_ref(), *table, seg.id, seg.schema(), seg.chunks())?;
            self.commit(&Record::Ddl(Ddl::SegmentFlushed {
                table: *table,
                segment: seg.id,
                rows: seg.rows(),
            }))?;
        }
        Ok(frozen.len())
    }

    /// Writes a checkpoint at the current lsn and removes what it makes unnecessary.
    pub fn checkpoint(&self) -> Result<Lsn> {
        let snap = self.snapshot();
        let store = self.volume.store();
        let manifest = checkpoint::write(store.as_ref(), &snap)?;
        checkpoint::collect_garbage(
            store.as_ref(),
            &self.volume.log_dir(),
            &manifest,
            self.retain_log_from,
        )?;
        Ok(snap.lsn)
    }

    /// Flushes what is queued, stops appending and gives the lease up.
    pub fn close(&self) {
        self.log.close();
        self.log.lease().release();
    }
}

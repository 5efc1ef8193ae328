//! The log writer: group commit behind one flusher thread.
//!
//! Committers encode their record into a shared buffer under a short lock
//! (which assigns the lsn) and wait. The flusher takes everything queued,
//! writes it with one `write`, makes it durable with one `fdatasync`, checks
//! the lease, publishes the durable mark and wakes the committers. While one
//! sync is in flight the next batch accumulates, so N concurrent committers
//! share each sync.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::frame::{self, FILE_HEADER_LEN, MAX_PAYLOAD};
use super::mark::MarkWriter;
use super::notify::Event;
use super::{file_name, find_end};
use crate::blob::sync_dir;
use crate::error::{Error, Result};
use crate::lease::Lease;
use crate::{Lsn, lock};

#[derive(Clone, Debug)]
pub struct LogWriterOptions {
    /// Start a new file once the current one exceeds this many bytes.
    pub rollover_bytes: u64,
}

impl Default for LogWriterOptions {
    fn default() -> Self {
        LogWriterOptions {
            rollover_bytes: 64 << 20,
        }
    }
}

/// The longest a batch waits for more committers before it is synced.
const MAX_GATHER: Duration = Duration::from_micros(500);

struct Queue {
    buf: Vec<u8>,
    /// Lsn of the first record in `buf`.
    first: Lsn,
    next: Lsn,
    failed: bool,
    shutdown: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Bumped when records are queued (or on shutdown): wakes the flusher.
    queued: Event,
    durable: AtomicU64,
    failed: AtomicBool,
    failure: Mutex<Option<Error>>,
    /// Bumped after each group commit (or failure): wakes blocked committers.
    synced: Event,
    /// Async committers waiting for their lsn, woken after each group commit.
    wakers: Mutex<Vec<(Lsn, Waker)>>,
    syncs: AtomicU64,
    /// Bytes of records queued by this writer (what a replay since would read).
    appended: AtomicU64,
}

pub struct LogWriter {
    shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    lease: Arc<Lease>,
    dir: PathBuf,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("dir", &self.dir)
            .field("epoch", &self.lease.epoch())
            .field("durable", &self.durable_lsn())
            .finish()
    }
}

/// The file being appended to.
struct Active {
    file: File,
    path: PathBuf,
    len: u64,
}

fn create_file(dir: &Path, start: Lsn, epoch: u64) -> Result<Active> {
    let path = dir.join(file_name(start, epoch));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(Error::io("create", &path))?;
    file.write_all_at(&frame::encode_file_header(epoch, start), 0)
        .and_then(|()| file.sync_all())
        .map_err(Error::io("write", &path))?;
    sync_dir(dir)?;
    Ok(Active {
        file,
        path,
        len: FILE_HEADER_LEN as u64,
    })
}

impl LogWriter {
    /// Opens the log in `dir` for appending under `lease`: recovers the end of
    /// the log, cuts a torn tail, and starts a new file after the last record.
    pub fn open(dir: &Path, lease: Arc<Lease>, opts: LogWriterOptions) -> Result<LogWriter> {
        std::fs::create_dir_all(dir).map_err(Error::io("create dir", dir))?;
        let end = find_end(dir)?;
        if let Some(torn) = &end.torn {
            tracing::warn!(
                path = %torn.path.display(),
                valid = torn.valid_len,
                len = torn.file_len,
                "truncating torn log tail"
            );
            torn.truncate()?;
        }
        let epoch = lease.epoch();
        let last = end.last_lsn;
        let active = create_file(dir, last + 1, epoch)?;
        let mark = MarkWriter::open(dir)?;
        lease.check_patiently()?;
        mark.publish(epoch, last)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                buf: Vec::with_capacity(1 << 20),
                first: last + 1,
                next: last + 1,
                failed: false,
                shutdown: false,
            }),
            queued: Event::default(),
            durable: AtomicU64::new(last),
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
            synced: Event::default(),
            wakers: Mutex::new(Vec::new()),
            syncs: AtomicU64::new(0),
            appended: AtomicU64::new(0),
        });
        let flusher = {
            let shared = shared.clone();
            let lease = lease.clone();
            let dir = dir.to_path_buf();
            let dir_for_error = dir.clone();
            std::thread::Builder::new()
                .name("floe-log-flush".into())
                .spawn(move || flush_loop(&shared, &lease, &dir, active, mark, opts))
                .map_err(Error::io("spawn flusher for", dir_for_error))?
        };
        tracing::info!(dir = %dir.display(), epoch, last_lsn = last, "log open for writing");
        Ok(LogWriter {
            shared,
            flusher: Mutex::new(Some(flusher)),
            lease,
            dir: dir.to_path_buf(),
        })
    }

    /// Queues a record and returns its lsn at once; it is durable only after
    /// [`LogWriter::wait_durable`] returns for it.
    pub fn submit(&self, kind: u8, payload: &[u8]) -> Result<Lsn> {
        if payload.len() > MAX_PAYLOAD {
            return Err(Error::InvalidRecord(format!(
                "record of {} bytes exceeds the log's limit of {MAX_PAYLOAD}",
                payload.len()
            )));
        }
        let mut q = lock(&self.shared.queue);
        if q.failed || q.shutdown {
            drop(q);
            return Err(self.failure());
        }
        let lsn = q.next;
        q.next += 1;
        if q.buf.is_empty() {
            q.first = lsn;
        }
        frame::encode_frame(&mut q.buf, lsn, kind, payload);
        drop(q);
        self.shared
            .appended
            .fetch_add(payload.len() as u64, Ordering::Relaxed);
        self.shared.queued.notify_all();
        Ok(lsn)
    }

    /// Blocks until `lsn` is durable and acknowledged by a live lease.
    pub fn wait_durable(&self, lsn: Lsn) -> Result<()> {
        let shared = &self.shared;
        loop {
            let token = shared.synced.token();
            if shared.durable.load(Ordering::SeqCst) >= lsn {
                return Ok(());
            }
            if shared.failed.load(Ordering::SeqCst) {
                return Err(self.failure());
            }
            shared.synced.wait(token, None);
        }
    }

    /// Resolves once `lsn` is durable and acknowledged: the async form of
    /// [`LogWriter::wait_durable`], for committers that are tasks, not threads.
    pub fn durable(&self, lsn: Lsn) -> Durable {
        Durable {
            shared: self.shared.clone(),
            lsn,
        }
    }

    /// Appends a record and resolves once it is durable.
    pub async fn append_async(&self, kind: u8, payload: &[u8]) -> Result<Lsn> {
        let lsn = self.submit(kind, payload)?;
        self.durable(lsn).await?;
        Ok(lsn)
    }

    /// Appends a record and returns once it is durable.
    pub fn append(&self, kind: u8, payload: &[u8]) -> Result<Lsn> {
        let lsn = self.submit(kind, payload)?;
        self.wait_durable(lsn)?;
        Ok(lsn)
    }

    pub fn durable_lsn(&self) -> Lsn {
        self.shared.durable.load(Ordering::SeqCst)
    }

    /// Payload bytes of the records this writer has queued since it opened.
    pub fn appended_bytes(&self) -> u64 {
        self.shared.appended.load(Ordering::Relaxed)
    }

    /// How many group commits (fdatasyncs of records) have completed.
    pub fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    pub fn lease(&self) -> &Arc<Lease> {
        &self.lease
    }

    fn failure(&self) -> Error {
        self.shared.failure()
    }

    /// Flushes what is queued and stops the flusher.
    pub fn close(&self) {
        lock(&self.shared.queue).shutdown = true;
        self.shared.queued.notify_all();
        if let Some(h) = lock(&self.flusher).take() {
            let _ = h.join();
        }
    }
}

impl Shared {
    fn failure(&self) -> Error {
        match &*lock(&self.failure) {
            Some(e) => e.for_waiters(),
            None => Error::WriterStopped("log writer is closed".into()),
        }
    }

    fn wake(&self, failed: bool) {
        self.synced.notify_all();
        let durable = self.durable.load(Ordering::SeqCst);
        let ready: Vec<Waker> = {
            let mut wakers = lock(&self.wakers);
            if wakers.is_empty() {
                return;
            }
            let (ready, waiting) = std::mem::take(&mut *wakers)
                .into_iter()
                .partition(|(lsn, _)| failed || *lsn <= durable);
            *wakers = waiting;
            ready.into_iter().map(|(_, w)| w).collect()
        };
        ready.into_iter().for_each(Waker::wake);
    }
}

/// The future returned by [`LogWriter::durable`].
pub struct Durable {
    shared: Arc<Shared>,
    lsn: Lsn,
}

impl Future for Durable {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let shared = &self.shared;
        let check = || {
            if shared.durable.load(Ordering::SeqCst) >= self.lsn {
                Some(Ok(()))
            } else if shared.failed.load(Ordering::SeqCst) {
                Some(Err(shared.failure()))
            } else {
                None
            }
        };
        if let Some(done) = check() {
            return Poll::Ready(done);
        }
        lock(&shared.wakers).push((self.lsn, cx.waker().clone()));
        // The flusher may have finished between the check and the push.
        match check() {
            Some(done) => Poll::Ready(done),
            None => Poll::Pending,
        }
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.close();
    }
}

fn flush_loop(
    shared: &Shared,
    lease: &Lease,
    dir: &Path,
    mut active: Active,
    mark: MarkWriter,
    opts: LogWriterOptions,
) {
    let mut spare = Vec::with_capacity(1 << 20);
    // The committers woken by one sync come back at once with their next
    // records; a batch taken the moment the first arrives would leave the
    // rest for the sync after. So when fewer records are queued than the last
    // batch held, wait a little (at most half a sync) for the others.
    let mut last_batch = 0u64;
    let mut last_sync = Duration::ZERO;
    let mut gather_until: Option<Instant> = None;
    loop {
        let token = shared.queued.token();
        let (batch, first, last) = {
            let mut q = lock(&shared.queue);
            if q.buf.is_empty() {
                if q.shutdown {
                    return;
                }
                drop(q);
                shared.queued.wait(token, None);
                continue;
            }
            let queued = q.next - q.first;
            if queued < last_batch && !q.shutdown {
                let until = *gather_until
                    .get_or_insert_with(|| Instant::now() + (last_sync / 2).min(MAX_GATHER));
                let now = Instant::now();
                if now < until {
                    drop(q);
                    shared.queued.wait(token, Some(until - now));
                    continue;
                }
            }
            gather_until = None;
            last_batch = queued;
            let batch = std::mem::replace(&mut q.buf, std::mem::take(&mut spare));
            (batch, q.first, q.next - 1)
        };
        let sync_started = Instant::now();
        let result = flush_batch(lease, dir, &mut active, &mark, &batch, first, last, &opts);
        let failed = result.is_err();
        match result {
            Ok(()) => {
                last_sync = sync_started.elapsed();
                shared.durable.store(last, Ordering::SeqCst);
                shared.syncs.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(error = %e, "log flush failed; the writer stops");
                *lock(&shared.failure) = Some(e);
                lock(&shared.queue).failed = true;
                shared.failed.store(true, Ordering::SeqCst);
            }
        }
        shared.wake(failed);
        if failed {
            return;
        }
        spare = batch;
        spare.clear();
    }
}

#[allow(clippy::too_many_arguments)]
fn flush_batch(
    lease: &Lease,
    dir: &Path,
    active: &mut Active,
    mark: &MarkWriter,
    batch: &[u8],
    first: Lsn,
    last: Lsn,
    opts: &LogWriterOptions,
) -> Result<()> {
    if active.len > FILE_HEADER_LEN as u64 && active.len + batch.len() as u64 > opts.rollover_bytes
    {
        *active = create_file(dir, first, lease.epoch())?;
    }
    active
        .file
        .write_all_at(batch, active.len)
        .map_err(Error::io("write", &active.path))?;
    active.len += batch.len() as u64;
    active
        .file
        .sync_data()
        .map_err(Error::io("fdatasync", &active.path))?;
    // Durable, but only a writer that still holds the volume may say so.
    lease.check_patiently()?;
    mark.publish(lease.epoch(), last)
}

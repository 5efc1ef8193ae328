//! The writer's background duties: seal frozen segments into files and write
//! checkpoints, so that recovery and reader start-up stay short.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use floe_storage::Result;
use floe_storage::writer::VolumeWriter;

/// Checkpoint once this many records have been applied since the last one,
/// or this many bytes of them (bulk loads: few records, much to replay).
const CHECKPOINT_EVERY_RECORDS: u64 = 100_000;
const CHECKPOINT_EVERY_BYTES: u64 = 256 << 20;
/// Checkpoint when writes have paused after this many bytes, so that a
/// reader joining after a bulk load maps segments instead of replaying.
const CHECKPOINT_WHEN_QUIET_BYTES: u64 = 16 << 20;
const CHECKPOINT_AT_LEAST_EVERY: Duration = Duration::from_secs(300);

/// Where the last checkpoint stands: its lsn, the writer's appended bytes
/// then, and when.
pub struct LastCheckpoint {
    lsn: u64,
    bytes: u64,
    at: Instant,
    /// Appended bytes at the previous tick (unchanged: writes are quiet).
    seen: u64,
}

impl LastCheckpoint {
    pub fn now(writer: &VolumeWriter) -> LastCheckpoint {
        let bytes = writer.log().appended_bytes();
        LastCheckpoint {
            lsn: writer.with_state(|s| s.applied_lsn()),
            bytes,
            at: Instant::now(),
            seen: bytes,
        }
    }
}

/// One maintenance pass; returns the lsn of a new checkpoint, if it wrote one.
pub fn tick(writer: &VolumeWriter, last: &mut LastCheckpoint) -> Result<Option<u64>> {
    writer.flush_frozen()?;
    let applied = writer.with_state(|s| s.applied_lsn());
    let bytes = writer.log().appended_bytes();
    let quiet = bytes == last.seen;
    last.seen = bytes;
    let grown = bytes - last.bytes;
    let due = applied >= last.lsn + CHECKPOINT_EVERY_RECORDS
        || (applied > last.lsn && grown >= CHECKPOINT_EVERY_BYTES)
        || (applied > last.lsn && quiet && grown >= CHECKPOINT_WHEN_QUIET_BYTES)
        || (applied > last.lsn && last.at.elapsed() >= CHECKPOINT_AT_LEAST_EVERY);
    if !due {
        return Ok(None);
    }
    let lsn = writer.checkpoint()?;
    *last = LastCheckpoint {
        lsn,
        bytes,
        at: Instant::now(),
        seen: bytes,
    };
    Ok(Some(lsn))
}

/// Runs [`tick`] about once a second on its own thread until `stop` is set.
pub fn spawn(writer: Arc<VolumeWriter>, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("floe-maintenance".into())
        .spawn(move || {
            let mut last = LastCheckpoint::now(&writer);
            while !stop.load(Ordering::SeqCst) {
                if let Err(e) = tick(&writer, &mut last) {
                    tracing::error!(error = %e, "maintenance failed");
                }
                for _ in 0..10 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
}

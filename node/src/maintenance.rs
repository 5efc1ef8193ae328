//! The writer's background duties: seal frozen segments into files and write
//! checkpoints, so that recovery and reader start-up stay short.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use floe_storage::Result;
use floe_storage::writer::VolumeWriter;

/// Checkpoint once this many records have been applied since the last one.
const CHECKPOINT_EVERY_RECORDS: u64 = 100_000;
const CHECKPOINT_AT_LEAST_EVERY: Duration = Duration::from_secs(300);

/// One maintenance pass; returns the lsn of a new checkpoint, if it wrote one.
pub fn tick(writer: &VolumeWriter, last_checkpoint: &mut (u64, Instant)) -> Result<Option<u64>> {
    writer.flush_frozen()?;
    let applied = writer.with_state(|s| s.applied_lsn());
    let due = applied >= last_checkpoint.0 + CHECKPOINT_EVERY_RECORDS
        || (applied > last_checkpoint.0
            && last_checkpoint.1.elapsed() >= CHECKPOINT_AT_LEAST_EVERY);
    if !due {
        return Ok(None);
    }
    let lsn = writer.checkpoint()?;
    *last_checkpoint = (lsn, Instant::now());
    Ok(Some(lsn))
}

/// Runs [`tick`] about once a second on its own thread until `stop` is set.
pub fn spawn(writer: Arc<VolumeWriter>, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("floe-maintenance".into())
        .spawn(move || {
            let mut last = (writer.with_state(|s| s.applied_lsn()), Instant::now());
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

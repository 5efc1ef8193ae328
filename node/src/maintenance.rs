//! The writer's background duties: seal frozen segments into files and write
//! checkpoints, so that recovery and reader start-up stay short.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use floe_storage::Result;
use floe_storage::volume::Volume;
use floe_storage::writer::{VolumeWriter, WriterOptions};

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

/// Holds the volume as its writer until Ctrl-C, doing maintenance.
pub fn run_writer(dir: &Path) -> Result<()> {
    let volume = Volume::open(dir)?;
    let writer = VolumeWriter::open(volume, WriterOptions::default())?;
    let (lsn, tables) = writer.with_state(|s| (s.applied_lsn(), s.tables().count()));
    let epoch = writer.log().lease().epoch();
    println!(
        "floe is up: volume {} (epoch {epoch}, lsn {lsn}, {tables} tables)",
        dir.display()
    );
    println!(
        "The MySQL endpoint is not part of this build yet; `floe volume status --volume {}` inspects the volume.",
        dir.display()
    );
    let stop = Arc::new(AtomicBool::new(false));
    install_ctrl_c(stop.clone());
    let mut last = (lsn, Instant::now());
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
    writer.close();
    println!("floe stopped; the volume is released.");
    Ok(())
}

fn install_ctrl_c(stop: Arc<AtomicBool>) {
    static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();
    let _ = STOP.set(stop);
    extern "C" fn on_signal(_: libc::c_int) {
        if let Some(s) = STOP.get() {
            s.store(true, Ordering::SeqCst);
        }
    }
    // SAFETY: the handler only performs an atomic store, which is
    // async-signal-safe; the function pointer has the signature signal(2) expects.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

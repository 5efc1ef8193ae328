//! `floe volume status`: what is on a volume, read without a lease.

use std::path::Path;

use floe_storage::volume::Volume;
use floe_storage::{Result, checkpoint, lease, log};

pub fn print(dir: &Path) -> Result<()> {
    let volume = Volume::open(dir)?;
    let store = volume.store().as_ref();
    println!("volume      {}", dir.display());
    match lease::current_epoch(store)? {
        Some(e) => println!("lease epoch {e}"),
        None => println!("lease epoch none (never opened for writing)"),
    }
    let files = log::list_files(&volume.log_dir())?;
    let end = log::find_end(&volume.log_dir())?;
    println!(
        "log         {} file(s), lsn {}..={}{}",
        files.len(),
        files.first().map_or(0, |f| f.start),
        end.last_lsn,
        if end.torn.is_some() {
            " (torn tail)"
        } else {
            ""
        }
    );
    println!("checkpoints {:?}", checkpoint::list(store)?);
    let mut state = volume.load_state()?;
    let snap = state.snapshot();
    println!("tables      {}", snap.tables.len());
    for t in snap.tables.values() {
        println!(
            "  {:<40} {:>12} rows in {} segment(s)",
            t.def.name,
            t.live_rows(),
            t.segments.len()
        );
    }
    Ok(())
}

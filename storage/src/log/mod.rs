//! The shared log: the database itself. One writer appends framed,
//! checksummed records with group commit; any process reads or tails it.
//!
//! Files are named `<start lsn>-<epoch>.log`. Each writer session (epoch)
//! starts a new file at the lsn after the last valid record, which seals the
//! previous file there: file `i` holds the records in `[start_i, start_{i+1})`
//! and whatever a deposed writer wrote beyond that is ignored.

mod frame;
mod mark;
mod notify;
mod reader;
mod tail;
mod writer;

use std::fs;
use std::path::{Path, PathBuf};

pub use frame::MAX_PAYLOAD;
pub use mark::{Mark, now_micros};
pub use reader::{LogRecord, Recovered, find_end, read_log};
pub use tail::Tailer;
pub use writer::{LogWriter, LogWriterOptions};

use crate::Lsn;
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFile {
    pub start: Lsn,
    pub epoch: u64,
    pub path: PathBuf,
    /// First lsn of the next file: this file holds nothing at or beyond it.
    pub end: Option<Lsn>,
}

pub(crate) fn file_name(start: Lsn, epoch: u64) -> String {
    format!("{start:020}-{epoch:010}.log")
}

fn parse_name(name: &str) -> Option<(Lsn, u64)> {
    let stem = name.strip_suffix(".log")?;
    let (start, epoch) = stem.split_once('-')?;
    Some((start.parse().ok()?, epoch.parse().ok()?))
}

/// The log files of `dir` in order, each with the end of its range.
pub fn list_files(dir: &Path) -> Result<Vec<LogFile>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", dir)(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::io("list", dir))?;
        let name = entry.file_name();
        if let Some((start, epoch)) = name.to_str().and_then(parse_name) {
            files.push(LogFile {
                start,
                epoch,
                path: entry.path(),
                end: None,
            });
        }
    }
    files.sort_by_key(|f| (f.start, f.epoch));
    for i in 1..files.len() {
        files[i - 1].end = Some(files[i].start);
    }
    Ok(files)
}

/// Removes the log files whose every record is below `lsn`: nothing that a
/// checkpoint at or after `lsn - 1` (or a backup retained from `lsn`) needs.
/// The newest file always stays. Returns how many files were removed.
pub fn remove_before(dir: &Path, lsn: Lsn) -> Result<usize> {
    let mut removed = 0;
    for file in list_files(dir)? {
        if let Some(end) = file.end
            && end <= lsn
        {
            fs::remove_file(&file.path).map_err(Error::io("remove", &file.path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

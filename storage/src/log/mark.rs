//! The durable mark: `log/durable` holds `[epoch u64][lsn u64][at u64][crc u32]`,
//! the newest lsn the writer has made durable *and* acknowledged, and when
//! (microseconds since the Unix epoch, so readers can tell their lag). Tailers deliver
//! nothing above it, so they never see a record that a fenced writer wrote
//! but could not acknowledge. It is rewritten in place after every group
//! commit (no fsync: it is a hint for followers, rebuilt from the log itself).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::Lsn;
use crate::bytes::{le_u32, le_u64};
use crate::error::{Error, Result};

pub const MARK_FILE: &str = "durable";

pub struct MarkWriter {
    file: File,
    path: PathBuf,
}

impl MarkWriter {
    pub fn open(dir: &Path) -> Result<MarkWriter> {
        let path = dir.join(MARK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(Error::io("open", &path))?;
        Ok(MarkWriter { file, path })
    }

    pub fn publish(&self, epoch: u64, lsn: Lsn) -> Result<()> {
        let mut b = [0u8; MARK_LEN];
        b[..8].copy_from_slice(&epoch.to_le_bytes());
        b[8..16].copy_from_slice(&lsn.to_le_bytes());
        b[16..24].copy_from_slice(&now_micros().to_le_bytes());
        let crc = crc32c::crc32c(&b[..24]);
        b[24..].copy_from_slice(&crc.to_le_bytes());
        self.file
            .write_all_at(&b, 0)
            .map_err(Error::io("write", &self.path))
    }
}

const MARK_LEN: usize = 28;

/// Microseconds since the Unix epoch (0 if the clock is before it).
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// A published durable lsn and when it was published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    pub lsn: Lsn,
    /// Microseconds since the Unix epoch.
    pub at: u64,
}

/// The published mark, or the default (lsn 0) when there is none (yet) or
/// it is mid-update.
pub fn read_mark(file: &File) -> Mark {
    let mut b = [0u8; MARK_LEN];
    if file.read_exact_at(&mut b, 0).is_err() {
        return Mark::default();
    }
    if le_u32(&b[24..]) != crc32c::crc32c(&b[..24]) {
        return Mark::default();
    }
    Mark {
        lsn: le_u64(&b[8..16]),
        at: le_u64(&b[16..24]),
    }
}

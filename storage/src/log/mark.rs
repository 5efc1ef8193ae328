//! The durable mark: `log/durable` holds `[epoch u64][lsn u64][crc u32]`, the
//! newest lsn the writer has made durable *and* acknowledged. Tailers deliver
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
        let mut b = [0u8; 20];
        b[..8].copy_from_slice(&epoch.to_le_bytes());
        b[8..16].copy_from_slice(&lsn.to_le_bytes());
        let crc = crc32c::crc32c(&b[..16]);
        b[16..].copy_from_slice(&crc.to_le_bytes());
        self.file
            .write_all_at(&b, 0)
            .map_err(Error::io("write", &self.path))
    }
}

/// The published durable lsn, or 0 when there is none (yet) or it is mid-update.
pub fn read_mark(file: &File) -> Lsn {
    let mut b = [0u8; 20];
    if file.read_exact_at(&mut b, 0).is_err() {
        return 0;
    }
    if le_u32(&b[16..]) != crc32c::crc32c(&b[..16]) {
        return 0;
    }
    le_u64(&b[8..16])
}

//! Reading the log from an lsn: recovery for writers and readers alike.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use super::frame::{self, FILE_HEADER_LEN, Parsed};
use super::{LogFile, list_files};
use crate::Lsn;
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub lsn: Lsn,
    pub kind: u8,
    pub payload: Vec<u8>,
}

/// Where reading stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// The last valid record (0 for an empty log).
    pub last_lsn: Lsn,
    /// A torn tail: the newest file is valid up to `valid_len` of its `file_len` bytes.
    pub torn: Option<TornTail>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub path: PathBuf,
    pub valid_len: u64,
    pub file_len: u64,
}

impl TornTail {
    /// Cuts the file back to its last whole record, so the next append starts clean.
    pub fn truncate(&self) -> Result<()> {
        let f = OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(Error::io("open", &self.path))?;
        f.set_len(self.valid_len)
            .and_then(|()| f.sync_all())
            .map_err(Error::io("truncate", &self.path))
    }
}

/// Calls `each` for every record with lsn >= `from`, in order. Stops cleanly
/// at a torn tail of the newest file; corruption anywhere else is an error
/// naming the file and offset.
pub fn read_log(
    dir: &Path,
    from: Lsn,
    mut each: impl FnMut(LogRecord) -> Result<()>,
) -> Result<Recovered> {
    let files = list_files(dir)?;
    let Some(first) = files.first() else {
        return Ok(Recovered {
            last_lsn: 0,
            torn: None,
        });
    };
    let from = from.max(1);
    if from < first.start {
        return Err(Error::corrupt(
            &first.path,
            0,
            format!("log starts at lsn {} but lsn {from} is needed", first.start),
        ));
    }
    let mut last = from.saturating_sub(1);
    let mut torn = None;
    for file in &files {
        if file.end.is_some_and(|end| end <= from || end == file.start) {
            continue;
        }
        let (file_last, file_torn) = read_file(file, from, &mut each)?;
        last = file_last.max(last);
        torn = file_torn;
    }
    Ok(Recovered {
        last_lsn: last,
        torn,
    })
}

/// The last valid lsn, reading only the newest file.
pub fn find_end(dir: &Path) -> Result<Recovered> {
    let files = list_files(dir)?;
    let Some(file) = files.last() else {
        return Ok(Recovered {
            last_lsn: 0,
            torn: None,
        });
    };
    let (last, torn) = read_file(file, Lsn::MAX, &mut |_| Ok(()))?;
    Ok(Recovered {
        last_lsn: last,
        torn,
    })
}

fn read_file(
    file: &LogFile,
    from: Lsn,
    each: &mut impl FnMut(LogRecord) -> Result<()>,
) -> Result<(Lsn, Option<TornTail>)> {
    let bytes = fs::read(&file.path).map_err(Error::io("read", &file.path))?;
    let newest = file.end.is_none();
    let before_start = file.start.saturating_sub(1);
    match frame::parse_file_header(&bytes) {
        Ok((epoch, start)) if start == file.start && epoch == file.epoch => {}
        Ok(_) => {
            return Err(Error::corrupt(
                &file.path,
                0,
                "file header does not match file name",
            ));
        }
        // A writer that died while creating its file left nothing in it.
        Err(_) if newest && bytes.len() < FILE_HEADER_LEN => {
            return Ok((
                before_start,
                Some(TornTail {
                    path: file.path.clone(),
                    valid_len: 0,
                    file_len: bytes.len() as u64,
                }),
            ));
        }
        Err(reason) => return Err(Error::corrupt(&file.path, 0, reason)),
    }
    let mut offset = FILE_HEADER_LEN;
    let mut expected = file.start;
    loop {
        if file.end.is_some_and(|end| expected >= end) {
            return Ok((expected - 1, None));
        }
        match frame::parse_frame(&bytes[offset..]) {
            Parsed::Record {
                lsn,
                kind,
                payload,
                size,
            } => {
                if lsn != expected {
                    return Err(Error::corrupt(
                        &file.path,
                        offset as u64,
                        format!("expected lsn {expected}, found {lsn}"),
                    ));
                }
                if lsn >= from {
                    each(LogRecord {
                        lsn,
                        kind,
                        payload: payload.to_vec(),
                    })?;
                }
                offset += size;
                expected += 1;
            }
            Parsed::Incomplete if offset == bytes.len() && newest => {
                return Ok((expected - 1, None));
            }
            outcome => {
                let reason = match outcome {
                    Parsed::Bad(r) => r,
                    _ => "record is cut short",
                };
                // Sealed files must reach the next file's start; in the newest
                // file, damage followed by valid records is corruption too.
                if !newest
                    || frame::valid_frame_follows(
                        bytes.get(offset + 1..).unwrap_or(&[]),
                        expected - 1,
                    )
                {
                    return Err(Error::corrupt(&file.path, offset as u64, reason));
                }
                tracing::warn!(path = %file.path.display(), offset, reason, "log ends in a torn record");
                return Ok((
                    expected - 1,
                    Some(TornTail {
                        path: file.path.clone(),
                        valid_len: offset as u64,
                        file_len: bytes.len() as u64,
                    }),
                ));
            }
        }
    }
}

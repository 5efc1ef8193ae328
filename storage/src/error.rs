//! Typed errors of the storage crate. The protocol edge maps them to MySQL codes.

use std::io;
use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// Bytes on the volume that fail a checksum or a structural check.
    #[error("corrupt {path} at offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },

    #[error("volume is held by writer {holder} (epoch {epoch}) for another {remaining_ms} ms")]
    LeaseHeld {
        holder: String,
        epoch: u64,
        remaining_ms: u64,
    },

    #[error("writer of epoch {epoch} is fenced: epoch {by} has taken over the volume")]
    Fenced { epoch: u64, by: u64 },

    #[error("lease of epoch {epoch} may have lapsed; refusing to acknowledge")]
    LeaseLapsed { epoch: u64 },

    /// The log writer stopped after an earlier failure; nothing more is acknowledged.
    #[error("log writer stopped: {0}")]
    WriterStopped(String),

    #[error("invalid record: {0}")]
    InvalidRecord(String),

    /// A record that does not fit the state it is applied to (a bug or a foreign log).
    #[error("cannot apply record at lsn {lsn}: {reason}")]
    Apply { lsn: u64, reason: String },

    #[error("{0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl AsRef<Path>) -> impl FnOnce(io::Error) -> Error {
        let path = path.as_ref().to_path_buf();
        move |source| Error::Io { op, path, source }
    }

    pub(crate) fn corrupt(path: impl AsRef<Path>, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            path: path.as_ref().to_path_buf(),
            offset,
            reason: reason.into(),
        }
    }

    /// A copy for every committer waiting on the same failed group commit.
    pub(crate) fn for_waiters(&self) -> Error {
        match self {
            Error::Fenced { epoch, by } => Error::Fenced {
                epoch: *epoch,
                by: *by,
            },
            Error::LeaseLapsed { epoch } => Error::LeaseLapsed { epoch: *epoch },
            other => Error::WriterStopped(other.to_string()),
        }
    }
}

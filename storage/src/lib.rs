//! floe's shared volume. One writer (the primary) appends to the log; any
//! number of followers (readers) tail it; all run the same deterministic
//! [`State::apply`]. This crate knows nothing of SQL or MySQL.

pub mod blob;
mod bytes;
pub mod checked;
pub mod checkpoint;
pub mod deletes;
pub mod error;
pub mod follower;
pub mod hex;
pub mod lease;
pub mod log;
pub mod record;
pub mod replica;
pub mod schema;
pub mod segment;
pub mod state;
pub mod volume;
pub mod writer;

pub use error::{Error, Result};
pub use record::{Record, RowAddr, Txn, TxnOp};
pub use schema::{ColumnDef, ColumnType, SegmentId, TableDef, TableId};
pub use state::{Snapshot, State};
pub use volume::Volume;

/// Log sequence number: the position of a committed record. The first record is 1.
pub type Lsn = u64;

/// Locks `m`, carrying on after a panic elsewhere (the data stay consistent:
/// every critical section here leaves them whole).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

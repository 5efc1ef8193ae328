//! floe's MySQL protocol layer: tokio for I/O, mysql_common for packet and
//! value types, and a small [`session::Engine`] trait between protocol and
//! engine. Nothing here knows about storage.

pub mod auth;
pub mod conn;
pub mod error;
pub mod handshake;
pub mod packet;
pub mod resultset;
pub mod server;
pub mod session;
pub mod stmt;
pub mod stream;
pub mod wire;

pub use error::{ProtoError, SqlError};

/// Locks `m`, carrying on after a panic elsewhere (every critical section
/// here leaves its data whole).
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
pub use resultset::ColumnMeta;
pub use server::{Registry, Server, ServerConfig};
pub use session::{Done, Engine, Outcome, RowStream, Session, SessionContext};

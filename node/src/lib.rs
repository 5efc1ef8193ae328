//! floe's server: the MySQL protocol layer and the roles built on the storage crate.

/// The protocol layer is its own crate (`node/mysql`); `floe::mysql` names it.
pub use floe_mysql as mysql;

pub mod blocking;
pub mod maintenance;
pub mod nodes;
pub mod primary;
pub mod reader;
pub mod role;
pub mod sql;
pub mod status;
pub mod wasm;

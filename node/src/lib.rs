//! floe's server: the MySQL protocol layer and the roles built on the storage crate.

pub mod maintenance;
pub mod mysql;
pub mod nodes;
pub mod primary;
pub mod reader;
pub mod role;
pub mod sql;
pub mod status;
pub mod wasm;

//! floe's server: the MySQL protocol layer and the roles built on the storage crate.

pub mod maintenance;
pub mod mysql;
pub mod primary;
pub mod sql;
pub mod status;

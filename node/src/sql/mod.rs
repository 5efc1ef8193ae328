//! SQL on every node: the catalog, DataFusion over storage snapshots, and
//! the session that turns MySQL statements into reads and (on the primary)
//! committed writes.

pub mod admin;
pub mod alter;
pub mod catalog;
pub mod compat;
pub mod constant;
pub mod ddl;
pub mod diagnostics;
pub mod dialect;
pub mod direct;
pub mod dml;
pub mod engine;
pub mod functions;
pub mod infile;
pub mod key;
pub mod keyrange;
pub mod loadable;
pub mod point;
pub mod prepared;
pub mod provider;
pub mod prune;
pub mod push_down_aggregate;
pub mod session;
pub mod show;
pub mod text;
pub mod types;
pub mod values;
pub mod vars;

pub use engine::{Node, SqlEngine};

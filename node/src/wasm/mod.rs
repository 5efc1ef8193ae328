//! WebAssembly plugins: SQL functions from components of the `floe:plugin`
//! world (`wit/floe-plugin.wit`), run by wasmtime in a sandbox and exposed to
//! DataFusion as scalar and aggregate functions.

mod bindings;
pub mod catalog;
mod convert;
pub mod error;
pub mod plugin;
pub mod runtime;
pub mod udf;

pub use bindings::floe::plugin::types::DataType as PluginType;
pub use catalog::{Installed, Plugins};
pub use convert::sql_name;
pub use error::PluginError;
pub use runtime::PluginOptions;

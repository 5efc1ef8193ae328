//! floe's end-to-end suite: one test binary, one module per area.

mod mysql;
mod plugins;
mod reader;
mod storage;
mod support;

//! floe's end-to-end suite: one test binary, one module per area.

mod storage;
mod support;

//! Long synchronous work on tokio's worker threads.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `f` on this thread after handing the worker's other duties (the
/// tasks queued behind this one, polling for I/O) to another thread, so
/// that `f` running long (a bulk load's parsing, a plugin call up to its
/// time limit) does not stall the connections this worker would serve,
/// their KILL QUERY included. Outside a multi-threaded runtime, just runs
/// `f`.
pub fn in_place<R>(f: impl FnOnce() -> R) -> R {
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

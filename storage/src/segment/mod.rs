//! Columnar segments. Each table has one open segment in memory that takes
//! inserts in log order; at `segment_rows` it is frozen (still in memory)
//! and the primary writes it to an immutable file under the same id, so row
//! addresses never change. Sealed files are memory-mapped Arrow IPC, read
//! without decoding, with per-column min/max for pruning, of the whole segment and of each
//! block of `BLOCK_ROWS` rows.

mod file;
mod open;
mod zone;

pub use file::{SealedSegment, image_key, sealed_key, write_sealed_if_absent, write_segment};
pub use open::OpenSegment;
pub use zone::{BLOCK_ROWS, BlockZones, ColumnZone, ZoneValue};

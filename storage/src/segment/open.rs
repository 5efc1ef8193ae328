//! The open segment: appended batches, coalesced so scans see few chunks,
//! with the zone maps of each block of rows as soon as the block is full
//! (rows never change once appended, so neither do those zone maps).

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;

use super::zone::{BLOCK_ROWS, BlockZones, ColumnZone, compute_zones};
use crate::error::Result;
use crate::schema::SegmentId;

/// Chunks smaller than this are merged once enough of them pile up.
const SMALL_CHUNK_ROWS: usize = 8192;
const MAX_SMALL_CHUNKS: usize = 32;

#[derive(Clone, Debug)]
pub struct OpenSegment {
    pub id: SegmentId,
    schema: SchemaRef,
    chunks: Vec<RecordBatch>,
    /// Row number of the first row of each chunk.
    starts: Vec<u32>,
    rows: u32,
    /// Index of the first chunk that may still be merged with later ones.
    settled: usize,
    /// Zone maps of the full blocks.
    blocks: BlockZones,
}

impl OpenSegment {
    pub fn new(id: SegmentId, schema: SchemaRef) -> Self {
        OpenSegment {
            id,
            schema,
            chunks: Vec::new(),
            starts: Vec::new(),
            rows: 0,
            settled: 0,
            blocks: Arc::default(),
        }
    }

    /// An open segment that resumes from a checkpointed image of its first
    /// rows, and the image's block zone maps (computed here if it has none).
    pub fn from_image(
        id: SegmentId,
        image: RecordBatch,
        blocks: &[Vec<ColumnZone>],
    ) -> Result<Self> {
        let mut seg = OpenSegment::new(id, image.schema());
        let full = image.num_rows() / BLOCK_ROWS;
        seg.rows = image.num_rows() as u32;
        seg.starts.push(0);
        seg.chunks.push(image);
        seg.settled = 1;
        // The image's last block is short unless it ends on a boundary;
        // appends will fill it.
        if blocks.len() >= full {
            seg.blocks = Arc::new(blocks[..full].to_vec());
        }
        seg.zone_full_blocks()?;
        Ok(seg)
    }

    /// Zone maps of the blocks filled so far, in row order.
    pub fn blocks(&self) -> &BlockZones {
        &self.blocks
    }

    pub fn rows(&self) -> u32 {
        self.rows
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    pub fn chunks(&self) -> &[RecordBatch] {
        &self.chunks
    }

    /// Appends rows and returns the row number of the first.
    pub fn append(&mut self, batch: RecordBatch) -> Result<u32> {
        let first = self.rows;
        if batch.num_rows() == 0 {
            return Ok(first);
        }
        // A slice of a larger batch is copied (by coalescing) so that it
        // does not keep its parent's buffers alive.
        let big = batch.num_rows() >= SMALL_CHUNK_ROWS && !is_slice_of_more(&batch);
        if big && self.chunks.len() > self.settled {
            // The small chunks before a big one are merged now, so that the
            // big one is never copied.
            self.coalesce()?;
            self.settled = self.chunks.len();
        }
        self.rows += batch.num_rows() as u32;
        self.starts.push(first);
        self.chunks.push(batch);
        if big {
            self.settled = self.chunks.len();
        } else if self.chunks.len() - self.settled > MAX_SMALL_CHUNKS {
            self.coalesce()?;
        }
        self.zone_full_blocks()?;
        Ok(first)
    }

    fn zone_full_blocks(&mut self) -> Result<()> {
        while (self.blocks.len() + 1) * BLOCK_ROWS <= self.rows as usize {
            let rows = self.rows_of(self.blocks.len() * BLOCK_ROWS, BLOCK_ROWS)?;
            let zones = compute_zones(&rows);
            Arc::make_mut(&mut self.blocks).push(zones);
        }
        Ok(())
    }

    /// `len` rows from row `start` (which exist), copied only when they
    /// span chunks.
    fn rows_of(&self, start: usize, len: usize) -> Result<RecordBatch> {
        let mut i = self.starts.partition_point(|&s| s as usize <= start) - 1;
        let (mut at, end) = (start, start + len);
        let mut pieces = Vec::new();
        while at < end {
            let chunk = &self.chunks[i];
            let offset = at - self.starts[i] as usize;
            let n = (chunk.num_rows() - offset).min(end - at);
            pieces.push(chunk.slice(offset, n));
            at += n;
            i += 1;
        }
        match pieces.as_slice() {
            [one] => Ok(one.clone()),
            _ => Ok(concat_batches(&self.schema, &pieces)?),
        }
    }

    fn coalesce(&mut self) -> Result<()> {
        let merged = concat_batches(&self.schema, &self.chunks[self.settled..])?;
        let start = self.starts[self.settled];
        self.chunks.truncate(self.settled);
        self.starts.truncate(self.settled);
        let big = merged.num_rows() >= SMALL_CHUNK_ROWS;
        self.chunks.push(merged);
        self.starts.push(start);
        if big {
            self.settled = self.chunks.len();
        }
        Ok(())
    }

    /// The chunk holding `row` and the row's index within it.
    pub fn locate(&self, row: u32) -> Option<(&RecordBatch, usize)> {
        if row >= self.rows {
            return None;
        }
        let i = self.starts.partition_point(|&s| s <= row) - 1;
        Some((&self.chunks[i], (row - self.starts[i]) as usize))
    }
}

/// Whether `batch`'s buffers hold much more than its rows (it is a slice).
fn is_slice_of_more(batch: &RecordBatch) -> bool {
    batch.columns().iter().any(|c| {
        let used = c.to_data().get_slice_memory_size().unwrap_or(0);
        c.get_buffer_memory_size() > 2 * used + 4096
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use std::sync::Arc;

    #[test]
    fn rows_keep_their_numbers_through_coalescing() {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let mut seg = OpenSegment::new(1, schema.clone());
        let mut next = 0i64;
        for n in [1usize, 3, 1, 5000, 2, 9000, 1, 1] {
            for _ in 0..20 {
                let vals: Vec<i64> = (next..next + n as i64).collect();
                next += n as i64;
                let b =
                    RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vals))])
                        .unwrap();
                seg.append(b).unwrap();
            }
        }
        assert_eq!(seg.rows() as i64, next);
        assert!(seg.chunks().len() < 80, "{} chunks", seg.chunks().len());
        for row in (0..next as u32).step_by(97).chain([next as u32 - 1]) {
            let (chunk, i) = seg.locate(row).unwrap();
            assert_eq!(
                chunk.column(0).as_primitive::<Int64Type>().value(i),
                row as i64
            );
        }
        assert!(seg.locate(next as u32).is_none());
        let total: usize = seg.chunks().iter().map(|c| c.column(0).len()).sum();
        assert_eq!(total as i64, next);
    }

    #[test]
    fn full_blocks_get_zone_maps_as_rows_arrive() {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let mut seg = OpenSegment::new(1, schema.clone());
        let mut next = 0i64;
        // Small and big appends, so that blocks span chunks and coalescing.
        for n in [7i64, 9000, 1, 20_000, 3, 40_000, 5] {
            for _ in 0..3 {
                let b = RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(Int64Array::from_iter_values(next..next + n))],
                )
                .unwrap();
                seg.append(b).unwrap();
                next += n;
            }
        }
        let full = next as usize / BLOCK_ROWS;
        assert!(full >= 3);
        assert_eq!(seg.blocks().len(), full);
        for (k, zones) in seg.blocks().iter().enumerate() {
            let (lo, hi) = ((k * BLOCK_ROWS) as i64, ((k + 1) * BLOCK_ROWS - 1) as i64);
            assert_eq!(zones[0].min, Some(super::super::ZoneValue::Int(lo)));
            assert_eq!(zones[0].max, Some(super::super::ZoneValue::Int(hi)));
        }
        // Resumed from an image without block zone maps, they are computed.
        let image = concat_batches(&schema, seg.chunks()).unwrap();
        let resumed = OpenSegment::from_image(1, image, &[]).unwrap();
        assert_eq!(resumed.blocks(), seg.blocks());
    }

    #[test]
    fn a_big_batch_is_kept_as_it_came() {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let batch = |from: i64, n: i64| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from_iter_values(from..from + n))],
            )
            .unwrap()
        };
        let mut seg = OpenSegment::new(1, schema.clone());
        for i in 0..3 {
            seg.append(batch(i * 10, 10)).unwrap();
        }
        let big = batch(30, SMALL_CHUNK_ROWS as i64 * 2);
        let values = |b: &RecordBatch| b.column(0).to_data().buffers()[0].as_ptr();
        let at = values(&big);
        assert_eq!(seg.append(big).unwrap(), 30);
        for i in 0..MAX_SMALL_CHUNKS as i64 * 3 {
            seg.append(batch(30 + SMALL_CHUNK_ROWS as i64 * 2 + i, 1))
                .unwrap();
        }
        assert!(seg.chunks().iter().any(|c| values(c) == at));
        let (chunk, i) = seg.locate(40).unwrap();
        assert_eq!(chunk.column(0).as_primitive::<Int64Type>().value(i), 40);
        // A big slice of a bigger batch is copied, not kept with its parent.
        let next = seg.rows() as i64;
        let parent = batch(next, SMALL_CHUNK_ROWS as i64 * 8);
        let slice = parent.slice(0, SMALL_CHUNK_ROWS);
        let at = values(&slice);
        seg.append(slice).unwrap();
        for i in 0..MAX_SMALL_CHUNKS as i64 * 3 {
            seg.append(batch(next + SMALL_CHUNK_ROWS as i64 + i, 1))
                .unwrap();
        }
        assert!(seg.chunks().iter().all(|c| values(c) != at));
        let (chunk, i) = seg.locate(next as u32 + 5).unwrap();
        assert_eq!(
            chunk.column(0).as_primitive::<Int64Type>().value(i),
            next + 5
        );
    }
}

//! Sealed segment files: `[Arrow IPC file][meta json][meta len u32][ipc len u64]`
//! inside a checksummed blob. Opening maps the file and hands out Arrow arrays
//! that point into the mapping: no decoding, and row `r` is index `r`.

use std::path::Path;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::buffer::Buffer;
use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::{FileDecoder, read_footer_length};
use arrow::ipc::writer::FileWriter;
use serde::{Deserialize, Serialize};

use super::zone::{BLOCK_ROWS, BlockZones, ColumnZone, compute_block_zones, compute_zones};
use crate::Lsn;
use crate::blob::BlobStore;
use crate::bytes::{le_u32, le_u64};
use crate::checked;
use crate::error::{Error, Result};
use crate::schema::{SegmentId, TableId};

pub fn sealed_key(table: TableId, segment: SegmentId) -> String {
    format!("segments/{table:010}/{segment:012}.seg")
}

/// The image of an open segment's first rows, written by a checkpoint at `lsn`.
pub fn image_key(table: TableId, segment: SegmentId, lsn: Lsn) -> String {
    format!("segments/{table:010}/{segment:012}.{lsn:020}.open")
}

#[derive(Debug, Serialize, Deserialize)]
struct SegmentMeta {
    table: TableId,
    segment: SegmentId,
    rows: u32,
    zones: Vec<ColumnZone>,
    /// Rows per entry of `blocks`; files from before block zone maps have
    /// neither, and a file written with another block size is read as if
    /// it had none.
    #[serde(default)]
    block_rows: u32,
    #[serde(default)]
    blocks: Vec<Vec<ColumnZone>>,
}

#[derive(Debug)]
pub struct SealedSegment {
    pub id: SegmentId,
    pub rows: u32,
    /// All rows, zero-copy over the mapped file.
    pub batch: RecordBatch,
    pub zones: Arc<Vec<ColumnZone>>,
    pub blocks: BlockZones,
    pub key: String,
}

/// Writes `chunks` as one segment file under `key` (atomically, durably).
pub fn write_segment(
    store: &dyn BlobStore,
    key: &str,
    table: TableId,
    segment: SegmentId,
    schema: &SchemaRef,
    chunks: &[RecordBatch],
) -> Result<()> {
    let batch = concat_batches(schema, chunks)?;
    let meta = SegmentMeta {
        table,
        segment,
        rows: batch.num_rows() as u32,
        zones: compute_zones(&batch),
        block_rows: BLOCK_ROWS as u32,
        blocks: compute_block_zones(&batch),
    };
    let mut writer = FileWriter::try_new(Vec::new(), schema)?;
    writer.write(&batch)?;
    writer.finish()?;
    let mut payload = writer.into_inner()?;
    let ipc_len = payload.len() as u64;
    let meta = serde_json::to_vec(&meta).map_err(|e| Error::InvalidRecord(e.to_string()))?;
    payload.extend_from_slice(&meta);
    payload.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    payload.extend_from_slice(&ipc_len.to_le_bytes());
    store.put(key, &checked::seal(payload))
}

/// Writes a full segment to its sealed file unless the file is there already
/// (the primary's flush and a checkpoint may both get to it); returns the key.
pub fn write_sealed_if_absent(
    store: &dyn BlobStore,
    table: TableId,
    segment: SegmentId,
    schema: &SchemaRef,
    chunks: &[RecordBatch],
) -> Result<String> {
    let key = sealed_key(table, segment);
    if !store.exists(&key)? {
        write_segment(store, &key, table, segment, schema, chunks)?;
    }
    Ok(key)
}

impl SealedSegment {
    /// Maps and verifies a segment file; its columns take the names of `schema`.
    pub fn open(store: &dyn BlobStore, key: &str, schema: &SchemaRef) -> Result<SealedSegment> {
        let path = store.locate(key);
        let buf = store.map(key)?;
        let payload_len = checked::verify(&path, buf.as_slice())?;
        let p = &buf.as_slice()[..payload_len];
        if p.len() < 12 {
            return Err(Error::corrupt(&path, 0, "segment payload too short"));
        }
        let ipc_len = le_u64(&p[p.len() - 8..]) as usize;
        let meta_len = le_u32(&p[p.len() - 12..]) as usize;
        if ipc_len
            .checked_add(meta_len)
            .is_none_or(|n| n + 12 != p.len())
        {
            return Err(Error::corrupt(
                &path,
                (p.len() - 12) as u64,
                "segment section lengths do not add up",
            ));
        }
        let meta: SegmentMeta = serde_json::from_slice(&p[ipc_len..ipc_len + meta_len])
            .map_err(|e| Error::corrupt(&path, ipc_len as u64, format!("segment metadata: {e}")))?;
        let batch = decode_ipc(&path, &buf.slice_with_length(0, ipc_len), schema)?;
        if batch.num_rows() != meta.rows as usize || meta.zones.len() != schema.fields().len() {
            return Err(Error::corrupt(
                &path,
                0,
                "segment rows or columns do not match its metadata",
            ));
        }
        let columns = schema.fields().len();
        let blocks_fit = meta.block_rows as usize == BLOCK_ROWS
            && meta.blocks.len() == (meta.rows as usize).div_ceil(BLOCK_ROWS)
            && meta.blocks.iter().all(|b| b.len() == columns);
        Ok(SealedSegment {
            id: meta.segment,
            rows: meta.rows,
            batch,
            zones: Arc::new(meta.zones),
            blocks: Arc::new(if blocks_fit { meta.blocks } else { Vec::new() }),
            key: key.to_string(),
        })
    }
}

fn decode_ipc(path: &Path, ipc: &Buffer, schema: &SchemaRef) -> Result<RecordBatch> {
    let bad = |offset: usize, reason: String| Error::corrupt(path, offset as u64, reason);
    let bytes = ipc.as_slice();
    if bytes.len() < 10 {
        return Err(bad(0, "segment has no Arrow footer".into()));
    }
    let mut tail = [0u8; 10];
    tail.copy_from_slice(&bytes[bytes.len() - 10..]);
    let footer_len = read_footer_length(tail).map_err(|e| bad(bytes.len() - 10, e.to_string()))?;
    let footer_start = (bytes.len() - 10)
        .checked_sub(footer_len)
        .ok_or_else(|| bad(bytes.len() - 10, "Arrow footer length exceeds file".into()))?;
    let footer = arrow::ipc::root_as_footer(&bytes[footer_start..bytes.len() - 10])
        .map_err(|e| bad(footer_start, format!("Arrow footer: {e}")))?;
    let file_schema = footer
        .schema()
        .map(arrow::ipc::convert::fb_to_schema)
        .ok_or_else(|| bad(footer_start, "Arrow footer has no schema".into()))?;
    let types_match = file_schema.fields().len() == schema.fields().len()
        && file_schema
            .fields()
            .iter()
            .zip(schema.fields())
            .all(|(a, b)| a.data_type() == b.data_type());
    if !types_match {
        return Err(bad(
            footer_start,
            "segment columns do not match the table".into(),
        ));
    }
    let decoder =
        FileDecoder::new(Arc::clone(schema), footer.version()).with_require_alignment(false);
    // SAFETY: the bytes passed the blob's crc32c check, so they are exactly
    // what floe wrote from valid Arrow arrays; validating every UTF-8 string
    // again would make opening a large volume slow.
    let decoder = unsafe { decoder.with_skip_validation(true) };
    let mut batches = Vec::new();
    for block in footer.recordBatches().iter().flat_map(|b| b.iter()) {
        let len = block.metaDataLength() as i64 + block.bodyLength();
        let offset = block.offset();
        if offset < 0 || len < 0 || (offset + len) as usize > footer_start {
            return Err(bad(
                footer_start,
                "Arrow block lies outside the file".into(),
            ));
        }
        let data = ipc.slice_with_length(offset as usize, len as usize);
        if let Some(b) = decoder
            .read_record_batch(block, &data)
            .map_err(|e| bad(offset as usize, e.to_string()))?
        {
            batches.push(b);
        }
    }
    match batches.len() {
        1 => Ok(batches
            .pop()
            .unwrap_or_else(|| RecordBatch::new_empty(schema.clone()))),
        _ => Ok(concat_batches(schema, &batches)?),
    }
}

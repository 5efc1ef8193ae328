//! Typed log records and their payload encoding.
//!
//! Transactions are hot, so they use a compact binary form in which inserted
//! rows travel as columns (validity bits, fixed-width values, offsets + bytes);
//! rare records (DDL, metadata) are JSON.

use std::sync::Arc;

use arrow::array::{Array, ArrayData, ArrayRef, RecordBatch, make_array};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema::{SegmentId, TableDef, TableId};

/// The stable address of a row: segment and position within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RowAddr {
    pub segment: SegmentId,
    pub row: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TxnOp {
    /// Full row images, in the table's column order.
    Insert {
        table: TableId,
        rows: RecordBatch,
    },
    Delete {
        table: TableId,
        rows: Vec<RowAddr>,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Txn {
    pub ops: Vec<TxnOp>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Ddl {
    CreateTable(TableDef),
    DropTable {
        table: TableId,
    },
    /// Removes every row; the table keeps its id and definition.
    TruncateTable {
        table: TableId,
    },
    RenameTable {
        table: TableId,
        name: String,
    },
    /// `new` takes `old`'s name and `old` is dropped, in one step (ALTER
    /// TABLE that copies the rows into a table of the new shape).
    ReplaceTable {
        old: TableId,
        new: TableId,
    },
    /// Replaces the SQL layer's description (indexes, comments...).
    SetTableMeta {
        table: TableId,
        meta: Vec<u8>,
    },
    /// A frozen segment now lives in its file on the volume.
    SegmentFlushed {
        table: TableId,
        segment: SegmentId,
        rows: u32,
    },
    /// Node-level catalog entries (databases, accounts, plugins), by key.
    SetMeta {
        key: String,
        value: Option<Vec<u8>>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Txn(Txn),
    Ddl(Ddl),
}

pub const KIND_TXN: u8 = 1;
pub const KIND_DDL: u8 = 2;

impl Record {
    pub fn kind(&self) -> u8 {
        match self {
            Record::Txn(_) => KIND_TXN,
            Record::Ddl(_) => KIND_DDL,
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>> {
        match self {
            Record::Txn(t) => encode_txn(t),
            Record::Ddl(d) => {
                serde_json::to_vec(d).map_err(|e| Error::InvalidRecord(e.to_string()))
            }
        }
    }

    /// Decodes a payload; `schema_of` gives the columns of a table for inserts.
    pub fn decode(
        kind: u8,
        payload: &[u8],
        schema_of: impl Fn(TableId) -> Option<SchemaRef>,
    ) -> Result<Record> {
        match kind {
            KIND_TXN => decode_txn(payload, schema_of).map(Record::Txn),
            KIND_DDL => serde_json::from_slice(payload)
                .map(Record::Ddl)
                .map_err(|e| Error::InvalidRecord(format!("ddl: {e}"))),
            k => Err(Error::InvalidRecord(format!("unknown record kind {k}"))),
        }
    }
}

const OP_INSERT: u8 = 1;
const OP_DELETE: u8 = 2;

fn encode_txn(t: &Txn) -> Result<Vec<u8>> {
    // Sized up front: a bulk load's record is megabytes, and growing it by
    // doubling copies it and touches fresh memory each time.
    let size: usize = t
        .ops
        .iter()
        .map(|op| match op {
            TxnOp::Insert { rows, .. } => {
                64 + rows
                    .columns()
                    .iter()
                    .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0))
                    .sum::<usize>()
            }
            TxnOp::Delete { rows, .. } => 16 + rows.len() * 12,
        })
        .sum();
    let mut out = Vec::with_capacity(4 + size);
    put_u32(&mut out, t.ops.len() as u32);
    for op in &t.ops {
        match op {
            TxnOp::Insert { table, rows } => {
                out.push(OP_INSERT);
                out.extend_from_slice(&table.to_le_bytes());
                encode_batch(&mut out, rows)?;
            }
            TxnOp::Delete { table, rows } => {
                out.push(OP_DELETE);
                out.extend_from_slice(&table.to_le_bytes());
                put_u32(&mut out, rows.len() as u32);
                for a in rows {
                    out.extend_from_slice(&a.segment.to_le_bytes());
                    put_u32(&mut out, a.row);
                }
            }
        }
    }
    Ok(out)
}

fn decode_txn(payload: &[u8], schema_of: impl Fn(TableId) -> Option<SchemaRef>) -> Result<Txn> {
    let mut r = Reader { b: payload, at: 0 };
    let n = r.u32()?;
    let mut ops = Vec::with_capacity(n.min(1024) as usize);
    for _ in 0..n {
        let tag = r.u8()?;
        let table = r.u64()?;
        match tag {
            OP_INSERT => {
                let schema = schema_of(table).ok_or_else(|| {
                    Error::InvalidRecord(format!("insert into unknown table {table}"))
                })?;
                ops.push(TxnOp::Insert {
                    table,
                    rows: decode_batch(&mut r, schema)?,
                });
            }
            OP_DELETE => {
                let count = r.u32()? as usize;
                if count > r.remaining() / 12 {
                    return Err(Error::InvalidRecord(
                        "delete list longer than record".into(),
                    ));
                }
                let mut rows = Vec::with_capacity(count);
                for _ in 0..count {
                    rows.push(RowAddr {
                        segment: r.u64()?,
                        row: r.u32()?,
                    });
                }
                ops.push(TxnOp::Delete { table, rows });
            }
            t => return Err(Error::InvalidRecord(format!("unknown transaction op {t}"))),
        }
    }
    if r.remaining() != 0 {
        return Err(Error::InvalidRecord(
            "trailing bytes after transaction".into(),
        ));
    }
    Ok(Txn { ops })
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, b.len() as u32);
    out.extend_from_slice(b);
}

/// Columns as `[rows u32]` then per column `[has nulls u8][validity bits]?[values]`,
/// where values are little-endian fixed-width values, packed bits for booleans,
/// or `[offsets i32 * (rows+1)][bytes]` for strings and binaries.
fn encode_batch(out: &mut Vec<u8>, batch: &RecordBatch) -> Result<()> {
    let rows = batch.num_rows();
    put_u32(out, rows as u32);
    for col in batch.columns() {
        match col.logical_nulls().filter(|n| n.null_count() > 0) {
            Some(nulls) => {
                out.push(1);
                put_bytes(out, nulls.inner().sliced().as_slice());
            }
            None => out.push(0),
        }
        let data = col.to_data();
        match data.data_type() {
            DataType::Boolean => {
                let bits = BooleanBuffer::new(data.buffers()[0].clone(), data.offset(), rows);
                put_bytes(out, bits.sliced().as_slice());
            }
            DataType::Utf8 | DataType::Binary => {
                let offsets =
                    ScalarBuffer::<i32>::new(data.buffers()[0].clone(), data.offset(), rows + 1);
                let (base, end) = (offsets[0], offsets[rows]);
                put_u32(out, ((rows + 1) * 4) as u32);
                if base == 0 && cfg!(target_endian = "little") {
                    // Already what the record holds: copied whole.
                    out.extend_from_slice(offsets.inner().as_slice());
                } else {
                    for o in offsets.iter() {
                        out.extend_from_slice(&(o - base).to_le_bytes());
                    }
                }
                put_bytes(
                    out,
                    &data.buffers()[1].as_slice()[base as usize..end as usize],
                );
            }
            dt => {
                let width = dt
                    .primitive_width()
                    .ok_or_else(|| Error::InvalidRecord(format!("unsupported column type {dt}")))?;
                let bytes = &data.buffers()[0].as_slice()
                    [data.offset() * width..(data.offset() + rows) * width];
                put_bytes(out, bytes);
            }
        }
    }
    Ok(())
}

fn decode_batch(r: &mut Reader<'_>, schema: SchemaRef) -> Result<RecordBatch> {
    let rows = r.u32()? as usize;
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let nulls = match r.u8()? {
            0 => None,
            _ => {
                let bits = r.bytes()?;
                if bits.len() * 8 < rows {
                    return Err(Error::InvalidRecord("validity shorter than column".into()));
                }
                Some(NullBuffer::new(BooleanBuffer::new(
                    Buffer::from(bits),
                    0,
                    rows,
                )))
            }
        };
        let dt = field.data_type().clone();
        let buffers = match &dt {
            DataType::Utf8 | DataType::Binary => {
                vec![Buffer::from(r.bytes()?), Buffer::from(r.bytes()?)]
            }
            _ => vec![Buffer::from(r.bytes()?)],
        };
        let data = ArrayData::try_new(
            dt,
            rows,
            nulls.map(|n| n.into_inner().into_inner()),
            0,
            buffers,
            vec![],
        )
        .map_err(|e| Error::InvalidRecord(format!("column {}: {e}", field.name())))?;
        columns.push(make_array(data));
    }
    RecordBatch::try_new(Arc::clone(&schema), columns)
        .map_err(|e| Error::InvalidRecord(e.to_string()))
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.b.len() - self.at
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(Error::InvalidRecord(
                "record is shorter than its contents".into(),
            ));
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(crate::bytes::le_u32(self.take(4)?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(crate::bytes::le_u64(self.take(8)?))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ColumnDef, ColumnType};
    use arrow::array::{
        BooleanArray, Decimal128Array, Int64Array, StringArray, TimestampMicrosecondArray,
    };

    fn def() -> TableDef {
        TableDef::new(
            7,
            "t",
            vec![
                ColumnDef::new("id", ColumnType::Int64, false),
                ColumnDef::new("name", ColumnType::Utf8, true),
                ColumnDef::new("ok", ColumnType::Boolean, true),
                ColumnDef::new(
                    "amount",
                    ColumnType::Decimal128 {
                        precision: 12,
                        scale: 2,
                    },
                    true,
                ),
                ColumnDef::new("at", ColumnType::TimestampMicros, true),
            ],
        )
    }

    #[test]
    fn transactions_round_trip_including_sliced_batches() {
        let def = def();
        let schema = def.arrow_schema();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    None,
                    Some("广告"),
                    Some(""),
                ])),
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    None,
                    Some(true),
                ])),
                Arc::new(
                    Decimal128Array::from(vec![Some(12345), None, Some(-1), Some(0)])
                        .with_precision_and_scale(12, 2)
                        .unwrap(),
                ),
                Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(1),
                    Some(2),
                    None,
                    Some(4),
                ])),
            ],
        )
        .unwrap();
        let txn = Txn {
            ops: vec![
                TxnOp::Insert {
                    table: 7,
                    rows: batch.slice(1, 3),
                },
                TxnOp::Delete {
                    table: 7,
                    rows: vec![RowAddr { segment: 3, row: 9 }],
                },
            ],
        };
        let rec = Record::Txn(txn);
        let bytes = rec.encode().unwrap();
        let back = Record::decode(KIND_TXN, &bytes, |_| Some(schema.clone())).unwrap();
        assert_eq!(back, rec);
        for cut in 0..bytes.len() {
            assert!(Record::decode(KIND_TXN, &bytes[..cut], |_| Some(schema.clone())).is_err());
        }
    }
}

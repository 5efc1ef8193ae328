//! The state machine every node runs: catalog, per-table segments and delete
//! vectors, advanced by [`State::apply`] one log record at a time. It is
//! deterministic: the same records give the same state, segment ids and row
//! addresses on the primary and on every reader.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{Array, RecordBatch};
use arrow::datatypes::SchemaRef;
use roaring::RoaringBitmap;

use crate::Lsn;
use crate::blob::BlobStore;
use crate::deletes::DeleteVector;
use crate::error::{Error, Result};
use crate::record::{Ddl, Record, RowAddr, Txn, TxnOp};
use crate::schema::{SegmentId, TableDef, TableId};
use crate::segment::{BlockZones, ColumnZone, OpenSegment, SealedSegment, sealed_key};

#[derive(Debug)]
pub struct Table {
    pub def: Arc<TableDef>,
    pub schema: SchemaRef,
    pub(crate) sealed: BTreeMap<SegmentId, Arc<SealedSegment>>,
    /// Full segments still in memory, waiting for the primary to write them.
    pub(crate) frozen: BTreeMap<SegmentId, Arc<OpenSegment>>,
    pub(crate) open: OpenSegment,
    pub(crate) deletes: HashMap<SegmentId, DeleteVector>,
}

impl Table {
    fn new(def: TableDef, open_id: SegmentId) -> Table {
        let schema = def.arrow_schema();
        Table {
            def: Arc::new(def),
            open: OpenSegment::new(open_id, schema.clone()),
            schema,
            sealed: BTreeMap::new(),
            frozen: BTreeMap::new(),
            deletes: HashMap::new(),
        }
    }

    /// Rows in segment `id`, if the segment belongs to this table.
    pub fn segment_rows(&self, id: SegmentId) -> Option<u32> {
        if id == self.open.id {
            return Some(self.open.rows());
        }
        if let Some(s) = self.sealed.get(&id) {
            return Some(s.rows);
        }
        self.frozen.get(&id).map(|f| f.rows())
    }

    /// The row at `addr` as a one-row batch (deleted rows included).
    pub fn row(&self, addr: RowAddr) -> Option<RecordBatch> {
        if let Some(s) = self.sealed.get(&addr.segment) {
            return (addr.row < s.rows).then(|| s.batch.slice(addr.row as usize, 1));
        }
        let in_memory = if addr.segment == self.open.id {
            &self.open
        } else {
            self.frozen.get(&addr.segment)?
        };
        let (chunk, i) = in_memory.locate(addr.row)?;
        Some(chunk.slice(i, 1))
    }

    /// Whether the row at `addr` exists and is not deleted (as of the
    /// newest applied change).
    pub fn is_live(&self, addr: RowAddr) -> bool {
        self.segment_rows(addr.segment)
            .is_some_and(|rows| addr.row < rows)
            && !self
                .deletes
                .get(&addr.segment)
                .is_some_and(|d| d.contains(addr.row))
    }

    pub fn live_rows(&self) -> u64 {
        let all: u64 = self.sealed.values().map(|s| s.rows as u64).sum::<u64>()
            + self.frozen.values().map(|f| f.rows() as u64).sum::<u64>()
            + self.open.rows() as u64;
        all - self.deletes.values().map(|d| d.len()).sum::<u64>()
    }
}

/// Where the rows of one insert went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsertedRange {
    pub table: TableId,
    pub first: RowAddr,
    pub count: u32,
}

#[derive(Debug)]
pub struct State {
    store: Arc<dyn BlobStore>,
    pub(crate) applied: Lsn,
    pub(crate) next_segment: SegmentId,
    pub(crate) tables: BTreeMap<TableId, Table>,
    pub(crate) names: BTreeMap<String, TableId>,
    pub(crate) meta: Arc<BTreeMap<String, Vec<u8>>>,
}

impl State {
    /// The state of an empty volume.
    pub fn empty(store: Arc<dyn BlobStore>) -> State {
        State {
            store,
            applied: 0,
            next_segment: 1,
            tables: BTreeMap::new(),
            names: BTreeMap::new(),
            meta: Arc::new(BTreeMap::new()),
        }
    }

    pub fn applied_lsn(&self) -> Lsn {
        self.applied
    }

    pub fn table(&self, id: TableId) -> Option<&Table> {
        self.tables.get(&id)
    }

    pub fn table_by_name(&self, name: &str) -> Option<&Table> {
        self.names.get(name).and_then(|id| self.tables.get(id))
    }

    pub fn meta(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.meta
    }

    pub fn schema_of(&self, id: TableId) -> Option<SchemaRef> {
        self.tables.get(&id).map(|t| t.schema.clone())
    }

    /// Decodes and applies one log record; it must be the next one.
    pub fn apply_raw(&mut self, lsn: Lsn, kind: u8, payload: &[u8]) -> Result<Vec<InsertedRange>> {
        let record =
            Record::decode(kind, payload, |t| self.schema_of(t)).map_err(|e| Error::Apply {
                lsn,
                reason: e.to_string(),
            })?;
        self.apply(lsn, &record)
    }

    /// Applies the record at `lsn`, which must follow the last one applied.
    /// On error nothing has changed.
    pub fn apply(&mut self, lsn: Lsn, record: &Record) -> Result<Vec<InsertedRange>> {
        if lsn != self.applied + 1 {
            return Err(Error::Apply {
                lsn,
                reason: format!("expected lsn {}", self.applied + 1),
            });
        }
        let fail = |reason: String| Error::Apply { lsn, reason };
        let inserted = match record {
            Record::Txn(t) => {
                self.check_txn(t).map_err(fail)?;
                self.apply_txn(lsn, t).map_err(|e| fail(e.to_string()))?
            }
            Record::Ddl(d) => {
                self.apply_ddl(d).map_err(fail)?;
                Vec::new()
            }
        };
        self.applied = lsn;
        Ok(inserted)
    }

    fn check_txn(&self, t: &Txn) -> Result<(), String> {
        for op in &t.ops {
            match op {
                TxnOp::Insert { table, rows } => {
                    let tbl = self.tables.get(table).ok_or(format!("no table {table}"))?;
                    let ok = rows.num_columns() == tbl.schema.fields().len()
                        && rows
                            .schema()
                            .fields()
                            .iter()
                            .zip(tbl.schema.fields())
                            .all(|(a, b)| a.data_type() == b.data_type())
                        && rows
                            .columns()
                            .iter()
                            .zip(tbl.schema.fields())
                            .all(|(c, f)| f.is_nullable() || c.null_count() == 0);
                    if !ok {
                        return Err(format!("rows do not match the columns of table {table}"));
                    }
                }
                TxnOp::Delete { table, rows } => {
                    let tbl = self.tables.get(table).ok_or(format!("no table {table}"))?;
                    for a in rows {
                        if tbl.segment_rows(a.segment).is_none_or(|n| a.row >= n) {
                            return Err(format!(
                                "table {table} has no row {}:{}",
                                a.segment, a.row
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn apply_txn(&mut self, lsn: Lsn, t: &Txn) -> Result<Vec<InsertedRange>> {
        let mut inserted = Vec::new();
        for op in &t.ops {
            match op {
                TxnOp::Delete { table, rows } => {
                    let Some(tbl) = self.tables.get_mut(table) else {
                        continue;
                    };
                    for a in rows {
                        tbl.deletes.entry(a.segment).or_default().delete(lsn, a.row);
                    }
                }
                TxnOp::Insert { table, rows } => {
                    let mut done = 0usize;
                    while done < rows.num_rows() {
                        let Some(tbl) = self.tables.get_mut(table) else {
                            break;
                        };
                        let room =
                            tbl.def.segment_rows.saturating_sub(tbl.open.rows()).max(1) as usize;
                        let take = room.min(rows.num_rows() - done);
                        let part = RecordBatch::try_new(
                            tbl.schema.clone(),
                            rows.slice(done, take).columns().to_vec(),
                        )?;
                        let first = tbl.open.append(part)?;
                        inserted.push(InsertedRange {
                            table: *table,
                            first: RowAddr {
                                segment: tbl.open.id,
                                row: first,
                            },
                            count: take as u32,
                        });
                        done += take;
                        if tbl.open.rows() >= tbl.def.segment_rows {
                            let id = self.next_segment;
                            self.next_segment += 1;
                            let full = std::mem::replace(
                                &mut tbl.open,
                                OpenSegment::new(id, tbl.schema.clone()),
                            );
                            tbl.frozen.insert(full.id, Arc::new(full));
                        }
                    }
                }
            }
        }
        Ok(inserted)
    }

    fn apply_ddl(&mut self, d: &Ddl) -> Result<(), String> {
        match d {
            Ddl::CreateTable(def) => {
                if self.tables.contains_key(&def.id) {
                    return Err(format!("table id {} exists", def.id));
                }
                if self.names.contains_key(&def.name) {
                    return Err(format!("table {} exists", def.name));
                }
                if def.segment_rows == 0 {
                    return Err("segment_rows must be positive".into());
                }
                let seg = self.next_segment;
                self.next_segment += 1;
                self.names.insert(def.name.clone(), def.id);
                self.tables.insert(def.id, Table::new(def.clone(), seg));
            }
            Ddl::DropTable { table } => {
                let t = self
                    .tables
                    .remove(table)
                    .ok_or(format!("no table {table}"))?;
                self.names.remove(&t.def.name);
            }
            Ddl::TruncateTable { table } => {
                let seg = self.next_segment;
                let t = self
                    .tables
                    .get_mut(table)
                    .ok_or(format!("no table {table}"))?;
                self.next_segment += 1;
                t.sealed.clear();
                t.frozen.clear();
                t.deletes.clear();
                t.open = OpenSegment::new(seg, t.schema.clone());
            }
            Ddl::RenameTable { table, name } => {
                if self.names.contains_key(name) {
                    return Err(format!("table {name} exists"));
                }
                let t = self
                    .tables
                    .get_mut(table)
                    .ok_or(format!("no table {table}"))?;
                self.names.remove(&t.def.name);
                Arc::make_mut(&mut t.def).name = name.clone();
                self.names.insert(name.clone(), *table);
            }
            Ddl::ReplaceTable { old, new } => {
                if !self.tables.contains_key(new) {
                    return Err(format!("no table {new}"));
                }
                let gone = self.tables.remove(old).ok_or(format!("no table {old}"))?;
                self.names.remove(&gone.def.name);
                if let Some(t) = self.tables.get_mut(new) {
                    self.names.remove(&t.def.name);
                    Arc::make_mut(&mut t.def).name = gone.def.name.clone();
                    self.names.insert(gone.def.name.clone(), *new);
                }
            }
            Ddl::SetTableMeta { table, meta } => {
                let t = self
                    .tables
                    .get_mut(table)
                    .ok_or(format!("no table {table}"))?;
                Arc::make_mut(&mut t.def).meta = meta.clone();
            }
            Ddl::SegmentFlushed {
                table,
                segment,
                rows,
            } => {
                // A table dropped or truncated after its segment froze: the
                // flush is moot (deterministically so, on every node).
                let Some(t) = self.tables.get_mut(table) else {
                    return Ok(());
                };
                if let Some(s) = t.sealed.get(segment) {
                    // Already sealed by the checkpoint this state started from.
                    if s.rows != *rows {
                        return Err(format!("segment {segment} has {} rows, not {rows}", s.rows));
                    }
                    return Ok(());
                }
                if !t.frozen.contains_key(segment) {
                    return Ok(());
                }
                let sealed = SealedSegment::open(
                    self.store.as_ref(),
                    &sealed_key(*table, *segment),
                    &t.schema,
                )
                .map_err(|e| e.to_string())?;
                if sealed.rows != *rows {
                    return Err(format!(
                        "segment file {} has {} rows, not {rows}",
                        sealed.key, sealed.rows
                    ));
                }
                t.frozen.remove(segment);
                t.sealed.insert(*segment, Arc::new(sealed));
            }
            Ddl::SetMeta { key, value } => {
                let meta = Arc::make_mut(&mut self.meta);
                match value {
                    Some(v) => meta.insert(key.clone(), v.clone()),
                    None => meta.remove(key),
                };
            }
        }
        Ok(())
    }

    /// The frozen segments the primary still has to write: `(table, segment)`.
    pub fn frozen_segments(&self) -> Vec<(TableId, Arc<OpenSegment>)> {
        self.tables
            .values()
            .flat_map(|t| t.frozen.values().map(|f| (t.def.id, f.clone())))
            .collect()
    }

    /// A consistent, immutable view of everything up to the applied lsn.
    pub fn snapshot(&mut self) -> Snapshot {
        let lsn = self.applied;
        let tables = self
            .tables
            .iter_mut()
            .map(|(id, t)| {
                let mut deletes_at =
                    |seg: SegmentId| t.deletes.get_mut(&seg).and_then(|d| d.at(lsn));
                let mut segments = Vec::with_capacity(t.sealed.len() + t.frozen.len() + 1);
                for (sid, s) in &t.sealed {
                    segments.push(SegmentSnapshot {
                        id: *sid,
                        kind: SegmentKind::Sealed,
                        rows: s.rows,
                        batches: vec![s.batch.clone()],
                        deletes: deletes_at(*sid),
                        zones: Some(s.zones.clone()),
                        blocks: s.blocks.clone(),
                    });
                }
                for (sid, f) in &t.frozen {
                    segments.push(SegmentSnapshot {
                        id: *sid,
                        kind: SegmentKind::Frozen,
                        rows: f.rows(),
                        batches: f.chunks().to_vec(),
                        deletes: deletes_at(*sid),
                        zones: None,
                        blocks: f.blocks().clone(),
                    });
                }
                segments.push(SegmentSnapshot {
                    id: t.open.id,
                    kind: SegmentKind::Open,
                    rows: t.open.rows(),
                    batches: t.open.chunks().to_vec(),
                    deletes: deletes_at(t.open.id),
                    zones: None,
                    blocks: t.open.blocks().clone(),
                });
                let snap = TableSnapshot {
                    def: t.def.clone(),
                    schema: t.schema.clone(),
                    segments,
                };
                (*id, snap)
            })
            .collect();
        Snapshot {
            lsn,
            next_segment: self.next_segment,
            tables,
            meta: self.meta.clone(),
        }
    }

    /// Rebuilds a state from a checkpoint's parts (see `checkpoint`).
    pub(crate) fn restore(
        store: Arc<dyn BlobStore>,
        applied: Lsn,
        next_segment: SegmentId,
        tables: Vec<Table>,
        meta: BTreeMap<String, Vec<u8>>,
    ) -> State {
        let names = tables
            .iter()
            .map(|t| (t.def.name.clone(), t.def.id))
            .collect();
        State {
            store,
            applied,
            next_segment,
            tables: tables.into_iter().map(|t| (t.def.id, t)).collect(),
            names,
            meta: Arc::new(meta),
        }
    }
}

impl Table {
    pub(crate) fn restored(
        def: TableDef,
        sealed: Vec<SealedSegment>,
        open: OpenSegment,
        deletes: HashMap<SegmentId, DeleteVector>,
    ) -> Table {
        let schema = def.arrow_schema();
        Table {
            def: Arc::new(def),
            schema,
            sealed: sealed.into_iter().map(|s| (s.id, Arc::new(s))).collect(),
            frozen: BTreeMap::new(),
            open,
            deletes,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentKind {
    Sealed,
    Frozen,
    Open,
}

#[derive(Clone, Debug)]
pub struct SegmentSnapshot {
    pub id: SegmentId,
    pub kind: SegmentKind,
    pub rows: u32,
    /// The rows `0..rows` in order, zero-copy.
    pub batches: Vec<RecordBatch>,
    /// Deleted rows as of the snapshot's lsn.
    pub deletes: Option<Arc<RoaringBitmap>>,
    pub zones: Option<Arc<Vec<ColumnZone>>>,
    /// Zone maps per block of `BLOCK_ROWS` rows, as far as they go.
    pub blocks: BlockZones,
}

#[derive(Clone, Debug)]
pub struct TableSnapshot {
    pub def: Arc<TableDef>,
    pub schema: SchemaRef,
    pub segments: Vec<SegmentSnapshot>,
}

impl TableSnapshot {
    /// Whether the row at `addr` exists and is not deleted in this snapshot.
    pub fn is_live(&self, addr: RowAddr) -> bool {
        self.segments
            .iter()
            .find(|s| s.id == addr.segment)
            .is_some_and(|s| {
                addr.row < s.rows && !s.deletes.as_ref().is_some_and(|d| d.contains(addr.row))
            })
    }

    pub fn live_rows(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.rows as u64 - s.deletes.as_ref().map_or(0, |d| d.len()))
            .sum()
    }
}

/// Everything a query or a checkpoint needs, as of one lsn.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub lsn: Lsn,
    pub next_segment: SegmentId,
    pub tables: BTreeMap<TableId, TableSnapshot>,
    pub meta: Arc<BTreeMap<String, Vec<u8>>>,
}

impl Snapshot {
    pub fn table_by_name(&self, name: &str) -> Option<&TableSnapshot> {
        self.tables.values().find(|t| t.def.name == name)
    }
}

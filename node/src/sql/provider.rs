//! DataFusion over floe's storage: a catalog whose schemas are databases and
//! whose tables scan one snapshot (plus, inside a transaction, its own
//! uncommitted writes). Scans hand DataFusion the segments' Arrow arrays
//! as they are; only segments with deleted rows are filtered (copied).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBufferBuilder, RecordBatch, RecordBatchOptions,
    UInt64Array,
};
use arrow::compute::{filter_record_batch, interleave};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use floe_storage::segment::{BLOCK_ROWS, ZoneValue};
use floe_storage::state::TableSnapshot;
use floe_storage::{Snapshot, TableId};
use roaring::RoaringBitmap;

use super::catalog::{self, TableMeta};
use super::prune::SegmentScan;

/// The hidden column DML scans add: where each row lives.
pub const ROWID: &str = "__floe_rowid";
/// Row ids of a transaction's own, uncommitted rows have this bit set.
pub const PENDING: u64 = 1 << 63;

pub fn rowid(segment: u64, row: u32) -> u64 {
    (segment << 32) | row as u64
}

/// The address of a committed row id (the inverse of [`rowid`]).
pub fn addr(id: u64) -> floe_storage::RowAddr {
    floe_storage::RowAddr {
        segment: id >> 32,
        row: id as u32,
    }
}

/// A transaction's writes not yet committed, as its own queries must see them.
#[derive(Clone, Debug, Default)]
pub struct Overlay {
    pub deleted: HashMap<TableId, Arc<HashSet<u64>>>,
    pub inserted: HashMap<TableId, Vec<RecordBatch>>,
}

/// What the statement being planned reads.
#[derive(Clone)]
pub struct View {
    pub snap: Arc<Snapshot>,
    pub overlay: Option<Arc<Overlay>>,
    pub with_rowid: bool,
    /// A key lookup found the only committed rows of this table the
    /// statement can touch: scan just those (and the transaction's own).
    pub only: Option<(TableId, Arc<Vec<u64>>)>,
    /// Every committed row `only` names satisfies the statement's WHERE
    /// clause (it was all key conditions).
    pub exact: bool,
}

pub type ViewCell = Arc<RwLock<View>>;

fn current(cell: &ViewCell) -> View {
    cell.read().unwrap_or_else(|e| e.into_inner()).clone()
}

#[derive(Debug)]
pub struct FloeCatalog {
    pub view: ViewCell,
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "View(lsn {})", self.snap.lsn)
    }
}

impl CatalogProvider for FloeCatalog {
    fn schema_names(&self) -> Vec<String> {
        catalog::databases(&current(&self.view).snap.meta)
            .into_iter()
            .filter(|d| !catalog::SYSTEM_DATABASES.contains(&d.as_str()))
            .collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        let view = current(&self.view);
        if !catalog::database_exists(&view.snap.meta, name) || name == "information_schema" {
            return None;
        }
        Some(Arc::new(FloeSchema {
            db: name.to_string(),
            view: self.view.clone(),
        }))
    }
}

#[derive(Debug)]
struct FloeSchema {
    db: String,
    view: ViewCell,
}

#[async_trait]
impl SchemaProvider for FloeSchema {
    fn table_names(&self) -> Vec<String> {
        catalog::tables_of(&current(&self.view).snap, &self.db)
            .into_iter()
            .map(|t| t.meta.name.clone())
            .collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        let view = current(&self.view);
        let Some(t) = catalog::find_table(&view.snap, &self.db, name) else {
            return Ok(None);
        };
        let Some(snap) = view.snap.tables.get(&t.id) else {
            return Ok(None);
        };
        Ok(Some(Arc::new(SnapshotTable::new(
            t.meta,
            snap.clone(),
            &view,
        ))))
    }

    fn table_exist(&self, name: &str) -> bool {
        catalog::find_table(&current(&self.view).snap, &self.db, name).is_some()
    }
}

#[derive(Debug)]
pub struct SnapshotTable {
    schema: SchemaRef,
    data: TableSnapshot,
    deleted: Option<Arc<HashSet<u64>>>,
    /// `deleted`'s committed rows by segment, for scans.
    deleted_rows: HashMap<u64, RoaringBitmap>,
    inserted: Vec<RecordBatch>,
    with_rowid: bool,
    only: Option<Arc<Vec<u64>>>,
}

impl SnapshotTable {
    pub fn new(meta: Arc<TableMeta>, data: TableSnapshot, view: &View) -> SnapshotTable {
        let base = meta.schema();
        let schema = if view.with_rowid {
            let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
            fields.push(Field::new(ROWID, DataType::UInt64, false));
            Arc::new(Schema::new(fields))
        } else {
            base
        };
        let id = data.def.id;
        let overlay = view.overlay.as_ref();
        let deleted = overlay.and_then(|o| o.deleted.get(&id).cloned());
        let mut deleted_rows: HashMap<u64, RoaringBitmap> = HashMap::new();
        for &d in deleted.iter().flat_map(|d| d.iter()) {
            if d & PENDING == 0 {
                let a = addr(d);
                deleted_rows.entry(a.segment).or_default().insert(a.row);
            }
        }
        SnapshotTable {
            schema,
            deleted,
            deleted_rows,
            inserted: overlay
                .and_then(|o| o.inserted.get(&id).cloned())
                .unwrap_or_default(),
            only: view
                .only
                .as_ref()
                .filter(|(t, _)| *t == id)
                .map(|(_, rows)| rows.clone()),
            data,
            with_rowid: view.with_rowid,
        }
    }

    /// The committed rows `ids` the view keeps (live in the snapshot, not
    /// deleted by the transaction), in that order, as one batch of the
    /// columns `projection` picks (all when `None`).
    fn chosen_rows(
        &self,
        ids: &[u64],
        projection: Option<&[usize]>,
    ) -> Result<Option<RecordBatch>> {
        // Every batch of a segment that holds a chosen row, and where each
        // of the segment's batches starts.
        let mut sources: Vec<&RecordBatch> = Vec::new();
        let mut located: HashMap<u64, (usize, Vec<u32>)> = HashMap::new();
        let mut picks = Vec::with_capacity(ids.len());
        let mut kept = Vec::with_capacity(ids.len());
        for &id in ids {
            if self.deleted.as_ref().is_some_and(|d| d.contains(&id)) {
                continue;
            }
            let a = addr(id);
            let Some(seg) = self.data.segments.iter().find(|s| s.id == a.segment) else {
                continue;
            };
            if a.row >= seg.rows || seg.deletes.as_ref().is_some_and(|d| d.contains(a.row)) {
                continue;
            }
            let (base, starts) = located.entry(seg.id).or_insert_with(|| {
                let base = sources.len();
                let mut starts = Vec::with_capacity(seg.batches.len());
                let mut first = 0u32;
                for b in &seg.batches {
                    sources.push(b);
                    starts.push(first);
                    first += b.num_rows() as u32;
                }
                (base, starts)
            });
            let i = starts.partition_point(|&s| s <= a.row).saturating_sub(1);
            picks.push((*base + i, (a.row - starts[i]) as usize));
            kept.push(id);
        }
        if picks.is_empty() {
            return Ok(None);
        }
        let stored = self.schema.fields().len() - usize::from(self.with_rowid);
        let all: Vec<usize> = (0..self.schema.fields().len()).collect();
        let projection = projection.unwrap_or(&all);
        let mut columns = Vec::with_capacity(projection.len());
        let mut kept = Some(kept);
        for &c in projection {
            if c < stored {
                let arrays: Vec<&dyn Array> =
                    sources.iter().map(|b| b.column(c).as_ref()).collect();
                columns.push(interleave(&arrays, &picks)?);
            } else {
                let ids = kept.take().unwrap_or_default();
                columns.push(Arc::new(UInt64Array::from(ids)) as ArrayRef);
            }
        }
        let schema = Arc::new(self.schema.project(projection)?);
        let options = RecordBatchOptions::new().with_row_count(Some(picks.len()));
        Ok(Some(RecordBatch::try_new_with_options(
            schema, columns, &options,
        )?))
    }

    /// The columns `projection` picks of every row the view gives this
    /// table; only for a view confined to a key range (`View::only`).
    pub fn rows(&self, projection: &[usize]) -> Result<Vec<RecordBatch>> {
        let Some(only) = &self.only else {
            return Err(DataFusionError::Internal(
                "rows of a table not confined to a key range".into(),
            ));
        };
        let mut out = Vec::new();
        if let Some(rows) = self.chosen_rows(only, Some(projection))? {
            out.push(rows);
        }
        for b in self.own_rows()? {
            out.push(b.project(projection)?);
        }
        Ok(out)
    }

    /// How many rows a scan gives at most (deleted rows of the transaction
    /// are still counted).
    pub fn rows_at_most(&self) -> u64 {
        let own: usize = self.inserted.iter().map(RecordBatch::num_rows).sum();
        self.data.live_rows() + own as u64
    }

    /// The smallest and largest value of integer (or DATE) column `column`
    /// over every row a scan could give, deleted ones included, so a bound
    /// rather than the exact extremes; `None` for other types, or when no
    /// row has a value. Sealed segments answer from their zone maps; the
    /// open segment and the transaction's rows are read.
    pub fn integer_range(&self, column: usize) -> Option<(i128, i128)> {
        let ty = self.schema.fields().get(column)?.data_type();
        if !(ty.is_integer() || *ty == DataType::Date32) {
            return None;
        }
        let mut range: Option<(i128, i128)> = None;
        let mut widen = |lo: i128, hi: i128| {
            range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
        };
        for seg in &self.data.segments {
            match &seg.zones {
                Some(zones) => {
                    let zone = zones.get(column)?;
                    match (&zone.min, &zone.max) {
                        (Some(lo), Some(hi)) => widen(zone_int(lo)?, zone_int(hi)?),
                        // A zone without bounds is all NULL (or empty).
                        _ if zone.nulls >= seg.rows as u64 => {}
                        _ => return None,
                    }
                }
                None => {
                    for b in &seg.batches {
                        if let Some((lo, hi)) = array_range(b.column(column).as_ref()) {
                            widen(lo, hi);
                        }
                    }
                }
            }
        }
        for b in &self.inserted {
            if let Some((lo, hi)) = array_range(b.column(column).as_ref()) {
                widen(lo, hi);
            }
        }
        range
    }

    /// Whether the transaction has rows of its own in this table.
    pub fn has_own_rows(&self) -> bool {
        self.inserted.iter().any(|b| b.num_rows() > 0)
    }

    /// The transaction's own rows of this table it has not deleted again.
    fn own_rows(&self) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        let mut pending = 0u64;
        for b in &self.inserted {
            let n = b.num_rows();
            let mut columns: Vec<ArrayRef> = b.columns().to_vec();
            if self.with_rowid {
                columns.push(Arc::new(UInt64Array::from_iter_values(
                    (0..n as u64).map(|i| PENDING | (pending + i)),
                )));
            }
            pending += n as u64;
            let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
            let keep: BooleanArray = (0..n as u64)
                .map(|i| {
                    Some(
                        !self
                            .deleted
                            .as_ref()
                            .is_some_and(|d| d.contains(&(PENDING | (pending - n as u64 + i)))),
                    )
                })
                .collect();
            let batch = filter_record_batch(&batch, &keep)?;
            if batch.num_rows() > 0 {
                out.push(batch);
            }
        }
        Ok(out)
    }

    /// `batch` (rows `first..` of `segment`) with deleted rows removed and
    /// the row id column added when asked for.
    fn prepare(
        &self,
        batch: &RecordBatch,
        segment: u64,
        first: u32,
        deletes: Option<&RoaringBitmap>,
    ) -> Result<Option<RecordBatch>> {
        let n = batch.num_rows() as u32;
        // Which rows go: found from the (few) deleted rows, not by asking
        // about every row.
        let mut keep: Option<BooleanBufferBuilder> = None;
        let mut gone = |r: u32| {
            keep.get_or_insert_with(|| {
                let mut b = BooleanBufferBuilder::new(n as usize);
                b.append_n(n as usize, true);
                b
            })
            .set_bit(r as usize, false)
        };
        if let Some(d) = deletes {
            d.range(first..first + n).for_each(|row| gone(row - first));
        }
        if let Some(d) = self.deleted_rows.get(&segment) {
            d.range(first..first + n).for_each(|row| gone(row - first));
        }
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        if self.with_rowid {
            columns.push(Arc::new(UInt64Array::from_iter_values(
                (0..n).map(|r| rowid(segment, first + r)),
            )));
        }
        let out = RecordBatch::try_new(self.schema.clone(), columns)?;
        let Some(mut keep) = keep else {
            return Ok(Some(out));
        };
        let kept = filter_record_batch(&out, &BooleanArray::new(keep.finish(), None))?;
        Ok((kept.num_rows() > 0).then_some(kept))
    }

    /// The rows to scan in `target` partitions of consecutive batches (so
    /// that the partitions read in turn give the table's order); segments
    /// whose zone maps rule out every row (`scan[i] == false`) are skipped.
    fn partitions(&self, target: usize, scan: &[SegmentScan]) -> Result<Vec<Vec<RecordBatch>>> {
        let mut batches = Vec::new();
        if let Some(only) = &self.only
            && let Some(rows) = self.chosen_rows(only, None)?
        {
            batches.push(rows);
        }
        for (i, seg) in self.data.segments.iter().enumerate() {
            let scan = scan.get(i);
            if self.only.is_some() || scan.is_some_and(|s| !s.any()) {
                continue;
            }
            let mut first = 0usize;
            for b in &seg.batches {
                // Handed on block by block (zero-copy slices, cache-sized:
                // sealed segments are one batch of up to a million rows),
                // skipping the blocks pruning ruled out.
                let mut at = 0;
                while at < b.num_rows() {
                    let row = first + at;
                    let n = (BLOCK_ROWS - row % BLOCK_ROWS).min(b.num_rows() - at);
                    if scan.is_none_or(|s| s.reads(row)) {
                        let piece = b.slice(at, n);
                        let piece =
                            self.prepare(&piece, seg.id, row as u32, seg.deletes.as_deref())?;
                        batches.extend(piece);
                    }
                    at += n;
                }
                first += b.num_rows();
            }
        }
        batches.extend(self.own_rows()?);
        if batches.is_empty() {
            return Ok(vec![Vec::new()]);
        }
        let per = batches.len().div_ceil(target.max(1));
        Ok(batches.chunks(per).map(<[RecordBatch]>::to_vec).collect())
    }
}

fn zone_int(v: &ZoneValue) -> Option<i128> {
    match v {
        ZoneValue::Int(i) => Some(*i as i128),
        ZoneValue::UInt(u) => Some(*u as i128),
        _ => None,
    }
}

/// The smallest and largest non-NULL value of an integer or DATE array.
fn array_range(a: &dyn Array) -> Option<(i128, i128)> {
    use arrow::compute::{max, min};
    use arrow::datatypes::*;
    fn of<T: ArrowNumericType>(a: &dyn Array) -> Option<(i128, i128)>
    where
        T::Native: Into<i128>,
    {
        let a = a.as_primitive_opt::<T>()?;
        Some((min(a)?.into(), max(a)?.into()))
    }
    match a.data_type() {
        DataType::Int8 => of::<Int8Type>(a),
        DataType::Int16 => of::<Int16Type>(a),
        DataType::Int32 => of::<Int32Type>(a),
        DataType::Int64 => of::<Int64Type>(a),
        DataType::UInt8 => of::<UInt8Type>(a),
        DataType::UInt16 => of::<UInt16Type>(a),
        DataType::UInt32 => of::<UInt32Type>(a),
        DataType::UInt64 => of::<UInt64Type>(a),
        DataType::Date32 => of::<Date32Type>(a),
        _ => None,
    }
}

#[async_trait]
impl TableProvider for SnapshotTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// Filters are used to skip segments by their zone maps; DataFusion
    /// still applies them to the rows (hence `Inexact`).
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let target = state.config().target_partitions();
        let scan =
            super::prune::segments_to_scan(state, &self.schema, &self.data.segments, filters);
        let parts = self.partitions(target, &scan)?;
        let source = MemorySourceConfig::try_new(&parts, self.schema.clone(), projection.cloned())
            .map_err(|e| DataFusionError::Plan(e.to_string()))?;
        Ok(DataSourceExec::from_data_source(source))
    }
}

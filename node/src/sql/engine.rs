//! A node's SQL engine: sessions over the volume's state. On the primary it
//! owns the volume writer, unique-key indexes over row addresses, and the
//! commit path (validate, append, wait durable, apply) under one write lock;
//! on a reader it reads a replica that follows the log and refuses writes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::concat_batches;
use arrow::row::{RowConverter, SortField};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use floe_storage::record::Ddl;
use floe_storage::replica::Replica;
use floe_storage::state::State;
use floe_storage::writer::VolumeWriter;
use floe_storage::{Lsn, Record, Snapshot, TableId, Txn, TxnOp};

use super::catalog::{self, Account, TableMeta};
use super::keyrange::{self, KeyBounds};
use super::provider::{PENDING, addr, rowid};
use super::session::SqlSession;
use crate::mysql::auth::{Credentials, Plugin};
use crate::mysql::{Engine, SessionContext, SqlError};

/// Writes of one transaction, not yet committed.
#[derive(Clone, Debug, Default)]
pub struct WriteSet {
    /// Row ids of committed rows this transaction deletes (updates delete too).
    pub deletes: BTreeMap<TableId, Vec<u64>>,
    pub inserts: BTreeMap<TableId, Vec<RecordBatch>>,
}

impl WriteSet {
    pub fn is_empty(&self) -> bool {
        self.deletes.values().all(Vec::is_empty)
            && self
                .inserts
                .values()
                .all(|b| b.iter().all(|b| b.num_rows() == 0))
    }
}

/// One unique key's index: encoded key -> row id, in key order (the
/// encoding preserves the columns' order, so ranges of keys are ranges here).
struct KeyIndex {
    name: String,
    columns: Vec<usize>,
    converter: RowConverter,
    map: BTreeMap<Vec<u8>, u64>,
}

/// Primary keys that stopped naming the row they named (deleted or
/// updated rows), with the lsn of the change: a snapshot older than the
/// change still sees the old row, which the index has forgotten.
const MAX_CHANGED_KEYS: usize = 1 << 16;

struct TableKeys {
    /// The table's SQL name, for duplicate-key messages.
    name: String,
    keys: Vec<KeyIndex>,
    /// The next AUTO_INCREMENT value (never reused, even after a rollback).
    next_auto: i128,
    /// Primary keys changed after `horizon`, with the lsn of their last change.
    changed: BTreeMap<Vec<u8>, Lsn>,
    /// Changes up to this lsn are not in `changed`: older snapshots cannot
    /// use the index.
    horizon: Lsn,
}

impl TableKeys {
    fn primary(&self) -> Option<&KeyIndex> {
        self.keys.first().filter(|k| k.name == "PRIMARY")
    }

    /// Notes that primary key `key` changed at `lsn`.
    fn changed(&mut self, key: Vec<u8>, lsn: Lsn) {
        if self.changed.len() >= MAX_CHANGED_KEYS {
            self.changed.clear();
            self.horizon = lsn;
        }
        self.changed.insert(key, lsn);
    }
}

#[derive(Default)]
pub struct WriteState {
    tables: HashMap<TableId, TableKeys>,
}

/// Where a node's state comes from.
pub enum Source {
    /// The primary: the volume's one writer.
    Writer(Arc<VolumeWriter>),
    /// A reader: a replica following the log.
    Replica(Arc<Replica>),
}

pub struct SqlEngine {
    pub source: Source,
    /// The node's WebAssembly plugins (functions installed in the catalog).
    pub plugins: Arc<crate::wasm::Plugins>,
    write: tokio::sync::Mutex<WriteState>,
    pub started: Instant,
    /// Point lookups answered from the key index (SHOW STATUS).
    pub point_lookups: std::sync::atomic::AtomicU64,
    /// Statements whose scan the primary-key index narrowed (SHOW STATUS).
    pub key_range_reads: std::sync::atomic::AtomicU64,
}

pub fn deadlock() -> SqlError {
    SqlError::new(
        1213,
        "40001",
        "Deadlock found when trying to get lock; try restarting transaction",
    )
}

fn key_text(columns: &[ArrayRef], row: usize) -> String {
    let opts = FormatOptions::default().with_null("NULL");
    columns
        .iter()
        .map(|c| {
            ArrayFormatter::try_new(c.as_ref(), &opts)
                .map(|f| f.value(row).to_string())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

impl KeyIndex {
    fn new(name: String, columns: Vec<usize>, meta: &TableMeta) -> Result<KeyIndex, SqlError> {
        let fields = columns
            .iter()
            .map(|&c| SortField::new(meta.columns[c].ty.storage.data_type()))
            .collect();
        Ok(KeyIndex {
            name,
            columns,
            converter: RowConverter::new(fields).map_err(|e| SqlError::internal(e.to_string()))?,
            map: BTreeMap::new(),
        })
    }

    /// ER_DUP_ENTRY for row `r` of `batch` in table `table`.
    fn duplicate(&self, table: &str, batch: &RecordBatch, r: usize) -> SqlError {
        let cols: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|&c| batch.column(c).clone())
            .collect();
        SqlError::new(
            1062,
            "23000",
            format!(
                "Duplicate entry '{}' for key '{table}.{}'",
                key_text(&cols, r),
                self.name
            ),
        )
    }

    /// Encoded keys of every row of `batch` (`None` where a key column is NULL:
    /// NULLs never collide in a unique key).
    fn encode(&self, batch: &RecordBatch) -> Result<Vec<Option<Vec<u8>>>, SqlError> {
        let cols: Vec<ArrayRef> = self
            .columns
            .iter()
            .map(|&c| batch.column(c).clone())
            .collect();
        let rows = self
            .converter
            .convert_columns(&cols)
            .map_err(|e| SqlError::internal(e.to_string()))?;
        Ok((0..batch.num_rows())
            .map(|i| (!cols.iter().any(|c| c.is_null(i))).then(|| rows.row(i).as_ref().to_vec()))
            .collect())
    }
}

impl SqlEngine {
    pub fn new(source: Source, plugins: Arc<crate::wasm::Plugins>) -> SqlEngine {
        SqlEngine {
            source,
            plugins,
            write: tokio::sync::Mutex::new(WriteState::default()),
            started: Instant::now(),
            point_lookups: Default::default(),
            key_range_reads: Default::default(),
        }
    }

    /// Creates `root`@`localhost` with an empty password on a new volume
    /// (like `mysqld --initialize-insecure`).
    pub fn bootstrap(&self) -> Result<(), SqlError> {
        if self.with_meta(|m| !catalog::accounts(m).is_empty()) {
            return Ok(());
        }
        let mut root = Account::new("root", "localhost", Plugin::Native, "");
        root.grants
            .push(("*".into(), vec!["ALL PRIVILEGES".into()]));
        self.writer()?
            .commit(&Record::Ddl(root.record()))
            .map_err(storage_error)?;
        Ok(())
    }

    /// Removes what an interrupted ALTER TABLE left behind.
    pub fn clean_up(&self) -> Result<(), SqlError> {
        for table in super::alter::leftovers(&self.snapshot()) {
            tracing::info!(table, "dropping the leftover of an interrupted ALTER TABLE");
            self.writer()?
                .commit(&Record::Ddl(Ddl::DropTable { table }))
                .map_err(storage_error)?;
        }
        Ok(())
    }

    /// Drops cached key indexes of `tables` (they are rebuilt when next used).
    pub fn forget_keys(&self, w: &mut WriteState, tables: &[TableId]) {
        for t in tables {
            w.tables.remove(t);
        }
    }

    /// The volume writer; on a reader, MySQL's read-only error naming the primary.
    pub fn writer(&self) -> Result<&Arc<VolumeWriter>, SqlError> {
        match &self.source {
            Source::Writer(w) => Ok(w),
            Source::Replica(r) => Err(read_only(r)),
        }
    }

    pub fn volume(&self) -> &floe_storage::Volume {
        match &self.source {
            Source::Writer(w) => w.volume(),
            Source::Replica(r) => r.volume(),
        }
    }

    pub fn is_reader(&self) -> bool {
        matches!(self.source, Source::Replica(_))
    }

    /// `floe_%` status variables: the role, the log position, and lag (on a
    /// reader) or the readers following (on the primary).
    pub fn floe_status(&self) -> Vec<(&'static str, String)> {
        match &self.source {
            Source::Writer(w) => {
                let readers =
                    crate::nodes::readers(w.volume().store().as_ref()).map_or(0, |r| r.len());
                vec![
                    ("floe_role", "primary".into()),
                    (
                        "floe_applied_lsn",
                        w.with_state(|s| s.applied_lsn()).to_string(),
                    ),
                    ("floe_durable_lsn", w.log().durable_lsn().to_string()),
                    ("floe_lag_ms", "0".into()),
                    ("floe_lag_bytes", "0".into()),
                    ("floe_readers", readers.to_string()),
                    (
                        "floe_point_lookups",
                        self.point_lookups
                            .load(std::sync::atomic::Ordering::Relaxed)
                            .to_string(),
                    ),
                    (
                        "floe_key_range_reads",
                        self.key_range_reads
                            .load(std::sync::atomic::Ordering::Relaxed)
                            .to_string(),
                    ),
                ]
            }
            Source::Replica(r) => {
                let p = r.progress();
                let primary = crate::nodes::primary_addr(r.volume().store().as_ref());
                vec![
                    ("floe_role", "reader".into()),
                    ("floe_applied_lsn", p.applied.to_string()),
                    ("floe_durable_lsn", p.durable.to_string()),
                    ("floe_lag_ms", p.lag.as_millis().to_string()),
                    ("floe_lag_bytes", p.lag_bytes.to_string()),
                    (
                        "floe_last_apply_delay_us",
                        p.last_apply_delay.as_micros().to_string(),
                    ),
                    ("floe_primary", primary.unwrap_or_default()),
                    ("floe_follow_error", p.error.unwrap_or_default()),
                ]
            }
        }
    }

    /// The error a write gets on a read-only node.
    pub fn refuse_write(&self) -> Result<(), SqlError> {
        self.writer().map(|_| ())
    }

    pub fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        match &self.source {
            Source::Writer(w) => w.with_state(f),
            Source::Replica(r) => r.with_state(f),
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        Arc::new(match &self.source {
            Source::Writer(w) => w.snapshot(),
            Source::Replica(r) => r.snapshot(),
        })
    }

    /// The SQL definition of `db`.`name` as of now (no snapshot built).
    pub fn table(&self, db: &str, name: &str) -> Result<catalog::TableRef, SqlError> {
        self.with_state(|s| catalog::live_table(s, db, name))
    }

    /// Reads the node-level catalog (databases, accounts) without building a snapshot.
    pub fn with_meta<R>(
        &self,
        f: impl FnOnce(&std::collections::BTreeMap<String, Vec<u8>>) -> R,
    ) -> R {
        self.with_state(|s| f(s.meta()))
    }

    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, WriteState> {
        self.write.lock().await
    }

    /// Applies a catalog change (DDL, accounts) durably.
    pub async fn ddl(&self, ddl: Ddl) -> Result<(), SqlError> {
        let mut w = self.write.lock().await;
        if let Ddl::DropTable { table }
        | Ddl::TruncateTable { table }
        | Ddl::SetTableMeta { table, .. } = &ddl
        {
            w.tables.remove(table);
        }
        self.writer()?
            .commit_async(&Record::Ddl(ddl))
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    /// Creates a table; its id is the lsn it is created at, so ids never repeat.
    pub async fn create_table(&self, meta: &TableMeta) -> Result<TableId, SqlError> {
        let _w = self.write.lock().await;
        let snap = self.snapshot();
        if catalog::find_table(&snap, &meta.db, &meta.name).is_some() {
            return Err(SqlError::new(
                1050,
                "42S01",
                format!("Table '{}' already exists", meta.name),
            ));
        }
        let id = snap.lsn + 1;
        self.writer()?
            .commit_async(&Record::Ddl(Ddl::CreateTable(meta.to_def(id))))
            .await
            .map_err(storage_error)?;
        Ok(id)
    }

    fn keys<'a>(
        &self,
        w: &'a mut WriteState,
        snap: &Snapshot,
        table: TableId,
    ) -> Result<&'a mut TableKeys, SqlError> {
        use std::collections::hash_map::Entry;
        let slot = match w.tables.entry(table) {
            Entry::Occupied(o) => return Ok(o.into_mut()),
            Entry::Vacant(v) => v,
        };
        {
            let t = snap
                .tables
                .get(&table)
                .ok_or_else(|| SqlError::new(1146, "42S02", "Table doesn't exist"))?;
            let meta = TableMeta::from_def(&t.def)?;
            let mut keys = Vec::new();
            for (name, cols) in meta.unique_keys() {
                keys.push(KeyIndex::new(name, cols, &meta)?);
            }
            let auto = meta.auto_increment();
            let mut next_auto: i128 = 1;
            for seg in &t.segments {
                let mut first = 0u32;
                for b in &seg.batches {
                    let deleted =
                        |r: u32| seg.deletes.as_ref().is_some_and(|d| d.contains(first + r));
                    for k in keys.iter_mut() {
                        for (r, key) in k.encode(b)?.into_iter().enumerate() {
                            if let Some(key) = key
                                && !deleted(r as u32)
                            {
                                k.map.insert(key, rowid(seg.id, first + r as u32));
                            }
                        }
                    }
                    if let Some(a) = auto {
                        next_auto = next_auto.max(super::dml::max_int(b.column(a)) + 1);
                    }
                    first += b.num_rows() as u32;
                }
            }
            Ok(slot.insert(TableKeys {
                name: meta.name,
                keys,
                next_auto,
                changed: BTreeMap::new(),
                horizon: snap.lsn,
            }))
        }
    }

    /// The committed row id holding primary key `key` (one value per key
    /// column) in `table`, if any, from the key index.
    pub async fn find_primary_key(
        &self,
        table: TableId,
        key: ArrayRef,
    ) -> Result<Option<u64>, SqlError> {
        let mut w = self.write.lock().await;
        self.primary_key_row(&mut w, table, key)
    }

    /// [`SqlEngine::find_primary_key`] for a caller holding the write lock.
    pub fn primary_key_row(
        &self,
        w: &mut WriteState,
        table: TableId,
        key: ArrayRef,
    ) -> Result<Option<u64>, SqlError> {
        if !w.tables.contains_key(&table) {
            // First use: build the index from the newest snapshot.
            self.keys(w, &self.snapshot(), table)?;
        }
        let Some(pk) = w.tables.get(&table).and_then(TableKeys::primary) else {
            return Ok(None);
        };

        let rows = pk
            .converter
            .convert_columns(&[key])
            .map_err(|e| SqlError::internal(e.to_string()))?;
        Ok(pk.map.get(rows.row(0).as_ref()).copied())
    }

    /// Row ids of `table`'s rows that are live in `snap` and whose primary
    /// key is within `bounds`, in key order; `None` when the index cannot
    /// tell exactly for `snap` (a key in range changed after it) or more
    /// than `max` keys are in range. The caller holds the write lock and
    /// took `snap` before it, so the index is at least as new as `snap`.
    pub fn primary_key_rows(
        &self,
        w: &mut WriteState,
        snap: &Snapshot,
        table: TableId,
        bounds: &KeyBounds,
        max: usize,
    ) -> Result<Option<Vec<u64>>, SqlError> {
        if !w.tables.contains_key(&table) {
            self.keys(w, &self.snapshot(), table)?;
        }
        let (Some(keys), Some(tsnap)) = (w.tables.get(&table), snap.tables.get(&table)) else {
            return Ok(None);
        };
        let Some(pk) = keys.primary() else {
            return Ok(None);
        };
        if snap.lsn < keys.horizon {
            return Ok(None);
        }
        let newer = |lsn: &Lsn| *lsn > snap.lsn;
        let live = |id: &u64| tsnap.is_live(addr(*id));
        let ids: Vec<u64> = match bounds {
            KeyBounds::Points(points) => {
                if points.len() > max
                    || points
                        .iter()
                        .any(|p| keys.changed.get(p).is_some_and(newer))
                {
                    return Ok(None);
                }
                points
                    .iter()
                    .filter_map(|p| pk.map.get(p).copied())
                    .filter(live)
                    .collect()
            }
            KeyBounds::Range(lo, hi) => {
                if keyrange::is_empty(lo, hi) {
                    self.key_range_reads
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(Some(Vec::new()));
                }
                let range = (lo.clone(), hi.clone());
                let in_range: Vec<u64> = pk
                    .map
                    .range(range.clone())
                    .take(max + 1)
                    .map(|(_, id)| *id)
                    .collect();
                if in_range.len() > max || keys.changed.range(range).any(|(_, l)| newer(l)) {
                    return Ok(None);
                }
                in_range.into_iter().filter(live).collect()
            }
        };
        self.key_range_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Some(ids))
    }

    /// Reserves `n` AUTO_INCREMENT values; returns the first.
    pub fn reserve_auto(
        &self,
        w: &mut WriteState,
        snap: &Snapshot,
        table: TableId,
        n: u64,
    ) -> Result<i128, SqlError> {
        let k = self.keys(w, snap, table)?;
        let first = k.next_auto;
        k.next_auto = first + n as i128;
        Ok(first)
    }

    /// Explicit AUTO_INCREMENT values push the counter past them.
    pub fn saw_auto(
        &self,
        w: &mut WriteState,
        snap: &Snapshot,
        table: TableId,
        value: i128,
    ) -> Result<(), SqlError> {
        let k = self.keys(w, snap, table)?;
        k.next_auto = k.next_auto.max(value + 1);
        Ok(())
    }

    /// The committed row id holding `batch`'s row `row` key in `table`'s
    /// unique keys, if any (for REPLACE, IGNORE and ON DUPLICATE KEY UPDATE).
    pub fn find_duplicate(
        &self,
        w: &mut WriteState,
        snap: &Snapshot,
        table: TableId,
        batch: &RecordBatch,
    ) -> Result<Vec<Option<u64>>, SqlError> {
        let k = self.keys(w, snap, table)?;
        let mut out = vec![None; batch.num_rows()];
        for idx in &k.keys {
            for (r, key) in idx.encode(batch)?.into_iter().enumerate() {
                if out[r].is_none()
                    && let Some(key) = key
                {
                    out[r] = idx.map.get(&key).copied();
                }
            }
        }
        Ok(out)
    }

    /// Statement-time unique check inside a transaction: `add` against the
    /// committed keys (less what the transaction deleted) and its own rows.
    pub fn precheck(
        &self,
        w: &mut WriteState,
        txn: &WriteSet,
        add: &WriteSet,
    ) -> Result<(), SqlError> {
        let snap = self.snapshot();
        // Rows this transaction deletes that someone else deleted (or
        // changed) since: it must restart, whatever else is wrong.
        for (table, ids) in txn.deletes.iter().chain(add.deletes.iter()) {
            let Some(t) = snap.tables.get(table) else {
                continue;
            };
            if ids
                .iter()
                .any(|&id| id & PENDING == 0 && !t.is_live(addr(id)))
            {
                return Err(deadlock());
            }
        }
        for (&table, batches) in &add.inserts {
            if batches.iter().all(|b| b.num_rows() == 0) {
                continue;
            }
            let dead: HashSet<u64> = txn
                .deletes
                .get(&table)
                .into_iter()
                .chain(add.deletes.get(&table))
                .flatten()
                .copied()
                .collect();
            if !snap.tables.contains_key(&table) {
                continue;
            }
            let own = txn.inserts.get(&table).map(Vec::as_slice).unwrap_or(&[]);
            let keys = self.keys(w, &snap, table)?;
            for k in &keys.keys {
                let mut seen = HashSet::new();
                let mut pending = 0u64;
                for b in own {
                    for key in k.encode(b)? {
                        if let Some(key) = key
                            && !dead.contains(&(PENDING | pending))
                        {
                            seen.insert(key);
                        }
                        pending += 1;
                    }
                }
                for b in batches {
                    for (r, key) in k.encode(b)?.into_iter().enumerate() {
                        let Some(key) = key else { continue };
                        let committed = k.map.get(&key).is_some_and(|id| !dead.contains(id));
                        if committed || !seen.insert(key) {
                            return Err(k.duplicate(&keys.name, b, r));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Validates and commits a write set; the caller holds the write lock.
    /// Returns the row ids the inserted rows got, per table, in order.
    pub async fn commit(
        &self,
        w: &mut WriteState,
        writes: &WriteSet,
    ) -> Result<HashMap<TableId, Vec<u64>>, SqlError> {
        if writes.is_empty() {
            return Ok(HashMap::new());
        }
        let snap = self.snapshot();
        let mut ops = Vec::new();
        let mut removed_keys: Vec<(TableId, usize, Vec<u8>)> = Vec::new();
        let mut added_keys: Vec<(TableId, usize, Vec<u8>, usize)> = Vec::new();
        let tables: HashSet<TableId> = writes
            .deletes
            .keys()
            .chain(writes.inserts.keys())
            .copied()
            .collect();
        for &table in &tables {
            let Some(tsnap) = snap.tables.get(&table) else {
                return Err(SqlError::new(
                    1146,
                    "42S02",
                    "Table was dropped during the transaction",
                ));
            };
            let deletes = writes.deletes.get(&table).map(Vec::as_slice).unwrap_or(&[]);
            let mut addrs = Vec::with_capacity(deletes.len());
            let mut deleted_set = HashSet::new();
            for &id in deletes {
                if id & PENDING != 0 {
                    continue;
                }
                if !tsnap.is_live(addr(id)) {
                    // Someone else deleted or changed the row first.
                    return Err(deadlock());
                }
                if deleted_set.insert(id) {
                    addrs.push(addr(id));
                }
            }
            let keys = self.keys(w, &snap, table)?;
            // Per unique key: the keys this transaction frees in this table.
            let mut removed_here: Vec<HashSet<Vec<u8>>> = vec![HashSet::new(); keys.keys.len()];
            if !keys.keys.is_empty() && !addrs.is_empty() {
                // The keys the deleted rows held, encoded in one batch.
                let rows: Vec<RecordBatch> = self.with_state(|s| {
                    let t = s.table(table);
                    addrs
                        .iter()
                        .filter_map(|a| t.and_then(|t| t.row(*a)))
                        .collect()
                });
                let rows = concat_batches(&tsnap.schema, &rows)
                    .map_err(|e| SqlError::internal(e.to_string()))?;
                for (ki, k) in keys.keys.iter().enumerate() {
                    for key in k.encode(&rows)?.into_iter().flatten() {
                        removed_here[ki].insert(key.clone());
                        removed_keys.push((table, ki, key));
                    }
                }
            }
            if !addrs.is_empty() {
                ops.push(TxnOp::Delete { table, rows: addrs });
            }
            let inserts = writes.inserts.get(&table).map(Vec::as_slice).unwrap_or(&[]);
            if inserts.iter().all(|b| b.num_rows() == 0) {
                continue;
            }
            let batch = concat_batches(&tsnap.schema, inserts)
                .map_err(|e| SqlError::internal(e.to_string()))?;
            for (ki, k) in keys.keys.iter().enumerate() {
                let mut seen = HashSet::new();
                for (r, key) in k.encode(&batch)?.into_iter().enumerate() {
                    let Some(key) = key else { continue };
                    let taken = k.map.contains_key(&key) && !removed_here[ki].contains(&key);
                    if taken || !seen.insert(key.clone()) {
                        return Err(k.duplicate(&keys.name, &batch, r));
                    }
                    added_keys.push((table, ki, key, r));
                }
            }
            ops.push(TxnOp::Insert { table, rows: batch });
        }
        let (lsn, ranges) = self
            .writer()?
            .commit_async(&Record::Txn(Txn { ops }))
            .await
            .map_err(storage_error)?;
        // Row ids of inserted rows, per table, in insertion order.
        let mut ids: HashMap<TableId, Vec<u64>> = HashMap::new();
        for r in &ranges {
            let v = ids.entry(r.table).or_default();
            v.extend((0..r.count).map(|i| rowid(r.first.segment, r.first.row + i)));
        }
        for (table, ki, key) in removed_keys {
            if let Some(k) = w.tables.get_mut(&table) {
                k.keys[ki].map.remove(&key);
                if ki == 0 && k.primary().is_some() {
                    k.changed(key, lsn);
                }
            }
        }
        for (table, ki, key, r) in added_keys {
            if let (Some(k), Some(id)) = (
                w.tables.get_mut(&table),
                ids.get(&table).and_then(|v| v.get(r)),
            ) {
                k.keys[ki].map.insert(key, *id);
            }
        }
        Ok(ids)
    }
}

pub fn storage_error(e: floe_storage::Error) -> SqlError {
    match e {
        floe_storage::Error::Fenced { .. } | floe_storage::Error::LeaseLapsed { .. } => {
            SqlError::new(
                1290,
                "HY000",
                format!(
                    "The MySQL server is running with the --read-only option so it cannot execute this statement ({e})"
                ),
            )
        }
        other => SqlError::internal(other.to_string()),
    }
}

/// MySQL's read-only error, naming the primary a reader's client should write to.
fn read_only(replica: &Replica) -> SqlError {
    let hint = match crate::nodes::primary_addr(replica.volume().store().as_ref()) {
        Some(addr) => format!("this is a floe reader; send writes to the primary at {addr}"),
        None => "this is a floe reader; send writes to the primary".to_string(),
    };
    SqlError::new(
        1290,
        "HY000",
        format!(
            "The MySQL server is running with the --read-only option so it cannot execute this statement ({hint})"
        ),
    )
}

/// The engine as the protocol layer sees it.
#[derive(Clone)]
pub struct Node(pub Arc<SqlEngine>);

impl Engine for Node {
    type Session = SqlSession;

    fn account(&self, user: &str, host: &str) -> Option<Credentials> {
        self.0
            .with_meta(|m| catalog::login_account(m, user, host))
            .map(|a| a.credentials())
    }

    fn open_session(&self, ctx: SessionContext) -> Result<SqlSession, SqlError> {
        SqlSession::new(self.0.clone(), ctx)
    }
}

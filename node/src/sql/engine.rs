//! A node's SQL engine: sessions over the volume's state. On the primary it
//! owns the volume writer, unique-key indexes over row addresses, and the
//! commit path: validate and append under one write lock, then wait for
//! durability without it (concurrent commits share a sync) and apply in
//! log order. On a reader it reads a replica that follows the log and
//! refuses writes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
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
use super::key::Key;
use super::keyrange::{self, KeyBounds, Lookup};
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

/// A committed row holding one of a new row's unique keys.
#[derive(Clone, Copy, Debug)]
pub struct Taken {
    /// The row's id.
    pub row: u64,
    /// Which of the table's unique keys it holds (an index into them).
    pub key: usize,
}

/// One key index: encoded key -> row id, in key order (the encoding
/// preserves the columns' order, so ranges of keys are ranges here).
struct KeyIndex {
    name: String,
    columns: Vec<usize>,
    converter: RowConverter,
    /// Whether its keys are checked for duplicates: a non-unique index is
    /// kept as a unique one over its columns and the primary key's.
    unique: bool,
    /// Whether `map` holds the table's keys. A non-unique index serves
    /// only lookups, so it is built when the first lookup wants it (a
    /// table nobody reads that way pays nothing for it).
    built: bool,
    map: BTreeMap<Key, u64>,
    /// Keys changed after `horizon`, with the rows they named.
    changed: BTreeMap<Key, History>,
    /// Changes up to this lsn are not in `changed`: older snapshots cannot
    /// use the index.
    horizon: Lsn,
}

/// How many changed keys an index remembers the older rows of.
const MAX_CHANGED_KEYS: usize = 1 << 16;
/// How many older rows one key remembers.
const MAX_VERSIONS: usize = 16;

/// The rows a key named before it was deleted or updated: what a snapshot
/// older than the change still sees, and the index no longer has.
#[derive(Default)]
struct History {
    /// Changes up to this lsn were forgotten (too many for one key).
    floor: Lsn,
    /// `(lsn of the change, row the key named until then)`, oldest first.
    versions: Vec<(Lsn, u64)>,
}

struct TableKeys {
    /// The table's SQL name, for duplicate-key messages.
    name: String,
    keys: Vec<KeyIndex>,
    /// The next AUTO_INCREMENT value (never reused, even after a rollback).
    /// Statements sharing the write lock take values from it.
    next_auto: std::sync::Mutex<i128>,
}

impl TableKeys {
    fn next_auto(&self) -> std::sync::MutexGuard<'_, i128> {
        self.next_auto.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl KeyIndex {
    /// Notes that key `key` stopped naming row `old` at `lsn`.
    fn changed(&mut self, key: Key, lsn: Lsn, old: u64) {
        if self.changed.len() >= MAX_CHANGED_KEYS && !self.changed.contains_key(&key) {
            self.changed.clear();
            self.horizon = lsn;
        }
        let h = self.changed.entry(key).or_default();
        if h.versions.len() >= MAX_VERSIONS {
            h.floor = h.versions.remove(0).0;
        }
        h.versions.push((lsn, old));
    }

    /// The rows `snap` may see under key `key`, besides what the index
    /// names now; `None` if that history was forgotten.
    fn older_rows(&self, key: &Key, snap: Lsn) -> Option<impl Iterator<Item = u64> + '_> {
        let h = self.changed.get(key);
        if h.is_some_and(|h| snap < h.floor) {
            return None;
        }
        Some(
            h.into_iter()
                .flat_map(|h| h.versions.iter())
                .filter(move |(lsn, _)| *lsn > snap)
                .map(|(_, id)| *id),
        )
    }

    /// Adds to `found` the rows `snap` may see under keys in `range`, in
    /// no particular order, up to `max + 1` the index names now; `None` if
    /// the history of one was forgotten.
    fn in_range<'a>(
        &'a self,
        range: (Bound<Key>, Bound<Key>),
        snap: Lsn,
        max: usize,
        found: &mut Vec<(&'a Key, u64)>,
    ) -> Option<()> {
        if keyrange::is_empty(&range.0, &range.1) {
            return Some(());
        }
        let now = self.map.range(range.clone()).take(max + 1);
        found.extend(now.map(|(k, id)| (k, *id)));
        for (key, _) in self.changed.range(range) {
            found.extend(self.older_rows(key, snap)?.map(|id| (key, id)));
        }
        Some(())
    }

    /// An empty index, to be built as of `lsn`.
    fn new(spec: catalog::KeyIndexSpec, meta: &TableMeta, lsn: Lsn) -> Result<KeyIndex, SqlError> {
        let fields = spec
            .columns
            .iter()
            .map(|&c| SortField::new(meta.columns[c].ty.storage.data_type()))
            .collect();
        Ok(KeyIndex {
            name: spec.name,
            columns: spec.columns,
            converter: RowConverter::new(fields).map_err(|e| SqlError::internal(e.to_string()))?,
            unique: spec.unique,
            built: false,
            map: BTreeMap::new(),
            changed: BTreeMap::new(),
            horizon: lsn,
        })
    }

    /// Fills the index with the keys of `t`'s live rows.
    fn build(&mut self, t: &floe_storage::state::TableSnapshot) -> Result<(), SqlError> {
        for seg in &t.segments {
            let mut first = 0u32;
            for b in &seg.batches {
                for (r, key) in self.encode(b)?.into_iter().enumerate() {
                    let row = first + r as u32;
                    if let Some(key) = key
                        && !seg.deletes.as_ref().is_some_and(|d| d.contains(row))
                    {
                        self.map.insert(key, rowid(seg.id, row));
                    }
                }
                first += b.num_rows() as u32;
            }
        }
        self.built = true;
        Ok(())
    }

    /// Whether `keys` increase (a dump's, generated ids: none repeats),
    /// and whether they also lie above every key held (none is taken).
    fn appends(&self, keys: &[Option<Key>]) -> (bool, bool) {
        let increasing = keys.iter().flatten().is_sorted_by(|a, b| a < b);
        let above = increasing
            && match (keys.iter().flatten().next(), self.map.last_key_value()) {
                (Some(first), Some((last, _))) => first > last,
                _ => true,
            };
        (increasing, above)
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
    fn encode(&self, batch: &RecordBatch) -> Result<Vec<Option<Key>>, SqlError> {
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
            .map(|i| (!cols.iter().any(|c| c.is_null(i))).then(|| Key::new(rows.row(i).as_ref())))
            .collect())
    }
}

/// Row ids an index holds for rows of a commit still in flight (queued in
/// the log, its outcome not yet collected): this bit and the commit's lsn.
/// No snapshot older than that lsn holds such a row.
const INFLIGHT: u64 = 1 << 62;

/// The keys a commit added to one key index.
struct Added {
    table: TableId,
    index: usize,
    /// The keys increase and were above every key the index held, so they
    /// lie together in it (reconciled in one walk, not a search each).
    appended: bool,
    /// `(key, row of the inserted batch)`.
    keys: Vec<(Key, usize)>,
}

/// A commit queued in the log whose index entries are still provisional.
struct InFlight {
    added: Vec<Added>,
    /// The committed rows it deletes.
    deletes: Vec<u64>,
}

/// What the write lock guards: the key indexes, and the commits that have
/// been queued in the log but not yet reconciled with them. Commits wait
/// for durability without the lock, so concurrent commits share one sync.
#[derive(Default)]
pub struct WriteState {
    tables: HashMap<TableId, TableKeys>,
    inflight: BTreeMap<Lsn, InFlight>,
    /// Rows deleted by commits in flight: no other commit may delete them.
    doomed: HashSet<u64>,
}

/// The write lock as a statement holds it. A statement in a transaction
/// changes no index until COMMIT, so it shares the lock with others and
/// runs alongside them; one that must change the indexes (build one, make
/// the entries of applied commits final, wait for a commit in flight) asks
/// for the lock alone with [`needs_exclusive`], and runs again holding it.
pub enum Held<'a> {
    Shared(tokio::sync::RwLockReadGuard<'a, WriteState>),
    Exclusive(tokio::sync::RwLockWriteGuard<'a, WriteState>),
}

impl std::ops::Deref for Held<'_> {
    type Target = WriteState;
    fn deref(&self) -> &WriteState {
        match self {
            Held::Shared(w) => w,
            Held::Exclusive(w) => w,
        }
    }
}

impl Held<'_> {
    /// The state to change, if the lock is held alone.
    pub fn exclusive(&mut self) -> Result<&mut WriteState, SqlError> {
        match self {
            Held::Exclusive(w) => Ok(w),
            Held::Shared(_) => Err(needs_exclusive()),
        }
    }
}

/// What a key lookup found.
enum Found {
    /// The rows live in the snapshot, in key order.
    Rows(Vec<u64>),
    /// What only the lock held alone can mend: the index is not built, or
    /// it names rows of commits applied but not yet given their ids
    /// (`reconcile`).
    NeedsLock,
}

/// Not a MySQL error: a statement sharing the write lock needs it alone
/// (see [`Held`]); it never reaches a client.
pub const NEEDS_EXCLUSIVE: u16 = u16::MAX;

pub fn needs_exclusive() -> SqlError {
    SqlError::new(NEEDS_EXCLUSIVE, "HY000", "the write lock is needed alone")
}

/// A commit queued in the log; [`SqlEngine::wait`] waits until it is durable.
#[must_use]
pub struct Pending {
    lsn: Lsn,
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
    /// Writers hold it for a whole statement; key lookups of reads share it
    /// (they only read the indexes, and would otherwise queue one by one).
    write: tokio::sync::RwLock<WriteState>,
    pub started: Instant,
    /// Point lookups answered from the key index (SHOW STATUS).
    pub point_lookups: std::sync::atomic::AtomicU64,
    /// Executions of prepared statements that reused the plan kept from an
    /// earlier one (the key index may still send one the general way, as
    /// `floe_point_lookups` counts only the answered).
    pub prepared_plan_reuses: std::sync::atomic::AtomicU64,
    /// Statements whose scan the primary-key index narrowed (SHOW STATUS).
    pub key_range_reads: std::sync::atomic::AtomicU64,
    /// Narrowed queries run without a DataFusion plan (SHOW STATUS).
    pub direct_queries: std::sync::atomic::AtomicU64,
    /// INSERTs of literal rows read without sqlparser (`values`).
    pub literal_inserts: std::sync::atomic::AtomicU64,
    /// SELECTs of constants answered without sqlparser (`constant`).
    pub constant_selects: std::sync::atomic::AtomicU64,
    /// The newest snapshot built, shared until the state changes.
    last_snapshot: std::sync::Mutex<Option<Arc<Snapshot>>>,
}

/// ER_LOCK_DEADLOCK: what a transaction that lost a race to another gets.
pub const DEADLOCK: u16 = 1213;

pub fn deadlock() -> SqlError {
    SqlError::new(
        DEADLOCK,
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

impl SqlEngine {
    pub fn new(source: Source, plugins: Arc<crate::wasm::Plugins>) -> SqlEngine {
        SqlEngine {
            source,
            plugins,
            write: tokio::sync::RwLock::new(WriteState::default()),
            started: Instant::now(),
            point_lookups: Default::default(),
            prepared_plan_reuses: Default::default(),
            key_range_reads: Default::default(),
            direct_queries: Default::default(),
            literal_inserts: Default::default(),
            constant_selects: Default::default(),
            last_snapshot: Default::default(),
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
                        "floe_prepared_plan_reuses",
                        self.prepared_plan_reuses
                            .load(std::sync::atomic::Ordering::Relaxed)
                            .to_string(),
                    ),
                    (
                        "floe_key_range_reads",
                        self.key_range_reads
                            .load(std::sync::atomic::Ordering::Relaxed)
                            .to_string(),
                    ),
                    (
                        "floe_direct_queries",
                        self.direct_queries
                            .load(std::sync::atomic::Ordering::Relaxed)
                            .to_string(),
                    ),
                    (
                        "floe_literal_inserts",
                        self.literal_inserts
                            .load(std::sync::atomic::Ordering::Relaxed)
                            .to_string(),
                    ),
                    (
                        "floe_constant_selects",
                        self.constant_selects
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

    /// A snapshot of everything applied. Statements between two changes
    /// share one: building it clones every table's segment lists, and every
    /// statement asks for one.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        let lsn = self.with_state(|s| s.applied_lsn());
        let mut last = self.last_snapshot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(snap) = last.as_ref().filter(|s| s.lsn == lsn) {
            return snap.clone();
        }
        let snap = Arc::new(match &self.source {
            Source::Writer(w) => w.snapshot(),
            Source::Replica(r) => r.snapshot(),
        });
        *last = Some(snap.clone());
        snap
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

    /// The write lock shared: a statement in a transaction runs under it
    /// (see [`Held`]).
    pub async fn lock_shared(&self) -> tokio::sync::RwLockReadGuard<'_, WriteState> {
        self.write.read().await
    }

    /// The write lock, with the index entries of commits applied since it
    /// was last held made final.
    pub async fn lock(&self) -> tokio::sync::RwLockWriteGuard<'_, WriteState> {
        let mut w = self.write.write().await;
        self.reconcile(&mut w);
        w
    }

    /// Gives the rows of applied in-flight commits their row ids in the
    /// indexes, and frees the rows they deleted.
    fn reconcile(&self, w: &mut WriteState) {
        let Source::Writer(writer) = &self.source else {
            return;
        };
        if w.inflight.is_empty() {
            return;
        }
        let applied = writer.applied_lsn();
        while let Some(entry) = w.inflight.first_entry() {
            if *entry.key() > applied {
                break;
            }
            let (lsn, done) = entry.remove_entry();
            for d in &done.deletes {
                w.doomed.remove(d);
            }
            // A failed record stops the writer; its entries stay provisional.
            let Some(Ok(ranges)) = writer.outcome(lsn) else {
                continue;
            };
            let mut ids: HashMap<TableId, Vec<u64>> = HashMap::new();
            for r in &ranges {
                let v = ids.entry(r.table).or_default();
                v.extend((0..r.count).map(|i| rowid(r.first.segment, r.first.row + i)));
            }
            for added in done.added {
                let (Some(k), Some(ids)) = (w.tables.get_mut(&added.table), ids.get(&added.table))
                else {
                    continue;
                };
                let map = &mut k.keys[added.index].map;
                let set = |slot: &mut u64, r: usize| {
                    if *slot == INFLIGHT | lsn
                        && let Some(&id) = ids.get(r)
                    {
                        *slot = id;
                    }
                };
                match (added.appended, added.keys.first(), added.keys.last()) {
                    (true, Some((first, _)), Some((last, _))) => {
                        // Later commits may have put keys in between.
                        let mut entries = map.range_mut(first.clone()..=last.clone()).peekable();
                        for (key, r) in &added.keys {
                            while entries.next_if(|(k, _)| *k < key).is_some() {}
                            if let Some((_, slot)) = entries.next_if(|(k, _)| *k == key) {
                                set(slot, *r);
                            }
                        }
                    }
                    _ => {
                        for (key, r) in &added.keys {
                            if let Some(slot) = map.get_mut(key) {
                                set(slot, *r);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Waits until every commit in flight is applied and reconciled (the
    /// caller holds the lock, so no new one starts meanwhile).
    pub async fn settle_all(&self, w: &mut WriteState) -> Result<(), SqlError> {
        if let Some((&lsn, _)) = w.inflight.last_key_value() {
            self.writer()?.settle(lsn).await.map_err(storage_error)?;
            self.reconcile(w);
        }
        Ok(())
    }

    /// Applies a catalog change (DDL, accounts) durably.
    pub async fn ddl(&self, ddl: Ddl) -> Result<(), SqlError> {
        let mut w = self.lock().await;
        // Indexes it drops are rebuilt from what is applied: all of it.
        self.settle_all(&mut w).await?;
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

    /// Creates a table; its id is above every lsn applied, so ids never repeat.
    pub async fn create_table(&self, meta: &TableMeta) -> Result<TableId, SqlError> {
        let _w = self.lock().await;
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

    /// [`Self::keys`] for a statement: built now if it holds the lock
    /// alone; sharing it, only if built already ([`needs_exclusive`]).
    fn keys_held<'a>(
        &self,
        w: &'a mut Held<'_>,
        table: TableId,
    ) -> Result<&'a TableKeys, SqlError> {
        match w {
            Held::Exclusive(w) => Ok(self.keys(w, table)?),
            Held::Shared(w) => w.tables.get(&table).ok_or_else(needs_exclusive),
        }
    }

    /// `table`'s key indexes, its unique ones built from the newest state
    /// when first used (never from a statement's snapshot, which may be
    /// older).
    fn keys<'a>(
        &self,
        w: &'a mut WriteState,
        table: TableId,
    ) -> Result<&'a mut TableKeys, SqlError> {
        use std::collections::hash_map::Entry;
        let slot = match w.tables.entry(table) {
            Entry::Occupied(o) => return Ok(o.into_mut()),
            Entry::Vacant(v) => v,
        };
        let snap = self.snapshot();
        let t = snap
            .tables
            .get(&table)
            .ok_or_else(|| SqlError::new(1146, "42S02", "Table doesn't exist"))?;
        let meta = TableMeta::from_def(&t.def)?;
        let mut keys = Vec::new();
        for spec in meta.key_indexes() {
            let mut k = KeyIndex::new(spec, &meta, snap.lsn)?;
            if k.unique {
                k.build(t)?;
            }
            keys.push(k);
        }
        let mut next_auto: i128 = 1;
        if let Some(a) = meta.auto_increment() {
            for b in t.segments.iter().flat_map(|s| &s.batches) {
                next_auto = next_auto.max(super::dml::max_int(b.column(a)) + 1);
            }
        }
        Ok(slot.insert(TableKeys {
            name: meta.name,
            keys,
            next_auto: std::sync::Mutex::new(next_auto),
        }))
    }

    /// Row ids of `table`'s rows that are live in `snap` and that `lookup`
    /// finds, in the index's key order; `None` when the index cannot tell
    /// exactly for `snap` (it forgot what a key in range named then) or
    /// more than `max` rows are in range. The caller holds the write lock
    /// and took `snap` before it or under it, so the index is at least as
    /// new as `snap`.
    pub async fn index_rows(
        &self,
        w: &mut Held<'_>,
        snap: &Snapshot,
        table: TableId,
        lookup: &Lookup,
        max: usize,
    ) -> Result<Option<Vec<u64>>, SqlError> {
        let w = match w {
            Held::Exclusive(w) => w,
            Held::Shared(w) => {
                return match self.key_rows(w, snap, table, lookup, max) {
                    Some(Found::Rows(rows)) => Ok(Some(rows)),
                    Some(Found::NeedsLock) => Err(needs_exclusive()),
                    None => Ok(None),
                };
            }
        };
        // Commits applied since the lock was taken may be in `snap`.
        self.reconcile(w);
        // A table an ALTER replaced meanwhile has no index: scan instead.
        let Ok(keys) = self.keys(w, table) else {
            return Ok(None);
        };
        if keys.keys.get(lookup.index).is_some_and(|k| !k.built) {
            // Built from everything committed: nothing may be in flight.
            self.settle_all(w).await?;
            let snap = self.snapshot();
            let (Some(t), Some(k)) = (
                snap.tables.get(&table),
                w.tables
                    .get_mut(&table)
                    .and_then(|k| k.keys.get_mut(lookup.index)),
            ) else {
                return Ok(None);
            };
            let started = Instant::now();
            k.horizon = snap.lsn;
            k.build(t)?;
            tracing::info!(
                index = k.name,
                keys = k.map.len(),
                ms = started.elapsed().as_millis() as u64,
                "built an index for lookups"
            );
        }
        // Everything applied is reconciled: a row it cannot name belongs
        // to a commit that failed, and a scan answers instead.
        Ok(match self.key_rows(w, snap, table, lookup, max) {
            Some(Found::Rows(rows)) => Some(rows),
            Some(Found::NeedsLock) | None => None,
        })
    }

    /// [`Self::index_rows`] for a read, which holds no write lock: it
    /// shares the lock with other statements when the index is built and
    /// can tell (`snap` was taken before), and takes it alone only to bring
    /// it so.
    pub async fn index_rows_shared(
        &self,
        snap: &Snapshot,
        table: TableId,
        lookup: &Lookup,
        max: usize,
    ) -> Result<Option<Vec<u64>>, SqlError> {
        let mut w = Held::Shared(self.write.read().await);
        match self.index_rows(&mut w, snap, table, lookup, max).await {
            Err(e) if e.code == NEEDS_EXCLUSIVE => {}
            other => return other,
        }
        drop(w);
        let mut w = Held::Exclusive(self.lock().await);
        self.index_rows(&mut w, snap, table, lookup, max).await
    }

    /// The lookup itself, on an index at least as new as `snap` (under a
    /// shared lock, or after `index_rows` built and reconciled it); `None`
    /// when the index cannot tell (it is older than `snap`, forgot what a
    /// key named then, or finds more than `max` rows).
    fn key_rows(
        &self,
        w: &WriteState,
        snap: &Snapshot,
        table: TableId,
        lookup: &Lookup,
        max: usize,
    ) -> Option<Found> {
        let tsnap = snap.tables.get(&table)?;
        let Some(keys) = w.tables.get(&table) else {
            return Some(Found::NeedsLock);
        };
        let index = keys.keys.get(lookup.index)?;
        // The statement's definition of the table may be older or newer
        // than the index's (a CREATE INDEX in between).
        if index.name != lookup.spec.name || index.columns != lookup.spec.columns {
            return None;
        }
        if !index.built {
            return Some(Found::NeedsLock);
        }
        if snap.lsn < index.horizon {
            return None;
        }
        // A row of a commit in flight is in no snapshot older than the
        // commit; for a newer snapshot the index does not know its id yet.
        let unknown = |id: u64| id & INFLIGHT != 0 && id & !INFLIGHT <= snap.lsn;
        // Candidates in key order: the rows the keys name now and, for keys
        // changed since `snap`, the rows they named then.
        let mut found: Vec<(&Key, u64)> = Vec::new();
        match &lookup.bounds {
            KeyBounds::Points(points) => {
                for p in points {
                    let older = index.older_rows(p, snap.lsn)?;
                    found.extend(index.map.get(p).map(|id| (p, *id)));
                    found.extend(older.map(|id| (p, id)));
                }
            }
            KeyBounds::Range(lo, hi) => {
                index.in_range((lo.clone(), hi.clone()), snap.lsn, max, &mut found)?
            }
            KeyBounds::Ranges(ranges) => {
                for range in ranges {
                    index.in_range(range.clone(), snap.lsn, max, &mut found)?;
                    if found.len() > max {
                        return None;
                    }
                }
            }
            KeyBounds::Prefixes(prefixes) => {
                for p in prefixes {
                    let end = p.successor().map_or(Bound::Unbounded, Bound::Excluded);
                    index.in_range((Bound::Included(p.clone()), end), snap.lsn, max, &mut found)?;
                    if found.len() > max {
                        return None;
                    }
                }
            }
        }
        if found.len() > max {
            return None;
        }
        if found.iter().any(|(_, id)| unknown(*id)) {
            return Some(Found::NeedsLock);
        }
        // Ranges may overlap.
        found.sort();
        found.dedup();
        Some(Found::Rows(
            found
                .into_iter()
                .map(|(_, id)| id)
                .filter(|&id| id & INFLIGHT == 0 && tsnap.is_live(addr(id)))
                .collect(),
        ))
    }

    /// Reserves `n` AUTO_INCREMENT values; returns the first.
    pub fn reserve_auto(&self, w: &mut Held<'_>, table: TableId, n: u64) -> Result<i128, SqlError> {
        let mut next = self.keys_held(w, table)?.next_auto();
        let first = *next;
        *next = first + n as i128;
        Ok(first)
    }

    /// Explicit AUTO_INCREMENT values push the counter past them.
    pub fn saw_auto(&self, w: &mut Held<'_>, table: TableId, value: i128) -> Result<(), SqlError> {
        let mut next = self.keys_held(w, table)?.next_auto();
        *next = (*next).max(value + 1);
        Ok(())
    }

    /// Per row of `batch`: the newest committed row holding one of its
    /// unique keys in `table`, if any (for REPLACE, IGNORE and ON DUPLICATE
    /// KEY UPDATE), after waiting for commits in flight that hold them.
    pub async fn find_duplicate(
        &self,
        w: &mut Held<'_>,
        table: TableId,
        batch: &RecordBatch,
    ) -> Result<Vec<Option<Taken>>, SqlError> {
        let found = self.duplicates(w, table, batch)?;
        if found.iter().flatten().all(|t| t.row & INFLIGHT == 0) {
            return Ok(found);
        }
        // A key of a commit in flight: wait for its row id.
        self.settle_all(w.exclusive()?).await?;
        self.duplicates(w, table, batch)
    }

    /// ER_DUP_ENTRY for row `r` of `batch`, whose key `taken` found
    /// (INSERT IGNORE's warning).
    pub fn duplicate_entry(
        &self,
        w: &mut Held<'_>,
        table: TableId,
        batch: &RecordBatch,
        r: usize,
        taken: Taken,
    ) -> Option<SqlError> {
        let keys = self.keys_held(w, table).ok()?;
        Some(keys.keys.get(taken.key)?.duplicate(&keys.name, batch, r))
    }

    /// Rows of `batch` that share a unique key with another row of it,
    /// skipping rows `left_out` already. INSERT IGNORE keeps the first row
    /// of each key: a row is reported if a row kept before it holds one
    /// of its keys. REPLACE (`later_wins`) keeps the last: a row is
    /// reported if any row after it holds one (it was inserted, then
    /// replaced).
    pub fn repeats(
        &self,
        w: &mut Held<'_>,
        table: TableId,
        batch: &RecordBatch,
        left_out: &[bool],
        later_wins: bool,
    ) -> Result<Vec<(usize, SqlError)>, SqlError> {
        let keys = self.keys_held(w, table)?;
        let encoded = keys
            .keys
            .iter()
            .map(|k| match k.unique {
                true => k.encode(batch),
                false => Ok(vec![None; batch.num_rows()]),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen: Vec<HashSet<&Key>> = vec![HashSet::new(); keys.keys.len()];
        let mut out = Vec::new();
        let mut rows: Vec<usize> = (0..batch.num_rows())
            .filter(|&r| !left_out.get(r).copied().unwrap_or(false))
            .collect();
        if later_wins {
            rows.reverse();
        }
        for r in rows {
            let repeated = (0..keys.keys.len()).find(|&i| {
                encoded[i][r]
                    .as_ref()
                    .is_some_and(|key| seen[i].contains(key))
            });
            if let Some(i) = repeated {
                out.push((r, keys.keys[i].duplicate(&keys.name, batch, r)));
                if !later_wins {
                    continue;
                }
            }
            for (i, set) in seen.iter_mut().enumerate() {
                if let Some(key) = &encoded[i][r] {
                    set.insert(key);
                }
            }
        }
        out.sort_by_key(|(r, _)| *r);
        Ok(out)
    }

    fn duplicates(
        &self,
        w: &mut Held<'_>,
        table: TableId,
        batch: &RecordBatch,
    ) -> Result<Vec<Option<Taken>>, SqlError> {
        let k = self.keys_held(w, table)?;
        let mut out = vec![None; batch.num_rows()];
        for (i, idx) in k.keys.iter().enumerate().filter(|(_, k)| k.unique) {
            let encoded = idx.encode(batch)?;
            if idx.appends(&encoded).1 {
                continue;
            }
            for (r, key) in encoded.into_iter().enumerate() {
                if out[r].is_none()
                    && let Some(key) = key
                {
                    out[r] = idx.map.get(&key).map(|&row| Taken { row, key: i });
                }
            }
        }
        Ok(out)
    }

    /// Statement-time unique check inside a transaction: `add` against the
    /// committed keys (less what the transaction deleted) and its own rows.
    pub fn precheck(
        &self,
        w: &mut Held<'_>,
        txn: &WriteSet,
        add: &WriteSet,
    ) -> Result<(), SqlError> {
        // Rows this transaction deletes that someone else deleted (or
        // changed) since: it must restart, whatever else is wrong. Checked
        // on the newest state in place (no snapshot built).
        for (table, ids) in txn.deletes.iter().chain(add.deletes.iter()) {
            let lost = self.with_state(|s| {
                s.table(*table).is_some_and(|t| {
                    ids.iter()
                        .any(|&id| id & PENDING == 0 && !t.is_live(addr(id)))
                })
            });
            if lost || ids.iter().any(|id| w.doomed.contains(id)) {
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
            if !self.with_state(|s| s.table(table).is_some()) {
                continue;
            }
            let own = txn.inserts.get(&table).map(Vec::as_slice).unwrap_or(&[]);
            let keys = self.keys_held(w, table)?;
            for k in keys.keys.iter().filter(|k| k.unique) {
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

    /// Validates and commits a write set, waiting with the write lock held.
    pub async fn commit(&self, w: &mut WriteState, writes: &WriteSet) -> Result<(), SqlError> {
        if let Some(p) = self.submit(w, writes)? {
            self.wait(p).await?;
            self.reconcile(w);
        }
        Ok(())
    }

    /// Waits until a submitted commit is durable (and applied). The wait
    /// runs on its own task: a client that goes away meanwhile does not
    /// leave its commit unapplied.
    pub async fn wait(&self, p: Pending) -> Result<(), SqlError> {
        let writer = self.writer()?.clone();
        tokio::spawn(async move { writer.settle(p.lsn).await })
            .await
            .map_err(|e| SqlError::internal(e.to_string()))?
            .map_err(storage_error)
    }

    /// Validates a write set and queues its record in the log; the caller
    /// holds the write lock and, once it has let it go, waits for the
    /// returned commit to be durable before acknowledging it.
    pub fn submit(
        &self,
        w: &mut WriteState,
        writes: &WriteSet,
    ) -> Result<Option<Pending>, SqlError> {
        if writes.is_empty() {
            return Ok(None);
        }
        let mut ops = Vec::new();
        let mut removed_keys: Vec<(TableId, usize, Key, u64)> = Vec::new();
        let mut all_deleted: Vec<u64> = Vec::new();
        let mut added_keys: Vec<Added> = Vec::new();
        let tables: HashSet<TableId> = writes
            .deletes
            .keys()
            .chain(writes.inserts.keys())
            .copied()
            .collect();
        for &table in &tables {
            let deletes = writes.deletes.get(&table).map(Vec::as_slice).unwrap_or(&[]);
            // Checked on the newest state in place (no snapshot built).
            let checked = self.with_state(|s| {
                let t = s.table(table)?;
                let live = deletes
                    .iter()
                    .filter(|&&id| id & PENDING == 0)
                    .all(|&id| t.is_live(addr(id)));
                Some((t.schema.clone(), live))
            });
            let Some((schema, all_live)) = checked else {
                return Err(SqlError::new(
                    1146,
                    "42S02",
                    "Table was dropped during the transaction",
                ));
            };
            let mut addrs = Vec::with_capacity(deletes.len());
            let mut deleted_set = HashSet::new();
            for &id in deletes {
                if id & PENDING != 0 {
                    continue;
                }
                if !all_live || w.doomed.contains(&id) {
                    // Someone else deleted or changed the row first.
                    return Err(deadlock());
                }
                if deleted_set.insert(id) {
                    addrs.push(addr(id));
                    all_deleted.push(id);
                }
            }
            let keys = self.keys(w, table)?;
            // Per unique key: the keys this transaction frees in this table.
            let mut removed_here: Vec<HashSet<Key>> = vec![HashSet::new(); keys.keys.len()];
            if keys.keys.iter().any(|k| k.built) && !addrs.is_empty() {
                // The keys the deleted rows held, encoded in one batch.
                let (ids, rows): (Vec<u64>, Vec<RecordBatch>) = self.with_state(|s| {
                    let t = s.table(table);
                    addrs
                        .iter()
                        .filter_map(|a| Some((rowid(a.segment, a.row), t?.row(*a)?)))
                        .unzip()
                });
                let rows = concat_batches(&schema, &rows)
                    .map_err(|e| SqlError::internal(e.to_string()))?;
                for (ki, k) in keys.keys.iter().enumerate().filter(|(_, k)| k.built) {
                    for (key, &id) in k.encode(&rows)?.into_iter().zip(&ids) {
                        let Some(key) = key else { continue };
                        removed_here[ki].insert(key.clone());
                        removed_keys.push((table, ki, key, id));
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
            let batch = match inserts {
                [one] => one.clone(),
                _ => concat_batches(&schema, inserts)
                    .map_err(|e| SqlError::internal(e.to_string()))?,
            };
            for (ki, k) in keys.keys.iter().enumerate().filter(|(_, k)| k.built) {
                let encoded = k.encode(&batch)?;
                let (increasing, above) = k.appends(&encoded);
                let mut seen = HashSet::new();
                let mut added = Added {
                    table,
                    index: ki,
                    appended: above,
                    keys: Vec::with_capacity(encoded.len()),
                };
                for (r, key) in encoded.into_iter().enumerate() {
                    let Some(key) = key else { continue };
                    if k.unique && !above {
                        let taken = k.map.contains_key(&key) && !removed_here[ki].contains(&key);
                        if taken || (!increasing && !seen.insert(key.clone())) {
                            return Err(k.duplicate(&keys.name, &batch, r));
                        }
                    }
                    added.keys.push((key, r));
                }
                added_keys.push(added);
            }
            ops.push(TxnOp::Insert { table, rows: batch });
        }
        let lsn = self
            .writer()?
            .submit(&Record::Txn(Txn { ops }))
            .map_err(storage_error)?;
        // The index describes the commit at once (so later commits check
        // their keys against it); its rows get their ids once applied.
        let mut flight = InFlight {
            added: Vec::with_capacity(added_keys.len()),
            deletes: all_deleted,
        };
        for (table, ki, key, old) in removed_keys {
            if let Some(k) = w.tables.get_mut(&table) {
                k.keys[ki].map.remove(&key);
                k.keys[ki].changed(key, lsn, old);
            }
        }
        for added in added_keys {
            if let Some(k) = w.tables.get_mut(&added.table) {
                let map = &mut k.keys[added.index].map;
                for (key, _) in &added.keys {
                    map.insert(key.clone(), INFLIGHT | lsn);
                }
                flight.added.push(added);
            }
        }
        w.doomed.extend(flight.deletes.iter().copied());
        w.inflight.insert(lsn, flight);
        Ok(Some(Pending { lsn }))
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

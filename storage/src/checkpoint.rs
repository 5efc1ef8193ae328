//! Checkpoints: a manifest naming every segment file, the delete vectors and
//! the catalog as of one lsn, written atomically. Opening a volume is the
//! newest manifest plus the log after it; older manifests, the files only
//! they name, and the log before them are then removed.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::Lsn;
use crate::blob::BlobStore;
use crate::checked;
use crate::deletes::DeleteVector;
use crate::error::{Error, Result};
use crate::hex;
use crate::schema::{SegmentId, TableDef, TableId};
use crate::segment::{
    OpenSegment, SealedSegment, image_key, sealed_key, write_sealed_if_absent, write_segment,
};
use crate::state::{SegmentKind, Snapshot, State, Table};

const DIR: &str = "manifests";
const FORMAT: u32 = 1;
/// Manifests kept; readers that opened an older one may still need its log.
pub const KEEP_MANIFESTS: usize = 2;

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub lsn: Lsn,
    pub next_segment: SegmentId,
    pub tables: Vec<TableEntry>,
    /// Node-level catalog entries, values hex encoded.
    pub meta: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TableEntry {
    pub def: TableDef,
    pub sealed: Vec<SegmentEntry>,
    pub open: SegmentEntry,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SegmentEntry {
    pub id: SegmentId,
    pub rows: u32,
    /// The file with its rows (none for an empty open segment).
    pub key: Option<String>,
    /// The serialized roaring bitmap of deleted rows, hex encoded.
    pub deletes: Option<String>,
}

fn manifest_key(lsn: Lsn) -> String {
    format!("{DIR}/{lsn:020}.manifest")
}

/// Writes the segment files a snapshot needs and then its manifest.
pub fn write(store: &dyn BlobStore, snap: &Snapshot) -> Result<Manifest> {
    let mut tables = Vec::with_capacity(snap.tables.len());
    for (id, t) in &snap.tables {
        let mut sealed = Vec::new();
        let mut open = None;
        for s in &t.segments {
            let deletes = match &s.deletes {
                Some(d) if !d.is_empty() => {
                    let mut bytes = Vec::with_capacity(d.serialized_size());
                    d.serialize_into(&mut bytes)
                        .map_err(|e| Error::InvalidRecord(e.to_string()))?;
                    Some(hex::encode(&bytes))
                }
                _ => None,
            };
            let key = match s.kind {
                SegmentKind::Sealed => Some(sealed_key(*id, s.id)),
                // The same file the primary's flush writes; either may come first.
                SegmentKind::Frozen => Some(write_sealed_if_absent(
                    store, *id, s.id, &t.schema, &s.batches,
                )?),
                SegmentKind::Open if s.rows == 0 => None,
                SegmentKind::Open => {
                    let key = image_key(*id, s.id, snap.lsn);
                    write_segment(store, &key, *id, s.id, &t.schema, &s.batches)?;
                    Some(key)
                }
            };
            let entry = SegmentEntry {
                id: s.id,
                rows: s.rows,
                key,
                deletes,
            };
            match s.kind {
                SegmentKind::Open => open = Some(entry),
                _ => sealed.push(entry),
            }
        }
        let open =
            open.ok_or_else(|| Error::InvalidRecord(format!("table {id} has no open segment")))?;
        tables.push(TableEntry {
            def: (*t.def).clone(),
            sealed,
            open,
        });
    }
    let manifest = Manifest {
        format: FORMAT,
        lsn: snap.lsn,
        next_segment: snap.next_segment,
        tables,
        meta: snap
            .meta
            .iter()
            .map(|(k, v)| (k.clone(), hex::encode(v)))
            .collect(),
    };
    let json = serde_json::to_vec(&manifest).map_err(|e| Error::InvalidRecord(e.to_string()))?;
    store.put(&manifest_key(snap.lsn), &checked::seal(json))?;
    Ok(manifest)
}

/// The lsns of the manifests on the volume, oldest first.
pub fn list(store: &dyn BlobStore) -> Result<Vec<Lsn>> {
    Ok(store
        .list(DIR)?
        .iter()
        .filter_map(|n| n.strip_suffix(".manifest")?.parse().ok())
        .collect())
}

pub fn read(store: &dyn BlobStore, lsn: Lsn) -> Result<Manifest> {
    let key = manifest_key(lsn);
    let path = store.locate(&key);
    let bytes = store
        .get(&key)?
        .ok_or_else(|| Error::corrupt(&path, 0, "manifest disappeared"))?;
    let len = checked::verify(&path, &bytes)?;
    let m: Manifest = serde_json::from_slice(&bytes[..len])
        .map_err(|e| Error::corrupt(&path, e.column() as u64, format!("manifest: {e}")))?;
    if m.format != FORMAT || m.lsn != lsn {
        return Err(Error::corrupt(
            &path,
            0,
            "manifest format or lsn does not match its name",
        ));
    }
    Ok(m)
}

/// The newest manifest. A damaged newest manifest is an error, not a reason
/// to fall back silently: the log it made removable may be gone.
pub fn latest(store: &dyn BlobStore) -> Result<Option<Manifest>> {
    match list(store)?.last() {
        Some(&lsn) => read(store, lsn).map(Some),
        None => Ok(None),
    }
}

/// The state a manifest describes (segment files mapped, not read).
pub fn restore(store: Arc<dyn BlobStore>, m: &Manifest) -> Result<State> {
    let mut tables = Vec::with_capacity(m.tables.len());
    for t in &m.tables {
        let schema = t.def.arrow_schema();
        let mut deletes = HashMap::new();
        let mut sealed = Vec::with_capacity(t.sealed.len());
        for s in t.sealed.iter().chain(std::iter::once(&t.open)) {
            if let Some(hexed) = &s.deletes {
                let bad = || {
                    Error::corrupt(
                        store.locate(&manifest_key(m.lsn)),
                        0,
                        format!("delete vector of segment {}", s.id),
                    )
                };
                let bytes = hex::decode(hexed).ok_or_else(bad)?;
                let bitmap = RoaringBitmap::deserialize_from(&bytes[..]).map_err(|_| bad())?;
                deletes.insert(s.id, DeleteVector::from_bitmap(bitmap, m.lsn));
            }
        }
        for s in &t.sealed {
            let key = s.key.clone().unwrap_or_else(|| sealed_key(t.def.id, s.id));
            let seg = SealedSegment::open(store.as_ref(), &key, &schema)?;
            if seg.rows != s.rows {
                return Err(Error::corrupt(
                    store.locate(&key),
                    0,
                    "segment rows differ from the manifest",
                ));
            }
            sealed.push(seg);
        }
        let open = match &t.open.key {
            Some(key) => {
                let image = SealedSegment::open(store.as_ref(), key, &schema)?;
                OpenSegment::from_image(t.open.id, image.batch, &image.blocks)?
            }
            None => OpenSegment::new(t.open.id, schema.clone()),
        };
        tables.push(Table::restored(t.def.clone(), sealed, open, deletes));
    }
    let mut meta = BTreeMap::new();
    for (k, v) in &m.meta {
        let bytes = hex::decode(v).ok_or_else(|| {
            Error::corrupt(
                store.locate(&manifest_key(m.lsn)),
                0,
                format!("meta entry {k}"),
            )
        })?;
        meta.insert(k.clone(), bytes);
    }
    Ok(State::restore(store, m.lsn, m.next_segment, tables, meta))
}

/// Removes manifests beyond the newest [`KEEP_MANIFESTS`], segment files that
/// no kept manifest names and no live segment can still become, and the log
/// before the oldest kept manifest (or before `retain_log_from`, if earlier).
///
/// `newest` is the manifest just written, so it need not be read back.
pub fn collect_garbage(
    store: &dyn BlobStore,
    log_dir: &Path,
    newest: &Manifest,
    retain_log_from: Option<Lsn>,
) -> Result<()> {
    let lsns = list(store)?;
    if lsns.is_empty() {
        return Ok(());
    }
    let keep = &lsns[lsns.len().saturating_sub(KEEP_MANIFESTS)..];
    let mut referenced = BTreeSet::new();
    let mut live_tables = BTreeSet::new();
    let mut oldest_next_segment = SegmentId::MAX;
    let older: Vec<Manifest> = keep
        .iter()
        .filter(|&&lsn| lsn != newest.lsn)
        .map(|&lsn| read(store, lsn))
        .collect::<Result<_>>()?;
    for m in older.iter().chain(std::iter::once(newest)) {
        oldest_next_segment = oldest_next_segment.min(m.next_segment);
        for t in &m.tables {
            live_tables.insert(t.def.id);
            for s in t.sealed.iter().chain(std::iter::once(&t.open)) {
                if let Some(k) = &s.key {
                    referenced.insert(k.clone());
                }
            }
        }
    }
    for table_dir in store.list("segments")? {
        let Ok(table) = table_dir.parse::<TableId>() else {
            continue;
        };
        for name in store.list(&format!("segments/{table_dir}"))? {
            let key = format!("segments/{table_dir}/{name}");
            if referenced.contains(&key) {
                continue;
            }
            let segment = name
                .split('.')
                .next()
                .and_then(|s| s.parse::<SegmentId>().ok());
            let is_image = name.ends_with(".open");
            // An unreferenced sealed file of a live table may be a flush that
            // the next checkpoint will name; only dropped tables' files and
            // superseded open images are certainly dead.
            let dead = is_image
                || (!live_tables.contains(&table)
                    && segment.is_some_and(|s| s < oldest_next_segment));
            if dead {
                store.delete(&key)?;
            }
        }
    }
    let oldest_kept = keep[0];
    let log_from = retain_log_from.map_or(oldest_kept + 1, |r| r.min(oldest_kept + 1));
    let removed = crate::log::remove_before(log_dir, log_from)?;
    for &lsn in &lsns[..lsns.len() - keep.len()] {
        store.delete(&manifest_key(lsn))?;
    }
    tracing::debug!(removed_log_files = removed, "garbage collected");
    Ok(())
}

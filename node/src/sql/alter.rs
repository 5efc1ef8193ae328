//! ALTER TABLE. Index changes only rewrite the table's definition. Column
//! changes use MySQL's COPY algorithm: a hidden table of the new shape is
//! filled with the rows (writers wait, as under MySQL's metadata lock), then
//! takes the old table's place in one log record. A primary that dies
//! mid-copy leaves only the hidden table, which the next start removes.

use std::collections::BTreeMap;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use datafusion::sql::sqlparser::ast::{
    AlterTable, AlterTableOperation, MySQLColumnPosition, TableConstraint,
};
use floe_storage::Record;
use floe_storage::record::Ddl;

use super::catalog::{self, ColumnSpec, IndexSpec, TableMeta, storage_name};
use super::ddl::{column_spec, push_index, unsupported};
use super::dml::{default_text, resolve};
use super::engine::{WriteSet, storage_error};
use super::session::SqlSession;
use crate::mysql::{Done, SqlError};

/// Storage names of tables being rebuilt start with this (after `db/`).
pub const HIDDEN_PREFIX: &str = "#sql-alter-";
/// Rows per commit while copying.
const COPY_ROWS: usize = 256 * 1024;

pub async fn alter_table(s: &mut SqlSession, at: AlterTable) -> Result<Done, SqlError> {
    let (db, name) = resolve(s, &at.name)?;
    let engine = s.engine.clone();
    // Writers wait until the new shape is in place.
    let mut w = engine.lock().await;
    // The copy must hold every committed row, also those still in flight.
    engine.settle_all(&mut w).await?;
    let snap = engine.snapshot();
    let Some(t) = catalog::find_table(&snap, &db, &name) else {
        if at.if_exists {
            return Ok(Done::default());
        }
        return Err(SqlError::new(
            1146,
            "42S02",
            format!("Table '{db}.{name}' doesn't exist"),
        ));
    };
    let mut meta = (*t.meta).clone();
    // For each column of the new shape: the old column it comes from, if any.
    let mut sources: Vec<Option<usize>> = (0..meta.columns.len()).map(Some).collect();
    for op in at.operations {
        match op {
            AlterTableOperation::AddColumn {
                if_not_exists,
                column_def,
                column_position,
                ..
            } => {
                if meta.column(&column_def.name.value).is_some() {
                    if if_not_exists {
                        continue;
                    }
                    return Err(SqlError::new(
                        1060,
                        "42S21",
                        format!("Duplicate column name '{}'", column_def.name.value),
                    ));
                }
                let (spec, primary, unique) = column_spec(&column_def)?;
                if primary || spec.auto_increment {
                    return Err(unsupported(
                        "ALTER TABLE ADD COLUMN ... PRIMARY KEY/AUTO_INCREMENT",
                    ));
                }
                let at = match column_position {
                    None => meta.columns.len(),
                    Some(MySQLColumnPosition::First) => 0,
                    Some(MySQLColumnPosition::After(c)) => {
                        meta.column(&c.value)
                            .ok_or_else(|| unknown_column(&c.value))?
                            + 1
                    }
                };
                let col_name = spec.name.clone();
                insert_column(&mut meta, at, spec);
                sources.insert(at, None);
                if unique {
                    meta.indexes.push(IndexSpec {
                        name: col_name,
                        columns: vec![at],
                        unique: true,
                    });
                }
            }
            AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                ..
            } => {
                for c in column_names {
                    let Some(i) = meta.column(&c.value) else {
                        if if_exists {
                            continue;
                        }
                        return Err(SqlError::new(
                            1091,
                            "42000",
                            format!("Can't DROP '{}'; check that column/key exists", c.value),
                        ));
                    };
                    if meta.columns.len() == 1 {
                        return Err(SqlError::new(
                            1090,
                            "42000",
                            "You can't delete all columns with ALTER TABLE; use DROP TABLE instead",
                        ));
                    }
                    remove_column(&mut meta, i);
                    sources.remove(i);
                }
            }
            AlterTableOperation::AddConstraint { constraint, .. } => {
                add_index(&mut meta, constraint)?;
            }
            AlterTableOperation::DropIndex { name } => {
                let before = meta.indexes.len();
                meta.indexes
                    .retain(|i| !i.name.eq_ignore_ascii_case(&name.value));
                if meta.indexes.len() == before {
                    return Err(SqlError::new(
                        1091,
                        "42000",
                        format!("Can't DROP '{}'; check that column/key exists", name.value),
                    ));
                }
            }
            other => {
                let text = other.to_string();
                return Err(unsupported(&format!(
                    "ALTER TABLE {}",
                    text.split_whitespace()
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" ")
                )));
            }
        }
    }
    let writer = engine.writer()?.clone();
    let reshaped = sources.len() != t.meta.columns.len()
        || sources.iter().enumerate().any(|(i, s)| *s != Some(i));
    if !reshaped {
        // Indexes only: the rows stay as they are.
        drop(w);
        engine.ddl(meta.record(t.id)).await?;
        return Ok(Done::default());
    }

    // A hidden table of the new shape.
    let new_id = snap.lsn + 1;
    let mut def = meta.to_def(new_id);
    def.name = storage_name(&db, &format!("{HIDDEN_PREFIX}{new_id}"));
    writer
        .commit_async(&Record::Ddl(Ddl::CreateTable(def)))
        .await
        .map_err(storage_error)?;
    let schema = meta.schema();
    // The rows, with dropped columns left out and added ones defaulted.
    // Each added column's value, parsed once as a one-row array.
    let defaults: Vec<Option<ArrayRef>> = (0..meta.columns.len())
        .map(|c| match sources[c] {
            Some(_) => Ok(None),
            None => {
                let text = implicit_default(&meta, c)?;
                let field = schema.field(c);
                super::types::column_from_text(&[text.as_deref()], field.data_type(), field.name())
                    .map(Some)
            }
        })
        .collect::<Result<_, SqlError>>()?;
    let old = snap
        .tables
        .get(&t.id)
        .ok_or_else(|| SqlError::internal("table vanished during ALTER"))?;
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0;
    let mut copied = 0u64;
    for seg in &old.segments {
        let mut first = 0u32;
        for b in &seg.batches {
            let n = b.num_rows();
            let live = match &seg.deletes {
                Some(d) if d.range_cardinality(first..first + n as u32) > 0 => {
                    let keep: BooleanArray = (0..n as u32)
                        .map(|r| Some(!d.contains(first + r)))
                        .collect();
                    filter_record_batch(b, &keep).map_err(|e| SqlError::internal(e.to_string()))?
                }
                _ => b.clone(),
            };
            first += n as u32;
            if live.num_rows() == 0 {
                continue;
            }
            let columns = (0..meta.columns.len())
                .map(|c| match sources[c] {
                    Some(i) => Ok(live.column(i).clone()),
                    None => repeat(defaults[c].as_ref(), live.num_rows()),
                })
                .collect::<Result<Vec<ArrayRef>, SqlError>>()?;
            let batch = RecordBatch::try_new(schema.clone(), columns)
                .map_err(|e| SqlError::internal(e.to_string()))?;
            pending_rows += batch.num_rows();
            pending.push(batch);
            if pending_rows >= COPY_ROWS {
                copied += pending_rows as u64;
                flush(&engine, &mut w, new_id, std::mem::take(&mut pending)).await?;
                pending_rows = 0;
            }
        }
    }
    copied += pending_rows as u64;
    flush(&engine, &mut w, new_id, pending).await?;
    writer
        .commit_async(&Record::Ddl(Ddl::ReplaceTable {
            old: t.id,
            new: new_id,
        }))
        .await
        .map_err(storage_error)?;
    engine.forget_keys(&mut w, &[t.id, new_id]);
    tracing::info!(table = %format!("{db}.{name}"), rows = copied, "table rebuilt by ALTER TABLE");
    Ok(Done {
        info: format!("Records: {copied}  Duplicates: 0  Warnings: 0"),
        ..Done::default()
    })
}

async fn flush(
    engine: &super::engine::SqlEngine,
    w: &mut super::engine::WriteState,
    table: floe_storage::TableId,
    batches: Vec<RecordBatch>,
) -> Result<(), SqlError> {
    if batches.is_empty() {
        return Ok(());
    }
    let ws = WriteSet {
        deletes: BTreeMap::new(),
        inserts: BTreeMap::from([(table, batches)]),
    };
    engine.commit(w, &ws).await.map(|_| ())
}

fn unknown_column(name: &str) -> SqlError {
    SqlError::new(
        1054,
        "42S22",
        format!("Unknown column '{name}' in 'table definition'"),
    )
}

/// Column positions at or after `at` move one right.
fn insert_column(meta: &mut TableMeta, at: usize, spec: ColumnSpec) {
    let shift = |c: &mut usize| {
        if *c >= at {
            *c += 1;
        }
    };
    meta.primary_key.iter_mut().for_each(shift);
    for i in &mut meta.indexes {
        i.columns.iter_mut().for_each(shift);
    }
    meta.columns.insert(at, spec);
}

/// Drops column `at` from the table and from every key (a key left with no
/// column goes too), as MySQL does.
fn remove_column(meta: &mut TableMeta, at: usize) {
    let fix = |cols: &mut Vec<usize>| {
        cols.retain(|&c| c != at);
        for c in cols.iter_mut() {
            if *c > at {
                *c -= 1;
            }
        }
    };
    fix(&mut meta.primary_key);
    for i in &mut meta.indexes {
        fix(&mut i.columns);
    }
    meta.indexes.retain(|i| !i.columns.is_empty());
    meta.columns.remove(at);
}

fn add_index(meta: &mut TableMeta, c: TableConstraint) -> Result<(), SqlError> {
    let index = match c {
        TableConstraint::Unique(u) => super::ddl::unique_index(meta, &u)?,
        TableConstraint::Index(ix) => {
            let cols = super::ddl::index_columns(meta, &ix.columns)?;
            let name = ix
                .name
                .as_ref()
                .map(|i| i.value.clone())
                .unwrap_or_else(|| meta.columns[cols[0]].name.clone());
            IndexSpec {
                name,
                columns: cols,
                unique: false,
            }
        }
        other => return Err(unsupported(&format!("ALTER TABLE ADD {other}"))),
    };
    push_index(meta, index)
}

/// The value existing rows get in an added column: its DEFAULT, NULL, or
/// for NOT NULL without one, MySQL's implicit default (0, '').
fn implicit_default(meta: &TableMeta, c: usize) -> Result<Option<String>, SqlError> {
    match default_text(meta, c) {
        Ok(v) => Ok(v),
        Err(_) => {
            let ty = meta.columns[c].ty.storage.data_type();
            if ty.is_numeric() || ty == arrow::datatypes::DataType::Boolean {
                Ok(Some("0".into()))
            } else if matches!(
                ty,
                arrow::datatypes::DataType::Utf8 | arrow::datatypes::DataType::Binary
            ) {
                Ok(Some(String::new()))
            } else {
                Err(SqlError::new(
                    1138,
                    "22004",
                    format!(
                        "Invalid use of NULL value: column '{}' needs a DEFAULT for the existing rows",
                        meta.columns[c].name
                    ),
                ))
            }
        }
    }
}

/// The one value of `one` repeated `rows` times.
fn repeat(one: Option<&ArrayRef>, rows: usize) -> Result<ArrayRef, SqlError> {
    let one = one.ok_or_else(|| SqlError::internal("no default for an added column"))?;
    let indices = arrow::array::UInt32Array::from(vec![0u32; rows]);
    arrow::compute::take(one.as_ref(), &indices, None)
        .map_err(|e| SqlError::internal(e.to_string()))
}

/// Tables a rebuild left behind (the primary died mid-copy).
pub fn leftovers(snap: &floe_storage::Snapshot) -> Vec<floe_storage::TableId> {
    snap.tables
        .values()
        .filter(|t| {
            t.def
                .name
                .split_once('/')
                .is_some_and(|(_, n)| n.starts_with(HIDDEN_PREFIX))
        })
        .map(|t| t.def.id)
        .collect()
}

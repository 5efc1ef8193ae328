//! INSERT, REPLACE, UPDATE and DELETE. Rows to change are found with
//! DataFusion (scans that carry each row's address); an update is a delete
//! plus an insert; everything lands in a write set that commits atomically.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, UInt64Array};
use arrow::compute::kernels::cmp::distinct;
use arrow::compute::{cast, concat_batches, filter_record_batch};
use arrow::datatypes::*;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::sql::sqlparser::ast::{
    Assignment, AssignmentTarget, Expr as SqlExpr, FromTable, Ident, ObjectName, ObjectNamePart,
    OnInsert, SelectItem, SetExpr, Statement, TableFactor, TableObject, UnaryOperator,
    Value as SqlValue,
};
use floe_storage::TableId;
use futures::FutureExt;

use super::catalog::{self, DefaultValue, TableMeta, TableRef};
use super::engine::{Held, Taken, WriteSet};
use super::provider::{PENDING, ROWID};
use super::session::SqlSession;
use super::types::{check_length, column_from_text};
use super::values::Value;
use crate::mysql::{Done, SqlError};

pub fn name_parts(o: &ObjectName) -> Vec<String> {
    o.0.iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => i.value.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// `db.table` or `table` in the current database.
pub fn resolve(s: &SqlSession, o: &ObjectName) -> Result<(String, String), SqlError> {
    let parts = name_parts(o);
    match parts.as_slice() {
        [t] => Ok((s.require_db()?, t.clone())),
        [d, t] => Ok((d.clone(), t.clone())),
        _ => Err(SqlError::syntax(format!("Incorrect table name '{o}'"))),
    }
}

pub fn table(
    s: &SqlSession,
    snap: &floe_storage::Snapshot,
    o: &ObjectName,
) -> Result<TableRef, SqlError> {
    let (db, t) = resolve(s, o)?;
    catalog::table(snap, &db, &t)
}

/// The largest integer in a column (for AUTO_INCREMENT), or 0.
pub fn max_int(a: &ArrayRef) -> i128 {
    match cast(a, &DataType::Int64) {
        Ok(c) => arrow::compute::max(c.as_primitive::<Int64Type>()).unwrap_or(0) as i128,
        Err(_) => 0,
    }
}

/// Drops the transaction's own rows that it deleted again before committing.
pub fn without_dead_pending(mut ws: WriteSet) -> WriteSet {
    for (table, dels) in ws.deletes.iter_mut() {
        let dead: HashSet<u64> = dels
            .iter()
            .filter(|d| **d & PENDING != 0)
            .map(|d| d & !PENDING)
            .collect();
        dels.retain(|d| d & PENDING == 0);
        if dead.is_empty() {
            continue;
        }
        if let Some(batches) = ws.inserts.get_mut(table) {
            let mut at = 0u64;
            for b in batches.iter_mut() {
                let n = b.num_rows() as u64;
                let keep: BooleanArray = (at..at + n).map(|i| Some(!dead.contains(&i))).collect();
                if let Ok(f) = filter_record_batch(b, &keep) {
                    *b = f;
                }
                at += n;
            }
        }
    }
    ws
}

/// A literal's text (`Some(None)` is NULL), or `None` if it must be evaluated.
fn literal_text(e: &SqlExpr) -> Option<Option<String>> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            SqlValue::Number(n, _) => Some(Some(n.clone())),
            SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => {
                Some(Some(s.clone()))
            }
            SqlValue::Boolean(b) => Some(Some(if *b { "1" } else { "0" }.into())),
            SqlValue::Null => Some(None),
            SqlValue::HexStringLiteral(h) => {
                let bytes: Option<Vec<u8>> = (0..h.len() / 2)
                    .map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect();
                Some(Some(crate::mysql::wire::sql_text(&bytes?).into_owned()))
            }
            _ => None,
        },
        SqlExpr::Prefixed { value, .. } => literal_text(value),
        SqlExpr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match literal_text(expr) {
            Some(Some(n)) if !n.starts_with('-') => Some(Some(format!("-{n}"))),
            _ => None,
        },
        SqlExpr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => literal_text(expr),
        _ => None,
    }
}

fn is_default(e: &SqlExpr) -> bool {
    matches!(e, SqlExpr::Identifier(i) if i.value.eq_ignore_ascii_case("DEFAULT") && i.quote_style.is_none())
}

/// Evaluates a constant expression with DataFusion, as text.
async fn eval_text(s: &SqlSession, e: &SqlExpr) -> Result<Option<String>, SqlError> {
    let stmt = SqlSession::parse_one(&format!("SELECT {e}"))?;
    let batches = s.collect_in_view(stmt).await?;
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    let col = b.column(0);
    if col.is_null(0) {
        return Ok(None);
    }
    let f = ArrayFormatter::try_new(col.as_ref(), &FormatOptions::default())
        .map_err(|e| SqlError::internal(e.to_string()))?;
    Ok(Some(f.value(0).to_string()))
}

fn now_text() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    let (y, m, d, h, i, s, _) = crate::mysql::resultset::datetime_parts(micros);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{i:02}:{s:02}")
}

pub fn default_text(meta: &TableMeta, c: usize) -> Result<Option<String>, SqlError> {
    let col = &meta.columns[c];
    match &col.default {
        Some(DefaultValue::Value(v)) => Ok(Some(v.clone())),
        Some(DefaultValue::CurrentTimestamp) => Ok(Some(now_text())),
        Some(DefaultValue::Null) => Ok(None),
        None if col.nullable || col.auto_increment => Ok(None),
        None => Err(SqlError::new(
            1364,
            "HY000",
            format!("Field '{}' doesn't have a default value", col.name),
        )),
    }
}

/// Builds rows of `meta` from per-column text values, assigning
/// AUTO_INCREMENT ids. Returns the batch and the first generated id.
pub fn build_rows(
    engine: &super::engine::SqlEngine,
    w: &mut Held<'_>,
    table: TableId,
    meta: &TableMeta,
    mut columns: Vec<Vec<Option<Cow<'_, str>>>>,
    rows: usize,
) -> Result<(RecordBatch, Option<u64>), SqlError> {
    let generated = assign_auto(engine, w, table, meta, &mut columns, rows)?;
    Ok((rows_batch(meta, &columns)?, generated))
}

/// Gives the rows without an AUTO_INCREMENT value (none, NULL or 0) the
/// next ones, and moves the counter past explicit values. Returns the
/// first generated id.
fn assign_auto(
    engine: &super::engine::SqlEngine,
    w: &mut Held<'_>,
    table: TableId,
    meta: &TableMeta,
    columns: &mut [Vec<Option<Cow<'_, str>>>],
    rows: usize,
) -> Result<Option<u64>, SqlError> {
    let Some(a) = meta.auto_increment() else {
        return Ok(None);
    };
    let missing: Vec<usize> = (0..rows)
        .filter(|&r| {
            columns[a][r]
                .as_deref()
                .is_none_or(|v| v.trim() == "0" || v.is_empty())
        })
        .collect();
    let explicit_max = columns[a]
        .iter()
        .flatten()
        .filter_map(|v| v.trim().parse::<i128>().ok())
        .max();
    if let Some(m) = explicit_max {
        engine.saw_auto(w, table, m)?;
    }
    if missing.is_empty() {
        return Ok(None);
    }
    let first = engine.reserve_auto(w, table, missing.len() as u64)?;
    for (i, r) in missing.iter().enumerate() {
        columns[a][*r] = Some(Cow::Owned((first + i as i128).to_string()));
    }
    Ok(Some(first as u64))
}

/// A batch of `meta`'s rows from per-column text values (AUTO_INCREMENT
/// values already assigned).
pub fn rows_batch(
    meta: &TableMeta,
    columns: &[Vec<Option<Cow<'_, str>>>],
) -> Result<RecordBatch, SqlError> {
    let schema = meta.schema();
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(meta.columns.len());
    for (c, spec) in meta.columns.iter().enumerate() {
        let values: Vec<Option<&str>> = columns[c].iter().map(|v| v.as_deref()).collect();
        if !spec.nullable && values.iter().any(Option::is_none) {
            return Err(SqlError::new(
                1048,
                "23000",
                format!("Column '{}' cannot be null", spec.name),
            ));
        }
        let array = column_from_text(&values, schema.field(c).data_type(), &spec.name)?;
        check_length(array.as_ref(), &spec.ty, &spec.name)?;
        arrays.push(array);
    }
    RecordBatch::try_new(schema, arrays).map_err(|e| SqlError::internal(e.to_string()))
}

pub async fn execute(s: &mut SqlSession, stmt: Statement) -> Result<Done, SqlError> {
    match stmt {
        // Shared, not moved: a statement may run twice (see `SqlSession::write`).
        Statement::Insert(ins) => {
            let ins = std::sync::Arc::new(ins);
            s.write(move |s, w| {
                let ins = ins.clone();
                async move { insert(s, w, &ins).await }.boxed()
            })
            .await
        }
        Statement::Update(up) => {
            let up = std::sync::Arc::new(up);
            s.write(move |s, w| {
                let up = up.clone();
                async move { update(s, w, &up).await }.boxed()
            })
            .await
        }
        Statement::Delete(del) => {
            let del = std::sync::Arc::new(del);
            s.write(move |s, w| {
                let del = del.clone();
                async move { delete(s, w, &del).await }.boxed()
            })
            .await
        }
        _ => Err(SqlError::internal("not a DML statement")),
    }
}

/// One value an INSERT gives a column: `None` for DEFAULT, else its text
/// (`Some(None)` is NULL).
type Given<'a> = Option<Option<Cow<'a, str>>>;

/// The rows an INSERT adds, as text per column of the table, every column
/// filled (with its default where the statement gives no value).
struct NewRows<'a> {
    meta: Arc<TableMeta>,
    targets: Vec<usize>,
    listed: Vec<bool>,
    columns: Vec<Vec<Option<Cow<'a, str>>>>,
    rows: usize,
}

impl<'a> NewRows<'a> {
    /// `names`: the statement's column list (all columns if `None`).
    fn new(meta: Arc<TableMeta>, names: Option<Vec<String>>) -> Result<Self, SqlError> {
        let targets: Vec<usize> = match names {
            None => (0..meta.columns.len()).collect(),
            Some(names) => names
                .iter()
                .map(|n| meta.field(n))
                .collect::<Result<_, _>>()?,
        };
        let mut listed = vec![false; meta.columns.len()];
        for &c in &targets {
            if std::mem::replace(&mut listed[c], true) {
                return Err(SqlError::new(
                    1110,
                    "42000",
                    format!("Column '{}' specified twice", meta.columns[c].name),
                ));
            }
        }
        Ok(NewRows {
            columns: vec![Vec::new(); meta.columns.len()],
            meta,
            targets,
            listed,
            rows: 0,
        })
    }

    fn reserve(&mut self, rows: usize) {
        for c in &mut self.columns {
            c.reserve(rows);
        }
    }

    /// Adds a row from its values for the target columns, in order.
    fn push(&mut self, values: impl ExactSizeIterator<Item = Given<'a>>) -> Result<(), SqlError> {
        if values.len() != self.targets.len() {
            return Err(value_count(self.rows + 1));
        }
        for (v, &c) in values.zip(&self.targets) {
            let v = match v {
                Some(v) => v,
                None => default_text(&self.meta, c)?.map(Cow::Owned),
            };
            self.columns[c].push(v);
        }
        for c in 0..self.columns.len() {
            if !self.listed[c] {
                let v = default_text(&self.meta, c)?.map(Cow::Owned);
                self.columns[c].push(v);
            }
        }
        self.rows += 1;
        Ok(())
    }
}

fn value_count(row: usize) -> SqlError {
    SqlError::new(
        1136,
        "21S01",
        format!("Column count doesn't match value count at row {row}"),
    )
}

/// What an INSERT does with a row whose unique key is taken; with none of
/// these it fails with 1062.
struct OnDuplicate<'s> {
    replace: bool,
    ignore: bool,
    update: Option<&'s [Assignment]>,
}

/// Runs an INSERT read by [`super::values::read`].
pub async fn insert_literals(
    s: &mut SqlSession,
    ins: Arc<super::values::LiteralInsert>,
) -> Result<Done, SqlError> {
    s.engine
        .literal_inserts
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    s.write(move |s, w| {
        let ins = ins.clone();
        async move {
            let snap = s.set_view(false);
            let t = table(s, &snap, &ins.table)?;
            let mut rows = NewRows::new(t.meta.clone(), ins.columns.clone())?;
            rows.reserve(ins.row_count());
            for row in ins.rows() {
                rows.push(row.map(|v| match v {
                    Value::Null => Some(None),
                    Value::Default => None,
                    Value::Text(t) => Some(Some(Cow::Borrowed(t))),
                }))?;
            }
            let dup = OnDuplicate {
                replace: ins.replace,
                ignore: ins.ignore,
                update: None,
            };
            add_rows(s, w, &t, rows, dup).await
        }
        .boxed()
    })
    .await
}

async fn insert(
    s: &mut SqlSession,
    w: &mut Held<'_>,
    ins: &datafusion::sql::sqlparser::ast::Insert,
) -> Result<(Done, WriteSet), SqlError> {
    let TableObject::TableName(name) = &ins.table else {
        return Err(SqlError::new(
            1235,
            "42000",
            "INSERT into a table function is not supported",
        ));
    };
    let snap = s.set_view(false);
    let t = table(s, &snap, name)?;
    let names = (!ins.columns.is_empty()).then(|| {
        ins.columns
            .iter()
            .map(|c| name_parts(c).pop().unwrap_or_default())
            .collect()
    });
    let mut rows = NewRows::new(t.meta.clone(), names)?;
    let source = ins
        .source
        .as_ref()
        .ok_or_else(|| SqlError::syntax("INSERT without VALUES or SELECT"))?;
    match source.body.as_ref() {
        SetExpr::Values(values) => {
            rows.reserve(values.rows.len());
            for row in &values.rows {
                let mut given: Vec<Given> = Vec::with_capacity(row.len());
                for e in row.iter() {
                    given.push(if is_default(e) {
                        None
                    } else {
                        Some(match literal_text(e) {
                            Some(v) => v,
                            None => eval_text(s, e).await?,
                        })
                        .map(|v| v.map(Cow::Owned))
                    });
                }
                rows.push(given.into_iter())?;
            }
        }
        _ => {
            let query = Statement::Query(source.clone());
            let batches = s.collect_in_view(query).await?;
            let opts = FormatOptions::default();
            for b in &batches {
                if b.num_columns() != rows.targets.len() {
                    return Err(value_count(1));
                }
                let fmts: Vec<ArrayFormatter> = b
                    .columns()
                    .iter()
                    .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
                    .collect::<Result<_, _>>()
                    .map_err(|e| SqlError::internal(e.to_string()))?;
                for r in 0..b.num_rows() {
                    rows.push((0..b.num_columns()).map(|i| {
                        Some(
                            (!b.column(i).is_null(r))
                                .then(|| Cow::Owned(fmts[i].value(r).to_string())),
                        )
                    }))?;
                }
            }
        }
    }
    let dup = OnDuplicate {
        replace: ins.replace_into,
        ignore: ins.ignore,
        update: match &ins.on {
            Some(OnInsert::DuplicateKeyUpdate(a)) => Some(a),
            _ => None,
        },
    };
    add_rows(s, w, &t, rows, dup).await
}

/// Turns an INSERT's rows into a write set: AUTO_INCREMENT ids assigned,
/// rows with a taken key handled as `dup` says.
async fn add_rows(
    s: &mut SqlSession,
    w: &mut Held<'_>,
    t: &TableRef,
    rows: NewRows<'_>,
    dup: OnDuplicate<'_>,
) -> Result<(Done, WriteSet), SqlError> {
    let meta = rows.meta.clone();
    let (batch, generated) = build_rows(&s.engine, w, t.id, &meta, rows.columns, rows.rows)?;
    let mut ws = WriteSet::default();
    let records = batch.num_rows();
    let mut affected = records as u64;
    // Rows whose key was taken: left out, replacing, or updating.
    let mut duplicates = 0;
    let OnDuplicate {
        replace,
        ignore,
        update: odku,
    } = dup;
    let mut batch = batch;
    if replace || ignore || odku.is_some() {
        let dups = s.engine.find_duplicate(w, t.id, &batch).await?;
        let dead: HashSet<u64> = s
            .txn
            .as_ref()
            .and_then(|x| x.writes.deletes.get(&t.id))
            .map(|d| d.iter().copied().collect())
            .unwrap_or_default();
        let dups: Vec<Option<Taken>> = dups
            .into_iter()
            .map(|d| d.filter(|d| !dead.contains(&d.row)))
            .collect();
        if replace {
            let mut del: Vec<u64> = dups.iter().flatten().map(|d| d.row).collect();
            del.sort_unstable();
            del.dedup();
            affected += del.len() as u64;
            duplicates += del.len();
            ws.deletes.insert(t.id, del);
            // A row a later row of the statement replaces: inserted, then
            // deleted (two affected rows), so it is simply not stored.
            let replaced = s.engine.repeats(w, t.id, &batch, &[], true)?;
            if !replaced.is_empty() {
                let mut keep = vec![true; batch.num_rows()];
                for (r, _) in &replaced {
                    keep[*r] = false;
                }
                affected += replaced.len() as u64;
                duplicates += replaced.len();
                let keep: BooleanArray = keep.into_iter().map(Some).collect();
                batch = filter_record_batch(&batch, &keep)
                    .map_err(|e| SqlError::internal(e.to_string()))?;
            }
        } else {
            let mut left_out: Vec<bool> = dups.iter().map(Option::is_some).collect();
            if odku.is_none() {
                // IGNORE: a row whose key a row before it took is left out
                // too; each row left out is a warning, in row order.
                let mut ignored = s.engine.repeats(w, t.id, &batch, &left_out, false)?;
                for (r, d) in dups.iter().enumerate() {
                    if let Some(e) = d.and_then(|d| s.engine.duplicate_entry(w, t.id, &batch, r, d))
                    {
                        ignored.push((r, e));
                    }
                }
                ignored.sort_by_key(|(r, _)| *r);
                duplicates += ignored.len();
                for (r, e) in ignored {
                    left_out[r] = true;
                    s.warn(e);
                }
            }
            let keep: BooleanArray = left_out.iter().map(|&out| Some(!out)).collect();
            let fresh = filter_record_batch(&batch, &keep)
                .map_err(|e| SqlError::internal(e.to_string()))?;
            affected = fresh.num_rows() as u64;
            if let Some(assignments) = odku {
                let mut del = Vec::new();
                let mut updated = Vec::new();
                for (r, d) in dups.iter().enumerate() {
                    let Some(Taken { row: id, .. }) = d else {
                        continue;
                    };
                    let old = s.engine.with_state(|st| {
                        st.table(t.id).and_then(|tt| {
                            tt.row(floe_storage::RowAddr {
                                segment: id >> 32,
                                row: *id as u32,
                            })
                        })
                    });
                    let Some(old) = old else { continue };
                    let new = apply_odku(&meta, &old, &batch.slice(r, 1), assignments)?;
                    del.push(*id);
                    updated.push(new);
                    affected += 2;
                    duplicates += 1;
                }
                ws.deletes.insert(t.id, del);
                let mut all = vec![fresh];
                all.extend(updated);
                batch = concat_batches(&meta.schema(), &all)
                    .map_err(|e| SqlError::internal(e.to_string()))?;
            } else {
                batch = fresh;
            }
        }
    }
    // The OK packet's insert id: the first generated id, else the last
    // explicit one stored (LAST_INSERT_ID() keeps only generated ones).
    let insert_id = match (generated, meta.auto_increment()) {
        (Some(id), _) => id,
        (None, Some(a)) => cast(batch.column(a), &DataType::UInt64)
            .ok()
            .and_then(|c| c.as_primitive::<UInt64Type>().iter().flatten().last())
            .unwrap_or(0),
        (None, None) => 0,
    };
    ws.inserts.insert(t.id, vec![batch]);
    if let Some(id) = generated {
        s.set_last_insert_id(id);
    }
    // What MySQL tells a client of a statement that inserted several rows.
    let info = if records > 1 {
        format!(
            "Records: {records}  Duplicates: {duplicates}  Warnings: {}",
            s.diagnostics.warning_count()
        )
    } else {
        String::new()
    };
    Ok((
        Done {
            affected_rows: affected,
            last_insert_id: insert_id,
            warnings: 0,
            info,
        },
        ws,
    ))
}

/// The column an assignment (`SET c = …`) writes, and its name.
fn assigned_column(
    meta: &TableMeta,
    a: &datafusion::sql::sqlparser::ast::Assignment,
) -> Result<(usize, String), SqlError> {
    let AssignmentTarget::ColumnName(n) = &a.target else {
        return Err(SqlError::new(
            1235,
            "42000",
            "tuple assignments are not supported",
        ));
    };
    let name = name_parts(n).pop().unwrap_or_default();
    Ok((meta.field(&name)?, name))
}

/// `ON DUPLICATE KEY UPDATE c = VALUES(c) | literal`, applied to the existing row.
fn apply_odku(
    meta: &TableMeta,
    old: &RecordBatch,
    new: &RecordBatch,
    assignments: &[datafusion::sql::sqlparser::ast::Assignment],
) -> Result<RecordBatch, SqlError> {
    let mut cols: Vec<ArrayRef> = old.columns().to_vec();
    for a in assignments {
        let (c, name) = assigned_column(meta, a)?;
        let value = match &a.value {
            SqlExpr::Function(f) if f.name.to_string().eq_ignore_ascii_case("VALUES") => {
                let arg = f.args.to_string();
                let arg = arg.trim_matches(|ch| ch == '(' || ch == ')' || ch == '`');
                let src = meta.field(arg)?;
                new.column(src).clone()
            }
            e => match literal_text(e) {
                Some(v) => {
                    column_from_text(&[v.as_deref()], old.schema().field(c).data_type(), &name)?
                }
                None => {
                    return Err(SqlError::new(
                        1235,
                        "42000",
                        "ON DUPLICATE KEY UPDATE supports VALUES(col) and literals",
                    ));
                }
            },
        };
        cols[c] = value;
    }
    RecordBatch::try_new(old.schema(), cols).map_err(|e| SqlError::internal(e.to_string()))
}

/// ` WHERE … ORDER BY … LIMIT …` of an UPDATE or DELETE, for its scan.
fn scan_tail(
    selection: &Option<SqlExpr>,
    order_by: &[datafusion::sql::sqlparser::ast::OrderByExpr],
    limit: &Option<SqlExpr>,
) -> String {
    let mut out = String::new();
    if let Some(e) = selection {
        out.push_str(&format!(" WHERE {e}"));
    }
    if !order_by.is_empty() {
        out.push_str(" ORDER BY ");
        out.push_str(
            &order_by
                .iter()
                .map(|o| o.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    if let Some(l) = limit {
        out.push_str(&format!(" LIMIT {l}"));
    }
    out
}

/// The one table an UPDATE or DELETE changes; sets the view to scan it with
/// row ids. `derived` is the error for anything but a plain table.
fn target_table(
    s: &SqlSession,
    relation: &TableFactor,
    derived: &str,
) -> Result<TableRef, SqlError> {
    let snap = s.set_view(true);
    let TableFactor::Table { name, .. } = relation else {
        return Err(SqlError::new(1235, "42000", derived));
    };
    table(s, &snap, name)
}

/// `WHERE` on a key range (`col = v`, `col BETWEEN a AND b`, `col IN
/// (...)` on the first column of the primary key or another index): the
/// statement's scan reads only the rows the key index names, when that is
/// exactly what its snapshot holds in the range.
async fn restrict_to_key(
    s: &SqlSession,
    w: &mut Held<'_>,
    t: &TableRef,
    selection: Option<&SqlExpr>,
) -> Result<bool, SqlError> {
    // A subquery in the WHERE may read the same table: it must see all of it.
    if selection.is_some_and(super::keyrange::reads_tables) {
        return Ok(false);
    }
    let Some(lookup) = super::keyrange::lookup(&t.meta, selection) else {
        return Ok(false);
    };
    let snap = s
        .view
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .snap
        .clone();
    let rows = s
        .engine
        .index_rows(w, &snap, t.id, &lookup, super::keyrange::MAX_ROWS)
        .await?;
    Ok(super::keyrange::narrow(s, t.id, rows, lookup.exact))
}

/// The rows an UPDATE or DELETE on a key range changes, with `items`
/// computed for each, found without planning a query when the key index
/// confined the statement (no ORDER BY or LIMIT); `None` to plan one.
fn rows_by_key(
    s: &SqlSession,
    narrowed: bool,
    relation: &TableFactor,
    items: Vec<SqlExpr>,
    selection: Option<&SqlExpr>,
    ordered: bool,
) -> Option<RecordBatch> {
    let TableFactor::Table { name, alias, .. } = relation else {
        return None;
    };
    if !narrowed || ordered || alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
        return None;
    }
    let items: Vec<SelectItem> = std::iter::once(SqlExpr::Identifier(Ident::new(ROWID)))
        .chain(items)
        .map(|mut e| {
            super::compat::rewrite_expr(&mut e);
            SelectItem::UnnamedExpr(e)
        })
        .collect();
    let mut selection = selection.cloned();
    if let Some(w) = &mut selection {
        super::compat::rewrite_expr(w);
    }
    super::direct::rows_to_write(
        s,
        name,
        alias.as_ref().map(|a| &a.name),
        &items,
        selection.as_ref(),
    )
}

async fn update(
    s: &mut SqlSession,
    w: &mut Held<'_>,
    up: &datafusion::sql::sqlparser::ast::Update,
) -> Result<(Done, WriteSet), SqlError> {
    if !up.table.joins.is_empty() || up.from.is_some() {
        return Err(SqlError::new(
            1235,
            "42000",
            "This version of floe doesn't yet support multi-table UPDATE",
        ));
    }
    let t = target_table(
        s,
        &up.table.relation,
        "UPDATE of a derived table is not supported",
    )?;
    // A subquery in SET may read the same table: it must see all of it.
    let reads_tables = up
        .assignments
        .iter()
        .any(|a| super::keyrange::reads_tables(&a.value));
    let narrowed = !reads_tables && restrict_to_key(s, w, &t, up.selection.as_ref()).await?;
    let meta = t.meta.clone();
    let mut assigned: Vec<(usize, String)> = Vec::new();
    for a in &up.assignments {
        let (c, _) = assigned_column(&meta, a)?;
        assigned.push((c, a.value.to_string()));
    }
    let direct = rows_by_key(
        s,
        narrowed,
        &up.table.relation,
        meta.columns
            .iter()
            .map(|c| SqlExpr::Identifier(Ident::with_quote('`', &c.name)))
            .chain(up.assignments.iter().map(|a| a.value.clone()))
            .collect(),
        up.selection.as_ref(),
        !up.order_by.is_empty() || up.limit.is_some(),
    );
    let batches = match direct {
        Some(b) => vec![b],
        None => {
            let cols: Vec<String> = meta
                .columns
                .iter()
                .map(|c| format!("`{}`", c.name.replace('`', "``")))
                .collect();
            let news: Vec<String> = assigned.iter().map(|(_, e)| format!("({e})")).collect();
            let sql = format!(
                "SELECT {ROWID}, {}, {} FROM {}{}",
                cols.join(", "),
                news.join(", "),
                up.table,
                scan_tail(&up.selection, &up.order_by, &up.limit),
            );
            s.collect_in_view(SqlSession::parse_one(&sql)?).await?
        }
    };
    let schema = meta.schema();
    let n = meta.columns.len();
    let mut ws = WriteSet::default();
    let (mut matched, mut changed) = (0u64, 0u64);
    let mut dels = Vec::new();
    let mut inserts = Vec::new();
    for b in &batches {
        matched += b.num_rows() as u64;
        let ids = b.column(0).as_primitive::<UInt64Type>();
        let mut new_cols: Vec<ArrayRef> = (0..n).map(|c| b.column(1 + c).clone()).collect();
        let mut differs = BooleanArray::from(vec![false; b.num_rows()]);
        for (i, (c, _)) in assigned.iter().enumerate() {
            let spec = &meta.columns[*c];
            let value = cast(b.column(1 + n + i), schema.field(*c).data_type()).map_err(|_| {
                super::types::incorrect_value(schema.field(*c).data_type(), "", &spec.name)
            })?;
            if !spec.nullable && value.null_count() > 0 {
                return Err(SqlError::new(
                    1048,
                    "23000",
                    format!("Column '{}' cannot be null", spec.name),
                ));
            }
            check_length(value.as_ref(), &spec.ty, &spec.name)?;
            let d =
                distinct(&new_cols[*c], &value).map_err(|e| SqlError::internal(e.to_string()))?;
            differs =
                arrow::compute::or(&differs, &d).map_err(|e| SqlError::internal(e.to_string()))?;
            new_cols[*c] = value;
        }
        let new = RecordBatch::try_new(schema.clone(), new_cols)
            .map_err(|e| SqlError::internal(e.to_string()))?;
        let new =
            filter_record_batch(&new, &differs).map_err(|e| SqlError::internal(e.to_string()))?;
        let gone =
            arrow::compute::filter(ids, &differs).map_err(|e| SqlError::internal(e.to_string()))?;
        let gone = gone.as_primitive::<UInt64Type>();
        changed += gone.len() as u64;
        dels.extend(gone.values().iter().copied());
        inserts.push(new);
    }
    ws.deletes.insert(t.id, dels);
    ws.inserts.insert(t.id, inserts);
    Ok((
        Done {
            affected_rows: changed,
            info: format!("Rows matched: {matched}  Changed: {changed}  Warnings: 0"),
            ..Done::default()
        },
        ws,
    ))
}

async fn delete(
    s: &mut SqlSession,
    w: &mut Held<'_>,
    del: &datafusion::sql::sqlparser::ast::Delete,
) -> Result<(Done, WriteSet), SqlError> {
    let from = match &del.from {
        FromTable::WithFromKeyword(f) | FromTable::WithoutKeyword(f) => f,
    };
    if from.len() != 1 || !from[0].joins.is_empty() || !del.tables.is_empty() || del.using.is_some()
    {
        return Err(SqlError::new(
            1235,
            "42000",
            "This version of floe doesn't yet support multi-table DELETE",
        ));
    }
    let t = target_table(
        s,
        &from[0].relation,
        "DELETE from a derived table is not supported",
    )?;
    let narrowed = restrict_to_key(s, w, &t, del.selection.as_ref()).await?;
    let direct = rows_by_key(
        s,
        narrowed,
        &from[0].relation,
        Vec::new(),
        del.selection.as_ref(),
        !del.order_by.is_empty() || del.limit.is_some(),
    );
    let batches = match direct {
        Some(b) => vec![b],
        None => {
            let sql = format!(
                "SELECT {ROWID} FROM {}{}",
                from[0],
                scan_tail(&del.selection, &del.order_by, &del.limit),
            );
            s.collect_in_view(SqlSession::parse_one(&sql)?).await?
        }
    };
    let mut ids = Vec::new();
    for b in &batches {
        let col: &UInt64Array = b.column(0).as_primitive();
        ids.extend(col.values().iter().copied());
    }
    let n = ids.len() as u64;
    let mut ws = WriteSet::default();
    ws.deletes.insert(t.id, ids);
    Ok((Done::affected(n), ws))
}

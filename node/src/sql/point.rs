//! Unique-key point lookups without DataFusion: `SELECT cols FROM t WHERE
//! key = literal` on the primary is answered from the key index the commit
//! path keeps, in microseconds rather than a plan and a scan. Anything the
//! index cannot answer exactly for the statement's snapshot goes the
//! general way.
//!
//! A lookup's [`Plan`] is everything but the key's value, so a prepared
//! `SELECT ... WHERE id = ?` makes it once and every execution reuses it:
//! no statement to bind, no index to choose, no schema to project.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr as SqlExpr, ObjectName, SelectItem, Statement,
};

use super::catalog::{KeyIndexSpec, TableMeta};
use super::keyrange::{KeyBounds, KeyEncoder, Lookup};
use super::provider::addr;
use super::session::{SqlSession, one_batch};
use crate::mysql::{Outcome, SqlError};
use floe_storage::TableId;

/// A point lookup of one table by one unique key, for any value of the key.
pub struct Plan {
    table: ObjectName,
    id: TableId,
    /// The table's definition the plan was made for.
    meta: Arc<TableMeta>,
    /// The key index: its position in `meta.key_indexes()`, and what it is.
    index: usize,
    spec: KeyIndexSpec,
    encoder: KeyEncoder,
    /// Integer keys compare exactly, so the index's answer needs no filter.
    exact: bool,
    projection: Vec<usize>,
    schema: SchemaRef,
    /// The key's value in the statement: a literal, or a prepared
    /// statement's `?`.
    pub key: SqlExpr,
}

impl Plan {
    /// The plan for `stmt` if it is a point lookup by a unique key of a
    /// table this node keeps key indexes for.
    pub fn of(s: &SqlSession, stmt: &Statement) -> Option<Plan> {
        let shape = super::direct::Shape::of(stmt)?;
        if shape.alias.is_some()
            || shape.distinct
            || !shape.order_by.is_empty()
            || shape.limit.is_some()
            || shape.offset != 0
        {
            return None;
        }
        let (key, value) = equality(shape.selection?)?;
        // Checked without a snapshot: a statement that is not a point
        // lookup builds its view once, when it is planned.
        let t = super::keyrange::named_table(s, shape.table)?;
        let meta = t.meta;
        let column = meta.column(key)?;
        let (index, spec) = meta
            .key_indexes()
            .into_iter()
            .enumerate()
            .find(|(_, k)| k.unique && k.columns == [column])?;
        let ty = meta.columns[column].ty.storage.data_type();
        let exact = ty.is_integer();
        let encoder = KeyEncoder::new(ty)?;
        let projection: Vec<usize> = match shape.items {
            [SelectItem::Wildcard(_)] => (0..meta.columns.len()).collect(),
            items => items
                .iter()
                .map(|i| match i {
                    SelectItem::UnnamedExpr(SqlExpr::Identifier(c)) => meta.column(&c.value),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        };
        let schema = Arc::new(meta.schema().project(&projection).ok()?);
        Some(Plan {
            table: shape.table.clone(),
            id: t.id,
            meta,
            index,
            spec,
            encoder,
            exact,
            projection,
            schema,
            key: value.clone(),
        })
    }

    /// Whether the table the statement names is still the one planned for
    /// (no DDL since, and the same database in use). The catalog hands out
    /// one parsed definition per version, so this is mostly a pointer
    /// comparison.
    pub fn current(&self, s: &SqlSession) -> bool {
        super::keyrange::named_table(s, &self.table).is_some_and(|t| {
            t.id == self.id && (Arc::ptr_eq(&t.meta, &self.meta) || *t.meta == *self.meta)
        })
    }

    /// The row whose key is `key`; `None` to plan the statement as usual
    /// (a value that does not compare exactly, the transaction's own writes
    /// to the table, an index that cannot tell for this snapshot).
    pub async fn answer(&self, s: &SqlSession, key: &SqlExpr) -> Result<Option<Outcome>, SqlError> {
        if let Some(txn) = &s.txn
            && (txn.writes.inserts.contains_key(&self.id)
                || txn.writes.deletes.contains_key(&self.id))
        {
            return Ok(None);
        }
        let Some(key) = self.encoder.encode(key) else {
            return Ok(None);
        };
        let lookup = Lookup {
            index: self.index,
            spec: self.spec.clone(),
            bounds: KeyBounds::Points(vec![key]),
            exact: self.exact,
        };
        let Some(ids) = super::keyrange::rows_in_view(s, self.id, &lookup).await? else {
            return Ok(None);
        };
        let row = ids.first().and_then(|&id| {
            s.engine
                .with_state(|st| st.table(self.id).and_then(|tb| tb.row(addr(id))))
        });
        let batch = match row {
            Some(r) => r.project(&self.projection).and_then(|r| {
                arrow::array::RecordBatch::try_new(self.schema.clone(), r.columns().to_vec())
            }),
            None => Ok(arrow::array::RecordBatch::new_empty(self.schema.clone())),
        }
        .map_err(|e| SqlError::internal(e.to_string()));
        s.engine
            .point_lookups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Some(one_batch(&self.schema, batch)))
    }
}

/// `column = value` (either way round), the only WHERE a point lookup
/// answers (any other condition would need checking against the row):
/// the column's name and the value.
fn equality(selection: &SqlExpr) -> Option<(&str, &SqlExpr)> {
    let SqlExpr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    } = selection
    else {
        return None;
    };
    match (left.as_ref(), right.as_ref()) {
        (SqlExpr::Identifier(c), v @ SqlExpr::Value(_))
        | (v @ SqlExpr::Value(_), SqlExpr::Identifier(c)) => Some((c.value.as_str(), v)),
        _ => None,
    }
}

/// The answer to `stmt` if it is a point lookup this node can answer from
/// its key index; `None` to plan it as usual.
pub async fn lookup(s: &SqlSession, stmt: &Statement) -> Result<Option<Outcome>, SqlError> {
    match Plan::of(s, stmt) {
        Some(plan) => plan.answer(s, &plan.key).await,
        None => Ok(None),
    }
}

//! Unique-key point lookups without DataFusion: `SELECT cols FROM t WHERE
//! key = literal` on the primary is answered from the key index the commit
//! path keeps, in microseconds rather than a plan and a scan. Anything the
//! index cannot answer exactly for the statement's snapshot goes the
//! general way.

use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr as SqlExpr, SelectItem, Statement};

use super::provider::addr;
use super::session::{SqlSession, one_batch};
use crate::mysql::{Outcome, SqlError};

/// What a point lookup needs from the statement.
struct Shape {
    table: datafusion::sql::sqlparser::ast::ObjectName,
    /// Selected column names; `None` for `*`.
    columns: Option<Vec<String>>,
    selection: SqlExpr,
}

fn shape(stmt: &Statement) -> Option<Shape> {
    let s = super::direct::Shape::of(stmt)?;
    if s.alias.is_some()
        || s.distinct
        || !s.order_by.is_empty()
        || s.limit.is_some()
        || s.offset != 0
    {
        return None;
    }
    let columns = match s.items {
        [SelectItem::Wildcard(_)] => None,
        items => Some(
            items
                .iter()
                .map(|i| match i {
                    SelectItem::UnnamedExpr(SqlExpr::Identifier(c)) => Some(c.value.clone()),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?,
        ),
    };
    if !is_equality(s.selection) {
        return None;
    }
    Some(Shape {
        table: s.table.clone(),
        columns,
        selection: s.selection?.clone(),
    })
}

/// `column = literal` (either way round): the only WHERE a point lookup
/// answers (any other condition would need checking against the row).
fn is_equality(selection: Option<&SqlExpr>) -> bool {
    let Some(SqlExpr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    }) = selection
    else {
        return false;
    };
    matches!(
        (left.as_ref(), right.as_ref()),
        (SqlExpr::Identifier(_), SqlExpr::Value(_)) | (SqlExpr::Value(_), SqlExpr::Identifier(_))
    )
}

/// The answer to `stmt` if it is a primary-key point lookup this node can
/// answer from its key index; `None` to plan it as usual.
pub async fn lookup(s: &SqlSession, stmt: &Statement) -> Result<Option<Outcome>, SqlError> {
    let Some(shape) = shape(stmt) else {
        return Ok(None);
    };
    // Checked without a snapshot: a statement that is not a point lookup
    // builds its view once, when it is planned.
    let Some(t) = super::keyrange::named_table(s, &shape.table) else {
        return Ok(None);
    };
    let meta = t.meta.clone();
    let Some(lookup) = super::keyrange::lookup(&meta, Some(&shape.selection))
        .filter(super::keyrange::Lookup::is_point)
    else {
        return Ok(None);
    };
    if let Some(txn) = &s.txn
        && (txn.writes.inserts.contains_key(&t.id) || txn.writes.deletes.contains_key(&t.id))
    {
        return Ok(None);
    }
    let projection: Vec<usize> = match &shape.columns {
        None => (0..meta.columns.len()).collect(),
        Some(cols) => match cols.iter().map(|c| meta.column(c)).collect::<Option<_>>() {
            Some(p) => p,
            None => return Ok(None),
        },
    };
    let schema = std::sync::Arc::new(
        meta.schema()
            .project(&projection)
            .map_err(|e| SqlError::internal(e.to_string()))?,
    );
    let Some(ids) = super::keyrange::rows_in_view(s, t.id, &lookup).await? else {
        return Ok(None);
    };
    let row = ids.first().and_then(|&id| {
        s.engine
            .with_state(|st| st.table(t.id).and_then(|tb| tb.row(addr(id))))
    });
    let batch = match row {
        Some(r) => r
            .project(&projection)
            .and_then(|r| arrow::array::RecordBatch::try_new(schema.clone(), r.columns().to_vec())),
        None => Ok(arrow::array::RecordBatch::new_empty(schema.clone())),
    }
    .map_err(|e| SqlError::internal(e.to_string()));
    s.engine
        .point_lookups
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(Some(one_batch(&schema, batch)))
}

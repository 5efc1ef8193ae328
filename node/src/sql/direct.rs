//! Queries over a primary-key range, run without planning a query. When
//! the key index has confined a statement's table to the rows in range
//! (at most `keyrange::MAX_ROWS`), planning and optimizing a DataFusion
//! plan costs far more than the work itself. So a query on that one table
//! whose shape is a filter, a projection or a handful of aggregates,
//! DISTINCT, ORDER BY and LIMIT is run here: its expressions are still
//! DataFusion's (planned against the table's schema with the session's
//! functions and coercions, and evaluated over the rows), so the answers
//! and types are the planned path's. Anything else, and any error, goes
//! the planned way, which then reports it as it always does.
//!
//! UPDATE and DELETE find their rows through a query of this shape, so
//! they take this path too.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{SortColumn, SortOptions, concat_batches, filter_record_batch, take};
use arrow::compute::{lexsort_to_indices, take_record_batch};
use arrow::datatypes::{FieldRef, Schema, SchemaRef};
use arrow::row::{RowConverter, SortField};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, TableReference};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::aggregate::{AggregateFunctionExpr, LoweredAggregateBuilder};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::sql::sqlparser::ast::{
    Distinct, Expr as SqlExpr, ExprWithAlias, GroupByExpr, Ident, LimitClause, ObjectName,
    OrderByExpr, OrderByKind, SelectItem, SetExpr, Statement, TableFactor, Value,
    visit_expressions,
};

use super::catalog::{self, TableMeta};
use super::dml::name_parts;
use super::provider::SnapshotTable;
use super::session::SqlSession;
use datafusion::catalog::TableProvider;

/// The answer to `stmt` (already rewritten for MySQL) when the view set for
/// it confines its one table to a key range and its shape is one this
/// module runs; `None` to plan it.
pub fn select(s: &SqlSession, stmt: &Statement) -> Option<(SchemaRef, SendableRecordBatchStream)> {
    let batch = answer(s, &Shape::of(stmt)?)?;
    let schema = batch.schema();
    let stream = futures::stream::iter(vec![Ok(batch)]);
    Some((
        schema.clone(),
        Box::pin(RecordBatchStreamAdapter::new(schema, stream)),
    ))
}

/// What `SELECT items FROM table [AS alias] WHERE selection` gives (the
/// expressions rewritten for MySQL already), on the view set for a write
/// that the key index confined; `None` to plan it.
pub fn rows_to_write(
    s: &SqlSession,
    table: &ObjectName,
    alias: Option<&Ident>,
    items: &[SelectItem],
    selection: Option<&SqlExpr>,
) -> Option<RecordBatch> {
    answer(
        s,
        &Shape {
            table,
            alias,
            items,
            selection,
            distinct: false,
            order_by: &[],
            limit: None,
            offset: 0,
        },
    )
}

fn answer(s: &SqlSession, shape: &Shape<'_>) -> Option<RecordBatch> {
    let view = s.view.read().unwrap_or_else(|e| e.into_inner()).clone();
    let (table, _) = view.only.as_ref()?;
    let (db, name) = match name_parts(shape.table).as_slice() {
        [t] => (s.db()?, t.clone()),
        [d, t] => (d.clone(), t.clone()),
        _ => return None,
    };
    let t = catalog::find_table(&view.snap, &db, &name)?;
    if t.id != *table {
        return None;
    }
    let provider = SnapshotTable::new(t.meta.clone(), view.snap.tables.get(&t.id)?.clone(), &view);
    let state = s.df.state_ref();
    let state = state.read();
    // Rows a key range that is the whole WHERE clause names need no
    // filtering; the transaction's own rows (not in the index) do.
    let filter = !view.exact || provider.has_own_rows();
    let batch = run(&state, shape, &provider, filter, (&t.meta, &s.direct_plans))
        .inspect_err(|e| tracing::debug!("planned instead of run directly: {e}"))
        .ok()?;
    s.engine
        .direct_queries
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Some(batch)
}

/// The parts of a one-table `SELECT` this module runs (point lookups
/// take a narrower kind of the same).
pub struct Shape<'a> {
    pub table: &'a ObjectName,
    pub alias: Option<&'a Ident>,
    pub items: &'a [SelectItem],
    pub selection: Option<&'a SqlExpr>,
    pub distinct: bool,
    pub order_by: &'a [OrderByExpr],
    pub limit: Option<usize>,
    pub offset: usize,
}

impl<'a> Shape<'a> {
    pub fn of(stmt: &'a Statement) -> Option<Shape<'a>> {
        let Statement::Query(q) = stmt else {
            return None;
        };
        let plain_query = q.with.is_none()
            && q.fetch.is_none()
            && q.locks.is_empty()
            && q.for_clause.is_none()
            && q.settings.is_none()
            && q.format_clause.is_none()
            && q.pipe_operators.is_empty();
        let SetExpr::Select(sel) = q.body.as_ref() else {
            return None;
        };
        let plain_select = plain_query
            && sel.top.is_none()
            && sel.into.is_none()
            && sel.exclude.is_none()
            && sel.lateral_views.is_empty()
            && sel.prewhere.is_none()
            && sel.connect_by.is_empty()
            && sel.cluster_by.is_empty()
            && sel.distribute_by.is_empty()
            && sel.sort_by.is_empty()
            && sel.having.is_none()
            && sel.named_window.is_empty()
            && sel.qualify.is_none()
            && sel.value_table_mode.is_none()
            && matches!(&sel.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
        let [from] = sel.from.as_slice() else {
            return None;
        };
        if !plain_select || !from.joins.is_empty() {
            return None;
        }
        let TableFactor::Table {
            name,
            alias,
            args: None,
            with_hints,
            version: None,
            partitions,
            ..
        } = &from.relation
        else {
            return None;
        };
        if !with_hints.is_empty() || !partitions.is_empty() {
            return None;
        }
        let alias = match alias {
            None => None,
            Some(a) if a.columns.is_empty() => Some(&a.name),
            Some(_) => return None,
        };
        let distinct = match &sel.distinct {
            None | Some(Distinct::All) => false,
            Some(Distinct::Distinct) => true,
            Some(Distinct::On(_)) => return None,
        };
        let order_by: &[OrderByExpr] = match &q.order_by {
            None => &[],
            Some(o) if o.interpolate.is_some() => return None,
            Some(o) => match &o.kind {
                OrderByKind::Expressions(e) => e,
                OrderByKind::All(_) => return None,
            },
        };
        if order_by.iter().any(|o| o.with_fill.is_some()) {
            return None;
        }
        let (limit, offset) = match &q.limit_clause {
            None => (None, 0),
            Some(LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) if limit_by.is_empty() => (
                match limit {
                    None => None,
                    Some(l) => Some(count(l)?),
                },
                match offset {
                    None => 0,
                    Some(o) => count(&o.value)?,
                },
            ),
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                (Some(count(limit)?), count(offset)?)
            }
            Some(_) => return None,
        };
        Some(Shape {
            table: name,
            alias,
            items: &sel.projection,
            selection: sel.selection.as_ref(),
            distinct,
            order_by,
            limit,
            offset,
        })
    }

    /// The columns of `schema` the query may read: every column a name in
    /// it could refer to (all of them for a wildcard). A name this misses
    /// fails planning, and the query is planned the usual way.
    fn columns(&self, schema: &Schema, filter: bool) -> Vec<usize> {
        let mut names: HashSet<String> = HashSet::new();
        let mut all = false;
        let mut note = |e: &SqlExpr| {
            let _ = visit_expressions(e, |x| {
                let id = match x {
                    SqlExpr::Identifier(id) => Some(id),
                    SqlExpr::CompoundIdentifier(parts) => parts.last(),
                    _ => None,
                };
                if let Some(id) = id {
                    names.insert(id.value.to_lowercase());
                }
                ControlFlow::<()>::Continue(())
            });
        };
        for item in self.items {
            match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => note(e),
                _ => all = true,
            }
        }
        if filter && let Some(w) = self.selection {
            note(w);
        }
        for o in self.order_by {
            note(&o.expr);
        }
        (0..schema.fields().len())
            .filter(|&i| all || names.contains(&schema.field(i).name().to_lowercase()))
            .collect()
    }

    /// How DataFusion qualifies the table's columns in this query.
    fn qualifier(&self) -> Option<TableReference> {
        let norm = |i: &Ident| match i.quote_style {
            None => i.value.to_lowercase(),
            Some(_) => i.value.clone(),
        };
        if let Some(a) = self.alias {
            return Some(TableReference::bare(norm(a)));
        }
        let parts: Vec<&Ident> = self
            .table
            .0
            .iter()
            .map(|p| p.as_ident())
            .collect::<Option<_>>()?;
        match parts.as_slice() {
            [t] => Some(TableReference::bare(norm(t))),
            [d, t] => Some(TableReference::partial(norm(d), norm(t))),
            _ => None,
        }
    }
}

/// A non-negative integer literal (LIMIT and OFFSET).
fn count(e: &SqlExpr) -> Option<usize> {
    match e {
        SqlExpr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// Anything this module does not run: the caller plans the query instead.
fn unsupported() -> DataFusionError {
    DataFusionError::NotImplemented("not a direct query".into())
}

/// One output column: an expression over the rows, or an aggregate of them.
#[derive(Clone)]
enum Output {
    Scalar(Arc<dyn PhysicalExpr>),
    /// `outer` over the values of `aggregates` (columns of `schema`).
    Aggregate {
        aggregates: Vec<Arc<AggregateFunctionExpr>>,
        outer: Arc<dyn PhysicalExpr>,
        schema: SchemaRef,
    },
}

fn run(
    state: &SessionState,
    shape: &Shape<'_>,
    provider: &SnapshotTable,
    filter: bool,
    (meta, plans): (&Arc<TableMeta>, &Plans),
) -> Result<RecordBatch> {
    let table_schema = provider.schema();
    let projection = shape.columns(&table_schema, filter);
    let input_schema = Arc::new(table_schema.project(&projection)?);
    let qualifier = shape.qualifier().ok_or_else(unsupported)?;
    let dfs = DFSchema::try_from_qualified_schema(qualifier.clone(), &input_schema)?;
    let planner = Planner {
        state,
        dfs: &dfs,
        schema: &input_schema,
    };
    let rows = provider.rows(&projection)?;
    let mut batch = match rows.as_slice() {
        [] => RecordBatch::new_empty(input_schema.clone()),
        [one] => one.clone(),
        many => concat_batches(&input_schema, many)?,
    };
    if let Some(w) = shape.selection.filter(|_| filter) {
        let keep = planner
            .scalar(w)?
            .evaluate(&batch)?
            .into_array(batch.num_rows())?;
        let keep = keep
            .as_any()
            .downcast_ref::<arrow::array::BooleanArray>()
            .ok_or_else(unsupported)?;
        batch = filter_record_batch(&batch, keep)?;
    }

    // The select list, wildcards expanded.
    let mut outputs: Vec<Column> = Vec::new();
    for item in shape.items {
        let (e, alias) = match item {
            SelectItem::Wildcard(opts)
                if opts.opt_ilike.is_none()
                    && opts.opt_exclude.is_none()
                    && opts.opt_except.is_none()
                    && opts.opt_replace.is_none()
                    && opts.opt_rename.is_none() =>
            {
                for (i, f) in input_schema.fields().iter().enumerate() {
                    let col = datafusion::physical_expr::expressions::Column::new(f.name(), i);
                    outputs.push(Column {
                        name: f.name().clone(),
                        aliased: false,
                        output: Output::Scalar(Arc::new(col)),
                        source: None,
                    });
                }
                continue;
            }
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
            _ => return Err(unsupported()),
        };
        outputs.push(Column {
            aliased: alias.is_some(),
            name: alias.unwrap_or_else(|| e.to_string()),
            output: plans.output(&planner, (meta, &qualifier, &projection), e)?,
            source: Some(e),
        });
    }
    let aggregates = outputs
        .iter()
        .filter(|c| matches!(c.output, Output::Aggregate { .. }))
        .count();
    let mut fields: Vec<FieldRef> = Vec::with_capacity(outputs.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(outputs.len());
    if aggregates == 0 {
        for Column { name, output, .. } in &outputs {
            let Output::Scalar(p) = output else {
                return Err(unsupported());
            };
            let field = p.return_field(&input_schema)?;
            fields.push(Arc::new(field.as_ref().clone().with_name(name)));
            columns.push(p.evaluate(&batch)?.into_array(batch.num_rows())?);
        }
    } else if aggregates == outputs.len() && shape.order_by.is_empty() && !shape.distinct {
        for Column { name, output, .. } in &outputs {
            let Output::Aggregate {
                aggregates,
                outer,
                schema,
            } = output
            else {
                return Err(unsupported());
            };
            let mut values = Vec::with_capacity(aggregates.len());
            for a in aggregates {
                let args: Vec<ArrayRef> = a
                    .expressions()
                    .iter()
                    .map(|e| e.evaluate(&batch)?.into_array(batch.num_rows()))
                    .collect::<Result<_>>()?;
                let mut acc = a.create_accumulator()?;
                acc.update_batch(&args)?;
                values.push(acc.evaluate()?.to_array()?);
            }
            let one = RecordBatch::try_new(schema.clone(), values)?;
            let field = outer.return_field(schema)?;
            fields.push(Arc::new(field.as_ref().clone().with_name(name)));
            columns.push(outer.evaluate(&one)?.into_array(1)?);
        }
    } else {
        return Err(unsupported());
    }
    let out_schema = Arc::new(Schema::new(fields));
    let mut out = RecordBatch::try_new(out_schema, columns)?;

    // ORDER BY keys, computed before DISTINCT drops rows.
    let mut keys: Vec<SortColumn> = Vec::with_capacity(shape.order_by.len());
    for o in shape.order_by {
        let values = match output_named(&o.expr, &outputs) {
            Some(i) => out.column(i).clone(),
            // With DISTINCT only the select list may be sorted by; a
            // position past it is the planner's error to report.
            None if shape.distinct || count(&o.expr).is_some() => return Err(unsupported()),
            None => planner
                .scalar(&o.expr)?
                .evaluate(&batch)?
                .into_array(batch.num_rows())?,
        };
        let descending = o.options.asc == Some(false);
        keys.push(SortColumn {
            values,
            options: Some(SortOptions {
                descending,
                // MySQL sorts NULL below every value.
                nulls_first: o.options.nulls_first.unwrap_or(!descending),
            }),
        });
    }
    if shape.distinct {
        let kept = first_of_each(&out)?;
        out = take_record_batch(&out, &kept)?;
        for k in &mut keys {
            k.values = take(&k.values, &kept, None)?;
        }
    }
    if !keys.is_empty() {
        let wanted = shape.limit.map(|l| l.saturating_add(shape.offset));
        let order = lexsort_to_indices(&keys, wanted)?;
        out = take_record_batch(&out, &order)?;
    }
    let from = shape.offset.min(out.num_rows());
    let n = shape.limit.unwrap_or(usize::MAX).min(out.num_rows() - from);
    Ok(out.slice(from, n))
}

/// A column of the select list.
struct Column<'a> {
    name: String,
    /// Named with `AS`.
    aliased: bool,
    output: Output,
    /// The expression written (none for a wildcard's columns).
    source: Option<&'a SqlExpr>,
}

/// The select-list column an ORDER BY expression names: a position
/// (`ORDER BY 2`), an alias, or the same expression.
fn output_named(e: &SqlExpr, outputs: &[Column<'_>]) -> Option<usize> {
    if let Some(n) = count(e) {
        return n.checked_sub(1).filter(|&i| i < outputs.len());
    }
    if let SqlExpr::Identifier(id) = e
        && let Some(i) = outputs
            .iter()
            .position(|c| c.aliased && c.name.eq_ignore_ascii_case(&id.value))
    {
        return Some(i);
    }
    outputs.iter().position(|c| c.source == Some(e))
}

/// Indices of the first row of each distinct row of `batch`.
fn first_of_each(batch: &RecordBatch) -> Result<UInt32Array> {
    let fields = batch
        .schema()
        .fields()
        .iter()
        .map(|f| SortField::new(f.data_type().clone()))
        .collect();
    let rows = RowConverter::new(fields)?.convert_columns(batch.columns())?;
    let mut seen = HashSet::with_capacity(rows.num_rows());
    Ok((0..rows.num_rows())
        .filter(|&i| seen.insert(rows.row(i)))
        .map(|i| i as u32)
        .collect())
}

/// Select-list expressions already planned, per session. A prepared
/// statement runs the same select list many times (sysbench's ranges,
/// UPDATE's SET), and planning it (SQL, logical, coerced, physical) cost
/// more than running it. Kept only for expressions whose plan depends on
/// nothing but the table's columns: columns, literals, operators and the
/// common aggregates; no functions (NOW(), plugins), variables or
/// subqueries.
#[derive(Default)]
pub struct Plans(Mutex<HashMap<PlanKey, (Arc<TableMeta>, Output)>>);

/// The table description's address (the entry holds the description, so
/// the address is not reused meanwhile), the table's name or alias, the
/// columns gathered, and the expression.
type PlanKey = (usize, String, Vec<usize>, String);

const MAX_PLANS: usize = 256;

impl Plans {
    fn output(
        &self,
        planner: &Planner<'_>,
        (meta, scope, projection): (&Arc<TableMeta>, &TableReference, &[usize]),
        e: &SqlExpr,
    ) -> Result<Output> {
        if matches!(e, SqlExpr::Identifier(_)) || !stable(e) {
            return planner.output(e);
        }
        let key = (
            Arc::as_ptr(meta) as usize,
            scope.to_string(),
            projection.to_vec(),
            e.to_string(),
        );
        let cached = self.lock().get(&key).map(|(_, o)| o.clone());
        if let Some(o) = cached {
            return Ok(o);
        }
        let o = planner.output(e)?;
        let mut plans = self.lock();
        if plans.len() >= MAX_PLANS {
            plans.clear();
        }
        plans.insert(key, (meta.clone(), o.clone()));
        Ok(o)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PlanKey, (Arc<TableMeta>, Output)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether `e`'s plan depends only on the columns it names (see [`Plans`]).
fn stable(e: &SqlExpr) -> bool {
    use datafusion::sql::sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
    match e {
        // `@x` and `@@session.x` are planned as their values.
        SqlExpr::Identifier(i) => !i.value.starts_with('@'),
        SqlExpr::CompoundIdentifier(parts) => !parts.iter().any(|i| i.value.starts_with('@')),
        SqlExpr::Value(v) => !matches!(v.value, Value::Placeholder(_)),
        SqlExpr::BinaryOp { left, right, .. } => stable(left) && stable(right),
        SqlExpr::UnaryOp { expr, .. }
        | SqlExpr::Nested(expr)
        | SqlExpr::IsNull(expr)
        | SqlExpr::IsNotNull(expr) => stable(expr),
        SqlExpr::Function(f) => {
            let name = f.name.to_string().to_ascii_uppercase();
            let FunctionArguments::List(list) = &f.args else {
                return false;
            };
            ["COUNT", "SUM", "MIN", "MAX"].contains(&name.as_str())
                && f.over.is_none()
                && f.filter.is_none()
                && f.within_group.is_empty()
                && f.null_treatment.is_none()
                && list.clauses.is_empty()
                && list.args.iter().all(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => stable(e),
                    FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => true,
                    _ => false,
                })
        }
        _ => false,
    }
}

/// Plans SQL expressions against the table as DataFusion would.
struct Planner<'a> {
    state: &'a SessionState,
    dfs: &'a DFSchema,
    schema: &'a Schema,
}

impl Planner<'_> {
    fn logical(&self, e: &SqlExpr) -> Result<Expr> {
        self.state.create_logical_expr_from_sql_expr(
            ExprWithAlias {
                expr: e.clone(),
                alias: None,
            },
            self.dfs,
        )
    }

    /// A column named by itself, without a planner's round trip (UPDATE's
    /// row-finding query names every column of the table).
    fn column(&self, e: &SqlExpr) -> Option<Arc<dyn PhysicalExpr>> {
        let SqlExpr::Identifier(id) = e else {
            return None;
        };
        let name = match id.quote_style {
            None => id.value.to_lowercase(),
            Some(_) => id.value.clone(),
        };
        let (i, _) = self.schema.column_with_name(&name)?;
        Some(Arc::new(
            datafusion::physical_expr::expressions::Column::new(&name, i),
        ))
    }

    /// A row-by-row expression (no aggregate, window or subquery in it).
    fn scalar(&self, e: &SqlExpr) -> Result<Arc<dyn PhysicalExpr>> {
        if let Some(c) = self.column(e) {
            return Ok(c);
        }
        let expr = self.logical(e)?;
        if !is_scalar(&expr)? {
            return Err(unsupported());
        }
        self.state.create_physical_expr(expr, self.dfs)
    }

    fn output(&self, e: &SqlExpr) -> Result<Output> {
        if let Some(c) = self.column(e) {
            return Ok(Output::Scalar(c));
        }
        let expr = self.logical(e)?;
        if is_scalar(&expr)? {
            return Ok(Output::Scalar(
                self.state.create_physical_expr(expr, self.dfs)?,
            ));
        }
        // Aggregates, maybe inside a row expression (`SUM(k) + 1`, or what
        // MySQL's AVG is rewritten to): each aggregate becomes a column of
        // a one-row batch the outer expression is evaluated over.
        let mut aggregates = Vec::new();
        let mut fields = Vec::new();
        let outer = expr
            .transform_up(|x| {
                if !matches!(x, Expr::AggregateFunction(_)) {
                    return Ok(Transformed::no(x));
                }
                let agg = self.aggregate(x)?;
                let name = format!("__floe_aggregate_{}", aggregates.len());
                fields.push(agg.field().as_ref().clone().with_name(&name));
                aggregates.push(agg);
                Ok(Transformed::yes(Expr::Column(
                    datafusion::common::Column::from_name(name),
                )))
            })?
            .data;
        let schema = Arc::new(Schema::new(fields));
        let dfs = DFSchema::try_from(schema.clone())?;
        Ok(Output::Aggregate {
            aggregates,
            outer: self.state.create_physical_expr(outer, &dfs)?,
            schema,
        })
    }

    /// One aggregate call, its arguments coerced as the analyzer would.
    fn aggregate(&self, expr: Expr) -> Result<Arc<AggregateFunctionExpr>> {
        let Expr::AggregateFunction(agg) = &expr else {
            return Err(unsupported());
        };
        let p = &agg.params;
        if p.filter.is_some()
            || !p.order_by.is_empty()
            || !p.args.iter().all(|a| is_scalar(a).unwrap_or(false))
        {
            return Err(unsupported());
        }
        let context = SimplifyContext::builder()
            .with_schema(Arc::new(self.dfs.clone()))
            .with_config_options(Arc::clone(self.state.config_options()))
            .build();
        let expr = ExprSimplifier::new(context).coerce(expr, self.dfs)?;
        let lowered = LoweredAggregateBuilder::new(
            &expr,
            self.dfs,
            self.schema,
            self.state.execution_props(),
            &PhysicalPlanningContext::default(),
        )
        .build()?;
        if lowered.filter.is_some() || !lowered.order_bys.is_empty() {
            return Err(unsupported());
        }
        Ok(lowered.aggregate)
    }
}

/// Whether `e` is evaluated row by row.
fn is_scalar(e: &Expr) -> Result<bool> {
    Ok(!e.exists(|x| {
        Ok(matches!(
            x,
            Expr::AggregateFunction(_)
                | Expr::WindowFunction(_)
                | Expr::ScalarSubquery(_)
                | Expr::Exists(_)
                | Expr::InSubquery(_)
                | Expr::Placeholder(_)
                | Expr::OuterReferenceColumn(..)
        ))
    })?)
}

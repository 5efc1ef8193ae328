//! Eager aggregation: a GROUP BY over an inner join whose aggregates read
//! only one side is done first on that side, grouped by its join keys (and
//! whatever of its columns the GROUP BY names), then joined, then finished.
//!
//! ```text
//! SELECT c.network, COUNT(*), SUM(a.cost)            Aggregate [c.network]: SUM(n), SUM(s)
//! FROM airings a JOIN channels c            ==>        Join a.channel_id = c.channel_id
//!   ON a.channel_id = c.channel_id                       Aggregate [a.channel_id]: COUNT(*) n, SUM(cost) s
//! GROUP BY c.network                                       airings a
//!                                                        channels c
//! ```
//!
//! Ten million airings become 200 rows before the join instead of ten
//! million probes and a GROUP BY on strings after it: the star-schema shape
//! of ad statistics (facts joined to small dimensions, grouped by their
//! attributes). COUNT, SUM, MIN and MAX split this way (each joined row adds
//! its side's partial result once per match); other aggregates, DISTINCT,
//! FILTER and ORDER BY inside one do not, and such queries are left alone.
//!
//! It pays only when the side's grouping columns have few values next to
//! its rows, so it runs only when floe's tables bound them: integer (or
//! DATE) columns whose zone maps (or the open segment's values) span at most
//! an eighth as many values as the side has rows.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Column, NullEquality, Result};
use datafusion::datasource::source_as_provider;
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    Aggregate, Expr, Join, JoinType, LogicalPlan, Projection, cast, lit,
};
use datafusion::optimizer::{ApplyOrder, OptimizerConfig, OptimizerRule};

use super::provider::SnapshotTable;

/// The side must have at least this many rows per group it would form.
const ROWS_PER_GROUP: u64 = 8;

#[derive(Debug, Default)]
pub struct PushDownAggregate;

impl OptimizerRule for PushDownAggregate {
    fn name(&self) -> &str {
        "floe_push_down_aggregate"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let LogicalPlan::Aggregate(agg) = &plan else {
            return Ok(Transformed::no(plan));
        };
        match eager(agg)? {
            Some(rewritten) => Ok(Transformed::yes(rewritten)),
            None => Ok(Transformed::no(plan)),
        }
    }
}

/// The aggregate functions that split into a partial and a final step.
#[derive(Clone, Copy, PartialEq)]
enum Split {
    Sum,
    Count,
    Min,
    Max,
}

fn split_of(e: &Expr) -> Option<(Split, &AggregateFunction)> {
    let Expr::AggregateFunction(f) = e else {
        return None;
    };
    let p = &f.params;
    if p.distinct || p.filter.is_some() || !p.order_by.is_empty() || p.null_treatment.is_some() {
        return None;
    }
    let split = match f.func.name() {
        "sum" => Split::Sum,
        "count" => Split::Count,
        "min" => Split::Min,
        "max" => Split::Max,
        _ => return None,
    };
    Some((split, f))
}

fn strip_alias(e: &Expr) -> &Expr {
    match e {
        Expr::Alias(a) => strip_alias(&a.expr),
        e => e,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Left,
    Right,
}

/// The rewritten plan, or `None` when `agg` does not have the shape, or
/// the side's groups are not known to be few.
fn eager(agg: &Aggregate) -> Result<Option<LogicalPlan>> {
    if agg.aggr_expr.is_empty()
        || agg
            .group_expr
            .iter()
            .any(|e| matches!(e, Expr::GroupingSet(_)))
    {
        return Ok(None);
    }
    // A projection between the aggregate and the join (common
    // subexpressions, narrowed columns) is folded into the aggregate's
    // expressions, which then read the join's columns directly.
    let (join, group_expr, aggr_expr) = match agg.input.as_ref() {
        LogicalPlan::Join(j) => (j, agg.group_expr.clone(), agg.aggr_expr.clone()),
        LogicalPlan::Projection(p) => {
            let LogicalPlan::Join(j) = p.input.as_ref() else {
                return Ok(None);
            };
            // Inlined, a volatile definition would be evaluated once per use.
            if p.expr.iter().any(Expr::is_volatile) {
                return Ok(None);
            }
            let defs: HashMap<Column, Expr> = p
                .expr
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let column = Column::from(p.schema.qualified_field(i));
                    (column, strip_alias(e).clone())
                })
                .collect();
            let inline = |exprs: &[Expr]| -> Result<Vec<Expr>> {
                exprs
                    .iter()
                    .map(|e| inline_columns(e.clone(), &defs))
                    .collect()
            };
            (j, inline(&agg.group_expr)?, inline(&agg.aggr_expr)?)
        }
        _ => return Ok(None),
    };
    if join.join_type != JoinType::Inner
        || join.filter.is_some()
        || join.on.is_empty()
        || join.null_equality != NullEquality::NullEqualsNothing
        || join.null_aware
    {
        return Ok(None);
    }
    let mut splits = Vec::with_capacity(agg.aggr_expr.len());
    for e in &aggr_expr {
        match split_of(strip_alias(e)) {
            Some(s) => splits.push(s),
            None => return Ok(None),
        }
    }

    // The side every aggregate reads; either, if they read no column.
    let mut read = Vec::new();
    for (_, f) in &splits {
        for a in &f.params.args {
            read.extend(a.column_refs().into_iter().cloned());
        }
    }
    let on_left = |c: &Column| join.left.schema().has_column(c);
    let on_right = |c: &Column| join.right.schema().has_column(c);
    let candidates: Vec<Side> = if read.iter().all(on_left) && !read.is_empty() {
        vec![Side::Left]
    } else if read.iter().all(on_right) && !read.is_empty() {
        vec![Side::Right]
    } else if read.is_empty() {
        vec![Side::Left, Side::Right]
    } else {
        return Ok(None);
    };

    // Of the candidates, the one with the most rows whose groups are few.
    let mut best: Option<(Side, Vec<Column>, u64)> = None;
    for side in candidates {
        let (plan, keys) = match side {
            Side::Left => (
                &join.left,
                join.on.iter().map(|(l, _)| l).collect::<Vec<_>>(),
            ),
            Side::Right => (&join.right, join.on.iter().map(|(_, r)| r).collect()),
        };
        let mut groups: Vec<Column> = Vec::new();
        for k in keys {
            match k {
                Expr::Column(c) => groups.push(c.clone()),
                _ => return Ok(None),
            }
        }
        for g in &group_expr {
            for c in g.column_refs() {
                if plan.schema().has_column(c) {
                    groups.push(c.clone());
                }
            }
        }
        let mut unique: Vec<Column> = Vec::with_capacity(groups.len());
        for c in groups {
            if !unique.contains(&c) {
                unique.push(c);
            }
        }
        let Some(rows) = rows_at_most(plan) else {
            continue;
        };
        let mut values: u64 = 1;
        let mut bounded = true;
        for c in &unique {
            match distinct_at_most(plan, c) {
                Some(n) => values = values.saturating_mul(n.max(1)),
                None => bounded = false,
            }
        }
        if bounded
            && values.saturating_mul(ROWS_PER_GROUP) <= rows
            && best.as_ref().is_none_or(|(_, _, r)| rows > *r)
        {
            best = Some((side, unique, rows));
        }
    }
    let Some((side, groups, _)) = best else {
        return Ok(None);
    };

    // The side's partial aggregate: one column per aggregate.
    let partial_name = |j: usize| format!("__floe_partial_{j}");
    let partials: Vec<Expr> = splits
        .iter()
        .enumerate()
        .map(|(j, (_, f))| {
            Expr::AggregateFunction(AggregateFunction::new_udf(
                f.func.clone(),
                f.params.args.clone(),
                false,
                None,
                vec![],
                None,
            ))
            .alias(partial_name(j))
        })
        .collect();
    let side_plan = match side {
        Side::Left => join.left.clone(),
        Side::Right => join.right.clone(),
    };
    let partial = LogicalPlan::Aggregate(Aggregate::try_new(
        side_plan,
        groups.into_iter().map(Expr::Column).collect(),
        partials,
    )?);
    let (left, right) = match side {
        Side::Left => (Arc::new(partial), join.right.clone()),
        Side::Right => (join.left.clone(), Arc::new(partial)),
    };
    let joined = LogicalPlan::Join(Join::try_new(
        left,
        right,
        join.on.clone(),
        None,
        JoinType::Inner,
        join.join_constraint,
        join.null_equality,
        false,
    )?);

    // The final aggregate over the joined partial results.
    let finals: Vec<Expr> = splits
        .iter()
        .enumerate()
        .map(|(j, (split, f))| {
            let func = match split {
                Split::Count => sum_udaf(),
                _ => f.func.clone(),
            };
            Expr::AggregateFunction(AggregateFunction::new_udf(
                func,
                vec![Expr::Column(Column::new_unqualified(partial_name(j)))],
                false,
                None,
                vec![],
                None,
            ))
            .alias(format!("__floe_final_{j}"))
        })
        .collect();
    let groups = group_expr.len();
    let top = Aggregate::try_new(Arc::new(joined), group_expr, finals)?;

    // Named and typed as the original aggregate's output.
    let mut exprs = Vec::with_capacity(agg.schema.fields().len());
    for (i, (qualifier, field)) in agg.schema.iter().enumerate() {
        let column = Expr::Column(Column::from(top.schema.qualified_field(i)));
        if i < groups {
            exprs.push(column.alias_qualified(qualifier.cloned(), field.name()));
            continue;
        }
        let (split, _) = splits[i - groups];
        // Counts of matched groups are never NULL; COUNT says so.
        let value = if split == Split::Count {
            coalesce(vec![column, lit(0i64)])
        } else {
            column
        };
        let value = if top.schema.field(i).data_type() == field.data_type() {
            value
        } else {
            cast(value, field.data_type().clone())
        };
        exprs.push(value.alias_qualified(qualifier.cloned(), field.name()));
    }
    let projection = Projection::try_new(exprs, Arc::new(LogicalPlan::Aggregate(top)))?;
    if !projection
        .schema
        .logically_equivalent_names_and_types(&agg.schema)
    {
        return Ok(None);
    }
    Ok(Some(LogicalPlan::Projection(projection)))
}

/// `e` with each column `defs` names replaced by its definition.
fn inline_columns(e: Expr, defs: &HashMap<Column, Expr>) -> Result<Expr> {
    e.transform_up(|e| match &e {
        Expr::Column(c) => match defs.get(c) {
            Some(d) => Ok(Transformed::yes(d.clone())),
            None => Ok(Transformed::no(e)),
        },
        _ => Ok(Transformed::no(e)),
    })
    .data()
}

/// At most how many rows `plan` gives, when floe's tables tell.
fn rows_at_most(plan: &LogicalPlan) -> Option<u64> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let provider = source_as_provider(&scan.source).ok()?;
            let table = provider.downcast_ref::<SnapshotTable>()?;
            let rows = table.rows_at_most();
            Some(scan.fetch.map_or(rows, |f| rows.min(f as u64)))
        }
        LogicalPlan::SubqueryAlias(a) => rows_at_most(&a.input),
        LogicalPlan::Filter(f) => rows_at_most(&f.input),
        LogicalPlan::Projection(p) => rows_at_most(&p.input),
        _ => None,
    }
}

/// At most how many distinct values `column` of `plan`'s output has, when
/// floe's tables bound it (integer columns by their range).
fn distinct_at_most(plan: &LogicalPlan, column: &Column) -> Option<u64> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let provider = source_as_provider(&scan.source).ok()?;
            let table = provider.downcast_ref::<SnapshotTable>()?;
            let i = scan.projected_schema.index_of_column(column).ok()?;
            let name = scan.projected_schema.field(i).name();
            let (lo, hi) = table.integer_range(table.schema().index_of(name).ok()?)?;
            u64::try_from(hi - lo + 1).ok()
        }
        LogicalPlan::SubqueryAlias(a) => {
            let i = a.schema.index_of_column(column).ok()?;
            distinct_at_most(&a.input, &Column::from(a.input.schema().qualified_field(i)))
        }
        // A filter only removes values.
        LogicalPlan::Filter(f) => distinct_at_most(&f.input, column),
        LogicalPlan::Projection(p) => {
            let i = p.schema.index_of_column(column).ok()?;
            match strip_alias(p.expr.get(i)?) {
                Expr::Column(c) => distinct_at_most(&p.input, c),
                _ => None,
            }
        }
        _ => None,
    }
}

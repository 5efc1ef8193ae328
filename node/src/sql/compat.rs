//! MySQL syntax DataFusion plans differently or not at all, rewritten onto
//! floe's functions before planning: `/` and `DIV`, `IF()`, `DATE_ADD` /
//! `DATE_SUB` / `± INTERVAL`, `TIMESTAMPDIFF(unit, …)`, `GROUP_CONCAT`.
//! Result column names are taken from the statement before this runs.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CaseWhen, DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentClause, FunctionArgumentList, FunctionArguments, Ident, Interval, ObjectName,
    ObjectNamePart, Query, Select, SelectItem, SetExpr, Statement, TableFactor, Value, VisitMut,
    VisitorMut, visit_expressions_mut,
};
use datafusion::sql::sqlparser::tokenizer::Span;

/// Rewrites `stmt` in place.
pub fn rewrite(stmt: &mut Statement) {
    name_derived_columns(stmt);
    let _ = visit_expressions_mut(stmt, |e| {
        if let Some(new) = rewritten(e) {
            *e = new;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// MySQL's names for the result columns of a query: an alias, a column's
/// name, a string literal's value, or else the expression as written.
/// A UNION takes its first SELECT's names. `None` for `*`.
pub fn output_names(stmt: &Statement) -> Option<Vec<String>> {
    let Statement::Query(q) = stmt else {
        return None;
    };
    first_select(&q.body)?
        .projection
        .iter()
        .map(item_name)
        .collect()
}

fn first_select(body: &SetExpr) -> Option<&Select> {
    match body {
        SetExpr::Select(s) => Some(s),
        SetExpr::Query(q) => first_select(&q.body),
        SetExpr::SetOperation { left, .. } => first_select(left),
        _ => None,
    }
}

fn item_name(item: &SelectItem) -> Option<String> {
    Some(match item {
        SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
        SelectItem::UnnamedExpr(Expr::Identifier(i)) => i.value.clone(),
        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts))
            if parts.first().is_some_and(|p| p.value.starts_with('@')) =>
        {
            parts
                .iter()
                .map(|p| p.value.as_str())
                .collect::<Vec<_>>()
                .join(".")
        }
        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
            parts.last().map(|p| p.value.clone()).unwrap_or_default()
        }
        SelectItem::UnnamedExpr(Expr::Value(v)) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        SelectItem::UnnamedExpr(e) => e.to_string(),
        _ => return None,
    })
}

/// Derived tables and CTEs name their columns as MySQL would, so that a
/// query over `(SELECT 1, COUNT(*) …) AS d` sees `1` and `COUNT(*)`, not
/// DataFusion's `Int64(1)`. Left alone where the names would repeat (MySQL
/// refuses those; DataFusion's own names keep such a query running).
fn name_derived_columns(stmt: &mut Statement) {
    struct Derived;
    impl VisitorMut for Derived {
        type Break = ();
        fn pre_visit_table_factor(&mut self, t: &mut TableFactor) -> ControlFlow<()> {
            if let TableFactor::Derived { subquery, .. } = t {
                name_columns(&mut subquery.body);
            }
            ControlFlow::Continue(())
        }
        fn pre_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
            for cte in q.with.iter_mut().flat_map(|w| w.cte_tables.iter_mut()) {
                name_columns(&mut cte.query.body);
            }
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Derived);
}

fn name_columns(body: &mut SetExpr) {
    let select = match body {
        SetExpr::Select(s) => s.as_mut(),
        SetExpr::Query(q) => return name_columns(&mut q.body),
        SetExpr::SetOperation { left, .. } => return name_columns(left),
        _ => return,
    };
    let Some(names) = select
        .projection
        .iter()
        .map(item_name)
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let distinct: std::collections::HashSet<String> =
        names.iter().map(|n| n.to_lowercase()).collect();
    if distinct.len() != names.len() {
        return;
    }
    for (item, name) in select.projection.iter_mut().zip(names) {
        if let SelectItem::UnnamedExpr(e) = item
            && !matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
        {
            *item = SelectItem::ExprWithAlias {
                expr: take(e),
                alias: Ident::with_quote('`', name),
            };
        }
    }
}

/// `FROM DUAL` is MySQL's way of writing no FROM at all; it goes before
/// anything looks for tables.
pub fn drop_dual(stmt: &mut Statement) {
    struct Dual;
    impl VisitorMut for Dual {
        type Break = ();
        fn post_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
            no_dual(&mut q.body);
            ControlFlow::Continue(())
        }
    }
    let _ = stmt.visit(&mut Dual);
}

fn no_dual(body: &mut SetExpr) {
    match body {
        SetExpr::Select(s) => {
            if let [t] = s.from.as_slice()
                && t.joins.is_empty()
                && let TableFactor::Table {
                    name, alias: None, ..
                } = &t.relation
                && let [ObjectNamePart::Identifier(id)] = name.0.as_slice()
                && id.quote_style.is_none()
                && id.value.eq_ignore_ascii_case("DUAL")
            {
                s.from.clear();
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            no_dual(left);
            no_dual(right);
        }
        _ => {}
    }
}

/// Rewrites the expression `e` in place.
pub fn rewrite_expr(e: &mut Expr) {
    let _ = visit_expressions_mut(e, |e| {
        if let Some(new) = rewritten(e) {
            *e = new;
        }
        ControlFlow::<()>::Continue(())
    });
}

fn rewritten(e: &mut Expr) -> Option<Expr> {
    match e {
        Expr::BinaryOp { left, op, right } => {
            let (l, r) = (left.as_mut(), right.as_mut());
            match op {
                BinaryOperator::Divide => Some(call("mysql_divide", vec![take(l), take(r)])),
                BinaryOperator::MyIntegerDivide => {
                    Some(call("mysql_intdiv", vec![take(l), take(r)]))
                }
                BinaryOperator::Plus | BinaryOperator::Minus => {
                    let sub = matches!(op, BinaryOperator::Minus);
                    match (&mut *l, &mut *r) {
                        (d, Expr::Interval(iv)) => date_add(take(d), iv, sub),
                        (Expr::Interval(iv), d) if !sub => date_add(take(d), iv, false),
                        _ => None,
                    }
                }
                _ => None,
            }
        }
        Expr::Function(f) => function(f),
        _ => None,
    }
}

fn function(f: &mut Function) -> Option<Expr> {
    let name = f.name.to_string().to_ascii_lowercase();
    let FunctionArguments::List(list) = &mut f.args else {
        return None;
    };
    match name.as_str() {
        "if" if list.args.len() == 3 => {
            let mut args = plain_args(list)?;
            let otherwise = args.pop()?;
            let then = args.pop()?;
            let condition = args.pop()?;
            Some(Expr::Case {
                case_token: AttachedToken::empty(),
                end_token: AttachedToken::empty(),
                operand: None,
                conditions: vec![CaseWhen {
                    condition,
                    result: then,
                }],
                else_result: Some(Box::new(otherwise)),
            })
        }
        "date_add" | "adddate" | "date_sub" | "subdate" if list.args.len() == 2 => {
            let sub = name.ends_with("sub");
            let mut args = plain_args(list)?;
            let amount = args.pop()?;
            let d = args.pop()?;
            match amount {
                Expr::Interval(mut iv) => date_add(d, &mut iv, sub),
                // ADDDATE(d, n): n days.
                n => Some(call(
                    if sub {
                        "mysql_date_sub"
                    } else {
                        "mysql_date_add"
                    },
                    vec![d, n, text("DAY")],
                )),
            }
        }
        "timestampdiff" if list.args.len() == 3 => {
            let mut args = plain_args(list)?;
            args[0] = unit_literal(&args[0])?;
            Some(call("timestampdiff", args))
        }
        "timestampadd" if list.args.len() == 3 => {
            let mut args = plain_args(list)?;
            let d = args.pop()?;
            let n = args.pop()?;
            let unit = unit_literal(&args[0])?;
            Some(call("mysql_date_add", vec![d, n, unit]))
        }
        "group_concat" => group_concat(list),
        // MySQL's AVG of exact numbers is DECIMAL (scale + 4), not a double.
        "avg" if f.over.is_none() && f.filter.is_none() && list.args.len() == 1 => {
            let distinct = list.duplicate_treatment;
            let mut args = plain_args(list)?;
            let x = args.pop()?;
            Some(call(
                "mysql_divide",
                vec![
                    aggregate("sum", distinct, x.clone()),
                    aggregate("count", distinct, x),
                ],
            ))
        }
        _ => None,
    }
}

/// `d ± INTERVAL amount unit` as a call.
fn date_add(d: Expr, iv: &mut Interval, sub: bool) -> Option<Expr> {
    let unit = interval_unit(iv)?;
    let amount = take(iv.value.as_mut());
    Some(call(
        if sub {
            "mysql_date_sub"
        } else {
            "mysql_date_add"
        },
        vec![d, amount, text(&unit)],
    ))
}

fn interval_unit(iv: &Interval) -> Option<String> {
    // Plural spellings (DAYS) mean the same unit.
    let one = |f: &dyn std::fmt::Display| {
        let u = f.to_string().to_ascii_uppercase();
        match u.as_str() {
            "YEARS" | "QUARTERS" | "MONTHS" | "WEEKS" | "DAYS" | "HOURS" | "MINUTES"
            | "SECONDS" | "MICROSECONDS" => u[..u.len() - 1].to_string(),
            _ => u,
        }
    };
    let lead = one(iv.leading_field.as_ref()?);
    Some(match &iv.last_field {
        Some(last) => format!("{lead}_{}", one(last)),
        None => lead,
    })
}

/// `DAY` written as a bare word (TIMESTAMPDIFF's unit) as a string literal.
fn unit_literal(e: &Expr) -> Option<Expr> {
    match e {
        Expr::Identifier(i) => Some(text(&i.value.to_ascii_uppercase())),
        Expr::Value(_) => Some(e.clone()),
        _ => None,
    }
}

/// GROUP_CONCAT([DISTINCT] a[, b…] [ORDER BY …] [SEPARATOR s]) as
/// string_agg(CONCAT(a, b…), s [ORDER BY …]).
fn group_concat(list: &mut FunctionArgumentList) -> Option<Expr> {
    let mut separator = text(",");
    let mut clauses = Vec::new();
    for c in list.clauses.drain(..) {
        match c {
            FunctionArgumentClause::Separator(v) => separator = Expr::Value(v),
            other => clauses.push(other),
        }
    }
    let values = plain_args(list)?;
    let value = call("concat", values);
    let distinct = list.duplicate_treatment == Some(DuplicateTreatment::Distinct);
    Some(Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new("string_agg")]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: distinct.then_some(DuplicateTreatment::Distinct),
            args: vec![unnamed(value), unnamed(separator)],
            clauses,
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    }))
}

fn plain_args(list: &mut FunctionArgumentList) -> Option<Vec<Expr>> {
    list.args
        .iter_mut()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(take(e)),
            _ => None,
        })
        .collect()
}

fn unnamed(e: Expr) -> FunctionArg {
    FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
    aggregate_or_call(name, None, args)
}

/// `name([DISTINCT] x)`.
fn aggregate(name: &str, distinct: Option<DuplicateTreatment>, x: Expr) -> Expr {
    aggregate_or_call(name, distinct, vec![x])
}

fn aggregate_or_call(name: &str, distinct: Option<DuplicateTreatment>, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: distinct,
            args: args.into_iter().map(unnamed).collect(),
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
}

fn text(s: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(s.to_string()).with_span(Span::empty()))
}

/// Moves an expression out, leaving a NULL in its place.
fn take(e: &mut Expr) -> Expr {
    std::mem::replace(e, Expr::Value(Value::Null.with_span(Span::empty())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::dialect::FloeDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn rewrite_sql(sql: &str) -> String {
        let mut stmt = Parser::parse_sql(&FloeDialect::default(), sql)
            .unwrap()
            .remove(0);
        rewrite(&mut stmt);
        stmt.to_string()
    }

    #[test]
    fn mysql_syntax_becomes_floe_functions() {
        assert_eq!(rewrite_sql("SELECT a / b"), "SELECT mysql_divide(a, b)");
        assert_eq!(rewrite_sql("SELECT 7 DIV 2"), "SELECT mysql_intdiv(7, 2)");
        assert_eq!(
            rewrite_sql("SELECT IF(a > 1, 'x', 'y')"),
            "SELECT CASE WHEN a > 1 THEN 'x' ELSE 'y' END"
        );
        assert_eq!(
            rewrite_sql("SELECT DATE_ADD(d, INTERVAL 3 DAY), d - INTERVAL 90 SECOND"),
            "SELECT mysql_date_add(d, 3, 'DAY'), mysql_date_sub(d, 90, 'SECOND')"
        );
        assert_eq!(
            rewrite_sql("SELECT TIMESTAMPDIFF(MONTH, a, b)"),
            "SELECT timestampdiff('MONTH', a, b)"
        );
        assert_eq!(
            rewrite_sql("SELECT GROUP_CONCAT(DISTINCT a ORDER BY a DESC SEPARATOR ';') FROM t"),
            "SELECT string_agg(DISTINCT concat(a), ';' ORDER BY a DESC) FROM t"
        );
        assert_eq!(
            rewrite_sql("SELECT AVG(DISTINCT a), AVG(b) OVER () FROM t"),
            "SELECT mysql_divide(sum(DISTINCT a), count(DISTINCT a)), AVG(b) OVER () FROM t"
        );
    }
}

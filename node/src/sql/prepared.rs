//! Prepared statements parsed once. A statement is parsed with its `?`
//! placeholders when it is prepared; each execution puts its parameters
//! into a copy of that statement as the literals the text would have had,
//! instead of writing them into the text and parsing it again (parsing was
//! a tenth of a short statement's time).

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

use datafusion::sql::sqlparser::ast::{
    Expr, Statement, UnaryOperator, Value as SqlValue, visit_expressions, visit_expressions_mut,
};
use datafusion::sql::sqlparser::tokenizer::Span;
use mysql_common::value::Value;

use super::point;
use super::session::{SqlSession, Stmt, literal, placeholders};

/// A parsed statement and which parameter each placeholder in it takes.
pub struct Template {
    stmt: Statement,
    /// Parameter index by the (line, column) where its `?` starts.
    slots: HashMap<(u64, u64), usize>,
}

impl Template {
    /// The template for `sql`, when it parses as a statement in which every
    /// `?` of the text is a value (`None`: executions parse their text).
    pub fn parse(sql: &str) -> Option<Template> {
        let offsets = placeholders(sql);
        let Ok(Stmt::Sql(stmt, _)) = SqlSession::classify(sql) else {
            return None;
        };
        // Where each `?` is, counted as the tokenizer counts.
        let mut slots = HashMap::with_capacity(offsets.len());
        let (mut line, mut column) = (1u64, 1u64);
        let mut next = offsets.iter().peekable();
        for (at, ch) in sql.char_indices() {
            if next.peek() == Some(&&at) {
                slots.insert((line, column), slots.len());
                next.next();
            }
            if ch == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        let mut found = 0;
        let visited = visit_expressions(stmt.as_ref(), |e| {
            if let Expr::Value(v) = e
                && let SqlValue::Placeholder(p) = &v.value
            {
                let at = (v.span.start.line, v.span.start.column);
                if p != "?" || !slots.contains_key(&at) {
                    return ControlFlow::Break(());
                }
                found += 1;
            }
            ControlFlow::Continue(())
        });
        (visited.is_continue() && found == offsets.len()).then_some(Template { stmt: *stmt, slots })
    }

    /// The statement with `params` in place (`None` for a parameter that has
    /// no literal of its own, such as a NaN).
    pub fn bind(&self, params: &[Value]) -> Option<Statement> {
        let mut stmt = self.stmt.clone();
        let bound = visit_expressions_mut(&mut stmt, |e| {
            if let Expr::Value(v) = e
                && matches!(v.value, SqlValue::Placeholder(_))
            {
                match self.value(e, params) {
                    Some(x) => *e = x,
                    None => return ControlFlow::Break(()),
                }
            }
            ControlFlow::Continue(())
        });
        bound.is_continue().then_some(stmt)
    }

    /// What expression `e` of the statement is with `params` in place: the
    /// parameter's literal for a `?`, `e` itself otherwise.
    pub fn value(&self, e: &Expr, params: &[Value]) -> Option<Expr> {
        match e {
            Expr::Value(v) if matches!(v.value, SqlValue::Placeholder(_)) => {
                let at = (v.span.start.line, v.span.start.column);
                let p = params.get(*self.slots.get(&at)?)?;
                literal_expr(p, v.span)
            }
            other => Some(other.clone()),
        }
    }

    /// The statement as parsed, with its `?` placeholders.
    pub fn statement(&self) -> &Statement {
        &self.stmt
    }
}

/// A prepared statement's point-lookup plan, made at its first execution
/// and kept while the table's definition stays the same.
#[derive(Default)]
pub struct PointPlans(Mutex<Option<Arc<point::Plan>>>);

impl PointPlans {
    /// The plan for `template` in session `s` and whether it was kept from
    /// an earlier execution (it is while still current); `None` when the
    /// statement is no point lookup.
    pub fn get(&self, s: &SqlSession, template: &Template) -> Option<(Arc<point::Plan>, bool)> {
        let mut kept = self.0.lock().ok()?;
        if let Some(plan) = kept.as_ref().filter(|p| p.current(s)) {
            return Some((plan.clone(), true));
        }
        *kept = point::Plan::of(s, template.statement()).map(Arc::new);
        kept.clone().map(|plan| (plan, false))
    }
}

/// One execution of a prepared point lookup: its plan and the key's value
/// (the plan's `key` with the parameter in place); the rest is for the
/// general path when the plan cannot answer.
pub struct PointExecution {
    pub plan: Arc<point::Plan>,
    /// The plan was made at an earlier execution.
    pub reused: bool,
    pub key: Expr,
    pub template: Arc<Template>,
    pub params: Vec<Value>,
    pub text: String,
}

/// A parameter as the expression its literal text parses to.
fn literal_expr(v: &Value, span: Span) -> Option<Expr> {
    let number = |text: String| {
        let expr = |t: &str| Expr::Value(SqlValue::Number(t.to_string(), false).with_span(span));
        match text.strip_prefix('-') {
            // `-5` is the operator applied to `5`, as in the text.
            Some(positive) => Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr: Box::new(expr(positive)),
            },
            None => expr(&text),
        }
    };
    let string = |s: String| Expr::Value(SqlValue::SingleQuotedString(s).with_span(span));
    Some(match v {
        Value::NULL => Expr::Value(SqlValue::Null.with_span(span)),
        Value::Int(i) => number(i.to_string()),
        Value::UInt(u) => number(u.to_string()),
        Value::Float(f) if f.is_finite() => number(f.to_string()),
        Value::Double(d) if d.is_finite() => number(d.to_string()),
        Value::Float(_) | Value::Double(_) => return None,
        Value::Bytes(b) => string(crate::mysql::wire::sql_text(b).into_owned()),
        Value::Date(..) | Value::Time(..) => {
            // Quoted digits and separators only.
            let text = literal(v);
            string(text.trim_matches('\'').to_string())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::session::substitute;

    #[test]
    fn bound_statements_are_what_their_text_parses_to() {
        let cases: Vec<(&str, Vec<Value>)> = vec![
            (
                "SELECT c FROM t WHERE id BETWEEN ? AND ?",
                vec![Value::Int(-5), Value::UInt(7)],
            ),
            (
                "UPDATE t SET c = ?, d = ?\n  WHERE id = ? AND x > ?",
                vec![
                    Value::Bytes(b"it's \\ \"q\" \xe4\xb8\xad".to_vec()),
                    Value::Date(2026, 11, 27, 10, 1, 2, 3),
                    Value::Double(-2.5),
                    Value::NULL,
                ],
            ),
            (
                "INSERT INTO t (a, b, c) VALUES (?, ?, '?'), (?, 'x', ?)",
                vec![
                    Value::Int(1),
                    Value::Time(true, 1, 2, 3, 4, 5),
                    Value::Float(0.25),
                    Value::Bytes(Vec::new()),
                ],
            ),
            ("SELECT ? + 1 LIMIT ?", vec![Value::Int(1), Value::UInt(3)]),
        ];
        for (sql, params) in cases {
            let t = Template::parse(sql).expect(sql);
            let bound = t.bind(&params).expect(sql);
            let text = substitute(sql, &params).unwrap();
            let parsed = SqlSession::parse_one(&text).expect(&text);
            assert_eq!(bound.to_string(), parsed.to_string(), "{sql}");
        }
        let t = Template::parse("SELECT ?").unwrap();
        assert!(t.bind(&[Value::Double(f64::NAN)]).is_none());
        // Statements floe parses itself keep going through their text.
        assert!(Template::parse("SET @a = ?").is_none());
    }
}

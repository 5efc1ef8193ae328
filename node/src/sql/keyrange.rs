//! The key range a WHERE clause confines a statement to. Conjuncts
//! `col = v`, `col IN (v, ...)`, `col BETWEEN a AND b` and `col < v` (and
//! the other comparisons) on literals, where `col` is the first column of
//! one of the table's key indexes (the primary key, a unique key, or
//! another index), become bounds in that index's order-preserving
//! encoding. The rows in range are a superset of the rows the clause
//! keeps: DataFusion still applies the whole clause to them, so anything
//! not understood here only widens the range, never narrows it.

use std::cmp::Ordering;
use std::ops::Bound;

use arrow::array::{ArrayRef, Int64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, SortField};
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr as SqlExpr, ObjectName, SetExpr, Statement, UnaryOperator, Value,
    visit_relations,
};

use super::catalog::{KeyIndexSpec, TableMeta, TableRef};
use super::dml::name_parts;
use super::key::Key;
use super::session::SqlSession;
use crate::mysql::SqlError;
use floe_storage::TableId;

/// Ranges with more keys than this scan the table instead: past a point a
/// vectorized scan beats gathering rows one by one.
pub const MAX_ROWS: usize = 1 << 16;

/// Which primary keys a statement can touch, in encoded form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyBounds {
    /// Every key between two bounds.
    Range(Bound<Key>, Bound<Key>),
    /// Every key within one of these ranges (they may overlap).
    Ranges(Vec<(Bound<Key>, Bound<Key>)>),
    /// Only these keys (sorted, without repeats).
    Points(Vec<Key>),
    /// Every key that starts with one of these (sorted, without repeats):
    /// values of the first of several columns.
    Prefixes(Vec<Key>),
}

/// A literal as a one-value column of the key's type; `None` for anything
/// that would not compare exactly (a fraction against an integer key, a
/// number against a string key, NULL, an expression).
fn key_value(ty: &DataType, e: &SqlExpr) -> Option<ArrayRef> {
    let (negative, v) = match e {
        SqlExpr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            SqlExpr::Value(v) => (true, &v.value),
            _ => return None,
        },
        SqlExpr::Value(v) => (false, &v.value),
        _ => return None,
    };
    if ty.is_integer() {
        let text = match v {
            Value::Number(n, _) => n.as_str(),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) if !negative => s.as_str(),
            _ => return None,
        };
        let n: i64 = text.parse().ok()?;
        let n = if negative { n.checked_neg()? } else { n };
        let wide: ArrayRef = std::sync::Arc::new(Int64Array::from(vec![n]));
        // A value outside the key type's range matches no key exactly;
        // leave such statements to the general path.
        let narrow = arrow::compute::cast_with_options(
            &wide,
            ty,
            &arrow::compute::CastOptions {
                safe: false,
                ..Default::default()
            },
        )
        .ok()?;
        return Some(narrow);
    }
    if let Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) = v
        && *ty == DataType::Utf8
        && !negative
    {
        let text: ArrayRef = std::sync::Arc::new(StringArray::from(vec![s.as_str()]));
        return cast(&text, ty).ok();
    }
    None
}

/// Encodes literals of one key column as its index orders them.
pub struct KeyEncoder {
    ty: DataType,
    converter: RowConverter,
}

impl KeyEncoder {
    /// `None` for a type whose literals do not compare exactly here.
    pub fn new(ty: DataType) -> Option<KeyEncoder> {
        if !(ty.is_integer() || ty == DataType::Utf8) {
            return None;
        }
        let converter = RowConverter::new(vec![SortField::new(ty.clone())]).ok()?;
        Some(KeyEncoder { ty, converter })
    }

    /// The key of literal `e`; `None` as for [`key_value`].
    pub fn encode(&self, e: &SqlExpr) -> Option<Key> {
        let v = key_value(&self.ty, e)?;
        let rows = self.converter.convert_columns(&[v]).ok()?;
        Some(Key::new(rows.row(0).as_ref()))
    }
}

fn is_key(e: &SqlExpr, key: &str) -> bool {
    match e {
        SqlExpr::Identifier(i) => i.value.eq_ignore_ascii_case(key),
        SqlExpr::CompoundIdentifier(parts) => parts
            .last()
            .is_some_and(|i| i.value.eq_ignore_ascii_case(key)),
        SqlExpr::Nested(inner) => is_key(inner, key),
        _ => false,
    }
}

/// The conjuncts of a WHERE clause (its top-level ANDs).
fn conjuncts<'a>(e: &'a SqlExpr, out: &mut Vec<&'a SqlExpr>) {
    match e {
        SqlExpr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        SqlExpr::Nested(inner) => conjuncts(inner, out),
        other => out.push(other),
    }
}

/// The tighter of two lower (`lower`) or upper bounds.
fn tighter(a: Bound<Key>, b: Bound<Key>, lower: bool) -> Bound<Key> {
    use Bound::*;
    match (&a, &b) {
        (Unbounded, _) => b,
        (_, Unbounded) => a,
        (Included(x) | Excluded(x), Included(y) | Excluded(y)) => match x.cmp(y) {
            Ordering::Equal => {
                if matches!(a, Excluded(_)) {
                    a
                } else {
                    b
                }
            }
            Ordering::Less if lower => b,
            Ordering::Less => a,
            Ordering::Greater if lower => a,
            Ordering::Greater => b,
        },
    }
}

/// Whether `key` lies between `lo` and `hi`.
pub fn contains(lo: &Bound<Key>, hi: &Bound<Key>, key: &Key) -> bool {
    let above = match lo {
        Bound::Unbounded => true,
        Bound::Included(l) => key >= l,
        Bound::Excluded(l) => key > l,
    };
    let below = match hi {
        Bound::Unbounded => true,
        Bound::Included(h) => key <= h,
        Bound::Excluded(h) => key < h,
    };
    above && below
}

/// Whether no key can lie between `lo` and `hi` (`BTreeMap::range` panics
/// on such bounds, so callers check first).
pub fn is_empty(lo: &Bound<Key>, hi: &Bound<Key>) -> bool {
    match (lo, hi) {
        (Bound::Included(l), Bound::Included(h)) => l > h,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Included(h) | Bound::Excluded(h)) => {
            l >= h
        }
        _ => false,
    }
}

/// How a statement finds its rows through one of its table's key indexes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// Which index: a position in `TableMeta::key_indexes`, and what it
    /// was there when the lookup was made.
    pub index: usize,
    pub spec: KeyIndexSpec,
    pub bounds: KeyBounds,
    /// The bounds say all the WHERE clause says: every conjunct is a
    /// condition on the index's first column, an integer one (so the rows
    /// in range need no filtering).
    pub exact: bool,
}

impl Lookup {
    /// Whether this finds at most one row: one value of a unique key.
    pub fn is_point(&self) -> bool {
        self.spec.unique
            && self.spec.columns.len() == 1
            && match &self.bounds {
                KeyBounds::Points(p) => p.len() <= 1,
                KeyBounds::Range(Bound::Included(a), Bound::Included(b)) => a == b,
                _ => false,
            }
    }

    /// How narrow the lookup is, lowest best: one key of a unique index,
    /// then listed values, then ranges closed on both ends, then the rest.
    fn rank(&self) -> u8 {
        match &self.bounds {
            _ if self.is_point() => 0,
            KeyBounds::Points(_) | KeyBounds::Prefixes(_) => 1,
            KeyBounds::Range(Bound::Unbounded, _) | KeyBounds::Range(_, Bound::Unbounded) => 3,
            KeyBounds::Range(..) => 2,
            KeyBounds::Ranges(r)
                if r.iter().any(|(l, h)| {
                    matches!(l, Bound::Unbounded) || matches!(h, Bound::Unbounded)
                }) =>
            {
                3
            }
            KeyBounds::Ranges(_) => 2,
        }
    }
}

/// The narrowest lookup through one of `meta`'s key indexes that
/// `selection` allows: conditions on an index's first column whose type
/// compares literals exactly (integers, strings) bound its keys.
pub fn lookup(meta: &TableMeta, selection: Option<&SqlExpr>) -> Option<Lookup> {
    let mut parts = Vec::new();
    conjuncts(selection?, &mut parts);
    let mut best: Option<Lookup> = None;
    for (index, spec) in meta.key_indexes().into_iter().enumerate() {
        // An index leaves out rows with a NULL in any of its columns. A
        // NULL in the first never meets a condition on it; one in another
        // would drop a row the condition keeps.
        if spec.columns[1..].iter().any(|&c| meta.columns[c].nullable) {
            continue;
        }
        let first = spec.columns[0];
        let Some((bounds, used)) = column_bounds(meta, first, &parts) else {
            continue;
        };
        let whole = spec.columns.len() == 1;
        let bounds = if whole { bounds } else { prefixes(bounds)? };
        let found = Lookup {
            index,
            bounds,
            exact: used == parts.len() && meta.columns[first].ty.storage.data_type().is_integer(),
            spec,
        };
        if best.as_ref().is_none_or(|b| found.rank() < b.rank()) {
            best = Some(found);
        }
    }
    best
}

/// Bounds on a key whose first column is bounded by `whole`: a value of
/// the column is a prefix of the keys holding it, and those keys lie
/// between the prefix and its successor.
fn prefixes(whole: KeyBounds) -> Option<KeyBounds> {
    Some(match whole {
        KeyBounds::Points(p) | KeyBounds::Prefixes(p) => KeyBounds::Prefixes(p),
        KeyBounds::Range(Bound::Included(a), Bound::Included(b)) if a == b => {
            KeyBounds::Prefixes(vec![a])
        }
        KeyBounds::Range(lo, hi) => {
            let (lo, hi) = prefix_range(lo, hi)?;
            KeyBounds::Range(lo, hi)
        }
        KeyBounds::Ranges(r) => KeyBounds::Ranges(
            r.into_iter()
                .map(|(lo, hi)| prefix_range(lo, hi))
                .collect::<Option<_>>()?,
        ),
    })
}

/// The keys whose first column lies between `lo` and `hi`.
fn prefix_range(lo: Bound<Key>, hi: Bound<Key>) -> Option<(Bound<Key>, Bound<Key>)> {
    Some((
        match lo {
            Bound::Excluded(p) => Bound::Included(p.successor()?),
            other => other,
        },
        match hi {
            Bound::Included(p) => Bound::Excluded(p.successor()?),
            other => other,
        },
    ))
}

/// What one condition says of a column's values.
enum Condition {
    Range(Bound<Key>, Bound<Key>),
    /// Only these (sorted, without repeats).
    Points(Vec<Key>),
}

/// What `e` says of the column named `key`, its values encoded by
/// `encode`; `None` if it says nothing usable.
fn condition(
    e: &SqlExpr,
    key: &str,
    encode: &dyn Fn(&SqlExpr) -> Option<Key>,
) -> Option<Condition> {
    Some(match e {
        SqlExpr::BinaryOp { left, op, right } => {
            let (op, value) = if is_key(left, key) {
                (op.clone(), right.as_ref())
            } else if is_key(right, key) {
                // `v < col` is `col > v`.
                let flipped = match op {
                    BinaryOperator::Lt => BinaryOperator::Gt,
                    BinaryOperator::LtEq => BinaryOperator::GtEq,
                    BinaryOperator::Gt => BinaryOperator::Lt,
                    BinaryOperator::GtEq => BinaryOperator::LtEq,
                    other => other.clone(),
                };
                (flipped, left.as_ref())
            } else {
                return None;
            };
            let v = encode(value)?;
            match op {
                BinaryOperator::Eq => {
                    Condition::Range(Bound::Included(v.clone()), Bound::Included(v))
                }
                BinaryOperator::Gt => Condition::Range(Bound::Excluded(v), Bound::Unbounded),
                BinaryOperator::GtEq => Condition::Range(Bound::Included(v), Bound::Unbounded),
                BinaryOperator::Lt => Condition::Range(Bound::Unbounded, Bound::Excluded(v)),
                BinaryOperator::LtEq => Condition::Range(Bound::Unbounded, Bound::Included(v)),
                _ => return None,
            }
        }
        SqlExpr::Between {
            expr,
            negated: false,
            low,
            high,
        } if is_key(expr, key) => Condition::Range(
            Bound::Included(encode(low)?),
            Bound::Included(encode(high)?),
        ),
        SqlExpr::InList {
            expr,
            list,
            negated: false,
        } if is_key(expr, key) => {
            let mut keys = list.iter().map(encode).collect::<Option<Vec<_>>>()?;
            keys.sort();
            keys.dedup();
            Condition::Points(keys)
        }
        SqlExpr::Nested(inner) => condition(inner, key, encode)?,
        _ => return None,
    })
}

/// The ranges a disjunction `a OR b OR ...` allows when each of its terms
/// is a condition on the column.
fn alternatives(
    e: &SqlExpr,
    key: &str,
    encode: &dyn Fn(&SqlExpr) -> Option<Key>,
    out: &mut Vec<(Bound<Key>, Bound<Key>)>,
) -> Option<()> {
    match e {
        SqlExpr::BinaryOp {
            left,
            op: BinaryOperator::Or,
            right,
        } => {
            alternatives(left, key, encode, out)?;
            alternatives(right, key, encode, out)
        }
        SqlExpr::Nested(inner) => alternatives(inner, key, encode, out),
        other => {
            match condition(other, key, encode)? {
                Condition::Range(l, h) => out.push((l, h)),
                Condition::Points(p) => out.extend(
                    p.into_iter()
                        .map(|k| (Bound::Included(k.clone()), Bound::Included(k))),
                ),
            }
            Some(())
        }
    }
}

/// The values of column `column` the conjuncts `parts` allow, encoded as
/// the key indexes encode them, and how many conjuncts said so; `None`
/// when none bounds it or its type does not compare literals exactly.
fn column_bounds(
    meta: &TableMeta,
    column: usize,
    parts: &[&SqlExpr],
) -> Option<(KeyBounds, usize)> {
    let key = meta.columns[column].name.as_str();
    let mentioned = |e: &SqlExpr| match e {
        SqlExpr::BinaryOp { left, right, .. } => is_key(left, key) || is_key(right, key),
        SqlExpr::Between { expr, .. } | SqlExpr::InList { expr, .. } => is_key(expr, key),
        _ => false,
    };
    let or = |e: &SqlExpr| {
        matches!(
            e,
            SqlExpr::BinaryOp {
                op: BinaryOperator::Or,
                ..
            }
        )
    };
    if !parts.iter().any(|p| mentioned(p) || or(p)) {
        return None;
    }
    let encoder = KeyEncoder::new(meta.columns[column].ty.storage.data_type())?;
    let encode = |e: &SqlExpr| encoder.encode(e);
    let (mut lo, mut hi) = (Bound::Unbounded, Bound::Unbounded);
    let mut points: Option<Vec<Key>> = None;
    // The first disjunction of conditions on the column (any other is
    // left for the filter).
    let mut ranges: Option<Vec<(Bound<Key>, Bound<Key>)>> = None;
    let mut used = 0;
    for &part in parts {
        if or(part) {
            let mut alts = Vec::new();
            if ranges.is_none() && alternatives(part, key, &encode, &mut alts).is_some() {
                ranges = Some(alts);
                used += 1;
            }
            continue;
        }
        match condition(part, key, &encode) {
            Some(Condition::Range(l, h)) => {
                lo = tighter(lo, l, true);
                hi = tighter(hi, h, false);
            }
            Some(Condition::Points(keys)) => {
                points = Some(match points.take() {
                    None => keys,
                    Some(before) => before.into_iter().filter(|k| keys.contains(k)).collect(),
                });
            }
            None => continue,
        }
        used += 1;
    }
    if used == 0 {
        return None;
    }
    let bounds = match (points, ranges) {
        (Some(p), ranges) => {
            // Listed values within the range (and any disjunction) only.
            let within = |k: &Key| {
                contains(&lo, &hi, k)
                    && ranges
                        .as_ref()
                        .is_none_or(|r| r.iter().any(|(l, h)| contains(l, h, k)))
            };
            KeyBounds::Points(p.into_iter().filter(within).collect())
        }
        (None, Some(ranges)) => KeyBounds::Ranges(
            ranges
                .into_iter()
                .map(|(l, h)| (tighter(l, lo.clone(), true), tighter(h, hi.clone(), false)))
                .filter(|(l, h)| !is_empty(l, h))
                .collect(),
        ),
        (None, None) => KeyBounds::Range(lo, hi),
    };
    Some((bounds, used))
}

/// Whether `e` reads a table (has a subquery): narrowing the statement's
/// table would narrow that read too.
pub fn reads_tables(e: &SqlExpr) -> bool {
    visit_relations(e, |_| std::ops::ControlFlow::Break(())).is_break()
}

/// The one table a query reads and its WHERE clause, for a query that
/// names a single table once (a subquery or a join reading it again would
/// see only the confined rows too).
pub fn single_table(
    stmt: &Statement,
) -> Option<(
    &datafusion::sql::sqlparser::ast::ObjectName,
    Option<&SqlExpr>,
)> {
    let Statement::Query(q) = stmt else {
        return None;
    };
    if q.with.is_some() {
        return None;
    }
    let SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    let [from] = s.from.as_slice() else {
        return None;
    };
    if !from.joins.is_empty() {
        return None;
    }
    let datafusion::sql::sqlparser::ast::TableFactor::Table {
        name, args: None, ..
    } = &from.relation
    else {
        return None;
    };
    let mut relations = 0;
    let _ = visit_relations(stmt, |_| {
        relations += 1;
        std::ops::ControlFlow::<()>::Continue(())
    });
    (relations == 1).then_some((name, s.selection.as_ref()))
}

/// The table `name` names in this session's database, as the catalog has
/// it now (no snapshot built); `None` on a reader, whose nodes keep no key
/// index, or when there is no such table (planning reports that).
pub fn named_table(s: &SqlSession, name: &ObjectName) -> Option<TableRef> {
    if s.engine.is_reader() {
        return None;
    }
    let (db, table) = match name_parts(name).as_slice() {
        [t] => (s.db()?, t.clone()),
        [d, t] => (d.clone(), t.clone()),
        _ => return None,
    };
    s.engine.table(&db, &table).ok()
}

/// Sets the view for a statement and returns the rows of `table` that
/// `lookup` finds in it (`None`: the index cannot say). The snapshot is
/// taken first and the index read after, so the index is at least as new
/// as the snapshot.
pub async fn rows_in_view(
    s: &SqlSession,
    table: TableId,
    lookup: &Lookup,
) -> Result<Option<Vec<u64>>, SqlError> {
    let snap = s.set_view(false);
    s.engine
        .index_rows_shared(&snap, table, lookup, MAX_ROWS)
        .await
}

/// Confines the query `stmt` to the rows its key range names, when the
/// key index can say exactly which those are for the view set for it.
/// Returns whether the view was narrowed.
pub async fn confine(s: &SqlSession, stmt: &Statement) -> Result<bool, SqlError> {
    let Some((name, selection)) = single_table(stmt) else {
        return Ok(false);
    };
    let Some(t) = named_table(s, name) else {
        return Ok(false);
    };
    let Some(lookup) = lookup(&t.meta, selection) else {
        return Ok(false);
    };
    let rows = rows_in_view(s, t.id, &lookup).await?;
    Ok(narrow(s, t.id, rows, lookup.exact))
}

/// Narrows the view set for a statement on `t` to the rows of `rows`
/// the key index named (`None`: it could not), counting it for SHOW STATUS.
/// `exact`: the range is the statement's whole WHERE clause.
pub fn narrow(s: &SqlSession, table: TableId, rows: Option<Vec<u64>>, exact: bool) -> bool {
    let Some(rows) = rows else {
        return false;
    };
    s.restrict_view(table, rows, exact);
    s.engine
        .key_range_reads
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::dialect::FloeDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn meta(sql: &str) -> TableMeta {
        let Statement::CreateTable(ct) = Parser::parse_sql(&FloeDialect::default(), sql)
            .unwrap()
            .remove(0)
        else {
            panic!("not CREATE TABLE")
        };
        super::super::ddl::table_meta("db".into(), &ct).unwrap()
    }

    fn where_of(sql: &str) -> SqlExpr {
        let stmt = Parser::parse_sql(
            &FloeDialect::default(),
            &format!("SELECT * FROM t WHERE {sql}"),
        )
        .unwrap()
        .remove(0);
        single_table(&stmt).unwrap().1.unwrap().clone()
    }

    fn key(meta: &TableMeta, v: i64) -> Key {
        column_key(meta, meta.primary_key[0], v)
    }

    fn column_key(meta: &TableMeta, column: usize, v: i64) -> Key {
        let ty = meta.columns[column].ty.storage.data_type();
        let c = RowConverter::new(vec![SortField::new(ty.clone())]).unwrap();
        let a = cast(
            &(std::sync::Arc::new(Int64Array::from(vec![v])) as ArrayRef),
            &ty,
        )
        .unwrap();
        Key::new(c.convert_columns(&[a]).unwrap().row(0).as_ref())
    }

    #[test]
    fn conjuncts_on_the_key_become_the_tightest_bounds() {
        let m = meta("CREATE TABLE t (id INT PRIMARY KEY, k INT)");
        let b = |w: &str| lookup(&m, Some(&where_of(w))).map(|l| l.bounds);
        assert_eq!(
            b("id BETWEEN 1 AND 9 AND k = 3 AND id > 4 AND (id <= 7)"),
            Some(KeyBounds::Range(
                Bound::Excluded(key(&m, 4)),
                Bound::Included(key(&m, 7))
            ))
        );
        assert_eq!(
            b("5 >= id"),
            Some(KeyBounds::Range(
                Bound::Unbounded,
                Bound::Included(key(&m, 5))
            ))
        );
        assert_eq!(
            b("id = -3"),
            Some(KeyBounds::Range(
                Bound::Included(key(&m, -3)),
                Bound::Included(key(&m, -3))
            ))
        );
        assert_eq!(
            b("id IN (9, 2, 9, 40) AND id < 10"),
            Some(KeyBounds::Points(vec![key(&m, 2), key(&m, 9)]))
        );
        // Negative keys sort before positive ones in the encoding.
        assert!(key(&m, -3) < key(&m, 2));
        // Nothing that could drop a matching row: ORs, fractions, other
        // columns, values outside the type, NOT IN.
        assert_eq!(
            b("id = 1 OR id = 2"),
            Some(KeyBounds::Ranges(vec![
                (Bound::Included(key(&m, 1)), Bound::Included(key(&m, 1))),
                (Bound::Included(key(&m, 2)), Bound::Included(key(&m, 2))),
            ]))
        );
        for w in [
            "id = 1 OR k = 2",
            "id > 1.5",
            "k = 3",
            "id < 99999999999",
            "id NOT IN (1, 2)",
            "id + 0 = 1",
        ] {
            assert_eq!(b(w), None, "{w}");
        }
        let u = meta("CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY)");
        assert_eq!(lookup(&u, Some(&where_of("id > -1"))), None);
        assert!(is_empty(
            &Bound::Included(key(&m, 5)),
            &Bound::Included(key(&m, 4))
        ));
        assert!(is_empty(
            &Bound::Excluded(key(&m, 5)),
            &Bound::Included(key(&m, 5))
        ));
        assert!(!is_empty(
            &Bound::Included(key(&m, 5)),
            &Bound::Included(key(&m, 5))
        ));
    }

    #[test]
    fn other_indexes_bound_ranges_of_their_keys_by_their_first_column() {
        let m = meta(
            "CREATE TABLE t (id INT PRIMARY KEY, k INT, u INT, c TEXT NOT NULL, \
             KEY kc (k, c), UNIQUE KEY uk (u))",
        );
        let l = |w: &str| lookup(&m, Some(&where_of(w))).unwrap();
        let k = |v| column_key(&m, 1, v);
        let next = |v| k(v).successor().unwrap();
        // A value of `k` is every key (k, c, id) it starts.
        let eq = l("k = 5");
        assert_eq!(
            (eq.spec.name.as_str(), eq.spec.columns.clone()),
            ("kc", vec![1, 3, 0])
        );
        assert_eq!(eq.bounds, KeyBounds::Prefixes(vec![k(5)]));
        assert!(eq.exact && !eq.is_point());
        assert_eq!(
            l("k BETWEEN 2 AND 4").bounds,
            KeyBounds::Range(Bound::Included(k(2)), Bound::Excluded(next(4)))
        );
        assert_eq!(
            l("k > 2 AND k < 4").bounds,
            KeyBounds::Range(Bound::Included(next(2)), Bound::Excluded(k(4)))
        );
        assert_eq!(
            l("k IN (7, 3) AND k <= 6").bounds,
            KeyBounds::Prefixes(vec![k(3)])
        );
        // A unique key's whole value is a point; the primary key wins a tie.
        let u = l("u = 9");
        assert_eq!((u.spec.name.as_str(), u.is_point()), ("uk", true));
        assert_eq!(l("id = 1 AND u = 9").spec.name, "PRIMARY");
        // The narrowest wins: listed values over a range, a closed range
        // over an open one.
        assert_eq!(l("id > 5 AND k = 3").spec.name, "kc");
        assert!(!l("id > 5 AND k = 3").exact);
        assert_eq!(l("id > 5 AND k BETWEEN 1 AND 2").spec.name, "kc");
        assert_eq!(l("id BETWEEN 5 AND 9 AND k > 2").spec.name, "PRIMARY");
        // A disjunction of conditions on the column is a set of ranges,
        // within what the other conjuncts allow.
        let either = l("(k BETWEEN 1 AND 2 OR k = 9 OR k IN (4, 20)) AND k < 10");
        assert_eq!(
            either.bounds,
            KeyBounds::Ranges(vec![
                (Bound::Included(k(1)), Bound::Excluded(next(2))),
                (Bound::Included(k(9)), Bound::Excluded(next(9))),
                (Bound::Included(k(4)), Bound::Excluded(next(4))),
            ])
        );
        assert!(either.exact);
        assert_eq!(
            l("k IN (1, 5, 7) AND (k < 2 OR k > 6)").bounds,
            KeyBounds::Prefixes(vec![k(1), k(7)])
        );
        // A disjunction naming anything else bounds nothing.
        assert!(lookup(&m, Some(&where_of("k = 1 OR id = 2"))).is_none());
        assert!(!l("id = 3 AND (k = 1 OR c = 'x')").exact);
        // An index whose later columns may be NULL leaves rows out that a
        // condition on its first column keeps.
        let nullable = meta("CREATE TABLE t (id INT PRIMARY KEY, k INT, c TEXT, KEY kc (k, c))");
        assert_eq!(lookup(&nullable, Some(&where_of("k = 1"))), None);
        // Without a primary key, a non-unique index is not kept.
        let bare = meta("CREATE TABLE t (a INT, KEY ka (a))");
        assert_eq!(lookup(&bare, Some(&where_of("a = 1"))), None);
    }

    #[test]
    fn a_table_read_twice_is_not_narrowed() {
        let parse = |q: &str| {
            Parser::parse_sql(&FloeDialect::default(), q)
                .unwrap()
                .remove(0)
        };
        assert!(single_table(&parse("SELECT SUM(k) FROM t WHERE id BETWEEN 1 AND 5")).is_some());
        for q in [
            "SELECT * FROM t WHERE id = 1 AND k > (SELECT AVG(k) FROM t)",
            "SELECT * FROM t JOIN u ON t.id = u.id WHERE t.id = 1",
            "WITH x AS (SELECT * FROM t) SELECT * FROM x WHERE id = 1",
            "SELECT * FROM t WHERE id = 1 UNION SELECT * FROM t WHERE id = 2",
        ] {
            assert!(single_table(&parse(q)).is_none(), "{q}");
        }
    }
}

//! `SELECT` of literals and system variables with no FROM: `SELECT 1`
//! (pings and pool health checks), `SELECT @@version_comment LIMIT 1` (the
//! `mysql` CLI), the `@@…` lists drivers send on connect. These come often
//! and alone, so each is read straight from its text and answered without
//! sqlparser or DataFusion, whose costs would exceed the round trip's.
//! `read` takes only what it wholly understands (integers, quoted strings,
//! `@@` variables, `AS` aliases, a final `LIMIT n ≥ 1`); anything else is
//! left to sqlparser.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use super::values::{Literal, Reader};
use super::vars::Vars;

/// A statement read by [`read`].
pub struct ConstantSelect {
    items: Vec<Item>,
    text: String,
}

struct Item {
    /// The result column's name: the alias, or the expression as MySQL
    /// names it (a string's value, anything else as written).
    name: String,
    value: Value,
}

enum Value {
    Int(i64),
    Str(String),
    /// A system variable, as written (`@@session.autocommit`).
    Var(String),
}

/// Words that end a select item rather than alias it.
const CLAUSES: [&str; 10] = [
    "FROM", "WHERE", "LIMIT", "UNION", "INTO", "ORDER", "GROUP", "HAVING", "FOR", "WINDOW",
];

/// Reads `text` if it is a constant SELECT this module answers.
pub fn read(text: &str) -> Option<ConstantSelect> {
    let mut r = Reader::new(text);
    if !r.eat_word("SELECT") {
        return None;
    }
    let mut items = Vec::new();
    loop {
        let start = r.position();
        let value = match r.peek()? {
            b'@' => Value::Var(r.system_var()?.to_string()),
            // `+1` is named "+1" by MySQL, but its literal's text is "1".
            b'\'' | b'-' | b'0'..=b'9' => match r.literal()? {
                Literal::Span(a, b) if text.as_bytes()[start] == b'\'' => {
                    Value::Str(text[a..b].to_string())
                }
                Literal::Unescaped(s) if text.as_bytes()[start] == b'\'' => Value::Str(s),
                Literal::Span(a, b) => Value::Int(text[a..b].parse().ok()?),
                _ => return None,
            },
            _ => return None,
        };
        let end = r.position();
        let name = if r.eat_word("AS") {
            alias(&mut r, text)?
        } else {
            match &value {
                Value::Str(s) => s.clone(),
                _ => text[start..end].trim_end().to_string(),
            }
        };
        items.push(Item { name, value });
        if !r.eat(b',') {
            break;
        }
    }
    if r.eat_word("LIMIT") {
        let at = r.position();
        match r.literal()? {
            Literal::Span(a, b) if a == at && text[a..b].parse::<u64>().ok()? >= 1 => {}
            _ => return None,
        }
    }
    r.at_end().then(|| ConstantSelect {
        items,
        text: text.to_string(),
    })
}

/// The name after `AS`: a word, a backquoted name, or a quoted string.
fn alias(r: &mut Reader<'_>, text: &str) -> Option<String> {
    if r.peek()? == b'\'' {
        return match r.literal()? {
            Literal::Span(a, b) => Some(text[a..b].to_string()),
            Literal::Unescaped(s) => Some(s),
            _ => None,
        };
    }
    let name = r.ident()?;
    let clause =
        name.quote_style.is_none() && CLAUSES.iter().any(|c| name.value.eq_ignore_ascii_case(c));
    (!clause).then_some(name.value)
}

impl ConstantSelect {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether it reads `@@warning_count` or `@@error_count`, which must see
    /// the previous statement's diagnostics rather than clear them.
    pub fn reads_diagnostics(&self) -> bool {
        self.items.iter().any(|item| match &item.value {
            // `@@warning_count`, `@@session.warning_count`: the name after the scope.
            Value::Var(v) => v.rsplit(['.', '@']).next().is_some_and(|name| {
                name.eq_ignore_ascii_case("warning_count")
                    || name.eq_ignore_ascii_case("error_count")
            }),
            _ => false,
        })
    }

    /// The one-row answer, or `None` if a variable is unknown (the
    /// general path reports that as MySQL does).
    pub fn answer(&self, vars: &Vars) -> Option<(Arc<Schema>, RecordBatch)> {
        let mut fields = Vec::with_capacity(self.items.len());
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.items.len());
        for item in &self.items {
            let (ty, nullable, array): (_, _, ArrayRef) = match &item.value {
                Value::Int(n) => (DataType::Int64, false, Arc::new(Int64Array::from(vec![*n]))),
                Value::Str(s) => (
                    DataType::Utf8,
                    true,
                    Arc::new(StringArray::from(vec![s.as_str()])),
                ),
                Value::Var(name) => {
                    let v = vars.get(name)?;
                    match v.parse::<i64>() {
                        Ok(n) => (DataType::Int64, true, Arc::new(Int64Array::from(vec![n]))),
                        Err(_) => (DataType::Utf8, true, Arc::new(StringArray::from(vec![v]))),
                    }
                }
            };
            fields.push(Field::new(item.name.clone(), ty, nullable));
            arrays.push(array);
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), arrays).ok()?;
        Some((schema, batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_and_values(sql: &str) -> Option<Vec<(String, String)>> {
        let c = read(sql)?;
        Some(
            c.items
                .iter()
                .map(|i| {
                    let v = match &i.value {
                        Value::Int(n) => format!("int {n}"),
                        Value::Str(s) => format!("str {s}"),
                        Value::Var(v) => format!("var {v}"),
                    };
                    (i.name.clone(), v)
                })
                .collect(),
        )
    }

    fn pairs(p: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            p.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn reads_what_drivers_send() {
        assert_eq!(names_and_values("SELECT 1"), pairs(&[("1", "int 1")]));
        assert_eq!(
            names_and_values("select @@version_comment limit 1"),
            pairs(&[("@@version_comment", "var @@version_comment")])
        );
        assert_eq!(
            names_and_values(
                "SELECT  @@session.auto_increment_increment AS auto_increment_increment, @@character_set_client AS `cs`"
            ),
            pairs(&[
                (
                    "auto_increment_increment",
                    "var @@session.auto_increment_increment"
                ),
                ("cs", "var @@character_set_client")
            ])
        );
        assert_eq!(
            names_and_values("SELECT -7, 'it''s' AS 'q', 'a\\nb', 007"),
            pairs(&[
                ("-7", "int -7"),
                ("q", "str it's"),
                ("a\nb", "str a\nb"),
                ("007", "int 7")
            ])
        );
    }

    #[test]
    fn leaves_everything_else_to_sqlparser() {
        for sql in [
            "SELECT 1 FROM dual",
            "SELECT 1 x",
            "SELECT 1 DIV 2",
            "SELECT 1 + 1",
            "SELECT +1",
            "SELECT 1.5",
            "SELECT 1e3",
            "SELECT 99999999999999999999",
            "SELECT 'a' 'b'",
            "SELECT '\\a'",
            "SELECT NULL",
            "SELECT @x",
            "SELECT @@",
            "SELECT 1 LIMIT 0",
            "SELECT 1 LIMIT 1, 2",
            "SELECT 1 AS FROM",
            "SELECT DISTINCT 1",
            "SELECT 1 UNION SELECT 2",
            "SELECT 1 -- comment",
            "SELECT",
            "SELECT 1,",
        ] {
            assert!(read(sql).is_none(), "{sql}");
        }
    }
}

//! `INSERT|REPLACE … VALUES (…), (…)` whose values are all literals: what
//! mysqldump files and batch loaders send, a megabyte at a time. sqlparser
//! builds (and drops) an expression tree per value, several microseconds a
//! row; this reader finds each value's text in the statement and copies
//! nothing but strings that hold escapes. A statement it does not wholly
//! understand (expressions, ON DUPLICATE KEY UPDATE, SELECT, hex or
//! charset-prefixed literals…) is left to sqlparser: `read` returns `None`.

use datafusion::sql::sqlparser::ast::{Ident, ObjectName, ObjectNamePart};

/// A statement read by [`read`].
pub struct LiteralInsert {
    pub replace: bool,
    pub ignore: bool,
    pub table: ObjectName,
    /// The column list, if the statement has one.
    pub columns: Option<Vec<String>>,
    width: usize,
    values: Vec<Literal>,
    text: String,
}

/// One value: where its text is, unless it had to be unescaped.
pub(super) enum Literal {
    Null,
    Default,
    Span(usize, usize),
    Unescaped(String),
}

/// A value as a column receives it.
#[derive(Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    Default,
    Text(&'a str),
}

impl LiteralInsert {
    /// The rows, each with the same number of values.
    pub fn rows(&self) -> impl Iterator<Item = impl ExactSizeIterator<Item = Value<'_>>> {
        self.values.chunks(self.width).map(|row| {
            row.iter().map(|l| match l {
                Literal::Null => Value::Null,
                Literal::Default => Value::Default,
                Literal::Span(a, b) => Value::Text(&self.text[*a..*b]),
                Literal::Unescaped(s) => Value::Text(s),
            })
        })
    }

    pub fn row_count(&self) -> usize {
        self.values.len() / self.width
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Reads `text` if it is an INSERT or REPLACE of literal rows.
pub fn read(text: &str) -> Option<LiteralInsert> {
    let mut r = Reader::new(text);
    let replace = match r.word()? {
        w if w.eq_ignore_ascii_case("INSERT") => false,
        w if w.eq_ignore_ascii_case("REPLACE") => true,
        _ => return None,
    };
    let mut ignore = false;
    let mut w = r.word()?;
    if !replace && w.eq_ignore_ascii_case("IGNORE") {
        ignore = true;
        w = r.word()?;
    }
    if !w.eq_ignore_ascii_case("INTO") {
        return None;
    }
    let mut parts = vec![r.ident()?];
    while r.eat(b'.') {
        parts.push(r.ident()?);
    }
    let columns = if r.eat(b'(') {
        let mut names = Vec::new();
        loop {
            names.push(r.ident()?.value);
            if r.eat(b')') {
                break;
            }
            r.expect(b',')?;
        }
        Some(names)
    } else {
        None
    };
    let w = r.word()?;
    if !w.eq_ignore_ascii_case("VALUES") && !w.eq_ignore_ascii_case("VALUE") {
        return None;
    }
    let mut values = Vec::new();
    let mut width = 0;
    loop {
        r.expect(b'(')?;
        let start = values.len();
        loop {
            values.push(r.literal()?);
            if r.eat(b')') {
                break;
            }
            r.expect(b',')?;
        }
        // Rows of differing lengths: sqlparser's path names the bad row.
        match width {
            0 => width = values.len(),
            n if values.len() - start != n => return None,
            _ => {}
        }
        if !r.eat(b',') {
            break;
        }
    }
    if !r.at_end() {
        return None;
    }
    Some(LiteralInsert {
        replace,
        ignore,
        table: ObjectName(parts.into_iter().map(ObjectNamePart::Identifier).collect()),
        columns,
        width,
        values,
        text: text.to_string(),
    })
}

/// A cursor over SQL text for the readers that skip sqlparser (here and
/// in `constant`). Its methods skip whitespace before what they read.
pub(super) struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$'
}

impl<'a> Reader<'a> {
    pub(super) fn new(text: &'a str) -> Reader<'a> {
        Reader {
            b: text.as_bytes(),
            at: 0,
        }
    }

    /// Where the next thing to read starts.
    pub(super) fn position(&mut self) -> usize {
        self.skip_space();
        self.at
    }

    pub(super) fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.b.get(self.at).copied()
    }

    pub(super) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Consumes the word `w` (any case) if it is next.
    pub(super) fn eat_word(&mut self, w: &str) -> bool {
        let at = self.at;
        let hit = self.word().is_some_and(|x| x.eq_ignore_ascii_case(w));
        if !hit {
            self.at = at;
        }
        hit
    }

    /// A system variable: `@@name` or `@@scope.name`, as written.
    pub(super) fn system_var(&mut self) -> Option<&'a str> {
        self.skip_space();
        let start = self.at;
        if self.b.get(start..start + 2) != Some(b"@@") {
            return None;
        }
        self.at += 2;
        while self
            .b
            .get(self.at)
            .copied()
            .is_some_and(|c| is_word_byte(c) || c == b'.')
        {
            self.at += 1;
        }
        let name = std::str::from_utf8(&self.b[start..self.at]).ok()?;
        (name.len() > 2 && !name.ends_with('.')).then_some(name)
    }

    fn skip_space(&mut self) {
        while self.b.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    pub(super) fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        let hit = self.b.get(self.at) == Some(&c);
        self.at += usize::from(hit);
        hit
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    /// An unquoted ASCII word that does not start with a digit.
    fn word(&mut self) -> Option<&'a str> {
        self.skip_space();
        let start = self.at;
        if self.b.get(start).is_none_or(u8::is_ascii_digit) {
            return None;
        }
        while self.b.get(self.at).copied().is_some_and(is_word_byte) {
            self.at += 1;
        }
        // Only ASCII bytes were taken, so this is a whole UTF-8 slice.
        std::str::from_utf8(&self.b[start..self.at])
            .ok()
            .filter(|w| !w.is_empty())
    }

    /// A table or column name, bare or in backquotes.
    pub(super) fn ident(&mut self) -> Option<Ident> {
        self.skip_space();
        if self.b.get(self.at) != Some(&b'`') {
            let w = self.word()?;
            let reserved = ["VALUES", "VALUE", "SELECT", "SET", "ON"];
            return (!reserved.iter().any(|r| w.eq_ignore_ascii_case(r))).then(|| Ident::new(w));
        }
        let (start, i, plain) = self.quoted(b'`', false)?;
        let raw = std::str::from_utf8(&self.b[start..i]).ok()?;
        let name = if !plain {
            raw.replace("``", "`")
        } else {
            raw.to_string()
        };
        (!name.is_empty()).then(|| Ident::with_quote('`', name))
    }

    pub(super) fn literal(&mut self) -> Option<Literal> {
        self.skip_space();
        let start = self.at;
        match *self.b.get(start)? {
            b'\'' => self.string(),
            b'-' => {
                self.at += 1;
                self.number(start)
            }
            b'+' => {
                self.at += 1;
                self.number(self.at)
            }
            b'0'..=b'9' | b'.' => self.number(start),
            _ => {
                let w = self.word()?;
                Some(match w.to_ascii_uppercase().as_str() {
                    "NULL" => Literal::Null,
                    "DEFAULT" => Literal::Default,
                    "TRUE" => Literal::Unescaped("1".into()),
                    "FALSE" => Literal::Unescaped("0".into()),
                    _ => return None,
                })
            }
        }
    }

    /// A decimal number (sign already taken): digits, a fraction, an
    /// exponent. `0x…`, `0b…` and a number run into a word are not read.
    fn number(&mut self, start: usize) -> Option<Literal> {
        let digits = |r: &mut Self| {
            let from = r.at;
            while r.b.get(r.at).is_some_and(u8::is_ascii_digit) {
                r.at += 1;
            }
            r.at - from
        };
        let mut n = digits(self);
        if self.b.get(self.at) == Some(&b'.') {
            self.at += 1;
            n += digits(self);
        }
        if n == 0 {
            return None;
        }
        if matches!(self.b.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.b.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return None;
            }
        }
        if self.b.get(self.at).copied().is_some_and(is_word_byte) {
            return None;
        }
        Some(Literal::Span(start, self.at))
    }

    /// The quoted text at `self.at` (which is `quote`): where its contents
    /// start and end, and whether they hold no doubled quote (nor, with
    /// `backslash`, an escape). Moves past the closing quote.
    fn quoted(&mut self, quote: u8, backslash: bool) -> Option<(usize, usize, bool)> {
        let start = self.at + 1;
        let mut i = start;
        let mut plain = true;
        loop {
            match *self.b.get(i)? {
                b'\\' if backslash => {
                    plain = false;
                    i += 2;
                }
                c if c == quote && self.b.get(i + 1) == Some(&quote) => {
                    plain = false;
                    i += 2;
                }
                c if c == quote => break,
                _ => i += 1,
            }
        }
        self.at = i + 1;
        Some((start, i, plain))
    }

    /// A single-quoted string. Its text is used in place unless it holds
    /// escapes or doubled quotes.
    fn string(&mut self) -> Option<Literal> {
        let (start, i, plain) = self.quoted(b'\'', true)?;
        // Adjacent strings ('a' 'b') concatenate: left to sqlparser.
        self.skip_space();
        if self.b.get(self.at) == Some(&b'\'') {
            return None;
        }
        if plain {
            return Some(Literal::Span(start, i));
        }
        let raw = std::str::from_utf8(self.b.get(start..i)?).ok()?;
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next()? {
                    // sqlparser reads these as BEL and FF (MySQL: `a`, `f`);
                    // left to it so that both paths store the same.
                    'a' | 'f' => return None,
                    e => super::text::push_escaped(&mut out, e),
                },
                // The second of two quotes.
                '\'' => {
                    chars.next();
                    out.push('\'');
                }
                c => out.push(c),
            }
        }
        Some(Literal::Unescaped(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_literal_rows() {
        let ins = read(
            "INSERT INTO `db`.`t``x` (a, `b`) VALUES (1,'it''s'),(-2.5e3 , 'a\\'b\\n\\%'), (NULL, DEFAULT),(+7,TRUE)",
        )
        .expect("read");
        assert!(!ins.replace && !ins.ignore);
        assert_eq!(ins.table.to_string(), "`db`.`t``x`");
        assert_eq!(ins.columns, Some(vec!["a".to_string(), "b".to_string()]));
        let got: Vec<Vec<Value>> = ins.rows().map(|r| r.collect()).collect();
        assert_eq!(
            got,
            vec![
                vec![Value::Text("1"), Value::Text("it's")],
                vec![Value::Text("-2.5e3"), Value::Text("a'b\n\\%")],
                vec![Value::Null, Value::Default],
                vec![Value::Text("7"), Value::Text("1")],
            ]
        );
        assert_eq!(ins.row_count(), 4);
        let r = read("replace into t values ('中文', .5)").expect("replace");
        assert!(r.replace);
        assert_eq!(
            r.rows().next().map(|r| r.collect::<Vec<_>>()),
            Some(vec![Value::Text("中文"), Value::Text(".5")])
        );
        assert!(read("INSERT IGNORE INTO t VALUES (1)").is_some_and(|i| i.ignore));
    }

    #[test]
    fn leaves_everything_else_to_sqlparser() {
        for sql in [
            "INSERT INTO t VALUES (1 + 1)",
            "INSERT INTO t VALUES (NOW())",
            "INSERT INTO t VALUES (1), (1, 2)",
            "INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 1",
            "INSERT INTO t SELECT 1",
            "INSERT INTO t SET a = 1",
            "INSERT t VALUES (1)",
            "INSERT INTO t VALUES (0x1F)",
            "INSERT INTO t VALUES (X'1F')",
            "INSERT INTO t VALUES (_utf8mb4'a')",
            "INSERT INTO t VALUES ('a' 'b')",
            "INSERT INTO t VALUES (\"a\")",
            "INSERT INTO t VALUES (- 1)",
            "INSERT INTO t VALUES (1e)",
            "INSERT INTO t VALUES ()",
            "INSERT INTO t () VALUES (1)",
            "INSERT INTO t VALUES ('unterminated)",
            "INSERT INTO t VALUES (1",
            "INSERT LOW_PRIORITY INTO t VALUES (1)",
            "INSERT INTO values VALUES (1)",
            "INSERT INTO t VALUES ('\\f')",
            "UPDATE t SET a = 1",
        ] {
            assert!(read(sql).is_none(), "{sql}");
        }
    }
}

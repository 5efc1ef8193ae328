//! Lexical helpers for what floe parses itself: splitting a multi-statement
//! query, MySQL's executable comments, and the statements sqlparser does not
//! know (accounts, LOAD DATA, SHOW, SET, KILL).

/// Splits `sql` at top-level semicolons, keeping quotes and comments intact,
/// and turns `/*!NNNNN ... */` (executable comments) into their contents.
pub fn split_statements(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut cur = String::with_capacity(sql.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' | b'`' => {
                let start = i;
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' && c != b'`' {
                        i += 2;
                        continue;
                    }
                    if b[i] == c {
                        if i + 1 < b.len() && b[i + 1] == c {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
                cur.push_str(&sql[start..i]);
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = sql[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e);
                let body = &sql[i + 2..end];
                if let Some(rest) = body.strip_prefix('!') {
                    // Executable comment: run its text (any version up to ours).
                    let text = rest.trim_start_matches(|c: char| c.is_ascii_digit());
                    cur.push(' ');
                    cur.push_str(text);
                    cur.push(' ');
                } else {
                    cur.push(' ');
                }
                i = (end + 2).min(b.len());
                continue;
            }
            b';' => {
                finish(&mut cur, &mut out);
                i += 1;
                continue;
            }
            _ => {}
        }
        // Up to the next byte that may start a quote, comment or statement
        // end (all ASCII, so `next` is a character boundary).
        let next = b[i + 1..]
            .iter()
            .position(|c| matches!(c, b'\'' | b'"' | b'`' | b'-' | b'#' | b'/' | b';'))
            .map_or(b.len(), |p| i + 1 + p);
        cur.push_str(&sql[i..next]);
        i = next;
    }
    finish(&mut cur, &mut out);
    out
}

/// Ends the statement in `cur`: moved, not copied, when it is the whole
/// buffer (a dump's statements are megabytes, one per query).
fn finish(cur: &mut String, out: &mut Vec<String>) {
    let trimmed = cur.trim();
    if !trimmed.is_empty() && trimmed.len() == cur.len() && cur.capacity() <= 2 * cur.len() {
        out.push(std::mem::take(cur));
    } else if !trimmed.is_empty() {
        out.push(trimmed.to_string());
    }
    cur.clear();
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Word(String),
    /// A quoted string's value (quotes removed, escapes applied).
    Str(String),
    /// A backquoted identifier.
    Ident(String),
    Number(String),
    Punct(char),
    /// `@name` or `@@name`.
    Var(String),
}

impl Token {
    pub fn is_word(&self, w: &str) -> bool {
        matches!(self, Token::Word(x) if x.eq_ignore_ascii_case(w))
    }

    /// A name: a word, a backquoted identifier, or a quoted string.
    pub fn name(&self) -> Option<&str> {
        match self {
            Token::Word(s) | Token::Ident(s) | Token::Str(s) => Some(s),
            _ => None,
        }
    }
}

pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some(e) => push_escaped(&mut out, e),
            None => out.push('\\'),
        }
    }
    out
}

/// Appends what backslash + `e` stands for in a MySQL string literal. `\%`
/// and `\_` keep their backslash (they matter to LIKE); an unknown escape
/// is the character itself.
pub fn push_escaped(out: &mut String, e: char) {
    match e {
        'n' => out.push('\n'),
        't' => out.push('\t'),
        'r' => out.push('\r'),
        '0' => out.push('\0'),
        'b' => out.push('\u{8}'),
        'Z' => out.push('\u{1a}'),
        '%' | '_' => {
            out.push('\\');
            out.push(e);
        }
        o => out.push(o),
    }
}

pub fn tokenize(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' || c == '`' {
            let mut s = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == '\\' && c != '`' && i + 1 < chars.len() {
                    s.push('\\');
                    s.push(chars[i + 1]);
                    i += 2;
                    continue;
                }
                if chars[i] == c {
                    if i + 1 < chars.len() && chars[i + 1] == c {
                        s.push(c);
                        i += 2;
                        continue;
                    }
                    break;
                }
                s.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(if c == '`' {
                Token::Ident(s)
            } else {
                Token::Str(unescape(&s))
            });
        } else if c == '@' {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || "_@.$".contains(chars[i])) {
                i += 1;
            }
            out.push(Token::Var(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Number(chars[start..i].iter().collect()));
        } else if c.is_alphanumeric() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

impl Iterator for Tokens {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }
}

/// A cursor over tokens for small hand-written parsers.
pub struct Tokens {
    toks: Vec<Token>,
    at: usize,
}

impl Tokens {
    pub fn new(sql: &str) -> Tokens {
        Tokens {
            toks: tokenize(sql),
            at: 0,
        }
    }

    pub fn peek(&self) -> Option<&Token> {
        self.toks.get(self.at)
    }

    pub fn peek_at(&self, n: usize) -> Option<&Token> {
        self.toks.get(self.at + n)
    }

    /// Consumes the word `w` if it is next.
    pub fn eat(&mut self, w: &str) -> bool {
        if self.peek().is_some_and(|t| t.is_word(w)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    pub fn eat_punct(&mut self, p: char) -> bool {
        if self.peek() == Some(&Token::Punct(p)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Consumes the words `ws` in order, or nothing.
    pub fn eat_all(&mut self, ws: &[&str]) -> bool {
        let ok = ws
            .iter()
            .enumerate()
            .all(|(i, w)| self.peek_at(i).is_some_and(|t| t.is_word(w)));
        if ok {
            self.at += ws.len();
        }
        ok
    }

    pub fn name(&mut self) -> Option<String> {
        let n = self.peek()?.name()?.to_string();
        self.at += 1;
        Some(n)
    }

    /// `name` or `db.name`.
    pub fn qualified(&mut self) -> Option<(Option<String>, String)> {
        let first = self.name()?;
        if self.eat_punct('.') {
            let second = self.name()?;
            return Some((Some(first), second));
        }
        Some((None, first))
    }

    /// `'user'@'host'` (host defaults to `%`).
    pub fn account(&mut self) -> Option<(String, String)> {
        let user = self.name()?;
        let host = match self.peek() {
            Some(Token::Var(v)) if v == "@" => {
                self.at += 1;
                self.name()?
            }
            Some(Token::Var(v)) => {
                let v = v[1..].to_string();
                self.at += 1;
                v
            }
            _ => "%".to_string(),
        };
        Some((user, host))
    }

    pub fn rest(&self) -> &[Token] {
        &self.toks[self.at.min(self.toks.len())..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_the_mysql_client_would() {
        let s = split_statements(
            "/*!40101 SET NAMES utf8mb4 */;\nINSERT INTO t VALUES ('a;b', \"c\\\";\", `x;y`); -- done;\n# note;\nSELECT 1; /* plain; */ SELECT '中文';",
        );
        assert_eq!(
            s,
            vec![
                "SET NAMES utf8mb4",
                "INSERT INTO t VALUES ('a;b', \"c\\\";\", `x;y`)",
                "SELECT 1",
                "SELECT '中文'"
            ]
        );
    }

    #[test]
    fn tokenizes_accounts_and_strings() {
        let mut t = Tokens::new("CREATE USER 'app'@'%' IDENTIFIED BY 'p''w\\n'");
        assert!(t.eat_all(&["CREATE", "USER"]));
        assert_eq!(t.account(), Some(("app".into(), "%".into())));
        assert!(t.eat("IDENTIFIED") && t.eat("BY"));
        assert_eq!(t.next(), Some(Token::Str("p'w\n".into())));
    }
}

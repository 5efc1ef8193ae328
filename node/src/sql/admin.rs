//! SET (system, session and user variables), accounts (CREATE/ALTER/DROP
//! USER, GRANT, REVOKE) and KILL.

use datafusion::scalar::ScalarValue;
use floe_storage::record::Ddl;

use super::catalog::{self, Account, account_key};
use super::session::SqlSession;
use super::text::{Token, Tokens};
use super::vars;
use crate::mysql::auth::Plugin;
use crate::mysql::session::Outcome;
use crate::mysql::{Done, SqlError};

/// Splits at top-level commas (outside quotes and parentheses).
fn split_commas(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut cur = String::new();
    let mut prev = '\0';
    for c in s.chars() {
        match quote {
            Some(q) => {
                if c == q && prev != '\\' {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(std::mem::take(&mut cur));
                    prev = c;
                    continue;
                }
                _ => {}
            },
        }
        cur.push(c);
        prev = c;
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// The value of a SET right-hand side: a bare word stays a word.
async fn value_of(s: &SqlSession, rhs: &str) -> Result<ScalarValue, SqlError> {
    let toks = super::text::tokenize(rhs);
    if let [Token::Word(w)] = toks.as_slice() {
        return Ok(ScalarValue::Utf8(Some(w.clone())));
    }
    let stmt = SqlSession::parse_one(&format!("SELECT {rhs}"))?;
    let batches = s.collect(stmt, false).await?;
    match batches.iter().find(|b| b.num_rows() > 0) {
        Some(b) => ScalarValue::try_from_array(b.column(0), 0)
            .map_err(|e| SqlError::internal(e.to_string())),
        None => Ok(ScalarValue::Utf8(None)),
    }
}

fn scalar_text(v: &ScalarValue) -> Option<String> {
    if v.is_null() {
        return None;
    }
    Some(match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        ScalarValue::Boolean(Some(b)) => if *b { "1" } else { "0" }.into(),
        other => other.to_string(),
    })
}

pub async fn set(s: &mut SqlSession, text: &str) -> Result<Done, SqlError> {
    let body = text.trim_start()[3..].trim();
    let mut t = Tokens::new(body);
    if t.eat("NAMES") || t.eat_all(&["CHARACTER", "SET"]) || t.eat_all(&["CHARSET"]) {
        let cs = t.name().unwrap_or_else(|| "utf8mb4".into());
        if let Ok(mut v) = s.vars.lock() {
            for n in [
                "character_set_client",
                "character_set_connection",
                "character_set_results",
            ] {
                v.set(n, cs.clone());
            }
        }
        return Ok(Done::default());
    }
    let mut scope_words = Tokens::new(body);
    scope_words.eat("SESSION");
    scope_words.eat("GLOBAL");
    scope_words.eat("LOCAL");
    if scope_words.eat("TRANSACTION") {
        let up = body.to_ascii_uppercase();
        let level = [
            "READ UNCOMMITTED",
            "READ COMMITTED",
            "REPEATABLE READ",
            "SERIALIZABLE",
        ]
        .into_iter()
        .find(|l| up.contains(l));
        if let (Some(l), Ok(mut v)) = (level, s.vars.lock()) {
            v.set("transaction_isolation", l.replace(' ', "-"));
        }
        return Ok(Done::default());
    }
    if t.eat("PASSWORD") {
        return Err(SqlError::new(
            1235,
            "42000",
            "Use ALTER USER ... IDENTIFIED BY to change passwords",
        ));
    }
    for assignment in split_commas(body) {
        let (lhs, rhs) = match assignment
            .split_once(":=")
            .or_else(|| assignment.split_once('='))
        {
            Some((l, r)) => (l.trim().to_string(), r.trim().to_string()),
            None => {
                return Err(SqlError::syntax(format!(
                    "You have an error in your SQL syntax near '{assignment}'"
                )));
            }
        };
        let mut lt = Tokens::new(&lhs);
        // GLOBAL settings would have to reach every node: they act per session.
        let _ = lt.eat("GLOBAL") || lt.eat("PERSIST");
        let _ = lt.eat("SESSION") || lt.eat("LOCAL");
        let name = match lt.next() {
            Some(Token::Var(v)) if v.starts_with("@@") => v.clone(),
            Some(Token::Var(v)) => {
                // A user variable.
                let value = value_of(s, &rhs).await?;
                if let Ok(mut vars) = s.vars.lock() {
                    vars.user
                        .insert(v.trim_start_matches('@').to_ascii_lowercase(), value);
                }
                continue;
            }
            Some(tok) => tok.name().unwrap_or_default().to_string(),
            None => return Err(SqlError::syntax("SET needs a variable")),
        };
        let var = vars::normalize(&name);
        let value = if rhs.eq_ignore_ascii_case("DEFAULT") {
            vars::default_of(&var).map(str::to_string)
        } else {
            scalar_text(&value_of(s, &rhs).await?)
        };
        if vars::default_of(&var).is_none() {
            return Err(SqlError::new(
                1193,
                "HY000",
                format!("Unknown system variable '{var}'"),
            ));
        }
        let mut value = value.unwrap_or_default();
        if var == "autocommit" {
            let on = value == "1"
                || value.eq_ignore_ascii_case("on")
                || value.eq_ignore_ascii_case("true");
            value = if on { "1" } else { "0" }.into();
            if on {
                // Turning autocommit on commits the open transaction.
                s.commit_txn().await?;
            }
        }
        if let Ok(mut v) = s.vars.lock() {
            v.set(&var, value);
        }
    }
    Ok(Done::default())
}

fn plugin_of(t: &mut Tokens) -> Result<Plugin, SqlError> {
    if t.eat("WITH") {
        let name = t.name().unwrap_or_default();
        return Plugin::from_name(&name.to_ascii_lowercase())
            .ok_or_else(|| SqlError::new(1524, "HY000", format!("Plugin '{name}' is not loaded")));
    }
    Ok(Plugin::CachingSha2)
}

async fn save(s: &SqlSession, a: &Account) -> Result<(), SqlError> {
    s.engine.ddl(a.record()).await?;
    s.ctx.registry.sha2_cache.forget(&a.user);
    Ok(())
}

fn find(s: &SqlSession, user: &str, host: &str) -> Option<Account> {
    s.engine.with_meta(|m| catalog::account(m, user, host))
}

fn failed(op: &str, user: &str, host: &str) -> SqlError {
    SqlError::new(
        1396,
        "HY000",
        format!("Operation {op} failed for '{user}'@'{host}'"),
    )
}

pub async fn account(s: &mut SqlSession, text: &str) -> Result<Outcome, SqlError> {
    s.commit_txn().await?;
    let mut t = Tokens::new(text);
    let done = Ok(Outcome::Done(Done::default()));
    if t.eat_all(&["CREATE", "USER"]) {
        let if_not_exists = t.eat_all(&["IF", "NOT", "EXISTS"]);
        loop {
            let (user, host) = t
                .account()
                .ok_or_else(|| SqlError::syntax("CREATE USER needs 'user'@'host'"))?;
            let mut plugin = Plugin::CachingSha2;
            let mut password = String::new();
            if t.eat("IDENTIFIED") {
                plugin = plugin_of(&mut t)?;
                if t.eat("BY") {
                    password = t.name().unwrap_or_default();
                }
            }
            if find(s, &user, &host).is_some() {
                if !if_not_exists {
                    return Err(failed("CREATE USER", &user, &host));
                }
            } else {
                save(s, &Account::new(&user, &host, plugin, &password)).await?;
            }
            if !t.eat_punct(',') {
                break;
            }
        }
        return done;
    }
    if t.eat_all(&["ALTER", "USER"]) {
        let if_exists = t.eat_all(&["IF", "EXISTS"]);
        let (user, host) = t
            .account()
            .ok_or_else(|| SqlError::syntax("ALTER USER needs 'user'@'host'"))?;
        let Some(mut a) = find(s, &user, &host) else {
            if if_exists {
                return done;
            }
            return Err(failed("ALTER USER", &user, &host));
        };
        if t.eat("IDENTIFIED") {
            let plugin = plugin_of(&mut t)?;
            let password = if t.eat("BY") {
                t.name().unwrap_or_default()
            } else {
                String::new()
            };
            a.set_password(plugin, &password);
        }
        save(s, &a).await?;
        return done;
    }
    if t.eat_all(&["DROP", "USER"]) {
        let if_exists = t.eat_all(&["IF", "EXISTS"]);
        loop {
            let (user, host) = t
                .account()
                .ok_or_else(|| SqlError::syntax("DROP USER needs 'user'@'host'"))?;
            if find(s, &user, &host).is_none() {
                if !if_exists {
                    return Err(failed("DROP USER", &user, &host));
                }
            } else {
                s.engine
                    .ddl(Ddl::SetMeta {
                        key: account_key(&user, &host),
                        value: None,
                    })
                    .await?;
                s.ctx.registry.sha2_cache.forget(&user);
            }
            if !t.eat_punct(',') {
                break;
            }
        }
        return done;
    }
    let grant = t.eat("GRANT");
    if grant || t.eat("REVOKE") {
        // privileges ON db.* TO|FROM 'u'@'h'
        let mut privileges = Vec::new();
        let mut cur = String::new();
        while let Some(tok) = t.peek().cloned() {
            if tok.is_word("ON") {
                break;
            }
            t.next();
            match tok {
                Token::Punct(',') => privileges.push(std::mem::take(&mut cur)),
                other => {
                    if !cur.is_empty() {
                        cur.push(' ');
                    }
                    cur.push_str(other.name().unwrap_or(""));
                }
            }
        }
        privileges.push(cur);
        let privileges: Vec<String> = privileges
            .into_iter()
            .map(|p| p.trim().to_ascii_uppercase())
            .filter(|p| !p.is_empty())
            .collect();
        if !t.eat("ON") {
            return Err(SqlError::syntax("GRANT needs ON"));
        }
        t.eat("TABLE");
        let db = match t.next() {
            Some(Token::Punct('*')) => "*".to_string(),
            Some(tok) => tok.name().unwrap_or("*").to_string(),
            None => "*".to_string(),
        };
        if t.eat_punct('.') {
            t.next();
        }
        if !(t.eat("TO") || t.eat("FROM")) {
            return Err(SqlError::syntax("GRANT needs TO"));
        }
        let (user, host) = t
            .account()
            .ok_or_else(|| SqlError::syntax("GRANT needs 'user'@'host'"))?;
        let Some(mut a) = find(s, &user, &host) else {
            return Err(SqlError::new(
                1410,
                "42000",
                "You are not allowed to create a user with GRANT",
            ));
        };
        if grant {
            match a.grants.iter_mut().find(|(d, _)| *d == db) {
                Some((_, p)) => {
                    for x in privileges {
                        if !p.contains(&x) {
                            p.push(x);
                        }
                    }
                }
                None => a.grants.push((db, privileges)),
            }
        } else {
            let all = privileges.iter().any(|p| p.starts_with("ALL"));
            for (d, p) in a.grants.iter_mut() {
                if *d == db {
                    p.retain(|x| !all && !privileges.contains(x));
                }
            }
            a.grants.retain(|(_, p)| !p.is_empty());
        }
        save(s, &a).await?;
        return done;
    }
    Err(SqlError::new(
        1235,
        "42000",
        "This account statement is not supported",
    ))
}

/// SHOW GRANTS [FOR user@host].
pub fn show_grants(s: &SqlSession, text: &str) -> Result<Outcome, SqlError> {
    let mut t = Tokens::new(text);
    t.eat("SHOW");
    t.eat("GRANTS");
    let (user, host) = if t.eat("FOR") {
        t.account()
            .ok_or_else(|| SqlError::syntax("SHOW GRANTS FOR needs 'user'@'host'"))?
    } else {
        let sh = s
            .shared
            .lock()
            .map_err(|_| SqlError::internal("session lock"))?;
        // The account this session logged in as (the most specific match).
        let host = s
            .engine
            .with_meta(|m| catalog::login_account(m, &sh.user, &sh.host))
            .map(|a| a.host)
            .unwrap_or_else(|| sh.host.clone());
        (sh.user.clone(), host)
    };
    let a = find(s, &user, &host).ok_or_else(|| {
        SqlError::new(
            1141,
            "42000",
            format!("There is no such grant defined for user '{user}' on host '{host}'"),
        )
    })?;
    let mut rows = vec![vec![Some(format!(
        "GRANT USAGE ON *.* TO `{user}`@`{host}`"
    ))]];
    for (db, p) in &a.grants {
        let on = if db == "*" {
            "*.*".to_string()
        } else {
            format!("`{db}`.*")
        };
        rows.push(vec![Some(format!(
            "GRANT {} ON {on} TO `{user}`@`{host}`",
            p.join(", ")
        ))]);
    }
    Ok(super::session::text_rows(
        &[&format!("Grants for {user}@{host}")],
        rows,
    ))
}

pub fn kill(s: &SqlSession, text: &str) -> Result<Done, SqlError> {
    let mut t = Tokens::new(text);
    t.eat("KILL");
    let query = t.eat("QUERY");
    t.eat("CONNECTION");
    let id: u32 = match t.next() {
        Some(Token::Number(n)) => n
            .parse()
            .map_err(|_| SqlError::syntax("KILL needs a connection id"))?,
        _ => return Err(SqlError::syntax("KILL needs a connection id")),
    };
    if s.ctx.registry.kill(id, query) {
        Ok(Done::default())
    } else {
        Err(SqlError::new(
            1094,
            "HY000",
            format!("Unknown thread id: {id}"),
        ))
    }
}

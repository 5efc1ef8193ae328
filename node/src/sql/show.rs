//! SHOW statements and DESCRIBE, answered from the catalog and the server.

use super::admin;
use super::catalog::{self, DefaultValue, TableMeta, like};
use super::session::{SqlSession, text_rows, typed_rows};
use super::text::{Token, Tokens};
use super::vars;
use crate::mysql::SqlError;
use crate::mysql::session::Outcome;

/// `LIKE 'pattern'` at the end of a SHOW, if any.
fn like_filter(t: &mut Tokens) -> Option<String> {
    if t.eat("LIKE") {
        return t.next().and_then(|x| x.name().map(str::to_string));
    }
    if t.eat("WHERE") {
        // `WHERE Variable_name = 'x'` / `WHERE Field = 'x'`: keep the value.
        let rest: Vec<Token> = t.rest().to_vec();
        return rest.iter().rev().find_map(|x| match x {
            Token::Str(s) => Some(s.clone()),
            _ => None,
        });
    }
    None
}

fn matches(pattern: &Option<String>, s: &str) -> bool {
    pattern.as_ref().is_none_or(|p| like(p, s))
}

fn table_of(s: &SqlSession, t: &mut Tokens) -> Result<(String, String), SqlError> {
    let (db, name) = t
        .qualified()
        .ok_or_else(|| SqlError::syntax("a table name is needed"))?;
    let db = match db {
        Some(d) => d,
        None if t.eat("FROM") || t.eat("IN") => t
            .name()
            .ok_or_else(|| SqlError::syntax("a database name is needed"))?,
        None => s.require_db()?,
    };
    Ok((db, name))
}

fn meta(s: &SqlSession, db: &str, name: &str) -> Result<std::sync::Arc<TableMeta>, SqlError> {
    s.engine.table(db, name).map(|t| t.meta)
}

fn key_of(m: &TableMeta, c: usize) -> &'static str {
    if m.primary_key.contains(&c) {
        "PRI"
    } else if m
        .indexes
        .iter()
        .any(|i| i.unique && i.columns.first() == Some(&c))
    {
        "UNI"
    } else if m.indexes.iter().any(|i| i.columns.first() == Some(&c)) {
        "MUL"
    } else {
        ""
    }
}

fn default_text(d: &Option<DefaultValue>) -> Option<String> {
    match d {
        Some(DefaultValue::Value(v)) => Some(v.clone()),
        Some(DefaultValue::CurrentTimestamp) => Some("CURRENT_TIMESTAMP".into()),
        _ => None,
    }
}

fn columns(m: &TableMeta, full: bool, pattern: &Option<String>) -> Outcome {
    let rows = m
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| matches(pattern, &c.name))
        .map(|(i, c)| {
            let mut r = vec![Some(c.name.clone()), Some(c.ty.text.to_lowercase())];
            if full {
                r.push(
                    c.ty.text
                        .contains("CHAR")
                        .then(|| "utf8mb4_0900_ai_ci".to_string()),
                );
            }
            r.extend([
                Some(if c.nullable { "YES" } else { "NO" }.to_string()),
                Some(key_of(m, i).to_string()),
                default_text(&c.default),
                Some(
                    if c.auto_increment {
                        "auto_increment"
                    } else {
                        ""
                    }
                    .to_string(),
                ),
            ]);
            if full {
                r.push(Some("select,insert,update,references".into()));
                r.push(Some(c.comment.clone()));
            }
            r
        })
        .collect();
    if full {
        text_rows(
            &[
                "Field",
                "Type",
                "Collation",
                "Null",
                "Key",
                "Default",
                "Extra",
                "Privileges",
                "Comment",
            ],
            rows,
        )
    } else {
        text_rows(&["Field", "Type", "Null", "Key", "Default", "Extra"], rows)
    }
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

pub fn create_table_text(m: &TableMeta) -> String {
    let mut lines: Vec<String> = m
        .columns
        .iter()
        .map(|c| {
            let mut l = format!("  {} {}", quote(&c.name), c.ty.text.to_lowercase());
            if !c.nullable {
                l.push_str(" NOT NULL");
            }
            match &c.default {
                Some(DefaultValue::Value(v)) => {
                    l.push_str(&format!(" DEFAULT '{}'", v.replace('\'', "''")))
                }
                Some(DefaultValue::CurrentTimestamp) => l.push_str(" DEFAULT CURRENT_TIMESTAMP"),
                Some(DefaultValue::Null) => l.push_str(" DEFAULT NULL"),
                None if c.nullable && !c.auto_increment => l.push_str(" DEFAULT NULL"),
                None => {}
            }
            if c.auto_increment {
                l.push_str(" AUTO_INCREMENT");
            }
            if !c.comment.is_empty() {
                l.push_str(&format!(" COMMENT '{}'", c.comment.replace('\'', "''")));
            }
            l
        })
        .collect();
    let cols = |ix: &[usize]| {
        ix.iter()
            .map(|&i| quote(&m.columns[i].name))
            .collect::<Vec<_>>()
            .join(",")
    };
    if !m.primary_key.is_empty() {
        lines.push(format!("  PRIMARY KEY ({})", cols(&m.primary_key)));
    }
    for i in &m.indexes {
        lines.push(format!(
            "  {}KEY {} ({})",
            if i.unique { "UNIQUE " } else { "" },
            quote(&i.name),
            cols(&i.columns)
        ));
    }
    format!(
        "CREATE TABLE {} (\n{}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci",
        quote(&m.name),
        lines.join(",\n")
    )
}

pub async fn describe(s: &mut SqlSession, text: &str) -> Result<Outcome, SqlError> {
    let mut t = Tokens::new(text);
    let _ = t.eat("DESCRIBE") || t.eat("DESC") || t.eat("EXPLAIN");
    let (db, name) = table_of(s, &mut t)?;
    let m = meta(s, &db, &name)?;
    let pattern = t.next().and_then(|x| x.name().map(str::to_string));
    Ok(columns(&m, false, &pattern))
}

pub async fn show(s: &mut SqlSession, text: &str) -> Result<Outcome, SqlError> {
    let mut t = Tokens::new(text);
    t.eat("SHOW");
    let full = t.eat("FULL");
    let _ = t.eat("SESSION") || t.eat("GLOBAL") || t.eat("LOCAL");
    if t.eat("DATABASES") || t.eat("SCHEMAS") {
        let p = like_filter(&mut t);
        let rows = s
            .engine
            .with_meta(catalog::databases)
            .into_iter()
            .filter(|d| matches(&p, d))
            .map(|d| vec![Some(d)])
            .collect();
        return Ok(text_rows(&["Database"], rows));
    }
    if t.eat("TABLES") {
        let db = if t.eat("FROM") || t.eat("IN") {
            t.name()
                .ok_or_else(|| SqlError::syntax("SHOW TABLES FROM needs a database"))?
        } else {
            s.require_db()?
        };
        let snap = s.engine.snapshot();
        if !catalog::database_exists(&snap.meta, &db) {
            return Err(SqlError::new(
                1049,
                "42000",
                format!("Unknown database '{db}'"),
            ));
        }
        let p = like_filter(&mut t);
        let rows: Vec<Vec<Option<String>>> = catalog::tables_of(&snap, &db)
            .into_iter()
            .filter(|x| matches(&p, &x.meta.name))
            .map(|x| {
                let mut r = vec![Some(x.meta.name.clone())];
                if full {
                    r.push(Some("BASE TABLE".into()));
                }
                r
            })
            .collect();
        let col = format!("Tables_in_{db}");
        return Ok(if full {
            text_rows(&[&col, "Table_type"], rows)
        } else {
            text_rows(&[&col], rows)
        });
    }
    if t.eat("COLUMNS") || t.eat("FIELDS") {
        let _ = t.eat("FROM") || t.eat("IN");
        let (db, name) = table_of(s, &mut t)?;
        let m = meta(s, &db, &name)?;
        let p = like_filter(&mut t);
        return Ok(columns(&m, full, &p));
    }
    if t.eat("CREATE") {
        if t.eat("TABLE") {
            let (db, name) = table_of(s, &mut t)?;
            let m = meta(s, &db, &name)?;
            return Ok(text_rows(
                &["Table", "Create Table"],
                vec![vec![Some(m.name.clone()), Some(create_table_text(&m))]],
            ));
        }
        if t.eat("DATABASE") || t.eat("SCHEMA") {
            t.eat_all(&["IF", "NOT", "EXISTS"]);
            let db = t
                .name()
                .ok_or_else(|| SqlError::syntax("SHOW CREATE DATABASE needs a name"))?;
            if !s.engine.with_meta(|m| catalog::database_exists(m, &db)) {
                return Err(SqlError::new(
                    1049,
                    "42000",
                    format!("Unknown database '{db}'"),
                ));
            }
            let text = format!(
                "CREATE DATABASE {} /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci */",
                quote(&db)
            );
            return Ok(text_rows(
                &["Database", "Create Database"],
                vec![vec![Some(db), Some(text)]],
            ));
        }
    }
    if t.eat("INDEX") || t.eat("INDEXES") || t.eat("KEYS") {
        let _ = t.eat("FROM") || t.eat("IN");
        let (db, name) = table_of(s, &mut t)?;
        let m = meta(s, &db, &name)?;
        let mut rows = Vec::new();
        let mut push = |key: &str, cols: &[usize], unique: bool| {
            for (seq, &c) in cols.iter().enumerate() {
                rows.push(vec![
                    Some(m.name.clone()),
                    Some(if unique { "0" } else { "1" }.into()),
                    Some(key.to_string()),
                    Some((seq + 1).to_string()),
                    Some(m.columns[c].name.clone()),
                    Some("A".into()),
                    None,
                    None,
                    None,
                    Some(if m.columns[c].nullable { "YES" } else { "" }.into()),
                    Some("BTREE".into()),
                    Some(String::new()),
                    Some(String::new()),
                    Some("YES".into()),
                    None,
                ]);
            }
        };
        if !m.primary_key.is_empty() {
            push("PRIMARY", &m.primary_key, true);
        }
        for i in &m.indexes {
            push(&i.name, &i.columns, i.unique);
        }
        return Ok(text_rows(
            &[
                "Table",
                "Non_unique",
                "Key_name",
                "Seq_in_index",
                "Column_name",
                "Collation",
                "Cardinality",
                "Sub_part",
                "Packed",
                "Null",
                "Index_type",
                "Comment",
                "Index_comment",
                "Visible",
                "Expression",
            ],
            rows,
        ));
    }
    if t.eat("VARIABLES") {
        let p = like_filter(&mut t);
        let v = s
            .vars
            .lock()
            .map_err(|_| SqlError::internal("variables lock"))?;
        let rows = vars::all_defaults()
            .filter(|(n, _)| matches(&p, n))
            .map(|(n, _)| vec![Some(n.to_string()), v.get(n)])
            .collect();
        return Ok(text_rows(&["Variable_name", "Value"], rows));
    }
    if t.eat("STATUS") {
        let p = like_filter(&mut t);
        let registry = &s.ctx.registry;
        let counter = |c: &std::sync::atomic::AtomicU64| {
            c.load(std::sync::atomic::Ordering::Relaxed).to_string()
        };
        let mut status = vec![
            ("Uptime", s.engine.started.elapsed().as_secs().to_string()),
            ("Threads_connected", registry.connections().to_string()),
            ("floe_sha2_full_auths", counter(&registry.sha2_full_auths)),
            ("floe_sha2_fast_auths", counter(&registry.sha2_fast_auths)),
        ];
        status.extend(s.engine.floe_status());
        status.sort_by(|a, b| a.0.cmp(b.0));
        let rows = status
            .into_iter()
            .filter(|(n, _)| matches(&p, n))
            .map(|(n, v)| vec![Some(n.to_string()), Some(v)])
            .collect();
        return Ok(text_rows(&["Variable_name", "Value"], rows));
    }
    if t.eat_all(&["FUNCTION", "STATUS"]) {
        let p = like_filter(&mut t);
        return Ok(super::loadable::status(s, &p));
    }
    if t.eat("REPLICAS") || ((t.eat("SLAVE") || t.eat("REPLICA")) && t.eat("HOSTS")) {
        return Ok(replicas(s));
    }
    if t.eat("PROCESSLIST") {
        let rows = s
            .ctx
            .registry
            .list()
            .into_iter()
            .map(|p| {
                let info = p.info.map(|i| {
                    if full {
                        i
                    } else {
                        i.chars().take(100).collect()
                    }
                });
                vec![
                    Some(p.id.to_string()),
                    Some(p.user),
                    Some(p.host),
                    p.db,
                    Some(p.command),
                    Some(p.time_secs.to_string()),
                    Some(String::new()),
                    info,
                ]
            })
            .collect();
        return Ok(super::session::typed_rows(
            &[
                ("Id", true),
                ("User", false),
                ("Host", false),
                ("db", false),
                ("Command", false),
                ("Time", true),
                ("State", false),
                ("Info", false),
            ],
            rows,
        ));
    }
    let errors = t.eat("ERRORS");
    if errors || t.eat("WARNINGS") {
        return Ok(typed_rows(
            &[("Level", false), ("Code", true), ("Message", false)],
            s.diagnostics.rows(errors),
        ));
    }
    if t.eat("COUNT") && t.eat_punct('(') && t.eat_punct('*') && t.eat_punct(')') {
        let errors = t.eat("ERRORS");
        if errors || t.eat("WARNINGS") {
            let (name, n) = if errors {
                ("@@session.error_count", s.diagnostics.error_count())
            } else {
                ("@@session.warning_count", s.diagnostics.warning_count())
            };
            return Ok(typed_rows(&[(name, true)], vec![vec![Some(n.to_string())]]));
        }
    }
    if t.eat("GRANTS") {
        return admin::show_grants(s, text);
    }
    if t.eat("ENGINES") {
        return Ok(text_rows(
            &[
                "Engine",
                "Support",
                "Comment",
                "Transactions",
                "XA",
                "Savepoints",
            ],
            vec![vec![
                Some("InnoDB".into()),
                Some("DEFAULT".into()),
                Some("floe columnar storage on a shared log".into()),
                Some("YES".into()),
                Some("NO".into()),
                Some("NO".into()),
            ]],
        ));
    }
    if t.eat("COLLATION") {
        let p = like_filter(&mut t);
        let rows = [
            ("utf8mb4_0900_ai_ci", "utf8mb4", "255"),
            ("utf8mb4_general_ci", "utf8mb4", "45"),
            ("utf8mb4_bin", "utf8mb4", "46"),
            ("binary", "binary", "63"),
        ]
        .into_iter()
        .filter(|(n, _, _)| matches(&p, n))
        .map(|(n, c, i)| {
            vec![
                Some(n.into()),
                Some(c.into()),
                Some(i.into()),
                Some(if i == "255" { "Yes" } else { "" }.into()),
                Some("Yes".into()),
                Some("0".into()),
                Some("NO PAD".into()),
            ]
        })
        .collect();
        return Ok(text_rows(
            &[
                "Collation",
                "Charset",
                "Id",
                "Default",
                "Compiled",
                "Sortlen",
                "Pad_attribute",
            ],
            rows,
        ));
    }
    if t.eat_all(&["CHARACTER", "SET"]) || t.eat("CHARSET") {
        return Ok(text_rows(
            &["Charset", "Description", "Default collation", "Maxlen"],
            vec![vec![
                Some("utf8mb4".into()),
                Some("UTF-8 Unicode".into()),
                Some("utf8mb4_0900_ai_ci".into()),
                Some("4".into()),
            ]],
        ));
    }
    if t.eat_all(&["TABLE", "STATUS"]) {
        let db = if t.eat("FROM") || t.eat("IN") {
            t.name().unwrap_or_default()
        } else {
            s.require_db()?
        };
        let p = like_filter(&mut t);
        let snap = s.engine.snapshot();
        let rows = catalog::tables_of(&snap, &db)
            .into_iter()
            .filter(|x| matches(&p, &x.meta.name))
            .map(|x| {
                let n = snap.tables.get(&x.id).map_or(0, |t| t.live_rows());
                vec![
                    Some(x.meta.name.clone()),
                    Some("InnoDB".into()),
                    Some("10".into()),
                    Some("Dynamic".into()),
                    Some(n.to_string()),
                ]
            })
            .collect();
        return Ok(text_rows(
            &["Name", "Engine", "Version", "Row_format", "Rows"],
            rows,
        ));
    }
    if t.eat("MASTER") || t.eat("BINARY") || t.eat("REPLICA") || t.eat("SLAVE") {
        return Ok(text_rows(&["File", "Position"], vec![]));
    }
    Err(SqlError::syntax(format!(
        "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near '{}'",
        text.chars().take(60).collect::<String>()
    )))
}

/// `SHOW REPLICAS`: the readers following this volume, from the cards they
/// post on it (MySQL's columns, then floe's).
fn replicas(s: &SqlSession) -> Outcome {
    let readers = crate::nodes::readers(s.engine.volume().store().as_ref()).unwrap_or_default();
    let rows = readers
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (host, port) = r.addr.rsplit_once(':').unwrap_or((r.addr.as_str(), ""));
            vec![
                Some((i + 2).to_string()),
                Some(host.to_string()),
                Some(port.to_string()),
                Some("1".to_string()),
                Some(format!("{}-{}", r.addr, r.pid)),
                Some(r.applied_lsn.to_string()),
                Some(r.lag_ms.to_string()),
            ]
        })
        .collect();
    super::session::typed_rows(
        &[
            ("Server_Id", true),
            ("Host", false),
            ("Port", true),
            ("Source_Id", true),
            ("Replica_UUID", false),
            ("Applied_LSN", true),
            ("Lag_ms", true),
        ],
        rows,
    )
}

//! MySQL's loadable functions, served by WebAssembly plugins:
//! `CREATE [AGGREGATE] FUNCTION name RETURNS type SONAME 'file.wasm'`,
//! `DROP FUNCTION`, `SHOW FUNCTION STATUS`, and keeping each session's
//! DataFusion context in step with the functions the catalog holds.

use datafusion::execution::FunctionRegistry;

use super::session::{SqlSession, text_rows};
use super::text::Tokens;
use crate::mysql::SqlError;
use crate::mysql::session::{Done, Outcome};
use crate::wasm::catalog::{self, Installed};
use crate::wasm::udf::{self, Udf};
use crate::wasm::{PluginError, PluginType as DataType, sql_name};

/// The MySQL error for a plugin failure.
pub fn sql_error(e: &PluginError) -> SqlError {
    let (code, state) = match e {
        PluginError::Open { .. } => (1126, "HY000"),
        PluginError::Path => (1124, "HY000"),
        PluginError::NoSuchFunction { .. } | PluginError::Returns { .. } => (1127, "HY000"),
        PluginError::Exists(_) => (1125, "HY000"),
        PluginError::NotFound(_) => (1305, "42000"),
        PluginError::Arguments { .. } => (1123, "HY000"),
        PluginError::Timeout { .. } => (3024, "HY000"),
        PluginError::Interrupted { .. } => return SqlError::interrupted(),
        PluginError::Memory { .. } => (1041, "HY000"),
        PluginError::Panic { .. }
        | PluginError::Trap { .. }
        | PluginError::Failed { .. }
        | PluginError::Contract { .. }
        | PluginError::Cache(_) => (1105, "HY000"),
    };
    let message = match e {
        PluginError::Timeout { .. } => format!(
            "Query execution was interrupted, maximum statement execution time exceeded ({e})"
        ),
        _ => e.to_string(),
    };
    SqlError::new(code, state, message)
}

fn err(e: PluginError) -> SqlError {
    sql_error(&e)
}

/// Whether a plugin's result type fits what `RETURNS` declared.
fn returns_fit(declared: &str, described: &DataType) -> bool {
    match declared {
        "STRING" => matches!(
            described,
            DataType::Varchar | DataType::Varbinary | DataType::Date | DataType::Datetime
        ),
        "INTEGER" => matches!(described, DataType::Bigint | DataType::Boolean),
        "REAL" => matches!(described, DataType::Double),
        "DECIMAL" => matches!(described, DataType::Decimal(_)),
        _ => false,
    }
}

/// `CREATE [AGGREGATE] FUNCTION ... SONAME` and `DROP FUNCTION`.
pub async fn statement(s: &mut SqlSession, text: &str) -> Result<Outcome, SqlError> {
    s.commit_txn().await?;
    let mut t = Tokens::new(text);
    if t.eat_all(&["DROP", "FUNCTION"]) {
        let if_exists = t.eat_all(&["IF", "EXISTS"]);
        let name = t
            .name()
            .ok_or_else(|| SqlError::syntax("DROP FUNCTION needs a function name"))?;
        if s.engine.with_meta(|m| catalog::find(m, &name)).is_none() {
            if if_exists {
                return Ok(Outcome::Done(Done::default()));
            }
            return Err(err(PluginError::NotFound(name)));
        }
        s.engine.ddl(Installed::drop_record(&name)).await?;
        return Ok(Outcome::Done(Done::default()));
    }
    if !Tokens::new(text).rest().iter().any(|w| w.is_word("SONAME")) {
        return Err(SqlError::new(
            1235,
            "42000",
            "This version of floe doesn't yet support 'stored functions' (loadable functions with SONAME are)",
        ));
    }
    t.eat("CREATE");
    let aggregate = t.eat("AGGREGATE");
    if !t.eat("FUNCTION") {
        return Err(SqlError::syntax("CREATE AGGREGATE needs FUNCTION"));
    }
    let if_not_exists = t.eat_all(&["IF", "NOT", "EXISTS"]);
    let name = t
        .name()
        .ok_or_else(|| SqlError::syntax("CREATE FUNCTION needs a function name"))?
        .to_ascii_lowercase();
    if !t.eat("RETURNS") {
        return Err(SqlError::syntax("CREATE FUNCTION needs RETURNS"));
    }
    let returns = t.name().unwrap_or_default().to_ascii_uppercase();
    if !t.eat("SONAME") {
        return Err(SqlError::syntax("CREATE FUNCTION needs SONAME 'file.wasm'"));
    }
    if !["STRING", "INTEGER", "REAL", "DECIMAL"].contains(&returns.as_str()) {
        return Err(SqlError::syntax(format!(
            "You have an error in your SQL syntax: RETURNS takes STRING, INTEGER, REAL or DECIMAL, not '{returns}'"
        )));
    }
    let soname = t
        .name()
        .ok_or_else(|| SqlError::syntax("SONAME needs a file name"))?;
    if s.engine.with_meta(|m| catalog::find(m, &name)).is_some() {
        if if_not_exists {
            return Ok(Outcome::Done(Done::default()));
        }
        return Err(err(PluginError::Exists(name)));
    }
    if s.df.udf(&name).is_ok() || s.df.udaf(&name).is_ok() || s.df.udwf(&name).is_ok() {
        return Err(SqlError::new(
            1585,
            "HY000",
            format!("This function '{name}' has the same name as a native function"),
        ));
    }
    let plugins = s.engine.plugins.clone();
    let (wasm, sha, plugin) = tokio::task::block_in_place(|| {
        let wasm = plugins.read_soname(&soname)?;
        let (sha, plugin) = plugins.load_bytes(&soname, &wasm)?;
        Ok::<_, PluginError>((wasm, sha, plugin))
    })
    .map_err(err)?;
    let spec = plugin
        .function(&name)
        .filter(|f| f.aggregate == aggregate)
        .ok_or_else(|| {
            err(PluginError::NoSuchFunction {
                name: if aggregate {
                    format!("{name} (aggregate)")
                } else {
                    name.clone()
                },
                file: soname.clone(),
            })
        })?;
    if !returns_fit(&returns, &spec.returns) {
        return Err(err(PluginError::Returns {
            name,
            file: soname,
            described: sql_name(&spec.returns),
            declared: returns,
        }));
    }
    // The bytes go to the volume before the catalog names them, so every
    // node that reads the entry finds the plugin.
    tokio::task::block_in_place(|| plugins.store_blob(&sha, &wasm)).map_err(err)?;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    let installed = Installed {
        name,
        aggregate,
        returns,
        soname,
        sha256: sha,
        created,
    };
    s.engine.ddl(installed.record()).await?;
    Ok(Outcome::Done(Done::default()))
}

/// `SHOW FUNCTION STATUS [LIKE ...]`: MySQL's columns, one row per
/// installed function.
pub fn status(s: &SqlSession, pattern: &Option<String>) -> Outcome {
    let functions = s.engine.with_meta(catalog::installed);
    let rows = functions
        .into_iter()
        .filter(|f| {
            pattern
                .as_ref()
                .is_none_or(|p| super::catalog::like(p, &f.name))
        })
        .map(|f| {
            let when = chrono::DateTime::from_timestamp_micros(f.created)
                .map(|d| d.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string());
            vec![
                Some(String::new()),
                Some(f.name.clone()),
                Some("FUNCTION".to_string()),
                Some("root@localhost".to_string()),
                when.clone(),
                when,
                Some("DEFINER".to_string()),
                Some(format!(
                    "{}RETURNS {} SONAME '{}' (sha256 {})",
                    if f.aggregate { "AGGREGATE " } else { "" },
                    f.returns,
                    f.soname,
                    &f.sha256[..f.sha256.len().min(12)]
                )),
                Some("utf8mb4".to_string()),
                Some("utf8mb4_0900_ai_ci".to_string()),
                Some("utf8mb4_0900_ai_ci".to_string()),
            ]
        })
        .collect();
    text_rows(
        &[
            "Db",
            "Name",
            "Type",
            "Definer",
            "Modified",
            "Created",
            "Security_type",
            "Comment",
            "character_set_client",
            "collation_connection",
            "Database Collation",
        ],
        rows,
    )
}

/// Registers one catalog entry's function, checking it against what the
/// plugin describes now.
fn register(s: &mut SqlSession, entry: &[u8]) {
    let Ok(f) = serde_json::from_slice::<Installed>(entry) else {
        tracing::warn!("an unreadable function entry in the catalog");
        return;
    };
    let plugins = s.engine.plugins.clone();
    let plugin = match tokio::task::block_in_place(|| plugins.plugin(&f)) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("function {}: {e}", f.name);
            return;
        }
    };
    let spec = plugin
        .function(&f.name)
        .filter(|spec| spec.aggregate == f.aggregate && returns_fit(&f.returns, &spec.returns));
    let Some(spec) = spec.cloned() else {
        tracing::warn!("{} does not export {} as installed", f.soname, f.name);
        return;
    };
    match udf::udf(&plugin, &spec, &s.limits) {
        Udf::Scalar(u) => {
            s.df.register_udf(u);
        }
        Udf::Aggregate(a) => {
            s.df.register_udaf(a);
        }
    }
}

/// Registers the catalog's functions in the session's DataFusion context
/// and removes dropped ones. Cheap when nothing changed: it compares the
/// raw catalog entries.
pub fn sync(s: &mut SqlSession) {
    // The common case, nothing changed, compares in place without allocating.
    let known = &s.functions;
    let changed: Option<Vec<(String, Vec<u8>)>> = s.engine.with_meta(|m| {
        let same = catalog::entries(m).eq(known.iter().map(|(k, v)| (k.as_str(), v.as_slice())));
        (!same).then(|| {
            catalog::entries(m)
                .map(|(k, v)| (k.to_string(), v.to_vec()))
                .collect()
        })
    });
    let Some(entries) = changed else {
        return;
    };
    for (key, value) in &s.functions {
        if !entries.iter().any(|(k, v)| k == key && v == value) {
            let name = &key[catalog::PREFIX.len()..];
            s.df.deregister_udf(name);
            s.df.deregister_udaf(name);
        }
    }
    let known = std::mem::take(&mut s.functions);
    for (key, value) in entries {
        // Entries seen before are registered, or failed and were reported
        // once: an entry that fails is not retried until it changes.
        if !known.iter().any(|(k, v)| *k == key && *v == value) {
            register(s, &value);
        }
        s.functions.push((key, value));
    }
}

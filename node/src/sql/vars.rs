//! System variables (`@@name`) with MySQL 8's defaults, session overrides,
//! and user variables (`@name`), served to DataFusion as variable providers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use arrow::datatypes::DataType;
use datafusion::error::Result as DfResult;
use datafusion::scalar::ScalarValue;
use datafusion::variable::VarProvider;

use crate::mysql::server::SERVER_VERSION;

/// `(name, default)`; numbers are served as integers, the rest as strings.
const DEFAULTS: &[(&str, &str)] = &[
    ("auto_increment_increment", "1"),
    ("auto_increment_offset", "1"),
    ("autocommit", "1"),
    ("character_set_client", "utf8mb4"),
    ("character_set_connection", "utf8mb4"),
    ("character_set_database", "utf8mb4"),
    ("character_set_filesystem", "binary"),
    ("character_set_results", "utf8mb4"),
    ("character_set_server", "utf8mb4"),
    ("character_set_system", "utf8mb3"),
    ("collation_connection", "utf8mb4_0900_ai_ci"),
    ("collation_database", "utf8mb4_0900_ai_ci"),
    ("collation_server", "utf8mb4_0900_ai_ci"),
    ("default_storage_engine", "InnoDB"),
    ("error_count", "0"),
    ("foreign_key_checks", "1"),
    ("have_ssl", "YES"),
    ("hostname", "localhost"),
    ("init_connect", ""),
    ("innodb_lock_wait_timeout", "50"),
    ("interactive_timeout", "28800"),
    ("license", "Apache-2.0"),
    ("local_infile", "1"),
    ("lock_wait_timeout", "31536000"),
    ("lower_case_table_names", "0"),
    ("max_allowed_packet", "67108864"),
    ("max_execution_time", "0"),
    ("net_buffer_length", "16384"),
    ("net_read_timeout", "30"),
    ("net_write_timeout", "60"),
    ("performance_schema", "0"),
    ("protocol_version", "10"),
    ("query_cache_size", "0"),
    ("query_cache_type", "OFF"),
    ("read_only", "0"),
    ("require_secure_transport", "0"),
    ("server_id", "1"),
    ("session_track_gtids", "OFF"),
    ("sql_auto_is_null", "0"),
    (
        "sql_mode",
        "ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION",
    ),
    ("sql_notes", "1"),
    ("sql_quote_show_create", "1"),
    ("sql_safe_updates", "0"),
    ("sql_select_limit", "18446744073709551615"),
    ("sql_warnings", "0"),
    ("storage_engine", "InnoDB"),
    ("system_time_zone", "UTC"),
    ("time_zone", "SYSTEM"),
    ("transaction_isolation", "REPEATABLE-READ"),
    ("transaction_read_only", "0"),
    ("tx_isolation", "REPEATABLE-READ"),
    ("tx_read_only", "0"),
    ("unique_checks", "1"),
    ("version", SERVER_VERSION),
    ("version_comment", "floe (MySQL-compatible HTAP)"),
    ("version_compile_machine", "x86_64"),
    ("version_compile_os", "Linux"),
    ("wait_timeout", "28800"),
    ("warning_count", "0"),
];

/// Variable values of one session.
#[derive(Debug, Default)]
pub struct Vars {
    pub session: BTreeMap<String, String>,
    pub user: BTreeMap<String, ScalarValue>,
}

/// `@@SESSION.sql_mode` -> `sql_mode`.
pub fn normalize(name: &str) -> String {
    let n = name.trim_start_matches('@').to_ascii_lowercase();
    for p in ["session.", "global.", "local.", "persist."] {
        if let Some(rest) = n.strip_prefix(p) {
            return rest.to_string();
        }
    }
    n
}

pub fn default_of(name: &str) -> Option<&'static str> {
    DEFAULTS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

pub fn all_defaults() -> impl Iterator<Item = (&'static str, &'static str)> {
    DEFAULTS.iter().copied()
}

impl Vars {
    pub fn get(&self, name: &str) -> Option<String> {
        let n = normalize(name);
        self.session
            .get(&n)
            .cloned()
            .or_else(|| default_of(&n).map(str::to_string))
    }

    /// Sets a session value; callers check the name is known (else 1193).
    pub fn set(&mut self, name: &str, value: String) {
        self.session.insert(normalize(name), value);
    }

    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| {
            v == "1" || v.eq_ignore_ascii_case("on") || v.eq_ignore_ascii_case("true")
        })
    }
}

fn scalar(v: &str) -> ScalarValue {
    match v.parse::<i64>() {
        Ok(i) => ScalarValue::Int64(Some(i)),
        Err(_) => match v.parse::<u64>() {
            Ok(u) => ScalarValue::UInt64(Some(u)),
            Err(_) => ScalarValue::Utf8(Some(v.to_string())),
        },
    }
}

#[derive(Debug, Clone)]
pub struct SystemVars(pub Arc<Mutex<Vars>>);

fn joined(names: &[String]) -> String {
    names.join(".")
}

impl VarProvider for SystemVars {
    fn get_value(&self, var_names: Vec<String>) -> DfResult<ScalarValue> {
        let vars = crate::mysql::lock(&self.0);
        let name = joined(&var_names);
        Ok(vars
            .get(&name)
            .map_or(ScalarValue::Utf8(None), |v| scalar(&v)))
    }

    fn get_type(&self, var_names: &[String]) -> Option<DataType> {
        let vars = crate::mysql::lock(&self.0);
        let name = joined(var_names);
        Some(
            vars.get(&name)
                .map_or(DataType::Utf8, |v| scalar(&v).data_type()),
        )
    }
}

#[derive(Debug, Clone)]
pub struct UserVars(pub Arc<Mutex<Vars>>);

impl VarProvider for UserVars {
    fn get_value(&self, var_names: Vec<String>) -> DfResult<ScalarValue> {
        let vars = crate::mysql::lock(&self.0);
        let name = joined(&var_names)
            .trim_start_matches('@')
            .to_ascii_lowercase();
        Ok(vars
            .user
            .get(&name)
            .cloned()
            .unwrap_or(ScalarValue::Utf8(None)))
    }

    fn get_type(&self, var_names: &[String]) -> Option<DataType> {
        let vars = crate::mysql::lock(&self.0);
        let name = joined(var_names)
            .trim_start_matches('@')
            .to_ascii_lowercase();
        Some(
            vars.user
                .get(&name)
                .map_or(DataType::Utf8, |v| v.data_type()),
        )
    }
}

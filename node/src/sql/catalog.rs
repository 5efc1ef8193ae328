//! The SQL catalog kept on the volume: databases and accounts as metadata
//! entries, and each table's SQL definition (keys, defaults, auto-increment)
//! in its storage definition's opaque blob.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::datatypes::{Schema, SchemaRef};
use floe_storage::{ColumnDef, Snapshot, TableDef, TableId, hex};
use mysql_common::constants::ColumnFlags;
use serde::{Deserialize, Serialize};

use super::types::SqlType;
use crate::mysql::SqlError;
use crate::mysql::auth::{Credentials, Plugin};
use crate::mysql::resultset::{META_FLAGS, META_SCHEMA, META_TABLE};

pub const DB_PREFIX: &str = "db/";
pub const USER_PREFIX: &str = "user/";

/// Databases that always exist and hold no tables of ours.
pub const SYSTEM_DATABASES: [&str; 4] =
    ["information_schema", "mysql", "performance_schema", "sys"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DefaultValue {
    Null,
    /// A literal, as SQL text (quoted strings keep their quotes off: the value).
    Value(String),
    CurrentTimestamp,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    pub ty: SqlType,
    pub nullable: bool,
    pub default: Option<DefaultValue>,
    pub auto_increment: bool,
    #[serde(default)]
    pub comment: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexSpec {
    pub name: String,
    pub columns: Vec<usize>,
    pub unique: bool,
}

/// An index the primary keeps in memory (`TableMeta::key_indexes`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyIndexSpec {
    pub name: String,
    pub columns: Vec<usize>,
    /// Whether its keys must not repeat (a non-unique index is kept as a
    /// unique one over its columns and the primary key's).
    pub unique: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TableMeta {
    pub db: String,
    pub name: String,
    pub columns: Vec<ColumnSpec>,
    /// Column positions of the primary key (empty: none).
    pub primary_key: Vec<usize>,
    pub indexes: Vec<IndexSpec>,
    #[serde(default)]
    pub comment: String,
    /// `schema()`, kept by descriptions shared through `shared`.
    #[serde(skip)]
    pub schema_cache: SchemaCache,
}

/// A computed schema that a copy of its description does not inherit (the
/// copy may be changed), and that comparisons ignore.
#[derive(Default)]
pub struct SchemaCache(OnceLock<SchemaRef>);

impl Clone for SchemaCache {
    fn clone(&self) -> Self {
        SchemaCache::default()
    }
}

impl PartialEq for SchemaCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for SchemaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SchemaCache")
    }
}

/// The storage name of `db`.`table`.
pub fn storage_name(db: &str, table: &str) -> String {
    format!("{db}/{table}")
}

impl TableMeta {
    pub fn from_def(def: &TableDef) -> Result<TableMeta, SqlError> {
        serde_json::from_slice(&def.meta)
            .map_err(|e| SqlError::internal(format!("table {}: damaged definition: {e}", def.name)))
    }

    /// `def`'s description, parsed once per version of it: every statement
    /// resolves its tables (often more than once), and parsing JSON each
    /// time showed in profiles of short statements.
    pub fn shared(def: &TableDef) -> Result<Arc<TableMeta>, SqlError> {
        type Parsed = HashMap<TableId, (Vec<u8>, Arc<TableMeta>)>;
        static PARSED: OnceLock<Mutex<Parsed>> = OnceLock::new();
        let parsed = PARSED.get_or_init(Mutex::default);
        if let Some((bytes, meta)) = parsed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&def.id)
            && *bytes == def.meta
        {
            return Ok(meta.clone());
        }
        let meta = TableMeta::from_def(def)?;
        // Immutable from here on (behind an Arc; a clone drops the cache).
        let _ = meta.schema_cache.0.set(meta.build_schema());
        let meta = Arc::new(meta);
        parsed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(def.id, (def.meta.clone(), meta.clone()));
        Ok(meta)
    }

    pub fn to_def(&self, id: TableId) -> TableDef {
        let columns = self
            .columns
            .iter()
            .map(|c| ColumnDef::new(&c.name, c.ty.storage, c.nullable))
            .collect();
        let mut def = TableDef::new(id, storage_name(&self.db, &self.name), columns);
        def.meta = self.to_bytes();
        def
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Like [`TableMeta::column`], with MySQL's error for an unknown column.
    pub fn field(&self, name: &str) -> Result<usize, SqlError> {
        self.column(name).ok_or_else(|| {
            SqlError::new(
                1054,
                "42S22",
                format!("Unknown column '{name}' in 'field list'"),
            )
        })
    }

    /// The definition as stored in the table's storage definition.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The catalog change that stores this definition for table `id`.
    pub fn record(&self, id: TableId) -> floe_storage::record::Ddl {
        floe_storage::record::Ddl::SetTableMeta {
            table: id,
            meta: self.to_bytes(),
        }
    }

    pub fn auto_increment(&self) -> Option<usize> {
        self.columns.iter().position(|c| c.auto_increment)
    }

    /// The key indexes a primary keeps for the table, in this order: its
    /// unique keys (the primary key first), then its other indexes, each
    /// made unique by the primary key's columns after its own (so a range
    /// of the index's columns is a range of keys). A table without a
    /// primary key has no such indexes.
    pub fn key_indexes(&self) -> Vec<KeyIndexSpec> {
        let mut keys = Vec::new();
        if !self.primary_key.is_empty() {
            keys.push(KeyIndexSpec {
                name: "PRIMARY".into(),
                columns: self.primary_key.clone(),
                unique: true,
            });
        }
        for i in self.indexes.iter().filter(|i| i.unique) {
            keys.push(KeyIndexSpec {
                name: i.name.clone(),
                columns: i.columns.clone(),
                unique: true,
            });
        }
        if !self.primary_key.is_empty() {
            for i in self.indexes.iter().filter(|i| !i.unique) {
                let mut columns = i.columns.clone();
                columns.extend(self.primary_key.iter().filter(|c| !i.columns.contains(c)));
                keys.push(KeyIndexSpec {
                    name: i.name.clone(),
                    columns,
                    unique: false,
                });
            }
        }
        keys
    }

    /// The Arrow schema queries see: MySQL types and key flags in field metadata.
    pub fn schema(&self) -> SchemaRef {
        match self.schema_cache.0.get() {
            Some(s) => s.clone(),
            None => self.build_schema(),
        }
    }

    fn build_schema(&self) -> SchemaRef {
        let fields: Vec<_> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut flags = ColumnFlags::empty();
                if self.primary_key.contains(&i) {
                    flags |= ColumnFlags::PRI_KEY_FLAG;
                }
                if self
                    .indexes
                    .iter()
                    .any(|x| x.unique && x.columns.first() == Some(&i))
                {
                    flags |= ColumnFlags::UNIQUE_KEY_FLAG;
                }
                if self
                    .indexes
                    .iter()
                    .any(|x| !x.unique && x.columns.first() == Some(&i))
                {
                    flags |= ColumnFlags::MULTIPLE_KEY_FLAG;
                }
                if c.auto_increment {
                    flags |= ColumnFlags::AUTO_INCREMENT_FLAG;
                }
                let field = c.ty.field(&c.name, c.nullable);
                let mut md = field.metadata().clone();
                md.insert(META_TABLE.into(), self.name.clone());
                md.insert(META_SCHEMA.into(), self.db.clone());
                if !flags.is_empty() {
                    md.insert(META_FLAGS.into(), flags.bits().to_string());
                }
                field.with_metadata(md)
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

/// A table of a snapshot, with its SQL definition.
#[derive(Clone)]
pub struct TableRef {
    pub id: TableId,
    pub meta: Arc<TableMeta>,
}

fn no_such_table(db: &str, table: &str) -> SqlError {
    SqlError::new(1146, "42S02", format!("Table '{db}.{table}' doesn't exist"))
}

/// [`find_table`], with MySQL's error when there is none.
pub fn table(snap: &Snapshot, db: &str, table: &str) -> Result<TableRef, SqlError> {
    find_table(snap, db, table).ok_or_else(|| no_such_table(db, table))
}

/// A table of the live state (for statements that read only the catalog).
pub fn live_table(
    state: &floe_storage::State,
    db: &str,
    table: &str,
) -> Result<TableRef, SqlError> {
    let t = state
        .table_by_name(&storage_name(db, table))
        .ok_or_else(|| no_such_table(db, table))?;
    Ok(TableRef {
        id: t.def.id,
        meta: TableMeta::shared(&t.def)?,
    })
}

pub fn find_table(snap: &Snapshot, db: &str, table: &str) -> Option<TableRef> {
    let t = snap.table_by_name(&storage_name(db, table))?;
    Some(TableRef {
        id: t.def.id,
        meta: TableMeta::shared(&t.def).ok()?,
    })
}

pub fn tables_of(snap: &Snapshot, db: &str) -> Vec<TableRef> {
    let prefix = format!("{db}/");
    let mut out: Vec<TableRef> = snap
        .tables
        .values()
        .filter(|t| {
            t.def
                .name
                .strip_prefix(&prefix)
                .is_some_and(|n| !n.starts_with(super::alter::HIDDEN_PREFIX))
        })
        .filter_map(|t| {
            Some(TableRef {
                id: t.def.id,
                meta: TableMeta::shared(&t.def).ok()?,
            })
        })
        .collect();
    out.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
    out
}

/// The node-level catalog entries (a snapshot's or the live state's `meta`).
pub type Meta = std::collections::BTreeMap<String, Vec<u8>>;

pub fn databases(meta: &Meta) -> Vec<String> {
    let mut dbs: Vec<String> = meta
        .keys()
        .filter_map(|k| k.strip_prefix(DB_PREFIX).map(str::to_string))
        .collect();
    dbs.extend(SYSTEM_DATABASES.iter().map(|s| s.to_string()));
    dbs.sort();
    dbs
}

pub fn database_exists(meta: &Meta, db: &str) -> bool {
    SYSTEM_DATABASES.contains(&db) || meta.contains_key(&format!("{DB_PREFIX}{db}"))
}

/// An account as stored: credentials and database-level grants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub user: String,
    pub host: String,
    pub plugin: String,
    pub native: String,
    pub sha2_salt: String,
    pub sha2_hash: String,
    /// `(database or "*", privileges)`.
    pub grants: Vec<(String, Vec<String>)>,
}

impl Account {
    pub fn new(user: &str, host: &str, plugin: Plugin, password: &str) -> Account {
        let mut a = Account {
            user: user.into(),
            host: host.into(),
            plugin: String::new(),
            native: String::new(),
            sha2_salt: String::new(),
            sha2_hash: String::new(),
            grants: Vec::new(),
        };
        a.set_password(plugin, password);
        a
    }

    pub fn set_password(&mut self, plugin: Plugin, password: &str) {
        let c = Credentials::new(plugin, password);
        self.plugin = plugin.name().into();
        self.native = hex::encode(&c.native);
        match c.sha2 {
            Some((salt, hash)) => {
                self.sha2_salt = hex::encode(&salt);
                self.sha2_hash = hex::encode(&hash);
            }
            None => {
                self.sha2_salt.clear();
                self.sha2_hash.clear();
            }
        }
    }

    pub fn key(&self) -> String {
        account_key(&self.user, &self.host)
    }

    /// The catalog change that stores this account.
    pub fn record(&self) -> floe_storage::record::Ddl {
        floe_storage::record::Ddl::SetMeta {
            key: self.key(),
            value: Some(serde_json::to_vec(self).unwrap_or_default()),
        }
    }

    pub fn credentials(&self) -> Credentials {
        let sha2 = (!self.sha2_hash.is_empty()).then(|| {
            let mut salt = [0u8; 16];
            let mut hash = [0u8; 32];
            let (s, h) = (
                hex::decode(&self.sha2_salt).unwrap_or_default(),
                hex::decode(&self.sha2_hash).unwrap_or_default(),
            );
            if s.len() == 16 && h.len() == 32 {
                salt.copy_from_slice(&s);
                hash.copy_from_slice(&h);
            }
            (salt, hash)
        });
        Credentials {
            plugin: Plugin::from_name(&self.plugin).unwrap_or(Plugin::CachingSha2),
            native: hex::decode(&self.native).unwrap_or_default(),
            sha2,
        }
    }

    /// MySQL host patterns: `%` any, `localhost` loopback, `_`/`%` wildcards, or exact.
    pub fn host_matches(&self, host: &str) -> bool {
        let loopback = host == "127.0.0.1" || host == "::1" || host == "localhost";
        match self.host.as_str() {
            "%" => true,
            "localhost" | "127.0.0.1" | "::1" => loopback,
            pattern => like(pattern, host),
        }
    }
}

pub fn account_key(user: &str, host: &str) -> String {
    format!("{USER_PREFIX}{user}@{host}")
}

/// SQL LIKE with `%` and `_`, case-insensitive (MySQL's default collation).
pub fn like(pattern: &str, s: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('%') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some('_') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some('\\') if p.len() > 1 => s.first() == Some(&p[1]) && go(&p[2..], &s[1..]),
            Some(c) => {
                s.first()
                    .is_some_and(|x| x.to_lowercase().eq(c.to_lowercase()))
                    && go(&p[1..], &s[1..])
            }
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    go(&p, &s)
}

pub fn accounts(meta: &Meta) -> Vec<Account> {
    meta.range(USER_PREFIX.to_string()..)
        .take_while(|(k, _)| k.starts_with(USER_PREFIX))
        .filter_map(|(_, v)| serde_json::from_slice(v).ok())
        .collect()
}

/// The account `'user'@'host'` exactly as created.
pub fn account(meta: &Meta, user: &str, host: &str) -> Option<Account> {
    meta.get(&account_key(user, host))
        .and_then(|v| serde_json::from_slice::<Account>(v).ok())
        .filter(|a| a.user == user && a.host == host)
}

/// The account `user` connecting from `host` logs in as: of those whose host
/// pattern matches, the most specific (as MySQL picks).
pub fn login_account(meta: &Meta, user: &str, host: &str) -> Option<Account> {
    let prefix = format!("{USER_PREFIX}{user}@");
    meta.range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter_map(|(_, v)| serde_json::from_slice::<Account>(v).ok())
        .filter(|a| a.user == user && a.host_matches(host))
        .min_by_key(|a| (a.host == "%", a.host.contains('%')))
}

//! CREATE / DROP / TRUNCATE / RENAME of databases, tables and indexes.

use datafusion::sql::sqlparser::ast::{
    ColumnDef, ColumnOption, CreateIndex, CreateTable, Expr as SqlExpr, ObjectType, SchemaName,
    Statement, TableConstraint, UniqueConstraint, Value as SqlValue,
};
use floe_storage::record::Ddl;

use super::catalog::{self, ColumnSpec, DefaultValue, IndexSpec, TableMeta, storage_name};
use super::dml::{name_parts, resolve, table};
use super::session::SqlSession;
use super::types::SqlType;
use crate::mysql::{Done, SqlError};

pub fn is_keys_toggle(text: &str) -> bool {
    let up = text.to_ascii_uppercase();
    up.contains("DISABLE KEYS") || up.contains("ENABLE KEYS")
}

/// A UNIQUE constraint as an index (named after its first column unless named).
pub fn unique_index(meta: &TableMeta, u: &UniqueConstraint) -> Result<IndexSpec, SqlError> {
    let columns = index_columns(meta, &u.columns)?;
    let name = u
        .index_name
        .as_ref()
        .or(u.name.as_ref())
        .map(|i| i.value.clone())
        .unwrap_or_else(|| meta.columns[columns[0]].name.clone());
    Ok(IndexSpec {
        name,
        columns,
        unique: true,
    })
}

/// Adds an index to a table's definition; 1061 if its name is taken.
pub fn push_index(meta: &mut TableMeta, index: IndexSpec) -> Result<(), SqlError> {
    if meta
        .indexes
        .iter()
        .any(|i| i.name.eq_ignore_ascii_case(&index.name))
    {
        return Err(SqlError::new(
            1061,
            "42000",
            format!("Duplicate key name '{}'", index.name),
        ));
    }
    meta.indexes.push(index);
    Ok(())
}

pub fn unsupported(what: &str) -> SqlError {
    SqlError::new(
        1235,
        "42000",
        format!("This version of floe doesn't yet support '{what}'"),
    )
}

pub fn index_columns(
    meta: &TableMeta,
    cols: &[datafusion::sql::sqlparser::ast::IndexColumn],
) -> Result<Vec<usize>, SqlError> {
    cols.iter()
        .map(|c| {
            let name = match &c.column.expr {
                SqlExpr::Identifier(i) => i.value.clone(),
                other => other.to_string(),
            };
            meta.column(&name).ok_or_else(|| {
                SqlError::new(
                    1072,
                    "42000",
                    format!("Key column '{name}' doesn't exist in table"),
                )
            })
        })
        .collect()
}

fn default_of(e: &SqlExpr) -> DefaultValue {
    match e {
        SqlExpr::Value(v) => match &v.value {
            SqlValue::Null => DefaultValue::Null,
            SqlValue::SingleQuotedString(s) | SqlValue::DoubleQuotedString(s) => {
                DefaultValue::Value(s.clone())
            }
            SqlValue::Boolean(b) => DefaultValue::Value(if *b { "1" } else { "0" }.into()),
            other => DefaultValue::Value(other.to_string()),
        },
        SqlExpr::Function(f)
            if ["CURRENT_TIMESTAMP", "NOW", "LOCALTIMESTAMP"]
                .contains(&f.name.to_string().to_ascii_uppercase().as_str()) =>
        {
            DefaultValue::CurrentTimestamp
        }
        SqlExpr::Identifier(i) if i.value.eq_ignore_ascii_case("CURRENT_TIMESTAMP") => {
            DefaultValue::CurrentTimestamp
        }
        other => DefaultValue::Value(other.to_string().trim_matches('\'').to_string()),
    }
}

/// A column definition as floe keeps it, and whether it declares itself
/// the PRIMARY KEY or UNIQUE.
pub fn column_spec(c: &ColumnDef) -> Result<(ColumnSpec, bool, bool), SqlError> {
    let ty = SqlType::from_ast(&c.data_type)?;
    let mut spec = ColumnSpec {
        name: c.name.value.clone(),
        ty,
        nullable: true,
        default: None,
        auto_increment: false,
        comment: String::new(),
    };
    let (mut primary, mut unique) = (false, false);
    for o in &c.options {
        match &o.option {
            ColumnOption::Null => spec.nullable = true,
            ColumnOption::NotNull => spec.nullable = false,
            ColumnOption::Default(e) => spec.default = Some(default_of(e)),
            ColumnOption::PrimaryKey(_) => {
                primary = true;
                spec.nullable = false;
            }
            ColumnOption::Unique(_) => unique = true,
            ColumnOption::Comment(s) => spec.comment = s.clone(),
            ColumnOption::DialectSpecific(tokens) => {
                let text = tokens
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" ");
                if text.to_ascii_uppercase().contains("AUTO_INCREMENT") {
                    spec.auto_increment = true;
                }
            }
            _ => {}
        }
    }
    Ok((spec, primary, unique))
}

pub(crate) fn table_meta(db: String, ct: &CreateTable) -> Result<TableMeta, SqlError> {
    let name = name_parts(&ct.name).pop().unwrap_or_default();
    let mut meta = TableMeta {
        db,
        name,
        columns: Vec::new(),
        primary_key: Vec::new(),
        indexes: Vec::new(),
        comment: String::new(),
        schema_cache: Default::default(),
    };
    let mut pk_inline = Vec::new();
    let mut unique_inline = Vec::new();
    for (i, c) in ct.columns.iter().enumerate() {
        let (spec, primary, unique) = column_spec(c)?;
        if primary {
            pk_inline.push(i);
        }
        if unique {
            unique_inline.push(i);
        }
        if meta
            .columns
            .iter()
            .any(|x: &ColumnSpec| x.name.eq_ignore_ascii_case(&spec.name))
        {
            return Err(SqlError::new(
                1060,
                "42S21",
                format!("Duplicate column name '{}'", spec.name),
            ));
        }
        meta.columns.push(spec);
    }
    if meta.columns.is_empty() {
        return Err(SqlError::new(
            1113,
            "42000",
            "A table must have at least 1 column",
        ));
    }
    meta.primary_key = pk_inline;
    for u in unique_inline {
        meta.indexes.push(IndexSpec {
            name: meta.columns[u].name.clone(),
            columns: vec![u],
            unique: true,
        });
    }
    for (n, c) in ct.constraints.iter().enumerate() {
        match c {
            TableConstraint::PrimaryKey(pk) => {
                if !meta.primary_key.is_empty() {
                    return Err(SqlError::new(1068, "42000", "Multiple primary key defined"));
                }
                meta.primary_key = index_columns(&meta, &pk.columns)?;
            }
            TableConstraint::Unique(u) => {
                let index = unique_index(&meta, u)?;
                meta.indexes.push(index);
            }
            TableConstraint::Index(ix) => {
                let cols = index_columns(&meta, &ix.columns)?;
                let name = ix
                    .name
                    .as_ref()
                    .map(|i| i.value.clone())
                    .unwrap_or_else(|| format!("idx_{n}"));
                meta.indexes.push(IndexSpec {
                    name,
                    columns: cols,
                    unique: false,
                });
            }
            _ => {} // foreign keys, checks, fulltext: accepted, not enforced
        }
    }
    for &k in &meta.primary_key.clone() {
        meta.columns[k].nullable = false;
    }
    let autos = meta.columns.iter().filter(|c| c.auto_increment).count();
    if autos > 1 {
        return Err(SqlError::new(
            1075,
            "42000",
            "Incorrect table definition; there can be only one auto column and it must be defined as a key",
        ));
    }
    Ok(meta)
}

pub async fn execute(s: &mut SqlSession, stmt: Statement, text: &str) -> Result<Done, SqlError> {
    // DDL commits the open transaction first, as in MySQL.
    s.commit_txn().await?;
    let snap = s.engine.snapshot();
    match stmt {
        Statement::CreateDatabase {
            db_name,
            if_not_exists,
            ..
        } => create_db(s, &name_parts(&db_name).join("."), if_not_exists).await,
        Statement::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => {
            let name = match &schema_name {
                SchemaName::Simple(n) | SchemaName::NamedAuthorization(n, _) => {
                    name_parts(n).join(".")
                }
                SchemaName::UnnamedAuthorization(i) => i.value.clone(),
            };
            create_db(s, &name, if_not_exists).await
        }
        Statement::CreateTable(ct) => {
            let (db, _) = resolve(s, &ct.name)?;
            if !catalog::database_exists(&snap.meta, &db) {
                return Err(SqlError::new(
                    1049,
                    "42000",
                    format!("Unknown database '{db}'"),
                ));
            }
            let meta = table_meta(db, &ct)?;
            if catalog::find_table(&snap, &meta.db, &meta.name).is_some() {
                let exists = SqlError::new(
                    1050,
                    "42S01",
                    format!("Table '{}' already exists", meta.name),
                );
                if ct.if_not_exists {
                    s.note(exists);
                    return Ok(Done::default());
                }
                return Err(exists);
            }
            if ct.query.is_some() {
                return Err(unsupported("CREATE TABLE ... SELECT"));
            }
            s.engine.create_table(&meta).await?;
            Ok(Done::default())
        }
        Statement::Drop {
            object_type,
            if_exists,
            names,
            ..
        } => match object_type {
            ObjectType::Table => {
                for n in &names {
                    let (db, t) = resolve(s, n)?;
                    match catalog::find_table(&snap, &db, &t) {
                        Some(tr) => s.engine.ddl(Ddl::DropTable { table: tr.id }).await?,
                        None => {
                            let unknown =
                                SqlError::new(1051, "42S02", format!("Unknown table '{db}.{t}'"));
                            if !if_exists {
                                return Err(unknown);
                            }
                            s.note(unknown);
                        }
                    }
                }
                Ok(Done::default())
            }
            ObjectType::Schema | ObjectType::Database => {
                let db = names
                    .first()
                    .map(|n| name_parts(n).join("."))
                    .unwrap_or_default();
                if catalog::SYSTEM_DATABASES.contains(&db.as_str()) {
                    return Err(SqlError::new(
                        1044,
                        "42000",
                        format!("Access denied to database '{db}'"),
                    ));
                }
                if !catalog::database_exists(&snap.meta, &db) {
                    let missing = SqlError::new(
                        1008,
                        "HY000",
                        format!("Can't drop database '{db}'; database doesn't exist"),
                    );
                    if if_exists {
                        s.note(missing);
                        return Ok(Done::default());
                    }
                    return Err(missing);
                }
                let tables = catalog::tables_of(&snap, &db);
                for t in &tables {
                    s.engine.ddl(Ddl::DropTable { table: t.id }).await?;
                }
                s.engine
                    .ddl(Ddl::SetMeta {
                        key: format!("{}{db}", catalog::DB_PREFIX),
                        value: None,
                    })
                    .await?;
                if s.db().as_deref() == Some(db.as_str())
                    && let Ok(mut sh) = s.shared.lock()
                {
                    sh.db = None;
                }
                Ok(Done::affected(tables.len() as u64))
            }
            ObjectType::Index => Err(unsupported("DROP INDEX")),
            other => Err(unsupported(&format!("DROP {other}"))),
        },
        Statement::Truncate(tr) => {
            for target in &tr.table_names {
                let t = table(s, &snap, &target.name)?;
                s.engine.ddl(Ddl::TruncateTable { table: t.id }).await?;
            }
            Ok(Done::default())
        }
        Statement::RenameTable(renames) => {
            for r in &renames {
                let t = table(s, &snap, &r.old_name)?;
                let (db, name) = resolve(s, &r.new_name)?;
                if catalog::find_table(&snap, &db, &name).is_some() {
                    return Err(SqlError::new(
                        1050,
                        "42S01",
                        format!("Table '{name}' already exists"),
                    ));
                }
                let mut meta = (*t.meta).clone();
                meta.db = db.clone();
                meta.name = name.clone();
                s.engine
                    .ddl(Ddl::RenameTable {
                        table: t.id,
                        name: storage_name(&db, &name),
                    })
                    .await?;
                s.engine.ddl(meta.record(t.id)).await?;
            }
            Ok(Done::default())
        }
        Statement::CreateIndex(ci) => create_index(s, &snap, ci).await,
        Statement::AlterTable(at) => super::alter::alter_table(s, at).await,
        _ => Err(unsupported(
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
                .as_str(),
        )),
    }
}

async fn create_db(s: &mut SqlSession, name: &str, if_not_exists: bool) -> Result<Done, SqlError> {
    let snap = s.engine.snapshot();
    if catalog::database_exists(&snap.meta, name) {
        let exists = SqlError::new(
            1007,
            "HY000",
            format!("Can't create database '{name}'; database exists"),
        );
        if if_not_exists {
            s.note(exists);
            return Ok(Done::default());
        }
        return Err(exists);
    }
    if name.is_empty() || name.len() > 64 {
        return Err(SqlError::new(
            1102,
            "42000",
            format!("Incorrect database name '{name}'"),
        ));
    }
    s.engine
        .ddl(Ddl::SetMeta {
            key: format!("{}{name}", catalog::DB_PREFIX),
            value: Some(b"{\"charset\":\"utf8mb4\"}".to_vec()),
        })
        .await?;
    Ok(Done::affected(1))
}

async fn create_index(
    s: &SqlSession,
    snap: &floe_storage::Snapshot,
    ci: CreateIndex,
) -> Result<Done, SqlError> {
    let t = table(s, snap, &ci.table_name)?;
    let mut meta = (*t.meta).clone();
    let cols = index_columns(&meta, &ci.columns)?;
    let name = ci
        .name
        .as_ref()
        .map(|n| name_parts(n).pop().unwrap_or_default())
        .unwrap_or_else(|| meta.columns[cols[0]].name.clone());
    if ci.if_not_exists
        && meta
            .indexes
            .iter()
            .any(|i| i.name.eq_ignore_ascii_case(&name))
    {
        return Ok(Done::default());
    }
    push_index(
        &mut meta,
        IndexSpec {
            name,
            columns: cols,
            unique: ci.unique,
        },
    )?;
    s.engine.ddl(meta.record(t.id)).await?;
    Ok(Done::default())
}

//! One client's session on the primary: statement dispatch, DataFusion for
//! queries, transactions (a private write set that its own reads overlay),
//! variables, and the MySQL statements floe parses itself.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::dialect::FloeDialect;
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SessionConfig, SessionContext as DfContext};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::scalar::ScalarValue;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::variable::VarType;
use futures::StreamExt;
use futures::future::BoxFuture;
use mysql_common::value::Value;

use super::catalog;
use super::diagnostics::{Diagnostics, Level};
use super::engine::{Held, SqlEngine, WriteSet};
use super::provider::{FloeCatalog, Overlay, View, ViewCell};
use super::text::{Token, Tokens, split_statements};
use super::vars::{SystemVars, UserVars, Vars};
use super::{admin, constant, ddl, dml, infile, show, values};
use crate::mysql::resultset::ColumnMeta;
use crate::mysql::session::{Outcome, PreparedInfo, RowStream, Session, SessionStatus};
use crate::mysql::{Done, SessionContext, SqlError};

/// A parsed statement, ready to run.
pub enum Stmt {
    Sql(Box<Statement>, String),
    /// Statements floe parses itself, kept as text.
    Own(OwnKind, String),
    /// An INSERT of literal rows, read without sqlparser.
    Insert(Arc<values::LiteralInsert>),
    /// A SELECT of literals and system variables, read without sqlparser.
    Constant(Arc<constant::ConstantSelect>),
    /// A prepared point lookup executed by the plan it keeps.
    Point(Box<super::prepared::PointExecution>),
}

impl Stmt {
    /// Whether the statement changes data, the catalog or accounts.
    fn writes(&self) -> bool {
        match self {
            Stmt::Sql(s, _) => !matches!(
                **s,
                Statement::Query(_)
                    | Statement::Explain { .. }
                    | Statement::StartTransaction { .. }
                    | Statement::Commit { .. }
                    | Statement::Rollback { .. }
            ),
            Stmt::Own(kind, _) => matches!(
                kind,
                OwnKind::Account | OwnKind::LoadData | OwnKind::Function
            ),
            Stmt::Insert(_) => true,
            Stmt::Constant(_) | Stmt::Point(_) => false,
        }
    }

    /// Whether the statement only reads the diagnostics area (SHOW
    /// WARNINGS, `SELECT @@warning_count`…), which it then leaves as is.
    fn reads_diagnostics(&self) -> bool {
        match self {
            Stmt::Own(OwnKind::Show, text) => {
                let mut t = Tokens::new(text);
                t.eat("SHOW");
                t.eat("WARNINGS") || t.eat("ERRORS") || t.eat("COUNT")
            }
            Stmt::Constant(c) => c.reads_diagnostics(),
            _ => false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnKind {
    Set,
    Show,
    Describe,
    Use,
    Account,
    LoadData,
    /// `CREATE [AGGREGATE] FUNCTION ... SONAME`, `DROP FUNCTION`.
    Function,
    Kill,
    /// Accepted and ignored (LOCK TABLES, FLUSH, ALTER TABLE ... DISABLE KEYS).
    Noop,
}

pub struct PreparedSql {
    pub sql: String,
    pub params: usize,
    /// The statement parsed once, when it can be (see `prepared`).
    pub template: Option<Arc<super::prepared::Template>>,
    /// Its plan, if it is a point lookup.
    pub point: super::prepared::PointPlans,
}

/// An open transaction: what it read from and what it wrote.
pub struct Transaction {
    pub snap: Arc<floe_storage::Snapshot>,
    pub writes: WriteSet,
    /// `writes` as the transaction's own reads see them, kept up to date.
    overlay: Arc<Overlay>,
}

impl Transaction {
    /// Adds a statement's writes.
    fn add(&mut self, writes: WriteSet) {
        let overlay = Arc::make_mut(&mut self.overlay);
        for (t, d) in writes.deletes {
            Arc::make_mut(overlay.deleted.entry(t).or_default()).extend(d.iter().copied());
            self.writes.deletes.entry(t).or_default().extend(d);
        }
        for (t, b) in writes.inserts {
            overlay
                .inserted
                .entry(t)
                .or_default()
                .extend(b.iter().cloned());
            self.writes.inserts.entry(t).or_default().extend(b);
        }
    }
}

/// State shared with DataFusion functions (DATABASE(), LAST_INSERT_ID()...).
#[derive(Debug, Default)]
pub struct Shared {
    pub db: Option<String>,
    pub user: String,
    pub host: String,
    pub connection_id: u32,
    pub last_insert_id: u64,
}

pub struct SqlSession {
    pub engine: Arc<SqlEngine>,
    pub ctx: SessionContext,
    pub df: DfContext,
    pub view: ViewCell,
    pub vars: Arc<Mutex<Vars>>,
    pub shared: Arc<Mutex<Shared>>,
    pub txn: Option<Transaction>,
    /// Time limits shared with the plugin functions this session runs.
    pub limits: Arc<crate::wasm::udf::SessionLimits>,
    /// The catalog's function entries registered in `df`, as of the last statement.
    pub functions: Vec<(String, Vec<u8>)>,
    /// Select lists planned for queries run without a plan.
    pub direct_plans: super::direct::Plans,
    /// What the last statement raised (SHOW WARNINGS).
    pub diagnostics: Diagnostics,
    /// The counts last written to `@@warning_count` / `@@error_count`.
    published_counts: (usize, usize),
}

pub fn df_error(e: DataFusionError) -> SqlError {
    let e = e.find_root();
    if let DataFusionError::External(inner) = e
        && let Some(p) = inner.downcast_ref::<crate::wasm::PluginError>()
    {
        return super::loadable::sql_error(p);
    }
    let msg = e.to_string();
    if let Some(rest) = msg.split("No field named ").nth(1) {
        let col = rest
            .split(['.', ' ', '\n'])
            .next()
            .unwrap_or("")
            .trim_matches(|c| c == '"' || c == '`');
        let col = if rest.starts_with('"') || rest.contains('.') {
            rest.split('.')
                .next()
                .unwrap_or(col)
                .trim_matches(|c| c == '"' || c == '`')
        } else {
            col
        };
        return SqlError::new(
            1054,
            "42S22",
            format!("Unknown column '{col}' in 'field list'"),
        );
    }
    if let Some(rest) = msg.split("Invalid function '").nth(1) {
        let name = rest.split('\'').next().unwrap_or("");
        return SqlError::new(1305, "42000", format!("FUNCTION {name} does not exist"));
    }
    if let Some(rest) = msg.split(super::functions::WRONG_ARG_COUNT).nth(1) {
        return SqlError::new(
            1582,
            "42000",
            format!(
                "{}{}",
                super::functions::WRONG_ARG_COUNT,
                rest.lines().next().unwrap_or("")
            ),
        );
    }
    match e {
        DataFusionError::SQL(p, _) => {
            SqlError::syntax(format!("You have an error in your SQL syntax: {p}"))
        }
        DataFusionError::SchemaError(s, _) => {
            let s = s.to_string();
            match s.split('\'').nth(1).or_else(|| s.split('"').nth(1)) {
                Some(col) if s.contains("No field named") || s.contains("not found") => {
                    SqlError::new(
                        1054,
                        "42S22",
                        format!(
                            "Unknown column '{}' in 'field list'",
                            col.rsplit('.').next().unwrap_or(col)
                        ),
                    )
                }
                _ => SqlError::internal(s),
            }
        }
        DataFusionError::Plan(p) if p.contains("table '") && p.contains("not found") => {
            let name = p.split('\'').nth(1).unwrap_or("");
            let name = name.strip_prefix("def.").unwrap_or(name);
            SqlError::new(1146, "42S02", format!("Table '{name}' doesn't exist"))
        }
        DataFusionError::NotImplemented(m) => SqlError::new(
            1235,
            "42000",
            format!("This version of floe doesn't yet support '{m}'"),
        ),
        DataFusionError::ArrowError(a, _) if a.to_string().contains("Divide by zero") => {
            SqlError::new(1365, "22012", "Division by 0")
        }
        _ => SqlError::internal(
            msg.trim_start_matches("Error during planning: ")
                .to_string(),
        ),
    }
}

fn udf_string(name: &str, f: impl Fn() -> Option<String> + Send + Sync + 'static) -> ScalarUDF {
    create_udf(
        name,
        vec![],
        DataType::Utf8,
        Volatility::Volatile,
        Arc::new(move |_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(f())))),
    )
}

fn udf_u64(name: &str, f: impl Fn() -> u64 + Send + Sync + 'static) -> ScalarUDF {
    create_udf(
        name,
        vec![],
        DataType::UInt64,
        Volatility::Volatile,
        Arc::new(move |_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::UInt64(Some(f()))))
        }),
    )
}

/// Rows of text columns, for SHOW and friends.
pub fn text_rows(columns: &[&str], rows: Vec<Vec<Option<String>>>) -> Outcome {
    typed_rows(
        &columns.iter().map(|c| (*c, false)).collect::<Vec<_>>(),
        rows,
    )
}

/// Like [`text_rows`]; columns marked `true` are BIGINTs.
pub fn typed_rows(columns: &[(&str, bool)], rows: Vec<Vec<Option<String>>>) -> Outcome {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(c, int)| {
                Field::new(
                    *c,
                    if *int {
                        DataType::Int64
                    } else {
                        DataType::Utf8
                    },
                    true,
                )
            })
            .collect::<Vec<_>>(),
    ));
    let arrays: Vec<ArrayRef> = (0..columns.len())
        .map(|i| {
            let text: ArrayRef = Arc::new(
                rows.iter()
                    .map(|r| r.get(i).cloned().flatten())
                    .collect::<StringArray>(),
            );
            if columns[i].1 {
                arrow::compute::cast(&text, &DataType::Int64).unwrap_or(text)
            } else {
                text
            }
        })
        .collect();
    let batch =
        RecordBatch::try_new(schema.clone(), arrays).map_err(|e| SqlError::internal(e.to_string()));
    one_batch(&schema, batch)
}

/// A result set of one batch (already built) described by `schema`.
pub fn one_batch(schema: &Schema, batch: Result<RecordBatch, SqlError>) -> Outcome {
    Outcome::Rows(RowStream {
        columns: schema
            .fields()
            .iter()
            .map(|f| ColumnMeta::for_field(f))
            .collect(),
        batches: futures::stream::iter(vec![batch]).boxed(),
    })
}

impl SqlSession {
    pub fn new(engine: Arc<SqlEngine>, ctx: SessionContext) -> Result<SqlSession, SqlError> {
        let config = SessionConfig::new()
            .with_default_catalog_and_schema("def", "")
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(true)
            .set_str("datafusion.sql_parser.dialect", "MySQL")
            // 2.5 is an exact DECIMAL in MySQL, not a double.
            .set_bool("datafusion.sql_parser.parse_float_as_decimal", true)
            // MySQL sorts NULL below every value (first ascending).
            .set_str("datafusion.sql_parser.default_null_ordering", "nulls_min");
        let df = DfContext::new_with_config(config);
        df.add_optimizer_rule(Arc::new(super::push_down_aggregate::PushDownAggregate));
        let view: ViewCell = Arc::new(RwLock::new(View {
            snap: engine.snapshot(),
            overlay: None,
            with_rowid: false,
            only: None,
            exact: false,
        }));
        df.register_catalog("def", Arc::new(FloeCatalog { view: view.clone() }));
        super::functions::register(&df);
        let vars = Arc::new(Mutex::new(Vars::default()));
        df.register_variable(VarType::System, Arc::new(SystemVars(vars.clone())));
        df.register_variable(VarType::UserDefined, Arc::new(UserVars(vars.clone())));
        let shared = Arc::new(Mutex::new(Shared {
            db: None,
            user: ctx.user.clone(),
            host: ctx.host.clone(),
            connection_id: ctx.connection_id,
            last_insert_id: 0,
        }));
        let s = shared.clone();
        df.register_udf(udf_string("database", move || s.lock().ok()?.db.clone()));
        let s = shared.clone();
        df.register_udf(udf_string("schema", move || s.lock().ok()?.db.clone()));
        for name in ["user", "current_user", "session_user", "system_user"] {
            let s = shared.clone();
            df.register_udf(udf_string(name, move || {
                let s = s.lock().ok()?;
                Some(format!("{}@{}", s.user, s.host))
            }));
        }
        df.register_udf(udf_string("version", || {
            Some(crate::mysql::server::SERVER_VERSION.to_string())
        }));
        let s = shared.clone();
        df.register_udf(udf_u64("connection_id", move || {
            s.lock().map(|s| s.connection_id as u64).unwrap_or(0)
        }));
        let s = shared.clone();
        df.register_udf(udf_u64("last_insert_id", move || {
            s.lock().map(|s| s.last_insert_id).unwrap_or(0)
        }));
        // KILL QUERY reaches plugin calls through the connection's flag.
        let kill_query = ctx.kill_query.clone();
        let limits = crate::wasm::udf::SessionLimits::new(
            engine.plugins.options.call_timeout,
            Some(crate::wasm::plugin::Interrupt::new(move || {
                kill_query.is_raised()
            })),
        );
        Ok(SqlSession {
            engine,
            ctx,
            df,
            view,
            vars,
            shared,
            txn: None,
            limits,
            functions: Vec::new(),
            direct_plans: Default::default(),
            diagnostics: Diagnostics::default(),
            published_counts: (0, 0),
        })
    }

    /// Runs one statement (the diagnostics area is the caller's).
    async fn run(&mut self, stmt: Stmt) -> Result<Outcome, SqlError> {
        if stmt.writes() {
            // A reader refuses before doing any work (MySQL's --read-only).
            self.engine.refuse_write()?;
        }
        super::loadable::sync(self);
        self.limits.start_statement(self.max_execution_time());
        match stmt {
            Stmt::Sql(s, text) => self.execute_sql(*s, text).await,
            Stmt::Insert(ins) => dml::insert_literals(self, ins).await.map(Outcome::Done),
            Stmt::Constant(c) => {
                let answer = self.vars.lock().ok().and_then(|v| c.answer(&v));
                match answer {
                    Some((schema, batch)) => {
                        self.engine
                            .constant_selects
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        Ok(one_batch(&schema, Ok(batch)))
                    }
                    None => {
                        let stmt = Self::parse_one(c.text())?;
                        self.execute_sql(stmt, c.text().to_string()).await
                    }
                }
            }
            Stmt::Point(p) => {
                if p.reused {
                    self.engine
                        .prepared_plan_reuses
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if let Some(rows) = p.plan.answer(self, &p.key).await? {
                    return Ok(rows);
                }
                // The plan just tried is the one `execute_sql` would make.
                let bound = match p.template.bind(&p.params) {
                    Some(bound) => bound,
                    None => Self::parse_one(&p.text)?,
                };
                self.planned_query(bound).await
            }
            Stmt::Own(kind, text) => match kind {
                OwnKind::Set => admin::set(self, &text).await.map(Outcome::Done),
                OwnKind::Show => show::show(self, &text).await,
                OwnKind::Describe => show::describe(self, &text).await,
                OwnKind::Use => {
                    let mut t = Tokens::new(&text);
                    t.eat("USE");
                    let db = t
                        .name()
                        .ok_or_else(|| SqlError::syntax("USE needs a database name"))?;
                    self.use_database(&db)?;
                    Ok(Outcome::Done(Done::default()))
                }
                OwnKind::Account => admin::account(self, &text).await,
                OwnKind::LoadData => infile::load_data(self, &text).await,
                OwnKind::Function => super::loadable::statement(self, &text).await,
                OwnKind::Kill => admin::kill(self, &text).map(Outcome::Done),
                OwnKind::Noop => Ok(Outcome::Done(Done::default())),
            },
        }
    }

    /// Mirrors the diagnostics area's counts into `@@warning_count` and
    /// `@@error_count` (the variables lock is taken only when they change).
    fn publish_counts(&mut self) {
        let counts = (
            self.diagnostics.warning_count(),
            self.diagnostics.error_count(),
        );
        if counts == self.published_counts {
            return;
        }
        if let Ok(mut v) = self.vars.lock() {
            v.set("warning_count", counts.0.to_string());
            v.set("error_count", counts.1.to_string());
            self.published_counts = counts;
        }
    }

    /// Records a note: what IF [NOT] EXISTS makes of an error.
    pub fn note(&mut self, e: SqlError) {
        self.diagnostics.push(Level::Note, e);
    }

    /// Records a warning: an error a statement was told to ignore.
    pub fn warn(&mut self, e: SqlError) {
        self.diagnostics.push(Level::Warning, e);
    }

    pub fn db(&self) -> Option<String> {
        self.shared.lock().ok()?.db.clone()
    }

    pub fn require_db(&self) -> Result<String, SqlError> {
        self.db()
            .ok_or_else(|| SqlError::new(1046, "3D000", "No database selected"))
    }

    fn read_committed(&self) -> bool {
        self.vars
            .lock()
            .ok()
            .and_then(|v| v.get("transaction_isolation"))
            .is_some_and(|i| {
                i.eq_ignore_ascii_case("READ-COMMITTED")
                    || i.eq_ignore_ascii_case("READ-UNCOMMITTED")
            })
    }

    /// `max_execution_time` (milliseconds; 0 is unlimited) for SELECTs.
    fn max_execution_time(&self) -> Option<Duration> {
        let ms: u64 = self
            .vars
            .lock()
            .ok()?
            .get("max_execution_time")?
            .parse()
            .ok()?;
        (ms > 0).then(|| Duration::from_millis(ms))
    }

    pub fn autocommit(&self) -> bool {
        self.vars
            .lock()
            .map(|v| v.flag("autocommit"))
            .unwrap_or(true)
    }

    pub fn set_last_insert_id(&self, id: u64) {
        if let Ok(mut s) = self.shared.lock() {
            s.last_insert_id = id;
        }
    }

    /// Points DataFusion at what this statement reads: the transaction's
    /// snapshot and writes, or the newest snapshot.
    pub fn set_view(&self, with_rowid: bool) -> Arc<floe_storage::Snapshot> {
        let (snap, overlay) = match &self.txn {
            Some(t) => (
                // READ COMMITTED sees each statement's newest snapshot under
                // its own writes; REPEATABLE READ keeps the first one.
                if self.read_committed() {
                    self.engine.snapshot()
                } else {
                    t.snap.clone()
                },
                Some(t.overlay.clone()),
            ),
            None => (self.engine.snapshot(), None),
        };
        *self.view.write().unwrap_or_else(|e| e.into_inner()) = View {
            snap: snap.clone(),
            overlay,
            with_rowid,
            only: None,
            exact: false,
        };
        let db = self.db().unwrap_or_default();
        let state = self.df.state_ref();
        let current = state.read().config().options().catalog.default_schema == db;
        if !current {
            state
                .write()
                .config_mut()
                .options_mut()
                .catalog
                .default_schema = db;
        }
        snap
    }

    /// Narrows the view set for this statement to committed rows `rows` of
    /// `table` (a key lookup found them).
    /// `exact`: the statement's WHERE clause keeps every one of those rows.
    pub fn restrict_view(&self, table: floe_storage::TableId, rows: Vec<u64>, exact: bool) {
        let mut view = self.view.write().unwrap_or_else(|e| e.into_inner());
        view.only = Some((table, Arc::new(rows)));
        view.exact = exact;
    }

    /// Plans and runs a query through DataFusion, streaming the result.
    pub async fn run_query(
        &self,
        stmt: Statement,
        with_rowid: bool,
    ) -> Result<
        (
            Vec<ColumnMeta>,
            datafusion::execution::SendableRecordBatchStream,
        ),
        SqlError,
    > {
        self.set_view(with_rowid);
        self.run_in_view(stmt).await
    }

    /// Plans and runs a query on the view already set for this statement.
    async fn run_in_view(
        &self,
        stmt: Statement,
    ) -> Result<
        (
            Vec<ColumnMeta>,
            datafusion::execution::SendableRecordBatchStream,
        ),
        SqlError,
    > {
        let names = super::compat::output_names(&stmt);
        let mut stmt = stmt;
        super::compat::rewrite(&mut stmt);
        let (schema, stream) = match super::direct::select(self, &stmt) {
            Some(done) => done,
            None => {
                let state = self.df.state();
                let plan = state
                    .statement_to_plan(DfStatement::Statement(Box::new(stmt)))
                    .await
                    .map_err(df_error)?;
                let frame = DataFrame::new(state, plan);
                let schema = Arc::new(frame.schema().as_arrow().clone());
                (schema, frame.execute_stream().await.map_err(df_error)?)
            }
        };
        let mut columns: Vec<ColumnMeta> = schema
            .fields()
            .iter()
            .map(|f| ColumnMeta::for_field(f))
            .collect();
        if let Some(names) = names
            && names.len() == columns.len()
        {
            for (c, n) in columns.iter_mut().zip(names) {
                c.name = n;
            }
        }
        Ok((columns, stream))
    }

    /// Runs a query and collects its rows (for SET).
    pub async fn collect(
        &self,
        stmt: Statement,
        with_rowid: bool,
    ) -> Result<Vec<RecordBatch>, SqlError> {
        self.set_view(with_rowid);
        self.collect_in_view(stmt).await
    }

    /// Collects a query's rows on the view already set (a DML statement
    /// sets it once and may run several queries on it).
    pub async fn collect_in_view(&self, stmt: Statement) -> Result<Vec<RecordBatch>, SqlError> {
        let (_, mut stream) = self.run_in_view(stmt).await?;
        let mut out = Vec::new();
        while let Some(b) = stream.next().await {
            out.push(b.map_err(df_error)?);
        }
        Ok(out)
    }

    pub fn parse_one(sql: &str) -> Result<Statement, SqlError> {
        let mut stmts = Parser::parse_sql(&FloeDialect::default(), sql).map_err(|e| {
            let near: String = sql.chars().take(80).collect();
            SqlError::syntax(format!(
                "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near '{near}' at line 1 ({e})"
            ))
        })?;
        match stmts.len() {
            1 => {
                let mut stmt = stmts.remove(0);
                super::compat::drop_dual(&mut stmt);
                Ok(stmt)
            }
            _ => Err(SqlError::syntax(
                "You have an error in your SQL syntax: expected one statement",
            )),
        }
    }

    pub fn classify(text: &str) -> Result<Stmt, SqlError> {
        // The first two words decide; a dump's INSERT may be megabytes long.
        let mut head = text.len().min(256);
        while !text.is_char_boundary(head) {
            head -= 1;
        }
        let t = Tokens::new(&text[..head]);
        let w = |i: usize| {
            t.peek_at(i).and_then(|t| match t {
                Token::Word(w) => Some(w.to_ascii_uppercase()),
                _ => None,
            })
        };
        if matches!(w(0).as_deref(), Some("INSERT" | "REPLACE"))
            && let Some(ins) = values::read(text)
        {
            return Ok(Stmt::Insert(Arc::new(ins)));
        }
        if w(0).as_deref() == Some("SELECT")
            && let Some(c) = constant::read(text)
        {
            return Ok(Stmt::Constant(Arc::new(c)));
        }
        let own = |k| Ok(Stmt::Own(k, text.to_string()));
        match (w(0).as_deref(), w(1).as_deref()) {
            (Some("SET"), _) => own(OwnKind::Set),
            (Some("SHOW"), _) => own(OwnKind::Show),
            (Some("DESCRIBE" | "DESC"), _) => own(OwnKind::Describe),
            (Some("EXPLAIN"), Some(n))
                if n != "SELECT"
                    && n != "WITH"
                    && n != "ANALYZE"
                    && n != "VERBOSE"
                    && n != "FORMAT" =>
            {
                own(OwnKind::Describe)
            }
            (Some("USE"), _) => own(OwnKind::Use),
            (Some("CREATE" | "DROP" | "ALTER" | "RENAME"), Some("USER")) => own(OwnKind::Account),
            (Some("GRANT" | "REVOKE"), _) => own(OwnKind::Account),
            (Some("CREATE"), Some("FUNCTION" | "AGGREGATE")) | (Some("DROP"), Some("FUNCTION")) => {
                own(OwnKind::Function)
            }
            (Some("FLUSH"), _) => own(OwnKind::Noop),
            (Some("LOCK" | "UNLOCK"), Some("TABLES" | "TABLE" | "INSTANCE")) => own(OwnKind::Noop),
            (Some("LOAD"), Some("DATA")) => own(OwnKind::LoadData),
            (Some("KILL"), _) => own(OwnKind::Kill),
            (Some("ALTER"), Some("TABLE")) if ddl::is_keys_toggle(text) => own(OwnKind::Noop),
            _ => Ok(Stmt::Sql(
                Box::new(Self::parse_one(text)?),
                text.to_string(),
            )),
        }
    }

    /// Commits the open transaction's writes.
    pub async fn commit_txn(&mut self) -> Result<(), SqlError> {
        let Some(txn) = self.txn.take() else {
            return Ok(());
        };
        let writes = dml::without_dead_pending(txn.writes);
        let pending = {
            let mut w = self.engine.lock().await;
            self.engine.submit(&mut w, &writes)?
        };
        if let Some(p) = pending {
            self.engine.wait(p).await?;
        }
        Ok(())
    }

    /// Runs a write statement: in the open transaction, or as its own. A
    /// statement of its own that deletes a row a commit still in flight
    /// deletes runs again once that commit is applied (as MySQL's would
    /// wait for the row lock and read the row anew). A statement in a
    /// transaction shares the write lock (see [`Held`]) unless it turns out
    /// to need it alone, and then runs again.
    pub async fn write<F>(&mut self, f: F) -> Result<Done, SqlError>
    where
        F: for<'a, 'w> Fn(
            &'a mut SqlSession,
            &'a mut Held<'w>,
        ) -> BoxFuture<'a, Result<(Done, WriteSet), SqlError>>,
    {
        if self.txn.is_none() && !self.autocommit() {
            self.begin();
        }
        let engine = self.engine.clone();
        let mut w = match self.txn {
            Some(_) => Held::Shared(engine.lock_shared().await),
            None => Held::Exclusive(engine.lock().await),
        };
        let mut settled = false;
        loop {
            let ran = match f(self, &mut w).await {
                Ok((done, writes)) => match &self.txn {
                    Some(t) => engine
                        .precheck(&mut w, &t.writes, &writes)
                        .map(|()| (done, writes)),
                    None => Ok((done, writes)),
                },
                Err(e) => Err(e),
            };
            let (done, writes) = match ran {
                Err(e) if e.code == super::engine::NEEDS_EXCLUSIVE => {
                    drop(w);
                    w = Held::Exclusive(engine.lock().await);
                    self.diagnostics.clear();
                    continue;
                }
                other => other?,
            };
            let Some(t) = &mut self.txn else {
                let writes = dml::without_dead_pending(writes);
                let pending = match engine.submit(w.exclusive()?, &writes) {
                    // A row it deletes was deleted since its snapshot, or is
                    // being deleted by a commit in flight.
                    Err(e) if e.code == super::engine::DEADLOCK && !settled => {
                        engine.settle_all(w.exclusive()?).await?;
                        settled = true;
                        // The statement runs again from the start, and
                        // raises its warnings again.
                        self.diagnostics.clear();
                        continue;
                    }
                    other => other?,
                };
                // Others commit while this one becomes durable.
                drop(w);
                if let Some(p) = pending {
                    engine.wait(p).await?;
                }
                return Ok(done);
            };
            t.add(writes);
            return Ok(done);
        }
    }

    pub fn begin(&mut self) {
        self.txn = Some(Transaction {
            snap: self.engine.snapshot(),
            writes: WriteSet::default(),
            overlay: Arc::default(),
        });
    }

    /// A query the point-lookup path did not answer: confined to its key
    /// range when it has one, under the statement's time limit.
    async fn planned_query(&mut self, stmt: Statement) -> Result<Outcome, SqlError> {
        let limit = self.max_execution_time();
        let deadline = limit.map(|d| tokio::time::Instant::now() + d);
        let run = async {
            if super::keyrange::confine(self, &stmt).await? {
                self.run_in_view(stmt).await
            } else {
                self.run_query(stmt, false).await
            }
        };
        let planned = match deadline {
            Some(at) => tokio::time::timeout_at(at, run)
                .await
                .map_err(|_| query_timeout())?,
            None => run.await,
        };
        let (columns, stream) = planned?;
        let batches = stream.map(|b| b.map_err(df_error));
        let batches = match deadline {
            None => batches.boxed(),
            Some(at) => {
                futures::stream::unfold((batches.boxed(), false), move |(mut s, done)| async move {
                    if done {
                        return None;
                    }
                    match tokio::time::timeout_at(at, s.next()).await {
                        Ok(Some(b)) => Some((b, (s, false))),
                        Ok(None) => None,
                        Err(_) => Some((Err(query_timeout()), (s, true))),
                    }
                })
                .boxed()
            }
        };
        Ok(Outcome::Rows(RowStream { columns, batches }))
    }

    async fn execute_sql(&mut self, stmt: Statement, text: String) -> Result<Outcome, SqlError> {
        match stmt {
            Statement::Query(_) | Statement::Explain { .. } => {
                if let Some(rows) = super::point::lookup(self, &stmt).await? {
                    return Ok(rows);
                }
                self.planned_query(stmt).await
            }
            Statement::StartTransaction { .. } => {
                self.commit_txn().await?;
                self.begin();
                Ok(Outcome::Done(Done::default()))
            }
            Statement::Commit { .. } => {
                self.commit_txn().await?;
                Ok(Outcome::Done(Done::default()))
            }
            Statement::Rollback { .. } => {
                self.txn = None;
                Ok(Outcome::Done(Done::default()))
            }
            Statement::Insert(_) | Statement::Update { .. } | Statement::Delete(_) => {
                let done = dml::execute(self, stmt).await?;
                Ok(Outcome::Done(done))
            }
            other => ddl::execute(self, other, &text).await.map(Outcome::Done),
        }
    }
}

fn query_timeout() -> SqlError {
    SqlError::new(
        3024,
        "HY000",
        "Query execution was interrupted, maximum statement execution time exceeded",
    )
}

/// `?` placeholders outside quotes and comments.
pub fn placeholders(sql: &str) -> Vec<usize> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' && q != b'`' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'\'' | b'"' | b'`' => quote = Some(c),
                b'?' => out.push(i),
                _ => {}
            },
        }
        i += 1;
    }
    out
}

/// A parameter as a SQL literal.
pub fn literal(v: &Value) -> String {
    match v {
        Value::NULL => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Bytes(b) => {
            // Non-UTF-8 bytes travel as private-use characters (see wire::sql_text).
            let s = crate::mysql::wire::sql_text(b);
            let mut out = String::with_capacity(s.len() + 2);
            out.push('\'');
            for ch in s.chars() {
                match ch {
                    '\'' => out.push_str("''"),
                    '\\' => out.push_str("\\\\"),
                    '\0' => out.push_str("\\0"),
                    c => out.push(c),
                }
            }
            out.push('\'');
            out
        }
        Value::Date(y, m, d, h, i, s, us) => {
            format!("'{y:04}-{m:02}-{d:02} {h:02}:{i:02}:{s:02}.{us:06}'")
        }
        Value::Time(neg, days, h, m, s, us) => format!(
            "'{}{:02}:{m:02}:{s:02}.{us:06}'",
            if *neg { "-" } else { "" },
            *days as u64 * 24 + *h as u64
        ),
    }
}

pub fn substitute(sql: &str, params: &[Value]) -> Result<String, SqlError> {
    let at = placeholders(sql);
    if at.len() != params.len() {
        return Err(SqlError::wrong_arguments("mysqld_stmt_execute"));
    }
    let mut out = String::with_capacity(sql.len() + params.len() * 8);
    let mut last = 0;
    for (pos, v) in at.iter().zip(params) {
        out.push_str(&sql[last..*pos]);
        out.push_str(&literal(v));
        last = pos + 1;
    }
    out.push_str(&sql[last..]);
    Ok(out)
}

impl Session for SqlSession {
    type Statement = Stmt;
    type Prepared = PreparedSql;

    fn parse(&mut self, sql: &str, multi: bool) -> Result<Vec<Stmt>, SqlError> {
        let texts = split_statements(sql);
        if texts.len() > 1 && !multi {
            return Err(SqlError::syntax(format!(
                "You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near '{}' at line 1",
                texts[1].chars().take(80).collect::<String>()
            )));
        }
        texts.iter().map(|t| Self::classify(t)).collect()
    }

    fn describe(&self, stmt: &Stmt) -> String {
        match stmt {
            Stmt::Sql(_, t) | Stmt::Own(_, t) => t.chars().take(1024).collect(),
            Stmt::Insert(ins) => ins.text().chars().take(1024).collect(),
            Stmt::Constant(c) => c.text().chars().take(1024).collect(),
            Stmt::Point(p) => p.text.chars().take(1024).collect(),
        }
    }

    async fn execute(&mut self, stmt: Stmt) -> Result<Outcome, SqlError> {
        if stmt.reads_diagnostics() {
            return self.run(stmt).await;
        }
        self.diagnostics.clear();
        let mut outcome = self.run(stmt).await;
        match &mut outcome {
            Ok(Outcome::Done(done)) => {
                done.warnings = u16::try_from(self.diagnostics.warning_count()).unwrap_or(u16::MAX)
            }
            Err(e) => {
                // A deadlock rolls back the whole transaction, as InnoDB's
                // does: a client that starts it over must not find (or, by
                // its next BEGIN, commit) the writes before the failure.
                if e.code == super::engine::DEADLOCK {
                    self.txn = None;
                }
                self.diagnostics.push(Level::Error, e.clone())
            }
            Ok(_) => {}
        }
        self.publish_counts();
        outcome
    }

    async fn prepare(&mut self, sql: &str) -> Result<PreparedInfo<PreparedSql>, SqlError> {
        let n = placeholders(sql).len();
        let probe = substitute(sql, &vec![Value::NULL; n])?;
        super::loadable::sync(self);
        self.limits.start_statement(self.max_execution_time());
        let stmt = match Self::classify(&probe)? {
            // Described by the general path, as any other query.
            Stmt::Constant(c) => Stmt::Sql(Box::new(Self::parse_one(c.text())?), probe.clone()),
            other => other,
        };
        let columns = match stmt {
            Stmt::Sql(s, _) if matches!(*s, Statement::Query(_)) => {
                self.run_query(*s, false).await?.0
            }
            _ => Vec::new(),
        };
        Ok(PreparedInfo {
            params: (0..n)
                .map(|i| {
                    ColumnMeta::new(
                        format!("?{i}"),
                        mysql_common::constants::ColumnType::MYSQL_TYPE_VAR_STRING,
                    )
                })
                .collect(),
            columns,
            statement: PreparedSql {
                sql: sql.to_string(),
                params: n,
                template: super::prepared::Template::parse(sql).map(Arc::new),
                point: Default::default(),
            },
        })
    }

    async fn execute_prepared(
        &mut self,
        stmt: &PreparedSql,
        params: Vec<Value>,
    ) -> Result<Outcome, SqlError> {
        if params.len() != stmt.params {
            return Err(SqlError::wrong_arguments("mysqld_stmt_execute"));
        }
        let sql = substitute(&stmt.sql, &params)?;
        let Some(template) = &stmt.template else {
            return self.execute(Self::classify(&sql)?).await;
        };
        if let Some((plan, reused)) = stmt.point.get(self, template)
            && let Some(key) = template.value(&plan.key, &params)
        {
            let point = super::prepared::PointExecution {
                plan,
                reused,
                key,
                template: template.clone(),
                params,
                text: sql,
            };
            return self.execute(Stmt::Point(Box::new(point))).await;
        }
        let stmt = match template.bind(&params) {
            Some(bound) => Stmt::Sql(Box::new(bound), sql),
            None => Self::classify(&sql)?,
        };
        self.execute(stmt).await
    }

    fn use_database(&mut self, db: &str) -> Result<(), SqlError> {
        if !self.engine.with_meta(|m| catalog::database_exists(m, db)) {
            return Err(SqlError::new(
                1049,
                "42000",
                format!("Unknown database '{db}'"),
            ));
        }
        if let Ok(mut s) = self.shared.lock() {
            s.db = Some(db.to_string());
        }
        Ok(())
    }

    fn database(&self) -> Option<String> {
        self.db()
    }

    async fn field_list(
        &mut self,
        table: &str,
        wildcard: &str,
    ) -> Result<Vec<ColumnMeta>, SqlError> {
        let db = self.require_db()?;
        let t = self.engine.table(&db, table)?;
        Ok(t.meta
            .schema()
            .fields()
            .iter()
            .filter(|f| wildcard.is_empty() || catalog::like(wildcard, f.name()))
            .map(|f| ColumnMeta::for_field(f))
            .collect())
    }

    fn status(&self) -> SessionStatus {
        SessionStatus {
            in_transaction: self.txn.is_some(),
            autocommit: self.autocommit(),
        }
    }

    async fn reset(&mut self) {
        self.txn = None;
        self.diagnostics.clear();
        self.published_counts = (0, 0);
        if let Ok(mut v) = self.vars.lock() {
            *v = Vars::default();
        }
        self.set_last_insert_id(0);
    }

    async fn close(self) {
        // An open transaction simply goes away: nothing of it was logged.
    }

    fn wait_timeout(&self) -> Duration {
        let secs = self
            .vars
            .lock()
            .ok()
            .and_then(|v| v.get("wait_timeout"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(28_800u64);
        Duration::from_secs(secs.max(1))
    }
}

//! The contract between the protocol layer and an engine. The protocol knows
//! nothing of storage or SQL semantics: it authenticates against
//! [`Engine::account`], hands statements to a [`Session`], and streams what
//! comes back.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

pub use mysql_common::value::Value;

use super::auth::Credentials;
use super::error::SqlError;
use super::resultset::ColumnMeta;
use super::server::{Flag, Registry};
pub use super::wire::Done;

/// Who is connected, and a handle on the server for KILL / SHOW PROCESSLIST.
#[derive(Clone)]
pub struct SessionContext {
    pub connection_id: u32,
    pub user: String,
    pub host: String,
    pub registry: Arc<Registry>,
    /// Raised by `KILL QUERY` on this connection (lowered as each statement
    /// starts).
    pub kill_query: Arc<Flag>,
}

pub trait Engine: Send + Sync + 'static {
    type Session: Session;

    /// The account `user` connecting from `host`, if it may connect at all.
    fn account(&self, user: &str, host: &str) -> Option<Credentials>;

    fn open_session(&self, ctx: SessionContext) -> Result<Self::Session, SqlError>;
}

/// Rows of a result set: the column definitions, then batches on demand
/// (pulled only as fast as the client reads).
pub struct RowStream {
    pub columns: Vec<ColumnMeta>,
    pub batches: BoxStream<'static, Result<RecordBatch, SqlError>>,
}

/// Receives the bytes of `LOAD DATA LOCAL INFILE` as the client sends them.
pub trait InfileSink: Send {
    fn write<'a>(&'a mut self, chunk: &'a [u8]) -> BoxFuture<'a, Result<(), SqlError>>;
    fn finish(self: Box<Self>) -> BoxFuture<'static, Result<Done, SqlError>>;
}

pub enum Outcome {
    Done(Done),
    Rows(RowStream),
    /// Ask the client for a local file and feed it to the sink.
    LocalInfile {
        filename: String,
        sink: Box<dyn InfileSink>,
    },
}

/// What a prepared statement takes and returns.
pub struct PreparedInfo<P> {
    pub params: Vec<ColumnMeta>,
    pub columns: Vec<ColumnMeta>,
    pub statement: P,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStatus {
    pub in_transaction: bool,
    pub autocommit: bool,
}

pub trait Session: Send + 'static {
    /// One parsed statement of a COM_QUERY.
    type Statement: Send;
    type Prepared: Send + Sync + 'static;

    /// Splits and parses a query; more than one statement only if `multi`.
    fn parse(&mut self, sql: &str, multi: bool) -> Result<Vec<Self::Statement>, SqlError>;

    /// The text of a statement, for SHOW PROCESSLIST.
    fn describe(&self, stmt: &Self::Statement) -> String;

    fn execute(
        &mut self,
        stmt: Self::Statement,
    ) -> impl Future<Output = Result<Outcome, SqlError>> + Send;

    fn prepare(
        &mut self,
        sql: &str,
    ) -> impl Future<Output = Result<PreparedInfo<Self::Prepared>, SqlError>> + Send;

    fn execute_prepared(
        &mut self,
        stmt: &Self::Prepared,
        params: Vec<Value>,
    ) -> impl Future<Output = Result<Outcome, SqlError>> + Send;

    /// COM_INIT_DB and `USE`.
    fn use_database(&mut self, db: &str) -> Result<(), SqlError>;

    fn database(&self) -> Option<String>;

    /// COM_FIELD_LIST: the columns of `table` whose names match `wildcard`.
    fn field_list(
        &mut self,
        table: &str,
        wildcard: &str,
    ) -> impl Future<Output = Result<Vec<ColumnMeta>, SqlError>> + Send;

    fn status(&self) -> SessionStatus;

    /// COM_RESET_CONNECTION: roll back, forget variables and temporary state.
    fn reset(&mut self) -> impl Future<Output = ()> + Send;

    /// The connection is going away (quit, kill, error): roll back.
    fn close(self) -> impl Future<Output = ()> + Send;

    /// Idle time after which the connection is closed (`wait_timeout`).
    fn wait_timeout(&self) -> Duration {
        Duration::from_secs(28_800)
    }
}

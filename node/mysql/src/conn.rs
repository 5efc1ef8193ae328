//! One client connection: handshake, then commands until quit, kill,
//! `wait_timeout`, or a protocol error (which ends only this connection).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::{BufMutExt, ParseBuf};
use tokio::net::TcpStream;

use super::error::{ProtoError, SqlError};
use super::handshake::{self, Authed};
use super::packet::PacketIo;
use super::resultset::{ColumnMeta, Encoder};
use super::server::{ConnState, Server};
use super::session::{Engine, InfileSink, Outcome, RowStream, Session};
use super::stmt::Statement;
use super::stream::NetStream;
use super::wire::{self, Done};

const COM_QUIT: u8 = 0x01;
const COM_INIT_DB: u8 = 0x02;
const COM_QUERY: u8 = 0x03;
const COM_FIELD_LIST: u8 = 0x04;
const COM_STATISTICS: u8 = 0x09;
const COM_PROCESS_KILL: u8 = 0x0c;
const COM_DEBUG: u8 = 0x0d;
const COM_PING: u8 = 0x0e;
const COM_CHANGE_USER: u8 = 0x11;
const COM_STMT_PREPARE: u8 = 0x16;
const COM_STMT_EXECUTE: u8 = 0x17;
const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
const COM_STMT_CLOSE: u8 = 0x19;
const COM_STMT_RESET: u8 = 0x1a;
const COM_SET_OPTION: u8 = 0x1b;
const COM_RESET_CONNECTION: u8 = 0x1f;

/// Rows encoded between two checks for a full buffer.
const ROWS_PER_STEP: usize = 256;

pub async fn run<E: Engine>(server: Arc<Server<E>>, tcp: TcpStream, peer: SocketAddr) {
    let _ = tcp.set_nodelay(true);
    let state = server.registry.register(peer.ip().to_string());
    let outcome = tokio::time::timeout(
        server.config.connect_timeout,
        handshake::accept(&server, tcp, state.id, &state.host),
    )
    .await;
    let result = match outcome {
        Err(_) => Err(ProtoError::Timeout),
        Ok(Err(e)) => Err(e),
        Ok(Ok(authed)) => Conn::start(server.clone(), state.clone(), authed).await,
    };
    match result {
        Ok(()) | Err(ProtoError::Closed) | Err(ProtoError::Killed) => {}
        Err(e) => tracing::debug!(id = state.id, peer = %peer, error = %e, "connection ended"),
    }
    server.registry.unregister(state.id);
}

struct Conn<E: Engine> {
    server: Arc<Server<E>>,
    state: Arc<ConnState>,
    io: PacketIo<NetStream>,
    caps: CapabilityFlags,
    session: E::Session,
    statements: HashMap<u32, Statement<<E::Session as Session>::Prepared>>,
    next_statement: u32,
    multi_statements: bool,
    nonce: [u8; 20],
    started: std::time::Instant,
}

impl<E: Engine> Conn<E> {
    async fn start(
        server: Arc<Server<E>>,
        state: Arc<ConnState>,
        a: Authed,
    ) -> Result<(), ProtoError> {
        let Authed {
            mut io,
            caps,
            user,
            db,
            nonce,
        } = a;
        let mut session = match server
            .engine
            .open_session(state.context(&user, &server.registry))
        {
            Ok(s) => s,
            Err(e) => return Err(handshake::refuse(&mut io, e).await),
        };
        if let Some(db) = &db
            && let Err(e) = session.use_database(db)
        {
            session.close().await;
            return Err(handshake::refuse(&mut io, e).await);
        }
        state.set_db(session.database());
        let mut conn = Conn {
            multi_statements: caps.contains(CapabilityFlags::CLIENT_MULTI_STATEMENTS),
            server,
            state,
            io,
            caps,
            session,
            statements: HashMap::new(),
            next_statement: 1,
            nonce,
            started: std::time::Instant::now(),
        };
        let status = conn.status();
        conn.io
            .write_with(|b| wire::ok(b, 0x00, &Done::default(), status));
        let result = async {
            conn.io.flush().await?;
            conn.serve().await
        }
        .await;
        conn.session.close().await;
        result
    }

    fn status(&self) -> StatusFlags {
        let s = self.session.status();
        let mut f = StatusFlags::empty();
        if s.in_transaction {
            f |= StatusFlags::SERVER_STATUS_IN_TRANS;
        }
        if s.autocommit {
            f |= StatusFlags::SERVER_STATUS_AUTOCOMMIT;
        }
        f
    }

    /// The status flags, with "more results follow" when `more`.
    fn status_more(&self, more: bool) -> StatusFlags {
        let mut status = self.status();
        if more {
            status |= StatusFlags::SERVER_MORE_RESULTS_EXISTS;
        }
        status
    }

    fn send_ok(&mut self, done: &Done, more: bool) {
        let status = self.status_more(more);
        self.io.write_with(|b| wire::ok(b, 0x00, done, status));
    }

    fn send_end_of_rows(&mut self, more: bool) {
        let (status, caps) = (self.status_more(more), self.caps);
        self.io
            .write_with(|b| wire::end_of_rows(b, caps, 0, status));
    }

    fn send_err(&mut self, e: &SqlError) {
        self.io.write_with(|b| wire::err(b, e));
    }

    async fn serve(&mut self) -> Result<(), ProtoError> {
        loop {
            self.io.reset_seq();
            self.state.set_command("Sleep", None);
            let wait = self.session.wait_timeout();
            let packet = tokio::select! {
                r = tokio::time::timeout(wait, self.io.read_packet()) => match r {
                    Ok(p) => p,
                    Err(_) => {
                        let e = SqlError::new(4031, "HY000", "The client was disconnected by the server because of inactivity. See wait_timeout and interactive_timeout for configuring this behavior.");
                        self.send_err(&e);
                        let _ = self.io.flush().await;
                        return Err(ProtoError::Timeout);
                    }
                },
                _ = self.state.kill_connection.raised() => return Err(ProtoError::Killed),
            };
            let packet = match packet {
                Ok(p) => p,
                Err(ProtoError::TooLarge(n)) => {
                    self.send_err(&SqlError::packet_too_large());
                    let _ = self.io.flush().await;
                    return Err(ProtoError::TooLarge(n));
                }
                Err(e) => return Err(e),
            };
            let Some((&command, body)) = packet.split_first() else {
                return Err(ProtoError::Malformed("empty command packet".into()));
            };
            if command == COM_QUIT {
                return Ok(());
            }
            self.command(command, body).await?;
            if self.state.kill_connection.is_raised() {
                let _ = self.io.flush().await;
                return Err(ProtoError::Killed);
            }
            self.io.flush().await?;
        }
    }

    async fn command(&mut self, command: u8, body: &[u8]) -> Result<(), ProtoError> {
        match command {
            COM_PING => self.send_ok(&Done::default(), false),
            COM_INIT_DB => {
                let db = String::from_utf8_lossy(body).into_owned();
                self.state.set_command("Init DB", Some(db.clone()));
                match self.session.use_database(&db) {
                    Ok(()) => {
                        self.state.set_db(self.session.database());
                        self.send_ok(&Done::default(), false)
                    }
                    Err(e) => self.send_err(&e),
                }
            }
            COM_QUERY => {
                let sql = wire::sql_text(body);
                self.query(&sql).await?;
            }
            COM_FIELD_LIST => self.field_list(body).await,
            COM_STATISTICS => {
                let text = format!(
                    "Uptime: {}  Threads: {}  Questions: 0  Slow queries: 0  Opens: 0  Open tables: 0  Queries per second avg: 0.000",
                    self.started.elapsed().as_secs().max(1),
                    self.server.registry.connections()
                );
                self.io.write_packet(text.as_bytes());
            }
            COM_PROCESS_KILL => match ParseBuf(body).checked_eat_u32_le() {
                Some(id) if self.server.registry.kill(id, false) => {
                    self.send_ok(&Done::default(), false)
                }
                Some(id) => self.send_err(&SqlError::new(
                    1094,
                    "HY000",
                    format!("Unknown thread id: {id}"),
                )),
                None => self.send_err(&SqlError::wrong_arguments("COM_PROCESS_KILL")),
            },
            COM_DEBUG => self.send_end_of_rows(false),
            COM_SET_OPTION => match body {
                [0, 0] | [1, 0] => {
                    self.multi_statements = body[0] == 0;
                    self.send_end_of_rows(false);
                }
                _ => self.send_err(&SqlError::wrong_arguments("COM_SET_OPTION")),
            },
            COM_RESET_CONNECTION => {
                self.statements.clear();
                self.session.reset().await;
                self.send_ok(&Done::default(), false);
            }
            COM_CHANGE_USER => self.change_user(body).await?,
            COM_STMT_PREPARE => {
                let sql = wire::sql_text(body);
                self.prepare(&sql).await;
            }
            COM_STMT_EXECUTE => self.execute(body).await?,
            COM_STMT_SEND_LONG_DATA => {
                // No reply; problems surface at execute.
                let mut b = ParseBuf(body);
                if let (Some(id), Some(param)) = (b.checked_eat_u32_le(), b.checked_eat_u16_le())
                    && let Some(s) = self.statements.get_mut(&id)
                    && (param as usize) < s.params.len()
                {
                    s.long_data.entry(param).or_default().extend_from_slice(b.0);
                }
            }
            COM_STMT_CLOSE => {
                if let Some(id) = ParseBuf(body).checked_eat_u32_le() {
                    self.statements.remove(&id);
                }
            }
            COM_STMT_RESET => {
                let id = ParseBuf(body).checked_eat_u32_le();
                match id.and_then(|id| self.statements.get_mut(&id)) {
                    Some(s) => {
                        s.long_data.clear();
                        self.send_ok(&Done::default(), false)
                    }
                    None => self.send_err(&SqlError::unknown_statement(
                        id.unwrap_or(0),
                        "mysqld_stmt_reset",
                    )),
                }
            }
            other => self.send_err(&SqlError::unknown_command(other)),
        }
        Ok(())
    }

    async fn query(&mut self, sql: &str) -> Result<(), ProtoError> {
        let statements = match self.session.parse(sql, self.multi_statements) {
            Ok(s) => s,
            Err(e) => {
                self.send_err(&e);
                return Ok(());
            }
        };
        let total = statements.len();
        if total == 0 {
            self.send_err(&SqlError::new(1065, "42000", "Query was empty"));
            return Ok(());
        }
        for (i, stmt) in statements.into_iter().enumerate() {
            let more = i + 1 < total;
            self.state
                .set_command("Query", Some(self.session.describe(&stmt)));
            self.state.kill_query.lower();
            let outcome = tokio::select! {
                r = self.session.execute(stmt) => r,
                _ = self.state.kill_query.raised() => Err(SqlError::interrupted()),
            };
            if !self.outcome(outcome, more, false).await? {
                break; // MySQL stops a multi-statement at its first error
            }
            self.io.flush_if_full().await?;
        }
        Ok(())
    }

    /// Sends what a statement produced; `false` if it failed.
    async fn outcome(
        &mut self,
        outcome: Result<Outcome, SqlError>,
        more: bool,
        binary: bool,
    ) -> Result<bool, ProtoError> {
        match outcome {
            Ok(Outcome::Done(done)) => {
                self.send_ok(&done, more);
                Ok(true)
            }
            Ok(Outcome::Rows(rows)) => self.rows(rows, more, binary).await,
            Ok(Outcome::LocalInfile { filename, sink }) => {
                self.local_infile(&filename, sink, more).await
            }
            Err(e) => {
                self.send_err(&e);
                Ok(false)
            }
        }
    }

    fn column_defs(&mut self, columns: &[ColumnMeta]) {
        for c in columns {
            self.io.write_with(|b| wire::column_def(b, c));
        }
        if !self.caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF) {
            let status = self.status();
            self.io.write_with(|b| wire::eof(b, 0, status));
        }
    }

    async fn rows(
        &mut self,
        rows: RowStream,
        more: bool,
        binary: bool,
    ) -> Result<bool, ProtoError> {
        let RowStream {
            columns,
            mut batches,
        } = rows;
        self.io
            .write_with(|b| b.put_lenenc_int(columns.len() as u64));
        self.column_defs(&columns);
        loop {
            let next = tokio::select! {
                b = batches.next() => b,
                _ = self.state.kill_query.raised() => Some(Err(SqlError::interrupted())),
            };
            let batch = match next {
                None => break,
                Some(Ok(b)) => b,
                Some(Err(e)) => {
                    self.send_err(&e);
                    return Ok(false);
                }
            };
            let encoder = match Encoder::new(&batch) {
                Ok(e) => e,
                Err(e) => {
                    self.send_err(&SqlError::internal(e.to_string()));
                    return Ok(false);
                }
            };
            let n = encoder.rows();
            let mut cols = encoder.columns();
            let mut at = 0;
            while at < n {
                let end = (at + ROWS_PER_STEP).min(n);
                let io = &mut self.io;
                cols.rows(&columns, at..end, binary, |f| io.write_with(f));
                at = end;
                // Waiting here for a slow client keeps memory bounded.
                self.io.flush_if_full().await?;
            }
        }
        self.send_end_of_rows(more);
        Ok(true)
    }

    async fn local_infile(
        &mut self,
        filename: &str,
        mut sink: Box<dyn InfileSink>,
        more: bool,
    ) -> Result<bool, ProtoError> {
        if !self.caps.contains(CapabilityFlags::CLIENT_LOCAL_FILES) {
            self.send_err(&SqlError::new(
                3948,
                "42000",
                "Loading local data is disabled; this must be enabled on both the client and server sides",
            ));
            return Ok(false);
        }
        self.io.write_with(|b| {
            b.push(0xFB);
            b.extend_from_slice(filename.as_bytes());
        });
        self.io.flush().await?;
        // The client sends the file in packets and ends with an empty one;
        // after a failure keep reading (and dropping) until that end.
        let mut failure = None;
        loop {
            let chunk = self.io.read_packet().await?;
            if chunk.is_empty() {
                break;
            }
            if failure.is_none()
                && let Err(e) = sink.write(&chunk).await
            {
                failure = Some(e);
            }
        }
        let result = match failure {
            Some(e) => Err(e),
            None => sink.finish().await,
        };
        match result {
            Ok(done) => {
                self.send_ok(&done, more);
                Ok(true)
            }
            Err(e) => {
                self.send_err(&e);
                Ok(false)
            }
        }
    }

    async fn field_list(&mut self, body: &[u8]) {
        let (table, wildcard) = match body.iter().position(|&b| b == 0) {
            Some(i) => (&body[..i], &body[i + 1..]),
            None => (body, &[][..]),
        };
        let table = String::from_utf8_lossy(table).into_owned();
        let wildcard = String::from_utf8_lossy(wildcard).into_owned();
        match self.session.field_list(&table, &wildcard).await {
            Ok(columns) => {
                for c in &columns {
                    // COM_FIELD_LIST definitions carry a (empty) default value.
                    self.io.write_with(|b| {
                        wire::column_def(b, c);
                        b.push(0xFB);
                    });
                }
                // Must be a real EOF (< 9 bytes) unless the client deprecated it,
                // or libmariadb waits forever.
                self.send_end_of_rows(false);
            }
            Err(e) => self.send_err(&e),
        }
    }

    async fn prepare(&mut self, sql: &str) {
        self.state.set_command("Prepare", Some(sql.to_string()));
        let info = match self.session.prepare(sql).await {
            Ok(info) => info,
            Err(e) => return self.send_err(&e),
        };
        let id = self.next_statement;
        self.next_statement = self.next_statement.wrapping_add(1).max(1);
        let (params, columns) = (info.params, info.columns);
        self.io.write_with(|b| {
            b.push(0x00);
            b.extend_from_slice(&id.to_le_bytes());
            b.extend_from_slice(&(columns.len() as u16).to_le_bytes());
            b.extend_from_slice(&(params.len() as u16).to_le_bytes());
            b.push(0x00);
            b.extend_from_slice(&0u16.to_le_bytes());
        });
        if !params.is_empty() {
            self.column_defs(&params);
        }
        if !columns.is_empty() {
            self.column_defs(&columns);
        }
        self.statements
            .insert(id, Statement::new(info.statement, params));
    }

    async fn execute(&mut self, body: &[u8]) -> Result<(), ProtoError> {
        let Some(id) = ParseBuf(body).checked_eat_u32_le() else {
            self.send_err(&SqlError::wrong_arguments("mysqld_stmt_execute"));
            return Ok(());
        };
        let Some(stmt) = self.statements.get_mut(&id) else {
            self.send_err(&SqlError::unknown_statement(id, "mysqld_stmt_execute"));
            return Ok(());
        };
        let params = match stmt.bind(&body[4..]) {
            Ok(p) => p,
            Err(e) => {
                self.io.write_with(|b| wire::err(b, &e));
                return Ok(());
            }
        };
        self.state.set_command("Execute", None);
        self.state.kill_query.lower();
        let outcome = tokio::select! {
            r = self.session.execute_prepared(&stmt.prepared, params) => r,
            _ = self.state.kill_query.raised() => Err(SqlError::interrupted()),
        };
        self.outcome(outcome, false, true).await?;
        Ok(())
    }

    async fn change_user(&mut self, body: &[u8]) -> Result<(), ProtoError> {
        let mut buf = ParseBuf(body);
        let user = String::from_utf8_lossy(buf.eat_null_str()).into_owned();
        let data = if self
            .caps
            .contains(CapabilityFlags::CLIENT_SECURE_CONNECTION)
        {
            let n = buf.checked_eat_u8().unwrap_or(0) as usize;
            buf.checked_eat(n).unwrap_or_default().to_vec()
        } else {
            buf.eat_null_str().to_vec()
        };
        let db = String::from_utf8_lossy(buf.eat_null_str()).into_owned();
        let _charset = buf.checked_eat_u16_le();
        let plugin = if self.caps.contains(CapabilityFlags::CLIENT_PLUGIN_AUTH) && !buf.is_empty() {
            String::from_utf8_lossy(buf.eat_null_str()).into_owned()
        } else {
            super::auth::NATIVE.to_string()
        };
        let host = self.state.host.clone();
        let Some(creds) = self.server.engine.account(&user, &host) else {
            return Err(handshake::refuse(
                &mut self.io,
                SqlError::access_denied(&user, &host, !data.is_empty()),
            )
            .await);
        };
        let nonce = self.nonce;
        handshake::authenticate(
            &self.server,
            &mut self.io,
            &creds,
            &user,
            &host,
            &plugin,
            data,
            &nonce,
        )
        .await?;
        // A new user gets a new session: nothing of the old one survives.
        self.statements.clear();
        let ctx = self.state.context(&user, &self.server.registry);
        let session = match self.server.engine.open_session(ctx) {
            Ok(s) => s,
            Err(e) => return Err(handshake::refuse(&mut self.io, e).await),
        };
        let old = std::mem::replace(&mut self.session, session);
        old.close().await;

        if !db.is_empty()
            && let Err(e) = self.session.use_database(&db)
        {
            self.send_err(&e);
            return Ok(());
        }
        self.state.set_db(self.session.database());
        self.send_ok(&Done::default(), false);
        Ok(())
    }
}

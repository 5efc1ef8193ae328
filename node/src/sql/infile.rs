//! LOAD DATA [LOCAL] INFILE: MySQL's field/line/escape rules, parsed as the
//! bytes arrive and committed in large batches straight into columnar form.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use floe_storage::TableId;
use futures::FutureExt;
use futures::future::BoxFuture;

use super::catalog::TableMeta;
use super::dml::{build_rows, default_text, rows_batch};
use super::engine::{Held, SqlEngine, WriteSet};
use super::session::SqlSession;
use super::text::{Token, Tokens};
use crate::mysql::session::{InfileSink, Outcome};
use crate::mysql::{Done, SqlError};

/// Rows committed together (a LOAD DATA larger than this commits in parts).
const COMMIT_ROWS: usize = 262_144;

#[derive(Clone, Debug)]
struct Format {
    field_term: Vec<u8>,
    enclosed: Option<u8>,
    escape: Option<u8>,
    line_start: Vec<u8>,
    line_term: Vec<u8>,
    ignore_lines: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OnDuplicate {
    Error,
    Ignore,
    Replace,
}

struct Loader {
    engine: Arc<SqlEngine>,
    table: TableId,
    meta: Arc<TableMeta>,
    /// Field i goes to this column (None: discarded, e.g. `@dummy`).
    targets: Vec<Option<usize>>,
    fmt: Format,
    dup: OnDuplicate,
    buf: Vec<u8>,
    fields: Fields,
    pending: Pending,
    /// The part being committed in the background.
    in_flight: Option<tokio::task::JoinHandle<Result<Committed, SqlError>>>,
    skipped_lines: u64,
    loaded: u64,
    skipped_dups: u64,
}

fn term_at(data: &[u8], i: usize, term: &[u8]) -> Option<bool> {
    // Some(true) match, Some(false) no match, None: data ends inside a possible match.
    if term.is_empty() {
        return Some(false);
    }
    let avail = &data[i..];
    if avail.len() >= term.len() {
        return Some(avail.starts_with(term));
    }
    if term.starts_with(avail) {
        None
    } else {
        Some(false)
    }
}

fn unescape(c: u8) -> u8 {
    match c {
        b'0' => 0,
        b'b' => 8,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'Z' => 26,
        other => other,
    }
}

/// The fields of one row: their bytes one after another, and where each
/// is (`None`: NULL). Reused from row to row.
#[derive(Default)]
struct Fields {
    bytes: Vec<u8>,
    spans: Vec<Option<(usize, usize)>>,
}

/// Rows read and not yet committed, column by column: a value's text lies
/// in its column's buffer (no allocation per value).
struct Pending {
    rows: usize,
    text: Vec<String>,
    spans: Vec<Vec<Option<(usize, usize)>>>,
}

impl Pending {
    fn new(columns: usize) -> Pending {
        Pending {
            rows: 0,
            text: vec![String::new(); columns],
            spans: vec![Vec::new(); columns],
        }
    }

    /// The values, column by column.
    fn columns(&self) -> Vec<Vec<Option<Cow<'_, str>>>> {
        self.spans
            .iter()
            .zip(&self.text)
            .map(|(spans, text)| {
                spans
                    .iter()
                    .map(|s| s.map(|(a, b)| Cow::Borrowed(&text[a..b])))
                    .collect()
            })
            .collect()
    }

    fn clear(&mut self) {
        self.rows = 0;
        self.text.iter_mut().for_each(String::clear);
        self.spans.iter_mut().for_each(Vec::clear);
    }

    fn push(&mut self, column: usize, value: Option<&str>) {
        let text = &mut self.text[column];
        let span = value.map(|v| {
            text.push_str(v);
            (text.len() - v.len(), text.len())
        });
        self.spans[column].push(span);
    }
}

/// The rows of one part of a load.
enum Rows {
    /// Made into a batch while the part before was committed.
    Built(RecordBatch),
    /// Text, made into a batch under the write lock (AUTO_INCREMENT ids are
    /// given out in commit order).
    Text(Pending),
}

/// A part of a load, committed.
struct Committed {
    /// Its text buffers, for the next part.
    buffers: Option<Pending>,
    loaded: u64,
    skipped: u64,
}

/// What committing one part of a load needs.
struct Part {
    engine: Arc<SqlEngine>,
    table: TableId,
    meta: Arc<TableMeta>,
    dup: OnDuplicate,
}

impl Part {
    /// Commits the part's rows.
    async fn commit(self, rows: Rows) -> Result<Committed, SqlError> {
        let engine = self.engine;
        let mut w = Held::Exclusive(engine.lock().await);
        let (mut batch, buffers) = match rows {
            Rows::Built(batch) => (batch, None),
            Rows::Text(pending) => {
                let columns = pending.columns();
                let built = build_rows(
                    &engine,
                    &mut w,
                    self.table,
                    &self.meta,
                    columns,
                    pending.rows,
                );
                (built?.0, Some(pending))
            }
        };
        let mut ws = WriteSet::default();
        let mut skipped = 0;
        if self.dup != OnDuplicate::Error {
            let dups = engine.find_duplicate(&mut w, self.table, &batch).await?;
            if self.dup == OnDuplicate::Replace {
                ws.deletes
                    .insert(self.table, dups.iter().flatten().map(|d| d.row).collect());
            } else {
                let keep: BooleanArray = dups.iter().map(|d| Some(d.is_none())).collect();
                let before = batch.num_rows();
                batch = filter_record_batch(&batch, &keep)
                    .map_err(|e| SqlError::internal(e.to_string()))?;
                skipped = (before - batch.num_rows()) as u64;
            }
        }
        let loaded = batch.num_rows() as u64;
        ws.inserts.insert(self.table, vec![batch]);
        engine.commit(w.exclusive()?, &ws).await?;
        drop(w);
        Ok(Committed {
            buffers,
            loaded,
            skipped,
        })
    }
}

impl Format {
    /// Parses one row from `data` into `out`; returns the bytes it took,
    /// `None` if more bytes are needed.
    fn row(&self, data: &[u8], eof: bool, out: &mut Fields) -> Option<usize> {
        out.bytes.clear();
        out.spans.clear();
        let mut i = 0;
        if !self.line_start.is_empty() {
            let p = data
                .windows(self.line_start.len())
                .position(|w| w == self.line_start.as_slice())?;
            i = p + self.line_start.len();
        }
        loop {
            let start = out.bytes.len();
            let value = &mut out.bytes;
            let mut quoted = false;
            if let Some(q) = self.enclosed
                && data.get(i) == Some(&q)
            {
                quoted = true;
                i += 1;
                loop {
                    let c = *data.get(i)?;
                    if Some(c) == self.escape {
                        value.push(unescape(*data.get(i + 1)?));
                        i += 2;
                    } else if c == q {
                        if data.get(i + 1) == Some(&q) {
                            value.push(q);
                            i += 2;
                        } else if data.get(i + 1).is_none() && !eof {
                            return None;
                        } else {
                            i += 1;
                            break;
                        }
                    } else {
                        value.push(c);
                        i += 1;
                    }
                }
            }
            // Unquoted text (or anything after a closing quote) up to a terminator.
            let mut null = false;
            let stops = [
                self.escape,
                self.field_term.first().copied(),
                self.line_term.first().copied(),
            ];
            loop {
                // Bytes that start no terminator or escape are taken as a run.
                let run = data[i.min(data.len())..]
                    .iter()
                    .position(|c| stops.contains(&Some(*c)))
                    .map_or(data.len(), |p| i + p);
                if run > i {
                    value.extend_from_slice(&data[i..run]);
                    i = run;
                }
                if i >= data.len() {
                    if !eof {
                        return None;
                    }
                    break;
                }
                match (
                    term_at(data, i, &self.field_term),
                    term_at(data, i, &self.line_term),
                ) {
                    (None, _) | (_, None) if !eof => return None,
                    (Some(true), _) | (_, Some(true)) => break,
                    _ => {}
                }
                let c = data[i];
                if Some(c) == self.escape && !quoted {
                    let n = *data.get(i + 1).or(if eof { Some(&b'\\') } else { None })?;
                    if n == b'N' && value.len() == start {
                        null = true;
                    } else {
                        value.push(unescape(n));
                    }
                    i += 2;
                } else {
                    value.push(c);
                    i += 1;
                }
            }
            if !quoted && self.enclosed.is_some() && &value[start..] == b"NULL" {
                null = true;
            }
            if null {
                value.truncate(start);
                out.spans.push(None);
            } else {
                out.spans.push(Some((start, value.len())));
            }
            if term_at(data, i, &self.field_term) == Some(true) {
                i += self.field_term.len();
                continue;
            }
            if term_at(data, i, &self.line_term) == Some(true) {
                i += self.line_term.len();
            }
            return Some(i.min(data.len()));
        }
    }
}

impl Loader {
    fn take_rows(&mut self, eof: bool) {
        let mut at = 0;
        let columns = self.meta.columns.len();
        let mut given = vec![false; columns];
        while at < self.buf.len() {
            let Some(used) = self.fmt.row(&self.buf[at..], eof, &mut self.fields) else {
                break;
            };
            if used == 0 {
                break;
            }
            at += used;
            if self.skipped_lines < self.fmt.ignore_lines {
                self.skipped_lines += 1;
                continue;
            }
            given.fill(false);
            let fields = &self.fields;
            for (f, target) in fields.spans.iter().zip(&self.targets) {
                let Some(c) = *target else { continue };
                let value = f.map(|(a, b)| String::from_utf8_lossy(&fields.bytes[a..b]));
                if std::mem::replace(&mut given[c], true) {
                    // A column named twice keeps its last field.
                    self.pending.spans[c].pop();
                }
                self.pending.push(c, value.as_deref());
            }
            for (c, &given) in given.iter().enumerate() {
                if !given {
                    let value = default_text(&self.meta, c).unwrap_or(None);
                    self.pending.push(c, value.as_deref());
                }
            }
            self.pending.rows += 1;
        }
        self.buf.drain(..at);
    }

    /// Commits the rows read so far in the background (parsing goes on
    /// meanwhile), after the part before it is committed.
    async fn commit(&mut self) -> Result<(), SqlError> {
        if self.pending.rows == 0 {
            return Ok(());
        }
        let rows = if self.meta.auto_increment().is_none() {
            // Parsing and building run here while the part being committed
            // moves to another thread; otherwise the two halves of a load
            // take turns on one core.
            let built =
                crate::blocking::in_place(|| rows_batch(&self.meta, &self.pending.columns()));
            self.pending.clear();
            match built {
                Ok(batch) => Rows::Built(batch),
                Err(e) => {
                    // The part before lands (or fails) first, as if in order.
                    self.settle().await?;
                    return Err(e);
                }
            }
        } else {
            let empty = Pending::new(self.meta.columns.len());
            Rows::Text(std::mem::replace(&mut self.pending, empty))
        };
        if let Some(buffers) = self.settle().await? {
            self.pending = buffers;
        }
        let part = Part {
            engine: self.engine.clone(),
            table: self.table,
            meta: self.meta.clone(),
            dup: self.dup,
        };
        self.in_flight = Some(tokio::spawn(part.commit(rows)));
        Ok(())
    }

    /// Waits for the part in flight; returns its text buffers, emptied.
    async fn settle(&mut self) -> Result<Option<Pending>, SqlError> {
        let Some(part) = self.in_flight.take() else {
            return Ok(None);
        };
        let Committed {
            mut buffers,
            loaded,
            skipped,
        } = part
            .await
            .map_err(|e| SqlError::internal(format!("LOAD DATA commit failed: {e}")))??;
        self.skipped_dups += skipped;
        let before = self.loaded;
        self.loaded += loaded;
        if self.loaded / 1_000_000 > before / 1_000_000 {
            tracing::info!(table = %self.meta.name, rows = self.loaded, "LOAD DATA progress");
        }
        if let Some(b) = &mut buffers {
            b.clear();
        }
        Ok(buffers)
    }

    fn done(&self) -> Done {
        Done {
            affected_rows: self.loaded,
            info: format!(
                "Records: {}  Deleted: 0  Skipped: {}  Warnings: 0",
                self.loaded + self.skipped_dups,
                self.skipped_dups
            ),
            ..Done::default()
        }
    }
}

impl Drop for Loader {
    /// A load that ends early (the client went away) still lands or fails
    /// the part in flight; its outcome goes to the log, not nowhere.
    fn drop(&mut self) {
        let (Some(part), Ok(runtime)) =
            (self.in_flight.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let table = self.meta.name.clone();
        runtime.spawn(async move {
            match part.await {
                Ok(Ok(done)) => {
                    tracing::info!(%table, rows = done.loaded, "LOAD DATA: last part committed after the load ended");
                }
                Ok(Err(e)) => tracing::warn!(%table, "LOAD DATA: last part failed: {}", e.message),
                Err(e) => tracing::warn!(%table, "LOAD DATA: last part failed: {e}"),
            }
        });
    }
}

impl InfileSink for Loader {
    fn write<'a>(&'a mut self, chunk: &'a [u8]) -> BoxFuture<'a, Result<(), SqlError>> {
        async move {
            self.buf.extend_from_slice(chunk);
            crate::blocking::in_place(|| self.take_rows(false));
            if self.pending.rows >= COMMIT_ROWS {
                self.commit().await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn finish(mut self: Box<Self>) -> BoxFuture<'static, Result<Done, SqlError>> {
        async move {
            self.take_rows(true);
            if !self.buf.is_empty() {
                // A last line without its terminator.
                self.buf.extend_from_slice(&self.fmt.line_term.clone());
                self.take_rows(true);
            }
            self.commit().await?;
            self.settle().await?;
            Ok(self.done())
        }
        .boxed()
    }
}

fn byte_string(t: &mut Tokens) -> Result<Vec<u8>, SqlError> {
    match t.next() {
        Some(Token::Str(s)) => Ok(s.into_bytes()),
        _ => Err(SqlError::syntax("LOAD DATA expects a quoted string")),
    }
}

pub async fn load_data(s: &mut SqlSession, text: &str) -> Result<Outcome, SqlError> {
    let mut t = Tokens::new(text);
    t.eat_all(&["LOAD", "DATA"]);
    let _ = t.eat("LOW_PRIORITY") || t.eat("CONCURRENT");
    let local = t.eat("LOCAL");
    if !t.eat("INFILE") {
        return Err(SqlError::syntax("LOAD DATA needs INFILE"));
    }
    let file = String::from_utf8_lossy(&byte_string(&mut t)?).into_owned();
    let mut dup = if local {
        OnDuplicate::Ignore
    } else {
        OnDuplicate::Error
    };
    if t.eat("REPLACE") {
        dup = OnDuplicate::Replace;
    } else if t.eat("IGNORE") {
        dup = OnDuplicate::Ignore;
    }
    if !t.eat_all(&["INTO", "TABLE"]) {
        return Err(SqlError::syntax("LOAD DATA needs INTO TABLE"));
    }
    let (db, name) = t
        .qualified()
        .ok_or_else(|| SqlError::syntax("LOAD DATA needs a table"))?;
    let db = match db {
        Some(d) => d,
        None => s.require_db()?,
    };
    let table = s.engine.table(&db, &name)?;
    let mut fmt = Format {
        field_term: b"\t".to_vec(),
        enclosed: None,
        escape: Some(b'\\'),
        line_start: Vec::new(),
        line_term: b"\n".to_vec(),
        ignore_lines: 0,
    };
    if t.eat_all(&["CHARACTER", "SET"]) || t.eat("CHARSET") {
        t.name();
    }
    if t.eat("FIELDS") || t.eat("COLUMNS") {
        loop {
            if t.eat_all(&["TERMINATED", "BY"]) {
                fmt.field_term = byte_string(&mut t)?;
            } else if t.eat("OPTIONALLY") || t.peek().is_some_and(|x| x.is_word("ENCLOSED")) {
                t.eat_all(&["ENCLOSED", "BY"]);
                fmt.enclosed = byte_string(&mut t)?.first().copied();
            } else if t.eat_all(&["ESCAPED", "BY"]) {
                fmt.escape = byte_string(&mut t)?.first().copied();
            } else {
                break;
            }
        }
    }
    if t.eat("LINES") {
        loop {
            if t.eat_all(&["STARTING", "BY"]) {
                fmt.line_start = byte_string(&mut t)?;
            } else if t.eat_all(&["TERMINATED", "BY"]) {
                fmt.line_term = byte_string(&mut t)?;
            } else {
                break;
            }
        }
    }
    if t.eat("IGNORE") {
        if let Some(Token::Number(n)) = t.next() {
            fmt.ignore_lines = n.parse().unwrap_or(0);
        }
        let _ = t.eat("LINES") || t.eat("ROWS");
    }
    let meta = table.meta.clone();
    let mut targets = Vec::new();
    if t.eat_punct('(') {
        loop {
            match t.next() {
                Some(Token::Var(_)) => targets.push(None),
                Some(tok) => {
                    let n = tok.name().unwrap_or_default().to_string();
                    let c = meta.field(&n)?;
                    targets.push(Some(c));
                }
                None => break,
            }
            if !t.eat_punct(',') {
                break;
            }
        }
        t.eat_punct(')');
    } else {
        targets = (0..meta.columns.len()).map(Some).collect();
    }
    if t.eat("SET") {
        return Err(SqlError::new(
            1235,
            "42000",
            "LOAD DATA ... SET is not supported yet",
        ));
    }
    // LOAD DATA runs as its own transaction(s).
    s.commit_txn().await?;
    let pending = Pending::new(meta.columns.len());
    let mut loader = Box::new(Loader {
        engine: s.engine.clone(),
        table: table.id,
        meta,
        targets,
        fmt,
        dup,
        buf: Vec::new(),
        fields: Fields::default(),
        pending,
        in_flight: None,
        skipped_lines: 0,
        loaded: 0,
        skipped_dups: 0,
    });
    if local {
        return Ok(Outcome::LocalInfile {
            filename: file,
            sink: loader,
        });
    }
    let data = tokio::fs::read(&file).await.map_err(|e| {
        SqlError::new(
            29,
            "HY000",
            format!("File '{file}' not found (Errcode: {e})"),
        )
    })?;
    for chunk in data.chunks(1 << 20) {
        loader.write(chunk).await?;
    }
    loader.finish().await.map(Outcome::Done)
}

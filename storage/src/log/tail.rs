//! Following the log from another process. A tailer delivers every record up
//! to the writer's durable mark, in order, once each, and sleeps on inotify
//! (not a timer) until the writer publishes more.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::frame::{self, FILE_HEADER_LEN, Parsed};
use super::mark::{MARK_FILE, Mark, read_mark};
use super::reader::LogRecord;
use super::{LogFile, list_files};
use crate::Lsn;
use crate::error::{Error, Result};

/// The least room a read asks for (the buffer doubles past that as needed).
const READ_CHUNK: usize = 1 << 20;

struct Cursor {
    file: File,
    info: LogFile,
    /// File bytes `buf_offset..` live in `buf[..end]`; `pos` is the next unparsed one.
    buf: Vec<u8>,
    end: usize,
    pos: usize,
    buf_offset: u64,
}

pub struct Tailer {
    dir: PathBuf,
    next: Lsn,
    durable: Mark,
    mark: Option<File>,
    cursor: Option<Cursor>,
    waker: waker::Waker,
}

impl std::fmt::Debug for Tailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tailer")
            .field("dir", &self.dir)
            .field("next", &self.next)
            .field("durable", &self.durable)
            .finish()
    }
}

enum Step {
    Record(LogRecord),
    /// Nothing more is visible yet.
    Wait,
    /// The cursor moved (to another file or further in this one); try again.
    Again,
}

impl Tailer {
    /// Follows the log in `dir` starting with the record `from`.
    pub fn open(dir: &Path, from: Lsn) -> Result<Tailer> {
        std::fs::create_dir_all(dir).map_err(Error::io("create dir", dir))?;
        // Watch before the first read so that no publication slips between.
        let waker = waker::Waker::new(dir)?;
        Ok(Tailer {
            dir: dir.to_path_buf(),
            next: from.max(1),
            durable: Mark::default(),
            mark: None,
            cursor: None,
            waker,
        })
    }

    /// The newest durable lsn the writer has published, as last read.
    pub fn durable_lsn(&self) -> Lsn {
        self.durable.lsn
    }

    /// When the writer published [`Tailer::durable_lsn`] (microseconds since
    /// the Unix epoch; 0 before any).
    pub fn durable_at(&self) -> u64 {
        self.durable.at
    }

    /// Log bytes past what this tailer has delivered, in the file it reads
    /// and any later one: how far its consumer is behind, in bytes.
    pub fn unread_bytes(&self) -> u64 {
        let Some(c) = &self.cursor else {
            return 0;
        };
        let pos = c.buf_offset + c.pos as u64;
        let len = c.file.metadata().map_or(pos, |m| m.len());
        let mut unread = len.saturating_sub(pos);
        if c.info.end.is_some() {
            // Rare: the writer moved on to a later file that we have not opened.
            if let Ok(files) = list_files(&self.dir) {
                for f in files.iter().filter(|f| f.start > c.info.start) {
                    unread += std::fs::metadata(&f.path).map_or(0, |m| m.len());
                }
            }
        }
        unread
    }

    /// The next record, waiting up to `timeout` for one.
    pub fn next(&mut self, timeout: Duration) -> Result<Option<LogRecord>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.try_next()? {
                return Ok(Some(r));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            self.waker.wait(deadline - now);
        }
    }

    /// The next record if one is durable now.
    pub fn try_next(&mut self) -> Result<Option<LogRecord>> {
        // Bounded: each pass moves to a later file or further into this one.
        for _ in 0..1_000_000 {
            match self.step()? {
                Step::Record(r) => return Ok(Some(r)),
                Step::Wait => return Ok(None),
                Step::Again => {}
            }
        }
        Err(Error::corrupt(&self.dir, 0, "log tail makes no progress"))
    }

    fn refresh_mark(&mut self) {
        if self.mark.is_none() {
            self.mark = File::open(self.dir.join(MARK_FILE)).ok();
        }
        if let Some(f) = &self.mark {
            // A deposed writer may publish an older mark late; never go back.
            let mark = read_mark(f);
            if mark.lsn > self.durable.lsn {
                self.durable = mark;
            }
        }
    }

    fn step(&mut self) -> Result<Step> {
        if self.next > self.durable.lsn {
            self.refresh_mark();
            if self.next > self.durable.lsn {
                return Ok(Step::Wait);
            }
        }
        let Some(cursor) = &mut self.cursor else {
            return self.locate();
        };
        if cursor.info.end.is_some_and(|end| self.next >= end) {
            self.cursor = None;
            return Ok(Step::Again);
        }
        match frame::parse_frame(&cursor.buf[cursor.pos..cursor.end]) {
            Parsed::Record {
                lsn,
                kind,
                payload,
                size,
            } => {
                let at = cursor.buf_offset + cursor.pos as u64;
                if lsn > self.next || lsn < cursor.info.start {
                    return Err(Error::corrupt(
                        &cursor.info.path,
                        at,
                        format!("expected lsn {}, found {lsn}", self.next),
                    ));
                }
                let record = (lsn == self.next).then(|| LogRecord {
                    lsn,
                    kind,
                    payload: payload.to_vec(),
                });
                cursor.pos += size;
                match record {
                    Some(r) => {
                        self.next += 1;
                        Ok(Step::Record(r))
                    }
                    None => Ok(Step::Again), // before our start: skip
                }
            }
            outcome => {
                let bad = match outcome {
                    Parsed::Bad(reason) => Some(reason),
                    _ => None,
                };
                if read_more(cursor)? {
                    return Ok(Step::Again);
                }
                // The record is durable but not here: the writer moved on to a new file.
                let at = cursor.buf_offset + cursor.pos as u64;
                let path = cursor.info.path.clone();
                let end = list_files(&self.dir)?
                    .into_iter()
                    .find(|f| f.path == path)
                    .and_then(|f| f.end);
                if let Some(end) = end {
                    cursor.info.end = Some(end);
                    return Ok(Step::Again);
                }
                match bad {
                    Some(reason) => Err(Error::corrupt(&path, at, reason)),
                    None => Ok(Step::Wait),
                }
            }
        }
    }

    /// Opens the file that holds `self.next`.
    fn locate(&mut self) -> Result<Step> {
        let files = list_files(&self.dir)?;
        let Some(info) = files
            .iter()
            .rev()
            .find(|f| f.start <= self.next && f.end.is_none_or(|e| e > self.next))
            .cloned()
        else {
            if files.first().is_some_and(|f| f.start > self.next) {
                return Err(Error::corrupt(
                    &files[0].path,
                    0,
                    format!(
                        "log starts at lsn {}, after lsn {}",
                        files[0].start, self.next
                    ),
                ));
            }
            return Ok(Step::Wait);
        };
        let file = File::open(&info.path).map_err(Error::io("open", &info.path))?;
        let mut header = [0u8; FILE_HEADER_LEN];
        if file.read_exact_at(&mut header, 0).is_err() {
            return Ok(Step::Wait); // being created
        }
        frame::parse_file_header(&header).map_err(|r| Error::corrupt(&info.path, 0, r))?;
        self.cursor = Some(Cursor {
            file,
            info,
            buf: Vec::new(),
            end: 0,
            pos: 0,
            buf_offset: FILE_HEADER_LEN as u64,
        });
        Ok(Step::Again)
    }
}

/// Reads whatever the file has beyond the buffer; `false` if nothing.
fn read_more(c: &mut Cursor) -> Result<bool> {
    // Keep the unparsed bytes, at the front; grow (zeroing) only when short of room.
    c.buf.copy_within(c.pos..c.end, 0);
    c.end -= c.pos;
    c.buf_offset += c.pos as u64;
    c.pos = 0;
    if c.buf.len() - c.end < READ_CHUNK {
        c.buf.resize(c.end + READ_CHUNK.max(c.end), 0);
    }
    let at = c.buf_offset + c.end as u64;
    let mut got = 0;
    while c.end + got < c.buf.len() {
        match c.file.read_at(&mut c.buf[c.end + got..], at + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("read", &c.info.path)(e)),
        }
    }
    c.end += got;
    Ok(got > 0)
}

#[cfg(target_os = "linux")]
mod waker {
    use std::os::fd::{AsFd, AsRawFd};
    use std::path::Path;
    use std::time::Duration;

    use inotify::{Inotify, WatchMask};

    use crate::error::{Error, Result};

    /// Sleeps until something in the log directory changes.
    pub struct Waker {
        inotify: Inotify,
        buf: Vec<u8>,
    }

    impl Waker {
        pub fn new(dir: &Path) -> Result<Waker> {
            let inotify = Inotify::init().map_err(Error::io("inotify", dir))?;
            inotify
                .watches()
                .add(
                    dir,
                    WatchMask::MODIFY | WatchMask::CREATE | WatchMask::MOVED_TO,
                )
                .map_err(Error::io("inotify watch", dir))?;
            Ok(Waker {
                inotify,
                buf: vec![0; 4096],
            })
        }

        pub fn wait(&mut self, timeout: Duration) {
            let mut pfd = libc::pollfd {
                fd: self.inotify.as_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            // SAFETY: `pfd` is a valid pollfd for the duration of the call and
            // the count passed is 1.
            let ready = unsafe { libc::poll(&mut pfd, 1, ms) };
            if ready > 0 {
                // Drain so that the next wait blocks until new changes.
                while let Ok(events) = self.inotify.read_events(&mut self.buf) {
                    if events.count() == 0 {
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod waker {
    use std::path::Path;
    use std::time::Duration;

    use crate::error::Result;

    /// Without inotify: a short sleep.
    pub struct Waker;

    impl Waker {
        pub fn new(_dir: &Path) -> Result<Waker> {
            Ok(Waker)
        }

        pub fn wait(&mut self, timeout: Duration) {
            std::thread::sleep(timeout.min(Duration::from_millis(1)));
        }
    }
}

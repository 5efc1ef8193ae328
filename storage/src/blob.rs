//! Named immutable blobs on the volume: segments, manifests, lease records,
//! plugin binaries. The interface is what an object store offers (put, put if
//! absent, get, list, delete), so an `object_store` backend can replace
//! [`LocalDir`] without touching callers. Keys are `/`-separated paths.

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::buffer::Buffer;

use crate::error::{Error, Result};

pub trait BlobStore: Send + Sync + Debug {
    /// Stores `data` under `key`, replacing any previous blob, atomically and durably.
    fn put(&self, key: &str, data: &[u8]) -> Result<()>;
    /// Stores `data` only if `key` does not exist; `false` if it did. Atomic.
    fn put_if_absent(&self, key: &str, data: &[u8]) -> Result<bool>;
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    fn exists(&self, key: &str) -> Result<bool>;
    /// Names (not keys) of the blobs directly under `dir`, sorted.
    fn list(&self, dir: &str) -> Result<Vec<String>>;
    fn delete(&self, key: &str) -> Result<()>;
    /// The whole blob as an Arrow buffer, memory mapped where the backend allows.
    fn map(&self, key: &str) -> Result<Buffer>;
    /// Where the blob lives, for error messages.
    fn locate(&self, key: &str) -> PathBuf;
}

/// A volume directory on a local (or shared POSIX) file system.
#[derive(Debug)]
pub struct LocalDir {
    root: PathBuf,
    tmp_seq: AtomicU64,
}

impl LocalDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDir {
            root: root.into(),
            tmp_seq: AtomicU64::new(0),
        }
    }

    /// Writes `data` to a fresh temporary file beside `path` and syncs it.
    fn write_temp(&self, path: &Path, data: &[u8]) -> Result<PathBuf> {
        let dir = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(Error::io("create dir", dir))?;
        let seq = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("blob");
        let tmp = dir.join(format!(".{name}.{}.{seq}.tmp", std::process::id()));
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(Error::io("create", &tmp))?;
        f.write_all(data).map_err(Error::io("write", &tmp))?;
        f.sync_all().map_err(Error::io("fsync", &tmp))?;
        Ok(tmp)
    }
}

/// Makes a rename or a create in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("fsync dir", dir))
}

impl BlobStore for LocalDir {
    fn put(&self, key: &str, data: &[u8]) -> Result<()> {
        let path = self.locate(key);
        let tmp = self.write_temp(&path, data)?;
        fs::rename(&tmp, &path).map_err(Error::io("rename", &path))?;
        sync_dir(path.parent().unwrap_or(&self.root))
    }

    fn put_if_absent(&self, key: &str, data: &[u8]) -> Result<bool> {
        let path = self.locate(key);
        let tmp = self.write_temp(&path, data)?;
        // link(2) fails if the target exists: an atomic create of a complete file.
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_dir(path.parent().unwrap_or(&self.root))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(Error::io("link", &path)(e)),
        }
    }

    fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.locate(key);
        match fs::read(&path) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", &path)(e)),
        }
    }

    fn exists(&self, key: &str) -> Result<bool> {
        let path = self.locate(key);
        path.try_exists().map_err(Error::io("stat", &path))
    }

    fn list(&self, dir: &str) -> Result<Vec<String>> {
        let path = self.locate(dir);
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list", &path)(e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(Error::io("list", &path))?;
            if let Some(name) = entry.file_name().to_str()
                && !name.starts_with('.')
            {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.locate(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("delete", &path)(e)),
        }
    }

    fn map(&self, key: &str) -> Result<Buffer> {
        let path = self.locate(key);
        let file = File::open(&path).map_err(Error::io("open", &path))?;
        let len = file.metadata().map_err(Error::io("stat", &path))?.len();
        if len == 0 {
            return Ok(Buffer::from_vec(Vec::<u8>::new()));
        }
        // SAFETY: blobs are immutable once published (written to a temporary
        // file and renamed), so nobody modifies the mapped bytes while we hold them.
        let mmap = unsafe { memmap2::Mmap::map(&file) }.map_err(Error::io("mmap", &path))?;
        let ptr = std::ptr::NonNull::new(mmap.as_ptr() as *mut u8)
            .ok_or_else(|| Error::corrupt(&path, 0, "mmap returned null"))?;
        let len = mmap.len();
        // SAFETY: `ptr` and `len` describe the mapping, which the Arc keeps
        // alive (and unmodified, see above) for as long as the buffer exists.
        Ok(unsafe { Buffer::from_custom_allocation(ptr, len, Arc::new(mmap)) })
    }

    fn locate(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

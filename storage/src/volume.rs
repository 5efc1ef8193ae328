//! A volume: the directory (later, the object-store prefix) that the primary
//! and the readers share. Layout: `log/`, `segments/<table>/`, `manifests/`,
//! `lease/`, and `blobs/` for whatever else the node keeps (plugins).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::blob::{BlobStore, LocalDir};
use crate::checkpoint;
use crate::error::{Error, Result};
use crate::log;
use crate::state::State;

#[derive(Clone, Debug)]
pub struct Volume {
    root: PathBuf,
    store: Arc<dyn BlobStore>,
}

impl Volume {
    /// Opens (creating if needed) a volume in a local directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Volume> {
        let root = dir.as_ref().to_path_buf();
        for sub in ["log", "segments", "manifests", "lease", "blobs"] {
            let p = root.join(sub);
            std::fs::create_dir_all(&p).map_err(Error::io("create dir", &p))?;
        }
        Ok(Volume {
            store: Arc::new(LocalDir::new(&root)),
            root,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn log_dir(&self) -> PathBuf {
        self.root.join("log")
    }

    pub fn store(&self) -> &Arc<dyn BlobStore> {
        &self.store
    }

    /// The newest checkpoint's state, without the log after it.
    pub fn checkpointed_state(&self) -> Result<State> {
        match checkpoint::latest(self.store.as_ref())? {
            Some(m) => checkpoint::restore(self.store.clone(), &m),
            None => Ok(State::empty(self.store.clone())),
        }
    }

    /// The newest checkpoint plus every durable record after it (read-only:
    /// a torn tail is skipped, not cut).
    pub fn load_state(&self) -> Result<State> {
        let mut state = self.checkpointed_state()?;
        let from = state.applied_lsn() + 1;
        log::read_log(&self.log_dir(), from, |r| {
            state.apply_raw(r.lsn, r.kind, &r.payload).map(|_| ())
        })?;
        Ok(state)
    }
}

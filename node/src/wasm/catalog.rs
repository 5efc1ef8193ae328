//! Installed functions: catalog entries on the volume (`function/<name>`)
//! naming a plugin blob (`plugins/<sha256>.wasm`), and the plugins this node
//! has loaded from them. Every node reads the same entries from the log, so
//! a function installed on the primary reaches every reader.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use floe_storage::blob::BlobStore;
use floe_storage::record::Ddl;
use serde::{Deserialize, Serialize};

use super::error::PluginError;
use super::plugin::Plugin;
use super::runtime::{PluginOptions, Runtime, digest};

pub const PREFIX: &str = "function/";

/// One `CREATE FUNCTION`, as the catalog keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Installed {
    /// Lower case, as MySQL's function names are case-insensitive.
    pub name: String,
    pub aggregate: bool,
    /// STRING, INTEGER, REAL or DECIMAL, as declared.
    pub returns: String,
    pub soname: String,
    pub sha256: String,
    /// Microseconds since the epoch.
    pub created: i64,
}

impl Installed {
    pub fn key(name: &str) -> String {
        format!("{PREFIX}{}", name.to_ascii_lowercase())
    }

    pub fn blob_key(&self) -> String {
        blob_key(&self.sha256)
    }

    pub fn record(&self) -> Ddl {
        Ddl::SetMeta {
            key: Self::key(&self.name),
            value: serde_json::to_vec(self).ok(),
        }
    }

    pub fn drop_record(name: &str) -> Ddl {
        Ddl::SetMeta {
            key: Self::key(name),
            value: None,
        }
    }
}

pub fn blob_key(sha256: &str) -> String {
    format!("plugins/{sha256}.wasm")
}

/// The catalog's function entries (key, JSON), in key order.
pub fn entries(meta: &BTreeMap<String, Vec<u8>>) -> impl Iterator<Item = (&str, &[u8])> {
    meta.range::<str, _>((
        std::ops::Bound::Included(PREFIX),
        std::ops::Bound::Unbounded,
    ))
    .take_while(|(k, _)| k.starts_with(PREFIX))
    .map(|(k, v)| (k.as_str(), v.as_slice()))
}

/// The functions installed in a catalog, by name.
pub fn installed(meta: &BTreeMap<String, Vec<u8>>) -> Vec<Installed> {
    entries(meta)
        .filter_map(|(_, v)| serde_json::from_slice(v).ok())
        .collect()
}

pub fn find(meta: &BTreeMap<String, Vec<u8>>, name: &str) -> Option<Installed> {
    meta.get(&Installed::key(name))
        .and_then(|v| serde_json::from_slice(v).ok())
}

/// The node's plugins: the runtime and what it has loaded, by content hash.
pub struct Plugins {
    pub options: PluginOptions,
    /// Made at the first plugin this node loads: a node without plugins
    /// pays for no engine and no epoch thread.
    runtime: OnceLock<Arc<Runtime>>,
    store: Arc<dyn BlobStore>,
    loaded: Mutex<HashMap<String, Arc<Plugin>>>,
    /// Held while compiling, so concurrent sessions compile a plugin once.
    loading: Mutex<()>,
}

impl Plugins {
    pub fn new(
        options: PluginOptions,
        store: Arc<dyn BlobStore>,
    ) -> Result<Arc<Plugins>, PluginError> {
        Ok(Arc::new(Plugins {
            options,
            runtime: OnceLock::new(),
            store,
            loaded: Mutex::new(HashMap::new()),
            loading: Mutex::new(()),
        }))
    }

    /// Reads `SONAME 'file'` from the plugin directory, as MySQL reads
    /// `plugin_dir`: a bare file name, no paths.
    pub fn read_soname(&self, soname: &str) -> Result<Vec<u8>, PluginError> {
        if soname.is_empty() || soname.contains(['/', '\\']) || soname == "." || soname == ".." {
            return Err(PluginError::Path);
        }
        let Some(dir) = &self.options.dir else {
            return Err(PluginError::Open {
                file: soname.to_string(),
                reason: "this node has no --plugin-dir".into(),
            });
        };
        std::fs::read(Path::new(dir).join(soname)).map_err(|e| PluginError::Open {
            file: soname.to_string(),
            reason: e.to_string(),
        })
    }

    /// Loads a plugin's bytes (validating them) and keeps it by hash.
    pub fn load_bytes(
        &self,
        file: &str,
        wasm: &[u8],
    ) -> Result<(String, Arc<Plugin>), PluginError> {
        let sha = digest(wasm);
        let _loading = self.loading.lock();
        if let Some(p) = self.loaded.lock().ok().and_then(|l| l.get(&sha).cloned()) {
            return Ok((sha, p));
        }
        let runtime = match self.runtime.get() {
            Some(r) => r.clone(),
            None => {
                let r = Runtime::new(self.options.clone())?;
                self.runtime.get_or_init(|| r).clone()
            }
        };
        let plugin = Plugin::load(&runtime, file, &sha, wasm)?;
        if let Ok(mut l) = self.loaded.lock() {
            l.insert(sha.clone(), plugin.clone());
        }
        Ok((sha, plugin))
    }

    /// Stores a plugin's bytes on the volume (before the catalog names them).
    pub fn store_blob(&self, sha: &str, wasm: &[u8]) -> Result<(), PluginError> {
        self.store
            .put_if_absent(&blob_key(sha), wasm)
            .map(|_| ())
            .map_err(|e| PluginError::Open {
                file: blob_key(sha),
                reason: e.to_string(),
            })
    }

    /// The plugin an installed function names, loaded from the volume on first use.
    pub fn plugin(&self, f: &Installed) -> Result<Arc<Plugin>, PluginError> {
        if let Some(p) = self
            .loaded
            .lock()
            .ok()
            .and_then(|l| l.get(&f.sha256).cloned())
        {
            return Ok(p);
        }
        let open = |reason: String| PluginError::Open {
            file: f.soname.clone(),
            reason,
        };
        let wasm = self
            .store
            .get(&f.blob_key())
            .map_err(|e| open(e.to_string()))?
            .ok_or_else(|| open(format!("{} is missing from the volume", f.blob_key())))?;
        if digest(&wasm) != f.sha256 {
            return Err(open(format!("{} is corrupt", f.blob_key())));
        }
        Ok(self.load_bytes(&f.soname, &wasm)?.1)
    }
}

//! One wasmtime engine per process: compilation settings, the epoch clock
//! that bounds every call, and the on-disk cache of compiled plugins.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use super::error::PluginError;

/// How often the epoch advances: the granularity of call deadlines.
pub const TICK: Duration = Duration::from_millis(5);

/// Node-level plugin settings (`--plugin-dir`, `--plugin-memory-mib`, ...).
#[derive(Clone, Debug)]
pub struct PluginOptions {
    /// Where `SONAME 'file.wasm'` is looked up on the node that installs it.
    pub dir: Option<PathBuf>,
    /// Where compiled plugins are cached on local disk.
    pub cache: Option<PathBuf>,
    /// Linear memory per instance.
    pub memory_limit: usize,
    /// Bound of one call when the statement sets no `max_execution_time`.
    pub call_timeout: Duration,
    /// Capabilities given to non-deterministic functions that declare them.
    pub grant_clock: bool,
    pub grant_random: bool,
}

impl Default for PluginOptions {
    fn default() -> Self {
        PluginOptions {
            dir: None,
            cache: Some(default_cache()),
            memory_limit: 64 << 20,
            call_timeout: Duration::from_secs(30),
            grant_clock: false,
            grant_random: false,
        }
    }
}

/// `$XDG_CACHE_HOME/floe/wasm`, `~/.cache/floe/wasm`, or a per-user
/// directory under the temp dir (used only if it proves private).
fn default_cache() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("floe/wasm");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h).join(".cache/floe/wasm");
    }
    std::env::temp_dir().join(format!("floe-wasm-cache-{}", uid()))
}

/// Whether `path` is a directory (or file) this user owns that nobody else
/// can write: compiled code is only loaded from such places.
fn private(path: &Path, dir: bool) -> bool {
    use std::os::unix::fs::MetadataExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) => {
            m.uid() == uid()
                && m.mode() & 0o022 == 0
                && (if dir { m.is_dir() } else { m.is_file() })
        }
        Err(_) => false,
    }
}

fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

pub struct Runtime {
    pub engine: Engine,
    pub options: PluginOptions,
    /// Distinguishes cached artifacts of other wasmtime versions or settings.
    fingerprint: u64,
}

impl Runtime {
    pub fn new(options: PluginOptions) -> Result<Arc<Runtime>, PluginError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        // FLOE_WASM_PERFMAP=1 names plugin code in `perf report` (/tmp/perf-<pid>.map).
        if std::env::var_os("FLOE_WASM_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| PluginError::Cache(e.to_string()))?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let fingerprint = h.finish();
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| PluginError::Cache(e.to_string()))?;
        Ok(Arc::new(Runtime {
            engine,
            options,
            fingerprint,
        }))
    }

    /// Compiles a component (`sha` is its [`digest`]), or loads it from the local cache.
    pub fn compile(&self, file: &str, sha: &str, wasm: &[u8]) -> Result<Component, PluginError> {
        let open = |reason: String| PluginError::Open {
            file: file.to_string(),
            reason,
        };
        let cached = self
            .options
            .cache
            .as_ref()
            .map(|dir| dir.join(format!("{sha}-{:016x}.cwasm", self.fingerprint)));
        if let Some(path) = cached.as_ref().filter(|p| trusted(p))
            // SAFETY: the artifact is native code, so it is only loaded from
            // a file and directory this user owns and nobody else can write
            // (`trusted`), written by `Component::serialize` of an engine with
            // the same fingerprint; wasmtime checks its header and version.
            && let Ok(c) = unsafe { Component::deserialize_file(&self.engine, path) }
        {
            return Ok(c);
        }
        let component = Component::new(&self.engine, wasm).map_err(|e| open(root(&e)))?;
        if let Some(path) = cached {
            // A cache that cannot be written only costs a compile next time.
            if let Err(e) = store_artifact(&path, &component) {
                tracing::warn!("plugin cache {}: {e}", path.display());
            }
        }
        Ok(component)
    }
}

fn trusted(artifact: &Path) -> bool {
    artifact.parent().is_some_and(|d| private(d, true)) && private(artifact, false)
}

fn store_artifact(path: &Path, component: &Component) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().ok_or("no parent")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    if !private(dir, true) {
        return Err(format!("{} is not private to this user", dir.display()).into());
    }
    let bytes = component.serialize()?;
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp.{}.{seq}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// A plugin's content hash, lower-case hex: its name on the volume and in the cache.
pub fn digest(wasm: &[u8]) -> String {
    floe_storage::hex::encode(&Sha256::digest(wasm))
}

/// The innermost message of a wasmtime error, as one printable line.
pub fn root(e: &wasmtime::Error) -> String {
    one_line(&e.root_cause().to_string())
}

/// Text fit for an error message: the first line, printable, at most 300 characters.
pub fn one_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect()
}

//! The listener, the registry of live connections (ids, SHOW PROCESSLIST,
//! KILL), and the server-wide settings.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::Notify;

use super::auth::{LazyRsa, Sha2Cache};
use super::conn;
use super::lock;
use super::session::{Engine, SessionContext};

/// MySQL 8 version string; clients key features off the leading version.
pub const SERVER_VERSION: &str = "8.0.36-floe";

pub struct ServerConfig {
    pub version: String,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub require_tls: bool,
    pub max_allowed_packet: usize,
    /// Time a new connection has to complete its handshake (`connect_timeout`).
    pub connect_timeout: Duration,
    pub rsa: LazyRsa,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            version: SERVER_VERSION.to_string(),
            tls: None,
            require_tls: false,
            max_allowed_packet: 64 << 20,
            connect_timeout: Duration::from_secs(10),
            rsa: LazyRsa::default(),
        }
    }
}

/// Loads a certificate chain and private key (PEM) for TLS.
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}

/// A one-shot signal that tasks can wait on.
#[derive(Debug, Default)]
pub struct Flag {
    set: AtomicBool,
    notify: Notify,
}

impl Flag {
    pub fn raise(&self) {
        self.set.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn lower(&self) {
        self.set.store(false, Ordering::SeqCst);
    }

    pub fn is_raised(&self) -> bool {
        self.set.load(Ordering::SeqCst)
    }

    pub async fn raised(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }
}

/// One live connection as SHOW PROCESSLIST shows it.
pub struct ConnState {
    pub id: u32,
    pub host: String,
    pub user: Mutex<String>,
    pub db: Mutex<Option<String>>,
    /// (command, since, statement text)
    pub command: Mutex<(&'static str, Instant, Option<String>)>,
    pub kill_connection: Flag,
    /// Shared with the session, whose long synchronous work (plugin calls)
    /// polls it rather than waiting to be dropped.
    pub kill_query: Arc<Flag>,
}

impl ConnState {
    /// What a session opened on this connection for `user` knows of it;
    /// records the user for SHOW PROCESSLIST.
    pub fn context(&self, user: &str, registry: &Arc<Registry>) -> SessionContext {
        *lock(&self.user) = user.to_string();
        SessionContext {
            connection_id: self.id,
            user: user.to_string(),
            host: self.host.clone(),
            registry: registry.clone(),
            kill_query: self.kill_query.clone(),
        }
    }

    pub fn set_db(&self, db: Option<String>) {
        *lock(&self.db) = db;
    }

    pub fn set_command(&self, command: &'static str, info: Option<String>) {
        *lock(&self.command) = (command, Instant::now(), info);
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    pub id: u32,
    pub user: String,
    pub host: String,
    pub db: Option<String>,
    pub command: String,
    pub time_secs: u64,
    pub info: Option<String>,
}

#[derive(Default)]
pub struct Registry {
    next_id: AtomicU32,
    conns: Mutex<HashMap<u32, Arc<ConnState>>>,
    pub sha2_cache: Sha2Cache,
    /// caching_sha2_password authentications by path, for SHOW STATUS.
    pub sha2_full_auths: std::sync::atomic::AtomicU64,
    pub sha2_fast_auths: std::sync::atomic::AtomicU64,
}

impl Registry {
    pub(crate) fn register(&self, host: String) -> Arc<ConnState> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let state = Arc::new(ConnState {
            id,
            host,
            user: Mutex::new(String::new()),
            db: Mutex::new(None),
            command: Mutex::new(("Connect", Instant::now(), None)),
            kill_connection: Flag::default(),
            kill_query: Arc::default(),
        });
        lock(&self.conns).insert(id, state.clone());
        state
    }

    pub(crate) fn unregister(&self, id: u32) {
        lock(&self.conns).remove(&id);
    }

    /// KILL [QUERY] id: `false` if there is no such connection.
    pub fn kill(&self, id: u32, query_only: bool) -> bool {
        let conns = lock(&self.conns);
        let Some(c) = conns.get(&id) else {
            return false;
        };
        c.kill_query.raise();
        if !query_only {
            c.kill_connection.raise();
        }
        true
    }

    pub fn list(&self) -> Vec<ProcessInfo> {
        let conns = lock(&self.conns);
        let mut out: Vec<ProcessInfo> = conns
            .values()
            .map(|c| {
                let (command, since, info) = lock(&c.command).clone();
                ProcessInfo {
                    id: c.id,
                    user: lock(&c.user).clone(),
                    host: c.host.clone(),
                    db: lock(&c.db).clone(),
                    command: command.to_string(),
                    time_secs: since.elapsed().as_secs(),
                    info,
                }
            })
            .collect();
        out.sort_by_key(|p| p.id);
        out
    }

    pub fn connections(&self) -> usize {
        lock(&self.conns).len()
    }
}

pub struct Server<E: Engine> {
    pub engine: Arc<E>,
    pub config: Arc<ServerConfig>,
    pub registry: Arc<Registry>,
}

impl<E: Engine> Server<E> {
    pub fn new(engine: Arc<E>, config: ServerConfig) -> Arc<Self> {
        config.rsa.start();
        Arc::new(Server {
            engine,
            config: Arc::new(config),
            registry: Arc::new(Registry::default()),
        })
    }

    /// Accepts connections until the listener fails; each runs in its own task.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let server = self.clone();
            tokio::spawn(async move { conn::run(server, stream, peer).await });
        }
    }
}

//! `floe primary`: the volume's writer, serving MySQL clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use floe_storage::volume::Volume;
use floe_storage::writer::{VolumeWriter, WriterOptions};
use tokio::net::TcpListener;

use crate::maintenance;
use crate::mysql::{Server, ServerConfig, server};
use crate::sql::{Primary, SqlEngine};

#[derive(Clone, Debug)]
pub struct PrimaryOptions {
    pub volume: PathBuf,
    pub bind: String,
    pub port: u16,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub require_tls: bool,
    /// How long the volume lease lasts (a restarted primary waits this long
    /// for the lease of one that died); `None` for the default.
    pub lease: Option<std::time::Duration>,
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Opens the volume as its writer and binds the listener; `serve` runs it.
pub struct Running {
    pub addr: SocketAddr,
    writer: Arc<VolumeWriter>,
    listener: TcpListener,
    server: Arc<Server<Primary>>,
}

pub async fn start(opts: &PrimaryOptions) -> Result<Running, BoxError> {
    let volume = Volume::open(&opts.volume)?;
    let mut wopts = WriterOptions::default();
    if let Some(lease) = opts.lease {
        wopts.lease = lease;
        // A restarted primary waits out the lease of the one that died.
        wopts.acquire = floe_storage::lease::Acquire::WaitForExpiry(lease * 4);
    }
    let writer = Arc::new(tokio::task::block_in_place(|| {
        VolumeWriter::open(volume, wopts)
    })?);
    let listener = TcpListener::bind((opts.bind.as_str(), opts.port)).await?;
    let addr = listener.local_addr()?;
    let engine = Arc::new(SqlEngine::new(writer.clone()));
    engine.bootstrap()?;
    let mut config = ServerConfig {
        require_tls: opts.require_tls,
        ..ServerConfig::default()
    };
    match (&opts.tls_cert, &opts.tls_key) {
        (Some(c), Some(k)) => config.tls = Some(server::tls_config(c, k)?),
        (None, None) => {}
        _ => return Err("--tls-cert and --tls-key go together".into()),
    }
    if opts.require_tls && config.tls.is_none() {
        return Err("--require-tls needs --tls-cert and --tls-key".into());
    }
    let server = Server::new(Arc::new(Primary(engine)), config);
    Ok(Running {
        addr,
        writer,
        listener,
        server,
    })
}

impl Running {
    /// Serves until Ctrl-C (or SIGTERM), then stops cleanly.
    pub async fn serve(self) -> Result<(), BoxError> {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        self.serve_until(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        })
        .await
    }

    /// Serves until `stop` completes, then stops cleanly.
    pub async fn serve_until(
        self,
        stop_when: impl std::future::Future<Output = ()>,
    ) -> Result<(), BoxError> {
        let stop = Arc::new(AtomicBool::new(false));
        let maint = maintenance::spawn(self.writer.clone(), stop.clone())?;
        let result = tokio::select! {
            r = self.server.clone().serve(self.listener) => r.map_err(BoxError::from),
            _ = stop_when => Ok(()),
        };
        stop.store(true, Ordering::SeqCst);
        let _ = maint.join();
        self.writer.close();
        result
    }
}

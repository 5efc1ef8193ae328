//! `floe primary`: the volume's writer, serving MySQL clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use floe_storage::volume::Volume;
use floe_storage::writer::{VolumeWriter, WriterOptions};
use tokio::net::TcpListener;

use crate::maintenance;
use crate::mysql::Server;
pub use crate::role::BoxError;
use crate::role::{Listen, on_signal};
use crate::sql::engine::Source;
use crate::sql::{Node, SqlEngine};

#[derive(Clone, Debug)]
pub struct PrimaryOptions {
    pub volume: PathBuf,
    pub listen: Listen,
    /// How long the volume lease lasts (a restarted primary waits this long
    /// for the lease of one that died); `None` for the default.
    pub lease: Option<std::time::Duration>,
    pub plugins: crate::wasm::PluginOptions,
}

/// Opens the volume as its writer and binds the listener; `serve` runs it.
pub struct Running {
    pub addr: SocketAddr,
    writer: Arc<VolumeWriter>,
    listener: TcpListener,
    server: Arc<Server<Node>>,
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
        VolumeWriter::open(volume.clone(), wopts)
    })?);
    let plugins = crate::wasm::Plugins::new(opts.plugins.clone(), volume.store().clone())?;
    let engine = Arc::new(SqlEngine::new(Source::Writer(writer.clone()), plugins));
    engine.bootstrap()?;
    engine.clean_up()?;
    let (listener, server) = opts.listen.bind(Node(engine)).await?;
    let addr = listener.local_addr()?;
    crate::nodes::announce_primary(volume.store().as_ref(), &addr.to_string())?;
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
        let signal = on_signal()?;
        self.serve_until(signal).await
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

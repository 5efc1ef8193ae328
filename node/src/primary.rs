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
    no_huge_pages();
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

/// Transparent huge pages off for this process: a primary's memory grows and
/// is given back in bursts (a bulk load's parts), and zeroing whole 2 MiB
/// pages on first touch was 40% of LOAD DATA's CPU. Measured off: a 10M-row
/// LOAD DATA takes 7.3-9.9 s of CPU instead of 10.4-13.6; point selects are
/// no slower.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no
        // memory of ours; failure (an old kernel) leaves THP as it was.
        let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if rc != 0 {
            tracing::debug!(
                "transparent huge pages stay on: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

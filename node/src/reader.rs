//! `floe reader`: follows the volume's log and answers queries on its own
//! copy of the state; writes are refused with MySQL's read-only error, which
//! names the primary. It copies nothing: sealed segments are mapped from the
//! volume, and only the log since the newest checkpoint is replayed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use floe_storage::replica::Replica;
use floe_storage::volume::Volume;
use tokio::net::TcpListener;

use crate::mysql::Server;
use crate::nodes::{self, READER_CARD_EVERY, ReaderCard};
use crate::role::{BoxError, Listen, on_signal};
use crate::sql::engine::Source;
use crate::sql::{Node, SqlEngine};

#[derive(Clone, Debug)]
pub struct ReaderOptions {
    pub volume: PathBuf,
    pub listen: Listen,
    pub plugins: crate::wasm::PluginOptions,
}

pub struct Running {
    pub addr: SocketAddr,
    volume: Volume,
    replica: Arc<Replica>,
    listener: TcpListener,
    server: Arc<Server<Node>>,
}

pub async fn start(opts: &ReaderOptions) -> Result<Running, BoxError> {
    let volume = Volume::open(&opts.volume)?;
    let replica = tokio::task::block_in_place(|| Replica::start(volume.clone()))?;
    let plugins = match crate::wasm::Plugins::new(opts.plugins.clone(), volume.store().clone()) {
        Ok(p) => p,
        Err(e) => {
            replica.stop();
            return Err(e.into());
        }
    };
    let engine = Arc::new(SqlEngine::new(Source::Replica(replica.clone()), plugins));
    let (listener, server) = match opts.listen.bind(Node(engine)).await {
        Ok(bound) => bound,
        Err(e) => {
            replica.stop();
            return Err(e);
        }
    };
    let addr = listener.local_addr()?;
    Ok(Running {
        addr,
        volume,
        replica,
        listener,
        server,
    })
}

impl Running {
    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }

    /// Serves until Ctrl-C (or SIGTERM), then stops cleanly.
    pub async fn serve(self) -> Result<(), BoxError> {
        let signal = on_signal()?;
        self.serve_until(signal).await
    }

    /// Serves until `stop` completes, then stops following and withdraws
    /// its card from the volume.
    pub async fn serve_until(
        self,
        stop_when: impl std::future::Future<Output = ()>,
    ) -> Result<(), BoxError> {
        let card = ReaderCard {
            addr: self.addr.to_string(),
            pid: std::process::id(),
            ..ReaderCard::default()
        };
        let announce =
            announce_every_second(self.volume.clone(), self.replica.clone(), card.clone());
        let result = tokio::select! {
            r = self.server.clone().serve(self.listener) => r.map_err(BoxError::from),
            _ = stop_when => Ok(()),
            _ = announce => Ok(()),
        };
        let replica = self.replica.clone();
        let volume = self.volume.clone();
        tokio::task::spawn_blocking(move || {
            replica.stop();
            if let Err(e) = nodes::withdraw_reader(volume.store().as_ref(), &card) {
                tracing::warn!(error = %e, "cannot withdraw the reader's card");
            }
        })
        .await?;
        result
    }
}

/// Renews the reader's card on the volume about once a second (forever).
async fn announce_every_second(volume: Volume, replica: Arc<Replica>, card: ReaderCard) {
    let mut tick = tokio::time::interval(READER_CARD_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let progress = replica.progress();
        let card = ReaderCard {
            applied_lsn: progress.applied,
            lag_ms: progress.lag.as_millis() as u64,
            ..card.clone()
        };
        let volume = volume.clone();
        let put = tokio::task::spawn_blocking(move || {
            nodes::announce_reader(volume.store().as_ref(), &card)
        })
        .await;
        match put {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot renew the reader's card"),
            Err(e) => tracing::warn!(error = %e, "card renewal task failed"),
        }
    }
}

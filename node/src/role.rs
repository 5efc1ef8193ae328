//! What the serving roles (primary, reader) share: a MySQL listener set up
//! from the command line, and waiting for Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::mysql::{Engine, Server, ServerConfig, server};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where and how a role accepts MySQL clients.
#[derive(Clone, Debug)]
pub struct Listen {
    pub bind: String,
    pub port: u16,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub require_tls: bool,
}

impl Listen {
    /// Plain MySQL on a loopback port (0: any free one).
    pub fn loopback(port: u16) -> Listen {
        Listen {
            bind: "127.0.0.1".into(),
            port,
            tls_cert: None,
            tls_key: None,
            require_tls: false,
        }
    }

    /// Binds the listener and builds the server for `engine`.
    pub async fn bind<E: Engine>(
        &self,
        engine: E,
    ) -> Result<(TcpListener, Arc<Server<E>>), BoxError> {
        let mut config = ServerConfig {
            require_tls: self.require_tls,
            ..ServerConfig::default()
        };
        match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => config.tls = Some(server::tls_config(c, k)?),
            (None, None) => {}
            _ => return Err("--tls-cert and --tls-key go together".into()),
        }
        if self.require_tls && config.tls.is_none() {
            return Err("--require-tls needs --tls-cert and --tls-key".into());
        }
        let listener = TcpListener::bind((self.bind.as_str(), self.port)).await?;
        Ok((listener, Server::new(Arc::new(engine), config)))
    }
}

/// A future that completes on Ctrl-C or SIGTERM (set up now, so that a
/// signal arriving before it is polled is not lost).
pub fn on_signal() -> Result<impl Future<Output = ()>, BoxError> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    })
}

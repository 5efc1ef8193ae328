//! The `floe` binary: one executable, one subcommand per role.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use floe::primary::{self, PrimaryOptions};
use floe::reader::{self, ReaderOptions};
use floe::role::{BoxError, Listen, on_signal};
use floe::status;
use floe::wasm::PluginOptions;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "floe",
    version,
    about = "floe: a MySQL-compatible HTAP database on a shared volume"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Debug)]
struct Tls {
    /// PEM certificate chain for TLS (clients that ask get TLS).
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Refuse clients that do not use TLS.
    #[arg(long)]
    require_tls: bool,
}

#[derive(clap::Args, Debug, Clone)]
struct PluginArgs {
    /// Directory of plugin files named by `CREATE FUNCTION ... SONAME 'file.wasm'`.
    #[arg(long)]
    plugin_dir: Option<PathBuf>,
    /// Local directory for compiled plugins (default: a per-user temp directory).
    #[arg(long)]
    plugin_cache: Option<PathBuf>,
    /// Linear memory limit of each plugin instance, in MiB.
    #[arg(long, default_value_t = 64)]
    plugin_memory_mib: usize,
    /// Time limit of one plugin call when the statement sets no max_execution_time.
    #[arg(long, default_value_t = 30_000)]
    plugin_timeout_ms: u64,
    /// Capabilities granted to non-deterministic plugin functions that declare them
    /// (comma-separated: clock, random).
    #[arg(long, value_delimiter = ',')]
    plugin_grant: Vec<Grant>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
enum Grant {
    Clock,
    Random,
}

impl PluginArgs {
    fn options(&self) -> PluginOptions {
        let defaults = PluginOptions::default();
        PluginOptions {
            dir: self.plugin_dir.clone(),
            cache: self.plugin_cache.clone().or(defaults.cache),
            memory_limit: self.plugin_memory_mib << 20,
            call_timeout: std::time::Duration::from_millis(self.plugin_timeout_ms),
            grant_clock: self.plugin_grant.contains(&Grant::Clock),
            grant_random: self.plugin_grant.contains(&Grant::Random),
        }
    }
}

impl Tls {
    fn listen(&self, bind: &str, port: u16) -> Listen {
        Listen {
            bind: bind.to_string(),
            port,
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            require_tls: self.require_tls,
        }
    }

    fn primary(
        &self,
        volume: PathBuf,
        bind: &str,
        port: u16,
        plugins: &PluginArgs,
    ) -> PrimaryOptions {
        PrimaryOptions {
            volume,
            listen: self.listen(bind, port),
            lease: None,
            plugins: plugins.options(),
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs a local floe in the foreground on a volume directory (Ctrl-C stops it).
    Up {
        #[arg(long, default_value = "./floe-data")]
        volume: PathBuf,
        #[arg(long, default_value_t = 3306)]
        port: u16,
        /// Readers to start on the following ports.
        #[arg(long, default_value_t = 0)]
        readers: u16,
        #[command(flatten)]
        tls: Tls,
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Serves the MySQL protocol as the volume's primary (its one writer).
    Primary {
        #[arg(long)]
        volume: PathBuf,
        #[arg(long, default_value_t = 3306)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        #[command(flatten)]
        tls: Tls,
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Follows the volume's log and answers queries (read-only).
    Reader {
        #[arg(long)]
        volume: PathBuf,
        #[arg(long, default_value_t = 3307)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        #[command(flatten)]
        tls: Tls,
        #[command(flatten)]
        plugins: PluginArgs,
    },
    /// Inspects a volume without taking it over.
    Volume {
        #[command(subcommand)]
        command: VolumeCommand,
    },
}

#[derive(Subcommand, Debug)]
enum VolumeCommand {
    /// Prints the lease, log, checkpoints and tables of a volume.
    Status {
        #[arg(long, default_value = "./floe-data")]
        volume: PathBuf,
    },
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn run_primary(opts: PrimaryOptions) -> Result<(), BoxError> {
    runtime()?.block_on(async {
        let running = primary::start(&opts).await?;
        tracing::info!(addr = %running.addr, volume = %opts.volume.display(), "primary listening");
        running.serve().await
    })
}

fn run_reader(opts: ReaderOptions) -> Result<(), BoxError> {
    runtime()?.block_on(async {
        let running = reader::start(&opts).await?;
        tracing::info!(addr = %running.addr, volume = %opts.volume.display(), "reader listening");
        running.serve().await
    })
}

/// `floe up`: the primary on `port` and `readers` readers on the ports after
/// it, in this process, until Ctrl-C.
fn run_up(
    volume: PathBuf,
    port: u16,
    readers: u16,
    tls: Tls,
    plugins: PluginArgs,
) -> Result<(), BoxError> {
    runtime()?.block_on(async {
        let signal = on_signal()?;
        let primary =
            primary::start(&tls.primary(volume.clone(), "127.0.0.1", port, &plugins)).await?;
        println!("floe is up (volume {})", volume.display());
        println!(
            "  primary: mysql -h 127.0.0.1 -P {} -u root",
            primary.addr.port()
        );
        let mut started = Vec::new();
        for i in 1..=readers {
            let port = port.checked_add(i).ok_or("reader port out of range")?;
            let opts = ReaderOptions {
                volume: volume.clone(),
                listen: tls.listen("127.0.0.1", port),
                plugins: plugins.options(),
            };
            let r = reader::start(&opts).await?;
            println!("  reader:  mysql -h 127.0.0.1 -P {} -u root", r.addr.port());
            started.push(r);
        }
        println!("Ctrl-C stops it.");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let mut roles = tokio::task::JoinSet::new();
        for r in started {
            roles.spawn(r.serve_until(stopped()));
        }
        roles.spawn(primary.serve_until(stopped()));
        tokio::select! {
            () = signal => {}
            // A role that ends by itself (its listener failed) stops the rest.
            Some(ended) = roles.join_next() => {
                let _ = stop_tx.send(true);
                ended??;
            }
        }
        let _ = stop_tx.send(true);
        let mut result = Ok(());
        while let Some(ended) = roles.join_next().await {
            if let Err(e) = ended.map_err(BoxError::from).and_then(|r| r) {
                result = Err(e);
            }
        }
        result
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FLOE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up {
            volume,
            port,
            readers,
            tls,
            plugins,
        } => run_up(volume, port, readers, tls, plugins),
        Command::Primary {
            volume,
            port,
            bind,
            tls,
            plugins,
        } => run_primary(tls.primary(volume, &bind, port, &plugins)),
        Command::Reader {
            volume,
            port,
            bind,
            tls,
            plugins,
        } => run_reader(ReaderOptions {
            volume,
            listen: tls.listen(&bind, port),
            plugins: plugins.options(),
        }),
        Command::Volume {
            command: VolumeCommand::Status { volume },
        } => status::print(&volume).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floe: {e}");
            ExitCode::FAILURE
        }
    }
}

//! The `floe` binary: one executable, one subcommand per role.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use floe::primary::{self, PrimaryOptions};
use floe::status;

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

impl Tls {
    fn options(self, volume: PathBuf, bind: String, port: u16) -> PrimaryOptions {
        PrimaryOptions {
            volume,
            bind,
            port,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            require_tls: self.require_tls,
            lease: None,
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

fn run_primary(opts: PrimaryOptions, banner: bool) -> Result<(), primary::BoxError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let running = primary::start(&opts).await?;
        if banner {
            println!("floe is up: primary on {} (volume {})", running.addr, opts.volume.display());
            println!("connect with: mysql -h 127.0.0.1 -P {} -u root", running.addr.port());
            println!("Ctrl-C stops it.");
        } else {
            tracing::info!(addr = %running.addr, volume = %opts.volume.display(), "primary listening");
        }
        running.serve().await
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
        } => {
            if readers > 0 {
                Err("readers are not part of this build yet (see the readers issue)".into())
            } else {
                run_primary(tls.options(volume, "127.0.0.1".into(), port), true)
            }
        }
        Command::Primary {
            volume,
            port,
            bind,
            tls,
        } => run_primary(tls.options(volume, bind, port), false),
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

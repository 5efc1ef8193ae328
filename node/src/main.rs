//! The `floe` binary: one executable, one subcommand per role.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use floe::{maintenance, status};

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

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs a local floe in the foreground on a volume directory (Ctrl-C stops it).
    Up {
        /// The volume directory (created if missing).
        #[arg(long, default_value = "./floe-data")]
        volume: PathBuf,
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
        Command::Up { volume } => maintenance::run_writer(&volume),
        Command::Volume {
            command: VolumeCommand::Status { volume },
        } => status::print(&volume),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floe: {e}");
            ExitCode::FAILURE
        }
    }
}

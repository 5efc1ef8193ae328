//! Helpers the benchmarks share: where they write, and a log to write to.
#![allow(dead_code)] // each benchmark uses its own subset

/// Roles run in bench binaries as they run in `floe`: on mimalloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod mariadb;
pub mod roles;
pub mod wire;

use std::path::PathBuf;
use std::time::Duration;

use floe_storage::lease::{Acquire, Lease};
use floe_storage::log::{LogWriter, LogWriterOptions};
use floe_storage::volume::Volume;

/// Benchmarks write to the disk that holds `target/`, or to FLOE_BENCH_DIR.
pub fn base_dir() -> PathBuf {
    let base =
        std::env::var("FLOE_BENCH_DIR").unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_string());
    std::fs::create_dir_all(&base).expect("bench dir");
    PathBuf::from(base)
}

/// A fresh volume in a temporary directory under [`base_dir`].
pub fn temp_volume() -> (tempfile::TempDir, Volume) {
    let dir = tempfile::tempdir_in(base_dir()).expect("temp dir");
    let volume = Volume::open(dir.path()).expect("volume");
    (dir, volume)
}

/// The volume's log, opened for writing under a long lease.
pub fn open_log(volume: &Volume) -> LogWriter {
    let lease = Lease::acquire(
        volume.store().clone(),
        "bench",
        Duration::from_secs(30),
        Acquire::Force,
    )
    .expect("lease");
    LogWriter::open(&volume.log_dir(), lease, LogWriterOptions::default()).expect("log")
}

/// Runs `sql` with the `mysql` CLI (LOCAL INFILE allowed, batch output
/// without column names) as root on `port`; returns what it printed, and
/// panics with the client's message if it fails.
pub fn mysql_cli(port: u16, sql: &str) -> String {
    let out = std::process::Command::new("mysql")
        .args(["-h", "127.0.0.1", "-P", &port.to_string(), "-u", "root"])
        .args(["--local-infile=1", "-N", "-B", "-e", sql])
        .output()
        .expect("the mysql client runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// FLOE_BENCH_ROWS, or 10 million.
pub fn bench_rows() -> u64 {
    std::env::var("FLOE_BENCH_ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10_000_000)
}

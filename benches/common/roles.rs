//! floe's roles as child processes of a benchmark binary (so that their
//! memory is their own): the binary plays a role when FLOE_BENCH_ROLE is set.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Plays the role named by FLOE_BENCH_ROLE, if any; returns whether it did
/// (call first thing in `main`).
pub fn play_if_asked() -> bool {
    match std::env::var("FLOE_BENCH_ROLE") {
        Ok(role) => {
            play_role(&role);
            true
        }
        Err(_) => false,
    }
}

/// Child roles: a primary or a reader on FLOE_VOLUME, printing its port.
fn play_role(role: &str) {
    let volume: PathBuf = std::env::var("FLOE_VOLUME").expect("FLOE_VOLUME").into();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listen = floe::role::Listen::loopback(0);
        match role {
            "primary" => {
                let opts = floe::primary::PrimaryOptions {
                    volume,
                    listen,
                    lease: None,
                    plugins: Default::default(),
                };
                let running = floe::primary::start(&opts).await.expect("primary starts");
                println!("PORT {}", running.addr.port());
                running.serve().await.expect("primary serves");
            }
            _ => {
                let opts = floe::reader::ReaderOptions {
                    volume,
                    listen,
                    plugins: Default::default(),
                };
                let running = floe::reader::start(&opts).await.expect("reader starts");
                println!("PORT {}", running.addr.port());
                running.serve().await.expect("reader serves");
            }
        }
    });
}

pub struct Role {
    pub child: Child,
    pub port: u16,
}

impl Drop for Role {
    fn drop(&mut self) {
        // SIGTERM: a clean stop (the primary hands its lease back).
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

pub fn spawn_role(role: &str, volume: &Path) -> Role {
    let mut child = Command::new(std::env::current_exe().expect("bench binary"))
        .env("FLOE_BENCH_ROLE", role)
        .env("FLOE_VOLUME", volume)
        .env("FLOE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn role");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        let line = lines
            .next()
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("{role} did not start"));
        if let Some(p) = line.strip_prefix("PORT ") {
            break p.trim().parse().expect("port");
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Role { child, port }
}

/// Resident and peak memory of a process, in MiB.
pub fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

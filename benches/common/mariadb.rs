//! A throwaway MariaDB server from Debian's packages (`mariadbd`,
//! `mariadb-install-db`), for side-by-side benchmarks and for tests that
//! take MySQL's answers from a real server. Killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Mariadb {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Mariadb {
    #[allow(dead_code)] // the benchmarks use it, the tests do not
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

/// Starts MariaDB in a new data directory under `base` with `root` open on
/// loopback and `extra` server options; `None` if it is not installed or
/// does not come up within 30 s.
pub fn start(base: &Path, extra: &[&str]) -> Option<Mariadb> {
    let dir = tempfile::tempdir_in(base).ok()?;
    let data = dir.path().join("data");
    let ok = Command::new("mariadb-install-db")
        .args([
            "--no-defaults",
            "--user=root",
            "--auth-root-authentication-method=normal",
        ])
        .arg(format!("--datadir={}", data.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?
        .success();
    if !ok {
        return None;
    }
    let port = free_port();
    let child = Command::new("mariadbd")
        .args([
            "--no-defaults",
            "--user=root",
            "--skip-grant-tables",
            "--bind-address=127.0.0.1",
            "--local-infile=1",
        ])
        .args(extra)
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--port={port}"))
        .arg(format!("--socket={}", dir.path().join("sock").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let m = Mariadb {
        child,
        port,
        _dir: dir,
    };
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(m);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

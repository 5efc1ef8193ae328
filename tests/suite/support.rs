//! Helpers shared by the suite: child processes and deterministic payloads.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

/// Environment variable that tells a re-executed test binary which role to play.
pub const ROLE_ENV: &str = "FLOE_SUITE_ROLE";

/// Starts this test binary again, running only the ignored test `name`
/// (a child role), with `env` set and stdout piped back.
pub fn spawn_role(name: &str, env: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([
        name,
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(ROLE_ENV, name)
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn child role")
}

/// Starts the serving role `name` on `volume` as a child process (it prints
/// `PORT <n>` once listening); returns it, its port, and the thread that
/// drains its stdout.
pub fn start_serving_child(name: &str, volume: &std::path::Path) -> (Child, u16, JoinHandle<()>) {
    let mut child = spawn_role(name, &[("FLOE_VOLUME", volume.display().to_string())]);
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let drain = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(p) = line
                .split("PORT ")
                .nth(1)
                .and_then(|p| p.trim().parse::<u16>().ok())
            {
                let _ = tx.send(p);
            }
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{name} came up"));
    (child, port, drain)
}

/// True inside a child started by [`spawn_role`] for `name`.
pub fn playing(name: &str) -> bool {
    std::env::var(ROLE_ENV).is_ok_and(|r| r == name)
}

pub fn env_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

/// A self-checking record payload: who wrote it, which one, and filler that
/// depends on both, so a recovered payload proves it is intact.
pub fn payload(writer: u32, seq: u32) -> Vec<u8> {
    let len = 16
        + (writer
            .wrapping_mul(7919)
            .wrapping_add(seq.wrapping_mul(104_729))
            % 400) as usize;
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&writer.to_le_bytes());
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend_from_slice(&(len as u32).to_le_bytes());
    v.extend_from_slice(&[0xA5; 4]);
    for i in 16..len {
        v.push((writer ^ seq.rotate_left(7) ^ i as u32) as u8);
    }
    v
}

/// `(writer, seq)` if `bytes` is exactly a payload made by [`payload`].
pub fn check_payload(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 16 {
        return None;
    }
    let writer = u32::from_le_bytes(bytes[0..4].try_into().ok()?);
    let seq = u32::from_le_bytes(bytes[4..8].try_into().ok()?);
    (payload(writer, seq) == bytes).then_some((writer, seq))
}

/// A generous bound for anything a test waits on.
pub const PATIENCE: Duration = Duration::from_secs(60);

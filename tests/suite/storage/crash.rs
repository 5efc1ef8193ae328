//! kill -9 a process in the middle of concurrent commits: every acknowledged
//! record survives, intact, and nothing past a torn tail is invented.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use floe_storage::lease::{Acquire, Lease};
use floe_storage::log::{LogWriter, LogWriterOptions, read_log};
use floe_storage::volume::Volume;
use rand::Rng;

use crate::support::{check_payload, env_var, payload, playing, spawn_role};

const ROLE: &str = "storage::crash::child_committers";
const COMMITTERS: u32 = 32;
// Long enough that a renewal delayed by a loaded CI machine (MariaDB starting
// beside the suite) does not lapse the lease while the log is reopened.
const LEASE: Duration = Duration::from_millis(3000);

/// Child: many threads append until killed, printing each acknowledged lsn.
#[test]
#[ignore = "child process role"]
fn child_committers() {
    if !playing(ROLE) {
        return;
    }
    let volume = Volume::open(env_var("FLOE_VOLUME")).unwrap();
    let round: u32 = env_var("FLOE_ROUND").parse().unwrap();
    let lease = Lease::acquire(
        volume.store().clone(),
        "crash child",
        LEASE,
        Acquire::WaitForExpiry(Duration::from_secs(10)),
    )
    .unwrap();
    // Small files, so that kills also land around rollovers.
    let opts = LogWriterOptions {
        rollover_bytes: 256 << 10,
    };
    let log = Arc::new(LogWriter::open(&volume.log_dir(), lease, opts).unwrap());
    println!("READY");
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let threads: Vec<_> = (0..COMMITTERS)
        .map(|t| {
            let (log, out) = (log.clone(), out.clone());
            std::thread::spawn(move || {
                let writer = round * 1000 + t;
                let started = Instant::now();
                // Bounded: the parent kills us long before this ends.
                for seq in 0..1_000_000u32 {
                    if started.elapsed() > Duration::from_secs(30) {
                        break;
                    }
                    // A failed append ends this committer (nothing was acknowledged).
                    let Ok(lsn) = log.append(7, &payload(writer, seq)) else {
                        break;
                    };
                    let mut o = out.lock().unwrap();
                    writeln!(o, "ACK {lsn} {writer} {seq}").unwrap();
                    o.flush().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn acknowledged_commits_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let volume = Volume::open(dir.path()).unwrap();
    let mut acked: BTreeMap<u64, (u32, u32)> = BTreeMap::new();
    let mut rng = rand::rng();
    for round in 0..20u32 {
        let mut child = spawn_role(
            ROLE,
            &[
                ("FLOE_VOLUME", dir.path().display().to_string()),
                ("FLOE_ROUND", round.to_string()),
            ],
        );
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The harness may print its own words before ours on the same line.
                if line.ends_with("READY") {
                    let _ = ready_tx.send(());
                }
                let f: Vec<&str> = line.split_whitespace().collect();
                if let ["ACK", lsn, w, s] = f[..]
                    && let (Ok(lsn), Ok(w), Ok(s)) = (lsn.parse::<u64>(), w.parse(), s.parse())
                {
                    acks.push((lsn, (w, s)));
                }
            }
            acks
        });
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("child became ready");
        std::thread::sleep(Duration::from_millis(rng.random_range(20..250)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let acks = reader.join().unwrap();
        assert!(
            !acks.is_empty() || round > 0,
            "the first round acknowledged nothing"
        );
        for (lsn, who) in acks {
            assert!(
                acked.insert(lsn, who).is_none(),
                "lsn {lsn} acknowledged twice"
            );
        }

        // Everything acknowledged, in any round so far, is there and intact.
        let mut seen = BTreeMap::new();
        let end = read_log(&volume.log_dir(), 1, |r| {
            let who = check_payload(&r.payload)
                .unwrap_or_else(|| panic!("lsn {} holds an invented payload", r.lsn));
            seen.insert(r.lsn, who);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen.len() as u64,
            end.last_lsn,
            "lsns are 1..=last without gaps"
        );
        for (lsn, who) in &acked {
            assert_eq!(
                seen.get(lsn),
                Some(who),
                "round {round}: acknowledged lsn {lsn} lost or changed"
            );
        }
    }
    assert!(
        acked.len() > 100,
        "only {} commits acknowledged in 20 rounds",
        acked.len()
    );
}

//! A reader process follows a writer process: every record arrives, in
//! order, none twice, across file rollovers.

use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::time::{Duration, Instant};

use floe_storage::lease::{Acquire, Lease};
use floe_storage::log::{LogWriter, LogWriterOptions, Tailer};
use floe_storage::volume::Volume;
use rand::Rng;

use crate::support::{PATIENCE, check_payload, env_var, payload, playing, spawn_role};

const ROLE: &str = "storage::follow::child_writer";
const THREADS: u32 = 8;
const PER_THREAD: u32 = 600;

#[test]
#[ignore = "child process role"]
fn child_writer() {
    if !playing(ROLE) {
        return;
    }
    let volume = Volume::open(env_var("FLOE_VOLUME")).unwrap();
    let lease = Lease::acquire(
        volume.store().clone(),
        "follow child",
        Duration::from_secs(5),
        Acquire::IfFree,
    )
    .unwrap();
    let log = Arc::new(
        LogWriter::open(
            &volume.log_dir(),
            lease,
            LogWriterOptions {
                rollover_bytes: 64 << 10,
            },
        )
        .unwrap(),
    );
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut rng = rand::rng();
                for seq in 0..PER_THREAD {
                    log.append(7, &payload(t, seq)).unwrap();
                    if rng.random_bool(0.1) {
                        std::thread::sleep(Duration::from_micros(rng.random_range(0..3000)));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    println!("DONE {}", log.durable_lsn());
    log.close();
}

#[test]
fn reader_process_follows_writer_process() {
    let dir = tempfile::tempdir().unwrap();
    let volume = Volume::open(dir.path()).unwrap();
    // Follow from before the writer exists: the tailer waits for the log to appear.
    let mut tail = Tailer::open(&volume.log_dir(), 1).unwrap();
    let mut child = spawn_role(ROLE, &[("FLOE_VOLUME", dir.path().display().to_string())]);
    let stdout = child.stdout.take().unwrap();
    let done = std::thread::spawn(move || {
        // Read to the end, so that the child never writes into a closed pipe.
        let lines: Vec<String> = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect();
        lines
            .iter()
            // The harness may print its own words before ours on the same line.
            .find_map(|l| {
                l.split("DONE ")
                    .nth(1)
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
    });

    let total = (THREADS * PER_THREAD) as u64;
    let mut next_seq = vec![0u32; THREADS as usize];
    let started = Instant::now();
    let mut expected_lsn = 1;
    while expected_lsn <= total {
        assert!(
            started.elapsed() < PATIENCE,
            "follower stalled at lsn {expected_lsn}"
        );
        let Some(r) = tail.next(Duration::from_millis(500)).unwrap() else {
            continue;
        };
        assert_eq!(r.lsn, expected_lsn, "records arrive in order, once each");
        let (t, seq) = check_payload(&r.payload).expect("intact payload");
        // Each writer thread's records appear in the order it appended them.
        assert_eq!(seq, next_seq[t as usize]);
        next_seq[t as usize] += 1;
        expected_lsn += 1;
    }
    assert_eq!(done.join().unwrap(), Some(total));
    assert!(child.wait().unwrap().success());
    assert!(
        tail.next(Duration::from_millis(100)).unwrap().is_none(),
        "nothing beyond the last record"
    );
    let files = floe_storage::log::list_files(&volume.log_dir()).unwrap();
    assert!(
        files.len() > 3,
        "the writer rolled over to new files ({} files)",
        files.len()
    );
}

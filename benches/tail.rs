//! Tail latency: a record acknowledged by the writer (this process) until a
//! tailer in another process has it. Prints p50, p99 and max over 3000
//! records appended about once a millisecond.
//!
//! Both processes read CLOCK_MONOTONIC, which is one clock machine-wide.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use floe_storage::log::Tailer;
use floe_storage::volume::Volume;

mod common;

const RECORDS: u64 = 3000;

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn tailer(dir: &str) {
    let volume = Volume::open(dir).expect("volume");
    let mut tail = Tailer::open(&volume.log_dir(), 1).expect("tailer");
    let mut seen = Vec::with_capacity(RECORDS as usize);
    println!("READY");
    while (seen.len() as u64) < RECORDS {
        match tail.next(Duration::from_secs(30)).expect("tail") {
            Some(r) => seen.push((r.lsn, now_ns())),
            None => break,
        }
    }
    let mut out = std::io::stdout().lock();
    for (lsn, t) in seen {
        writeln!(out, "{lsn} {t}").expect("stdout");
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

fn main() {
    if let Ok(dir) = std::env::var("FLOE_TAIL_DIR") {
        return tailer(&dir);
    }
    if std::env::args().any(|a| a == "--list") {
        return; // nothing for `cargo bench -- --list` to enumerate
    }
    let (dir, volume) = common::temp_volume();
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .env("FLOE_TAIL_DIR", dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn tailer");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("READY"));

    let log = common::open_log(&volume);
    let mut acked = vec![0u64; RECORDS as usize + 1];
    let mut submitted = vec![0u64; RECORDS as usize + 1];
    for i in 0..RECORDS {
        let start = now_ns();
        let lsn = log.append(1, &[7u8; 200]).expect("append");
        assert_eq!(lsn, i + 1);
        submitted[lsn as usize] = start;
        acked[lsn as usize] = now_ns();
        std::thread::sleep(Duration::from_micros(1000));
    }
    let mut after_ack = Vec::new();
    let mut after_submit = Vec::new();
    let mut before_ack = 0;
    for line in lines.map_while(Result::ok) {
        let mut f = line
            .split_whitespace()
            .map(|x| x.parse::<u64>().expect("number"));
        let (Some(lsn), Some(seen)) = (f.next(), f.next()) else {
            continue;
        };
        // The tailer may see a record before the committer's thread wakes up.
        if seen < acked[lsn as usize] {
            before_ack += 1;
        }
        after_ack.push(seen.saturating_sub(acked[lsn as usize]));
        after_submit.push(seen - submitted[lsn as usize]);
    }
    child.wait().expect("tailer exit");
    assert_eq!(after_ack.len() as u64, RECORDS, "tailer saw every record");
    after_ack.sort_unstable();
    after_submit.sort_unstable();
    println!(
        "tail latency, ack -> seen by another process: p50 {:.0} us, p99 {:.0} us, max {:.0} us ({before_ack} of {RECORDS} seen before the ack returned)",
        percentile(&after_ack, 0.5),
        percentile(&after_ack, 0.99),
        percentile(&after_ack, 1.0)
    );
    println!(
        "append start -> seen by another process (includes fdatasync): p50 {:.0} us, p99 {:.0} us",
        percentile(&after_submit, 0.5),
        percentile(&after_submit, 0.99)
    );
}

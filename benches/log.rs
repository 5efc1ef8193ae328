//! Group commit: commits/s at 1, 16, 64 and 256 concurrent committers with
//! 200-byte records, and the fdatasyncs/s behind them. Runs on the disk that
//! holds `target/` (set FLOE_BENCH_DIR to measure another).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use floe_storage::log::LogWriter;

mod common;

/// Runs `total` commits spread over `committers` tokio tasks on a runtime
/// with one worker per core (how the server commits); returns the time taken.
fn run_tasks(
    rt: &tokio::runtime::Runtime,
    log: &Arc<LogWriter>,
    committers: usize,
    total: u64,
) -> Duration {
    let per = total.div_ceil(committers as u64);
    rt.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = (0..committers)
            .map(|_| {
                let log = log.clone();
                tokio::spawn(async move {
                    let record = [0x42u8; 200];
                    for _ in 0..per {
                        log.append_async(1, &record).await.expect("append");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("committer");
        }
        started.elapsed()
    })
}

/// Runs `total` commits spread over `committers` threads; returns the time taken.
fn run(log: &Arc<LogWriter>, committers: usize, total: u64) -> Duration {
    let per = total.div_ceil(committers as u64);
    let barrier = Arc::new(Barrier::new(committers + 1));
    let threads: Vec<_> = (0..committers)
        .map(|_| {
            let (log, barrier) = (log.clone(), barrier.clone());
            std::thread::spawn(move || {
                let record = [0x42u8; 200];
                barrier.wait();
                for _ in 0..per {
                    log.append(1, &record).expect("append");
                }
            })
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    for t in threads {
        t.join().expect("committer");
    }
    started.elapsed()
}

fn group_commit(c: &mut Criterion) {
    let (_dir, volume) = common::temp_volume();
    let log = Arc::new(common::open_log(&volume));
    let mut group = c.benchmark_group("group_commit");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Whole rounds, so that every committer does the same work; the time is
    // scaled back to the `iters` commits criterion asked for.
    let rounds = |k: usize, n: u64| n.max(k as u64).div_ceil(k as u64) * k as u64;
    let scaled = |iters: u64, k: usize, elapsed: Duration| {
        elapsed.mul_f64(iters as f64 / rounds(k, iters) as f64)
    };
    group.throughput(Throughput::Elements(1));
    for committers in [1usize, 16, 64, 256] {
        group.bench_with_input(
            BenchmarkId::new("task_commits", committers),
            &committers,
            |b, &k| {
                b.iter_custom(|iters| scaled(iters, k, run_tasks(&rt, &log, k, rounds(k, iters))))
            },
        );
        group.bench_with_input(
            BenchmarkId::new("thread_commits", committers),
            &committers,
            |b, &k| b.iter_custom(|iters| scaled(iters, k, run(&log, k, rounds(k, iters)))),
        );
        // Plain measurements for the syncs behind the commits.
        let done = rounds(committers, (committers as u64 * 40).max(1000));
        for kind in ["tasks", "threads"] {
            let s0 = log.syncs();
            let elapsed = match kind {
                "tasks" => run_tasks(&rt, &log, committers, done),
                _ => run(&log, committers, done),
            };
            let syncs = log.syncs() - s0;
            let secs = elapsed.as_secs_f64();
            println!(
                "group_commit {kind} committers={committers}: {:.0} commits/s, {:.0} syncs/s, {:.1} commits per sync",
                done as f64 / secs,
                syncs as f64 / secs,
                done as f64 / syncs.max(1) as f64
            );
        }
    }
    group.finish();
}

criterion_group!(benches, group_commit);
criterion_main!(benches);

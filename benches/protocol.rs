//! Protocol overhead, floe next to MariaDB on this machine in the same run:
//! `SELECT 1` round trips per second at 1 and 64 connections, and streaming
//! a large result (rows/s). MariaDB is started from Debian's `mariadbd` if
//! installed. FLOE_BENCH_ROWS sets the streamed table's size (default 10M).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod common;
use common::mariadb::{self, Mariadb};
use common::mysql_cli;
use common::wire::Client;

/// Round trips per second over `conns` connections for `secs` seconds.
fn round_trips(port: u16, user: &str, conns: usize, secs: u64) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..conns)
        .map(|_| {
            let (stop, done, user) = (stop.clone(), done.clone(), user.to_string());
            std::thread::spawn(move || {
                let mut c = Client::connect(port, &user);
                while !stop.load(Ordering::Relaxed) {
                    c.query("SELECT 1");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (start_n, started) = (done.load(Ordering::Relaxed), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let n = done.load(Ordering::Relaxed) - start_n;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("client");
    }
    rate
}

fn start_mariadb() -> Option<Mariadb> {
    mariadb::start(&common::base_dir(), &["--innodb-buffer-pool-size=2G"])
}

/// Rows per second streaming `SELECT * FROM bench.stream`.
fn stream(port: u16) -> (u64, f64) {
    let mut c = Client::connect(port, "root");
    let started = Instant::now();
    let rows = c.query("SELECT * FROM bench.stream");
    (rows, rows as f64 / started.elapsed().as_secs_f64())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rows = common::bench_rows();
    let dir = tempfile::tempdir_in(common::base_dir()).expect("temp dir");
    let volume_dir = dir.path().join("volume");
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let opts = floe::primary::PrimaryOptions {
                volume: volume_dir,
                listen: floe::role::Listen::loopback(0),
                lease: None,
                plugins: Default::default(),
            };
            let running = floe::primary::start(&opts).await.expect("floe starts");
            port_tx.send(running.addr.port()).expect("port");
            running.serve().await.expect("serve");
        });
    });
    let floe_port = port_rx.recv().expect("floe port");
    let maria = start_mariadb();
    if maria.is_none() {
        println!("MariaDB (mariadbd) not available: floe figures only");
    }

    for conns in [1usize, 64] {
        let f = round_trips(floe_port, "root", conns, 5);
        match &maria {
            Some(m) => {
                let m_rate = round_trips(m.port, "root", conns, 5);
                println!(
                    "SELECT 1 round trips, {conns} connection(s): floe {f:.0}/s, MariaDB {m_rate:.0}/s, ratio {:.2}x",
                    f / m_rate
                );
            }
            None => println!("SELECT 1 round trips, {conns} connection(s): floe {f:.0}/s"),
        }
    }

    // A table of `rows` rows, loaded the same way into both.
    let file = common::base_dir().join(format!("stream-{rows}.tsv"));
    if !file.exists() {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&file).expect("data file"));
        for i in 0..rows {
            writeln!(
                w,
                "{i}\t{}\tchannel-{:03}\t2024-{:02}-{:02} 12:00:00",
                i * 7 % 100_000,
                i % 500,
                1 + i % 12,
                1 + i % 28
            )
            .expect("write");
        }
    }
    let ddl = "CREATE DATABASE IF NOT EXISTS bench; CREATE TABLE bench.stream (id BIGINT PRIMARY KEY, cost BIGINT, channel VARCHAR(20), aired DATETIME)";
    let load = format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE bench.stream",
        file.display()
    );
    let mut ports = vec![("floe", floe_port)];
    if let Some(m) = &maria {
        ports.push(("MariaDB", m.port));
    }
    let mut results = Vec::new();
    for (name, port) in ports {
        mysql_cli(port, ddl);
        let t = Instant::now();
        mysql_cli(port, &load);
        println!(
            "{name}: loaded {rows} rows in {:.1}s",
            t.elapsed().as_secs_f64()
        );
        let (n, rate) = stream(port);
        assert_eq!(n, rows, "{name} streamed every row");
        println!("{name}: streamed {n} rows at {rate:.0} rows/s");
        results.push(rate);
    }
    if results.len() == 2 {
        println!(
            "streaming ratio floe/MariaDB: {:.2}x",
            results[0] / results[1]
        );
    }
}

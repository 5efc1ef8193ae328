//! Readers: follow the primary's log through the volume, answer queries on
//! one lsn at a time, refuse writes with 1290 naming the primary, report
//! their lag, and converge to the primary's exact contents whether started
//! mid-load or restarted after kill -9.

mod semantics;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use floe::reader::{self, ReaderOptions};
use floe::role::Listen;
use floe::wasm::PluginOptions;
use mysql_async::prelude::*;
use mysql_async::{Conn, Pool};

use crate::mysql::server::{InThread, TestServer};
use crate::support::{env_var, playing, start_serving_child};

/// A reader in this process on `volume`, on a free loopback port; stopped
/// when dropped.
pub(crate) struct TestReader(InThread);

impl TestReader {
    pub(crate) fn start(volume: &Path) -> TestReader {
        Self::start_with(volume, PluginOptions::default())
    }

    pub(crate) fn start_with(volume: &Path, plugins: PluginOptions) -> TestReader {
        let opts = ReaderOptions {
            volume: volume.to_path_buf(),
            listen: Listen::loopback(0),
            plugins,
        };
        TestReader(InThread::start(move |port, stop| async move {
            let running = reader::start(&opts).await.expect("reader starts");
            port.send(running.addr.port()).unwrap();
            running.serve_until(stop).await.unwrap();
        }))
    }

    pub(crate) fn port(&self) -> u16 {
        self.0.port
    }
}

pub(crate) fn volume_of(s: &TestServer) -> PathBuf {
    s.dir.path().join("volume")
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn pool(port: u16) -> Pool {
    Pool::new(format!("mysql://root@127.0.0.1:{port}").as_str())
}

async fn status(c: &mut Conn, name: &str) -> String {
    let row: Option<(String, String)> = c
        .query_first(format!("SHOW STATUS LIKE '{name}'"))
        .await
        .unwrap();
    row.map(|r| r.1).unwrap_or_default()
}

async fn applied_lsn(c: &mut Conn) -> u64 {
    status(c, "floe_applied_lsn").await.parse().unwrap()
}

/// Waits until the reader has applied everything the primary has now.
pub(crate) async fn caught_up(primary: &mut Conn, reader: &mut Conn) {
    let target = applied_lsn(primary).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let at = applied_lsn(reader).await;
        if at >= target {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "reader stuck at lsn {at}, primary at {target}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn server_code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    }
}

#[test]
fn reader_follows_refuses_writes_and_reports_lag() {
    let s = TestServer::start();
    s.query(
        "CREATE DATABASE ads; CREATE TABLE ads.airings (id BIGINT PRIMARY KEY, channel VARCHAR(20), cost DECIMAL(10,2))",
    );
    let r = TestReader::start(&volume_of(&s));
    runtime().block_on(async {
        let (pp, rp) = (pool(s.port), pool(r.port()));
        let mut p = pp.get_conn().await.unwrap();
        let mut q = rp.get_conn().await.unwrap();
        // What existed before the reader started is there at once.
        let tables: Vec<String> = q.query("SHOW TABLES FROM ads").await.unwrap();
        assert_eq!(tables, vec!["airings".to_string()]);

        p.query_drop("INSERT INTO ads.airings VALUES (1, 'CCTV-1', 10.50), (2, '湖南卫视', 20.25)")
            .await
            .unwrap();
        caught_up(&mut p, &mut q).await;
        let rows: Vec<(i64, String, String)> = q
            .query("SELECT id, channel, cost FROM ads.airings ORDER BY id")
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (1, "CCTV-1".into(), "10.50".into()),
                (2, "湖南卫视".into(), "20.25".into())
            ]
        );
        // Updates, deletes and DDL on the primary reach the reader.
        p.query_drop("UPDATE ads.airings SET cost = cost * 2 WHERE id = 1; DELETE FROM ads.airings WHERE id = 2; CREATE TABLE ads.channels (name VARCHAR(20) PRIMARY KEY)")
            .await
            .unwrap();
        caught_up(&mut p, &mut q).await;
        let rows: Vec<(i64, String)> = q
            .query("SELECT id, cost FROM ads.airings")
            .await
            .unwrap();
        assert_eq!(rows, vec![(1, "21.00".into())]);
        let tables: Vec<String> = q.query("SHOW TABLES FROM ads").await.unwrap();
        assert_eq!(tables, vec!["airings".to_string(), "channels".to_string()]);

        // Writes of every kind are refused with 1290, naming the primary.
        for write in [
            "INSERT INTO ads.airings VALUES (3, 'x', 1)",
            "UPDATE ads.airings SET cost = 0",
            "DELETE FROM ads.airings",
            "CREATE TABLE ads.t (a INT)",
            "DROP TABLE ads.airings",
            "CREATE DATABASE other",
            "CREATE USER 'u'@'%' IDENTIFIED BY 'p'",
        ] {
            let e = q.query_drop(write).await.unwrap_err();
            assert_eq!(server_code(&e), Some(1290), "{write}: {e}");
            assert!(
                e.to_string().contains(&format!("127.0.0.1:{}", s.port)),
                "{write}: the error names the primary: {e}"
            );
        }
        // Reads inside a transaction work; a write in one is refused.
        q.query_drop("BEGIN").await.unwrap();
        let n: Option<i64> = q.query_first("SELECT COUNT(*) FROM ads.airings").await.unwrap();
        assert_eq!(n, Some(1));
        let e = q
            .query_drop("INSERT INTO ads.airings VALUES (4, 'y', 1)")
            .await
            .unwrap_err();
        assert_eq!(server_code(&e), Some(1290));
        q.query_drop("COMMIT").await.unwrap();

        // Status: the role, the position and the lag (caught up: 0).
        assert_eq!(status(&mut q, "floe_role").await, "reader");
        assert_eq!(status(&mut q, "floe_lag_ms").await, "0");
        assert_eq!(
            status(&mut q, "floe_primary").await,
            format!("127.0.0.1:{}", s.port)
        );
        let all: Vec<(String, String)> = q.query("SHOW STATUS LIKE 'floe%'").await.unwrap();
        for name in [
            "floe_applied_lsn",
            "floe_durable_lsn",
            "floe_lag_ms",
            "floe_lag_bytes",
            "floe_last_apply_delay_us",
        ] {
            assert!(all.iter().any(|(n, _)| n == name), "{name} in {all:?}");
        }
        // The primary lists the reader following it.
        let replicas: Vec<mysql_async::Row> = p.query("SHOW REPLICAS").await.unwrap();
        assert_eq!(replicas.len(), 1);
        let port: i64 = replicas[0].get("Port").unwrap();
        assert_eq!(port, r.port() as i64);
        assert_eq!(status(&mut p, "floe_readers").await, "1");
        drop((p, q));
        pp.disconnect().await.unwrap();
        rp.disconnect().await.unwrap();
    });
    // A reader that stops withdraws its card.
    drop(r);
    let replicas = s.query("SHOW REPLICAS");
    assert!(replicas.trim().is_empty(), "no readers left: {replicas}");
}

#[test]
fn transfers_between_accounts_keep_the_sum_on_readers() {
    const ACCOUNTS: i64 = 50;
    const START: i64 = 1_000;
    let s = TestServer::start();
    let values: Vec<String> = (0..ACCOUNTS).map(|i| format!("({i}, {START})")).collect();
    s.query(&format!(
        "CREATE DATABASE bank; CREATE TABLE bank.accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL); INSERT INTO bank.accounts VALUES {}",
        values.join(",")
    ));
    let r = TestReader::start(&volume_of(&s));
    let stop = Arc::new(AtomicBool::new(false));
    let transfers = Arc::new(AtomicU64::new(0));
    let rt = runtime();
    rt.block_on(async {
        let (pp, rp) = (pool(s.port), pool(r.port()));
        let writers: Vec<_> = (0..4u64)
            .map(|w| {
                let pp = pp.clone();
                let stop = stop.clone();
                let transfers = transfers.clone();
                tokio::spawn(async move {
                    let mut c = pp.get_conn().await.unwrap();
                    let mut n = w;
                    while !stop.load(Ordering::Relaxed) {
                        n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        let from = (n >> 33) as i64 % ACCOUNTS;
                        let to = (from + 1 + (n >> 13) as i64 % (ACCOUNTS - 1)) % ACCOUNTS;
                        let amount = (n >> 50) as i64 % 100;
                        let txn = format!(
                            "BEGIN; UPDATE bank.accounts SET balance = balance - {amount} WHERE id = {from}; UPDATE bank.accounts SET balance = balance + {amount} WHERE id = {to}; COMMIT"
                        );
                        match c.query_drop(txn).await {
                            Ok(()) => {
                                transfers.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) if server_code(&e) == Some(1213) => {
                                c.query_drop("ROLLBACK").await.unwrap();
                            }
                            Err(e) => panic!("transfer failed: {e}"),
                        }
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let rp = rp.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut c = rp.get_conn().await.unwrap();
                    let mut checks = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        let (n, sum): (i64, i64) = c
                            .query_first("SELECT COUNT(*), SUM(balance) FROM bank.accounts")
                            .await
                            .unwrap()
                            .unwrap();
                        assert_eq!((n, sum), (ACCOUNTS, ACCOUNTS * START), "check {checks}");
                        checks += 1;
                    }
                    checks
                })
            })
            .collect();
        // Run until enough transfers have committed under the readers' eyes
        // (bounded: a loaded CI machine is slow, not wrong).
        let started = Instant::now();
        while (transfers.load(Ordering::Relaxed) < 100 || started.elapsed() < Duration::from_secs(2))
            && started.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.store(true, Ordering::Relaxed);
        let mut checks = 0;
        for h in readers {
            checks += h.await.unwrap();
        }
        for h in writers {
            h.await.unwrap();
        }
        let done = transfers.load(Ordering::Relaxed);
        assert!(done >= 100, "only {done} transfers committed in a minute");
        assert!(checks > 20, "only {checks} sums checked");
        // And once caught up, the reader has every balance the primary has.
        let mut p = pp.get_conn().await.unwrap();
        let mut q = rp.get_conn().await.unwrap();
        caught_up(&mut p, &mut q).await;
        let all = "SELECT id, balance FROM bank.accounts ORDER BY id";
        let on_primary: Vec<(i64, i64)> = p.query(all).await.unwrap();
        let on_reader: Vec<(i64, i64)> = q.query(all).await.unwrap();
        assert_eq!(on_primary, on_reader);
        drop((p, q));
        pp.disconnect().await.unwrap();
        rp.disconnect().await.unwrap();
    });
}

const ROLE: &str = "reader::child_reader";

/// Child: a reader on FLOE_VOLUME until killed.
#[test]
#[ignore = "child process role"]
fn child_reader() {
    if !playing(ROLE) {
        return;
    }
    runtime().block_on(async {
        let opts = ReaderOptions {
            volume: env_var("FLOE_VOLUME").into(),
            listen: Listen::loopback(0),
            plugins: Default::default(),
        };
        let running = reader::start(&opts).await.unwrap();
        println!();
        println!("PORT {}", running.addr.port());
        running.serve().await.unwrap();
    });
}

#[test]
fn readers_started_mid_load_and_after_kill_9_converge() {
    let s = TestServer::start();
    s.query(
        "CREATE DATABASE load; CREATE TABLE load.t (id BIGINT PRIMARY KEY, grp INT, v VARCHAR(40))",
    );
    let volume = volume_of(&s);
    let stop = Arc::new(AtomicBool::new(false));
    runtime().block_on(async {
        let pp = pool(s.port);
        // The load: multi-row inserts, updates and deletes from 3 connections.
        let loaders: Vec<_> = (0..3i64)
            .map(|w| {
                let pp = pp.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    let mut c = pp.get_conn().await.unwrap();
                    let mut batch = 0i64;
                    while !stop.load(Ordering::Relaxed) && batch < 100_000 {
                        let base = (w * 100_000 + batch) * 100;
                        let rows: Vec<String> = (0..100)
                            .map(|i| format!("({}, {}, 'w{w}-b{batch}-r{i}')", base + i, i % 7))
                            .collect();
                        c.query_drop(format!("INSERT INTO load.t VALUES {}", rows.join(",")))
                            .await
                            .unwrap();
                        if batch % 5 == 4 {
                            c.query_drop(format!(
                                "UPDATE load.t SET v = CONCAT(v, '+') WHERE id >= {base} AND id < {} AND grp = 3; DELETE FROM load.t WHERE id >= {base} AND id < {} AND grp = 5",
                                base + 100,
                                base + 100
                            ))
                            .await
                            .unwrap();
                        }
                        batch += 1;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(700)).await;
        // Joins mid-load: one in this process, one as a process we kill -9.
        let early = tokio::task::block_in_place(|| TestReader::start(&volume));
        let (mut child, _, _) =
            tokio::task::block_in_place(|| start_serving_child(ROLE, &volume));
        tokio::time::sleep(Duration::from_millis(700)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let (mut child, child_port, _) =
            tokio::task::block_in_place(|| start_serving_child(ROLE, &volume));
        tokio::time::sleep(Duration::from_millis(700)).await;
        stop.store(true, Ordering::Relaxed);
        for l in loaders {
            l.await.unwrap();
        }
        let mut p = pp.get_conn().await.unwrap();
        let all = "SELECT id, grp, v FROM load.t ORDER BY id";
        let on_primary: Vec<(i64, i32, String)> = p.query(all).await.unwrap();
        assert!(on_primary.len() > 1_000, "load too small to mean anything");
        for port in [early.port(), child_port] {
            let rp = pool(port);
            let mut q = rp.get_conn().await.unwrap();
            caught_up(&mut p, &mut q).await;
            let on_reader: Vec<(i64, i32, String)> = q.query(all).await.unwrap();
            assert_eq!(on_reader.len(), on_primary.len(), "reader on {port}");
            assert!(on_reader == on_primary, "reader on {port} differs");
            drop(q);
            rp.disconnect().await.unwrap();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        drop(p);
        pp.disconnect().await.unwrap();
        tokio::task::block_in_place(|| drop(early));
    });
}

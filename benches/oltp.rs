//! OLTP on the primary next to MariaDB (Debian), in one run, with the same
//! settings: sysbench oltp_point_select (8 threads), oltp_read_write (8
//! threads) and oltp_insert (64 threads) on a 1M-row table with prepared
//! statements; `mysql db < dump.sql` of a mysqldump-style file; LOAD DATA
//! LOCAL INFILE of a TSV; memory of the server with the table loaded.
//! Both are durable per commit (MariaDB's defaults, floe's group commit).
//!
//! FLOE_BENCH_ROWS (default 10M) sizes the LOAD DATA file,
//! FLOE_BENCH_TABLE_ROWS (1M) the sysbench table and the dump,
//! FLOE_BENCH_SECS (20) each sysbench run.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

mod common;
use common::mariadb;
use common::mysql_cli;
use common::roles::{self, memory, spawn_role};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One sysbench invocation; returns its output (panics if sysbench fails).
fn sysbench(port: u16, test: &str, cmd: &str, extra: &[String]) -> String {
    let out = Command::new("sysbench")
        .arg(test)
        .args([
            "--db-driver=mysql",
            "--mysql-host=127.0.0.1",
            &format!("--mysql-port={port}"),
            "--mysql-user=root",
            "--mysql-db=sbtest",
            "--tables=1",
            "--db-ps-mode=auto",
            "--mysql-ignore-errors=1213,1205",
        ])
        .args(extra)
        .arg(cmd)
        .stderr(Stdio::inherit())
        .output()
        .expect("sysbench is installed (apt install sysbench)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && !text.contains("FATAL"),
        "sysbench {test} {cmd}: {text}"
    );
    text
}

/// `(per second, count)` of a sysbench statistics line such as
/// `transactions: 1234 (61.70 per sec.)`.
fn stat(output: &str, name: &str) -> (f64, u64) {
    let line = output
        .lines()
        .find(|l| l.trim_start().starts_with(name))
        .unwrap_or("");
    let count = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let rate = line
        .split('(')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .unwrap_or(0.0);
    (rate, count)
}

/// A mysqldump-style file: conditional comments, LOCK TABLES, ~1 MB
/// multi-row INSERTs.
fn dump_file(dir: &Path, rows: u64) -> PathBuf {
    let path = dir.join(format!("oltp-dump-{rows}.sql"));
    if path.exists() {
        return path;
    }
    let tmp = path.with_extension("tmp");
    let mut w = BufWriter::new(std::fs::File::create(&tmp).expect("dump file"));
    let head = "-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n\
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n\
/*!50503 SET NAMES utf8mb4 */;\n\
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n\
DROP TABLE IF EXISTS `orders`;\n\
CREATE TABLE `orders` (\n  `id` bigint NOT NULL,\n  `customer` int NOT NULL,\n  `note` varchar(120) DEFAULT NULL,\n  `amount` decimal(10,2) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n\
LOCK TABLES `orders` WRITE;\n\
/*!40000 ALTER TABLE `orders` DISABLE KEYS */;\n";
    w.write_all(head.as_bytes()).expect("write");
    let mut line = String::new();
    for i in 0..rows {
        if line.is_empty() {
            line.push_str("INSERT INTO `orders` VALUES ");
        } else {
            line.push(',');
        }
        line.push_str(&format!(
            "({i},{},'order {i} for customer {}',{}.{:02})",
            i * 7919 % 100_000,
            i * 7919 % 100_000,
            i % 10_000,
            i % 100
        ));
        if line.len() > 1 << 20 || i + 1 == rows {
            line.push_str(";\n");
            w.write_all(line.as_bytes()).expect("write");
            line.clear();
        }
    }
    w.write_all(
        b"/*!40000 ALTER TABLE `orders` ENABLE KEYS */;\nUNLOCK TABLES;\n/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n",
    )
    .expect("write");
    drop(w);
    std::fs::rename(&tmp, &path).expect("rename");
    path
}

fn tsv_file(dir: &Path, rows: u64) -> PathBuf {
    let path = dir.join(format!("oltp-load-{rows}.tsv"));
    if path.exists() {
        return path;
    }
    let tmp = path.with_extension("tmp");
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp).expect("tsv"));
    for i in 0..rows {
        writeln!(
            w,
            "{i}\t{}\torder {i}\t{}.{:02}",
            i * 7919 % 100_000,
            i % 10_000,
            i % 100
        )
        .expect("write");
    }
    drop(w);
    std::fs::rename(&tmp, &path).expect("rename");
    path
}

#[derive(Default)]
struct Figures {
    prepare_s: f64,
    rss_mib: f64,
    point_select: f64,
    read_write: f64,
    read_write_retries: u64,
    insert: f64,
    dump_s: f64,
    load_s: f64,
}

/// The whole program against one server.
fn run(port: u16, pid: u32, table_rows: u64, secs: u64, dump: &Path, tsv: &Path) -> Figures {
    let mut f = Figures::default();
    mysql_cli(port, "CREATE DATABASE IF NOT EXISTS sbtest");
    let size = format!("--table-size={table_rows}");
    let t = Instant::now();
    sysbench(
        port,
        "oltp_read_write",
        "prepare",
        std::slice::from_ref(&size),
    );
    f.prepare_s = t.elapsed().as_secs_f64();
    f.rss_mib = memory(pid).0;
    let run = |test: &str, threads: u32| {
        let args = [
            size.clone(),
            format!("--threads={threads}"),
            format!("--time={secs}"),
        ];
        sysbench(port, test, "run", &args)
    };
    f.point_select = stat(&run("oltp_point_select", 8), "transactions:").0;
    let rw = run("oltp_read_write", 8);
    f.read_write = stat(&rw, "transactions:").0;
    f.read_write_retries = stat(&rw, "ignored errors:").1;
    f.insert = stat(&run("oltp_insert", 64), "transactions:").0;
    sysbench(port, "oltp_read_write", "cleanup", &[]);

    mysql_cli(port, "CREATE DATABASE IF NOT EXISTS dump");
    let t = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "mysql -h 127.0.0.1 -P {port} -u root dump < '{}'",
            dump.display()
        ))
        .status()
        .expect("mysql < dump.sql");
    assert!(status.success(), "the dump loads");
    f.dump_s = t.elapsed().as_secs_f64();

    mysql_cli(
        port,
        "CREATE TABLE dump.bulk (id BIGINT PRIMARY KEY, customer INT NOT NULL, note VARCHAR(120), amount DECIMAL(10,2) NOT NULL)",
    );
    let t = Instant::now();
    mysql_cli(
        port,
        &format!(
            "LOAD DATA LOCAL INFILE '{}' INTO TABLE dump.bulk",
            tsv.display()
        ),
    );
    f.load_s = t.elapsed().as_secs_f64();
    f
}

fn main() {
    if roles::play_if_asked() {
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let load_rows = common::bench_rows();
    let table_rows = env_or("FLOE_BENCH_TABLE_ROWS", 1_000_000);
    let secs = env_or("FLOE_BENCH_SECS", 20);
    let base = common::base_dir();
    let dump = dump_file(&base, table_rows);
    let tsv = tsv_file(&base, load_rows);

    let dir = tempfile::tempdir_in(&base).expect("temp dir");
    let floe = {
        let primary = spawn_role("primary", &dir.path().join("volume"));
        run(
            primary.port,
            primary.child.id(),
            table_rows,
            secs,
            &dump,
            &tsv,
        )
    };
    let maria = mariadb::start(&base, &["--innodb-buffer-pool-size=2G"])
        .map(|m| run(m.port, m.pid(), table_rows, secs, &dump, &tsv));

    println!();
    println!("{:<44} {:>12} {:>12} {:>8}", "", "floe", "MariaDB", "ratio");
    let row = |name: &str, f: f64, m: Option<f64>, higher_better: bool, target: &str| {
        let (ms, ratio) = match m {
            Some(m) => (
                format!("{m:.1}"),
                format!("{:.2}x", if higher_better { f / m } else { m / f }),
            ),
            None => ("-".into(), "-".into()),
        };
        println!("{name:<44} {f:>12.1} {ms:>12} {ratio:>8}  {target}");
    };
    let m = maria.as_ref();
    row(
        "oltp_point_select, 8 threads (tps)",
        floe.point_select,
        m.map(|m| m.point_select),
        true,
        "target >= 1.5x",
    );
    row(
        "oltp_read_write, 8 threads (tps)",
        floe.read_write,
        m.map(|m| m.read_write),
        true,
        "target >= 1.2x",
    );
    row(
        "oltp_insert, 64 threads (tps)",
        floe.insert,
        m.map(|m| m.insert),
        true,
        "target >= 1.5x",
    );
    row(
        &format!("mysql < dump.sql, {table_rows} rows (s)"),
        floe.dump_s,
        m.map(|m| m.dump_s),
        false,
        "target >= 3x",
    );
    row(
        &format!("LOAD DATA LOCAL INFILE, {load_rows} rows (s)"),
        floe.load_s,
        m.map(|m| m.load_s),
        false,
        "target >= 5x",
    );
    row(
        &format!("sysbench prepare, {table_rows} rows (s)"),
        floe.prepare_s,
        m.map(|m| m.prepare_s),
        false,
        "",
    );
    row(
        &format!("server RSS with {table_rows} rows (MiB)"),
        floe.rss_mib,
        m.map(|m| m.rss_mib),
        false,
        "",
    );
    println!(
        "read_write transactions retried after a deadlock: floe {}, MariaDB {}",
        floe.read_write_retries,
        m.map_or("-".to_string(), |m| m.read_write_retries.to_string())
    );
}

//! The advertising-airings workload, side by side in one run: a
//! deterministic generator (airing time, channel, province, city,
//! advertiser, brand, category, duration, cost), loaded through floe's
//! primary with LOAD DATA and queried on a floe reader, on DuckDB (PyPI,
//! same TSV) and on MariaDB (Debian). Also: reader start to first answer on
//! the loaded volume, reader and DuckDB memory, and commit -> visible on a
//! reader under a sysbench write load on the primary.
//!
//! FLOE_BENCH_ROWS (default 10M) sets the size; FLOE_BENCH_SKIP_MARIADB=1
//! leaves MariaDB out. floe's roles run as child processes of this binary
//! (FLOE_BENCH_ROLE) so that their memory is their own.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::mariadb;
use common::mysql_cli;
use common::roles::{self, memory, spawn_role};
use common::wire::Client;

const PROVINCES: [&str; 31] = [
    "Beijing",
    "Tianjin",
    "Hebei",
    "Shanxi",
    "Neimenggu",
    "Liaoning",
    "Jilin",
    "Heilongjiang",
    "Shanghai",
    "Jiangsu",
    "Zhejiang",
    "Anhui",
    "Fujian",
    "Jiangxi",
    "Shandong",
    "Henan",
    "Hubei",
    "Hunan",
    "Guangdong",
    "Guangxi",
    "Hainan",
    "Chongqing",
    "Sichuan",
    "Guizhou",
    "Yunnan",
    "Xizang",
    "Shaanxi",
    "Gansu",
    "Qinghai",
    "Ningxia",
    "Xinjiang",
];
const CATEGORIES: [&str; 16] = [
    "Auto",
    "Beverage",
    "Cosmetics",
    "Dairy",
    "Education",
    "Electronics",
    "Finance",
    "Food",
    "Games",
    "Health",
    "Home",
    "Insurance",
    "Pharma",
    "Retail",
    "Telecom",
    "Travel",
];
const NETWORKS: [&str; 8] = [
    "CCTV", "Hunan", "Zhejiang", "Jiangsu", "Dragon", "Beijing", "Shenzhen", "Local",
];
const DURATIONS: [u64; 6] = [5, 10, 15, 30, 45, 60];
const CHANNELS: u64 = 200;

const SCHEMA: &str = "CREATE DATABASE IF NOT EXISTS ads; \
    CREATE TABLE ads.airings (id BIGINT PRIMARY KEY, aired_at DATETIME NOT NULL, channel_id INT NOT NULL, \
    province VARCHAR(16) NOT NULL, city VARCHAR(24) NOT NULL, advertiser VARCHAR(16) NOT NULL, \
    brand VARCHAR(16) NOT NULL, category VARCHAR(16) NOT NULL, duration INT NOT NULL, cost DECIMAL(12,2) NOT NULL); \
    CREATE TABLE ads.channels (channel_id INT PRIMARY KEY, name VARCHAR(16) NOT NULL, network VARCHAR(16) NOT NULL, tier INT NOT NULL); \
    CREATE TABLE ads.probe (id BIGINT PRIMARY KEY, v INT)";

/// One analytical query, in MySQL's dialect and in DuckDB's.
struct Query {
    name: &'static str,
    mysql: &'static str,
    duckdb: &'static str,
}

const QUERIES: &[Query] = &[
    Query {
        name: "totals",
        mysql: "SELECT COUNT(*), SUM(cost), AVG(duration) FROM airings",
        duckdb: "SELECT COUNT(*), SUM(cost), AVG(duration) FROM airings",
    },
    Query {
        name: "by hour of day",
        mysql: "SELECT HOUR(aired_at) AS h, COUNT(*) AS n, SUM(cost) AS spend FROM airings GROUP BY HOUR(aired_at) ORDER BY h",
        duckdb: "SELECT hour(aired_at) AS h, COUNT(*) AS n, SUM(cost) AS spend FROM airings GROUP BY hour(aired_at) ORDER BY h",
    },
    Query {
        name: "days of one month",
        mysql: "SELECT DATE(aired_at) AS d, COUNT(*) AS n, SUM(cost) AS spend FROM airings WHERE aired_at >= '2024-03-01' AND aired_at < '2024-04-01' GROUP BY DATE(aired_at) ORDER BY d",
        duckdb: "SELECT CAST(aired_at AS DATE) AS d, COUNT(*) AS n, SUM(cost) AS spend FROM airings WHERE aired_at >= '2024-03-01' AND aired_at < '2024-04-01' GROUP BY CAST(aired_at AS DATE) ORDER BY d",
    },
    Query {
        name: "by province",
        mysql: "SELECT province, COUNT(*) AS n, SUM(cost) AS spend FROM airings GROUP BY province ORDER BY spend DESC",
        duckdb: "SELECT province, COUNT(*) AS n, SUM(cost) AS spend FROM airings GROUP BY province ORDER BY spend DESC",
    },
    Query {
        name: "top cities of a province",
        mysql: "SELECT city, SUM(cost) AS spend FROM airings WHERE province = 'Guangdong' GROUP BY city ORDER BY spend DESC LIMIT 10",
        duckdb: "SELECT city, SUM(cost) AS spend FROM airings WHERE province = 'Guangdong' GROUP BY city ORDER BY spend DESC LIMIT 10",
    },
    Query {
        name: "top advertisers",
        mysql: "SELECT advertiser, SUM(cost) AS spend, COUNT(*) AS n FROM airings GROUP BY advertiser ORDER BY spend DESC LIMIT 10",
        duckdb: "SELECT advertiser, SUM(cost) AS spend, COUNT(*) AS n FROM airings GROUP BY advertiser ORDER BY spend DESC LIMIT 10",
    },
    Query {
        name: "distinct brands per category",
        mysql: "SELECT category, COUNT(DISTINCT brand) AS brands FROM airings GROUP BY category ORDER BY category",
        duckdb: "SELECT category, COUNT(DISTINCT brand) AS brands FROM airings GROUP BY category ORDER BY category",
    },
    Query {
        name: "networks (join)",
        mysql: "SELECT c.network, COUNT(*) AS n, SUM(a.cost) AS spend FROM airings a JOIN channels c ON a.channel_id = c.channel_id GROUP BY c.network ORDER BY spend DESC",
        duckdb: "SELECT c.network, COUNT(*) AS n, SUM(a.cost) AS spend FROM airings a JOIN channels c ON a.channel_id = c.channel_id GROUP BY c.network ORDER BY spend DESC",
    },
    Query {
        name: "prime-time share by tier (join)",
        mysql: "SELECT c.tier, SUM(CASE WHEN HOUR(a.aired_at) BETWEEN 19 AND 22 THEN a.cost ELSE 0 END) / SUM(a.cost) AS prime FROM airings a JOIN channels c ON a.channel_id = c.channel_id GROUP BY c.tier ORDER BY c.tier",
        duckdb: "SELECT c.tier, SUM(CASE WHEN hour(a.aired_at) BETWEEN 19 AND 22 THEN a.cost ELSE 0 END) / SUM(a.cost) AS prime FROM airings a JOIN channels c ON a.channel_id = c.channel_id GROUP BY c.tier ORDER BY c.tier",
    },
    Query {
        name: "top 3 brands per category (window)",
        mysql: "WITH s AS (SELECT category, brand, SUM(cost) AS spend FROM airings GROUP BY category, brand) SELECT category, brand, spend FROM (SELECT category, brand, spend, ROW_NUMBER() OVER (PARTITION BY category ORDER BY spend DESC) AS rn FROM s) t WHERE rn <= 3 ORDER BY category, rn",
        duckdb: "WITH s AS (SELECT category, brand, SUM(cost) AS spend FROM airings GROUP BY category, brand) SELECT category, brand, spend FROM (SELECT category, brand, spend, ROW_NUMBER() OVER (PARTITION BY category ORDER BY spend DESC) AS rn FROM s) t WHERE rn <= 3 ORDER BY category, rn",
    },
    Query {
        name: "monthly running total (window)",
        mysql: "WITH m AS (SELECT DATE_FORMAT(aired_at, '%Y-%m') AS month, SUM(cost) AS spend FROM airings GROUP BY DATE_FORMAT(aired_at, '%Y-%m')) SELECT month, spend, SUM(spend) OVER (ORDER BY month) AS running FROM m ORDER BY month",
        duckdb: "WITH m AS (SELECT strftime(aired_at, '%Y-%m') AS month, SUM(cost) AS spend FROM airings GROUP BY strftime(aired_at, '%Y-%m')) SELECT month, spend, SUM(spend) OVER (ORDER BY month) AS running FROM m ORDER BY month",
    },
    Query {
        name: "duration buckets",
        mysql: "SELECT duration DIV 15 * 15 AS bucket, COUNT(*) AS n, AVG(cost) AS avg_cost FROM airings GROUP BY duration DIV 15 * 15 ORDER BY bucket",
        duckdb: "SELECT duration // 15 * 15 AS bucket, COUNT(*) AS n, AVG(cost) AS avg_cost FROM airings GROUP BY duration // 15 * 15 ORDER BY bucket",
    },
    Query {
        name: "one day, one category",
        mysql: "SELECT COUNT(*), SUM(cost) FROM airings WHERE aired_at BETWEEN '2024-06-01 00:00:00' AND '2024-06-01 23:59:59' AND category = 'Auto'",
        duckdb: "SELECT COUNT(*), SUM(cost) FROM airings WHERE aired_at BETWEEN '2024-06-01 00:00:00' AND '2024-06-01 23:59:59' AND category = 'Auto'",
    },
    Query {
        name: "distinct cities",
        mysql: "SELECT COUNT(DISTINCT city) FROM airings",
        duckdb: "SELECT COUNT(DISTINCT city) FROM airings",
    },
    Query {
        name: "big advertisers per province (subquery)",
        mysql: "SELECT province, COUNT(*) AS advertisers FROM (SELECT province, advertiser FROM airings GROUP BY province, advertiser HAVING SUM(cost) > 20000) t GROUP BY province ORDER BY advertisers DESC, province LIMIT 10",
        duckdb: "SELECT province, COUNT(*) AS advertisers FROM (SELECT province, advertiser FROM airings GROUP BY province, advertiser HAVING SUM(cost) > 20000) t GROUP BY province ORDER BY advertisers DESC, province LIMIT 10",
    },
];

/// splitmix64: the generator's only source of "randomness".
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Writes `rows` airings over 2024 in time order (the way they arrive),
/// and the channels; reuses files of the same size from an earlier run.
fn generate(dir: &Path, rows: u64) -> (PathBuf, PathBuf) {
    let airings = dir.join(format!("ads-airings-{rows}.tsv"));
    let channels = dir.join("ads-channels.tsv");
    if !channels.exists() {
        let mut w = BufWriter::new(std::fs::File::create(&channels).expect("channels file"));
        for c in 1..=CHANNELS {
            writeln!(
                w,
                "{c}\tch-{c:03}\t{}\t{}",
                NETWORKS[(c % 8) as usize],
                1 + c % 4
            )
            .expect("write");
        }
    }
    if airings.exists() {
        return (airings, channels);
    }
    let started = Instant::now();
    let tmp = airings.with_extension("tmp");
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp).expect("data file"));
    let year_secs = 366 * 86_400u64;
    let epoch_2024 = 1_704_067_200u64;
    for i in 0..rows {
        let h = mix(i);
        let at = epoch_2024 + i * year_secs / rows.max(1) + (h >> 58);
        let (days, secs) = (at / 86_400, at % 86_400);
        let (y, m, d) = floe::mysql::resultset::civil_from_days(days as i64);
        let channel = 1 + mix(h) % CHANNELS;
        let province = PROVINCES[(h % 31) as usize];
        let city = (h >> 8) % 12;
        let advertiser = (mix(h ^ 1) >> 3) % 2000;
        let brand = advertiser * 3 + (h >> 20) % 3;
        let category = CATEGORIES[(advertiser % 16) as usize];
        let duration = DURATIONS[((h >> 24) % 6) as usize];
        let cents = duration * (50 + (h >> 32) % 500) * (1 + channel % 4);
        writeln!(
            w,
            "{i}\t{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}\t{channel}\t{province}\t{province}-{city}\tadv-{advertiser:04}\tbrand-{brand:05}\t{category}\t{duration}\t{}.{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            cents / 100,
            cents % 100
        )
        .expect("write");
    }
    w.flush().expect("flush");
    drop(w);
    std::fs::rename(&tmp, &airings).expect("rename");
    println!(
        "generated {rows} airings in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    (airings, channels)
}

/// Median of `runs` timed runs after one warm-up, in seconds.
fn time_query(c: &mut Client, sql: &str, runs: usize) -> f64 {
    c.query(sql);
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            c.query(sql);
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The last field of the first line `sql` prints (a `SHOW STATUS` value).
fn mysql_value(port: u16, sql: &str) -> String {
    let out = mysql_cli(port, sql);
    let line = out.lines().next().unwrap_or("");
    line.rsplit('\t').next().unwrap_or("").to_string()
}

fn load_sql(airings: &Path, channels: &Path) -> String {
    format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE ads.airings; LOAD DATA LOCAL INFILE '{}' INTO TABLE ads.channels",
        airings.display(),
        channels.display()
    )
}

fn geomean(xs: &[f64]) -> f64 {
    (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Commit on the primary -> visible on the reader, while sysbench writes.
fn commit_to_visible(primary: u16, reader: u16) {
    let sysbench = move |cmd: &str, extra: &[&str]| {
        Command::new("sysbench")
            .args([
                "oltp_insert",
                "--db-driver=mysql",
                "--mysql-host=127.0.0.1",
                &format!("--mysql-port={primary}"),
                "--mysql-user=root",
                "--mysql-db=sbtest",
                "--tables=4",
                "--table-size=1000",
            ])
            .args(extra)
            .arg(cmd)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    mysql_cli(primary, "CREATE DATABASE IF NOT EXISTS sbtest");
    let load = match sysbench("prepare", &[]) {
        Ok(s) if s.success() => Some(std::thread::spawn(move || {
            sysbench("run", &["--threads=8", "--time=20"])
        })),
        _ => {
            println!("sysbench not available: commit -> visible without a background load");
            None
        }
    };
    std::thread::sleep(Duration::from_secs(2));
    let mut p = Client::connect(primary, "root");
    let mut r = Client::connect(reader, "root");
    // What one poll costs: the resolution of the measurement.
    let poll = time_query(&mut r, "SELECT id FROM ads.probe WHERE id = -1", 21);
    let mut lags = Vec::new();
    for i in 0..300u64 {
        p.query(&format!("INSERT INTO ads.probe VALUES ({i}, 1)"));
        let acked = Instant::now();
        let deadline = acked + Duration::from_secs(5);
        while r.query(&format!("SELECT id FROM ads.probe WHERE id = {i}")) == 0 {
            assert!(Instant::now() < deadline, "probe {i} never became visible");
        }
        lags.push(acked.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(20));
    }
    let under_load = load.map(|h| {
        h.join()
            .ok()
            .and_then(Result::ok)
            .is_some_and(|s| s.success())
    });
    lags.sort_by(f64::total_cmp);
    println!(
        "commit -> visible on the reader{}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (one poll costs {:.2} ms)",
        match under_load {
            Some(true) => " under sysbench oltp_insert (8 threads)",
            Some(false) => " (sysbench run failed)",
            None => "",
        },
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags[lags.len() - 1],
        poll * 1e3
    );
}

const DUCKDB_SCRIPT: &str = r#"
import json, resource, sys, time
import duckdb
airings, channels, queries = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
t = time.time()
con.execute(f"""CREATE TABLE airings AS SELECT * FROM read_csv('{airings}', delim='\t', header=false,
  columns={{'id':'BIGINT','aired_at':'TIMESTAMP','channel_id':'INTEGER','province':'VARCHAR','city':'VARCHAR',
  'advertiser':'VARCHAR','brand':'VARCHAR','category':'VARCHAR','duration':'INTEGER','cost':'DECIMAL(12,2)'}})""")
con.execute(f"""CREATE TABLE channels AS SELECT * FROM read_csv('{channels}', delim='\t', header=false,
  columns={{'channel_id':'INTEGER','name':'VARCHAR','network':'VARCHAR','tier':'INTEGER'}})""")
load = time.time() - t
times = []
for q in queries:
    con.execute(q).fetchall()
    runs = []
    for _ in range(3):
        t = time.time()
        con.execute(q).fetchall()
        runs.append(time.time() - t)
    runs.sort()
    times.append(runs[1])
print(json.dumps({"load": load, "times": times,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"#;

/// DuckDB over the same files: (load seconds, per-query seconds, peak MiB).
fn duckdb(airings: &Path, channels: &Path) -> Option<(f64, Vec<f64>, f64)> {
    let queries: Vec<&str> = QUERIES.iter().map(|q| q.duckdb).collect();
    let queries = serde_json::to_string(&queries).expect("json");
    let out = Command::new("python3")
        .arg("-c")
        .arg(DUCKDB_SCRIPT)
        .arg(airings)
        .arg(channels)
        .arg(queries)
        .output()
        .ok()?;
    if !out.status.success() {
        println!(
            "DuckDB not available (pip install duckdb): {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        println!(
            "DuckDB's answer was not understood: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        return None;
    };
    let times = v["times"]
        .as_array()?
        .iter()
        .filter_map(|t| t.as_f64())
        .collect();
    Some((v["load"].as_f64()?, times, v["rss_mib"].as_f64()?))
}

/// MariaDB (InnoDB) over the same files: (load seconds, per-query seconds).
/// One warm-up and one timed run per query: it is the slow one.
fn mariadb(airings: &Path, channels: &Path) -> Option<(f64, Vec<f64>)> {
    let m = mariadb::start(
        &common::base_dir(),
        &[
            "--innodb-buffer-pool-size=4G",
            "--innodb-flush-log-at-trx-commit=2",
        ],
    )?;
    mysql_cli(m.port, SCHEMA);
    let t = Instant::now();
    mysql_cli(m.port, &load_sql(airings, channels));
    let load = t.elapsed().as_secs_f64();
    let mut c = Client::connect(m.port, "root");
    c.query("USE ads");
    let times = QUERIES
        .iter()
        .map(|q| time_query(&mut c, q.mysql, 1))
        .collect();
    Some((load, times))
}

fn main() {
    if roles::play_if_asked() {
        return;
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rows = common::bench_rows();
    let base = common::base_dir();
    let (airings, channels) = generate(&base, rows);
    let dir = tempfile::tempdir_in(&base).expect("temp dir");
    let volume = dir.path().join("volume");

    // Load through the primary.
    let primary = spawn_role("primary", &volume);
    mysql_cli(primary.port, SCHEMA);
    let t = Instant::now();
    mysql_cli(primary.port, &load_sql(&airings, &channels));
    let floe_load = t.elapsed().as_secs_f64();
    let (p_rss, p_peak) = memory(primary.child.id());
    println!(
        "floe: loaded {rows} rows through the primary in {floe_load:.1}s ({:.0} rows/s); primary RSS {p_rss:.0} MiB (peak {p_peak:.0})",
        rows as f64 / floe_load
    );
    // Maintenance seals the segments and, once the load has gone quiet,
    // writes a checkpoint: a reader joining after it maps, not replays.
    let applied: u64 = mysql_value(primary.port, "SHOW STATUS LIKE 'floe_applied_lsn'")
        .parse()
        .expect("applied lsn");
    let volume_handle = floe_storage::Volume::open(&volume).expect("volume");
    let waited = Instant::now();
    let checkpoint = loop {
        let latest = floe_storage::checkpoint::latest(volume_handle.store().as_ref())
            .ok()
            .flatten()
            .map_or(0, |m| m.lsn);
        if latest >= applied || waited.elapsed() > Duration::from_secs(15) {
            break latest;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    println!(
        "checkpoint at lsn {checkpoint} (load ended at {applied}) {:.1}s after the load",
        waited.elapsed().as_secs_f64()
    );

    // A reader joins: time to its first answer.
    let t = Instant::now();
    let reader = spawn_role("reader", &volume);
    let mut r = Client::connect(reader.port, "root");
    let first = r.query("SELECT COUNT(*) FROM ads.airings");
    let first_answer = t.elapsed().as_secs_f64();
    assert_eq!(first, 1);
    println!(
        "reader: start -> first answer {:.0} ms on the {rows}-row volume",
        first_answer * 1e3
    );
    r.query("USE ads");
    let floe_times: Vec<f64> = QUERIES
        .iter()
        .map(|q| time_query(&mut r, q.mysql, 3))
        .collect();
    let (r_rss, r_peak) = memory(reader.child.id());

    commit_to_visible(primary.port, reader.port);
    drop(r);
    drop(reader);
    drop(primary);

    let duck = duckdb(&airings, &channels);
    let maria = if std::env::var("FLOE_BENCH_SKIP_MARIADB").is_ok() {
        None
    } else {
        mariadb(&airings, &channels)
    };

    println!();
    println!(
        "{:<42} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "query", "floe ms", "DuckDB ms", "MariaDB ms", "vs DuckDB", "vs Maria"
    );
    for (i, q) in QUERIES.iter().enumerate() {
        let d = duck.as_ref().map(|d| d.1[i]);
        let m = maria.as_ref().map(|m| m.1[i]);
        let f = floe_times[i];
        let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}", v * 1e3));
        let ratio = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}x", f / v));
        println!(
            "{:<42} {:>10.1} {:>10} {:>10} {:>9} {:>9}",
            q.name,
            f * 1e3,
            show(d),
            show(m),
            ratio(d),
            ratio(m)
        );
    }
    let gf = geomean(&floe_times);
    println!("geometric mean: floe {:.1} ms", gf * 1e3);
    if let Some((load, times, rss)) = &duck {
        let gd = geomean(times);
        println!(
            "  DuckDB {:.1} ms: floe/DuckDB = {:.2}x (target <= 1.0x); DuckDB load {load:.1}s, peak RSS {rss:.0} MiB",
            gd * 1e3,
            gf / gd
        );
    }
    if let Some((load, times)) = &maria {
        let gm = geomean(times);
        println!(
            "  MariaDB {:.1} ms: MariaDB/floe = {:.1}x faster on floe (target >= 20x); MariaDB LOAD DATA {load:.1}s vs floe {floe_load:.1}s ({:.1}x)",
            gm * 1e3,
            gm / gf,
            load / floe_load
        );
    }
    println!("floe reader RSS {r_rss:.0} MiB (peak {r_peak:.0}) with {rows} rows mapped");
}

//! WebAssembly plugins: the example plugins built from `plugins/` with
//! `cargo build --target wasm32-wasip2 --release`, installed with
//! `CREATE FUNCTION ... SONAME`, used on the primary and on readers (one
//! following, one started later), across restarts; and the hostile set.

mod heap;
mod hostile;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use floe::wasm::PluginOptions;
use mysql_async::prelude::*;
use mysql_async::{Conn, Pool};

use crate::mysql::server::TestServer;
use crate::reader::{TestReader, caught_up, pool, runtime, volume_of};

/// Builds the plugins once per test run; the directory holding the `.wasm` files.
fn built_plugins() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins");
        let out = Command::new(env!("CARGO"))
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(&root)
            // The plugins are their own workspace with their own target directory.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "building the plugins failed (is the wasm32-wasip2 target installed?):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        root.join("target/wasm32-wasip2/release")
    })
}

/// A fresh plugin directory holding the example plugins (and room for bad files).
pub(crate) struct PluginDir {
    pub dir: tempfile::TempDir,
    pub cache: tempfile::TempDir,
}

impl PluginDir {
    pub(crate) fn new() -> PluginDir {
        let built = built_plugins();
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "ad_metrics",
            "daypart",
            "pii_mask",
            "brand_match",
            "approx_distinct",
            "hostile",
        ] {
            std::fs::copy(
                built.join(format!("{name}.wasm")),
                dir.path().join(format!("{name}.wasm")),
            )
            .unwrap();
        }
        PluginDir {
            dir,
            cache: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn options(&self) -> PluginOptions {
        PluginOptions {
            dir: Some(self.dir.path().to_path_buf()),
            cache: Some(self.cache.path().to_path_buf()),
            ..PluginOptions::default()
        }
    }
}

/// The MySQL error code and message of a statement that must fail.
pub(crate) async fn error_of(c: &mut Conn, sql: &str) -> (u16, String) {
    match c.query_drop(sql).await {
        Err(mysql_async::Error::Server(e)) => (e.code, e.message),
        Err(e) => panic!("{sql}: not a server error: {e}"),
        Ok(()) => panic!("{sql} should fail"),
    }
}

pub(crate) async fn one<T: FromValue + Send + 'static>(c: &mut Conn, sql: &str) -> T {
    let v: Option<T> = c
        .query_first(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    v.unwrap_or_else(|| panic!("{sql}: no row"))
}

const INSTALL: &[&str] = &[
    "CREATE FUNCTION daypart RETURNS STRING SONAME 'daypart.wasm'",
    "CREATE FUNCTION airing_daypart RETURNS STRING SONAME 'daypart.wasm'",
    "CREATE FUNCTION is_prime_time RETURNS INTEGER SONAME 'daypart.wasm'",
    "CREATE FUNCTION mask_phone RETURNS STRING SONAME 'pii_mask.wasm'",
    "CREATE FUNCTION mask_id_card RETURNS STRING SONAME 'pii_mask.wasm'",
    "CREATE FUNCTION mask_pii RETURNS STRING SONAME 'pii_mask.wasm'",
    "CREATE FUNCTION brand_key RETURNS STRING SONAME 'brand_match.wasm'",
    "CREATE FUNCTION brand_similarity RETURNS REAL SONAME 'brand_match.wasm'",
    "CREATE FUNCTION brand_match RETURNS INTEGER SONAME 'brand_match.wasm'",
    "CREATE FUNCTION cpm RETURNS DECIMAL SONAME 'ad_metrics.wasm'",
    "CREATE FUNCTION week_start RETURNS STRING SONAME 'ad_metrics.wasm'",
    "CREATE FUNCTION creative_id RETURNS STRING SONAME 'ad_metrics.wasm'",
    "CREATE AGGREGATE FUNCTION hll_distinct RETURNS INTEGER SONAME 'approx_distinct.wasm'",
    "CREATE AGGREGATE FUNCTION hll_distinct_text RETURNS INTEGER SONAME 'approx_distinct.wasm'",
];

/// 20,000 airings: hour, a viewer id (3,000 distinct), a channel (8), text with PII.
async fn load_airings(c: &mut Conn) {
    c.query_drop(
        "CREATE DATABASE ads; CREATE TABLE ads.airings (id BIGINT PRIMARY KEY, aired_at DATETIME, \
         hour INT, viewer BIGINT, channel VARCHAR(20), note VARCHAR(100))",
    )
    .await
    .unwrap();
    for chunk in 0..20 {
        let rows: Vec<String> = (chunk * 1000..(chunk + 1) * 1000)
            .map(|i: i64| {
                let hour = i % 24;
                format!(
                    "({i}, '2026-03-{:02} {hour:02}:{:02}:00', {hour}, {}, 'ch{}', 'tel 1{}{:09} id 11010119900307{:04}')",
                    1 + i % 28,
                    i % 60,
                    (i * 7919) % 3000,
                    i % 8,
                    3 + i % 7,
                    i,
                    i % 10_000
                )
            })
            .collect();
        c.query_drop(format!("INSERT INTO ads.airings VALUES {}", rows.join(",")))
            .await
            .unwrap();
    }
}

/// What every node must answer the same way once the functions are installed.
async fn check_answers(c: &mut Conn) {
    let s: Vec<(Option<String>, Option<String>, Option<String>)> = c
        .query("SELECT daypart(20), daypart(3), daypart(99)")
        .await
        .unwrap();
    assert_eq!(
        s,
        vec![(Some("prime_time".into()), Some("overnight".into()), None)]
    );
    assert_eq!(one::<Option<String>>(c, "SELECT daypart(NULL)").await, None);
    // In WHERE, GROUP BY, ORDER BY, nested in built-ins, on DATETIME columns.
    let by_part: Vec<(String, i64)> = c
        .query(
            "SELECT daypart(hour) AS part, COUNT(*) FROM ads.airings \
             WHERE is_prime_time(aired_at) = 1 OR hour < 6 GROUP BY part ORDER BY part",
        )
        .await
        .unwrap();
    assert_eq!(
        by_part,
        vec![("overnight".into(), 5004), ("prime_time".into(), 2499)]
    );
    assert_eq!(
        one::<String>(
            c,
            "SELECT UPPER(airing_daypart(aired_at)) FROM ads.airings WHERE id = 15"
        )
        .await,
        "AFTERNOON"
    );
    assert_eq!(
        one::<String>(c, "SELECT mask_pii(note) FROM ads.airings WHERE id = 1").await,
        "tel 140****0001 id 110101********0001"
    );
    assert_eq!(
        one::<String>(
            c,
            "SELECT mask_phone('call 13812345678 or 0123456789012, 身份证 11010519491231002X')"
        )
        .await,
        "call 138****5678 or 0123456789012, 身份证 11010519491231002X"
    );
    assert_eq!(
        one::<String>(c, "SELECT mask_id_card('身份证 11010519491231002X')").await,
        "身份证 110105********002X"
    );
    assert_eq!(
        one::<String>(c, "SELECT brand_key('Coca-Cola（中国）')").await,
        "cocacola"
    );
    assert_eq!(
        one::<f64>(c, "SELECT brand_similarity('COCA COLA', 'coca-cola')").await,
        1.0
    );
    let (similar, matched, unmatched): (f64, i64, i64) = c
        .query_first(
            "SELECT brand_similarity('可口可乐', '可口可樂'), brand_match('Pepsi Co', 'pepsico', 0.9), \
             brand_match('Pepsi', 'Sprite', 0.5)",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((similar, matched, unmatched), (0.75, 1, 0));
    // DECIMAL, DATE and VARBINARY in and out.
    let exact: (String, String, Option<String>, String, String) = c
        .query_first(
            "SELECT cpm(1234.56, 1000), cpm(10, 3), cpm(5, 0), week_start('2026-11-27'), \
             HEX(creative_id(x'00'))",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        exact,
        (
            "1234.5600".into(),
            "3333.3333".into(),
            None,
            "2026-11-23".into(),
            "AF63BD4C8601B7DF".into()
        )
    );
    let weeks: Vec<(String, i64)> = c
        .query(
            "SELECT week_start(DATE(aired_at)) AS w, COUNT(*) FROM ads.airings \
             GROUP BY w ORDER BY w LIMIT 2",
        )
        .await
        .unwrap();
    assert_eq!(weeks[0].0, "2026-02-23");
    assert_eq!(weeks[1].0, "2026-03-02");
    // The aggregate: whole table, per group (parallel partitions merge), on text.
    let distinct: i64 = one(c, "SELECT hll_distinct(viewer) FROM ads.airings").await;
    assert!((2900..=3100).contains(&distinct), "hll_distinct {distinct}");
    let groups: Vec<(String, i64, i64)> = c
        .query(
            "SELECT channel, hll_distinct(viewer), COUNT(DISTINCT viewer) FROM ads.airings \
             GROUP BY channel HAVING hll_distinct(viewer) > 10 ORDER BY channel",
        )
        .await
        .unwrap();
    assert_eq!(groups.len(), 8);
    for (channel, estimate, exact) in groups {
        let error = (estimate - exact).abs() as f64 / exact as f64;
        assert!(error < 0.05, "{channel}: {estimate} vs {exact}");
    }
    assert_eq!(
        one::<i64>(c, "SELECT hll_distinct_text(channel) FROM ads.airings").await,
        8
    );
    // Many batches of rows, gathered into fewer calls of the plugin: 200k
    // distinct values in all and 20k in each of ten groups.
    let pairs = "FROM ads.airings a, (SELECT id FROM ads.airings ORDER BY id LIMIT 10) b";
    let all: i64 = one(
        c,
        &format!("SELECT hll_distinct(a.id * 20000 + b.id) {pairs}"),
    )
    .await;
    assert!((190_000..=210_000).contains(&all), "hll_distinct {all}");
    let per_group: Vec<(i64, i64)> = c
        .query(format!(
            "SELECT b.id, hll_distinct(a.id * 20000 + b.id) {pairs} GROUP BY b.id ORDER BY b.id"
        ))
        .await
        .unwrap();
    assert_eq!(per_group.len(), 10);
    for (group, estimate) in per_group {
        assert!(
            (19_000..=21_000).contains(&estimate),
            "group {group}: {estimate}"
        );
    }
    assert_eq!(
        one::<i64>(
            c,
            "SELECT hll_distinct(viewer) FROM ads.airings WHERE id < 0"
        )
        .await,
        0
    );
}

async fn wait_for_function(c: &mut Conn, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows: Vec<mysql_async::Row> = c
            .query(format!("SHOW FUNCTION STATUS LIKE '{name}'"))
            .await
            .unwrap();
        if !rows.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "{name} never reached the reader");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn installed_functions_answer_on_primary_and_readers_and_survive_restarts() {
    let plugins = PluginDir::new();
    let s = TestServer::start_in(
        tempfile::tempdir().unwrap(),
        false,
        false,
        plugins.options(),
    );
    let volume = volume_of(&s);
    // A reader following from before the install; it has no plugin directory
    // of its own: it reads the plugins from the volume.
    let early = TestReader::start_with(&volume, PluginOptions::default());
    let s = runtime().block_on(async {
        let primary = pool(s.port);
        let mut p = primary.get_conn().await.unwrap();
        load_airings(&mut p).await;
        for sql in INSTALL {
            p.query_drop(*sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        check_answers(&mut p).await;
        let listed: Vec<mysql_async::Row> = p.query("SHOW FUNCTION STATUS").await.unwrap();
        assert_eq!(listed.len(), INSTALL.len());
        // Installing compiled each plugin once into the local cache.
        let cached = std::fs::read_dir(plugins.cache.path()).unwrap().count();
        assert_eq!(cached, 5, "one compiled artifact per plugin file");

        let early_pool = pool(early.port());
        let mut r = early_pool.get_conn().await.unwrap();
        caught_up(&mut p, &mut r).await;
        wait_for_function(&mut r, "hll_distinct_text").await;
        check_answers(&mut r).await;
        let (code, message) = error_of(
            &mut r,
            "CREATE FUNCTION daypart2 RETURNS STRING SONAME 'daypart.wasm'",
        )
        .await;
        assert_eq!(code, 1290, "{message}");

        // DROP reaches the reader too.
        p.query_drop("DROP FUNCTION brand_match").await.unwrap();
        let (code, _) = error_of(&mut p, "SELECT brand_match('a', 'b', 0.5)").await;
        assert_eq!(code, 1305);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let rows: Vec<mysql_async::Row> = r
                .query("SHOW FUNCTION STATUS LIKE 'brand_match'")
                .await
                .unwrap();
            if rows.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "DROP never reached the reader");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            error_of(&mut r, "SELECT brand_match('a', 'b', 0.5)")
                .await
                .0,
            1305
        );
        p.query_drop("CREATE FUNCTION brand_match RETURNS INTEGER SONAME 'brand_match.wasm'")
            .await
            .unwrap();
        drop((p, r));
        primary.disconnect().await.unwrap();
        early_pool.disconnect().await.unwrap();
        s
    });
    drop(early);

    // A restarted primary still has every function, with no plugin directory.
    let s = s.restart(PluginOptions::default());
    // And a reader started later has them as well.
    let late = TestReader::start_with(&volume_of(&s), PluginOptions::default());
    runtime().block_on(async {
        let primary = pool(s.port);
        let mut p = primary.get_conn().await.unwrap();
        check_answers(&mut p).await;
        let late_pool = pool(late.port());
        let mut r = late_pool.get_conn().await.unwrap();
        caught_up(&mut p, &mut r).await;
        check_answers(&mut r).await;
        drop((p, r));
        primary.disconnect().await.unwrap();
        late_pool.disconnect().await.unwrap();
    });
}

#[test]
fn create_function_checks_the_plugin_and_the_declaration() {
    let plugins = PluginDir::new();
    std::fs::write(
        plugins.dir.path().join("garbage.wasm"),
        b"\x00asm not really",
    )
    .unwrap();
    // A valid core module, but not a component.
    std::fs::write(
        plugins.dir.path().join("core.wasm"),
        b"\x00asm\x01\x00\x00\x00",
    )
    .unwrap();
    let s = TestServer::start_in(
        tempfile::tempdir().unwrap(),
        false,
        false,
        plugins.options(),
    );
    runtime().block_on(async {
        let primary: Pool = pool(s.port);
        let mut c = primary.get_conn().await.unwrap();
        let cases: &[(&str, u16, &str)] = &[
            (
                "CREATE FUNCTION f RETURNS STRING SONAME 'garbage.wasm'",
                1126,
                "garbage.wasm",
            ),
            (
                "CREATE FUNCTION f RETURNS STRING SONAME 'core.wasm'",
                1126,
                "core.wasm",
            ),
            (
                "CREATE FUNCTION f RETURNS STRING SONAME 'missing.wasm'",
                1126,
                "missing.wasm",
            ),
            (
                "CREATE FUNCTION f RETURNS STRING SONAME '../daypart.wasm'",
                1124,
                "No paths",
            ),
            (
                "CREATE FUNCTION f RETURNS STRING SONAME 'daypart.wasm'",
                1127,
                "Can't find symbol 'f'",
            ),
            (
                "CREATE FUNCTION daypart RETURNS INTEGER SONAME 'daypart.wasm'",
                1127,
                "returns VARCHAR, not INTEGER",
            ),
            (
                "CREATE AGGREGATE FUNCTION daypart RETURNS STRING SONAME 'daypart.wasm'",
                1127,
                "daypart",
            ),
            (
                "CREATE FUNCTION hll_distinct RETURNS INTEGER SONAME 'approx_distinct.wasm'",
                1127,
                "hll_distinct",
            ),
            (
                "CREATE FUNCTION concat RETURNS STRING SONAME 'daypart.wasm'",
                1585,
                "native function",
            ),
            (
                "CREATE FUNCTION daypart RETURNS BLOB SONAME 'daypart.wasm'",
                1064,
                "RETURNS",
            ),
            (
                "CREATE FUNCTION f(x INT) RETURNS INT RETURN x + 1",
                1235,
                "stored functions",
            ),
            (
                "DROP FUNCTION nothing_here",
                1305,
                "FUNCTION nothing_here does not exist",
            ),
        ];
        for (sql, code, text) in cases {
            let (got, message) = error_of(&mut c, sql).await;
            assert_eq!(got, *code, "{sql}: {message}");
            assert!(message.contains(text), "{sql}: {message}");
            assert!(!message.contains('\n'), "{sql}: one line: {message:?}");
        }
        c.query_drop("CREATE FUNCTION daypart RETURNS STRING SONAME 'daypart.wasm'")
            .await
            .unwrap();
        let (code, _) = error_of(
            &mut c,
            "CREATE FUNCTION daypart RETURNS STRING SONAME 'daypart.wasm'",
        )
        .await;
        assert_eq!(code, 1125);
        c.query_drop("CREATE FUNCTION IF NOT EXISTS daypart RETURNS STRING SONAME 'daypart.wasm'")
            .await
            .unwrap();
        c.query_drop("DROP FUNCTION IF EXISTS nothing_here")
            .await
            .unwrap();
        // Argument counts and types are checked when the query is planned.
        let (code, message) = error_of(&mut c, "SELECT daypart(1, 2)").await;
        assert_eq!(code, 1123, "{message}");
        assert!(message.contains("takes 1 argument"), "{message}");
        let (code, message) = error_of(&mut c, "SELECT daypart(x'0102')").await;
        assert_eq!(code, 1123, "{message}");
        assert_eq!(
            one::<String>(&mut c, "SELECT daypart('21')").await,
            "prime_time"
        );
        drop(c);
        primary.disconnect().await.unwrap();
    });
}

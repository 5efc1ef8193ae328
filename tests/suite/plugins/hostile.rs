//! The hostile plugin: each misdeed fails its own query with a clear MySQL
//! error, and the node keeps serving everyone else, other plugin calls
//! included.

use std::time::{Duration, Instant};

use floe::wasm::PluginOptions;
use mysql_async::prelude::*;

use super::{PluginDir, error_of, one};
use crate::mysql::server::TestServer;
use crate::reader::{pool, runtime};

const HOSTILE: &[&str] = &[
    "spin",
    "hog",
    "boom",
    "liar",
    "short",
    "sneaky_clock",
    "wall_clock",
    "linger",
];

fn server(plugins: &PluginDir, grant_clock: bool) -> TestServer {
    TestServer::start_in(
        tempfile::tempdir().unwrap(),
        false,
        false,
        PluginOptions {
            memory_limit: 16 << 20,
            call_timeout: Duration::from_millis(1500),
            grant_clock,
            ..plugins.options()
        },
    )
}

#[test]
fn hostile_plugins_fail_their_own_query_and_the_node_keeps_serving() {
    let plugins = PluginDir::new();
    let s = server(&plugins, false);
    runtime().block_on(async {
        let primary = pool(s.port);
        let mut c = primary.get_conn().await.unwrap();
        for name in HOSTILE {
            c.query_drop(format!(
                "CREATE FUNCTION {name} RETURNS INTEGER SONAME 'hostile.wasm'"
            ))
            .await
            .unwrap();
        }
        c.query_drop("CREATE FUNCTION daypart RETURNS STRING SONAME 'daypart.wasm'")
            .await
            .unwrap();
        c.query_drop("CREATE DATABASE h; CREATE TABLE h.t (id BIGINT PRIMARY KEY)")
            .await
            .unwrap();
        c.query_drop("INSERT INTO h.t VALUES (1), (2), (3)")
            .await
            .unwrap();

        // An infinite loop, bounded by the statement's max_execution_time
        // while another connection keeps working, plugins included.
        let looping = tokio::spawn({
            let primary = primary.clone();
            async move {
                let mut c = primary.get_conn().await.unwrap();
                c.query_drop("SET max_execution_time = 700").await.unwrap();
                let started = Instant::now();
                let e = error_of(&mut c, "SELECT spin(id) FROM h.t").await;
                (e, started.elapsed())
            }
        });
        let mut other = primary.get_conn().await.unwrap();
        for _ in 0..10 {
            let started = Instant::now();
            assert_eq!(
                one::<String>(&mut other, "SELECT daypart(20)").await,
                "prime_time"
            );
            assert_eq!(one::<i64>(&mut other, "SELECT COUNT(*) FROM h.t").await, 3);
            assert!(started.elapsed() < Duration::from_secs(1));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ((code, message), took) = looping.await.unwrap();
        assert_eq!(code, 3024, "{message}");
        assert!(
            message.contains("maximum statement execution time exceeded"),
            "{message}"
        );
        assert!(message.contains("700 ms"), "{message}");
        assert!(
            took < Duration::from_secs(10),
            "the loop ended after {took:?}"
        );

        // Without max_execution_time the node's per-call bound applies.
        let started = Instant::now();
        let (code, message) = error_of(&mut c, "SELECT spin(1)").await;
        assert_eq!(code, 3024, "{message}");
        assert!(message.contains("1500 ms"), "{message}");
        assert!(started.elapsed() < Duration::from_secs(10));

        // KILL QUERY ends a running call at once (1317), not at its time
        // limit, and the killed connection goes on.
        let (id_tx, id_rx) = tokio::sync::oneshot::channel();
        let victim = tokio::spawn({
            let primary = primary.clone();
            async move {
                let mut v = primary.get_conn().await.unwrap();
                let id: u64 = one(&mut v, "SELECT CONNECTION_ID()").await;
                id_tx.send(id).unwrap();
                let started = Instant::now();
                let e = error_of(&mut v, "SELECT spin(1)").await;
                let took = started.elapsed();
                (
                    e,
                    took,
                    one::<i64>(&mut v, "SELECT COUNT(*) FROM h.t").await,
                )
            }
        });
        let id = id_rx.await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.query_drop(format!("KILL QUERY {id}")).await.unwrap();
        let ((code, message), took, after) = victim.await.unwrap();
        assert_eq!(
            (code, message.as_str()),
            (1317, "Query execution was interrupted")
        );
        assert!(
            took < Duration::from_millis(1400),
            "the call ended after {took:?}, by its own 1500 ms limit rather than the KILL"
        );
        assert_eq!(after, 3);

        let misdeeds: &[(&str, u16, &str)] = &[
            ("SELECT hog(1)", 1041, "memory limit of 16 MiB"),
            (
                "SELECT boom(42)",
                1105,
                "function 'boom' panicked: boom: refusing 42",
            ),
            (
                "SELECT liar(id) FROM h.t",
                1105,
                "returned VARCHAR where it declared BIGINT",
            ),
            ("SELECT short(id) FROM h.t", 1105, "2 values for 3 rows"),
            ("SELECT sneaky_clock(1)", 1105, "the clock is not granted"),
            // Declared, but this node grants no clock.
            ("SELECT wall_clock()", 1105, "the clock is not granted"),
        ];
        for _round in 0..2 {
            for (sql, code, text) in misdeeds {
                let (got, message) = error_of(&mut c, sql).await;
                assert_eq!(got, *code, "{sql}: {message}");
                assert!(message.contains(text), "{sql}: {message}");
            }
        }
        // A call that outruns its turn on the worker thread is suspended and
        // resumed off the worker's hands, and answers; so do the calls after
        // it. An aggregate's state survives the move.
        c.query_drop("CREATE AGGREGATE FUNCTION linger_sum RETURNS INTEGER SONAME 'hostile.wasm'")
            .await
            .unwrap();
        for _ in 0..2 {
            assert_eq!(
                one::<i64>(&mut c, "SELECT SUM(linger(id * 20)) FROM h.t").await,
                120
            );
            assert_eq!(
                one::<i64>(&mut c, "SELECT linger_sum(id * 20) FROM h.t").await,
                120
            );
            let by_parity: Vec<(i64, i64)> = c
                .query("SELECT id % 2, linger_sum(id * 10) FROM h.t GROUP BY id % 2 ORDER BY 1")
                .await
                .unwrap();
            assert_eq!(by_parity, [(0, 20), (1, 40)]);
        }
        // The node and the hostile plugin's well-behaved neighbours still work.
        assert_eq!(
            one::<String>(&mut c, "SELECT daypart(7)").await,
            "early_morning"
        );
        assert_eq!(one::<i64>(&mut other, "SELECT SUM(id) FROM h.t").await, 6);
        drop((c, other));
        primary.disconnect().await.unwrap();
    });
}

#[test]
fn granted_capabilities_reach_only_functions_that_declare_them() {
    let plugins = PluginDir::new();
    let s = server(&plugins, true);
    runtime().block_on(async {
        let primary = pool(s.port);
        let mut c = primary.get_conn().await.unwrap();
        for name in ["wall_clock", "sneaky_clock"] {
            c.query_drop(format!(
                "CREATE FUNCTION {name} RETURNS INTEGER SONAME 'hostile.wasm'"
            ))
            .await
            .unwrap();
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as i64;
        let clock: i64 = one(&mut c, "SELECT wall_clock()").await;
        assert!((clock - now).abs() < 60_000_000, "{clock} vs {now}");
        // Claiming to be deterministic, it gets nothing even here.
        let (code, message) = error_of(&mut c, "SELECT sneaky_clock(1)").await;
        assert_eq!(code, 1105);
        assert!(message.contains("the clock is not granted"), "{message}");
        drop(c);
        primary.disconnect().await.unwrap();
    });
}

//! Drivers: PyMySQL (both auth plugins, with and without TLS), the
//! mysql_async crate with prepared statements, and sysbench.

use std::process::Command;

use mysql_async::prelude::*;

use super::server::TestServer;

const PY_PRELUDE: &str =
    "import os, pymysql\nport = int(os.environ['FLOE_PORT'])\ncert = os.environ.get('FLOE_CERT')\n";

#[test]
fn pymysql_native_and_caching_sha2_with_and_without_tls() {
    let s = TestServer::start_with(true, false);
    s.query("CREATE USER 'nat'@'%' IDENTIFIED WITH mysql_native_password BY 'n4t!ve'; CREATE USER 'sha'@'%' IDENTIFIED BY 'sh@2-pass'; CREATE DATABASE py");
    let script = format!(
        "{PY_PRELUDE}
def run(user, pw, **kw):
    c = pymysql.connect(host='127.0.0.1', port=port, user=user, password=pw, database='py', **kw)
    cur = c.cursor()
    cur.execute('SELECT CURRENT_USER()')
    who = cur.fetchone()[0]
    c.close()
    return who
tls = dict(ssl_ca=cert, ssl_verify_identity=False)
print(run('nat', 'n4t!ve'))
print(run('nat', 'n4t!ve', **tls))
print(run('sha', 'sh@2-pass'))              # first: full authentication (RSA)
print(run('sha', 'sh@2-pass'))              # then: the fast path
print(run('sha', 'sh@2-pass', **tls))
try:
    run('sha', 'wrong')
except pymysql.err.OperationalError as e:
    print('denied', e.args[0])
c = pymysql.connect(host='127.0.0.1', port=port, user='root', password='')
cur = c.cursor()
cur.execute(\"SHOW STATUS LIKE 'floe_sha2%'\")
print(sorted(cur.fetchall()))
"
    );
    let out = s.python(&script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "nat@127.0.0.1");
    assert_eq!(lines[1], "nat@127.0.0.1");
    assert_eq!(lines[2], "sha@127.0.0.1");
    assert_eq!(lines[4], "sha@127.0.0.1");
    assert_eq!(lines[5], "denied 1045");
    // One full authentication, then fast ones: the first after it, and the TLS one.
    assert_eq!(
        lines[6], "[('floe_sha2_fast_auths', '2'), ('floe_sha2_full_auths', '1')]",
        "{out}"
    );
}

#[test]
fn pymysql_round_trips_types_and_text() {
    let s = TestServer::start();
    let script = format!(
        "{PY_PRELUDE}
import decimal, datetime
c = pymysql.connect(host='127.0.0.1', port=port, user='root', password='', autocommit=True, charset='utf8mb4')
cur = c.cursor()
cur.execute('CREATE DATABASE t')
cur.execute('CREATE TABLE t.v (id BIGINT PRIMARY KEY, d DECIMAL(20,4), dt DATETIME(6), day DATE, s VARCHAR(100), b BLOB, f DOUBLE, u INT UNSIGNED)')
row = (1, decimal.Decimal('-12345678.9012'), datetime.datetime(2024, 2, 29, 23, 59, 58, 123456), datetime.date(1999, 12, 31), '广告统计 — ünïcode ✓', bytes(range(256)), 0.1, 4000000000)
cur.execute('INSERT INTO t.v VALUES (%s, %s, %s, %s, %s, %s, %s, %s)', row)
cur.execute('SELECT id, d, dt, day, s, b, f, u FROM t.v')
back = cur.fetchone()
assert back == row, (back, row)
print('ok')
"
    );
    assert_eq!(s.python(&script).trim(), "ok");
}

#[test]
fn mysql_async_prepared_statements() {
    let s = TestServer::start();
    s.query("CREATE DATABASE ma; CREATE TABLE ma.kv (k INT PRIMARY KEY, v VARCHAR(50), amount DECIMAL(10,2), at DATETIME)");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = format!("mysql://root@127.0.0.1:{}/ma", s.port);
        let pool = mysql_async::Pool::new(url.as_str());
        let mut conn = pool.get_conn().await.unwrap();
        let insert = conn
            .prep("INSERT INTO kv (k, v, amount, at) VALUES (?, ?, ?, ?)")
            .await
            .unwrap();
        for k in 0..20i32 {
            let v = format!("值-{k}");
            conn.exec_drop(&insert, (k, v, format!("{k}.25"), "2024-05-06 07:08:09"))
                .await
                .unwrap();
        }
        let rows: Vec<(i32, String, String)> = conn
            .exec(
                "SELECT k, v, amount FROM kv WHERE k >= ? AND k < ? ORDER BY k",
                (5, 8),
            )
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (5, "值-5".into(), "5.25".into()),
                (6, "值-6".into(), "6.25".into()),
                (7, "值-7".into(), "7.25".into())
            ]
        );
        let count: Option<i64> = conn
            .exec_first("SELECT COUNT(*) FROM kv WHERE v LIKE ?", ("值-1%",))
            .await
            .unwrap();
        assert_eq!(count, Some(11));
        let err = conn
            .exec_drop(&insert, (1, "dup", "1", "2024-01-01 00:00:00"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("1062"), "{err}");
        let at: Option<mysql_async::Value> = conn
            .exec_first("SELECT at FROM kv WHERE k = ?", (3,))
            .await
            .unwrap();
        assert_eq!(at, Some(mysql_async::Value::Date(2024, 5, 6, 7, 8, 9, 0)));
        drop(conn);
        pool.disconnect().await.unwrap();
    });
}

/// A prepared point lookup keeps its plan across executions, and answers
/// as the general path would when the plan no longer fits: after the
/// table is dropped and made again, in another database, for a value that
/// is no key, and inside a transaction that wrote the table.
#[test]
fn prepared_point_lookups_reuse_their_plan() {
    let s = TestServer::start();
    s.query(
        "CREATE DATABASE pp; CREATE TABLE pp.t (id BIGINT PRIMARY KEY, code VARCHAR(10) UNIQUE, v VARCHAR(20)); \
         INSERT INTO pp.t VALUES (1, 'a', 'one'), (2, 'b', 'two'), (-3, 'c', 'minus three'); \
         CREATE DATABASE pq; CREATE TABLE pq.t (id BIGINT PRIMARY KEY, code VARCHAR(10) UNIQUE, v VARCHAR(20)); \
         INSERT INTO pq.t VALUES (1, 'a', 'other one')",
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = format!("mysql://root@127.0.0.1:{}/pp", s.port);
        let pool = mysql_async::Pool::new(url.as_str());
        let mut conn = pool.get_conn().await.unwrap();
        let by_id = conn.prep("SELECT v FROM t WHERE id = ?").await.unwrap();
        let by_code = conn.prep("SELECT id, v FROM t WHERE ? = code").await.unwrap();
        let before = plan_reuses(&mut conn).await;
        for (id, want) in [(1i64, Some("one")), (2, Some("two")), (-3, Some("minus three")), (4, None)] {
            let got: Option<String> = conn.exec_first(&by_id, (id,)).await.unwrap();
            assert_eq!(got.as_deref(), want, "id {id}");
        }
        // A string that is a number finds the row, as in the text protocol;
        // a fraction is no key value and goes the general way.
        let got: Option<String> = conn.exec_first(&by_id, ("2",)).await.unwrap();
        assert_eq!(got.as_deref(), Some("two"));
        let got: Option<String> = conn.exec_first(&by_id, (2.5f64,)).await.unwrap();
        assert_eq!(got, None);
        let got: Option<String> = conn.exec_first(&by_id, (2.0f64,)).await.unwrap();
        assert_eq!(got.as_deref(), Some("two"));
        let got: Option<(i64, String)> = conn.exec_first(&by_code, ("c",)).await.unwrap();
        assert_eq!(got, Some((-3, "minus three".into())));
        let after = plan_reuses(&mut conn).await;
        // Every execution of `by_id` after its first reused its plan (the
        // fraction too, before it went the general way).
        assert_eq!(after, before + 6, "plans reused");

        // The same statement text in another database reads that one's table.
        conn.query_drop("USE pq").await.unwrap();
        let got: Option<String> = conn.exec_first(&by_id, (1,)).await.unwrap();
        assert_eq!(got.as_deref(), Some("other one"));
        conn.query_drop("USE pp").await.unwrap();

        // A column added after planning is in `SELECT *`'s next answer.
        let all = conn.prep("SELECT * FROM t WHERE id = ?").await.unwrap();
        let row: Option<mysql_async::Row> = conn.exec_first(&all, (1,)).await.unwrap();
        assert_eq!(row.map(|r| r.len()), Some(3));
        conn.query_drop("ALTER TABLE t ADD COLUMN extra INT DEFAULT 7")
            .await
            .unwrap();
        let row: Option<mysql_async::Row> = conn.exec_first(&all, (1,)).await.unwrap();
        let row = row.expect("row 1");
        assert_eq!(row.len(), 4);
        assert_eq!(row.get::<i64, _>(3), Some(7));

        // A table made again is not the one planned for.
        conn.query_drop(
            "DROP TABLE t; CREATE TABLE t (id BIGINT PRIMARY KEY, code VARCHAR(10) UNIQUE, v VARCHAR(20)); \
             INSERT INTO t VALUES (1, 'z', 'new one')",
        )
        .await
        .unwrap();
        let got: Option<String> = conn.exec_first(&by_id, (1,)).await.unwrap();
        assert_eq!(got.as_deref(), Some("new one"));
        let got: Option<String> = conn.exec_first(&by_id, (2,)).await.unwrap();
        assert_eq!(got, None);

        // A transaction reads its own writes through the prepared statement.
        conn.query_drop("BEGIN").await.unwrap();
        conn.query_drop("UPDATE t SET v = 'changed' WHERE id = 1; INSERT INTO t VALUES (5, 'e', 'five')")
            .await
            .unwrap();
        let got: Option<String> = conn.exec_first(&by_id, (1,)).await.unwrap();
        assert_eq!(got.as_deref(), Some("changed"));
        let got: Option<String> = conn.exec_first(&by_id, (5,)).await.unwrap();
        assert_eq!(got.as_deref(), Some("five"));
        // Another connection sees neither until COMMIT.
        let mut other = pool.get_conn().await.unwrap();
        let seen: Option<String> = other.exec_first("SELECT v FROM t WHERE id = ?", (1,)).await.unwrap();
        assert_eq!(seen.as_deref(), Some("new one"));
        conn.query_drop("COMMIT").await.unwrap();
        let seen: Option<String> = other.exec_first("SELECT v FROM t WHERE id = ?", (5,)).await.unwrap();
        assert_eq!(seen.as_deref(), Some("five"));
        drop(other);
        drop(conn);
        pool.disconnect().await.unwrap();
    });
}

async fn plan_reuses(c: &mut mysql_async::Conn) -> u64 {
    let row: Option<(String, u64)> = c
        .query_first("SHOW STATUS LIKE 'floe_prepared_plan_reuses'")
        .await
        .unwrap();
    row.unwrap().1
}

fn sysbench(s: &TestServer, cmd: &str, extra: &[&str]) -> String {
    let port = format!("--mysql-port={}", s.port);
    let out = Command::new("sysbench")
        .args([
            "oltp_read_write",
            "--db-driver=mysql",
            "--mysql-host=127.0.0.1",
            &port,
            "--mysql-user=root",
            "--mysql-db=sbtest",
            "--tables=2",
            "--table-size=200",
            "--db-ps-mode=auto",
        ])
        .args(extra)
        .arg(cmd)
        .output()
        .expect("sysbench is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "sysbench {cmd} failed:\n{text}");
    text
}

#[test]
fn sysbench_prepares_runs_and_cleans_up() {
    let s = TestServer::start();
    s.query("CREATE DATABASE sbtest");
    sysbench(&s, "prepare", &[]);
    assert_eq!(
        s.query("SELECT COUNT(*) FROM sbtest.sbtest1"),
        "COUNT(*)\n200\n"
    );
    let run = sysbench(
        &s,
        "run",
        &["--threads=2", "--time=4", "--mysql-ignore-errors=1213"],
    );
    let tx: f64 = run
        .lines()
        .find(|l| l.trim_start().starts_with("transactions:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .expect("transactions line");
    assert!(tx > 0.0, "{run}");
    // Every table still holds exactly its rows: deletes and inserts balance.
    assert_eq!(
        s.query("SELECT COUNT(*) FROM sbtest.sbtest2"),
        "COUNT(*)\n200\n"
    );
    sysbench(&s, "cleanup", &[]);
    assert_eq!(s.query("SHOW TABLES FROM sbtest"), "");
}

//! MySQL's answers, taken from MariaDB: the same table in MariaDB (Debian's
//! `mariadbd`, started here, binary collation like floe's) and in floe
//! (written on the primary, read on a reader), the same queries, and the
//! result column names and every value must match as text.

use mysql_async::prelude::*;
use mysql_async::{Conn, Row, Value};

use super::{TestReader, caught_up, pool, runtime, volume_of};
use crate::mysql::server::TestServer;

#[path = "../../../benches/common/mariadb.rs"]
mod mariadb;

const TABLE: &str = "CREATE TABLE t (id INT PRIMARY KEY, ts DATETIME, d DATE, name VARCHAR(40), amount DECIMAL(10,2), n INT, x DOUBLE)";
const ROWS: &str = "INSERT INTO t VALUES \
    (1, '2024-01-01 00:00:00', '2024-01-01', 'CCTV-1', 10.50, 7, 2.5), \
    (2, '2023-12-31 23:59:59', '2023-12-31', '湖南卫视', 0.05, -7, -2.5), \
    (3, '2024-02-29 12:30:45', '2024-02-29', 'Zhejiang TV', -3.25, 0, 0.125), \
    (4, '2008-02-20 08:05:03', '2008-02-20', NULL, 100.00, 1, 1000), \
    (5, '1999-12-31 13:00:00', '2000-01-01', 'Dragon TV', NULL, NULL, NULL), \
    (6, '2021-01-03 07:08:09', '2021-01-04', 'a.b.c.d', 1.15, 3, 0.5)";

/// Expressions evaluated on every row of `t`.
const PER_ROW: &[&str] = &[
    "DATE(ts)",
    "YEAR(ts)",
    "MONTH(ts)",
    "DAY(ts)",
    "HOUR(ts)",
    "MINUTE(ts)",
    "SECOND(ts)",
    "QUARTER(d)",
    "DAYOFWEEK(ts)",
    "WEEKDAY(d)",
    "DAYOFYEAR(ts)",
    "WEEK(ts)",
    "WEEK(ts, 1)",
    "WEEK(d, 2)",
    "WEEK(d, 3)",
    "WEEK(d, 5)",
    "YEARWEEK(ts)",
    "YEARWEEK(d, 1)",
    "DATE_FORMAT(ts, '%Y-%m-%d %H:%i:%s')",
    "DATE_FORMAT(ts, '%W %M %D %Y, %j %a %b %c %e %k %l %p %r %T %y %w')",
    "DATE_FORMAT(d, '%U %u %V %v %X %x')",
    "STR_TO_DATE(DATE_FORMAT(ts, '%d/%m/%Y %H:%i'), '%d/%m/%Y %H:%i')",
    "UNIX_TIMESTAMP(ts)",
    "DATE_ADD(ts, INTERVAL 1 MONTH)",
    "DATE_SUB(d, INTERVAL 1 DAY)",
    "ts + INTERVAL 90 MINUTE",
    "d - INTERVAL 2 YEAR",
    "DATEDIFF(ts, '2024-01-01')",
    "TIMESTAMPDIFF(MONTH, ts, '2024-06-15 00:00:00')",
    "TIMESTAMPDIFF(HOUR, ts, '2024-01-01')",
    "TIMESTAMPDIFF(DAY, d, ts)",
    "IF(n > 0, 'pos', 'neg')",
    "IFNULL(name, '-')",
    "COALESCE(amount, n, 0)",
    "NULLIF(n, 0)",
    "CONCAT(name, '/', n)",
    "CONCAT_WS('-', name, n, amount)",
    "SUBSTRING_INDEX(name, '.', 2)",
    "SUBSTRING_INDEX(name, '.', -1)",
    "LEFT(name, 3)",
    "RIGHT(name, 2)",
    "LPAD(name, 8, '*')",
    "LENGTH(name)",
    "CHAR_LENGTH(name)",
    "LOCATE('V', name)",
    "LOCATE('.', name, 3)",
    "HEX(name)",
    "HEX(id)",
    "HEX(id - 1000)",
    "REPLACE(name, 'TV', 'Television')",
    "ROUND(amount, 1)",
    "ROUND(amount)",
    "ROUND(x)",
    "ROUND(x, 2)",
    "TRUNCATE(amount, 1)",
    "TRUNCATE(x, 1)",
    "n / 3",
    "amount / n",
    "x / 4",
    "n DIV 2",
    "n DIV 4 * 4",
    "amount DIV 2",
    "ts = '2024-01-01 00:00:00'",
    "ts > '2023-06-01'",
    "d >= '2021-01-04'",
];

/// Whole statements.
const QUERIES: &[&str] = &[
    "SELECT 7 / 2",
    "SELECT 1 / 0",
    "SELECT 7 DIV 2",
    "SELECT 100 DIV 15 * 15, 100 DIV (15 * 15), 7 DIV 2 + 1, 7 DIV 2 = 3, 2 * 7 DIV 4, 100 DIV 3 DIV 2",
    "SELECT 10 / 4 * 2",
    "SELECT ROUND(2.5), ROUND(-2.5), ROUND(1.298, 1), ROUND(23.298, -1)",
    "SELECT TRUNCATE(1.223, 1), TRUNCATE(-1.999, 1), TRUNCATE(122, -2)",
    "SELECT CONCAT('a', NULL), CONCAT('a', 1, 2.5)",
    "SELECT LENGTH('中文'), CHAR_LENGTH('中文')",
    "SELECT LOCATE('b', 'abcb', 3), LOCATE('z', 'abc')",
    "SELECT SUBSTRING_INDEX('www.mysql.com', '.', -2)",
    "SELECT DATE_FORMAT('2009-10-04 22:23:00', '%W %M %Y')",
    "SELECT STR_TO_DATE('May 1, 2013', '%M %d,%Y')",
    "SELECT STR_TO_DATE('no date', '%Y-%m-%d')",
    "SELECT FROM_UNIXTIME(1447430881)",
    "SELECT FROM_UNIXTIME(1447430881, '%Y %D %M %h:%i:%s %x')",
    "SELECT UNIX_TIMESTAMP('2015-11-13 10:20:19')",
    "SELECT DATEDIFF('2007-12-31 23:59:59', '2007-12-30')",
    "SELECT TIMESTAMPDIFF(MONTH, '2003-02-01', '2003-05-01'), TIMESTAMPDIFF(YEAR, '2002-05-01', '2001-01-01')",
    "SELECT DATE_ADD('2018-05-01', INTERVAL 1 DAY), DATE_SUB('2018-05-01', INTERVAL 1 YEAR)",
    "SELECT '2024-01-31' + INTERVAL 1 MONTH",
    "SELECT DATE_ADD('2020-12-31 23:59:59', INTERVAL 1 SECOND)",
    "SELECT WEEK('2008-02-20'), WEEK('2008-12-31', 1), YEARWEEK('1987-01-01')",
    "SELECT LPAD('hi', 4, '??'), LPAD('hi', 1, '??')",
    "SELECT LEFT('foobarbar', 5), RIGHT('foobarbar', 4)",
    "SELECT REPLACE('www.mysql.com', 'w', 'Ww')",
    "SELECT IFNULL(NULL, 10), NULLIF(1, 1), COALESCE(NULL, 1), IF(1 > 2, 2, 3)",
    "SELECT CONCAT_WS(',', 'First name', NULL, 'Last Name')",
    "SELECT DATEDIFF(NOW(), CURDATE()), NOW() = NOW()",
    "SELECT GROUP_CONCAT(name ORDER BY id SEPARATOR '|') FROM t",
    "SELECT GROUP_CONCAT(n ORDER BY n DESC) FROM t",
    "SELECT COUNT(DISTINCT name) FROM t",
    "SELECT YEAR(ts), COUNT(*) FROM t GROUP BY YEAR(ts) ORDER BY YEAR(ts)",
    "SELECT SUM(amount), MAX(ts), MIN(d) FROM t",
    "SELECT AVG(n), AVG(amount), AVG(x), AVG(DISTINCT n) FROM t",
    "SELECT AVG(n) FROM t WHERE id > 100",
    "SELECT COUNT(*) FROM t WHERE ts >= '2024-01-01'",
    "SELECT COUNT(*) FROM t WHERE ts = '2024-01-01 00:00:00'",
    "SELECT id FROM t WHERE d BETWEEN '2000-01-01' AND '2023-12-31' ORDER BY id",
    "SELECT DATE_FORMAT(ts, '%Y-%m') AS month, COUNT(*) AS n FROM t GROUP BY DATE_FORMAT(ts, '%Y-%m') ORDER BY month",
];

/// A star join: facts `f` (2,000 rows; `k` in 0..=24 or NULL) and a dimension
/// `dim` whose key `k` repeats for some values and misses others.
const STAR: &str = "CREATE TABLE f (id INT PRIMARY KEY, k INT, g INT NOT NULL, v DECIMAL(10,2), m INT); \
    CREATE TABLE dim (id INT PRIMARY KEY, k INT, name VARCHAR(20), tier INT)";

fn star_rows() -> String {
    let facts: Vec<String> = (0..2000u32)
        .map(|i| {
            let h = i.wrapping_mul(2_654_435_761) >> 7;
            let k = if i % 97 == 0 {
                "NULL".to_string()
            } else {
                (h % 25).to_string()
            };
            let v = if i % 31 == 0 {
                "NULL".to_string()
            } else {
                format!("{}.{:02}", h % 500, i % 100)
            };
            let m = if i % 13 == 0 {
                "NULL".to_string()
            } else {
                ((h >> 5) % 50).to_string()
            };
            format!("({i}, {k}, {}, {v}, {m})", i % 3)
        })
        .collect();
    // Keys 0..=19, with 3, 7 and 11 twice (a fact row matches both) and 20..=24 missing.
    let dims: Vec<String> = (0..20u32)
        .chain([3, 7, 11])
        .enumerate()
        .map(|(id, k)| format!("({id}, {k}, 'net-{}', {})", k % 6, 1 + k % 4))
        .collect();
    format!(
        "INSERT INTO f VALUES {}; INSERT INTO dim VALUES {}",
        facts.join(", "),
        dims.join(", ")
    )
}

/// GROUP BY over the star join: floe aggregates `f` by `k` before the join.
const STAR_QUERIES: &[&str] = &[
    "SELECT d.name, COUNT(*), SUM(f.v), MIN(f.m), MAX(f.m), COUNT(f.m), COUNT(f.v) FROM f JOIN dim d ON f.k = d.k GROUP BY d.name ORDER BY d.name",
    "SELECT d.tier, f.g, COUNT(*) AS n, SUM(f.v) AS s FROM f JOIN dim d ON f.k = d.k GROUP BY d.tier, f.g ORDER BY d.tier, f.g",
    "SELECT d.tier, AVG(f.v), AVG(f.m) FROM f JOIN dim d ON f.k = d.k GROUP BY d.tier ORDER BY d.tier",
    "SELECT COUNT(*), SUM(f.m) FROM f JOIN dim d ON f.k = d.k",
    "SELECT d.name, SUM(f.v) / SUM(f.m) AS ratio FROM f JOIN dim d ON f.k = d.k GROUP BY d.name ORDER BY d.name",
    "SELECT d.name, COUNT(*) FROM dim d JOIN f ON d.k = f.k GROUP BY d.name ORDER BY d.name",
    "SELECT d.name, SUM(f.v) AS s FROM f JOIN dim d ON f.k = d.k GROUP BY d.name HAVING SUM(f.v) > 20000 ORDER BY s DESC",
    "SELECT d.tier, SUM(f.v) FROM f JOIN dim d ON f.k = d.k WHERE f.m > 10 AND d.tier < 4 GROUP BY d.tier ORDER BY d.tier",
    "SELECT d.tier, SUM(CASE WHEN f.g = 1 THEN f.v ELSE 0 END) AS g1 FROM f JOIN dim d ON f.k = d.k GROUP BY d.tier ORDER BY d.tier",
    "SELECT d.name, COUNT(DISTINCT f.m) FROM f JOIN dim d ON f.k = d.k GROUP BY d.name ORDER BY d.name",
    "SELECT UPPER(d.name) AS u, MAX(f.v) FROM f JOIN dim d ON f.k = d.k GROUP BY UPPER(d.name) ORDER BY u",
    "SELECT t.tier, SUM(t.n) FROM (SELECT d.tier, d.name, COUNT(*) AS n FROM f JOIN dim d ON f.k = d.k GROUP BY d.tier, d.name) t GROUP BY t.tier ORDER BY t.tier",
];

type Answer = Result<(Vec<String>, Vec<Vec<Option<String>>>), String>;

async fn answer(c: &mut Conn, sql: &str) -> Answer {
    let rows: Vec<Row> = c.query(sql).await.map_err(|e| e.to_string())?;
    let names = rows
        .first()
        .map(|r| {
            r.columns_ref()
                .iter()
                .map(|c| c.name_str().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let values = rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| match r.as_ref(i) {
                    None | Some(Value::NULL) => None,
                    Some(Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
                    Some(other) => Some(format!("{other:?}")),
                })
                .collect()
        })
        .collect();
    Ok((names, values))
}

/// The optimized logical plan of `sql`, from EXPLAIN.
async fn logical_plan(c: &mut Conn, sql: &str) -> String {
    let rows: Vec<(String, String)> = c.query(format!("EXPLAIN {sql}")).await.unwrap();
    rows.into_iter()
        .filter(|(kind, _)| kind == "logical_plan")
        .map(|(_, plan)| plan)
        .collect()
}

#[test]
fn functions_and_operators_answer_as_mariadb_does() {
    let base = tempfile::tempdir().unwrap();
    let maria = mariadb::start(base.path(), &[]).expect(
        "MariaDB (mariadbd from Debian's mariadb-server) is installed: it gives the expected answers",
    );
    let s = TestServer::start();
    let r = TestReader::start(&volume_of(&s));
    runtime().block_on(async {
        let mp = pool(maria.port);
        let mut m = mp.get_conn().await.unwrap();
        m.query_drop(
            "CREATE DATABASE sem; USE sem; SET NAMES utf8mb4 COLLATE utf8mb4_bin; SET time_zone = '+00:00'",
        )
        .await
        .unwrap();
        m.query_drop(format!("{TABLE} DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"))
            .await
            .unwrap();
        m.query_drop(ROWS).await.unwrap();
        m.query_drop(STAR).await.unwrap();
        m.query_drop(star_rows()).await.unwrap();

        let (pp, rp) = (pool(s.port), pool(r.port()));
        let mut p = pp.get_conn().await.unwrap();
        p.query_drop("CREATE DATABASE sem").await.unwrap();
        p.query_drop(format!("USE sem; {TABLE}; {ROWS}; {STAR}; {}", star_rows()))
            .await
            .unwrap();
        let mut q = rp.get_conn().await.unwrap();
        caught_up(&mut p, &mut q).await;
        q.query_drop("USE sem").await.unwrap();

        let queries = PER_ROW
            .iter()
            .map(|e| format!("SELECT id, {e} FROM t ORDER BY id"))
            .chain(QUERIES.iter().chain(STAR_QUERIES).map(|q| q.to_string()));
        let mut differences = Vec::new();
        let mut checked = 0;
        for sql in queries {
            let expected = answer(&mut m, &sql).await;
            let got = answer(&mut q, &sql).await;
            assert!(expected.is_ok(), "MariaDB refused {sql}: {expected:?}");
            if got != expected {
                differences.push(format!(
                    "{sql}\n  mariadb: {expected:?}\n  floe:    {got:?}"
                ));
            }
            checked += 1;
        }
        // The star queries' answers came from aggregating before the join
        // (on the reader and on the primary), except where that cannot be.
        p.query_drop("USE sem").await.unwrap();
        for c in [&mut q, &mut p] {
            let plan = logical_plan(c, STAR_QUERIES[0]).await;
            assert!(
                plan.contains("Aggregate: groupBy=[[f.k]]") && plan.contains("__floe_partial_"),
                "the facts are grouped by their join key first:\n{plan}"
            );
            let distinct = logical_plan(c, STAR_QUERIES[9]).await;
            assert!(!distinct.contains("__floe_partial_"), "{distinct}");
            // Joined on a key with as many values as rows: nothing to gain.
            let wide = logical_plan(
                c,
                "SELECT d.name, COUNT(*) FROM f JOIN dim d ON f.id = d.k GROUP BY d.name",
            )
            .await;
            assert!(!wide.contains("__floe_partial_"), "{wide}");
        }
        assert!(
            differences.is_empty(),
            "{} of {checked} queries differ from MariaDB:\n{}",
            differences.len(),
            differences.join("\n")
        );
        drop((m, p, q));
        mp.disconnect().await.unwrap();
        pp.disconnect().await.unwrap();
        rp.disconnect().await.unwrap();
    });
}

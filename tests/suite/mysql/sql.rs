//! SQL behaviour on the primary: transactions, multi-statements, KILL,
//! SHOW PROCESSLIST, accounts.

use super::server::TestServer;

const PY: &str = "import os, pymysql, threading, time\nport = int(os.environ['FLOE_PORT'])\n\
def conn(**kw):\n    return pymysql.connect(host='127.0.0.1', port=port, user='root', password='', **kw)\n\
def status(cur, name):\n    cur.execute('SHOW STATUS LIKE %s', (name,)); return int(cur.fetchall()[0][1])\n";

#[test]
fn transactions_commit_roll_back_and_read_their_own_writes() {
    let s = TestServer::start();
    s.query("CREATE DATABASE bank; CREATE TABLE bank.acct (id INT PRIMARY KEY, balance BIGINT NOT NULL)");
    let script = format!(
        "{PY}
a = conn(database='bank'); b = conn(database='bank')
ca = a.cursor(); cb = b.cursor()
ca.execute('INSERT INTO acct VALUES (1, 100), (2, 100)'); a.commit()
ca.execute('BEGIN')
ca.execute('UPDATE acct SET balance = balance - 30 WHERE id = 1')
ca.execute('UPDATE acct SET balance = balance + 30 WHERE id = 2')
ca.execute('SELECT balance FROM acct ORDER BY id'); print(ca.fetchall())      # own writes
cb.execute('SELECT balance FROM acct ORDER BY id'); print(cb.fetchall())      # not yet visible
a.commit()
cb.execute('SELECT balance FROM acct ORDER BY id'); print(cb.fetchall())
ca.execute('BEGIN'); ca.execute('DELETE FROM acct WHERE id = 2'); ca.execute('SELECT COUNT(*) FROM acct'); print(ca.fetchall())
a.rollback()
ca.execute('SELECT COUNT(*) FROM acct'); print(ca.fetchall())
# A failed statement rolls back only itself.
ca.execute('BEGIN'); ca.execute('INSERT INTO acct VALUES (3, 1)')
try:
    ca.execute('INSERT INTO acct VALUES (1, 1)')
except pymysql.err.IntegrityError as e:
    print('dup', e.args[0])
a.commit()
ca.execute('SELECT id FROM acct ORDER BY id'); print(ca.fetchall())
# Conflicting writers: the second committer must retry (1213).
ca.execute('BEGIN'); cb.execute('BEGIN')
ca.execute('UPDATE acct SET balance = 0 WHERE id = 3'); cb.execute('UPDATE acct SET balance = 9 WHERE id = 3')
a.commit()
try:
    b.commit()
except pymysql.err.OperationalError as e:
    print('conflict', e.args[0])
cb.execute('SELECT balance FROM acct WHERE id = 3'); print(cb.fetchall())
# A deadlock rolls back the whole transaction (InnoDB's rule): the commit
# after it commits nothing of it.
ca.execute('BEGIN'); ca.execute('INSERT INTO acct VALUES (5, 5)')
cb.execute('UPDATE acct SET balance = 1 WHERE id = 3'); b.commit()
try:
    ca.execute('UPDATE acct SET balance = 2 WHERE id = 3')
except pymysql.err.OperationalError as e:
    print('deadlock', e.args[0])
a.commit()
ca.execute('SELECT id, balance FROM acct WHERE id >= 3 ORDER BY id'); print(ca.fetchall())
"
    );
    let out = s.python(&script);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            "((70,), (130,))",
            "((100,), (100,))",
            "((70,), (130,))",
            "((1,),)",
            "((2,),)",
            "dup 1062",
            "((1,), (2,), (3,))",
            "conflict 1213",
            "((0,),)",
            "deadlock 1213",
            "((3, 1),)",
        ],
        "{out}"
    );
}

#[test]
fn multi_statements_kill_and_processlist() {
    let s = TestServer::start();
    s.query("CREATE DATABASE m; CREATE TABLE m.t (id INT PRIMARY KEY)");
    let script = format!(
        "{PY}
from pymysql.constants import CLIENT
c = conn(client_flag=CLIENT.MULTI_STATEMENTS, autocommit=True)
cur = c.cursor()
cur.execute('INSERT INTO m.t VALUES (1); SELECT COUNT(*) FROM m.t; SELECT 42')
print(cur.rowcount); cur.nextset(); print(cur.fetchall()); cur.nextset(); print(cur.fetchall())
victim = conn(); vid = victim.thread_id()
admin = conn(); ac = admin.cursor()
ac.execute('SHOW PROCESSLIST'); ids = [r[0] for r in ac.fetchall()]
print(vid in ids)
ac.execute('KILL %d' % vid)
try:
    victim.cursor().execute('SELECT 1')
    print('alive')
except pymysql.err.OperationalError as e:
    print('killed')
ac.execute('SHOW PROCESSLIST'); print(vid in [r[0] for r in ac.fetchall()])
try:
    ac.execute('KILL 999999')
except pymysql.err.OperationalError as e:
    print(e.args[0])
"
    );
    let out = s.python(&script);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            "1", "((1,),)", "((42,),)", "True", "killed", "False", "1094"
        ],
        "{out}"
    );
}

#[test]
fn kill_query_interrupts_a_running_query_and_keeps_its_connection() {
    let s = TestServer::start();
    s.query("CREATE DATABASE kq; CREATE TABLE kq.t (id INT PRIMARY KEY)");
    // 2,000 rows cross-joined three times: 8e9 rows, far longer than the test.
    let script = format!(
        "{PY}
victim = conn(database='kq', autocommit=True); vc = victim.cursor()
vc.execute('INSERT INTO t VALUES ' + ', '.join('(%d)' % i for i in range(2000)))
result = []
def run():
    try:
        vc.execute('SELECT SUM(a.id + b.id * c.id) FROM t a, t b, t c'); result.append(vc.fetchall())
    except pymysql.MySQLError as e:
        result.append(e.args[0])
th = threading.Thread(target=run); th.start()
admin = conn(); ac = admin.cursor()
deadline = time.time() + 30
while time.time() < deadline:
    ac.execute('SHOW PROCESSLIST')
    if any(r[0] == victim.thread_id() and r[4] == 'Query' for r in ac.fetchall()):
        break
    time.sleep(0.05)
time.sleep(0.3)
started = time.time()
ac.execute('KILL QUERY %d' % victim.thread_id())
th.join(30)
print(result, 'in time' if time.time() - started < 30 else 'late')
vc.execute('SELECT COUNT(*) FROM t'); print(vc.fetchall())
"
    );
    let out = s.python(&script);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["[1317] in time", "((2000,),)"],
        "{out}"
    );
}

#[test]
fn accounts_grants_and_access_denied() {
    let s = TestServer::start();
    s.query("CREATE DATABASE app; CREATE USER 'svc'@'%' IDENTIFIED BY 'Secr3t'; GRANT SELECT, INSERT ON app.* TO 'svc'@'%'");
    assert_eq!(
        s.query("SHOW GRANTS FOR 'svc'@'%'"),
        "Grants for svc@%\nGRANT USAGE ON *.* TO `svc`@`%`\nGRANT SELECT, INSERT ON `app`.* TO `svc`@`%`\n"
    );
    let ok = s.mysql_as("svc", "Secr3t", &["-e", "SELECT CURRENT_USER()"], "");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let bad = s.mysql_as("svc", "nope", &["-e", "SELECT 1"], "");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ERROR 1045 (28000)"));
    s.query("ALTER USER 'svc'@'%' IDENTIFIED BY 'Other1'; DROP USER 'svc'@'%'");
    let gone = s.mysql_as("svc", "Other1", &["-e", "SELECT 1"], "");
    assert!(String::from_utf8_lossy(&gone.stderr).contains("ERROR 1045"));
    assert!(s.query_err("DROP USER 'svc'@'%'").contains("ERROR 1396"));
}

#[test]
fn isolation_levels_and_statement_time_limits() {
    let s = TestServer::start();
    s.query("CREATE DATABASE iso; CREATE TABLE iso.t (id INT PRIMARY KEY, v INT)");
    s.query("INSERT INTO iso.t VALUES (1, 10)");
    let mut big = String::from("INSERT INTO iso.big VALUES ");
    big.push_str(
        &(0..3000)
            .map(|i| format!("({i})"))
            .collect::<Vec<_>>()
            .join(","),
    );
    s.query(&format!("CREATE TABLE iso.big (id INT PRIMARY KEY); {big}"));
    let script = format!(
        "{PY}
a = conn(database='iso'); b = conn(database='iso', autocommit=True)
ca = a.cursor(); cb = b.cursor()
ca.execute('BEGIN'); ca.execute('SELECT v FROM t'); print(ca.fetchall())
cb.execute('UPDATE t SET v = 20 WHERE id = 1')
ca.execute('SELECT v FROM t'); print(ca.fetchall())      # REPEATABLE READ: still 10
a.rollback()
ca.execute('SET SESSION transaction_isolation = \\'READ-COMMITTED\\'')
ca.execute('BEGIN'); ca.execute('SELECT v FROM t'); print(ca.fetchall())
cb.execute('UPDATE t SET v = 30 WHERE id = 1')
ca.execute('SELECT v FROM t'); print(ca.fetchall())      # READ COMMITTED: 30
a.rollback()
ca.execute('SET SESSION max_execution_time = 200')
t = time.time()
try:
    ca.execute('SELECT SUM(x.id * y.id) FROM big x, big y')
    print('finished?')
except pymysql.err.OperationalError as e:
    print(e.args[0], time.time() - t < 30)
ca.execute('SELECT 1'); print(ca.fetchall())
"
    );
    let out = s.python(&script);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec![
            "((10,),)",
            "((10,),)",
            "((20,),)",
            "((30,),)",
            "3024 True",
            "((1,),)"
        ],
        "{out}"
    );
}

#[test]
fn show_grants_names_the_account_the_session_logged_in_as() {
    let s = TestServer::start();
    s.query("CREATE USER 'dual'@'%' IDENTIFIED BY 'pw'; CREATE USER 'dual'@'localhost' IDENTIFIED BY 'pw'");
    let out = s.mysql_as("dual", "pw", &["-e", "SHOW GRANTS"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Grants for dual@localhost\nGRANT USAGE ON *.* TO `dual`@`localhost`\n"
    );
}

#[test]
fn alter_table_adds_and_drops_columns_and_keys() {
    let s = TestServer::start();
    s.query(
        "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, price DECIMAL(8,2), UNIQUE KEY uname (name))",
    );
    let rows: Vec<String> = (0..3000)
        .map(|i| format!("({i}, 'item-{i}', {}.25)", i % 100))
        .collect();
    s.query(&format!("INSERT INTO shop.items VALUES {}", rows.join(",")));
    s.query("DELETE FROM shop.items WHERE id % 10 = 0");
    // Added columns: DEFAULT, NULL, MySQL's implicit default for NOT NULL; positions.
    let out = s.query(
        "ALTER TABLE shop.items ADD COLUMN stock INT NOT NULL DEFAULT 5, ADD COLUMN note VARCHAR(10) AFTER id, ADD COLUMN qty INT NOT NULL FIRST",
    );
    assert!(out.is_empty(), "{out}");
    assert_eq!(
        s.query("SELECT COUNT(*), SUM(stock), COUNT(note), SUM(qty), SUM(price) FROM shop.items"),
        "COUNT(*)\tSUM(stock)\tCOUNT(note)\tSUM(qty)\tSUM(price)\n2700\t13500\t0\t0\t135675.00\n"
    );
    let cols = s.query("SHOW COLUMNS FROM shop.items");
    let names: Vec<&str> = cols
        .lines()
        .skip(1)
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(names, ["qty", "id", "note", "name", "price", "stock"]);
    // Keys still hold after the rebuild; new rows use the new shape.
    let dup = s.query_err("INSERT INTO shop.items (qty, id, name) VALUES (1, 5, 'x')");
    assert!(dup.contains("1062"), "{dup}");
    let dup = s.query_err("INSERT INTO shop.items (qty, id, name) VALUES (1, 100000, 'item-7')");
    assert!(dup.contains("1062"), "{dup}");
    s.query("INSERT INTO shop.items (qty, id, name) VALUES (1, 100000, 'new'); UPDATE shop.items SET note = 'n' WHERE id < 5");
    // Dropping columns, including one in a key (the key goes with it).
    s.query("ALTER TABLE shop.items DROP COLUMN note, DROP COLUMN name");
    assert_eq!(
        s.query("SELECT COUNT(*), SUM(stock), SUM(qty) FROM shop.items"),
        "COUNT(*)\tSUM(stock)\tSUM(qty)\n2701\t13505\t1\n"
    );
    let create = s.query("SHOW CREATE TABLE shop.items");
    assert!(
        !create.contains("uname") && !create.contains("`name`"),
        "{create}"
    );
    // Index changes without a copy; errors as MySQL gives them.
    s.query("ALTER TABLE shop.items ADD INDEX by_stock (stock)");
    assert!(s.query("SHOW INDEX FROM shop.items").contains("by_stock"));
    s.query("ALTER TABLE shop.items DROP INDEX by_stock");
    assert!(
        s.query_err("ALTER TABLE shop.items DROP COLUMN nope")
            .contains("1091")
    );
    assert!(
        s.query_err("ALTER TABLE shop.items ADD COLUMN stock INT")
            .contains("1060")
    );
    assert!(
        s.query_err("ALTER TABLE shop.nope ADD COLUMN a INT")
            .contains("1146")
    );
    // No leftover of the rebuilds is visible.
    assert_eq!(s.query("SHOW TABLES FROM shop"), "Tables_in_shop\nitems\n");
}

#[test]
fn primary_key_point_lookups_answer_like_a_scan() {
    let s = TestServer::start();
    s.query("CREATE DATABASE pk; CREATE TABLE pk.t (id INT PRIMARY KEY, v VARCHAR(10), n INT)");
    let script = format!(
        "{PY}
a = conn(database='pk', autocommit=True); b = conn(database='pk', autocommit=True)
ca = a.cursor(); cb = b.cursor()
ca.execute(\"INSERT INTO t VALUES (1, 'one', 10), (2, 'two', 20), (3, NULL, 30)\")
before = status(ca, 'floe_point_lookups')
for q in ['SELECT * FROM t WHERE id = 2', \"SELECT v, n FROM t WHERE id = '3'\", 'SELECT n FROM t WHERE 1 = id',
          'SELECT v FROM t WHERE id = 9', 'SELECT id FROM pk.t WHERE id = 1']:
    ca.execute(q); print(ca.fetchall())
print('fast', status(ca, 'floe_point_lookups') - before)
# Updates and deletes are seen at once.
ca.execute(\"UPDATE t SET v = 'uno' WHERE id = 1\"); ca.execute('DELETE FROM t WHERE id = 2')
ca.execute('SELECT v FROM t WHERE id = 1'); print(ca.fetchall())
ca.execute('SELECT v FROM t WHERE id = 2'); print(ca.fetchall())
# A REPEATABLE READ transaction keeps its snapshot and sees its own writes.
ca.execute('BEGIN'); ca.execute('SELECT v FROM t WHERE id = 1'); print(ca.fetchall())
cb.execute(\"UPDATE t SET v = 'eins' WHERE id = 1\"); cb.execute('DELETE FROM t WHERE id = 3')
ca.execute('SELECT v FROM t WHERE id = 1'); print(ca.fetchall())
ca.execute('SELECT n FROM t WHERE id = 3'); print(ca.fetchall())
ca.execute(\"INSERT INTO t VALUES (4, 'vier', 40)\"); ca.execute('SELECT v FROM t WHERE id = 4'); print(ca.fetchall())
ca.execute('COMMIT')
ca.execute('SELECT v FROM t WHERE id = 1'); print(ca.fetchall())
ca.execute('SELECT v FROM t WHERE id = 3'); print(ca.fetchall())
"
    );
    let out = s.python(&script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "((2, 'two', 20),)",
            "((None, 30),)",
            "((10,),)",
            "()",
            "((1,),)",
            "fast 5",
            "(('uno',),)",
            "()",
            "(('uno',),)",
            "(('uno',),)",
            "((30,),)",
            "(('vier',),)",
            "(('eins',),)",
            "()",
        ],
        "{out}"
    );
}

#[test]
fn primary_key_ranges_narrow_scans_without_changing_answers() {
    let s = TestServer::start();
    s.query(
        "CREATE DATABASE kr; CREATE TABLE kr.t (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(10)); \
         CREATE TABLE kr.s (code VARCHAR(10) PRIMARY KEY, n INT)",
    );
    // Each query runs twice: as written (the key index narrows the scan)
    // and with the key hidden in an expression (a full scan); the answers
    // must agree.
    let script = format!(
        "{PY}
a = conn(database='kr', autocommit=True); b = conn(database='kr', autocommit=True)
ca = a.cursor(); cb = b.cursor()
ca.execute('INSERT INTO t VALUES ' + ', '.join(\"(%d, %d, 'c%d')\" % (i, i % 7, i % 13) for i in range(1, 201)))
ca.execute(\"INSERT INTO s VALUES ('apple', 1), ('banana', 2), ('cherry', 3), ('date', 4), ('fig', 5), ('xigua', 6)\")
def narrowed():
    ca.execute(\"SHOW STATUS LIKE 'floe_key_range_reads'\"); return int(ca.fetchall()[0][1])
def same(q, key='id'):
    ca.execute(q); fast = ca.fetchall()
    ca.execute(q.replace(key + ' ', key + ' + 0 ' if key == 'id' else 'CONCAT(' + key + \", '') \")); slow = ca.fetchall()
    # Without ORDER BY, rows come in no particular order.
    if 'ORDER BY' not in q: fast, slow = tuple(sorted(fast)), tuple(sorted(slow))
    if fast != slow: print('DIFFER', q, fast, slow)
    return fast
queries = ['SELECT c FROM t WHERE id BETWEEN 10 AND 19', 'SELECT SUM(k) FROM t WHERE id BETWEEN 1 AND 100',
  'SELECT c FROM t WHERE id BETWEEN 30 AND 60 ORDER BY c', 'SELECT DISTINCT c FROM t WHERE id BETWEEN 30 AND 60 ORDER BY c',
  'SELECT id FROM t WHERE id > 195', 'SELECT id FROM t WHERE id < 4', 'SELECT id FROM t WHERE id IN (3, 5, 900)',
  'SELECT COUNT(*) FROM t WHERE id BETWEEN 10 AND 5', 'SELECT id FROM t WHERE id >= 100 AND id < 120 AND k = 3',
  'SELECT id FROM t WHERE 190 < id AND id <= 193', 'SELECT id FROM t WHERE id BETWEEN 50 AND 60 ORDER BY id DESC LIMIT 3',
  'SELECT id FROM t WHERE id IN (1, 2, 3) AND id BETWEEN 2 AND 9', \"SELECT k FROM t WHERE id = '7'\"]
before = narrowed()
for q in queries: print(same(q))
print('narrowed', narrowed() - before)
for q in [\"SELECT n FROM s WHERE code BETWEEN 'b' AND 'd'\", \"SELECT n FROM s WHERE code > 'fig'\",
          \"SELECT n FROM s WHERE code IN ('fig', 'kiwi', 'apple')\"]:
    print(same(q, 'code'))
# Writes by key ranges.
ca.execute('UPDATE t SET k = k + 100 WHERE id BETWEEN 1 AND 5'); print('updated', ca.rowcount)
ca.execute('DELETE FROM t WHERE id IN (6, 7, 999)'); print('deleted', ca.rowcount)
print(same('SELECT id, k FROM t WHERE id <= 8'))
# A subquery reading the same table sees all of it, not the key range.
ca.execute('CREATE TABLE tree (id INT PRIMARY KEY, parent INT, v INT)')
ca.execute('INSERT INTO tree VALUES (1, NULL, 10), (2, 1, 20), (3, 1, 30), (4, NULL, 40)')
ca.execute('DELETE FROM tree WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM tree c WHERE c.parent = 1)'); print('orphans', ca.rowcount)
ca.execute('UPDATE tree SET v = 0 WHERE id BETWEEN 3 AND 4 AND v > (SELECT AVG(v) FROM tree)'); print('above average', ca.rowcount)
# A REPEATABLE READ transaction keeps its snapshot over ranges others
# change, and sees its own writes.
ca.execute('BEGIN'); print(same('SELECT SUM(k), COUNT(*) FROM t WHERE id BETWEEN 6 AND 50'))
cb.execute('UPDATE t SET k = k + 1000 WHERE id = 20'); cb.execute('DELETE FROM t WHERE id = 21')
cb.execute('INSERT INTO t VALUES (201, 1, NULL)')
print(same('SELECT SUM(k), COUNT(*) FROM t WHERE id BETWEEN 6 AND 50'))
print(same('SELECT COUNT(*) FROM t WHERE id > 195'))
ca.execute('DELETE FROM t WHERE id = 30'); ca.execute('UPDATE t SET k = 0 WHERE id = 40'); ca.execute('INSERT INTO t VALUES (6, 5, NULL)')
print(same('SELECT SUM(k), COUNT(*) FROM t WHERE id BETWEEN 6 AND 50'))
ca.execute('COMMIT')
print(same('SELECT SUM(k), COUNT(*) FROM t WHERE id BETWEEN 6 AND 50'))
print(same('SELECT COUNT(*) FROM t WHERE id > 195'))
"
    );
    let out = same_answers(&s, &script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "(('c0',), ('c1',), ('c10',), ('c11',), ('c12',), ('c2',), ('c3',), ('c4',), ('c5',), ('c6',))",
            "((297,),)",
            "(('c0',), ('c0',), ('c1',), ('c1',), ('c10',), ('c10',), ('c11',), ('c11',), ('c12',), ('c12',), ('c2',), ('c2',), ('c3',), ('c3',), ('c4',), ('c4',), ('c4',), ('c5',), ('c5',), ('c5',), ('c6',), ('c6',), ('c6',), ('c7',), ('c7',), ('c7',), ('c8',), ('c8',), ('c8',), ('c9',), ('c9',))",
            "(('c0',), ('c1',), ('c10',), ('c11',), ('c12',), ('c2',), ('c3',), ('c4',), ('c5',), ('c6',), ('c7',), ('c8',), ('c9',))",
            "((196,), (197,), (198,), (199,), (200,))",
            "((1,), (2,), (3,))",
            "((3,), (5,))",
            "((0,),)",
            "((101,), (108,), (115,))",
            "((191,), (192,), (193,))",
            "((60,), (59,), (58,))",
            "((2,), (3,))",
            "((0,),)",
            "narrowed 12",
            "((2,), (3,))",
            "((6,),)",
            "((1,), (5,))",
            "updated 5",
            "deleted 2",
            "((1, 101), (2, 102), (3, 103), (4, 104), (5, 105), (8, 1))",
            "orphans 0",
            "above average 2",
            "((127, 43),)",
            "((127, 43),)",
            "((5,),)",
            "((125, 43),)",
            "((1125, 42),)",
            "((6,),)",
        ],
        "{out}"
    );
}

#[test]
fn secondary_index_ranges_narrow_scans_without_changing_answers() {
    let s = TestServer::start();
    s.query(
        "CREATE DATABASE si; CREATE TABLE si.t (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(10), \
         KEY k_1 (k)); CREATE TABLE si.p (a INT, b INT, v INT, PRIMARY KEY (a, b))",
    );
    // As for primary keys: each query runs as written (the index on `k`
    // narrows the scan) and with `k` hidden in an expression (a full scan).
    let script = format!(
        "{PY}
a = conn(database='si', autocommit=True); b = conn(database='si', autocommit=True)
ca = a.cursor(); cb = b.cursor()
ca.execute('INSERT INTO t VALUES ' + ', '.join(\"(%d, %d, 'c%d')\" % (i, (i * 37) % 50, i % 13) for i in range(1, 301)))
ca.execute('INSERT INTO p VALUES ' + ', '.join('(%d, %d, %d)' % (i // 10, i % 10, i) for i in range(100)))
def same(q, key='k'):
    ca.execute(q); fast = ca.fetchall()
    ca.execute(q.replace(key + ' ', \"CONCAT(c, '') \" if key == 'c' else key + ' + 0 ')); slow = ca.fetchall()
    if 'ORDER BY' not in q: fast, slow = tuple(sorted(fast)), tuple(sorted(slow))
    if fast != slow: print('DIFFER', q, fast, slow)
    return fast
queries = ['SELECT id FROM t WHERE k = 7', 'SELECT c FROM t WHERE k BETWEEN 10 AND 12 ORDER BY c, id',
  'SELECT SUM(id), COUNT(*) FROM t WHERE k < 3', 'SELECT id FROM t WHERE k IN (1, 2, 99) AND id > 100',
  'SELECT DISTINCT c FROM t WHERE k > 47 ORDER BY c', 'SELECT COUNT(*) FROM t WHERE k > 5 AND k < 5',
  'SELECT id FROM t WHERE k >= 49 ORDER BY id DESC LIMIT 2',
  'SELECT COUNT(k) FROM t WHERE k BETWEEN 3 AND 5 OR k BETWEEN 4 AND 8 OR k BETWEEN 40 AND 41']
before = status(ca, 'floe_key_range_reads')
for q in queries: print(same(q))
print('narrowed', status(ca, 'floe_key_range_reads') - before)
# The first column of a composite primary key bounds its range too.
before = status(ca, 'floe_key_range_reads')
print(same('SELECT SUM(v) FROM p WHERE a = 4', 'a'), same('SELECT b FROM p WHERE a BETWEEN 8 AND 9 AND b = 3', 'a'))
print('narrowed', status(ca, 'floe_key_range_reads') - before)
# Writes found by the index, including ones that move rows within it.
ca.execute('UPDATE t SET k = k + 100 WHERE k = 7'); print('updated', ca.rowcount)
ca.execute('DELETE FROM t WHERE k BETWEEN 0 AND 1'); print('deleted', ca.rowcount)
print(same('SELECT id, k FROM t WHERE k >= 100'), same('SELECT COUNT(*) FROM t WHERE k <= 7'))
# A REPEATABLE READ transaction keeps its snapshot over rows others move
# in and out of its range, and sees its own writes.
ca.execute('BEGIN'); print(same('SELECT SUM(id), COUNT(*) FROM t WHERE k BETWEEN 20 AND 29'))
cb.execute('UPDATE t SET k = 25 WHERE id = 1'); cb.execute('UPDATE t SET k = 0 WHERE k = 20')
cb.execute('DELETE FROM t WHERE k = 21'); cb.execute('INSERT INTO t VALUES (301, 22, NULL)')
print(same('SELECT SUM(id), COUNT(*) FROM t WHERE k BETWEEN 20 AND 29'))
ca.execute('UPDATE t SET k = 29 WHERE id = 3'); ca.execute('INSERT INTO t VALUES (302, 23, NULL)')
print(same('SELECT SUM(id), COUNT(*) FROM t WHERE k BETWEEN 20 AND 29'))
ca.execute('COMMIT')
print(same('SELECT SUM(id), COUNT(*) FROM t WHERE k BETWEEN 20 AND 29'))
# An index created on a loaded table serves lookups at once.
ca.execute('CREATE INDEX c_1 ON t (c)')
before = status(ca, 'floe_key_range_reads')
print(same(\"SELECT COUNT(*) FROM t WHERE c = 'c3'\", 'c'), status(ca, 'floe_key_range_reads') - before)
"
    );
    let out = same_answers(&s, &script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "((11,), (61,), (111,), (161,), (211,), (261,))",
            "(('c0',), ('c0',), ('c1',), ('c10',), ('c11',), ('c11',), ('c12',), ('c2',), ('c3',), ('c3',), ('c4',), ('c5',), ('c6',), ('c7',), ('c7',), ('c8',), ('c9',), ('c9',))",
            "((2964, 18),)",
            "((123,), (146,), (173,), (196,), (223,), (246,), (273,), (296,))",
            "(('c0',), ('c1',), ('c10',), ('c11',), ('c12',), ('c2',), ('c4',), ('c6',), ('c7',), ('c8',), ('c9',))",
            "((0,),)",
            "((277,), (227,))",
            "((48,),)",
            // The 8 queries, and one whose hidden `k` left `id > 100` to narrow.
            "narrowed 9",
            "((445,),) ((3,), (3,))",
            "narrowed 2",
            "updated 6",
            "deleted 12",
            "((11, 107), (61, 107), (111, 107), (161, 107), (211, 107), (261, 107)) ((30,),)",
            // Inside the transaction: the same before and after the others'
            // changes, then its own writes on top; after COMMIT, everything.
            "((8910, 60),)",
            "((8910, 60),)",
            "((9215, 62),)",
            "((7759, 52),)",
            "((21,),) 1",
        ],
        "{out}"
    );
}

/// Runs a script that prints DIFFER where two ways of asking disagree;
/// returns its output once none did.
fn same_answers(s: &TestServer, script: &str) -> String {
    let out = s.python(script);
    assert!(!out.contains("DIFFER"), "{out}");
    out
}

#[test]
fn inserts_of_literal_rows_skip_the_parser_and_do_what_it_would() {
    let s = TestServer::start();
    // Statements into `t` are read without sqlparser; the same statements
    // into `u`, written with LOW_PRIORITY, go through sqlparser.
    let cols = "id INT PRIMARY KEY AUTO_INCREMENT, n BIGINT, d DECIMAL(10,3), f DOUBLE, \
                s VARCHAR(40) NOT NULL DEFAULT 'dflt', b BOOLEAN, ts DATETIME";
    s.query(&format!(
        "CREATE DATABASE li; CREATE TABLE li.t ({cols}); CREATE TABLE li.u ({cols})"
    ));
    let script = format!(
        "{PY}
a = conn(database='li', autocommit=True); ca = a.cursor()
def run(q):
    try:
        ca.execute(q); return ca.rowcount, ca.lastrowid
    except pymysql.MySQLError as e:
        return 'error %d' % e.args[0]
statements = [
  \"INSERT INTO T VALUES (1, 5, 1.5, -2.5e3, 'it''s', TRUE, '2026-11-27 10:00:00'), (2, -7, -.25, 1e-3, 'a\\\\'b\\\\n\\\\%c', FALSE, NULL)\",
  \"INSERT INTO T (n, s) VALUES (10, '中文'), (11, DEFAULT)\",
  \"INSERT INTO T (n) VALUE (+12)\",
  \"INSERT INTO T (id, n) VALUES (2, 1)\",
  \"INSERT IGNORE INTO T (id, n) VALUES (2, 1), (20, 2)\",
  \"REPLACE INTO T (id, n, s) VALUES (1, 99, 'replaced')\",
  \"INSERT INTO T (n, n) VALUES (1, 2)\",
  \"INSERT INTO T (nosuch) VALUES (1)\",
  \"INSERT INTO T (id, s) VALUES (30, NULL)\",
  \"INSERT INTO T (id, n) VALUES (31, 'abc')\",
  \"INSERT INTO T (id, d) VALUES (32, 12345678.9)\",
  \"INSERT INTO T (id) VALUES (33, 1)\",
  \"INSERT INTO li.`T` (`id`, `n`) VALUES (40, 0), (41, NULL)\",
]
before = status(ca, 'floe_literal_inserts')
for q in statements:
    fast = run(q.replace('INTO T', 'INTO t').replace('`T`', '`t`'))
    slow = run(q.replace('INSERT INTO', 'INSERT LOW_PRIORITY INTO').replace('INSERT IGNORE', 'INSERT LOW_PRIORITY IGNORE')
             .replace('REPLACE INTO', 'REPLACE LOW_PRIORITY INTO').replace('INTO T', 'INTO u').replace('`T`', '`u`'))
    if fast != slow: print('DIFFER', q, fast, slow)
    print(fast)
print('read', status(ca, 'floe_literal_inserts') - before)
ca.execute('SELECT * FROM t ORDER BY id'); t = ca.fetchall()
ca.execute('SELECT * FROM u ORDER BY id'); u = ca.fetchall()
if t != u: print('DIFFER', t, u)
for r in t: print(r)
"
    );
    let out = same_answers(&s, &script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "(2, 2)",
            "(2, 3)",
            "(1, 5)",
            "error 1062",
            "(1, 20)",
            "(2, 1)",
            "error 1110",
            "error 1054",
            "error 1048",
            "error 1366",
            "error 1264",
            "error 1136",
            "(2, 41)",
            "read 13",
            "(1, 99, None, None, 'replaced', None, None)",
            "(2, -7, Decimal('-0.250'), 0.001, \"a'b\\n\\\\%c\", 0, None)",
            "(3, 10, None, None, '中文', None, None)",
            "(4, 11, None, None, 'dflt', None, None)",
            "(5, 12, None, None, 'dflt', None, None)",
            "(20, 2, None, None, 'dflt', None, None)",
            "(40, 0, None, None, 'dflt', None, None)",
            "(41, None, None, None, 'dflt', None, None)",
        ],
        "{out}"
    );
}

#[test]
fn constant_selects_skip_the_parser_and_answer_like_it() {
    let s = TestServer::start();
    // Each statement is asked as written (read without sqlparser) and with
    // FROM DUAL (which only sqlparser reads).
    let script = format!(
        "{PY}
a = conn(autocommit=True); ca = a.cursor()
def run(q):
    try:
        ca.execute(q); return ca.fetchall(), [(d[0], d[1]) for d in ca.description]
    except pymysql.MySQLError as e:
        return 'error %d' % e.args[0]
statements = [
  'SELECT 1',
  \"select -7 AS n, 'it''s', 'a\\\\tb' AS 'q', 007, @@version_comment limit 1\",
  'SELECT @@session.autocommit AS `ac`, @@SQL_MODE',
  'SELECT @@no_such_variable',
]
before = status(ca, 'floe_constant_selects')
for q in statements:
    fast = run(q)
    slow = run(q.replace(' limit', ' FROM DUAL limit') if ' limit' in q else q + ' FROM dual')
    if fast != slow: print('DIFFER', q, fast, slow)
    print(fast)
print('read', status(ca, 'floe_constant_selects') - before)
ca.execute('SET SESSION autocommit = 0')
print(run('SELECT @@autocommit'))
"
    );
    let out = same_answers(&s, &script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "(((1,),), [('1', 8)])",
            "(((-7, \"it's\", 'a\\tb', 7, 'floe (MySQL-compatible HTAP)'),), [('n', 8), (\"it's\", 253), ('q', 253), ('007', 8), ('@@version_comment', 253)])",
            "(((1, 'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'),), [('ac', 8), ('@@SQL_MODE', 253)])",
            "(((None,),), [('@@no_such_variable', 253)])",
            "read 3",
            "(((0,),), [('@@autocommit', 8)])",
        ],
        "{out}"
    );
}

#[test]
fn unions_derived_tables_and_ctes_name_columns_as_mysql() {
    let s = TestServer::start();
    s.query(
        "CREATE DATABASE nm; CREATE TABLE nm.t (a INT PRIMARY KEY, b INT); \
         INSERT INTO nm.t VALUES (1, 10), (2, 20), (3, 20)",
    );
    let out = s.query(
        "(SELECT 1, 'a'); \
         SELECT 1, 'a' UNION ALL SELECT 2, 'b' ORDER BY 1; \
         SELECT 1, 'x' AS y FROM DUAL; \
         SELECT * FROM (SELECT b, COUNT(*), 'k' FROM nm.t GROUP BY b) AS d ORDER BY b; \
         WITH c AS (SELECT b, 7 FROM nm.t WHERE a = 1) SELECT * FROM c",
    );
    assert_eq!(
        out,
        "1\ta\n1\ta\n\
         1\ta\n1\ta\n2\tb\n\
         1\ty\n1\tx\n\
         b\tCOUNT(*)\tk\n10\t1\tk\n20\t2\tk\n\
         b\t7\n10\t7\n"
    );
}

#[test]
fn warnings_notes_and_errors_reach_show_warnings_and_the_ok_packet() {
    let s = TestServer::start();
    let script = format!(
        "{PY}
a = conn(autocommit=True); ca = a.cursor()
def run(q):
    try:
        ca.execute(q); n = a._result.warning_count
    except pymysql.MySQLError as e:
        n = 'error %d' % e.args[0]
    ca.execute('SHOW WARNINGS'); w = ca.fetchall()
    print(n, w)
run('CREATE DATABASE dg')
run('CREATE DATABASE IF NOT EXISTS dg')
run('CREATE TABLE dg.t (id INT PRIMARY KEY, u INT UNIQUE)')
run('CREATE TABLE IF NOT EXISTS dg.t (id INT PRIMARY KEY)')
run('INSERT INTO dg.t VALUES (1, 10), (2, 20)')
run('INSERT IGNORE INTO dg.t VALUES (1, 11), (3, 20), (4, 40)')
run('INSERT LOW_PRIORITY IGNORE INTO dg.t VALUES (5, 40)')
run('INSERT IGNORE INTO dg.t VALUES (6, 60), (6, 61), (7, 60)')
ca.execute('REPLACE INTO dg.t VALUES (30, 5), (31, 5), (30, 6)'); print('replaced', ca.rowcount)
run('DROP TABLE IF EXISTS dg.nope, dg.t2')
run('DROP DATABASE IF EXISTS nodb')
run('SELECT * FROM dg.nope')
for q in ['SHOW ERRORS', 'SHOW COUNT(*) WARNINGS', 'SHOW COUNT(*) ERRORS', 'SELECT @@warning_count, @@error_count']:
    ca.execute(q); print(q, ca.fetchall())
run('SELECT 1')
ca.execute('SELECT @@warning_count, @@error_count'); print(ca.fetchall())
ca.execute('SELECT COUNT(*) FROM dg.t'); print(ca.fetchall())
"
    );
    let out = s.python(&script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "0 ()",
            "1 (('Note', 1007, \"Can't create database 'dg'; database exists\"),)",
            "0 ()",
            "1 (('Note', 1050, \"Table 't' already exists\"),)",
            "0 ()",
            "2 (('Warning', 1062, \"Duplicate entry '1' for key 't.PRIMARY'\"), ('Warning', 1062, \"Duplicate entry '20' for key 't.u'\"))",
            "1 (('Warning', 1062, \"Duplicate entry '40' for key 't.u'\"),)",
            "2 (('Warning', 1062, \"Duplicate entry '6' for key 't.PRIMARY'\"), ('Warning', 1062, \"Duplicate entry '60' for key 't.u'\"))",
            "replaced 4",
            "2 (('Note', 1051, \"Unknown table 'dg.nope'\"), ('Note', 1051, \"Unknown table 'dg.t2'\"))",
            "1 (('Note', 1008, \"Can't drop database 'nodb'; database doesn't exist\"),)",
            "error 1146 (('Error', 1146, \"Table 'dg.nope' doesn't exist\"),)",
            "SHOW ERRORS (('Error', 1146, \"Table 'dg.nope' doesn't exist\"),)",
            "SHOW COUNT(*) WARNINGS ((1,),)",
            "SHOW COUNT(*) ERRORS ((1,),)",
            "SELECT @@warning_count, @@error_count ((1, 1),)",
            "0 ()",
            "((0, 0),)",
            "((6,),)",
        ],
        "{out}"
    );
}

#[test]
fn key_range_queries_run_without_a_plan_and_answer_like_one() {
    let s = TestServer::start();
    // `t` has a primary key, so its key ranges run directly; `u` holds the
    // same rows without one, so the same queries on it are planned scans.
    s.query(
        "CREATE DATABASE dq; \
         CREATE TABLE dq.t (id INT PRIMARY KEY, v INT, c VARCHAR(20) NOT NULL, p DECIMAL(8,2), d DATETIME); \
         CREATE TABLE dq.u (id INT NOT NULL, v INT, c VARCHAR(20) NOT NULL, p DECIMAL(8,2), d DATETIME)",
    );
    let script = format!(
        "{PY}
a = conn(database='dq', autocommit=True); ca = a.cursor()
rows = ', '.join(\"(%d, %s, 'c%d', %d.%02d, '2026-0%d-1%d 10:00:00')\" % (i, 'NULL' if i % 5 == 0 else str(i % 4), i % 6, i, i, 1 + i % 9, i % 10) for i in range(1, 41))
ca.execute('INSERT INTO t VALUES ' + rows); ca.execute('INSERT INTO u VALUES ' + rows)
def run(q):
    try:
        ca.execute(q); return ca.fetchall(), [d[:2] for d in ca.description or []]
    except pymysql.MySQLError as e:
        return 'error %d' % e.args[0], None
def same(q):
    fast = run(q); slow = run(q.replace('FROM t', 'FROM u'))
    if fast != slow: print('DIFFER', q, fast, slow)
    return fast[0]
queries = [
  'SELECT * FROM t WHERE id BETWEEN 3 AND 5',
  'SELECT id, v * 2 AS dbl, CONCAT(c, \\'!\\') FROM t WHERE id < 9 ORDER BY dbl DESC, id',
  'SELECT id, v FROM t WHERE id BETWEEN 1 AND 10 ORDER BY v, id',
  'SELECT id, v FROM t WHERE id BETWEEN 1 AND 10 ORDER BY v DESC, id DESC',
  'SELECT DISTINCT v FROM t WHERE id <= 20 ORDER BY 1',
  'SELECT DISTINCT c FROM t WHERE id BETWEEN 4 AND 30 ORDER BY c DESC LIMIT 3',
  'SELECT COUNT(*), COUNT(v), SUM(v), AVG(v), MIN(c), MAX(d), SUM(p) FROM t WHERE id BETWEEN 2 AND 15',
  'SELECT SUM(v) + COUNT(*) * 2 FROM t WHERE id BETWEEN 2 AND 15', 'SELECT COUNT(*) FROM t WHERE id BETWEEN 2 AND 15',
  'SELECT COUNT(DISTINCT v), MAX(p) FROM t WHERE id <= 20 AND v IS NOT NULL',
  'SELECT c FROM t WHERE id > 5 AND v IS NOT NULL ORDER BY c, id LIMIT 2, 3',
  'SELECT c FROM t WHERE id > 5 AND v IS NOT NULL ORDER BY c, id LIMIT 3 OFFSET 2',
  'SELECT x.id, x.c FROM t AS x WHERE x.id IN (2, 4, 6) ORDER BY x.id',
  'SELECT id / 4, id DIV 4, IF(v > 1, \\'big\\', \\'small\\'), DATE_FORMAT(d, \\'%Y/%m\\') FROM t WHERE id IN (3, 4, 10) ORDER BY id',
  'SELECT SUM(v) FROM t WHERE id BETWEEN 100 AND 200',
  'SELECT id FROM t WHERE id BETWEEN 1 AND 30 AND c = \\'c1\\' ORDER BY id',
]
before = status(ca, 'floe_direct_queries')
for q in queries: print(same(q))
print('direct', status(ca, 'floe_direct_queries') - before)
# Errors are the planned path's.
print(same('SELECT nosuch FROM t WHERE id < 3'), same('SELECT SUM(c FROM t WHERE id < 3'), same('SELECT c FROM t WHERE id < 3 ORDER BY 2'))
# A transaction sees its own writes in the range.
ca.execute('BEGIN')
for tbl in ('t', 'u'):
    ca.execute('INSERT INTO %s VALUES (41, 7, \\'new\\', 1.5, NULL), (500, 9, \\'zzz\\', 1, NULL)' % tbl)
    ca.execute('UPDATE %s SET v = 100 WHERE id = 2' % tbl); ca.execute('DELETE FROM %s WHERE id = 3' % tbl)
print(same('SELECT SUM(v), COUNT(*), MAX(c) FROM t WHERE id BETWEEN 1 AND 50'))
ca.execute('COMMIT')
before = status(ca, 'floe_direct_queries')
ca.execute('UPDATE t SET v = v + 10, c = CONCAT(c, \\'+\\') WHERE id BETWEEN 6 AND 8'); print('updated', ca.rowcount)
ca.execute('DELETE FROM t WHERE id IN (9, 10) AND v IS NOT NULL'); print('deleted', ca.rowcount)
print('direct writes', status(ca, 'floe_direct_queries') - before)
ca.execute('SELECT id, v, c FROM t WHERE id BETWEEN 5 AND 11'); print(ca.fetchall())
# Select lists planned once are reused, and never outlive the table's shape.
q = 'SELECT SUM(v) + COUNT(*) * 2, MAX(c), MIN(v - 1) FROM t WHERE id BETWEEN 5 AND 8'
print(run(q), run(q))
ca.execute('ALTER TABLE t ADD COLUMN z INT'); ca.execute('UPDATE t SET z = v * 10 WHERE id BETWEEN 5 AND 8')
print(run(q), run('SELECT z, v FROM t WHERE id BETWEEN 5 AND 8 ORDER BY id'))
ca.execute('ALTER TABLE t DROP COLUMN v')
print(run(q))
# Variables are planned as their values: never kept.
for x in (1, 2):
    ca.execute('SET @x = %d' % x); ca.execute('SET SESSION max_execution_time = %d' % (x * 1000))
    print(run('SELECT z + @x, z + @@session.max_execution_time FROM t WHERE id = 6'))
"
    );
    let out = same_answers(&s, &script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "((3, 3, 'c3', Decimal('3.03'), datetime.datetime(2026, 4, 13, 10, 0)), (4, 0, 'c4', Decimal('4.04'), datetime.datetime(2026, 5, 14, 10, 0)), (5, None, 'c5', Decimal('5.05'), datetime.datetime(2026, 6, 15, 10, 0)))",
            "((3, 6, 'c3!'), (7, 6, 'c1!'), (2, 4, 'c2!'), (6, 4, 'c0!'), (1, 2, 'c1!'), (4, 0, 'c4!'), (8, 0, 'c2!'), (5, None, 'c5!'))",
            "((5, None), (10, None), (4, 0), (8, 0), (1, 1), (9, 1), (2, 2), (6, 2), (3, 3), (7, 3))",
            "((7, 3), (3, 3), (6, 2), (2, 2), (9, 1), (1, 1), (8, 0), (4, 0), (10, None), (5, None))",
            "((None,), (0,), (1,), (2,), (3,))",
            "(('c5',), ('c4',), ('c3',))",
            "((14, 11, 17, Decimal('1.5455'), 'c0', datetime.datetime(2026, 9, 18, 10, 0), Decimal('120.19')),)",
            "((45,),)",
            "((14,),)",
            "((4, Decimal('19.19')),)",
            "(('c0',), ('c0',), ('c0',))",
            "(('c0',), ('c0',), ('c0',))",
            "((2, 'c2'), (4, 'c4'), (6, 'c0'))",
            "((Decimal('0.7500'), 0, 'big', '2026/04'), (Decimal('1.0000'), 1, 'small', '2026/05'), (Decimal('2.5000'), 2, 'small', '2026/02'))",
            "((None,),)",
            "((1,), (7,), (13,), (19,), (25,))",
            "direct 16",
            "error 1054 error 1064 error 1105",
            "((150, 40, 'new'),)",
            "updated 3",
            "deleted 1",
            "direct writes 2",
            "((5, None, 'c5'), (6, 12, 'c0+'), (7, 13, 'c1+'), (8, 10, 'c2+'), (10, None, 'c4'), (11, 3, 'c5'))",
            "(((43, 'c5', 9),), [('SUM(v) + COUNT(*) * 2', 8), ('MAX(c)', 253), ('MIN(v - 1)', 8)]) \
             (((43, 'c5', 9),), [('SUM(v) + COUNT(*) * 2', 8), ('MAX(c)', 253), ('MIN(v - 1)', 8)])",
            "(((43, 'c5', 9),), [('SUM(v) + COUNT(*) * 2', 8), ('MAX(c)', 253), ('MIN(v - 1)', 8)]) \
             (((None, None), (120, 12), (130, 13), (100, 10)), [('z', 3), ('v', 3)])",
            "('error 1054', None)",
            "(((121, 1120),), [('z + @x', 8), ('z + @@session.max_execution_time', 8)])",
            "(((122, 2120),), [('z + @x', 8), ('z + @@session.max_execution_time', 8)])",
        ],
        "{out}"
    );
}

#[test]
fn concurrent_commits_share_syncs_without_losing_updates() {
    let s = TestServer::start();
    s.query(
        "CREATE DATABASE gc; CREATE TABLE gc.counter (id INT PRIMARY KEY, n BIGINT NOT NULL); \
         INSERT INTO gc.counter VALUES (1, 0), (2, 0); \
         CREATE TABLE gc.log (id BIGINT AUTO_INCREMENT PRIMARY KEY, who INT NOT NULL, k INT NOT NULL, UNIQUE KEY uk (k))",
    );
    // Autocommit writers on one hot row (each increment must see the one
    // before it, even while that one is still becoming durable), inserts
    // under one unique key (exactly one wins), transfers in transactions
    // (conflicts are 1213 and retried), all at once.
    let script = format!(
        "{PY}
errors = []
def hot(t):
    c = conn(database='gc', autocommit=True); cur = c.cursor()
    for i in range(60):
        cur.execute('UPDATE counter SET n = n + 1 WHERE id = 1')
        try:
            cur.execute('INSERT INTO log (who, k) VALUES (%s, %s)', (t, i))
        except pymysql.err.IntegrityError as e:
            if e.args[0] != 1062: errors.append(e)
def moves(t):
    c = conn(database='gc'); cur = c.cursor(); done = 0
    for _ in range(2000):
        if done == 25: break
        try:
            cur.execute('BEGIN')
            cur.execute('UPDATE counter SET n = n - 1 WHERE id = 2')
            cur.execute('UPDATE counter SET n = n + 1 WHERE id = 2 + 0')
            c.commit(); done += 1
        except pymysql.err.OperationalError as e:
            if e.args[0] != 1213: errors.append(e)
            c.rollback()
    if done != 25: errors.append('transfers did not finish')
def guarded(f):
    def run(t):
        try: f(t)
        except Exception as e: errors.append(repr(e))
    return run
ts = [threading.Thread(target=guarded(hot), args=(t,)) for t in range(8)] + [threading.Thread(target=guarded(moves), args=(t,)) for t in range(2)]
for t in ts: t.start()
for t in ts: t.join()
c = conn(database='gc'); cur = c.cursor()
cur.execute('SELECT id, n FROM counter ORDER BY id'); print(cur.fetchall())
cur.execute('SELECT COUNT(*), COUNT(DISTINCT k), MIN(k), MAX(k) FROM log'); print(cur.fetchall())
cur.execute('SELECT COUNT(*) FROM log WHERE id BETWEEN 1 AND 1000000'); print(cur.fetchall())
print('errors', errors)
"
    );
    let out = s.python(&script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "((1, 480), (2, 0))",
            "((60, 60, 0, 59),)",
            "((60,),)",
            "errors []"
        ],
        "{out}"
    );
}

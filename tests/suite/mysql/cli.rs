//! The mariadb `mysql` client: batch, script on stdin, interactive (tmux),
//! TLS, and LOAD DATA LOCAL INFILE.

use std::process::Command;
use std::time::{Duration, Instant};

use super::server::TestServer;

#[test]
fn batch_cli_and_script_on_stdin() {
    let s = TestServer::start();
    let script = "CREATE DATABASE shop;\nUSE shop;\n\
        CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(40) NOT NULL, price DECIMAL(10,2), added DATETIME);\n\
        INSERT INTO items (name, price, added) VALUES ('茶杯', 12.50, '2024-03-01 10:00:00'), ('plate', 3.99, NULL);\n\
        SELECT id, name, price, added FROM items ORDER BY id;\n";
    let out = s.mysql(&[], script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "id\tname\tprice\tadded\n1\t茶杯\t12.50\t2024-03-01 10:00:00\n2\tplate\t3.99\tNULL\n"
    );
    assert_eq!(
        s.query("SELECT COUNT(*), SUM(price) FROM shop.items"),
        "COUNT(*)\tSUM(price)\n2\t16.49\n"
    );
    let err = s.query_err("INSERT INTO shop.items (id, name) VALUES (1, 'again')");
    assert!(
        err.contains("ERROR 1062 (23000)")
            && err.contains("Duplicate entry '1' for key 'items.PRIMARY'"),
        "{err}"
    );
    assert!(
        s.query_err("SELECT * FROM shop.nope")
            .contains("ERROR 1146 (42S02)")
    );
    assert!(s.query_err("SELEC 1").contains("ERROR 1064 (42000)"));
    assert!(
        s.query_err("SELECT nope FROM shop.items")
            .contains("ERROR 1054 (42S22)")
    );
    assert!(s.query_err("USE nowhere").contains("ERROR 1049 (42000)"));
}

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(args)
        .output()
        .expect("tmux is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for_screen(session: &str, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let screen = tmux(&["capture-pane", "-t", session, "-p", "-S", "-200"]);
        if screen.contains(needle) {
            return screen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited for {needle:?}; screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn interactive_cli_uses_a_database_with_tables() {
    let s = TestServer::start();
    s.query("CREATE DATABASE ads; CREATE TABLE ads.airings (id INT PRIMARY KEY, channel VARCHAR(20)); CREATE TABLE ads.brands (id INT PRIMARY KEY, name TEXT); INSERT INTO ads.airings VALUES (1, 'CCTV-1'), (2, 'Hunan')");
    let session = format!("floe-cli-{}", s.port);
    let cmd = format!("mysql -h 127.0.0.1 -P {} -u root", s.port);
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "160",
        "-y",
        "50",
        &cmd,
    ]);
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Command::new("tmux")
                .args(["kill-session", "-t", &self.0])
                .output();
        }
    }
    let _guard = Kill(session.clone());
    wait_for_screen(&session, "]>");
    // auto-rehash: SHOW TABLES plus one COM_FIELD_LIST per table, which must end properly.
    tmux(&["send-keys", "-t", &session, "USE ads", "Enter"]);
    wait_for_screen(&session, "Database changed");
    // tmux reads a bare trailing ';' as the end of its own command: escape it.
    tmux(&[
        "send-keys",
        "-t",
        &session,
        "-l",
        "SELECT channel FROM airings ORDER BY id\\;",
    ]);
    tmux(&["send-keys", "-t", &session, "Enter"]);
    let screen = wait_for_screen(&session, "2 rows in set");
    assert!(
        screen.contains("CCTV-1") && screen.contains("Hunan"),
        "{screen}"
    );
    tmux(&["send-keys", "-t", &session, "status", "Enter"]);
    let screen = wait_for_screen(&session, "Server version:");
    assert!(screen.contains("8.0.36-floe"), "{screen}");
    tmux(&["send-keys", "-t", &session, "quit", "Enter"]);
}

#[test]
fn cli_over_tls_and_required_tls() {
    let s = TestServer::start_with(true, true);
    let out = s.mysql(
        &[
            "--ssl",
            "--ssl-verify-server-cert=0",
            "-e",
            "SELECT 1 AS one; \\s",
        ],
        "",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Cipher in use") || stdout.contains("TLS"),
        "{stdout}"
    );
    let refused = s.mysql(&["--skip-ssl", "-e", "SELECT 1"], "");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("3159"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[test]
fn load_data_local_infile_from_the_cli() {
    let s = TestServer::start();
    s.query("CREATE DATABASE d; CREATE TABLE d.ad (id BIGINT PRIMARY KEY, channel VARCHAR(20), cost DECIMAL(12,2), aired DATETIME, note TEXT)");
    let file = s.dir.path().join("ads.csv");
    let mut csv = String::from("id,channel,cost,aired,note\n");
    for i in 0..5000 {
        csv.push_str(&format!(
            "{i},\"ch,{}\",{}.{:02},2024-01-{:02} 08:00:00,{}\n",
            i % 7,
            i,
            i % 100,
            1 + i % 28,
            if i % 10 == 0 {
                "\\N".to_string()
            } else {
                format!("\"say \"\"hi\"\" {i}\"")
            }
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let sql = format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE d.ad FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' IGNORE 1 LINES (id, channel, cost, aired, note)",
        file.display()
    );
    let out = s.mysql(&["--local-infile=1", "-e", &sql], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        s.query("SELECT COUNT(*), COUNT(note), SUM(id), MAX(channel) FROM d.ad"),
        "COUNT(*)\tCOUNT(note)\tSUM(id)\tMAX(channel)\n5000\t4500\t12497500\tch,6\n"
    );
    assert_eq!(
        s.query("SELECT note FROM d.ad WHERE id = 7"),
        "note\nsay \"hi\" 7\n"
    );
}

#[test]
fn load_data_fills_defaults_skips_fields_and_handles_duplicates() {
    let s = TestServer::start();
    s.query("CREATE DATABASE d; CREATE TABLE d.t (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL DEFAULT 'none', qty INT DEFAULT 5, note TEXT)");
    // Writes `body` to a file and loads it: `LOAD DATA LOCAL INFILE 'file' {rest}`.
    let load_as = |name: &str, body: &[u8], rest: &str| {
        let file = s.dir.path().join(name);
        std::fs::write(&file, body).unwrap();
        let sql = format!("LOAD DATA LOCAL INFILE '{}' {rest}", file.display());
        s.mysql(&["--local-infile=1", "-e", &sql], "")
    };
    let load = |name: &str, body: &[u8], how: &str| {
        load_as(
            name,
            body,
            &format!("{how} INTO TABLE d.t (id, name, qty, @skip)"),
        )
    };
    // Tab-separated by default; `\N` is NULL, `\t` a tab; a short line
    // leaves the rest to their defaults; the fourth field is discarded;
    // a byte that is not UTF-8 becomes U+FFFD.
    let out = load(
        "a.tsv",
        b"1\tx\t10\tdropped\n2\t\xe4\xb8\xad\xe6\x96\x87\t\\N\tz\n3\ta\\tb\t7\tz\n4\n7\tbad\xff\t1\tz\n",
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let out = load("b.tsv", b"1\ty\t11\tq\n5\tn\t1\tq\n", "REPLACE");
    assert!(out.status.success(), "{out:?}");
    let out = load("c.tsv", b"2\tdup\t0\tq\n6\tk\t2\tq\n", "IGNORE");
    assert!(out.status.success(), "{out:?}");
    // With LOCAL, MySQL skips duplicates by default (the file cannot be
    // stopped halfway).
    let out = load("d.tsv", b"8\tnew\t0\tq\n3\tdup\t0\tq\n", "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        s.query("SELECT id, name, qty, note FROM d.t ORDER BY id"),
        "id\tname\tqty\tnote\n1\ty\t11\tNULL\n2\t中文\tNULL\tNULL\n3\ta\\tb\t7\tNULL\n\
         4\tnone\t5\tNULL\n5\tn\t1\tNULL\n6\tk\t2\tNULL\n7\tbad\u{fffd}\t1\tNULL\n8\tnew\t0\tNULL\n"
    );
    // AUTO_INCREMENT ids for rows that give none.
    s.query("CREATE TABLE d.a (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(5))");
    let out = load_as("e.tsv", b"x\ny\n\\N\n", "INTO TABLE d.a (v)");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        s.query("SELECT id, v FROM d.a ORDER BY id"),
        "id\tv\n1\tx\n2\ty\n3\tNULL\n"
    );
    // More rows than one part (262,144): parts commit in the background in
    // file order, so generated ids follow the lines.
    let n = 300_000u64;
    s.query("CREATE TABLE d.big (id INT AUTO_INCREMENT PRIMARY KEY, line INT NOT NULL)");
    let body: String = (1..=n).map(|i| format!("{i}\n")).collect();
    let out = load_as("big.tsv", body.as_bytes(), "INTO TABLE d.big (line)");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        s.query("SELECT COUNT(*), MAX(id) FROM d.big WHERE id = line"),
        format!("COUNT(*)\tMAX(id)\n{n}\t{n}\n")
    );
    assert_eq!(
        s.query("SELECT COUNT(*) FROM d.big"),
        format!("COUNT(*)\n{n}\n")
    );
}

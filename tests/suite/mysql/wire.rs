//! The wire itself: pipelined packets, 16 MiB multi-packet payloads, idle
//! timeouts, and hostile input that must end only the offending connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::server::TestServer;

// The same packet builders the benchmarks' client uses.
#[path = "../../../benches/common/wire.rs"]
mod client;
pub(super) use client::{handshake_response, packet, query};

pub(super) struct Raw {
    pub(super) s: TcpStream,
}

impl Raw {
    pub(super) fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Raw { s }
    }

    /// `None` when the server closed the connection.
    pub(super) fn read(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut h = [0u8; 4];
        self.s.read_exact(&mut h).ok()?;
        let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
        let mut p = vec![0; len];
        self.s.read_exact(&mut p).ok()?;
        Some((h[3], p))
    }

    fn greeting(&mut self) -> Vec<u8> {
        let (seq, g) = self.read().expect("greeting");
        assert_eq!((seq, g[0]), (0, 10));
        g
    }

    pub(super) fn login(port: u16) -> Raw {
        let mut r = Raw::connect(port);
        r.greeting();
        r.s.write_all(&handshake_response("root")).unwrap();
        let (_, ok) = r.read().expect("auth reply");
        assert_eq!(ok[0], 0x00, "auth OK");
        r
    }

    /// Reads one text result set of a single column; returns its values.
    pub(super) fn result(&mut self) -> Vec<String> {
        let (_, first) = self.read().expect("result");
        assert_ne!(
            first[0],
            0xFF,
            "error: {}",
            String::from_utf8_lossy(&first[9..])
        );
        assert_eq!(first, vec![1], "one column");
        self.read().expect("column definition");
        let mut values = Vec::new();
        loop {
            let (_, row) = self.read().expect("row");
            if row[0] == 0xFE && row.len() < 0xFF_FFFF {
                return values;
            }
            let n = row[0] as usize;
            values.push(String::from_utf8(row[1..1 + n].to_vec()).unwrap());
        }
    }

    /// Sends a statement expected to return OK; `Err(code)` for an ERR,
    /// `Err(0)` if the connection is gone.
    pub(super) fn exec(&mut self, sql: &str) -> Result<(), u16> {
        self.s.write_all(&query(sql)).map_err(|_| 0u16)?;
        match self.read() {
            Some((_, p)) if p.first() == Some(&0x00) => Ok(()),
            Some((_, p)) if p.first() == Some(&0xFF) && p.len() >= 3 => {
                Err(u16::from_le_bytes([p[1], p[2]]))
            }
            _ => Err(0),
        }
    }

    fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match self.s.read(&mut buf) {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue, // an ERR packet, then the close
            }
        }
    }
}

#[test]
fn pipelined_handshake_and_commands_in_one_write() {
    let s = TestServer::start();
    let mut r = Raw::connect(s.port);
    r.greeting();
    let mut burst = handshake_response("root");
    burst.extend(query("SELECT 1"));
    burst.extend(packet(0, &[0x0e])); // COM_PING
    burst.extend(query("SELECT 'two'"));
    r.s.write_all(&burst).unwrap();
    assert_eq!(r.read().unwrap().1[0], 0x00, "auth OK");
    assert_eq!(r.result(), vec!["1"]);
    assert_eq!(r.read().unwrap().1[0], 0x00, "ping OK");
    assert_eq!(r.result(), vec!["two"]);
}

#[test]
fn many_queries_written_before_any_answer_is_read() {
    let s = TestServer::start();
    let mut r = Raw::login(s.port);
    let mut burst = Vec::new();
    for i in 0..200 {
        burst.extend(query(&format!("SELECT {i}")));
    }
    r.s.write_all(&burst).unwrap();
    for i in 0..200 {
        assert_eq!(r.result(), vec![i.to_string()]);
    }
}

#[test]
fn hostile_input_ends_only_that_connection() {
    let s = TestServer::start();
    let mut bystander = Raw::login(s.port);

    // Garbage instead of a handshake response.
    let mut g = Raw::connect(s.port);
    g.greeting();
    g.s.write_all(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0x13, 0x37])
        .unwrap();
    let _ = g.s.shutdown(std::net::Shutdown::Write);
    assert!(g.is_closed());

    // A handshake packet claiming to be huge.
    let mut big = Raw::connect(s.port);
    big.greeting();
    big.s.write_all(&[0xff, 0xff, 0x7f, 1, 0, 0, 0, 0]).unwrap();
    assert!(big.is_closed());

    // A truncated handshake response (valid header, short body).
    let mut short = Raw::connect(s.port);
    short.greeting();
    short.s.write_all(&packet(1, &[0x05, 0x02])).unwrap();
    assert!(short.is_closed());

    // Out of sequence after login.
    let mut seq = Raw::login(s.port);
    let mut p = query("SELECT 1");
    p[3] = 7;
    seq.s.write_all(&p).unwrap();
    assert!(seq.is_closed());

    // An unknown command is an error, not a disconnect.
    let mut unknown = Raw::login(s.port);
    unknown.s.write_all(&packet(0, &[0x7f, 1, 2, 3])).unwrap();
    let (_, err) = unknown.read().unwrap();
    assert_eq!((err[0], u16::from_le_bytes([err[1], err[2]])), (0xFF, 1047));
    unknown.s.write_all(&query("SELECT 'still here'")).unwrap();
    assert_eq!(unknown.result(), vec!["still here"]);

    // Garbage after login: a bogus statement-execute for no statement.
    let mut bogus = Raw::login(s.port);
    bogus
        .s
        .write_all(&packet(0, &[0x17, 0xff, 0xff, 0xff, 0x7f]))
        .unwrap();
    let (_, err) = bogus.read().unwrap();
    assert_eq!(u16::from_le_bytes([err[1], err[2]]), 1243);

    // Everyone else is still served.
    bystander.s.write_all(&query("SELECT 'fine'")).unwrap();
    assert_eq!(bystander.result(), vec!["fine"]);
    assert_eq!(s.query("SELECT 1 AS x"), "x\n1\n");
}

#[test]
fn idle_connections_time_out_and_big_payloads_cross_16_mib() {
    let s = TestServer::start();
    let script = "import os, pymysql, time
port = int(os.environ['FLOE_PORT'])
c = pymysql.connect(host='127.0.0.1', port=port, user='root', password='', max_allowed_packet=64*1024*1024)
cur = c.cursor()
big = 'x' * (17 * 1024 * 1024) + 'end'
cur.execute('SELECT %s', (big,))
back = cur.fetchone()[0]
print(len(back), back[-3:])
cur.execute('SET SESSION wait_timeout = 1')
time.sleep(2.5)
try:
    cur.execute('SELECT 1')
    print('alive')
except pymysql.err.OperationalError as e:
    print('timed out', e.args[0])
";
    let out = s.python(script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("{} end", 17 * 1024 * 1024 + 3));
    assert!(lines[1].starts_with("timed out"), "{out}");
}

/// Reads a binary-protocol result of one string column; returns its values.
fn binary_strings(r: &mut Raw) -> Vec<Option<String>> {
    let (_, first) = r.read().expect("result");
    assert_ne!(
        first[0],
        0xFF,
        "error: {}",
        String::from_utf8_lossy(&first[9..])
    );
    r.read().expect("column definition");
    let mut values = Vec::new();
    loop {
        let (_, row) = r.read().expect("row");
        if row[0] == 0xFE && row.len() < 0xFF_FFFF {
            return values;
        }
        // [0x00][null bitmap: 1 byte for one column, offset 2][lenenc string]
        if row[1] & 0b100 != 0 {
            values.push(None);
            continue;
        }
        let (len, at) = match row[2] {
            0xFC => (u16::from_le_bytes([row[3], row[4]]) as usize, 5),
            0xFD => (u32::from_le_bytes([row[3], row[4], row[5], 0]) as usize, 6),
            n => (n as usize, 3),
        };
        values.push(Some(String::from_utf8(row[at..at + len].to_vec()).unwrap()));
    }
}

#[test]
fn long_data_reset_connection_set_option_and_change_user() {
    let s = TestServer::start();
    let mut r = Raw::login(s.port);

    // COM_STMT_PREPARE, two COM_STMT_SEND_LONG_DATA pieces, COM_STMT_EXECUTE.
    let mut prep = vec![0x16];
    prep.extend_from_slice(b"SELECT ?");
    r.s.write_all(&packet(0, &prep)).unwrap();
    let (_, ok) = r.read().unwrap();
    assert_eq!(ok[0], 0x00, "prepare OK");
    let id = u32::from_le_bytes([ok[1], ok[2], ok[3], ok[4]]);
    let params = u16::from_le_bytes([ok[7], ok[8]]);
    assert_eq!(params, 1);
    for _ in 0..params {
        r.read().unwrap(); // parameter definition
    }
    let columns = u16::from_le_bytes([ok[5], ok[6]]);
    for _ in 0..columns {
        r.read().unwrap();
    }
    for piece in ["long ", "data ✓"] {
        let mut p = vec![0x18];
        p.extend_from_slice(&id.to_le_bytes());
        p.extend_from_slice(&0u16.to_le_bytes());
        p.extend_from_slice(piece.as_bytes());
        r.s.write_all(&packet(0, &p)).unwrap(); // no reply
    }
    let mut exec = vec![0x17];
    exec.extend_from_slice(&id.to_le_bytes());
    exec.extend_from_slice(&[0, 1, 0, 0, 0, 0, 1, 0xfd, 0]);
    r.s.write_all(&packet(0, &exec)).unwrap();
    assert_eq!(
        binary_strings(&mut r),
        vec![Some("long data ✓".to_string())]
    );

    // COM_STMT_RESET of an unknown statement is an error; of ours, OK.
    let mut reset = vec![0x1a];
    reset.extend_from_slice(&id.to_le_bytes());
    r.s.write_all(&packet(0, &reset)).unwrap();
    assert_eq!(r.read().unwrap().1[0], 0x00);

    // COM_SET_OPTION: multi-statements off, then a two-statement query fails.
    r.s.write_all(&packet(0, &[0x1b, 1, 0])).unwrap();
    assert_eq!(
        r.read().unwrap().1[0],
        0xFE,
        "SET_OPTION answers with EOF/OK"
    );
    r.s.write_all(&query("SELECT 1; SELECT 2")).unwrap();
    let (_, err) = r.read().unwrap();
    assert_eq!(u16::from_le_bytes([err[1], err[2]]), 1064);

    // COM_RESET_CONNECTION forgets session state.
    r.s.write_all(&query("SET @x = 'kept'")).unwrap();
    r.read().unwrap();
    r.s.write_all(&packet(0, &[0x1f])).unwrap();
    assert_eq!(r.read().unwrap().1[0], 0x00);
    r.s.write_all(&query("SELECT @x")).unwrap();
    // The variable is gone: one row holding NULL.
    let (_, first) = r.read().unwrap();
    assert_eq!(first, vec![1]);
    r.read().unwrap();
    assert_eq!(r.read().unwrap().1, vec![0xFB], "NULL");
    assert_eq!(r.read().unwrap().1[0], 0xFE);

    // COM_CHANGE_USER to another account, with a database.
    s.query(
        "CREATE DATABASE cu; CREATE USER 'other'@'%' IDENTIFIED WITH mysql_native_password BY ''",
    );
    let mut cu = vec![0x11];
    cu.extend_from_slice(b"other\0");
    cu.push(0); // empty auth response
    cu.extend_from_slice(b"cu\0");
    cu.extend_from_slice(&45u16.to_le_bytes());
    cu.extend_from_slice(b"mysql_native_password\0");
    r.s.write_all(&packet(0, &cu)).unwrap();
    assert_eq!(r.read().unwrap().1[0], 0x00, "change user OK");
    r.s.write_all(&query("SELECT CONCAT(CURRENT_USER(), ' ', DATABASE())"))
        .unwrap();
    assert_eq!(r.result(), vec!["other@127.0.0.1 cu"]);
}

#[test]
fn thousands_of_concurrent_connections() {
    let s = TestServer::start();
    const N: usize = 2000;
    let mut conns: Vec<Raw> = Vec::with_capacity(N);
    for _ in 0..N {
        conns.push(Raw::login(s.port));
    }
    for c in conns.iter_mut() {
        c.s.write_all(&query("SELECT 7")).unwrap();
    }
    for c in conns.iter_mut() {
        assert_eq!(c.result(), vec!["7"]);
    }
    assert!(s.query("SHOW PROCESSLIST").lines().count() > N);
}

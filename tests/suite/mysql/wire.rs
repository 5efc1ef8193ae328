//! The wire itself: pipelined packets, 16 MiB multi-packet payloads, idle
//! timeouts, and hostile input that must end only the offending connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::server::TestServer;

const CAPS: u32 = 0x0000_0001 // LONG_PASSWORD
    | 0x0000_0200 // PROTOCOL_41
    | 0x0000_2000 // TRANSACTIONS
    | 0x0000_8000 // SECURE_CONNECTION
    | 0x0002_0000 // MULTI_RESULTS
    | 0x0008_0000 // PLUGIN_AUTH
    | 0x0100_0000; // DEPRECATE_EOF

fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    p.push(seq);
    p.extend_from_slice(payload);
    p
}

fn query(sql: &str) -> Vec<u8> {
    let mut p = vec![0x03];
    p.extend_from_slice(sql.as_bytes());
    packet(0, &p)
}

fn handshake_response(user: &str) -> Vec<u8> {
    let mut p = CAPS.to_le_bytes().to_vec();
    p.extend_from_slice(&(16u32 << 20).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&[0; 23]);
    p.extend_from_slice(user.as_bytes());
    p.push(0);
    p.push(0); // empty auth response: root has no password
    p.extend_from_slice(b"mysql_native_password\0");
    packet(1, &p)
}

struct Raw {
    s: TcpStream,
}

impl Raw {
    fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        Raw { s }
    }

    /// `None` when the server closed the connection.
    fn read(&mut self) -> Option<(u8, Vec<u8>)> {
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

    fn login(port: u16) -> Raw {
        let mut r = Raw::connect(port);
        r.greeting();
        r.s.write_all(&handshake_response("root")).unwrap();
        let (_, ok) = r.read().expect("auth reply");
        assert_eq!(ok[0], 0x00, "auth OK");
        r
    }

    /// Reads one text result set of a single column; returns its values.
    fn result(&mut self) -> Vec<String> {
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

//! A minimal MySQL client: login as a passwordless user, send queries, count
//! result rows. Same wire for floe and MariaDB; the benchmarks use `Client`,
//! the wire tests the packet builders.
#![allow(dead_code)]

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;

pub const CAPS: u32 = 0x0000_0001 // LONG_PASSWORD
    | 0x0000_0200 // PROTOCOL_41
    | 0x0000_2000 // TRANSACTIONS
    | 0x0000_8000 // SECURE_CONNECTION
    | 0x0002_0000 // MULTI_RESULTS
    | 0x0008_0000 // PLUGIN_AUTH
    | 0x0100_0000; // DEPRECATE_EOF

pub struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

pub fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    p.push(seq);
    p.extend_from_slice(payload);
    p
}

/// COM_QUERY `sql`.
pub fn query(sql: &str) -> Vec<u8> {
    let mut p = vec![0x03];
    p.extend_from_slice(sql.as_bytes());
    packet(0, &p)
}

/// A handshake response for `user` with an empty password.
pub fn handshake_response(user: &str) -> Vec<u8> {
    let mut p = CAPS.to_le_bytes().to_vec();
    p.extend_from_slice(&(16u32 << 20).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&[0; 23]);
    p.extend_from_slice(user.as_bytes());
    p.push(0);
    p.push(0); // empty auth response
    p.extend_from_slice(b"mysql_native_password\0");
    packet(1, &p)
}

impl Client {
    pub fn connect(port: u16, user: &str) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let mut c = Client {
            r: BufReader::with_capacity(1 << 20, s.try_clone().expect("clone")),
            w: s,
        };
        c.read(); // greeting
        c.w.write_all(&handshake_response(user)).expect("login");
        let ok = c.read();
        assert_eq!(ok[0], 0, "login failed: {}", String::from_utf8_lossy(&ok));
        c
    }

    fn read(&mut self) -> Vec<u8> {
        let mut h = [0u8; 4];
        self.r.read_exact(&mut h).expect("packet header");
        let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
        let mut p = vec![0; len];
        self.r.read_exact(&mut p).expect("packet body");
        p
    }

    /// Skips a packet without keeping it (rows of a big result).
    fn skip(&mut self) -> (u8, usize) {
        let mut h = [0u8; 4];
        self.r.read_exact(&mut h).expect("packet header");
        let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
        let mut first = [0u8; 1];
        if len > 0 {
            self.r.read_exact(&mut first).expect("packet body");
            std::io::copy(
                &mut (&mut self.r).take(len as u64 - 1),
                &mut std::io::sink(),
            )
            .expect("skip");
        }
        (first[0], len)
    }

    /// Runs a query; returns the number of rows (0 for an OK).
    pub fn query(&mut self, sql: &str) -> u64 {
        self.w.write_all(&query(sql)).expect("send");
        let first = self.read();
        match first[0] {
            0x00 => return 0,
            0xFF => panic!("{sql}: {}", String::from_utf8_lossy(&first[3..])),
            _ => {}
        }
        let columns = first[0] as usize;
        for _ in 0..columns {
            self.read();
        }
        let mut rows = 0;
        loop {
            let (b, len) = self.skip();
            if b == 0xFE && len < 0xFF_FFFF {
                return rows;
            }
            assert_ne!(b, 0xFF, "error mid-result");
            rows += 1;
        }
    }
}

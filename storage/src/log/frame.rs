//! Byte layout of log files.
//!
//! A file starts with a 32-byte header `[magic 8][epoch u64][start lsn u64][crc u32][0 u32]`
//! and continues with frames `[len u32][crc32c u32][lsn u64][kind u8][payload len bytes]`,
//! all little endian. The frame checksum covers lsn, kind and payload.

use crate::Lsn;
use crate::bytes::{le_u32, le_u64};

pub const FILE_MAGIC: &[u8; 8] = b"FLOELOG1";
pub const FILE_HEADER_LEN: usize = 32;
pub const FRAME_HEADER_LEN: usize = 17;
/// Larger lengths are garbage, not records (a 1 GiB transaction is refused upstream).
pub const MAX_PAYLOAD: usize = 1 << 30;

pub fn encode_file_header(epoch: u64, start: Lsn) -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..8].copy_from_slice(FILE_MAGIC);
    h[8..16].copy_from_slice(&epoch.to_le_bytes());
    h[16..24].copy_from_slice(&start.to_le_bytes());
    let crc = crc32c::crc32c(&h[..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

/// `(epoch, start lsn)` of a file header, or why it is not one.
pub fn parse_file_header(bytes: &[u8]) -> Result<(u64, Lsn), &'static str> {
    if bytes.len() < FILE_HEADER_LEN {
        return Err("file header is incomplete");
    }
    if &bytes[..8] != FILE_MAGIC {
        return Err("not a floe log file (bad magic)");
    }
    let crc = le_u32(&bytes[24..28]);
    if crc != crc32c::crc32c(&bytes[..24]) {
        return Err("file header checksum mismatch");
    }
    Ok((le_u64(&bytes[8..16]), le_u64(&bytes[16..24])))
}

pub fn encode_frame(buf: &mut Vec<u8>, lsn: Lsn, kind: u8, payload: &[u8]) {
    let start = buf.len();
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&[0u8; 4]);
    buf.extend_from_slice(&lsn.to_le_bytes());
    buf.push(kind);
    buf.extend_from_slice(payload);
    let crc = crc32c::crc32c(&buf[start + 8..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    Record {
        lsn: Lsn,
        kind: u8,
        payload: &'a [u8],
        /// Bytes the frame occupies, header included.
        size: usize,
    },
    /// The bytes end inside a frame (or exactly at a frame boundary when empty).
    Incomplete,
    Bad(&'static str),
}

pub fn parse_frame(bytes: &[u8]) -> Parsed<'_> {
    if bytes.len() < FRAME_HEADER_LEN {
        return Parsed::Incomplete;
    }
    let len = le_u32(&bytes[0..4]) as usize;
    if len > MAX_PAYLOAD {
        return Parsed::Bad("frame length is implausible");
    }
    let size = FRAME_HEADER_LEN + len;
    if bytes.len() < size {
        return Parsed::Incomplete;
    }
    let crc = le_u32(&bytes[4..8]);
    if crc != crc32c::crc32c(&bytes[8..size]) {
        return Parsed::Bad("frame checksum mismatch");
    }
    Parsed::Record {
        lsn: le_u64(&bytes[8..16]),
        kind: bytes[16],
        payload: &bytes[FRAME_HEADER_LEN..size],
        size,
    }
}

/// Whether a whole, valid frame with an lsn above `after` starts anywhere in
/// `bytes`. Tells corruption in the middle of a log (later records survive)
/// from a torn tail (nothing valid follows).
pub fn valid_frame_follows(bytes: &[u8], after: Lsn) -> bool {
    if bytes.len() < FRAME_HEADER_LEN {
        return false;
    }
    (0..=bytes.len() - FRAME_HEADER_LEN).any(|i| {
        let lsn = le_u64(&bytes[i + 8..i + 16]);
        // Cheap filter first: only plausible lsns are worth a checksum.
        lsn > after
            && lsn - after < (1 << 32)
            && matches!(parse_frame(&bytes[i..]), Parsed::Record { .. })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_detect_damage() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, 7, 3, b"hello");
        encode_frame(&mut buf, 8, 1, b"");
        let Parsed::Record {
            lsn,
            kind,
            payload,
            size,
        } = parse_frame(&buf)
        else {
            panic!("first frame")
        };
        assert_eq!((lsn, kind, payload), (7, 3, &b"hello"[..]));
        assert!(matches!(
            parse_frame(&buf[size..]),
            Parsed::Record { lsn: 8, .. }
        ));
        assert_eq!(parse_frame(&buf[..size - 1]), Parsed::Incomplete);
        let mut bad = buf.clone();
        bad[FRAME_HEADER_LEN + 1] ^= 0x40;
        assert_eq!(parse_frame(&bad), Parsed::Bad("frame checksum mismatch"));
        assert!(valid_frame_follows(&bad[1..], 7));
        assert!(!valid_frame_follows(&bad[1..], 8));
    }

    #[test]
    fn file_header_round_trips() {
        let h = encode_file_header(3, 42);
        assert_eq!(parse_file_header(&h), Ok((3, 42)));
        let mut bad = h;
        bad[9] ^= 1;
        assert!(parse_file_header(&bad).is_err());
    }
}

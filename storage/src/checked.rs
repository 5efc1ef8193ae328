//! Checksummed blobs: a payload followed by a crc32c per 64 KiB chunk and a
//! self-checking trailer. Segment files and manifests use it, so a flipped
//! byte is reported with the offset of the chunk that holds it.
//!
//! Layout: `[payload][crc u32 per chunk][payload len u64][chunks u32][trailer crc u32][magic 8]`.

use std::path::Path;

use crate::bytes::{le_u32, le_u64};
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"FLOECHK1";
const CHUNK: usize = 64 << 10;
const FIXED_TRAILER: usize = 8 + 4 + 4 + 8;

/// Appends the checksum trailer to `payload`.
pub fn seal(mut payload: Vec<u8>) -> Vec<u8> {
    let len = payload.len();
    let crcs: Vec<u32> = payload.chunks(CHUNK).map(crc32c::crc32c).collect();
    let trailer_start = payload.len();
    for c in &crcs {
        payload.extend_from_slice(&c.to_le_bytes());
    }
    payload.extend_from_slice(&(len as u64).to_le_bytes());
    payload.extend_from_slice(&(crcs.len() as u32).to_le_bytes());
    let crc = crc32c::crc32c(&payload[trailer_start..]);
    payload.extend_from_slice(&crc.to_le_bytes());
    payload.extend_from_slice(MAGIC);
    payload
}

/// Verifies `bytes` (the whole blob read from `path`) and returns the payload's length.
pub fn verify(path: &Path, bytes: &[u8]) -> Result<usize> {
    let n = bytes.len();
    if n < FIXED_TRAILER || &bytes[n - 8..] != MAGIC {
        return Err(Error::corrupt(
            path,
            n.saturating_sub(8) as u64,
            "missing checksum trailer",
        ));
    }
    let trailer_crc = le_u32(&bytes[n - 12..]);
    let chunks = le_u32(&bytes[n - 16..]) as usize;
    let len = le_u64(&bytes[n - 24..]);
    let trailer_len = chunks.checked_mul(4).map(|c| c + 12);
    let Some(trailer_start) = trailer_len.and_then(|t| (n - 12).checked_sub(t)) else {
        return Err(Error::corrupt(
            path,
            (n - 16) as u64,
            "implausible chunk count",
        ));
    };
    if crc32c::crc32c(&bytes[trailer_start..n - 12]) != trailer_crc {
        return Err(Error::corrupt(
            path,
            trailer_start as u64,
            "checksum trailer is damaged",
        ));
    }
    if len != trailer_start as u64 || len.div_ceil(CHUNK as u64) != chunks as u64 {
        return Err(Error::corrupt(
            path,
            (n - 24) as u64,
            "payload length does not match the file",
        ));
    }
    let payload = &bytes[..trailer_start];
    for (i, chunk) in payload.chunks(CHUNK).enumerate() {
        let at = trailer_start + i * 4;
        if crc32c::crc32c(chunk) != le_u32(&bytes[at..]) {
            return Err(Error::corrupt(
                path,
                (i * CHUNK) as u64,
                format!(
                    "checksum mismatch in bytes {}..{}",
                    i * CHUNK,
                    i * CHUNK + chunk.len()
                ),
            ));
        }
    }
    Ok(trailer_start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flipped_byte_is_caught_with_its_chunk() {
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        let sealed = seal(payload.clone());
        assert_eq!(verify(Path::new("x"), &sealed).unwrap(), payload.len());
        for at in [0, 1, 70_000, 199_999, sealed.len() - 30, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 0x10;
            let err = verify(Path::new("x"), &bad).unwrap_err();
            if let Error::Corrupt { offset, .. } = err {
                if at < payload.len() {
                    assert_eq!(offset, (at / CHUNK * CHUNK) as u64);
                }
            } else {
                panic!("{err}");
            }
        }
        assert!(verify(Path::new("x"), &sealed[..10]).is_err());
        assert!(verify(Path::new("x"), &[]).is_err());
    }
}

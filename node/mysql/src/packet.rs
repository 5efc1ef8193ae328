//! MySQL packet framing: `[len u24][seq u8][payload]`, payloads of 16 MiB or
//! more split into 0xFFFFFF-byte packets. Reading is buffered, so pipelined
//! commands simply wait in the buffer; writing is buffered and flushed once
//! per reply (or every 64 KiB of a result set, which gives backpressure).

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::error::ProtoError;

const MAX_CHUNK: usize = 0xFF_FFFF;
/// Flush a reply being built once this much is buffered.
const FLUSH_AT: usize = 64 << 10;

pub struct PacketIo<S> {
    stream: S,
    rbuf: BytesMut,
    wbuf: Vec<u8>,
    seq: u8,
    max_in: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> PacketIo<S> {
    pub fn new(stream: S, max_in: usize) -> Self {
        PacketIo {
            stream,
            rbuf: BytesMut::with_capacity(16 << 10),
            wbuf: Vec::with_capacity(16 << 10),
            seq: 0,
            max_in,
        }
    }

    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// The transport and whatever was read from it but not consumed yet
    /// (for the TLS upgrade, which must see those bytes first).
    pub fn into_parts(self) -> (S, BytesMut) {
        (self.stream, self.rbuf)
    }

    pub fn set_max_in(&mut self, max: usize) {
        self.max_in = max;
    }

    /// A new command starts a new sequence.
    pub fn reset_seq(&mut self) {
        self.seq = 0;
    }

    async fn fill(&mut self, need: usize) -> Result<(), ProtoError> {
        while self.rbuf.len() < need {
            self.rbuf.reserve((need - self.rbuf.len()).max(8192));
            if self.stream.read_buf(&mut self.rbuf).await? == 0 {
                return Err(ProtoError::Closed);
            }
        }
        Ok(())
    }

    /// Reads one packet that must carry sequence number `seq`.
    pub async fn read_packet_with_seq(&mut self, seq: u8) -> Result<Vec<u8>, ProtoError> {
        self.seq = seq;
        self.read_packet().await
    }

    /// Reads one logical packet (joining 16 MiB chunks).
    pub async fn read_packet(&mut self) -> Result<Vec<u8>, ProtoError> {
        let mut payload = Vec::new();
        loop {
            self.fill(4).await?;
            let len = u32::from_le_bytes([self.rbuf[0], self.rbuf[1], self.rbuf[2], 0]) as usize;
            let seq = self.rbuf[3];
            if seq != self.seq {
                return Err(ProtoError::OutOfOrder {
                    expected: self.seq,
                    got: seq,
                });
            }
            if payload.len() + len > self.max_in {
                return Err(ProtoError::TooLarge(payload.len() + len));
            }
            self.seq = self.seq.wrapping_add(1);
            self.fill(4 + len).await?;
            self.rbuf.advance(4);
            payload.extend_from_slice(&self.rbuf[..len]);
            self.rbuf.advance(len);
            if len < MAX_CHUNK {
                return Ok(payload);
            }
        }
    }

    /// Appends one packet whose payload `fill` writes.
    pub fn write_with(&mut self, fill: impl FnOnce(&mut Vec<u8>)) {
        let start = self.wbuf.len();
        self.wbuf.extend_from_slice(&[0; 4]);
        fill(&mut self.wbuf);
        let len = self.wbuf.len() - start - 4;
        if len < MAX_CHUNK {
            self.wbuf[start..start + 3].copy_from_slice(&(len as u32).to_le_bytes()[..3]);
            self.wbuf[start + 3] = self.seq;
            self.seq = self.seq.wrapping_add(1);
            return;
        }
        // Rare: a payload of 16 MiB or more goes out in chunks.
        let payload = self.wbuf.split_off(start + 4);
        self.wbuf.truncate(start);
        for chunk in payload.chunks(MAX_CHUNK) {
            self.push_chunk(chunk);
        }
        if payload.len().is_multiple_of(MAX_CHUNK) {
            self.push_chunk(&[]);
        }
    }

    fn push_chunk(&mut self, chunk: &[u8]) {
        self.wbuf
            .extend_from_slice(&(chunk.len() as u32).to_le_bytes()[..3]);
        self.wbuf.push(self.seq);
        self.seq = self.seq.wrapping_add(1);
        self.wbuf.extend_from_slice(chunk);
    }

    pub fn write_packet(&mut self, payload: &[u8]) {
        self.write_with(|b| b.extend_from_slice(payload));
    }

    async fn write_out(&mut self) -> Result<(), ProtoError> {
        self.stream.write_all(&self.wbuf).await?;
        self.wbuf.clear();
        Ok(())
    }

    pub async fn flush(&mut self) -> Result<(), ProtoError> {
        if !self.wbuf.is_empty() {
            self.write_out().await?;
        }
        self.stream.flush().await?;
        Ok(())
    }

    /// Flushes if enough is buffered; awaiting here is the backpressure of a slow client.
    pub async fn flush_if_full(&mut self) -> Result<(), ProtoError> {
        if self.wbuf.len() >= FLUSH_AT {
            self.write_out().await?;
        }
        Ok(())
    }
}

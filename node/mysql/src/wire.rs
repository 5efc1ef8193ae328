//! Encoders for the server's packets: OK, ERR, EOF and column definitions.
//! (mysql_common parses these but cannot build them, or builds them wrongly.)

use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::BufMutExt;

use super::error::SqlError;
use super::resultset::ColumnMeta;

/// Result of a statement that returns no rows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Done {
    pub affected_rows: u64,
    pub last_insert_id: u64,
    pub warnings: u16,
    pub info: String,
}

impl Done {
    pub fn affected(n: u64) -> Done {
        Done {
            affected_rows: n,
            ..Done::default()
        }
    }
}

pub fn ok(buf: &mut Vec<u8>, header: u8, done: &Done, status: StatusFlags) {
    buf.push(header);
    buf.put_lenenc_int(done.affected_rows);
    buf.put_lenenc_int(done.last_insert_id);
    buf.extend_from_slice(&status.bits().to_le_bytes());
    buf.extend_from_slice(&done.warnings.to_le_bytes());
    if !done.info.is_empty() {
        buf.put_lenenc_str(done.info.as_bytes());
    }
}

pub fn err(buf: &mut Vec<u8>, e: &SqlError) {
    buf.push(0xFF);
    buf.extend_from_slice(&e.code.to_le_bytes());
    buf.push(b'#');
    buf.extend_from_slice(&e.state);
    // MySQL caps messages at 512 bytes; keep whole UTF-8 characters.
    let mut end = e.message.len().min(512);
    while !e.message.is_char_boundary(end) {
        end -= 1;
    }
    buf.extend_from_slice(&e.message.as_bytes()[..end]);
}

/// The classic EOF packet (clients without CLIENT_DEPRECATE_EOF).
pub fn eof(buf: &mut Vec<u8>, warnings: u16, status: StatusFlags) {
    buf.push(0xFE);
    buf.extend_from_slice(&warnings.to_le_bytes());
    buf.extend_from_slice(&status.bits().to_le_bytes());
}

/// The end of a result set: an OK with header 0xFE, or a classic EOF.
pub fn end_of_rows(buf: &mut Vec<u8>, caps: CapabilityFlags, warnings: u16, status: StatusFlags) {
    if caps.contains(CapabilityFlags::CLIENT_DEPRECATE_EOF) {
        ok(
            buf,
            0xFE,
            &Done {
                warnings,
                ..Done::default()
            },
            status,
        );
    } else {
        eof(buf, warnings, status);
    }
}

pub fn column_def(buf: &mut Vec<u8>, c: &ColumnMeta) {
    buf.put_lenenc_str(b"def");
    buf.put_lenenc_str(c.schema.as_bytes());
    buf.put_lenenc_str(c.table.as_bytes());
    buf.put_lenenc_str(c.org_table.as_bytes());
    buf.put_lenenc_str(c.name.as_bytes());
    buf.put_lenenc_str(c.org_name.as_bytes());
    buf.push(0x0c);
    buf.extend_from_slice(&c.charset.to_le_bytes());
    buf.extend_from_slice(&c.length.to_le_bytes());
    buf.push(c.ty as u8);
    buf.extend_from_slice(&c.flags.bits().to_le_bytes());
    buf.push(c.decimals);
    buf.extend_from_slice(&[0, 0]);
}

/// First code point of the private-use run that stands for raw bytes.
const RAW_BYTE_BASE: u32 = 0x10_FF00;

/// SQL text from the wire. Bytes that are not UTF-8 (binary strings inside
/// a query, as drivers send BLOB values) become private-use characters, so
/// [`raw_bytes`] can restore them exactly.
pub fn sql_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 16);
            for chunk in bytes.utf8_chunks() {
                out.push_str(chunk.valid());
                for &b in chunk.invalid() {
                    out.push(char::from_u32(RAW_BYTE_BASE + b as u32).unwrap_or('\u{FFFD}'));
                }
            }
            std::borrow::Cow::Owned(out)
        }
    }
}

/// The bytes a string from [`sql_text`] stood for.
pub fn raw_bytes(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        let u = c as u32;
        if (RAW_BYTE_BASE..RAW_BYTE_BASE + 256).contains(&u) {
            out.push((u - RAW_BYTE_BASE) as u8);
        } else {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        }
    }
    out
}

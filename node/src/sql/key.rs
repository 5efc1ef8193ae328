//! An encoded value of a unique key: arrow's row format, whose bytewise
//! order is the key columns' order. The key indexes are B-trees, and what
//! they do most is compare two keys; laid out here, a key of up to 16 bytes
//! (an integer key is 9) compares as two integers instead of a call to
//! memcmp, which made up a quarter of a bulk insert's time.

/// Ordered as its bytes are: zero padding makes a key equal in `head` to a
/// longer one it prefixes (the longer continues with zeros up to byte 16),
/// and then the shorter `tail` (no tail first), or failing that the smaller
/// `len`, puts the prefix first, as bytewise order does.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// The first 16 bytes as two big-endian words, zero-padded.
    head: [u64; 2],
    /// The bytes after the first 16, if any. Boxed for a thin pointer (a
    /// `Vec` or boxed slice is two or three words): most keys have no tail,
    /// and an index holds millions of keys.
    #[allow(clippy::box_collection)]
    tail: Option<Box<Vec<u8>>>,
    len: u32,
}

const HEAD: usize = 16;

impl Key {
    pub fn new(bytes: &[u8]) -> Key {
        let mut padded = [0u8; HEAD];
        let n = bytes.len().min(HEAD);
        padded[..n].copy_from_slice(&bytes[..n]);
        let (a, b) = padded.split_at(8);
        let word = |s: &[u8]| u64::from_be_bytes(s.try_into().unwrap_or([0; 8]));
        Key {
            head: [word(a), word(b)],
            tail: bytes
                .get(HEAD..)
                .filter(|t| !t.is_empty())
                .map(|t| Box::new(t.to_vec())),
            len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        }
    }

    /// The least key above every key that starts with this one (the end
    /// of a prefix's range); `None` if no key is (all bytes are 0xFF).
    pub fn successor(&self) -> Option<Key> {
        let mut bytes = self.bytes();
        let last = bytes.iter().rposition(|&b| b != 0xFF)?;
        bytes.truncate(last + 1);
        bytes[last] += 1;
        Some(Key::new(&bytes))
    }

    /// The encoded bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.head.iter().flat_map(|w| w.to_be_bytes()).collect();
        out.truncate((self.len as usize).min(HEAD));
        out.extend(self.tail.iter().flat_map(|t| t.iter()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_as_its_bytes_do() {
        let samples: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0, 0],
            vec![1],
            vec![1, 0],
            vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 0],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 10],
            vec![255; 20],
            vec![255; 8],
            vec![128, 0, 0, 0, 0, 0, 0, 0, 5],
        ];
        for a in &samples {
            assert_eq!(&Key::new(a).bytes(), a);
            // Between a key and its successor lie exactly the keys it prefixes.
            if let Some(next) = Key::new(a).successor() {
                for b in &samples {
                    let inside = Key::new(b) >= Key::new(a) && Key::new(b) < next;
                    assert_eq!(inside, b.starts_with(a), "{a:?} then {b:?}");
                }
            }
            for b in &samples {
                assert_eq!(Key::new(a).cmp(&Key::new(b)), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }
}

//! Nodes announce themselves on the volume, so that they can find each
//! other without talking: the primary says where it listens (a reader's
//! read-only error names it), and each reader posts a card with its address
//! and progress about once a second (the primary lists them).

use std::time::Duration;

use floe_storage::blob::BlobStore;
use floe_storage::log::now_micros;

/// Where the primary says it listens.
const PRIMARY_ADDR_KEY: &str = "blobs/nodes/primary";

const READERS_DIR: &str = "blobs/nodes/readers";
/// A card older than this belongs to a reader that is gone.
pub const READER_CARD_TTL: Duration = Duration::from_secs(10);
/// How often a reader renews its card.
pub const READER_CARD_EVERY: Duration = Duration::from_secs(1);

/// What a reader says about itself (JSON on the volume).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReaderCard {
    /// `host:port` it serves on.
    pub addr: String,
    pub pid: u32,
    pub applied_lsn: u64,
    pub lag_ms: u64,
    /// When the card was written (µs since the Unix epoch).
    pub at: u64,
}

impl ReaderCard {
    fn key(&self) -> String {
        format!("{READERS_DIR}/{}-{}", self.addr.replace(':', "_"), self.pid)
    }
}

pub fn announce_primary(store: &dyn BlobStore, addr: &str) -> floe_storage::Result<()> {
    store.put(PRIMARY_ADDR_KEY, addr.as_bytes())
}

/// The address the primary announced, if any.
pub fn primary_addr(store: &dyn BlobStore) -> Option<String> {
    let bytes = store.get(PRIMARY_ADDR_KEY).ok().flatten()?;
    let addr = String::from_utf8_lossy(&bytes).trim().to_string();
    (!addr.is_empty()).then_some(addr)
}

/// Writes (or renews) a reader's card.
pub fn announce_reader(store: &dyn BlobStore, card: &ReaderCard) -> floe_storage::Result<()> {
    let card = ReaderCard {
        at: now_micros(),
        ..card.clone()
    };
    // Cannot fail: plain fields.
    let json = serde_json::to_vec(&card).unwrap_or_default();
    store.put(&card.key(), &json)
}

/// Removes a reader's card when it stops cleanly.
pub fn withdraw_reader(store: &dyn BlobStore, card: &ReaderCard) -> floe_storage::Result<()> {
    store.delete(&card.key())
}

/// Readers whose cards are fresh, by address. Stale cards (readers that
/// died) are removed on the way.
pub fn readers(store: &dyn BlobStore) -> floe_storage::Result<Vec<ReaderCard>> {
    let now = now_micros();
    let mut out = Vec::new();
    for name in store.list(READERS_DIR)? {
        let key = format!("{READERS_DIR}/{name}");
        let Some(bytes) = store.get(&key)? else {
            continue;
        };
        match serde_json::from_slice::<ReaderCard>(&bytes).ok() {
            Some(card) if now.saturating_sub(card.at) <= READER_CARD_TTL.as_micros() as u64 => {
                out.push(card)
            }
            _ => store.delete(&key)?,
        }
    }
    out.sort_by(|a, b| a.addr.cmp(&b.addr));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_round_trip_and_stale_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = floe_storage::blob::LocalDir::new(dir.path());
        let card = ReaderCard {
            addr: "127.0.0.1:3307".into(),
            pid: 42,
            applied_lsn: 7,
            lag_ms: 1,
            at: 0,
        };
        announce_reader(&store, &card).unwrap();
        let listed = readers(&store).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].addr, card.addr);
        assert_eq!(listed[0].applied_lsn, 7);
        // A card written long ago is a reader that died: not listed, removed.
        let old = ReaderCard {
            at: 1,
            ..listed[0].clone()
        };
        store
            .put(&old.key(), &serde_json::to_vec(&old).unwrap())
            .unwrap();
        assert!(readers(&store).unwrap().is_empty());
        assert!(store.list(READERS_DIR).unwrap().is_empty());
        announce_reader(&store, &card).unwrap();
        withdraw_reader(&store, &card).unwrap();
        assert!(readers(&store).unwrap().is_empty());
    }
}

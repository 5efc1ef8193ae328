//! Authentication: mysql_native_password and caching_sha2_password.
//!
//! Accounts keep no passwords: `SHA1(SHA1(pw))` for native clients, and a
//! salted, iterated SHA-256 for caching_sha2. The latter's fast path needs
//! `SHA256(SHA256(pw))`, which the server learns only from a full
//! authentication (over TLS, or RSA-encrypted) and then caches in memory,
//! exactly as MySQL does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rand::Rng;

use super::lock;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::{Oaep, RsaPrivateKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};

pub const NATIVE: &str = "mysql_native_password";
pub const CACHING_SHA2: &str = "caching_sha2_password";
/// caching_sha2_password's AuthMoreData codes.
pub const SHA2_REQUEST_PUBLIC_KEY: u8 = 0x02;
pub const SHA2_FAST_AUTH_OK: u8 = 0x03;
pub const SHA2_PERFORM_FULL_AUTH: u8 = 0x04;
const SHA2_ROUNDS: usize = 5000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plugin {
    Native,
    CachingSha2,
}

impl Plugin {
    pub fn name(self) -> &'static str {
        match self {
            Plugin::Native => NATIVE,
            Plugin::CachingSha2 => CACHING_SHA2,
        }
    }

    pub fn from_name(name: &str) -> Option<Plugin> {
        match name {
            NATIVE => Some(Plugin::Native),
            CACHING_SHA2 => Some(Plugin::CachingSha2),
            _ => None,
        }
    }
}

/// What the server keeps to check one account's password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub plugin: Plugin,
    /// `SHA1(SHA1(pw))`, or empty for an empty password.
    pub native: Vec<u8>,
    /// `(salt, SHA256^5000(salt || pw))`, or `None` for an empty password.
    pub sha2: Option<([u8; 16], [u8; 32])>,
}

impl Credentials {
    pub fn new(plugin: Plugin, password: &str) -> Credentials {
        if password.is_empty() {
            return Credentials {
                plugin,
                native: Vec::new(),
                sha2: None,
            };
        }
        let salt: [u8; 16] = rand::rng().random();
        Credentials {
            plugin,
            native: Sha1::digest(Sha1::digest(password.as_bytes())).to_vec(),
            sha2: Some((salt, sha2_slow(&salt, password.as_bytes()))),
        }
    }

    pub fn empty_password(&self) -> bool {
        self.native.is_empty() && self.sha2.is_none()
    }

    /// Checks a cleartext password (caching_sha2 full authentication).
    pub fn check_password(&self, password: &[u8]) -> bool {
        match &self.sha2 {
            None => password.is_empty(),
            Some((salt, hash)) => sha2_slow(salt, password) == *hash,
        }
    }
}

fn sha2_slow(salt: &[u8], password: &[u8]) -> [u8; 32] {
    let mut h: [u8; 32] = Sha256::new()
        .chain_update(salt)
        .chain_update(password)
        .finalize()
        .into();
    for _ in 1..SHA2_ROUNDS {
        h = Sha256::new()
            .chain_update(h)
            .chain_update(password)
            .finalize()
            .into();
    }
    h
}

/// A fresh 20-byte challenge of printable bytes (no NUL, as clients expect).
pub fn nonce() -> [u8; 20] {
    let mut rng = rand::rng();
    std::array::from_fn(|_| rng.random_range(33u8..127))
}

/// mysql_native_password: `reply = SHA1(pw) XOR SHA1(nonce || SHA1(SHA1(pw)))`.
pub fn verify_native(nonce: &[u8; 20], reply: &[u8], stored: &[u8]) -> bool {
    if stored.is_empty() {
        return reply.is_empty();
    }
    if reply.len() != 20 || stored.len() != 20 {
        return false;
    }
    let mask = Sha1::new()
        .chain_update(nonce)
        .chain_update(stored)
        .finalize();
    let stage1: [u8; 20] = std::array::from_fn(|i| reply[i] ^ mask[i]);
    Sha1::digest(stage1).as_slice() == stored
}

/// caching_sha2 fast path: `reply = SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || nonce)`.
pub fn verify_sha2_fast(nonce: &[u8; 20], reply: &[u8], stage2: &[u8; 32]) -> bool {
    if reply.len() != 32 {
        return false;
    }
    let mask = Sha256::new()
        .chain_update(stage2)
        .chain_update(nonce)
        .finalize();
    let stage1: [u8; 32] = std::array::from_fn(|i| reply[i] ^ mask[i]);
    Sha256::digest(stage1).as_slice() == stage2
}

pub fn sha2_stage2(password: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(password)).into()
}

/// `SHA256(SHA256(pw))` of accounts that authenticated fully since start-up.
#[derive(Debug, Default)]
pub struct Sha2Cache {
    entries: Mutex<HashMap<String, [u8; 32]>>,
}

impl Sha2Cache {
    pub fn get(&self, user: &str) -> Option<[u8; 32]> {
        lock(&self.entries).get(user).copied()
    }

    pub fn put(&self, user: &str, stage2: [u8; 32]) {
        lock(&self.entries).insert(user.to_string(), stage2);
    }

    /// After ALTER USER / DROP USER.
    pub fn forget(&self, user: &str) {
        lock(&self.entries).remove(user);
    }
}

/// The server's RSA key pair for caching_sha2 full authentication without TLS.
pub struct RsaKeys {
    private: RsaPrivateKey,
    pub public_pem: String,
}

impl RsaKeys {
    pub fn generate() -> Result<RsaKeys, String> {
        let private = RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| e.to_string())?;
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?;
        Ok(RsaKeys {
            private,
            public_pem,
        })
    }

    /// The password a client encrypted as `RSA-OAEP((pw || 0) XOR nonce)`.
    pub fn decrypt_password(&self, nonce: &[u8; 20], ciphertext: &[u8]) -> Option<Vec<u8>> {
        let mut plain = self.private.decrypt(Oaep::new::<Sha1>(), ciphertext).ok()?;
        for (i, b) in plain.iter_mut().enumerate() {
            *b ^= nonce[i % nonce.len()];
        }
        if plain.last() == Some(&0) {
            plain.pop();
        }
        Some(plain)
    }
}

/// Generated once, in the background, at server start.
#[derive(Clone, Default)]
pub struct LazyRsa(Arc<OnceLock<Result<RsaKeys, String>>>);

impl LazyRsa {
    pub fn start(&self) {
        let cell = self.0.clone();
        std::thread::spawn(move || {
            cell.get_or_init(RsaKeys::generate);
        });
    }

    /// Waits for the key pair (it takes well under a second).
    pub fn get(&self) -> Result<&RsaKeys, String> {
        self.0.wait().as_ref().map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
    use mysql_common::auth::plugins::mysql_native_password::scramble_native;

    #[test]
    fn scrambles_from_a_real_client_library_verify() {
        let n = nonce();
        let creds = Credentials::new(Plugin::Native, "s3cret");
        let reply = scramble_native(&n, b"s3cret").unwrap();
        assert!(verify_native(&n, &reply, &creds.native));
        assert!(!verify_native(
            &n,
            &scramble_native(&n, b"wrong").unwrap(),
            &creds.native
        ));
        let reply = scramble_sha256(&n, b"s3cret").unwrap();
        assert!(verify_sha2_fast(&n, &reply, &sha2_stage2(b"s3cret")));
        assert!(!verify_sha2_fast(&n, &reply, &sha2_stage2(b"other")));
        assert!(creds.check_password(b"s3cret") && !creds.check_password(b"s3cre"));
        let empty = Credentials::new(Plugin::Native, "");
        assert!(verify_native(&n, &[], &empty.native) && empty.check_password(b""));
    }
}

//! Keys: how they are made (a readable prefix and 256 random bits), stored (only their
//! SHA-256) and checked (looked up by hash, compared in constant time, not revoked).

use sha2::{Digest, Sha256};

use crate::store::{KeyKind, KeyRecord, StoreResult};

use super::state::App;

/// Hex SHA-256 of a secret. Keys are 256-bit random values, so a fast hash is enough to make
/// a stolen table useless; only hashes are stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random key of the given kind: a readable prefix and 256 random bits.
pub fn generate_key(kind: KeyKind) -> String {
    let prefix = match kind {
        KeyKind::Source => "lrs",
        KeyKind::Admin => "lra",
    };
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}_{}", hex::encode(bytes))
}

impl App {
    /// Checks a presented key of the given kind: found by hash, compared in constant time,
    /// not revoked. `None` for anything else.
    pub async fn authenticate(
        &self,
        presented: &str,
        kind: KeyKind,
    ) -> StoreResult<Option<KeyRecord>> {
        let hash = hash_secret(presented);
        let Some(record) = self.store.find_key(&hash).await? else {
            return Ok(None);
        };
        let same = subtle::ConstantTimeEq::ct_eq(record.hash.as_bytes(), hash.as_bytes());
        Ok((bool::from(same) && !record.revoked && record.kind == kind).then_some(record))
    }
}

//! Keys: how they are made (a readable prefix and 256 random bits), stored (only their
//! SHA-256) and checked (looked up by hash, compared in constant time, not revoked). What a
//! key may do is its role's (`domain::access`); the HTTP edge checks it.

use sha2::{Digest, Sha256};

use crate::domain::access::Role;
use crate::store::{KeyRecord, StoreResult};

use super::state::App;

/// Hex SHA-256 of a secret. Keys are 256-bit random values, so a fast hash is enough to make
/// a stolen table useless; only hashes are stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new random key of the given role: a readable prefix and 256 random bits.
pub fn generate_key(role: Role) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{}_{}", role.key_prefix(), hex::encode(bytes))
}

impl App {
    /// Checks a presented key: found by hash, compared in constant time, not revoked. `None`
    /// for anything else. What it may do is for the caller to check against its role.
    pub async fn authenticate(&self, presented: &str) -> StoreResult<Option<KeyRecord>> {
        let hash = hash_secret(presented);
        let Some(record) = self.store.find_key(&hash).await? else {
            return Ok(None);
        };
        let same = subtle::ConstantTimeEq::ct_eq(record.hash.as_bytes(), hash.as_bytes());
        Ok((bool::from(same) && !record.revoked).then_some(record))
    }
}

/// What a new key is for.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// What it may do.
    pub role: Role,
    /// The person or integration it belongs to.
    pub name: String,
    /// For source keys: URL prefixes a form may redirect to.
    pub allowed_redirects: Vec<String>,
    /// For source keys: whether a form's redirect carries the lead id.
    pub redirect_lead_id: bool,
}

impl App {
    /// Stores a key for `new` and returns the key itself (shown once: only its hash is kept).
    /// `chosen` uses a given key instead of a random one (local set-ups).
    pub async fn create_key(&self, new: NewKey, chosen: Option<String>) -> StoreResult<String> {
        let key = chosen.unwrap_or_else(|| generate_key(new.role));
        let record = KeyRecord {
            hash: hash_secret(&key),
            role: new.role,
            name: new.name,
            revoked: false,
            allowed_redirects: new.allowed_redirects,
            redirect_lead_id: new.redirect_lead_id,
            created_at: self.now(),
        };
        self.store.put_key(&record).await?;
        Ok(key)
    }
}

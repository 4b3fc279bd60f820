//! Keys: how they are made (a readable prefix and 256 random bits), stored (only their
//! SHA-256) and checked (looked up by hash, compared in constant time, not revoked). What a
//! key may do is its role's (`domain::access`); the HTTP edge checks it.

use sha2::{Digest, Sha256};

use crate::domain::access::{Actor, Role};
use crate::store::{AuditAction, AuditEntry, KeyRecord, StoreResult};

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
        let now = self.now().as_second();
        let cached = self.keys.fresh(&hash, now);
        let record = match cached.clone() {
            Some(record) => record,
            None => match self.store.find_key(&hash).await? {
                Some(record) => record,
                None => return self.install_first_admin(presented, &hash).await,
            },
        };
        let same = subtle::ConstantTimeEq::ct_eq(record.hash.as_bytes(), hash.as_bytes());
        if !bool::from(same) || record.revoked {
            return Ok(None);
        }
        if cached.is_some() {
            return Ok(Some(record));
        }
        self.keys.keep(&record, now);
        if !record.listed {
            // A key made before keys were listed joins the list on its first use.
            if let Err(error) = self.store.list_key(&record).await {
                tracing::warn!(key = %record.id(), %error, "could not add a key to the list of keys");
            }
        }
        Ok(Some(record))
    }
}

/// The name the first admin key is stored under.
pub const FIRST_ADMIN_NAME: &str = "first admin (Secrets Manager)";

impl App {
    /// A fresh deployment's way in: when `presented` is the first admin key (a secret the
    /// stack generated into Secrets Manager) and no key with its hash exists yet, it is stored
    /// as an admin key, audited, and accepted. Once stored it is an ordinary key: revoking it
    /// ends it for good, since a revoked record still exists and is never replaced.
    async fn install_first_admin(
        &self,
        presented: &str,
        hash: &str,
    ) -> StoreResult<Option<KeyRecord>> {
        let Some(setting) = &self.first_admin else {
            return Ok(None);
        };
        let first = self.notifier.secret(setting).await.map_err(|e| {
            crate::store::StoreError::Unavailable(format!("the first admin key: {e}"))
        })?;
        let same = subtle::ConstantTimeEq::ct_eq(hash_secret(&first).as_bytes(), hash.as_bytes());
        if first.trim().is_empty() || !bool::from(same) {
            return Ok(None);
        }
        let actor = Actor {
            name: "deployment".into(),
            role: Role::Admin,
        };
        let new = NewKey {
            role: Role::Admin,
            name: FIRST_ADMIN_NAME.into(),
            allowed_redirects: Vec::new(),
            allowed_origins: Vec::new(),
            redirect_lead_id: false,
        };
        // Two first sign-ins at the same moment store the same record twice (same hash, one
        // key) and may leave two audit entries of it; nothing else can differ.
        let (_, record) = self
            .create_key(new, Some(presented.to_string()), &actor)
            .await?;
        tracing::info!(key = %record.id(), "the first admin key was used and is now stored");
        Ok(Some(record))
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
    /// For source keys: origins whose pages may post with it (empty: any).
    pub allowed_origins: Vec<String>,
    /// For source keys: whether a form's redirect carries the lead id.
    pub redirect_lead_id: bool,
}

impl App {
    /// Stores a key for `new`, made by `actor` (audited), and returns the key itself (shown
    /// once: only its hash is kept) with its record. `chosen` uses a given key instead of a
    /// random one (local set-ups).
    pub async fn create_key(
        &self,
        new: NewKey,
        chosen: Option<String>,
        actor: &Actor,
    ) -> StoreResult<(String, KeyRecord)> {
        let key = chosen.unwrap_or_else(|| generate_key(new.role));
        let now = self.now();
        let mut record = KeyRecord::new(hash_secret(&key), new.role, new.name, now);
        record.allowed_redirects = new.allowed_redirects;
        record.allowed_origins = new.allowed_origins;
        record.redirect_lead_id = new.redirect_lead_id;
        record.created_by = Some(actor.name.clone());
        let audit = AuditEntry::new(
            actor,
            now,
            AuditAction::KeyCreated,
            Some(record.id().to_string()),
            format!("created {} key '{}'", record.role, record.name),
        );
        self.store.put_key(&record, Some(&audit)).await?;
        Ok((key, record))
    }

    /// Every listed key.
    pub async fn keys(&self) -> StoreResult<Vec<KeyRecord>> {
        let mut keys = self.store.list_keys().await?;
        keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        Ok(keys)
    }

    /// Revokes the listed key with this id (or, from the tool, the key itself), audited.
    /// `None` if there is no such key.
    pub async fn revoke_key(
        &self,
        which: KeyRef<'_>,
        actor: &Actor,
    ) -> StoreResult<Option<KeyRecord>> {
        let found = match which {
            KeyRef::Secret(key) => self.store.find_key(&hash_secret(key)).await?,
            KeyRef::Id(id) => self
                .store
                .list_keys()
                .await?
                .into_iter()
                .find(|k| k.id() == id),
        };
        let Some(record) = found else {
            return Ok(None);
        };
        let now = self.now();
        let audit = AuditEntry::new(
            actor,
            now,
            AuditAction::KeyRevoked,
            Some(record.id().to_string()),
            format!("revoked {} key '{}'", record.role, record.name),
        );
        let revoked = self
            .store
            .revoke_key(&record.hash, now, Some(&audit))
            .await?;
        self.keys.forget(&record.hash);
        if !revoked {
            return Ok(None);
        }
        self.store.find_key(&record.hash).await
    }
}

/// Which key to revoke.
#[derive(Debug, Clone, Copy)]
pub enum KeyRef<'a> {
    /// Its public id (what `GET /admin/keys` shows).
    Id(&'a str),
    /// The key itself.
    Secret(&'a str),
}

//! What every use case shares, built once per process (per cold start in Lambda): the store,
//! the clock, what the process remembers, and the notifier. The use cases are methods on
//! [`App`] in their own modules.

use std::sync::Arc;
use std::time::Duration;

use crate::delivery::Notifier;
use crate::domain::channel::Setting;
use crate::store::Store;

use super::cache::{CapMemory, ConfigCache, Foresight, KeyCache};
use super::clock::Clock;

/// The router's services.
pub struct App {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) configs: ConfigCache,
    pub(crate) caps: CapMemory,
    pub(crate) foresight: Foresight,
    pub(crate) keys: KeyCache,
    pub(crate) notifier: Notifier,
    /// A fresh deployment's first admin key (see `App::authenticate`), if configured.
    pub(crate) first_admin: Option<Setting>,
    /// The secret signed activity webhooks are checked with, if enabled.
    pub(crate) activity_secret: Option<Setting>,
}

impl App {
    /// Builds the app; `config_ttl` bounds how stale the cached routing config may be.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config_ttl: Duration,
        notifier: Notifier,
    ) -> Self {
        Self {
            store,
            clock,
            configs: ConfigCache::new(config_ttl),
            caps: CapMemory::default(),
            foresight: Foresight::default(),
            keys: KeyCache::new(Duration::ZERO),
            notifier,
            first_admin: None,
            activity_secret: None,
        }
    }

    /// Trusts an accepted source key for `ttl` in this process (see [`KeyCache`]): a lead
    /// then skips the key's read; a key revoked elsewhere keeps working here for up to `ttl`.
    pub fn with_key_cache(mut self, ttl: Duration) -> Self {
        self.keys = KeyCache::new(ttl);
        self
    }

    /// Accepts activities signed with `setting`'s value (`POST /leads/{id}/activity`).
    pub fn with_activity_secret(mut self, setting: Setting) -> Self {
        self.activity_secret = Some(setting);
        self
    }

    /// The secret signed activity webhooks are checked with; `None` if not enabled.
    pub async fn activity_secret(&self) -> crate::store::StoreResult<Option<String>> {
        let Some(setting) = &self.activity_secret else {
            return Ok(None);
        };
        self.notifier.secret(setting).await.map(Some).map_err(|e| {
            crate::store::StoreError::Unavailable(format!("the activity webhook secret: {e}"))
        })
    }

    /// Accepts `setting`'s value as the first admin key of a fresh deployment: presented
    /// while no key with its hash exists, it is stored as an admin key.
    pub fn with_first_admin_key(mut self, setting: Setting) -> Self {
        self.first_admin = Some(setting);
        self
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The notifier (acknowledge links, delivery).
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Now, by the app's clock.
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }
}

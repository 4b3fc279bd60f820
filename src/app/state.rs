//! What every use case shares, built once per process (per cold start in Lambda): the store,
//! the clock, what the process remembers, and the notifier. The use cases are methods on
//! [`App`] in their own modules.

use std::sync::Arc;
use std::time::Duration;

use crate::delivery::Notifier;
use crate::domain::channel::Setting;
use crate::store::Store;

use super::cache::{CapMemory, ConfigCache};
use super::clock::Clock;

/// The router's services.
pub struct App {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) configs: ConfigCache,
    pub(crate) caps: CapMemory,
    pub(crate) notifier: Notifier,
    /// A fresh deployment's first admin key (see `App::authenticate`), if configured.
    pub(crate) first_admin: Option<Setting>,
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
            notifier,
            first_admin: None,
        }
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

//! The routing config in use: the active version as read (and cached) for each lead, and
//! publishing a new one so that no lead can reach a rep it removes or deactivates once the
//! publish returns. Only a stored config that is genuinely unusable (its document no longer
//! parses, or its version is gone) makes leads fall back to the queue; a storage error is an
//! error, never a reason to empty the team.

use std::sync::Arc;

use crate::domain::config::RoutingConfig;
use crate::domain::roster;
use crate::domain::rules::ConfigError;
use crate::store::{StoreError, StoreResult};

use super::state::App;

/// How long a rep who joins a `least_loaded` pool counts as at least as loaded as the others.
const JOIN_FLOOR_SECONDS: i64 = 24 * 60 * 60;

/// The active routing config as one lead sees it.
#[derive(Debug, Clone)]
pub enum ActiveConfig {
    /// No config was ever published.
    None,
    /// This version, parsed.
    Usable {
        /// Its version.
        version: u64,
        /// The config.
        config: Arc<RoutingConfig>,
    },
    /// The active version cannot be used, and reading it again will not change that.
    Unusable {
        /// Its version.
        version: u64,
        /// Why, in words.
        why: String,
    },
}

/// Why publishing failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The document has mistakes (each with its path); nothing changed.
    #[error("the routing config has {} mistake(s)", .0.len())]
    Invalid(Vec<ConfigError>),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl App {
    /// The active routing config, cached across requests for at most the configured time.
    pub async fn active_config(&self) -> StoreResult<ActiveConfig> {
        if let Some((version, config)) = self.configs.fresh() {
            return Ok(ActiveConfig::Usable { version, config });
        }
        let Some(version) = self.store.active_config_version().await? else {
            return Ok(ActiveConfig::None);
        };
        if let Some(config) = self.configs.version(version) {
            self.configs.keep(version, config.clone());
            return Ok(ActiveConfig::Usable { version, config });
        }
        let Some(stored) = self.store.config_version(version).await? else {
            return Ok(ActiveConfig::Unusable {
                version,
                why: format!("its document (version {version}) is missing"),
            });
        };
        match RoutingConfig::parse(&stored.document) {
            Ok(config) => {
                let config = Arc::new(config);
                self.configs.keep(version, config.clone());
                Ok(ActiveConfig::Usable { version, config })
            }
            Err(errors) => Ok(ActiveConfig::Unusable {
                version,
                why: format!(
                    "version {version} is invalid ({} mistake(s); first: {})",
                    errors.len(),
                    errors[0]
                ),
            }),
        }
    }

    /// Drops the cached config so the next request reads the active one (a refusal or a
    /// newer rotation cycle showed it is stale).
    pub(crate) fn forget_config(&self) {
        self.configs.forget();
    }

    /// Validates and publishes a routing config as the next version; returns the version.
    ///
    /// Storage's roster changes around the switch so that no lead can reach a rep the new
    /// config removes or deactivates once this returns: restrictions are written first, then
    /// the config is activated, then the full new roster, joiners' load floors and the
    /// restarted rotation cycles of changed pools.
    pub async fn publish_config(&self, document: &str) -> Result<u64, PublishError> {
        let new = RoutingConfig::parse(document).map_err(PublishError::Invalid)?;
        let old = self.stored_config().await?;
        let mut plan = roster::plan(old.as_ref(), &new);
        self.store.write_roster(&plan.before).await?;
        let now = self.now();
        let version = self.store.activate_config(document, now).await?;
        for (rep, pool_id) in &plan.joiners {
            let others: Vec<String> = new.pools[pool_id]
                .reps
                .iter()
                .filter(|r| *r != rep)
                .cloned()
                .collect();
            let loads = self
                .store
                .rep_loads(&others, pool_id, now.as_second())
                .await?;
            let floor = loads.iter().map(|(_, l)| l.open).min().unwrap_or(0);
            if let Some(entry) = plan.after.iter_mut().find(|e| e.rep == *rep) {
                let until = now.as_second() + JOIN_FLOOR_SECONDS;
                entry.floor = Some((floor.max(entry.floor.map_or(0, |f| f.0)), until));
            }
        }
        self.store.write_roster(&plan.after).await?;
        for pool in &plan.restart {
            self.store.restart_cycle(pool, version).await?;
        }
        self.forget_config();
        Ok(version)
    }

    /// The active config as stored now (not cached); `None` if none or unreadable.
    async fn stored_config(&self) -> StoreResult<Option<RoutingConfig>> {
        let Some(version) = self.store.active_config_version().await? else {
            return Ok(None);
        };
        let stored = self.store.config_version(version).await?;
        Ok(stored.and_then(|s| RoutingConfig::parse(&s.document).ok()))
    }
}

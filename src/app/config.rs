//! The routing config in use: the active version as read (and cached) for each lead, and
//! publishing a new one so that no lead can reach a rep it removes or deactivates once the
//! publish returns. Only a stored config that is genuinely unusable (its document no longer
//! parses, or its version is gone) makes leads fall back to the queue; a storage error is an
//! error, never a reason to empty the team.

use std::sync::Arc;

use crate::domain::access::Actor;
use crate::domain::config::RoutingConfig;
use crate::domain::config_diff;
use crate::domain::overrides::{AvailabilityChange, Overrides};
use crate::domain::roster;
use crate::domain::rules::ConfigError;
use crate::store::{Activation, AuditAction, AuditEntry, StoreError, StoreResult, VersionInfo};

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
    /// It was based on a version that is no longer the active one: another publish happened
    /// in between. Nothing changed.
    #[error("based on version {base}, but version {current:?} is active now")]
    Stale {
        /// The version the publisher started from.
        base: u64,
        /// The active version now.
        current: Option<u64>,
    },
    /// A version to roll back to does not exist (0: none is active).
    #[error("no config version {0}")]
    NoSuchVersion(u64),
    /// No rep with this id in the active config.
    #[error("no rep '{0}' in the active config")]
    NoSuchRep(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A config to publish.
#[derive(Debug, Clone)]
pub struct Publish<'a> {
    /// The YAML or JSON document.
    pub document: &'a str,
    /// Why, in the publisher's words.
    pub message: Option<String>,
    /// The version the publisher started from: the publish is refused if another one became
    /// active meanwhile (`Some(0)`: none was active). `None` publishes over whatever is active.
    pub base: Option<u64>,
    /// For a rollback: the version whose document this is.
    pub rollback_of: Option<u64>,
    /// An availability change instead of a new document: the overrides to store, and what
    /// changed (audited as such). `None` carries the active version's overrides forward.
    pub availability: Option<(Overrides, String)>,
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
        match stored.config() {
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

    /// Validates and publishes a routing config as the next version over whatever is active
    /// (the command-line tool's and the tests' way); returns the version.
    pub async fn publish_config(&self, document: &str) -> Result<u64, PublishError> {
        let publish = Publish {
            document,
            message: None,
            base: None,
            rollback_of: None,
            availability: None,
        };
        self.publish(publish, &Actor::cli()).await
    }

    /// Validates and publishes a routing config as the next version, by `actor`, with its
    /// author, message and a one-line summary of what changed (audited in the same
    /// transaction); returns the version.
    ///
    /// Storage's roster changes around the switch so that no lead can reach a rep the new
    /// config removes or deactivates once this returns: restrictions are written first (and
    /// every pool's members enrolled, so the rotation repair reads the entries of any rep that
    /// may hold its tickets), then the config is activated, then the full new roster, joiners'
    /// load floors and the restarted rotation cycles of changed pools. A publish refused as
    /// stale puts back the roster of the config that is active.
    pub async fn publish(&self, publish: Publish<'_>, actor: &Actor) -> Result<u64, PublishError> {
        let document = RoutingConfig::parse(publish.document).map_err(PublishError::Invalid)?;
        let active = self.store.active_config_version().await?;
        if let Some(base) = publish.base {
            if active.unwrap_or(0) != base {
                return Err(PublishError::Stale {
                    base,
                    current: active,
                });
            }
        }
        let stored = match active {
            Some(v) => self.store.config_version(v).await?,
            None => None,
        };
        let old = stored.as_ref().and_then(|s| s.config().ok());
        let now = self.now();
        let overrides = match &publish.availability {
            Some((overrides, _)) => overrides.clone(),
            None => stored
                .map(|s| s.overrides.kept(&document, now))
                .unwrap_or_default(),
        };
        let new = overrides.apply(document);
        let changes = old.as_ref().map(|old| config_diff::diff(old, &new));
        let summary = match (&changes, publish.rollback_of) {
            (None, _) => "first version".to_string(),
            (Some(c), Some(of)) => format!("rollback to version {of}: {}", config_diff::summary(c)),
            (Some(c), None) => config_diff::summary(c),
        };
        let mut plan = roster::plan(old.as_ref(), &new);
        self.store.write_roster(&plan.before).await?;
        // Before any lead can reach a new member: the rotation repair reads their entries.
        for pool in new.pools.values() {
            self.store.enroll(&pool.id, &pool.reps).await?;
        }
        let info = VersionInfo {
            version: 0,
            created_at: now,
            author: Some(actor.name.clone()),
            message: publish.message.clone(),
            summary: Some(summary.clone()),
            replaced: active,
            rollback_of: publish.rollback_of,
        };
        let (action, what) = match (&publish.availability, publish.rollback_of) {
            (Some((_, what)), _) => (AuditAction::AvailabilityChanged, what.clone()),
            (None, Some(of)) => (
                AuditAction::ConfigRolledBack,
                format!("rolled back to version {of}"),
            ),
            (None, None) => (AuditAction::ConfigPublished, "published".to_string()),
        };
        let message = publish
            .message
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        let said = match &publish.availability {
            // An availability change says what it changed itself.
            Some(_) => what,
            None => format!("{what}: {summary}{message}"),
        };
        let audit = AuditEntry::new(actor, now, action, None, said);
        let version = match self
            .store
            .activate_config(publish.document, &overrides, &info, publish.base, &audit)
            .await?
        {
            Activation::Published(version) => version,
            Activation::Stale { current } => {
                // Another publish won: its roster stands, not the restrictions written above.
                if let Some(winner) = current {
                    if let Some(config) = self.parsed_version(winner).await? {
                        self.store
                            .write_roster(&roster::plan(None, &config).after)
                            .await?;
                    }
                }
                return Err(PublishError::Stale {
                    base: publish.base.unwrap_or(0),
                    current,
                });
            }
        };
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

    /// Publishes the document of an old `version` again as a new one, through the same
    /// roster-safe path as any publish.
    pub async fn rollback(
        &self,
        version: u64,
        base: Option<u64>,
        message: Option<String>,
        actor: &Actor,
    ) -> Result<u64, PublishError> {
        let Some(stored) = self.store.config_version(version).await? else {
            return Err(PublishError::NoSuchVersion(version));
        };
        let publish = Publish {
            document: &stored.document,
            message,
            base,
            rollback_of: Some(version),
            availability: None,
        };
        self.publish(publish, actor).await
    }

    /// Changes one rep's availability (active, away until, out of office, back) without
    /// touching the config document: a new version with the same document and new overrides,
    /// through the roster-safe publish, audited. Retries when another publish happens
    /// meanwhile (the change is small and applies to whatever is active then).
    pub async fn set_availability(
        &self,
        rep: &str,
        change: &AvailabilityChange,
        actor: &Actor,
    ) -> Result<u64, PublishError> {
        for _ in 0..5 {
            let active = self
                .store
                .active_config_version()
                .await?
                .ok_or(PublishError::NoSuchVersion(0))?;
            let stored = self
                .store
                .config_version(active)
                .await?
                .ok_or(PublishError::NoSuchVersion(active))?;
            let document = RoutingConfig::parse(&stored.document).map_err(PublishError::Invalid)?;
            if !document.reps.contains_key(rep) {
                return Err(PublishError::NoSuchRep(rep.to_string()));
            }
            let overrides = stored.overrides.changed(rep, change, &document, self.now());
            let what = Overrides::describe(rep, change);
            let publish = Publish {
                document: &stored.document,
                message: Some(format!("availability: {what}")),
                base: Some(active),
                rollback_of: None,
                availability: Some((overrides, format!("availability of {what}"))),
            };
            match self.publish(publish, actor).await {
                Err(PublishError::Stale { .. }) => continue,
                other => return other,
            }
        }
        Err(PublishError::Store(StoreError::Conflict(
            "other publishes kept happening; try again".into(),
        )))
    }

    /// What changed from version `from` to version `to`; `None` if either is missing or
    /// no longer parses.
    pub async fn version_diff(
        &self,
        from: u64,
        to: u64,
    ) -> StoreResult<Option<Vec<config_diff::Change>>> {
        let (Some(a), Some(b)) = (
            self.parsed_version(from).await?,
            self.parsed_version(to).await?,
        ) else {
            return Ok(None);
        };
        Ok(Some(config_diff::diff(&a, &b)))
    }

    /// A stored config version, parsed; `None` if it is missing or no longer parses.
    pub async fn parsed_version(&self, version: u64) -> StoreResult<Option<RoutingConfig>> {
        if let Some(config) = self.configs.version(version) {
            return Ok(Some((*config).clone()));
        }
        let Some(stored) = self.store.config_version(version).await? else {
            return Ok(None);
        };
        match stored.config() {
            Ok(config) => Ok(Some(config)),
            Err(errors) => {
                tracing::warn!(
                    version,
                    mistakes = errors.len(),
                    "a stored config version no longer parses"
                );
                Ok(None)
            }
        }
    }
}

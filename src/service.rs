//! The intake use case: take a parsed lead, pick its rule and owner, and store it with its
//! explanation exactly once. Knows the store only through its traits and nothing of HTTP.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::config::RoutingConfig;
use crate::domain::lead::Lead;
use crate::domain::routing::{self, Assignment, Owner};
use crate::store::{
    IdempotencyClaim, IdempotencyToken, KeyKind, KeyRecord, NewLead, Store, StoreError,
    StoreResult, StoredLead, StoredResponse,
};

/// Where the current time comes from; tests supply a fixed one.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> jiff::Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// How long a request may hold an Idempotency-Key before a twin may take it over.
const IDEMPOTENCY_LEASE_SECONDS: i64 = 30;
/// How long a concurrent twin waits for the first request to finish before answering 409.
const TWIN_WAIT: Duration = Duration::from_secs(10);

/// The answer to a routed lead, as sent to the client (and replayed to retries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadReceipt {
    /// The new lead's id.
    pub lead_id: String,
    /// `assigned` (a rep owns it) or `queued`.
    pub status: String,
    /// The owner: a rep or a queue.
    pub owner: Owner,
    /// The pool the rep was chosen from, if any.
    pub pool: Option<String>,
    /// The rule that matched.
    pub rule_id: Option<String>,
    /// Why, in one sentence.
    pub reason: String,
    /// When the lead arrived.
    pub received_at: String,
}

/// What intake produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Intake {
    /// The receipt.
    pub receipt: LeadReceipt,
    /// True when this is a stored answer replayed for a retried Idempotency-Key.
    pub replayed: bool,
}

/// Why intake failed.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Storage failed; nothing was written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A request with the same Idempotency-Key is still being processed.
    #[error("a request with this Idempotency-Key is still in progress")]
    InProgress,
    /// The Idempotency-Key was used before with a different lead.
    #[error("this Idempotency-Key was already used with a different lead")]
    KeyReused,
}

/// A lead as handed to intake.
#[derive(Debug, Clone)]
pub struct IntakeRequest {
    /// The authenticated integration's name.
    pub source: String,
    /// The client's Idempotency-Key, if any.
    pub idempotency_key: Option<String>,
    /// The parsed lead.
    pub lead: Lead,
}

struct CachedConfig {
    version: u64,
    config: Arc<RoutingConfig>,
    checked: Instant,
}

/// The router's services, built once per process and shared by all requests.
pub struct App {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config_ttl: Duration,
    cached: Mutex<Option<CachedConfig>>,
}

/// The active config as used for one lead.
pub type ActiveConfig = Option<(u64, Arc<RoutingConfig>)>;

impl App {
    /// Builds the app; `config_ttl` bounds how stale the cached routing config may be.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, config_ttl: Duration) -> Self {
        Self {
            store,
            clock,
            config_ttl,
            cached: Mutex::new(None),
        }
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Now, by the app's clock.
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// The active routing config, cached across requests for at most the configured time.
    pub async fn active_config(&self) -> StoreResult<ActiveConfig> {
        {
            let cached = self.cached.lock().expect("config cache lock");
            if let Some(c) = cached
                .as_ref()
                .filter(|c| c.checked.elapsed() < self.config_ttl)
            {
                return Ok(Some((c.version, c.config.clone())));
            }
        }
        let Some(version) = self.store.active_config_version().await? else {
            return Ok(None);
        };
        let known = {
            let cached = self.cached.lock().expect("config cache lock");
            cached
                .as_ref()
                .filter(|c| c.version == version)
                .map(|c| c.config.clone())
        };
        let config = match known {
            Some(config) => config,
            None => {
                let stored = self.store.config_version(version).await?.ok_or_else(|| {
                    StoreError::Other(format!("active config version {version} is missing"))
                })?;
                let parsed = RoutingConfig::parse(&stored.document).map_err(|errors| {
                    StoreError::Other(format!(
                        "active config version {version} is invalid: {}",
                        errors[0]
                    ))
                })?;
                Arc::new(parsed)
            }
        };
        *self.cached.lock().expect("config cache lock") = Some(CachedConfig {
            version,
            config: config.clone(),
            checked: Instant::now(),
        });
        Ok(Some((version, config)))
    }

    /// Validates and publishes a routing config as the next version; returns the version.
    pub async fn publish_config(
        &self,
        document: &str,
    ) -> Result<u64, Result<Vec<crate::domain::rules::ConfigError>, StoreError>> {
        RoutingConfig::parse(document).map_err(Ok)?;
        let now = self.now().to_string();
        let version = self
            .store
            .publish_config(document, &now)
            .await
            .map_err(Err)?;
        *self.cached.lock().expect("config cache lock") = None;
        Ok(version)
    }

    /// Checks a presented key of the given kind: found by hash, compared in constant time,
    /// not revoked.
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

    /// Routes and stores a lead, or replays the stored answer for a retried Idempotency-Key.
    pub async fn intake(&self, request: IntakeRequest) -> Result<Intake, IntakeError> {
        let token = match &request.idempotency_key {
            None => None,
            Some(key) => {
                let token = IdempotencyToken {
                    key: format!("{}#{}", request.source, hash_secret(key)),
                    token: uuid::Uuid::new_v4().to_string(),
                };
                let request_hash =
                    hash_secret(&serde_json::to_string(&request.lead).unwrap_or_default());
                if let Some(replay) = self.claim_or_wait(&token, &request_hash).await? {
                    return Ok(replay);
                }
                Some(token)
            }
        };
        let result = self.route_and_record(&request, token.as_ref()).await;
        if let (Err(_), Some(token)) = (&result, &token) {
            if let Err(e) = self.store.release_idempotency(token).await {
                tracing::warn!(error = %e, "could not release idempotency claim");
            }
        }
        result
    }

    async fn claim_or_wait(
        &self,
        token: &IdempotencyToken,
        request_hash: &str,
    ) -> Result<Option<Intake>, IntakeError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            let now = self.now().as_second();
            let claim = match self
                .store
                .claim_idempotency(token, request_hash, now, IDEMPOTENCY_LEASE_SECONDS)
                .await
            {
                // The record is inside another request's transaction right now: it is in progress.
                Err(StoreError::Conflict(_)) => IdempotencyClaim::InProgress,
                other => other?,
            };
            match claim {
                IdempotencyClaim::Claimed => return Ok(None),
                IdempotencyClaim::Completed(stored) => {
                    let receipt = serde_json::from_str(&stored.body)
                        .map_err(|e| StoreError::Other(format!("stored response: {e}")))?;
                    return Ok(Some(Intake {
                        receipt,
                        replayed: true,
                    }));
                }
                IdempotencyClaim::Mismatch => return Err(IntakeError::KeyReused),
                IdempotencyClaim::InProgress if started.elapsed() < TWIN_WAIT => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
                IdempotencyClaim::InProgress => return Err(IntakeError::InProgress),
            }
        }
    }

    async fn route_and_record(
        &self,
        request: &IntakeRequest,
        token: Option<&IdempotencyToken>,
    ) -> Result<Intake, IntakeError> {
        let received_at = self.now().to_string();
        let assignment = match self.active_config().await {
            Ok(Some((version, config))) => {
                let decision = routing::decide(&config, &request.lead);
                let turn = match decision.pool(&config) {
                    Some(pool) => Some(self.store.claim_next_turn(&pool.id).await?),
                    None => None,
                };
                routing::assign(&config, version, &decision, turn)
            }
            Ok(None) => routing::fallback(
                crate::domain::config::DEFAULT_FALLBACK_QUEUE,
                "No routing config is active",
            ),
            Err(StoreError::Other(problem)) => {
                tracing::error!(%problem, "routing config unusable; lead goes to the fallback queue");
                routing::fallback(
                    crate::domain::config::DEFAULT_FALLBACK_QUEUE,
                    "The active routing config could not be loaded",
                )
            }
            Err(e) => return Err(e.into()),
        };
        let lead_id = uuid::Uuid::now_v7().to_string();
        let receipt = receipt(&lead_id, &received_at, &assignment);
        let body = serde_json::to_string(&receipt)
            .map_err(|e| StoreError::Other(format!("encode receipt: {e}")))?;
        let new = NewLead {
            lead_id,
            source: request.source.clone(),
            received_at,
            lead: request.lead.clone(),
            assignment,
            idempotency: token.map(|t| (t.clone(), StoredResponse { body })),
        };
        self.store.record_assignment(&new).await?;
        tracing::info!(
            lead_id = %new.lead_id,
            source = %new.source,
            rule = new.assignment.rule_id.as_deref().unwrap_or("-"),
            owner = ?receipt.owner,
            pool = receipt.pool.as_deref().unwrap_or("-"),
            "lead routed"
        );
        Ok(Intake {
            receipt,
            replayed: false,
        })
    }

    /// A stored lead with its history.
    pub async fn lead(&self, lead_id: &str) -> StoreResult<Option<StoredLead>> {
        self.store.get_lead(lead_id).await
    }
}

fn receipt(lead_id: &str, received_at: &str, a: &Assignment) -> LeadReceipt {
    LeadReceipt {
        lead_id: lead_id.to_string(),
        status: match a.owner {
            Owner::Rep { .. } => "assigned",
            Owner::Queue { .. } => "queued",
        }
        .to_string(),
        owner: a.owner.clone(),
        pool: a.pool().map(str::to_string),
        rule_id: a.rule_id.clone(),
        reason: a.reason.clone(),
        received_at: received_at.to_string(),
    }
}

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

//! The intake use case: take a parsed lead, pick its rule and owner, and store it with its
//! explanation exactly once. Knows the store only through its traits and nothing of HTTP.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use async_trait::async_trait;

use crate::delivery::Notifier;
use crate::domain::account::{self, AccountMatch};
use crate::domain::config::{Destination, Pool, RoutingConfig, Strategy};
use crate::domain::distribution::Load;
use crate::domain::lead::Lead;
use crate::domain::qualify;
use crate::domain::roster;
use crate::domain::routing::{
    self, Assignment, CapCounter, Decision, Owner, RepClaim, Skip, SkipReason, Trail,
};
use crate::domain::sla::SlaPolicy;
use crate::metrics;
use crate::store::{
    Contact, ContactWrite, IdempotencyClaim, IdempotencyToken, KeyKind, KeyRecord, NewLead,
    Outgoing, RecordError, Refusal, StatusAction, StatusOutcome, Store, StoreError, StoreResult,
    StoredLead, StoredResponse,
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
/// How many times a `least_loaded` pool reads loads again when they moved under it, before
/// committing to the best rep it saw without the bound.
const LOAD_RETRIES: u32 = 4;
/// Most (rep, cap) pairs remembered as full before the memory is reset.
const KNOWN_FULL_LIMIT: usize = 10_000;
/// How long a rep who joins a `least_loaded` pool counts as at least as loaded as the others.
const JOIN_FLOOR_SECONDS: i64 = 24 * 60 * 60;
/// How long an identical submission without an Idempotency-Key counts as a double click.
pub const DOUBLE_SUBMIT_WINDOW_SECONDS: i64 = 60;
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

impl From<RecordError> for IntakeError {
    /// Only writes with a rep claim can be refused; for a queue a refusal would be a bug.
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Store(e) => IntakeError::Store(e),
            RecordError::Refused(r) => {
                IntakeError::Store(StoreError::Invalid(format!("unexpected refusal {r:?}")))
            }
        }
    }
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
    /// The URL the request came in on (scheme and host), for acknowledge links when no public
    /// URL is configured.
    pub base_url: Option<String>,
}

struct CachedConfig {
    version: u64,
    config: Arc<RoutingConfig>,
    checked: Instant,
}

/// The router's services, built once per process and shared by all requests.
pub struct App {
    pub(crate) store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config_ttl: Duration,
    cached: Mutex<Option<CachedConfig>>,
    known_full: Mutex<HashSet<(String, CapCounter)>>,
    pub(crate) notifier: Notifier,
}

/// Stores an assignment the router found: a new lead at intake, or a lead reassigned after an
/// SLA breach. Routing offers reps in order until one commit is accepted.
#[async_trait]
pub(crate) trait Commit: Sync {
    /// What a successful commit gives back.
    type Done: Send;
    /// Stores `assignment` with the new rep's claim and pool ticket, or says why not.
    async fn commit(
        &self,
        assignment: Assignment,
        claim: Option<RepClaim>,
        ticket: Option<(String, u64)>,
    ) -> Result<Self::Done, RecordError>;
}

/// The active config as used for one lead.
pub type ActiveConfig = Option<(u64, Arc<RoutingConfig>)>;

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
            config_ttl,
            cached: Mutex::new(None),
            known_full: Mutex::new(HashSet::new()),
            notifier,
        }
    }

    /// The notifier (acknowledge links, delivery).
    pub fn notifier(&self) -> &Notifier {
        &self.notifier
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
                    StoreError::Corrupt(format!("active config version {version} is missing"))
                })?;
                let parsed = RoutingConfig::parse(&stored.document).map_err(|errors| {
                    StoreError::Corrupt(format!(
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
    ///
    /// Storage's roster changes around the switch so that no lead can reach a rep the new
    /// config removes or deactivates once this returns: restrictions are written first, then
    /// the config is activated, then the full new roster, joiners' load floors and the
    /// restarted rotation cycles of changed pools.
    pub async fn publish_config(
        &self,
        document: &str,
    ) -> Result<u64, Result<Vec<crate::domain::rules::ConfigError>, StoreError>> {
        let new = RoutingConfig::parse(document).map_err(Ok)?;
        let old = self.stored_config().await.map_err(Err)?;
        let mut plan = roster::plan(old.as_ref(), &new);
        self.store.write_roster(&plan.before).await.map_err(Err)?;
        let now = self.now();
        let version = self
            .store
            .activate_config(document, &now.to_string())
            .await
            .map_err(Err)?;
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
                .await
                .map_err(Err)?;
            let floor = loads.iter().map(|(_, l)| l.open).min().unwrap_or(0);
            if let Some(entry) = plan.after.iter_mut().find(|e| e.rep == *rep) {
                let until = now.as_second() + JOIN_FLOOR_SECONDS;
                entry.floor = Some((floor.max(entry.floor.map_or(0, |f| f.0)), until));
            }
        }
        self.store.write_roster(&plan.after).await.map_err(Err)?;
        for pool in &plan.restart {
            self.store.restart_cycle(pool, version).await.map_err(Err)?;
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
    /// Without an Idempotency-Key, the same lead from the same source within
    /// [`DOUBLE_SUBMIT_WINDOW_SECONDS`] is a double click: it gets the first one's answer.
    pub async fn intake(&self, request: IntakeRequest) -> Result<Intake, IntakeError> {
        let request_hash = hash_secret(&serde_json::to_string(&request.lead).unwrap_or_default());
        let (key, keep) = match &request.idempotency_key {
            Some(key) => (
                format!("{}#{}", request.source, hash_secret(key)),
                crate::store::dynamo::IDEMPOTENCY_TTL_SECONDS,
            ),
            None => (
                format!("{}#auto#{request_hash}", request.source),
                DOUBLE_SUBMIT_WINDOW_SECONDS,
            ),
        };
        let token = IdempotencyToken {
            key,
            token: uuid::Uuid::new_v4().to_string(),
        };
        if let Some(replay) = self.claim_or_wait(&token, &request_hash, keep).await? {
            return Ok(replay);
        }
        let token = Some(token);
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
        keep_seconds: i64,
    ) -> Result<Option<Intake>, IntakeError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            let now = self.now().as_second();
            let claim = match self
                .store
                .claim_idempotency(
                    token,
                    request_hash,
                    now,
                    IDEMPOTENCY_LEASE_SECONDS,
                    keep_seconds,
                )
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
                        .map_err(|e| StoreError::Corrupt(format!("stored response: {e}")))?;
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
        let now = self.now();
        let active = match self.active_config().await {
            Ok(active) => Ok(active),
            // Only a stored config that is missing or invalid; a denied or failed read is a 503.
            Err(StoreError::Corrupt(problem)) => {
                tracing::error!(%problem, "routing config unusable; lead goes to the fallback queue");
                Err("The active routing config could not be loaded")
            }
            Err(e) => return Err(e.into()),
        };
        let mut lead = request.lead.clone();
        let mut earlier = None;
        if let Ok(Some((_, config))) = &active {
            let q = qualify::qualify(&config.qualification, &lead, &request.source);
            let spam = q.spam;
            lead.qualification = Some(q);
            if !spam {
                // Independent reads, made at once: the account and the contact.
                let key = lead.email.as_ref().map(|e| e.contact_key());
                let (account, contact) = tokio::join!(self.match_account(&lead), async {
                    match &key {
                        Some(key) => self.earlier_lead(key).await,
                        None => Ok(None),
                    }
                });
                lead.account = account?;
                earlier = contact?;
            }
        }
        let draft = Draft {
            lead_id: uuid::Uuid::now_v7().to_string(),
            received_at: now.to_string(),
            now,
            request,
            token,
            lead,
        };
        let (intake, outgoing) = match &active {
            Ok(Some((version, config))) => {
                let mut attempt = 0;
                loop {
                    match self.route_lead(&draft, *version, config, earlier).await {
                        // A contact created or handed over meanwhile: decide again with it.
                        Err(RecordError::Refused(Refusal::ContactChanged)) if attempt < 3 => {
                            attempt += 1;
                            let key = draft.lead.email.as_ref().map(|e| e.contact_key());
                            earlier = match &key {
                                Some(key) => self.earlier_lead(key).await?,
                                None => None,
                            };
                        }
                        other => break other?,
                    }
                }
            }
            Ok(None) | Err(_) => {
                let why = active.err().unwrap_or("No routing config is active");
                let fallback =
                    routing::fallback(crate::domain::config::DEFAULT_FALLBACK_QUEUE, why);
                IntakeCommit::bare(self, &draft)
                    .commit(fallback, None, None)
                    .await?
            }
        };
        self.deliver_now(&draft.lead_id, &outgoing, request.base_url.as_deref())
            .await;
        Ok(intake)
    }

    /// The account a lead belongs to: by email domain (website for free-mail), most specific
    /// domain first.
    async fn match_account(&self, lead: &Lead) -> StoreResult<Option<AccountMatch>> {
        let Some(domain) = account::lead_domain(lead) else {
            return Ok(None);
        };
        let candidates = account::candidates(&domain);
        if candidates.is_empty() {
            return Ok(None);
        }
        let found = self.store.accounts_by_domain(&candidates).await?;
        Ok(account::best_match(&domain, &found))
    }

    /// Routes a qualified lead: spam nowhere; a returning contact back to its owner if the
    /// config says so and the owner can take it; a lead missing required fields to the
    /// data-quality queue; everything else by the rules.
    async fn route_lead(
        &self,
        draft: &Draft<'_>,
        version: u64,
        config: &RoutingConfig,
        earlier: Option<(Contact, StoredLead)>,
    ) -> Result<(Intake, Vec<Outgoing>), RecordError> {
        let q = draft.lead.qualification.clone().unwrap_or_default();
        let decision = routing::decide(config, &draft.lead);
        let mut commit = IntakeCommit {
            app: self,
            draft,
            config: Some(config),
            rule_sla: decision.rule.sla.as_ref(),
            prefix: None,
            contact: None,
        };
        if q.spam {
            let why = format!(
                "The honeypot field '{}' was filled: stored as spam, routed nowhere",
                config.qualification.honeypot_field
            );
            let mut spam = routing::fallback("spam", &why);
            spam.reason = format!("{why}.");
            return commit.commit(spam, None, None).await;
        }
        let key = draft.lead.email.as_ref().map(|e| e.contact_key());
        if let (Some(key), None) = (&key, &earlier) {
            commit.contact = Some(ContactPlan::New(key.clone()));
        }
        if let (Some(key), Some((contact, earlier))) = (&key, &earlier) {
            let seen = routing::EarlierLead {
                lead_id: &earlier.lead_id,
                owner: &earlier.assignment.owner,
                status: &earlier.status,
                received_at: earlier.received_at.parse().unwrap_or(draft.now),
            };
            let plan = |back| ContactPlan::Returning {
                key: key.clone(),
                owning_lead: contact.lead_id.clone(),
                back_to_owner: back,
            };
            match routing::returning_owner(config, &seen, draft.now) {
                routing::Returning::Owner(rep) => {
                    commit.contact = Some(plan(true));
                    let assignment = routing::to_returning_owner(config, version, &rep, &seen);
                    let claim = RepClaim::named(&rep);
                    match commit.commit(assignment, Some(claim), None).await {
                        Err(RecordError::Refused(Refusal::NotOnRoster)) => {
                            self.forget_config();
                            commit.prefix = Some(format!(
                                "Returning contact (first seen as lead {}), but its owner {} was just removed or made inactive, so it was routed by the rules.",
                                seen.lead_id,
                                seen.owner.name()
                            ));
                        }
                        other => return other,
                    }
                }
                routing::Returning::Rules(why) => {
                    commit.prefix = Some(format!(
                        "Returning contact (first seen as lead {}), but {why}, so it was routed by the rules.",
                        seen.lead_id
                    ));
                }
                routing::Returning::Off => {}
            }
            commit.contact = Some(plan(false));
        }
        let start = if q.missing.is_empty() {
            decision.rule.route.clone()
        } else {
            let note = format!(
                "Missing {} (required for source '{}'), so it goes to data quality.",
                q.missing.join(", "),
                draft.request.source
            );
            commit.prefix = Some(match commit.prefix.take() {
                Some(p) => format!("{p} {note}"),
                None => note,
            });
            Destination::Queue(config.qualification.data_quality_queue.clone())
        };
        self.route(
            &commit,
            version,
            config,
            &decision,
            start,
            &[],
            &draft.lead,
            draft.now,
        )
        .await
    }

    /// The contact with this key and the lead it is owned through, if both exist.
    async fn earlier_lead(&self, key: &str) -> StoreResult<Option<(Contact, StoredLead)>> {
        let Some(contact) = self.store.contact(key).await? else {
            return Ok(None);
        };
        let lead = self.store.get_lead(&contact.lead_id).await?;
        Ok(lead.map(|lead| (contact, lead)))
    }

    /// Follows a destination: a named rep, a pool (and its overflow chain) or a queue; the
    /// fallback queue when nobody can take the lead. Reps in `exclude` are passed over. Always
    /// stores the lead unless the commit itself refuses ([`Refusal::LeadChanged`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn route<C: Commit>(
        &self,
        commit: &C,
        version: u64,
        config: &RoutingConfig,
        decision: &Decision<'_>,
        start: Destination,
        exclude: &[String],
        lead: &crate::domain::lead::Lead,
        now: jiff::Timestamp,
    ) -> Result<C::Done, RecordError> {
        let mut trail = Trail::default();
        let mut destination = start;
        loop {
            destination = match destination {
                Destination::AccountOwner => routing::account_owner(config, lead, &mut trail),
                Destination::Queue(queue) => {
                    let assignment = routing::to_queue(config, version, decision, &trail, &queue);
                    return commit.commit(assignment, None, None).await;
                }
                Destination::Rep(rep) => {
                    let why = match config.reps[&rep].availability.check_present(now) {
                        Ok(()) => {
                            let assignment = routing::to_named_rep(config, version, decision, &rep);
                            let claim = RepClaim::named(&rep);
                            match commit.commit(assignment, Some(claim), None).await {
                                Ok(done) => return Ok(done),
                                Err(e @ RecordError::Refused(Refusal::LeadChanged))
                                | Err(e @ RecordError::Refused(Refusal::ContactChanged)) => {
                                    return Err(e)
                                }
                                Err(RecordError::Refused(_)) => {
                                    self.forget_config();
                                    SkipReason::NoLongerOnRoster
                                }
                                Err(e @ RecordError::Store(_)) => return Err(e),
                            }
                        }
                        Err(why) => SkipReason::Unavailable { why },
                    };
                    trail.skipped.push(Skip {
                        pool: None,
                        rep,
                        reason: why,
                    });
                    Destination::Queue(config.fallback_queue.clone())
                }
                Destination::Pool(id) => {
                    let pool = &config.pools[&id];
                    let taken = self
                        .route_in_pool(
                            commit, version, config, decision, &mut trail, pool, exclude, now,
                        )
                        .await?;
                    if let Some(done) = taken {
                        return Ok(done);
                    }
                    trail.overflowed.push(id);
                    routing::overflow_of(config, pool)
                }
            };
        }
    }

    /// Offers the lead to a pool's available reps in the order its strategy gives for a fresh
    /// rotation ticket, until one rep's records accept it. `None` when nobody could take it.
    #[allow(clippy::too_many_arguments)]
    async fn route_in_pool<C: Commit>(
        &self,
        commit: &C,
        version: u64,
        config: &RoutingConfig,
        decision: &Decision<'_>,
        trail: &mut Trail,
        pool: &Pool,
        exclude: &[String],
        now: jiff::Timestamp,
    ) -> Result<Option<C::Done>, RecordError> {
        let (mut available, skipped) = routing::available_members(config, pool, now);
        trail.skipped.extend(skipped);
        // After a breach: never back to a rep who already had the lead.
        available.retain(|&m| {
            let rep = &pool.reps[m];
            let had_it = exclude.contains(rep);
            if had_it {
                trail.skipped.push(Skip {
                    pool: Some(pool.id.clone()),
                    rep: rep.clone(),
                    reason: SkipReason::HadItBefore,
                });
            }
            !had_it
        });
        // Reps this process already saw at a cap for this period are not offered again.
        available.retain(|&m| {
            let rep = &config.reps[&pool.reps[m]];
            let full = routing::cap_counters(rep, now)
                .into_iter()
                .find(|c| self.is_known_full(&rep.id, c));
            if let Some(cap) = &full {
                trail.skipped.push(Skip {
                    pool: Some(pool.id.clone()),
                    rep: rep.id.clone(),
                    reason: SkipReason::AtCap {
                        period: cap.period,
                        limit: cap.limit,
                    },
                });
            }
            full.is_none()
        });
        if available.is_empty() {
            return Ok(None);
        }
        let ticket = self.store.claim_next_turn(&pool.id).await?;
        if ticket.cycle_config > version {
            // A newer config changed this pool; later requests should use it.
            self.forget_config();
        }
        let slot = ticket.slot();
        for attempt in 0..=LOAD_RETRIES {
            let loads = match pool.strategy {
                Strategy::LeastLoaded => self.loads(pool, &available, now).await?,
                _ => Vec::new(),
            };
            let mut offers = routing::offers(pool, &available, ticket.turn, slot, &loads);
            if attempt == LOAD_RETRIES {
                // Loads keep moving under us: take the best we saw without the bound.
                offers
                    .iter_mut()
                    .for_each(|o| o.load = o.load.map(|(e, _)| (e, u64::MAX)));
            }
            let mut load_rose = false;
            for offer in &offers {
                let rep = &config.reps[&pool.reps[offer.member]];
                let claim = routing::pool_claim(rep, pool, offer, now);
                let assignment = routing::to_pool_rep(
                    config,
                    version,
                    decision,
                    trail,
                    pool,
                    ticket.turn,
                    offer,
                );
                let ticket = Some((pool.id.clone(), ticket.turn));
                let reason = match commit.commit(assignment, Some(claim), ticket).await {
                    Ok(done) => return Ok(Some(done)),
                    Err(e @ RecordError::Store(_)) => return Err(e),
                    Err(e @ RecordError::Refused(Refusal::LeadChanged))
                    | Err(e @ RecordError::Refused(Refusal::ContactChanged)) => return Err(e),
                    Err(RecordError::Refused(Refusal::LoadRose)) => {
                        metrics::bump(&metrics::COUNTERS.load_refusals);
                        load_rose = true;
                        break;
                    }
                    Err(RecordError::Refused(Refusal::AtCap(period))) => {
                        metrics::bump(&metrics::COUNTERS.cap_refusals);
                        let cap = routing::cap_counters(rep, now)
                            .into_iter()
                            .find(|c| c.period == period)
                            .expect("a refusal names one of the claim's caps");
                        self.remember_full(&rep.id, &cap);
                        SkipReason::AtCap {
                            period,
                            limit: cap.limit,
                        }
                    }
                    Err(RecordError::Refused(Refusal::NotOnRoster)) => {
                        metrics::bump(&metrics::COUNTERS.roster_refusals);
                        self.forget_config();
                        SkipReason::NoLongerOnRoster
                    }
                };
                trail.skipped.push(Skip {
                    pool: Some(pool.id.clone()),
                    rep: rep.id.clone(),
                    reason,
                });
                available.retain(|m| *m != offer.member);
            }
            if !load_rose {
                break;
            }
        }
        Ok(None)
    }

    /// Open-lead loads of a pool's members, by member index.
    async fn loads(
        &self,
        pool: &Pool,
        members: &[usize],
        now: jiff::Timestamp,
    ) -> StoreResult<Vec<(usize, Load)>> {
        let reps: Vec<String> = members.iter().map(|&m| pool.reps[m].clone()).collect();
        let loads = self
            .store
            .rep_loads(&reps, &pool.id, now.as_second())
            .await?;
        Ok(members
            .iter()
            .map(|&m| {
                let load = loads
                    .iter()
                    .find(|(r, _)| *r == pool.reps[m])
                    .map(|(_, l)| *l);
                (m, load.unwrap_or_default())
            })
            .collect())
    }

    /// Whether this process already saw `rep` at this cap. Counters only grow within their
    /// period, so the answer stays true until the period (part of the key) ends.
    fn is_known_full(&self, rep: &str, cap: &CapCounter) -> bool {
        let full = self.known_full.lock().expect("cap cache lock");
        full.contains(&(rep.to_string(), cap.clone()))
    }

    fn remember_full(&self, rep: &str, cap: &CapCounter) {
        let mut full = self.known_full.lock().expect("cap cache lock");
        if full.len() >= KNOWN_FULL_LIMIT {
            full.clear(); // old periods' entries are never asked for again
        }
        full.insert((rep.to_string(), cap.clone()));
    }

    /// Drops the cached config so the next request reads the active one.
    fn forget_config(&self) {
        *self.cached.lock().expect("config cache lock") = None;
    }

    /// A stored lead with its history.
    pub async fn lead(&self, lead_id: &str) -> StoreResult<Option<StoredLead>> {
        self.store.get_lead(lead_id).await
    }

    /// Acknowledges or closes a lead; its owner's open-lead count follows.
    pub async fn change_status(
        &self,
        lead_id: &str,
        action: StatusAction,
    ) -> StoreResult<StatusOutcome> {
        self.store
            .change_status(lead_id, action, self.now(), None)
            .await
    }

    /// Acknowledges a lead through a signed link: only the current assignment's link works;
    /// an earlier owner's link gets [`StatusOutcome::Superseded`]. `None` for a bad token.
    pub async fn acknowledge_with_link(
        &self,
        lead_id: &str,
        token: &str,
    ) -> StoreResult<Option<StatusOutcome>> {
        let key = self.notifier.ack_key().await.map_err(StoreError::Denied)?;
        let Some(assignment) = crate::domain::notify::check_ack_token(&key, lead_id, token) else {
            return Ok(None);
        };
        self.store
            .change_status(
                lead_id,
                StatusAction::Acknowledge,
                self.now(),
                Some(assignment),
            )
            .await
            .map(Some)
    }
}

/// Intake's commit: stores a new lead with its deadline and outbox, completing its
/// Idempotency-Key; gives back the receipt and the notifications to deliver at once.
struct IntakeCommit<'a> {
    app: &'a App,
    draft: &'a Draft<'a>,
    config: Option<&'a RoutingConfig>,
    rule_sla: Option<&'a SlaPolicy>,
    /// A sentence put before the routing reason (returning contact, missing fields).
    prefix: Option<String>,
    /// The lead's contact.
    contact: Option<ContactPlan>,
}

/// What happens to the lead's contact.
#[derive(Debug, Clone)]
enum ContactPlan {
    /// A new contact, owned through this lead.
    New(String),
    /// A returning contact; `back_to_owner` when this lead went to the owning lead's owner.
    Returning {
        key: String,
        owning_lead: String,
        back_to_owner: bool,
    },
}

impl<'a> IntakeCommit<'a> {
    /// A commit with no config (fallback queue only).
    fn bare(app: &'a App, draft: &'a Draft<'a>) -> Self {
        Self {
            app,
            draft,
            config: None,
            rule_sla: None,
            prefix: None,
            contact: None,
        }
    }
}

#[async_trait]
impl Commit for IntakeCommit<'_> {
    type Done = (Intake, Vec<Outgoing>);

    async fn commit(
        &self,
        mut assignment: Assignment,
        claim: Option<RepClaim>,
        ticket: Option<(String, u64)>,
    ) -> Result<Self::Done, RecordError> {
        let draft = self.draft;
        if let Some(prefix) = &self.prefix {
            assignment.reason = format!("{prefix} {}", assignment.reason);
        }
        let spam = draft.lead.qualification.as_ref().is_some_and(|q| q.spam);
        let receipt = if spam {
            // The same answer a real lead gets, so a bot learns nothing.
            let fallback = self
                .config
                .map_or(crate::domain::config::DEFAULT_FALLBACK_QUEUE, |c| {
                    c.fallback_queue.as_str()
                });
            let decoy = routing::fallback(fallback, "Received");
            receipt(&draft.lead_id, &draft.received_at, &decoy)
        } else {
            receipt(&draft.lead_id, &draft.received_at, &assignment)
        };
        let contact = self.contact.as_ref().map(|plan| match plan {
            ContactPlan::New(key) => ContactWrite::New { key: key.clone() },
            ContactPlan::Returning {
                key,
                owning_lead,
                back_to_owner,
            } => ContactWrite::Returning {
                key: key.clone(),
                owning_lead: owning_lead.clone(),
                take_over: !back_to_owner && matches!(assignment.owner, Owner::Rep { .. }),
                note: crate::store::HistoryEntry {
                    at: draft.received_at.clone(),
                    event: "returned".into(),
                    reason: format!(
                        "The same contact sent lead {}: {}",
                        draft.lead_id, assignment.reason
                    ),
                },
            },
        });
        let body = serde_json::to_string(&receipt)
            .map_err(|e| StoreError::Invalid(format!("encode receipt: {e}")))?;
        let (deadline, notifications) = match self.config {
            Some(_) if spam => (None, Vec::new()),
            Some(config) => {
                let deadline =
                    crate::outbox::deadline(config, &assignment, self.rule_sla, draft.now);
                let notices = crate::outbox::assigned(
                    config,
                    &draft.lead_id,
                    &draft.lead,
                    &assignment,
                    1,
                    deadline.as_ref(),
                    None,
                    draft.now,
                );
                (deadline, notices)
            }
            None => (None, Vec::new()),
        };
        let new = NewLead {
            lead_id: draft.lead_id.clone(),
            source: draft.request.source.clone(),
            received_at: draft.received_at.clone(),
            lead: draft.lead.clone(),
            assignment,
            claim,
            ticket,
            idempotency: draft.token.map(|t| (t.clone(), StoredResponse { body })),
            deadline,
            notifications,
            contact,
            spam,
        };
        self.app.store.record_assignment(&new).await?;
        metrics::bump(&metrics::COUNTERS.leads);
        if !new.assignment.overflowed.is_empty() {
            metrics::bump(&metrics::COUNTERS.overflowed);
        }
        tracing::info!(
            lead_id = %new.lead_id,
            source = %new.source,
            rule = new.assignment.rule_id.as_deref().unwrap_or("-"),
            owner = %new.assignment.owner.id(),
            pool = receipt.pool.as_deref().unwrap_or("-"),
            skipped = new.assignment.skipped.len(),
            overflowed = new.assignment.overflowed.len(),
            sla_due_at = new.deadline.as_ref().map(|d| d.due.to_string()).unwrap_or_default(),
            "lead routed"
        );
        let intake = Intake {
            receipt,
            replayed: false,
        };
        Ok((intake, new.notifications))
    }
}

/// A lead being routed: what every attempt to store it shares.
struct Draft<'r> {
    lead_id: String,
    received_at: String,
    now: jiff::Timestamp,
    request: &'r IntakeRequest,
    token: Option<&'r IdempotencyToken>,
    /// The lead with what intake found (qualification, account).
    lead: Lead,
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

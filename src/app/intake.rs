//! Intake: a parsed lead in; out, the lead stored exactly once with its owner and the reason,
//! and an answer that is true. Qualifies the lead, finds its account and returning contact,
//! drives the routing walk, records the lead with its outbox and its contact in one
//! transaction under the id minted for it (stored only if that id is free; a claim names it,
//! or the contact records the submission), then delivers the notifications. When storage fails
//! midway, the claim settles what happened, or the lead's id is fenced (see
//! [`super::idempotency`]): the answer says "stored" only if it was, and "nothing was stored"
//! only if that is certain; otherwise it says the outcome is unknown and how to retry safely.

use std::time::Instant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::account::{self, AccountMatch};
use crate::domain::audience::{self, About};
use crate::domain::config::{RoutingConfig, Strategy, DEFAULT_FALLBACK_QUEUE};
use crate::domain::lead::Lead;
use crate::domain::model::{Assignment, HistoryEvent, LeadStatus, Owner};
use crate::domain::qualify;
use crate::domain::report::row::{FallbackCause, LeadFacts, Stint};
use crate::domain::routing::{fallback, EarlierLead, Proposal, Via, Walk, WalkContext};
use crate::metrics;
use crate::store::{
    CommitError, Contact, ContactWrite, HistoryEntry, NewLead, Outgoing, Stale, StoreError,
    StoreResult, StoredLead, StoredResponse,
};

use super::auth::hash_secret;
use super::config::ActiveConfig;
use super::deliver::outgoing;
use super::idempotency::{self, Admission, Guard, Settlement, Submitted, ANSWER_RESERVE};
use super::route::{give_back, Ahead, Commit, RouteError, Router};
use super::state::App;

/// How often intake routes again because the lead's contact changed under it.
const CONTACT_RETRIES: u32 = 3;
/// Time kept back from the deadline for delivering notifications right after the commit.
const DELIVERY_RESERVE: std::time::Duration = std::time::Duration::from_secs(1);

/// Where a routed lead went, as a receipt says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// A rep owns it.
    Assigned,
    /// It waits in a queue.
    Queued,
}

/// The answer to a routed lead, as sent to the client (and replayed to retries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadReceipt {
    /// The new lead's id.
    pub lead_id: String,
    /// Assigned to a rep, or queued.
    pub status: Placement,
    /// The owner: a rep or a queue.
    pub owner: Owner,
    /// The pool the rep was chosen from, if any.
    pub pool: Option<String>,
    /// The rule that matched.
    pub rule_id: Option<String>,
    /// Why, in one sentence.
    pub reason: String,
    /// When the lead arrived.
    pub received_at: jiff::Timestamp,
}

impl LeadReceipt {
    fn of(lead_id: &str, received_at: jiff::Timestamp, a: &Assignment) -> Self {
        Self {
            lead_id: lead_id.to_string(),
            status: match a.owner {
                Owner::Rep { .. } => Placement::Assigned,
                Owner::Queue { .. } => Placement::Queued,
            },
            owner: a.owner.clone(),
            pool: a.pool().map(str::to_string),
            rule_id: a.rule_id.clone(),
            reason: a.reason.clone(),
            received_at,
        }
    }
}

/// What intake produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Intake {
    /// The receipt.
    pub receipt: LeadReceipt,
    /// True when this is the answer of an earlier request, given again (a retry, a double
    /// click); false when this request stored the lead.
    pub replayed: bool,
}

/// Why intake did not store a lead, each variant true about what storage holds.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Storage failed and nothing was stored: certain.
    #[error("storage failed; nothing was stored: {0}")]
    NotStored(StoreError),
    /// Storage did not answer: the lead may or may not be stored. Retrying with the same
    /// Idempotency-Key, or without one the same lead within `retry_within` seconds, is safe.
    #[error("storage did not answer; the lead may or may not have been stored: {cause}")]
    Unknown {
        /// What failed.
        cause: StoreError,
        /// Without an Idempotency-Key: how long a resubmission still counts as the same one.
        retry_within: Option<i64>,
    },
    /// The lead is stored, but reading it back for the answer failed: a retry with the same
    /// Idempotency-Key (or the same lead within the double-submit window) gets it.
    #[error("the lead {lead_id} was stored, but reading it back failed: {cause}")]
    StoredUnread {
        /// The stored lead.
        lead_id: String,
        /// What failed.
        cause: StoreError,
    },
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
    /// The URL the request came in on (scheme and host), for acknowledge links when no public
    /// URL is configured.
    pub base_url: Option<String>,
    /// When the invocation must have answered (Lambda's deadline), if known.
    pub deadline: Option<Instant>,
}

/// How routing and recording failed, before the claim settles it.
enum Failure {
    /// Storage failed; `in_commit` when the failed call may have stored the lead.
    Store {
        error: StoreError,
        in_commit: bool,
        tickets: Vec<crate::domain::routing::PoolTicket>,
    },
    /// The claim's lead exists: an earlier attempt of the lead's own transaction stored it
    /// (or a retry that took the claim over did, for the same id).
    AlreadyStored,
    /// The same submission stored this lead first (a double click that lost to its twin in
    /// the contact's write); this request's tickets were given back.
    Twin(String),
}

impl From<RouteError> for Failure {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::Failed {
                error,
                in_commit,
                tickets,
            } => Failure::Store {
                error,
                in_commit,
                tickets,
            },
            RouteError::Stale(Stale::AlreadyStored) => Failure::AlreadyStored,
            // Intake gives up on a contact that keeps changing, or a lead that "changed"
            // (which only reassignments can meet): nothing was stored.
            RouteError::Stale(other) => Failure::Store {
                error: StoreError::Conflict(format!("{other:?} after retries")),
                in_commit: false,
                tickets: Vec::new(),
            },
        }
    }
}

/// How a lead is recorded: routed by the active config, or into the fallback queue when no
/// config can route it.
enum Plan {
    Route {
        version: u64,
        config: std::sync::Arc<RoutingConfig>,
        lead: Box<Lead>,
    },
    Fallback {
        why: String,
        cause: FallbackCause,
    },
}

/// A returning contact's earlier lead, as the walk reads it.
fn earlier_of((_, l): &(Contact, StoredLead)) -> EarlierLead<'_> {
    EarlierLead {
        lead_id: &l.lead_id,
        owner: &l.assignment.owner,
        status: l.status,
        received_at: l.received_at,
    }
}

/// The pool intake's walk for `lead` would ask a ticket of first (see [`Walk::first_pool`]).
fn first_pool(
    config: &RoutingConfig,
    version: u64,
    lead: &Lead,
    source: &str,
    now: jiff::Timestamp,
    earlier: Option<&EarlierLead<'_>>,
    caps: &super::cache::CapMemory,
) -> Option<String> {
    let known_full = |rep: &str, cap: &_| caps.is_full(rep, cap);
    let ctx = WalkContext {
        config,
        version,
        lead,
        now,
        exclude: &[],
        known_full: &known_full,
    };
    Walk::intake(ctx, source, earlier).first_pool()
}

/// The lead the same submission stored first, if the contact as read holds it.
fn twin_of<'c>(
    earlier: Option<&'c (Contact, StoredLead)>,
    submitted: Option<&Submitted>,
) -> Option<&'c str> {
    earlier
        .zip(submitted)
        .and_then(|((contact, _), s)| s.twin(contact))
}

impl Prepared {
    /// The lead the same submission stored a moment ago, if the contact as read holds it.
    fn twin(&self, submitted: &Submitted) -> Option<String> {
        match self {
            Prepared::Ready { earlier, .. } => {
                twin_of(earlier.as_deref(), Some(submitted)).map(str::to_string)
            }
            _ => None,
        }
    }
}

/// What routing reads before it decides (see `App::prepare`).
enum Prepared {
    /// No routing config is active.
    NoConfig,
    /// The active config cannot be used.
    Unusable { version: u64, why: String },
    /// Ready to route.
    Ready {
        version: u64,
        config: std::sync::Arc<RoutingConfig>,
        lead: Box<Lead>,
        contact_key: Option<String>,
        earlier: Option<Box<(Contact, StoredLead)>>,
        /// The pool the walk was guessed to ask a ticket of first, before the reads.
        foreseen: Option<String>,
        /// That pool's ticket, if it was taken alongside the reads.
        ahead: Option<Ahead>,
    },
}

impl Failure {
    /// A failure before anything that could store the lead was sent.
    fn early(error: StoreError) -> Self {
        Failure::Store {
            error,
            in_commit: false,
            tickets: Vec::new(),
        }
    }
}

impl App {
    /// Routes and stores a lead, or gives the answer of an earlier request with the same
    /// Idempotency-Key (or, without one, the same lead from the same source within the
    /// double-submit window).
    pub async fn intake(&self, request: IntakeRequest) -> Result<Intake, IntakeError> {
        let started = Instant::now();
        let request_hash = hash_secret(&serde_json::to_string(&request.lead).unwrap_or_default());
        let claimed_at = self.now();
        let guard = Guard::new(
            &request.source,
            request.idempotency_key.as_deref(),
            &request_hash,
            request.lead.email.is_some(),
            claimed_at.as_second(),
        );
        let minted = idempotency::new_lead_id();
        let (admission, mut prepared) = match &guard {
            // The claim and the reads routing needs are made at once: the reads change
            // nothing, and are thrown away when the claim says the lead is not this request's
            // to store.
            Guard::Claim(claim) => {
                let wait_until = idempotency::twin_wait_until(started, request.deadline);
                tokio::join!(
                    idempotency::admit(
                        &*self.store,
                        &*self.clock,
                        claim,
                        &request_hash,
                        &minted,
                        wait_until,
                    ),
                    self.prepare(&request.lead, &request.source)
                )
            }
            // The contact, read with the account, says whether the same submission stored a
            // lead a moment ago.
            Guard::Contact(submitted) => {
                let mut prepared = self.prepare(&request.lead, &request.source).await;
                if let Some(twin) = prepared.as_ref().ok().and_then(|p| p.twin(submitted)) {
                    self.forgo(&mut prepared).await;
                    return self.stored_answer(&twin, true).await;
                }
                let proceed = Admission::Proceed {
                    lead_id: minted.clone(),
                };
                (Ok(proceed), prepared)
            }
        };
        if !matches!(admission, Ok(Admission::Proceed { .. })) {
            // Not this request's lead to store: a ticket taken ahead goes back first.
            self.forgo(&mut prepared).await;
        }
        let lead_id = match admission {
            Ok(Admission::Proceed { lead_id }) => lead_id,
            Ok(Admission::Stored { lead_id }) => return self.stored_answer(&lead_id, true).await,
            Ok(Admission::Replay(stored)) => return replay(&stored, true),
            Ok(Admission::Reused) => return Err(IntakeError::KeyReused),
            Ok(Admission::Busy) => return Err(IntakeError::InProgress),
            Err(error) => {
                // Nothing that could store the lead was sent; give back a claim that the
                // failed call may have made (fencing its id), so a retry need not wait for
                // its lease.
                if let Guard::Claim(claim) = &guard {
                    let _ = idempotency::settle(&*self.store, &*self.clock, claim, &minted, false)
                        .await;
                }
                return Err(IntakeError::NotStored(error));
            }
        };
        let work = self.route_and_record(&request, &lead_id, started, prepared, guard.submitted());
        let result = match request.deadline {
            Some(deadline) => {
                let latest = deadline.checked_sub(ANSWER_RESERVE).unwrap_or(started);
                tokio::time::timeout_at(latest.into(), work)
                    .await
                    .unwrap_or_else(|_| {
                        Err(Failure::Store {
                            error: StoreError::Unavailable(
                                "the invocation ran out of time while storing".into(),
                            ),
                            in_commit: true,
                            tickets: Vec::new(),
                        })
                    })
            }
            None => work.await,
        };
        match result {
            Ok((intake, outgoing)) => {
                let delivery = self.deliver_now(&lead_id, &outgoing, request.base_url.as_deref());
                match request
                    .deadline
                    .and_then(|d| d.checked_sub(DELIVERY_RESERVE))
                {
                    // Cut short near the deadline, they stay pending for the sweeper.
                    Some(latest) => drop(tokio::time::timeout_at(latest.into(), delivery).await),
                    None => drop(delivery.await),
                }
                Ok(intake)
            }
            Err(failure) => {
                self.answer_failure(failure, &guard, &lead_id, claimed_at)
                    .await
            }
        }
    }

    /// What to answer after a failure: settled through the claim, or for a lead guarded by
    /// its contact by fencing its id.
    async fn answer_failure(
        &self,
        failure: Failure,
        guard: &Guard,
        lead_id: &str,
        claimed_at: jiff::Timestamp,
    ) -> Result<Intake, IntakeError> {
        let (error, in_commit, tickets) = match failure {
            Failure::AlreadyStored => (
                StoreError::Conflict("the claim's lead exists".into()),
                true,
                Vec::new(),
            ),
            Failure::Twin(twin) => {
                tracing::info!(%twin, "the same submission stored its lead first; answering with it");
                return self.stored_answer(&twin, true).await;
            }
            Failure::Store {
                error,
                in_commit,
                tickets,
            } => (error, in_commit, tickets),
        };
        let settlement = match guard {
            Guard::Claim(claim) => {
                idempotency::settle(&*self.store, &*self.clock, claim, lead_id, in_commit).await
            }
            Guard::Contact(_) => {
                idempotency::fence(&*self.store, &*self.clock, lead_id, in_commit).await
            }
        };
        match settlement {
            Settlement::Stored => {
                tracing::info!(%lead_id, %error, "storage failed after the lead was stored; answering with it");
                self.stored_answer(lead_id, false).await
            }
            Settlement::TakenOver => {
                super::route::give_back(&*self.store, tickets).await;
                tracing::warn!(%lead_id, %error, "a retry took the claim over; it stores the lead");
                Err(IntakeError::InProgress)
            }
            Settlement::NothingStored => {
                super::route::give_back(&*self.store, tickets).await;
                tracing::warn!(%lead_id, %error, "lead not stored");
                Err(IntakeError::NotStored(error))
            }
            Settlement::Unknown(_) if !in_commit => {
                tracing::warn!(%lead_id, %error, "lead not stored (storage failed before the commit)");
                Err(IntakeError::NotStored(error))
            }
            Settlement::Unknown(settling) => {
                tracing::error!(%lead_id, %error, %settling, "storage did not answer; whether the lead was stored is unknown");
                let retry_within = (!guard.keyed()).then(|| {
                    claimed_at.as_second() + guard.keep_seconds() - self.now().as_second()
                });
                Err(IntakeError::Unknown {
                    cause: error,
                    retry_within: retry_within.map(|s| s.max(0)),
                })
            }
        }
    }

    /// What routing needs before it decides, read without writing anything: the active config,
    /// the qualified lead, and (unless it is spam) its account and earlier lead, read at once.
    async fn prepare(&self, lead: &Lead, source: &str) -> StoreResult<Prepared> {
        let (version, config) = match self.active_config().await? {
            ActiveConfig::Usable { version, config } => (version, config),
            ActiveConfig::None => return Ok(Prepared::NoConfig),
            ActiveConfig::Unusable { version, why } => {
                return Ok(Prepared::Unusable { version, why })
            }
        };
        let mut lead = lead.clone();
        let q = qualify::qualify(&config.qualification, &lead, source);
        let spam = q.spam;
        lead.qualification = Some(q);
        let contact_key = lead.email.as_ref().map(|e| e.contact_key());
        let mut earlier = None;
        let mut foreseen = None;
        let mut ahead = None;
        if !spam {
            // The pool the walk asks a ticket of first if the person and their account are
            // new (the common case): while that guess holds, its ticket is taken alongside
            // the reads, one round trip fewer (see `Foresight`). Not a `least_loaded` pool's:
            // its lead assumes every ticket taken after the newest one its loads count is a
            // lead in flight, and a ticket taken a round trip earlier sees more of them (a
            // burst of 32 leads into one such pool had more of its commits refused).
            foreseen = first_pool(
                &config,
                version,
                &lead,
                source,
                self.now(),
                None,
                &self.caps,
            )
            .filter(|pool| {
                let strategy = config.pools.get(pool).map(|p| p.strategy);
                strategy != Some(Strategy::LeastLoaded)
            });
            let (read, taken) = tokio::join!(
                self.account_and_earlier(&lead, contact_key.as_deref()),
                self.take_ahead(foreseen.as_deref())
            );
            ahead = taken;
            match read {
                Ok(found) => (lead.account, earlier) = found,
                Err(error) => {
                    if let Some(a) = ahead {
                        give_back(&*self.store, vec![a.pool_ticket()]).await;
                    }
                    return Err(error);
                }
            }
        }
        Ok(Prepared::Ready {
            version,
            config,
            lead: Box::new(lead),
            contact_key,
            earlier: earlier.map(Box::new),
            foreseen,
            ahead,
        })
    }

    /// The `foreseen` pool's ticket, taken while the guess is trusted (see `Foresight`).
    async fn take_ahead(&self, foreseen: Option<&str>) -> Option<Ahead> {
        let pool = foreseen.filter(|_| self.foresight.trusted())?;
        match self.store.take_ticket(pool).await {
            Ok(ticket) => Some(Ahead {
                pool: pool.to_string(),
                ticket,
            }),
            // The walk asks again, and answers for a second failure.
            Err(error) => {
                tracing::debug!(%pool, %error, "could not take a ticket ahead");
                None
            }
        }
    }

    /// Counts a guess of the first pool: whether it `held`, and whether a ticket was taken on it.
    fn guessed(&self, held: bool, acted: bool) {
        self.foresight.heard(held);
        if acted {
            let counter = match held {
                true => &metrics::COUNTERS.tickets_ahead_used,
                false => &metrics::COUNTERS.tickets_ahead_missed,
            };
            metrics::bump(counter);
        }
    }

    /// Gives back the ticket `prepared` took ahead for a lead this request will not store
    /// (a double click, a retry, a claim held elsewhere), and counts that as a missed guess:
    /// it cost the same.
    async fn forgo(&self, prepared: &mut StoreResult<Prepared>) {
        if let Ok(Prepared::Ready { ahead, .. }) = prepared {
            if let Some(a) = ahead.take() {
                self.guessed(false, true);
                give_back(&*self.store, vec![a.pool_ticket()]).await;
            }
        }
    }

    async fn route_and_record(
        &self,
        request: &IntakeRequest,
        lead_id: &str,
        started: Instant,
        prepared: StoreResult<Prepared>,
        submitted: Option<&Submitted>,
    ) -> Result<(Intake, Vec<Outgoing>), Failure> {
        let now = self.now();
        let draft = Draft {
            lead_id,
            now,
            started,
            request,
            submitted,
        };
        let mut ahead = None;
        let (plan, contact_key, mut earlier) = match prepared.map_err(Failure::early)? {
            Prepared::Ready {
                version,
                config,
                lead,
                contact_key,
                earlier,
                foreseen,
                ahead: taken,
            } => {
                let earlier = earlier.map(|e| *e);
                if foreseen.is_some() {
                    // What the walk asks first now that the reads are in.
                    let seen = earlier.as_ref().map(earlier_of);
                    let first = first_pool(
                        &config,
                        version,
                        &lead,
                        &request.source,
                        now,
                        seen.as_ref(),
                        &self.caps,
                    );
                    self.guessed(first == foreseen, taken.is_some());
                }
                ahead = taken;
                let plan = Plan::Route {
                    version,
                    config,
                    lead,
                };
                (plan, contact_key, earlier)
            }
            fallback => {
                let (why, cause) = match fallback {
                    Prepared::Unusable { version, why } => {
                        tracing::error!(version, %why, "the active routing config cannot be used; leads go to the fallback queue");
                        let why = format!("The active routing config could not be used: {why}");
                        (why, FallbackCause::ConfigUnusable)
                    }
                    _ => (
                        "No routing config is active".to_string(),
                        FallbackCause::NoConfig,
                    ),
                };
                // Nothing was read without a config: the contact the lead is recorded with,
                // read now (the same submission may have stored its lead already).
                let contact_key = request.lead.email.as_ref().map(|e| e.contact_key());
                let earlier = self
                    .earlier_lead(contact_key.as_deref())
                    .await
                    .map_err(Failure::early)?;
                if let Some(twin) = twin_of(earlier.as_ref(), submitted) {
                    return Err(Failure::Twin(twin.to_string()));
                }
                (Plan::Fallback { why, cause }, contact_key, earlier)
            }
        };
        let mut attempt = 0;
        loop {
            let routed = match &plan {
                Plan::Route {
                    version,
                    config,
                    lead,
                } => {
                    let ahead = ahead.take();
                    self.route_lead(&draft, *version, config, lead, earlier.as_ref(), ahead)
                        .await
                }
                Plan::Fallback { why, cause } => {
                    self.record_fallback(&draft, why, *cause, earlier.as_ref().map(|(c, _)| c))
                        .await
                }
            };
            match routed {
                // A contact created or handed over meanwhile: decide again with it, unless the
                // same submission stored its lead there first.
                Err(RouteError::Stale(Stale::ContactChanged)) if attempt < CONTACT_RETRIES => {
                    attempt += 1;
                    earlier = self
                        .earlier_lead(contact_key.as_deref())
                        .await
                        .map_err(Failure::early)?;
                    if let Some(twin) = twin_of(earlier.as_ref(), submitted) {
                        return Err(Failure::Twin(twin.to_string()));
                    }
                }
                other => return other.map_err(Failure::from),
            }
        }
    }

    /// One routing of the qualified lead through the walk.
    async fn route_lead(
        &self,
        draft: &Draft<'_>,
        version: u64,
        config: &RoutingConfig,
        lead: &Lead,
        earlier: Option<&(Contact, StoredLead)>,
        ahead: Option<Ahead>,
    ) -> Result<(Intake, Vec<Outgoing>), RouteError> {
        let seen = earlier.map(earlier_of);
        let known_full = |rep: &str, cap: &_| self.caps.is_full(rep, cap);
        let ctx = WalkContext {
            config,
            version,
            lead,
            now: draft.now,
            exclude: &[],
            known_full: &known_full,
        };
        let mut walk = Walk::intake(ctx, &draft.request.source, seen.as_ref());
        let commit = IntakeCommit {
            app: self,
            draft,
            config: Some(config),
            lead,
            contact: earlier.map(|(c, _)| c),
            fallback: None,
        };
        let router = Router {
            store: &*self.store,
            caps: &self.caps,
            configs: &self.configs,
            version,
        };
        router
            .drive_from(&mut walk, draft.now, &commit, ahead)
            .await
    }

    /// Stores a lead that no config can route: the fallback queue, with the reason, as a lead
    /// of its `contact` (as read) if the person is known.
    async fn record_fallback(
        &self,
        draft: &Draft<'_>,
        why: &str,
        cause: FallbackCause,
        contact: Option<&Contact>,
    ) -> Result<(Intake, Vec<Outgoing>), RouteError> {
        let proposal = Proposal {
            assignment: fallback(DEFAULT_FALLBACK_QUEUE, why),
            claim: None,
            ticket: None,
            passed: Vec::new(),
            via: Via::Rules,
        };
        let commit = IntakeCommit {
            app: self,
            draft,
            config: None,
            lead: &draft.request.lead,
            contact,
            fallback: Some(cause),
        };
        commit.commit(&proposal).await.map_err(|e| match e {
            CommitError::Store(error) => RouteError::Failed {
                error,
                in_commit: true,
                tickets: Vec::new(),
            },
            CommitError::Stale(stale) => RouteError::Stale(stale),
            CommitError::Refused(r) => RouteError::Failed {
                error: StoreError::Invalid(format!("the fallback queue refused a lead ({r:?})")),
                in_commit: false,
                tickets: Vec::new(),
            },
        })
    }

    /// The account a lead belongs to (by email domain, website for free-mail, most specific
    /// domain first) and the lead its contact (`key`) is owned through, if both exist: the
    /// account and the contact in one batch read, which may be a moment stale (see
    /// [`crate::store::AccountStore::accounts_and_contact`]), then that lead.
    pub(crate) async fn account_and_earlier(
        &self,
        lead: &Lead,
        key: Option<&str>,
    ) -> StoreResult<(Option<AccountMatch>, Option<(Contact, StoredLead)>)> {
        let domain = account::lead_domain(lead);
        let candidates = domain
            .as_deref()
            .map(account::candidates)
            .unwrap_or_default();
        if candidates.is_empty() && key.is_none() {
            return Ok((None, None));
        }
        let (found, contact) = self.store.accounts_and_contact(&candidates, key).await?;
        let account = domain.and_then(|domain| account::best_match(&domain, &found));
        let Some(contact) = contact else {
            return Ok((account, None));
        };
        let lead = self.store.get_lead(&contact.lead_id).await?;
        Ok((account, lead.map(|lead| (contact, lead))))
    }

    /// The contact with this key and the lead it is owned through, if both exist, read
    /// consistently: what routing reads again after the lead's transaction found the contact
    /// changed.
    pub(crate) async fn earlier_lead(
        &self,
        key: Option<&str>,
    ) -> StoreResult<Option<(Contact, StoredLead)>> {
        let Some(key) = key else {
            return Ok(None);
        };
        let Some(contact) = self.store.contact(key).await? else {
            return Ok(None);
        };
        let lead = self.store.get_lead(&contact.lead_id).await?;
        Ok(lead.map(|lead| (contact, lead)))
    }
}

impl App {
    /// The answer for a claim's lead that is stored: the lead as it stands (its owner now, if it
    /// was reassigned since; a spam lead gets the answer every spam lead gets).
    async fn stored_answer(&self, lead_id: &str, replayed: bool) -> Result<Intake, IntakeError> {
        let unread = |cause| IntakeError::StoredUnread {
            lead_id: lead_id.to_string(),
            cause,
        };
        let Some(lead) = self.store.get_lead(lead_id).await.map_err(unread)? else {
            return Err(unread(StoreError::Corrupt(
                "the claim's lead is gone".into(),
            )));
        };
        let receipt = if lead.status == LeadStatus::Spam {
            let queue = match self.active_config().await {
                Ok(ActiveConfig::Usable { config, .. }) => config.fallback_queue.clone(),
                _ => DEFAULT_FALLBACK_QUEUE.to_string(),
            };
            LeadReceipt::of(lead_id, lead.received_at, &fallback(&queue, "Received"))
        } else {
            LeadReceipt::of(lead_id, lead.received_at, &lead.assignment)
        };
        Ok(Intake { receipt, replayed })
    }
}

/// The stored answer of a request from before claims named their lead, given again.
fn replay(stored: &StoredResponse, replayed: bool) -> Result<Intake, IntakeError> {
    let receipt = serde_json::from_str(&stored.body).map_err(|e| {
        IntakeError::NotStored(StoreError::Corrupt(format!("stored response: {e}")))
    })?;
    Ok(Intake { receipt, replayed })
}

/// What every attempt to store one lead shares.
struct Draft<'r> {
    lead_id: &'r str,
    now: jiff::Timestamp,
    /// When the request arrived (the router's own latency is measured from here).
    started: Instant,
    request: &'r IntakeRequest,
    /// For a lead guarded by its contact: the submission it leaves there.
    submitted: Option<&'r Submitted>,
}

/// Intake's commit: stores a new lead with its deadline, history, contact and outbox, under
/// the id its claim names; gives back the receipt and the notifications to deliver at once.
struct IntakeCommit<'a> {
    app: &'a App,
    draft: &'a Draft<'a>,
    /// `None` for a lead no config could route.
    config: Option<&'a RoutingConfig>,
    /// The lead as qualified and matched.
    lead: &'a Lead,
    /// The contact as read, if the person is known.
    contact: Option<&'a Contact>,
    /// Why no config could route it, when none could.
    fallback: Option<FallbackCause>,
}

impl IntakeCommit<'_> {
    /// What recording the lead does to its contact.
    fn contact_write(&self, proposal: &Proposal) -> Option<ContactWrite> {
        let key = self.lead.email.as_ref()?.contact_key();
        let mark = self.draft.submitted.map(|s| s.mark(self.draft.lead_id));
        let Some(contact) = self.contact else {
            return (proposal.via != Via::Spam).then_some(ContactWrite::New { key, mark });
        };
        let a = &proposal.assignment;
        Some(ContactWrite::Returning {
            key,
            mark,
            owning_lead: contact.lead_id.clone(),
            take_over: proposal.via == Via::Rules && matches!(a.owner, Owner::Rep { .. }),
            note: HistoryEntry {
                at: self.draft.now,
                event: HistoryEvent::Returned,
                reason: format!(
                    "The same contact sent lead {}: {}",
                    self.draft.lead_id, a.reason
                ),
            },
        })
    }
}

#[async_trait]
impl Commit for IntakeCommit<'_> {
    type Done = (Intake, Vec<Outgoing>);

    async fn commit(&self, proposal: &Proposal) -> Result<Self::Done, CommitError> {
        let draft = self.draft;
        let assignment = proposal.assignment.clone();
        let spam = proposal.via == Via::Spam;
        let receipt = if spam {
            // The same answer a real lead gets, so a bot learns nothing.
            let queue = self
                .config
                .map_or(DEFAULT_FALLBACK_QUEUE, |c| c.fallback_queue.as_str());
            LeadReceipt::of(draft.lead_id, draft.now, &fallback(queue, "Received"))
        } else {
            LeadReceipt::of(draft.lead_id, draft.now, &assignment)
        };
        let (deadline, notifications) = match self.config {
            Some(config) if !spam => {
                let rule_sla = config
                    .rules
                    .iter()
                    .find(|r| Some(&r.id) == assignment.rule_id.as_ref())
                    .and_then(|r| r.sla.as_ref());
                let deadline = audience::deadline(config, &assignment, rule_sla, draft.now);
                let about = About {
                    lead_id: draft.lead_id,
                    lead: self.lead,
                    assignment: &assignment,
                    number: 1,
                    now: draft.now,
                };
                let notices = audience::assigned(config, about, deadline.as_ref(), None);
                (deadline, outgoing(notices, draft.now))
            }
            _ => (None, Vec::new()),
        };
        let fallback = match (self.fallback, self.config) {
            (Some(cause), _) => Some(cause),
            (None, Some(config)) if !spam => FallbackCause::of(config, &assignment),
            _ => None,
        };
        let routed_ms = u64::try_from(draft.started.elapsed().as_millis()).ok();
        let facts = LeadFacts::of(self.lead, routed_ms, fallback);
        let stint = Stint::of(
            &assignment,
            1,
            draft.now,
            deadline.as_ref().map(|d| d.due),
            self.config,
        );
        let new = NewLead {
            lead_id: draft.lead_id.to_string(),
            source: draft.request.source.clone(),
            received_at: draft.now,
            lead: self.lead.clone(),
            status: if spam {
                LeadStatus::Spam
            } else {
                LeadStatus::assigned_to(&assignment.owner)
            },
            contact: self.contact_write(proposal),
            assignment,
            claim: proposal.claim.clone(),
            ticket: proposal.ticket.clone(),
            passed: proposal.passed.clone(),
            deadline,
            notifications,
            facts,
            stint,
        };
        self.app.store.record_assignment(&new).await?;
        metrics::bump(&metrics::COUNTERS.leads);
        if !spam {
            metrics::emf::lead_routed(
                new.status == LeadStatus::Queued,
                new.facts.fallback.is_some(),
                routed_ms.unwrap_or(0),
            );
        }
        if !new.assignment.overflowed.is_empty() {
            metrics::bump(&metrics::COUNTERS.overflowed);
        }
        tracing::info!(
            lead_id = %new.lead_id,
            source = %new.source,
            rule = new.assignment.rule_id.as_deref().unwrap_or("-"),
            owner = %new.assignment.owner.id(),
            pool = new.assignment.pool().unwrap_or("-"),
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

//! The SLA sweeper: finds leads whose owner missed the acknowledgement deadline with a Query
//! on the sparse due index (never a Scan), escalates each at most once per deadline, and
//! retries due notifications. Safe to run twice at once and against concurrent
//! acknowledgements: a lead is leased before it is touched, and the reassignment only commits
//! if the lead is still open with the assignment the sweeper saw.

use std::time::Instant;

use async_trait::async_trait;
use futures::future::join_all;
use serde::Serialize;

use crate::domain::config::{Destination, RoutingConfig};
use crate::domain::routing::{self, Assignment, Decision, Owner, RepClaim};
use crate::domain::sla::{Breach, SlaPolicy};
use crate::metrics;
use crate::outbox::{self, OutboxTally};
use crate::service::{App, Commit};
use crate::store::dynamo::DUE_SHARDS;
use crate::store::{
    DueItem, DueKind, Outgoing, Reassignment, RecordError, Refusal, StoreError, StoreResult,
    StoredLead,
};

/// Due items read per Query page (each page is handled concurrently).
const PAGE_SIZE: i32 = 25;
/// How long a sweeper holds a lead it is escalating before another may try.
const ESCALATION_LEASE_SECONDS: i64 = 60;

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Leads reassigned to another rep.
    pub reassigned: u64,
    /// Leads sent to a queue (policy, or escalations used up).
    pub queued: u64,
    /// Leads acknowledged, escalated or leased by someone else meanwhile: left alone.
    pub left_alone: u64,
    /// Items that failed (left for the next sweep; see the logs).
    pub errors: u64,
    /// Notifications.
    pub notifications: OutboxTally,
    /// Query pages read.
    pub pages: u64,
    /// True if the sweep stopped at its time limit with work possibly left.
    pub stopped_early: bool,
}

/// What happened to one due lead.
enum Escalated {
    Reassigned,
    Queued,
    LeftAlone,
}

/// Time kept back from a scheduled invocation's deadline to finish the page in hand.
pub const SAFETY_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

/// One scheduled invocation: sweeps until [`SAFETY_MARGIN`] before `deadline_ms` (Unix
/// milliseconds, as the Lambda context gives it).
pub async fn scheduled(app: &App, deadline_ms: u64) -> StoreResult<SweepReport> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = std::time::Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    app.sweep(Instant::now() + left.saturating_sub(SAFETY_MARGIN))
        .await
}

impl App {
    /// Sweeps SLA breaches, then due notifications, page by page until nothing is due or
    /// `stop_at` is reached (checked before each page, so a sweep overruns by at most one).
    pub async fn sweep(&self, stop_at: Instant) -> StoreResult<SweepReport> {
        let mut report = SweepReport::default();
        for kind in [DueKind::Sla, DueKind::Outbox] {
            for shard in 0..DUE_SHARDS {
                let mut cursor: Option<String> = None;
                loop {
                    if Instant::now() >= stop_at {
                        report.stopped_early = true;
                        return Ok(report);
                    }
                    let now = self.now().as_second();
                    let page = self
                        .store
                        .due(kind, shard, now, cursor.as_deref(), PAGE_SIZE)
                        .await?;
                    report.pages += 1;
                    match kind {
                        DueKind::Sla => {
                            let results =
                                join_all(page.items.iter().map(|i| self.escalate(i))).await;
                            for result in results {
                                match result {
                                    Ok((Escalated::Reassigned, t)) => {
                                        report.reassigned += 1;
                                        report.notifications = report.notifications.plus(t);
                                    }
                                    Ok((Escalated::Queued, t)) => {
                                        report.queued += 1;
                                        report.notifications = report.notifications.plus(t);
                                    }
                                    Ok((Escalated::LeftAlone, _)) => report.left_alone += 1,
                                    Err(e) => {
                                        tracing::error!(error = %e, "escalation failed; the next sweep retries");
                                        report.errors += 1;
                                    }
                                }
                            }
                        }
                        DueKind::Outbox => {
                            let results =
                                join_all(page.items.iter().map(|i| self.retry_notification(i)))
                                    .await;
                            for result in results {
                                match result {
                                    Ok(t) => report.notifications = report.notifications.plus(t),
                                    Err(e) => {
                                        tracing::error!(error = %e, "notification retry failed");
                                        report.errors += 1;
                                    }
                                }
                            }
                        }
                    }
                    match page.next {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
            }
        }
        Ok(report)
    }

    /// Escalates one due lead per its SLA policy, unless someone acted first.
    async fn escalate(&self, item: &DueItem) -> StoreResult<(Escalated, OutboxTally)> {
        let left_alone = Ok((Escalated::LeftAlone, OutboxTally::default()));
        let now = self.now();
        let Some(lead) = self.store.get_lead(&item.lead_id).await? else {
            return left_alone;
        };
        // The index is eventually consistent: the lead itself says whether it is still due.
        let (Some(due_at), Some(policy), Owner::Rep { .. }) =
            (lead.due_at, lead.sla.clone(), &lead.assignment.owner)
        else {
            return left_alone;
        };
        if lead.status != "open" || due_at > now.as_second() {
            return left_alone;
        }
        let until = now.as_second() + ESCALATION_LEASE_SECONDS;
        if !self.store.lease_due(item, due_at, until).await? {
            metrics::bump(&metrics::COUNTERS.escalation_races_lost);
            return left_alone;
        }
        let Some((version, config)) = self.active_config().await? else {
            return Err(StoreError::Corrupt("no routing config is active".into()));
        };
        let previous = lead.assignment.owner.clone();
        let breach = policy.breach(
            lead.escalations,
            lead.assignment.pool(),
            &config.fallback_queue,
        );
        let missed = policy.missed(
            previous.name(),
            lead.sla_due_at.as_deref().unwrap_or("unknown"),
        );
        let (start, why) = match breach {
            Breach::Pool(pool) if config.pools.contains_key(&pool) => {
                (Destination::Pool(pool), None)
            }
            Breach::Pool(pool) => (
                Destination::Queue(config.fallback_queue.clone()),
                Some(format!("pool '{pool}' no longer exists")),
            ),
            Breach::Queue { queue, why } => (Destination::Queue(queue), Some(why)),
        };
        let decision = original_decision(&config, &lead);
        let mut exclude = lead.owners.clone();
        if !exclude.iter().any(|o| o == previous.id()) {
            exclude.push(previous.id().to_string());
        }
        let commit = EscalationCommit {
            app: self,
            lead: &lead,
            config: &config,
            policy: &policy,
            previous: &previous,
            prefix: match why {
                Some(why) => format!("SLA breached: {missed}; {why}."),
                None => format!("SLA breached: {missed}."),
            },
            now,
        };
        let result = self
            .route(
                &commit, version, &config, &decision, start, &exclude, &lead.lead, now,
            )
            .await;
        match result {
            Ok((queued, notices)) => {
                metrics::bump(&metrics::COUNTERS.escalations);
                tracing::info!(lead_id = %lead.lead_id, from = %previous.id(), escalations = lead.escalations + 1, queued, "lead escalated after a missed SLA");
                let tally = self.deliver_now(&lead.lead_id, &notices, None).await;
                let outcome = if queued {
                    Escalated::Queued
                } else {
                    Escalated::Reassigned
                };
                Ok((outcome, tally))
            }
            Err(RecordError::Refused(Refusal::LeadChanged)) => {
                metrics::bump(&metrics::COUNTERS.escalation_races_lost);
                left_alone
            }
            Err(RecordError::Refused(other)) => {
                Err(StoreError::Invalid(format!("unexpected refusal {other:?}")))
            }
            Err(RecordError::Store(e)) => Err(e),
        }
    }
}

/// The rule that routed the lead, as the decision a reassignment explains itself with; the
/// rule the lead matches now if that one is gone.
fn original_decision<'c>(config: &'c RoutingConfig, lead: &StoredLead) -> Decision<'c> {
    let rule = lead
        .assignment
        .rule_id
        .as_deref()
        .and_then(|id| config.rules.iter().position(|r| r.id == id));
    match rule {
        Some(index) => Decision {
            rule: &config.rules[index],
            index,
            matched: lead.assignment.matched.clone(),
        },
        None => routing::decide(config, &lead.lead),
    }
}

/// The sweeper's commit: a reassignment of a breached lead, with both owners and the SLA's
/// alert channels told. Gives back whether it went to a queue, and what to deliver.
struct EscalationCommit<'a> {
    app: &'a App,
    lead: &'a StoredLead,
    config: &'a RoutingConfig,
    policy: &'a SlaPolicy,
    previous: &'a Owner,
    prefix: String,
    now: jiff::Timestamp,
}

#[async_trait]
impl Commit for EscalationCommit<'_> {
    type Done = (bool, Vec<Outgoing>);

    async fn commit(
        &self,
        mut assignment: Assignment,
        claim: Option<RepClaim>,
        ticket: Option<(String, u64)>,
    ) -> Result<Self::Done, RecordError> {
        let lead = self.lead;
        assignment.reason = format!("{} {}", self.prefix, assignment.reason);
        // The same pool keeps the promised policy; a fallback pool's own SLA applies there.
        let preferred = if assignment.pool() == lead.assignment.pool() {
            Some(self.policy)
        } else {
            None
        };
        let mut deadline = outbox::deadline(self.config, &assignment, preferred, self.now);
        if deadline.is_none() && matches!(assignment.owner, Owner::Rep { .. }) {
            deadline = outbox::deadline(self.config, &assignment, Some(self.policy), self.now);
        }
        let number = lead.assignment_number + 1;
        let mut notifications = outbox::assigned(
            self.config,
            &lead.lead_id,
            &lead.lead,
            &assignment,
            number,
            deadline.as_ref(),
            Some(self.previous),
            self.now,
        );
        notifications.extend(outbox::breached(
            self.config,
            &lead.lead_id,
            &lead.lead,
            &assignment,
            number,
            self.previous,
            self.policy,
            self.now,
        ));
        let queued = matches!(assignment.owner, Owner::Queue { .. });
        let change = Reassignment {
            lead_id: lead.lead_id.clone(),
            at: self.now.to_string(),
            seen_assignment: lead.assignment_number,
            previous_rep: Some(self.previous.id().to_string()),
            assignment,
            claim,
            ticket,
            deadline,
            escalations: lead.escalations + 1,
            notifications,
        };
        self.app.store.reassign(&change).await?;
        Ok((queued, change.notifications))
    }
}

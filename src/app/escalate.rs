//! Escalation after a missed deadline: the lead's SLA policy (kept with the lead when it was
//! assigned) says where it goes (the next rep of its pool, another pool, a queue); the routing
//! walk picks the rep, never one who had the lead; the reassignment commits only if the lead is
//! still open with the assignment the sweeper saw, so an acknowledgement or another sweeper
//! that got there first wins and nothing is written twice.

use async_trait::async_trait;

use crate::domain::audience::{self, About};
use crate::domain::config::{Destination, RoutingConfig};
use crate::domain::model::{LeadStatus, Owner};
use crate::domain::report::row::{Ended, Stint};
use crate::domain::routing::{decide, Decision, Proposal, Walk, WalkContext};
use crate::domain::sla::{Breach, SlaPolicy};
use crate::metrics;
use crate::store::{
    CommitError, DueItem, Outgoing, Reassignment, StoreError, StoreResult, StoredLead,
};

use super::config::ActiveConfig;
use super::deliver::{outgoing, OutboxTally};
use super::route::{give_back, Commit, RouteError, Router};
use super::state::App;

/// How long a sweeper holds a lead it is escalating before another may try.
pub const ESCALATION_LEASE_SECONDS: i64 = 60;

/// What happened to one due lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escalated {
    /// Given to another rep.
    Reassigned,
    /// Sent to a queue (the policy said so, or its escalations were used up).
    Queued,
    /// Acknowledged, escalated or leased by someone else meanwhile: left alone.
    LeftAlone,
}

impl App {
    /// Escalates one due lead per its SLA policy, unless someone acted first.
    pub async fn escalate(&self, item: &DueItem) -> StoreResult<(Escalated, OutboxTally)> {
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
        if lead.status != LeadStatus::Open || due_at > now.as_second() {
            return left_alone;
        }
        let until = now.as_second() + ESCALATION_LEASE_SECONDS;
        if !self.store.lease_due(item, due_at, until).await? {
            metrics::bump(&metrics::COUNTERS.escalation_races_lost);
            return left_alone;
        }
        let (version, config) = match self.active_config().await? {
            ActiveConfig::Usable { version, config } => (version, config),
            ActiveConfig::None => {
                return Err(StoreError::Invalid("no routing config is active".into()))
            }
            ActiveConfig::Unusable { why, .. } => {
                return Err(StoreError::Corrupt(format!(
                    "the active routing config cannot be used: {why}"
                )))
            }
        };
        let previous = lead.assignment.owner.clone();
        let breach = policy.breach(
            lead.escalations,
            lead.assignment.pool(),
            &config.fallback_queue,
        );
        let due = lead.sla_due_at.map_or("unknown".into(), |d| d.to_string());
        let missed = policy.missed(previous.name(), &due);
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
        let mut exclude = lead.owners.clone();
        if !exclude.iter().any(|o| o == previous.id()) {
            exclude.push(previous.id().to_string());
        }
        let prefix = match why {
            Some(why) => format!("SLA breached: {missed}; {why}."),
            None => format!("SLA breached: {missed}."),
        };
        let known_full = |rep: &str, cap: &_| self.caps.is_full(rep, cap);
        let ctx = WalkContext {
            config: &config,
            version,
            lead: &lead.lead,
            now,
            exclude: &exclude,
            known_full: &known_full,
        };
        let mut walk =
            Walk::escalation(ctx, original_decision(&config, &lead), start, Some(prefix));
        let commit = EscalationCommit {
            app: self,
            lead: &lead,
            config: &config,
            policy: &policy,
            previous: &previous,
            now,
        };
        let router = Router {
            store: &*self.store,
            caps: &self.caps,
            configs: &self.configs,
            version,
        };
        match router.drive(&mut walk, now, &commit).await {
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
            Err(RouteError::Stale(_)) => {
                metrics::bump(&metrics::COUNTERS.escalation_races_lost);
                left_alone
            }
            Err(RouteError::Failed { error, tickets, .. }) => {
                // A failure whose outcome is known stored nothing: the tickets go back.
                // Otherwise the rotation repair finds them; the lead stays due either way.
                if error.outcome_known() {
                    give_back(&*self.store, tickets).await;
                }
                Err(error)
            }
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
        None => decide(config, &lead.lead),
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
    now: jiff::Timestamp,
}

#[async_trait]
impl Commit for EscalationCommit<'_> {
    type Done = (bool, Vec<Outgoing>);

    async fn commit(&self, proposal: &Proposal) -> Result<Self::Done, CommitError> {
        let lead = self.lead;
        let assignment = proposal.assignment.clone();
        // The same pool keeps the promised policy; a fallback pool's own SLA applies there.
        let same_pool = assignment.pool() == lead.assignment.pool();
        let preferred = same_pool.then_some(self.policy);
        let mut deadline = audience::deadline(self.config, &assignment, preferred, self.now);
        if deadline.is_none() && matches!(assignment.owner, Owner::Rep { .. }) {
            deadline = audience::deadline(self.config, &assignment, Some(self.policy), self.now);
        }
        let number = lead.assignment_number + 1;
        let about = About {
            lead_id: &lead.lead_id,
            lead: &lead.lead,
            assignment: &assignment,
            number,
            now: self.now,
        };
        let mut notices =
            audience::assigned(self.config, about, deadline.as_ref(), Some(self.previous));
        notices.extend(audience::breached(
            self.config,
            about,
            self.previous,
            self.policy,
        ));
        let queued = matches!(assignment.owner, Owner::Queue { .. });
        let mut ended = lead
            .stints
            .last()
            .cloned()
            .expect("a stored lead has its current stint");
        ended.ended = Some(Ended::Breached);
        let stint = Stint::of(
            &assignment,
            number,
            self.now,
            deadline.as_ref().map(|d| d.due),
            Some(self.config),
        );
        let change = Reassignment {
            lead_id: lead.lead_id.clone(),
            received_at: lead.received_at,
            ended,
            stint,
            at: self.now,
            seen_assignment: lead.assignment_number,
            previous_rep: Some(self.previous.id().to_string()),
            assignment,
            claim: proposal.claim.clone(),
            ticket: proposal.ticket.clone(),
            passed: proposal.passed.clone(),
            deadline,
            escalations: lead.escalations + 1,
            notifications: outgoing(notices, self.now),
        };
        self.app.store.reassign(&change).await?;
        Ok((queued, change.notifications))
    }
}

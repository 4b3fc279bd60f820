//! An owner's SLA schedule, step by step: the lead's policy (kept with the lead when it was
//! assigned) names reminders before the deadline and steps after it (remind the owner, alert
//! a manager's channel, reassign). The lead counts the steps taken and its place in the due
//! index is the next step's time; each step commits only if the lead is still open with the
//! assignment and step count the sweeper read, so an acknowledgement or another sweeper that
//! got there first wins and no step is taken twice.
//!
//! A reassignment: the policy says where the lead goes (the next rep of its pool, another
//! pool, a queue); the routing walk picks the rep, never one who had the lead.

use async_trait::async_trait;

use crate::domain::access::Actor;
use crate::domain::audience::{self, About};
use crate::domain::availability::Availability;
use crate::domain::config::{Destination, RoutingConfig};
use crate::domain::model::HistoryEvent;
use crate::domain::model::{LeadStatus, Owner, SlaState};
use crate::domain::report::row::{Ended, Stint};
use crate::domain::routing::{decide, Decision, Proposal, Walk, WalkContext};
use crate::domain::sla::{Action, Breach, Next, SlaPolicy, Step};
use crate::metrics;
use crate::store::{
    AuditAction, AuditEntry, CommitError, DueItem, HistoryEntry, Outgoing, Reassignment,
    SlaStepChange, StoreError, StoreResult, StoredLead,
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
    /// Its owner was reminded.
    Reminded,
    /// A manager's channels were alerted.
    Alerted,
    /// Given to another rep.
    Reassigned,
    /// Sent to a queue (the policy said so, or its escalations were used up).
    Queued,
    /// Acknowledged, escalated or leased by someone else meanwhile: left alone.
    LeftAlone,
}

impl App {
    /// Takes the next step of one due lead's SLA schedule, unless someone acted first.
    pub async fn escalate(&self, item: &DueItem) -> StoreResult<(Escalated, OutboxTally)> {
        let left_alone = Ok((Escalated::LeftAlone, OutboxTally::default()));
        let now = self.now();
        let Some(lead) = self.store.get_lead(&item.lead_id).await? else {
            return left_alone;
        };
        // The index is eventually consistent: the lead itself says whether it is still due.
        let (Some(due_at), Some(policy), Some(deadline), Owner::Rep { id, .. }) = (
            lead.due_at,
            lead.sla.clone(),
            lead.sla_due_at,
            &lead.assignment.owner,
        ) else {
            return left_alone;
        };
        if lead.status != LeadStatus::Open || due_at > now.as_second() {
            return left_alone;
        }
        let (version, config) = self.usable_config().await?;
        let always = Availability::always();
        let hours = config.reps.get(id).map_or(&always, |r| &r.availability);
        let schedule = policy.schedule(hours, lead.assigned_at, deadline);
        let Some(next) = SlaPolicy::next(&schedule, lead.sla_step as usize, now) else {
            return left_alone;
        };
        if next.step.at > now {
            // Not due after all (the owner's hours changed since): look again then.
            self.store
                .lease_due(item, due_at, next.step.at.as_second())
                .await?;
            return left_alone;
        }
        if next.step.action != Action::Reassign {
            return self.take_step(&lead, &schedule, next, &config, now).await;
        }
        let until = now.as_second() + ESCALATION_LEASE_SECONDS;
        if !self.store.lease_due(item, due_at, until).await? {
            metrics::bump(&metrics::COUNTERS.escalation_races_lost);
            return left_alone;
        }
        self.reassign_breached(&lead, &policy, version, &config, now)
            .await
    }

    /// The active config, which a sweep cannot do without.
    async fn usable_config(&self) -> StoreResult<(u64, std::sync::Arc<RoutingConfig>)> {
        match self.active_config().await? {
            ActiveConfig::Usable { version, config } => Ok((version, config)),
            ActiveConfig::None => Err(StoreError::Invalid("no routing config is active".into())),
            ActiveConfig::Unusable { why, .. } => Err(StoreError::Corrupt(format!(
                "the active routing config cannot be used: {why}"
            ))),
        }
    }

    /// A step that keeps the owner: remind them, or alert a manager's channels; recorded in
    /// the history and counted on the owner's stint.
    async fn take_step(
        &self,
        lead: &StoredLead,
        schedule: &[Step],
        next: Next<'_>,
        config: &RoutingConfig,
        now: jiff::Timestamp,
    ) -> StoreResult<(Escalated, OutboxTally)> {
        let due = lead.sla_due_at.unwrap_or(next.step.at);
        let policy = lead
            .sla
            .as_ref()
            .expect("a lead with a schedule has its policy");
        let about = About {
            lead_id: &lead.lead_id,
            lead: &lead.lead,
            assignment: &lead.assignment,
            number: lead.assignment_number,
            now,
        };
        let owner = lead.assignment.owner.name();
        let mut stint = lead
            .stints
            .last()
            .cloned()
            .expect("a stored lead has its current stint");
        let when = if next.step.before_deadline {
            format!("acknowledge by {due}")
        } else {
            let late = (now.as_second() - due.as_second()).max(0) / 60;
            format!("{late} minute{} overdue (due {due})", plural(late))
        };
        let (notices, event, outcome, mut reason) = match &next.step.action {
            Action::Remind => {
                let notices = audience::reminded(config, about, due);
                if !notices.is_empty() {
                    stint.reminders += 1;
                }
                let reason = format!("{owner} reminded: {when}, {}", policy.from);
                (notices, HistoryEvent::Reminded, Escalated::Reminded, reason)
            }
            Action::Alert(channels) => {
                let notices = audience::alerted(config, about, channels, due);
                if !notices.is_empty() {
                    stint.alerts += 1;
                }
                let reason = format!(
                    "{} alerted: {owner} has not acknowledged, {when}, {}",
                    channels.join(", "),
                    policy.from
                );
                (notices, HistoryEvent::Alerted, Escalated::Alerted, reason)
            }
            Action::Reassign => unreachable!("reassignments are not steps that keep the owner"),
        };
        if notices.is_empty() {
            reason.push_str(" (not sent: no channel to send it to)");
        }
        if next.skipped > 0 {
            reason.push_str(&format!(
                "; {} earlier reminder{} passed over (the sweep came after a later step was due)",
                next.skipped,
                plural(next.skipped as i64)
            ));
        }
        let change = SlaStepChange {
            lead_id: lead.lead_id.clone(),
            received_at: lead.received_at,
            seen_assignment: lead.assignment_number,
            seen_step: lead.sla_step,
            step: next.index as u32 + 1,
            next_due: schedule.get(next.index + 1).map(|s| s.at.as_second()),
            breached: !next.step.before_deadline && lead.sla_state != Some(SlaState::Breached),
            stint,
            history: HistoryEntry {
                at: now,
                event,
                reason,
            },
            notifications: outgoing(notices, now),
        };
        match self.store.take_step(&change).await {
            Ok(()) => {
                tracing::info!(lead_id = %lead.lead_id, step = change.step, event = ?change.history.event, "SLA step taken");
                let tally = self
                    .deliver_now(&lead.lead_id, &change.notifications, None)
                    .await;
                Ok((outcome, tally))
            }
            Err(CommitError::Stale(_) | CommitError::Refused(_)) => {
                metrics::bump(&metrics::COUNTERS.escalation_races_lost);
                Ok((Escalated::LeftAlone, OutboxTally::default()))
            }
            Err(CommitError::Store(e)) => Err(e),
        }
    }

    /// Reassigns a lead whose owner missed the deadline, as `policy` says.
    async fn reassign_breached(
        &self,
        lead: &StoredLead,
        policy: &SlaPolicy,
        version: u64,
        config: &RoutingConfig,
        now: jiff::Timestamp,
    ) -> StoreResult<(Escalated, OutboxTally)> {
        let left_alone = Ok((Escalated::LeftAlone, OutboxTally::default()));
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
            config,
            version,
            lead: &lead.lead,
            now,
            exclude: &exclude,
            known_full: &known_full,
        };
        let mut walk = Walk::escalation(ctx, original_decision(config, lead), start, Some(prefix));
        let commit = ReassignCommit {
            app: self,
            lead,
            config,
            previous: &previous,
            now,
            why: Why::Breach(policy),
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
pub(crate) fn original_decision<'c>(config: &'c RoutingConfig, lead: &StoredLead) -> Decision<'c> {
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

/// Why a lead is being reassigned.
#[derive(Clone, Copy)]
pub(crate) enum Why<'a> {
    /// Its owner missed the deadline of `policy` (the sweeper).
    Breach(&'a SlaPolicy),
    /// A person moved it (audited under their name).
    ByHand(&'a Actor),
}

/// The commit of a reassignment: the lead's next owner, deadline, stints and notices, stored
/// only if the lead still has the status and assignment read. Gives back whether it went to a
/// queue, and what to deliver.
pub(crate) struct ReassignCommit<'a> {
    pub app: &'a App,
    pub lead: &'a StoredLead,
    pub config: &'a RoutingConfig,
    pub previous: &'a Owner,
    pub now: jiff::Timestamp,
    pub why: Why<'a>,
}

#[async_trait]
impl Commit for ReassignCommit<'_> {
    type Done = (bool, Vec<Outgoing>);

    async fn commit(&self, proposal: &Proposal) -> Result<Self::Done, CommitError> {
        let lead = self.lead;
        let assignment = proposal.assignment.clone();
        let deadline = match self.why {
            Why::Breach(policy) => {
                // The same pool keeps the promised policy; a fallback pool's own SLA applies
                // there; a rep gets the promised one when their pool has none.
                let same_pool = assignment.pool() == lead.assignment.pool();
                let preferred = same_pool.then_some(policy);
                audience::deadline(self.config, &assignment, preferred, self.now).or_else(|| {
                    matches!(assignment.owner, Owner::Rep { .. })
                        .then(|| {
                            audience::deadline(self.config, &assignment, Some(policy), self.now)
                        })
                        .flatten()
                })
            }
            Why::ByHand(_) => {
                let rule_sla = self
                    .config
                    .rules
                    .iter()
                    .find(|r| Some(&r.id) == assignment.rule_id.as_ref())
                    .and_then(|r| r.sla.as_ref());
                audience::deadline(self.config, &assignment, rule_sla, self.now)
            }
        };
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
        let (ended, escalations, sla_state, audit) = match self.why {
            Why::Breach(policy) => {
                notices.extend(audience::breached(
                    self.config,
                    about,
                    self.previous,
                    policy,
                ));
                (
                    Ended::Breached,
                    lead.escalations + 1,
                    Some(SlaState::Breached),
                    None,
                )
            }
            Why::ByHand(actor) => {
                notices.extend(audience::taken_from(self.config, about, self.previous));
                let state = match (lead.sla_state, &deadline) {
                    (Some(SlaState::Breached), _) => Some(SlaState::Breached),
                    (_, Some(_)) => Some(SlaState::Pending),
                    (state, None) => state,
                };
                let entry = AuditEntry::new(
                    actor,
                    self.now,
                    AuditAction::LeadReassigned,
                    Some(lead.lead_id.clone()),
                    format!(
                        "reassigned lead {} from {} to {}",
                        lead.lead_id,
                        self.previous.id(),
                        assignment.owner.id()
                    ),
                );
                (Ended::Reassigned, lead.escalations, state, Some(entry))
            }
        };
        let queued = matches!(assignment.owner, Owner::Queue { .. });
        let mut last = lead
            .stints
            .last()
            .cloned()
            .expect("a stored lead has its current stint");
        last.ended = Some(ended);
        let stint = Stint::of(
            &assignment,
            number,
            self.now,
            deadline.as_ref().map(|d| d.due),
            Some(self.config),
        );
        // Only an open lead counts towards its owner's open leads.
        let previous_rep = match (lead.status, self.previous) {
            (LeadStatus::Open, Owner::Rep { id, .. }) => Some(id.clone()),
            _ => None,
        };
        let change = Reassignment {
            lead_id: lead.lead_id.clone(),
            received_at: lead.received_at,
            ended: last,
            stint,
            at: self.now,
            seen_assignment: lead.assignment_number,
            seen_status: lead.status,
            sla_state,
            audit,
            previous_rep,
            assignment,
            claim: proposal.claim.clone(),
            ticket: proposal.ticket.clone(),
            passed: proposal.passed.clone(),
            deadline,
            escalations,
            notifications: outgoing(notices, self.now),
            first_entry: lead
                .first_inline
                .then(|| lead.history.first().cloned())
                .flatten(),
        };
        self.app.store.reassign(&change).await?;
        Ok((queued, change.notifications))
    }
}

/// "s" unless `n` is one.
fn plural(n: i64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

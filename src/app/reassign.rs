//! Reassigning a lead by hand: to a named rep, through a pool (its strategy, caps and hours
//! pick the rep, never the current owner) or to a queue. The same walk and the same
//! conditional commit as an escalation, so a reassignment that races an acknowledgement or a
//! sweep writes nothing; audited under the person's name.

use crate::domain::access::Actor;
use crate::domain::config::Destination;
use crate::domain::model::{LeadStatus, Owner};
use crate::domain::routing::{Walk, WalkContext};
use crate::metrics;
use crate::store::{StoreError, StoredLead};

use super::config::ActiveConfig;
use super::escalate::{original_decision, ReassignCommit, Why};
use super::route::{give_back, RouteError, Router};
use super::state::App;

/// Where a lead is sent by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This rep.
    Rep(String),
    /// A rep of this pool, by its strategy.
    Pool(String),
    /// This queue.
    Queue(String),
}

/// Why a reassignment by hand was not made.
#[derive(Debug, thiserror::Error)]
pub enum ReassignError {
    /// No such lead.
    #[error("no such lead")]
    NotFound,
    /// The lead is closed or spam.
    #[error("a {0} lead cannot be reassigned")]
    NotAllowed(LeadStatus),
    /// The target is not in the active config, or cannot take leads now.
    #[error("{0}")]
    BadTarget(String),
    /// No usable routing config is active.
    #[error("no usable routing config is active")]
    NoConfig,
    /// The lead changed meanwhile (acknowledged, reassigned, closed): nothing was written.
    #[error("the lead changed meanwhile; nothing was written")]
    Changed,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl App {
    /// Sends a lead to `target` by hand, with `note` (why) in its history, audited under
    /// `actor`. Gives back the lead as it is now.
    pub async fn reassign(
        &self,
        lead_id: &str,
        target: &Target,
        note: &str,
        actor: &Actor,
    ) -> Result<StoredLead, ReassignError> {
        let now = self.now();
        let lead = self
            .store
            .get_lead(lead_id)
            .await?
            .ok_or(ReassignError::NotFound)?;
        if matches!(lead.status, LeadStatus::Closed | LeadStatus::Spam) {
            return Err(ReassignError::NotAllowed(lead.status));
        }
        let (version, config) = match self.active_config().await? {
            ActiveConfig::Usable { version, config } => (version, config),
            _ => return Err(ReassignError::NoConfig),
        };
        let previous = lead.assignment.owner.clone();
        let start = match target {
            Target::Rep(rep) => {
                let Some(r) = config.reps.get(rep) else {
                    return Err(ReassignError::BadTarget(format!("no rep '{rep}'")));
                };
                if let Err(why) = r.availability.check_present(now) {
                    return Err(ReassignError::BadTarget(format!("{} is {why}", r.name)));
                }
                if matches!(&previous, Owner::Rep { id, .. } if id == rep) {
                    return Err(ReassignError::BadTarget(format!(
                        "{} already owns it",
                        r.name
                    )));
                }
                Destination::Rep(rep.clone())
            }
            Target::Pool(pool) if config.pools.contains_key(pool) => {
                Destination::Pool(pool.clone())
            }
            Target::Pool(pool) => {
                return Err(ReassignError::BadTarget(format!("no pool '{pool}'")))
            }
            Target::Queue(queue) if config.queues.contains_key(queue) => {
                Destination::Queue(queue.clone())
            }
            Target::Queue(queue) => {
                return Err(ReassignError::BadTarget(format!("no queue '{queue}'")))
            }
        };
        // Through a pool, never back to the current owner.
        let exclude: Vec<String> = match &previous {
            Owner::Rep { id, .. } => vec![id.clone()],
            Owner::Queue { .. } => Vec::new(),
        };
        let note = note.trim();
        let prefix = if note.is_empty() {
            format!("Reassigned by {}.", actor.name)
        } else {
            format!("Reassigned by {}: {note}.", actor.name)
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
        let commit = ReassignCommit {
            app: self,
            lead: &lead,
            config: &config,
            previous: &previous,
            now,
            why: Why::ByHand(actor),
        };
        let router = Router {
            store: &*self.store,
            caps: &self.caps,
            configs: &self.configs,
            version,
        };
        match router.drive(&mut walk, now, &commit).await {
            Ok((_, notices)) => {
                metrics::bump(&metrics::COUNTERS.reassignments);
                tracing::info!(%lead_id, from = %previous.id(), by = %actor.name, "lead reassigned by hand");
                self.deliver_now(lead_id, &notices, None).await;
            }
            Err(RouteError::Stale(_)) => return Err(ReassignError::Changed),
            Err(RouteError::Failed { error, tickets, .. }) => {
                if error.outcome_known() {
                    give_back(&*self.store, tickets).await;
                }
                return Err(error.into());
            }
        }
        self.store
            .get_lead(lead_id)
            .await?
            .ok_or(ReassignError::NotFound)
    }
}

/// Why a hand-back was not made.
#[derive(Debug, thiserror::Error)]
pub enum HandBackError {
    /// The link is not valid for this lead.
    #[error("this link is not valid for this lead")]
    BadLink,
    /// The lead was reassigned after the link was sent: it is not the rep's to hand back.
    #[error("the lead was reassigned after this link was sent")]
    Superseded,
    /// The reassignment itself failed.
    #[error(transparent)]
    Reassign(#[from] ReassignError),
}

impl App {
    /// The owner hands a lead back through the link in their notification: it goes to the
    /// next eligible rep of the pool it came through (never back to them), or where its SLA
    /// sends missed leads, or the fallback queue, with `reason` in its history; audited
    /// under the rep's name. Only the current assignment's link works.
    pub async fn hand_back(
        &self,
        lead_id: &str,
        token: &str,
        reason: &str,
    ) -> Result<StoredLead, HandBackError> {
        let Some(assignment) = self
            .link_assignment(lead_id, token)
            .await
            .map_err(ReassignError::from)?
        else {
            return Err(HandBackError::BadLink);
        };
        let lead = self
            .store
            .get_lead(lead_id)
            .await
            .map_err(ReassignError::from)?
            .ok_or(ReassignError::NotFound)?;
        if lead.assignment_number != assignment {
            return Err(HandBackError::Superseded);
        }
        let Owner::Rep { name, .. } = &lead.assignment.owner else {
            return Err(HandBackError::Superseded);
        };
        let fallback = match self.active_config().await.map_err(ReassignError::from)? {
            ActiveConfig::Usable { config, .. } => config.fallback_queue.clone(),
            _ => return Err(ReassignError::NoConfig.into()),
        };
        let target = hand_back_target(&lead, &fallback);
        let actor = Actor {
            name: format!("{name} (handed back)"),
            role: crate::domain::access::Role::Editor,
        };
        Ok(self.reassign(lead_id, &target, reason, &actor).await?)
    }
}

/// Where a handed-back lead goes: the pool it came through; else where its SLA sends a missed
/// lead; else the fallback queue.
fn hand_back_target(lead: &StoredLead, fallback_queue: &str) -> Target {
    use crate::domain::sla::OnBreach;
    if let Some(pool) = lead.assignment.pool() {
        return Target::Pool(pool.to_string());
    }
    match lead.sla.as_ref().map(|s| &s.on_breach) {
        Some(OnBreach::Pool(pool)) => Target::Pool(pool.clone()),
        Some(OnBreach::Queue(queue)) => Target::Queue(queue.clone()),
        _ => Target::Queue(fallback_queue.to_string()),
    }
}

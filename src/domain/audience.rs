//! What an assignment promises and who hears about it: the deadline the owner is held to (a
//! rule's SLA, else the pool's), `lead.assigned` to the new owner's and the pool's channels,
//! `lead.queued` to a queue's, and after a breach `lead.reassigned` to the previous owner and
//! `lead.sla_breached` to the SLA's alert channels. Pure: the caller records the notices in the
//! outbox with the assignment and delivers them.

use jiff::Timestamp;

use super::availability::Availability;
use super::channel::Channel;
use super::config::RoutingConfig;
use super::lead::Lead;
use super::model::{Assignment, Owner};
use super::notify::{EventType, LeadSummary, Message};
use super::sla::SlaPolicy;

/// An acknowledgement deadline and the policy that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// The policy (kept with the lead, so a breach is handled as promised at assignment).
    pub policy: SlaPolicy,
    /// When the owner must have acknowledged.
    pub due: Timestamp,
    /// When the sweeper first looks at it: the first reminder, else the deadline.
    pub first_step: Timestamp,
}

/// One event to tell: the channels it goes to and what it says (one message, one event id,
/// for every channel: receivers de-duplicate on the id).
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// The channels, each once (secret references only, never secrets).
    pub channels: Vec<Channel>,
    /// The message, frozen now.
    pub message: Message,
}

/// The deadline of a rep owner under `preferred` (a rule's SLA) or else the SLA of the pool
/// the lead came through; `None` for queues and leads without an SLA.
pub fn deadline(
    config: &RoutingConfig,
    assignment: &Assignment,
    preferred: Option<&SlaPolicy>,
    now: Timestamp,
) -> Option<Deadline> {
    let Owner::Rep { id, .. } = &assignment.owner else {
        return None;
    };
    let pool_sla = assignment
        .pool()
        .and_then(|p| config.pools.get(p))
        .and_then(|p| p.sla.as_ref());
    let policy = preferred.or(pool_sla)?.clone();
    let always = Availability::always();
    let owner = config.reps.get(id).map_or(&always, |rep| &rep.availability);
    let due = policy.deadline(owner, now);
    let first_step = policy
        .schedule(owner, now, due)
        .first()
        .map_or(due, |step| step.at);
    Some(Deadline {
        policy,
        due,
        first_step,
    })
}

/// What every notice about one assignment shares.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    /// The lead's id.
    pub lead_id: &'a str,
    /// The lead.
    pub lead: &'a Lead,
    /// The assignment the notices are about.
    pub assignment: &'a Assignment,
    /// Its number (1 for the first owner).
    pub number: u64,
    /// When.
    pub now: Timestamp,
}

/// The notices for an assignment: `lead.assigned` to the new owner's channels and those of the
/// pool it came through, each once (with `previous` after an escalation); `lead.queued` to a
/// queue's channels.
pub fn assigned(
    config: &RoutingConfig,
    about: About<'_>,
    deadline: Option<&Deadline>,
    previous: Option<&Owner>,
) -> Vec<Notice> {
    if let Owner::Queue { id, .. } = &about.assignment.owner {
        let channels = config.queue_notify.get(id).map(|c| c.iter().collect());
        let message = || about.message(EventType::Queued, previous, None);
        return notices(config, channels.unwrap_or_default(), message);
    }
    let due = deadline.map(|d| d.due);
    let message = || about.message(EventType::Assigned, previous, due);
    notices(config, owner_channels(config, about.assignment), message)
}

/// The channels a rep's assignment goes to: the rep's, then those of the pool it came
/// through, each once.
fn owner_channels<'c>(config: &'c RoutingConfig, assignment: &Assignment) -> Vec<&'c String> {
    let Owner::Rep { id, .. } = &assignment.owner else {
        return Vec::new();
    };
    let rep_channels = config.reps.get(id).map(|r| r.notify.iter());
    let pool_channels = assignment
        .pool()
        .and_then(|p| config.pools.get(p))
        .map(|p| p.notify.iter());
    let mut channels: Vec<&String> = Vec::new();
    for channel in rep_channels
        .into_iter()
        .flatten()
        .chain(pool_channels.into_iter().flatten())
    {
        if !channels.contains(&channel) {
            channels.push(channel);
        }
    }
    channels
}

/// After a breach: the previous owner hears the lead was taken (`lead.reassigned`), and the
/// SLA's alert channels hear of the breach (`lead.sla_breached`).
pub fn breached(
    config: &RoutingConfig,
    about: About<'_>,
    previous: &Owner,
    policy: &SlaPolicy,
) -> Vec<Notice> {
    let mut all = taken_from(config, about, previous);
    all.extend(notices(config, policy.alert.iter().collect(), || {
        about.message(EventType::SlaBreached, Some(previous), None)
    }));
    all
}

/// A reminder to the owner (`lead.sla_reminder`, with the deadline), on the channels the
/// assignment went to.
pub fn reminded(config: &RoutingConfig, about: About<'_>, due: Timestamp) -> Vec<Notice> {
    let message = || about.message(EventType::SlaReminder, None, Some(due));
    notices(config, owner_channels(config, about.assignment), message)
}

/// A step's alert (`lead.sla_breached`) to `channels`: the owner has not acknowledged.
pub fn alerted(
    config: &RoutingConfig,
    about: About<'_>,
    channels: &[String],
    due: Timestamp,
) -> Vec<Notice> {
    notices(config, channels.iter().collect(), || {
        about.message(
            EventType::SlaBreached,
            Some(&about.assignment.owner),
            Some(due),
        )
    })
}

/// The previous owner of a reassigned lead hears it was taken (`lead.reassigned`).
pub fn taken_from(config: &RoutingConfig, about: About<'_>, previous: &Owner) -> Vec<Notice> {
    let previous_channels: Vec<&String> = match previous {
        Owner::Rep { id, .. } => config
            .reps
            .get(id)
            .map(|r| r.notify.iter().collect())
            .unwrap_or_default(),
        Owner::Queue { .. } => Vec::new(),
    };
    notices(config, previous_channels, || {
        about.message(EventType::Reassigned, Some(previous), None)
    })
}

impl About<'_> {
    /// A message with a fresh event id.
    fn message(
        &self,
        event: EventType,
        previous: Option<&Owner>,
        due: Option<Timestamp>,
    ) -> Message {
        Message {
            event_id: uuid::Uuid::new_v4().to_string(),
            event,
            occurred_at: self.now,
            lead_id: self.lead_id.to_string(),
            assignment: self.number,
            lead: LeadSummary::of(self.lead),
            owner: self.assignment.owner.clone(),
            previous_owner: previous.cloned(),
            reason: self.assignment.reason.clone(),
            sla_due_at: due,
        }
    }
}

fn notices(
    config: &RoutingConfig,
    channels: Vec<&String>,
    message: impl FnOnce() -> Message,
) -> Vec<Notice> {
    let channels: Vec<Channel> = channels
        .into_iter()
        .filter_map(|id| config.channels.get(id))
        .cloned()
        .collect();
    if channels.is_empty() {
        return Vec::new();
    }
    vec![Notice {
        channels,
        message: message(),
    }]
}

//! The notification outbox: which channels hear about an assignment, a reassignment or a
//! breach (recorded in the same transaction as the change), delivery right after the commit,
//! and the sweeper's retries with exponential backoff until delivered or dead. A notification
//! is never dropped: every attempt's result is stored on the lead.

use futures::future::join_all;
use jiff::Timestamp;

use crate::domain::config::RoutingConfig;
use crate::domain::lead::Lead;
use crate::domain::notify::{retry_delay, EventType, LeadSummary, Message};
use crate::domain::routing::{Assignment, Owner};
use crate::domain::sla::SlaPolicy;
use crate::metrics;
use crate::service::App;
use crate::store::{Deadline, Delivery, DueItem, Outgoing, StoreResult};

/// How long the writer of a notification has to deliver it itself before the sweeper may try
/// (so the two do not send it at the same moment). Also the sweeper's lease on a retry.
pub const DELIVERY_LEASE_SECONDS: i64 = 60;

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
    let due = match config.reps.get(id) {
        Some(rep) => policy.deadline(&rep.availability, now),
        None => now + jiff::SignedDuration::from_mins(i64::from(policy.minutes)),
    };
    Some(Deadline { policy, due })
}

/// The notifications for an assignment: `lead.assigned` to the new owner's channels and those
/// of the pool it came through, each once; `lead.queued` to a queue's channels.
#[allow(clippy::too_many_arguments)]
pub fn assigned(
    config: &RoutingConfig,
    lead_id: &str,
    lead: &Lead,
    assignment: &Assignment,
    number: u64,
    deadline: Option<&Deadline>,
    previous: Option<&Owner>,
    now: Timestamp,
) -> Vec<Outgoing> {
    let due = deadline.map(|d| d.due);
    let about = About {
        lead_id,
        lead,
        assignment,
        number,
        now,
    };
    let id = match &assignment.owner {
        Owner::Rep { id, .. } => id,
        Owner::Queue { id, .. } => {
            let channels = config
                .queue_notify
                .get(id)
                .map(|c| c.iter().collect())
                .unwrap_or_default();
            let message = || about.message(EventType::Queued, previous, None);
            return outgoing(config, channels, message, now);
        }
    };
    let mut channels: Vec<&String> = Vec::new();
    let rep_channels = config.reps.get(id).map(|r| r.notify.iter());
    let pool_channels = assignment
        .pool()
        .and_then(|p| config.pools.get(p))
        .map(|p| p.notify.iter());
    for channel in rep_channels
        .into_iter()
        .flatten()
        .chain(pool_channels.into_iter().flatten())
    {
        if !channels.contains(&channel) {
            channels.push(channel);
        }
    }
    let message = || about.message(EventType::Assigned, previous, due);
    outgoing(config, channels, message, now)
}

/// After a breach: the previous owner hears the lead was taken (`lead.reassigned`), and the
/// SLA's alert channels hear of the breach (`lead.sla_breached`).
#[allow(clippy::too_many_arguments)]
pub fn breached(
    config: &RoutingConfig,
    lead_id: &str,
    lead: &Lead,
    assignment: &Assignment,
    number: u64,
    previous: &Owner,
    policy: &SlaPolicy,
    now: Timestamp,
) -> Vec<Outgoing> {
    let about = About {
        lead_id,
        lead,
        assignment,
        number,
        now,
    };
    let message = |event| about.message(event, Some(previous), None);
    let previous_channels: Vec<&String> = match previous {
        Owner::Rep { id, .. } => config
            .reps
            .get(id)
            .map(|r| r.notify.iter().collect())
            .unwrap_or_default(),
        Owner::Queue { .. } => Vec::new(),
    };
    let mut all = outgoing(
        config,
        previous_channels,
        || message(EventType::Reassigned),
        now,
    );
    all.extend(outgoing(
        config,
        policy.alert.iter().collect(),
        || message(EventType::SlaBreached),
        now,
    ));
    all
}

/// What every notification about one assignment shares.
struct About<'a> {
    lead_id: &'a str,
    lead: &'a Lead,
    assignment: &'a Assignment,
    number: u64,
    now: Timestamp,
}

impl About<'_> {
    /// A message with a fresh event id.
    fn message(&self, event: EventType, previous: Option<&Owner>, due: Option<jiff::Timestamp>) -> Message {
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

fn outgoing(
    config: &RoutingConfig,
    channels: Vec<&String>,
    message: impl Fn() -> Message,
    now: Timestamp,
) -> Vec<Outgoing> {
    channels
        .into_iter()
        .filter_map(|id| config.channels.get(id))
        .map(|channel| Outgoing {
            channel: channel.clone(),
            message: message(),
            first_sweep_at: now.as_second() + DELIVERY_LEASE_SECONDS,
        })
        .collect()
}

/// What a sweep did with the outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxTally {
    /// Delivered.
    pub delivered: u64,
    /// Failed and scheduled again.
    pub retrying: u64,
    /// Failed for the last time.
    pub dead: u64,
    /// Taken by another sweeper or already done.
    pub skipped: u64,
}

impl App {
    /// Delivers just-recorded notifications at once, in parallel, each with the notifier's
    /// short timeout. Failures are recorded and left to the sweeper.
    /// `seen_base` is the URL the request came in on, for acknowledge links.
    pub(crate) async fn deliver_now(
        &self,
        lead_id: &str,
        outgoing: &[Outgoing],
        seen_base: Option<&str>,
    ) -> OutboxTally {
        let results = join_all(
            outgoing
                .iter()
                .map(|o| self.attempt(lead_id, &o.channel, &o.message, 0, seen_base)),
        )
        .await;
        results
            .into_iter()
            .fold(OutboxTally::default(), |t, r| t.add(r))
    }

    /// Retries one due notification, if this sweeper wins its lease.
    pub(crate) async fn retry_notification(&self, item: &DueItem) -> StoreResult<OutboxTally> {
        let skipped = OutboxTally {
            skipped: 1,
            ..OutboxTally::default()
        };
        let Some(event_id) = &item.event_id else {
            return Ok(skipped);
        };
        let now = self.now().as_second();
        let leased = self
            .store
            .lease_due(item, item.due_at, now + DELIVERY_LEASE_SECONDS)
            .await?;
        if !leased {
            return Ok(skipped);
        }
        let Some(stored) = self.store.notification(&item.lead_id, event_id).await? else {
            return Ok(skipped);
        };
        if stored.status != "pending" {
            return Ok(skipped);
        }
        let result = self
            .attempt(
                &item.lead_id,
                &stored.channel,
                &stored.message,
                stored.attempts,
                None,
            )
            .await;
        Ok(OutboxTally::default().add(result))
    }

    /// One attempt, recorded. `before` is how many attempts were made already.
    async fn attempt(
        &self,
        lead_id: &str,
        channel: &crate::domain::notify::Channel,
        message: &Message,
        before: u32,
        seen_base: Option<&str>,
    ) -> Delivery {
        let now = self.now();
        let attempts = before + 1;
        let sent = self
            .notifier
            .send(channel, message, now.as_second(), seen_base)
            .await;
        let delivery = match sent {
            Ok(()) => {
                metrics::bump(&metrics::COUNTERS.notifications_delivered);
                Delivery::Delivered {
                    at: now.to_string(),
                }
            }
            Err(error) => {
                metrics::bump(&metrics::COUNTERS.notification_failures);
                let retry_at = retry_delay(attempts).map(|d| now.as_second() + d);
                if retry_at.is_none() {
                    metrics::bump(&metrics::COUNTERS.notifications_dead);
                    tracing::warn!(%lead_id, channel = %channel.id, event_id = %message.event_id, attempts, %error, "notification dead after its last attempt");
                } else {
                    tracing::info!(%lead_id, channel = %channel.id, event_id = %message.event_id, attempts, %error, "notification failed; will retry");
                }
                Delivery::Failed { error, retry_at }
            }
        };
        if let Err(e) = self
            .store
            .record_delivery(lead_id, &message.event_id, attempts, &delivery)
            .await
        {
            // The sweeper tries again when the lease runs out; receivers de-duplicate by id.
            tracing::warn!(%lead_id, error = %e, "could not record a delivery attempt");
        }
        delivery
    }
}

impl OutboxTally {
    fn add(mut self, delivery: Delivery) -> Self {
        match delivery {
            Delivery::Delivered { .. } => self.delivered += 1,
            Delivery::Failed {
                retry_at: Some(_), ..
            } => self.retrying += 1,
            Delivery::Failed { retry_at: None, .. } => self.dead += 1,
        }
        self
    }

    /// Both tallies together.
    pub fn plus(self, other: Self) -> Self {
        Self {
            delivered: self.delivered + other.delivered,
            retrying: self.retrying + other.retrying,
            dead: self.dead + other.dead,
            skipped: self.skipped + other.skipped,
        }
    }
}

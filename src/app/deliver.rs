//! Delivering the outbox: notifications are recorded in the same transaction as the change
//! they report; the writer delivers them right after the commit, in parallel, each with a
//! short timeout, and the sweeper retries failures with exponential backoff until delivered
//! or dead. Every attempt's result is stored on the lead, so a notification is never dropped.

use futures::future::join_all;

use crate::domain::audience::Notice;
use crate::domain::channel::Channel;
use crate::domain::model::NotificationStatus;
use crate::domain::notify::{retry_delay, Message};
use crate::metrics;
use crate::store::{Delivery, DueItem, Outgoing, StoreResult};

use super::state::App;

/// How long the writer of a notification has to deliver it itself before the sweeper may try
/// (so the two do not send it at the same moment). Also the sweeper's lease on a retry.
pub const DELIVERY_LEASE_SECONDS: i64 = 60;

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

/// Notices as outbox entries, first due for the sweeper after the writer's own attempt.
pub(crate) fn outgoing(notices: Vec<Notice>, now: jiff::Timestamp) -> Vec<Outgoing> {
    notices
        .into_iter()
        .map(|n| Outgoing {
            channel: n.channel,
            message: n.message,
            first_sweep_at: now.as_second() + DELIVERY_LEASE_SECONDS,
        })
        .collect()
}

impl App {
    /// Delivers just-recorded notifications at once, in parallel, each with the notifier's
    /// short timeout. Failures are recorded and left to the sweeper. `seen_base` is the URL
    /// the request came in on, for acknowledge links.
    pub(crate) async fn deliver_now(
        &self,
        lead_id: &str,
        outgoing: &[Outgoing],
        seen_base: Option<&str>,
    ) -> OutboxTally {
        let attempts = outgoing
            .iter()
            .map(|o| self.attempt(lead_id, &o.channel, &o.message, 0, seen_base));
        join_all(attempts)
            .await
            .into_iter()
            .fold(OutboxTally::default(), OutboxTally::add)
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
        if stored.status != NotificationStatus::Pending {
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

    /// Puts a dead notification back in the outbox and tries it at once; `false` if it is
    /// not dead (any more).
    pub async fn retry_dead(&self, lead_id: &str, event_id: &str) -> StoreResult<bool> {
        let dead = self.store.dead_list(1000).await?;
        let Some(found) = dead
            .into_iter()
            .find(|d| d.lead_id == lead_id && d.event_id == event_id)
        else {
            return Ok(false);
        };
        let now = self.now().as_second();
        if !self.store.revive(&found, now).await? {
            return Ok(false);
        }
        let item = DueItem {
            lead_id: lead_id.to_string(),
            event_id: Some(event_id.to_string()),
            due_at: now,
        };
        self.retry_notification(&item).await?;
        Ok(true)
    }

    /// One attempt, recorded. `before` is how many attempts were made already.
    async fn attempt(
        &self,
        lead_id: &str,
        channel: &Channel,
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
                Delivery::Delivered { at: now }
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
                Delivery::Failed {
                    error,
                    retry_at,
                    at: now,
                }
            }
        };
        if let Err(e) = self
            .store
            .record_delivery(lead_id, &message.event_id, &channel.id, attempts, &delivery)
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

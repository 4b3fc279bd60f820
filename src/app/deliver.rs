//! Delivering the outbox: notifications are recorded in the same transaction as the change
//! they report; the writer delivers them right after the commit, in parallel, each with a
//! short timeout, and the sweeper retries failures with exponential backoff until delivered
//! or dead. Every attempt's result is stored on the lead, so a notification is never dropped.
//! One event (one message, one event id) goes to each of its channels; its results are
//! recorded together, one write per round of attempts.

use futures::future::join_all;

use crate::domain::audience::Notice;
use crate::domain::channel::Channel;
use crate::domain::model::NotificationStatus;
use crate::domain::notify::{retry_delay, Message};
use crate::metrics;
use crate::store::{Attempted, Delivery, DueItem, Outgoing, StoreResult, StoredNotification};

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
            channels: n.channels,
            message: n.message,
            first_sweep_at: now.as_second() + DELIVERY_LEASE_SECONDS,
        })
        .collect()
}

impl App {
    /// Delivers just-recorded notifications at once, in parallel, each with the notifier's
    /// short timeout, and records each event's results in one write. Failures are left to
    /// the sweeper. `seen_base` is the URL the request came in on, for acknowledge links.
    pub(crate) async fn deliver_now(
        &self,
        lead_id: &str,
        outgoing: &[Outgoing],
        seen_base: Option<&str>,
    ) -> OutboxTally {
        let events = outgoing.iter().map(|o| async move {
            let stored = o.pending(lead_id);
            self.attempt_event(lead_id, &stored, |_| true, seen_base)
                .await
        });
        join_all(events)
            .await
            .into_iter()
            .fold(OutboxTally::default(), OutboxTally::plus)
    }

    /// Retries one due event's pending notifications whose turn has come, if this sweeper
    /// wins its lease.
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
        let stored = self.store.notification(&item.lead_id, event_id).await?;
        // An item of its own is due when its item is; an event's channels each at their turn
        // (the item is due at the earliest).
        let due = |n: &StoredNotification| {
            n.status == NotificationStatus::Pending
                && (n.legacy || n.next_attempt_at.is_none_or(|at| at <= now))
        };
        if !stored.iter().any(due) {
            return Ok(skipped);
        }
        Ok(self.attempt_event(&item.lead_id, &stored, due, None).await)
    }

    /// Puts a dead notification back in the outbox and tries it at once; `false` if it is
    /// not dead (any more).
    pub async fn retry_dead(
        &self,
        lead_id: &str,
        event_id: &str,
        channel: &str,
    ) -> StoreResult<bool> {
        let dead = self.store.dead_list(1000).await?;
        let Some(found) = dead
            .into_iter()
            .find(|d| d.lead_id == lead_id && d.event_id == event_id && d.channel == channel)
        else {
            return Ok(false);
        };
        let stored = self.store.notification(lead_id, event_id).await?;
        let legacy = stored.iter().any(|n| n.legacy);
        let now = self.now().as_second();
        if !self.store.revive(&found, legacy, now).await? {
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

    /// Attempts an event's notifications that are `due`, in parallel, and records their
    /// results in one write (the store refuses it if any notification changed since
    /// `stored` was read).
    async fn attempt_event(
        &self,
        lead_id: &str,
        stored: &[StoredNotification],
        due: impl Fn(&StoredNotification) -> bool,
        seen_base: Option<&str>,
    ) -> OutboxTally {
        let Some(message) = stored.first().map(|n| &n.message) else {
            return OutboxTally::default();
        };
        let attempts = stored
            .iter()
            .filter(|n| due(n))
            .map(|n| self.attempt(lead_id, &n.channel, message, n.attempts, seen_base));
        let attempted = join_all(attempts).await;
        let recorded = self
            .store
            .record_deliveries(lead_id, &message.event_id, stored, &attempted)
            .await;
        if let Err(e) = recorded {
            // The sweeper tries again when the lease runs out; receivers de-duplicate by id.
            tracing::warn!(%lead_id, error = %e, "could not record delivery attempts");
        }
        attempted
            .into_iter()
            .fold(OutboxTally::default(), |tally, a| tally.add(a.result))
    }

    /// One attempt. `before` is how many attempts were made already.
    async fn attempt(
        &self,
        lead_id: &str,
        channel: &Channel,
        message: &Message,
        before: u32,
        seen_base: Option<&str>,
    ) -> Attempted {
        let now = self.now();
        let attempts = before + 1;
        let sent = self
            .notifier
            .send(channel, message, now.as_second(), seen_base)
            .await;
        let result = match sent {
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
        Attempted {
            channel: channel.id.clone(),
            attempts,
            result,
        }
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

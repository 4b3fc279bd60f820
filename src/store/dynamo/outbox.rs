//! The outbox ([`OutboxStore`]): notifications and every delivery attempt's result, recorded
//! only while the notification is pending (so two attempts cannot both record), and the count
//! of notifications given up on.

use async_trait::async_trait;

use super::attr::{n, s};
use super::classify::classify;
use super::client::DynamoStore;
use super::items::{self, Attempt, Changes, DeadCount};
use super::keys::Key;
use super::tx::{self, Guard};
use crate::domain::model::NotificationStatus;
use crate::store::{Delivery, OutboxStore, StoreResult, StoredNotification};

#[async_trait]
impl OutboxStore for DynamoStore {
    async fn notification(
        &self,
        lead_id: &str,
        event_id: &str,
    ) -> StoreResult<Option<StoredNotification>> {
        let item = self.get(&Key::notification(lead_id, event_id)).await?;
        item.map(items::notification).transpose()
    }

    async fn record_delivery(
        &self,
        lead_id: &str,
        event_id: &str,
        attempts: u32,
        result: &Delivery,
    ) -> StoreResult<()> {
        let (status, delivered_at, last_error, due_at) = match result {
            Delivery::Delivered { at } => {
                (Some(NotificationStatus::Delivered), Some(*at), None, None)
            }
            // Without a next attempt it is dead: kept on the lead and counted.
            Delivery::Failed { error, retry_at } => (
                retry_at.is_none().then_some(NotificationStatus::Dead),
                None,
                Some(error.as_str()),
                *retry_at,
            ),
        };
        let attempt = Attempt {
            attempts,
            status,
            delivered_at,
            last_error,
            due_at,
        };
        let mut changes = Changes::set(&attempt)?;
        if status.is_some() {
            // Delivered or dead: out of the sweeper's way.
            changes = changes.remove(&["due_pk", "due_at"]);
        }
        let mut tx = self.transaction();
        let update = changes
            .on(tx.updating(&Key::notification(lead_id, event_id)))
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(NotificationStatus::Pending.as_str()));
        tx.update(update, Guard::Unique)?;
        if status == Some(NotificationStatus::Dead) {
            let count = tx
                .updating(&Key::dead_notifications())
                .update_expression("ADD dead :one")
                .expression_attribute_values(":one", n(1));
            tx.update(count, Guard::Unique)?;
        }
        match tx.send(&self.client).await {
            Ok(()) => Ok(()),
            // Already recorded by another attempt: nothing to do.
            Err(err) if !tx::failed_conditions(&err).is_empty() => Ok(()),
            Err(err) => Err(classify(err)),
        }
    }

    async fn dead_notifications(&self) -> StoreResult<u64> {
        let count: Option<DeadCount> = self.read(&Key::dead_notifications()).await?;
        Ok(count.map_or(0, |c| c.dead.max(0) as u64))
    }
}

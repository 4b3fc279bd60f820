//! The outbox ([`OutboxStore`]): notifications and every delivery attempt's result, recorded
//! only while the notification is pending (so two attempts cannot both record), and the count
//! of notifications given up on.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::attr::{applied, n, s};
use super::classify::classify;
use super::client::DynamoStore;
use super::items::{self, Attempt, Changes, DeadCount};
use super::keys::{self, Key};
use super::tx::{self, Guard};
use crate::domain::model::NotificationStatus;
use crate::store::{
    DeadNotification, Delivery, DueKind, OutboxStore, StoreResult, StoredNotification,
};

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
        channel: &str,
        attempts: u32,
        result: &Delivery,
    ) -> StoreResult<()> {
        let (status, delivered_at, last_error, due_at) = match result {
            Delivery::Delivered { at } => {
                (Some(NotificationStatus::Delivered), Some(*at), None, None)
            }
            // Without a next attempt it is dead: kept on the lead and counted.
            Delivery::Failed {
                error, retry_at, ..
            } => (
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
        let dead = matches!(status, Some(NotificationStatus::Dead));
        if !dead {
            // Delivered or to be retried: one conditional update (half a transaction's units).
            let update = changes
                .on(self.updating(&Key::notification(lead_id, event_id)))
                .condition_expression("#status = :pending")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":pending", s(NotificationStatus::Pending.as_str()));
            // Already recorded by another attempt: nothing to do.
            applied(self.send_update(update, ReturnValue::None).await)?;
            return Ok(());
        }
        // Dead: recorded with the dead count and the dead list, all or nothing.
        let mut tx = self.transaction();
        let update = changes
            .on(tx.updating(&Key::notification(lead_id, event_id)))
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(NotificationStatus::Pending.as_str()));
        tx.update(update, Guard::Unique)?;
        if let (Some(NotificationStatus::Dead), Delivery::Failed { error, at, .. }) =
            (status, result)
        {
            let count = tx
                .updating(&Key::dead_notifications())
                .update_expression("ADD dead :one")
                .expression_attribute_values(":one", n(1));
            tx.update(count, Guard::Unique)?;
            let dead = DeadNotification {
                lead_id: lead_id.to_string(),
                event_id: event_id.to_string(),
                channel: channel.to_string(),
                at: *at,
                attempts,
                last_error: Some(error.clone()),
            };
            tx.put_any(items::encode(
                &Key::dead_notification(*at, lead_id, event_id),
                &dead,
            )?)?;
        }
        match tx.send(&self.client).await {
            Ok(()) => Ok(()),
            // Already recorded by another attempt: nothing to do.
            Err(err) if !tx::failed_conditions(&err).is_empty() => Ok(()),
            Err(err) => Err(classify(err)),
        }
    }

    async fn dead_list(&self, limit: usize) -> StoreResult<Vec<DeadNotification>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::DEAD_PARTITION))
            .scan_index_forward(false)
            .limit(limit.min(1000) as i32)
            .send()
            .await
            .map_err(classify)?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(items::decode)
            .collect()
    }

    async fn revive(&self, dead: &DeadNotification, due_at: i64) -> StoreResult<bool> {
        let mut tx = self.transaction();
        let update = tx
            .updating(&Key::notification(&dead.lead_id, &dead.event_id))
            .update_expression(
                "SET #status = :pending, attempts = :zero, due_pk = :due_pk, due_at = :due_at",
            )
            .condition_expression("#status = :dead")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s(NotificationStatus::Pending.as_str()))
            .expression_attribute_values(":dead", s(NotificationStatus::Dead.as_str()))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":due_pk", s(keys::due_pk(DueKind::Outbox, &dead.lead_id)))
            .expression_attribute_values(":due_at", n(due_at));
        tx.update(update, Guard::Unique)?;
        tx.delete(&Key::dead_notification(
            dead.at,
            &dead.lead_id,
            &dead.event_id,
        ))?;
        match tx.send(&self.client).await {
            Ok(()) => Ok(true),
            Err(err) if !tx::failed_conditions(&err).is_empty() => Ok(false),
            Err(err) => Err(classify(err)),
        }
    }

    async fn dead_notifications(&self) -> StoreResult<u64> {
        let count: Option<DeadCount> = self.read(&Key::dead_notifications()).await?;
        Ok(count.map_or(0, |c| c.dead.max(0) as u64))
    }
}

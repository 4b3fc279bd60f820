//! The outbox ([`OutboxStore`]): one item per event with every channel's delivery, each round
//! of attempts' results recorded in one update only while every channel is as the recorder
//! read it (so two attempts cannot both record), and the count of notifications given up on.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::attr::{applied, n, s};
use super::classify::classify;
use super::client::DynamoStore;
use super::items::{self, DeadCount};
use super::keys::{self, Key};
use super::tx::{self, Guard};
use crate::domain::model::NotificationStatus;
use crate::store::{
    Attempted, DeadNotification, Delivery, DueKind, OutboxStore, StoreError, StoreResult,
    StoredNotification,
};

#[async_trait]
impl OutboxStore for DynamoStore {
    async fn notification(
        &self,
        lead_id: &str,
        event_id: &str,
    ) -> StoreResult<Vec<StoredNotification>> {
        let item = self.get(&Key::notification(lead_id, event_id)).await?;
        Ok(match item {
            Some(item) => items::notifications(item)?,
            None => Vec::new(),
        })
    }

    async fn record_deliveries(
        &self,
        lead_id: &str,
        event_id: &str,
        seen: &[StoredNotification],
        attempted: &[Attempted],
    ) -> StoreResult<()> {
        if attempted.is_empty() {
            return Ok(());
        }
        let (expr, dead) = recording(lead_id, event_id, seen, attempted)?;
        let key = Key::notification(lead_id, event_id);
        if dead.is_empty() {
            // Delivered or to be retried: one conditional update (half a transaction's units).
            // Its condition failed: another attempt recorded first, nothing to do.
            applied(
                self.send_update(expr.apply(self.updating(&key)), ReturnValue::None)
                    .await,
            )?;
            return Ok(());
        }
        // Some dead: recorded with the dead count and the dead list, all or nothing.
        let legacy = seen.iter().any(|n| n.legacy);
        let mut tx = self.transaction();
        tx.update(expr.apply(tx.updating(&key)), Guard::Unique)?;
        let count = tx
            .updating(&Key::dead_notifications())
            .update_expression("ADD dead :dead")
            .expression_attribute_values(":dead", n(dead.len()));
        tx.update(count, Guard::Unique)?;
        for dead in &dead {
            let channel = (!legacy).then_some(dead.channel.as_str());
            let key = Key::dead_notification(dead.at, lead_id, event_id, channel);
            tx.put_any(items::encode(&key, dead)?)?;
        }
        match tx.send(&self.client).await {
            Ok(()) => Ok(()),
            // Another attempt recorded first: nothing to do.
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

    async fn revive(
        &self,
        dead: &DeadNotification,
        legacy: bool,
        due_at: i64,
    ) -> StoreResult<bool> {
        let mut expr = Expr::default();
        let channel = (!legacy).then_some((0, dead.channel.as_str()));
        let status = expr.at("status", channel);
        expr.assign(&status, ":pending", s(NotificationStatus::Pending.as_str()));
        expr.require(&status, ":dead", s(NotificationStatus::Dead.as_str()));
        let attempts = expr.at("attempts", channel);
        expr.assign(&attempts, ":zero", n(0));
        if !legacy {
            let next = expr.at("next_at", channel);
            expr.assign(&next, ":due_at", n(due_at));
        }
        expr.due(outbox_due_pk(&dead.lead_id), Some(due_at));
        let mut tx = self.transaction();
        let key = Key::notification(&dead.lead_id, &dead.event_id);
        tx.update(expr.apply(tx.updating(&key)), Guard::Unique)?;
        let channel = (!legacy).then_some(dead.channel.as_str());
        tx.delete(&Key::dead_notification(
            dead.at,
            &dead.lead_id,
            &dead.event_id,
            channel,
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

/// The due-index partition of a lead's outbox items.
fn outbox_due_pk(lead_id: &str) -> String {
    keys::due_pk(DueKind::Outbox, lead_id)
}

/// The update that records `attempted` on an event's item, conditioned on every channel's
/// state as `seen`, and the notifications it marks dead.
fn recording(
    lead_id: &str,
    event_id: &str,
    seen: &[StoredNotification],
    attempted: &[Attempted],
) -> StoreResult<(Expr, Vec<DeadNotification>)> {
    if attempted
        .iter()
        .any(|a| !seen.iter().any(|n| n.channel.id == a.channel))
    {
        return Err(StoreError::Invalid(format!(
            "a delivery to a channel event {event_id} does not have"
        )));
    }
    let legacy = seen.iter().any(|n| n.legacy);
    let mut expr = Expr::default();
    let mut dead = Vec::new();
    // The channels not attempted keep their turn: the item is next due at the earliest.
    let mut next_due = seen
        .iter()
        .filter(|n| n.status == NotificationStatus::Pending)
        .filter(|n| !attempted.iter().any(|a| a.channel == n.channel.id))
        .map(|n| n.next_attempt_at.unwrap_or(0))
        .min();
    for (i, notification) in seen.iter().enumerate() {
        let channel = (!legacy).then_some((i, notification.channel.id.as_str()));
        let status = expr.at("status", channel);
        expr.require(&status, &format!(":s{i}"), s(notification.status.as_str()));
        let Some(attempt) = attempted
            .iter()
            .find(|a| a.channel == notification.channel.id)
        else {
            continue;
        };
        let attempts = expr.at("attempts", channel);
        expr.require(&attempts, &format!(":b{i}"), n(notification.attempts));
        expr.assign(&attempts, &format!(":a{i}"), n(attempt.attempts));
        let next = (!legacy).then(|| expr.at("next_at", channel));
        match &attempt.result {
            Delivery::Delivered { at } => {
                expr.assign(
                    &status,
                    ":delivered",
                    s(NotificationStatus::Delivered.as_str()),
                );
                let path = expr.at("delivered_at", channel);
                expr.assign(&path, &format!(":t{i}"), s(at.to_string()));
                expr.remove.extend(next);
            }
            Delivery::Failed {
                error,
                retry_at: Some(retry_at),
                ..
            } => {
                let path = expr.at("last_error", channel);
                expr.assign(&path, &format!(":e{i}"), s(error.as_str()));
                if let Some(next) = next {
                    expr.assign(&next, &format!(":r{i}"), n(retry_at));
                }
                next_due = Some(next_due.map_or(*retry_at, |d| d.min(*retry_at)));
            }
            // Without a next attempt it is dead: kept on the lead, counted and listed.
            Delivery::Failed {
                error,
                retry_at: None,
                at,
            } => {
                expr.assign(&status, ":dead", s(NotificationStatus::Dead.as_str()));
                let path = expr.at("last_error", channel);
                expr.assign(&path, &format!(":e{i}"), s(error.as_str()));
                expr.remove.extend(next);
                dead.push(DeadNotification {
                    lead_id: lead_id.to_string(),
                    event_id: event_id.to_string(),
                    channel: notification.channel.id.clone(),
                    at: *at,
                    attempts: attempt.attempts,
                    last_error: Some(error.clone()),
                });
            }
        }
    }
    // Delivered or dead everywhere: out of the sweeper's way.
    expr.due(outbox_due_pk(lead_id), next_due);
    Ok((expr, dead))
}

/// An update built from parts, with only the placeholders it uses: `#<attribute>` for names,
/// `#c<i>` for the i-th channel's entry in the per-channel maps.
#[derive(Default)]
struct Expr {
    set: Vec<String>,
    remove: Vec<String>,
    conditions: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    /// The path of `attribute`, or of a channel's entry in it.
    fn at(&mut self, attribute: &str, channel: Option<(usize, &str)>) -> String {
        let name = format!("#{attribute}");
        self.names.insert(name.clone(), attribute.to_string());
        match channel {
            None => name,
            Some((i, id)) => {
                let entry = format!("#c{i}");
                self.names.insert(entry.clone(), id.to_string());
                format!("{name}.{entry}")
            }
        }
    }

    /// `SET <path> = <placeholder>`, with the placeholder's value.
    fn assign(&mut self, path: &str, placeholder: &str, value: AttributeValue) {
        let placeholder = self.value(placeholder, value);
        self.set.push(format!("{path} = {placeholder}"));
    }

    /// The condition `<path> = <placeholder>`, with the placeholder's value.
    fn require(&mut self, path: &str, placeholder: &str, value: AttributeValue) {
        let placeholder = self.value(placeholder, value);
        self.conditions.push(format!("{path} = {placeholder}"));
    }

    /// A value's placeholder.
    fn value(&mut self, placeholder: &str, value: AttributeValue) -> String {
        self.values.insert(placeholder.to_string(), value);
        placeholder.to_string()
    }

    /// Due for the sweeper at `due_at`, or out of its way.
    fn due(&mut self, due_pk: String, due_at: Option<i64>) {
        let (pk, at) = (self.at("due_pk", None), self.at("due_at", None));
        match due_at {
            Some(due_at) => {
                self.assign(&pk, ":due_pk", s(due_pk));
                self.assign(&at, ":due_at", n(due_at));
            }
            None => self.remove.extend([pk, at]),
        }
    }

    fn apply(self, update: UpdateBuilder) -> UpdateBuilder {
        let mut expression = format!("SET {}", self.set.join(", "));
        if !self.remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", self.remove.join(", ")));
        }
        update
            .update_expression(expression)
            .condition_expression(self.conditions.join(" AND "))
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::channel::{Channel, ChannelKind, Setting};

    fn pending(channel: &str, attempts: u32, next: i64) -> StoredNotification {
        let message = serde_json::from_value(serde_json::json!({
            "event_id": "e1", "type": "lead.assigned", "occurred_at": "2026-11-24T15:00:00Z",
            "lead_id": "l1", "assignment": 1, "reason": "r",
            "lead": {}, "owner": {"kind": "queue", "id": "q", "name": "Q"}
        }))
        .unwrap();
        StoredNotification {
            lead_id: "l1".into(),
            channel: Channel {
                id: channel.into(),
                kind: ChannelKind::Webhook,
                url: Setting::Plain("http://127.0.0.1/x".into()),
                to: Vec::new(),
                secret: None,
            },
            message,
            status: NotificationStatus::Pending,
            attempts,
            last_error: None,
            delivered_at: None,
            next_attempt_at: Some(next),
            legacy: false,
        }
    }

    fn failed(channel: &str, attempts: u32, retry_at: Option<i64>) -> Attempted {
        Attempted {
            channel: channel.into(),
            attempts,
            result: Delivery::Failed {
                error: "503".into(),
                retry_at,
                at: "2026-11-24T15:00:00Z".parse().unwrap(),
            },
        }
    }

    #[test]
    fn one_update_records_every_channel_on_condition_that_none_changed_and_keeps_the_earliest_turn()
    {
        let seen = [
            pending("slack", 0, 100),
            pending("crm", 2, 100),
            pending("mail", 1, 90),
        ];
        let delivered = Attempted {
            channel: "slack".into(),
            attempts: 1,
            result: Delivery::Delivered {
                at: "2026-11-24T15:00:00Z".parse().unwrap(),
            },
        };
        // The unattempted mail channel is due at 90, before the webhook's retry at 130.
        let (expr, dead) = recording(
            "l1",
            "e1",
            &seen,
            &[delivered.clone(), failed("crm", 3, Some(130))],
        )
        .unwrap();
        assert!(dead.is_empty());
        assert_eq!(
            expr.conditions,
            [
                "#status.#c0 = :s0",
                "#attempts.#c0 = :b0",
                "#status.#c1 = :s1",
                "#attempts.#c1 = :b1",
                "#status.#c2 = :s2"
            ]
        );
        assert!(expr.set.contains(&"#status.#c0 = :delivered".to_string()));
        assert!(expr.set.contains(&"#next_at.#c1 = :r1".to_string()));
        assert!(expr.remove.contains(&"#next_at.#c0".to_string()));
        assert_eq!(expr.values[":due_at"], n(90));
        assert_eq!(expr.names["#c1"], "crm");

        // The last attempt of the last pending channel: dead, listed, out of the due index.
        let seen = [pending("crm", 9, 100)];
        let (expr, dead) = recording("l1", "e1", &seen, &[failed("crm", 10, None)]).unwrap();
        assert_eq!(
            (dead.len(), dead[0].channel.as_str(), dead[0].attempts),
            (1, "crm", 10)
        );
        assert!(expr.set.contains(&"#status.#c0 = :dead".to_string()));
        assert_eq!(expr.remove, ["#next_at.#c0", "#due_pk", "#due_at"]);

        // An item of its own: top-level attributes, its next attempt in the due index.
        let mut legacy = pending("crm", 1, 100);
        legacy.legacy = true;
        let (expr, _) = recording("l1", "e1", &[legacy], &[failed("crm", 2, Some(160))]).unwrap();
        assert_eq!(expr.conditions, ["#status = :s0", "#attempts = :b0"]);
        assert!(!expr.names.contains_key("#next_at"));
        assert_eq!(expr.values[":due_at"], n(160));

        // A channel the event does not have is a bug, not a write.
        assert!(recording("l1", "e1", &seen, &[failed("slack", 1, None)]).is_err());
    }
}

//! What the SLA sweeper and the outbox need ([`SweepStore`]): pages of the sparse due index,
//! leases on due items, delivery results, and reassignments after a missed deadline.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use super::assign::{self, owner_status};
use super::keys::{self, IndexKey, Key, DUE_INDEX};
use super::leads::notification_of;
use super::tx::{self, Guard};
use super::{applied, classify, encode, get_n, n, s, DynamoStore};
use crate::domain::routing::Owner;
use crate::store::{
    Delivery, DueItem, DueKind, DuePage, HistoryEntry, Reassignment, RecordError, StoreError,
    StoreResult, StoredNotification, SweepStore,
};

#[async_trait]
impl SweepStore for DynamoStore {
    async fn due(
        &self,
        kind: DueKind,
        shard: u32,
        now_epoch: i64,
        cursor: Option<&str>,
        limit: i32,
    ) -> StoreResult<DuePage> {
        let start = match cursor {
            Some(text) => Some(
                to_item(IndexKey::from_cursor(text)?)
                    .map_err(|e| StoreError::Invalid(format!("encode cursor: {e}")))?,
            ),
            None => None,
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("due_pk = :p AND due_at <= :now")
            .expression_attribute_values(":p", s(keys::due_partition(kind, shard)))
            .expression_attribute_values(":now", n(now_epoch))
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(classify)?;
        let index_key = |item| {
            from_item::<IndexKey>(item)
                .map_err(|e| StoreError::Corrupt(format!("decode due index key: {e}")))
        };
        let mut items = Vec::new();
        for item in out.items.unwrap_or_default() {
            let key = index_key(item)?;
            if let Some((lead_id, event_id)) = key.target() {
                items.push(DueItem {
                    lead_id,
                    event_id,
                    due_at: key.due_at(),
                });
            }
        }
        let next = match out.last_evaluated_key {
            Some(key) => Some(index_key(key)?.cursor()),
            None => None,
        };
        Ok(DuePage { items, next })
    }

    async fn lease_due(&self, item: &DueItem, seen_due_at: i64, until: i64) -> StoreResult<bool> {
        let result = self
            .update(&Key::due(&item.lead_id, item.event_id.as_deref()))
            .update_expression("SET due_at = :until")
            .condition_expression("due_at = :seen")
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":seen", n(seen_due_at))
            .send()
            .await;
        applied(result.map_err(classify))
    }

    async fn notification(
        &self,
        lead_id: &str,
        event_id: &str,
    ) -> StoreResult<Option<StoredNotification>> {
        let item = self.get(&Key::notification(lead_id, event_id)).await?;
        item.as_ref().map(notification_of).transpose()
    }

    async fn record_delivery(
        &self,
        lead_id: &str,
        event_id: &str,
        attempts: u32,
        result: &Delivery,
    ) -> StoreResult<()> {
        let mut tx = self.transaction();
        let update = tx
            .updating(&Key::notification(lead_id, event_id))
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":attempts", n(attempts));
        let (update, dead) = match result {
            Delivery::Delivered { at } => (
                update
                    .update_expression(
                        "SET #status = :delivered, attempts = :attempts, delivered_at = :at REMOVE due_pk, due_at",
                    )
                    .expression_attribute_values(":delivered", s("delivered"))
                    .expression_attribute_values(":at", s(at)),
                false,
            ),
            Delivery::Failed {
                error,
                retry_at: Some(retry_at),
            } => (
                update
                    .update_expression(
                        "SET attempts = :attempts, last_error = :error, due_at = :retry",
                    )
                    .expression_attribute_values(":error", s(error))
                    .expression_attribute_values(":retry", n(retry_at)),
                false,
            ),
            // Dead: out of the sweeper's way, kept on the lead and counted.
            Delivery::Failed {
                error,
                retry_at: None,
            } => (
                update
                    .update_expression(
                        "SET #status = :dead, attempts = :attempts, last_error = :error REMOVE due_pk, due_at",
                    )
                    .expression_attribute_values(":dead", s("dead"))
                    .expression_attribute_values(":error", s(error)),
                true,
            ),
        };
        tx.update(update, Guard::Unique)?;
        if dead {
            let count = tx
                .updating(&Key::dead_notifications())
                .update_expression("ADD dead :one")
                .expression_attribute_values(":one", n(1));
            tx.update(count, Guard::Unique)?;
        }
        match tx.send(&self.client).await {
            Ok(()) => Ok(()),
            // Already recorded by another attempt: nothing to do.
            Err(err) if tx::failed_condition(&err).is_some() => Ok(()),
            Err(err) => Err(classify(err)),
        }
    }

    async fn reassign(&self, change: &Reassignment) -> Result<(), RecordError> {
        let a = &change.assignment;
        let (owner_kind, status) = owner_status(&a.owner);
        let owner_id = a.owner.id();
        let mut set = vec![
            "#status = :status",
            "owner_kind = :kind",
            "owner_id = :owner",
            "assignment = :assignment",
            "assignment_no = :next",
            "assigned_at = :at",
            "escalations = :escalations",
        ];
        let mut remove = Vec::new();
        let mut tx = self.transaction();
        let mut lead = tx
            .updating(&Key::lead(&change.lead_id))
            .condition_expression("#status = :open AND assignment_no = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status))
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":seen", n(change.seen_assignment))
            .expression_attribute_values(":next", n(change.seen_assignment + 1))
            .expression_attribute_values(":kind", s(owner_kind))
            .expression_attribute_values(":owner", s(owner_id))
            .expression_attribute_values(":assignment", encode(a)?)
            .expression_attribute_values(":at", s(&change.at))
            .expression_attribute_values(":escalations", n(change.escalations));
        if let Owner::Rep { id, .. } = &a.owner {
            set.push("owners = list_append(if_not_exists(owners, :none), :new_owner)");
            lead = lead
                .expression_attribute_values(":none", AttributeValue::L(vec![]))
                .expression_attribute_values(":new_owner", AttributeValue::L(vec![s(id)]));
        }
        match &change.deadline {
            Some(deadline) => {
                set.extend([
                    "sla = :sla",
                    "sla_due_at = :due_text",
                    "due_pk = :due_pk",
                    "due_at = :due",
                ]);
                lead = lead
                    .expression_attribute_values(":sla", encode(&deadline.policy)?)
                    .expression_attribute_values(":due_text", s(deadline.due.to_string()))
                    .expression_attribute_values(
                        ":due_pk",
                        s(keys::due_pk(DueKind::Sla, &change.lead_id)),
                    )
                    .expression_attribute_values(":due", n(deadline.due.as_second()));
            }
            None => remove.extend(["sla_due_at", "due_pk", "due_at"]),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        tx.update(lead.update_expression(expression), Guard::Lead)?;
        let event = HistoryEntry {
            at: change.at.clone(),
            event: if owner_kind == "rep" {
                "reassigned"
            } else {
                "queued"
            }
            .into(),
            reason: a.reason.clone(),
        };
        let suffix = format!("{:04}", change.seen_assignment + 1);
        assign::history(&mut tx, &change.lead_id, &event, &suffix)?;
        if let Some(previous) = &change.previous_rep {
            assign::open_leads_change(&mut tx, previous, -1)?;
        }
        assign::claim(
            &mut tx,
            &change.lead_id,
            owner_id,
            change.claim.as_ref(),
            change.ticket.as_ref(),
            &change.at,
        )?;
        assign::outbox(&mut tx, &change.lead_id, &change.notifications)?;
        tx.commit(&self.client, change.claim.as_ref()).await
    }

    async fn dead_notifications(&self) -> StoreResult<u64> {
        let item = self.get(&Key::dead_notifications()).await?;
        Ok(item.and_then(|i| get_n(&i, "dead")).unwrap_or(0).max(0) as u64)
    }
}

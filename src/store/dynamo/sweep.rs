//! What the SLA sweeper and the outbox need ([`SweepStore`]): pages of the sparse due index,
//! leases on due items, delivery results, and reassignments after a missed deadline.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::assign;
use super::items::{self, owner_kind, Attempt, Changes, DeadCount, Reassigned, SlaFields};
use super::keys::{self, IndexKey, Key, DUE_INDEX};
use super::tx::{self, Guard};
use super::{applied, classify, n, s, DynamoStore};
use crate::domain::model::LeadStatus;
use crate::domain::routing::Owner;
use crate::store::{
    Delivery, DueItem, DueKind, DuePage, HistoryEntry, Reassignment, RecordError, StoreResult,
    StoredNotification, SweepStore,
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
            Some(text) => Some(items::fields(&IndexKey::from_cursor(text)?)?),
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
        let mut due = Vec::new();
        for item in out.items.unwrap_or_default() {
            let key: IndexKey = items::decode(item)?;
            if let Some((lead_id, event_id)) = key.target() {
                due.push(DueItem {
                    lead_id,
                    event_id,
                    due_at: key.due_at(),
                });
            }
        }
        let next = match out.last_evaluated_key {
            Some(key) => Some(items::decode::<IndexKey>(key)?.cursor()),
            None => None,
        };
        Ok(DuePage { items: due, next })
    }

    async fn lease_due(&self, item: &DueItem, seen_due_at: i64, until: i64) -> StoreResult<bool> {
        let lease = self
            .updating(&Key::due(&item.lead_id, item.event_id.as_deref()))
            .update_expression("SET due_at = :until")
            .condition_expression("due_at = :seen")
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":seen", n(seen_due_at));
        applied(self.send_update(lease, ReturnValue::None).await)
    }

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
            Delivery::Delivered { at } => (Some("delivered"), Some(at.as_str()), None, None),
            // Without a next attempt it is dead: kept on the lead and counted.
            Delivery::Failed { error, retry_at } => (
                retry_at.is_none().then_some("dead"),
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
            .expression_attribute_values(":pending", s(items::PENDING));
        tx.update(update, Guard::Unique)?;
        if status == Some("dead") {
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
        let owner = &a.owner;
        let next = change.seen_assignment + 1;
        let reassigned = Reassigned {
            status: LeadStatus::assigned_to(owner),
            owner_kind: owner_kind(owner),
            owner_id: owner.id(),
            assignment: a,
            assignment_no: next,
            assigned_at: &change.at,
            escalations: change.escalations,
        };
        let mut changes = Changes::set(&reassigned)?;
        if let Owner::Rep { id, .. } = owner {
            changes = changes.append("owners", vec![s(id)]);
        }
        changes = match &change.deadline {
            Some(deadline) => changes.and(&SlaFields::new(&change.lead_id, deadline))?,
            None => changes.remove(&["sla_due_at", "due_pk", "due_at"]),
        };
        let mut tx = self.transaction();
        let lead = changes
            .on(tx.updating(&Key::lead(&change.lead_id)))
            .condition_expression("#status = :open AND assignment_no = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":open", s(LeadStatus::Open.as_str()))
            .expression_attribute_values(":seen", n(change.seen_assignment));
        tx.update(lead, Guard::Lead)?;
        let event = HistoryEntry {
            at: change.at.clone(),
            event: match owner {
                Owner::Rep { .. } => "reassigned",
                Owner::Queue { .. } => "queued",
            }
            .into(),
            reason: a.reason.clone(),
        };
        assign::history(&mut tx, &change.lead_id, &event, &format!("{next:04}"))?;
        if let Some(previous) = &change.previous_rep {
            assign::open_leads_change(&mut tx, previous, -1)?;
        }
        let (claim, ticket) = (change.claim.as_ref(), change.ticket.as_ref());
        assign::claim(
            &mut tx,
            &change.lead_id,
            owner.id(),
            claim,
            ticket,
            &change.at,
        )?;
        assign::outbox(&mut tx, &change.lead_id, &change.notifications)?;
        tx.commit(&self.client, claim).await
    }

    async fn dead_notifications(&self) -> StoreResult<u64> {
        let count: Option<DeadCount> = self.read(&Key::dead_notifications()).await?;
        Ok(count.map_or(0, |c| c.dead.max(0) as u64))
    }
}

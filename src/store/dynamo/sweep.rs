//! What the SLA sweeper needs ([`SweepStore`]): pages of the sparse due index, leases on due
//! items, and reassignments after a missed deadline.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::assign;
use super::attr::{applied, n, s};
use super::classify::classify;
use super::client::DynamoStore;
use super::items::{self, Changes, OwnerKind, Reassigned, SlaFields, SlaStepTaken};
use super::keys::{self, IndexKey, Key, DUE_INDEX};
use super::tx::Guard;
use crate::domain::model::{HistoryEvent, LeadStatus, Owner, SlaState};
use crate::store::{
    CommitError, DueItem, DueKind, DuePage, HistoryEntry, Reassignment, SlaStepChange, StoreResult,
    SweepStore,
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

    async fn reassign(&self, change: &Reassignment) -> Result<(), CommitError> {
        let a = &change.assignment;
        let owner = &a.owner;
        let next = change.seen_assignment + 1;
        let reassigned = Reassigned {
            status: LeadStatus::assigned_to(owner),
            owner_kind: OwnerKind::of(owner),
            owner_id: owner.id(),
            owner_pk: keys::owner_partition(owner.id()),
            assignment: a,
            assignment_no: next,
            assigned_at: change.at,
            escalations: change.escalations,
            pool_id: a.pool(),
            rule_id: a.rule_id.as_deref(),
            sla_state: change.sla_state,
            stint: &change.stint,
        };
        let mut changes =
            Changes::set(&reassigned)?.append("earlier", vec![items::attribute(&change.ended)?]);
        // What the new assignment does not have goes, so the log row and the lead's item
        // (whose assignment and stint read these back when they leave them out) say the same.
        if a.pool().is_none() {
            changes = changes.remove(&["pool_id"]);
        }
        if a.rule_id.is_none() {
            changes = changes.remove(&["rule_id"]);
        }
        if let Owner::Rep { id, .. } = owner {
            changes = changes.append("owners", vec![s(id)]);
        }
        changes = match &change.deadline {
            Some(deadline) => changes.and(&SlaFields::new(&change.lead_id, deadline))?,
            None => changes.remove(&["sla_due_at", "due_pk", "due_at"]),
        };
        // The new owner's schedule starts from its first step.
        changes = changes.remove(&["sla_step"]);
        if change.first_entry.is_some() {
            changes = changes.remove(&["first_event"]);
        }
        if change.sla_state.is_none() {
            changes = changes.remove(&["sla_state"]);
        }
        let mut tx = self.transaction();
        let lead = changes
            .on(tx.updating(&Key::lead(&change.lead_id)))
            .condition_expression(
                "(#status = :seen_status OR (attribute_not_exists(#status) AND :seen_status = :open)) AND (assignment_no = :seen OR (attribute_not_exists(assignment_no) AND :seen = :first))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":seen_status", s(change.seen_status.as_str()))
            .expression_attribute_values(":open", s(LeadStatus::Open.as_str()))
            .expression_attribute_values(":seen", n(change.seen_assignment))
            .expression_attribute_values(":first", n(1));
        tx.update(lead, Guard::Lead)?;
        if let Some(first) = &change.first_entry {
            // Out of the lead, with the reason it had: the entry the lead was stored with.
            assign::history(&mut tx, &change.lead_id, first, "0001")?;
        }
        let event = HistoryEntry {
            at: change.at,
            event: HistoryEvent::assigned_to(owner, true),
            reason: a.reason.clone(),
        };
        assign::history(&mut tx, &change.lead_id, &event, &format!("{next:04}"))?;
        if let Some(previous) = &change.previous_rep {
            assign::open_leads_change(&mut tx, previous, -1)?;
        }
        let (claim, ticket) = (change.claim.as_ref(), change.ticket.as_ref());
        let on_entry = assign::claim(
            &mut tx,
            &change.lead_id,
            owner.id(),
            claim,
            ticket,
            &change.passed,
            change.at,
            &|rep, pool| self.turn_entries.is_full(rep, pool),
        )?;
        assign::outbox(
            &mut tx,
            &change.lead_id,
            change.received_at,
            &change.notifications,
        )?;
        if let Some(entry) = &change.audit {
            super::audit::put(&mut tx, entry)?;
        }
        self.commit_assignment(&tx, claim, ticket, on_entry).await
    }

    async fn take_step(&self, change: &SlaStepChange) -> Result<(), CommitError> {
        let taken = SlaStepTaken {
            sla_step: change.step,
            stint: &change.stint,
        };
        let mut changes = Changes::set(&taken)?;
        if let Some(at) = change.next_due {
            changes = changes.and(&items::Due {
                due_pk: Some(keys::due_pk(DueKind::Sla, &change.lead_id)),
                due_at: Some(at),
            })?;
        } else {
            changes = changes.remove(&["due_pk", "due_at"]);
        }
        if change.breached {
            changes = changes.and(&Breached {
                sla_state: SlaState::Breached,
            })?;
        }
        let mut tx = self.transaction();
        let lead = changes
            .on(tx.updating(&Key::lead(&change.lead_id)))
            .condition_expression(
                "(#status = :open OR attribute_not_exists(#status)) AND (assignment_no = :seen OR (attribute_not_exists(assignment_no) AND :seen = :first)) AND (sla_step = :step OR (attribute_not_exists(sla_step) AND :step = :zero))",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":open", s(LeadStatus::Open.as_str()))
            .expression_attribute_values(":seen", n(change.seen_assignment))
            .expression_attribute_values(":first", n(1))
            .expression_attribute_values(":step", n(change.seen_step))
            .expression_attribute_values(":zero", n(0));
        tx.update(lead, Guard::Lead)?;
        let suffix = format!("{:04}.{:02}", change.seen_assignment, change.step);
        assign::history(&mut tx, &change.lead_id, &change.history, &suffix)?;
        assign::outbox(
            &mut tx,
            &change.lead_id,
            change.received_at,
            &change.notifications,
        )?;
        tx.commit(&self.client, None).await
    }
}

/// The SLA state a step after the deadline sets.
#[derive(serde::Serialize)]
struct Breached {
    sla_state: SlaState,
}

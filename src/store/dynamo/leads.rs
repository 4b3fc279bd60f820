//! Leads ([`LeadStore`]): Idempotency-Key claims, pool tickets, the one transaction that
//! records a routed lead with everything that goes with it, reading a lead back, and
//! acknowledging or closing it (the transition itself is `domain::lifecycle`'s).

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::assign;
use super::items::{
    self, Changes, Claim, Completion, ContactItem, LeadItem, Rotation, SlaFields, StatusChange,
    COMPLETED, IN_PROGRESS,
};
use super::keys::{self, Key, LeadPart};
use super::tx::{retry_conflicts, Guard, Transaction};
use super::{applied, classify, n, s, DynamoStore, Item};
use crate::domain::lifecycle::{self, Transition};
use crate::domain::model::LeadStatus;
use crate::domain::routing::Owner;
use crate::store::{
    ContactWrite, HistoryEntry, IdempotencyClaim, IdempotencyToken, LeadStore, NewLead,
    RecordError, StatusAction, StatusOutcome, StoreResult, StoredLead, StoredResponse, Ticket,
};

#[async_trait]
impl LeadStore for DynamoStore {
    async fn claim_idempotency(
        &self,
        token: &IdempotencyToken,
        request_hash: &str,
        now_epoch: i64,
        lease_seconds: i64,
        keep_seconds: i64,
    ) -> StoreResult<IdempotencyClaim> {
        let claim = Claim {
            status: IN_PROGRESS.to_string(),
            token: token.token.clone(),
            request_hash: request_hash.to_string(),
            lease_until: now_epoch + lease_seconds,
            expires_at: now_epoch + keep_seconds,
            response: None,
            lead_id: None,
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::encode(&Key::idempotency(&token.key), &claim)?))
            // Free, expired by TTL time (TTL deletion lags), or abandoned by a crashed holder.
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at < :now OR (#status = :in_progress AND lease_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(now_epoch))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let existing = match put {
            Ok(_) => return Ok(IdempotencyClaim::Claimed),
            Err(SdkError::ServiceError(service))
                if service.err().is_conditional_check_failed_exception() =>
            {
                match service.into_err() {
                    PutItemError::ConditionalCheckFailedException(e) => e.item,
                    _ => None,
                }
            }
            Err(e) => return Err(classify(e)),
        };
        // The condition failed, so a claim exists; if DynamoDB did not say whose, a retry will.
        let Some(existing) = existing else {
            return Ok(IdempotencyClaim::InProgress);
        };
        let existing: Claim = items::decode(existing)?;
        // Our own claim: the SDK retried the put after a lost answer, and the first attempt had
        // succeeded.
        if existing.token == token.token && existing.status == IN_PROGRESS {
            return Ok(IdempotencyClaim::Claimed);
        }
        if existing.request_hash != request_hash {
            return Ok(IdempotencyClaim::Mismatch);
        }
        match existing.response {
            Some(body) if existing.status == COMPLETED => {
                Ok(IdempotencyClaim::Completed(StoredResponse { body }))
            }
            _ => Ok(IdempotencyClaim::InProgress),
        }
    }

    async fn release_idempotency(&self, token: &IdempotencyToken) -> StoreResult<()> {
        let result = self
            .delete(&Key::idempotency(&token.key))
            .condition_expression("#token = :token AND #status = :in_progress")
            .expression_attribute_names("#token", "token")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":token", s(&token.token))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .send()
            .await;
        // Not ours any more (completed, or taken over): nothing to give back.
        applied(result.map_err(classify)).map(|_| ())
    }

    async fn claim_next_turn(&self, pool: &str) -> StoreResult<Ticket> {
        let next = self
            .updating(&Key::rotation(pool))
            .update_expression("ADD turn :one")
            .expression_attribute_values(":one", n(1));
        let rotation: Rotation = items::decode(self.send_update(next, ReturnValue::AllNew).await?)?;
        Ok(Ticket {
            turn: rotation.turn,
            cycle_start: rotation.cycle_start,
            cycle_config: rotation.cycle_config,
        })
    }

    async fn record_assignment(&self, new: &NewLead) -> Result<(), RecordError> {
        let a = &new.assignment;
        let owner = &a.owner;
        let lead = LeadItem::new(new);
        let mut item = items::encode(&Key::lead(&new.lead_id), &lead)?;
        if let Some(deadline) = &new.deadline {
            item.extend(items::fields(&SlaFields::new(&new.lead_id, deadline))?);
        }
        let event = HistoryEntry {
            at: new.received_at.clone(),
            event: match (new.spam, owner) {
                (true, _) => "spam",
                (false, Owner::Rep { .. }) => "assigned",
                (false, Owner::Queue { .. }) => "queued",
            }
            .into(),
            reason: a.reason.clone(),
        };
        let mut tx = self.transaction();
        if let Some(contact) = &new.contact {
            contact_writes(&mut tx, contact, &new.lead_id, &new.received_at)?;
        }
        tx.put_new(item, Guard::Unique)?;
        assign::history(&mut tx, &new.lead_id, &event, "0001")?;
        let (claim, ticket) = (new.claim.as_ref(), new.ticket.as_ref());
        assign::claim(
            &mut tx,
            &new.lead_id,
            owner.id(),
            claim,
            ticket,
            &new.received_at,
        )?;
        assign::outbox(&mut tx, &new.lead_id, &new.notifications)?;
        if let Some((token, response)) = &new.idempotency {
            let completion = Completion {
                status: COMPLETED,
                response: &response.body,
                lead_id: &new.lead_id,
            };
            let update = Changes::set(&completion)?
                .on(tx.updating(&Key::idempotency(&token.key)))
                .condition_expression("#token = :token AND #status = :in_progress")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#token", "token")
                .expression_attribute_values(":in_progress", s(IN_PROGRESS))
                .expression_attribute_values(":token", s(&token.token));
            tx.update(update, Guard::Unique)?;
        }
        tx.commit(&self.client, claim).await
    }

    async fn get_lead(&self, lead_id: &str) -> StoreResult<Option<StoredLead>> {
        let (mut lead, mut history, mut notifications) = (None, Vec::new(), Vec::new());
        for item in self.lead_partition(lead_id).await? {
            match Key::of(&item).and_then(|key| LeadPart::of(&key.sk)) {
                Some(LeadPart::Lead) => lead = Some(items::decode::<LeadItem>(item)?),
                Some(LeadPart::Event) => history.push(items::decode::<HistoryEntry>(item)?),
                Some(LeadPart::Notification) => notifications.push(items::notification(item)?),
                None => {}
            }
        }
        let Some(lead) = lead else {
            return Ok(None);
        };
        Ok(Some(stored_lead(lead_id, lead, history, notifications)))
    }

    async fn change_status(
        &self,
        lead_id: &str,
        action: StatusAction,
        at: jiff::Timestamp,
        assignment: Option<u64>,
    ) -> StoreResult<StatusOutcome> {
        let key = Key::lead(lead_id);
        retry_conflicts(|| async {
            let Some(lead) = self.read::<LeadItem>(&key).await? else {
                return Ok(StatusOutcome::NotFound);
            };
            let status = lead.status();
            if assignment.is_some_and(|a| a != lead.assignment_no) {
                return Ok(StatusOutcome::Superseded);
            }
            let target = match lifecycle::transition(status, action) {
                Transition::To(target) => target,
                Transition::Unchanged => return Ok(StatusOutcome::Unchanged(status.to_string())),
                Transition::NotAllowed => return Ok(StatusOutcome::NotAllowed(status.to_string())),
            };
            let mut tx = self.transaction();
            // The SLA clock stops: the lead leaves the sweeper's index.
            let update = Changes::set(&status_change(&lead, action, target, at))?
                .remove(&["due_pk", "due_at"])
                .on(tx.updating(&key))
                .condition_expression(
                    "(#status = :seen OR (attribute_not_exists(#status) AND :seen = :open)) AND (attribute_not_exists(assignment_no) OR assignment_no = :number)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":seen", s(status.as_str()))
                .expression_attribute_values(":open", s(LeadStatus::Open.as_str()))
                .expression_attribute_values(":number", n(lead.assignment_no));
            tx.update(update, Guard::Lead)?;
            let event = target.as_str();
            let history = HistoryEntry {
                at: at.to_string(),
                event: event.into(),
                reason: match assignment {
                    Some(_) => format!("{event} by the owner's link"),
                    None => format!("{event} by an admin"),
                },
            };
            let suffix = format!("{:08x}", rand::random::<u32>());
            assign::history(&mut tx, lead_id, &history, &suffix)?;
            if status == LeadStatus::Open {
                // It no longer counts towards its owner's open leads.
                assign::open_leads_change(&mut tx, &lead.owner_id, -1)?;
            }
            // A conflict (someone changed the lead meanwhile) reads it again.
            tx.send(&self.client).await.map_err(classify)?;
            Ok(StatusOutcome::Changed(target.to_string()))
        })
        .await
    }
}

impl DynamoStore {
    /// Every item of a lead's partition: the lead, its history and its notifications.
    async fn lead_partition(&self, lead_id: &str) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(keys::lead_partition(lead_id)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

/// What acknowledging or closing `lead` at `at` sets: the status, when, and for an
/// acknowledgement the speed to lead and the owner's own time to acknowledge.
fn status_change(
    lead: &LeadItem,
    action: StatusAction,
    target: LeadStatus,
    at: jiff::Timestamp,
) -> StatusChange {
    let since = |t: &str| {
        t.parse::<jiff::Timestamp>()
            .ok()
            .map(|t| at.as_second() - t.as_second())
    };
    let acknowledging = action == StatusAction::Acknowledge;
    let to_owner = lead.assigned_at.as_deref().and_then(since);
    StatusChange {
        status: target,
        acknowledged_at: acknowledging.then(|| at.to_string()),
        closed_at: (!acknowledging).then(|| at.to_string()),
        time_to_ack_seconds: since(&lead.received_at).filter(|_| acknowledging),
        owner_ack_seconds: to_owner
            .or(since(&lead.received_at))
            .filter(|_| acknowledging),
    }
}

/// A lead as the store's callers see it.
fn stored_lead(
    lead_id: &str,
    lead: LeadItem,
    history: Vec<HistoryEntry>,
    mut notifications: Vec<crate::store::StoredNotification>,
) -> StoredLead {
    notifications.sort_by_key(|n| n.message.occurred_at);
    StoredLead {
        lead_id: lead_id.to_string(),
        status: lead.status().to_string(),
        source: lead.source,
        assigned_at: lead.assigned_at.unwrap_or_else(|| lead.received_at.clone()),
        received_at: lead.received_at,
        lead: lead.lead,
        assignment: lead.assignment,
        assignment_number: lead.assignment_no,
        escalations: lead.escalations,
        sla: lead.sla,
        sla_due_at: lead.sla_due_at,
        due_at: lead.due_at,
        owners: lead.owners,
        acknowledged_at: lead.acknowledged_at,
        time_to_ack_seconds: lead.time_to_ack_seconds,
        owner_ack_seconds: lead.owner_ack_seconds,
        history,
        notifications,
    }
}

/// A lead's side of its contact: create it, or count the lead, note it on the owning lead and
/// (if the earlier owner could not take it) hand the contact to this lead.
fn contact_writes(
    tx: &mut Transaction,
    contact: &ContactWrite,
    lead_id: &str,
    at: &str,
) -> StoreResult<()> {
    match contact {
        ContactWrite::New { key } => {
            let item = ContactItem {
                key: key.clone(),
                lead_id: lead_id.to_string(),
                last_lead_id: lead_id.to_string(),
                first_seen_at: at.to_string(),
                leads: 1,
            };
            tx.put_new(items::encode(&Key::contact(key), &item)?, Guard::Contact)
        }
        ContactWrite::Returning {
            key,
            owning_lead,
            take_over,
            note,
        } => {
            let mut expression = "ADD leads :one SET last_lead_id = :lead".to_string();
            if *take_over {
                expression.push_str(", lead_id = :lead");
            }
            let update = tx
                .updating(&Key::contact(key))
                .update_expression(expression)
                .condition_expression("lead_id = :owning")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":lead", s(lead_id))
                .expression_attribute_values(":owning", s(owning_lead));
            tx.update(update, Guard::Contact)?;
            assign::history(tx, owning_lead, note, lead_id)
        }
    }
}

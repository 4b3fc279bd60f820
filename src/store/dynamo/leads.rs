//! Leads ([`LeadStore`]): Idempotency-Key claims, pool tickets, the one transaction that
//! records a routed lead with everything that goes with it, reading a lead back, and
//! acknowledging or closing it.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde_dynamo::aws_sdk_dynamodb_1::from_item;

use super::assign::{self, owner_status};
use super::keys::{self, Key, LeadPart};
use super::tx::{retry_conflicts, Guard, Transaction};
use super::{classify, decode, encode, get_n, get_s, n, s, DynamoStore, Item};
use crate::domain::routing::Owner;
use crate::store::{
    ContactWrite, DueKind, HistoryEntry, IdempotencyClaim, IdempotencyToken, LeadStore, NewLead,
    RecordError, StatusAction, StatusOutcome, StoreError, StoreResult, StoredLead,
    StoredNotification, StoredResponse, Ticket,
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
        let mut item = Key::idempotency(&token.key).item();
        item.extend([
            ("status".into(), s("in_progress")),
            ("token".into(), s(&token.token)),
            ("request_hash".into(), s(request_hash)),
            ("lease_until".into(), n(now_epoch + lease_seconds)),
            ("expires_at".into(), n(now_epoch + keep_seconds)),
        ]);
        let claim = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // Free, expired by TTL time (TTL deletion lags), or abandoned by a crashed holder.
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at < :now OR (#status = :in_progress AND lease_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(now_epoch))
            .expression_attribute_values(":in_progress", s("in_progress"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let existing = match claim {
            Ok(_) => return Ok(IdempotencyClaim::Claimed),
            Err(SdkError::ServiceError(service))
                if service.err().is_conditional_check_failed_exception() =>
            {
                match service.into_err() {
                    PutItemError::ConditionalCheckFailedException(e) => e.item.unwrap_or_default(),
                    _ => Item::new(),
                }
            }
            Err(e) => return Err(classify(e)),
        };
        // Our own claim: the SDK retried the put after a lost answer, and the first attempt had
        // succeeded.
        if get_s(&existing, "token").as_deref() == Some(token.token.as_str())
            && get_s(&existing, "status").as_deref() == Some("in_progress")
        {
            return Ok(IdempotencyClaim::Claimed);
        }
        if get_s(&existing, "request_hash").as_deref() != Some(request_hash) {
            return Ok(IdempotencyClaim::Mismatch);
        }
        match (
            get_s(&existing, "status").as_deref(),
            get_s(&existing, "response"),
        ) {
            (Some("completed"), Some(body)) => {
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
            .expression_attribute_values(":in_progress", s("in_progress"))
            .send()
            .await;
        // Not ours any more (completed, or taken over): nothing to give back.
        super::applied(result.map_err(classify)).map(|_| ())
    }

    async fn claim_next_turn(&self, pool: &str) -> StoreResult<Ticket> {
        let out = self
            .update(&Key::rotation(pool))
            .update_expression("ADD turn :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        let attributes = out.attributes.unwrap_or_default();
        let turn = get_n(&attributes, "turn")
            .ok_or_else(|| StoreError::Corrupt("rotation counter returned no turn".into()))?;
        Ok(Ticket {
            turn: turn as u64,
            cycle_start: get_n(&attributes, "cycle_start").unwrap_or(0) as u64,
            cycle_config: get_n(&attributes, "cycle_config").unwrap_or(0) as u64,
        })
    }

    async fn record_assignment(&self, new: &NewLead) -> Result<(), RecordError> {
        let a = &new.assignment;
        let (owner_kind, status) = owner_status(&a.owner);
        let status = if new.spam { "spam" } else { status };
        let owner_id = a.owner.id();
        let owners: Vec<AttributeValue> = match &a.owner {
            Owner::Rep { id, .. } => vec![s(id)],
            Owner::Queue { .. } => vec![],
        };
        let mut lead_item = Key::lead(&new.lead_id).item();
        lead_item.extend([
            ("lead_id".into(), s(&new.lead_id)),
            ("source".into(), s(&new.source)),
            ("received_at".into(), s(&new.received_at)),
            ("assigned_at".into(), s(&new.received_at)),
            ("owner_kind".into(), s(owner_kind)),
            ("owner_id".into(), s(owner_id)),
            ("status".into(), s(status)),
            ("assignment_no".into(), n(1)),
            ("escalations".into(), n(0)),
            ("owners".into(), AttributeValue::L(owners)),
            ("lead".into(), encode(&new.lead)?),
            ("assignment".into(), encode(a)?),
        ]);
        if let Some(deadline) = &new.deadline {
            lead_item.insert("sla".into(), encode(&deadline.policy)?);
            lead_item.insert("sla_due_at".into(), s(deadline.due.to_string()));
            lead_item.insert("due_pk".into(), s(keys::due_pk(DueKind::Sla, &new.lead_id)));
            lead_item.insert("due_at".into(), n(deadline.due.as_second()));
        }
        if let Some(contact) = &new.contact {
            let key = match contact {
                ContactWrite::New { key } | ContactWrite::Returning { key, .. } => key,
            };
            lead_item.insert("contact".into(), s(key));
            if let ContactWrite::Returning { owning_lead, .. } = contact {
                lead_item.insert("returning_of".into(), s(owning_lead));
            }
        }
        let event = HistoryEntry {
            at: new.received_at.clone(),
            event: match (new.spam, owner_kind) {
                (true, _) => "spam",
                (false, "rep") => "assigned",
                (false, _) => "queued",
            }
            .into(),
            reason: a.reason.clone(),
        };
        let mut tx = self.transaction();
        if let Some(contact) = &new.contact {
            contact_writes(&mut tx, contact, &new.lead_id, &new.received_at)?;
        }
        tx.put_new(lead_item, Guard::Unique)?;
        assign::history(&mut tx, &new.lead_id, &event, "0001")?;
        assign::claim(
            &mut tx,
            &new.lead_id,
            owner_id,
            new.claim.as_ref(),
            new.ticket.as_ref(),
            &new.received_at,
        )?;
        assign::outbox(&mut tx, &new.lead_id, &new.notifications)?;
        if let Some((token, response)) = &new.idempotency {
            let update = tx
                .updating(&Key::idempotency(&token.key))
                .update_expression(
                    "SET #status = :completed, #response = :response, lead_id = :lead",
                )
                .condition_expression("#token = :token AND #status = :in_progress")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#token", "token")
                .expression_attribute_names("#response", "response")
                .expression_attribute_values(":completed", s("completed"))
                .expression_attribute_values(":in_progress", s("in_progress"))
                .expression_attribute_values(":response", s(&response.body))
                .expression_attribute_values(":lead", s(&new.lead_id))
                .expression_attribute_values(":token", s(&token.token));
            tx.update(update, Guard::Unique)?;
        }
        tx.commit(&self.client, new.claim.as_ref()).await
    }

    async fn get_lead(&self, lead_id: &str) -> StoreResult<Option<StoredLead>> {
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
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        let part = |i: &Item| get_s(i, "sk").and_then(|sk| LeadPart::of(&sk));
        let Some(main) = items.iter().find(|i| part(i) == Some(LeadPart::Lead)) else {
            return Ok(None);
        };
        let history = items
            .iter()
            .filter(|i| part(i) == Some(LeadPart::Event))
            .map(|i| {
                from_item(i.clone()).map_err(|e| StoreError::Corrupt(format!("decode event: {e}")))
            })
            .collect::<StoreResult<Vec<HistoryEntry>>>()?;
        let mut notifications = items
            .iter()
            .filter(|i| part(i) == Some(LeadPart::Notification))
            .map(notification_of)
            .collect::<StoreResult<Vec<_>>>()?;
        notifications.sort_by_key(|n| n.message.occurred_at);
        let received_at = get_s(main, "received_at").unwrap_or_default();
        Ok(Some(StoredLead {
            lead_id: lead_id.to_string(),
            source: get_s(main, "source").unwrap_or_default(),
            assigned_at: get_s(main, "assigned_at").unwrap_or_else(|| received_at.clone()),
            received_at,
            status: lead_status(main),
            lead: decode(main, "lead")?,
            assignment: decode(main, "assignment")?,
            assignment_number: get_n(main, "assignment_no").unwrap_or(1) as u64,
            escalations: get_n(main, "escalations").unwrap_or(0) as u32,
            sla: match main.get("sla") {
                Some(_) => Some(decode(main, "sla")?),
                None => None,
            },
            sla_due_at: get_s(main, "sla_due_at"),
            due_at: get_n(main, "due_at"),
            owners: main
                .get("owners")
                .and_then(|o| o.as_l().ok())
                .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
                .unwrap_or_default(),
            acknowledged_at: get_s(main, "acknowledged_at"),
            time_to_ack_seconds: get_n(main, "time_to_ack_seconds"),
            owner_ack_seconds: get_n(main, "owner_ack_seconds"),
            history,
            notifications,
        }))
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
            let Some(item) = self.get(&key).await? else {
                return Ok(StatusOutcome::NotFound);
            };
            let status = lead_status(&item);
            let number = get_n(&item, "assignment_no").unwrap_or(1) as u64;
            if assignment.is_some_and(|a| a != number) {
                return Ok(StatusOutcome::Superseded);
            }
            let (target, stamp, event) = match action {
                StatusAction::Acknowledge => ("acknowledged", "acknowledged_at", "acknowledged"),
                StatusAction::Close => ("closed", "closed_at", "closed"),
            };
            if status == target {
                return Ok(StatusOutcome::Unchanged(status));
            }
            if action == StatusAction::Acknowledge && status != "open" {
                return Ok(StatusOutcome::NotAllowed(status));
            }
            if status == "closed" {
                return Ok(StatusOutcome::NotAllowed(status));
            }
            let mut tx = self.transaction();
            let mut expression = format!("SET #status = :target, {stamp} = :at");
            let mut lead = tx
                .updating(&key)
                .condition_expression(
                    "(#status = :seen OR (attribute_not_exists(#status) AND :seen = :open)) AND (attribute_not_exists(assignment_no) OR assignment_no = :number)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":target", s(target))
                .expression_attribute_values(":at", s(at.to_string()))
                .expression_attribute_values(":seen", s(&status))
                .expression_attribute_values(":open", s("open"))
                .expression_attribute_values(":number", n(number));
            if action == StatusAction::Acknowledge {
                let since = |key: &str| {
                    get_s(&item, key)
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .map(|t| at.as_second() - t.as_second())
                };
                if let Some(seconds) = since("received_at") {
                    expression.push_str(", time_to_ack_seconds = :to_ack");
                    lead = lead.expression_attribute_values(":to_ack", n(seconds));
                }
                if let Some(seconds) = since("assigned_at").or(since("received_at")) {
                    expression.push_str(", owner_ack_seconds = :owner_ack");
                    lead = lead.expression_attribute_values(":owner_ack", n(seconds));
                }
            }
            // The SLA clock stops: the lead leaves the sweeper's index.
            expression.push_str(" REMOVE due_pk, due_at");
            tx.update(lead.update_expression(expression), Guard::Lead)?;
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
            if status == "open" {
                // It no longer counts towards its owner's open leads.
                let owner = get_s(&item, "owner_id").unwrap_or_default();
                assign::open_leads_change(&mut tx, &owner, -1)?;
            }
            // A conflict (someone changed the lead meanwhile) reads it again.
            tx.send(&self.client).await.map_err(classify)?;
            Ok(StatusOutcome::Changed(target.to_string()))
        })
        .await
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
            let mut item = Key::contact(key).item();
            item.extend([
                ("key".into(), s(key)),
                ("lead_id".into(), s(lead_id)),
                ("last_lead_id".into(), s(lead_id)),
                ("first_seen_at".into(), s(at)),
                ("leads".into(), n(1)),
            ]);
            tx.put_new(item, Guard::Contact)
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

/// A notification item as the store's callers see it.
pub(super) fn notification_of(item: &Item) -> StoreResult<StoredNotification> {
    let status = get_s(item, "status").unwrap_or_default();
    Ok(StoredNotification {
        lead_id: get_s(item, "lead_id").unwrap_or_default(),
        channel: decode(item, "channel")?,
        message: decode(item, "message")?,
        attempts: get_n(item, "attempts").unwrap_or(0) as u32,
        last_error: get_s(item, "last_error"),
        delivered_at: get_s(item, "delivered_at"),
        next_attempt_at: (status == "pending")
            .then(|| get_n(item, "due_at"))
            .flatten(),
        status,
    })
}

/// A lead's status; leads stored before statuses existed are open (rep) or queued.
fn lead_status(item: &Item) -> String {
    get_s(item, "status").unwrap_or_else(|| {
        match get_s(item, "owner_kind").as_deref() {
            Some("rep") => "open",
            _ => "queued",
        }
        .to_string()
    })
}

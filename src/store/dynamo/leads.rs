//! Leads ([`LeadStore`]): the one transaction that records a routed lead with everything that
//! goes with it (only if its id is free: the claim's fence), reading a lead back, acknowledging or closing it (the
//! transition itself is `domain::lifecycle`'s), and contacts.

use async_trait::async_trait;
use jiff::Timestamp;

use super::assign;
use super::attr::{n, s, Item};
use super::classify::classify;
use super::client::DynamoStore;
use super::items::{self, Changes, ContactItem, LeadItem, OutcomeChange, StatusChange};
use super::keys::{self, Key, LeadPart};
use super::tx::{retry_conflicts, Guard, Transaction};
use crate::domain::lifecycle::{self, Transition};
use crate::domain::model::{HistoryEvent, LeadStatus, Outcome};
use crate::store::{
    ActivityOutcome, ActivityRecord, CommitError, Contact, ContactWrite, HistoryEntry, LeadStore,
    NewLead, OutcomeRecord, StatusAction, StatusOutcome, StoreResult, StoredLead,
};

#[async_trait]
impl LeadStore for DynamoStore {
    async fn record_assignment(&self, new: &NewLead) -> Result<(), CommitError> {
        let a = &new.assignment;
        let owner = &a.owner;
        let lead = LeadItem::new(new);
        let item = lead.item(new.deadline.as_ref())?;
        let mut tx = self.transaction();
        if let Some(contact) = &new.contact {
            contact_writes(&mut tx, contact, &new.lead_id, new.received_at)?;
        }
        // The lead's id is minted once per request: if it exists, this transaction committed.
        // The first history entry lives on the lead (`first_event`).
        tx.put_new(item, Guard::NewLead)?;
        let (claim, ticket) = (new.claim.as_ref(), new.ticket.as_ref());
        let on_entry = assign::claim(
            &mut tx,
            &new.lead_id,
            owner.id(),
            claim,
            ticket,
            &new.passed,
            new.received_at,
            &|rep, pool| self.turn_entries.is_full(rep, pool),
        )?;
        assign::outbox(&mut tx, &new.lead_id, new.received_at, &new.notifications)?;
        self.commit_assignment(&tx, claim, ticket, on_entry).await
    }

    async fn get_lead(&self, lead_id: &str) -> StoreResult<Option<StoredLead>> {
        let (mut lead, mut history, mut notifications) = (None, Vec::new(), Vec::new());
        for item in self.lead_partition(lead_id).await? {
            match Key::of(&item).and_then(|key| LeadPart::of(&key.sk)) {
                Some(LeadPart::Lead) => lead = items::lead(item)?,
                Some(LeadPart::Event) => history.push(items::decode::<HistoryEntry>(item)?),
                Some(LeadPart::Notification) => notifications.extend(items::notifications(item)?),
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
        at: Timestamp,
        assignment: Option<u64>,
    ) -> StoreResult<StatusOutcome> {
        let key = Key::lead(lead_id);
        retry_conflicts(|| async {
            let Some(lead) = self.read_lead(&key).await? else {
                return Ok(StatusOutcome::NotFound);
            };
            let status = lead.status();
            if assignment.is_some_and(|a| a != lead.assignment_no) {
                return Ok(StatusOutcome::Superseded);
            }
            let target = match lifecycle::transition(status, action) {
                Transition::To(target) => target,
                Transition::Unchanged => return Ok(StatusOutcome::Unchanged(status)),
                Transition::NotAllowed => return Ok(StatusOutcome::NotAllowed(status)),
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
            let event = match action {
                StatusAction::Acknowledge => HistoryEvent::Acknowledged,
                StatusAction::Close => HistoryEvent::Closed,
            };
            let history = HistoryEntry {
                at,
                event,
                reason: match assignment {
                    Some(_) => format!("{target} by the owner's link"),
                    None => format!("{target} by an admin"),
                },
            };
            let suffix = assign::later_suffix();
            assign::history(&mut tx, lead_id, &history, &suffix)?;
            if status == LeadStatus::Open {
                // It no longer counts towards its owner's open leads.
                assign::open_leads_change(&mut tx, &lead.owner_id, -1)?;
            }
            // A conflict (someone changed the lead meanwhile) reads it again.
            tx.send(&self.client).await.map_err(classify)?;
            Ok(StatusOutcome::Changed(target))
        })
        .await
    }

    async fn record_outcome(&self, lead_id: &str, record: &OutcomeRecord) -> StoreResult<bool> {
        let key = Key::lead(lead_id);
        retry_conflicts(|| async {
            let Some(lead) = self.read_lead(&key).await? else {
                return Ok(false);
            };
            let mut stages = lead.stages.clone();
            if !stages.contains(&record.outcome) {
                stages.push(record.outcome);
                stages.sort();
            }
            let change = OutcomeChange {
                outcome: record.outcome,
                outcome_at: record.at,
                stages: &stages,
                won_value: record.value.filter(|_| record.outcome == Outcome::Won),
            };
            let mut tx = self.transaction();
            // Stages only grow: the write holds only if nobody added one since the read.
            let mut update = Changes::set(&change)?.on(tx.updating(&key));
            update = if lead.stages.is_empty() {
                update.condition_expression("attribute_exists(pk) AND attribute_not_exists(stages)")
            } else {
                update
                    .condition_expression("stages = :seen")
                    .expression_attribute_values(":seen", items::attribute(&lead.stages)?)
            };
            tx.update(update, Guard::Lead)?;
            let mut reason = format!("{} recorded by {}", record.outcome.as_str(), record.by);
            if let Some(value) = record.value {
                reason.push_str(&format!(" (value {value})"));
            }
            if let Some(why) = &record.reason {
                reason.push_str(&format!(": {why}"));
            }
            let history = HistoryEntry {
                at: record.at,
                event: HistoryEvent::Outcome,
                reason,
            };
            let suffix = assign::later_suffix();
            assign::history(&mut tx, lead_id, &history, &suffix)?;
            tx.send(&self.client).await.map_err(classify)?;
            Ok(true)
        })
        .await
    }

    async fn record_activity(
        &self,
        lead_id: &str,
        activity: &ActivityRecord,
    ) -> StoreResult<ActivityOutcome> {
        let key = Key::lead(lead_id);
        retry_conflicts(|| async {
            let Some(lead) = self.read_lead(&key).await? else {
                return Ok(ActivityOutcome::NotFound);
            };
            let status = lead.status();
            let mut tx = self.transaction();
            let mut reason = format!("{} reported by {}", activity.kind.as_str(), activity.by);
            if let Some(note) = &activity.note {
                reason.push_str(&format!(": {note}"));
            }
            let outcome = if status == LeadStatus::Open {
                // The owner's first touch, at the activity's time (never before they got it).
                let assigned = lead.assigned_at.unwrap_or(lead.received_at);
                let at = activity.at.max(assigned);
                let change =
                    status_change(&lead, StatusAction::Acknowledge, LeadStatus::Acknowledged, at);
                let sla = change.sla_state;
                let update = Changes::set(&change)?
                    .remove(&["due_pk", "due_at"])
                    .on(tx.updating(&key))
                    .condition_expression(
                        "(#status = :open OR attribute_not_exists(#status)) AND (attribute_not_exists(assignment_no) OR assignment_no = :number)",
                    )
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":open", s(LeadStatus::Open.as_str()))
                    .expression_attribute_values(":number", n(lead.assignment_no));
                tx.update(update, Guard::Lead)?;
                assign::open_leads_change(&mut tx, &lead.owner_id, -1)?;
                reason.push_str(match sla {
                    Some(crate::domain::model::SlaState::Met) => {
                        " (first touch: the SLA clock stopped in time)"
                    }
                    Some(crate::domain::model::SlaState::Breached) => {
                        " (first touch, after the deadline: the SLA stays breached)"
                    }
                    _ => " (first touch)",
                });
                ActivityOutcome::ClockStopped(sla)
            } else {
                ActivityOutcome::Recorded(status)
            };
            let history = HistoryEntry {
                at: activity.at,
                event: HistoryEvent::Activity,
                reason,
            };
            assign::history(&mut tx, lead_id, &history, &assign::later_suffix())?;
            tx.send(&self.client).await.map_err(classify)?;
            Ok(outcome)
        })
        .await
    }

    async fn contact(&self, key: &str) -> StoreResult<Option<Contact>> {
        let item: Option<ContactItem> = self.read(&Key::contact(key)).await?;
        Ok(item.map(ContactItem::contact))
    }
}

impl DynamoStore {
    /// Commits an assignment's transaction, whose new ticket goes on the owner's entry if
    /// `on_entry`, and notes where it went (see `DynamoStore::noted_turn`).
    pub(super) async fn commit_assignment(
        &self,
        tx: &super::tx::Transaction,
        claim: Option<&crate::domain::model::RepClaim>,
        ticket: Option<&crate::domain::routing::PoolTicket>,
        on_entry: bool,
    ) -> Result<(), CommitError> {
        let found_full = tx.commit_noting_full_turns(&self.client, claim).await?;
        if let Some((rep, pool)) = assign::ticket_entry(claim, ticket).filter(|_| on_entry) {
            self.noted_turn(rep, pool, found_full);
        }
        Ok(())
    }

    /// Every item of a lead's partition: the lead, its history and its notifications.
    async fn lead_partition(&self, lead_id: &str) -> StoreResult<Vec<Item>> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::lead_partition(lead_id)))
            .consistent_read(true);
        self.query_all(query).await
    }
}

/// What acknowledging or closing `lead` at `at` sets: the status, when, for an
/// acknowledgement the speed to lead and the owner's own time to acknowledge, and where its
/// SLA ends up.
fn status_change(
    lead: &LeadItem,
    action: StatusAction,
    target: LeadStatus,
    at: Timestamp,
) -> StatusChange {
    let acknowledging = action == StatusAction::Acknowledge;
    let since = |t: Timestamp| at.as_second() - t.as_second();
    let assigned = lead.assigned_at.unwrap_or(lead.received_at);
    // The first touch settles a running SLA: met in time, breached after the deadline.
    let sla_state = lead
        .sla_state
        .map(|s| s.settled(at.as_second(), lead.sla_due_at.map(|d| d.as_second())));
    StatusChange {
        status: target,
        acknowledged_at: acknowledging.then_some(at),
        closed_at: (!acknowledging).then_some(at),
        time_to_ack_seconds: acknowledging.then(|| since(lead.received_at)),
        owner_ack_seconds: acknowledging.then(|| since(assigned)),
        sla_state,
    }
}

/// The lead a table item holds, as [`LeadStore::get_lead`] answers it but without the history
/// and notifications kept in items of their own: for tools and tests that read a table's
/// items directly (a lead's item leaves out what the rest of it says, and this puts it back).
/// `None` for an item that holds no lead (another item of its partition, or a fence).
pub fn lead_of_item(item: Item) -> StoreResult<Option<StoredLead>> {
    let is_lead = Key::of(&item).and_then(|key| LeadPart::of(&key.sk)) == Some(LeadPart::Lead);
    if !is_lead {
        return Ok(None);
    }
    Ok(items::lead(item)?.map(|lead| {
        let lead_id = lead.lead_id.clone();
        stored_lead(&lead_id, lead, Vec::new(), Vec::new())
    }))
}

/// A lead as the store's callers see it.
fn stored_lead(
    lead_id: &str,
    lead: LeadItem,
    mut history: Vec<HistoryEntry>,
    mut notifications: Vec<crate::store::StoredNotification>,
) -> StoredLead {
    notifications.sort_by_key(|n| n.message.occurred_at);
    let stints = lead.stints();
    let first_inline = lead.first_event.is_some();
    if let Some(event) = lead.first_event {
        let first = HistoryEntry {
            at: lead.received_at,
            event,
            reason: lead.assignment.reason.clone(),
        };
        history.insert(0, first);
    }
    StoredLead {
        lead_id: lead_id.to_string(),
        status: lead.status(),
        source: lead.source,
        assigned_at: lead.assigned_at.unwrap_or(lead.received_at),
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
        closed_at: lead.closed_at,
        sla_state: lead.sla_state,
        sla_step: lead.sla_step,
        first_inline,
        stints,
        outcome: lead.outcome,
        stages: lead.stages,
        won_value: lead.won_value,
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
    at: Timestamp,
) -> StoreResult<()> {
    match contact {
        ContactWrite::New { key, mark } => {
            let item = ContactItem {
                key: key.clone(),
                lead_id: lead_id.to_string(),
                last_lead_id: lead_id.to_string(),
                first_seen_at: at,
                leads: 1,
                submission: mark.as_ref().map(|m| m.submission.clone()),
            };
            tx.put_new(items::encode(&Key::contact(key), &item)?, Guard::Contact)
        }
        ContactWrite::Returning {
            key,
            owning_lead,
            take_over,
            note,
            mark,
        } => {
            let mut expression = "ADD leads :one SET last_lead_id = :lead".to_string();
            if *take_over {
                expression.push_str(", lead_id = :lead");
            }
            let mut condition = "lead_id = :owning".to_string();
            let mut update = tx.updating(&Key::contact(key));
            if let Some(mark) = mark {
                // The same submission within the window stored its lead already: refused.
                expression.push_str(", submission = :submission");
                condition.push_str(
                    " AND (attribute_not_exists(submission) OR submission.#hash <> :hash OR submission.#at < :since)",
                );
                update = update
                    .expression_attribute_names("#hash", "hash")
                    .expression_attribute_names("#at", "at")
                    .expression_attribute_values(":submission", items::attribute(&mark.submission)?)
                    .expression_attribute_values(":hash", s(&mark.submission.hash))
                    .expression_attribute_values(":since", n(mark.same_since));
            }
            let update = update
                .update_expression(expression)
                .condition_expression(condition)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":lead", s(lead_id))
                .expression_attribute_values(":owning", s(owning_lead));
            tx.update(update, Guard::Contact)?;
            assign::history(tx, owning_lead, note, lead_id)
        }
    }
}

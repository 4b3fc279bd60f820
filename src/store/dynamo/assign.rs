//! The writes every assignment shares, new lead or reassignment: the new owner's ticket, roster
//! entry and cap counters (the conditions that may refuse the rep), a history entry, the
//! outbox, and the open-lead count of a rep who loses a lead.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use jiff::Timestamp;

use super::attr::{n, s};
use super::items::{self, Due, LogKeys, TurnItem};
use super::keys::{self, Key};
use super::turns::TURNS_ON_REP_MAX;
use super::tx::{Guard, Transaction};
use crate::domain::model::RepClaim;
use crate::domain::routing::PoolTicket;
use crate::store::{DueKind, HistoryEntry, Outgoing, StoreResult};

/// How long a cap counter is kept after its period (DynamoDB's TTL deletes it afterwards).
const CAP_COUNTER_TTL_SECONDS: i64 = 9 * 24 * 60 * 60;

/// Adds a history entry to a lead; `suffix` keeps entries of the same instant apart.
pub(super) fn history(
    tx: &mut Transaction,
    lead_id: &str,
    entry: &HistoryEntry,
    suffix: &str,
) -> StoreResult<()> {
    let item = items::encode(&Key::event(lead_id, &entry.at.to_string(), suffix), entry)?;
    tx.put_new(item, Guard::Unique)
}

/// A history suffix that keeps entries of the same instant in the order this process made
/// them (a UUIDv7: time-ordered, and ordered within the process).
pub(super) fn later_suffix() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// One more or one fewer open lead for a rep.
pub(super) fn open_leads_change(tx: &mut Transaction, rep: &str, by: i64) -> StoreResult<()> {
    let update = tx
        .updating(&Key::rep(rep))
        .update_expression("ADD #open :by")
        .expression_attribute_names("#open", "open")
        .expression_attribute_values(":by", n(by));
    tx.update(update, Guard::Unique)
}

/// The rep and pool whose entry the new ticket of `claim` may be recorded on.
pub(super) fn ticket_entry<'a>(
    claim: Option<&'a RepClaim>,
    ticket: Option<&'a PoolTicket>,
) -> Option<(&'a str, &'a str)> {
    let (claim, ticket) = (claim?, ticket?);
    (claim.pool.as_deref() == Some(ticket.pool.as_str()))
        .then_some((claim.rep.as_str(), ticket.pool.as_str()))
}

/// The new owner's side of an assignment: the tickets the lead takes (the one it uses and
/// those of pools it passed through), the owner's roster entry (membership, load bound) and
/// cap counters.
///
/// A new ticket (the counter hands each out once) is recorded on the rep's entry, which the
/// assignment updates anyway, so it costs no write of its own; the rotation repair reads it
/// there. A ticket that was given back and adopted may be held by another lead too (it can be
/// given back twice), and one spent passing through a pool has no rep: each gets a `TURN#`
/// record that exists at most once. If the rep's entry already holds
/// [`TURNS_ON_REP_MAX`] tickets, the transaction records a new ticket that way too; and so
/// does every new ticket while `entry_full` says this process found that entry full. True
/// when the new ticket goes on the rep's entry.
#[allow(clippy::too_many_arguments)]
pub(super) fn claim(
    tx: &mut Transaction,
    lead_id: &str,
    owner_id: &str,
    claim: Option<&RepClaim>,
    ticket: Option<&PoolTicket>,
    passed: &[PoolTicket],
    at: Timestamp,
    entry_full: &dyn Fn(&str, &str) -> bool,
) -> StoreResult<bool> {
    let on_rep = ticket.filter(|t| {
        !t.adopted && ticket_entry(claim, Some(t)).is_some_and(|(rep, pool)| !entry_full(rep, pool))
    });
    let record = |ticket: &PoolTicket, passed: bool| -> StoreResult<_> {
        let record = TurnItem {
            lead_id,
            owner_id,
            at,
            passed: passed.then_some(true),
        };
        items::encode(&Key::turn(&ticket.pool, ticket.turn), &record)
    };
    let used = ticket.filter(|_| on_rep.is_none()).map(|t| (t, false));
    for (ticket, passed) in used.into_iter().chain(passed.iter().map(|t| (t, true))) {
        // A ticket is taken by exactly one stored lead.
        tx.put_new(record(ticket, passed)?, Guard::Ticket)?;
    }
    if let Some(claim) = claim {
        match on_rep {
            Some(ticket) => {
                let index = tx.len();
                roster(tx, claim, Some(ticket.turn), true, at)?;
                let plain = roster_update(tx, claim, Some(ticket.turn), false, at)?;
                let turns = keys::turns_attribute(&ticket.pool);
                tx.on_full_turns(
                    index,
                    plain,
                    record(ticket, false)?,
                    turns,
                    TURNS_ON_REP_MAX,
                )?;
            }
            None => roster(tx, claim, ticket.map(|t| t.turn), false, at)?,
        }
        let expires = jiff::Timestamp::now().as_second() + CAP_COUNTER_TTL_SECONDS;
        for cap in &claim.caps {
            let update = tx
                .updating(&Key::cap(&claim.rep, cap.period, &cap.key))
                .update_expression("ADD #n :one SET expires_at = :expires")
                .condition_expression("attribute_not_exists(#n) OR #n < :limit")
                .expression_attribute_names("#n", "assigned")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":limit", n(cap.limit))
                .expression_attribute_values(":expires", n(expires));
            tx.update(update, Guard::Cap(cap.period))?;
        }
    }
    Ok(on_rep.is_some())
}

/// The rep's side of an assignment: one more open lead, allowed only while the rep is active,
/// still in the pool, and (for `least_loaded`) no more loaded than the bound; with
/// `turn_on_rep`, the ticket joins the rep's `turns:<pool>` while they hold fewer than
/// [`TURNS_ON_REP_MAX`].
fn roster(
    tx: &mut Transaction,
    claim: &RepClaim,
    ticket: Option<u64>,
    turn_on_rep: bool,
    at: Timestamp,
) -> StoreResult<()> {
    let update = roster_update(tx, claim, ticket, turn_on_rep, at)?;
    tx.push_update(update, Guard::Roster);
    Ok(())
}

/// The update [`roster`] adds.
fn roster_update(
    tx: &Transaction,
    claim: &RepClaim,
    ticket: Option<u64>,
    turn_on_rep: bool,
    at: Timestamp,
) -> StoreResult<aws_sdk_dynamodb::types::Update> {
    let mut update = tx
        .updating(&Key::rep(&claim.rep))
        .expression_attribute_names("#active", "active")
        .expression_attribute_names("#open", "open")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":at", s(at.to_string()))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    let (mut add, mut set) = ("ADD #open :one", "SET last_assigned_at = :at".to_string());
    let mut turns_room = "";
    if let (Some(pool), Some(ticket)) = (&claim.pool, ticket) {
        set.push_str(", #ticket = :ticket");
        update = update
            .expression_attribute_names("#ticket", keys::ticket_attribute(pool))
            .expression_attribute_values(":ticket", n(ticket));
        if turn_on_rep {
            add = "ADD #open :one, #turns :turns";
            turns_room = " AND (attribute_not_exists(#turns) OR size(#turns) < :turns_max)";
            update = update
                .expression_attribute_names("#turns", keys::turns_attribute(pool))
                .expression_attribute_values(":turns", AttributeValue::Ns(vec![ticket.to_string()]))
                .expression_attribute_values(":turns_max", n(TURNS_ON_REP_MAX as u64));
        }
    }
    update = update.update_expression(format!("{add} {set}"));
    let member = match &claim.pool {
        Some(pool) => {
            update = update
                .expression_attribute_names("#pools", "pools")
                .expression_attribute_values(":pool", s(pool));
            "#active = :yes AND contains(#pools, :pool)"
        }
        None => "#active = :yes",
    };
    // A rep without a roster entry was never seen by a publish of this version (an upgrade):
    // the config alone decides. Every publish writes every rep's entry.
    let mut condition = format!("(({member}) OR attribute_not_exists(#active))");
    if let Some(max) = claim.max_open {
        condition.push_str(" AND (attribute_not_exists(#open) OR #open <= :max)");
        update = update.expression_attribute_values(":max", n(max));
    }
    condition.push_str(turns_room);
    update
        .condition_expression(condition)
        .build()
        .map_err(super::attr::invalid)
}

/// Outbox entries: one item per event (every channel's delivery on it), due for the sweeper
/// at `first_sweep_at`, each in the log index right after its lead (which arrived at
/// `received_at`).
pub(super) fn outbox(
    tx: &mut Transaction,
    lead_id: &str,
    received_at: Timestamp,
    notifications: &[Outgoing],
) -> StoreResult<()> {
    let (log_pk, lead_log_sk) = keys::log_keys(lead_id, received_at);
    for outgoing in notifications {
        let due = Due {
            due_pk: Some(keys::due_pk(DueKind::Outbox, lead_id)),
            due_at: Some(outgoing.first_sweep_at),
        };
        let log = LogKeys {
            log_pk: log_pk.clone(),
            log_sk: keys::notification_log_sk(&lead_log_sk, &outgoing.message.event_id),
        };
        let mut item = items::notification_item(lead_id, outgoing)?;
        item.extend(items::fields(&due)?);
        item.extend(items::fields(&log)?);
        tx.put_new(item, Guard::Unique)?;
    }
    Ok(())
}

//! One TransactWriteItems: its writes, what a failed condition on each would mean, and the
//! commit that turns a cancelled transaction into a [`Refusal`], a [`Stale`] or a typed error.
//! Also the bounded, jittered retry of writes that lost a race.

use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::builders::{PutBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{CancellationReason, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;

use super::attr::{invalid, Item};
use super::classify::classify;
use super::items::{self, RepState};
use super::keys::Key;
use crate::domain::model::{Period, Refusal, RepClaim};
use crate::store::{CommitError, Stale, StoreError, StoreResult};

/// Attempts for a write that meets a conflicting one before giving up.
const MAX_CONFLICT_ATTEMPTS: u32 = 6;

/// What a failed condition on one write of a transaction means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Guard {
    /// A failure here is a bug (a history entry, an outbox item, a counter).
    Unique,
    /// A new lead's own item (or the fence of its id): it exists, so the claim's lead is
    /// stored (by an earlier attempt of this transaction, or a retry that took the claim over).
    NewLead,
    /// The Idempotency-Key claim a failed request gives back: it no longer holds it.
    Claim,
    /// The record of a pool ticket: another lead used it.
    Ticket,
    /// The rep's roster and load entry.
    Roster,
    /// A cap counter.
    Cap(Period),
    /// The lead item of a reassignment (still open with the assignment seen).
    Lead,
    /// The lead's contact (new, or still owned through the lead seen).
    Contact,
}

/// The writes of one transaction with what a failed condition on each would mean.
#[derive(Clone)]
pub(super) struct Transaction {
    table: String,
    items: Vec<TransactWriteItem>,
    guards: Vec<Guard>,
    full_turns: Option<FullTurns>,
}

/// What a transaction that records a new ticket on its rep's entry does instead when that
/// entry already holds as many as it may (see `turns::TURNS_ON_REP_MAX`): the rep's update
/// without the ticket, and the ticket's own `TURN#` record.
#[derive(Clone)]
struct FullTurns {
    /// The position of the rep's update.
    index: usize,
    /// The rep's update without the ticket.
    plain: Update,
    /// The ticket's record.
    record: Put,
    /// The rep's attribute that holds the tickets.
    attribute: String,
    /// How many it may hold.
    max: usize,
}

/// How one attempt at a transaction failed.
enum Failed {
    /// As the commit answers it.
    Commit(CommitError),
    /// Only because the rep's entry holds as many tickets as it may.
    TurnsFull,
}

impl Transaction {
    /// An empty transaction on `table`.
    pub fn new(table: &str) -> Self {
        Self {
            table: table.to_string(),
            items: Vec::new(),
            guards: Vec::new(),
            full_turns: None,
        }
    }

    /// How many writes it has.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Adds a built update.
    pub fn push_update(&mut self, update: Update, guard: Guard) {
        self.push(TransactWriteItem::builder().update(update).build(), guard);
    }

    /// Says what to write instead if the rep's update at `index`, which adds a new ticket to
    /// the rep's `attribute`, is refused only because that already holds the most it may:
    /// `plain` instead of it, and `record`, the ticket's own record, put if it does not exist.
    pub fn on_full_turns(
        &mut self,
        index: usize,
        plain: Update,
        record: Item,
        attribute: String,
        max: usize,
    ) -> StoreResult<()> {
        let record = Put::builder()
            .condition_expression("attribute_not_exists(pk)")
            .table_name(&self.table)
            .set_item(Some(record))
            .build()
            .map_err(invalid)?;
        self.full_turns = Some(FullTurns {
            index,
            plain,
            record,
            attribute,
            max,
        });
        Ok(())
    }

    /// An update of the item at `key`, to finish and [`Transaction::update`].
    pub fn updating(&self, key: &Key) -> UpdateBuilder {
        updating(&self.table, key)
    }

    /// Adds an update.
    pub fn update(&mut self, update: UpdateBuilder, guard: Guard) -> StoreResult<()> {
        let update = update.build().map_err(invalid)?;
        self.push(TransactWriteItem::builder().update(update).build(), guard);
        Ok(())
    }

    /// Adds a put of `item`, refused if an item with its key exists.
    pub fn put_new(&mut self, item: Item, guard: Guard) -> StoreResult<()> {
        self.put(
            Put::builder().condition_expression("attribute_not_exists(pk)"),
            item,
            guard,
        )
    }

    /// Adds a put of `item` under the condition (and values) `put` states.
    pub fn put(&mut self, put: PutBuilder, item: Item, guard: Guard) -> StoreResult<()> {
        let put = put
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(invalid)?;
        self.push(TransactWriteItem::builder().put(put).build(), guard);
        Ok(())
    }

    /// Adds a delete of the item at `key`.
    pub fn delete(&mut self, key: &Key) -> StoreResult<()> {
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key.item()))
            .build()
            .map_err(invalid)?;
        self.push(
            TransactWriteItem::builder().delete(delete).build(),
            Guard::Unique,
        );
        Ok(())
    }

    /// Adds a delete of the item at `key` under the condition (and values) `delete` states.
    pub fn delete_where(
        &mut self,
        delete: aws_sdk_dynamodb::types::builders::DeleteBuilder,
        key: &Key,
        guard: Guard,
    ) -> StoreResult<()> {
        let delete = delete
            .table_name(&self.table)
            .set_key(Some(key.item()))
            .build()
            .map_err(invalid)?;
        self.push(TransactWriteItem::builder().delete(delete).build(), guard);
        Ok(())
    }

    /// Adds a put of `item` that overwrites whatever is there.
    pub fn put_any(&mut self, item: Item) -> StoreResult<()> {
        self.put(Put::builder(), item, Guard::Unique)
    }

    fn push(&mut self, item: TransactWriteItem, guard: Guard) {
        self.items.push(item);
        self.guards.push(guard);
    }

    /// Sends it once, as it is.
    pub async fn send(
        &self,
        client: &Client,
    ) -> Result<(), SdkError<TransactWriteItemsError, HttpResponse>> {
        client
            .transact_write_items()
            .set_transact_items(Some(self.items.clone()))
            .send()
            .await
            .map(|_| ())
    }

    /// Commits it, retrying conflicts, and says which condition refused it. When several
    /// failed, the one that explains the others wins: the lead already stored (an earlier
    /// attempt of this very transaction), then the claim lost, the lead or the contact
    /// changed, the ticket used, the rep's roster entry (`claim` is what it had to allow),
    /// a cap.
    pub async fn commit(
        &self,
        client: &Client,
        claim: Option<&RepClaim>,
    ) -> Result<(), CommitError> {
        self.commit_noting_full_turns(client, claim)
            .await
            .map(|_| ())
    }

    /// [`Transaction::commit`], saying whether the rep's entry was found full of tickets (the
    /// transaction then recorded its new ticket as an item of its own).
    pub async fn commit_noting_full_turns(
        &self,
        client: &Client,
        claim: Option<&RepClaim>,
    ) -> Result<bool, CommitError> {
        let full = match self.commit_once(client, claim).await {
            Ok(()) => return Ok(false),
            Err(Failed::Commit(e)) => return Err(e),
            Err(Failed::TurnsFull) => self.recording_the_turn(),
        };
        // The retry records no ticket on the entry, so only the commit's own answers remain.
        match full {
            Some(tx) => match tx.commit_once(client, claim).await {
                Ok(()) => Ok(true),
                Err(Failed::Commit(e)) => Err(e),
                Err(Failed::TurnsFull) => Err(CommitError::Refused(Refusal::LoadRose)),
            },
            None => Err(CommitError::Refused(Refusal::LoadRose)),
        }
    }

    /// The same transaction recording its new ticket as a `TURN#` item instead of on the
    /// rep's entry, if it records one there.
    fn recording_the_turn(&self) -> Option<Transaction> {
        let full = self.full_turns.as_ref()?;
        let mut tx = Transaction {
            full_turns: None,
            ..self.clone()
        };
        tx.items[full.index] = TransactWriteItem::builder()
            .update(full.plain.clone())
            .build();
        tx.push(
            TransactWriteItem::builder()
                .put(full.record.clone())
                .build(),
            Guard::Ticket,
        );
        Some(tx)
    }

    /// [`Transaction::commit`] as it is, retrying conflicts.
    async fn commit_once(&self, client: &Client, claim: Option<&RepClaim>) -> Result<(), Failed> {
        retry_conflicts(|| async {
            let err = match self.send(client).await {
                Ok(()) => return Ok(()),
                Err(err) => err,
            };
            let failed = failed_conditions(&err);
            let Some(&(index, reason)) = failed
                .iter()
                .min_by_key(|(i, _)| precedence(self.guards[*i]))
            else {
                return Err(Failed::Commit(classify(err).into()));
            };
            Err(Failed::Commit(match self.guards[index] {
                Guard::NewLead => CommitError::Stale(Stale::AlreadyStored),
                Guard::Claim => CommitError::Stale(Stale::ClaimLost),
                Guard::Lead => CommitError::Stale(Stale::LeadChanged),
                Guard::Contact => CommitError::Stale(Stale::ContactChanged),
                Guard::Ticket => CommitError::Refused(Refusal::TicketUsed),
                Guard::Roster => CommitError::Refused(match reason.item() {
                    Some(old) if !on_roster(old, claim).map_err(commit_error)? => {
                        Refusal::NotOnRoster
                    }
                    Some(old) if self.turns_full(old) => return Err(Failed::TurnsFull),
                    _ => Refusal::LoadRose,
                }),
                Guard::Cap(period) => CommitError::Refused(Refusal::AtCap(period)),
                Guard::Unique => CommitError::Store(StoreError::Invalid(format!(
                    "write {index} of a transaction failed a condition that only a bug can fail"
                ))),
            }))
        })
        .await
    }

    /// Whether the rep's entry (as it was when its condition failed) holds as many new
    /// tickets as it may, while the transaction would add one more.
    fn turns_full(&self, old: &Item) -> bool {
        self.full_turns.as_ref().is_some_and(|full| {
            old.get(&full.attribute)
                .and_then(|v| v.as_ns().ok())
                .is_some_and(|turns| turns.len() >= full.max)
        })
    }
}

fn commit_error(e: StoreError) -> Failed {
    Failed::Commit(CommitError::Store(e))
}

impl Retryable for Failed {
    fn is_conflict(&self) -> bool {
        matches!(self, Failed::Commit(e) if e.is_conflict())
    }
}

/// Which failed condition explains a cancelled transaction best (lower first).
fn precedence(guard: Guard) -> u8 {
    match guard {
        Guard::NewLead => 0,
        Guard::Claim => 1,
        Guard::Lead => 2,
        Guard::Contact => 3,
        Guard::Ticket => 4,
        Guard::Roster => 5,
        Guard::Cap(_) => 6,
        Guard::Unique => 7,
    }
}

/// The writes of a cancelled transaction whose condition failed, with their reasons.
pub(super) fn failed_conditions(
    err: &SdkError<TransactWriteItemsError, HttpResponse>,
) -> Vec<(usize, &CancellationReason)> {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    else {
        return Vec::new();
    };
    cancelled
        .cancellation_reasons()
        .iter()
        .enumerate()
        .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
        .collect()
}

/// Whether a rep's entry (as it was when a condition failed) still allows the claim's
/// membership; if so, only the load bound failed. A rep without a roster entry is on it.
fn on_roster(item: &Item, claim: Option<&RepClaim>) -> StoreResult<bool> {
    let rep: RepState = items::decode(item.clone())?;
    let Some(active) = rep.active else {
        return Ok(true);
    };
    let member = match claim.and_then(|c| c.pool.as_deref()) {
        None => true,
        Some(pool) => rep.pools.iter().any(|p| p == pool),
    };
    Ok(active && member)
}

/// Errors that may say "a concurrent writer got there first; try again".
pub trait Retryable {
    /// True for a conflict that retrying may win.
    fn is_conflict(&self) -> bool;
}

impl Retryable for StoreError {
    fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }
}

impl Retryable for CommitError {
    fn is_conflict(&self) -> bool {
        matches!(self, CommitError::Store(StoreError::Conflict(_)))
    }
}

/// Runs `op` again after a conflict, with full-jitter exponential backoff, a bounded number of
/// times (each retry is counted in [`crate::metrics`]). Any other error, or the last conflict,
/// is returned.
pub async fn retry_conflicts<T, E, F, Fut>(mut op: F) -> Result<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Err(e) if e.is_conflict() && attempt + 1 < MAX_CONFLICT_ATTEMPTS => {
                crate::metrics::bump(&crate::metrics::COUNTERS.conflict_retries);
                let cap_ms = (10u64 << attempt).min(400);
                let wait = rand::random_range(0..=cap_ms);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// An update of the item at `key` on `table`.
pub(super) fn updating(table: &str, key: &Key) -> UpdateBuilder {
    Update::builder()
        .table_name(table)
        .set_key(Some(key.item()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn conflicts_are_retried_a_bounded_number_of_times_and_counted() {
        let calls = AtomicU32::new(0);
        let before = crate::metrics::snapshot().conflict_retries;
        let result: StoreResult<u32> = retry_conflicts(|| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(StoreError::Conflict("busy".into())),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(result.unwrap(), 2, "third attempt wins");
        assert!(crate::metrics::snapshot().conflict_retries >= before + 2);

        calls.store(0, Ordering::SeqCst);
        let result: Result<(), CommitError> = retry_conflicts(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(CommitError::Store(StoreError::Conflict("always".into())))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), MAX_CONFLICT_ATTEMPTS);

        // A refusal is an answer, not a conflict: never retried.
        calls.store(0, Ordering::SeqCst);
        let result: Result<(), CommitError> = retry_conflicts(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(CommitError::Refused(Refusal::NotOnRoster))
        })
        .await;
        assert!(matches!(result, Err(CommitError::Refused(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_rep_without_a_roster_entry_or_still_in_the_pool_is_on_the_roster() {
        use aws_sdk_dynamodb::types::AttributeValue::{Bool, L, S};
        let claim = RepClaim {
            rep: "ava".into(),
            pool: Some("smb".into()),
            caps: Vec::new(),
            max_open: Some(3),
        };
        let entry = |active: bool, pools: &[&str]| {
            Item::from([
                ("active".to_string(), Bool(active)),
                (
                    "pools".to_string(),
                    L(pools.iter().map(|p| S(p.to_string())).collect()),
                ),
            ])
        };
        assert!(on_roster(&Item::new(), Some(&claim)).unwrap());
        assert!(on_roster(&entry(true, &["smb"]), Some(&claim)).unwrap());
        assert!(!on_roster(&entry(true, &["emea"]), Some(&claim)).unwrap());
        assert!(!on_roster(&entry(false, &["smb"]), Some(&claim)).unwrap());
        assert!(on_roster(&entry(true, &[]), Some(&RepClaim::named("ava"))).unwrap());
    }
}

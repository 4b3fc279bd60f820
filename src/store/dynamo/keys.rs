//! Every key of the table, built (and read back) here and nowhere else. The table below is the
//! key design; template.yaml and the README point here.
//!
//! | pk | sk | the item holds | access pattern |
//! |---|---|---|---|
//! | `LEAD#<lead id>` | `LEAD` | the lead, its assignment and reason, owner, status, SLA deadline and state, SLA steps taken (`sla_step`); while its first assignment is current, its first history entry (`first_event`, with the assignment's reason and the arrival time); the log row (`facts`, `search`, `stint`, `earlier`, `pool_id`, `rule_id`, outcome) and its places in the `log` and `owner` indexes; written without what the rest of it says (`compact`: the lead's email, company and country are its facts', a first assignment's time and number, the current stint's start), what the lead said (`lead`) and its first assignment (`assignment`) as deflated JSON where that is smaller | Put in the lead's transaction; Query(pk) for `GET /leads/{id}`; conditional Update to acknowledge, close, reassign or record an outcome |
//! | `LEAD#<lead id>` | `LEAD` (with `fenced`) | instead of a lead: the fence of a lead id whose claim was given back, so no transaction can store that lead any more; no reader sees a lead there | Put (if not exists) with the claim's Delete, in one transaction; TTL `expires_at` |
//! | `LEAD#<lead id>` | `EVENT#<time>#<suffix>` | one history entry (the first one only once a reassignment writes it out of the lead) | Put (if not exists) with the change it records; the same Query |
//! | `LEAD#<lead id>` | `NOTIFY#<event id>` | outbox, one item per event: the frozen message, and per channel (maps keyed by its id) its definition (secret references only), status, attempts, delivery time, last error, next attempt; its place in the `log` index | Put in the assignment's transaction; one conditional Update per round of delivery attempts |
//! | `STATS` | `NOTIFICATIONS` | dead notifications, ever | ADD 1 with the Update that marks one dead |
//! | `DEAD#NOTIFY` | `<time>#<lead id>#<event id>#<channel id>` | a notification dead now: lead, event, channel, error | Put with the Update that marks it dead; Query (newest first) for the console; Delete when it is put back in the outbox |
//! | `POOL#<pool>` | `ROTATION` | ticket counter `turn`, `cycle_start`, `cycle_config`; `returned` (tickets given back, oldest first); the repair's `checked_through`, `mark_turn`, `mark_at` | UpdateItem ADD returning the ticket while nothing is given back, else REMOVE `returned[0]` (conditional on it); list_append to give back; SET `cycle_start` when the team changes; the sweeper's repair |
//! | `POOL#<pool>` | `TURN#<ticket, 20 digits>` | lead id and owner of one ticket that was given back and adopted, or spent passing through the pool (a new ticket's use is on its rep's `turns:<pool>`) | Put if not exists, in the lead's transaction (a ticket given back twice is used once); Query of a range by the sweeper's repair |
//! | `POOL#<pool>` | `MEMBERS` | `reps`: every rep ever made a member of the pool (a string set, only grows) | ADD before a publish activates the config that makes them members; GetItem by the sweeper's repair |
//! | `REP#<rep>` | `STATE` | roster (`active`, `pools`), `open` leads, newcomer floor, `ticket:<pool>` (latest ticket per pool), `turns:<pool>` (the new tickets its leads used that the repair has not checked yet, a number set) | conditional Update in the lead's transaction; BatchGet for loads and by the repair; Update on publish, acknowledge and close; DELETE from `turns:<pool>` by the repair |
//! | `REP#<rep>` | `CAP#DAY#<date>`, `CAP#WEEK#<yyyy-Www>` | pool leads in the rep's local day / ISO week | ADD 1 if below the cap, in the lead's transaction; TTL `expires_at` |
//! | `CONFIG` | `ACTIVE` | the active config version | GetItem (cached in warm Lambdas); Put conditional on the version read |
//! | `CONFIG` | `VERSION#<n, 10 digits>` | one immutable config document | GetItem; Put if not exists, with the pointer, in one transaction; Query(begins_with) of numbers and times for the report's timeline |
//! | `KEY#<sha256 of key>` | `KEY` | a key's record: role, name, redirects, revoked (the hash, never the key) | GetItem on every authenticated request (a source key: once per `KEY_CACHE_SECONDS` per warm process); Put with its listing, in one transaction; conditional Update to revoke |
//! | `KEYS` | `KEY#<sha256 of key>` | the key's copy in the list of keys (what `GET /admin/keys` shows) | Query(pk) to list; written with the record (and for a key made before the list, on its first use) |
//! | `JOB#<id>` | `JOB` | a replay job: its state as JSON (cursor, tally, result), a step number; TTL `expires_at` (7 days) | Put; GetItem; Update conditional on the step read |
//! | `AUDIT#<yyyy-mm>` | `<time, fixed-width>#<uuid>` | one audit entry: who (key name, role), what, which target, a summary | Put in the transaction of the change it records; Query by month, newest first, for `GET /admin/audit` |
//! | `IDEMPOTENCY#<source>#<sha256 of Idempotency-Key>` | `IDEMPOTENCY` | claim (token, lease), payload hash, the one lead id its lead may be stored under | conditional Put to claim, conditional Update to take over from a holder past its lease, Delete (with the lead id's fence, in one transaction) to give back; TTL `expires_at` |
//! | `IDEMPOTENCY#<source>#auto#<sha256 of payload>` | `IDEMPOTENCY` | double-click guard for a request without a key and without an email (60 s) | as above |
//! | `CONTACT#<normalised email>` | `CONTACT` | the lead the contact is owned through, lead count, the latest submission without an Idempotency-Key (`submission`: hash, time, lead id; the double-click guard of a lead with an email) | BatchGetItem with the account at intake (eventually consistent), GetItem when the transaction found it changed; Put if not exists or conditional Update (refused for the same submission within 60 s), in the lead's transaction |
//! | `ACCOUNT#<id>` | `ACCOUNT` | one account (name, domains, owner, tier, list) | BatchGet and BatchWrite on load; GetItem |
//! | `DOMAIN#<domain>` | `DOMAIN` | the account owning the domain (copied, so matching is one read) | BatchGet of a lead's domain and its parents; Delete, conditional on the account, when the account drops it |
//!
//! Index `log` (`log_pk`, `log_sk`; the row attributes projected, see `LOG_PROJECTION`): every
//! lead as `LOG#<UTC date of arrival>`, `<arrival, fixed-width microseconds>#<lead id>`, and
//! each of its notifications right after it (`...#<lead id>#<first 8 of event id>`). Serves the lead log
//! (Query one day at a time, newest first, filters as a FilterExpression; a page ends at an
//! opaque cursor) and the routing report (Query every day of the period). Never Scan.
//!
//! Index `owner` (`owner_pk`, `log_sk`; the same projection): every lead as `OWNER#<current
//! owner id>` (a rep or a queue), so the log filtered by owner, and a rep's own leads, read
//! only that owner's leads. A reassignment moves the lead to its new owner's partition.
//!
//! Index `due` (`due_pk`, `due_at`; keys only; sparse): an item is in it only while the sweeper
//! has something to do with it. `due_pk` is `SLA#<shard>` on a lead awaiting acknowledgement
//! (`due_at` = its deadline) and `OUTBOX#<shard>` on an event with a channel still pending
//! (`due_at` = the earliest channel's next attempt), spread over [`DUE_SHARDS`] shards by lead
//! id. Acknowledging, closing, delivering (or giving up) on every channel removes both
//! attributes. The sweeper Queries `due_at <= now` per shard and leases an
//! item by moving `due_at` forward, conditional on the value it read. A page of that Query ends
//! at an opaque cursor: the index key it stopped at, as JSON.
//!
//! Lead ids are UUIDv7 (time-ordered). No request path or sweep scans.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::attr::Item;
use crate::domain::routing::Period;
use crate::store::{DueKind, StoreError, StoreResult, DUE_SHARDS};

/// The sparse due index.
pub(super) const DUE_INDEX: &str = "due";
/// The lead log index: leads and their notifications by the UTC day they arrived.
pub(super) const LOG_INDEX: &str = "log";
/// The owner index: leads by their current owner.
pub(super) const OWNER_INDEX: &str = "owner";

/// An item's primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Key {
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
}

impl Key {
    fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    /// A lead.
    pub fn lead(lead_id: &str) -> Self {
        Self::new(lead_partition(lead_id), LEAD)
    }

    /// One history entry of a lead; `suffix` keeps entries of the same instant apart.
    pub fn event(lead_id: &str, at: &str, suffix: &str) -> Self {
        Self::new(lead_partition(lead_id), format!("{EVENT}{at}#{suffix}"))
    }

    /// One notification of a lead (its outbox entry).
    pub fn notification(lead_id: &str, event_id: &str) -> Self {
        Self::new(lead_partition(lead_id), format!("{NOTIFY}{event_id}"))
    }

    /// The lead or the notification a due-index entry points at.
    pub fn due(lead_id: &str, event_id: Option<&str>) -> Self {
        match event_id {
            Some(event_id) => Self::notification(lead_id, event_id),
            None => Self::lead(lead_id),
        }
    }

    /// A dead notification in the list of dead ones (newest last by time): an event's
    /// delivery to `channel`, or (`None`) a notification stored as an item of its own.
    pub fn dead_notification(
        at: jiff::Timestamp,
        lead_id: &str,
        event_id: &str,
        channel: Option<&str>,
    ) -> Self {
        let sk = format!("{}#{lead_id}#{event_id}", sort_time(at));
        match channel {
            Some(channel) => Self::new(DEAD_PARTITION, format!("{sk}#{channel}")),
            None => Self::new(DEAD_PARTITION, sk),
        }
    }

    /// The count of notifications given up on.
    pub fn dead_notifications() -> Self {
        Self::new("STATS", "NOTIFICATIONS")
    }

    /// A pool's ticket counter.
    pub fn rotation(pool: &str) -> Self {
        Self::new(format!("POOL#{pool}"), "ROTATION")
    }

    /// The record of one ticket of a pool.
    pub fn turn(pool: &str, turn: u64) -> Self {
        Self::new(format!("POOL#{pool}"), format!("{TURN}{turn:020}"))
    }

    /// Every rep that may hold a ticket of a pool (whose entry the rotation repair reads).
    pub fn pool_members(pool: &str) -> Self {
        Self::new(format!("POOL#{pool}"), "MEMBERS")
    }

    /// A rep's roster entry and load.
    pub fn rep(rep: &str) -> Self {
        Self::new(format!("{REP}{rep}"), "STATE")
    }

    /// A rep's count of pool leads in one day or week (`key` names it in the rep's zone).
    pub fn cap(rep: &str, period: Period, key: &str) -> Self {
        let period = match period {
            Period::Day => "DAY",
            Period::Week => "WEEK",
        };
        Self::new(format!("{REP}{rep}"), format!("CAP#{period}#{key}"))
    }

    /// The active config pointer.
    pub fn active_config() -> Self {
        Self::new(CONFIG_PARTITION, "ACTIVE")
    }

    /// One config version.
    pub fn config_version(version: u64) -> Self {
        Self::new(
            CONFIG_PARTITION,
            format!("{CONFIG_VERSION_PREFIX}{version:010}"),
        )
    }

    /// A source or admin key, by its hash.
    pub fn api_key(hash: &str) -> Self {
        Self::new(format!("KEY#{hash}"), "KEY")
    }

    /// An Idempotency-Key claim (`key` is the source and the client's key, or a payload hash).
    pub fn idempotency(key: &str) -> Self {
        Self::new(format!("IDEMPOTENCY#{key}"), "IDEMPOTENCY")
    }

    /// One audit entry: in the month of `at`, ordered by time (`id` keeps entries of the same
    /// instant apart).
    pub fn audit(at: jiff::Timestamp, id: &str) -> Self {
        Self::new(
            audit_partition(at.to_zoned(jiff::tz::TimeZone::UTC).date()),
            format!("{}#{id}", sort_time(at)),
        )
    }

    /// A long job (a replay).
    pub fn job(id: &str) -> Self {
        Self::new(format!("JOB#{id}"), "JOB")
    }

    /// A key's entry in the list of keys (`KEYS`, `KEY#<hash>`).
    pub fn listed_key(hash: &str) -> Self {
        Self::new(KEYS_PARTITION, format!("KEY#{hash}"))
    }

    /// A contact, by normalised email.
    pub fn contact(key: &str) -> Self {
        Self::new(format!("CONTACT#{key}"), "CONTACT")
    }

    /// An account.
    pub fn account(id: &str) -> Self {
        Self::new(format!("ACCOUNT#{id}"), "ACCOUNT")
    }

    /// The account owning an email domain.
    pub fn domain(domain: &str) -> Self {
        Self::new(format!("{DOMAIN}{domain}"), "DOMAIN")
    }

    /// The key of an item as read.
    pub fn of(item: &Item) -> Option<Self> {
        let part = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        Some(Self::new(part("pk")?, part("sk")?))
    }

    /// The key as DynamoDB takes it.
    pub fn item(&self) -> Item {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S(self.pk.clone())),
            ("sk".to_string(), AttributeValue::S(self.sk.clone())),
        ])
    }
}

/// The partition of the config pointer and versions.
pub(super) const CONFIG_PARTITION: &str = "CONFIG";
/// The sort-key prefix of config versions.
pub(super) const CONFIG_VERSION_PREFIX: &str = "VERSION#";
const LEAD: &str = "LEAD";
const TURN: &str = "TURN#";
const LEAD_PREFIX: &str = "LEAD#";
const EVENT: &str = "EVENT#";
const NOTIFY: &str = "NOTIFY#";
const REP: &str = "REP#";
const DOMAIN: &str = "DOMAIN#";
const LOG: &str = "LOG#";
const OWNER: &str = "OWNER#";

/// The ticket a pool's `TURN#` sort key records.
pub(super) fn turn_of(sk: &str) -> Option<u64> {
    sk.strip_prefix(TURN)?.parse().ok()
}

/// The partition holding a lead, its history and its notifications (one Query reads it all).
pub(super) fn lead_partition(lead_id: &str) -> String {
    format!("{LEAD_PREFIX}{lead_id}")
}

/// What an item of a lead's partition is, by its sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LeadPart {
    /// The lead itself.
    Lead,
    /// A history entry.
    Event,
    /// A notification.
    Notification,
}

impl LeadPart {
    /// The part a sort key of a lead's partition names.
    pub fn of(sk: &str) -> Option<Self> {
        if sk == LEAD {
            Some(Self::Lead)
        } else if sk.starts_with(EVENT) {
            Some(Self::Event)
        } else if sk.starts_with(NOTIFY) {
            Some(Self::Notification)
        } else {
            None
        }
    }
}

/// The due-index partition of an item of a lead: the lead's shard of `kind`.
pub(super) fn due_pk(kind: DueKind, lead_id: &str) -> String {
    let shard = lead_id.bytes().map(u32::from).sum::<u32>() % DUE_SHARDS;
    due_partition(kind, shard)
}

/// One shard of the due index.
pub(super) fn due_partition(kind: DueKind, shard: u32) -> String {
    match kind {
        DueKind::Sla => format!("SLA#{shard}"),
        DueKind::Outbox => format!("OUTBOX#{shard}"),
    }
}

/// A lead's place in the log index: `LOG#<UTC date>` and a sort key that orders leads by
/// arrival (fixed-width time, then the id).
pub(super) fn log_keys(lead_id: &str, received_at: jiff::Timestamp) -> (String, String) {
    (
        log_partition(received_at.to_zoned(jiff::tz::TimeZone::UTC).date()),
        format!("{}#{lead_id}", sort_time(received_at)),
    )
}

/// The audit log's partition of the UTC month `day` falls in.
pub(super) fn audit_partition(day: jiff::civil::Date) -> String {
    format!("AUDIT#{:04}-{:02}", day.year(), day.month())
}

/// The partition listing the notifications that are dead now.
pub(super) const DEAD_PARTITION: &str = "DEAD#NOTIFY";

/// The partition listing every key.
pub(super) const KEYS_PARTITION: &str = "KEYS";

/// The log index's partition for one UTC day.
pub(super) fn log_partition(day: jiff::civil::Date) -> String {
    format!("{LOG}{day}")
}

/// A time as a fixed-width text that sorts as the times do (microseconds, UTC).
pub(super) fn sort_time(at: jiff::Timestamp) -> String {
    format!(
        "{}.{:06}Z",
        at.strftime("%Y-%m-%dT%H:%M:%S"),
        at.subsec_microsecond()
    )
}

/// How many characters of a notification's event id its sort key in the log index keeps.
const LOG_EVENT_CHARS: usize = 8;

/// A notification's sort key in the log index: right after its lead's, ending in the start of
/// its event id (an index's keys need not be unique, and this one is only read in order; the
/// whole id, in the item's own key, would cost 28 more bytes of every notification, which
/// is what keeps a form lead's notifications under the 1 KB a write unit covers).
pub(super) fn notification_log_sk(lead_log_sk: &str, event_id: &str) -> String {
    let short = event_id.get(..LOG_EVENT_CHARS).unwrap_or(event_id);
    format!("{lead_log_sk}#{short}")
}

/// The owner index's partition of a rep or queue.
pub(super) fn owner_partition(owner_id: &str) -> String {
    format!("{OWNER}{owner_id}")
}

/// The rep's attribute holding the ticket of their latest lead from `pool`.
pub(super) fn ticket_attribute(pool: &str) -> String {
    format!("ticket:{pool}")
}

/// The rep's attribute holding the new tickets of `pool` their leads used that the rotation
/// repair has not yet checked (a number set).
pub(super) fn turns_attribute(pool: &str) -> String {
    format!("turns:{pool}")
}

/// The lead an item of a lead's partition belongs to, by its partition key.
pub(super) fn lead_of(pk: &str) -> Option<&str> {
    pk.strip_prefix(LEAD_PREFIX)
}

/// The event id a notification's sort key names.
pub(super) fn event_of(sk: &str) -> Option<&str> {
    sk.strip_prefix(NOTIFY)
}

/// The rep a rep's key belongs to.
pub(super) fn rep_of(pk: &str) -> Option<&str> {
    pk.strip_prefix(REP)
}

/// The domain a domain item is for.
pub(super) fn domain_of(pk: &str) -> Option<&str> {
    pk.strip_prefix(DOMAIN)
}

/// An entry of the due index: the lead (and, for a notification, its event id) it points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct IndexKey {
    pk: String,
    sk: String,
    due_pk: String,
    due_at: i64,
}

impl IndexKey {
    /// The lead id, and the event id for a notification; `None` for a key of no lead.
    pub fn target(&self) -> Option<(String, Option<String>)> {
        let lead_id = self.pk.strip_prefix(LEAD_PREFIX)?.to_string();
        let event_id = self.sk.strip_prefix(NOTIFY).map(str::to_string);
        Some((lead_id, event_id))
    }

    /// When the entry is due (Unix seconds).
    pub fn due_at(&self) -> i64 {
        self.due_at
    }

    /// The opaque cursor handed to callers: this key, as JSON.
    pub fn cursor(&self) -> String {
        serde_json::to_string(self).expect("an index key serialises")
    }

    /// The key a cursor stands for.
    pub fn from_cursor(cursor: &str) -> StoreResult<Self> {
        serde_json::from_str(cursor).map_err(|e| StoreError::Invalid(format!("bad cursor: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_as_stored() {
        let key = |k: Key| format!("{} {}", k.pk, k.sk);
        assert_eq!(key(Key::lead("l1")), "LEAD#l1 LEAD");
        assert_eq!(
            key(Key::event("l1", "2026-11-24T15:00:00Z", "0001")),
            "LEAD#l1 EVENT#2026-11-24T15:00:00Z#0001"
        );
        assert_eq!(key(Key::notification("l1", "e1")), "LEAD#l1 NOTIFY#e1");
        assert_eq!(
            key(Key::turn("smb", 7)),
            "POOL#smb TURN#00000000000000000007"
        );
        assert_eq!(
            key(Key::cap("ava", Period::Week, "2026-W48")),
            "REP#ava CAP#WEEK#2026-W48"
        );
        assert_eq!(key(Key::config_version(3)), "CONFIG VERSION#0000000003");
        assert_eq!(
            key(Key::idempotency("form#abc")),
            "IDEMPOTENCY#form#abc IDEMPOTENCY"
        );
        assert_eq!(LeadPart::of("NOTIFY#e1"), Some(LeadPart::Notification));
        assert_eq!(LeadPart::of("EVENT#x#1"), Some(LeadPart::Event));
        assert_eq!(LeadPart::of("LEAD"), Some(LeadPart::Lead));
        assert_eq!(rep_of(&Key::rep("ava").pk), Some("ava"));
        assert_eq!(domain_of(&Key::domain("acme.com").pk), Some("acme.com"));
    }

    #[test]
    fn a_lead_keeps_its_due_shard_and_a_cursor_round_trips() {
        let shard = due_pk(DueKind::Sla, "0193b0c2-aaaa");
        assert_eq!(shard, due_pk(DueKind::Sla, "0193b0c2-aaaa"));
        assert!(shard.starts_with("SLA#"));
        let key = IndexKey {
            pk: "LEAD#l1".into(),
            sk: "NOTIFY#e1".into(),
            due_pk: due_pk(DueKind::Outbox, "l1"),
            due_at: 42,
        };
        let back = IndexKey::from_cursor(&key.cursor()).unwrap();
        assert_eq!(back, key);
        assert_eq!(back.target(), Some(("l1".into(), Some("e1".into()))));
        assert!(matches!(
            IndexKey::from_cursor("not json"),
            Err(StoreError::Invalid(_))
        ));
    }
}

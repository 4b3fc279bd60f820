//! The table's items as types, encoded and decoded whole with serde_dynamo: a field's name is
//! the attribute's name, numbers are N, strings S, lists L, nested types M, and a `None` is an
//! absent attribute (the encoder leaves top-level nulls out; nested ones stay). An item may be
//! read through several of these views at once (unknown attributes are ignored). Also
//! [`Changes`]: update expressions whose values come from these types. Which key holds which
//! item is in `keys`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1 as dynamo;

use super::attr::{deflated, inflated, Item};
use super::compact;
use super::keys::{self, Key};
use jiff::Timestamp;

use crate::domain::account::Account;
use crate::domain::channel::Channel;
use crate::domain::lead::Lead;
use crate::domain::model::{
    Assignment, HistoryEvent, LeadStatus, NotificationStatus, Outcome, Owner, SlaState,
};
use crate::domain::notify::Message;
use crate::domain::overrides::Overrides;
use crate::domain::report::row::{LeadFacts, LeadRow, NotificationRow, Stint};
use crate::domain::sla::SlaPolicy;
use crate::store::{
    ContactWrite, Deadline, DueKind, NewLead, Outgoing, StoreError, StoreResult,
    StoredNotification, VersionInfo,
};

/// `body` as the item at `key`.
pub(super) fn encode<T: Serialize>(key: &Key, body: &T) -> StoreResult<Item> {
    let mut item = fields(body)?;
    item.extend(key.item());
    Ok(item)
}

/// The attributes `body` (a struct) serialises to, without its `None`s, at any depth: a
/// missing field reads back as `None`, and every absent null is a few bytes, and so write
/// units, saved on every item.
pub(super) fn fields<T: Serialize>(body: &T) -> StoreResult<Item> {
    let mut item: Item = dynamo::to_item(body).map_err(|e| StoreError::Invalid(e.to_string()))?;
    strip_nulls(&mut item);
    Ok(item)
}

/// Drops null attributes from a map and the maps inside it (list elements stay, so their
/// positions do).
fn strip_nulls(map: &mut Item) {
    map.retain(|_, value| !value.is_null());
    for value in map.values_mut() {
        strip_nested(value);
    }
}

fn strip_nested(value: &mut AttributeValue) {
    match value {
        AttributeValue::M(map) => strip_nulls(map),
        AttributeValue::L(list) => list.iter_mut().for_each(strip_nested),
        _ => {}
    }
}

/// An item as what it should be (its key and other attributes are ignored).
pub(super) fn decode<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    dynamo::from_item(item).map_err(corrupt::<T>)
}

/// `value` as one attribute's value.
pub(super) fn attribute<T: Serialize>(value: &T) -> StoreResult<AttributeValue> {
    dynamo::to_attribute_value(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// One attribute's value as what it should be.
pub(super) fn value_of<T: DeserializeOwned>(value: AttributeValue) -> StoreResult<T> {
    dynamo::from_attribute_value(value).map_err(corrupt::<T>)
}

fn corrupt<T>(e: serde_dynamo::Error) -> StoreError {
    StoreError::Corrupt(format!("not a {}: {e}", std::any::type_name::<T>()))
}

/// A config version (`CONFIG`, `VERSION#<n>`): its document and what is known of it.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ConfigVersion {
    pub document: String,
    #[serde(default)]
    pub overrides: Option<Overrides>,
    #[serde(flatten)]
    pub info: VersionFields,
}

/// A config version's attributes besides the document (as stored: `created_at`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct VersionFields {
    pub version: u64,
    pub created_at: Timestamp,
    pub author: Option<String>,
    pub message: Option<String>,
    pub summary: Option<String>,
    pub replaced: Option<u64>,
    pub rollback_of: Option<u64>,
}

impl VersionFields {
    pub fn of(info: &VersionInfo) -> Self {
        Self {
            version: info.version,
            created_at: info.created_at,
            author: info.author.clone(),
            message: info.message.clone(),
            summary: info.summary.clone(),
            replaced: info.replaced,
            rollback_of: info.rollback_of,
        }
    }

    pub fn info(self) -> VersionInfo {
        VersionInfo {
            version: self.version,
            created_at: self.created_at,
            author: self.author,
            message: self.message,
            summary: self.summary,
            replaced: self.replaced,
            rollback_of: self.rollback_of,
        }
    }
}

/// The active config pointer (`CONFIG`, `ACTIVE`).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ConfigPointer {
    pub version: u64,
    #[serde(default)]
    pub activated_at: Option<Timestamp>,
}

/// An Idempotency-Key claim (`IDEMPOTENCY#...`): the lead id it may be stored under, and its
/// holder's token and lease. (`completed` with a response: a claim from before claims named
/// their lead, when the lead's transaction completed them.)
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Claim {
    pub status: ClaimStatus,
    pub token: String,
    pub request_hash: String,
    pub lease_until: i64,
    pub expires_at: i64,
    pub response: Option<String>,
    pub lead_id: Option<String>,
}

/// Where a claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum ClaimStatus {
    /// Its holder is at work.
    InProgress,
    /// Its lead is stored, with the response to replay.
    Completed,
}

impl ClaimStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
        }
    }
}

/// What a given-back claim leaves at its lead's key (`LEAD#<id>`, `LEAD`): the id can never be
/// stored, so the transaction of the request that gave it back cannot commit later. No reader
/// sees a lead there; DynamoDB's TTL deletes it.
#[derive(Debug, Serialize)]
pub(super) struct Fence {
    pub fenced: bool,
    pub expires_at: i64,
}

impl Fence {
    /// Whether a lead's item is a fence.
    pub fn is(item: &Item) -> bool {
        item.contains_key("fenced")
    }
}

/// A lead's item as the lead, or `None` for a fence (no lead is there).
pub(super) fn lead(mut item: Item) -> StoreResult<Option<LeadItem>> {
    if Fence::is(&item) {
        return Ok(None);
    }
    compact::expand(&mut item)?;
    decode(item).map(Some)
}

/// A lead's row in a log index.
pub(super) fn log_row(mut item: Item) -> StoreResult<LeadRow> {
    compact::expand(&mut item)?;
    decode::<LogItem>(item).map(LogItem::row)
}

/// A lead (`LEAD#<id>`, `LEAD`), fields in attribute order. Leads stored before some
/// attributes existed read with defaults: no status (open with a rep, else queued), no
/// `assigned_at` (the arrival), no `assignment_no` (the first).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct LeadItem {
    pub acknowledged_at: Option<Timestamp>,
    pub assigned_at: Option<Timestamp>,
    pub assignment: Assignment,
    #[serde(default = "first")]
    pub assignment_no: u64,
    pub closed_at: Option<Timestamp>,
    pub due_at: Option<i64>,
    pub due_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<Stint>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub escalations: u32,
    pub facts: Option<LeadFacts>,
    /// The first history entry's event, while that entry lives on the lead itself (at its
    /// arrival, with the assignment's reason): one item fewer per lead. A reassignment, which
    /// changes the reason, writes the entry out first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_event: Option<HistoryEvent>,
    pub lead: Lead,
    /// Read from the partition key: not stored twice.
    #[serde(rename = "pk", deserialize_with = "lead_id_of_pk", skip_serializing)]
    pub lead_id: String,
    pub log_pk: Option<String>,
    pub log_sk: Option<String>,
    pub outcome: Option<Outcome>,
    pub outcome_at: Option<Timestamp>,
    pub owner_ack_seconds: Option<i64>,
    pub owner_id: String,
    pub owner_kind: OwnerKind,
    pub owner_pk: Option<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    pub stint: Option<Stint>,
    pub pool_id: Option<String>,
    pub received_at: Timestamp,
    pub returning_of: Option<String>,
    pub rule_id: Option<String>,
    pub search: Option<String>,
    pub sla: Option<SlaPolicy>,
    pub sla_due_at: Option<Timestamp>,
    pub sla_state: Option<SlaState>,
    /// Steps of the current owner's SLA schedule taken (reminders, alerts).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sla_step: u32,
    pub source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Outcome>,
    pub status: Option<LeadStatus>,
    pub time_to_ack_seconds: Option<i64>,
    pub won_value: Option<f64>,
}

/// A lead's id from its partition key (`LEAD#<id>`), which every index projects.
fn lead_id_of_pk<'de, D: serde::Deserializer<'de>>(pk: D) -> Result<String, D::Error> {
    let pk = String::deserialize(pk)?;
    keys::lead_of(&pk)
        .map(str::to_string)
        .ok_or_else(|| serde::de::Error::custom(format!("not a lead's key: {pk}")))
}

fn first() -> u64 {
    1
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a step of an SLA schedule that keeps the owner sets (see
/// [`crate::store::SlaStepChange`]).
#[derive(Debug, Serialize)]
pub(super) struct SlaStepTaken<'a> {
    pub sla_step: u32,
    pub stint: &'a Stint,
}

/// What kind of owner a lead has (its `owner_kind` attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum OwnerKind {
    /// A rep.
    Rep,
    /// A queue.
    Queue,
}

impl OwnerKind {
    /// The kind of `owner`.
    pub fn of(owner: &Owner) -> Self {
        match owner {
            Owner::Rep { .. } => Self::Rep,
            Owner::Queue { .. } => Self::Queue,
        }
    }
}

impl LeadItem {
    /// The item a newly routed lead is stored as (its SLA is added as [`SlaFields`]).
    pub fn new(new: &NewLead) -> Self {
        let owner = &new.assignment.owner;
        let owners = match owner {
            Owner::Rep { id, .. } => vec![id.clone()],
            Owner::Queue { .. } => Vec::new(),
        };
        let returning_of = match &new.contact {
            Some(ContactWrite::Returning { owning_lead, .. }) => Some(owning_lead.clone()),
            _ => None,
        };
        let (log_pk, log_sk) = keys::log_keys(&new.lead_id, new.received_at);
        Self {
            acknowledged_at: None,
            assigned_at: Some(new.received_at),
            assignment: new.assignment.clone(),
            assignment_no: 1,
            closed_at: None,
            due_at: None,
            due_pk: None,
            earlier: Vec::new(),
            escalations: 0,
            facts: Some(new.facts.clone()),
            first_event: Some(match new.status {
                LeadStatus::Spam => HistoryEvent::Spam,
                _ => HistoryEvent::assigned_to(&new.assignment.owner, false),
            }),
            lead: new.lead.clone(),
            lead_id: new.lead_id.clone(),
            log_pk: Some(log_pk),
            log_sk: Some(log_sk),
            outcome: None,
            outcome_at: None,
            owner_ack_seconds: None,
            owner_id: owner.id().to_string(),
            owner_kind: OwnerKind::of(owner),
            owner_pk: Some(keys::owner_partition(owner.id())),
            owners,
            stint: Some(new.stint.clone()),
            pool_id: new.assignment.pool().map(str::to_string),
            received_at: new.received_at,
            returning_of,
            rule_id: new.assignment.rule_id.clone(),
            search: Some(new.facts.search_text()).filter(|s| !s.is_empty()),
            sla: None,
            sla_due_at: None,
            sla_state: new.deadline.as_ref().map(|_| SlaState::Pending),
            sla_step: 0,
            source: new.source.clone(),
            stages: Vec::new(),
            status: Some(new.status),
            time_to_ack_seconds: None,
            won_value: None,
        }
    }

    /// The item: without the qualification's `false` flags, zero score and empty breakdown,
    /// which read back the same from their absence, nor what the rest of the item says
    /// (`compact`): on a bare lead, what keeps the item over the 1 KB a write unit covers;
    /// what the lead said and its assignment deflated, where that is smaller.
    /// With the owner's `deadline`, if any ([`SlaFields`]), which the stint's own repeats.
    pub fn item(&self, deadline: Option<&Deadline>) -> StoreResult<Item> {
        let mut item = encode(&Key::lead(&self.lead_id), self)?;
        if let Some(deadline) = deadline {
            item.extend(fields(&SlaFields::new(&self.lead_id, deadline))?);
        }
        if let Some(AttributeValue::M(lead)) = item.get_mut("lead") {
            if let Some(AttributeValue::M(q)) = lead.get_mut("qualification") {
                q.retain(|name, v| match v {
                    AttributeValue::Bool(flag) => *flag,
                    AttributeValue::L(list) => !list.is_empty(),
                    AttributeValue::N(score) if name == "score" => score != "0",
                    _ => true,
                });
            }
        }
        compact::compact(&mut item);
        Ok(item)
    }

    /// Every stint, first to current (a lead stored before stints were kept has one
    /// made from its assignment).
    pub fn stints(&self) -> Vec<Stint> {
        let current = self.stint.clone().unwrap_or_else(|| {
            Stint::of(
                &self.assignment,
                self.assignment_no,
                self.assigned_at.unwrap_or(self.received_at),
                self.sla_due_at,
                None,
            )
        });
        let mut all = self.earlier.clone();
        all.push(current);
        all
    }

    /// The lead's status.
    pub fn status(&self) -> LeadStatus {
        self.status.unwrap_or(match self.owner_kind {
            OwnerKind::Rep => LeadStatus::Open,
            OwnerKind::Queue => LeadStatus::Queued,
        })
    }
}

/// A lead as the log indexes project it (see the `log` index in template.yaml).
#[derive(Debug, Deserialize)]
struct LogItem {
    #[serde(rename = "pk", deserialize_with = "lead_id_of_pk")]
    pub lead_id: String,
    pub received_at: Timestamp,
    pub source: String,
    pub status: Option<LeadStatus>,
    pub owner_id: String,
    pub owner_kind: OwnerKind,
    pub pool_id: Option<String>,
    pub rule_id: Option<String>,
    #[serde(default)]
    pub escalations: u32,
    pub assigned_at: Option<Timestamp>,
    pub acknowledged_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub sla_due_at: Option<Timestamp>,
    pub sla_state: Option<SlaState>,
    #[serde(default)]
    pub facts: LeadFacts,
    pub stint: Option<Stint>,
    #[serde(default)]
    pub earlier: Vec<Stint>,
    pub outcome: Option<Outcome>,
    #[serde(default)]
    pub stages: Vec<Outcome>,
    pub won_value: Option<f64>,
}

impl LogItem {
    /// The row the log and the report read.
    fn row(self) -> LeadRow {
        let queued = self.owner_kind == OwnerKind::Queue;
        let status = self.status.unwrap_or(if queued {
            LeadStatus::Queued
        } else {
            LeadStatus::Open
        });
        let mut stints = self.earlier;
        stints.extend(self.stint);
        LeadRow {
            lead_id: self.lead_id,
            received_at: self.received_at,
            source: self.source,
            status,
            owner_id: self.owner_id,
            queued,
            pool: self.pool_id,
            rule: self.rule_id,
            escalations: self.escalations,
            assigned_at: self.assigned_at.unwrap_or(self.received_at),
            acknowledged_at: self.acknowledged_at,
            closed_at: self.closed_at,
            sla_due_at: self.sla_due_at,
            sla_state: self.sla_state,
            facts: self.facts,
            stints,
            outcome: self.outcome,
            stages: self.stages,
            won_value: self.won_value,
        }
    }
}

/// A lead's SLA and its place in the due index, while its owner has a deadline.
#[derive(Debug, Serialize)]
pub(super) struct SlaFields {
    pub sla: SlaPolicy,
    pub sla_due_at: Timestamp,
    pub due_pk: String,
    pub due_at: i64,
}

impl SlaFields {
    /// The attributes that hold `deadline` for lead `lead_id`.
    pub fn new(lead_id: &str, deadline: &Deadline) -> Self {
        Self {
            sla: deadline.policy.clone(),
            sla_due_at: deadline.due,
            due_pk: keys::due_pk(DueKind::Sla, lead_id),
            due_at: deadline.first_step.as_second(),
        }
    }
}

/// What acknowledging or closing a lead sets.
#[derive(Debug, Serialize)]
pub(super) struct StatusChange {
    pub status: LeadStatus,
    pub acknowledged_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub time_to_ack_seconds: Option<i64>,
    pub owner_ack_seconds: Option<i64>,
    pub sla_state: Option<SlaState>,
}

/// What recording an outcome sets.
#[derive(Debug, Serialize)]
pub(super) struct OutcomeChange<'a> {
    pub outcome: Outcome,
    pub outcome_at: Timestamp,
    pub stages: &'a [Outcome],
    pub won_value: Option<f64>,
}

/// An item's place in the log index (a notification's; a lead's are in [`LeadItem`]).
#[derive(Debug, Serialize)]
pub(super) struct LogKeys {
    pub log_pk: String,
    pub log_sk: String,
}

/// What giving a lead to its next owner sets (with [`SlaFields`] if the owner has a deadline).
#[derive(Debug, Serialize)]
pub(super) struct Reassigned<'a> {
    pub status: LeadStatus,
    pub owner_kind: OwnerKind,
    pub owner_id: &'a str,
    pub owner_pk: String,
    pub assignment: &'a Assignment,
    pub assignment_no: u64,
    pub assigned_at: Timestamp,
    pub escalations: u32,
    pub pool_id: Option<&'a str>,
    pub rule_id: Option<&'a str>,
    pub sla_state: Option<SlaState>,
    pub stint: &'a Stint,
}

/// An item's place in the sparse due index, while it has one: with [`StoredNotification`],
/// the view of a notification in the outbox (`LEAD#<id>`, `NOTIFY#<event id>`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Due {
    pub due_pk: Option<String>,
    pub due_at: Option<i64>,
}

/// An event's item in the outbox (`LEAD#<id>`, `NOTIFY#<event id>`): the frozen message and
/// the channels' definitions once ([`Packed`], in `packed`), and each channel's delivery state
/// in maps keyed by the channel's id, so one transactional put and one update per round of
/// attempts serve every channel. The log indexes project `status`, `attempts` and
/// `delivered_at`, which is all a report row needs. Before this, each channel's notification
/// was an item of its own (`channel`, `message`, `status`, ... at the top level, the due
/// index holding its next attempt); those are still read.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct EventState {
    pub status: BTreeMap<String, NotificationStatus>,
    pub attempts: BTreeMap<String, u32>,
    /// Always written, so an update can set a channel's entry.
    #[serde(default)]
    pub delivered_at: BTreeMap<String, Timestamp>,
    #[serde(default)]
    pub last_error: BTreeMap<String, String>,
    /// Each pending channel's next attempt (Unix seconds); the item's `due_at` is the
    /// earliest, or a sweeper's lease.
    #[serde(default)]
    pub next_at: BTreeMap<String, i64>,
}

/// What an event's item writes once and never updates: its message (without the lead id and
/// the event id, which the key holds) and its channels in order, as deflated JSON in one
/// binary attribute. On the example config's leads that is 510 bytes instead of 780, which
/// keeps the item under the 1 KB a write unit covers (DynamoDB's guide suggests compressing
/// large attribute values for the same reason). The console and the API read it decoded.
#[derive(Debug, Serialize, Deserialize)]
struct Packed {
    message: serde_json::Value,
    channels: Vec<Channel>,
}

const PACKED: &str = "packed";

fn pack(message: &Message, channels: &[Channel]) -> StoreResult<Vec<u8>> {
    let invalid = |e: &dyn std::fmt::Display| StoreError::Invalid(e.to_string());
    let mut message = serde_json::to_value(message).map_err(|e| invalid(&e))?;
    if let Some(fields) = message.as_object_mut() {
        fields.remove("lead_id");
        fields.remove("event_id");
    }
    let packed = Packed {
        message,
        channels: channels.to_vec(),
    };
    let json = serde_json::to_vec(&packed).map_err(|e| invalid(&e))?;
    deflated(&json)
}

fn unpack(bytes: &[u8], lead_id: &str, event_id: &str) -> StoreResult<(Message, Vec<Channel>)> {
    let corrupt = |e: &dyn std::fmt::Display| {
        StoreError::Corrupt(format!(
            "the packed notification of {lead_id} {event_id}: {e}"
        ))
    };
    let json = inflated(bytes).map_err(|e| corrupt(&e))?;
    let mut packed: Packed = serde_json::from_slice(&json).map_err(|e| corrupt(&e))?;
    if let Some(fields) = packed.message.as_object_mut() {
        fields.insert("lead_id".into(), lead_id.into());
        fields.insert("event_id".into(), event_id.into());
    }
    let message = serde_json::from_value(packed.message).map_err(|e| corrupt(&e))?;
    Ok((message, packed.channels))
}

/// The item a new event is stored as: every channel as [`Outgoing::pending`] says.
pub(super) fn notification_item(lead_id: &str, outgoing: &Outgoing) -> StoreResult<Item> {
    let pending = outgoing.pending(lead_id);
    let by_channel = |n: &StoredNotification| n.channel.id.clone();
    let state = EventState {
        status: pending.iter().map(|n| (by_channel(n), n.status)).collect(),
        attempts: pending
            .iter()
            .map(|n| (by_channel(n), n.attempts))
            .collect(),
        delivered_at: BTreeMap::new(),
        last_error: BTreeMap::new(),
        next_at: pending
            .iter()
            .filter_map(|n| Some((by_channel(n), n.next_attempt_at?)))
            .collect(),
    };
    let mut item = encode(
        &Key::notification(lead_id, &outgoing.message.event_id),
        &state,
    )?;
    let packed = pack(&outgoing.message, &outgoing.channels)?;
    item.insert(PACKED.into(), AttributeValue::B(Blob::new(packed)));
    Ok(item)
}

/// Puts back what a notification item leaves to its key (an item stored before that has them
/// already): with the lead id and the event id.
fn with_notification_ids(mut item: Item) -> StoreResult<(String, String, Item)> {
    let key = Key::of(&item)
        .ok_or_else(|| StoreError::Corrupt("a notification without its key".into()))?;
    let (Some(lead_id), Some(event_id)) = (keys::lead_of(&key.pk), keys::event_of(&key.sk)) else {
        return Err(StoreError::Corrupt(format!(
            "not a notification's key: {} {}",
            key.pk, key.sk
        )));
    };
    let text = |s: &str| AttributeValue::S(s.to_string());
    item.entry("lead_id".into())
        .or_insert_with(|| text(lead_id));
    if let Some(AttributeValue::M(message)) = item.get_mut("message") {
        message
            .entry("lead_id".into())
            .or_insert_with(|| text(lead_id));
        message
            .entry("event_id".into())
            .or_insert_with(|| text(event_id));
    }
    Ok((lead_id.to_string(), event_id.to_string(), item))
}

/// Whether a notification item is one of its own, from before an event's channels shared one.
fn legacy(item: &Item) -> bool {
    item.get("status").is_some_and(AttributeValue::is_s)
}

/// What the log index holds of an event's channels.
#[derive(Debug, Deserialize)]
struct EventRows {
    status: BTreeMap<String, NotificationStatus>,
    #[serde(default)]
    attempts: BTreeMap<String, u32>,
    #[serde(default)]
    delivered_at: BTreeMap<String, Timestamp>,
}

/// An event's rows in the log index, one per channel.
pub(super) fn notification_rows(item: Item) -> StoreResult<Vec<NotificationRow>> {
    let (lead_id, _, item) = with_notification_ids(item)?;
    if legacy(&item) {
        return Ok(vec![decode(item)?]);
    }
    let mut rows: EventRows = decode(item)?;
    Ok(rows
        .status
        .into_iter()
        .map(|(channel, status)| NotificationRow {
            lead_id: lead_id.clone(),
            status,
            attempts: rows.attempts.get(&channel).copied().unwrap_or(0),
            delivered_at: rows.delivered_at.remove(&channel),
        })
        .collect())
}

/// An event's notifications as stored, one per channel, each with its next attempt.
pub(super) fn notifications(item: Item) -> StoreResult<Vec<StoredNotification>> {
    let (lead_id, event_id, item) = with_notification_ids(item)?;
    if legacy(&item) {
        let due: Due = decode(item.clone())?;
        let mut notification: StoredNotification = decode(item)?;
        let pending = notification.status == NotificationStatus::Pending;
        notification.next_attempt_at = due.due_at.filter(|_| pending);
        notification.legacy = true;
        return Ok(vec![notification]);
    }
    let Some(AttributeValue::B(packed)) = item.get(PACKED) else {
        return Err(StoreError::Corrupt(format!(
            "a notification of {lead_id} without its message"
        )));
    };
    let (message, channels) = unpack(packed.as_ref(), &lead_id, &event_id)?;
    let mut state: EventState = decode(item)?;
    Ok(channels
        .into_iter()
        .map(|channel| {
            let id = &channel.id;
            let status = state
                .status
                .get(id)
                .copied()
                .unwrap_or(NotificationStatus::Pending);
            let pending = status == NotificationStatus::Pending;
            StoredNotification {
                lead_id: lead_id.clone(),
                message: message.clone(),
                status,
                attempts: state.attempts.get(id).copied().unwrap_or(0),
                last_error: state.last_error.remove(id),
                delivered_at: state.delivered_at.remove(id),
                next_attempt_at: state.next_at.get(id).copied().filter(|_| pending),
                legacy: false,
                channel,
            }
        })
        .collect())
}

/// The count of dead notifications (`STATS`, `NOTIFICATIONS`).
#[derive(Debug, Deserialize)]
pub(super) struct DeadCount {
    #[serde(default)]
    pub dead: i64,
}

/// A pool's ticket counter (`POOL#<pool>`, `ROTATION`): the last ticket handed out, the
/// cycle it started, tickets given back for later leads (oldest first), and the rotation
/// repair's progress (every ticket up to `checked_through` is used or given back; `mark_turn`
/// was the last ticket at `mark_at`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct Rotation {
    #[serde(default)]
    pub turn: u64,
    #[serde(default)]
    pub cycle_start: u64,
    #[serde(default)]
    pub cycle_config: u64,
    #[serde(default)]
    pub returned: Vec<u64>,
    pub checked_through: Option<u64>,
    pub mark_turn: Option<u64>,
    pub mark_at: Option<i64>,
}

/// Every rep ever made a member of a pool (`POOL#<pool>`, `MEMBERS`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct PoolMembers {
    #[serde(default)]
    pub reps: Vec<String>,
}

/// What the rotation repair records of its progress.
#[derive(Debug, Serialize)]
pub(super) struct RepairMark {
    pub checked_through: u64,
    pub mark_turn: u64,
    pub mark_at: i64,
}

/// The record of one ticket taken by a stored lead (`POOL#<pool>`, `TURN#<ticket>`): the lead
/// and its owner; `passed` when the lead passed through the pool (nobody there could take it).
#[derive(Debug, Serialize)]
pub(super) struct TurnItem<'a> {
    pub lead_id: &'a str,
    pub owner_id: &'a str,
    pub at: Timestamp,
    pub passed: Option<bool>,
}

/// A rep's roster entry and load (`REP#<rep>`, `STATE`), as read; `ticket:<pool>` attributes
/// are read one by one (see `keys::ticket_attribute`).
#[derive(Debug, Deserialize)]
pub(super) struct RepState {
    pub active: Option<bool>,
    #[serde(default)]
    pub pools: Vec<String>,
    #[serde(default)]
    pub open: i64,
    pub floor_open: Option<i64>,
    pub floor_until: Option<i64>,
}

/// What a publish writes to a rep's entry.
#[derive(Debug, Serialize)]
pub(super) struct RosterChange<'a> {
    pub active: bool,
    pub pools: &'a [String],
    pub roster_at: Timestamp,
    pub floor_open: Option<u64>,
    pub floor_until: Option<i64>,
}

/// A contact (`CONTACT#<email>`, `CONTACT`).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ContactItem {
    pub key: String,
    pub lead_id: String,
    pub last_lead_id: String,
    pub first_seen_at: Timestamp,
    pub leads: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission: Option<crate::store::Submission>,
}

impl ContactItem {
    /// The contact as routing sees it.
    pub fn contact(self) -> crate::store::Contact {
        crate::store::Contact {
            key: self.key,
            lead_id: self.lead_id,
            first_seen_at: self.first_seen_at,
            leads: self.leads,
            submission: self.submission,
        }
    }
}

/// An account (`ACCOUNT#<id>`, `ACCOUNT`).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AccountItem {
    pub account: Account,
}

/// The account owning a domain (`DOMAIN#<domain>`, `DOMAIN`).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct DomainItem {
    pub account_id: String,
    pub account: Account,
}

/// The SET and REMOVE clauses of an update. Attribute names always go through
/// placeholders (`#status`), so reserved words and names like `ticket:<pool>` need no care.
#[derive(Debug, Clone, Default)]
pub(super) struct Changes {
    set: Vec<String>,
    remove: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Changes {
    /// Sets every attribute `body` serialises to (a struct: field name = attribute).
    pub fn set<T: Serialize>(body: &T) -> StoreResult<Self> {
        Self::default().and(body)
    }

    /// Also sets every attribute `body` serialises to.
    pub fn and<T: Serialize>(mut self, body: &T) -> StoreResult<Self> {
        let mut attributes: Vec<_> = fields(body)?.into_iter().collect();
        attributes.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, value) in attributes {
            self = self.set_value(&name, value);
        }
        Ok(self)
    }

    /// Sets one attribute.
    fn set_value(mut self, name: &str, value: AttributeValue) -> Self {
        let clause = format!("{} = {}", self.name(name), self.value(value));
        self.set.push(clause);
        self
    }

    /// Appends `items` to a list attribute, creating it if missing.
    pub fn append(mut self, name: &str, items: Vec<AttributeValue>) -> Self {
        let (name, empty) = (self.name(name), self.value(AttributeValue::L(Vec::new())));
        let items = self.value(AttributeValue::L(items));
        let clause = format!("{name} = list_append(if_not_exists({name}, {empty}), {items})");
        self.set.push(clause);
        self
    }

    /// Removes attributes.
    pub fn remove(mut self, names: &[&str]) -> Self {
        for name in names {
            let name = self.name(name);
            self.remove.push(name);
        }
        self
    }

    /// The update expression, names and values, on `update` (whose own condition may use
    /// the same `#name` placeholders, and values named otherwise than `:v<n>`).
    pub fn on(self, update: UpdateBuilder) -> UpdateBuilder {
        let expression = [("SET", &self.set), ("REMOVE", &self.remove)]
            .iter()
            .filter(|(_, clauses)| !clauses.is_empty())
            .map(|(verb, clauses)| format!("{verb} {}", clauses.join(", ")))
            .collect::<Vec<_>>()
            .join(" ");
        let update = self
            .names
            .into_iter()
            .fold(update, |u, (k, v)| u.expression_attribute_names(k, v));
        self.values
            .into_iter()
            .fold(update, |u, (k, v)| u.expression_attribute_values(k, v))
            .update_expression(expression)
    }

    fn name(&mut self, attribute: &str) -> String {
        let safe: String = attribute
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let mut placeholder = format!("#{safe}");
        if self.names.get(&placeholder).is_some_and(|a| a != attribute) {
            placeholder = format!("#n{}", self.names.len());
        }
        self.names
            .insert(placeholder.clone(), attribute.to_string());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::Update;

    #[test]
    fn a_new_lead_item_has_the_stored_attribute_types() {
        let assignment = crate::domain::routing::fallback("unrouted", "no config");
        let at = "2026-11-24T15:00:00Z".parse().unwrap();
        let new = NewLead {
            lead_id: "l1".into(),
            source: "web".into(),
            received_at: "2026-11-24T15:00:00Z".parse().unwrap(),
            lead: Lead::default(),
            status: LeadStatus::Queued,
            stint: Stint::of(&assignment, 1, at, None, None),
            assignment,
            claim: None,
            ticket: None,
            passed: Vec::new(),
            deadline: None,
            notifications: Vec::new(),
            contact: None,
            facts: LeadFacts::default(),
        };
        let item = LeadItem::new(&new);
        let stored = item.item(None).unwrap();
        let mut names: Vec<_> = stored.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "assignment",
                "facts",
                "first_event",
                "lead",
                "log_pk",
                "log_sk",
                "owner_id",
                "owner_kind",
                "owner_pk",
                "owners",
                "pk",
                "received_at",
                "sk",
                "source",
                "status",
                "stint"
            ]
        );
        assert_eq!(stored["owners"], AttributeValue::L(Vec::new()));
        assert_eq!(stored["status"], AttributeValue::S("queued".into()));
        assert!(stored["lead"].is_m() && stored["assignment"].is_m());
        assert_eq!(stored["log_pk"], AttributeValue::S("LOG#2026-11-24".into()));
        assert_eq!(
            stored["log_sk"],
            AttributeValue::S("2026-11-24T15:00:00.000000Z#l1".into())
        );
        assert_eq!(
            stored["owner_pk"],
            AttributeValue::S("OWNER#unrouted".into())
        );
        // The first assignment on arrival is what a missing number and time say.
        let back = lead(stored).unwrap().unwrap();
        assert_eq!(back.assignment_no, 1);
        assert_eq!(back.assigned_at, Some(back.received_at));
        assert_eq!(back.status(), LeadStatus::Queued);
        assert_eq!(back.lead_id, "l1");
        assert!(back.due_at.is_none());
    }

    #[test]
    fn changes_make_one_expression_with_placeholders() {
        #[derive(Serialize)]
        struct Attempt<'a> {
            attempts: u32,
            status: Option<NotificationStatus>,
            delivered_at: Option<Timestamp>,
            last_error: Option<&'a str>,
            due_at: Option<i64>,
        }
        let attempt = Attempt {
            attempts: 3,
            status: Some(NotificationStatus::Dead),
            delivered_at: None,
            last_error: Some("timeout"),
            due_at: None,
        };
        let update = Changes::set(&attempt)
            .unwrap()
            .append("owners", vec![AttributeValue::S("ava".into())])
            .set_value("ticket:smb", AttributeValue::N("7".into()))
            .remove(&["due_pk", "due_at"])
            .on(Update::builder()
                .table_name("t")
                .set_key(Some(Key::lead("l1").item())))
            .build()
            .unwrap();
        assert_eq!(
            update.update_expression(),
            "SET #attempts = :v0, #last_error = :v1, #status = :v2, \
             #owners = list_append(if_not_exists(#owners, :v3), :v4), #ticket_smb = :v5 \
             REMOVE #due_pk, #due_at"
        );
        let names = update.expression_attribute_names().unwrap();
        assert_eq!(names["#ticket_smb"], "ticket:smb");
        assert_eq!(names["#status"], "status");
        let values = update.expression_attribute_values().unwrap();
        assert_eq!(values[":v0"], AttributeValue::N("3".into()));
        assert_eq!(values[":v5"], AttributeValue::N("7".into()));
    }
}

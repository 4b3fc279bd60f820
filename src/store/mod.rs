//! Storage behind narrow traits, one per use case and named for what it needs ("take a pool's
//! next ticket", "record a lead", "settle a claim"). The one real implementation is DynamoDB
//! ([`dynamo`]); tests run it against DynamoDB Local, and unit tests script the one trait a use
//! case needs. Nothing here decides routing; the records carry typed statuses and timestamps.

pub mod dynamo;
mod error;

pub use error::{StoreError, StoreResult};

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::access::{Actor, Role};
use crate::domain::account::Account;
pub use crate::domain::audience::Deadline;
use crate::domain::channel::Channel;
use crate::domain::distribution::Load;
use crate::domain::lead::Lead;
pub use crate::domain::lifecycle::StatusAction;
use crate::domain::model::{
    Assignment, CapCounter, HistoryEvent, LeadStatus, NotificationStatus, Outcome, Refusal,
    RepClaim, SlaState, Ticket,
};
use crate::domain::notify::Message;
use crate::domain::overrides::Overrides;
use crate::domain::report::row::{LeadFacts, LeadRow, NotificationRow, Stint};
pub use crate::domain::roster::RosterEntry;
use crate::domain::routing::PoolTicket;
use crate::domain::sla::SlaPolicy;

/// A routing config version as stored: immutable once written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredConfig {
    /// Version number, 1, 2, 3, ... (serialised once, in `info`).
    #[serde(skip)]
    pub version: u64,
    /// The document as uploaded (YAML or JSON).
    pub document: String,
    /// Availability set outside the document (the console, reps' own links), applied on top.
    #[serde(skip_serializing_if = "Overrides::is_empty")]
    pub overrides: Overrides,
    /// When it was published, who published it and why, and what changed.
    #[serde(flatten)]
    pub info: VersionInfo,
}

/// What is known of a version besides its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Version number.
    pub version: u64,
    /// When it was published.
    #[serde(rename = "published_at", alias = "created_at")]
    pub created_at: Timestamp,
    /// Who published it (a key's name; absent for versions from before authors were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Why, in the publisher's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What changed from the version it replaced, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The version that was active when it was published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<u64>,
    /// For a rollback: the version whose document it publishes again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<u64>,
}

/// What activating a new version did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// It is the active version now.
    Published(u64),
    /// Another version became active since the one it was based on; nothing was written.
    Stale {
        /// The active version now.
        current: Option<u64>,
    },
}

/// Routing config versions with an active pointer.
#[async_trait]
pub trait ConfigStore: Send + Sync {
    /// The active version number, if a config was ever published.
    async fn active_config_version(&self) -> StoreResult<Option<u64>>;
    /// One stored version.
    async fn config_version(&self, version: u64) -> StoreResult<Option<StoredConfig>>;
    /// Every stored version without its document, oldest first.
    async fn config_versions(&self) -> StoreResult<Vec<VersionInfo>>;
    /// Stores `document` as the next version (numbered by the store: `info.version` is
    /// ignored) and makes it active, with the audit entry, atomically. With `based_on`, only
    /// while that version is still the active one (`Some(0)`: while none is); otherwise it is
    /// [`Activation::Stale`]. This is the raw step: publish through `App::publish`, which
    /// also updates the roster.
    async fn activate_config(
        &self,
        document: &str,
        overrides: &Overrides,
        info: &VersionInfo,
        based_on: Option<u64>,
        audit: &AuditEntry,
    ) -> StoreResult<Activation>;
}

/// A stored key: only its SHA-256 hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Hex SHA-256 of the key.
    pub hash: String,
    /// What the key may do (stored as `kind`: keys made before roles were `source` or
    /// `admin`, which read the same).
    #[serde(rename = "kind")]
    pub role: Role,
    /// The integration or person it belongs to.
    pub name: String,
    /// Revoked keys are refused.
    #[serde(default)]
    pub revoked: bool,
    /// URL prefixes an HTML form may be redirected to after submitting.
    #[serde(default)]
    pub allowed_redirects: Vec<String>,
    /// Origins (`https://www.example.com`) whose pages may post leads with this key from
    /// JavaScript or a form; empty allows any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// Whether a form's redirect carries the new lead's id (`?lead_id=...`), so the thank-you
    /// page (or whoever reads its logs) can find the lead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redirect_lead_id: bool,
    /// When it was made.
    pub created_at: Timestamp,
    /// Who made it (a key's name, or `cli:<user>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// When it was revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
    /// Whether it is in the list of keys (keys made before the list get there on first use).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub listed: bool,
}

impl StoredConfig {
    /// The config in force: the document with its overrides applied.
    pub fn config(
        &self,
    ) -> Result<crate::domain::config::RoutingConfig, Vec<crate::domain::rules::ConfigError>> {
        crate::domain::config::RoutingConfig::parse(&self.document)
            .map(|config| self.overrides.apply(config))
    }
}

impl KeyRecord {
    /// A new, unrevoked key record.
    pub fn new(hash: String, role: Role, name: impl Into<String>, created_at: Timestamp) -> Self {
        Self {
            hash,
            role,
            name: name.into(),
            revoked: false,
            allowed_redirects: Vec::new(),
            allowed_origins: Vec::new(),
            redirect_lead_id: false,
            created_at,
            created_by: None,
            revoked_at: None,
            listed: false,
        }
    }

    /// The key's public id: the first 16 hex digits of its hash (what lists show and revoking
    /// over the API names).
    pub fn id(&self) -> &str {
        &self.hash[..self.hash.len().min(16)]
    }
}

/// Stored keys, looked up by hash, and their list.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The key with this hash, if any.
    async fn find_key(&self, hash: &str) -> StoreResult<Option<KeyRecord>>;
    /// Stores a key and its entry in the list (overwriting one with the same hash), with the
    /// audit entry of its creation, together.
    async fn put_key(&self, key: &KeyRecord, audit: Option<&AuditEntry>) -> StoreResult<()>;
    /// Marks a key revoked at `at`, with the audit entry; false if there was no such key.
    async fn revoke_key(
        &self,
        hash: &str,
        at: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<bool>;
    /// Every listed key, by hash.
    async fn list_keys(&self) -> StoreResult<Vec<KeyRecord>>;
    /// Adds a key made before the list existed to it.
    async fn list_key(&self, key: &KeyRecord) -> StoreResult<()>;
}

/// A response kept for an Idempotency-Key, replayed to retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The JSON body first sent.
    pub body: String,
}

/// What claiming an Idempotency-Key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// This request holds the key now: its lead is to be stored as `lead_id` (the id the key
    /// was claimed for), or the claim given back.
    Claimed {
        /// The only id a lead of this claim can be stored under.
        lead_id: String,
    },
    /// An earlier request with the same payload holds the key: its lead is stored if
    /// `lead_id` exists, else that request is still at work, or vanished once `lease_over`.
    Held {
        /// The holder's lead id (`None` for a claim made before claims named their lead).
        lead_id: Option<String>,
        /// The holder's token, to take the claim over from.
        token: String,
        /// The holder's lease has run out: it can be taken over.
        lease_over: bool,
    },
    /// A request from before claims named their lead completed it, keeping this answer.
    Completed(StoredResponse),
    /// The key was used before with a different payload.
    Mismatch,
}

/// An Idempotency-Key claimed by one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyToken {
    /// Storage key (source plus the client's key).
    pub key: String,
    /// Random token proving this request holds the claim.
    pub token: String,
}

/// Everything written when a lead is routed: stored together or not at all.
#[derive(Debug, Clone)]
pub struct NewLead {
    /// The lead's id.
    pub lead_id: String,
    /// The integration that sent it.
    pub source: String,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The parsed lead, qualified and matched.
    pub lead: Lead,
    /// `open` (a rep owns it), `queued`, or `spam` (a honeypot caught it: routed nowhere,
    /// nobody told).
    pub status: LeadStatus,
    /// Who got it and why.
    pub assignment: Assignment,
    /// What the owning rep's records must allow (membership, caps, load), checked and
    /// counted in the same transaction; `None` when a queue gets the lead.
    pub claim: Option<RepClaim>,
    /// The pool's rotation ticket the lead uses, recorded so no ticket is used twice.
    pub ticket: Option<PoolTicket>,
    /// Tickets of pools the lead passed through, recorded as spent on it.
    pub passed: Vec<PoolTicket>,
    /// The owner's acknowledgement deadline, if an SLA applies.
    pub deadline: Option<Deadline>,
    /// Notifications to record in the outbox with the assignment.
    pub notifications: Vec<Outgoing>,
    /// The contact the lead belongs to, created or updated in the same transaction.
    pub contact: Option<ContactWrite>,
    /// What the lead log and the report keep of it.
    pub facts: LeadFacts,
    /// Its first stint (owner, pool, whom the pool rotated among, skips, deadline).
    pub stint: Stint,
}

/// A contact: one person (by normalised email), however many leads they send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Normalised email (see `Email::contact_key`).
    pub key: String,
    /// The lead whose owner owns the contact.
    pub lead_id: String,
    /// When the contact was first seen.
    pub first_seen_at: Timestamp,
    /// Leads the contact sent.
    pub leads: u64,
    /// The latest submission without an Idempotency-Key that stored a lead of this contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission: Option<Submission>,
}

/// What a lead submitted without an Idempotency-Key leaves on its contact, so that the same
/// submission again (a double click, a retry) within the double-submit window is answered
/// with that lead instead of storing another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// A hash of the source and the lead as submitted.
    pub hash: String,
    /// When it came (epoch seconds).
    pub at: i64,
    /// The lead it stored.
    pub lead_id: String,
}

/// The submission a lead leaves on its contact, and from when on the same one counts as a
/// resubmission: the contact's write is refused if it holds the same submission from then on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionMark {
    /// What the lead leaves.
    pub submission: Submission,
    /// The start of the double-submit window (epoch seconds).
    pub same_since: i64,
}

/// What recording a lead does to its contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactWrite {
    /// A new contact, owned through this lead; refused if the contact exists meanwhile.
    New {
        /// Normalised email.
        key: String,
        /// The submission it leaves, for a lead without an Idempotency-Key.
        mark: Option<SubmissionMark>,
    },
    /// A returning contact: one more lead, a history entry on the owning lead, and, if
    /// `take_over`, this lead becomes the owning one. Refused if the owning lead changed.
    Returning {
        /// Normalised email.
        key: String,
        /// The owning lead as read.
        owning_lead: String,
        /// Whether this lead's owner now owns the contact (the earlier owner could not take it).
        take_over: bool,
        /// The history entry added to the owning lead.
        note: HistoryEntry,
        /// The submission it leaves, for a lead without an Idempotency-Key; refused if the
        /// contact holds the same one from within the window.
        mark: Option<SubmissionMark>,
    },
}

/// What an account load did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AccountLoad {
    /// Accounts in the load.
    pub accounts: usize,
    /// Accounts written (new or changed).
    pub written: usize,
    /// Accounts already stored exactly so (not written again).
    pub unchanged: usize,
    /// Domains an account no longer has, removed.
    pub domains_removed: usize,
}

/// An event to record in the outbox: one item, one delivery per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Where it goes, each channel once (with secret references, never secrets).
    pub channels: Vec<Channel>,
    /// What it says.
    pub message: Message,
    /// When the sweeper may first try it: later than now when the writer delivers it at once
    /// itself, so the two do not race.
    pub first_sweep_at: i64,
}

impl Outgoing {
    /// The event's notifications as it is first stored: every channel pending, no attempt
    /// yet, first due for the sweeper at `first_sweep_at`.
    pub fn pending(&self, lead_id: &str) -> Vec<StoredNotification> {
        self.channels
            .iter()
            .map(|channel| StoredNotification {
                lead_id: lead_id.to_string(),
                channel: channel.clone(),
                message: self.message.clone(),
                status: NotificationStatus::Pending,
                attempts: 0,
                last_error: None,
                delivered_at: None,
                next_attempt_at: Some(self.first_sweep_at),
                legacy: false,
            })
            .collect()
    }
}

/// A notification (an event's delivery to one channel) as stored, with its delivery state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredNotification {
    /// The lead it is about.
    pub lead_id: String,
    /// The channel.
    pub channel: Channel,
    /// What it says.
    pub message: Message,
    /// Pending, delivered or dead.
    pub status: NotificationStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// The last failure, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<Timestamp>,
    /// When the next attempt is due (Unix seconds), while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<i64>,
    /// Stored as an item of its own, the way notifications were before one item held every
    /// channel of an event (still read, retried and revived).
    #[serde(skip)]
    pub legacy: bool,
}

/// One channel's delivery attempt, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempted {
    /// The channel's id.
    pub channel: String,
    /// Attempts made, this one included.
    pub attempts: u32,
    /// What it did.
    pub result: Delivery,
}

/// What one delivery attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver accepted it.
    Delivered {
        /// When.
        at: Timestamp,
    },
    /// It failed; `retry_at` is when to try again, `None` if this was the last attempt.
    Failed {
        /// What went wrong (no lead data).
        error: String,
        /// Next attempt (Unix seconds), or `None`: dead.
        retry_at: Option<i64>,
        /// When it failed.
        at: Timestamp,
    },
}

/// Partitions of the sparse due index per kind of due item; the sweeper reads each.
pub const DUE_SHARDS: u32 = 4;

/// Which kind of due item the sweeper asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueKind {
    /// Leads whose owner has not acknowledged by the deadline.
    Sla,
    /// Notifications waiting for a (re)try.
    Outbox,
}

/// An item the sparse due index says needs attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueItem {
    /// The lead.
    pub lead_id: String,
    /// For the outbox: the notification's event id.
    pub event_id: Option<String>,
    /// When it became due (Unix seconds), as the index has it.
    pub due_at: i64,
}

/// A page of due items and where the next page starts (an opaque cursor).
#[derive(Debug, Clone, Default)]
pub struct DuePage {
    /// The items.
    pub items: Vec<DueItem>,
    /// Pass back to read the next page; `None` at the end.
    pub next: Option<String>,
}

/// A reassignment after an SLA breach: stored together or not at all, and only if the lead is
/// still open with the assignment the sweeper saw.
#[derive(Debug, Clone)]
pub struct Reassignment {
    /// The lead.
    pub lead_id: String,
    /// When it arrived (its notifications' place in the log index).
    pub received_at: Timestamp,
    /// The stint this ends, as it ends (breached).
    pub ended: Stint,
    /// The stint it starts.
    pub stint: Stint,
    /// When.
    pub at: Timestamp,
    /// The assignment number the breach was found on; anything else means someone acted first.
    pub seen_assignment: u64,
    /// The lead's status as read (open for an escalation; a hand reassignment may also move
    /// an acknowledged or queued lead); anything else means someone acted first.
    pub seen_status: LeadStatus,
    /// Where the lead stands against its SLA afterwards.
    pub sla_state: Option<SlaState>,
    /// The audit entry of a reassignment by hand, stored with it.
    pub audit: Option<AuditEntry>,
    /// The rep losing an open lead (their open count drops).
    pub previous_rep: Option<String>,
    /// The new owner and why.
    pub assignment: Assignment,
    /// What the new rep's records must allow.
    pub claim: Option<RepClaim>,
    /// The pool ticket used, if any.
    pub ticket: Option<PoolTicket>,
    /// Tickets of pools the lead passed through, recorded as spent on it.
    pub passed: Vec<PoolTicket>,
    /// The new owner's deadline.
    pub deadline: Option<Deadline>,
    /// Escalations after this one.
    pub escalations: u32,
    /// Who is told.
    pub notifications: Vec<Outgoing>,
    /// The lead's first history entry, to be written out as its own item because it lived
    /// on the lead (see [`StoredLead::first_inline`]).
    pub first_entry: Option<HistoryEntry>,
}

/// A step of an owner's SLA schedule that keeps the lead with them (a reminder, an alert),
/// stored only if the lead is still open with the assignment and step count read.
#[derive(Debug, Clone)]
pub struct SlaStepChange {
    /// The lead.
    pub lead_id: String,
    /// When it arrived (its notifications' place in the log index).
    pub received_at: Timestamp,
    /// The assignment the step belongs to.
    pub seen_assignment: u64,
    /// Steps taken when the lead was read.
    pub seen_step: u32,
    /// Steps taken after this one (more than one more when reminders were passed over).
    pub step: u32,
    /// When the sweeper next looks at it; `None` when the schedule is finished.
    pub next_due: Option<i64>,
    /// The deadline has passed: the SLA is breached (the owner keeps the lead).
    pub breached: bool,
    /// The current stint with the step counted.
    pub stint: Stint,
    /// The history entry.
    pub history: HistoryEntry,
    /// Who is told.
    pub notifications: Vec<Outgoing>,
}

/// Why storing an offer (a new lead, a reassignment) failed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The rep's records refused it; nothing was written: offer the lead to the next rep.
    #[error("refused: {0:?}")]
    Refused(Refusal),
    /// What the commit was based on changed; nothing was written by it.
    #[error("stale: {0:?}")]
    Stale(Stale),
    /// Storage failed (for [`StoreError::Unavailable`], whether it was written is unknown).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What changed under a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// The lead was acknowledged, closed or reassigned meanwhile: nothing to escalate.
    LeadChanged,
    /// The contact was created or changed owner meanwhile: look again.
    ContactChanged,
    /// The request no longer holds its Idempotency-Key claim: a retry took it over.
    ClaimLost,
    /// The lead already exists: an earlier attempt of this same transaction (the SDK retried
    /// after a lost answer) stored it.
    AlreadyStored,
}

/// What a status change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusOutcome {
    /// Changed; the lead's new status.
    Changed(LeadStatus),
    /// The lead already had that status; nothing changed.
    Unchanged(LeadStatus),
    /// Not allowed from the lead's status (acknowledging a closed or queued lead).
    NotAllowed(LeadStatus),
    /// The link was for an earlier assignment: the lead has been reassigned since.
    Superseded,
    /// No such lead.
    NotFound,
}

/// One entry in a lead's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub event: HistoryEvent,
    /// The readable reason.
    pub reason: String,
}

/// A lead as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredLead {
    /// The lead's id.
    pub lead_id: String,
    /// The integration that sent it.
    pub source: String,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The parsed lead.
    pub lead: Lead,
    /// Where it stands.
    pub status: LeadStatus,
    /// Current owner and why.
    pub assignment: Assignment,
    /// Which assignment this is: 1 for the first owner, one more per reassignment.
    pub assignment_number: u64,
    /// When the current owner got it.
    pub assigned_at: Timestamp,
    /// Escalations so far.
    pub escalations: u32,
    /// The SLA the current owner is held to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<SlaPolicy>,
    /// The current owner's deadline, while awaiting acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_due_at: Option<Timestamp>,
    /// When the sweeper may next look at it (Unix seconds), while awaiting acknowledgement.
    #[serde(skip)]
    pub due_at: Option<i64>,
    /// Steps of the current owner's SLA schedule taken so far (reminders, alerts).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sla_step: u32,
    /// Whether `history[0]` lives on the lead item rather than as its own item (a
    /// reassignment writes it out before the assignment's reason changes).
    #[serde(skip)]
    pub first_inline: bool,
    /// Reps who owned it, first to last.
    pub owners: Vec<String>,
    /// When it was acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<Timestamp>,
    /// Seconds from arrival to acknowledgement (speed to lead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_ack_seconds: Option<i64>,
    /// Seconds from the current owner's assignment to acknowledgement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_ack_seconds: Option<i64>,
    /// When it was closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
    /// Where it stands against its SLA (pending, met, breached), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_state: Option<SlaState>,
    /// Every owner's turn with it, first to current: pool, whom the pool rotated among,
    /// who was skipped and why, deadline, how it ended.
    pub stints: Vec<Stint>,
    /// The latest outcome recorded (contacted, meeting, won, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Every outcome stage it reached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Outcome>,
    /// The value recorded when it was won.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub won_value: Option<f64>,
    /// Everything that happened to it, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Its notifications and their delivery state.
    pub notifications: Vec<StoredNotification>,
}

/// What settling a failed request's claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The claim was this request's: it is given back and its lead id fenced, so the request's
    /// lead transaction (whose lead must not exist) can never commit.
    Released,
    /// The claim's lead is stored (by this request's transaction, or by a retry that took the
    /// claim over for the same lead id).
    Stored,
    /// The claim is another request's (a retry took it over, for the same lead id) and its
    /// lead is not stored yet. (A claim gone, or made anew for another lead, is no longer this
    /// request's either; then its lead id is fenced alone and this is `Released`.)
    NotHeld,
}

/// What repairing a pool's rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationRepair {
    /// Tickets found unused long after they were taken, given back for later leads.
    pub returned: Vec<u64>,
}

/// Idempotency-Key claims: one per lead submission, naming the one lead id it may be stored
/// under, so the lead's own "must not exist" condition makes it exactly once.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims a free (or expired) key for this request and lead `lead_id`, recognises this
    /// request's own claim, or says who holds it. The claim's lease runs `lease_seconds` from
    /// now; the record expires `keep_seconds` from now, by DynamoDB's TTL.
    async fn claim_idempotency(
        &self,
        token: &IdempotencyToken,
        request_hash: &str,
        lead_id: &str,
        now_epoch: i64,
        lease_seconds: i64,
        keep_seconds: i64,
    ) -> StoreResult<IdempotencyClaim>;
    /// Takes over a claim whose holder (token `seen`) vanished past its lease, for lead
    /// `lead_id` (the holder's, so whichever of the two stores it, there is one lead). False
    /// if the claim changed meanwhile.
    async fn take_over_idempotency(
        &self,
        token: &IdempotencyToken,
        seen: &str,
        lead_id: &str,
        now_epoch: i64,
        lease_seconds: i64,
    ) -> StoreResult<bool>;
    /// Whether lead `lead_id` is stored (a claim's holder finished).
    async fn lead_exists(&self, lead_id: &str) -> StoreResult<bool>;
    /// Settles the claim of a request that failed, in one transaction: gives it back and
    /// fences `lead_id` (so the lead can never be stored), unless the lead is stored or the
    /// claim is another request's. Without a `lead_id` (no transaction storing the lead was
    /// ever sent) it only gives the claim back.
    async fn settle_idempotency(
        &self,
        token: &IdempotencyToken,
        lead_id: Option<&str>,
        now_epoch: i64,
    ) -> StoreResult<Settled>;
    /// Fences the id of a lead no claim names (one without an Idempotency-Key, kept once by
    /// its contact) after its transaction may have been sent: `Released` once fenced (nothing
    /// is stored, and that transaction can no longer store it), `Stored` if the lead is there.
    async fn fence_lead(&self, lead_id: &str, now_epoch: i64) -> StoreResult<Settled>;
}

/// Pools' rotations: tickets, tickets given back, and the repair that finds lost ones.
#[async_trait]
pub trait RotationStore: Send + Sync {
    /// A ticket of the pool's rotation no other lead holds: the oldest one given back, if
    /// any, else the next new one.
    async fn take_ticket(&self, pool: &str) -> StoreResult<Ticket>;
    /// Gives unused tickets back, so later leads take those turns.
    async fn return_tickets(&self, pool: &str, turns: &[u64]) -> StoreResult<()>;
    /// Records that these reps may hold the pool's tickets from now on: called before the
    /// config that makes them members is activated, so the rotation repair reads their
    /// entries (a rep once enrolled stays enrolled).
    async fn enroll(&self, pool: &str, reps: &[String]) -> StoreResult<()>;
    /// Gives back the tickets taken more than `lease_seconds` ago (by `now_epoch`) that no
    /// stored lead uses and nobody gave back: their requests died. `members` are the pool's
    /// reps in the config the caller has, read besides every rep ever enrolled.
    async fn repair_rotation(
        &self,
        pool: &str,
        now_epoch: i64,
        lease_seconds: i64,
        members: &[String],
    ) -> StoreResult<RotationRepair>;
    /// Starts a new rotation cycle for a pool: the next ticket gets slot 0.
    async fn restart_cycle(&self, pool: &str, config_version: u64) -> StoreResult<()>;
}

/// Reps' standing as storage enforces it, and their loads.
#[async_trait]
pub trait RosterStore: Send + Sync {
    /// Writes reps' roster entries (membership and active flag) as given.
    async fn write_roster(&self, entries: &[RosterEntry]) -> StoreResult<()>;
    /// Current open-lead loads of these reps (a missing rep has none), with floors that have
    /// not expired by `now_epoch` and each rep's latest ticket from `pool`.
    async fn rep_loads(
        &self,
        reps: &[String],
        pool: &str,
        now_epoch: i64,
    ) -> StoreResult<Vec<(String, Load)>>;
}

/// What a simulation reads instead of writing: the next ticket and the claim checks.
#[async_trait]
pub trait ProbeStore: Send + Sync {
    /// The ticket [`RotationStore::take_ticket`] would hand out now, without taking it.
    async fn peek_ticket(&self, pool: &str) -> StoreResult<Ticket>;
    /// Whether the rep's records would refuse `claim` now, and why (the same conditions as
    /// the commit, read without writing).
    async fn check_claim(&self, claim: &RepClaim) -> StoreResult<Option<Refusal>>;
    /// Reps' cap counters (how many pool leads each got in that day or week), in order.
    async fn cap_counts(&self, counters: &[(String, CapCounter)]) -> StoreResult<Vec<u64>>;
}

/// Leads and their contacts.
#[async_trait]
pub trait LeadStore: Send + Sync {
    /// Records a lead with its assignment, pool ticket, first history entry, contact, outbox
    /// and the owning rep's counters in one transaction, only if no item has its id (the one
    /// its claim names); or refuses if the rep's records do not allow it, or says what
    /// changed under it.
    async fn record_assignment(&self, lead: &NewLead) -> Result<(), CommitError>;
    /// A lead with its history and notifications.
    async fn get_lead(&self, lead_id: &str) -> StoreResult<Option<StoredLead>>;
    /// Acknowledges or closes a lead, keeping its owner's open-lead count right and stopping
    /// its SLA clock. With `assignment`, only while the lead still has that assignment number
    /// (a signed link's); otherwise [`StatusOutcome::Superseded`].
    async fn change_status(
        &self,
        lead_id: &str,
        action: StatusAction,
        at: Timestamp,
        assignment: Option<u64>,
    ) -> StoreResult<StatusOutcome>;
    /// A contact by normalised email.
    async fn contact(&self, key: &str) -> StoreResult<Option<Contact>>;
    /// Records what came of a lead: its latest outcome, every stage it reached, the value of
    /// a win, and a history entry, together. `false` if there is no such lead.
    async fn record_outcome(&self, lead_id: &str, record: &OutcomeRecord) -> StoreResult<bool>;
    /// Records a touch on a lead (a call, an email, ...) in its history. The first one on a
    /// lead still awaiting its owner is the owner's first touch: like an acknowledgement at
    /// the activity's time, it stops the SLA clock and settles the SLA (met if by the
    /// deadline, breached after it).
    async fn record_activity(
        &self,
        lead_id: &str,
        activity: &ActivityRecord,
    ) -> StoreResult<ActivityOutcome>;
}

/// A touch on a lead, as a CRM or anything holding a key reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    /// What happened.
    pub kind: crate::domain::model::ActivityKind,
    /// When it happened (not after now).
    pub at: Timestamp,
    /// A short note.
    pub note: Option<String>,
    /// Who reported it (the key's name).
    pub by: String,
}

/// What recording an activity did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivityOutcome {
    /// It was the owner's first touch: the SLA clock stopped, and the SLA stands so.
    ClockStopped(Option<SlaState>),
    /// Recorded in the history; the lead was not awaiting its owner (already touched,
    /// queued, closed), so nothing else changed.
    Recorded(LeadStatus),
    /// No such lead.
    NotFound,
}

/// An outcome as recorded on a lead.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeRecord {
    /// What came of it.
    pub outcome: Outcome,
    /// When.
    pub at: Timestamp,
    /// Why, in the recorder's words.
    pub reason: Option<String>,
    /// A value (a won deal's amount, say).
    pub value: Option<f64>,
    /// Who recorded it (the key's name).
    pub by: String,
}

/// What the SLA sweeper needs: the sparse due index, leases and reassignments.
#[async_trait]
pub trait SweepStore: Send + Sync {
    /// One page of items of `kind` due by `now_epoch` in one shard of the due index.
    async fn due(
        &self,
        kind: DueKind,
        shard: u32,
        now_epoch: i64,
        cursor: Option<&str>,
        limit: i32,
    ) -> StoreResult<DuePage>;
    /// Takes a due item for `until - now` seconds by moving its due time to `until`, only if
    /// it is still due at `seen_due_at`. False if another sweeper (or an ack) got there first.
    async fn lease_due(&self, item: &DueItem, seen_due_at: i64, until: i64) -> StoreResult<bool>;
    /// Reassigns a lead after a breach, or refuses ([`Stale::LeadChanged`] if the lead moved
    /// on; the new rep's refusals as for a new lead).
    async fn reassign(&self, change: &Reassignment) -> Result<(), CommitError>;
    /// Takes a step that keeps the owner, or refuses ([`Stale::LeadChanged`] if the lead was
    /// acknowledged, reassigned or the step taken meanwhile).
    async fn take_step(&self, change: &SlaStepChange) -> Result<(), CommitError>;
}

/// The outbox: notifications and their delivery results.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// An event's notifications, one per channel (none if there is no such event).
    async fn notification(
        &self,
        lead_id: &str,
        event_id: &str,
    ) -> StoreResult<Vec<StoredNotification>>;
    /// Records attempts' results on an event's item, all or nothing: delivered, retry later,
    /// or dead (counted, and listed with the channel). `seen` is every channel's state as
    /// read (or as just written); nothing is recorded if any changed meanwhile (another
    /// attempt recorded it, or a dead one was put back).
    async fn record_deliveries(
        &self,
        lead_id: &str,
        event_id: &str,
        seen: &[StoredNotification],
        attempted: &[Attempted],
    ) -> StoreResult<()>;
    /// Notifications marked dead, ever.
    async fn dead_notifications(&self) -> StoreResult<u64>;
    /// The notifications now dead, newest first, at most `limit`.
    async fn dead_list(&self, limit: usize) -> StoreResult<Vec<DeadNotification>>;
    /// Puts a dead notification back in the outbox with a fresh set of attempts, due at
    /// `due_at`; `false` if it is not dead (any more).
    /// `legacy`: the notification is an item of its own ([`StoredNotification::legacy`]).
    async fn revive(&self, dead: &DeadNotification, legacy: bool, due_at: i64)
        -> StoreResult<bool>;
}

/// A notification given up on, as the list of dead ones keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadNotification {
    /// The lead.
    pub lead_id: String,
    /// The notification.
    pub event_id: String,
    /// Its channel's id.
    pub channel: String,
    /// When it died.
    pub at: Timestamp,
    /// Its attempts.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
}

/// Accounts: who the team already knows.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Stores accounts by id, idempotently: unchanged ones are not written, a domain an
    /// account no longer lists stops matching it.
    async fn put_accounts(&self, accounts: &[Account]) -> StoreResult<AccountLoad>;
    /// One account.
    async fn account(&self, id: &str) -> StoreResult<Option<Account>>;
    /// What routing reads about a new lead, in one request: the accounts that own any of
    /// `domains` (by domain) and the contact with `contact_key`. Either may be a moment stale:
    /// accounts are reference data, and the lead's transaction checks the contact it was
    /// routed by (a contact created or handed over meanwhile fails it, and routing reads the
    /// contact again, consistently).
    async fn accounts_and_contact(
        &self,
        domains: &[String],
        contact_key: Option<&str>,
    ) -> StoreResult<(std::collections::HashMap<String, Account>, Option<Contact>)>;
}

/// What the lead log shows: a period, an owner and filters; newest first.
#[derive(Debug, Clone)]
pub struct LogQuery {
    /// Leads that arrived at or after this.
    pub from: Timestamp,
    /// Leads that arrived before this.
    pub to: Timestamp,
    /// Only leads whose current owner (a rep or a queue) has this id.
    pub owner: Option<String>,
    /// Only leads the current owner got through this pool.
    pub pool: Option<String>,
    /// Only leads this rule routed.
    pub rule: Option<String>,
    /// Only leads from this source key (by name).
    pub source: Option<String>,
    /// Only leads in this status.
    pub status: Option<LeadStatus>,
    /// Only leads in this SLA state at `now` (a deadline passed unswept is breached).
    pub sla: Option<SlaState>,
    /// Only leads escalated at least once (`true`) or never (`false`).
    pub escalated: Option<bool>,
    /// Only leads whose email, name or company contains this (case-insensitive).
    pub search: Option<String>,
    /// The moment SLA states are judged at.
    pub now: Timestamp,
    /// Most rows in the page.
    pub limit: usize,
    /// Where the previous page ended.
    pub cursor: Option<String>,
}

/// One page of the lead log.
#[derive(Debug, Clone, Default)]
pub struct LogPage {
    /// The leads, newest first.
    pub rows: Vec<LeadRow>,
    /// Pass back for the next page; `None` at the end.
    pub next: Option<String>,
}

/// Every row of leads that arrived in a period, with their notifications, and what reading
/// them cost.
#[derive(Debug, Clone, Default)]
pub struct PeriodRows {
    /// The leads, oldest first.
    pub leads: Vec<LeadRow>,
    /// Their notifications.
    pub notifications: Vec<NotificationRow>,
    /// Read capacity units the Queries consumed, as DynamoDB reported them.
    pub read_units: f64,
    /// Query calls made.
    pub queries: u64,
}

/// A lead as it arrived, for a replay.
#[derive(Debug, Clone)]
pub struct ArrivedLead {
    /// The lead's id.
    pub lead_id: String,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The source key's name.
    pub source: String,
    /// Its fields (with the account it matched).
    pub lead: Lead,
    /// Where it stands.
    pub status: LeadStatus,
    /// Its current assignment (its rotation ticket, for a pool lead).
    pub assignment: Assignment,
    /// The config version its first assignment was made under.
    pub first_version: Option<u64>,
}

/// The lead log and the report's reads: Query on the log indexes, never Scan.
#[async_trait]
pub trait LogStore: Send + Sync {
    /// One page of the lead log.
    async fn lead_log(&self, query: &LogQuery) -> StoreResult<LogPage>;
    /// Every lead that arrived in `[from, to)` and its notifications.
    async fn period_rows(&self, from: Timestamp, to: Timestamp) -> StoreResult<PeriodRows>;
    /// These leads as they arrived (BatchGet; missing ones are left out).
    async fn arrived_leads(&self, ids: &[String]) -> StoreResult<Vec<ArrivedLead>>;
}

/// A long job (a replay) kept between requests: its state as JSON and a step number that
/// makes each save conditional on the state read, so two requests never both advance it.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a new job (step 0); it expires by TTL at `expires_at` (Unix seconds).
    async fn create_job(&self, id: &str, state: &str, expires_at: i64) -> StoreResult<()>;
    /// A job's step and state.
    async fn job(&self, id: &str) -> StoreResult<Option<(u64, String)>>;
    /// Saves the state as step `seen + 1`, only while the job is still at step `seen`;
    /// `false` if another request advanced it first.
    async fn save_job(&self, id: &str, seen: u64, state: &str) -> StoreResult<bool>;
}

/// What was changed, as the audit log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A routing config was published.
    ConfigPublished,
    /// An old config version was published again.
    ConfigRolledBack,
    /// A key was created.
    KeyCreated,
    /// A key was revoked.
    KeyRevoked,
    /// Accounts were loaded.
    AccountsLoaded,
    /// A lead was reassigned by hand.
    LeadReassigned,
    /// A rep's availability was changed.
    AvailabilityChanged,
}

/// One entry of the audit log: who changed what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When.
    pub at: Timestamp,
    /// Who (the key's name and role).
    pub actor: Actor,
    /// What kind of change.
    pub action: AuditAction,
    /// What it was done to (a config version, a key id, a lead id, a rep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// What changed, in a sentence.
    pub summary: String,
}

impl AuditEntry {
    /// An entry for `action` on `target` by `actor` at `at`.
    pub fn new(
        actor: &Actor,
        at: Timestamp,
        action: AuditAction,
        target: Option<String>,
        summary: impl Into<String>,
    ) -> Self {
        Self {
            at,
            actor: actor.clone(),
            action,
            target,
            summary: summary.into(),
        }
    }
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// Pass back for the next page; absent at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The audit log. Entries are written in the same transaction as the change they record
/// (account loads, which are batch writes, right after them).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Entries in `[from, to)`, newest first, `limit` a page.
    async fn audit_log(
        &self,
        from: Timestamp,
        to: Timestamp,
        cursor: Option<&str>,
        limit: usize,
    ) -> StoreResult<AuditPage>;
    /// Records an entry on its own.
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
}

/// Everything the router stores.
pub trait Store:
    ConfigStore
    + KeyStore
    + IdempotencyStore
    + RotationStore
    + RosterStore
    + LeadStore
    + SweepStore
    + OutboxStore
    + AccountStore
    + LogStore
    + AuditStore
    + JobStore
    + ProbeStore
{
}
impl<T> Store for T where
    T: ConfigStore
        + KeyStore
        + IdempotencyStore
        + RotationStore
        + RosterStore
        + LeadStore
        + SweepStore
        + OutboxStore
        + AccountStore
        + LogStore
        + AuditStore
        + JobStore
        + ProbeStore
{
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

//! What routing decides and storage keeps: the owner of a lead, the assignment with its
//! explanation, the rotation turn it used, the reps passed over and why, and the claim storage
//! must enforce when a rep takes a lead. Plain data: no decisions are made here.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::availability::Unavailable;
use super::config::Strategy;

/// Who owns a lead now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Owner {
    /// A rep.
    Rep {
        /// Rep id.
        id: String,
        /// Rep display name.
        name: String,
    },
    /// A queue.
    Queue {
        /// Queue id.
        id: String,
        /// Queue display name.
        name: String,
    },
}

impl Owner {
    /// The owner's id.
    pub fn id(&self) -> &str {
        match self {
            Owner::Rep { id, .. } | Owner::Queue { id, .. } => id,
        }
    }

    /// The owner's display name.
    pub fn name(&self) -> &str {
        match self {
            Owner::Rep { name, .. } | Owner::Queue { name, .. } => name,
        }
    }
}

/// A pool's rotation turn used for an assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// The pool.
    pub pool: String,
    /// How the pool chose.
    #[serde(default)]
    pub strategy: Strategy,
    /// The rotation ticket (1-based, never reused).
    pub turn: u64,
    /// The rep's 1-based position in the pool.
    pub position: usize,
    /// How many reps the pool had.
    pub pool_size: usize,
    /// For `least_loaded`: the rep's open leads when chosen (before this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_leads: Option<u64>,
    /// The reps the pool could offer the lead to at that moment (available by the config, not
    /// at a known cap, not refused, never one who had it), whom the rotation ran over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eligible: Vec<String>,
}

/// A cap period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// The rep's local day.
    Day,
    /// The rep's local ISO week.
    Week,
}

impl Period {
    /// `daily` or `weekly`.
    pub fn adjective(self) -> &'static str {
        match self {
            Period::Day => "daily",
            Period::Week => "weekly",
        }
    }
}

/// Why a rep was passed over for a lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// Not available by the config (inactive, out of office, holiday, off shift).
    Unavailable {
        /// Details.
        why: Unavailable,
    },
    /// Already had their cap of pool leads for the period.
    AtCap {
        /// Which cap.
        period: Period,
        /// The cap.
        limit: u32,
    },
    /// Removed from the pool or made inactive by a config saved after this one was loaded.
    NoLongerOnRoster,
    /// Already owned this lead and missed its deadline (escalations never go back).
    HadItBefore,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable { why } => write!(f, "{why}"),
            Self::AtCap { period, limit } => write!(f, "at {} cap of {limit}", period.adjective()),
            Self::NoLongerOnRoster => f.write_str("removed or made inactive by a newer config"),
            Self::HadItBefore => f.write_str("already had this lead"),
        }
    }
}

/// A rep passed over for a lead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skip {
    /// The pool (absent for a named owner).
    pub pool: Option<String>,
    /// The rep.
    pub rep: String,
    /// Why.
    pub reason: SkipReason,
}

/// What happened before the final owner was found: reps skipped, pools that overflowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trail {
    /// Reps passed over, in the order they were considered.
    pub skipped: Vec<Skip>,
    /// Pools in which nobody could take the lead, in order.
    pub overflowed: Vec<String>,
    /// Other things that sent the lead elsewhere (no account owner, ...), as phrases.
    pub notes: Vec<String>,
}

/// An assignment and its explanation, stored with the lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The owner.
    pub owner: Owner,
    /// The rule that matched (absent when no config was active).
    pub rule_id: Option<String>,
    /// The rule's 1-based position.
    pub rule_number: Option<usize>,
    /// The tests that made the rule match.
    pub matched: Vec<String>,
    /// The pool rotation turn, if a pool chose the rep.
    pub turn: Option<Turn>,
    /// The config version that decided.
    pub config_version: Option<u64>,
    /// Reps passed over, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skip>,
    /// Pools in which nobody could take the lead.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overflowed: Vec<String>,
    /// One readable sentence saying why.
    pub reason: String,
}

impl Assignment {
    /// The pool the lead went through, if any.
    pub fn pool(&self) -> Option<&str> {
        self.turn.as_ref().map(|t| t.pool.as_str())
    }
}

/// What storage must check and count, in the same transaction as the lead, when a rep takes
/// it. Caps and membership are enforced there, so concurrent requests cannot break them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepClaim {
    /// The rep.
    pub rep: String,
    /// The pool the rep must still belong to; for a named owner, `None` (must still be active).
    pub pool: Option<String>,
    /// Cap counters to add one to, each refused at its limit.
    pub caps: Vec<CapCounter>,
    /// For `least_loaded`: refuse if the rep's open leads rose above this meanwhile.
    pub max_open: Option<u64>,
}

impl RepClaim {
    /// The claim for a named owner (a rule's rep, an account owner, a returning contact's
    /// owner): still active, no pool, no caps, no load bound.
    pub fn named(rep: &str) -> Self {
        Self {
            rep: rep.to_string(),
            pool: None,
            caps: Vec::new(),
            max_open: None,
        }
    }
}

/// One cap counter: the rep's count of pool leads in one period.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CapCounter {
    /// Day or week.
    pub period: Period,
    /// Which day or week, in the rep's time zone (`2026-11-22`, `2026-W47`).
    pub key: String,
    /// The cap.
    pub limit: u32,
}

/// A pool's rotation ticket: a number no other lead of the pool is handed at the same time,
/// with the ticket that started the pool's current cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// The ticket: 1, 2, 3, ... A ticket is used by at most one stored lead; one given back
    /// by a request that failed goes to a later lead.
    pub turn: u64,
    /// The last ticket before the current cycle began (a team change restarts the cycle).
    pub cycle_start: u64,
    /// The config version that restarted the cycle.
    pub cycle_config: u64,
    /// Given back by a request that did not use it and adopted from the pool's list: unlike a
    /// new ticket, which the counter hands out once, it may have been given back twice, so
    /// storage checks that no other lead holds it.
    pub adopted: bool,
}

impl Ticket {
    /// The ticket's 0-based slot in the current cycle.
    pub fn slot(&self) -> u64 {
        self.turn.saturating_sub(self.cycle_start + 1)
    }
}

/// Why storage refused to give a lead to a rep. Nothing was written; routing offers the lead
/// to the next rep in line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The rep already has their cap of pool leads for this period.
    AtCap(Period),
    /// The rep was removed from the pool or made inactive by a newer config.
    NotOnRoster,
    /// The rep's open leads rose above the bound meanwhile (`least_loaded`): read loads again.
    LoadRose,
    /// Another lead used this rotation ticket (one given back twice): take another.
    TicketUsed,
}

/// Where a lead stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    /// A rep owns it and has not acknowledged it yet: its SLA clock runs.
    Open,
    /// Its owner took it.
    Acknowledged,
    /// It sits in a queue.
    Queued,
    /// It is finished.
    Closed,
    /// A honeypot caught it: stored, routed nowhere.
    Spam,
}

impl LeadStatus {
    /// The status as stored and shown (`open`, `acknowledged`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Queued => "queued",
            Self::Closed => "closed",
            Self::Spam => "spam",
        }
    }

    /// The status of a lead just given to `owner`.
    pub fn assigned_to(owner: &Owner) -> Self {
        match owner {
            Owner::Rep { .. } => Self::Open,
            Owner::Queue { .. } => Self::Queued,
        }
    }
}

impl fmt::Display for LeadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a lead, as its history records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryEvent {
    /// A rep got it.
    Assigned,
    /// It went to a queue.
    Queued,
    /// A honeypot caught it.
    Spam,
    /// It was taken from its owner after a missed deadline and given to another rep.
    Reassigned,
    /// Its owner took it.
    Acknowledged,
    /// It was finished.
    Closed,
    /// The same contact sent another lead.
    Returned,
    /// Someone recorded what came of it (contacted, meeting, won, ...).
    Outcome,
    /// Someone worked it (a call, an email, a meeting, a CRM status change).
    Activity,
    /// Its owner was reminded of the SLA deadline (before it, or that it passed).
    Reminded,
    /// Someone (a manager's channel) was told its owner has not acknowledged in time.
    Alerted,
}

/// What kind of touch an activity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// A phone call.
    Call,
    /// An email sent to the person.
    Email,
    /// A meeting held or booked.
    Meeting,
    /// The lead's status changed in the CRM.
    StatusChange,
}

impl ActivityKind {
    /// Every kind, as named in the API.
    pub const ALL: [ActivityKind; 4] = [Self::Call, Self::Email, Self::Meeting, Self::StatusChange];

    /// The kind as named in the API (`call`, `email`, `meeting`, `status_change`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Call => "call",
            Self::Email => "email",
            Self::Meeting => "meeting",
            Self::StatusChange => "status_change",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl HistoryEvent {
    /// The entry for a lead given to `owner` (new or reassigned).
    pub fn assigned_to(owner: &Owner, reassigned: bool) -> Self {
        match (owner, reassigned) {
            (Owner::Queue { .. }, _) => Self::Queued,
            (Owner::Rep { .. }, false) => Self::Assigned,
            (Owner::Rep { .. }, true) => Self::Reassigned,
        }
    }
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// Not delivered yet; it will be tried again.
    Pending,
    /// The receiver accepted it.
    Delivered,
    /// Given up on after the last attempt.
    Dead,
}

impl NotificationStatus {
    /// The status as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }
}

/// Where a lead stands against its SLA, as stored for the lead log's filter; see
/// `domain::report` for how a deadline that passed unswept counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// A deadline runs and nobody has acknowledged yet.
    Pending,
    /// Acknowledged (or closed) within every deadline it had.
    Met,
    /// An owner missed a deadline.
    Breached,
}

impl SlaState {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Met => "met",
            Self::Breached => "breached",
        }
    }

    /// The state a lead's SLA has once it is acknowledged or closed at `at` (Unix seconds)
    /// with its deadline `due`: met in time, breached after.
    pub fn settled(self, at: i64, due: Option<i64>) -> Self {
        match (self, due) {
            (Self::Pending, Some(due)) if at > due => Self::Breached,
            (Self::Pending, _) => Self::Met,
            (other, _) => other,
        }
    }
}

/// What came of a lead, as a CRM or a rep records it. The stages are not a strict funnel:
/// every stage a lead reached is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Someone reached the person.
    Contacted,
    /// A meeting was booked or held.
    Meeting,
    /// It became a qualified opportunity.
    Qualified,
    /// It was won.
    Won,
    /// It was lost.
    Lost,
    /// It was not a real prospect.
    Disqualified,
}

impl Outcome {
    /// Every outcome, in funnel order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Contacted,
        Outcome::Meeting,
        Outcome::Qualified,
        Outcome::Won,
        Outcome::Lost,
        Outcome::Disqualified,
    ];

    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Contacted => "contacted",
            Self::Meeting => "meeting",
            Self::Qualified => "qualified",
            Self::Won => "won",
            Self::Lost => "lost",
            Self::Disqualified => "disqualified",
        }
    }

    /// The outcome named `text` (as stored), if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

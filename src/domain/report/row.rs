//! What the lead log and the routing report read about each lead: a compact row kept on the
//! lead item (and its notifications) and projected into the log indexes, so a listing or a
//! report never reads the full lead. Written once when a lead is routed and kept exact as it
//! changes (acknowledged, reassigned, closed, an outcome); plain data.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::availability::Unavailable;
use crate::domain::config::{Destination, RoutingConfig};
use crate::domain::lead::Lead;
use crate::domain::model::{
    Assignment, LeadStatus, NotificationStatus, Outcome, Owner, SkipReason, SlaState,
};

/// What intake knew of a lead when it routed it; never changes afterwards.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadFacts {
    /// The email address, as normalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The person's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// ISO country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Milliseconds from the request's arrival until its assignment was decided and sent to
    /// storage (the router's own latency, without the final write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routed_ms: Option<u64>,
    /// Why it went to the fallback queue, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackCause>,
    /// It lacked a field its source requires and went to the data-quality queue.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub data_quality: bool,
}

impl LeadFacts {
    /// The facts of `lead` as intake routed it.
    pub fn of(lead: &Lead, routed_ms: Option<u64>, fallback: Option<FallbackCause>) -> Self {
        let name = [lead.first_name.as_deref(), lead.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            email: lead.email.as_ref().map(|e| e.address.clone()),
            name: (!name.is_empty()).then_some(name),
            company: lead.company.clone(),
            country: lead.country.clone(),
            routed_ms,
            fallback,
            data_quality: lead
                .qualification
                .as_ref()
                .is_some_and(|q| !q.missing.is_empty() && !q.spam),
        }
    }

    /// What a search matches against besides the email (which is lower-case already, and
    /// searched where it is): name and company, lower-cased.
    pub fn search_text(&self) -> String {
        [&self.name, &self.company]
            .into_iter()
            .flatten()
            .map(|s| s.to_lowercase())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Why a lead ended in the fallback queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackCause {
    /// No routing config was active.
    NoConfig,
    /// The active config could not be used.
    ConfigUnusable,
    /// The matching rule sends leads there.
    Rule,
    /// The rule routes to the account owner, and there was none in the config.
    NoAccountOwner,
    /// The named rep could not take it (away, inactive).
    NamedRepUnavailable,
    /// Nobody in the pool (and its overflow pools) could take it.
    PoolsFull,
    /// Its SLA escalations were used up, or the SLA sends missed leads there.
    Escalated,
}

impl FallbackCause {
    /// Every cause, in the order reports list them.
    pub const ALL: [FallbackCause; 7] = [
        FallbackCause::NoConfig,
        FallbackCause::ConfigUnusable,
        FallbackCause::Rule,
        FallbackCause::NoAccountOwner,
        FallbackCause::NamedRepUnavailable,
        FallbackCause::PoolsFull,
        FallbackCause::Escalated,
    ];

    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoConfig => "no_config",
            Self::ConfigUnusable => "config_unusable",
            Self::Rule => "rule",
            Self::NoAccountOwner => "no_account_owner",
            Self::NamedRepUnavailable => "named_rep_unavailable",
            Self::PoolsFull => "pools_full",
            Self::Escalated => "escalated",
        }
    }

    /// Why the routing walk's `assignment` put the lead in `config`'s fallback queue, if it
    /// did (another queue, or a rep, is no fallback).
    pub fn of(config: &RoutingConfig, assignment: &Assignment) -> Option<Self> {
        let Owner::Queue { id, .. } = &assignment.owner else {
            return None;
        };
        if *id != config.fallback_queue {
            return None;
        }
        let rule = assignment
            .rule_id
            .as_deref()
            .and_then(|r| config.rules.iter().find(|rule| rule.id == r));
        Some(if !assignment.overflowed.is_empty() {
            Self::PoolsFull
        } else if assignment.skipped.iter().any(|s| s.pool.is_none()) {
            Self::NamedRepUnavailable
        } else if rule.is_some_and(|r| r.route == Destination::AccountOwner) {
            Self::NoAccountOwner
        } else {
            Self::Rule
        })
    }
}

/// Why a rep was passed over, as the fairness ledger counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// Outside their working hours.
    OffShift,
    /// Out of office.
    OutOfOffice,
    /// On a holiday.
    Holiday,
    /// Marked inactive.
    Inactive,
    /// At a daily or weekly cap.
    AtCap,
    /// Removed from the pool or made inactive by a newer config.
    NoLongerOnRoster,
    /// Had the lead before (an escalation never goes back).
    HadItBefore,
}

impl SkipKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [SkipKind; 7] = [
        SkipKind::OffShift,
        SkipKind::OutOfOffice,
        SkipKind::Holiday,
        SkipKind::Inactive,
        SkipKind::AtCap,
        SkipKind::NoLongerOnRoster,
        SkipKind::HadItBefore,
    ];

    /// The kind of a skip reason.
    pub fn of(reason: &SkipReason) -> Self {
        match reason {
            SkipReason::Unavailable { why } => match why {
                Unavailable::Inactive => Self::Inactive,
                Unavailable::OutOfOffice { .. } => Self::OutOfOffice,
                Unavailable::Holiday { .. } => Self::Holiday,
                Unavailable::OffShift { .. } => Self::OffShift,
            },
            SkipReason::AtCap { .. } => Self::AtCap,
            SkipReason::NoLongerOnRoster => Self::NoLongerOnRoster,
            SkipReason::HadItBefore => Self::HadItBefore,
        }
    }

    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OffShift => "off_shift",
            Self::OutOfOffice => "out_of_office",
            Self::Holiday => "holiday",
            Self::Inactive => "inactive",
            Self::AtCap => "at_cap",
            Self::NoLongerOnRoster => "no_longer_on_roster",
            Self::HadItBefore => "had_it_before",
        }
    }
}

/// A rep passed over in one stint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipFact {
    /// The pool it happened in (`None` for a named owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// The rep.
    pub rep: String,
    /// Why.
    pub why: SkipKind,
}

/// How a stint ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// Its owner missed the deadline and the sweeper moved the lead on.
    Breached,
    /// Someone reassigned it by hand.
    Reassigned,
}

/// One owner's turn with a lead: who got it when, through which pool, among whom, and how it
/// ended. A lead's first stint is written with it; each reassignment ends the current one
/// and starts the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stint {
    /// The assignment number (1 for the first owner).
    pub n: u64,
    /// When it began.
    pub at: Timestamp,
    /// The owner's id (a rep or a queue).
    pub owner: String,
    /// True when the owner is a queue.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub queue: bool,
    /// The pool that chose the rep, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// The config version that decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The pool's reps who could have been offered the lead, with their weights: the fairness
    /// ledger's entitlement for this lead is shared among them by weight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eligible: Vec<(String, u32)>,
    /// Reps passed over on the way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skips: Vec<SkipFact>,
    /// The owner's SLA deadline, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Timestamp>,
    /// How it ended; `None` while it is the current one (or ended by an acknowledgement or a
    /// closing, which the lead itself records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Ended>,
    /// Reminders the owner got (SLA steps, before or after the deadline).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reminders: u32,
    /// Alerts sent about this owner's delay (SLA steps to a manager's channels, say).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub alerts: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Stint {
    /// The stint `assignment` (number `n`, from `at`, with deadline `due`) makes under
    /// `config` (for the pool's weights; `None` when no config could be used).
    pub fn of(
        assignment: &Assignment,
        n: u64,
        at: Timestamp,
        due: Option<Timestamp>,
        config: Option<&RoutingConfig>,
    ) -> Self {
        let turn = assignment.turn.as_ref();
        let pool = turn.and_then(|t| config.and_then(|c| c.pools.get(&t.pool)));
        let eligible = match (turn, pool) {
            (Some(turn), Some(pool)) => turn
                .eligible
                .iter()
                .map(|rep| {
                    let weight = pool
                        .reps
                        .iter()
                        .position(|r| r == rep)
                        .map_or(1, |m| pool.weights[m]);
                    (rep.clone(), weight)
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            n,
            at,
            owner: assignment.owner.id().to_string(),
            queue: matches!(assignment.owner, Owner::Queue { .. }),
            pool: assignment.pool().map(str::to_string),
            version: assignment.config_version,
            eligible,
            skips: assignment
                .skipped
                .iter()
                .map(|s| SkipFact {
                    pool: s.pool.clone(),
                    rep: s.rep.clone(),
                    why: SkipKind::of(&s.reason),
                })
                .collect(),
            due,
            ended: None,
            reminders: 0,
            alerts: 0,
        }
    }
}

/// A lead as the log index holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadRow {
    /// The lead's id.
    pub lead_id: String,
    /// When it arrived.
    pub received_at: Timestamp,
    /// The source key's name.
    pub source: String,
    /// Where it stands.
    pub status: LeadStatus,
    /// The current owner's id.
    pub owner_id: String,
    /// Whether the current owner is a queue.
    pub queued: bool,
    /// The pool the current owner came through.
    pub pool: Option<String>,
    /// The rule that routed it.
    pub rule: Option<String>,
    /// SLA escalations so far.
    pub escalations: u32,
    /// When the current owner got it.
    pub assigned_at: Timestamp,
    /// When it was acknowledged.
    pub acknowledged_at: Option<Timestamp>,
    /// When it was closed.
    pub closed_at: Option<Timestamp>,
    /// The current owner's deadline.
    pub sla_due_at: Option<Timestamp>,
    /// Where it stands against its SLA, as stored (see [`LeadRow::sla_at`]).
    pub sla_state: Option<SlaState>,
    /// What intake knew.
    pub facts: LeadFacts,
    /// Every stint, first to current.
    pub stints: Vec<Stint>,
    /// The latest outcome recorded.
    pub outcome: Option<Outcome>,
    /// Every outcome stage it reached.
    pub stages: Vec<Outcome>,
    /// The value recorded with a `won` outcome.
    pub won_value: Option<f64>,
}

impl LeadRow {
    /// Where the lead stands against its SLA at `now`: a deadline that passed without an
    /// acknowledgement is breached even before the sweeper gets to it.
    pub fn sla_at(&self, now: Timestamp) -> Option<SlaState> {
        match (self.sla_state, self.sla_due_at) {
            (Some(SlaState::Pending), Some(due)) if due <= now => Some(SlaState::Breached),
            (state, _) => state,
        }
    }

    /// When the owner first touched it (acknowledged; or closed, when it was closed first).
    pub fn first_touch(&self) -> Option<Timestamp> {
        self.acknowledged_at.or(self.closed_at)
    }
}

/// A notification as the log index holds it: enough to count deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRow {
    /// The lead it is about.
    pub lead_id: String,
    /// Pending, delivered or dead.
    pub status: NotificationStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When it was delivered.
    pub delivered_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::routing::fixtures::{config, lead, office_hours};
    use crate::domain::routing::simulate;

    #[test]
    fn a_pool_stint_keeps_whom_it_rotated_among_with_their_weights() {
        let c = config();
        let l = lead(&[("email", "a@acme.com"), ("product", "a")]);
        let a = simulate(&c, &l, 1, office_hours());
        let p = Stint::of(&a, 1, office_hours(), None, Some(&c));
        assert_eq!(p.pool.as_deref(), a.pool());
        assert!(!p.eligible.is_empty());
        assert!(p.eligible.iter().all(|(rep, w)| !rep.is_empty() && *w >= 1));
        assert!(!p.queue);
    }

    #[test]
    fn facts_name_the_person_and_search_is_lower_case() {
        let l = lead(&[
            ("email", "Ann.Lee@Acme.com"),
            ("first_name", "Ann"),
            ("last_name", "Lee"),
            ("company", "ACME Robotics"),
        ]);
        let f = LeadFacts::of(&l, Some(7), None);
        assert_eq!(f.name.as_deref(), Some("Ann Lee"));
        assert_eq!(f.email.as_deref(), Some("ann.lee@acme.com"));
        assert_eq!(f.search_text(), "ann lee acme robotics");
        assert_eq!(f.routed_ms, Some(7));
    }

    #[test]
    fn a_deadline_that_passed_unswept_is_breached() {
        let due: Timestamp = "2026-11-24T15:15:00Z".parse().unwrap();
        let row = LeadRow {
            lead_id: "l".into(),
            received_at: due,
            source: "s".into(),
            status: LeadStatus::Open,
            owner_id: "a".into(),
            queued: false,
            pool: None,
            rule: None,
            escalations: 0,
            assigned_at: due,
            acknowledged_at: None,
            closed_at: None,
            sla_due_at: Some(due),
            sla_state: Some(SlaState::Pending),
            facts: LeadFacts::default(),
            stints: Vec::new(),
            outcome: None,
            stages: Vec::new(),
            won_value: None,
        };
        let before: Timestamp = "2026-11-24T15:14:59Z".parse().unwrap();
        assert_eq!(row.sla_at(before), Some(SlaState::Pending));
        assert_eq!(row.sla_at(due), Some(SlaState::Breached));
        assert_eq!(SlaState::Pending.settled(100, Some(100)), SlaState::Met);
        assert_eq!(
            SlaState::Pending.settled(101, Some(100)),
            SlaState::Breached
        );
        assert_eq!(SlaState::Breached.settled(1, Some(100)), SlaState::Breached);
    }
}

//! Why a rep got a lead. Read [`walk`] to answer "why did this rep get this lead?": it is the
//! one routing walk, from the first matching rule (or a returning contact's owner, spam, the
//! data-quality queue) through named reps, pools and their overflow chains to the owner who
//! takes the lead, with the reason as data and as one sentence ([`explain`]). [`pool`] says
//! who in a pool is available and in which order the pool's strategy offers the lead;
//! [`returning`] whether a returning contact goes back to its earlier owner. Pure: the caller
//! supplies the time, the rotation tickets and loads it reads, and tries the offers the walk
//! makes against storage, which enforces the [`RepClaim`] each carries.

pub mod decision;
pub mod explain;
pub mod pool;
pub mod returning;
pub mod walk;

pub use super::model::{
    Assignment, CapCounter, Owner, Period, Refusal, RepClaim, Skip, SkipReason, Ticket, Trail, Turn,
};
pub use decision::{account_owner, decide, overflow_of, Decision};
pub use explain::{fallback, to_named_rep, to_pool_rep, to_queue};
pub use pool::{available_members, cap_counters, offers, pool_claim, Offer};
pub use returning::{returning_owner, to_returning_owner, EarlierLead, Returning};
pub use walk::{simulate, PoolTicket, Proposal, Step, Via, Walk, WalkContext};

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::domain::config::RoutingConfig;
    use crate::domain::lead::Lead;
    use jiff::Timestamp;

    pub fn config() -> RoutingConfig {
        RoutingConfig::parse(
            r#"
reps:
  - {id: ana, name: Ana}
  - {id: ben, name: Ben, timezone: America/New_York, working_hours: {mon-fri: "09:00-17:00"}}
  - {id: erin, name: Erin, out_of_office: [{from: 2026-11-20, to: 2026-11-27}]}
  - {id: dana, name: Dana, active: false}
pools:
  - {id: smb, name: SMB, reps: [ana, ben], overflow: {pool: backup}}
  - {id: backup, name: Backup, reps: [dana], overflow: {queue: nurture}}
queues:
  - {id: nurture, name: Nurture}
rules:
  - {id: freemail, when: {free_mail: true}, route: {queue: nurture}}
  - {id: ent, when: {employees: {gte: 500}}, route: {rep: erin}}
  - {id: default, route: {pool: smb}}
"#,
        )
        .unwrap()
    }

    pub fn lead(pairs: &[(&str, &str)]) -> Lead {
        Lead::parse(pairs.iter().copied()).unwrap()
    }

    /// Tuesday 2026-11-24 15:00 UTC: 10:00 in New York.
    pub fn office_hours() -> Timestamp {
        "2026-11-24T15:00:00Z".parse().unwrap()
    }
}

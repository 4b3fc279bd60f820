//! Why a rep got a lead. Read [`walk`] to answer "why did this rep get this lead?": it is the
//! one routing walk, from the first matching rule (or a returning contact's owner, spam, the
//! data-quality queue) through named reps, pools and their overflow chains to the owner who
//! takes the lead, with the reason as data and as one sentence ([`explain`]). [`pool`] says
//! who in a pool is available and in which order the pool's strategy offers the lead;
//! [`returning`] whether a returning contact goes back to its earlier owner. Pure: the caller
//! supplies the time, the rotation tickets and loads it reads, and tries the offers the walk
//! makes against storage, which enforces the [`RepClaim`] each carries.

pub mod explain;
pub mod pool;
pub mod returning;
pub mod walk;

use super::config::{Destination, Overflow, Pool, RoutingConfig, Rule};
use super::lead::Lead;
pub use super::model::Trail;

pub use super::model::{
    Assignment, CapCounter, Owner, Period, Refusal, RepClaim, Skip, SkipReason, Ticket, Turn,
};
pub use explain::{fallback, to_named_rep, to_pool_rep, to_queue};
pub use pool::{available_members, cap_counters, offers, pool_claim, Offer};
pub use returning::{returning_owner, to_returning_owner, EarlierLead, Returning};
pub use walk::{simulate, PoolTicket, Proposal, Step, Via, Walk, WalkContext};

/// The rule that matched a lead and the tests that made it match.
#[derive(Debug, Clone)]
pub struct Decision<'c> {
    /// The matching rule.
    pub rule: &'c Rule,
    /// Its position in the rule list (0-based).
    pub index: usize,
    /// The tests that matched, in words.
    pub matched: Vec<String>,
}

impl<'c> Decision<'c> {
    /// The pool the rule routes to, if it routes to a pool.
    pub fn pool(&self, config: &'c RoutingConfig) -> Option<&'c Pool> {
        match &self.rule.route {
            Destination::Pool(id) => config.pools.get(id),
            _ => None,
        }
    }
}

/// Evaluates the rules in order; the first match wins. A valid config always ends with a
/// catch-all, so there is always a decision.
pub fn decide<'c>(config: &'c RoutingConfig, lead: &Lead) -> Decision<'c> {
    config
        .rules
        .iter()
        .enumerate()
        .find_map(|(index, rule)| {
            rule.when.matches(lead).map(|matched| Decision {
                rule,
                index,
                matched,
            })
        })
        .expect("a validated config ends with a catch-all rule")
}

/// Where `rep: account.owner` sends a lead: the matched account's owner if they are a rep of
/// this config; otherwise the fallback queue, with the reason noted in the trail.
pub fn account_owner(config: &RoutingConfig, lead: &Lead, trail: &mut Trail) -> Destination {
    let why = match &lead.account {
        None => "the lead matched no account, so it has no account owner".to_string(),
        Some(m) => match &m.account.owner {
            Some(owner) if config.reps.contains_key(owner) => {
                return Destination::Rep(owner.clone())
            }
            Some(owner) => format!(
                "account '{}' is owned by '{owner}', who is not a rep in this config",
                m.account.name
            ),
            None => format!("account '{}' has no owner", m.account.name),
        },
    };
    trail.notes.push(why);
    Destination::Queue(config.fallback_queue.clone())
}

/// Where a pool's leads go when none of its reps can take them.
pub fn overflow_of(config: &RoutingConfig, pool: &Pool) -> Destination {
    match &pool.overflow {
        Some(Overflow::Pool(p)) => Destination::Pool(p.clone()),
        Some(Overflow::Queue(q)) => Destination::Queue(q.clone()),
        None => Destination::Queue(config.fallback_queue.clone()),
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
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

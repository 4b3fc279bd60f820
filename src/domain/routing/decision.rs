//! The rule a lead matches (the first whose condition holds; a valid config ends with a
//! catch-all), and where destinations that are not an owner lead: an account's owner, a
//! pool's overflow.

use crate::domain::config::{Destination, Overflow, Pool, RoutingConfig, Rule};
use crate::domain::lead::Lead;
use crate::domain::model::Trail;

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

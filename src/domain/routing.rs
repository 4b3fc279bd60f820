//! Why a rep got a lead: the first matching rule, the pool's rotation turn, and the stored
//! explanation (as data and as one readable sentence). Pure: the caller supplies the rotation
//! turn it claimed from storage.

use serde::{Deserialize, Serialize};

use super::config::{Destination, Pool, Rep, RoutingConfig, Rule, Strategy};
use super::lead::Lead;

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

/// The rep whose turn a pool's rotation ticket `turn` (1, 2, 3, ...) names, with its 0-based
/// position in the pool.
pub fn rep_for_turn(pool: &Pool, turn: u64) -> (usize, &str) {
    match pool.strategy {
        Strategy::RoundRobin => {
            let position = ((turn.max(1) - 1) % pool.reps.len() as u64) as usize;
            (position, pool.reps[position].as_str())
        }
    }
}

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

/// A pool's rotation turn used for an assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    /// The pool.
    pub pool: String,
    /// The rotation ticket (1-based, never reused).
    pub turn: u64,
    /// The rep's 1-based position in the pool.
    pub position: usize,
    /// How many reps the pool had.
    pub pool_size: usize,
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
    /// One readable sentence saying why.
    pub reason: String,
}

impl Assignment {
    /// The pool the lead went through, if any.
    pub fn pool(&self) -> Option<&str> {
        self.turn.as_ref().map(|t| t.pool.as_str())
    }
}

/// Builds the assignment for a decision. For a pool destination `turn` is the rotation ticket
/// the caller claimed for that pool.
pub fn assign(
    config: &RoutingConfig,
    version: u64,
    decision: &Decision<'_>,
    turn: Option<u64>,
) -> Assignment {
    let rule = decision.rule;
    let why = if decision.matched.is_empty() {
        format!(
            "No earlier rule matched, so the default rule '{}' applied",
            rule.id
        )
    } else {
        format!(
            "Rule '{}' (#{}) matched because {}",
            rule.id,
            decision.index + 1,
            decision.matched.join(" and ")
        )
    };
    let (owner, turn, how) = match &rule.route {
        Destination::Rep(id) => {
            let owner = rep_owner(config.reps.get(id), id);
            let how = format!("assigned to named owner {}", owner_name(&owner));
            (owner, None, how)
        }
        Destination::Queue(id) => {
            let owner = queue_owner(config, id);
            let how = format!("placed in queue '{}'", owner_name(&owner));
            (owner, None, how)
        }
        Destination::Pool(id) => {
            let pool = config.pools.get(id).expect("validated pool reference");
            let ticket = turn.expect("a pool assignment needs a rotation turn");
            let (position, rep_id) = rep_for_turn(pool, ticket);
            let owner = rep_owner(config.reps.get(rep_id), rep_id);
            let how = format!(
                "assigned to {} by round robin in pool '{}' (turn {}, position {} of {})",
                owner_name(&owner),
                pool.name,
                ticket,
                position + 1,
                pool.reps.len()
            );
            let turn = Turn {
                pool: pool.id.clone(),
                turn: ticket,
                position: position + 1,
                pool_size: pool.reps.len(),
            };
            (owner, Some(turn), how)
        }
    };
    Assignment {
        owner,
        rule_id: Some(rule.id.clone()),
        rule_number: Some(decision.index + 1),
        matched: decision.matched.clone(),
        turn,
        config_version: Some(version),
        reason: format!("{why}; {how}."),
    }
}

/// The assignment for a lead that could not be routed by rules (no active config): the
/// fallback queue, with the reason recorded.
pub fn fallback(queue: &str, why: &str) -> Assignment {
    Assignment {
        owner: Owner::Queue {
            id: queue.to_string(),
            name: "Fallback".to_string(),
        },
        rule_id: None,
        rule_number: None,
        matched: Vec::new(),
        turn: None,
        config_version: None,
        reason: format!("{why}; placed in fallback queue '{queue}'."),
    }
}

fn rep_owner(rep: Option<&Rep>, id: &str) -> Owner {
    Owner::Rep {
        id: id.to_string(),
        name: rep
            .map(|r| r.name.clone())
            .unwrap_or_else(|| id.to_string()),
    }
}

fn queue_owner(config: &RoutingConfig, id: &str) -> Owner {
    Owner::Queue {
        id: id.to_string(),
        name: config
            .queues
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string()),
    }
}

fn owner_name(owner: &Owner) -> &str {
    match owner {
        Owner::Rep { name, .. } | Owner::Queue { name, .. } => name,
    }
}

/// Routes a lead without storage, as `leadrouter simulate` does: pool turns start at `turn`.
pub fn simulate(config: &RoutingConfig, lead: &Lead, turn: u64) -> Assignment {
    let decision = decide(config, lead);
    let turn = decision.pool(config).map(|_| turn);
    assign(config, 0, &decision, turn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RoutingConfig {
        RoutingConfig::parse(
            r#"
reps:
  - {id: ana, name: Ana}
  - {id: ben, name: Ben}
  - {id: erin, name: Erin}
pools:
  - {id: smb, name: SMB, reps: [ana, ben]}
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

    fn lead(pairs: &[(&str, &str)]) -> Lead {
        Lead::parse(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn first_matching_rule_wins_and_explains_itself() {
        let c = config();
        let a = simulate(
            &c,
            &lead(&[("email", "x@gmail.com"), ("employees", "900")]),
            1,
        );
        assert_eq!(a.rule_id.as_deref(), Some("freemail"));
        assert_eq!(
            a.reason,
            "Rule 'freemail' (#1) matched because free_mail = true (was true); placed in queue 'Nurture'."
        );
        let a = simulate(
            &c,
            &lead(&[("email", "x@big.com"), ("employees", "900")]),
            1,
        );
        assert_eq!(
            a.owner,
            Owner::Rep {
                id: "erin".into(),
                name: "Erin".into()
            }
        );
    }

    #[test]
    fn pool_turns_rotate_in_order() {
        let c = config();
        let l = lead(&[("email", "x@small.com")]);
        let owners: Vec<_> = (1..=4)
            .map(|t| match simulate(&c, &l, t).owner {
                Owner::Rep { id, .. } => id,
                Owner::Queue { id, .. } => id,
            })
            .collect();
        assert_eq!(owners, ["ana", "ben", "ana", "ben"]);
        let a = simulate(&c, &l, 3);
        assert!(a.reason.starts_with("No earlier rule matched, so the default rule 'default' applied; assigned to Ana by round robin in pool 'SMB' (turn 3, position 1 of 2)"), "{}", a.reason);
    }
}

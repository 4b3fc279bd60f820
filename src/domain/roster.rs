//! What publishing a new routing config changes in storage's roster (each rep's active flag
//! and pool memberships, which every assignment checks in its transaction) and in the pools'
//! rotations. Pure: it compares two configs and says what to write, in which order, so that
//! no moment exists at which a removed or deactivated rep can still be given a lead.

use std::collections::{BTreeMap, BTreeSet};

use super::config::{Pool, RoutingConfig};

/// A rep's standing as storage enforces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    /// The rep.
    pub rep: String,
    /// False for reps made inactive or removed.
    pub active: bool,
    /// Pools the rep is a member of, sorted.
    pub pools: Vec<String>,
    /// For a rep joining a `least_loaded` pool: count as at least this loaded until the epoch
    /// second given (filled in by the caller, who can read loads).
    pub floor: Option<(u64, i64)>,
}

/// The writes a config change needs, in order: `before` (restrictions) are written before the
/// new config is activated, `after` (the full new roster) once it is active, then the listed
/// pools restart their rotation cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterPlan {
    /// Reps losing pools or becoming inactive: only the restriction (old AND new).
    pub before: Vec<RosterEntry>,
    /// Every rep of the new config, and removed reps as inactive.
    pub after: Vec<RosterEntry>,
    /// Pools that are new or whose members, weights or strategy changed.
    pub restart: Vec<String>,
    /// (rep, pool) pairs where a rep joins an existing `least_loaded` pool.
    pub joiners: Vec<(String, String)>,
}

fn standing(config: &RoutingConfig) -> BTreeMap<String, (bool, BTreeSet<String>)> {
    let mut map: BTreeMap<String, (bool, BTreeSet<String>)> = config
        .reps
        .values()
        .map(|r| (r.id.clone(), (r.availability.active, BTreeSet::new())))
        .collect();
    for pool in config.pools.values() {
        for rep in &pool.reps {
            if let Some((_, pools)) = map.get_mut(rep) {
                pools.insert(pool.id.clone());
            }
        }
    }
    map
}

fn entry(rep: &str, active: bool, pools: &BTreeSet<String>) -> RosterEntry {
    RosterEntry {
        rep: rep.to_string(),
        active,
        pools: pools.iter().cloned().collect(),
        floor: None,
    }
}

fn same_rotation(a: &Pool, b: &Pool) -> bool {
    a.reps == b.reps && a.weights == b.weights && a.strategy == b.strategy
}

/// What to write when `new` replaces `old` (`None` on first publish).
pub fn plan(old: Option<&RoutingConfig>, new: &RoutingConfig) -> RosterPlan {
    let new_standing = standing(new);
    let old_standing = old.map(standing).unwrap_or_default();
    let mut plan = RosterPlan::default();
    for (rep, (was_active, old_pools)) in &old_standing {
        let (active, pools) = new_standing
            .get(rep)
            .cloned()
            .unwrap_or((false, BTreeSet::new()));
        let kept: BTreeSet<String> = old_pools.intersection(&pools).cloned().collect();
        let still_active = *was_active && active;
        if kept != *old_pools || still_active != *was_active {
            plan.before.push(entry(rep, still_active, &kept));
        }
        if !new_standing.contains_key(rep) {
            plan.after.push(entry(rep, false, &BTreeSet::new()));
        }
    }
    for (rep, (active, pools)) in &new_standing {
        plan.after.push(entry(rep, *active, pools));
    }
    let mut pools: Vec<&Pool> = new.pools.values().collect();
    pools.sort_by(|a, b| a.id.cmp(&b.id));
    for pool in pools {
        let before = old.and_then(|o| o.pools.get(&pool.id));
        if !before.is_some_and(|b| same_rotation(b, pool)) {
            plan.restart.push(pool.id.clone());
        }
        if let Some(before) = before {
            if pool.strategy == super::config::Strategy::LeastLoaded {
                for rep in pool.reps.iter().filter(|r| !before.reps.contains(r)) {
                    plan.joiners.push((rep.clone(), pool.id.clone()));
                }
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pools: &str, extra: &str) -> RoutingConfig {
        RoutingConfig::parse(&format!(
            "reps:\n  - {{id: ana, name: Ana}}\n  - {{id: ben, name: Ben}}\n  - {{id: cy, name: Cy{extra}}}\npools:\n{pools}rules:\n  - {{id: d, route: {{queue: unrouted}}}}\n"
        ))
        .unwrap()
    }

    #[test]
    fn first_publish_writes_everyone_and_restarts_every_pool() {
        let new = config("  - {id: p, reps: [ana, ben]}\n", "");
        let plan = plan(None, &new);
        assert!(plan.before.is_empty());
        assert_eq!(plan.after.len(), 3);
        assert_eq!(plan.after[0], entry("ana", true, &["p".to_string()].into()));
        assert_eq!(plan.restart, ["p"]);
    }

    #[test]
    fn removals_and_deactivations_are_written_before_the_config_switches() {
        let old = config(
            "  - {id: p, reps: [ana, ben, cy]}\n  - {id: q, reps: [ben]}\n",
            "",
        );
        let new = config(
            "  - {id: p, reps: [ana, cy]}\n  - {id: q, reps: [ben]}\n",
            ", active: false",
        );
        let plan = plan(Some(&old), &new);
        assert_eq!(
            plan.before,
            [
                entry("ben", true, &["q".to_string()].into()),
                entry("cy", false, &["p".to_string()].into()),
            ]
        );
        assert_eq!(plan.restart, ["p"], "q is unchanged and keeps its rotation");
    }

    #[test]
    fn joining_a_least_loaded_pool_is_noted_for_a_floor() {
        let old = config("  - {id: p, strategy: least_loaded, reps: [ana]}\n", "");
        let new = config(
            "  - {id: p, strategy: least_loaded, reps: [ana, ben]}\n",
            "",
        );
        let plan = plan(Some(&old), &new);
        assert_eq!(plan.joiners, [("ben".to_string(), "p".to_string())]);
        assert!(plan.before.is_empty());
    }
}

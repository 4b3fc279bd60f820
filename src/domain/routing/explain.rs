//! The explanation stored with every assignment: which rule matched and why, who was skipped
//! where, which pools overflowed, and how the owner was chosen, as data and as one sentence.

use crate::domain::config::{Pool, Rep, RoutingConfig};
use crate::domain::model::{Assignment, Owner, Trail, Turn};

use super::decision::Decision;
use super::pool::Offer;

/// The explanation's first half: which rule matched and why.
fn rule_reason(decision: &Decision<'_>) -> String {
    if decision.matched.is_empty() {
        format!(
            "No earlier rule matched, so the default rule '{}' applied",
            decision.rule.id
        )
    } else {
        format!(
            "Rule '{}' (#{}) matched because {}",
            decision.rule.id,
            decision.index + 1,
            decision.matched.join(" and ")
        )
    }
}

/// The explanation's middle: who was skipped where, and which pools overflowed.
fn trail_reason(config: &RoutingConfig, trail: &Trail) -> String {
    let name = |rep: &str| {
        config
            .reps
            .get(rep)
            .map_or(rep, |r| r.name.as_str())
            .to_string()
    };
    let pool_name = |id: &str| {
        config
            .pools
            .get(id)
            .map_or(id, |p| p.name.as_str())
            .to_string()
    };
    let skips_in = |pool: Option<&str>| {
        trail
            .skipped
            .iter()
            .filter(|s| s.pool.as_deref() == pool)
            .map(|s| format!("{} ({})", name(&s.rep), s.reason))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts: Vec<String> = trail.notes.clone();
    let named = skips_in(None);
    if !named.is_empty() {
        parts.push(format!("named owner {named} could not take it"));
    }
    let mut pools: Vec<&str> = Vec::new();
    for s in &trail.skipped {
        if let Some(p) = s.pool.as_deref() {
            if !pools.contains(&p) {
                pools.push(p);
            }
        }
    }
    for p in &trail.overflowed {
        if !pools.contains(&p.as_str()) {
            pools.push(p);
        }
    }
    for p in pools {
        let skips = skips_in(Some(p));
        if trail.overflowed.iter().any(|o| o == p) {
            parts.push(format!(
                "nobody in pool '{}' could take it ({skips}), so it overflowed",
                pool_name(p)
            ));
        } else {
            parts.push(format!("in pool '{}' skipped {skips}", pool_name(p)));
        }
    }
    parts.iter().map(|p| format!("; {p}")).collect()
}

/// The assignment of a lead to rep `offer` of `pool` with rotation ticket `turn`, rotating
/// among the pool's `eligible` members (indexes).
#[allow(clippy::too_many_arguments)]
pub fn to_pool_rep(
    config: &RoutingConfig,
    version: u64,
    decision: &Decision<'_>,
    trail: &Trail,
    pool: &Pool,
    turn: u64,
    offer: &Offer,
    eligible: &[usize],
) -> Assignment {
    let rep_id = &pool.reps[offer.member];
    let owner = rep_owner(config.reps.get(rep_id), rep_id);
    let among = if offer.eligible < pool.reps.len() {
        format!(
            ", rotating among the {} of {} reps who could take it",
            offer.eligible,
            pool.reps.len()
        )
    } else {
        String::new()
    };
    let how = match (offer.load, offer.slot) {
        (Some((open, _)), _) => format!(
            "assigned to {} as the least loaded rep in pool '{}' ({open} open leads; turn {turn} broke ties{among})",
            owner.name(),
            pool.name
        ),
        (None, Some((slot, cycle))) => format!(
            "assigned to {} by {} in pool '{}' (turn {turn}, slot {slot} of {cycle}{among}{})",
            owner.name(),
            pool.strategy.name(),
            pool.name,
            if offer.first_choice { "" } else { ", as the next in rotation" },
        ),
        (None, None) => format!("assigned to {} in pool '{}'", owner.name(), pool.name),
    };
    let turn = Turn {
        pool: pool.id.clone(),
        strategy: pool.strategy,
        turn,
        position: offer.member + 1,
        pool_size: pool.reps.len(),
        open_leads: offer.load.map(|(open, _)| open),
        eligible: eligible.iter().map(|&m| pool.reps[m].clone()).collect(),
    };
    finish(config, version, decision, trail, owner, Some(turn), how)
}

/// The assignment of a lead to a rule's named rep.
pub fn to_named_rep(
    config: &RoutingConfig,
    version: u64,
    decision: &Decision<'_>,
    rep_id: &str,
) -> Assignment {
    let owner = rep_owner(config.reps.get(rep_id), rep_id);
    let how = format!("assigned to named owner {}", owner.name());
    finish(
        config,
        version,
        decision,
        &Trail::default(),
        owner,
        None,
        how,
    )
}

/// The assignment of a lead to a queue, after whatever `trail` records.
pub fn to_queue(
    config: &RoutingConfig,
    version: u64,
    decision: &Decision<'_>,
    trail: &Trail,
    queue: &str,
) -> Assignment {
    let owner = queue_owner(config, queue);
    let how = format!("placed in queue '{}'", owner.name());
    finish(config, version, decision, trail, owner, None, how)
}

fn finish(
    config: &RoutingConfig,
    version: u64,
    decision: &Decision<'_>,
    trail: &Trail,
    owner: Owner,
    turn: Option<Turn>,
    how: String,
) -> Assignment {
    Assignment {
        owner,
        rule_id: Some(decision.rule.id.clone()),
        rule_number: Some(decision.index + 1),
        matched: decision.matched.clone(),
        turn,
        config_version: Some(version),
        skipped: trail.skipped.clone(),
        overflowed: trail.overflowed.clone(),
        reason: format!(
            "{}{}; {how}.",
            rule_reason(decision),
            trail_reason(config, trail)
        ),
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
        skipped: Vec::new(),
        overflowed: Vec::new(),
        reason: format!("{why}; placed in fallback queue '{queue}'."),
    }
}

pub(super) fn rep_owner(rep: Option<&Rep>, id: &str) -> Owner {
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

//! Why a rep got a lead: the first matching rule; for a pool, who was available, the order the
//! pool's strategy offers the lead in, who was skipped and why, which pools overflowed; and the
//! stored explanation (as data and as one readable sentence). Read this file to answer "why did
//! this rep get this lead?". Pure: the caller supplies the time, the rotation ticket it claimed
//! and the loads it read; storage enforces the [`RepClaim`] this module asks for.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::availability::Unavailable;
use super::config::{Destination, Overflow, Pool, Rep, RoutingConfig, Rule, Strategy};
use super::distribution::{in_flight, least_loaded_order, Load, Schedule};
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

/// A rep a pool offers the lead to, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The rep's index in the pool.
    pub member: usize,
    /// For `least_loaded`: the rep's effective open leads and the most it may have at commit.
    pub load: Option<(u64, u64)>,
    /// For rotations: the ticket's slot in the cycle used (1-based) and the cycle's length.
    pub slot: Option<(u64, u64)>,
    /// True when the rep is the one the ticket names, not a substitute.
    pub first_choice: bool,
    /// How many of the pool's reps could be offered the lead.
    pub eligible: usize,
}

/// The reps of a pool who are available at `now` by the config (inactive, out of office,
/// holidays, working hours), as member indexes, plus the skips for the others.
pub fn available_members(
    config: &RoutingConfig,
    pool: &Pool,
    now: Timestamp,
) -> (Vec<usize>, Vec<Skip>) {
    let mut available = Vec::new();
    let mut skipped = Vec::new();
    for (member, rep_id) in pool.reps.iter().enumerate() {
        match config.reps[rep_id].availability.check(now) {
            Ok(()) => available.push(member),
            Err(why) => skipped.push(Skip {
                pool: Some(pool.id.clone()),
                rep: rep_id.clone(),
                reason: SkipReason::Unavailable { why },
            }),
        }
    }
    (available, skipped)
}

/// The order in which the pool offers a lead with rotation ticket `turn` (slot `slot` in the
/// current cycle) to its `eligible` members. `loads` (member index, load) is needed for
/// `least_loaded` and ignored otherwise.
///
/// Rotations run over the eligible reps only: while someone is away or at a cap, the others
/// share the leads evenly by their weights, and the absent rep's turns are not saved up (when
/// they return they rejoin the rotation rather than receiving a burst of missed leads).
pub fn offers(
    pool: &Pool,
    eligible: &[usize],
    turn: u64,
    slot: u64,
    loads: &[(usize, Load)],
) -> Vec<Offer> {
    match pool.strategy {
        Strategy::RoundRobin | Strategy::Weighted => {
            let subset;
            let (schedule, members): (&Schedule, Vec<usize>) = if eligible.len() == pool.reps.len()
            {
                (&pool.schedule, (0..pool.reps.len()).collect())
            } else {
                let weights: Vec<u32> = eligible.iter().map(|&m| pool.weights[m]).collect();
                subset = Schedule::new(&weights);
                (&subset, eligible.to_vec())
            };
            if schedule.is_empty() {
                return Vec::new();
            }
            let cycle = schedule.len() as u64;
            schedule
                .offer_order(slot)
                .into_iter()
                .enumerate()
                .map(|(i, m)| Offer {
                    member: members[m],
                    load: None,
                    slot: Some((slot % cycle + 1, cycle)),
                    first_choice: i == 0,
                    eligible: eligible.len(),
                })
                .collect()
        }
        Strategy::LeastLoaded => {
            let loads: Vec<(usize, Load)> = eligible
                .iter()
                .map(|&m| {
                    let load = loads.iter().find(|(i, _)| *i == m).map(|(_, l)| *l);
                    (m, load.unwrap_or_default())
                })
                .collect();
            let ahead = in_flight(turn, &loads);
            let ordered = least_loaded_order(&loads, pool.reps.len(), slot, ahead);
            ordered
                .iter()
                .enumerate()
                .map(|(i, &(member, effective))| {
                    // Commit only while the rep is still at most one lead more loaded than
                    // the next in line: leads in flight may have gone elsewhere than expected,
                    // or committed out of ticket order. (A sequential lead never meets the
                    // bound: nothing changes between its read and its commit.)
                    let bound = ordered
                        .iter()
                        .filter(|(m, _)| *m != member)
                        .map(|(_, l)| *l)
                        .min()
                        .unwrap_or(u64::MAX)
                        .max(effective)
                        .saturating_add(1);
                    Offer {
                        member,
                        load: Some((effective, bound)),
                        slot: None,
                        first_choice: i == 0,
                        eligible: eligible.len(),
                    }
                })
                .collect()
        }
    }
}

/// What storage must enforce when `rep` takes a lead from `pool` at `now`: membership, the
/// rep's caps for the local day and week, and for `least_loaded` the load bound.
pub fn pool_claim(rep: &Rep, pool: &Pool, offer: &Offer, now: Timestamp) -> RepClaim {
    RepClaim {
        rep: rep.id.clone(),
        pool: Some(pool.id.clone()),
        caps: cap_counters(rep, now),
        max_open: offer
            .load
            .map(|(_, bound)| bound)
            .filter(|b| *b != u64::MAX),
    }
}

/// The rep's cap counters that a pool lead at `now` counts against: the rep's local day and
/// ISO week, for the caps the rep has.
pub fn cap_counters(rep: &Rep, now: Timestamp) -> Vec<CapCounter> {
    let periods = rep.availability.periods(now);
    let mut caps = Vec::new();
    if let Some(limit) = rep.caps.per_day {
        caps.push(CapCounter {
            period: Period::Day,
            key: periods.day,
            limit,
        });
    }
    if let Some(limit) = rep.caps.per_week {
        caps.push(CapCounter {
            period: Period::Week,
            key: periods.week,
            limit,
        });
    }
    caps
}

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

/// The assignment of a lead to rep `offer` of `pool` with rotation ticket `turn`.
pub fn to_pool_rep(
    config: &RoutingConfig,
    version: u64,
    decision: &Decision<'_>,
    trail: &Trail,
    pool: &Pool,
    turn: u64,
    offer: &Offer,
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

/// Routes a lead without storage, as `leadrouter simulate` does: availability is checked at
/// `now`, pool rotations are at ticket `turn`, caps and loads are not known (all zero).
pub fn simulate(config: &RoutingConfig, lead: &Lead, turn: u64, now: Timestamp) -> Assignment {
    let decision = decide(config, lead);
    let mut trail = Trail::default();
    let mut destination = decision.rule.route.clone();
    loop {
        match destination {
            Destination::Queue(q) => return to_queue(config, 0, &decision, &trail, &q),
            Destination::AccountOwner => {
                destination = account_owner(config, lead, &mut trail);
            }
            Destination::Rep(id) => match config.reps[&id].availability.check_present(now) {
                Ok(()) => return to_named_rep(config, 0, &decision, &id),
                Err(why) => {
                    trail.skipped.push(Skip {
                        pool: None,
                        rep: id,
                        reason: SkipReason::Unavailable { why },
                    });
                    destination = Destination::Queue(config.fallback_queue.clone());
                }
            },
            Destination::Pool(id) => {
                let pool = &config.pools[&id];
                let (available, skipped) = available_members(config, pool, now);
                trail.skipped.extend(skipped);
                let slot = turn.saturating_sub(1);
                if let Some(offer) = offers(pool, &available, turn, slot, &[]).first() {
                    return to_pool_rep(config, 0, &decision, &trail, pool, turn, offer);
                }
                trail.overflowed.push(id);
                destination = overflow_of(config, pool);
            }
        }
    }
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

/// The earlier lead a returning contact is owned through.
#[derive(Debug, Clone)]
pub struct EarlierLead<'a> {
    /// Its id.
    pub lead_id: &'a str,
    /// Its current owner.
    pub owner: &'a Owner,
    /// Its status (`open`, `acknowledged`, `closed`, ...).
    pub status: &'a str,
    /// When it arrived.
    pub received_at: Timestamp,
}

/// Where a returning contact goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returning {
    /// Back to this rep, the owner of the earlier lead.
    Owner(String),
    /// Through the rules; the phrase says why not back to the owner.
    Rules(String),
    /// The config routes returning contacts by the rules anyway.
    Off,
}

/// Whether a returning contact goes back to the owner of its earlier lead, per the config's
/// `returning_contacts` rule and whether that owner can still take leads (in the config,
/// active, not out of office or on holiday).
pub fn returning_owner(
    config: &RoutingConfig,
    earlier: &EarlierLead<'_>,
    now: Timestamp,
) -> Returning {
    use super::config::ReturningWhen;
    let rule = config.returning;
    let Owner::Rep { id, name } = earlier.owner else {
        return Returning::Rules(format!(
            "its earlier lead is in queue '{}', not with a rep",
            earlier.owner.name()
        ));
    };
    match rule.when {
        ReturningWhen::Never => return Returning::Off,
        ReturningWhen::Recent
            if now.duration_since(earlier.received_at).as_secs()
                > i64::from(rule.days) * 24 * 60 * 60 =>
        {
            return Returning::Rules(format!("its earlier lead is older than {} days", rule.days))
        }
        ReturningWhen::Open if earlier.status == "closed" => {
            return Returning::Rules("its earlier lead is closed".into())
        }
        _ => {}
    }
    let Some(rep) = config.reps.get(id) else {
        return Returning::Rules(format!(
            "its owner {name} is no longer in the routing config"
        ));
    };
    match rep.availability.check_present(now) {
        Ok(()) => Returning::Owner(id.clone()),
        Err(why) => Returning::Rules(format!("its owner {} is {why}", rep.name)),
    }
}

/// The assignment of a returning contact to the owner of its earlier lead.
pub fn to_returning_owner(
    config: &RoutingConfig,
    version: u64,
    rep_id: &str,
    earlier: &EarlierLead<'_>,
) -> Assignment {
    let owner = rep_owner(config.reps.get(rep_id), rep_id);
    let reason = format!(
        "Returning contact: the same person sent lead {} on {}, so it goes back to its owner {}.",
        earlier.lead_id,
        earlier.received_at.strftime("%Y-%m-%d"),
        owner.name()
    );
    Assignment {
        owner,
        rule_id: None,
        rule_number: None,
        matched: Vec::new(),
        turn: None,
        config_version: Some(version),
        skipped: Vec::new(),
        overflowed: Vec::new(),
        reason,
    }
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
mod tests {
    use super::*;

    fn config() -> RoutingConfig {
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

    fn lead(pairs: &[(&str, &str)]) -> Lead {
        Lead::parse(pairs.iter().copied()).unwrap()
    }

    /// Tuesday 2026-11-24 15:00 UTC: 10:00 in New York.
    fn office_hours() -> Timestamp {
        "2026-11-24T15:00:00Z".parse().unwrap()
    }

    #[test]
    fn first_matching_rule_wins_and_explains_itself() {
        let c = config();
        let a = simulate(
            &c,
            &lead(&[("email", "x@gmail.com"), ("employees", "900")]),
            1,
            office_hours(),
        );
        assert_eq!(a.rule_id.as_deref(), Some("freemail"));
        assert_eq!(
            a.reason,
            "Rule 'freemail' (#1) matched because free_mail = true (was true); placed in queue 'Nurture'."
        );
    }

    #[test]
    fn pool_turns_rotate_in_order() {
        let c = config();
        let l = lead(&[("email", "x@small.com")]);
        let owners: Vec<_> = (1..=4)
            .map(|t| simulate(&c, &l, t, office_hours()).owner.id().to_string())
            .collect();
        assert_eq!(owners, ["ana", "ben", "ana", "ben"]);
        let a = simulate(&c, &l, 3, office_hours());
        assert_eq!(a.reason, "No earlier rule matched, so the default rule 'default' applied; assigned to Ana by round robin in pool 'SMB' (turn 3, slot 1 of 2).");
    }

    #[test]
    fn an_off_shift_rep_loses_the_turn_to_the_next_in_rotation() {
        let c = config();
        let l = lead(&[("email", "x@small.com")]);
        // Tuesday 03:00 UTC is 22:00 Monday in New York: Ben is off shift.
        let night: Timestamp = "2026-11-24T03:00:00Z".parse().unwrap();
        let a = simulate(&c, &l, 2, night);
        assert_eq!(a.owner.id(), "ana");
        assert_eq!(a.skipped.len(), 1);
        assert_eq!(a.reason, "No earlier rule matched, so the default rule 'default' applied; in pool 'SMB' skipped Ben (off shift (local time Mon 22:00 EST)); assigned to Ana by round robin in pool 'SMB' (turn 2, slot 1 of 1, rotating among the 1 of 2 reps who could take it).");
    }

    #[test]
    fn an_empty_pool_overflows_along_its_chain_and_says_why() {
        let mut c = config();
        c.reps.get_mut("ana").unwrap().availability.active = false;
        let night: Timestamp = "2026-11-24T03:00:00Z".parse().unwrap();
        let a = simulate(&c, &lead(&[("email", "x@small.com")]), 1, night);
        assert_eq!(a.owner.id(), "nurture");
        assert_eq!(a.overflowed, ["smb", "backup"]);
        assert_eq!(a.reason, "No earlier rule matched, so the default rule 'default' applied; nobody in pool 'SMB' could take it (Ana (inactive), Ben (off shift (local time Mon 22:00 EST))), so it overflowed; nobody in pool 'Backup' could take it (Dana (inactive)), so it overflowed; placed in queue 'Nurture'.");
    }

    #[test]
    fn a_named_owner_out_of_office_goes_to_the_fallback_queue() {
        let c = config();
        let a = simulate(
            &c,
            &lead(&[("email", "x@big.com"), ("employees", "900")]),
            1,
            office_hours(),
        );
        assert_eq!(a.owner.id(), "unrouted");
        assert!(a.reason.contains("named owner Erin (out of office until 2026-11-28 00:00 UTC) could not take it; placed in queue 'Fallback'"), "{}", a.reason);
        let later: Timestamp = "2026-11-28T00:00:00Z".parse().unwrap();
        assert_eq!(
            simulate(
                &c,
                &lead(&[("email", "x@big.com"), ("employees", "900")]),
                1,
                later
            )
            .owner
            .id(),
            "erin"
        );
    }

    #[test]
    fn claims_carry_caps_in_the_reps_own_day_and_week() {
        let c = RoutingConfig::parse(
            r#"
reps:
  - {id: ana, name: Ana, timezone: Asia/Tokyo, caps: {per_day: 5, per_week: 20}}
pools:
  - {id: p, reps: [ana]}
rules:
  - {id: default, route: {pool: p}}
"#,
        )
        .unwrap();
        let pool = &c.pools["p"];
        let offer = Offer {
            member: 0,
            load: None,
            slot: None,
            first_choice: true,
            eligible: 1,
        };
        // 16:00 UTC Sunday is 01:00 Monday in Tokyo: a new day and a new week there.
        let claim = pool_claim(
            &c.reps["ana"],
            pool,
            &offer,
            "2026-11-22T16:00:00Z".parse().unwrap(),
        );
        assert_eq!(
            claim.caps,
            [
                CapCounter {
                    period: Period::Day,
                    key: "2026-11-23".into(),
                    limit: 5
                },
                CapCounter {
                    period: Period::Week,
                    key: "2026-W48".into(),
                    limit: 20
                },
            ]
        );
        assert_eq!(claim.pool.as_deref(), Some("p"));
    }

    #[test]
    fn a_returning_contact_goes_back_per_the_configs_rule() {
        use crate::domain::config::{Returning as Rule, ReturningWhen};
        let mut c = config();
        let rep = |id: &str| Owner::Rep {
            id: id.into(),
            name: id.into(),
        };
        let (ana, erin, dana) = (rep("ana"), rep("erin"), rep("dana"));
        let queue = Owner::Queue {
            id: "nurture".into(),
            name: "Nurture".into(),
        };
        let earlier = |owner, status, days_ago: i64| EarlierLead {
            lead_id: "l1",
            owner,
            status,
            received_at: office_hours() - jiff::SignedDuration::from_hours(24 * days_ago),
        };
        let now = office_hours();
        assert_eq!(
            returning_owner(&c, &earlier(&ana, "closed", 400), now),
            Returning::Owner("ana".into())
        );
        assert!(
            matches!(returning_owner(&c, &earlier(&erin, "open", 1), now), Returning::Rules(why) if why.starts_with("its owner Erin is out of office"))
        );
        assert!(
            matches!(returning_owner(&c, &earlier(&dana, "open", 1), now), Returning::Rules(why) if why == "its owner Dana is inactive")
        );
        assert!(matches!(
            returning_owner(&c, &earlier(&queue, "queued", 1), now),
            Returning::Rules(_)
        ));
        c.returning = Rule {
            when: ReturningWhen::Recent,
            days: 30,
        };
        assert_eq!(
            returning_owner(&c, &earlier(&ana, "open", 29), now),
            Returning::Owner("ana".into())
        );
        assert!(
            matches!(returning_owner(&c, &earlier(&ana, "open", 31), now), Returning::Rules(why) if why == "its earlier lead is older than 30 days")
        );
        c.returning = Rule {
            when: ReturningWhen::Open,
            days: 30,
        };
        assert_eq!(
            returning_owner(&c, &earlier(&ana, "acknowledged", 400), now),
            Returning::Owner("ana".into())
        );
        assert!(matches!(
            returning_owner(&c, &earlier(&ana, "closed", 1), now),
            Returning::Rules(_)
        ));
        c.returning = Rule {
            when: ReturningWhen::Never,
            days: 30,
        };
        assert_eq!(
            returning_owner(&c, &earlier(&ana, "open", 1), now),
            Returning::Off
        );
    }
}

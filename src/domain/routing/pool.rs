//! How a pool offers a lead: which of its reps are available by the config, the order its
//! strategy offers the lead in for one rotation ticket, and the claim (membership, caps, load
//! bound) storage must enforce when one of them takes it.

use jiff::Timestamp;

use crate::domain::config::{Pool, Rep, RoutingConfig, Strategy};
use crate::domain::distribution::{in_flight, least_loaded_order, Load, Schedule};
use crate::domain::model::{CapCounter, Period, RepClaim, Skip, SkipReason};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}

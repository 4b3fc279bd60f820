//! The fairness ledger of a pool: for each rep, the share of the pool's leads they were
//! entitled to, the leads they got, the difference, and how often and why they were passed
//! over. A rep is entitled to a lead only while eligible for it: each lead the pool assigns
//! is shared among the reps it could have gone to at that moment (recorded with the lead), in
//! proportion to their weights (1 each unless the pool is weighted). So a rep out of office
//! for half the period is entitled to half as much, and the ledger shows whether the rotation
//! kept its promise.

use std::collections::BTreeMap;

use serde::Serialize;

use super::row::{LeadRow, SkipKind};
use super::stats::round;

/// One pool's ledger for a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ledger {
    /// The pool.
    pub pool: String,
    /// Leads the pool assigned in the period (first assignments and reassignments).
    pub assigned: u64,
    /// Leads that passed through the pool without anyone there able to take them.
    pub overflowed: u64,
    /// Each rep's line.
    pub reps: Vec<LedgerLine>,
}

/// One rep's line in a pool's ledger.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerLine {
    /// The rep.
    pub rep: String,
    /// The leads they were entitled to (two decimals).
    pub entitled: f64,
    /// The leads they got.
    pub actual: u64,
    /// `actual - entitled`: positive got more than their share.
    pub difference: f64,
    /// How many of the pool's leads they were eligible for.
    pub eligible_for: u64,
    /// Times they were passed over, by reason (`off_shift`, `out_of_office`, `holiday`,
    /// `inactive`, `at_cap`, `no_longer_on_roster`, `had_it_before`).
    pub skips: BTreeMap<&'static str, u64>,
}

#[derive(Default)]
struct Tally {
    entitled: f64,
    actual: u64,
    eligible_for: u64,
    skips: BTreeMap<SkipKind, u64>,
}

/// The ledgers of every pool the `leads` went through. `members` lists each pool's reps in
/// the config's order (reps who left still appear, after them, when they had leads).
pub fn ledgers(leads: &[LeadRow], members: &BTreeMap<String, Vec<String>>) -> Vec<Ledger> {
    let mut pools: BTreeMap<String, (u64, u64, BTreeMap<String, Tally>)> = BTreeMap::new();
    for lead in leads {
        for stint in &lead.stints {
            for skip in &stint.skips {
                let Some(pool) = &skip.pool else { continue };
                let tally = pools.entry(pool.clone()).or_default();
                let rep = tally.2.entry(skip.rep.clone()).or_default();
                *rep.skips.entry(skip.why).or_default() += 1;
            }
            let overflowed_here = stint
                .skips
                .iter()
                .filter_map(|s| s.pool.as_deref())
                .filter(|p| Some(*p) != stint.pool.as_deref());
            let mut seen: Vec<&str> = Vec::new();
            for pool in overflowed_here {
                if !seen.contains(&pool) {
                    seen.push(pool);
                    pools.entry(pool.to_string()).or_default().1 += 1;
                }
            }
            let Some(pool) = &stint.pool else { continue };
            let (assigned, _, reps) = pools.entry(pool.clone()).or_default();
            *assigned += 1;
            reps.entry(stint.owner.clone()).or_default().actual += 1;
            let total: u32 = stint.eligible.iter().map(|(_, w)| *w).sum();
            for (rep, weight) in &stint.eligible {
                let tally = reps.entry(rep.clone()).or_default();
                tally.eligible_for += 1;
                if total > 0 {
                    tally.entitled += f64::from(*weight) / f64::from(total);
                }
            }
        }
    }
    pools
        .into_iter()
        .map(|(pool, (assigned, overflowed, mut reps))| {
            let mut order: Vec<String> = members.get(&pool).cloned().unwrap_or_default();
            for rep in reps.keys() {
                if !order.contains(rep) {
                    order.push(rep.clone());
                }
            }
            let lines = order
                .into_iter()
                .map(|rep| {
                    let tally = reps.remove(&rep).unwrap_or_default();
                    let entitled = round(tally.entitled, 2);
                    LedgerLine {
                        entitled,
                        actual: tally.actual,
                        difference: round(tally.actual as f64 - tally.entitled, 2),
                        eligible_for: tally.eligible_for,
                        skips: tally
                            .skips
                            .into_iter()
                            .map(|(kind, n)| (kind.as_str(), n))
                            .collect(),
                        rep,
                    }
                })
                .collect();
            Ledger {
                pool,
                assigned,
                overflowed,
                reps: lines,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::LeadStatus;
    use crate::domain::report::row::{LeadFacts, SkipFact, Stint};

    fn lead(stints: Vec<Stint>) -> LeadRow {
        let at = "2026-11-24T15:00:00Z".parse().unwrap();
        LeadRow {
            lead_id: "l".into(),
            received_at: at,
            source: "web".into(),
            status: LeadStatus::Open,
            owner_id: stints.last().unwrap().owner.clone(),
            queued: false,
            pool: stints.last().unwrap().pool.clone(),
            rule: None,
            escalations: 0,
            assigned_at: at,
            acknowledged_at: None,
            closed_at: None,
            sla_due_at: None,
            sla_state: None,
            facts: LeadFacts::default(),
            stints,
            outcome: None,
            stages: Vec::new(),
            won_value: None,
        }
    }

    fn stint(
        pool: &str,
        owner: &str,
        eligible: &[(&str, u32)],
        skips: &[(&str, SkipKind)],
    ) -> Stint {
        Stint {
            n: 1,
            at: "2026-11-24T15:00:00Z".parse().unwrap(),
            owner: owner.into(),
            queue: false,
            pool: Some(pool.into()),
            version: Some(1),
            eligible: eligible.iter().map(|(r, w)| (r.to_string(), *w)).collect(),
            skips: skips
                .iter()
                .map(|(r, why)| SkipFact {
                    pool: Some(pool.into()),
                    rep: r.to_string(),
                    why: *why,
                })
                .collect(),
            due: None,
            ended: None,
            reminders: 0,
            alerts: 0,
        }
    }

    #[test]
    fn entitlement_follows_eligibility_and_weights() {
        let all = [("a", 1), ("b", 1), ("c", 1)];
        let no_c = [("a", 1), ("b", 1)];
        let leads = vec![
            lead(vec![stint("p", "a", &all, &[])]),
            lead(vec![stint("p", "b", &all, &[])]),
            lead(vec![stint("p", "c", &all, &[])]),
            lead(vec![stint(
                "p",
                "a",
                &no_c,
                &[("c", SkipKind::OutOfOffice)],
            )]),
            lead(vec![stint(
                "p",
                "b",
                &no_c,
                &[("c", SkipKind::OutOfOffice)],
            )]),
            lead(vec![stint("w", "x", &[("x", 2), ("y", 1)], &[])]),
        ];
        let members = BTreeMap::from([("p".to_string(), vec!["a".into(), "b".into(), "c".into()])]);
        let l = ledgers(&leads, &members);
        assert_eq!(l[0].pool, "p");
        assert_eq!(l[0].assigned, 5);
        let line = |i: usize| {
            (
                l[0].reps[i].rep.as_str(),
                l[0].reps[i].entitled,
                l[0].reps[i].actual,
            )
        };
        // a: 1/3 + 1/3 + 1/3 + 1/2 + 1/2 = 2.
        assert_eq!(line(0), ("a", 2.0, 2));
        assert_eq!(line(1), ("b", 2.0, 2));
        assert_eq!(line(2), ("c", 1.0, 1));
        assert_eq!(l[0].reps[2].skips["out_of_office"], 2);
        assert_eq!(l[0].reps[2].eligible_for, 3);
        assert_eq!(l[1].reps[0].entitled, 0.67);
        assert_eq!(l[1].reps[0].difference, 0.33);
        assert_eq!(l[1].reps[1].difference, -0.33);
    }
}

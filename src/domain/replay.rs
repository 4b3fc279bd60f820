//! Replaying stored leads through a draft config: each lead, as it arrived (its fields, its
//! account, its source, its arrival time and its rotation ticket), is routed through the
//! version it actually met and through the draft, the same way (qualified anew, rules,
//! availability at arrival, the same ticket, no loads or caps), so every difference comes from
//! the config alone. The tally says how many leads would move, from whom to whom, grouped by
//! the rule or pool change that moves them, each owner's share before and after, and the leads
//! that would newly land in the fallback queue, with examples. It can be built page by page
//! and kept between pages (it serialises). Pure.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::config::RoutingConfig;
use super::lead::Lead;
use super::model::{Assignment, Owner};
use super::qualify;
use super::routing::simulate;

/// Examples kept per group.
pub const EXAMPLES: usize = 3;

/// Routes `lead` (from `source`, arrived at `at`, rotation ticket `turn`) through `config`.
pub fn route_as_arrived(
    config: &RoutingConfig,
    lead: &Lead,
    source: &str,
    at: Timestamp,
    turn: u64,
) -> Assignment {
    let mut lead = lead.clone();
    lead.qualification = Some(qualify::qualify(&config.qualification, &lead, source));
    simulate(config, &lead, turn, at)
}

/// Where an assignment sends a lead, as a replay compares them.
fn destination(a: &Assignment) -> String {
    match (&a.owner, a.pool()) {
        (_, Some(pool)) => format!("pool '{pool}'"),
        (Owner::Rep { id, .. }, None) => format!("rep '{id}'"),
        (Owner::Queue { id, .. }, None) => format!("queue '{id}'"),
    }
}

/// What moves a lead: a different rule, a different destination of the same rule, or a
/// different rep of the same pool.
fn cause(before: &Assignment, after: &Assignment) -> String {
    let rule = |a: &Assignment| a.rule_id.clone().unwrap_or_else(|| "-".into());
    let (rb, ra) = (rule(before), rule(after));
    if rb != ra {
        return format!("rule '{rb}' -> rule '{ra}'");
    }
    let (db, da) = (destination(before), destination(after));
    if db != da {
        return format!("rule '{rb}': {db} -> {da}");
    }
    format!("rule '{rb}': {db} chose another rep")
}

/// One group of moved leads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Leads moved.
    pub moved: u64,
    /// By `from -> to` owner.
    pub moves: BTreeMap<String, u64>,
    /// Some of their lead ids.
    pub examples: Vec<String>,
}

/// A replay's running totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayTally {
    /// Leads replayed.
    pub leads: u64,
    /// Leads left out (the version they met is gone or unreadable, or they were spam).
    pub skipped: u64,
    /// Leads whose owner would differ.
    pub moved: u64,
    /// The moved leads by what moves them.
    pub groups: BTreeMap<String, Group>,
    /// Leads per owner under the version they met.
    pub before: BTreeMap<String, u64>,
    /// Leads per owner under the draft.
    pub after: BTreeMap<String, u64>,
    /// Leads that would newly land in the draft's fallback queue.
    pub new_fallback: u64,
    /// Some of them.
    pub new_fallback_examples: Vec<String>,
    /// Leads that would leave the fallback queue.
    pub left_fallback: u64,
}

impl ReplayTally {
    /// Counts one lead routed `before` (under the version it met, whose fallback queue is
    /// `old_fallback`) and `after` (under the draft, fallback `new_fallback`).
    pub fn add(
        &mut self,
        lead_id: &str,
        before: &Assignment,
        after: &Assignment,
        old_fallback: &str,
        new_fallback: &str,
    ) {
        self.leads += 1;
        let (from, to) = (before.owner.id(), after.owner.id());
        *self.before.entry(from.to_string()).or_default() += 1;
        *self.after.entry(to.to_string()).or_default() += 1;
        let in_fallback =
            |a: &Assignment, q: &str| matches!(&a.owner, Owner::Queue { id, .. } if id == q);
        let (was, is) = (
            in_fallback(before, old_fallback),
            in_fallback(after, new_fallback),
        );
        if is && !was {
            self.new_fallback += 1;
            if self.new_fallback_examples.len() < EXAMPLES {
                self.new_fallback_examples.push(lead_id.to_string());
            }
        }
        if was && !is {
            self.left_fallback += 1;
        }
        if from == to {
            return;
        }
        self.moved += 1;
        let group = self.groups.entry(cause(before, after)).or_default();
        group.moved += 1;
        *group.moves.entry(format!("{from} -> {to}")).or_default() += 1;
        if group.examples.len() < EXAMPLES {
            group.examples.push(lead_id.to_string());
        }
    }

    /// The report of what was counted so far.
    pub fn report(&self) -> ReplayReport {
        let mut owners: Vec<&String> = self.before.keys().chain(self.after.keys()).collect();
        owners.sort();
        owners.dedup();
        let shares = owners
            .into_iter()
            .map(|owner| {
                let before = self.before.get(owner).copied().unwrap_or(0);
                let after = self.after.get(owner).copied().unwrap_or(0);
                Share {
                    owner: owner.clone(),
                    before,
                    after,
                    change: after as i64 - before as i64,
                }
            })
            .collect();
        let mut groups: Vec<GroupReport> = self
            .groups
            .iter()
            .map(|(cause, g)| GroupReport {
                cause: cause.clone(),
                moved: g.moved,
                moves: g.moves.clone(),
                examples: g.examples.clone(),
            })
            .collect();
        groups.sort_by(|a, b| b.moved.cmp(&a.moved).then(a.cause.cmp(&b.cause)));
        ReplayReport {
            leads: self.leads,
            skipped: self.skipped,
            moved: self.moved,
            unchanged: self.leads - self.moved,
            groups,
            shares,
            new_fallback: self.new_fallback,
            new_fallback_examples: self.new_fallback_examples.clone(),
            left_fallback: self.left_fallback,
        }
    }
}

/// What a replay found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayReport {
    /// Leads replayed.
    pub leads: u64,
    /// Leads left out.
    pub skipped: u64,
    /// Leads whose owner would change.
    pub moved: u64,
    /// Leads whose owner would stay.
    pub unchanged: u64,
    /// Moved leads by cause, largest first.
    pub groups: Vec<GroupReport>,
    /// Each owner's leads before and after.
    pub shares: Vec<Share>,
    /// Leads that would newly land in the fallback queue.
    pub new_fallback: u64,
    /// Some of them.
    pub new_fallback_examples: Vec<String>,
    /// Leads that would leave the fallback queue.
    pub left_fallback: u64,
}

/// One cause of moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupReport {
    /// What moves them (`rule 'de' -> rule 'dach'`, `rule 'smb': pool 'smb' chose another rep`).
    pub cause: String,
    /// How many.
    pub moved: u64,
    /// By `from -> to` owner.
    pub moves: BTreeMap<String, u64>,
    /// Some lead ids.
    pub examples: Vec<String>,
}

/// One owner's share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// A rep or a queue.
    pub owner: String,
    /// Leads under the version they met.
    pub before: u64,
    /// Leads under the draft.
    pub after: u64,
    /// `after - before`.
    pub change: i64,
}

impl ReplayReport {
    /// The report as text, for the command-line tool.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{} leads replayed ({} left out): {} would move, {} stay\n",
            self.leads, self.skipped, self.moved, self.unchanged
        );
        for g in &self.groups {
            out.push_str(&format!("\n{} leads: {}\n", g.moved, g.cause));
            for (pair, n) in &g.moves {
                out.push_str(&format!("    {n:>6}  {pair}\n"));
            }
            out.push_str(&format!("    e.g. {}\n", g.examples.join(", ")));
        }
        out.push_str(&format!(
            "\nnewly in the fallback queue: {}{}; leaving it: {}\n\nshares (before -> after):\n",
            self.new_fallback,
            if self.new_fallback_examples.is_empty() {
                String::new()
            } else {
                format!(" (e.g. {})", self.new_fallback_examples.join(", "))
            },
            self.left_fallback
        ));
        for s in &self.shares {
            out.push_str(&format!(
                "    {:<24} {:>6} -> {:<6} ({:+})\n",
                s.owner, s.before, s.after, s.change
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::routing::fixtures::office_hours;

    const OLD: &str = r#"
reps:
  - {id: ann, name: Ann}
  - {id: bob, name: Bob}
  - {id: cy, name: Cy}
pools:
  - {id: emea, name: EMEA, reps: [ann, bob]}
  - {id: dach, name: DACH, reps: [cy]}
rules:
  - {id: emea, when: {country: [DE, FR]}, route: {pool: emea}}
  - {id: default, route: {rep: cy}}
"#;

    fn lead(country: &str) -> Lead {
        Lead::parse([("email", "x@acme.com"), ("country", country)]).unwrap()
    }

    #[test]
    fn only_the_leads_of_the_moved_territory_move() {
        let old = RoutingConfig::parse(OLD).unwrap();
        let new = RoutingConfig::parse(&OLD.replace(
            "  - {id: emea, when",
            "  - {id: dach, when: {country: DE}, route: {pool: dach}}\n  - {id: emea, when",
        ))
        .unwrap();
        let mut same = ReplayTally::default();
        let mut moved = ReplayTally::default();
        for (i, country) in ["DE", "FR", "US", "DE", "FR"].iter().enumerate() {
            let l = lead(country);
            let turn = i as u64 + 1;
            let before = route_as_arrived(&old, &l, "web", office_hours(), turn);
            let id = format!("l{i}");
            same.add(
                &id,
                &before,
                &route_as_arrived(&old, &l, "web", office_hours(), turn),
                "unrouted",
                "unrouted",
            );
            let after = route_as_arrived(&new, &l, "web", office_hours(), turn);
            moved.add(&id, &before, &after, "unrouted", "unrouted");
        }
        assert_eq!(same.report().moved, 0);
        let r = moved.report();
        assert_eq!((r.leads, r.moved, r.unchanged), (5, 2, 3));
        assert_eq!(r.groups.len(), 1);
        assert_eq!(r.groups[0].cause, "rule 'emea' -> rule 'dach'");
        assert_eq!(r.groups[0].examples, ["l0", "l3"]);
        let cy = r.shares.iter().find(|s| s.owner == "cy").unwrap();
        assert_eq!((cy.before, cy.after, cy.change), (1, 3, 2));
        assert!(r.text().contains("2 leads: rule 'emea' -> rule 'dach'"));
        // A tally survives being stored between pages.
        let back: ReplayTally =
            serde_json::from_str(&serde_json::to_string(&moved).unwrap()).unwrap();
        assert_eq!(back, moved);
    }
}

//! Coverage gaps: for each pool, the time in a period when none of its reps was available by
//! the config in force (inactive, out of office, on holiday or off shift), so every lead
//! arriving then overflowed. Exact: the period is cut at every instant availability can
//! change (shift edges, local midnights, absences, config versions), and each piece is judged
//! once. Caps are not counted here (they depend on the leads, not the calendar).

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::domain::config::RoutingConfig;

/// The config versions in force over a period: each from the moment it became active, in
/// order.
pub type Timeline<'a> = [(Timestamp, &'a RoutingConfig)];

/// The config in force at `at`.
pub fn in_force<'a>(timeline: &Timeline<'a>, at: Timestamp) -> Option<&'a RoutingConfig> {
    timeline
        .iter()
        .rev()
        .find(|(since, _)| *since <= at)
        .map(|(_, config)| *config)
}

/// Seconds in `[from, to)` when no rep of each pool was available, by pool id (pools of every
/// version in force; a pool counts only while it exists).
pub fn uncovered_seconds(
    timeline: &Timeline<'_>,
    from: Timestamp,
    to: Timestamp,
) -> BTreeMap<String, i64> {
    let mut pools: Vec<&str> = Vec::new();
    for (_, config) in timeline {
        for id in config.pools.keys() {
            if !pools.contains(&id.as_str()) {
                pools.push(id);
            }
        }
    }
    let mut cuts = vec![from, to];
    cuts.extend(
        timeline
            .iter()
            .map(|(since, _)| *since)
            .filter(|t| from < *t && *t < to),
    );
    let mut gaps = BTreeMap::new();
    for pool_id in pools {
        let mut points = cuts.clone();
        for (i, (since, config)) in timeline.iter().enumerate() {
            let until = timeline.get(i + 1).map_or(to, |(next, _)| *next);
            let (start, end) = ((*since).max(from), until.min(to));
            if start >= end {
                continue;
            }
            let Some(pool) = config.pools.get(pool_id) else {
                continue;
            };
            for rep in &pool.reps {
                points.extend(config.reps[rep].availability.changes(start, end));
            }
        }
        points.sort();
        points.dedup();
        let mut uncovered = 0;
        for piece in points.windows(2) {
            let (a, b) = (piece[0], piece[1]);
            let Some(config) = in_force(timeline, a) else {
                continue;
            };
            let Some(pool) = config.pools.get(pool_id) else {
                continue;
            };
            let covered = pool
                .reps
                .iter()
                .any(|rep| config.reps[rep].availability.check(a).is_ok());
            if !covered {
                uncovered += b.as_second() - a.as_second();
            }
        }
        gaps.insert(pool_id.to_string(), uncovered);
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const CONFIG: &str = r#"
reps:
  - id: ny
    name: NY
    timezone: America/New_York
    working_hours: {mon-fri: "09:00-17:00"}
    holidays: [2026-11-26]
  - id: ber
    name: Berlin
    timezone: Europe/Berlin
    working_hours: {mon-fri: "09:00-17:00"}
    out_of_office: [{from: "2026-11-25T00:00", to: "2026-11-26T00:00"}]
  - {id: always, name: Always}
pools:
  - {id: day, name: Day, reps: [ny, ber]}
  - {id: all, name: All, reps: [always]}
rules:
  - {id: d, route: {pool: day}}
"#;

    #[test]
    fn gaps_are_the_hours_nobody_in_the_pool_works() {
        let c = RoutingConfig::parse(CONFIG).unwrap();
        let timeline = [(t("2026-01-01T00:00:00Z"), &c)];
        // Tuesday 2026-11-24 (UTC day): Berlin 08:00-16:00Z, New York 14:00-22:00Z, so
        // 08:00-22:00Z covered: 10 hours uncovered.
        let gaps = uncovered_seconds(
            &timeline,
            t("2026-11-24T00:00:00Z"),
            t("2026-11-25T00:00:00Z"),
        );
        assert_eq!(gaps["day"], 10 * 3600);
        assert_eq!(gaps["all"], 0);
        // Wednesday: Berlin is out of office (its local day), so only New York's 14:00-22:00Z.
        let gaps = uncovered_seconds(
            &timeline,
            t("2026-11-25T00:00:00Z"),
            t("2026-11-26T00:00:00Z"),
        );
        assert_eq!(gaps["day"], 16 * 3600);
        // Thursday: New York's holiday; Berlin 08:00-16:00Z.
        let gaps = uncovered_seconds(
            &timeline,
            t("2026-11-26T00:00:00Z"),
            t("2026-11-27T00:00:00Z"),
        );
        assert_eq!(gaps["day"], 16 * 3600);
    }

    #[test]
    fn a_new_version_counts_from_when_it_became_active() {
        let c = RoutingConfig::parse(CONFIG).unwrap();
        let later = RoutingConfig::parse(&CONFIG.replace("reps: [always]", "reps: [ny]")).unwrap();
        let timeline = [
            (t("2026-01-01T00:00:00Z"), &c),
            (t("2026-11-24T12:00:00Z"), &later),
        ];
        // From noon the pool 'all' is New York only: 12:00-14:00Z and 22:00-24:00Z uncovered.
        let gaps = uncovered_seconds(
            &timeline,
            t("2026-11-24T00:00:00Z"),
            t("2026-11-25T00:00:00Z"),
        );
        assert_eq!(gaps["all"], 4 * 3600);
        assert_eq!(
            in_force(&timeline, t("2026-11-24T11:59:59Z"))
                .unwrap()
                .pools["all"]
                .reps,
            ["always"]
        );
    }
}

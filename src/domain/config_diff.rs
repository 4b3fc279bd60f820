//! What changed between two routing configs, in the config's own terms: rules added, removed,
//! moved or changed (and which part: the condition, the destination, the SLA); reps added or
//! removed and their availability, caps and channels; pools' members, order, strategy,
//! weights, overflow and SLA; queues, channels and the settings. Pure: two parsed configs in,
//! a list of changes out, as data, as lines of text and as a one-line summary.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::availability::Availability;
use super::config::{Destination, Overflow, Pool, Rep, RoutingConfig, Rule};
use super::sla::SlaPolicy;

/// What a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A routing rule.
    Rule,
    /// A rep.
    Rep,
    /// A pool.
    Pool,
    /// A queue.
    Queue,
    /// A notification channel.
    Channel,
    /// A setting of the whole config (fallback queue, qualification, returning contacts).
    Setting,
}

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Subject::Rule => "rule",
            Subject::Rep => "rep",
            Subject::Pool => "pool",
            Subject::Queue => "queue",
            Subject::Channel => "channel",
            Subject::Setting => "setting",
        }
    }
}

/// How it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// It is new.
    Added,
    /// It is gone.
    Removed,
    /// Some of its parts differ (see `details`).
    Changed,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// A rule, rep, pool, ...
    pub subject: Subject,
    /// Its id (for a setting, its name).
    pub id: String,
    /// Added, removed or changed.
    pub kind: Kind,
    /// What differs, one phrase each (`when: employees < 50 -> employees < 100`).
    pub details: Vec<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.kind {
            Kind::Added => '+',
            Kind::Removed => '-',
            Kind::Changed => '~',
        };
        write!(f, "{sign} {} '{}'", self.subject.name(), self.id)?;
        if !self.details.is_empty() {
            write!(f, ": {}", self.details.join("; "))?;
        }
        Ok(())
    }
}

/// Every change from `old` to `new`, by subject, then in the new config's order.
pub fn diff(old: &RoutingConfig, new: &RoutingConfig) -> Vec<Change> {
    let mut changes = Vec::new();
    settings(old, new, &mut changes);
    rules(&old.rules, &new.rules, &mut changes);
    keyed(
        &sorted(&old.reps),
        &sorted(&new.reps),
        Subject::Rep,
        rep_details,
        &mut changes,
    );
    keyed(
        &sorted(&old.pools),
        &sorted(&new.pools),
        Subject::Pool,
        pool_details,
        &mut changes,
    );
    let queue = |c: &RoutingConfig, id: &str| {
        (
            c.queues.get(id).cloned().unwrap_or_default(),
            c.queue_notify.get(id).cloned().unwrap_or_default(),
        )
    };
    let queues = |c: &RoutingConfig| -> Vec<(String, (String, Vec<String>))> {
        let mut ids: Vec<&String> = c.queues.keys().collect();
        ids.sort();
        ids.into_iter()
            .map(|id| (id.clone(), queue(c, id)))
            .collect()
    };
    keyed(
        &queues(old),
        &queues(new),
        Subject::Queue,
        |(old_name, old_notify), (new_name, new_notify)| {
            let mut d = Vec::new();
            changed(&mut d, "name", old_name, new_name);
            list_change(&mut d, "notify", old_notify, new_notify);
            d
        },
        &mut changes,
    );
    keyed(
        &sorted(&old.channels),
        &sorted(&new.channels),
        Subject::Channel,
        |a, b| {
            let mut d = Vec::new();
            if a.kind != b.kind {
                d.push("type".to_string());
            }
            if a.url != b.url {
                d.push("url".to_string());
            }
            if a.secret != b.secret {
                d.push("secret".to_string());
            }
            d
        },
        &mut changes,
    );
    changes
}

/// The changes as lines of text, one per change.
pub fn text(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "no changes\n".into();
    }
    changes.iter().map(|c| format!("{c}\n")).collect()
}

/// One line saying what changed: each change when there are at most three, else counts.
pub fn summary(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "no changes".into();
    }
    if changes.len() <= 3 {
        return changes
            .iter()
            .map(|c| {
                let what = match c.kind {
                    Kind::Added => "added".to_string(),
                    Kind::Removed => "removed".to_string(),
                    Kind::Changed => c.details.join(", "),
                };
                format!("{} '{}' {what}", c.subject.name(), c.id)
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    let subjects: BTreeSet<Subject> = changes.iter().map(|c| c.subject).collect();
    let counts: Vec<String> = subjects
        .into_iter()
        .map(|s| {
            let n = changes.iter().filter(|c| c.subject == s).count();
            format!("{n} {}{}", s.name(), if n == 1 { "" } else { "s" })
        })
        .collect();
    format!("{} changes: {}", changes.len(), counts.join(", "))
}

fn sorted<T: Clone>(map: &std::collections::HashMap<String, T>) -> Vec<(String, T)> {
    let mut all: Vec<(String, T)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// Added, removed and changed items of two id-keyed lists.
fn keyed<T>(
    old: &[(String, T)],
    new: &[(String, T)],
    subject: Subject,
    details: impl Fn(&T, &T) -> Vec<String>,
    out: &mut Vec<Change>,
) {
    for (id, item) in new {
        match old.iter().find(|(o, _)| o == id) {
            None => out.push(change(subject, id, Kind::Added, Vec::new())),
            Some((_, before)) => {
                let d = details(before, item);
                if !d.is_empty() {
                    out.push(change(subject, id, Kind::Changed, d));
                }
            }
        }
    }
    for (id, _) in old {
        if !new.iter().any(|(n, _)| n == id) {
            out.push(change(subject, id, Kind::Removed, Vec::new()));
        }
    }
}

fn change(subject: Subject, id: &str, kind: Kind, details: Vec<String>) -> Change {
    Change {
        subject,
        id: id.to_string(),
        kind,
        details,
    }
}

fn changed<T: PartialEq + fmt::Debug>(d: &mut Vec<String>, what: &str, old: &T, new: &T) {
    if old != new {
        d.push(format!("{what}: {} -> {}", show(old), show(new)));
    }
}

/// A value as a config author would read it (`Some("x")` as `x`, `None` as `none`).
fn show<T: fmt::Debug>(value: &T) -> String {
    let text = format!("{value:?}");
    let text = text
        .strip_prefix("Some(")
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or(&text)
        .to_string();
    match text.as_str() {
        "None" => "none".into(),
        _ => text.trim_matches('"').to_string(),
    }
}

fn list_change(d: &mut Vec<String>, what: &str, old: &[String], new: &[String]) {
    let added: Vec<&String> = new.iter().filter(|x| !old.contains(x)).collect();
    let removed: Vec<&String> = old.iter().filter(|x| !new.contains(x)).collect();
    let mut parts = Vec::new();
    if !added.is_empty() {
        parts.push(format!("+{}", join(&added)));
    }
    if !removed.is_empty() {
        parts.push(format!("-{}", join(&removed)));
    }
    if !parts.is_empty() {
        d.push(format!("{what} {}", parts.join(" ")));
    } else if old != new {
        d.push(format!(
            "{what} order: {} -> {}",
            old.join(", "),
            new.join(", ")
        ));
    }
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", +")
        .replace(", +", ", ")
}

fn settings(old: &RoutingConfig, new: &RoutingConfig, out: &mut Vec<Change>) {
    let mut setting = |id: &str, details: Vec<String>| {
        if !details.is_empty() {
            out.push(change(Subject::Setting, id, Kind::Changed, details));
        }
    };
    let mut d = Vec::new();
    changed(&mut d, "queue", &old.fallback_queue, &new.fallback_queue);
    setting("fallback_queue", d);
    let mut d = Vec::new();
    changed(&mut d, "when", &old.returning.when, &new.returning.when);
    changed(&mut d, "days", &old.returning.days, &new.returning.days);
    setting("returning_contacts", d);
    let (a, b) = (&old.qualification, &new.qualification);
    let mut d = Vec::new();
    if a.free_mail_add != b.free_mail_add || a.free_mail_remove != b.free_mail_remove {
        d.push("free_mail".into());
    }
    if a.disposable_add != b.disposable_add {
        d.push("disposable".into());
    }
    changed(
        &mut d,
        "honeypot_field",
        &a.honeypot_field,
        &b.honeypot_field,
    );
    changed(
        &mut d,
        "data_quality_queue",
        &a.data_quality_queue,
        &b.data_quality_queue,
    );
    if a.required != b.required {
        d.push("required_fields".into());
    }
    if a.scoring != b.scoring {
        d.push("scoring".into());
    }
    setting("qualification", d);
}

fn rules(old: &[Rule], new: &[Rule], out: &mut Vec<Change>) {
    let old_ids: Vec<&str> = old.iter().map(|r| r.id.as_str()).collect();
    let new_ids: Vec<&str> = new.iter().map(|r| r.id.as_str()).collect();
    let common_old: Vec<&str> = old_ids
        .iter()
        .copied()
        .filter(|id| new_ids.contains(id))
        .collect();
    let common_new: Vec<&str> = new_ids
        .iter()
        .copied()
        .filter(|id| old_ids.contains(id))
        .collect();
    let stay = longest_common(&common_old, &common_new);
    for (i, rule) in new.iter().enumerate() {
        let Some(j) = old_ids.iter().position(|id| *id == rule.id) else {
            out.push(change(
                Subject::Rule,
                &rule.id,
                Kind::Added,
                vec![format!("at #{}", i + 1)],
            ));
            continue;
        };
        let before = &old[j];
        let mut d = Vec::new();
        if !stay.contains(&rule.id.as_str()) {
            d.push(format!("moved: #{} -> #{}", j + 1, i + 1));
        }
        if before.when != rule.when {
            d.push(format!(
                "when: {} -> {}",
                before.when.describe(),
                rule.when.describe()
            ));
        }
        if before.route != rule.route {
            d.push(format!(
                "route: {} -> {}",
                destination(&before.route),
                destination(&rule.route)
            ));
        }
        sla_change(&mut d, &before.sla, &rule.sla);
        changed(
            &mut d,
            "description",
            &before.description,
            &rule.description,
        );
        if !d.is_empty() {
            out.push(change(Subject::Rule, &rule.id, Kind::Changed, d));
        }
    }
    for rule in old {
        if !new_ids.contains(&rule.id.as_str()) {
            out.push(change(Subject::Rule, &rule.id, Kind::Removed, Vec::new()));
        }
    }
}

/// The longest common subsequence of two orders of the same ids: those did not move.
fn longest_common<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<&'a str> {
    let (n, m) = (a.len(), b.len());
    let mut table = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[i][j] = if a[i] == b[j] {
                table[i + 1][j + 1] + 1
            } else {
                table[i + 1][j].max(table[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n && j < m {
        if a[i] == b[j] {
            out.push(a[i]);
            i += 1;
            j += 1;
        } else if table[i + 1][j] >= table[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn destination(d: &Destination) -> String {
    match d {
        Destination::Rep(r) => format!("rep {r}"),
        Destination::Pool(p) => format!("pool {p}"),
        Destination::Queue(q) => format!("queue {q}"),
        Destination::AccountOwner => "account owner".into(),
    }
}

fn sla_change(d: &mut Vec<String>, old: &Option<SlaPolicy>, new: &Option<SlaPolicy>) {
    if old == new {
        return;
    }
    let show = |p: &Option<SlaPolicy>| match p {
        None => "none".to_string(),
        Some(p) => {
            let mut text = format!(
                "{} {}min, on breach {:?}, {} escalation(s)",
                if p.business_hours { "working" } else { "wall" },
                p.minutes,
                p.on_breach,
                p.max_escalations
            );
            if !p.reminders.is_empty() {
                text.push_str(&format!(", reminders {:?}", p.reminders));
            }
            if !p.steps.is_empty() {
                let steps: Vec<String> = p
                    .steps
                    .iter()
                    .map(|s| format!("+{}min {:?}", s.after, s.action))
                    .collect();
                text.push_str(&format!(", steps [{}]", steps.join(", ")));
            }
            text
        }
    };
    d.push(format!("sla: {} -> {}", show(old), show(new)));
}

fn rep_details(old: &Rep, new: &Rep) -> Vec<String> {
    let mut d = Vec::new();
    changed(&mut d, "name", &old.name, &new.name);
    changed(&mut d, "email", &old.email, &new.email);
    availability(&mut d, &old.availability, &new.availability);
    changed(&mut d, "caps.per_day", &old.caps.per_day, &new.caps.per_day);
    changed(
        &mut d,
        "caps.per_week",
        &old.caps.per_week,
        &new.caps.per_week,
    );
    list_change(&mut d, "notify", &old.notify, &new.notify);
    d
}

fn availability(d: &mut Vec<String>, old: &Availability, new: &Availability) {
    changed(d, "active", &old.active, &new.active);
    changed(d, "timezone", &old.timezone_name, &new.timezone_name);
    if old.hours != new.hours {
        d.push("working_hours".into());
    }
    let range = |a: &super::availability::Absence| format!("{} to {}", a.start, a.end);
    let old_away: Vec<String> = old.out_of_office.iter().map(range).collect();
    let new_away: Vec<String> = new.out_of_office.iter().map(range).collect();
    list_change(d, "out_of_office", &old_away, &new_away);
    let days = |a: &Availability| {
        a.holidays
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    list_change(d, "holidays", &days(old), &days(new));
}

fn pool_details(old: &Pool, new: &Pool) -> Vec<String> {
    let mut d = Vec::new();
    changed(&mut d, "name", &old.name, &new.name);
    changed(&mut d, "strategy", &old.strategy, &new.strategy);
    list_change(&mut d, "members", &old.reps, &new.reps);
    for (i, rep) in new.reps.iter().enumerate() {
        if let Some(j) = old.reps.iter().position(|r| r == rep) {
            if old.weights[j] != new.weights[i] {
                d.push(format!(
                    "weight of {rep}: {} -> {}",
                    old.weights[j], new.weights[i]
                ));
            }
        }
    }
    let overflow = |o: &Option<Overflow>| match o {
        None => "the fallback queue".to_string(),
        Some(Overflow::Pool(p)) => format!("pool {p}"),
        Some(Overflow::Queue(q)) => format!("queue {q}"),
    };
    if old.overflow != new.overflow {
        d.push(format!(
            "overflow: {} -> {}",
            overflow(&old.overflow),
            overflow(&new.overflow)
        ));
    }
    sla_change(&mut d, &old.sla, &new.sla);
    list_change(&mut d, "notify", &old.notify, &new.notify);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
fallback_queue: unrouted
reps:
  - {id: ann, name: Ann, timezone: Europe/Berlin, caps: {per_day: 10}}
  - {id: bob, name: Bob}
  - {id: cy, name: Cy}
pools:
  - {id: emea, name: EMEA, reps: [ann, bob]}
  - {id: wtd, name: Weighted, strategy: weighted, reps: [{rep: ann, weight: 2}, {rep: cy, weight: 1}]}
queues:
  - {id: unrouted, name: Unrouted}
  - {id: nurture, name: Nurture}
rules:
  - {id: free, when: {free_mail: true}, route: {queue: nurture}}
  - {id: de, when: {country: [DE, AT]}, route: {pool: emea}}
  - {id: big, when: {employees: {gte: 500}}, route: {rep: cy}}
  - {id: default, route: {pool: emea}}
"#;

    fn edit(from: &str, to: &str) -> String {
        assert!(BASE.contains(from), "{from}");
        BASE.replacen(from, to, 1)
    }

    #[test]
    fn each_kind_of_edit_is_listed_exactly() {
        let base = RoutingConfig::parse(BASE).unwrap();
        let cases: Vec<(String, Vec<&str>)> = vec![
            (BASE.to_string(), vec![]),
            (
                edit("[DE, AT]", "[DE, AT, CH]"),
                vec!["~ rule 'de': when: country in [DE, AT] -> country in [DE, AT, CH]"],
            ),
            (
                edit("route: {rep: cy}", "route: {pool: emea}"),
                vec!["~ rule 'big': route: rep cy -> pool emea"],
            ),
            (
                edit(
                    "  - {id: free, when: {free_mail: true}, route: {queue: nurture}}\n  - {id: de,",
                    "  - {id: de,",
                )
                .replace(
                    "  - {id: default,",
                    "  - {id: free, when: {free_mail: true}, route: {queue: nurture}}\n  - {id: default,",
                ),
                vec!["~ rule 'free': moved: #1 -> #3"],
            ),
            (
                edit(
                    "  - {id: default,",
                    "  - {id: us, when: {country: US}, route: {rep: bob}}\n  - {id: default,",
                ),
                vec!["+ rule 'us': at #4"],
            ),
            (
                edit("  - {id: big, when: {employees: {gte: 500}}, route: {rep: cy}}\n", ""),
                vec!["- rule 'big'"],
            ),
            (
                edit("reps: [ann, bob]", "reps: [ann, bob, cy]"),
                vec!["~ pool 'emea': members +cy"],
            ),
            (
                edit("reps: [ann, bob]", "reps: [bob, ann]"),
                vec!["~ pool 'emea': members order: ann, bob -> bob, ann"],
            ),
            (
                edit("{rep: ann, weight: 2}", "{rep: ann, weight: 3}"),
                vec!["~ pool 'wtd': weight of ann: 2 -> 3"],
            ),
            (
                edit("{id: emea, name: EMEA,", "{id: emea, name: EMEA, strategy: least_loaded,"),
                vec!["~ pool 'emea': strategy: RoundRobin -> LeastLoaded"],
            ),
            (
                edit("{id: bob, name: Bob}", "{id: bob, name: Bob, active: false}"),
                vec!["~ rep 'bob': active: true -> false"],
            ),
            (
                edit(
                    "{id: bob, name: Bob}",
                    "{id: bob, name: Bob, out_of_office: [{from: \"2026-12-21\", to: \"2026-12-24\"}]}",
                ),
                vec!["~ rep 'bob': out_of_office +2026-12-21T00:00:00Z to 2026-12-25T00:00:00Z"],
            ),
            (
                edit("caps: {per_day: 10}", "caps: {per_day: 12, per_week: 40}"),
                vec!["~ rep 'ann': caps.per_day: 10 -> 12; caps.per_week: none -> 40"],
            ),
            (
                edit("  - {id: cy, name: Cy}\n", "  - {id: cy, name: Cy}\n  - {id: dee, name: Dee}\n"),
                vec!["+ rep 'dee'"],
            ),
            (
                edit("fallback_queue: unrouted", "fallback_queue: nurture"),
                vec!["~ setting 'fallback_queue': queue: unrouted -> nurture"],
            ),
        ];
        for (document, expected) in cases {
            let new =
                RoutingConfig::parse(&document).unwrap_or_else(|e| panic!("{document}: {e:?}"));
            let lines: Vec<String> = diff(&base, &new).iter().map(ToString::to_string).collect();
            assert_eq!(lines, expected, "{document}");
        }
    }

    #[test]
    fn a_summary_lists_few_changes_and_counts_many() {
        let base = RoutingConfig::parse(BASE).unwrap();
        let one = RoutingConfig::parse(&edit("[DE, AT]", "[DE]")).unwrap();
        assert_eq!(
            summary(&diff(&base, &one)),
            "rule 'de' when: country in [DE, AT] -> country in [DE]"
        );
        let many = edit("[DE, AT]", "[DE]")
            .replace("{id: bob, name: Bob}", "{id: bob, name: Bobby}")
            .replace("reps: [ann, bob]", "reps: [ann, bob, cy]")
            .replace("route: {rep: cy}", "route: {rep: bob}");
        let many = RoutingConfig::parse(&many).unwrap();
        assert_eq!(
            summary(&diff(&base, &many)),
            "4 changes: 2 rules, 1 rep, 1 pool"
        );
        assert_eq!(summary(&[]), "no changes");
        assert_eq!(text(&[]), "no changes\n");
    }
}

//! Availability set outside the config document: a rep marked inactive, away until a time or
//! out of office for a range, from the console or from the rep's own link, without anyone
//! editing (and reformatting) the YAML. Each config version stores its overrides beside its
//! document; the config in force is the document with its overrides applied. A publish
//! carries the active version's overrides forward (availability is live state, not routing
//! design: a rule edit or a rollback does not bring back last week's absence), dropping those
//! of reps no longer in the config and absences that are over. Pure.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::availability::Absence;
use super::config::RoutingConfig;

/// Every rep's overrides, by rep id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    /// By rep id.
    #[serde(default)]
    pub reps: BTreeMap<String, RepOverride>,
}

/// One rep's overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepOverride {
    /// Active or not, whatever the document says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Absences besides the document's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub away: Vec<Away>,
}

/// One absence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Away {
    /// First instant away.
    pub from: Timestamp,
    /// First instant back.
    pub until: Timestamp,
}

/// A change to one rep's availability.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AvailabilityChange {
    /// Make the rep active or inactive.
    pub active: Option<bool>,
    /// Away from `now` until this instant.
    pub away_until: Option<Timestamp>,
    /// Out of office for this range.
    pub out_of_office: Option<Away>,
    /// Back now: every absence set here that is running or to come ends now (the document's
    /// own ranges stay: change those in the YAML).
    pub back: bool,
}

impl Overrides {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.reps
            .values()
            .all(|r| r.active.is_none() && r.away.is_empty())
    }

    /// `config` with these overrides applied (reps unknown to it are ignored).
    pub fn apply(&self, mut config: RoutingConfig) -> RoutingConfig {
        for (id, o) in &self.reps {
            let Some(rep) = config.reps.get_mut(id) else {
                continue;
            };
            if let Some(active) = o.active {
                rep.availability.active = active;
            }
            for away in &o.away {
                rep.availability.out_of_office.push(Absence {
                    start: away.from,
                    end: away.until,
                });
            }
            rep.availability.out_of_office.sort_by_key(|a| a.start);
        }
        config
    }

    /// What is still worth keeping under `config` at `now`: reps it has, absences not over.
    pub fn kept(&self, config: &RoutingConfig, now: Timestamp) -> Self {
        let reps = self
            .reps
            .iter()
            .filter(|(id, _)| config.reps.contains_key(*id))
            .map(|(id, o)| {
                let away = o.away.iter().filter(|a| a.until > now).cloned().collect();
                (
                    id.clone(),
                    RepOverride {
                        active: o.active,
                        away,
                    },
                )
            })
            .filter(|(_, o)| o.active.is_some() || !o.away.is_empty())
            .collect();
        Self { reps }
    }

    /// These overrides with `change` made to `rep` at `now` (under `document`, the config
    /// without overrides, so an `active` equal to the document's is no override at all).
    pub fn changed(
        &self,
        rep: &str,
        change: &AvailabilityChange,
        document: &RoutingConfig,
        now: Timestamp,
    ) -> Self {
        let mut next = self.kept(document, now);
        let entry = next.reps.entry(rep.to_string()).or_default();
        if let Some(active) = change.active {
            let in_document = document
                .reps
                .get(rep)
                .is_some_and(|r| r.availability.active);
            entry.active = (active != in_document).then_some(active);
        }
        if change.back {
            entry.away.retain(|a| a.until <= now);
        }
        if let Some(until) = change.away_until {
            entry.away.push(Away { from: now, until });
        }
        if let Some(range) = &change.out_of_office {
            entry.away.push(range.clone());
        }
        entry.away.sort_by_key(|a| a.from);
        next.kept(document, now)
    }

    /// What a change did, in words, for the audit log and the version's message.
    pub fn describe(rep: &str, change: &AvailabilityChange) -> String {
        let mut parts = Vec::new();
        if let Some(active) = change.active {
            parts.push(if active { "active" } else { "inactive" }.to_string());
        }
        if change.back {
            parts.push("back".to_string());
        }
        if let Some(until) = change.away_until {
            parts.push(format!("away until {until}"));
        }
        if let Some(a) = &change.out_of_office {
            parts.push(format!("out of office {} to {}", a.from, a.until));
        }
        format!("{rep}: {}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"
reps:
  - {id: ann, name: Ann}
  - {id: bob, name: Bob, active: false}
rules:
  - {id: d, route: {rep: ann}}
"#;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn away_and_back_and_active_are_applied_over_the_document() {
        let doc = RoutingConfig::parse(DOC).unwrap();
        let now = t("2026-11-24T15:00:00Z");
        let away = AvailabilityChange {
            away_until: Some(t("2026-11-24T17:00:00Z")),
            ..Default::default()
        };
        let o = Overrides::default().changed("ann", &away, &doc, now);
        let config = o.apply(doc.clone());
        assert!(config.reps["ann"]
            .availability
            .check(t("2026-11-24T16:00:00Z"))
            .is_err());
        assert!(config.reps["ann"]
            .availability
            .check(t("2026-11-24T17:00:00Z"))
            .is_ok());
        let back = AvailabilityChange {
            back: true,
            ..Default::default()
        };
        let later = t("2026-11-24T15:30:00Z");
        let o = o.changed("ann", &back, &doc, later);
        assert!(o.is_empty(), "{o:?}");
        assert!(o.apply(doc.clone()).reps["ann"]
            .availability
            .check(t("2026-11-24T16:00:00Z"))
            .is_ok());
        // Making Bob active overrides the document; making him inactive again is no override.
        let on = AvailabilityChange {
            active: Some(true),
            ..Default::default()
        };
        let o = Overrides::default().changed("bob", &on, &doc, now);
        assert!(o.apply(doc.clone()).reps["bob"].availability.active);
        let off = AvailabilityChange {
            active: Some(false),
            ..Default::default()
        };
        assert!(o.changed("bob", &off, &doc, now).is_empty());
        assert_eq!(
            Overrides::describe("ann", &away),
            "ann: away until 2026-11-24T17:00:00Z"
        );
    }

    #[test]
    fn kept_drops_absences_that_are_over_and_reps_that_left() {
        let doc = RoutingConfig::parse(DOC).unwrap();
        let o = Overrides {
            reps: BTreeMap::from([
                (
                    "ann".to_string(),
                    RepOverride {
                        active: None,
                        away: vec![Away {
                            from: t("2026-11-20T00:00:00Z"),
                            until: t("2026-11-21T00:00:00Z"),
                        }],
                    },
                ),
                (
                    "zed".to_string(),
                    RepOverride {
                        active: Some(false),
                        away: vec![],
                    },
                ),
            ]),
        };
        assert!(o.kept(&doc, t("2026-11-24T00:00:00Z")).is_empty());
    }
}

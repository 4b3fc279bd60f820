//! Qualification: what a lead is before it is routed. Free-mail (a built-in list the config can
//! extend or trim), disposable domains (`domain::disposable`: a maintained list, vendored from the `disposable-emails` crate,
//! extendable by the config), role addresses (info@, sales@), the HTML form honeypot, a score
//! from configurable points with its breakdown, and the fields a source must give. Pure: the
//! config and the lead in, a [`Qualification`] out.

use std::collections::{BTreeMap, HashSet};

pub use super::facts::{Qualification, ScoreLine};
use super::lead::{canonical_key, Lead};
use super::normalize;
use super::rules::Condition;

/// Honeypot field name when the config names none.
pub const DEFAULT_HONEYPOT_FIELD: &str = "_honeypot";
/// Queue for leads that miss a required field, when the config names none.
pub const DEFAULT_DATA_QUALITY_QUEUE: &str = "data-quality";

/// Local parts that name a function, not a person.
const ROLE_LOCAL_PARTS: &[&str] = &[
    "accounts",
    "admin",
    "billing",
    "careers",
    "contact",
    "enquiries",
    "finance",
    "hello",
    "help",
    "hr",
    "info",
    "inquiries",
    "jobs",
    "marketing",
    "no-reply",
    "noreply",
    "office",
    "postmaster",
    "press",
    "privacy",
    "sales",
    "support",
    "team",
    "webmaster",
];

/// Points a lead earns when a condition holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRule {
    /// What the points are for, shown in the breakdown.
    pub label: String,
    /// When they apply.
    pub when: Condition,
    /// How many (negative to subtract).
    pub points: f64,
}

/// The qualification settings of a routing config.
#[derive(Debug, Clone, PartialEq)]
pub struct QualifyConfig {
    /// Domains treated as free-mail besides the built-in list.
    pub free_mail_add: HashSet<String>,
    /// Built-in free-mail domains not to treat as such (a local ISP that is a business).
    pub free_mail_remove: HashSet<String>,
    /// Domains treated as disposable besides the maintained list.
    pub disposable_add: HashSet<String>,
    /// The form field that only bots fill (canonical name).
    pub honeypot_field: String,
    /// Score points, in order.
    pub scoring: Vec<ScoreRule>,
    /// Fields each source (by its key's name) must give, as presence tests.
    pub required: BTreeMap<String, Vec<(String, Condition)>>,
    /// Where leads missing a required field go.
    pub data_quality_queue: String,
}

impl Default for QualifyConfig {
    fn default() -> Self {
        Self {
            free_mail_add: HashSet::new(),
            free_mail_remove: HashSet::new(),
            disposable_add: HashSet::new(),
            honeypot_field: DEFAULT_HONEYPOT_FIELD.into(),
            scoring: Vec::new(),
            required: BTreeMap::new(),
            data_quality_queue: DEFAULT_DATA_QUALITY_QUEUE.into(),
        }
    }
}

/// Qualifies a lead from `source` (the submitting key's name).
pub fn qualify(config: &QualifyConfig, lead: &Lead, source: &str) -> Qualification {
    let domain = lead.email.as_ref().map(|e| e.domain.as_str());
    let free_mail = domain.is_some_and(|d| {
        !config.free_mail_remove.contains(d)
            && (config.free_mail_add.contains(d) || normalize::is_free_mail(d))
    });
    let disposable = domain.is_some_and(|d| {
        config.disposable_add.contains(d) || super::disposable::is_disposable_domain(d)
    });
    let role_address = lead.email.as_ref().is_some_and(|e| {
        let local = e.address.split('@').next().unwrap_or("");
        let local = local.split('+').next().unwrap_or(local);
        ROLE_LOCAL_PARTS.contains(&local)
    });
    let spam = lead
        .custom
        .get(&canonical_key(&config.honeypot_field))
        .is_some_and(|v| !v.trim().is_empty());
    let mut q = Qualification {
        free_mail,
        disposable,
        role_address,
        spam,
        ..Qualification::default()
    };
    if let Some(base) = lead.score {
        q.breakdown.push(ScoreLine {
            label: "score sent with the lead".into(),
            points: base,
        });
    }
    // Score rules may test the flags above, so they see a lead that carries them.
    let flagged = Lead {
        qualification: Some(q.clone()),
        ..lead.clone()
    };
    for rule in &config.scoring {
        if rule.when.matches(&flagged).is_some() {
            q.breakdown.push(ScoreLine {
                label: rule.label.clone(),
                points: rule.points,
            });
        }
    }
    let total: f64 = q.breakdown.iter().map(|l| l.points).sum();
    // An empty `f64` sum is -0.0, which serialises as -0.0 and prints as "-0": store plain zero.
    q.score = if total == 0.0 { 0.0 } else { total };
    if let Some(required) = config.required.get(source) {
        q.missing = required
            .iter()
            .filter(|(_, present)| present.matches(lead).is_none())
            .map(|(name, _)| name.clone())
            .collect();
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::ConfigError;
    use serde_json::json;

    fn condition(value: serde_json::Value) -> Condition {
        let mut errors: Vec<ConfigError> = Vec::new();
        let c = Condition::compile(&value, "when", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        c
    }

    fn config() -> QualifyConfig {
        QualifyConfig {
            free_mail_add: HashSet::from(["isp.example".to_string()]),
            free_mail_remove: HashSet::from(["gmx.de".to_string()]),
            scoring: vec![
                ScoreRule {
                    label: "visited pricing".into(),
                    when: condition(json!({"custom.visited_pricing": "yes"})),
                    points: 20.0,
                },
                ScoreRule {
                    label: "free-mail address".into(),
                    when: condition(json!({"free_mail": true})),
                    points: -30.0,
                },
            ],
            required: BTreeMap::from([(
                "demo-form".to_string(),
                vec![(
                    "company".to_string(),
                    condition(json!({"company": {"exists": true}})),
                )],
            )]),
            ..QualifyConfig::default()
        }
    }

    fn lead(fields: &[(&str, &str)]) -> Lead {
        Lead::parse(fields.iter().copied()).unwrap()
    }

    #[test]
    fn free_mail_lists_can_be_extended_and_trimmed() {
        let c = config();
        assert!(qualify(&c, &lead(&[("email", "a@gmail.com")]), "x").free_mail);
        assert!(qualify(&c, &lead(&[("email", "a@isp.example")]), "x").free_mail);
        assert!(!qualify(&c, &lead(&[("email", "a@acme.com")]), "x").free_mail);
    }

    #[test]
    fn disposable_role_and_honeypot() {
        let c = config();
        assert!(qualify(&c, &lead(&[("email", "x@mailinator.com")]), "x").disposable);
        assert!(!qualify(&c, &lead(&[("email", "x@acme.com")]), "x").disposable);
        assert!(qualify(&c, &lead(&[("email", "info@acme.com")]), "x").role_address);
        assert!(qualify(&c, &lead(&[("email", "Sales+eu@acme.com")]), "x").role_address);
        assert!(!qualify(&c, &lead(&[("email", "jane@acme.com")]), "x").role_address);
        let bot = lead(&[("email", "jane@acme.com"), ("_honeypot", "http://spam")]);
        assert!(qualify(&c, &bot, "x").spam);
        let human = lead(&[("email", "jane@acme.com"), ("_honeypot", "")]);
        assert!(!qualify(&c, &human, "x").spam);
    }

    #[test]
    fn the_score_adds_points_with_a_breakdown() {
        let c = config();
        let q = qualify(
            &c,
            &lead(&[
                ("email", "jane@gmail.com"),
                ("visited_pricing", "yes"),
                ("score", "5"),
            ]),
            "x",
        );
        assert_eq!(q.score, -5.0);
        let labels: Vec<&str> = q.breakdown.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "score sent with the lead",
                "visited pricing",
                "free-mail address"
            ]
        );
    }

    #[test]
    fn a_lead_without_points_scores_a_plain_zero() {
        // An empty `f64` sum is -0.0, which equals 0.0 but serialises as -0.0.
        let q = qualify(
            &QualifyConfig::default(),
            &lead(&[("email", "jane@acme.com")]),
            "x",
        );
        assert!(q.breakdown.is_empty());
        assert_eq!(q.score.to_bits(), 0.0f64.to_bits());
        let json = serde_json::to_string(&q).unwrap();
        assert!(json.contains("\"score\":0.0"), "{json}");
    }

    #[test]
    fn required_fields_depend_on_the_source() {
        let c = config();
        let no_company = lead(&[("email", "jane@acme.com")]);
        assert_eq!(qualify(&c, &no_company, "demo-form").missing, ["company"]);
        assert!(qualify(&c, &no_company, "newsletter").missing.is_empty());
    }
}

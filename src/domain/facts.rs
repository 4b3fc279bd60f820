//! What intake finds out about a lead before the rules run, stored with it and tested by rules:
//! its qualification (free-mail, disposable, role address, spam, score) and the account it
//! matched. Plain data: [`super::qualify`] and [`super::account`] work them out.

use serde::{Deserialize, Serialize};

/// A company the team knows, with its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Stable id from the CRM.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Its domains (`bigbank.com`); subdomains match too.
    pub domains: Vec<String>,
    /// The rep who owns it (`account.owner` in rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Tier (`enterprise`, `strategic`, ...), compared case-insensitively by rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The named-account list it is on, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<String>,
}

/// The account a lead matched, as stored with the lead and tested by rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountMatch {
    /// The account.
    pub account: Account,
    /// The lead's domain that matched (`eu.bigbank.com`).
    pub via: String,
    /// The account domain it matched (`bigbank.com`).
    pub domain: String,
}

/// One line of a score's breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreLine {
    /// What for.
    pub label: String,
    /// Points.
    pub points: f64,
}

/// What qualification found; stored with the lead and tested by rules. A flag or list missing
/// from a stored lead is `false` or empty (storage leaves them out).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Qualification {
    /// The email is at a free-mail provider.
    pub free_mail: bool,
    /// The email is at a disposable (throwaway) provider.
    pub disposable: bool,
    /// The email names a function (info@, sales@), not a person.
    pub role_address: bool,
    /// The honeypot field was filled: a bot. Stored as spam, routed nowhere.
    pub spam: bool,
    /// The score: the lead's own `score` field (if sent) plus the points that applied.
    pub score: f64,
    /// Where the score came from.
    pub breakdown: Vec<ScoreLine>,
    /// Required fields the lead's source should have given but did not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

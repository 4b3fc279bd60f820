//! Accounts (companies the team already knows) and how a lead is matched to one: by its email
//! domain, or by its website when the email is free-mail; a subdomain or `www.` matches its
//! parent. Also reads account files (CSV or JSON) into checked records. Pure: storage keeps the
//! accounts and looks domains up; this module decides which domains to look up.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

pub use super::facts::{Account, AccountMatch};
use super::lead::Lead;
use super::normalize;
use super::rules::ConfigError;

/// Most accounts one load may carry.
pub const MAX_ACCOUNTS_PER_LOAD: usize = 100_000;
/// Most domains one account may have.
pub const MAX_DOMAINS: usize = 50;

/// The domain a lead is matched by: its email's, unless that is free-mail (or there is no
/// email), then its website's.
pub fn lead_domain(lead: &Lead) -> Option<String> {
    match &lead.email {
        Some(email) if !lead.is_free_mail() => Some(email.domain.clone()),
        _ => lead.website.clone(),
    }
}

/// The domains to look up for `domain`, most specific first: itself, then each parent that
/// still has two labels (`eu.bigbank.com`, `bigbank.com`). `www.` is dropped first.
pub fn candidates(domain: &str) -> Vec<String> {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let domain = domain.strip_prefix("www.").unwrap_or(&domain);
    let labels: Vec<&str> = domain.split('.').collect();
    (0..labels.len().saturating_sub(1))
        .map(|skip| labels[skip..].join("."))
        .collect()
}

/// Picks the most specific match among the accounts found for [`candidates`].
pub fn best_match(domain: &str, found: &HashMap<String, Account>) -> Option<AccountMatch> {
    candidates(domain).into_iter().find_map(|candidate| {
        found.get(&candidate).map(|account| AccountMatch {
            account: account.clone(),
            via: domain.to_string(),
            domain: candidate,
        })
    })
}

/// One account as a file row gives it (CSV columns or JSON fields of the same names).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    id: String,
    name: String,
    /// In CSV: separated by spaces, commas or semicolons.
    #[serde(deserialize_with = "domain_list")]
    domains: Vec<String>,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    list: Option<String>,
}

fn domain_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        List(Vec<String>),
    }
    Ok(match Either::deserialize(d)? {
        Either::Text(text) => text
            .split([' ', ',', ';'])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Either::List(list) => list,
    })
}

/// Reads an account file: a JSON array, or CSV with a header row (`id,name,domains,owner,tier,
/// list`). Every mistake is reported with its row; nothing is returned unless all rows are good.
/// Domains are normalised like websites (`https://www.BigBank.com/` is `bigbank.com`).
pub fn parse_accounts(text: &str) -> Result<Vec<Account>, Vec<ConfigError>> {
    let trimmed = text.trim_start();
    let rows: Vec<(String, Result<Row, String>)> = if trimmed.starts_with('[') {
        let values: Vec<serde_json::Value> = serde_json::from_str(trimmed)
            .map_err(|e| vec![ConfigError::new("body", format!("not a JSON array: {e}"))])?;
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    format!("[{i}]"),
                    serde_json::from_value(v).map_err(|e| e.to_string()),
                )
            })
            .collect()
    } else {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(text.as_bytes());
        reader
            .deserialize::<Row>()
            .enumerate()
            .map(|(i, r)| (format!("line {}", i + 2), r.map_err(|e| e.to_string())))
            .collect()
    };
    if rows.len() > MAX_ACCOUNTS_PER_LOAD {
        return Err(vec![ConfigError::new(
            "body",
            format!("more than {MAX_ACCOUNTS_PER_LOAD} accounts; split the file"),
        )]);
    }
    let mut errors = Vec::new();
    let mut accounts = Vec::with_capacity(rows.len());
    let mut ids = HashSet::new();
    let mut domains: HashMap<String, String> = HashMap::new();
    for (at, row) in rows {
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                errors.push(ConfigError::new(at, e));
                continue;
            }
        };
        let id = row.id.trim().to_string();
        if id.is_empty() || id.len() > 128 || id.contains('#') {
            errors.push(ConfigError::new(
                format!("{at}.id"),
                "an id is 1-128 characters without '#'",
            ));
        }
        if !ids.insert(id.clone()) {
            errors.push(ConfigError::new(
                format!("{at}.id"),
                format!("account '{id}' appears twice"),
            ));
        }
        let mut clean = Vec::new();
        for raw in &row.domains {
            match normalize::website_domain(raw) {
                Some(d) => {
                    if let Some(other) = domains.insert(d.clone(), id.clone()) {
                        if other != id {
                            errors.push(ConfigError::new(
                                format!("{at}.domains"),
                                format!("domain '{d}' also belongs to account '{other}'"),
                            ));
                        }
                    }
                    if !clean.contains(&d) {
                        clean.push(d);
                    }
                }
                None => errors.push(ConfigError::new(
                    format!("{at}.domains"),
                    format!("'{raw}' is not a domain"),
                )),
            }
        }
        if clean.is_empty() || clean.len() > MAX_DOMAINS {
            errors.push(ConfigError::new(
                format!("{at}.domains"),
                format!("an account needs 1 to {MAX_DOMAINS} domains"),
            ));
        }
        let some = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        accounts.push(Account {
            id,
            name: row.name.trim().to_string(),
            domains: clean,
            owner: some(row.owner),
            tier: some(row.tier).map(|t| t.to_lowercase()),
            list: some(row.list),
        });
    }
    if errors.is_empty() {
        Ok(accounts)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_and_www_match_their_parent() {
        assert_eq!(
            candidates("eu.BigBank.com"),
            ["eu.bigbank.com", "bigbank.com"]
        );
        assert_eq!(candidates("www.bigbank.com"), ["bigbank.com"]);
        assert_eq!(candidates("bigbank.co.uk"), ["bigbank.co.uk", "co.uk"]);
        assert_eq!(candidates("localhost"), Vec::<String>::new());
    }

    #[test]
    fn the_most_specific_account_wins() {
        let account = |id: &str, domain: &str| Account {
            id: id.into(),
            name: id.into(),
            domains: vec![domain.into()],
            owner: None,
            tier: None,
            list: None,
        };
        let found = HashMap::from([
            ("bigbank.com".to_string(), account("group", "bigbank.com")),
            (
                "eu.bigbank.com".to_string(),
                account("europe", "eu.bigbank.com"),
            ),
        ]);
        let m = best_match("eu.bigbank.com", &found).unwrap();
        assert_eq!(
            (m.account.id.as_str(), m.domain.as_str()),
            ("europe", "eu.bigbank.com")
        );
        let m = best_match("us.bigbank.com", &found).unwrap();
        assert_eq!(m.account.id, "group");
        assert!(best_match("smallbank.com", &found).is_none());
    }

    #[test]
    fn a_free_mail_lead_is_matched_by_its_website() {
        let lead = Lead::parse([
            ("email", "jane@gmail.com"),
            ("website", "https://www.bigbank.com/about"),
        ])
        .unwrap();
        assert_eq!(lead_domain(&lead).as_deref(), Some("bigbank.com"));
        let lead =
            Lead::parse([("email", "jane@eu.bigbank.com"), ("website", "other.com")]).unwrap();
        assert_eq!(lead_domain(&lead).as_deref(), Some("eu.bigbank.com"));
    }

    #[test]
    fn csv_and_json_files_read_alike() {
        let csv = "id,name,domains,owner,tier,list\nbb,BigBank,\"bigbank.com; https://www.bigbank.de/\",erin,Enterprise,named-2027\nsm,Small Co,small.io,,,\n";
        let from_csv = parse_accounts(csv).unwrap();
        let json = r#"[{"id":"bb","name":"BigBank","domains":["bigbank.com","www.bigbank.de"],"owner":"erin","tier":"enterprise","list":"named-2027"},{"id":"sm","name":"Small Co","domains":"small.io"}]"#;
        assert_eq!(parse_accounts(json).unwrap(), from_csv);
        assert_eq!(from_csv[0].domains, ["bigbank.com", "bigbank.de"]);
        assert_eq!(from_csv[0].tier.as_deref(), Some("enterprise"));
        assert_eq!(from_csv[1].owner, None);
    }

    #[test]
    fn bad_rows_are_reported_by_line() {
        let csv = "id,name,domains,owner,tier,list\na,A,a.com,,,\na,A again,b.com,,,\nc,C,a.com,,,\nd,D,not a domain!,,,\n";
        let errors: Vec<String> = parse_accounts(csv)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("line 3.id: account 'a' appears twice")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(
                |e| e.starts_with("line 4.domains: domain 'a.com' also belongs to account 'a'")
            ),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with("line 5.domains: 'not' is not a domain")),
            "{errors:?}"
        );
    }
}

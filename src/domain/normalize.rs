//! Normalisers for the messy values web forms send: countries, regions, postal codes, company
//! sizes, revenue, websites and phone numbers. Pure functions; they never reject a lead, they
//! return `None` when a value cannot be understood and the caller records a warning.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Common and native country names that ISO 3166's English short names do not cover.
const COUNTRY_ALIASES: &[(&str, &str)] = &[
    ("usa", "US"),
    ("u.s.", "US"),
    ("u.s.a.", "US"),
    ("united states", "US"),
    ("america", "US"),
    ("uk", "GB"),
    ("u.k.", "GB"),
    ("united kingdom", "GB"),
    ("great britain", "GB"),
    ("britain", "GB"),
    ("england", "GB"),
    ("scotland", "GB"),
    ("wales", "GB"),
    ("northern ireland", "GB"),
    ("deutschland", "DE"),
    ("allemagne", "DE"),
    ("españa", "ES"),
    ("espana", "ES"),
    ("italia", "IT"),
    ("nederland", "NL"),
    ("the netherlands", "NL"),
    ("holland", "NL"),
    ("schweiz", "CH"),
    ("suisse", "CH"),
    ("svizzera", "CH"),
    ("österreich", "AT"),
    ("osterreich", "AT"),
    ("belgië", "BE"),
    ("belgique", "BE"),
    ("sverige", "SE"),
    ("norge", "NO"),
    ("danmark", "DK"),
    ("suomi", "FI"),
    ("polska", "PL"),
    ("czech republic", "CZ"),
    ("czechia", "CZ"),
    ("brasil", "BR"),
    ("méxico", "MX"),
    ("south korea", "KR"),
    ("korea", "KR"),
    ("russia", "RU"),
    ("uae", "AE"),
    ("vietnam", "VN"),
    ("türkiye", "TR"),
    ("turkey", "TR"),
    ("taiwan", "TW"),
    ("iran", "IR"),
    ("bolivia", "BO"),
    ("venezuela", "VE"),
    ("tanzania", "TZ"),
    ("moldova", "MD"),
];

fn country_index() -> &'static HashMap<String, &'static str> {
    static INDEX: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = HashMap::new();
        for country in rust_iso3166::ALL {
            // Some names carry footnote marks such as "[f]".
            let name = country
                .name
                .split('[')
                .next()
                .unwrap_or(country.name)
                .trim();
            index.insert(name.to_lowercase(), country.alpha2);
            index.insert(country.alpha3.to_lowercase(), country.alpha2);
            index.insert(country.alpha2.to_lowercase(), country.alpha2);
        }
        for (alias, code) in COUNTRY_ALIASES {
            index.insert((*alias).to_string(), *code);
        }
        index
    })
}

/// ISO 3166-1 alpha-2 code for a country code (alpha-2 or alpha-3) or a common name.
pub fn country(raw: &str) -> Option<&'static str> {
    let key = raw.trim().to_lowercase();
    country_index().get(&key).copied()
}

fn region_index() -> &'static HashMap<(&'static str, String), &'static str> {
    static INDEX: OnceLock<HashMap<(&'static str, String), &'static str>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = HashMap::new();
        for sub in rust_iso3166::iso3166_2::SUBDIVISION_MAP.values() {
            if sub.country_code == "US" || sub.country_code == "CA" {
                let name = sub.name.split('[').next().unwrap_or(sub.name).trim();
                index.insert((sub.country_code, name.to_lowercase()), sub.region_code);
                index.insert(
                    (sub.country_code, sub.region_code.to_lowercase()),
                    sub.region_code,
                );
            }
        }
        index
    })
}

/// Region for a lead: US states and Canadian provinces become their two-letter codes (from
/// either the code or the name); other regions are kept as written, trimmed.
pub fn region(raw: &str, country: Option<&str>) -> String {
    let trimmed = raw.trim();
    let key = trimmed.to_lowercase();
    let countries: &[&'static str] = match country {
        Some("US") => &["US"],
        Some("CA") => &["CA"],
        None => &["US", "CA"],
        Some(_) => &[],
    };
    countries
        .iter()
        .find_map(|c| region_index().get(&(*c, key.clone())))
        .map(|code| (*code).to_string())
        .unwrap_or_else(|| collapse_spaces(trimmed))
}

/// Postal code in its country's canonical spelling: US ZIP as `12345` or `12345-6789`, Canadian
/// and British codes upper-case with one space before the inward part; others upper-case.
pub fn postal_code(raw: &str, country: Option<&str>) -> String {
    let compact: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    match country {
        Some("US") => {
            let digits: String = compact.chars().filter(char::is_ascii_digit).collect();
            match digits.len() {
                9 => format!("{}-{}", &digits[..5], &digits[5..]),
                5 => digits,
                _ => compact,
            }
        }
        Some("CA") | Some("GB") if compact.len() > 3 && compact.is_ascii() => {
            let (outward, inward) = compact.split_at(compact.len() - 3);
            format!("{outward} {inward}")
        }
        _ => collapse_spaces(&raw.trim().to_uppercase()),
    }
}

/// A company's size as a range of employees. Forms send "120", "51-200", "1,000+", "10k",
/// "<50" or "1-10 employees".
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EmployeeRange {
    /// Smallest headcount the answer allows; rules compare against this.
    pub min: u64,
    /// Largest headcount the answer allows; `None` for open-ended answers like "1000+".
    pub max: Option<u64>,
}

/// Largest headcount taken as a company size. The biggest employers have about three million
/// people, so anything above ten million is a typo or a test, not a size to route by.
pub const MAX_EMPLOYEES: u64 = 10_000_000;

/// Largest amount of money (annual revenue) taken, in the currency's units: a quadrillion. The
/// biggest company's revenue is under a trillion dollars (about 1e14 in yen or rupees), so a
/// larger figure is a typo or a test.
pub const MAX_AMOUNT: f64 = 1e15;

/// Parses a company size; `None` if the text holds no number or no sensible headcount: a
/// negative number ("-5", "-10-50"), a number above [`MAX_EMPLOYEES`], or an answer that allows
/// no employee at all ("0", "0-0", "<1", "0+"). A range may start at zero ("0-10").
pub fn employees(raw: &str) -> Option<EmployeeRange> {
    let text = raw.trim().to_lowercase();
    let numbers = numbers_in(&text);
    let used = &numbers[..numbers.len().min(2)];
    if used
        .iter()
        .any(|n| n.is_sign_negative() || *n > MAX_EMPLOYEES as f64)
    {
        return None;
    }
    let range = match used {
        [] => return None,
        [n] if text.starts_with('<') || text.starts_with("under") || text.starts_with("less") => {
            EmployeeRange {
                min: 1,
                max: Some((*n as u64).saturating_sub(1)),
            }
        }
        [n] if text.ends_with('+') || text.contains("more") || text.contains("over") => {
            EmployeeRange {
                min: *n as u64,
                max: None,
            }
        }
        [n] => EmployeeRange {
            min: *n as u64,
            max: Some(*n as u64),
        },
        [a, b, ..] => EmployeeRange {
            min: a.min(*b) as u64,
            max: Some(a.max(*b) as u64),
        },
    };
    let largest = range.max.unwrap_or(range.min);
    (largest >= 1).then_some(range)
}

/// Parses an amount of money such as "$5M", "2.5m", "1,200,000" or "1B" into units; `None` if
/// the text holds no number, or the amount is negative ("-$2M", even "-0") or above
/// [`MAX_AMOUNT`]. Zero is an amount: a company before its first sale.
pub fn money(raw: &str) -> Option<f64> {
    let text = raw.trim().to_lowercase();
    let amount = numbers_in(&text).first().copied()?;
    (!amount.is_sign_negative() && amount <= MAX_AMOUNT).then_some(amount)
}

/// Dashes as forms write them: hyphen, en dash, em dash and the minus sign.
const DASHES: &[char] = &['-', '\u{2013}', '\u{2014}', '\u{2212}'];
/// Signs that may stand between a minus and its digits ("-$2M").
const CURRENCY_SIGNS: &[char] = &['$', '\u{20ac}', '\u{a3}', '\u{a5}', '\u{20b9}'];

/// Numbers in a text, honouring thousands separators, k/m/b suffixes and minus signs. The first
/// dash after a number separates a range ("51-200" is 51 and 200); any other dash followed by
/// digits, with only spaces or currency signs between, is a minus sign ("-10-50" is -10 and 50,
/// "-$2M" is -2,000,000).
fn numbers_in(text: &str) -> Vec<f64> {
    let mut numbers = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut negative = false;
    let mut after_dash = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !c.is_ascii_digit() {
            if DASHES.contains(&c) {
                negative = numbers.is_empty() || after_dash;
                after_dash = true;
            } else if !c.is_whitespace() {
                // A currency sign keeps a pending minus ("-$2M"); a word drops it ("self-employed").
                after_dash = false;
                negative = negative && CURRENCY_SIGNS.contains(&c);
            }
            i += 1;
            continue;
        }
        let sign = if negative { -1.0 } else { 1.0 };
        negative = false;
        after_dash = false;
        let mut digits = String::new();
        while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == ',' || chars[i] == '.') {
            if chars[i] != ',' {
                digits.push(chars[i]);
            }
            i += 1;
        }
        let Ok(mut value) = digits.trim_end_matches('.').parse::<f64>() else {
            continue;
        };
        let suffix_at = chars[i..].iter().position(|c| !c.is_whitespace());
        if let Some(offset) = suffix_at {
            let after = chars.get(i + offset + 1);
            let is_word_end = after.is_none_or(|c| !c.is_alphabetic());
            let multiplier = match chars[i + offset] {
                'k' if is_word_end => 1e3,
                'm' if is_word_end || text[..].contains("mil") => 1e6,
                'b' if is_word_end || text[..].contains("bil") => 1e9,
                _ => 1.0,
            };
            value *= multiplier;
        }
        numbers.push(sign * value);
    }
    numbers
}

/// The registrable host of a website, lower-case, without scheme, `www.`, port or path.
pub fn website_domain(raw: &str) -> Option<String> {
    let text = raw.trim().to_lowercase();
    let without_scheme = text.split("://").last().unwrap_or(&text);
    let host = without_scheme
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('@')
        .next()
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("");
    let host = host
        .strip_prefix("www.")
        .unwrap_or(host)
        .trim_end_matches('.');
    let valid = host.contains('.')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    valid.then(|| host.to_string())
}

/// A phone number reduced to an optional leading `+` and its digits; `None` if it has fewer than
/// six digits (not a number anyone can call).
pub fn phone(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 || digits.len() > 20 {
        return None;
    }
    let plus = if trimmed.starts_with('+') { "+" } else { "" };
    Some(format!("{plus}{digits}"))
}

fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn free_mail_domains() -> &'static std::collections::HashSet<&'static str> {
    static DOMAINS: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    DOMAINS.get_or_init(|| {
        include_str!("../../data/free_mail_domains.txt")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    })
}

/// Whether an email domain belongs to a free-mail provider (gmail.com, outlook.com, ...).
pub fn is_free_mail(domain: &str) -> bool {
    free_mail_domains().contains(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_from_codes_and_common_names() {
        for (raw, code) in [
            ("US", "US"),
            ("usa", "US"),
            ("United States", "US"),
            ("United States of America", "US"),
            ("Deutschland", "DE"),
            ("germany", "DE"),
            ("DEU", "DE"),
            ("UK", "GB"),
            ("France", "FR"),
            (" ca ", "CA"),
        ] {
            assert_eq!(country(raw), Some(code), "{raw}");
        }
        assert_eq!(country("Narnia"), None);
    }

    #[test]
    fn us_and_canadian_regions_become_codes() {
        assert_eq!(region("California", Some("US")), "CA");
        assert_eq!(region("ny", Some("US")), "NY");
        assert_eq!(region("Ontario", Some("CA")), "ON");
        assert_eq!(region("Texas", None), "TX");
        assert_eq!(region("  Bavaria ", Some("DE")), "Bavaria");
    }

    #[test]
    fn postal_codes_by_country() {
        assert_eq!(postal_code(" 94107 ", Some("US")), "94107");
        assert_eq!(postal_code("94107 1234", Some("US")), "94107-1234");
        assert_eq!(postal_code("k1a0b1", Some("CA")), "K1A 0B1");
        assert_eq!(postal_code("sw1a1aa", Some("GB")), "SW1A 1AA");
        assert_eq!(postal_code("10115", Some("DE")), "10115");
    }

    #[test]
    fn company_sizes_and_ranges() {
        let r = |min, max| Some(EmployeeRange { min, max });
        assert_eq!(employees("120"), r(120, Some(120)));
        assert_eq!(employees("51-200"), r(51, Some(200)));
        assert_eq!(employees("51 – 200 employees"), r(51, Some(200)));
        assert_eq!(employees("1,000+"), r(1000, None));
        assert_eq!(employees("10k"), r(10_000, Some(10_000)));
        assert_eq!(employees("<50"), r(1, Some(49)));
        assert_eq!(employees("lots"), None);
    }

    #[test]
    fn negative_zero_and_absurd_company_sizes_are_not_sizes() {
        let r = |min, max| Some(EmployeeRange { min, max });
        for raw in [
            "-5",
            " -5 ",
            "- 5",
            "\u{2212}5",
            "0",
            "0-0",
            "-10-50",
            "10 - -5",
            "<1",
            "0+",
            "10,000,001",
            "20m",
        ] {
            assert_eq!(employees(raw), None, "{raw}");
        }
        assert_eq!(employees("1-10 employees"), r(1, Some(10)));
        assert_eq!(employees("0-10"), r(0, Some(10)));
        assert_eq!(employees("10k-50k"), r(10_000, Some(50_000)));
        assert_eq!(employees("Self-employed, 1"), r(1, Some(1)));
        assert_eq!(employees("10,000,000"), r(10_000_000, Some(10_000_000)));
    }

    #[test]
    fn money_with_suffixes() {
        assert_eq!(money("$5M"), Some(5e6));
        assert_eq!(money("2.5m"), Some(2.5e6));
        assert_eq!(money("1,200,000"), Some(1.2e6));
        assert_eq!(money("USD 1B"), Some(1e9));
        assert_eq!(money("n/a"), None);
    }

    #[test]
    fn negative_and_absurd_amounts_are_not_money() {
        for raw in [
            "-$2M",
            "$-2M",
            "-5",
            "USD -1B",
            "-0",
            "2,000,000,000,000,000",
        ] {
            assert_eq!(money(raw), None, "{raw}");
        }
        assert_eq!(money("0"), Some(0.0), "a company before its first sale");
        assert_eq!(money("$1M - $5M"), Some(1e6));
    }

    #[test]
    fn websites_reduce_to_domains() {
        assert_eq!(
            website_domain("https://www.BigBank.com/about?x=1"),
            Some("bigbank.com".into())
        );
        assert_eq!(website_domain("acme.io"), Some("acme.io".into()));
        assert_eq!(website_domain("not a site"), None);
    }

    #[test]
    fn phones_keep_digits() {
        assert_eq!(phone("+1 (415) 555-0100"), Some("+14155550100".into()));
        assert_eq!(phone("call me"), None);
    }

    #[test]
    fn free_mail_list() {
        assert!(is_free_mail("gmail.com"));
        assert!(!is_free_mail("acme.com"));
    }
}

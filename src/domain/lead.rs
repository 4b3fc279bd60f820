//! A lead as the router understands it: raw form or JSON fields parsed once into validated,
//! normalised values. Nothing here knows about HTTP or DynamoDB; the edge hands in name/value
//! pairs and gets back a `Lead` or the list of fields that were wrong.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::normalize::{self, EmployeeRange};

/// Longest value accepted for an ordinary field, in characters.
pub const MAX_FIELD_CHARS: usize = 500;
/// Longest free-text message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 5_000;
/// Most custom attributes one lead may carry.
pub const MAX_CUSTOM_FIELDS: usize = 50;
/// Longest field name accepted.
pub const MAX_NAME_CHARS: usize = 64;

/// A problem with one input field: the field's name and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field as the client named it (or the canonical name for missing fields).
    pub field: String,
    /// What was wrong, in words a form builder understands.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A normalised, syntactically valid email address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// The whole address, trimmed and lower-case.
    pub address: String,
    /// The part after the `@`.
    pub domain: String,
}

impl Email {
    /// Parses an address: trims, lower-cases and checks it against RFC 5322's addr-spec.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let address = raw.trim().to_lowercase();
        if address.len() > 254 {
            return Err("longer than 254 characters".into());
        }
        let parsed: email_address::EmailAddress = address
            .parse()
            .map_err(|_| format!("'{}' is not a valid email address", truncate(raw, 60)))?;
        let domain = parsed.domain().to_string();
        if !domain.contains('.') || domain.starts_with('[') {
            return Err(format!(
                "'{}' has no public domain after the @",
                truncate(raw, 60)
            ));
        }
        Ok(Self { address, domain })
    }

    /// The person behind the address, for recognising a returning contact: lower-case, the
    /// `+tag` dropped, and for Gmail the dots in the local part too (Gmail ignores them).
    pub fn contact_key(&self) -> String {
        let (local, domain) = self
            .address
            .rsplit_once('@')
            .unwrap_or((&self.address, &self.domain));
        let local = local.split('+').next().unwrap_or(local);
        match domain {
            "gmail.com" | "googlemail.com" => format!("{}@gmail.com", local.replace('.', "")),
            _ => format!("{local}@{domain}"),
        }
    }
}

/// The fields leadrouter knows by name. Anything else becomes a custom attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Email,
    Phone,
    FirstName,
    LastName,
    FullName,
    Company,
    Website,
    Employees,
    Revenue,
    Country,
    Region,
    PostalCode,
    City,
    Industry,
    Product,
    Source,
    Score,
    Title,
    Message,
    Consent,
    DoNotContact,
}

/// Maps the many spellings forms use onto a known field.
fn known_field(key: &str) -> Option<Known> {
    use Known::*;
    Some(match key {
        "email" | "work_email" | "email_address" | "business_email" | "e_mail" => Email,
        "phone" | "phone_number" | "mobile" | "telephone" | "tel" => Phone,
        "first_name" | "firstname" | "given_name" | "fname" => FirstName,
        "last_name" | "lastname" | "surname" | "family_name" | "lname" => LastName,
        "name" | "full_name" | "fullname" | "contact_name" => FullName,
        "company" | "company_name" | "organization" | "organisation" | "account_name" => Company,
        "website" | "company_website" | "url" | "web_site" => Website,
        "employees"
        | "employee_count"
        | "company_size"
        | "num_employees"
        | "number_of_employees"
        | "headcount"
        | "size" => Employees,
        "revenue" | "annual_revenue" | "company_revenue" => Revenue,
        "country" | "country_code" => Country,
        "state" | "region" | "province" | "state_code" | "state_province" => Region,
        "postal_code" | "zip" | "zip_code" | "zipcode" | "postcode" | "postalcode" => PostalCode,
        "city" | "town" => City,
        "industry" | "vertical" => Industry,
        "product" | "product_interest" | "interest" | "interested_in" => Product,
        "source" | "lead_source" => Source,
        "score" | "lead_score" => Score,
        "title" | "job_title" | "role" => Title,
        "message" | "comments" | "comment" | "notes" => Message,
        "consent" | "marketing_consent" | "gdpr_consent" | "opt_in" => Consent,
        "do_not_contact" | "dnc" | "do_not_call" | "opt_out" => DoNotContact,
        _ => return None,
    })
}

/// Field names the edge consumes itself; they never become lead attributes.
pub const RESERVED_FIELDS: &[&str] = &["source_key", "_redirect", "redirect", "redirect_url"];

/// A lead after parsing: every value normalised, every known field in its own slot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    /// Contact email, if given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<Email>,
    /// Contact phone as `+digits`, if given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub phone: Option<String>,
    /// Given name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_name: Option<String>,
    /// Company name as written.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub company: Option<String>,
    /// Company website reduced to its domain.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub website: Option<String>,
    /// Company size.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub employees: Option<EmployeeRange>,
    /// Annual revenue in the currency's units.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub revenue: Option<f64>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub country: Option<String>,
    /// Region; a two-letter code for the US and Canada.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub region: Option<String>,
    /// Postal code in its country's canonical spelling.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub postal_code: Option<String>,
    /// City as written.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub city: Option<String>,
    /// Industry as written.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub industry: Option<String>,
    /// Product the lead asked about.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub product: Option<String>,
    /// Lead source (web, chat, demo request, ...).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    /// A score computed upstream, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub score: Option<f64>,
    /// Job title.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub title: Option<String>,
    /// Free-text message from the form.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    /// `utm_*` campaign fields, keyed without the prefix.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub utm: BTreeMap<String, String>,
    /// Fields leadrouter does not know by name, kept for rules to test.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub custom: BTreeMap<String, String>,
    /// Whether the person consented to be contacted (as the form says).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub consent: Option<bool>,
    /// The person asked not to be contacted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub do_not_contact: Option<bool>,
    /// The account the lead belongs to, found by intake (never taken from the input).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub account: Option<super::facts::AccountMatch>,
    /// What qualification found, set by intake (never taken from the input).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub qualification: Option<super::facts::Qualification>,
    /// Values that were present but could not be understood (kept out of routing).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub warnings: Vec<FieldError>,
}

impl Lead {
    /// Parses name/value pairs from a form or a flattened JSON object. Rejects a lead only for
    /// what makes it unusable: no way to contact the person, an invalid email, oversized or
    /// too many fields. Unparseable optional values become warnings, never rejections.
    pub fn parse<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Lead, Vec<FieldError>> {
        let mut lead = Lead::default();
        let mut errors = Vec::new();
        let mut full_name = None;
        let mut raw_country = None;
        let mut raw_region = None;
        let mut raw_postal = None;
        for (raw_key, raw_value) in fields {
            let key = canonical_key(raw_key);
            if RESERVED_FIELDS.contains(&key.as_str()) {
                continue;
            }
            if raw_key.chars().count() > MAX_NAME_CHARS {
                errors.push(FieldError::new(
                    truncate(raw_key, MAX_NAME_CHARS),
                    format!("field names are limited to {MAX_NAME_CHARS} characters"),
                ));
                continue;
            }
            let limit = if known_field(&key) == Some(Known::Message) {
                MAX_MESSAGE_CHARS
            } else {
                MAX_FIELD_CHARS
            };
            if raw_value.chars().count() > limit {
                errors.push(FieldError::new(
                    raw_key,
                    format!("longer than {limit} characters"),
                ));
                continue;
            }
            let value = raw_value.trim();
            if value.is_empty() {
                continue;
            }
            let text = || Some(collapse(value));
            match known_field(&key) {
                Some(Known::Email) => match Email::parse(value) {
                    Ok(email) => lead.email = Some(email),
                    Err(message) => errors.push(FieldError::new(raw_key, message)),
                },
                Some(Known::Phone) => match normalize::phone(value) {
                    Some(phone) => lead.phone = Some(phone),
                    None => lead.warn(raw_key, "not a phone number"),
                },
                Some(Known::FirstName) => lead.first_name = text(),
                Some(Known::LastName) => lead.last_name = text(),
                Some(Known::FullName) => full_name = text(),
                Some(Known::Company) => lead.company = text(),
                Some(Known::Website) => match normalize::website_domain(value) {
                    Some(domain) => lead.website = Some(domain),
                    None => lead.warn(raw_key, "not a website"),
                },
                Some(Known::Employees) => match normalize::employees(value) {
                    Some(range) => lead.employees = Some(range),
                    None => lead.warn(
                        raw_key,
                        format!(
                            "expected a headcount like 120 or a range like 51-200, \
                             not negative, zero or over {}",
                            normalize::MAX_EMPLOYEES
                        ),
                    ),
                },
                Some(Known::Revenue) => match normalize::money(value) {
                    Some(amount) => lead.revenue = Some(amount),
                    None => lead.warn(
                        raw_key,
                        format!(
                            "expected an amount like $5M, not negative or over {}",
                            normalize::MAX_AMOUNT
                        ),
                    ),
                },
                Some(Known::Score) => match value.parse::<f64>() {
                    Ok(score) if score.is_finite() => lead.score = Some(score),
                    _ => lead.warn(raw_key, "expected a number"),
                },
                Some(Known::Country) => raw_country = Some((raw_key, value)),
                Some(Known::Region) => raw_region = Some(value),
                Some(Known::PostalCode) => raw_postal = Some(value),
                Some(Known::City) => lead.city = text(),
                Some(Known::Industry) => lead.industry = text(),
                Some(Known::Product) => lead.product = text(),
                Some(Known::Source) => lead.source = text(),
                Some(Known::Title) => lead.title = text(),
                Some(Known::Message) => lead.message = Some(value.to_string()),
                Some(Known::Consent) => match flag(value) {
                    Some(yes) => lead.consent = Some(yes),
                    None => lead.warn(raw_key, "expected yes or no"),
                },
                Some(Known::DoNotContact) => match flag(value) {
                    Some(yes) => lead.do_not_contact = Some(yes),
                    None => lead.warn(raw_key, "expected yes or no"),
                },
                None => {
                    if let Some(utm) = key.strip_prefix("utm_") {
                        lead.utm.insert(utm.to_string(), value.to_string());
                    } else if lead.custom.len() >= MAX_CUSTOM_FIELDS {
                        errors.push(FieldError::new(
                            raw_key,
                            format!("more than {MAX_CUSTOM_FIELDS} custom fields"),
                        ));
                    } else {
                        lead.custom.insert(key, value.to_string());
                    }
                }
            }
        }
        if let Some((raw_key, value)) = raw_country {
            match normalize::country(value) {
                Some(code) => lead.country = Some(code.to_string()),
                None => lead.warn(
                    raw_key,
                    format!("unknown country '{}'", truncate(value, 40)),
                ),
            }
        }
        let country = lead.country.as_deref();
        lead.region = raw_region.map(|r| normalize::region(r, country));
        lead.postal_code = raw_postal.map(|p| normalize::postal_code(p, country));
        if let Some(name) = full_name {
            lead.fill_names(&name);
        }
        if lead.email.is_none() && lead.phone.is_none() && errors.is_empty() {
            errors.push(FieldError::new(
                "email",
                "a lead needs an email address or a phone number",
            ));
        }
        if errors.is_empty() {
            Ok(lead)
        } else {
            Err(errors)
        }
    }

    fn warn(&mut self, field: &str, message: impl Into<String>) {
        self.warnings.push(FieldError::new(field, message));
    }

    fn fill_names(&mut self, full: &str) {
        let (first, last) = match full.rsplit_once(' ') {
            Some((first, last)) => (first.to_string(), Some(last.to_string())),
            None => (full.to_string(), None),
        };
        if self.first_name.is_none() {
            self.first_name = Some(first);
        }
        if self.last_name.is_none() {
            self.last_name = last;
        }
    }

    /// Whether the email is at a free-mail provider.
    pub fn is_free_mail(&self) -> bool {
        match &self.qualification {
            Some(q) => q.free_mail,
            None => self
                .email
                .as_ref()
                .is_some_and(|e| normalize::is_free_mail(&e.domain)),
        }
    }

    /// A short label for logs and messages that names no person: company or email domain.
    pub fn label(&self) -> String {
        self.company
            .clone()
            .or_else(|| self.email.as_ref().map(|e| format!("@{}", e.domain)))
            .unwrap_or_else(|| "a lead".to_string())
    }
}

/// A form's yes/no: checkboxes send "on", APIs send true or 1.
fn flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "on" | "checked" => Some(true),
        "no" | "n" | "false" | "0" | "off" => Some(false),
        _ => None,
    }
}

/// Field names compared without case, dashes or spaces: "Work-Email" and "work_email" match.
pub fn canonical_key(raw: &str) -> String {
    raw.trim()
        .to_lowercase()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect()
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Lead, Vec<FieldError>> {
        Lead::parse(pairs.iter().copied())
    }

    #[test]
    fn maps_common_field_names_and_normalises() {
        let lead = parse(&[
            ("Work-Email", "  Jane.Doe@Acme.COM "),
            ("Full Name", "Jane van Doe"),
            ("Company Size", "51-200"),
            ("Country", "Deutschland"),
            ("zip", "10115"),
            ("utm_source", "google"),
            ("favourite_colour", "green"),
        ])
        .unwrap();
        let email = lead.email.unwrap();
        assert_eq!(email.address, "jane.doe@acme.com");
        assert_eq!(email.domain, "acme.com");
        assert_eq!(lead.first_name.as_deref(), Some("Jane van"));
        assert_eq!(lead.last_name.as_deref(), Some("Doe"));
        assert_eq!(lead.employees.unwrap().min, 51);
        assert_eq!(lead.country.as_deref(), Some("DE"));
        assert_eq!(lead.postal_code.as_deref(), Some("10115"));
        assert_eq!(lead.utm["source"], "google");
        assert_eq!(lead.custom["favourite_colour"], "green");
    }

    #[test]
    fn a_lead_needs_a_way_to_contact_the_person() {
        let errors = parse(&[("company", "Acme")]).unwrap_err();
        assert_eq!(errors[0].field, "email");
        assert!(parse(&[("phone", "+44 20 7946 0958")]).is_ok());
    }

    #[test]
    fn invalid_email_names_the_field() {
        let errors = parse(&[("work_email", "not-an-email")]).unwrap_err();
        assert_eq!(errors[0].field, "work_email");
    }

    #[test]
    fn oversized_values_are_rejected() {
        let long = "x".repeat(MAX_FIELD_CHARS + 1);
        let errors = parse(&[("email", "a@b.com"), ("company", &long)]).unwrap_err();
        assert_eq!(errors[0].field, "company");
    }

    #[test]
    fn unparseable_optional_values_become_warnings() {
        let lead = parse(&[
            ("email", "a@b.com"),
            ("employees", "lots"),
            ("country", "Narnia"),
        ])
        .unwrap();
        assert_eq!(lead.employees, None);
        assert_eq!(lead.country, None);
        assert_eq!(lead.warnings.len(), 2);
    }

    #[test]
    fn negative_or_meaningless_sizes_and_revenues_become_warnings() {
        let lead = parse(&[
            ("email", "a@b.com"),
            ("employees", "-5"),
            ("revenue", "-$2M"),
        ])
        .unwrap();
        assert_eq!(lead.employees, None);
        assert_eq!(lead.revenue, None);
        let fields: Vec<&str> = lead.warnings.iter().map(|w| w.field.as_str()).collect();
        assert_eq!(fields, ["employees", "revenue"]);

        for size in ["0", "0-0", "-10-50", "20000000"] {
            let lead = parse(&[("email", "a@b.com"), ("employees", size)]).unwrap();
            assert_eq!(lead.employees, None, "{size}");
            assert_eq!(lead.warnings.len(), 1, "{size}");
        }
        let lead = parse(&[
            ("email", "a@b.com"),
            ("employees", "51-200"),
            ("revenue", "$5M"),
        ])
        .unwrap();
        assert_eq!(lead.employees.unwrap().max, Some(200));
        assert_eq!(lead.revenue, Some(5e6));
        assert!(lead.warnings.is_empty());
    }

    #[test]
    fn reserved_fields_are_not_attributes() {
        let lead = parse(&[
            ("email", "a@b.com"),
            ("source_key", "k"),
            ("_redirect", "x"),
        ])
        .unwrap();
        assert!(lead.custom.is_empty());
    }

    proptest::proptest! {
        /// Whatever a form sends, parsing answers Ok or a list of field errors; it never panics.
        #[test]
        fn parsing_never_panics(fields in proptest::collection::vec(("[a-zA-Z_ -]{0,12}", "\\PC{0,40}"), 0..12)) {
            let _ = Lead::parse(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }

        /// Known fields with arbitrary text never panic the normalisers.
        #[test]
        fn normalisers_never_panic(value in "\\PC{0,30}") {
            let known = ["email", "phone", "employees", "revenue", "country", "state", "zip", "website", "score"];
            for key in known {
                let _ = Lead::parse([(key, value.as_str()), ("country", "US")]);
                let _ = Lead::parse([(key, value.as_str()), ("country", "CA")]);
            }
        }
    }
}

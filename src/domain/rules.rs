//! Rule conditions: how they are written in the routing config, compiled (with the path of any
//! mistake), and evaluated against a lead with a record of which tests made them match.
//! Evaluation is pure and allocation-light; it never touches storage.

use std::borrow::Cow;

use serde_json::Value as Json;

use super::lead::Lead;

/// A mistake in the routing config, with the path to it (`rules[3].when.employees`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// Where in the document the mistake is.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl ConfigError {
    /// A mistake at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A lead field a rule can test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A text field of the lead (email, country, industry, ...).
    Text(TextField),
    /// A numeric field (employees, revenue, score).
    Number(NumberField),
    /// A yes/no fact: free-mail, disposable, role address, consent, do-not-contact, whether the
    /// lead matched an account.
    Flag(FlagField),
    /// A `utm_*` campaign field.
    Utm(String),
    /// A custom attribute, written `custom.<name>` in the config.
    Custom(String),
}

/// Text fields known by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum TextField {
    Email,
    EmailDomain,
    Phone,
    FirstName,
    LastName,
    Company,
    Website,
    Country,
    Region,
    PostalCode,
    City,
    Industry,
    Product,
    Source,
    Title,
    AccountId,
    AccountName,
    AccountOwner,
    AccountTier,
    AccountList,
    AccountDomain,
}

/// Yes/no facts known by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum FlagField {
    FreeMail,
    Disposable,
    RoleAddress,
    Consent,
    DoNotContact,
    AccountExists,
    AccountNamed,
}

/// Numeric fields known by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberField {
    /// Lower bound of the company size.
    Employees,
    /// Upper bound of the company size (absent for open ranges like "1000+").
    EmployeesMax,
    /// Annual revenue.
    Revenue,
    /// Upstream lead score.
    Score,
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        use TextField::*;
        if let Some(custom) = name.strip_prefix("custom.") {
            return Some(Field::Custom(custom.to_string()));
        }
        if let Some(utm) = name.strip_prefix("utm_") {
            return Some(Field::Utm(utm.to_string()));
        }
        Some(match name {
            "email" => Field::Text(Email),
            "email_domain" => Field::Text(EmailDomain),
            "phone" => Field::Text(Phone),
            "first_name" => Field::Text(FirstName),
            "last_name" => Field::Text(LastName),
            "company" => Field::Text(Company),
            "website" => Field::Text(Website),
            "country" => Field::Text(Country),
            "region" => Field::Text(Region),
            "postal_code" => Field::Text(PostalCode),
            "city" => Field::Text(City),
            "industry" => Field::Text(Industry),
            "product" => Field::Text(Product),
            "source" => Field::Text(Source),
            "title" => Field::Text(Title),
            "employees" => Field::Number(NumberField::Employees),
            "employees_max" => Field::Number(NumberField::EmployeesMax),
            "revenue" => Field::Number(NumberField::Revenue),
            "score" => Field::Number(NumberField::Score),
            "free_mail" => Field::Flag(FlagField::FreeMail),
            "disposable" => Field::Flag(FlagField::Disposable),
            "role_address" => Field::Flag(FlagField::RoleAddress),
            "consent" => Field::Flag(FlagField::Consent),
            "do_not_contact" => Field::Flag(FlagField::DoNotContact),
            "account.exists" => Field::Flag(FlagField::AccountExists),
            "account.named" => Field::Flag(FlagField::AccountNamed),
            "account.id" => Field::Text(AccountId),
            "account.name" => Field::Text(AccountName),
            "account.owner" => Field::Text(AccountOwner),
            "account.tier" => Field::Text(AccountTier),
            "account.list" => Field::Text(AccountList),
            "account.domain" => Field::Text(AccountDomain),
            _ => return None,
        })
    }

    /// The field's value on a lead, if present.
    fn value<'l>(&self, lead: &'l Lead) -> Option<Value<'l>> {
        let text = |s: &'l Option<String>| s.as_deref().map(|s| Value::Text(Cow::Borrowed(s)));
        let borrowed = |s: &'l str| Value::Text(Cow::Borrowed(s));
        match self {
            Field::Text(t) => match t {
                TextField::Email => lead
                    .email
                    .as_ref()
                    .map(|e| Value::Text(Cow::Borrowed(&e.address))),
                TextField::EmailDomain => lead
                    .email
                    .as_ref()
                    .map(|e| Value::Text(Cow::Borrowed(&e.domain))),
                TextField::Phone => text(&lead.phone),
                TextField::FirstName => text(&lead.first_name),
                TextField::LastName => text(&lead.last_name),
                TextField::Company => text(&lead.company),
                TextField::Website => text(&lead.website),
                TextField::Country => text(&lead.country),
                TextField::Region => text(&lead.region),
                TextField::PostalCode => text(&lead.postal_code),
                TextField::City => text(&lead.city),
                TextField::Industry => text(&lead.industry),
                TextField::Product => text(&lead.product),
                TextField::Source => text(&lead.source),
                TextField::Title => text(&lead.title),
                TextField::AccountId => lead.account.as_ref().map(|a| borrowed(&a.account.id)),
                TextField::AccountName => lead.account.as_ref().map(|a| borrowed(&a.account.name)),
                TextField::AccountOwner => lead
                    .account
                    .as_ref()
                    .and_then(|a| a.account.owner.as_deref())
                    .map(borrowed),
                TextField::AccountTier => lead
                    .account
                    .as_ref()
                    .and_then(|a| a.account.tier.as_deref())
                    .map(borrowed),
                TextField::AccountList => lead
                    .account
                    .as_ref()
                    .and_then(|a| a.account.list.as_deref())
                    .map(borrowed),
                TextField::AccountDomain => lead.account.as_ref().map(|a| borrowed(&a.domain)),
            },
            Field::Number(n) => match n {
                NumberField::Employees => lead.employees.map(|e| e.min as f64),
                NumberField::EmployeesMax => lead.employees.and_then(|e| e.max).map(|m| m as f64),
                NumberField::Revenue => lead.revenue,
                // The qualified score (points included) once intake has computed it.
                NumberField::Score => lead.qualification.as_ref().map(|q| q.score).or(lead.score),
            }
            .map(Value::Number),
            Field::Flag(flag) => {
                let q = lead.qualification.as_ref();
                match flag {
                    FlagField::FreeMail => lead.email.as_ref().map(|_| lead.is_free_mail()),
                    FlagField::Disposable => q.map(|q| q.disposable),
                    FlagField::RoleAddress => q.map(|q| q.role_address),
                    FlagField::Consent => lead.consent,
                    FlagField::DoNotContact => Some(lead.do_not_contact.unwrap_or(false)),
                    FlagField::AccountExists => Some(lead.account.is_some()),
                    FlagField::AccountNamed => Some(
                        lead.account
                            .as_ref()
                            .is_some_and(|a| a.account.list.is_some()),
                    ),
                }
                .map(Value::Bool)
            }
            Field::Utm(key) => lead
                .utm
                .get(key)
                .map(|v| Value::Text(Cow::Borrowed(v.as_str()))),
            Field::Custom(key) => lead
                .custom
                .get(key)
                .map(|v| Value::Text(Cow::Borrowed(v.as_str()))),
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Field::Number(_))
    }
}

/// A field's value as a rule sees it.
#[derive(Debug, Clone, PartialEq)]
enum Value<'l> {
    Text(Cow<'l, str>),
    Number(f64),
    Bool(bool),
}

impl Value<'_> {
    fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(t) => t.trim().parse().ok(),
            Value::Bool(_) => None,
        }
    }

    fn display(&self) -> String {
        match self {
            Value::Text(t) => t.to_string(),
            Value::Number(n) => format_number(*n),
            Value::Bool(b) => b.to_string(),
        }
    }
}

/// A constant a test compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// Compared case-insensitively.
    Text(String),
    /// Compared numerically.
    Number(f64),
    /// Compared with boolean fields.
    Bool(bool),
}

/// One test of one field.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// Equal to a value (case-insensitive for text).
    Equals(Operand),
    /// Not equal to a value.
    NotEquals(Operand),
    /// One of a list.
    In(Vec<Operand>),
    /// None of a list.
    NotIn(Vec<Operand>),
    /// Contains a substring.
    Contains(String),
    /// Starts with one of several prefixes.
    StartsWith(Vec<String>),
    /// Ends with one of several suffixes (e.g. `.edu`).
    EndsWith(Vec<String>),
    /// Greater than.
    Gt(f64),
    /// Greater than or equal.
    Gte(f64),
    /// Less than.
    Lt(f64),
    /// Less than or equal.
    Lte(f64),
    /// Within an inclusive range.
    Between(f64, f64),
    /// Postal code starts with one of several prefixes (spaces ignored).
    PostalPrefix(Vec<String>),
    /// Postal code within an inclusive range; numeric when both ends are digits.
    PostalRange(String, String),
    /// The field is present (`true`) or absent (`false`).
    Exists(bool),
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Always true: the catch-all.
    Always,
    /// Every part must match.
    All(Vec<Condition>),
    /// At least one part must match.
    Any(Vec<Condition>),
    /// The part must not match.
    Not(Box<Condition>),
    /// A test of one field.
    Check {
        /// The field's name as written in the config.
        name: String,
        /// The field.
        field: Field,
        /// The test.
        test: Test,
    },
}

impl Condition {
    /// Compiles a condition written as a map: keys `all`, `any`, `not` combine; any other key
    /// names a field whose value is a shorthand equality or a map of operators. Several keys in
    /// one map must all match.
    pub fn compile(json: &Json, path: &str, errors: &mut Vec<ConfigError>) -> Condition {
        let Json::Object(map) = json else {
            if json.as_str() == Some("always") || json.as_bool() == Some(true) {
                return Condition::Always;
            }
            errors.push(ConfigError::new(
                path,
                "expected a map of conditions (or `always`)",
            ));
            return Condition::Always;
        };
        if map.is_empty() {
            errors.push(ConfigError::new(path, "empty condition"));
        }
        let mut parts: Vec<Condition> = map
            .iter()
            .map(|(key, value)| {
                let here = format!("{path}.{key}");
                match key.as_str() {
                    "all" | "any" => {
                        let Some(items) = value.as_array().filter(|a| !a.is_empty()) else {
                            errors.push(ConfigError::new(here, "expected a non-empty list"));
                            return Condition::Always;
                        };
                        let parts = items
                            .iter()
                            .enumerate()
                            .map(|(i, item)| {
                                Condition::compile(item, &format!("{here}[{i}]"), errors)
                            })
                            .collect();
                        if key == "all" {
                            Condition::All(parts)
                        } else {
                            Condition::Any(parts)
                        }
                    }
                    "not" => Condition::Not(Box::new(Condition::compile(value, &here, errors))),
                    name => compile_check(name, value, &here, errors),
                }
            })
            .collect();
        if parts.len() == 1 {
            parts.pop().unwrap_or(Condition::Always)
        } else {
            Condition::All(parts)
        }
    }

    /// Evaluates the condition; on a match returns the tests that made it match, in words.
    pub fn matches(&self, lead: &Lead) -> Option<Vec<String>> {
        match self {
            Condition::Always => Some(Vec::new()),
            Condition::All(parts) => {
                let mut reasons = Vec::new();
                for part in parts {
                    reasons.extend(part.matches(lead)?);
                }
                Some(reasons)
            }
            Condition::Any(parts) => parts.iter().find_map(|p| p.matches(lead)),
            Condition::Not(inner) => match inner.matches(lead) {
                Some(_) => None,
                None => Some(vec![format!("not ({})", inner.describe())]),
            },
            Condition::Check { name, field, test } => {
                let value = field.value(lead);
                run_test(test, value.as_ref()).then(|| {
                    vec![match &value {
                        Some(v) => format!("{name} {} (was {})", describe_test(test), v.display()),
                        None => format!("{name} {}", describe_test(test)),
                    }]
                })
            }
        }
    }

    /// The condition in words, for explanations.
    pub fn describe(&self) -> String {
        match self {
            Condition::Always => "always".into(),
            Condition::All(parts) => join(parts, " and "),
            Condition::Any(parts) => join(parts, " or "),
            Condition::Not(inner) => format!("not ({})", inner.describe()),
            Condition::Check { name, test, .. } => format!("{name} {}", describe_test(test)),
        }
    }
}

fn join(parts: &[Condition], sep: &str) -> String {
    parts
        .iter()
        .map(Condition::describe)
        .collect::<Vec<_>>()
        .join(sep)
}

fn compile_check(name: &str, value: &Json, path: &str, errors: &mut Vec<ConfigError>) -> Condition {
    let Some(field) = Field::parse(name) else {
        errors.push(ConfigError::new(
            path,
            format!(
                "unknown field '{name}' (custom attributes are written custom.<name>; see the README for the field list)"
            ),
        ));
        return Condition::Always;
    };
    let test = match value {
        Json::Object(ops) if ops.len() == 1 => {
            let (op, operand) = ops.iter().next().expect("one entry");
            compile_test(&field, op, operand, &format!("{path}.{op}"), errors)
        }
        Json::Object(ops) if ops.is_empty() => {
            errors.push(ConfigError::new(path, "expected one operator"));
            None
        }
        Json::Object(ops) => {
            // Several operators on one field, e.g. {gte: 50, lt: 500}: all must hold.
            let checks = ops
                .iter()
                .filter_map(|(op, operand)| {
                    compile_test(&field, op, operand, &format!("{path}.{op}"), errors).map(|test| {
                        Condition::Check {
                            name: name.to_string(),
                            field: field.clone(),
                            test,
                        }
                    })
                })
                .collect();
            return Condition::All(checks);
        }
        Json::Array(_) => compile_test(&field, "in", value, path, errors),
        scalar => compile_test(&field, "equals", scalar, path, errors),
    };
    match test {
        Some(test) => Condition::Check {
            name: name.to_string(),
            field,
            test,
        },
        None => Condition::Always,
    }
}

fn compile_test(
    field: &Field,
    op: &str,
    operand: &Json,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Test> {
    let mut fail = |message: &str| {
        errors.push(ConfigError::new(path, message));
        None
    };
    let scalar = |json: &Json| -> Option<Operand> {
        match (field, json) {
            (Field::Number(_), Json::Number(n)) => n.as_f64().map(Operand::Number),
            (Field::Number(_), _) => None,
            (Field::Flag(_), Json::Bool(b)) => Some(Operand::Bool(*b)),
            (Field::Flag(_), _) => None,
            (_, Json::String(s)) => Some(Operand::Text(s.clone())),
            (_, Json::Number(n)) => Some(Operand::Text(n.to_string())),
            (_, Json::Bool(b)) => Some(Operand::Text(b.to_string())),
            _ => None,
        }
    };
    let expected_scalar = match field {
        Field::Number(_) => "expected a number",
        Field::Flag(_) => "expected true or false",
        _ => "expected a text value",
    };
    let number = |json: &Json| json.as_f64();
    let strings = |json: &Json| -> Option<Vec<String>> {
        match json {
            Json::String(s) => Some(vec![s.to_lowercase()]),
            Json::Array(items) if !items.is_empty() => items
                .iter()
                .map(|i| match i {
                    Json::String(s) => Some(s.to_lowercase()),
                    Json::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    };
    let text_only = matches!(field, Field::Text(_) | Field::Utm(_) | Field::Custom(_));
    let numeric_ok = field.is_numeric() || matches!(field, Field::Custom(_));
    match op {
        "equals" | "eq" | "not_equals" | "ne" => match scalar(operand) {
            Some(v) if op.starts_with('e') => Some(Test::Equals(v)),
            Some(v) => Some(Test::NotEquals(v)),
            None => fail(expected_scalar),
        },
        "in" | "not_in" => {
            let list: Option<Vec<Operand>> = operand
                .as_array()
                .filter(|a| !a.is_empty())
                .and_then(|items| items.iter().map(scalar).collect());
            match list {
                Some(list) if op == "in" => Some(Test::In(list)),
                Some(list) => Some(Test::NotIn(list)),
                None => fail(&format!("expected a non-empty list ({expected_scalar})")),
            }
        }
        "contains" if text_only => match operand.as_str() {
            Some(s) => Some(Test::Contains(s.to_lowercase())),
            None => fail("expected a text value"),
        },
        "starts_with" | "ends_with" if text_only => match strings(operand) {
            Some(list) if op == "starts_with" => Some(Test::StartsWith(list)),
            Some(list) => Some(Test::EndsWith(list)),
            None => fail("expected a text value or a list of them"),
        },
        "gt" | "gte" | "lt" | "lte" if numeric_ok => match number(operand) {
            Some(n) => Some(match op {
                "gt" => Test::Gt(n),
                "gte" => Test::Gte(n),
                "lt" => Test::Lt(n),
                _ => Test::Lte(n),
            }),
            None => fail("expected a number"),
        },
        "between" if numeric_ok => match operand.as_array().map(|a| a.as_slice()) {
            Some([lo, hi]) => match (number(lo), number(hi)) {
                (Some(lo), Some(hi)) if lo <= hi => Some(Test::Between(lo, hi)),
                (Some(_), Some(_)) => fail("the range's first number must not exceed the second"),
                _ => fail("expected a number"),
            },
            _ => fail("expected a list of two numbers [from, to]"),
        },
        "postal_prefix" if text_only => match strings(operand) {
            Some(list) => Some(Test::PostalPrefix(
                list.into_iter().map(|p| p.replace(' ', "")).collect(),
            )),
            None => fail("expected a prefix or a list of prefixes"),
        },
        "postal_range" if text_only => match operand.as_array().map(|a| a.as_slice()) {
            Some([Json::String(lo), Json::String(hi)]) => Some(Test::PostalRange(
                lo.replace(' ', "").to_lowercase(),
                hi.replace(' ', "").to_lowercase(),
            )),
            _ => fail("expected a list of two postal codes [\"from\", \"to\"] as strings"),
        },
        "exists" | "missing" => match operand.as_bool() {
            Some(b) => Some(Test::Exists(if op == "exists" { b } else { !b })),
            None => fail("expected true or false"),
        },
        "contains" | "starts_with" | "ends_with" | "postal_prefix" | "postal_range" => {
            fail(&format!("operator '{op}' needs a text field"))
        }
        "gt" | "gte" | "lt" | "lte" | "between" => {
            fail(&format!("operator '{op}' needs a numeric field"))
        }
        other => fail(&format!(
            "unknown operator '{other}' (expected one of equals, not_equals, in, not_in, contains, starts_with, ends_with, gt, gte, lt, lte, between, postal_prefix, postal_range, exists, missing)"
        )),
    }
}

fn run_test(test: &Test, value: Option<&Value<'_>>) -> bool {
    let Some(value) = value else {
        return matches!(test, Test::Exists(false));
    };
    let text = || match value {
        Value::Text(t) => t.to_lowercase(),
        other => other.display().to_lowercase(),
    };
    let equal = |operand: &Operand| match (operand, value) {
        (Operand::Number(n), v) => v.as_number() == Some(*n),
        (Operand::Bool(b), Value::Bool(v)) => b == v,
        (Operand::Bool(_), _) => false,
        (Operand::Text(t), Value::Text(v)) => {
            v.eq_ignore_ascii_case(t) || v.to_lowercase() == t.to_lowercase()
        }
        (Operand::Text(t), v) => v.display().eq_ignore_ascii_case(t),
    };
    let number = || value.as_number();
    match test {
        Test::Exists(present) => *present,
        Test::Equals(operand) => equal(operand),
        Test::NotEquals(operand) => !equal(operand),
        Test::In(list) => list.iter().any(equal),
        Test::NotIn(list) => !list.iter().any(equal),
        Test::Contains(needle) => text().contains(needle.as_str()),
        Test::StartsWith(prefixes) => {
            let t = text();
            prefixes.iter().any(|p| t.starts_with(p.as_str()))
        }
        Test::EndsWith(suffixes) => {
            let t = text();
            suffixes.iter().any(|s| t.ends_with(s.as_str()))
        }
        Test::Gt(n) => number().is_some_and(|v| v > *n),
        Test::Gte(n) => number().is_some_and(|v| v >= *n),
        Test::Lt(n) => number().is_some_and(|v| v < *n),
        Test::Lte(n) => number().is_some_and(|v| v <= *n),
        Test::Between(lo, hi) => number().is_some_and(|v| v >= *lo && v <= *hi),
        Test::PostalPrefix(prefixes) => {
            let code = text().replace(' ', "");
            prefixes.iter().any(|p| code.starts_with(p.as_str()))
        }
        Test::PostalRange(lo, hi) => {
            let code = text().replace(' ', "");
            postal_in_range(&code, lo, hi)
        }
    }
}

/// Numeric comparison when the range ends are all digits (ZIP codes: compares the code's first
/// digits at the ends' length, so `94107-1234` is within `94000..94199`); text order otherwise.
fn postal_in_range(code: &str, lo: &str, hi: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if digits(lo) && digits(hi) && lo.len() == hi.len() {
        let head: String = code.chars().take(lo.len()).collect();
        if !digits(&head) || head.len() < lo.len() {
            return false;
        }
        return lo <= head.as_str() && head.as_str() <= hi;
    }
    let head: String = code.chars().take(hi.len().max(lo.len())).collect();
    lo <= head.as_str() && head.as_str() <= hi
}

fn describe_test(test: &Test) -> String {
    let operand = |o: &Operand| match o {
        Operand::Text(t) => t.clone(),
        Operand::Number(n) => format_number(*n),
        Operand::Bool(b) => b.to_string(),
    };
    let list = |items: &[Operand]| items.iter().map(operand).collect::<Vec<_>>().join(", ");
    match test {
        Test::Equals(o) => format!("= {}", operand(o)),
        Test::NotEquals(o) => format!("≠ {}", operand(o)),
        Test::In(items) => format!("in [{}]", list(items)),
        Test::NotIn(items) => format!("not in [{}]", list(items)),
        Test::Contains(s) => format!("contains '{s}'"),
        Test::StartsWith(p) => format!("starts with {}", p.join(" or ")),
        Test::EndsWith(s) => format!("ends with {}", s.join(" or ")),
        Test::Gt(n) => format!("> {}", format_number(*n)),
        Test::Gte(n) => format!("≥ {}", format_number(*n)),
        Test::Lt(n) => format!("< {}", format_number(*n)),
        Test::Lte(n) => format!("≤ {}", format_number(*n)),
        Test::Between(lo, hi) => {
            format!("between {} and {}", format_number(*lo), format_number(*hi))
        }
        Test::PostalPrefix(p) => format!("postal code starts with {}", p.join(" or ")),
        Test::PostalRange(lo, hi) => format!("postal code in {lo}..{hi}"),
        Test::Exists(true) => "is present".into(),
        Test::Exists(false) => "is missing".into(),
    }
}

fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lead(pairs: &[(&str, &str)]) -> Lead {
        Lead::parse(pairs.iter().copied()).unwrap()
    }

    fn compile(json: Json) -> Result<Condition, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let c = Condition::compile(&json, "when", &mut errors);
        if errors.is_empty() {
            Ok(c)
        } else {
            Err(errors)
        }
    }

    #[test]
    fn rules_test_the_matched_account_qualification_and_consent() {
        use crate::domain::account::{Account, AccountMatch};
        use crate::domain::qualify::Qualification;
        let mut l = lead(&[("email", "jane@eu.bigbank.com"), ("do_not_contact", "yes")]);
        let enterprise =
            compile(json!({"account.tier": "enterprise", "account.exists": true})).unwrap();
        assert!(enterprise.matches(&l).is_none(), "no account yet");
        assert!(compile(json!({"account.exists": false}))
            .unwrap()
            .matches(&l)
            .is_some());
        l.account = Some(AccountMatch {
            account: Account {
                id: "bb".into(),
                name: "BigBank".into(),
                domains: vec!["bigbank.com".into()],
                owner: Some("erin".into()),
                tier: Some("enterprise".into()),
                list: Some("named-2027".into()),
            },
            via: "eu.bigbank.com".into(),
            domain: "bigbank.com".into(),
        });
        let reasons = enterprise.matches(&l).unwrap();
        assert!(
            reasons.iter().any(|r| r.contains("enterprise")),
            "{reasons:?}"
        );
        assert!(compile(json!({"account.named": true}))
            .unwrap()
            .matches(&l)
            .is_some());
        assert!(compile(json!({"account.owner": "erin"}))
            .unwrap()
            .matches(&l)
            .is_some());
        assert!(compile(json!({"do_not_contact": true}))
            .unwrap()
            .matches(&l)
            .is_some());
        l.qualification = Some(Qualification {
            disposable: true,
            score: 42.0,
            ..Qualification::default()
        });
        assert!(compile(json!({"disposable": true, "score": {"gte": 40}}))
            .unwrap()
            .matches(&l)
            .is_some());
        assert!(compile(json!({"role_address": true}))
            .unwrap()
            .matches(&l)
            .is_none());
        assert!(
            compile(json!({"account.tier": 5})).is_ok(),
            "numbers compare as text"
        );
        assert!(compile(json!({"disposable": "yes"})).is_err());
    }

    #[test]
    fn numeric_ranges_and_lists() {
        let c =
            compile(json!({"employees": {"gte": 50, "lt": 500}, "country": ["US", "CA"]})).unwrap();
        let hit = lead(&[
            ("email", "a@acme.com"),
            ("employees", "120"),
            ("country", "USA"),
        ]);
        let reasons = c.matches(&hit).unwrap();
        assert!(
            reasons.contains(&"employees ≥ 50 (was 120)".to_string()),
            "{reasons:?}"
        );
        assert!(reasons.iter().any(|r| r.starts_with("country in [US, CA]")));
        let miss = lead(&[
            ("email", "a@acme.com"),
            ("employees", "1000+"),
            ("country", "US"),
        ]);
        assert!(c.matches(&miss).is_none());
    }

    #[test]
    fn combinators_and_missing_fields() {
        let c = compile(json!({"any": [{"free_mail": true}, {"email_domain": {"ends_with": [".edu", ".ac.uk"]}}]})).unwrap();
        assert!(c.matches(&lead(&[("email", "x@gmail.com")])).is_some());
        assert!(c.matches(&lead(&[("email", "x@mit.edu")])).is_some());
        assert!(c.matches(&lead(&[("email", "x@acme.com")])).is_none());
        let not = compile(json!({"not": {"industry": "banking"}})).unwrap();
        assert!(not.matches(&lead(&[("email", "x@acme.com")])).is_some());
        let missing = compile(json!({"company": {"missing": true}})).unwrap();
        assert!(missing.matches(&lead(&[("email", "x@acme.com")])).is_some());
    }

    #[test]
    fn postal_prefixes_and_ranges() {
        let prefix = compile(json!({"postal_code": {"postal_prefix": ["941", "SW1"]}})).unwrap();
        assert!(prefix
            .matches(&lead(&[
                ("phone", "+1 415 555 0100"),
                ("country", "US"),
                ("zip", "94107")
            ]))
            .is_some());
        let range = compile(json!({"postal_code": {"postal_range": ["10000", "14999"]}})).unwrap();
        assert!(range
            .matches(&lead(&[
                ("phone", "+15555550100"),
                ("country", "US"),
                ("zip", "12345-6789")
            ]))
            .is_some());
        assert!(range
            .matches(&lead(&[
                ("phone", "+15555550100"),
                ("country", "US"),
                ("zip", "94107")
            ]))
            .is_none());
    }

    #[test]
    fn custom_attributes_and_text_ops() {
        let c = compile(
            json!({"custom.plan": {"in": ["pro", "enterprise"]}, "title": {"contains": "student"}}),
        )
        .unwrap();
        let l = lead(&[
            ("email", "s@uni.com"),
            ("plan", "Pro"),
            ("title", "PhD Student"),
        ]);
        assert!(c.matches(&l).is_some());
    }

    #[test]
    fn errors_name_the_path() {
        let errors = compile(
            json!({"employees": {"gte": "fifty"}, "colour": "red", "country": {"like": "US"}}),
        )
        .unwrap_err();
        let paths: Vec<_> = errors.iter().map(|e| e.to_string()).collect();
        assert!(
            paths.contains(&"when.employees.gte: expected a number".to_string()),
            "{paths:?}"
        );
        assert!(paths
            .iter()
            .any(|p| p.starts_with("when.colour: unknown field")));
        assert!(paths
            .iter()
            .any(|p| p.starts_with("when.country.like: unknown operator")));
        let shorthand = compile(json!({"employees": "many"})).unwrap_err();
        assert_eq!(
            shorthand[0].to_string(),
            "when.employees: expected a number"
        );
    }
}

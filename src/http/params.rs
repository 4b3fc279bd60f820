//! Query parameters, checked once: a list of known names (an unknown one is a 400 naming it,
//! so a misspelt filter never silently widens a listing), and periods given as dates or
//! instants in a chosen time zone.

use axum::http::StatusCode;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::problem::Problem;

/// A request's query parameters, each name at most once, all of them known.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Checks `pairs` against the `known` names.
    pub fn new(pairs: Vec<(String, String)>, known: &[&str]) -> Result<Self, Problem> {
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !known.contains(&name.as_str()) {
                return Err(bad(
                    name,
                    format!("unknown parameter; known: {}", known.join(", ")),
                ));
            }
            if pairs[..i].iter().any(|(other, _)| other == name) {
                return Err(bad(name, "given more than once"));
            }
        }
        Ok(Self(pairs))
    }

    /// The value of `name`, if given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, v)| n == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// `name` parsed by `parse`, whose error message names what was expected.
    pub fn parsed<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, Problem> {
        self.get(name)
            .map(|v| parse(v).map_err(|why| bad(name, why)))
            .transpose()
    }

    /// A whole number in `min..=max`, `default` when absent.
    pub fn number(
        &self,
        name: &str,
        min: usize,
        max: usize,
        default: usize,
    ) -> Result<usize, Problem> {
        let parsed = self.parsed(name, |v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| format!("expected a whole number from {min} to {max}"))
        })?;
        Ok(parsed.unwrap_or(default))
    }

    /// `true` or `false`.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, Problem> {
        self.parsed(name, |v| match v {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            _ => Err("expected true or false".into()),
        })
    }

    /// The period `from`..`to` in the zone `tz` (default UTC): each an RFC 3339 instant or a
    /// date (`from` the start of that day, `to` the end of it, in the zone). `to` defaults to
    /// a minute after `now` (everything so far, with room for clocks a little ahead), `from`
    /// to `default_days` before `to`.
    pub fn period(&self, now: Timestamp, default_days: i64) -> Result<Period, Problem> {
        let tz = self
            .parsed("tz", |v| {
                TimeZone::get(v)
                    .map_err(|_| "expected an IANA time zone such as Europe/Berlin".into())
            })?
            .unwrap_or(TimeZone::UTC);
        let tz_name = self.get("tz").unwrap_or("UTC").to_string();
        let to = self
            .parsed("to", |v| moment(v, &tz, true))?
            .unwrap_or(now + SignedDuration::from_mins(1));
        let from = self
            .parsed("from", |v| moment(v, &tz, false))?
            .unwrap_or(to - SignedDuration::from_hours(24 * default_days));
        if from >= to {
            return Err(bad("from", "must be before `to`"));
        }
        Ok(Period {
            from,
            to,
            tz,
            tz_name,
        })
    }
}

/// A period of time and the zone its days are counted in.
#[derive(Debug, Clone)]
pub struct Period {
    /// Start, inclusive.
    pub from: Timestamp,
    /// End, exclusive.
    pub to: Timestamp,
    /// The zone days and hours are shown in.
    pub tz: TimeZone,
    /// Its IANA name.
    pub tz_name: String,
}

/// An RFC 3339 instant, or a date in `tz` (its start, or with `end` its end).
pub fn moment(text: &str, tz: &TimeZone, end: bool) -> Result<Timestamp, String> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let date: Date = text
        .parse()
        .map_err(|_| "expected a date (2026-11-30) or an RFC 3339 time (2026-11-30T09:00:00Z)")?;
    let date = if end {
        date.tomorrow().map_err(|e| e.to_string())?
    } else {
        date
    };
    tz.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .map_err(|e| e.to_string())
}

/// 400 naming the parameter.
pub fn bad(name: &str, why: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "invalid-parameter", why).field(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)], known: &[&str]) -> Result<Params, Problem> {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            known,
        )
    }

    #[test]
    fn dates_are_whole_days_in_the_zone_and_instants_are_exact() {
        let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let p = params(
            &[
                ("from", "2026-11-01"),
                ("to", "2026-11-30"),
                ("tz", "Europe/Berlin"),
            ],
            &["from", "to", "tz"],
        )
        .unwrap()
        .period(now, 30)
        .unwrap();
        assert_eq!(p.from, "2026-10-31T23:00:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(p.to, "2026-11-30T23:00:00Z".parse::<Timestamp>().unwrap());
        let p = params(&[("from", "2026-11-30T09:00:00Z")], &["from"])
            .unwrap()
            .period(now, 30)
            .unwrap();
        assert_eq!(p.to, "2026-12-01T12:01:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(p.from, "2026-11-30T09:00:00Z".parse::<Timestamp>().unwrap());
        let default = params(&[], &[]).unwrap().period(now, 7).unwrap();
        assert_eq!(
            default.from,
            "2026-11-24T12:01:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn unknown_repeated_or_malformed_parameters_are_named() {
        assert!(params(&[("sttus", "open")], &["status"]).is_err());
        assert!(params(&[("a", "1"), ("a", "2")], &["a"]).is_err());
        let p = params(
            &[("from", "yesterday"), ("tz", "Mars/Base")],
            &["from", "tz"],
        )
        .unwrap();
        assert!(p.period(Timestamp::now(), 1).is_err());
        let p = params(
            &[("from", "2026-11-02"), ("to", "2026-11-01")],
            &["from", "to"],
        )
        .unwrap();
        assert!(p.period(Timestamp::now(), 1).is_err());
        let p = params(&[("limit", "0")], &["limit"]).unwrap();
        assert!(p.number("limit", 1, 10, 5).is_err());
        assert_eq!(
            params(&[], &[]).unwrap().number("limit", 1, 10, 5).unwrap(),
            5
        );
    }
}

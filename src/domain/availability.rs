//! Whether a rep can take a lead right now: active, not out of office, not on a holiday, inside
//! their weekly working hours. Hours, holidays and cap periods are civil times in the rep's own
//! IANA time zone, so they stay right across daylight-saving changes. Pure: the caller passes
//! "now"; nothing here reads a clock.

use std::collections::BTreeSet;
use std::fmt;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Minutes in a day; a range may end at 24:00.
const DAY_MINUTES: u16 = 24 * 60;

/// When a rep works, in their own time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    /// Inactive reps (left, on leave) get nothing, whatever else is set.
    pub active: bool,
    /// IANA name of the rep's time zone.
    pub timezone_name: String,
    /// The rep's time zone.
    pub timezone: TimeZone,
    /// Working ranges per weekday (Monday first); `None` means always working.
    pub hours: Option<[Vec<Shift>; 7]>,
    /// Out-of-office ranges, start inclusive, end exclusive.
    pub out_of_office: Vec<Absence>,
    /// Whole days off, as dates in the rep's time zone.
    pub holidays: BTreeSet<Date>,
}

/// One working range within a day, in minutes after midnight, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    /// First minute worked.
    pub start: u16,
    /// First minute not worked (1440 is midnight at the end of the day).
    pub end: u16,
}

/// An out-of-office range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Absence {
    /// First instant away.
    pub start: Timestamp,
    /// First instant back.
    pub end: Timestamp,
}

/// Why a rep cannot take a lead now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Unavailable {
    /// Marked inactive in the config.
    Inactive,
    /// Inside an out-of-office range.
    OutOfOffice {
        /// When they are back (RFC 3339, the rep's zone).
        until: String,
    },
    /// A holiday in the rep's calendar.
    Holiday {
        /// The date.
        date: String,
    },
    /// Outside their working hours.
    OffShift {
        /// The rep's local time then.
        local_time: String,
    },
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inactive => f.write_str("inactive"),
            Self::OutOfOffice { until } => write!(f, "out of office until {until}"),
            Self::Holiday { date } => write!(f, "on holiday ({date})"),
            Self::OffShift { local_time } => write!(f, "off shift (local time {local_time})"),
        }
    }
}

/// The cap periods a moment falls in, in the rep's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Periods {
    /// The rep's local date, `2026-11-22`.
    pub day: String,
    /// The rep's ISO week, `2026-W47`.
    pub week: String,
}

impl Availability {
    /// Always available, in UTC.
    pub fn always() -> Self {
        Self {
            active: true,
            timezone_name: "UTC".into(),
            timezone: TimeZone::UTC,
            hours: None,
            out_of_office: Vec::new(),
            holidays: BTreeSet::new(),
        }
    }

    /// Whether the rep can take a lead at `now`, and if not, why.
    pub fn check(&self, now: Timestamp) -> Result<(), Unavailable> {
        if !self.active {
            return Err(Unavailable::Inactive);
        }
        let local = now.to_zoned(self.timezone.clone());
        if let Some(absence) = self
            .out_of_office
            .iter()
            .find(|a| a.start <= now && now < a.end)
        {
            return Err(Unavailable::OutOfOffice {
                until: self.local_text(absence.end),
            });
        }
        if self.holidays.contains(&local.date()) {
            return Err(Unavailable::Holiday {
                date: local.date().to_string(),
            });
        }
        if let Some(hours) = &self.hours {
            let day = local.weekday().to_monday_zero_offset() as usize;
            let minute = local.hour() as u16 * 60 + local.minute() as u16;
            if !hours[day]
                .iter()
                .any(|s| s.start <= minute && minute < s.end)
            {
                return Err(Unavailable::OffShift {
                    local_time: local.strftime("%a %H:%M %Z").to_string(),
                });
            }
        }
        Ok(())
    }

    /// Whether the rep is out of office at `now` (named owners are held to this, not to hours).
    pub fn check_present(&self, now: Timestamp) -> Result<(), Unavailable> {
        match self.check(now) {
            Err(Unavailable::OffShift { .. }) | Ok(()) => Ok(()),
            Err(other) => Err(other),
        }
    }

    /// The day and ISO week `now` falls in, in the rep's time zone.
    pub fn periods(&self, now: Timestamp) -> Periods {
        let date = now.to_zoned(self.timezone.clone()).date();
        let week = date.iso_week_date();
        Periods {
            day: date.to_string(),
            week: format!("{:04}-W{:02}", week.year(), week.week()),
        }
    }

    /// The instants strictly inside `(from, to)` at which [`Availability::check`] may change:
    /// shift starts and ends, local midnights (holidays), out-of-office boundaries. Between two
    /// consecutive ones it gives the same answer throughout.
    pub fn changes(&self, from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
        let mut all: Vec<Timestamp> = self
            .out_of_office
            .iter()
            .flat_map(|a| [a.start, a.end])
            .collect();
        let tz = &self.timezone;
        let first = from
            .to_zoned(tz.clone())
            .date()
            .yesterday()
            .unwrap_or(Date::MIN);
        let last = to
            .to_zoned(tz.clone())
            .date()
            .tomorrow()
            .unwrap_or(Date::MAX);
        let mut date = first;
        while date <= last {
            all.extend(at_minute(tz, date, 0));
            if let Some(hours) = &self.hours {
                let weekday = date.weekday().to_monday_zero_offset() as usize;
                for shift in &hours[weekday] {
                    all.extend(at_minute(tz, date, shift.start));
                    all.extend(at_minute(tz, date, shift.end));
                }
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        all.retain(|t| from < *t && *t < to);
        all.sort();
        all.dedup();
        all
    }

    /// The first instant from `now` on (within `days` days) when the rep can take leads, if
    /// they cannot now; `None` when they can now or not within that time.
    pub fn next_available(&self, now: Timestamp, days: i64) -> Option<Timestamp> {
        if self.check(now).is_ok() {
            return None;
        }
        let until = now + jiff::SignedDuration::from_hours(24 * days);
        self.changes(now, until)
            .into_iter()
            .find(|t| self.check(*t).is_ok())
    }

    /// `at` in the rep's own time zone, as people read it (`Tue 09:00 EST`).
    pub fn local_short(&self, at: Timestamp) -> String {
        at.to_zoned(self.timezone.clone())
            .strftime("%a %d %b %H:%M %Z")
            .to_string()
    }

    fn local_text(&self, at: Timestamp) -> String {
        at.to_zoned(self.timezone.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string()
    }
}

/// The instant of minute `minute` (0..=1440) of a local date in `tz`.
pub(crate) fn at_minute(tz: &TimeZone, date: Date, minute: u16) -> Option<Timestamp> {
    let (date, minute) = if minute >= DAY_MINUTES {
        (date.tomorrow().ok()?, 0)
    } else {
        (date, minute)
    };
    let time = jiff::civil::time((minute / 60) as i8, (minute % 60) as i8, 0, 0);
    tz.to_timestamp(date.to_datetime(time)).ok()
}

/// Looks up an IANA time zone name.
pub fn parse_timezone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| {
        format!("unknown time zone '{name}' (use an IANA name such as America/New_York)")
    })
}

/// Parses the weekday part of a working-hours entry: `mon`, `mon-fri`, `daily`, `weekdays`,
/// `weekend`. Returns Monday-first day indexes.
pub fn parse_days(spec: &str) -> Result<Vec<usize>, String> {
    const NAMES: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let index = |name: &str| {
        let name = name.trim().to_ascii_lowercase();
        NAMES
            .iter()
            .position(|n| name.len() >= 3 && n.starts_with(name.as_str()))
            .ok_or_else(|| {
                format!("unknown day '{name}' (use mon, tue, ..., sun, or a range like mon-fri)")
            })
    };
    match spec.trim().to_ascii_lowercase().as_str() {
        "daily" | "every day" => Ok((0..7).collect()),
        "weekdays" => Ok((0..5).collect()),
        "weekend" => Ok(vec![5, 6]),
        other => match other.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (index(from)?, index(to)?);
                if from > to {
                    return Err(format!("day range '{spec}' runs backwards"));
                }
                Ok((from..=to).collect())
            }
            None => Ok(vec![index(other)?]),
        },
    }
}

/// Parses `09:00-17:30` (end may be `24:00`; the end must come after the start).
pub fn parse_shift(text: &str) -> Result<Shift, String> {
    let minutes = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let bad = || format!("expected a time range like 09:00-17:30, got '{text}'");
    let (start, end) = text.split_once('-').ok_or_else(bad)?;
    let (start, end) = (
        minutes(start).ok_or_else(bad)?,
        minutes(end).ok_or_else(bad)?,
    );
    if end <= start || end > DAY_MINUTES {
        return Err(format!(
            "'{text}' ends before it starts; split a shift that crosses midnight into two days"
        ));
    }
    Ok(Shift { start, end })
}

/// Parses an instant in the rep's zone: an RFC 3339 timestamp, a local `2026-12-24T09:00`, or a
/// date (its first moment when `end_of_day` is false, the first moment of the next day when
/// true, so a date range includes its last day).
pub fn parse_instant(text: &str, tz: &TimeZone, end_of_day: bool) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    let local = |dt: DateTime| {
        dt.to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string())
    };
    if let Ok(dt) = text.parse::<DateTime>() {
        if text.contains('T') || text.contains(' ') {
            return local(dt);
        }
    }
    match text.parse::<Date>() {
        Ok(date) => {
            let date = if end_of_day {
                date.tomorrow().map_err(|e| e.to_string())?
            } else {
                date
            };
            local(date.to_datetime(jiff::civil::Time::midnight()))
        }
        Err(_) => Err(format!(
            "expected a date (2026-12-24) or a date and time (2026-12-24T09:00, or RFC 3339 with an offset), got '{text}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(tz: &str, hours: &[(&str, &str)]) -> Availability {
        let mut week: [Vec<Shift>; 7] = Default::default();
        for (days, shift) in hours {
            for d in parse_days(days).unwrap() {
                week[d].push(parse_shift(shift).unwrap());
            }
        }
        Availability {
            timezone_name: tz.into(),
            timezone: parse_timezone(tz).unwrap(),
            hours: Some(week),
            ..Availability::always()
        }
    }

    fn at(ts: &str) -> Timestamp {
        ts.parse().unwrap()
    }

    #[test]
    fn new_york_hours_follow_the_november_dst_change() {
        // 2026-11-01 02:00 EDT falls back to 01:00 EST: 09:00 local moves from 13:00Z to 14:00Z.
        let r = rep("America/New_York", &[("mon-fri", "09:00-17:00")]);
        assert!(r.check(at("2026-10-30T13:00:00Z")).is_ok(), "Fri 09:00 EDT");
        assert!(
            r.check(at("2026-10-30T12:59:00Z")).is_err(),
            "Fri 08:59 EDT"
        );
        let before = r.check(at("2026-11-02T13:30:00Z"));
        assert_eq!(
            before,
            Err(Unavailable::OffShift {
                local_time: "Mon 08:30 EST".into()
            })
        );
        assert!(r.check(at("2026-11-02T14:00:00Z")).is_ok(), "Mon 09:00 EST");
        assert!(r.check(at("2026-11-02T21:59:00Z")).is_ok(), "Mon 16:59 EST");
        assert!(
            r.check(at("2026-11-02T22:00:00Z")).is_err(),
            "Mon 17:00 EST"
        );
        assert!(r.check(at("2026-10-31T15:00:00Z")).is_err(), "Saturday");
    }

    #[test]
    fn berlin_hours_follow_the_march_dst_change() {
        // 2026-03-29 02:00 CET springs forward to 03:00 CEST: 08:00 local moves from 07:00Z to 06:00Z.
        let r = rep(
            "Europe/Berlin",
            &[("mon-fri", "08:00-12:00"), ("mon-fri", "13:00-16:00")],
        );
        assert!(r.check(at("2026-03-27T07:00:00Z")).is_ok(), "Fri 08:00 CET");
        assert!(
            r.check(at("2026-03-27T06:00:00Z")).is_err(),
            "Fri 07:00 CET"
        );
        assert!(
            r.check(at("2026-03-30T06:00:00Z")).is_ok(),
            "Mon 08:00 CEST"
        );
        assert!(
            r.check(at("2026-03-30T05:59:00Z")).is_err(),
            "Mon 07:59 CEST"
        );
        assert!(
            r.check(at("2026-03-30T10:30:00Z")).is_err(),
            "Mon 12:30 CEST lunch"
        );
        assert!(
            r.check(at("2026-03-30T11:00:00Z")).is_ok(),
            "Mon 13:00 CEST"
        );
    }

    #[test]
    fn out_of_office_dates_cover_whole_local_days_and_end_exclusive() {
        let tz = parse_timezone("Europe/Berlin").unwrap();
        let r = Availability {
            timezone_name: "Europe/Berlin".into(),
            out_of_office: vec![Absence {
                start: parse_instant("2026-12-24", &tz, false).unwrap(),
                end: parse_instant("2026-12-26", &tz, true).unwrap(),
            }],
            timezone: tz,
            ..Availability::always()
        };
        assert!(
            r.check(at("2026-12-23T22:59:59Z")).is_ok(),
            "23:59:59 local the day before"
        );
        assert_eq!(
            r.check(at("2026-12-23T23:00:00Z")),
            Err(Unavailable::OutOfOffice {
                until: "2026-12-27 00:00 CET".into()
            })
        );
        assert!(
            r.check(at("2026-12-26T22:59:59Z")).is_err(),
            "last second of the last day"
        );
        assert!(
            r.check(at("2026-12-26T23:00:00Z")).is_ok(),
            "back at local midnight"
        );
    }

    #[test]
    fn holidays_inactive_and_named_owner_presence() {
        let mut r = rep("America/New_York", &[("mon-fri", "09:00-17:00")]);
        r.holidays.insert("2026-11-26".parse().unwrap());
        // 2026-11-27T03:00Z is still the 26th in New York.
        assert!(matches!(
            r.check(at("2026-11-27T03:00:00Z")),
            Err(Unavailable::Holiday { .. })
        ));
        assert!(
            r.check_present(at("2026-11-28T03:00:00Z")).is_ok(),
            "off shift but present"
        );
        r.active = false;
        assert_eq!(
            r.check(at("2026-11-25T15:00:00Z")),
            Err(Unavailable::Inactive)
        );
    }

    #[test]
    fn cap_periods_are_local_days_and_iso_weeks() {
        let r = rep("America/New_York", &[("daily", "00:00-24:00")]);
        // 03:00Z on the 23rd is still Sunday the 22nd in New York (ISO week 47).
        assert_eq!(
            r.periods(at("2026-11-23T03:00:00Z")),
            Periods {
                day: "2026-11-22".into(),
                week: "2026-W47".into()
            }
        );
        assert_eq!(r.periods(at("2026-11-23T06:00:00Z")).week, "2026-W48");
        assert_eq!(
            rep("UTC", &[]).periods(at("2027-01-01T00:00:00Z")).week,
            "2026-W53"
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        assert!(parse_days("funday").unwrap_err().contains("unknown day"));
        assert!(parse_days("fri-mon").unwrap_err().contains("backwards"));
        assert!(parse_shift("17:00-09:00")
            .unwrap_err()
            .contains("crosses midnight"));
        assert!(parse_shift("9-5")
            .unwrap_err()
            .contains("expected a time range"));
        assert!(parse_timezone("Mars/Olympus")
            .unwrap_err()
            .contains("unknown time zone"));
        let tz = TimeZone::UTC;
        assert!(parse_instant("soon", &tz, false).is_err());
        assert_eq!(
            parse_shift("13:00-24:00").unwrap(),
            Shift {
                start: 780,
                end: 1440
            }
        );
    }
}

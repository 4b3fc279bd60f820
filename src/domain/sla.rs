//! Service-level agreements on acknowledging a lead: the policy a rule or pool sets, the
//! deadline it gives an owner (optionally counted in the owner's working hours), and what a
//! breach leads to. Pure: the caller passes the time and the lead's escalation count; storage
//! makes each escalation happen at most once.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::availability::{at_minute, Availability};

/// How many days ahead a business-hours deadline is searched for working time.
const SEARCH_DAYS: usize = 400;

/// What happens when a lead's owner misses the deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBreach {
    /// Give it to the next eligible rep of the pool it came through.
    Reassign,
    /// Give it to a rep of this pool (which may overflow further).
    Pool(String),
    /// Put it in this queue.
    Queue(String),
}

/// An SLA policy, as configured on a rule or a pool and snapshotted on each assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaPolicy {
    /// Where it was configured (`rule 'x'`, `pool 'y'`), for explanations.
    pub from: String,
    /// Minutes the owner has to acknowledge.
    pub minutes: u32,
    /// Count only the owner's working hours (the deadline pauses outside them).
    pub business_hours: bool,
    /// What a breach does.
    pub on_breach: OnBreach,
    /// Channels told about every breach (a manager's Slack, say).
    pub alert: Vec<String>,
    /// Breaches handled by `on_breach` before the lead goes to the fallback queue instead.
    pub max_escalations: u32,
    /// Reminders to the owner before the deadline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders: Vec<Reminder>,
    /// What happens once the deadline passes, in order; empty means the one step policies had
    /// before steps existed: reassign (alerting `alert`) at the deadline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Escalation>,
}

/// When a reminder goes to the owner of a lead still not acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reminder {
    /// This many minutes before the deadline.
    MinutesBefore(u32),
    /// When this percentage of the owner's time has passed (of their working time, for a
    /// business-hours SLA).
    PercentElapsed(u8),
}

/// One step after the deadline: `after` minutes past it, do `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalation {
    /// Minutes after the deadline.
    pub after: u32,
    /// What to do.
    pub action: Action,
}

/// What a step of an SLA's schedule does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Remind the owner (before the deadline, or that it is overdue after it).
    Remind,
    /// Tell these channels (a manager's) that the lead is overdue.
    Alert(Vec<String>),
    /// Take the lead from its owner as `on_breach` says (alerting the policy's `alert`).
    Reassign,
}

/// A step of one owner's schedule, at its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// When it is due.
    pub at: Timestamp,
    /// What it does.
    pub action: Action,
    /// True for a reminder before the deadline (which becomes pointless once it has passed).
    pub before_deadline: bool,
}

/// The step of a schedule the sweeper takes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Next<'s> {
    /// Its index in the schedule (what the lead's step counter becomes, plus one).
    pub index: usize,
    /// The step.
    pub step: &'s Step,
    /// Reminders before the deadline passed over because a later step was already due.
    pub skipped: usize,
}

/// Default for `max_escalations`.
pub const DEFAULT_MAX_ESCALATIONS: u32 = 2;

/// What the sweeper does with a lead whose deadline passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    /// Route it within this pool (and its overflow), never back to a rep who had it.
    Pool(String),
    /// Put it in this queue; the sentence says why.
    Queue {
        /// The queue.
        queue: String,
        /// Why it goes there rather than to a rep.
        why: String,
    },
}

impl SlaPolicy {
    /// The deadline for an owner who got the lead at `from`: `minutes` later, or `minutes` of
    /// the owner's working time later when `business_hours` is set (holidays do not count).
    pub fn deadline(&self, owner: &Availability, from: Timestamp) -> Timestamp {
        // Whole seconds: the deadline is shown to people and compared in Unix seconds.
        let from = from
            .round(jiff::Unit::Second)
            .expect("rounding a timestamp to seconds stays in range");
        let plain = from + SignedDuration::from_mins(i64::from(self.minutes));
        if !self.business_hours {
            return plain;
        }
        working_deadline(owner, from, i64::from(self.minutes) * 60).unwrap_or(plain)
    }

    /// What to do about a breach, given how many escalations the lead already had and the
    /// pool it went through last.
    pub fn breach(&self, escalations: u32, pool: Option<&str>, fallback_queue: &str) -> Breach {
        if escalations >= self.max_escalations {
            return Breach::Queue {
                queue: fallback_queue.to_string(),
                why: format!(
                    "it was already escalated {escalations} time{} (the most {} allows)",
                    if escalations == 1 { "" } else { "s" },
                    self.from
                ),
            };
        }
        match (&self.on_breach, pool) {
            (OnBreach::Reassign, Some(pool)) => Breach::Pool(pool.to_string()),
            (OnBreach::Reassign, None) => Breach::Queue {
                queue: fallback_queue.to_string(),
                why: "it did not come through a pool, so there is nobody next in line".into(),
            },
            (OnBreach::Pool(pool), _) => Breach::Pool(pool.clone()),
            (OnBreach::Queue(queue), _) => Breach::Queue {
                queue: queue.clone(),
                why: format!("{} sends missed leads there", self.from),
            },
        }
    }

    /// What the sweeper does for an owner who got the lead at `from` (their working hours in
    /// `owner`) with deadline `due`, in time order: reminders strictly between the two, then
    /// the steps after the deadline. Reminders count the same time the deadline does (the
    /// owner's working time for a business-hours SLA), so "5 minutes before" is 5 working
    /// minutes; one that would come before the lead does is left out.
    pub fn schedule(&self, owner: &Availability, from: Timestamp, due: Timestamp) -> Vec<Step> {
        let from = from
            .round(jiff::Unit::Second)
            .expect("rounding a timestamp to seconds stays in range");
        let mut reminders: Vec<Step> = self
            .reminders
            .iter()
            .filter_map(|reminder| {
                let total = i64::from(self.minutes) * 60;
                let elapsed = match *reminder {
                    Reminder::MinutesBefore(m) => total - i64::from(m) * 60,
                    Reminder::PercentElapsed(p) => total * i64::from(p) / 100,
                };
                if elapsed <= 0 {
                    return None;
                }
                let plain = from + SignedDuration::from_secs(elapsed);
                Some(if self.business_hours {
                    working_deadline(owner, from, elapsed).unwrap_or(plain)
                } else {
                    plain
                })
            })
            .filter(|at| *at > from && *at < due)
            .map(|at| Step {
                at,
                action: Action::Remind,
                before_deadline: true,
            })
            .collect();
        reminders.sort_by_key(|s| s.at);
        reminders.dedup_by_key(|s| s.at);
        let legacy = [Escalation {
            after: 0,
            action: Action::Reassign,
        }];
        let steps = if self.steps.is_empty() {
            &legacy[..]
        } else {
            &self.steps[..]
        };
        reminders.extend(steps.iter().map(|s| Step {
            at: due + SignedDuration::from_mins(i64::from(s.after)),
            action: s.action.clone(),
            before_deadline: false,
        }));
        reminders
    }

    /// The step to take at `now` when `done` steps of `schedule` were taken: the first not yet
    /// taken, except that a reminder before the deadline is passed over once a later step is
    /// due too (it would arrive late, or say something no longer true). `None` when the
    /// schedule is finished; the step returned may not be due yet.
    pub fn next<'s>(schedule: &'s [Step], done: usize, now: Timestamp) -> Option<Next<'s>> {
        let mut index = done;
        while let (Some(step), Some(later)) = (schedule.get(index), schedule.get(index + 1)) {
            if !(step.before_deadline && later.at <= now) {
                break;
            }
            index += 1;
        }
        schedule.get(index).map(|step| Next {
            index,
            step,
            skipped: index - done,
        })
    }

    /// "Alex did not acknowledge within 15 minutes (due 2026-11-24T15:15:00Z)".
    pub fn missed(&self, owner_name: &str, due: &str) -> String {
        format!(
            "{owner_name} did not acknowledge within {} {}minute{} (due {due}, {})",
            self.minutes,
            if self.business_hours { "working " } else { "" },
            if self.minutes == 1 { "" } else { "s" },
            self.from
        )
    }
}

/// `seconds` of working time after `from` in the owner's weekly hours, skipping holidays;
/// `None` if the owner has no hours (always working) or none within [`SEARCH_DAYS`].
fn working_deadline(owner: &Availability, from: Timestamp, seconds: i64) -> Option<Timestamp> {
    let mut remaining = seconds;
    for (start, end) in working_intervals(owner, from)? {
        let available = end.duration_since(start).as_secs();
        if available >= remaining {
            return Some(start + SignedDuration::from_secs(remaining));
        }
        remaining -= available;
    }
    None
}

/// Seconds of the owner's working time (weekly hours, holidays skipped) in `[from, to)`:
/// speed to lead "in the owner's working time". An owner without hours is always working.
pub fn working_seconds(owner: &Availability, from: Timestamp, to: Timestamp) -> i64 {
    if to <= from {
        return 0;
    }
    let Some(intervals) = working_intervals(owner, from) else {
        return to.as_second() - from.as_second();
    };
    let mut total = 0;
    for (start, end) in intervals {
        if start >= to {
            break;
        }
        total += end.min(to).duration_since(start).as_secs();
    }
    total
}

/// The owner's working intervals from `from` on, in order (the first may start at `from`),
/// over at most [`SEARCH_DAYS`] days; `None` for an owner without hours.
fn working_intervals(
    owner: &Availability,
    from: Timestamp,
) -> Option<impl Iterator<Item = (Timestamp, Timestamp)> + '_> {
    let hours = owner.hours.as_ref()?;
    let tz = &owner.timezone;
    let first = from.to_zoned(tz.clone()).date();
    let days = std::iter::successors(Some(first), |d| d.tomorrow().ok()).take(SEARCH_DAYS);
    Some(
        days.filter(|date| !owner.holidays.contains(date))
            .flat_map(move |date| {
                let weekday = date.weekday().to_monday_zero_offset() as usize;
                let mut shifts = hours[weekday].clone();
                shifts.sort_by_key(|s| s.start);
                shifts.into_iter().filter_map(move |shift| {
                    let start = at_minute(tz, date, shift.start)?.max(from);
                    let end = at_minute(tz, date, shift.end)?;
                    (start < end).then_some((start, end))
                })
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::RoutingConfig;

    fn policy(minutes: u32, business_hours: bool) -> SlaPolicy {
        SlaPolicy {
            from: "pool 'smb'".into(),
            minutes,
            business_hours,
            on_breach: OnBreach::Reassign,
            alert: vec![],
            max_escalations: 2,
            reminders: vec![],
            steps: vec![],
        }
    }

    fn rep(extra: &str) -> Availability {
        let doc = format!(
            "reps:\n  - id: a\n    name: A\n    timezone: America/New_York\n{extra}\nrules:\n  - id: d\n    route: {{ rep: a }}\n"
        );
        RoutingConfig::parse(&doc).unwrap().reps["a"]
            .availability
            .clone()
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_plain_deadline_is_minutes_of_wall_clock() {
        let due = policy(15, false).deadline(&rep(""), t("2026-11-24T23:55:00Z"));
        assert_eq!(due, t("2026-11-25T00:10:00Z"));
    }

    #[test]
    fn business_hours_pause_the_clock_overnight_and_over_weekends() {
        let a =
            rep("    working_hours: { mon-fri: \"09:00-17:00\" }\n    holidays: [\"2026-11-26\"]");
        let p = policy(30, true);
        // Tuesday 16:50 New York (21:50Z): 10 minutes today, 20 tomorrow from 09:00.
        assert_eq!(
            p.deadline(&a, t("2026-11-24T21:50:00Z")),
            t("2026-11-25T14:20:00Z")
        );
        // Wednesday 20:00 local: Thursday is Thanksgiving (a holiday), so Friday 09:30.
        assert_eq!(
            p.deadline(&a, t("2026-11-26T01:00:00Z")),
            t("2026-11-27T14:30:00Z")
        );
        // Friday 16:45 local: 15 minutes Friday, 15 on Monday.
        assert_eq!(
            p.deadline(&a, t("2026-11-27T21:45:00Z")),
            t("2026-11-30T14:15:00Z")
        );
        // Inside hours it is plain minutes.
        assert_eq!(
            p.deadline(&a, t("2026-11-24T15:00:00Z")),
            t("2026-11-24T15:30:00Z")
        );
    }

    #[test]
    fn business_hours_follow_daylight_saving() {
        let a = rep("    working_hours: { mon-fri: \"09:00-17:00\" }");
        // Friday 2026-03-06 after hours; DST starts Sunday 03-08, so Monday 09:00 is 13:00Z.
        assert_eq!(
            policy(60, true).deadline(&a, t("2026-03-06T23:00:00Z")),
            t("2026-03-09T14:00:00Z")
        );
    }

    #[test]
    fn working_seconds_count_only_the_owners_hours() {
        let a =
            rep("    working_hours: { mon-fri: \"09:00-17:00\" }\n    holidays: [\"2026-11-26\"]");
        // Tuesday 16:50 New York to Wednesday 09:20: 10 + 20 minutes.
        assert_eq!(
            working_seconds(&a, t("2026-11-24T21:50:00Z"), t("2026-11-25T14:20:00Z")),
            30 * 60
        );
        // Over Thanksgiving (a holiday) only Friday counts.
        assert_eq!(
            working_seconds(&a, t("2026-11-25T22:00:00Z"), t("2026-11-27T15:00:00Z")),
            60 * 60
        );
        assert_eq!(
            working_seconds(
                &rep(""),
                t("2026-11-28T12:00:00Z"),
                t("2026-11-28T12:15:00Z")
            ),
            15 * 60
        );
        assert_eq!(
            working_seconds(&a, t("2026-11-25T22:00:00Z"), t("2026-11-25T21:00:00Z")),
            0
        );
    }

    #[test]
    fn a_rep_without_hours_is_always_working() {
        let due = policy(15, true).deadline(&rep(""), t("2026-11-28T12:00:00Z"));
        assert_eq!(due, t("2026-11-28T12:15:00Z"));
    }

    #[test]
    fn breaches_escalate_per_policy_then_fall_back() {
        let p = policy(15, false);
        assert_eq!(
            p.breach(0, Some("smb"), "unrouted"),
            Breach::Pool("smb".into())
        );
        assert_eq!(
            p.breach(1, Some("smb"), "unrouted"),
            Breach::Pool("smb".into())
        );
        assert!(matches!(
            p.breach(2, Some("smb"), "unrouted"),
            Breach::Queue { queue, why } if queue == "unrouted" && why.contains("2 times")
        ));
        assert!(matches!(
            p.breach(0, None, "unrouted"),
            Breach::Queue { .. }
        ));
        let to_pool = SlaPolicy {
            on_breach: OnBreach::Pool("inside".into()),
            ..p.clone()
        };
        assert_eq!(to_pool.breach(0, None, "u"), Breach::Pool("inside".into()));
        let to_queue = SlaPolicy {
            on_breach: OnBreach::Queue("triage".into()),
            ..p
        };
        assert!(
            matches!(to_queue.breach(0, Some("smb"), "u"), Breach::Queue { queue, .. } if queue == "triage")
        );
    }

    #[test]
    fn a_miss_reads_as_a_sentence() {
        assert_eq!(
            policy(15, true).missed("Alex", "2026-11-24T15:15:00Z"),
            "Alex did not acknowledge within 15 working minutes (due 2026-11-24T15:15:00Z, pool 'smb')"
        );
    }

    fn stepped() -> SlaPolicy {
        SlaPolicy {
            reminders: vec![Reminder::MinutesBefore(5), Reminder::PercentElapsed(50)],
            steps: vec![
                Escalation {
                    after: 0,
                    action: Action::Remind,
                },
                Escalation {
                    after: 10,
                    action: Action::Alert(vec!["managers".into()]),
                },
                Escalation {
                    after: 20,
                    action: Action::Reassign,
                },
            ],
            ..policy(30, false)
        }
    }

    #[test]
    fn a_schedule_lists_reminders_then_the_steps_after_the_deadline() {
        let p = stepped();
        let from = t("2026-11-24T15:00:00Z");
        let schedule = p.schedule(&rep(""), from, p.deadline(&rep(""), from));
        let at: Vec<_> = schedule.iter().map(|s| s.at.to_string()).collect();
        assert_eq!(
            at,
            [
                "2026-11-24T15:15:00Z",
                "2026-11-24T15:25:00Z",
                "2026-11-24T15:30:00Z",
                "2026-11-24T15:40:00Z",
                "2026-11-24T15:50:00Z"
            ]
        );
        assert!(schedule[0].before_deadline && schedule[1].before_deadline);
        assert_eq!(schedule[2].action, Action::Remind);
        assert!(!schedule[2].before_deadline);
        assert_eq!(schedule[4].action, Action::Reassign);
    }

    #[test]
    fn a_policy_without_steps_reassigns_at_the_deadline() {
        let p = policy(15, false);
        let from = t("2026-11-24T15:00:00Z");
        let schedule = p.schedule(&rep(""), from, p.deadline(&rep(""), from));
        assert_eq!(
            schedule,
            [Step {
                at: t("2026-11-24T15:15:00Z"),
                action: Action::Reassign,
                before_deadline: false
            }]
        );
    }

    #[test]
    fn reminders_outside_the_window_are_left_out_and_fractions_count_working_time() {
        let p = SlaPolicy {
            reminders: vec![
                Reminder::MinutesBefore(30),
                Reminder::MinutesBefore(45),
                Reminder::PercentElapsed(50),
            ],
            ..policy(30, true)
        };
        let a = rep("    working_hours: { mon-fri: \"09:00-17:00\" }");
        // Tuesday 16:50 New York: due Wednesday 09:20; half the working time is 09:05.
        let from = t("2026-11-24T21:50:00Z");
        let due = p.deadline(&a, from);
        let schedule = p.schedule(&a, from, due);
        assert_eq!(schedule[0].at, t("2026-11-25T14:05:00Z"));
        // 30 and 45 working minutes before the deadline are when the lead arrived and before:
        // left out.
        assert_eq!(schedule.len(), 2);
        assert_eq!(schedule[1].action, Action::Reassign);
        let p = SlaPolicy {
            reminders: vec![Reminder::MinutesBefore(15)],
            ..p
        };
        // 15 working minutes before Wednesday 09:20 is Wednesday 09:05 local.
        assert_eq!(p.schedule(&a, from, due)[0].at, t("2026-11-25T14:05:00Z"));
    }

    #[test]
    fn the_next_step_passes_over_reminders_a_later_step_overtook() {
        let p = stepped();
        let from = t("2026-11-24T15:00:00Z");
        let schedule = p.schedule(&rep(""), from, p.deadline(&rep(""), from));
        let next =
            |done, now| SlaPolicy::next(&schedule, done, t(now)).map(|n| (n.index, n.skipped));
        // On time: each in turn (the first may not be due yet).
        assert_eq!(next(0, "2026-11-24T15:01:00Z"), Some((0, 0)));
        assert_eq!(next(1, "2026-11-24T15:26:00Z"), Some((1, 0)));
        // A sweep that comes after the second reminder was due skips the first.
        assert_eq!(next(0, "2026-11-24T15:26:00Z"), Some((1, 1)));
        // After the deadline the reminders are pointless; steps after it are never skipped.
        assert_eq!(next(0, "2026-11-24T15:55:00Z"), Some((2, 2)));
        assert_eq!(next(3, "2026-11-24T15:55:00Z"), Some((3, 0)));
        assert_eq!(next(5, "2026-11-24T15:55:00Z"), None);
    }
}

//! Measuring routing: the compact row every lead keeps ([`row`]), and the routing report
//! computed from the rows of the leads that arrived in a period: speed to lead in stages,
//! SLA compliance, escalations and reassignments, coverage and the fallback queue's share,
//! notifications, outcomes, overall and by pool, rep, rule and source; the fairness ledger of
//! every pool ([`ledger`]); and the hours nobody in a pool could take a lead ([`coverage`]).
//! Pure: rows and configs in, figures out; every figure can be checked by hand.
//!
//! Overall and by rule and source, figures count leads. By pool and by rep they count
//! stints (one owner's turn with a lead): a lead Alex missed and Ava then acknowledged counts
//! once for each, breached for Alex and met for Ava, and its outcome for Ava.

pub mod coverage;
pub mod ledger;
pub mod row;
pub mod stats;

use std::collections::{BTreeMap, HashMap};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Serialize;

use crate::domain::config::RoutingConfig;
use crate::domain::model::{LeadStatus, NotificationStatus, Outcome, SlaState};
use crate::domain::sla::working_seconds;

use coverage::Timeline;
use ledger::Ledger;
use row::{Ended, FallbackCause, LeadRow, NotificationRow, Stint};
use stats::{round, share, Samples, Stage};

/// What a report is computed from.
pub struct ReportInput<'a> {
    /// Start of the period, inclusive.
    pub from: Timestamp,
    /// End, exclusive.
    pub to: Timestamp,
    /// The zone days are counted in, and its name.
    pub tz: (&'a TimeZone, &'a str),
    /// The moment SLAs are judged at (a deadline passed unswept is breached).
    pub now: Timestamp,
    /// The leads that arrived in the period.
    pub leads: &'a [LeadRow],
    /// Their notifications.
    pub notifications: &'a [NotificationRow],
    /// The config versions the leads were routed under, by number (for working hours).
    pub versions: &'a HashMap<u64, RoutingConfig>,
    /// The versions in force over the period, in order.
    pub timeline: &'a Timeline<'a>,
}

/// The routing report of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Start, inclusive.
    pub from: Timestamp,
    /// End, exclusive.
    pub to: Timestamp,
    /// The zone days are counted in.
    pub timezone: String,
    /// When SLAs were judged.
    pub as_of: Timestamp,
    /// Every lead of the period.
    pub overall: Figures,
    /// By the pool of each stint.
    pub by_pool: BTreeMap<String, Figures>,
    /// By the rep of each stint.
    pub by_rep: BTreeMap<String, Figures>,
    /// By the rule that routed each lead.
    pub by_rule: BTreeMap<String, Figures>,
    /// By the source key that sent each lead.
    pub by_source: BTreeMap<String, Figures>,
    /// Leads per local day.
    pub leads_per_day: Vec<DayCount>,
    /// Where the leads went.
    pub coverage: Coverage,
    /// How delivery went.
    pub notifications: Notifications,
    /// Each pool's fairness ledger.
    pub fairness: Vec<Ledger>,
}

/// The figures of one group of leads (or stints).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Leads (by pool and rep: stints).
    pub leads: u64,
    /// Now owned by a rep.
    pub assigned: u64,
    /// Now in a queue.
    pub queued: u64,
    /// Caught by the honeypot (not counted anywhere else).
    pub spam: u64,
    /// Speed to lead, by stage.
    pub speed_to_lead: Speed,
    /// SLA compliance.
    pub sla: SlaFigures,
    /// SLA escalations (by pool and rep: stints that ended in one).
    pub escalations: u64,
    /// Leads reassigned at least once (by pool and rep: stints that ended in a reassignment).
    pub reassigned: u64,
    /// `reassigned` over the leads (stints) a rep got.
    pub reassignment_rate: Option<f64>,
    /// What came of the leads.
    pub outcomes: OutcomeFigures,
}

/// Speed to lead in stages: median and p90 of each, in wall time and in the owner's working
/// time (weekly hours, holidays skipped).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Speed {
    /// Arrival to the assignment being decided and sent to storage, in milliseconds (the
    /// router's own latency).
    pub to_assignment_ms: Stage,
    /// Arrival to the first notification delivered, in seconds.
    pub to_first_notification_seconds: Stage,
    /// Arrival (by pool and rep: the owner's assignment) to the first touch (acknowledged, or
    /// closed first), in seconds.
    pub to_first_touch_seconds: Stage,
}

/// SLA compliance.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SlaFigures {
    /// Leads with an SLA.
    pub with_sla: u64,
    /// Touched within every deadline.
    pub met: u64,
    /// A deadline missed (swept or not yet).
    pub breached: u64,
    /// A deadline still running.
    pub pending: u64,
    /// `met / (met + breached)`.
    pub compliance: Option<f64>,
    /// Reminders sent to owners (before a deadline, or that it passed).
    pub reminders: u64,
    /// Alerts sent to managers' channels about owners who had not acknowledged.
    pub alerts: u64,
    /// Deadlines met after the owner was reminded: reminders that worked.
    pub met_after_reminder: u64,
}

/// Outcomes: leads that reached each stage, the value won, and conversion.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OutcomeFigures {
    /// Reached the person.
    pub contacted: u64,
    /// Got a meeting.
    pub meeting: u64,
    /// Became qualified.
    pub qualified: u64,
    /// Won.
    pub won: u64,
    /// Lost.
    pub lost: u64,
    /// Disqualified.
    pub disqualified: u64,
    /// Sum of the values won.
    pub won_value: f64,
    /// `won / leads` (spam left out).
    pub conversion: Option<f64>,
    /// `meeting / leads` (spam left out).
    pub meeting_rate: Option<f64>,
}

/// Leads on one local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// The date, in the report's zone.
    pub date: Date,
    /// Leads that arrived.
    pub leads: u64,
}

/// Where the period's leads went.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    /// Leads, spam left out.
    pub leads: u64,
    /// Now owned by a rep.
    pub to_rep: u64,
    /// `to_rep / leads`.
    pub to_rep_share: Option<f64>,
    /// Now in a queue (any queue, the fallback included).
    pub queued: u64,
    /// `queued / leads`.
    pub queued_share: Option<f64>,
    /// Now in the fallback queue.
    pub fallback: u64,
    /// `fallback / leads`.
    pub fallback_share: Option<f64>,
    /// Why they are there (`pools_full`, `named_rep_unavailable`, `no_account_owner`,
    /// `rule`, `escalated`, `no_config`, `config_unusable`).
    pub fallback_reasons: BTreeMap<&'static str, u64>,
    /// Leads missing a required field (sent to the data-quality queue).
    pub data_quality: u64,
    /// Honeypot catches.
    pub spam: u64,
    /// Per pool, the hours of the period when none of its reps was available by the config.
    pub uncovered_hours: BTreeMap<String, f64>,
}

/// Delivery of the period's notifications.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notifications {
    /// Recorded.
    pub total: u64,
    /// Delivered.
    pub delivered: u64,
    /// Needed more than one attempt.
    pub retried: u64,
    /// Given up on.
    pub dead: u64,
    /// Still being tried.
    pub pending: u64,
}

/// A group's running totals.
#[derive(Default)]
struct Tally {
    figures: Figures,
    to_assignment: Samples,
    to_notification: Samples,
    to_touch: Samples,
    /// Leads (stints) a rep got: the base of the reassignment rate.
    to_rep: u64,
}

impl Tally {
    fn finish(mut self) -> Figures {
        let f = &mut self.figures;
        f.speed_to_lead = Speed {
            to_assignment_ms: self.to_assignment.summary(),
            to_first_notification_seconds: self.to_notification.summary(),
            to_first_touch_seconds: self.to_touch.summary(),
        };
        f.sla.compliance = share(f.sla.met, f.sla.met + f.sla.breached);
        f.reassignment_rate = share(f.reassigned, self.to_rep);
        let worked = f.leads - f.spam;
        f.outcomes.conversion = share(f.outcomes.won, worked);
        f.outcomes.meeting_rate = share(f.outcomes.meeting, worked);
        f.outcomes.won_value = round(f.outcomes.won_value, 2);
        self.figures
    }

    /// The SLA steps of `stints` (the owner's reminders and alerts), with the state the last
    /// of them ended in.
    fn steps<'s>(&mut self, stints: impl IntoIterator<Item = &'s Stint>, state: Option<SlaState>) {
        let sla = &mut self.figures.sla;
        let mut last_reminded = false;
        for stint in stints {
            sla.reminders += u64::from(stint.reminders);
            sla.alerts += u64::from(stint.alerts);
            last_reminded = stint.reminders > 0;
        }
        if last_reminded && state == Some(SlaState::Met) {
            sla.met_after_reminder += 1;
        }
    }

    fn sla(&mut self, state: Option<SlaState>) {
        let Some(state) = state else { return };
        let sla = &mut self.figures.sla;
        sla.with_sla += 1;
        match state {
            SlaState::Met => sla.met += 1,
            SlaState::Breached => sla.breached += 1,
            SlaState::Pending => sla.pending += 1,
        }
    }

    fn outcomes(&mut self, lead: &LeadRow) {
        let o = &mut self.figures.outcomes;
        for stage in &lead.stages {
            match stage {
                Outcome::Contacted => o.contacted += 1,
                Outcome::Meeting => o.meeting += 1,
                Outcome::Qualified => o.qualified += 1,
                Outcome::Won => o.won += 1,
                Outcome::Lost => o.lost += 1,
                Outcome::Disqualified => o.disqualified += 1,
            }
        }
        o.won_value += lead.won_value.unwrap_or(0.0);
    }
}

/// What one lead brings to every figure, worked out once.
struct LeadView<'a> {
    lead: &'a LeadRow,
    first_delivery: Option<Timestamp>,
}

impl ReportInput<'_> {
    /// Seconds from `from` to `to` in wall time, and in the working time of rep `owner` as
    /// the config version `version` knew them.
    fn seconds(
        &self,
        from: Timestamp,
        to: Timestamp,
        owner: Option<(&str, Option<u64>)>,
    ) -> (i64, Option<i64>) {
        let wall = to.as_second() - from.as_second();
        let working = owner.and_then(|(rep, version)| {
            let config = version
                .and_then(|v| self.versions.get(&v))
                .or_else(|| coverage::in_force(self.timeline, from))?;
            let rep = config.reps.get(rep)?;
            Some(working_seconds(&rep.availability, from, to))
        });
        (wall, working)
    }

    /// Why a lead sits in the fallback queue, if it does.
    fn fallback(&self, lead: &LeadRow) -> Option<FallbackCause> {
        if !lead.queued || lead.status == LeadStatus::Spam {
            return None;
        }
        let last = lead.stints.last()?;
        if lead.stints.len() > 1 {
            let config = last.version.and_then(|v| self.versions.get(&v))?;
            return (config.fallback_queue == last.owner).then_some(FallbackCause::Escalated);
        }
        lead.facts.fallback
    }

    fn add_lead(&self, tally: &mut Tally, view: &LeadView<'_>) {
        let lead = view.lead;
        let f = &mut tally.figures;
        f.leads += 1;
        if lead.status == LeadStatus::Spam {
            f.spam += 1;
            return;
        }
        if lead.queued {
            f.queued += 1;
        } else {
            f.assigned += 1;
        }
        f.escalations += u64::from(lead.escalations);
        let first = lead.stints.first();
        if first.is_some_and(|s| !s.queue) {
            tally.to_rep += 1;
        }
        if lead.stints.len() > 1 || lead.escalations > 0 {
            tally.figures.reassigned += 1;
        }
        if let Some(ms) = lead.facts.routed_ms {
            tally.to_assignment.add(ms as i64, None);
        }
        fn owner_of(s: &Stint) -> Option<(&str, Option<u64>)> {
            (!s.queue).then_some((s.owner.as_str(), s.version))
        }
        if let Some(delivered) = view.first_delivery {
            let (wall, working) =
                self.seconds(lead.received_at, delivered, first.and_then(owner_of));
            tally.to_notification.add(wall, working);
        }
        if let Some(touch) = lead.first_touch() {
            let (wall, working) = self.seconds(
                lead.received_at,
                touch,
                lead.stints.last().and_then(owner_of),
            );
            tally.to_touch.add(wall, working);
        }
        let state = lead.sla_at(self.now);
        tally.steps(&lead.stints, state);
        tally.sla(state);
        tally.outcomes(lead);
    }

    fn add_stint(&self, tally: &mut Tally, view: &LeadView<'_>, i: usize) {
        let lead = view.lead;
        let stint = &lead.stints[i];
        let current = i + 1 == lead.stints.len();
        let f = &mut tally.figures;
        f.leads += 1;
        if stint.queue {
            f.queued += 1;
        } else {
            f.assigned += 1;
            tally.to_rep += 1;
        }
        match stint.ended {
            Some(Ended::Breached) => {
                f.escalations += 1;
                f.reassigned += 1;
            }
            Some(Ended::Reassigned) => f.reassigned += 1,
            None => {}
        }
        let owner = (!stint.queue).then_some((stint.owner.as_str(), stint.version));
        if stint.n == 1 {
            if let Some(ms) = lead.facts.routed_ms {
                tally.to_assignment.add(ms as i64, None);
            }
            if let Some(delivered) = view.first_delivery {
                let (wall, working) = self.seconds(lead.received_at, delivered, owner);
                tally.to_notification.add(wall, working);
            }
        }
        let touch = lead.first_touch().filter(|_| current);
        if let Some(touch) = touch {
            let (wall, working) = self.seconds(stint.at, touch, owner);
            tally.to_touch.add(wall, working);
        }
        let state = match (stint.due, stint.ended) {
            (None, _) => None,
            (Some(_), Some(Ended::Breached)) => Some(SlaState::Breached),
            (Some(due), None) if current => Some(match touch {
                Some(t) if t <= due => SlaState::Met,
                Some(_) => SlaState::Breached,
                None if due <= self.now => SlaState::Breached,
                None => SlaState::Pending,
            }),
            // Moved by hand before anyone judged it: it counts neither way.
            (Some(_), Some(Ended::Reassigned)) | (Some(_), None) => None,
        };
        tally.steps([stint], state);
        tally.sla(state);
        if current {
            tally.outcomes(lead);
        }
    }

    /// The report.
    pub fn report(&self) -> Report {
        let mut first_delivery: HashMap<&str, Timestamp> = HashMap::new();
        let mut notifications = Notifications::default();
        for n in self.notifications {
            notifications.total += 1;
            match n.status {
                NotificationStatus::Delivered => notifications.delivered += 1,
                NotificationStatus::Dead => notifications.dead += 1,
                NotificationStatus::Pending => notifications.pending += 1,
            }
            if n.attempts > 1 {
                notifications.retried += 1;
            }
            if let Some(at) = n.delivered_at {
                let first = first_delivery.entry(&n.lead_id).or_insert(at);
                *first = (*first).min(at);
            }
        }
        let mut overall = Tally::default();
        let mut groups: [BTreeMap<String, Tally>; 4] = Default::default();
        let mut coverage = Coverage::default();
        let mut per_day: BTreeMap<Date, u64> = BTreeMap::new();
        for lead in self.leads {
            let view = LeadView {
                lead,
                first_delivery: first_delivery.get(lead.lead_id.as_str()).copied(),
            };
            *per_day
                .entry(lead.received_at.to_zoned(self.tz.0.clone()).date())
                .or_default() += 1;
            self.add_lead(&mut overall, &view);
            let [by_pool, by_rep, by_rule, by_source] = &mut groups;
            if let Some(rule) = &lead.rule {
                self.add_lead(by_rule.entry(rule.clone()).or_default(), &view);
            }
            self.add_lead(by_source.entry(lead.source.clone()).or_default(), &view);
            if lead.status != LeadStatus::Spam {
                for (i, stint) in lead.stints.iter().enumerate() {
                    if let Some(pool) = &stint.pool {
                        self.add_stint(by_pool.entry(pool.clone()).or_default(), &view, i);
                    }
                    if !stint.queue {
                        self.add_stint(by_rep.entry(stint.owner.clone()).or_default(), &view, i);
                    }
                }
            }
            if lead.status == LeadStatus::Spam {
                coverage.spam += 1;
                continue;
            }
            coverage.leads += 1;
            if lead.queued {
                coverage.queued += 1;
            } else {
                coverage.to_rep += 1;
            }
            if let Some(cause) = self.fallback(lead) {
                coverage.fallback += 1;
                *coverage.fallback_reasons.entry(cause.as_str()).or_default() += 1;
            }
            if lead.facts.data_quality {
                coverage.data_quality += 1;
            }
        }
        coverage.to_rep_share = share(coverage.to_rep, coverage.leads);
        coverage.queued_share = share(coverage.queued, coverage.leads);
        coverage.fallback_share = share(coverage.fallback, coverage.leads);
        coverage.uncovered_hours = coverage::uncovered_seconds(self.timeline, self.from, self.to)
            .into_iter()
            .map(|(pool, seconds)| (pool, round(seconds as f64 / 3600.0, 2)))
            .collect();
        let members = self
            .timeline
            .last()
            .map(|(_, config)| {
                config
                    .pools
                    .values()
                    .map(|p| (p.id.clone(), p.reps.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let finish = |m: BTreeMap<String, Tally>| -> BTreeMap<String, Figures> {
            m.into_iter().map(|(k, t)| (k, t.finish())).collect()
        };
        let [by_pool, by_rep, by_rule, by_source] = groups;
        Report {
            from: self.from,
            to: self.to,
            timezone: self.tz.1.to_string(),
            as_of: self.now,
            overall: overall.finish(),
            by_pool: finish(by_pool),
            by_rep: finish(by_rep),
            by_rule: finish(by_rule),
            by_source: finish(by_source),
            leads_per_day: days(self.from, self.to, self.tz.0)
                .into_iter()
                .map(|date| DayCount {
                    date,
                    leads: per_day.get(&date).copied().unwrap_or(0),
                })
                .collect(),
            coverage,
            notifications,
            fairness: ledger::ledgers(self.leads, &members),
        }
    }
}

/// The local dates of `[from, to)` in `tz`.
fn days(from: Timestamp, to: Timestamp, tz: &TimeZone) -> Vec<Date> {
    let last_instant = to - jiff::SignedDuration::from_nanos(1);
    let (first, last) = (
        from.to_zoned(tz.clone()).date(),
        last_instant.max(from).to_zoned(tz.clone()).date(),
    );
    std::iter::successors(Some(first), |d| d.tomorrow().ok())
        .take_while(|d| *d <= last)
        .collect()
}

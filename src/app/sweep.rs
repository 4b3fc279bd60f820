//! The scheduled sweep: takes the due steps of SLA schedules (reminders, alerts, reassigning
//! leads whose owner missed the deadline) and retries due
//! notifications, found with a Query on the sparse due index (never a Scan), page by page
//! until nothing is due or the time is up; then repairs each pool's rotation, giving the
//! turns of requests that died between taking a ticket and storing their lead to later leads.
//! Safe to run twice at once and against concurrent acknowledgements (see
//! [`super::escalate`]).

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde::Serialize;

use crate::metrics::emf::{self, Unit};
use crate::store::{DueKind, StoreResult, DUE_SHARDS};

use super::clock::invocation_deadline;
use super::config::ActiveConfig;
use super::deliver::OutboxTally;
use super::escalate::Escalated;
use super::state::App;

/// Due items read per Query page (each page is handled concurrently).
const PAGE_SIZE: i32 = 25;
/// Time kept back from a scheduled invocation's deadline to finish the page in hand.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(10);
/// The budget of a sweep whose invocation deadline cannot be believed: well inside the
/// sweeper function's 60 s timeout.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(40);
/// How long after a ticket was taken its request is surely over (longer than any function
/// timeout), so an unused ticket that old is a turn to give to a later lead.
pub const TICKET_LEASE_SECONDS: i64 = 120;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Owners reminded of a deadline (before it, or that it passed).
    pub reminded: u64,
    /// Alerts to managers' channels about leads still not acknowledged.
    pub alerted: u64,
    /// Leads reassigned to another rep.
    pub reassigned: u64,
    /// Leads sent to a queue (policy, or escalations used up).
    pub queued: u64,
    /// Leads acknowledged, escalated or leased by someone else meanwhile: left alone.
    pub left_alone: u64,
    /// Items that failed (left for the next sweep; see the logs).
    pub errors: u64,
    /// Notifications.
    pub notifications: OutboxTally,
    /// Rotation turns given back to their pools (tickets of requests that died).
    pub turns_repaired: u64,
    /// Query pages read.
    pub pages: u64,
    /// True if the sweep stopped at its time limit with work possibly left.
    pub stopped_early: bool,
    /// The time the sweep had, in seconds.
    pub budget_seconds: u64,
    /// Set when the invocation's deadline was not believed and [`DEFAULT_BUDGET`] was used
    /// instead: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_note: Option<String>,
}

/// One scheduled invocation: sweeps until [`SAFETY_MARGIN`] before `deadline_ms` (Unix
/// milliseconds, as Lambda's context gives it). A deadline in the past (an emulator's relative
/// one) or absurdly far is not believed: the sweep logs a warning, runs for
/// [`DEFAULT_BUDGET`] and says so in its report.
pub async fn scheduled(app: &App, deadline_ms: u64) -> StoreResult<SweepReport> {
    let now = Instant::now();
    let (budget, note) = match invocation_deadline(deadline_ms) {
        Ok(deadline) => (
            deadline
                .saturating_duration_since(now)
                .saturating_sub(SAFETY_MARGIN),
            None,
        ),
        Err(bad) => {
            let seconds = DEFAULT_BUDGET.as_secs();
            tracing::warn!(%bad, budget_seconds = seconds, "sweeping with the default budget");
            let note = format!("{bad}; swept for the default {seconds} s");
            (DEFAULT_BUDGET, Some(note))
        }
    };
    let mut report = match app.sweep(now + budget).await {
        Ok(report) => report,
        Err(error) => {
            emf::store_error(error.kind());
            emf::emit(&[], &[("SweepFailed", 1.0, Unit::Count)]);
            return Err(error);
        }
    };
    report.budget_seconds = budget.as_secs();
    report.budget_note = note;
    let n = |v: u64| v as f64;
    emf::emit(
        &[],
        &[
            ("SweepFailed", 0.0, Unit::Count),
            (
                "SlaBreaches",
                n(report.reassigned + report.queued),
                Unit::Count,
            ),
            ("SlaReminders", n(report.reminded), Unit::Count),
            ("SlaAlerts", n(report.alerted), Unit::Count),
            ("SweepItemErrors", n(report.errors), Unit::Count),
            (
                "NotificationsDelivered",
                n(report.notifications.delivered),
                Unit::Count,
            ),
            (
                "NotificationsDead",
                n(report.notifications.dead),
                Unit::Count,
            ),
            (
                "SweepStoppedEarly",
                n(u64::from(report.stopped_early)),
                Unit::Count,
            ),
            (
                "SweepDuration",
                now.elapsed().as_millis() as f64,
                Unit::Milliseconds,
            ),
        ],
    );
    Ok(report)
}

impl App {
    /// Sweeps SLA breaches, then due notifications, page by page until nothing is due or
    /// `stop_at` is reached (checked before each page, so a sweep overruns by at most one),
    /// then repairs the rotations of the active config's pools.
    pub async fn sweep(&self, stop_at: Instant) -> StoreResult<SweepReport> {
        let mut report = SweepReport {
            budget_seconds: stop_at
                .saturating_duration_since(Instant::now())
                .as_secs_f64()
                .round() as u64,
            ..SweepReport::default()
        };
        for kind in [DueKind::Sla, DueKind::Outbox] {
            for shard in 0..DUE_SHARDS {
                let mut cursor: Option<String> = None;
                loop {
                    if Instant::now() >= stop_at {
                        report.stopped_early = true;
                        return Ok(report);
                    }
                    let now = self.now().as_second();
                    let page = self
                        .store
                        .due(kind, shard, now, cursor.as_deref(), PAGE_SIZE)
                        .await?;
                    report.pages += 1;
                    match kind {
                        DueKind::Sla => {
                            let results =
                                join_all(page.items.iter().map(|i| self.escalate(i))).await;
                            for result in results {
                                match result {
                                    Ok((escalated, tally)) => {
                                        match escalated {
                                            Escalated::Reminded => report.reminded += 1,
                                            Escalated::Alerted => report.alerted += 1,
                                            Escalated::Reassigned => report.reassigned += 1,
                                            Escalated::Queued => report.queued += 1,
                                            Escalated::LeftAlone => report.left_alone += 1,
                                        }
                                        report.notifications = report.notifications.plus(tally);
                                    }
                                    Err(e) => {
                                        tracing::error!(error = %e, "escalation failed; the next sweep retries");
                                        emf::store_error(e.kind());
                                        report.errors += 1;
                                    }
                                }
                            }
                        }
                        DueKind::Outbox => {
                            let results =
                                join_all(page.items.iter().map(|i| self.retry_notification(i)))
                                    .await;
                            for result in results {
                                match result {
                                    Ok(t) => report.notifications = report.notifications.plus(t),
                                    Err(e) => {
                                        tracing::error!(error = %e, "notification retry failed");
                                        emf::store_error(e.kind());
                                        report.errors += 1;
                                    }
                                }
                            }
                        }
                    }
                    match page.next {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
            }
        }
        if Instant::now() < stop_at {
            report.turns_repaired = self.repair_rotations().await?;
        } else {
            report.stopped_early = true;
        }
        Ok(report)
    }

    /// Gives the turns of dead requests back to their pools: tickets taken more than
    /// [`TICKET_LEASE_SECONDS`] ago that no stored lead uses.
    async fn repair_rotations(&self) -> StoreResult<u64> {
        let ActiveConfig::Usable { config, .. } = self.active_config().await? else {
            return Ok(0);
        };
        let now = self.now().as_second();
        let mut pools: Vec<_> = config.pools.values().collect();
        pools.sort_by(|a, b| a.id.cmp(&b.id));
        let mut repaired = 0;
        for pool in pools {
            let repair = self
                .store
                .repair_rotation(&pool.id, now, TICKET_LEASE_SECONDS, &pool.reps)
                .await?;
            let pool = &pool.id;
            if !repair.returned.is_empty() {
                tracing::info!(%pool, turns = ?repair.returned, "rotation turns of dead requests given back");
            }
            repaired += repair.returned.len() as u64;
        }
        Ok(repaired)
    }
}

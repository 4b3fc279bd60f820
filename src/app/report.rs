//! The routing report and the fairness ledger of a period: the rows of the leads that arrived
//! in it (one Query per UTC day of the log index), the config versions in force over it and
//! those the leads were routed under, then `domain::report` computes every figure.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Serialize;

use crate::domain::config::RoutingConfig;
use crate::domain::report::{Report, ReportInput};
use crate::store::StoreResult;

use super::state::App;

/// A report with what reading it cost.
#[derive(Debug, Clone, Serialize)]
pub struct ReportAnswer {
    /// The report.
    #[serde(flatten)]
    pub report: Report,
    /// What it read.
    pub reads: Reads,
    /// Where the time went, in milliseconds.
    pub timing: Timing,
}

/// Where a report's time went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timing {
    /// Reading the rows and config versions.
    pub read_ms: u64,
    /// Computing every figure.
    pub compute_ms: u64,
}

/// What a report read from storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Reads {
    /// Leads read.
    pub leads: usize,
    /// Notifications read.
    pub notifications: usize,
    /// Query calls on the log index.
    pub queries: u64,
    /// Read capacity units those Queries consumed (eventually consistent reads of the
    /// projected rows).
    pub read_units: f64,
    /// Config versions read.
    pub config_versions: usize,
}

impl App {
    /// The routing report of `[from, to)`, with days counted in `tz` (named `tz_name`).
    pub async fn report(
        &self,
        from: Timestamp,
        to: Timestamp,
        tz: &TimeZone,
        tz_name: &str,
    ) -> StoreResult<ReportAnswer> {
        let now = self.now();
        let started = std::time::Instant::now();
        let (rows, stamps) = tokio::try_join!(
            self.store.period_rows(from, to),
            self.store.config_versions()
        )?;
        // The versions in force over the period: the last one published before it starts,
        // and every one published during it; and those the leads were routed under.
        let in_force: Vec<(u64, Timestamp)> = {
            let stamps: Vec<(u64, Timestamp)> =
                stamps.iter().map(|v| (v.version, v.created_at)).collect();
            let before = stamps.iter().rfind(|(_, at)| *at <= from);
            before
                .into_iter()
                .chain(stamps.iter().filter(|(_, at)| from < *at && *at < to))
                .copied()
                .collect()
        };
        let mut wanted: Vec<u64> = in_force.iter().map(|(v, _)| *v).collect();
        for lead in &rows.leads {
            for stint in &lead.stints {
                if let Some(v) = stint.version {
                    if !wanted.contains(&v) {
                        wanted.push(v);
                    }
                }
            }
        }
        let mut versions: HashMap<u64, RoutingConfig> = HashMap::new();
        for version in wanted {
            if let Some(config) = self.parsed_version(version).await? {
                versions.insert(version, config);
            }
        }
        let timeline: Vec<(Timestamp, &RoutingConfig)> = in_force
            .iter()
            .filter_map(|(v, at)| versions.get(v).map(|c| (*at, c)))
            .collect();
        let input = ReportInput {
            from,
            to,
            tz: (tz, tz_name),
            now,
            leads: &rows.leads,
            notifications: &rows.notifications,
            versions: &versions,
            timeline: &timeline,
        };
        let read_ms = started.elapsed().as_millis() as u64;
        let report = input.report();
        let compute_ms = started.elapsed().as_millis() as u64 - read_ms;
        Ok(ReportAnswer {
            timing: Timing {
                read_ms,
                compute_ms,
            },
            report,
            reads: Reads {
                leads: rows.leads.len(),
                notifications: rows.notifications.len(),
                queries: rows.queries,
                read_units: crate::domain::report::stats::round(rows.read_units, 1),
                config_versions: versions.len(),
            },
        })
    }
}

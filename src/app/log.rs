//! The lead log: leads of a period, newest first, filtered, one page at a time, as lines a
//! person (or a spreadsheet) reads. Storage does the filtering on its log indexes.

use serde::Serialize;

use crate::domain::model::{LeadStatus, Outcome, SlaState};
use crate::domain::report::row::LeadRow;
use crate::store::{LogPage, LogQuery, StoreResult};

use super::state::App;

/// One line of the lead log (the same in JSON and CSV).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    /// The lead's id.
    pub lead_id: String,
    /// When it arrived (RFC 3339, UTC).
    pub received_at: jiff::Timestamp,
    /// The source key's name.
    pub source: String,
    /// open, acknowledged, queued, closed or spam.
    pub status: LeadStatus,
    /// `rep` or `queue`.
    pub owner_kind: &'static str,
    /// The current owner's id.
    pub owner: String,
    /// The pool the owner came through.
    pub pool: Option<String>,
    /// The rule that routed it.
    pub rule: Option<String>,
    /// The person's email.
    pub email: Option<String>,
    /// The person's name.
    pub name: Option<String>,
    /// The company.
    pub company: Option<String>,
    /// ISO country code.
    pub country: Option<String>,
    /// pending, met or breached (at the time of the request), if it has an SLA.
    pub sla: Option<SlaState>,
    /// The current owner's deadline.
    pub sla_due_at: Option<jiff::Timestamp>,
    /// When it was acknowledged.
    pub acknowledged_at: Option<jiff::Timestamp>,
    /// SLA escalations.
    pub escalations: u32,
    /// The latest outcome recorded.
    pub outcome: Option<Outcome>,
    /// The value recorded when it was won.
    pub won_value: Option<f64>,
}

impl LogLine {
    /// The line of `row`, with its SLA judged at `now`.
    pub fn of(row: &LeadRow, now: jiff::Timestamp) -> Self {
        let facts = &row.facts;
        Self {
            lead_id: row.lead_id.clone(),
            received_at: row.received_at,
            source: row.source.clone(),
            status: row.status,
            owner_kind: if row.queued { "queue" } else { "rep" },
            owner: row.owner_id.clone(),
            pool: row.pool.clone(),
            rule: row.rule.clone(),
            email: facts.email.clone(),
            name: facts.name.clone(),
            company: facts.company.clone(),
            country: facts.country.clone(),
            sla: row.sla_at(now),
            sla_due_at: row.sla_due_at,
            acknowledged_at: row.acknowledged_at,
            escalations: row.escalations,
            outcome: row.outcome,
            won_value: row.won_value,
        }
    }
}

/// One page of the log as lines.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogLines {
    /// The leads, newest first.
    pub leads: Vec<LogLine>,
    /// Pass back as `cursor` for the next page; absent at the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl App {
    /// One page of the lead log.
    pub async fn lead_log(&self, query: &LogQuery) -> StoreResult<LogLines> {
        let LogPage { rows, next } = self.store.lead_log(query).await?;
        Ok(LogLines {
            leads: rows.iter().map(|r| LogLine::of(r, query.now)).collect(),
            next,
        })
    }
}

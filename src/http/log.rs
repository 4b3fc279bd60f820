//! `GET /leads`: the lead log (a key allowed to read leads), as JSON or CSV.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

use crate::app::log::LogLines;
use crate::app::App;
use crate::store::LogQuery;

use super::params::Params;
use super::problem::Problem;

/// The lead log's parameters.
const KNOWN: &[&str] = &[
    "from",
    "to",
    "tz",
    "owner",
    "pool",
    "rule",
    "source",
    "status",
    "sla",
    "escalated",
    "q",
    "limit",
    "cursor",
    "format",
];
/// Days the log covers when `from` is not given.
const DEFAULT_DAYS: i64 = 30;

/// A value of a snake_case enum, by its stored name.
pub fn named<T: DeserializeOwned>(value: &str, names: &[&str]) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(value.to_string()))
        .map_err(|_| format!("expected one of: {}", names.join(", ")))
}

/// Whether the client asked for CSV (`format=csv`, or `Accept: text/csv`).
pub fn wants_csv(params: &Params, headers: &HeaderMap) -> bool {
    match params.get("format") {
        Some(format) => format.eq_ignore_ascii_case("csv"),
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/csv")),
    }
}

/// `GET /leads`: leads of a period (default the last 30 days), newest first, filtered by
/// owner, pool, rule, source, status, SLA state, escalation and a search on email, name or
/// company; `limit` per page (50, at most 500; CSV 1,000, at most 5,000) and `cursor` for the
/// next one.
pub async fn get_leads(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let params = Params::new(pairs, KNOWN)?;
    if let Some(format) = params.get("format") {
        if !matches!(format.to_ascii_lowercase().as_str(), "csv" | "json") {
            return Err(super::params::bad("format", "expected csv or json"));
        }
    }
    let csv = wants_csv(&params, &headers);
    let now = app.now();
    let period = params.period(now, DEFAULT_DAYS)?;
    let (default_limit, max_limit) = if csv { (1000, 5000) } else { (50, 500) };
    let query = LogQuery {
        from: period.from,
        to: period.to,
        owner: params.get("owner").map(str::to_string),
        pool: params.get("pool").map(str::to_string),
        rule: params.get("rule").map(str::to_string),
        source: params.get("source").map(str::to_string),
        status: params.parsed("status", |v| {
            named(v, &["open", "acknowledged", "queued", "closed", "spam"])
        })?,
        sla: params.parsed("sla", |v| named(v, &["pending", "met", "breached"]))?,
        escalated: params.flag("escalated")?,
        search: params.get("q").map(str::to_string),
        now,
        limit: params.number("limit", 1, max_limit, default_limit)?,
        cursor: params.get("cursor").map(str::to_string),
    };
    let lines = app.lead_log(&query).await.map_err(|e| match e {
        crate::store::StoreError::Invalid(why) if why.starts_with("bad cursor") => {
            super::params::bad("cursor", why)
        }
        other => other.into(),
    })?;
    if csv {
        return csv_response(&lines);
    }
    Ok(Json(lines).into_response())
}

/// The page as CSV with a header row; the next page's cursor in `X-Next-Cursor`.
fn csv_response(lines: &LogLines) -> Result<Response, Problem> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if lines.leads.is_empty() {
        writer
            .write_record(CSV_HEADER)
            .map_err(|e| Problem::internal(e.to_string()))?;
    }
    for line in &lines.leads {
        writer
            .serialize(line)
            .map_err(|e| Problem::internal(e.to_string()))?;
    }
    let body = writer
        .into_inner()
        .map_err(|e| Problem::internal(e.to_string()))?;
    let mut response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response();
    if let Some(next) = &lines.next {
        if let Ok(value) = HeaderValue::from_str(next) {
            response.headers_mut().insert("x-next-cursor", value);
        }
    }
    Ok(response)
}

/// The CSV columns (the fields of `LogLine`), for a page without rows.
pub const CSV_HEADER: &[&str] = &[
    "lead_id",
    "received_at",
    "source",
    "status",
    "owner_kind",
    "owner",
    "pool",
    "rule",
    "email",
    "name",
    "company",
    "country",
    "sla",
    "sla_due_at",
    "acknowledged_at",
    "escalations",
    "outcome",
    "won_value",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::log::LogLine;
    use crate::domain::model::LeadStatus;

    #[test]
    fn the_empty_header_matches_the_serialised_fields() {
        let line = LogLine {
            lead_id: "l".into(),
            received_at: "2026-11-24T15:00:00Z".parse().unwrap(),
            source: "web".into(),
            status: LeadStatus::Open,
            owner_kind: "rep",
            owner: "ann".into(),
            pool: None,
            rule: None,
            email: None,
            name: None,
            company: None,
            country: None,
            sla: None,
            sla_due_at: None,
            acknowledged_at: None,
            escalations: 0,
            outcome: None,
            won_value: None,
        };
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.serialize(&line).unwrap();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        assert_eq!(text.lines().next().unwrap(), CSV_HEADER.join(","));
    }

    #[test]
    fn a_page_as_csv_quotes_what_needs_quoting_and_reads_back() {
        let line = LogLine {
            lead_id: "l".into(),
            received_at: "2026-11-24T15:00:00Z".parse().unwrap(),
            source: "web".into(),
            status: LeadStatus::Open,
            owner_kind: "rep",
            owner: "ann".into(),
            pool: None,
            rule: None,
            email: Some("zoe@firm.com".into()),
            name: Some("Zoë \"Z\" O'Brien".into()),
            company: Some("Line one\nline two, Ltd.".into()),
            country: None,
            sla: None,
            sla_due_at: None,
            acknowledged_at: None,
            escalations: 0,
            outcome: None,
            won_value: Some(12.5),
        };
        let lines = LogLines {
            leads: vec![line.clone()],
            next: Some("abc".into()),
        };
        let response = csv_response(&lines).unwrap();
        assert_eq!(response.headers()["x-next-cursor"], "abc");
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.serialize(&line).unwrap();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        assert!(text.contains("\"Line one\nline two, Ltd.\""), "{text}");
        assert!(text.contains("\"Zoë \"\"Z\"\" O'Brien\""), "{text}");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(&row[10], "Line one\nline two, Ltd.");
        assert_eq!(&row[9], "Zoë \"Z\" O'Brien");
        assert_eq!(&row[17], "12.5");
    }
}

//! Leads: the lead log with its filters and CSV export, and one lead's page (who has it and
//! why, its SLA, its timeline of history and notifications) with acknowledge, close,
//! reassign by hand and record an outcome.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};

use crate::app::reassign::{ReassignError, Target};
use crate::app::App;
use crate::domain::access::Permission;
use crate::domain::lifecycle::StatusAction;
use crate::domain::model::{LeadStatus, Outcome};
use crate::http::extract::LimitedBody;
use crate::http::log::named;
use crate::http::params::Params;
use crate::store::{LogQuery, OutcomeRecord, StatusOutcome};

use super::form::{back, checked, MAX_FORM};
use super::page::{self, Section};
use super::session::Session;
use super::view::{self, not_found, store_failed};

const FILTERS: &[&str] = &[
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
    "cursor",
    "notice",
];

fn query(
    app: &App,
    pairs: Vec<(String, String)>,
    limit: usize,
) -> Result<(LogQuery, Params), String> {
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let params = Params::new(pairs, FILTERS).map_err(|_| "unknown filter".to_string())?;
    let now = app.now();
    let period = params
        .period(now, 30)
        .map_err(|_| "bad period".to_string())?;
    let bad = |_| "bad filter value".to_string();
    Ok((
        LogQuery {
            from: period.from,
            to: period.to,
            owner: params.get("owner").map(str::to_string),
            pool: params.get("pool").map(str::to_string),
            rule: params.get("rule").map(str::to_string),
            source: params.get("source").map(str::to_string),
            status: params
                .parsed("status", |v| {
                    named(v, &["open", "acknowledged", "queued", "closed", "spam"])
                })
                .map_err(bad)?,
            sla: params
                .parsed("sla", |v| named(v, &["pending", "met", "breached"]))
                .map_err(bad)?,
            escalated: params.flag("escalated").map_err(bad)?,
            search: params.get("q").map(str::to_string),
            now,
            limit,
            cursor: params.get("cursor").map(str::to_string),
        },
        params,
    ))
}

fn status_tag(status: LeadStatus) -> Markup {
    let class = match status {
        LeadStatus::Open => "tag warn",
        LeadStatus::Acknowledged | LeadStatus::Closed => "tag ok",
        LeadStatus::Queued => "tag",
        LeadStatus::Spam => "tag bad",
    };
    html! { span class=(class) { (status) } }
}

/// `GET /console/leads`: the lead log.
pub async fn list(
    State(app): State<Arc<App>>,
    session: Session,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    list_for(&app, &session, pairs).await
}

/// The lead log page for these filters.
pub async fn list_for(app: &App, session: &Session, pairs: Vec<(String, String)>) -> Response {
    if !session.may(Permission::ReadLeads) {
        return page::forbidden(session, Permission::ReadLeads);
    }
    let (q, params) = match query(app, pairs, 50) {
        Ok(q) => q,
        Err(why) => return view::error(StatusCode::BAD_REQUEST, "Bad filter", &why),
    };
    let lines = match app.lead_log(&q).await {
        Ok(l) => l,
        Err(e) => return store_failed(e),
    };
    let value = |name: &str| params.get(name).unwrap_or_default().to_string();
    let keep: Vec<(String, String)> = FILTERS
        .iter()
        .filter(|f| !matches!(**f, "cursor" | "notice"))
        .filter_map(|f| params.get(f).map(|v| (f.to_string(), v.to_string())))
        .collect();
    let encoded = serde_urlencoded::to_string(&keep).unwrap_or_default();
    let select = |name: &str, options: &[&str]| {
        let current = value(name);
        html! {
            select id=(name) name=(name) {
                option value="" { "any" }
                @for o in options { option value=(o) selected[current == *o] { (o) } }
            }
        }
    };
    let body = html! {
        form.filters method="get" action="/console/leads" aria-label="Filters" {
            div { label for="q" { "Search" } input #q name="q" value=(value("q")) placeholder="email, name or company"; }
            div { label for="from" { "From" } input #from name="from" type="date" value=(value("from")); }
            div { label for="to" { "To" } input #to name="to" type="date" value=(value("to")); }
            div { label for="owner" { "Owner" } input #owner name="owner" value=(value("owner")) size="10"; }
            div { label for="pool" { "Pool" } input #pool name="pool" value=(value("pool")) size="10"; }
            div { label for="rule" { "Rule" } input #rule name="rule" value=(value("rule")) size="10"; }
            div { label for="source" { "Source" } input #source name="source" value=(value("source")) size="10"; }
            div { label for="status" { "Status" } (select("status", &["open", "acknowledged", "queued", "closed", "spam"])) }
            div { label for="sla" { "SLA" } (select("sla", &["pending", "met", "breached"])) }
            div { label for="escalated" { "Escalated" } (select("escalated", &["true", "false"])) }
            button type="submit" { "Filter" }
            a.button.secondary href={"/console/leads.csv?" (encoded)} { "Export CSV" }
        }
        div.table-wrap {
            table {
                thead { tr {
                    th { "Received" } th { "Person" } th { "Company" } th { "Status" } th { "Owner" }
                    th { "Pool" } th { "Rule" } th { "SLA" } th { "Source" }
                } }
                tbody {
                    @if lines.leads.is_empty() { tr { td colspan="9" { span.muted { "No leads match." } } } }
                    @for l in &lines.leads {
                        tr {
                            td { a href={"/console/leads/" (l.lead_id)} { (view::when(l.received_at)) } }
                            td { (view::or_dash(l.name.as_deref().or(l.email.as_deref()))) }
                            td { (view::or_dash(l.company.as_deref())) }
                            td { (status_tag(l.status)) }
                            td { (l.owner) }
                            td { (view::or_dash(l.pool.as_deref())) }
                            td { (view::or_dash(l.rule.as_deref())) }
                            td { (view::or_dash(l.sla.map(|s| s.as_str()))) }
                            td { (l.source) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &lines.next {
            a.button.secondary href={"/console/leads?" (encoded) "&cursor=" (next)} { "Older leads" }
        }
    };
    page::layout(session, Section::Leads, "Leads", body)
}

/// `GET /console/leads.csv`: the filtered log as CSV (every page).
pub async fn csv(
    State(app): State<Arc<App>>,
    session: Session,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    if !session.may(Permission::ReadLeads) {
        return page::forbidden(&session, Permission::ReadLeads);
    }
    let Ok((mut q, _)) = query(&app, pairs, 1000) else {
        return view::error(StatusCode::BAD_REQUEST, "Bad filter", "check the filters");
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut wrote = false;
    for _ in 0..100 {
        let lines = match app.lead_log(&q).await {
            Ok(l) => l,
            Err(e) => return store_failed(e),
        };
        for line in &lines.leads {
            wrote |= writer.serialize(line).is_ok();
        }
        match lines.next {
            Some(next) => q.cursor = Some(next),
            None => break,
        }
    }
    if !wrote {
        let _ = writer.write_record(crate::http::log::CSV_HEADER);
    }
    let body = writer.into_inner().unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"leads.csv\"",
            ),
        ],
        body,
    )
        .into_response()
}

fn notice_text(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "acknowledged" => ("ok", "Acknowledged."),
        "closed" => ("ok", "Closed."),
        "reassigned" => ("ok", "Reassigned."),
        "outcome" => ("ok", "Outcome recorded."),
        "unchanged" => ("warn", "Nothing changed: it already was so."),
        "not-allowed" => ("bad", "Not allowed in the lead's status."),
        "changed-meanwhile" => (
            "bad",
            "The lead changed meanwhile; nothing was written. Look again.",
        ),
        "bad-target" => (
            "bad",
            "That owner cannot take it now (unknown, away or already the owner).",
        ),
        "bad-outcome" => (
            "bad",
            "Choose an outcome; a value is a number of at least 0.",
        ),
        _ => return None,
    })
}

/// `GET /console/leads/{id}`: one lead.
pub async fn detail(
    State(app): State<Arc<App>>,
    session: Session,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    if !session.may(Permission::ReadLeads) {
        return page::forbidden(&session, Permission::ReadLeads);
    }
    if uuid::Uuid::parse_str(&id).is_err() {
        return not_found("No lead with this id.");
    }
    let lead = match app.lead(&id).await {
        Ok(Some(l)) => l,
        Ok(None) => return not_found("No lead with this id."),
        Err(e) => return store_failed(e),
    };
    let config = match app.active_config().await {
        Ok(crate::app::config::ActiveConfig::Usable { config, .. }) => Some(config),
        _ => None,
    };
    let notice = pairs
        .iter()
        .find(|(k, _)| k == "notice")
        .and_then(|(_, v)| notice_text(v));
    let person = [
        lead.lead.first_name.as_deref(),
        lead.lead.last_name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let title = if person.is_empty() {
        lead.lead
            .email
            .as_ref()
            .map_or("Lead".to_string(), |e| e.address.clone())
    } else {
        person
    };
    let action = |name: &str| format!("/console/leads/{id}/{name}");
    // History and notifications in one line of time (history first at the same instant).
    let mut timeline: Vec<((jiff::Timestamp, u8), Markup)> = lead
        .history
        .iter()
        .map(|h| {
            let entry = html! { li { div.when { (view::when(h.at)) " · " (format!("{:?}", h.event).to_lowercase()) } (h.reason) } };
            ((h.at, 0), entry)
        })
        .chain(lead.notifications.iter().map(|n| {
            let entry = html! { li { div.when { (view::when(n.message.occurred_at)) " · notification to " (n.channel.id) }
                (n.status.as_str()) " after " (n.attempts) " attempt(s)"
                @if let Some(e) = &n.last_error { " · " span.muted { (e) } } } };
            ((n.message.occurred_at, 1), entry)
        }))
        .collect();
    timeline.sort_by_key(|(k, _)| *k);
    let body = html! {
        @if let Some((kind, text)) = notice { (view::notice(kind, text)) }
        div.grid2 {
            div.card {
                h2 { "Who" }
                p { (view::or_dash(lead.lead.email.as_ref().map(|e| e.address.as_str())))
                    @if let Some(phone) = &lead.lead.phone { br; (phone) } }
                p { (view::or_dash(lead.lead.company.as_deref()))
                    @if let Some(c) = &lead.lead.country { " · " (c) } }
                p.muted { "From " (lead.source) ", " (view::when(lead.received_at)) }
            }
            div.card {
                h2 { "Where it is" }
                p { (status_tag(lead.status)) " " (lead.assignment.owner.name()) " (" (lead.assignment.owner.id()) ")" }
                @if let Some(due) = lead.sla_due_at { p { "Acknowledge by " (view::when(due)) } }
                @if let Some(state) = lead.sla_state { p { "SLA: " (state.as_str()) } }
                @if lead.escalations > 0 { p { (lead.escalations) " escalation(s)" } }
                @if let Some(o) = lead.outcome { p { "Outcome: " (o.as_str()) } }
            }
        }
        (view::said(&lead.lead))
        div.card { h2 { "Why" } p { (lead.assignment.reason) } }
        h2 { "Timeline" }
        ul.timeline { @for (_, entry) in &timeline { (entry) } }
        @if session.may(Permission::WorkLeads) {
            h2 { "Work it" }
            div.grid2 {
                div.card {
                    @if lead.status == LeadStatus::Open {
                        form method="post" action=(action("ack")) { (page::csrf(&session)) button type="submit" { "Acknowledge" } }
                        " "
                    }
                    @if lead.status != LeadStatus::Closed {
                        form.inline method="post" action=(action("close")) { (page::csrf(&session)) button.secondary type="submit" { "Close" } }
                    }
                }
                form.card method="post" action=(action("outcome")) {
                    (page::csrf(&session))
                    div.field { label for="outcome" { "Outcome" }
                        select #outcome name="outcome" { @for o in Outcome::ALL { option value=(o.as_str()) { (o.as_str()) } } } }
                    div.field { label for="value" { "Value " span.hint { "(optional)" } } input #value name="value" inputmode="decimal"; }
                    div.field { label for="reason" { "Reason " span.hint { "(optional)" } } input #reason name="reason" maxlength="500"; }
                    button type="submit" { "Record outcome" }
                }
            }
        }
        @if session.may(Permission::EditRouting) && matches!(lead.status, LeadStatus::Open | LeadStatus::Acknowledged | LeadStatus::Queued) {
            form.card method="post" action=(action("reassign")) {
                h2 { "Reassign by hand" }
                (page::csrf(&session))
                div.field { label for="to" { "To" }
                    select #to name="to" {
                        @if let Some(c) = &config {
                            optgroup label="Reps" { @for (id, r) in sorted(&c.reps) { option value={"rep:" (id)} { (r.name) } } }
                            optgroup label="Pools" { @for (id, p) in sorted(&c.pools) { option value={"pool:" (id)} { (p.name) } } }
                            optgroup label="Queues" { @for (id, q) in sorted(&c.queues) { option value={"queue:" (id)} { (q) } } }
                        }
                    }
                }
                div.field { label for="why" { "Why" } input #why name="reason" maxlength="500" size="40"; }
                button type="submit" { "Reassign" }
            }
        }
    };
    page::layout(&session, Section::Leads, &title, body)
}

fn sorted<T>(map: &std::collections::HashMap<String, T>) -> Vec<(&String, &T)> {
    let mut all: Vec<_> = map.iter().collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    all
}

/// `POST /console/leads/{id}/{ack|close|outcome|reassign}`.
pub async fn act(
    State(app): State<Arc<App>>,
    session: Session,
    Path((id, action)): Path<(String, String)>,
    LimitedBody(bytes): LimitedBody<MAX_FORM>,
) -> Response {
    let form = match checked(&session, &bytes) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    if uuid::Uuid::parse_str(&id).is_err() {
        return not_found("No lead with this id.");
    }
    let here = format!("/console/leads/{id}");
    let needs = match action.as_str() {
        "reassign" => Permission::EditRouting,
        _ => Permission::WorkLeads,
    };
    if !session.may(needs) {
        return page::forbidden(&session, needs);
    }
    let status = |outcome: StatusOutcome, done: &str| match outcome {
        StatusOutcome::Changed(_) => back(&here, done),
        StatusOutcome::Unchanged(_) => back(&here, "unchanged"),
        StatusOutcome::NotFound => not_found("No lead with this id."),
        _ => back(&here, "not-allowed"),
    };
    match action.as_str() {
        "ack" => match app.change_status(&id, StatusAction::Acknowledge).await {
            Ok(o) => status(o, "acknowledged"),
            Err(e) => store_failed(e),
        },
        "close" => match app.change_status(&id, StatusAction::Close).await {
            Ok(o) => status(o, "closed"),
            Err(e) => store_failed(e),
        },
        "outcome" => {
            let Some(outcome) = form.get("outcome").and_then(Outcome::parse) else {
                return back(&here, "bad-outcome");
            };
            let value = match form.get("value").map(str::parse::<f64>) {
                None => None,
                Some(Ok(v)) if v.is_finite() && v >= 0.0 => Some(v),
                Some(_) => return back(&here, "bad-outcome"),
            };
            let record = OutcomeRecord {
                outcome,
                at: app.now(),
                reason: form.get("reason").map(|r| r.chars().take(500).collect()),
                value,
                by: session.key.name.clone(),
            };
            match app.record_outcome(&id, &record).await {
                Ok(true) => back(&here, "outcome"),
                Ok(false) => not_found("No lead with this id."),
                Err(e) => store_failed(e),
            }
        }
        "reassign" => {
            let target = match form.get("to").and_then(|t| t.split_once(':')) {
                Some(("rep", r)) => Target::Rep(r.to_string()),
                Some(("pool", p)) => Target::Pool(p.to_string()),
                Some(("queue", q)) => Target::Queue(q.to_string()),
                _ => return back(&here, "bad-target"),
            };
            let reason = form.get("reason").unwrap_or_default();
            match app.reassign(&id, &target, reason, &session.actor()).await {
                Ok(_) => back(&here, "reassigned"),
                Err(ReassignError::NotFound) => not_found("No lead with this id."),
                Err(ReassignError::Store(e)) => store_failed(e),
                Err(ReassignError::BadTarget(_)) => back(&here, "bad-target"),
                Err(ReassignError::Changed) => back(&here, "changed-meanwhile"),
                Err(_) => back(&here, "not-allowed"),
            }
        }
        _ => not_found("No such action."),
    }
}

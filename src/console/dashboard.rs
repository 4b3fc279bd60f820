//! The dashboard: the routing report of a period (speed to lead by stage, SLA compliance,
//! coverage and the fallback share, reassignments, leads per day) and each pool's fairness
//! ledger as a chart of entitled against actual leads per rep.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, Markup};

use crate::app::App;
use crate::domain::access::Permission;
use crate::domain::report::stats::Stage;
use crate::domain::report::Figures;
use crate::http::params::Params;

use super::charts;
use super::page::{self, Section};
use super::session::Session;
use super::view;

fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.1}%", v * 100.0))
}

/// Seconds as a person reads them.
pub fn duration(seconds: Option<i64>) -> String {
    match seconds {
        None => "–".into(),
        Some(s) if s < 120 => format!("{s} s"),
        Some(s) if s < 7200 => format!("{} min", s / 60),
        Some(s) => format!("{:.1} h", s as f64 / 3600.0),
    }
}

fn stage_row(name: &str, stage: &Stage, ms: bool) -> Markup {
    let show = |v: Option<i64>| {
        if ms {
            v.map_or("–".into(), |v| format!("{v} ms"))
        } else {
            duration(v)
        }
    };
    html! {
        tr {
            th scope="row" { (name) }
            td.num { (stage.count) }
            td.num { (show(stage.median)) }
            td.num { (show(stage.p90)) }
            td.num { (if ms { "–".to_string() } else { show(stage.working_median) }) }
            td.num { (if ms { "–".to_string() } else { show(stage.working_p90) }) }
        }
    }
}

fn group_table(caption: &str, groups: &std::collections::BTreeMap<String, Figures>) -> Markup {
    html! {
        h2 { (caption) }
        div.table-wrap {
            table {
                thead { tr {
                    th { "" } th.num { "Leads" } th.num { "SLA met" } th.num { "Breached" }
                    th.num { "Compliance" } th.num { "Median to touch" } th.num { "Reassigned" } th.num { "Won" }
                } }
                tbody {
                    @for (name, f) in groups {
                        tr {
                            th scope="row" { (name) }
                            td.num { (f.leads) }
                            td.num { (f.sla.met) }
                            td.num { (f.sla.breached) }
                            td.num { (pct(f.sla.compliance)) }
                            td.num { (duration(f.speed_to_lead.to_first_touch_seconds.median)) }
                            td.num { (f.reassigned) }
                            td.num { (f.outcomes.won) }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /console?days=7|30` or `?from=&to=&tz=`.
pub async fn page(
    State(app): State<Arc<App>>,
    session: Session,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    if !session.may(Permission::ReadReports) {
        return super::leads::list_for(&app, &session, Vec::new()).await;
    }
    let days: i64 = pairs
        .iter()
        .find(|(k, _)| k == "days")
        .and_then(|(_, v)| v.parse().ok())
        .filter(|d| (1..=92).contains(d))
        .unwrap_or(7);
    let kept: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(k, v)| matches!(k.as_str(), "from" | "to" | "tz") && !v.is_empty())
        .collect();
    let period =
        match Params::new(kept, &["from", "to", "tz"]).and_then(|p| p.period(app.now(), days)) {
            Ok(p) => p,
            Err(_) => {
                return view::error(
                    axum::http::StatusCode::BAD_REQUEST,
                    "Bad period",
                    "Use dates like 2026-11-24 and an IANA time zone.",
                )
            }
        };
    let answer = match app
        .report(period.from, period.to, &period.tz, &period.tz_name)
        .await
    {
        Ok(a) => a,
        Err(e) => return view::store_failed(e),
    };
    let r = &answer.report;
    let o = &r.overall;
    let per_day: Vec<(String, f64)> = r
        .leads_per_day
        .iter()
        .map(|d| (d.date.strftime("%m-%d").to_string(), d.leads as f64))
        .collect();
    let body = html! {
        form.filters method="get" action="/console" aria-label="Period" {
            div { label for="days" { "Last" }
                select #days name="days" {
                    @for d in [1, 7, 30, 90] {
                        option value=(d) selected[d == days] { (d) " days" }
                    }
                }
            }
            div { label for="from" { "or from" } input #from name="from" type="date"; }
            div { label for="to" { "to" } input #to name="to" type="date"; }
            div { label for="tz" { "Time zone" } input #tz name="tz" value=(period.tz_name) size="16"; }
            button type="submit" { "Show" }
        }
        p.muted { "Leads that arrived from " (view::when(r.from)) " to " (view::when(r.to)) ", SLA as of " (view::when(r.as_of)) "." }
        div.kpis {
            div.kpi { div.value { (o.leads) } div.label { "leads (" (o.spam) " spam)" } }
            div.kpi { div.value { (pct(r.coverage.to_rep_share)) } div.label { "given to a rep" } }
            div.kpi { div.value { (pct(r.coverage.fallback_share)) } div.label { "in the fallback queue" } }
            div.kpi { div.value { (pct(o.sla.compliance)) } div.label { "SLA compliance (" (o.sla.met) " met, " (o.sla.breached) " breached, " (o.sla.pending) " pending)" } }
            div.kpi { div.value { (duration(o.speed_to_lead.to_first_touch_seconds.median)) } div.label { "median speed to first touch" } }
            div.kpi { div.value { (pct(o.reassignment_rate)) } div.label { "reassignment rate (" (o.escalations) " escalations)" } }
            div.kpi { div.value { (o.sla.reminders) } div.label { "reminders sent (" (o.sla.met_after_reminder) " then met, " (o.sla.alerts) " alerts to managers)" } }
        }
        div.card {
            h2 { "Leads per day" }
            (view::raw(charts::bars("Leads per day", &per_day)))
        }
        h2 { "Speed to lead" }
        div.table-wrap { table {
            thead { tr { th { "Stage" } th.num { "Leads" } th.num { "Median" } th.num { "p90" } th.num { "Median, working time" } th.num { "p90, working time" } } }
            tbody {
                (stage_row("Arrival to assignment (router)", &o.speed_to_lead.to_assignment_ms, true))
                (stage_row("Arrival to first notification", &o.speed_to_lead.to_first_notification_seconds, false))
                (stage_row("Arrival to first touch", &o.speed_to_lead.to_first_touch_seconds, false))
            }
        } }
        div.grid2 {
            div.card {
                h2 { "Coverage" }
                p { (r.coverage.to_rep) " to a rep, " (r.coverage.queued) " queued, " (r.coverage.data_quality) " missing required fields, " (r.coverage.spam) " spam." }
                @if !r.coverage.fallback_reasons.is_empty() {
                    p { "In the fallback queue because:" }
                    ul { @for (why, n) in &r.coverage.fallback_reasons { li { (why.replace('_', " ")) ": " (n) } } }
                }
                @if r.coverage.uncovered_hours.values().any(|h| *h > 0.0) {
                    p { "Hours with nobody available:" }
                    ul { @for (pool, h) in &r.coverage.uncovered_hours { @if *h > 0.0 { li { (pool) ": " (h) " h" } } } }
                }
            }
            div.card {
                h2 { "Notifications" }
                p { (r.notifications.delivered) " delivered, " (r.notifications.retried) " needed a retry, "
                    (r.notifications.dead) " dead, " (r.notifications.pending) " pending." }
                @if r.notifications.dead > 0 { p { a href="/console/notifications" { "See the dead notifications" } } }
                h2 { "Outcomes" }
                p { (o.outcomes.meeting) " meetings, " (o.outcomes.won) " won (" (o.outcomes.won_value) "), " (o.outcomes.lost) " lost; conversion " (pct(o.outcomes.conversion)) "." }
            }
        }
        h2 { "Fairness" }
        p.muted { "Each rep's entitled share counts only the leads they could have taken (available, not at a cap), by weight." }
        @for ledger in &r.fairness {
            div.card {
                h2 { "Pool " (ledger.pool) " · " (ledger.assigned) " assigned" }
                (view::raw(charts::pairs(&format!("Fairness in pool {}", ledger.pool),
                    &ledger.reps.iter().map(|l| (l.rep.clone(), l.entitled, l.actual as f64)).collect::<Vec<_>>())))
                p.legend { span style="background:#9fb3e0" {} "entitled" span style="background:#2456c7" {} "actual" }
                div.table-wrap { table {
                    thead { tr { th { "Rep" } th.num { "Entitled" } th.num { "Actual" } th.num { "Difference" } th.num { "Eligible for" } th { "Skipped" } } }
                    tbody { @for l in &ledger.reps { tr {
                        th scope="row" { (l.rep) } td.num { (format!("{:.2}", l.entitled)) } td.num { (l.actual) }
                        td.num { (format!("{:+.2}", l.difference)) } td.num { (l.eligible_for) }
                        td { @for (why, n) in &l.skips { span.tag { (why.replace('_', " ")) " " (n) } " " } }
                    } } }
                } }
            }
        }
        (group_table("By pool", &r.by_pool))
        (group_table("By rep", &r.by_rep))
        (group_table("By rule", &r.by_rule))
        (group_table("By source", &r.by_source))
        p.muted { "Read " (answer.reads.leads) " leads in " (answer.reads.queries) " queries (" (answer.reads.read_units) " read units)." }
    };
    page::layout(&session, Section::Dashboard, "Dashboard", body)
}

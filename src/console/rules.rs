//! Rules: the active config as readable tables (rules in order with conditions and
//! destinations; pools with members, strategy and weights); for an editor, the YAML with each
//! validation error shown at its path, a simulated lead against live state, a replay of a
//! period with its diff report, a publish with a message (based on the version shown, so an
//! edit made meanwhile is never overwritten); and the history with diffs and rollback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{html, Markup};

use crate::app::config::{Publish, PublishError};
use crate::app::replay::{JobStatus, ReplayProgress};
use crate::app::App;
use crate::domain::access::Permission;
use crate::domain::config::{Destination, Overflow, RoutingConfig};
use crate::domain::config_diff;
use crate::domain::lead::Lead;
use crate::domain::rules::ConfigError;
use crate::http::extract::LimitedBody;

use super::form::{back, permitted, MAX_FORM};
use super::page::{self, Section};
use super::session::Session;
use super::view::{self, store_failed};

fn destination(d: &Destination) -> String {
    match d {
        Destination::Rep(r) => format!("rep {r}"),
        Destination::Pool(p) => format!("pool {p}"),
        Destination::Queue(q) => format!("queue {q}"),
        Destination::AccountOwner => "the account's owner".into(),
    }
}

fn config_tables(config: &RoutingConfig) -> Markup {
    let mut pools: Vec<_> = config.pools.values().collect();
    pools.sort_by(|a, b| a.id.cmp(&b.id));
    html! {
        h2 { "Rules, in order" }
        div.table-wrap { table {
            thead { tr { th.num { "#" } th { "Rule" } th { "When" } th { "Goes to" } th { "SLA" } } }
            tbody { @for (i, r) in config.rules.iter().enumerate() { tr {
                td.num { (i + 1) }
                th scope="row" { (r.id) @if let Some(d) = &r.description { br; span.muted { (d) } } }
                td { (r.when.describe()) }
                td { (destination(&r.route)) }
                td { @if let Some(s) = &r.sla { (s.minutes) " min" } @else { span.muted { "–" } } }
            } } }
        } }
        h2 { "Pools" }
        div.table-wrap { table {
            thead { tr { th { "Pool" } th { "Strategy" } th { "Reps (weight)" } th { "Overflow" } th { "SLA" } } }
            tbody { @for p in pools { tr {
                th scope="row" { (p.name) br; span.muted { (p.id) } }
                td { (p.strategy.name()) }
                td { @for (i, rep) in p.reps.iter().enumerate() {
                    (config.reps.get(rep).map_or(rep.as_str(), |r| r.name.as_str()))
                    @if p.weights[i] != 1 { " (" (p.weights[i]) ")" }
                    @if i + 1 < p.reps.len() { ", " }
                } }
                td { (match &p.overflow { None => "fallback queue".to_string(), Some(Overflow::Pool(x)) => format!("pool {x}"), Some(Overflow::Queue(q)) => format!("queue {q}") }) }
                td { @if let Some(s) = &p.sla { (s.minutes) " min" } @else { span.muted { "–" } } }
            } } }
        } }
    }
}

fn errors_list(errors: &[ConfigError]) -> Markup {
    html! {
        div.notice.bad role="alert" {
            (errors.len()) " mistake(s); nothing was published:"
            ul.errors { @for e in errors { li { code { (e.path) } ": " (e.message) } } }
        }
    }
}

/// What a POST to the rules page shows above it.
#[derive(Default)]
struct Outcome {
    notice: Option<(&'static str, String)>,
    errors: Vec<ConfigError>,
    simulation: Option<Markup>,
    replay: Option<Markup>,
    draft: Option<String>,
}

fn replay_report(progress: &ReplayProgress) -> Markup {
    let r = &progress.report;
    html! {
        div.card {
            h2 { "Replay " (progress.from.strftime("%Y-%m-%d")) " to " (progress.to.strftime("%Y-%m-%d")) }
            @if progress.status == JobStatus::Running {
                (view::notice("warn", &format!("{} leads so far; the replay goes on.", progress.processed)))
                a.button href={"/console/rules/replay/" (progress.job_id)} { "Continue the replay" }
            }
            p { (r.leads) " leads replayed: " strong { (r.moved) " would move" } ", " (r.unchanged) " stay; "
                (r.new_fallback) " would newly land in the fallback queue." }
            @for g in &r.groups {
                h2 { (g.moved) " leads: " (g.cause) }
                ul { @for (pair, n) in &g.moves { li { (pair) ": " (n) } } }
                p.muted { "For example: " @for e in &g.examples { a href={"/console/leads/" (e)} { (e.get(..8).unwrap_or(e)) } " " } }
            }
            h2 { "Shares before and after" }
            div.table-wrap { table {
                thead { tr { th { "Owner" } th.num { "Before" } th.num { "After" } th.num { "Change" } } }
                tbody { @for s in &r.shares { tr { th scope="row" { (s.owner) } td.num { (s.before) } td.num { (s.after) } td.num { (format!("{:+}", s.change)) } } } }
            } }
        }
    }
}

async fn render(
    app: &App,
    session: &Session,
    outcome: Outcome,
    diff: Option<(u64, u64)>,
) -> Response {
    let store = app.store();
    let (active, versions) =
        match tokio::try_join!(store.active_config_version(), store.config_versions()) {
            Ok(v) => v,
            Err(e) => return store_failed(e),
        };
    let stored = match active {
        Some(v) => match store.config_version(v).await {
            Ok(s) => s,
            Err(e) => return store_failed(e),
        },
        None => None,
    };
    let config = stored.as_ref().and_then(|s| s.config().ok());
    let diff_view = match diff {
        Some((from, to)) => match app.version_diff(from, to).await {
            Ok(Some(changes)) => Some(html! {
                div.card { h2 { "What changed from version " (from) " to " (to) }
                    pre.diff { (config_diff::text(&changes)) } }
            }),
            _ => None,
        },
        None => None,
    };
    let edit = session.may(Permission::EditRouting);
    let document = outcome
        .draft
        .clone()
        .or_else(|| stored.as_ref().map(|s| s.document.clone()))
        .unwrap_or_default();
    let body = html! {
        @if let Some((kind, text)) = &outcome.notice { (view::notice(kind, text)) }
        @if !outcome.errors.is_empty() { (errors_list(&outcome.errors)) }
        @if let Some(s) = &outcome.simulation { (s) }
        @if let Some(r) = &outcome.replay { (r) }
        @if let Some(d) = diff_view { (d) }
        @if let Some(s) = &stored {
            p { "Active: version " strong { (s.info.version) } " by " (s.info.author.as_deref().unwrap_or("–"))
                ", " (view::when(s.info.created_at))
                @if let Some(m) = &s.info.message { " · " em { (m) } } }
        } @else { (view::notice("warn", "No routing config has been published yet.")) }
        @if let Some(c) = &config { (config_tables(c)) }
        @if edit {
            form.card method="post" action="/console/rules" {
                h2 { "Edit" }
                (page::csrf(session))
                input type="hidden" name="base_version" value=(active.unwrap_or(0));
                div.field {
                    label for="document" { "Routing config " span.hint { "(YAML; see README, “Routing config”)" } }
                    textarea #document name="document" rows="22" spellcheck="false" { (document) }
                }
                div.field { label for="message" { "Why " span.hint { "(shown in the history)" } } input #message name="message" size="50" maxlength="500"; }
                button type="submit" name="action" value="check" { "Check" } " "
                button type="submit" name="action" value="publish" { "Publish" }
                details {
                    summary { "Simulate a lead with this config" }
                    div.field { label for="lead" { "Lead fields " span.hint { "(one name=value a line)" } }
                        textarea #lead name="lead" rows="4" { "email=jane@acme.com\ncompany=Acme\nemployees=120\ncountry=US" } }
                    button type="submit" name="action" value="simulate" { "Simulate" }
                }
                details {
                    summary { "Replay a period with this config" }
                    label for="from" { "From" } input #from name="from" type="date";
                    label for="to" { "To" } input #to name="to" type="date";
                    " " button type="submit" name="action" value="replay" { "Replay" }
                }
            }
        }
        h2 { "History" }
        div.table-wrap { table {
            thead { tr { th.num { "Version" } th { "Published" } th { "By" } th { "Why" } th { "What changed" } th { "" } } }
            tbody { @for v in versions.iter().rev() { tr {
                td.num { (v.version) @if Some(v.version) == active { " " span.tag.ok { "active" } } }
                td { (view::when(v.created_at)) }
                td { (view::or_dash(v.author.as_deref())) }
                td { (view::or_dash(v.message.as_deref())) }
                td { (view::or_dash(v.summary.as_deref())) }
                td {
                    @if v.version > 1 { a href={"/console/rules?diff=" (v.version)} { "Diff" } " " }
                    @if edit && Some(v.version) != active {
                        form.inline method="post" action="/console/rules" {
                            (page::csrf(session))
                            input type="hidden" name="base_version" value=(active.unwrap_or(0));
                            input type="hidden" name="version" value=(v.version);
                            button.secondary type="submit" name="action" value="rollback" { "Roll back to this" }
                        }
                    }
                }
            } } }
        } }
    };
    page::layout(session, Section::Rules, "Rules", body)
}

/// `GET /console/rules?diff=N`.
pub async fn page(
    State(app): State<Arc<App>>,
    session: Session,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    if !session.may(Permission::ReadReports) {
        return page::forbidden(&session, Permission::ReadReports);
    }
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let diff = get("diff")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|v| *v > 1)
        .map(|v| (v - 1, v));
    let notice = match get("notice") {
        Some("published") => Some(("ok", "Published: it is the active version now.".to_string())),
        Some("rolled-back") => Some((
            "ok",
            "Rolled back: the old version is published again as a new one.".to_string(),
        )),
        _ => None,
    };
    render(
        &app,
        &session,
        Outcome {
            notice,
            ..Default::default()
        },
        diff,
    )
    .await
}

fn lead_of(text: &str) -> Result<Lead, String> {
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            l.split_once('=')
                .or_else(|| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Lead::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(|errors| {
        errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// `POST /console/rules`: check, publish, simulate, replay or roll back.
pub async fn act(
    State(app): State<Arc<App>>,
    session: Session,
    LimitedBody(bytes): LimitedBody<MAX_FORM>,
) -> Response {
    let form = match permitted(&session, &bytes, Permission::EditRouting) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let base = form
        .get("base_version")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let document = form.raw("document").unwrap_or_default().to_string();
    let mut outcome = Outcome {
        draft: Some(document.clone()),
        ..Default::default()
    };
    let parsed = RoutingConfig::parse(&document);
    let action = form.get("action").unwrap_or("check");
    if action == "rollback" {
        let Some(version) = form.get("version").and_then(|v| v.parse::<u64>().ok()) else {
            return back("/console/rules", "failed");
        };
        return match app
            .rollback(
                version,
                Some(base),
                Some(format!("rollback to version {version}")),
                &session.actor(),
            )
            .await
        {
            Ok(_) => back("/console/rules", "rolled-back"),
            Err(e) => {
                outcome.draft = None;
                outcome.notice = Some(("bad", publish_failure(&e)));
                render(&app, &session, outcome, None).await
            }
        };
    }
    let config = match parsed {
        Ok(c) => c,
        Err(errors) => {
            outcome.errors = errors;
            return render(&app, &session, outcome, None).await;
        }
    };
    match action {
        "publish" => {
            let message = form.get("message").map(|m| m.chars().take(500).collect());
            let publish = Publish {
                document: &document,
                message,
                base: Some(base),
                rollback_of: None,
                availability: None,
            };
            match app.publish(publish, &session.actor()).await {
                Ok(_) => return back("/console/rules", "published"),
                Err(PublishError::Invalid(errors)) => outcome.errors = errors,
                Err(e) => outcome.notice = Some(("bad", publish_failure(&e))),
            }
        }
        "simulate" => match lead_of(form.raw("lead").unwrap_or_default()) {
            Err(why) => outcome.notice = Some(("bad", format!("The lead is not valid: {why}"))),
            Ok(lead) => match app
                .simulate(lead, "console", Some(&config), app.now())
                .await
            {
                Ok(s) => {
                    outcome.simulation = Some(html! { div.card {
                        h2 { "Simulation: " (s.assignment.owner.name()) }
                        p { (s.assignment.reason) }
                        ol { @for step in &s.steps { li { code { (serde_json::to_string(step).unwrap_or_default()) } } } }
                        p.muted { "Against live tickets, loads, rosters and caps; nothing was written." }
                    } })
                }
                Err(e) => outcome.notice = Some(("bad", e.to_string())),
            },
        },
        "replay" => {
            let tz = jiff::tz::TimeZone::UTC;
            let moment = crate::http::params::moment;
            let period = form
                .get("from")
                .zip(form.get("to"))
                .and_then(|(f, t)| Some((moment(f, &tz, false).ok()?, moment(t, &tz, true).ok()?)));
            match period {
                Some((from, to)) if from < to => {
                    let budget = Instant::now() + Duration::from_secs(10);
                    match app
                        .start_replay(&document, from, to, &session.key.name, budget)
                        .await
                    {
                        Ok(progress) => outcome.replay = Some(replay_report(&progress)),
                        Err(e) => return store_failed(e),
                    }
                }
                _ => {
                    outcome.notice = Some((
                        "bad",
                        "Give the replay a period: a start and an end date.".into(),
                    ))
                }
            }
        }
        _ => {
            outcome.notice = Some(("ok", "The config is valid.".into()));
        }
    }
    render(&app, &session, outcome, None).await
}

fn publish_failure(e: &PublishError) -> String {
    match e {
        PublishError::Stale { base, current } => format!(
            "Someone published version {} after you opened version {base}; nothing was published. Your text is kept below: compare with the history, then publish again.",
            current.map_or("?".into(), |c| c.to_string())
        ),
        other => format!("Nothing was published: {other}."),
    }
}

/// `GET /console/rules/replay/{id}`: advances a replay and shows it.
pub async fn replay_job(
    State(app): State<Arc<App>>,
    session: Session,
    Path(id): Path<String>,
) -> Response {
    if !session.may(Permission::EditRouting) {
        return page::forbidden(&session, Permission::EditRouting);
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return view::not_found("No such replay.");
    }
    match app
        .continue_replay(&id, Instant::now() + Duration::from_secs(10))
        .await
    {
        Ok(Some(progress)) => {
            let outcome = Outcome {
                replay: Some(replay_report(&progress)),
                ..Default::default()
            };
            render(&app, &session, outcome, None).await
        }
        Ok(None) => view::not_found("No such replay."),
        Err(e) => store_failed(e),
    }
}

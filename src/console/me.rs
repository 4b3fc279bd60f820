//! A rep's own pages, reached from the signed links in their notifications, with no console
//! login: their open leads with acknowledge buttons, each lead's own page (what it said),
//! "I'm away until ...", "I'm back". A link
//! is bound to one rep and expires ([`crate::delivery::REP_LINK_SECONDS`]): a leaked link can
//! only change that rep's availability and see that rep's leads. Opening a link changes
//! nothing; every change is a POST of a form.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;

use crate::app::App;
use crate::domain::access::{Actor, Role};
use crate::domain::model::{LeadStatus, Owner};
use crate::domain::notify::{check_rep_token, LeadSummary};
use crate::domain::overrides::AvailabilityChange;
use crate::http::extract::LimitedBody;

use super::form::Form;
use super::view::{self, store_failed};

/// Checks the link's token for `rep`; `Err` is the page a bad or expired link gets.
async fn allowed(app: &App, rep: &str, token: Option<&str>) -> Result<(), Response> {
    let key = app
        .notifier()
        .ack_key()
        .await
        .map_err(|e| view::unavailable(&e))?;
    match token {
        Some(t) if check_rep_token(&key, rep, t, app.now().as_second()) => Ok(()),
        _ => Err(view::error(
            StatusCode::UNAUTHORIZED,
            "Link expired",
            "This link is not valid any more (links in notifications work for two weeks). Use the one in your latest notification.",
        )),
    }
}

/// The token of a page's link (`?t=`) once [`allowed`] for `rep`.
async fn signed(app: &App, rep: &str, pairs: &[(String, String)]) -> Result<String, Response> {
    let token = pairs.iter().find(|(k, _)| k == "t").map(|(_, v)| v.clone());
    allowed(app, rep, token.as_deref()).await?;
    Ok(token.unwrap_or_default())
}

/// Who the audit log names when a rep acts through their own link.
fn actor(rep: &str) -> Actor {
    Actor {
        name: format!("{rep} (own link)"),
        role: Role::Integration,
    }
}

/// `GET /me/{rep}?t=`: the rep's open leads, and away and back.
pub async fn page(
    State(app): State<Arc<App>>,
    Path(rep): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let t = match signed(&app, &rep, &pairs).await {
        Ok(t) => t,
        Err(refused) => return refused,
    };
    let now = app.now();
    let query = crate::store::LogQuery {
        from: now - jiff::SignedDuration::from_hours(24 * 90),
        to: now + jiff::SignedDuration::from_mins(1),
        owner: Some(rep.clone()),
        pool: None,
        rule: None,
        source: None,
        status: Some(crate::domain::model::LeadStatus::Open),
        sla: None,
        escalated: None,
        search: None,
        now,
        limit: 100,
        cursor: None,
    };
    let (leads, reps) = match tokio::try_join!(app.lead_log(&query), app.reps_now()) {
        Ok(x) => x,
        Err(e) => return store_failed(e),
    };
    let me = reps.and_then(|(_, all)| all.into_iter().find(|r| r.id == rep));
    let note = pairs
        .iter()
        .find(|(k, _)| k == "notice")
        .map(|(_, v)| v.as_str());
    let name = me.as_ref().map_or(rep.clone(), |r| r.name.clone());
    let body = view::public(
        "Your leads",
        html! {
            h1 { "Hello, " (name) }
            @match note {
                Some("away") => (view::notice("ok", "You are marked away: new leads go to the others until then.")),
                Some("back") => (view::notice("ok", "Welcome back: you get leads again.")),
                Some("acknowledged") => (view::notice("ok", "Acknowledged: it is yours.")),
                Some("not-yours") => (view::notice("bad", "That lead is not yours any more.")),
                _ => {}
            }
            @if let Some(me) = &me {
                p { @match &me.unavailable {
                    None => { "You are available for new leads." }
                    Some(why) => { "You are not getting new leads now: " (why.to_string())
                        @if let Some(b) = &me.back_at { " (until " (b) ")" } "." }
                } }
            }
            p {
                a.button href={"/me/" (rep) "/away?t=" (t)} { "I'm away until…" } " "
                form.inline method="post" action={"/me/" (rep) "/back"} {
                    input type="hidden" name="t" value=(t);
                    button.secondary type="submit" { "I'm back" }
                }
            }
            h2 { "Your open leads (" (leads.leads.len()) ")" }
            @if leads.leads.is_empty() { p.muted { "None: every lead you own is acknowledged." } }
            @for l in &leads.leads {
                div.card {
                    a href={"/me/" (rep) "/leads/" (l.lead_id) "?t=" (t)} {
                        strong { (view::or_dash(l.name.as_deref().or(l.email.as_deref()))) }
                    }
                    @if let Some(c) = &l.company { " · " (c) }
                    br; span.muted { "Arrived " (view::when(l.received_at))
                        @if let Some(due) = l.sla_due_at { " · acknowledge by " (view::when(due)) } }
                    form method="post" action={"/me/" (rep) "/ack/" (l.lead_id)} {
                        input type="hidden" name="t" value=(t);
                        button type="submit" aria-label={"Acknowledge " (l.name.as_deref().unwrap_or("this lead"))} { "Acknowledge" }
                    }
                }
            }
        },
    );
    Html(body.into_string()).into_response()
}

/// `GET /me/{rep}/leads/{lead}?t=`: one of the rep's leads: who, what they said (their
/// message among it), why the rep got it, and an acknowledge button while it is open. Only a
/// lead the rep owns now: of a lead that went to someone else, or of no lead, it shows
/// nothing.
pub async fn lead_page(
    State(app): State<Arc<App>>,
    Path((rep, lead_id)): Path<(String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let t = match signed(&app, &rep, &pairs).await {
        Ok(t) => t,
        Err(refused) => return refused,
    };
    let lead = match uuid::Uuid::parse_str(&lead_id) {
        Ok(_) => match app.lead(&lead_id).await {
            Ok(lead) => lead,
            Err(e) => return store_failed(e),
        },
        Err(_) => None,
    };
    let owned = |l: &crate::store::StoredLead| {
        matches!(l.assignment.owner, Owner::Rep { .. }) && l.assignment.owner.id() == rep
    };
    let Some(lead) = lead.filter(owned) else {
        return view::error(
            StatusCode::NOT_FOUND,
            "Not your lead",
            "This lead is not yours: it may have gone to someone else since. Your open leads are on your page.",
        );
    };
    let summary = LeadSummary::of(&lead.lead);
    let body = view::public(
        "Your lead",
        html! {
            p { a href={"/me/" (rep) "?t=" (t)} { "← Your open leads" } }
            h1 { (summary.headline()) }
            div.card {
                h2 { "Who" }
                p { (view::or_dash(summary.email.as_deref()))
                    @if let Some(phone) = &summary.phone { br; (phone) } }
                p { (view::or_dash(summary.company.as_deref()))
                    @if let Some(c) = &summary.country { " · " (c) } }
                p.muted { "Arrived " (view::when(lead.received_at))
                    @if let Some(due) = lead.sla_due_at { " · acknowledge by " (view::when(due)) } }
            }
            (view::said(&lead.lead))
            div.card { h2 { "Why you" } p { (lead.assignment.reason) } }
            @if lead.status == LeadStatus::Open {
                form method="post" action={"/me/" (rep) "/ack/" (lead_id)} {
                    input type="hidden" name="t" value=(t);
                    button type="submit" { "Acknowledge" }
                }
            } @else {
                p { "It is " (lead.status) "." }
            }
        },
    );
    Html(body.into_string()).into_response()
}

/// `GET /me/{rep}/away?t=`: when are you back?
pub async fn away_page(
    State(app): State<Arc<App>>,
    Path(rep): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let t = match signed(&app, &rep, &pairs).await {
        Ok(t) => t,
        Err(refused) => return refused,
    };
    let body = view::public(
        "Away",
        html! {
            h1 { "I'm away" }
            form method="post" action={"/me/" (rep) "/away"} {
                input type="hidden" name="t" value=(t);
                fieldset {
                    legend { "Until" }
                    @for (hours, label) in [(1, "in an hour"), (2, "in two hours"), (4, "in four hours"), (24, "this time tomorrow")] {
                        div { input type="radio" name="hours" value=(hours) id={"h" (hours)} checked[hours == 1];
                            label for={"h" (hours)} style="display:inline" { " " (label) } }
                    }
                    div.field { label for="until" { "or until " span.hint { "(UTC)" } } input #until name="until" type="datetime-local"; }
                }
                button type="submit" { "Mark me away" }
            }
            p { a href={"/me/" (rep) "?t=" (t)} { "Back to my leads" } }
        },
    );
    Html(body.into_string()).into_response()
}

/// `POST /me/{rep}/away`.
pub async fn away(
    State(app): State<Arc<App>>,
    Path(rep): Path<String>,
    LimitedBody(bytes): LimitedBody<4096>,
) -> Response {
    let form = Form::parse(&bytes);
    let token = form.get("t").map(str::to_string);
    if let Err(refused) = allowed(&app, &rep, token.as_deref()).await {
        return refused;
    }
    let now = app.now();
    let until = match form.get("until").and_then(super::reps::local_utc) {
        Some(t) => t,
        None => {
            let hours: i64 = form
                .get("hours")
                .and_then(|h| h.parse().ok())
                .unwrap_or(1)
                .clamp(1, 24 * 30);
            now + jiff::SignedDuration::from_hours(hours)
        }
    };
    if until <= now {
        return view::error(
            StatusCode::BAD_REQUEST,
            "Not in the future",
            "Pick a time after now.",
        );
    }
    let change = AvailabilityChange {
        away_until: Some(until),
        ..Default::default()
    };
    finish(&app, &rep, &change, token.unwrap_or_default(), "away").await
}

/// `POST /me/{rep}/back`.
pub async fn back(
    State(app): State<Arc<App>>,
    Path(rep): Path<String>,
    LimitedBody(bytes): LimitedBody<4096>,
) -> Response {
    let form = Form::parse(&bytes);
    let token = form.get("t").map(str::to_string);
    if let Err(refused) = allowed(&app, &rep, token.as_deref()).await {
        return refused;
    }
    let change = AvailabilityChange {
        back: true,
        ..Default::default()
    };
    finish(&app, &rep, &change, token.unwrap_or_default(), "back").await
}

/// `GET /me/{rep}/back?t=`: one button (opening a link changes nothing).
pub async fn back_page(
    State(app): State<Arc<App>>,
    Path(rep): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let t = match signed(&app, &rep, &pairs).await {
        Ok(t) => t,
        Err(refused) => return refused,
    };
    let body = view::public(
        "Back",
        html! {
            h1 { "Back at work?" }
            form method="post" action={"/me/" (rep) "/back"} {
                input type="hidden" name="t" value=(t);
                button type="submit" { "I'm back" }
            }
        },
    );
    Html(body.into_string()).into_response()
}

async fn finish(
    app: &App,
    rep: &str,
    change: &AvailabilityChange,
    token: String,
    done: &str,
) -> Response {
    match app.set_availability(rep, change, &actor(rep)).await {
        Ok(_) => Redirect::to(&format!("/me/{rep}?t={token}&notice={done}")).into_response(),
        Err(crate::app::config::PublishError::Store(e)) => store_failed(e),
        Err(e) => view::error(StatusCode::CONFLICT, "Not saved", &e.to_string()),
    }
}

/// `POST /me/{rep}/ack/{lead}`: acknowledges one of the rep's own leads.
pub async fn ack(
    State(app): State<Arc<App>>,
    Path((rep, lead)): Path<(String, String)>,
    LimitedBody(bytes): LimitedBody<4096>,
) -> Response {
    let form = Form::parse(&bytes);
    let token = form.get("t").map(str::to_string);
    if let Err(refused) = allowed(&app, &rep, token.as_deref()).await {
        return refused;
    }
    let t = token.unwrap_or_default();
    match app.acknowledge_own(&rep, &lead).await {
        Ok(true) => Redirect::to(&format!("/me/{rep}?t={t}&notice=acknowledged")).into_response(),
        Ok(false) => Redirect::to(&format!("/me/{rep}?t={t}&notice=not-yours")).into_response(),
        Err(e) => store_failed(e),
    }
}

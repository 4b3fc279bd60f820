//! Reps: each rep's live state (available, off shift until when in their own time, out of
//! office, on holiday, at a cap with today's and this week's counts, inactive) and open leads;
//! for an editor, away now or until a time, back, an out-of-office range, active or inactive.
//! Each change is an availability override, published roster-safe and audited.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{html, Markup};

use crate::app::reps::RepNow;
use crate::app::App;
use crate::domain::access::Permission;
use crate::domain::availability::Unavailable;
use crate::domain::overrides::{AvailabilityChange, Away};
use crate::http::extract::LimitedBody;

use super::form::{back, permitted};
use super::page::{self, Section};
use super::session::Session;
use super::view::{self, store_failed};

fn state(rep: &RepNow) -> Markup {
    let until = |text: &str| {
        rep.back_at
            .as_ref()
            .map(|b| format!("{text} until {b}"))
            .unwrap_or_else(|| text.to_string())
    };
    match &rep.unavailable {
        None if rep.at_cap() => html! { span.tag.warn { "at cap" } },
        None => html! { span.tag.ok { "available" } },
        Some(Unavailable::Inactive) => html! { span.tag.bad { "inactive" } },
        Some(Unavailable::OutOfOffice { .. }) => {
            html! { span.tag.warn { (until("out of office")) } }
        }
        Some(Unavailable::Holiday { .. }) => html! { span.tag.warn { (until("on holiday")) } },
        Some(Unavailable::OffShift { .. }) => html! { span.tag { (until("off shift")) } },
    }
}

fn count(c: Option<(u64, u32)>) -> Markup {
    match c {
        Some((n, cap)) => html! { (n) " / " (cap) },
        None => html! { span.muted { "no cap" } },
    }
}

fn notice(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code {
        "saved" => (
            "ok",
            "Saved: the change is live now (a new config version, audited).",
        ),
        "bad-time" => (
            "bad",
            "That time is not in the future (or the range ends before it starts).",
        ),
        "failed" => ("bad", "The change could not be saved; nothing changed."),
        _ => return None,
    })
}

/// `GET /console/reps`.
pub async fn page(
    State(app): State<Arc<App>>,
    session: Session,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    if !session.may(Permission::ReadReports) {
        return page::forbidden(&session, Permission::ReadReports);
    }
    let reps = match app.reps_now().await {
        Ok(Some((_, reps))) => reps,
        Ok(None) => Vec::new(),
        Err(e) => return store_failed(e),
    };
    let note = pairs
        .iter()
        .find(|(k, _)| k == "notice")
        .and_then(|(_, v)| notice(v));
    let edit = session.may(Permission::EditRouting);
    let body = html! {
        @if let Some((kind, text)) = note { (view::notice(kind, text)) }
        div.table-wrap { table {
            thead { tr {
                th { "Rep" } th { "Now" } th { "Pools" } th.num { "Today" } th.num { "This week" } th.num { "Open leads" }
                @if edit { th { "Change" } }
            } }
            tbody { @for rep in &reps { tr {
                th scope="row" { (rep.name) br; span.muted { (rep.id) " · " (rep.timezone) } }
                td { (state(rep))
                    @if let Some(o) = &rep.overrides { @for a in &o.away {
                        br; span.muted { "away " (view::when(a.from)) " to " (view::when(a.until)) }
                    } }
                }
                td { (rep.pools.join(", ")) }
                td.num.nowrap { (count(rep.today)) }
                td.num.nowrap { (count(rep.this_week)) }
                td.num { a href={"/console/leads?owner=" (rep.id) "&status=open"} { (rep.open) } }
                @if edit { td { details { summary { "Change " span.muted { (rep.name) } }
                    form method="post" action={"/console/reps/" (rep.id)} aria-label={"Change " (rep.name)} {
                        (page::csrf(&session))
                        label for={"until-" (rep.id)} { "Away until " span.hint { "(UTC)" } }
                        input id={"until-" (rep.id)} name="until" type="datetime-local";
                        " "
                        button type="submit" name="action" value="away" { "Set away" }
                        " "
                        button.secondary type="submit" name="action" value="back" { "Back" }
                        " "
                        @if matches!(rep.unavailable, Some(Unavailable::Inactive)) {
                            button.secondary type="submit" name="action" value="activate" { "Make active" }
                        } @else {
                            button.secondary type="submit" name="action" value="deactivate" { "Make inactive" }
                        }
                        details { summary { "Out of office" }
                            label for={"from-" (rep.id)} { "From (UTC)" } input id={"from-" (rep.id)} name="ooo_from" type="datetime-local";
                            label for={"to-" (rep.id)} { "To (UTC)" } input id={"to-" (rep.id)} name="ooo_to" type="datetime-local";
                            " " button type="submit" name="action" value="ooo" { "Add" }
                        }
                    }
                } } }
            } } }
        } }
    };
    page::layout(&session, Section::Reps, "Reps", body)
}

/// A `datetime-local` value (minutes, no zone), read as UTC.
pub fn local_utc(text: &str) -> Option<jiff::Timestamp> {
    let dt: jiff::civil::DateTime = text.parse().ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(dt).ok()
}

/// `POST /console/reps/{id}`: away, back, out of office, active or inactive.
pub async fn change(
    State(app): State<Arc<App>>,
    session: Session,
    Path(id): Path<String>,
    LimitedBody(bytes): LimitedBody<8192>,
) -> Response {
    let form = match permitted(&session, &bytes, Permission::EditRouting) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let now = app.now();
    let change = match form.get("action") {
        Some("back") => AvailabilityChange {
            back: true,
            ..Default::default()
        },
        Some("activate") => AvailabilityChange {
            active: Some(true),
            ..Default::default()
        },
        Some("deactivate") => AvailabilityChange {
            active: Some(false),
            ..Default::default()
        },
        Some("away") => match form.get("until").and_then(local_utc).filter(|t| *t > now) {
            Some(until) => AvailabilityChange {
                away_until: Some(until),
                ..Default::default()
            },
            None => return back("/console/reps", "bad-time"),
        },
        Some("ooo") => {
            let range = form
                .get("ooo_from")
                .and_then(local_utc)
                .zip(form.get("ooo_to").and_then(local_utc));
            match range.filter(|(a, b)| a < b && *b > now) {
                Some((from, until)) => AvailabilityChange {
                    out_of_office: Some(Away { from, until }),
                    ..Default::default()
                },
                None => return back("/console/reps", "bad-time"),
            }
        }
        _ => return back("/console/reps", "failed"),
    };
    match app.set_availability(&id, &change, &session.actor()).await {
        Ok(_) => back("/console/reps", "saved"),
        Err(crate::app::config::PublishError::Store(e)) => store_failed(e),
        Err(_) => back("/console/reps", "failed"),
    }
}

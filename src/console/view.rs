//! What every page is made of, signed in or not: the shared stylesheet, the document head,
//! the public pages' layout, notices, error pages, and how values (times, absent text, drawn
//! SVG) are shown. Every value goes through maud, which escapes it.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::domain::lead::Lead;
use crate::domain::notify::LeadSummary;

/// The shared stylesheet, embedded in the binary.
pub const STYLE: &str = include_str!("style.css");

/// A whole document: the head (title, viewport, the shared stylesheet), then `body`.
pub fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · leadrouter" }
                link rel="stylesheet" href="/assets/style.css";
            }
            (body)
        }
    }
}

/// A page outside the console (a form, a thank-you page, an acknowledgement, a rep's own
/// page): the same stylesheet, no navigation.
pub fn public(title: &str, body: Markup) -> Markup {
    document(title, html! { body { main.narrow #main { (body) } } })
}

/// A notice above a page's content (`ok`, `bad` or `warn`).
pub fn notice(kind: &str, text: &str) -> Markup {
    html! { div class={"notice " (kind)} role="status" { (text) } }
}

/// An error page with `status`.
pub fn error(status: StatusCode, title: &str, detail: &str) -> Response {
    let page = public(
        title,
        html! {
            h1 { (title) }
            p { (detail) }
            p { a href="/console" { "Back to the console" } }
        },
    );
    (status, Html(page.into_string())).into_response()
}

/// 503 when storage (or a secret) cannot be read.
pub fn unavailable(detail: &str) -> Response {
    tracing::warn!(%detail, "console page unavailable");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "Storage did not answer; nothing was changed. Try again in a moment.",
    )
}

/// 403 for a form without this session's CSRF token.
pub fn bad_csrf() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form was not sent from this session (or the session changed). Reload the page and try again.",
    )
}

/// Text that may be absent, shown as a dash.
pub fn or_dash(value: Option<&str>) -> Markup {
    match value {
        Some(v) if !v.is_empty() => html! { (v) },
        _ => html! { span.muted { "–" } },
    }
}

/// A time as the console shows it (UTC, to the minute), with the exact instant as a tooltip.
pub fn when(at: jiff::Timestamp) -> Markup {
    let short = at.strftime("%Y-%m-%d %H:%M UTC").to_string();
    html! { time datetime=(at.to_string()) title=(at.to_string()) { (short) } }
}

/// A pre-escaped fragment (an SVG the console drew itself).
pub fn raw(svg: String) -> Markup {
    PreEscaped(svg)
}

/// A page's answer to a storage failure.
pub fn store_failed(e: impl std::fmt::Display) -> Response {
    unavailable(&e.to_string())
}

/// A 404 page.
pub fn not_found(what: &str) -> Response {
    error(StatusCode::NOT_FOUND, "Not found", what)
}

/// What the lead said beyond who they are (the "Who" card has the email, phone, company and
/// country): every other field it gave, what qualification found, and its message as written.
/// Nothing when it gave nothing more.
pub fn said(lead: &Lead) -> Markup {
    let summary = LeadSummary::of(lead);
    let place = [&lead.city, &lead.region, &lead.postal_code]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut rows: Vec<(&str, String)> = [
        ("Title", lead.title.clone()),
        ("Website", lead.website.clone()),
        ("Employees", summary.employees),
        ("Revenue", lead.revenue.map(|r| r.to_string())),
        ("Industry", lead.industry.clone()),
        ("Product", lead.product.clone()),
        ("Location", (!place.is_empty()).then_some(place)),
        ("Lead source", lead.source.clone()),
        (
            "Account",
            lead.account
                .as_ref()
                .map(|a| format!("{} (via {})", a.account.name, a.via)),
        ),
        (
            "Score",
            summary.score.filter(|s| *s != 0.0).map(|s| s.to_string()),
        ),
        (
            "Consent",
            lead.consent
                .map(|c| if c { "yes" } else { "no" }.to_string()),
        ),
    ]
    .into_iter()
    .filter_map(|(label, value)| Some((label, value?)))
    .collect();
    let pairs = |fields: &std::collections::BTreeMap<String, String>| {
        let joined = fields
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>();
        (!joined.is_empty()).then(|| joined.join(" · "))
    };
    rows.extend(
        [
            ("UTM", pairs(&lead.utm)),
            ("Other fields", pairs(&lead.custom)),
        ]
        .into_iter()
        .filter_map(|(label, value)| Some((label, value?))),
    );
    let q = lead.qualification.clone().unwrap_or_default();
    let flags: Vec<(&str, &str)> = [
        (
            lead.do_not_contact == Some(true),
            "do not contact",
            "tag bad",
        ),
        (q.spam, "spam", "tag bad"),
        (q.disposable, "disposable address", "tag bad"),
        (q.free_mail, "free mail", "tag warn"),
        (q.role_address, "role address", "tag warn"),
    ]
    .into_iter()
    .filter_map(|(on, name, class)| on.then_some((name, class)))
    .collect();
    if rows.is_empty() && flags.is_empty() && lead.message.is_none() {
        return html! {};
    }
    html! {
        div.card {
            h2 { "What they said" }
            @if !flags.is_empty() {
                p { @for (flag, class) in &flags { span class=(class) { (flag) } " " } }
            }
            @if !rows.is_empty() {
                table.fields { tbody { @for (label, value) in &rows { tr { th scope="row" { (label) } td { (value) } } } } }
            }
            @if let Some(message) = &lead.message {
                p.said { (message) }
            }
        }
    }
}

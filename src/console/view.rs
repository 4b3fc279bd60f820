//! What every page is made of, signed in or not: the shared stylesheet, the document head,
//! the public pages' layout, notices, error pages, and how values (times, absent text, drawn
//! SVG) are shown. Every value goes through maud, which escapes it.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

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

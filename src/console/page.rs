//! The console's page chrome and the small pieces every page uses: the layout (a skip link,
//! the navigation the signed-in role may use, who is signed in, sign-out), notices, the forms'
//! CSRF field, error pages, and the public pages' simpler layout. Every value goes through
//! maud, which escapes it.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::domain::access::Permission;

use super::session::{Session, CSRF_FIELD};

/// The shared stylesheet, embedded in the binary.
pub const STYLE: &str = include_str!("style.css");

/// A section of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Dashboard,
    Leads,
    Reps,
    Rules,
    Accounts,
    Keys,
    Notifications,
}

impl Section {
    fn all() -> [(Section, &'static str, &'static str, Permission); 7] {
        [
            (
                Section::Dashboard,
                "Dashboard",
                "/console",
                Permission::ReadReports,
            ),
            (
                Section::Leads,
                "Leads",
                "/console/leads",
                Permission::ReadLeads,
            ),
            (
                Section::Reps,
                "Reps",
                "/console/reps",
                Permission::ReadReports,
            ),
            (
                Section::Rules,
                "Rules",
                "/console/rules",
                Permission::ReadReports,
            ),
            (
                Section::Accounts,
                "Accounts",
                "/console/accounts",
                Permission::EditRouting,
            ),
            (
                Section::Keys,
                "Keys",
                "/console/keys",
                Permission::ManageKeys,
            ),
            (
                Section::Notifications,
                "Notifications",
                "/console/notifications",
                Permission::ReadReports,
            ),
        ]
    }
}

fn head(title: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · leadrouter" }
                link rel="stylesheet" href="/assets/style.css";
            }
        }
    }
}

/// A console page: the navigation the session's role may use, then `body`.
pub fn layout(session: &Session, section: Section, title: &str, body: Markup) -> Response {
    let page = html! {
        (head(title))
        body {
            a.skip href="#main" { "Skip to content" }
            header.top {
                div.bar {
                    a.brand href="/console" { "leadrouter" }
                    nav aria-label="Console" {
                        @for (s, name, href, permission) in Section::all() {
                            @if session.may(permission) {
                                @if s == section {
                                    a href=(href) aria-current="page" { (name) }
                                } @else {
                                    a href=(href) { (name) }
                                }
                            }
                        }
                    }
                    div.who {
                        (session.key.name) " (" (session.key.role) ") "
                        form method="post" action="/console/sign-out" {
                            (csrf(session))
                            button type="submit" { "Sign out" }
                        }
                    }
                }
            }
            main #main { h1 { (title) } (body) }
        }
    };
    Html(page.into_string()).into_response()
}

/// A page outside the console (a form, a thank-you page, an acknowledgement, a rep's own
/// page): the same stylesheet, no navigation.
pub fn public(title: &str, body: Markup) -> Markup {
    html! {
        (head(title))
        body { main.narrow #main { (body) } }
    }
}

/// The hidden CSRF field every console form carries.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf); }
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

/// 403 for a role that may not do this.
pub fn forbidden(session: &Session, what: Permission) -> Response {
    error(
        StatusCode::FORBIDDEN,
        "Not allowed",
        &format!(
            "Your key '{}' has the role '{}', which may not {}.",
            session.key.name,
            session.key.role,
            what.describe()
        ),
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

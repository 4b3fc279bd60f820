//! The signed-in console's chrome: the layout (a skip link, the navigation the signed-in
//! role may use, who is signed in, sign-out), the forms' CSRF field and the refusal for a role
//! that may not do something.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};

use crate::domain::access::Permission;

use super::session::{Session, CSRF_FIELD};
use super::view;

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

/// A console page: the navigation the session's role may use, then `body`.
pub fn layout(session: &Session, section: Section, title: &str, body: Markup) -> Response {
    let page = view::document(
        title,
        html! {
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
        },
    );
    Html(page.into_string()).into_response()
}

/// The hidden CSRF field every console form carries.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf); }
}

/// 403 for a role that may not do this.
pub fn forbidden(session: &Session, what: Permission) -> Response {
    view::error(
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

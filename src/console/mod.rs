//! The web console, served by the same router as the API (in Lambda and locally): pages
//! rendered on the server with maud, a shared stylesheet embedded in the binary, forms that
//! work without JavaScript. Signing in with a key gives a session cookie; every form carries
//! the session's CSRF token; the key's role decides what each page shows and allows, through
//! the same permissions as the API. Reps manage their own availability and leads from signed
//! links in their notifications ([`me`]), without a console login.

// A refusal page is an axum `Response`, returned as the `Err` of a check, as axum's own
// extractors do.
#![allow(clippy::result_large_err)]

pub mod charts;
pub mod dashboard;
pub mod form;
pub mod leads;
pub mod manage;
pub mod me;
pub mod page;
pub mod public;
pub mod reps;
pub mod rules;
pub mod session;
pub mod view;

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::html;

use crate::app::App;
use crate::domain::access::Role;
use crate::http::extract::LimitedBody;

use form::{checked, Form};
use session::{Session, CSRF_FIELD, SESSION_COOKIE, SESSION_SECONDS, SIGN_IN_COOKIE};

/// The console's routes (and the shared stylesheet, which public pages use too).
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/assets/style.css", get(style))
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console", get(dashboard::page))
        .route("/console/leads", get(leads::list))
        .route("/console/leads.csv", get(leads::csv))
        .route("/console/leads/{id}", get(leads::detail))
        .route("/console/leads/{id}/{action}", post(leads::act))
        .route("/console/reps", get(reps::page))
        .route("/console/reps/{id}", post(reps::change))
        .route("/console/rules", get(rules::page).post(rules::act))
        .route("/console/rules/replay/{id}", get(rules::replay_job))
        .route(
            "/console/accounts",
            get(manage::accounts).post(manage::load_accounts),
        )
        .route("/console/keys", get(manage::keys).post(manage::key_action))
        .route(
            "/console/notifications",
            get(manage::notifications).post(manage::retry),
        )
        .route("/me/{rep}", get(me::page))
        .route("/me/{rep}/away", get(me::away_page).post(me::away))
        .route("/me/{rep}/back", get(me::back_page).post(me::back))
        .route("/me/{rep}/ack/{lead}", post(me::ack))
        .route("/me/{rep}/leads/{lead}", get(me::lead_page))
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        view::STYLE,
    )
        .into_response()
}

/// `GET /console/sign-in`: the sign-in form, with a fresh pre-session nonce.
async fn sign_in_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let Ok(signing) = session::session_key(&app).await else {
        return view::unavailable("no session key");
    };
    let nonce = session::nonce();
    let failed = query.iter().any(|(k, _)| k == "failed");
    let body = view::public(
        "Sign in",
        html! {
            h1 { "Sign in to leadrouter" }
            @if failed {
                (view::notice("bad", "That key is not valid for the console (unknown, revoked, or a source key, which only submits leads)."))
            }
            form method="post" action="/console/sign-in" {
                input type="hidden" name=(CSRF_FIELD) value=(session::csrf_token(&signing, &nonce));
                div.field {
                    label for="key" { "Your key " span.hint { "(a viewer, integration, editor or admin key)" } }
                    input #key name="key" type="password" autocomplete="current-password" required size="40";
                }
                button type="submit" { "Sign in" }
            }
            p.muted {
                "A new deployment: the first admin key is in Secrets Manager (the stack output "
                code { "FirstAdminKeySecretArn" } "). Locally: " code { "lra_local_dev_admin_key" } "."
            }
        },
    );
    let mut response = Html(body.into_string()).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(&headers, SIGN_IN_COOKIE, &nonce, "/console", 15 * 60),
    );
    response
}

/// `POST /console/sign-in`: a valid key (not a source key) gets a session cookie.
async fn sign_in(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    LimitedBody(bytes): LimitedBody<8192>,
) -> Response {
    let Ok(signing) = session::session_key(&app).await else {
        return view::unavailable("no session key");
    };
    let form = Form::parse(&bytes);
    let nonce = session::cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    let token = form.get(CSRF_FIELD).unwrap_or_default();
    if nonce.is_empty() || !session::csrf_ok(&signing, &nonce, token) {
        return view::bad_csrf();
    }
    let key = form.get("key").unwrap_or_default();
    let record = match app.authenticate(key).await {
        Ok(Some(record)) if record.role != Role::Source => record,
        Ok(_) => return Redirect::to("/console/sign-in?failed=1").into_response(),
        Err(e) => return view::unavailable(&e.to_string()),
    };
    let expires = app.now().as_second() + SESSION_SECONDS;
    let value = session::session_value(&signing, &record.hash, expires, &session::nonce());
    tracing::info!(key = %record.id(), name = %record.name, "signed in to the console");
    let mut response = Redirect::to("/console").into_response();
    let set = response.headers_mut();
    set.append(
        header::SET_COOKIE,
        session::set_cookie(&headers, SESSION_COOKIE, &value, "/", SESSION_SECONDS),
    );
    set.append(
        header::SET_COOKIE,
        session::set_cookie(&headers, SIGN_IN_COOKIE, "", "/console", 0),
    );
    response
}

/// `POST /console/sign-out`: ends the session.
async fn sign_out(
    session: Session,
    headers: HeaderMap,
    LimitedBody(bytes): LimitedBody<4096>,
) -> Response {
    if let Err(refused) = checked(&session, &bytes) {
        return refused;
    }
    let mut response = Redirect::to("/console/sign-in").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(&headers, SESSION_COOKIE, "", "/", 0),
    );
    response
}

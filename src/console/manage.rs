//! Accounts (paste or pick a CSV, errors per row), keys (create, shown once; revoke) and
//! notifications (the dead ones, retried one at a time).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Response;
use maud::{html, PreEscaped};

use crate::app::auth::{KeyRef, NewKey};
use crate::app::App;
use crate::domain::access::{Permission, Role};
use crate::http::extract::LimitedBody;

use super::form::{back, permitted, MAX_FORM};
use super::page::{self, Section};
use super::session::Session;
use super::view::{self, store_failed};

fn notice_of(pairs: &[(String, String)]) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == "notice")
        .map(|(_, v)| v.clone())
}

/// Reads a chosen file into the text box (the form works without it: paste the CSV).
const FILE_TO_TEXT: &str = r#"<script>
document.getElementById('file').addEventListener('change', function (e) {
  var f = e.target.files[0]; if (!f) return;
  var r = new FileReader(); r.onload = function () { document.getElementById('csv').value = r.result; };
  r.readAsText(f);
});
</script>"#;

fn accounts_page(session: &Session, result: maud::Markup, text: &str) -> Response {
    let body = html! {
        (result)
        form.card method="post" action="/console/accounts" {
            (page::csrf(session))
            p { "Columns: " code { "id,name,domains,owner,tier,list" } " (several domains separated by spaces, commas or semicolons). Loading is idempotent: accounts already stored exactly so are not written again." }
            div.field { label for="file" { "A CSV file " span.hint { "(or paste it below)" } } input #file type="file" accept=".csv,text/csv"; }
            div.field { label for="csv" { "Accounts" } textarea #csv name="csv" rows="12" spellcheck="false" { (text) } }
            button type="submit" { "Load accounts" }
        }
        (PreEscaped(FILE_TO_TEXT))
    };
    page::layout(session, Section::Accounts, "Accounts", body)
}

/// `GET /console/accounts`.
pub async fn accounts(session: Session) -> Response {
    if !session.may(Permission::EditRouting) {
        return page::forbidden(&session, Permission::EditRouting);
    }
    accounts_page(&session, html! {}, "id,name,domains,owner,tier,list\n")
}

/// `POST /console/accounts`: every bad row listed, nothing stored; or what was loaded.
pub async fn load_accounts(
    State(app): State<Arc<App>>,
    session: Session,
    LimitedBody(bytes): LimitedBody<MAX_FORM>,
) -> Response {
    let form = match permitted(&session, &bytes, Permission::EditRouting) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let text = form.raw("csv").unwrap_or_default().to_string();
    let result = match crate::domain::account::parse_accounts(&text) {
        Err(errors) => html! {
            div.notice.bad role="alert" {
                (errors.len()) " row(s) are wrong; nothing was stored:"
                ul.errors { @for e in &errors { li { code { (e.path) } ": " (e.message) } } }
            }
        },
        Ok(accounts) => match app.load_accounts(&accounts, &session.actor()).await {
            Ok(load) => html! { (view::notice("ok", &format!(
            "Loaded {} accounts: {} written, {} unchanged, {} domains removed.",
            load.accounts, load.written, load.unchanged, load.domains_removed))) },
            Err(e) => return store_failed(e),
        },
    };
    accounts_page(&session, result, &text)
}

/// `GET /console/keys`.
pub async fn keys(
    State(app): State<Arc<App>>,
    session: Session,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    keys_page(&app, &session, notice_of(&pairs).as_deref(), None).await
}

async fn keys_page(
    app: &App,
    session: &Session,
    notice: Option<&str>,
    shown: Option<(String, String)>,
) -> Response {
    if !session.may(Permission::ManageKeys) {
        return page::forbidden(session, Permission::ManageKeys);
    }
    let keys = match app.keys().await {
        Ok(k) => k,
        Err(e) => return store_failed(e),
    };
    let body = html! {
        @match notice {
            Some("revoked") => (view::notice("ok", "Revoked: the key stops working now.")),
            Some("own") => (view::notice("bad", "A key cannot revoke itself: sign in with another admin key.")),
            Some("bad") => (view::notice("bad", "Give the key a name (1-64 characters) and a role.")),
            _ => {}
        }
        @if let Some((name, key)) = &shown {
            div.notice.warn role="alert" {
                "The key for " strong { (name) } " is shown once; copy it now (only its hash is kept):"
                p.shown-once { (key) }
            }
        }
        form.card method="post" action="/console/keys" {
            h2 { "Create a key" }
            (page::csrf(session))
            input type="hidden" name="action" value="create";
            div.field { label for="name" { "Name " span.hint { "(a person or an integration)" } } input #name name="name" maxlength="64" required; }
            div.field { label for="role" { "Role" }
                select #role name="role" { @for r in Role::ALL { option value=(r.as_str()) selected[r == Role::Viewer] { (r.as_str()) } } } }
            div.field { label for="redirect" { "Form redirect prefix " span.hint { "(source keys; optional)" } } input #redirect name="redirect" size="40" placeholder="https://www.example.com/thanks"; }
            div.field { label for="origins" { "Allowed origins " span.hint { "(source keys posting from web pages; space-separated; empty: any)" } } input #origins name="origins" size="40" placeholder="https://www.example.com"; }
            button type="submit" { "Create" }
        }
        div.table-wrap { table {
            thead { tr { th { "Name" } th { "Role" } th { "Id" } th { "Created" } th { "By" } th { "" } } }
            tbody { @for k in &keys { tr {
                th scope="row" { (k.name) }
                td { (k.role) }
                td { code { (k.id()) } }
                td { (view::when(k.created_at)) }
                td { (view::or_dash(k.created_by.as_deref())) }
                td {
                    @if k.revoked { span.tag.bad { "revoked" } }
                    @else if k.hash == session.key.hash { span.muted { "this session" } }
                    @else {
                        form method="post" action="/console/keys" {
                            (page::csrf(session))
                            input type="hidden" name="action" value="revoke";
                            input type="hidden" name="id" value=(k.id());
                            button.danger type="submit" aria-label={"Revoke " (k.name)} { "Revoke" }
                        }
                    }
                }
            } } }
        } }
    };
    page::layout(session, Section::Keys, "Keys", body)
}

/// `POST /console/keys`: create (the key shown once) or revoke.
pub async fn key_action(
    State(app): State<Arc<App>>,
    session: Session,
    LimitedBody(bytes): LimitedBody<8192>,
) -> Response {
    let form = match permitted(&session, &bytes, Permission::ManageKeys) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    match form.get("action") {
        Some("revoke") => {
            let id = form.get("id").unwrap_or_default();
            if id == session.key.id() {
                return back("/console/keys", "own");
            }
            match app.revoke_key(KeyRef::Id(id), &session.actor()).await {
                Ok(_) => back("/console/keys", "revoked"),
                Err(e) => store_failed(e),
            }
        }
        _ => {
            let name = form.get("name").unwrap_or_default().to_string();
            let role = form
                .get("role")
                .and_then(|r| Role::ALL.into_iter().find(|x| x.as_str() == r));
            let (Some(role), false) = (role, name.is_empty() || name.chars().count() > 64) else {
                return back("/console/keys", "bad");
            };
            let redirects: Vec<String> = form
                .get("redirect")
                .map(|r| vec![r.to_string()])
                .unwrap_or_default();
            let new = NewKey {
                role,
                name: name.clone(),
                allowed_redirects: if role == Role::Source {
                    redirects
                } else {
                    Vec::new()
                },
                allowed_origins: if role == Role::Source {
                    form.get("origins")
                        .unwrap_or_default()
                        .split([',', ' ', '\n'])
                        .filter_map(crate::http::cors::normalize)
                        .collect()
                } else {
                    Vec::new()
                },
                redirect_lead_id: false,
            };
            match app.create_key(new, None, &session.actor()).await {
                Ok((key, _)) => keys_page(&app, &session, None, Some((name, key))).await,
                Err(e) => store_failed(e),
            }
        }
    }
}

/// `GET /console/notifications`: the dead notifications, newest first.
pub async fn notifications(
    State(app): State<Arc<App>>,
    session: Session,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    if !session.may(Permission::ReadReports) {
        return page::forbidden(&session, Permission::ReadReports);
    }
    let dead = match app.store().dead_list(100).await {
        Ok(d) => d,
        Err(e) => return store_failed(e),
    };
    let can_retry = session.may(Permission::EditRouting);
    let body = html! {
        @match notice_of(&pairs).as_deref() {
            Some("retried") => (view::notice("ok", "Back in the outbox: tried again now (see the lead).")),
            Some("gone") => (view::notice("warn", "That notification is not dead any more.")),
            _ => {}
        }
        p { "Notifications given up on after their last attempt. A retry puts one back in the outbox with a fresh set of attempts and tries it at once." }
        div.table-wrap { table {
            thead { tr { th { "Died" } th { "Lead" } th { "Channel" } th.num { "Attempts" } th { "Last error" } th { "" } } }
            tbody {
                @if dead.is_empty() { tr { td colspan="6" { span.muted { "None: every notification was delivered or is still being tried." } } } }
                @for d in &dead { tr {
                    td { (view::when(d.at)) }
                    td { a href={"/console/leads/" (d.lead_id)} { (d.lead_id.get(..8).unwrap_or(&d.lead_id)) } }
                    td { (d.channel) }
                    td.num { (d.attempts) }
                    td { (view::or_dash(d.last_error.as_deref())) }
                    td { @if can_retry {
                        form method="post" action="/console/notifications" {
                            (page::csrf(&session))
                            input type="hidden" name="lead" value=(d.lead_id);
                            input type="hidden" name="event" value=(d.event_id);
                            input type="hidden" name="channel" value=(d.channel);
                            button type="submit" { "Retry" }
                        }
                    } }
                } }
            }
        } }
    };
    page::layout(&session, Section::Notifications, "Notifications", body)
}

/// `POST /console/notifications`: retries one dead notification.
pub async fn retry(
    State(app): State<Arc<App>>,
    session: Session,
    LimitedBody(bytes): LimitedBody<4096>,
) -> Response {
    let form = match permitted(&session, &bytes, Permission::EditRouting) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let (Some(lead), Some(event), Some(channel)) =
        (form.get("lead"), form.get("event"), form.get("channel"))
    else {
        return back("/console/notifications", "gone");
    };
    match app.retry_dead(lead, event, channel).await {
        Ok(true) => back("/console/notifications", "retried"),
        Ok(false) => back("/console/notifications", "gone"),
        Err(e) => store_failed(e),
    }
}

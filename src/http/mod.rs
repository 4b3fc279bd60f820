//! The HTTP edge: one axum router that runs under Lambda (`lambda_http::run`) and locally
//! (`axum::serve`). It decodes bodies, authenticates keys, parses leads once, and maps results
//! to status codes; routing decisions live in the domain and the service.

pub mod problem;

use std::sync::Arc;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::domain::lead::{canonical_key, FieldError, Lead};
use crate::service::{App, IntakeRequest};
use crate::store::{KeyKind, StatusAction, StatusOutcome};
use problem::Problem;

/// Largest lead body accepted. Real form posts are a few KiB.
pub const MAX_LEAD_BODY: usize = 64 * 1024;
/// Largest account file accepted (about 100,000 accounts as CSV).
pub const MAX_ACCOUNTS_BODY: usize = 6 * 1024 * 1024;
/// Largest routing config accepted.
pub const MAX_CONFIG_BODY: usize = 512 * 1024;
/// Header carrying an integration's source key.
pub const SOURCE_KEY_HEADER: &str = "x-source-key";
/// Query or form field carrying the source key for plain HTML forms.
pub const SOURCE_KEY_FIELD: &str = "source_key";
/// Form field naming the page to redirect to after a form post.
pub const REDIRECT_FIELD: &str = "_redirect";
/// Query or form field carrying an acknowledge link's token.
pub const ACK_TOKEN_FIELD: &str = "token";
/// Longest Idempotency-Key accepted.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The API router.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/leads", post(post_lead))
        .route("/leads/{id}", get(get_lead))
        .route("/leads/{id}/ack", post(ack_lead).get(ack_page))
        .route("/leads/{id}/close", post(close_lead))
        .route("/admin/config", get(get_config).post(post_config))
        .route("/admin/metrics", get(get_metrics))
        .route("/admin/accounts", post(post_accounts))
        .route("/admin/accounts/{id}", get(get_account))
        .route("/health", get(|| async { "ok" }))
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint") })
        .with_state(app)
}

/// Name/value pairs from a JSON object or a urlencoded form.
type Fields = Vec<(String, String)>;

enum BodyKind {
    Json,
    Form,
}

fn body_kind(headers: &HeaderMap) -> Result<BodyKind, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "application/json" => Ok(BodyKind::Json),
        "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        other => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!(
                "Content-Type '{other}' is not accepted; send application/json or application/x-www-form-urlencoded"
            ),
        )
        .field("Content-Type")),
    }
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, Problem> {
    to_bytes(body, limit).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            format!("the body is larger than {limit} bytes"),
        )
        .field("body")
    })
}

/// Flattens a JSON object into fields. Nested `utm` and `custom` objects are allowed; other
/// nesting is refused with the field named.
fn json_fields(bytes: &[u8]) -> Result<Fields, Problem> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            format!("the body is not valid JSON: {e}"),
        )
        .field("body")
    })?;
    let Value::Object(map) = value else {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "the body must be a JSON object",
        )
        .field("body"));
    };
    let mut fields = Vec::with_capacity(map.len());
    let mut errors = Vec::new();
    for (key, value) in map {
        match value {
            Value::Object(inner) if matches!(canonical_key(&key).as_str(), "utm" | "custom") => {
                for (k, v) in inner {
                    let name = if canonical_key(&key) == "utm" {
                        format!("utm_{k}")
                    } else {
                        k
                    };
                    match scalar(&v) {
                        Some(text) => fields.push((name, text)),
                        None => errors.push(FieldError::new(
                            format!("{key}.{name}"),
                            "expected text, a number or a boolean",
                        )),
                    }
                }
            }
            other => match scalar(&other) {
                Some(text) => fields.push((key, text)),
                None if other.is_null() => {}
                None => errors.push(FieldError::new(key, "expected text, a number or a boolean")),
            },
        }
    }
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(Problem::invalid_fields(errors))
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn form_fields(bytes: &[u8]) -> Result<Fields, Problem> {
    serde_urlencoded::from_bytes::<Fields>(bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            format!("the form body could not be decoded: {e}"),
        )
        .field("body")
    })
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let query = uri.query()?;
    serde_urlencoded::from_str::<Fields>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn field<'f>(fields: &'f Fields, name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(k, _)| canonical_key(k) == name)
        .map(|(_, v)| v.as_str())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn require_admin(app: &App, headers: &HeaderMap) -> Result<(), Problem> {
    let Some(key) = bearer(headers) else {
        return Err(Problem::unauthorized(
            "Authorization",
            "send an admin key as 'Authorization: Bearer <key>'",
        ));
    };
    match app.authenticate(key, KeyKind::Admin).await? {
        Some(_) => Ok(()),
        None => Err(Problem::unauthorized(
            "Authorization",
            "the admin key is unknown or revoked",
        )),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-header",
            format!("Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        )
        .field("Idempotency-Key")
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text.is_empty() || text.len() > MAX_IDEMPOTENCY_KEY {
        return Err(bad());
    }
    Ok(Some(text.to_string()))
}

/// `POST /leads`: JSON or an HTML form in, the owner and the reason out.
async fn post_lead(State(app): State<Arc<App>>, request: Request) -> Response {
    match intake(&app, request).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

async fn intake(app: &App, request: Request) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    let kind = body_kind(&parts.headers)?;
    let idempotency_key = idempotency_key(&parts.headers)?;
    let bytes = read_body(body, MAX_LEAD_BODY).await?;
    let fields = match kind {
        BodyKind::Json => json_fields(&bytes)?,
        BodyKind::Form => form_fields(&bytes)?,
    };
    let presented = parts
        .headers
        .get(SOURCE_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query_param(&parts.uri, SOURCE_KEY_FIELD))
        .or_else(|| field(&fields, SOURCE_KEY_FIELD).map(str::to_string));
    let Some(presented) = presented.filter(|k| !k.trim().is_empty()) else {
        return Err(Problem::unauthorized(
            SOURCE_KEY_FIELD,
            "a source key is required: the X-Source-Key header, or a source_key query or form field",
        ));
    };
    let Some(source) = app.authenticate(presented.trim(), KeyKind::Source).await? else {
        return Err(Problem::unauthorized(
            SOURCE_KEY_FIELD,
            "the source key is unknown or revoked",
        ));
    };
    let redirect = match field(&fields, REDIRECT_FIELD) {
        Some(target)
            if source
                .allowed_redirects
                .iter()
                .any(|prefix| !prefix.is_empty() && target.starts_with(prefix.as_str())) =>
        {
            Some(target.to_string())
        }
        Some(_) => {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "redirect-not-allowed",
                "the redirect target is not in this source key's allowed redirects",
            )
            .field(REDIRECT_FIELD))
        }
        None => None,
    };
    let lead = Lead::parse(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(Problem::invalid_fields)?;
    let outcome = app
        .intake(IntakeRequest {
            source: source.name,
            idempotency_key,
            lead,
            base_url: seen_base_url(&parts.headers),
        })
        .await?;
    if let Some(target) = redirect {
        return Ok(Redirect::to(&target).into_response());
    }
    let status = if outcome.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let location = format!("/leads/{}", outcome.receipt.lead_id);
    Ok((
        status,
        [(header::LOCATION, location)],
        Json(outcome.receipt),
    )
        .into_response())
}

/// The scheme and host a request came in on. API Gateway routes by host and sets
/// X-Forwarded-Proto, so in Lambda this is the API's own URL.
fn seen_base_url(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':');
    if host.is_empty() || !host.chars().all(valid) {
        return None;
    }
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        Some(_) => "http",
        None if host.starts_with("127.0.0.1") || host.starts_with("localhost") => "http",
        None => "https",
    };
    Some(format!("{scheme}://{host}"))
}

/// `GET /leads/{id}` (admin): the lead, its owner, the reason and its history.
async fn get_lead(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    require_admin(&app, &headers).await?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(lead_not_found());
    }
    match app.lead(&id).await? {
        Some(lead) => Ok(Json(lead).into_response()),
        None => Err(lead_not_found()),
    }
}

/// The answer for a lead id that is malformed or unknown (the two are not told apart).
fn lead_not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "no lead with this id").field("id")
}

/// `POST /leads/{id}/ack`: the owner took the lead; its SLA clock stops and it no longer
/// counts as open. Authorised by the assignment's signed link (`token` in the query or a form
/// field) or an admin key. A link from before a reassignment gets 409.
async fn ack_lead(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    if bearer(&parts.headers).is_some() {
        return change_status(&app, &id, &parts.headers, StatusAction::Acknowledge).await;
    }
    let from_form = matches!(body_kind(&parts.headers), Ok(BodyKind::Form));
    let mut token = query_param(&parts.uri, ACK_TOKEN_FIELD);
    if token.is_none() && from_form {
        let fields = form_fields(&read_body(body, 4096).await?)?;
        token = field(&fields, ACK_TOKEN_FIELD).map(str::to_string);
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(Problem::unauthorized(
            ACK_TOKEN_FIELD,
            "acknowledge with the link from your notification (its token) or an admin key",
        ));
    };
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(lead_not_found());
    }
    let outcome = app.acknowledge_with_link(&id, &token).await?;
    let Some(outcome) = outcome else {
        return Err(Problem::unauthorized(
            ACK_TOKEN_FIELD,
            "this acknowledge link is not valid for this lead",
        ));
    };
    let response = status_response(&id, outcome)?;
    if from_form {
        return Ok(Html(
            "<!doctype html><meta charset=\"utf-8\"><title>Acknowledged</title><h1>Thanks: the lead is yours.</h1>",
        )
        .into_response());
    }
    Ok(response)
}

/// `GET /leads/{id}/ack?token=...`: a page with one button that acknowledges. Opening a link
/// changes nothing, so link previews and mail scanners cannot acknowledge for the rep.
async fn ack_page(Path(id): Path<String>, uri: Uri) -> Result<Response, Problem> {
    let token = query_param(&uri, ACK_TOKEN_FIELD).unwrap_or_default();
    let well_formed =
        |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_hexdigit() || c == '.');
    if uuid::Uuid::parse_str(&id).is_err() || !well_formed(&token) {
        return Err(lead_not_found());
    }
    Ok(Html(format!(
        r#"<!doctype html>
<meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Acknowledge lead</title>
<h1>Acknowledge this lead?</h1>
<p>Acknowledging tells the team you are on it and stops the response-time clock.</p>
<form method="post" action="/leads/{id}/ack">
  <input type="hidden" name="{ACK_TOKEN_FIELD}" value="{token}">
  <button>Acknowledge</button>
</form>
"#
    ))
    .into_response())
}

/// `POST /leads/{id}/close` (admin): the lead is finished.
async fn close_lead(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    change_status(&app, &id, &headers, StatusAction::Close).await
}

async fn change_status(
    app: &App,
    id: &str,
    headers: &HeaderMap,
    action: StatusAction,
) -> Result<Response, Problem> {
    require_admin(app, headers).await?;
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(lead_not_found());
    }
    status_response(id, app.change_status(id, action).await?)
}

/// The answer to a status change.
fn status_response(id: &str, outcome: StatusOutcome) -> Result<Response, Problem> {
    match outcome {
        StatusOutcome::Changed(status) => {
            Ok(Json(json!({ "lead_id": id, "status": status, "changed": true })).into_response())
        }
        StatusOutcome::Unchanged(status) => {
            Ok(Json(json!({ "lead_id": id, "status": status, "changed": false })).into_response())
        }
        StatusOutcome::NotAllowed(status) => Err(Problem::new(
            StatusCode::CONFLICT,
            "invalid-status",
            format!("the lead is {status}; it cannot be changed this way"),
        )
        .field("status")),
        StatusOutcome::Superseded => Err(Problem::new(
            StatusCode::CONFLICT,
            "reassigned",
            "the lead was reassigned after this link was sent; it is no longer yours to acknowledge",
        )
        .field(ACK_TOKEN_FIELD)),
        StatusOutcome::NotFound => Err(lead_not_found()),
    }
}

/// `GET /admin/metrics` (admin): this process's routing counters, and the notifications
/// that ever ended dead (a table-wide count).
async fn get_metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, Problem> {
    require_admin(&app, &headers).await?;
    let dead = app.store().dead_notifications().await?;
    let mut body = serde_json::to_value(crate::metrics::snapshot()).unwrap_or_default();
    body["dead_notifications_total"] = json!(dead);
    Ok(Json(body).into_response())
}

/// `POST /admin/config` (admin): validates a YAML or JSON routing config and activates it as
/// the next version.
async fn post_config(State(app): State<Arc<App>>, request: Request) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    require_admin(&app, &parts.headers).await?;
    let bytes = read_body(body, MAX_CONFIG_BODY).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "the config is not UTF-8",
        )
        .field("body")
    })?;
    match app.publish_config(text).await {
        Ok(version) => {
            Ok((StatusCode::CREATED, Json(json!({ "version": version }))).into_response())
        }
        Err(Ok(errors)) => Err(Problem::invalid_config(errors)),
        Err(Err(store)) => Err(store.into()),
    }
}

/// `POST /admin/accounts` (admin): loads accounts from a JSON array or CSV with a header row,
/// idempotently (by id; unchanged accounts are not written). A file with any bad row is a 422
/// listing every one, and nothing is stored.
async fn post_accounts(State(app): State<Arc<App>>, request: Request) -> Result<Response, Problem> {
    let (parts, body) = request.into_parts();
    require_admin(&app, &parts.headers).await?;
    let bytes = read_body(body, MAX_ACCOUNTS_BODY).await?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "the file is not UTF-8",
        )
        .field("body")
    })?;
    let accounts =
        crate::domain::account::parse_accounts(text).map_err(Problem::invalid_accounts)?;
    let report = app.store().put_accounts(&accounts).await?;
    Ok(Json(report).into_response())
}

/// `GET /admin/accounts/{id}` (admin): one stored account.
async fn get_account(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    require_admin(&app, &headers).await?;
    match app.store().account(&id).await? {
        Some(account) => Ok(Json(account).into_response()),
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "no account with this id",
        )
        .field("id")),
    }
}

/// `GET /admin/config` (admin): the active config version and document.
async fn get_config(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, Problem> {
    require_admin(&app, &headers).await?;
    let store = app.store();
    let Some(version) = store.active_config_version().await? else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "no routing config has been published",
        ));
    };
    let stored = store.config_version(version).await?;
    Ok(Json(json!({
        "version": version,
        "created_at": stored.as_ref().map(|s| s.created_at.clone()),
        "document": stored.map(|s| s.document),
    }))
    .into_response())
}

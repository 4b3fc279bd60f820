//! Admin endpoints, all behind the admin layer: the routing config, accounts, metrics.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::app::config::Publish;
use crate::app::App;

use super::extract::{Caller, LimitedBody};
use super::governance::{actor, base_required, publish_problem};
use super::params::{bad, Params};
use super::problem::Problem;

/// Largest account file accepted (about 100,000 accounts as CSV).
pub const MAX_ACCOUNTS_BODY: usize = 6 * 1024 * 1024;
/// Largest routing config accepted.
pub const MAX_CONFIG_BODY: usize = 512 * 1024;

/// The body as UTF-8 text.
fn text(bytes: &[u8], what: &str) -> Result<String, Problem> {
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            format!("the {what} is not UTF-8"),
        )
        .field("body")
    })
}

/// `GET /admin/metrics`: this process's routing counters, and the notifications that ever
/// ended dead (a table-wide count).
pub async fn get_metrics(State(app): State<Arc<App>>) -> Result<Response, Problem> {
    let dead = app.store().dead_notifications().await?;
    let mut body = serde_json::to_value(crate::metrics::snapshot()).unwrap_or_default();
    body["dead_notifications_total"] = json!(dead);
    Ok(Json(body).into_response())
}

/// `POST /admin/config?base_version=N&message=...`: validates a YAML or JSON routing config and
/// activates it as the next version. Once a config is active, `base_version` (the version the
/// edit started from; also `If-Match: "N"`) is required: a publish based on a version that is
/// no longer active is refused with 409 and the diff, so no edit is lost.
pub async fn post_config(
    State(app): State<Arc<App>>,
    caller: Caller,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
    LimitedBody(bytes): LimitedBody<MAX_CONFIG_BODY>,
) -> Result<Response, Problem> {
    let params = Params::new(pairs, &["base_version", "message"])?;
    let number = |v: &str| {
        v.parse::<u64>()
            .map_err(|_| "expected a version number".to_string())
    };
    let from_header = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_matches('"').to_string());
    let base = match (params.parsed("base_version", number)?, from_header) {
        (Some(base), _) => Some(base),
        (None, Some(tag)) => Some(number(&tag).map_err(|why| bad("If-Match", why))?),
        (None, None) => None,
    };
    let active = app.store().active_config_version().await?;
    let base = match (base, active) {
        (Some(base), _) => base,
        (None, None) => 0,
        (None, Some(_)) => return Err(base_required("base_version")),
    };
    let message = params.get("message").map(str::to_string);
    if message.as_ref().is_some_and(|m| m.chars().count() > 500) {
        return Err(bad("message", "at most 500 characters"));
    }
    let document = text(&bytes, "config")?;
    let publish = Publish {
        document: &document,
        message,
        base: Some(base),
        rollback_of: None,
        availability: None,
    };
    match app.publish(publish, &actor(&caller)).await {
        Ok(version) => Ok((
            StatusCode::CREATED,
            [(header::ETAG, format!("\"{version}\""))],
            Json(json!({ "version": version })),
        )
            .into_response()),
        Err(e) => Err(publish_problem(&app, e).await),
    }
}

/// `GET /admin/config`: the active config version, who published it, why, what changed, and
/// its document; `ETag` is the version (send it back as `If-Match` or `base_version`).
pub async fn get_config(State(app): State<Arc<App>>) -> Result<Response, Problem> {
    let store = app.store();
    let Some(version) = store.active_config_version().await? else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "no routing config has been published",
        ));
    };
    let Some(stored) = store.config_version(version).await? else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("the active version {version} is missing"),
        ));
    };
    Ok(([(header::ETAG, format!("\"{version}\""))], Json(stored)).into_response())
}

/// `POST /admin/accounts`: loads accounts from a JSON array or CSV with a header row,
/// idempotently (by id; unchanged accounts are not written). A file with any bad row is a 422
/// listing every one, and nothing is stored.
pub async fn post_accounts(
    State(app): State<Arc<App>>,
    caller: Caller,
    LimitedBody(bytes): LimitedBody<MAX_ACCOUNTS_BODY>,
) -> Result<Response, Problem> {
    let accounts = crate::domain::account::parse_accounts(&text(&bytes, "file")?)
        .map_err(Problem::invalid_accounts)?;
    let report = app.load_accounts(&accounts, &actor(&caller)).await?;
    Ok(Json(report).into_response())
}

/// `GET /admin/accounts/{id}`: one stored account.
pub async fn get_account(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
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

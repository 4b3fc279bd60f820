//! Admin endpoints, all behind the admin layer: the routing config, accounts, metrics.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::app::config::PublishError;
use crate::app::App;

use super::extract::LimitedBody;
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

/// `POST /admin/config`: validates a YAML or JSON routing config and activates it as the next
/// version.
pub async fn post_config(
    State(app): State<Arc<App>>,
    LimitedBody(bytes): LimitedBody<MAX_CONFIG_BODY>,
) -> Result<Response, Problem> {
    match app.publish_config(&text(&bytes, "config")?).await {
        Ok(version) => {
            Ok((StatusCode::CREATED, Json(json!({ "version": version }))).into_response())
        }
        Err(PublishError::Invalid(errors)) => Err(Problem::invalid_config(errors)),
        Err(PublishError::Store(store)) => Err(store.into()),
    }
}

/// `GET /admin/config`: the active config version and document.
pub async fn get_config(State(app): State<Arc<App>>) -> Result<Response, Problem> {
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
        "created_at": stored.as_ref().map(|s| s.created_at),
        "document": stored.map(|s| s.document),
    }))
    .into_response())
}

/// `POST /admin/accounts`: loads accounts from a JSON array or CSV with a header row,
/// idempotently (by id; unchanged accounts are not written). A file with any bad row is a 422
/// listing every one, and nothing is stored.
pub async fn post_accounts(
    State(app): State<Arc<App>>,
    LimitedBody(bytes): LimitedBody<MAX_ACCOUNTS_BODY>,
) -> Result<Response, Problem> {
    let accounts = crate::domain::account::parse_accounts(&text(&bytes, "file")?)
        .map_err(Problem::invalid_accounts)?;
    let report = app.store().put_accounts(&accounts).await?;
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

//! `POST /leads/{id}/activity`: a touch on a lead (a call, an email, a meeting, a CRM status
//! change) reported by a CRM workflow or anything holding a key allowed to work leads, or by
//! a signed webhook (the same `X-Leadrouter-Timestamp` and `X-Leadrouter-Signature` scheme
//! leadrouter signs its own webhooks with, under the activity secret). The first touch on a
//! lead awaiting its owner stops the SLA clock and is what speed to lead measures.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::domain::access::Permission;
use crate::domain::model::ActivityKind;
use crate::domain::notify::{verify_signature, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::store::{ActivityOutcome, ActivityRecord};

use super::extract::{bearer, lead_id, read_body, Caller};
use super::problem::Problem;

/// Largest activity body accepted.
const MAX_ACTIVITY_BODY: usize = 4096;
/// How far a signed request's timestamp may be from now (replays older than this fail).
const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;
/// How far in the future an activity's time may be (clock skew between systems).
const SKEW_SECONDS: i64 = 120;
/// Who the history names for a signed webhook's activity.
const SIGNED_BY: &str = "signed webhook";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivityBody {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /leads/{id}/activity` with `{"type": "call", "at": "...", "note": "..."}`.
pub async fn post_activity(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Problem> {
    let headers = request.headers().clone();
    let by = if bearer(&headers).is_some() {
        Some(
            Caller::check(&app, &headers, Permission::WorkLeads)
                .await?
                .0
                .name,
        )
    } else {
        None
    };
    let bytes = read_body(request, MAX_ACTIVITY_BODY).await?;
    let by = match by {
        Some(name) => name,
        None => {
            signed(&app, &headers, &bytes).await?;
            SIGNED_BY.to_string()
        }
    };
    let id = lead_id(&id)?;
    let body: ActivityBody = serde_json::from_slice(&bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            format!("expected a JSON object with `type`: {e}"),
        )
        .field("body")
    })?;
    let names: Vec<&str> = ActivityKind::ALL.iter().map(|k| k.as_str()).collect();
    let kind = ActivityKind::parse(body.kind.trim()).ok_or_else(|| {
        Problem::invalid_field("type", format!("expected one of: {}", names.join(", ")))
    })?;
    let note = body
        .note
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > 500 || n.chars().any(char::is_control))
    {
        return Err(Problem::invalid_field(
            "note",
            "at most 500 characters on one line",
        ));
    }
    let now = app.now();
    let at = Problem::event_time(body.at.as_deref(), now, SKEW_SECONDS)?;
    let at = at.min(now);
    let record = ActivityRecord { kind, at, note, by };
    let (clock_stopped, sla, status) = match app.record_activity(id, &record).await? {
        ActivityOutcome::NotFound => return Err(Problem::lead_not_found()),
        ActivityOutcome::ClockStopped(sla) => (true, sla, "acknowledged".to_string()),
        ActivityOutcome::Recorded(status) => (false, None, status.to_string()),
    };
    Ok((
        StatusCode::OK,
        Json(json!({
            "lead_id": id,
            "recorded": true,
            "clock_stopped": clock_stopped,
            "sla": sla.map(|s| s.as_str()),
            "status": status,
        })),
    )
        .into_response())
}

/// Checks a signed webhook: a recent timestamp and the HMAC of `<timestamp>.<body>` under the
/// activity secret. Without a configured secret, only keys are accepted.
async fn signed(app: &App, headers: &axum::http::HeaderMap, body: &[u8]) -> Result<(), Problem> {
    let refuse = |detail: &str| Problem::unauthorized("Authorization", detail);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (header(SIGNATURE_HEADER), header(TIMESTAMP_HEADER))
    else {
        return Err(refuse(
            "send a key as 'Authorization: Bearer <key>', or sign the request (X-Leadrouter-Timestamp and X-Leadrouter-Signature)",
        ));
    };
    let Some(secret) = app.activity_secret().await? else {
        return Err(refuse(
            "signed activity webhooks are not enabled here (no ACTIVITY_WEBHOOK_SECRET); send a key",
        ));
    };
    let Ok(timestamp) = timestamp.trim().parse::<i64>() else {
        return Err(refuse("X-Leadrouter-Timestamp is not Unix seconds"));
    };
    if (app.now().as_second() - timestamp).abs() > SIGNATURE_TOLERANCE_SECONDS {
        return Err(refuse(
            "X-Leadrouter-Timestamp is more than 5 minutes from now",
        ));
    }
    let body = std::str::from_utf8(body).map_err(|_| refuse("the body is not UTF-8"))?;
    if !verify_signature(&secret, timestamp, body, signature) {
        return Err(refuse("the signature does not match"));
    }
    Ok(())
}

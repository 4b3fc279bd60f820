//! Lead endpoints: submitting one (`POST /leads`, a source key), reading one and closing one
//! (behind the layers of their permissions).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;

use serde::Deserialize;
use serde_json::json;

use crate::app::reassign::{ReassignError, Target};
use crate::app::{App, IntakeRequest};
use crate::domain::lifecycle::StatusAction;
use crate::domain::model::Outcome;
use crate::store::OutcomeRecord;

use super::extract::{lead_id, Caller, LeadSubmission, LimitedBody};
use super::problem::Problem;
use super::status::status_response;

/// `POST /leads`: JSON or an HTML form in; the owner and the reason out (201), the first
/// answer again for a retry or a double click (200), or a redirect for a form.
pub async fn post_lead(
    State(app): State<Arc<App>>,
    submission: LeadSubmission,
) -> Result<Response, Problem> {
    let outcome = app
        .intake(IntakeRequest {
            source: submission.source.name.clone(),
            idempotency_key: submission.idempotency_key,
            lead: submission.lead,
            base_url: submission.base_url,
            deadline: submission.deadline,
        })
        .await?;
    if let Some(target) = submission.redirect {
        let target = if submission.source.redirect_lead_id {
            super::redirect::with_lead_id(&target, &outcome.receipt.lead_id)
        } else {
            target
        };
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

/// `GET /leads/{id}` (read leads): the lead, its owner, the reason, its history and
/// notifications.
pub async fn get_lead(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    match app.lead(lead_id(&id)?).await? {
        Some(lead) => Ok(Json(lead).into_response()),
        None => Err(Problem::lead_not_found()),
    }
}

/// `POST /leads/{id}/close` (work leads): the lead is finished.
pub async fn close_lead(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = lead_id(&id)?;
    status_response(id, app.change_status(id, StatusAction::Close).await?)
}

/// Largest outcome body accepted.
const MAX_OUTCOME_BODY: usize = 8 * 1024;
/// How far ahead of the server's clock an outcome's `at` may be (clock skew).
const OUTCOME_SKEW_SECONDS: i64 = 300;

/// What `POST /leads/{id}/outcome` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    outcome: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    at: Option<String>,
}

/// `POST /leads/{id}/outcome` (work leads): records contacted, meeting, qualified, won, lost
/// or disqualified, with an optional reason, value and time, as history; it feeds the
/// report's conversion figures.
pub async fn post_outcome(
    State(app): State<Arc<App>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    LimitedBody(bytes): LimitedBody<MAX_OUTCOME_BODY>,
) -> Result<Response, Problem> {
    let id = lead_id(&id)?;
    let malformed = |detail: String| {
        Problem::new(StatusCode::BAD_REQUEST, "malformed-body", detail).field("body")
    };
    let body: OutcomeBody = serde_json::from_slice(&bytes)
        .map_err(|e| malformed(format!("expected a JSON object with `outcome`: {e}")))?;
    let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
    let outcome = Outcome::parse(body.outcome.trim()).ok_or_else(|| {
        Problem::invalid_field("outcome", format!("expected one of: {}", names.join(", ")))
    })?;
    if let Some(value) = body.value {
        if !value.is_finite() || value < 0.0 {
            return Err(Problem::invalid_field(
                "value",
                "expected a number of at least 0",
            ));
        }
    }
    let reason = body
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(Problem::invalid_field("reason", "at most 500 characters"));
    }
    let now = app.now();
    let at = Problem::event_time(body.at.as_deref(), now, OUTCOME_SKEW_SECONDS)?;
    let record = OutcomeRecord {
        outcome,
        at,
        reason,
        value: body.value,
        by: caller.name,
    };
    if !app.record_outcome(id, &record).await? {
        return Err(Problem::lead_not_found());
    }
    Ok(Json(json!({"lead_id": id, "outcome": outcome, "at": at})).into_response())
}

/// What `POST /leads/{id}/reassign` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReassignBody {
    to: TargetBody,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    #[serde(default)]
    rep: Option<String>,
    #[serde(default)]
    pool: Option<String>,
    #[serde(default)]
    queue: Option<String>,
}

/// `POST /leads/{id}/reassign` (edit routing): `{"to": {"rep": "ava"} | {"pool": "smb"} |
/// {"queue": "nurture"}, "reason": "..."}` sends the lead to its next owner by hand, through
/// the same walk and conditional commit as an escalation; audited.
pub async fn post_reassign(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    LimitedBody(bytes): LimitedBody<MAX_OUTCOME_BODY>,
) -> Result<Response, Problem> {
    let id = lead_id(&id)?;
    let body: ReassignBody = serde_json::from_slice(&bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            format!(
                "expected {{\"to\": {{\"rep\"|\"pool\"|\"queue\": id}}, \"reason\": ...}}: {e}"
            ),
        )
        .field("body")
    })?;
    let target = match (body.to.rep, body.to.pool, body.to.queue) {
        (Some(rep), None, None) => Target::Rep(rep),
        (None, Some(pool), None) => Target::Pool(pool),
        (None, None, Some(queue)) => Target::Queue(queue),
        _ => {
            return Err(Problem::invalid_field(
                "to",
                "name exactly one of rep, pool or queue",
            ))
        }
    };
    let reason = body.reason.unwrap_or_default();
    if reason.chars().count() > 500 {
        return Err(Problem::invalid_field("reason", "at most 500 characters"));
    }
    let actor = super::governance::actor(&caller);
    match app.reassign(id, &target, &reason, &actor).await {
        Ok(lead) => Ok(Json(lead).into_response()),
        Err(ReassignError::NotFound) => Err(Problem::lead_not_found()),
        Err(ReassignError::Store(e)) => Err(e.into()),
        Err(e @ ReassignError::BadTarget(_)) => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-target",
            e.to_string(),
        )
        .field("to")),
        Err(e) => Err(Problem::new(
            StatusCode::CONFLICT,
            "not-reassignable",
            e.to_string(),
        )),
    }
}

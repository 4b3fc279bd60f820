//! Lead endpoints: submitting one (`POST /leads`, a source key), reading one and closing one
//! (behind the layers of their permissions).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;

use crate::app::{App, IntakeRequest};
use crate::domain::lifecycle::StatusAction;

use super::extract::{lead_id, LeadSubmission};
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

//! Acknowledging a lead: by the owner's signed link (`token` in the query or a form field) or
//! a key allowed to work leads; the link's page, which changes nothing by being opened; and the one answer
//! every status change gives.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::app::App;
use crate::domain::access::Permission;
use crate::domain::lifecycle::StatusAction;
use crate::store::StatusOutcome;

use super::extract::{
    bearer, body_kind, field, form_fields, lead_id, query_param, read_body, BodyKind, Caller,
};
use super::problem::Problem;

/// Query or form field carrying an acknowledge link's token.
pub const ACK_TOKEN_FIELD: &str = "token";
/// Largest acknowledge form accepted.
const MAX_ACK_BODY: usize = 4096;

/// `POST /leads/{id}/ack`: the owner took the lead; its SLA clock stops and it no longer
/// counts as open. A link from before a reassignment gets 409.
pub async fn ack_lead(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Problem> {
    if bearer(request.headers()).is_some() {
        Caller::check(&app, request.headers(), Permission::WorkLeads).await?;
        let id = lead_id(&id)?;
        return status_response(id, app.change_status(id, StatusAction::Acknowledge).await?);
    }
    let from_form = matches!(body_kind(request.headers()), Ok(BodyKind::Form));
    let mut token = query_param(request.uri(), ACK_TOKEN_FIELD);
    if token.is_none() && from_form {
        let fields = form_fields(&read_body(request, MAX_ACK_BODY).await?)?;
        token = field(&fields, ACK_TOKEN_FIELD).map(str::to_string);
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(Problem::unauthorized(
            ACK_TOKEN_FIELD,
            "acknowledge with the link from your notification (its token) or a key allowed to work leads",
        ));
    };
    let id = lead_id(&id)?;
    let Some(outcome) = app.acknowledge_with_link(id, &token).await? else {
        return Err(Problem::unauthorized(
            ACK_TOKEN_FIELD,
            "this acknowledge link is not valid for this lead",
        ));
    };
    let response = status_response(id, outcome)?;
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
pub async fn ack_page(Path(id): Path<String>, uri: Uri) -> Result<Response, Problem> {
    let token = query_param(&uri, ACK_TOKEN_FIELD).unwrap_or_default();
    let well_formed =
        |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_hexdigit() || c == '.');
    let id = lead_id(&id)?;
    if !well_formed(&token) {
        return Err(Problem::lead_not_found());
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

/// The answer to a status change.
pub fn status_response(id: &str, outcome: StatusOutcome) -> Result<Response, Problem> {
    let changed = |status, changed| {
        Json(json!({ "lead_id": id, "status": status, "changed": changed })).into_response()
    };
    match outcome {
        StatusOutcome::Changed(status) => Ok(changed(status, true)),
        StatusOutcome::Unchanged(status) => Ok(changed(status, false)),
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
        StatusOutcome::NotFound => Err(Problem::lead_not_found()),
    }
}

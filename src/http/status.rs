//! Acknowledging a lead: by the owner's signed link (`token` in the query or a form field) or
//! a key allowed to work leads; the link's page, which changes nothing by being opened; and the one answer
//! every status change gives.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use maud::{html, Markup};
use serde_json::json;

use crate::app::App;
use crate::console::view;
use crate::domain::access::Permission;
use crate::domain::lifecycle::StatusAction;
use crate::domain::model::LeadStatus;
use crate::domain::notify::LeadSummary;
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
        return Ok(link_page(
            StatusCode::OK,
            "Acknowledged",
            html! { h1 { "Thanks: the lead is yours." } p { "The response-time clock has stopped." } },
        ));
    }
    Ok(response)
}

/// `GET /leads/{id}/ack?token=...`: a page naming the lead (person, company, when it came)
/// and, to its current owner, what it said (its message among it), with one button that
/// acknowledges. Opening a link changes nothing, so link previews and
/// mail scanners cannot acknowledge for the rep.
pub async fn ack_page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Response, Problem> {
    let token = query_param(&uri, ACK_TOKEN_FIELD).unwrap_or_default();
    let id = lead_id(&id)?;
    let Some((lead, current)) = app.lead_for_link(id, &token).await? else {
        return Ok(bad_link());
    };
    let summary = LeadSummary::of(&lead.lead);
    let about = html! {
        div.card {
            h2 { (summary.headline()) }
            dl.facts {
                @if let Some(email) = &summary.email { dt { "Email" } dd { (email) } }
                @if let Some(phone) = &summary.phone { dt { "Phone" } dd { (phone) } }
                @if let Some(product) = &summary.product { dt { "Interested in" } dd { (product) } }
                dt { "Arrived" } dd { (view::when(lead.received_at)) }
                dt { "Why you" } dd { (lead.assignment.reason) }
            }
        }
    };
    let body = if !current {
        html! {
            h1 { "This lead was reassigned" }
            (about)
            p { "It went to someone else after this link was sent, so it is no longer yours to acknowledge." }
        }
    } else if lead.status != LeadStatus::Open {
        html! {
            h1 { "Already " (lead.status) }
            (about)
            (view::said(&lead.lead))
            p { "Nothing to do: the lead is " (lead.status) "." }
        }
    } else {
        html! {
            h1 { "Acknowledge this lead?" }
            (about)
            (view::said(&lead.lead))
            p { "Acknowledging tells the team you are on it and stops the response-time clock." }
            form method="post" action={"/leads/" (id) "/ack"} {
                input type="hidden" name=(ACK_TOKEN_FIELD) value=(token);
                button type="submit" { "Acknowledge" }
            }
        }
    };
    Ok(link_page(StatusCode::OK, "Acknowledge lead", body))
}

/// A page opened from a notification's link: the shared stylesheet, no console chrome.
pub fn link_page(status: StatusCode, title: &str, body: Markup) -> Response {
    (status, Html(view::public(title, body).into_string())).into_response()
}

/// 404 page for a link whose token is not this lead's (it names nothing about the lead).
pub fn bad_link() -> Response {
    link_page(
        StatusCode::NOT_FOUND,
        "Link not valid",
        html! { h1 { "This link is not valid" } p { "It may be incomplete (copy the whole link) or for another lead." } },
    )
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

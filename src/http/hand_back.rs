//! Handing a lead back from the notification: `GET /leads/{id}/hand-back?token=...` is a page
//! naming the lead with a reason field and one button (opening the link changes nothing);
//! `POST` hands it back through [`App::hand_back`], with the same token the acknowledge link
//! carries, so only the current owner's link works.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use maud::html;

use crate::app::reassign::{HandBackError, ReassignError};
use crate::app::App;
use crate::console::view;
use crate::domain::model::{LeadStatus, Owner};
use crate::domain::notify::LeadSummary;

use super::extract::{field, form_fields, lead_id, query_param, LimitedBody};
use super::problem::Problem;
use super::status::{bad_link, link_page, ACK_TOKEN_FIELD};

/// `GET /leads/{id}/hand-back?token=...`: what the lead is, and a form to hand it back.
pub async fn hand_back_page(
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
    let yours = current
        && matches!(lead.assignment.owner, Owner::Rep { .. })
        && matches!(lead.status, LeadStatus::Open | LeadStatus::Acknowledged);
    let body = html! {
        h1 { "Hand this lead back?" }
        div.card {
            h2 { (summary.headline()) }
            dl.facts {
                dt { "Arrived" } dd { (view::when(lead.received_at)) }
                dt { "Why you" } dd { (lead.assignment.reason) }
            }
        }
        @if yours {
            p { "It goes to the next rep who can take it now (never back to you), with your reason in its history." }
            form method="post" action={"/leads/" (id) "/hand-back"} {
                input type="hidden" name=(ACK_TOKEN_FIELD) value=(token);
                div.field {
                    label for="reason" { "Why " span.hint { "(the next owner sees it)" } }
                    input #reason name="reason" maxlength="200" size="40" placeholder="On leave tomorrow";
                }
                button type="submit" { "Hand it back" }
            }
        } @else {
            p { "It is no longer yours to hand back (it was reassigned, queued or closed)." }
        }
    };
    Ok(link_page(StatusCode::OK, "Hand back a lead", body))
}

/// `POST /leads/{id}/hand-back` (a form: `token`, `reason`).
pub async fn hand_back(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    LimitedBody(bytes): LimitedBody<4096>,
) -> Result<Response, Problem> {
    let id = lead_id(&id)?;
    let fields = form_fields(&bytes)?;
    let token = field(&fields, ACK_TOKEN_FIELD)
        .unwrap_or_default()
        .to_string();
    let reason: String = field(&fields, "reason")
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let reason = if reason.trim().is_empty() {
        "no reason given".to_string()
    } else {
        reason.trim().to_string()
    };
    match app.hand_back(id, &token, &reason).await {
        Ok(lead) => Ok(link_page(
            StatusCode::OK,
            "Handed back",
            html! {
                h1 { "Handed back" }
                p { "It now belongs to " strong { (lead.assignment.owner.name()) } "." }
                p.muted { (lead.assignment.reason) }
            },
        )),
        Err(HandBackError::BadLink) => Ok(bad_link()),
        Err(HandBackError::Superseded)
        | Err(HandBackError::Reassign(ReassignError::Changed))
        | Err(HandBackError::Reassign(ReassignError::NotAllowed(_))) => Ok(link_page(
            StatusCode::CONFLICT,
            "Not yours any more",
            html! { h1 { "Not yours to hand back" } p { "The lead changed after this link was sent (reassigned, queued or closed). Nothing was changed." } },
        )),
        Err(HandBackError::Reassign(ReassignError::NotFound)) => Ok(bad_link()),
        Err(HandBackError::Reassign(ReassignError::Store(e))) => Err(e.into()),
        Err(HandBackError::Reassign(e)) => Ok(link_page(
            StatusCode::CONFLICT,
            "Cannot hand back now",
            html! { h1 { "Cannot hand it back now" } p { (e.to_string()) ". Nothing was changed; ask your manager to reassign it." } },
        )),
    }
}

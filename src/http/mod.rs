//! The HTTP edge: one axum router that runs under Lambda (`lambda_http::run`) and locally
//! (`axum::serve`). Public routes (lead intake with a source key, acknowledging with a signed
//! link, health) stand alone; every other route sits in the group of the one permission it
//! needs, behind that group's layer ([`extract::require`]), so a route cannot forget its check
//! and its role is read off this table. Extractors check input
//! once ([`extract`]); failures become `application/problem+json` in one place ([`problem`]).

pub mod activity;
pub mod admin;
pub mod cors;
pub mod extract;
pub mod governance;
pub mod hand_back;
pub mod leads;
pub mod log;
pub mod params;
pub mod problem;
pub mod redirect;
pub mod report;
pub mod status;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

use crate::app::App;
use crate::domain::access::Permission;
use problem::Problem;

pub use extract::{MAX_LEAD_BODY, REDIRECT_FIELD, SOURCE_KEY_FIELD, SOURCE_KEY_HEADER};

/// The API router.
pub fn router(app: Arc<App>) -> Router {
    let read_leads = Router::new()
        .route("/leads", get(log::get_leads))
        .route("/leads/{id}", get(leads::get_lead));
    let work_leads = Router::new()
        .route("/leads/{id}/close", post(leads::close_lead))
        .route("/leads/{id}/outcome", post(leads::post_outcome));
    let read_reports = Router::new()
        .route("/admin/config", get(admin::get_config))
        .route("/admin/metrics", get(admin::get_metrics))
        .route("/admin/report", get(report::get_report))
        .route("/admin/fairness", get(report::get_fairness))
        .route("/admin/config/versions", get(governance::get_versions))
        .route(
            "/admin/config/versions/{version}",
            get(governance::get_version),
        )
        .route("/admin/config/diff", get(governance::get_diff))
        .route("/admin/audit", get(governance::get_audit))
        .route("/admin/simulate", post(governance::post_simulate))
        .route("/admin/accounts/{id}", get(admin::get_account));
    let edit_routing = Router::new()
        .route("/admin/config", post(admin::post_config))
        .route("/admin/config/rollback", post(governance::post_rollback))
        .route("/leads/{id}/reassign", post(leads::post_reassign))
        .route("/admin/replay", post(governance::post_replay))
        .route(
            "/admin/reps/{id}/availability",
            post(governance::post_availability),
        )
        .route("/admin/replay/{id}", get(governance::get_replay))
        .route("/admin/accounts", post(admin::post_accounts));
    let manage_keys = Router::new()
        .route(
            "/admin/keys",
            get(governance::get_keys).post(governance::post_key),
        )
        .route("/admin/keys/{id}/revoke", post(governance::revoke_key));
    let guarded = [
        (Permission::ReadLeads, read_leads),
        (Permission::WorkLeads, work_leads),
        (Permission::ReadReports, read_reports),
        (Permission::EditRouting, edit_routing),
        (Permission::ManageKeys, manage_keys),
    ]
    .into_iter()
    .fold(Router::new(), |all, (permission, routes)| {
        all.merge(routes.route_layer(middleware::from_fn_with_state(
            (app.clone(), permission),
            extract::require,
        )))
    });
    Router::new()
        .route(
            "/leads",
            post(leads::post_lead)
                .options(cors::preflight)
                .layer(axum::middleware::from_fn(cors::headers)),
        )
        .route(
            "/leads/{id}/ack",
            post(status::ack_lead).get(status::ack_page),
        )
        .route("/leads/{id}/activity", post(activity::post_activity))
        .route(
            "/leads/{id}/hand-back",
            post(hand_back::hand_back).get(hand_back::hand_back_page),
        )
        .route("/health", get(|| async { "ok" }))
        .merge(guarded)
        .merge(crate::console::router())
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint") })
        .with_state(app)
}

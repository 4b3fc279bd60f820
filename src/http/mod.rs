//! The HTTP edge: one axum router that runs under Lambda (`lambda_http::run`) and locally
//! (`axum::serve`). Routes come in two groups: public ones (lead intake with a source key,
//! acknowledging with a signed link, health) and admin ones, all behind one layer that
//! requires an admin key, so an admin route cannot forget its check. Extractors check input
//! once ([`extract`]); failures become `application/problem+json` in one place ([`problem`]).

pub mod admin;
pub mod extract;
pub mod leads;
pub mod problem;
pub mod redirect;
pub mod status;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

use crate::app::App;
use problem::Problem;

pub use extract::{MAX_LEAD_BODY, REDIRECT_FIELD, SOURCE_KEY_FIELD, SOURCE_KEY_HEADER};

/// The API router.
pub fn router(app: Arc<App>) -> Router {
    let admin = Router::new()
        .route("/leads/{id}", get(leads::get_lead))
        .route("/leads/{id}/close", post(leads::close_lead))
        .route(
            "/admin/config",
            get(admin::get_config).post(admin::post_config),
        )
        .route("/admin/metrics", get(admin::get_metrics))
        .route("/admin/accounts", post(admin::post_accounts))
        .route("/admin/accounts/{id}", get(admin::get_account))
        .route_layer(middleware::from_fn_with_state(
            app.clone(),
            extract::require_admin,
        ));
    Router::new()
        .route("/leads", post(leads::post_lead))
        .route(
            "/leads/{id}/ack",
            post(status::ack_lead).get(status::ack_page),
        )
        .route("/health", get(|| async { "ok" }))
        .merge(admin)
        .fallback(|| async { Problem::new(StatusCode::NOT_FOUND, "not-found", "no such endpoint") })
        .with_state(app)
}

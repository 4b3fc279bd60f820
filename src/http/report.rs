//! `GET /admin/report` and `GET /admin/fairness` (a key allowed to read reports): the routing
//! report and the pools' fairness ledgers of a period.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::app::App;

use super::params::{bad, Params, Period};
use super::problem::Problem;

/// Days a report covers when `from` is not given.
const DEFAULT_DAYS: i64 = 7;
/// The longest period one report reads (about 92,000 leads at 1,000 a day).
const MAX_DAYS: i64 = 92;

fn period(app: &App, params: &Params) -> Result<Period, Problem> {
    let period = params.period(app.now(), DEFAULT_DAYS)?;
    let days = (period.to.as_second() - period.from.as_second()) / 86_400;
    if days > MAX_DAYS {
        return Err(bad(
            "from",
            format!("a report covers at most {MAX_DAYS} days"),
        ));
    }
    Ok(period)
}

/// `GET /admin/report?from=&to=&tz=`: every figure of the leads that arrived in the period
/// (default the last 7 days), overall and by pool, rep, rule and source.
pub async fn get_report(
    State(app): State<Arc<App>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let params = Params::new(pairs, &["from", "to", "tz"])?;
    let p = period(&app, &params)?;
    let answer = app.report(p.from, p.to, &p.tz, &p.tz_name).await?;
    Ok(Json(answer).into_response())
}

/// `GET /admin/fairness?from=&to=&tz=&pool=`: the fairness ledgers (one pool's with `pool`).
pub async fn get_fairness(
    State(app): State<Arc<App>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let params = Params::new(pairs, &["from", "to", "tz", "pool"])?;
    let p = period(&app, &params)?;
    let answer = app.report(p.from, p.to, &p.tz, &p.tz_name).await?;
    let mut ledgers = answer.report.fairness;
    if let Some(pool) = params.get("pool") {
        ledgers.retain(|l| l.pool == pool);
        if ledgers.is_empty() {
            return Err(bad("pool", "no lead of the period went through this pool"));
        }
    }
    Ok(Json(json!({
        "from": p.from,
        "to": p.to,
        "timezone": p.tz_name,
        "pools": ledgers,
    }))
    .into_response())
}

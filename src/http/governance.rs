//! Changing routing safely: keys (manage keys), the audit log (read reports), config history,
//! diff and rollback (read reports / edit routing). Every change is audited under the acting
//! key's name.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::auth::{KeyRef, NewKey};
use crate::app::config::PublishError;
use crate::app::App;
use crate::domain::access::{Actor, Role};
use crate::domain::config_diff;
use crate::store::KeyRecord;

use super::extract::{Caller, LimitedBody};
use super::log::named;
use super::params::{bad, Params};
use super::problem::Problem;

/// Largest key or rollback request accepted.
const MAX_SMALL_BODY: usize = 16 * 1024;

/// The acting key as the audit log names it.
pub fn actor(caller: &Caller) -> Actor {
    Actor {
        name: caller.0.name.clone(),
        role: caller.0.role,
    }
}

/// A key as lists show it: never its hash, only its id.
fn key_json(k: &KeyRecord) -> Value {
    json!({
        "id": k.id(),
        "name": k.name,
        "role": k.role,
        "created_at": k.created_at,
        "created_by": k.created_by,
        "revoked": k.revoked,
        "revoked_at": k.revoked_at,
        "allowed_redirects": k.allowed_redirects,
        "allowed_origins": k.allowed_origins,
        "redirect_lead_id": k.redirect_lead_id,
    })
}

fn json_body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            format!("the body is not the expected JSON: {e}"),
        )
        .field("body")
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    name: String,
    role: String,
    #[serde(default)]
    allowed_redirects: Vec<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    redirect_lead_id: bool,
}

/// `POST /admin/keys`: creates a key; the answer shows it once (only its hash is kept).
pub async fn post_key(
    State(app): State<Arc<App>>,
    caller: Caller,
    LimitedBody(bytes): LimitedBody<MAX_SMALL_BODY>,
) -> Result<Response, Problem> {
    let body: KeyBody = json_body(&bytes)?;
    let role: Role = named(
        body.role.trim(),
        &["source", "viewer", "integration", "editor", "admin"],
    )
    .map_err(|why| Problem::invalid_field("role", why))?;
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(Problem::invalid_field(
            "name",
            "1-64 characters naming the person or integration",
        ));
    }
    for prefix in &body.allowed_redirects {
        let ok = url::Url::parse(prefix)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        if !ok {
            return Err(Problem::invalid_field(
                "allowed_redirects",
                "each is an absolute http(s) URL prefix",
            ));
        }
    }
    let mut origins = Vec::new();
    for origin in &body.allowed_origins {
        match super::cors::normalize(origin) {
            Some(o) => origins.push(o),
            None if origin.trim() == "*" => origins.push("*".into()),
            None => {
                return Err(Problem::invalid_field(
                    "allowed_origins",
                    "each is an origin (scheme://host[:port], no path) or *",
                ))
            }
        }
    }
    if role != Role::Source && !origins.is_empty() {
        return Err(Problem::invalid_field(
            "allowed_origins",
            "only source keys post leads from web pages",
        ));
    }
    if role != Role::Source && (!body.allowed_redirects.is_empty() || body.redirect_lead_id) {
        return Err(Problem::invalid_field(
            "allowed_redirects",
            "only source keys redirect forms",
        ));
    }
    let new = NewKey {
        role,
        name,
        allowed_redirects: body.allowed_redirects,
        allowed_origins: origins,
        redirect_lead_id: body.redirect_lead_id,
    };
    let (key, record) = app.create_key(new, None, &actor(&caller)).await?;
    let mut shown = key_json(&record);
    shown["key"] = json!(key);
    Ok((StatusCode::CREATED, Json(shown)).into_response())
}

/// `GET /admin/keys`: every key, newest first (ids, never hashes or keys).
pub async fn get_keys(State(app): State<Arc<App>>) -> Result<Response, Problem> {
    let keys: Vec<Value> = app.keys().await?.iter().map(key_json).collect();
    Ok(Json(json!({ "keys": keys })).into_response())
}

/// `POST /admin/keys/{id}/revoke`: revokes a key at once. A key cannot revoke itself (so an
/// admin cannot lock themselves out by mistake; the tool can).
pub async fn revoke_key(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    if caller.0.id() == id {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "own-key",
            "a key cannot revoke itself; use another admin key or the command-line tool",
        )
        .field("id"));
    }
    match app.revoke_key(KeyRef::Id(&id), &actor(&caller)).await? {
        Some(record) => Ok(Json(key_json(&record)).into_response()),
        None => {
            Err(Problem::new(StatusCode::NOT_FOUND, "not-found", "no key with this id").field("id"))
        }
    }
}

/// `GET /admin/audit?from=&to=&limit=&cursor=`: who changed what, newest first (default the
/// last 30 days).
pub async fn get_audit(
    State(app): State<Arc<App>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let params = Params::new(pairs, &["from", "to", "tz", "limit", "cursor"])?;
    let period = params.period(app.now(), 30)?;
    let limit = params.number("limit", 1, 500, 100)?;
    let page = app
        .store()
        .audit_log(period.from, period.to, params.get("cursor"), limit)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Invalid(why) if why.starts_with("bad cursor") => {
                bad("cursor", why)
            }
            other => other.into(),
        })?;
    Ok(Json(page).into_response())
}

/// `GET /admin/config/versions`: every version, newest first: number, author, message, when,
/// and a one-line summary of what it changed.
pub async fn get_versions(State(app): State<Arc<App>>) -> Result<Response, Problem> {
    let mut versions = app.store().config_versions().await?;
    versions.reverse();
    let active = app.store().active_config_version().await?;
    Ok(Json(json!({ "active": active, "versions": versions })).into_response())
}

/// `GET /admin/config/versions/{n}`: one version with its document.
pub async fn get_version(
    State(app): State<Arc<App>>,
    Path(version): Path<String>,
) -> Result<Response, Problem> {
    let n = version
        .parse::<u64>()
        .map_err(|_| Problem::invalid_field("version", "expected a version number"))?;
    match app.store().config_version(n).await? {
        Some(stored) => Ok(Json(stored).into_response()),
        None => Err(no_version(n)),
    }
}

fn no_version(n: u64) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("no config version {n}"),
    )
    .field("version")
}

/// The diff of two versions as the API shows it.
fn diff_json(from: u64, to: u64, changes: &[config_diff::Change]) -> Value {
    json!({
        "from": from,
        "to": to,
        "summary": config_diff::summary(changes),
        "changes": changes,
        "text": config_diff::text(changes),
    })
}

/// `GET /admin/config/diff?from=&to=`: what changed between two versions (`to` defaults to
/// the active one, `from` to the one before `to`).
pub async fn get_diff(
    State(app): State<Arc<App>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, Problem> {
    let params = Params::new(pairs, &["from", "to"])?;
    let number = |v: &str| {
        v.parse::<u64>()
            .map_err(|_| "expected a version number".to_string())
    };
    let to = match params.parsed("to", number)? {
        Some(to) => to,
        None => app
            .store()
            .active_config_version()
            .await?
            .ok_or_else(|| bad("to", "no config has been published"))?,
    };
    let from = params
        .parsed("from", number)?
        .unwrap_or(to.saturating_sub(1));
    for (name, n) in [("from", from), ("to", to)] {
        if app.store().config_version(n).await?.is_none() {
            return Err(no_version(n).field(name));
        }
    }
    let Some(changes) = app.version_diff(from, to).await? else {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unreadable-version",
            "one of the versions no longer parses",
        ));
    };
    Ok(Json(diff_json(from, to, &changes)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    version: u64,
    base_version: Option<u64>,
    message: Option<String>,
}

/// `POST /admin/config/rollback {version, base_version, message}`: publishes an old version's
/// document as a new version through the roster-safe publish.
pub async fn post_rollback(
    State(app): State<Arc<App>>,
    caller: Caller,
    LimitedBody(bytes): LimitedBody<MAX_SMALL_BODY>,
) -> Result<Response, Problem> {
    let body: RollbackBody = json_body(&bytes)?;
    let Some(base) = body.base_version else {
        return Err(base_required("base_version"));
    };
    let message = body
        .message
        .or_else(|| Some(format!("rollback to version {}", body.version)));
    match app
        .rollback(body.version, Some(base), message, &actor(&caller))
        .await
    {
        Ok(version) => Ok((
            StatusCode::CREATED,
            Json(json!({"version": version, "rollback_of": body.version})),
        )
            .into_response()),
        Err(e) => Err(publish_problem(&app, e).await),
    }
}

/// 428 for a change that does not say which version it was based on.
pub fn base_required(field: &str) -> Problem {
    Problem::new(
        StatusCode::PRECONDITION_REQUIRED,
        "base-version-required",
        "say which version you started from (base_version), so a publish made meanwhile is not overwritten",
    )
    .field(field)
}

/// A refused publish as a problem: 422 with every mistake, 409 with the diff from the base to
/// what is active now, 404 for a missing version, 503 for storage.
pub async fn publish_problem(app: &App, error: PublishError) -> Problem {
    match error {
        PublishError::Invalid(errors) => Problem::invalid_config(errors),
        PublishError::NoSuchVersion(0) => Problem::new(
            StatusCode::CONFLICT,
            "no-config",
            "no routing config has been published",
        ),
        PublishError::NoSuchVersion(n) => no_version(n),
        PublishError::NoSuchRep(rep) => Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no rep '{rep}' in the active config"),
        )
        .field("id"),
        PublishError::Store(e) => e.into(),
        PublishError::Stale { base, current } => {
            let diff = match current {
                Some(current) if base > 0 => app
                    .version_diff(base, current)
                    .await
                    .ok()
                    .flatten()
                    .map(|c| diff_json(base, current, &c)),
                _ => None,
            };
            Problem::new(
                StatusCode::CONFLICT,
                "stale-base-version",
                format!(
                    "you started from version {base}, but version {} was published meanwhile; nothing was changed. Look at what changed, then publish again based on it.",
                    current.map_or("none".into(), |c| c.to_string())
                ),
            )
            .field("base_version")
            .with_extra("current_version", json!(current))
            .with_extra("diff", diff.unwrap_or(Value::Null))
        }
    }
}

/// Largest simulation or replay request accepted (a draft config inside).
const MAX_DRAFT_BODY: usize = 600 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimulateBody {
    lead: Value,
    #[serde(default)]
    config: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

/// A draft config from a request, or every mistake with its path (422).
fn draft(text: Option<&str>) -> Result<Option<crate::domain::config::RoutingConfig>, Problem> {
    text.map(|t| crate::domain::config::RoutingConfig::parse(t).map_err(Problem::invalid_config))
        .transpose()
}

/// `POST /admin/simulate {lead, config?, at?, source?}`: routes the lead against live state
/// (real accounts, returning contacts, tickets, loads, roster and caps) through the active
/// config or the draft `config`, at `at` (default now), writing nothing; answers the decision
/// and every step.
pub async fn post_simulate(
    State(app): State<Arc<App>>,
    LimitedBody(bytes): LimitedBody<MAX_DRAFT_BODY>,
) -> Result<Response, Problem> {
    let body: SimulateBody = json_body(&bytes)?;
    let fields = super::extract::json_fields(body.lead.to_string().as_bytes())
        .map_err(|p| p.field("lead"))?;
    let lead =
        crate::domain::lead::Lead::parse(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(Problem::invalid_fields)?;
    let draft = draft(body.config.as_deref())?;
    let at = match body.at {
        Some(text) => text
            .parse::<jiff::Timestamp>()
            .map_err(|_| Problem::invalid_field("at", "expected an RFC 3339 time"))?,
        None => app.now(),
    };
    let source = body.source.unwrap_or_else(|| "simulate".into());
    match app.simulate(lead, &source, draft.as_ref(), at).await {
        Ok(simulation) => Ok(Json(simulation).into_response()),
        Err(crate::app::simulate::SimulateError::Store(e)) => Err(e.into()),
        Err(e) => {
            Err(Problem::new(StatusCode::CONFLICT, "no-config", e.to_string()).field("config"))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    config: String,
    from: String,
    to: String,
    #[serde(default)]
    tz: Option<String>,
}

/// Largest draft a replay job keeps (a DynamoDB item holds 400 KB).
const MAX_REPLAY_DRAFT: usize = 300 * 1024;

/// A replay's answer: 200 when done, 202 (and where to ask) while it runs.
fn replay_response(progress: crate::app::replay::ReplayProgress) -> Response {
    let running = progress.status == crate::app::replay::JobStatus::Running;
    let location = format!("/admin/replay/{}", progress.job_id);
    let mut response = Json(progress).into_response();
    if running {
        *response.status_mut() = StatusCode::ACCEPTED;
        if let Ok(value) = axum::http::HeaderValue::from_str(&location) {
            response
                .headers_mut()
                .insert(axum::http::header::LOCATION, value);
        }
    }
    response
}

/// `POST /admin/replay {config, from, to, tz?}`: replays every lead that arrived in the period
/// through the version it met and through the draft; answers the report (200), or, for a
/// period too large for one request, 202 with the job to ask again.
pub async fn post_replay(
    State(app): State<Arc<App>>,
    caller: Caller,
    super::extract::Budget(budget): super::extract::Budget,
    LimitedBody(bytes): LimitedBody<MAX_DRAFT_BODY>,
) -> Result<Response, Problem> {
    let body: ReplayBody = json_body(&bytes)?;
    if body.config.len() > MAX_REPLAY_DRAFT {
        return Err(Problem::invalid_field(
            "config",
            "a draft to replay is at most 300 KB",
        ));
    }
    draft(Some(&body.config))?;
    let mut pairs = vec![("from".to_string(), body.from), ("to".to_string(), body.to)];
    if let Some(tz) = body.tz {
        pairs.push(("tz".into(), tz));
    }
    let period = Params::new(pairs, &["from", "to", "tz"])?.period(app.now(), 30)?;
    let progress = app
        .start_replay(&body.config, period.from, period.to, &caller.0.name, budget)
        .await?;
    Ok(replay_response(progress))
}

/// `GET /admin/replay/{id}`: advances a running replay as far as this request allows and
/// answers where it stands (200 done, 202 running).
pub async fn get_replay(
    State(app): State<Arc<App>>,
    super::extract::Budget(budget): super::extract::Budget,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Problem::new(StatusCode::NOT_FOUND, "not-found", "no such replay").field("id"));
    }
    match app.continue_replay(&id, budget).await? {
        Some(progress) => Ok(replay_response(progress)),
        None => Err(Problem::new(StatusCode::NOT_FOUND, "not-found", "no such replay").field("id")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AvailabilityBody {
    #[serde(default)]
    active: Option<bool>,
    #[serde(default)]
    away_until: Option<String>,
    #[serde(default)]
    out_of_office: Option<RangeBody>,
    #[serde(default)]
    back: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeBody {
    from: String,
    to: String,
}

/// `POST /admin/reps/{id}/availability` (edit routing): `{"active": false}`, `{"away_until":
/// "…"}`, `{"out_of_office": {"from": "…", "to": "…"}}` or `{"back": true}` changes one rep's
/// availability without touching the config document: a new version with the same document,
/// through the roster-safe publish, audited. Answers the new version.
pub async fn post_availability(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(rep): Path<String>,
    LimitedBody(bytes): LimitedBody<MAX_SMALL_BODY>,
) -> Result<Response, Problem> {
    let body: AvailabilityBody = json_body(&bytes)?;
    let now = app.now();
    let time = |field: &str, text: &str| {
        text.parse::<jiff::Timestamp>()
            .map_err(|_| Problem::invalid_field(field, "expected an RFC 3339 time"))
    };
    let away_until = body
        .away_until
        .as_deref()
        .map(|t| time("away_until", t))
        .transpose()?;
    if away_until.is_some_and(|t| t <= now) {
        return Err(Problem::invalid_field("away_until", "is not in the future"));
    }
    let out_of_office = match &body.out_of_office {
        Some(range) => {
            let (from, until) = (
                time("out_of_office.from", &range.from)?,
                time("out_of_office.to", &range.to)?,
            );
            if until <= from || until <= now {
                return Err(Problem::invalid_field(
                    "out_of_office.to",
                    "must be after `from` and in the future",
                ));
            }
            Some(crate::domain::overrides::Away { from, until })
        }
        None => None,
    };
    let change = crate::domain::overrides::AvailabilityChange {
        active: body.active,
        away_until,
        out_of_office,
        back: body.back,
    };
    if change == Default::default() {
        return Err(Problem::invalid_field(
            "body",
            "say what changes: active, away_until, out_of_office or back",
        ));
    }
    match app.set_availability(&rep, &change, &actor(&caller)).await {
        Ok(version) => Ok(Json(json!({"rep": rep, "version": version})).into_response()),
        Err(e) => Err(publish_problem(&app, e).await),
    }
}

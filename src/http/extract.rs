//! What handlers take from a request, checked once: a key allowed what the route needs (the
//! layer on each group of routes), a body within its size limit (refused from its
//! Content-Length before a byte is read), and a lead submission (body, source key, redirect,
//! Idempotency-Key, the parsed lead). Every refusal is a `Problem` naming the field.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{to_bytes, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::app::clock::invocation_deadline;
use crate::app::App;
use crate::domain::access::Permission;
use crate::domain::lead::{canonical_key, FieldError, Lead};
use crate::store::KeyRecord;

use super::problem::Problem;
use super::redirect::{self, BadRedirect};

/// Header carrying an integration's source key.
pub const SOURCE_KEY_HEADER: &str = "x-source-key";
/// Query or form field carrying the source key for plain HTML forms.
pub const SOURCE_KEY_FIELD: &str = "source_key";
/// Form field naming the page to redirect to after a form post.
pub const REDIRECT_FIELD: &str = "_redirect";
/// Longest Idempotency-Key accepted.
const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Largest lead body accepted. Real form posts are a few KiB.
pub const MAX_LEAD_BODY: usize = 64 * 1024;

/// Name/value pairs from a JSON object or a urlencoded form.
pub type Fields = Vec<(String, String)>;

/// The `Authorization: Bearer` key, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// A key presented as `Authorization: Bearer`, authenticated, and allowed what the route
/// needs: the layer ([`require`]) puts it in the request for handlers that want to know who
/// is calling.
#[derive(Debug, Clone)]
pub struct Caller(pub KeyRecord);

impl Caller {
    /// Authenticates the bearer key and checks that its role allows `permission`: 401 for a
    /// missing, unknown or revoked key, 403 for a key whose role does not allow it.
    pub async fn check(
        app: &App,
        headers: &HeaderMap,
        permission: Permission,
    ) -> Result<Self, Problem> {
        let Some(key) = bearer(headers) else {
            return Err(Problem::unauthorized(
                "Authorization",
                "send a key as 'Authorization: Bearer <key>'",
            ));
        };
        match app.authenticate(key).await? {
            None => Err(Problem::unauthorized(
                "Authorization",
                "the key is unknown or revoked",
            )),
            Some(record) if record.role.allows(permission) => Ok(Self(record)),
            Some(record) => Err(Problem::forbidden(&record.name, record.role, permission)),
        }
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = Problem;

    /// The caller the route's layer authenticated; without a layer, nobody is let through.
    async fn from_request_parts(parts: &mut Parts, _: &Arc<App>) -> Result<Self, Problem> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Problem::unauthorized("Authorization", "this endpoint needs a key"))
    }
}

/// The layer on a group of routes: nothing behind it runs without a key whose role allows
/// the group's permission.
pub async fn require(
    State((app, permission)): State<(Arc<App>, Permission)>,
    mut request: Request,
    next: Next,
) -> Response {
    match Caller::check(&app, request.headers(), permission).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(problem) => problem.into_response(),
    }
}

/// A request body of at most `LIMIT` bytes. A larger `Content-Length` is refused with 413 at
/// once, without waiting for a body that may never come.
pub struct LimitedBody<const LIMIT: usize>(pub Bytes);

impl<S: Send + Sync, const LIMIT: usize> FromRequest<S> for LimitedBody<LIMIT> {
    type Rejection = Problem;

    async fn from_request(request: Request, _: &S) -> Result<Self, Problem> {
        read_body(request, LIMIT).await.map(Self)
    }
}

fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        format!("the body is larger than {limit} bytes"),
    )
    .field("body")
}

/// Reads a body of at most `limit` bytes; a declared `Content-Length` above it is refused
/// before reading.
pub async fn read_body(request: Request, limit: usize) -> Result<Bytes, Problem> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().parse::<u64>());
    match declared {
        Some(Ok(length)) if length > limit as u64 => return Err(too_large(limit)),
        Some(Err(_)) => {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-header",
                "Content-Length is not a number",
            )
            .field("Content-Length"))
        }
        _ => {}
    }
    to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| too_large(limit))
}

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json`.
    Json,
    /// `application/x-www-form-urlencoded` (a plain HTML form).
    Form,
}

/// The body's kind from its Content-Type: JSON or a form; anything else is 415.
pub fn body_kind(headers: &HeaderMap) -> Result<BodyKind, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "application/json" => Ok(BodyKind::Json),
        "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        other => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            format!(
                "Content-Type '{other}' is not accepted; send application/json or application/x-www-form-urlencoded"
            ),
        )
        .field("Content-Type")),
    }
}

/// Flattens a JSON object into fields. Nested `utm` and `custom` objects are allowed; other
/// nesting is refused with the field named.
pub fn json_fields(bytes: &[u8]) -> Result<Fields, Problem> {
    let malformed = |detail: String| {
        Problem::new(StatusCode::BAD_REQUEST, "malformed-body", detail).field("body")
    };
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| malformed(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(malformed("the body must be a JSON object".into()));
    };
    let mut fields = Vec::with_capacity(map.len());
    let mut errors = Vec::new();
    let not_scalar = |name: String| FieldError::new(name, "expected text, a number or a boolean");
    for (key, value) in map {
        let group = canonical_key(&key);
        match value {
            Value::Object(inner) if matches!(group.as_str(), "utm" | "custom") => {
                for (k, v) in inner {
                    let name = if group == "utm" {
                        format!("utm_{k}")
                    } else {
                        k
                    };
                    match scalar(&v) {
                        Some(text) => fields.push((name, text)),
                        None => errors.push(not_scalar(format!("{key}.{name}"))),
                    }
                }
            }
            other => match scalar(&other) {
                Some(text) => fields.push((key, text)),
                None if other.is_null() => {}
                None => errors.push(not_scalar(key)),
            },
        }
    }
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(Problem::invalid_fields(errors))
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The fields of a urlencoded form.
pub fn form_fields(bytes: &[u8]) -> Result<Fields, Problem> {
    serde_urlencoded::from_bytes::<Fields>(bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            format!("the form body could not be decoded: {e}"),
        )
        .field("body")
    })
}

/// A query parameter.
pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    let query = uri.query()?;
    serde_urlencoded::from_str::<Fields>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A field by its canonical name.
pub fn field<'f>(fields: &'f Fields, name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(k, _)| canonical_key(k) == name)
        .map(|(_, v)| v.as_str())
}

/// A lead submission, checked: who sends it, where to send the browser after, the client's
/// Idempotency-Key, the parsed lead, and what the request knows of its own time and URL.
pub struct LeadSubmission {
    /// The source key's record.
    pub source: KeyRecord,
    /// The client's Idempotency-Key.
    pub idempotency_key: Option<String>,
    /// The checked redirect target (form posts).
    pub redirect: Option<String>,
    /// The parsed lead.
    pub lead: Lead,
    /// Scheme and host the request came in on.
    pub base_url: Option<String>,
    /// When the invocation must have answered, if it runs in Lambda.
    pub deadline: Option<Instant>,
}

impl FromRequest<Arc<App>> for LeadSubmission {
    type Rejection = Problem;

    async fn from_request(request: Request, app: &Arc<App>) -> Result<Self, Problem> {
        let kind = body_kind(request.headers())?;
        let idempotency_key = idempotency_key(request.headers())?;
        let headers = request.headers().clone();
        let uri = request.uri().clone();
        let deadline = lambda_deadline(&request);
        let bytes = read_body(request, MAX_LEAD_BODY).await?;
        let fields = match kind {
            BodyKind::Json => json_fields(&bytes)?,
            BodyKind::Form => form_fields(&bytes)?,
        };
        let presented = headers
            .get(SOURCE_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| query_param(&uri, SOURCE_KEY_FIELD))
            .or_else(|| field(&fields, SOURCE_KEY_FIELD).map(str::to_string));
        let Some(presented) = presented.filter(|k| !k.trim().is_empty()) else {
            return Err(Problem::unauthorized(
                SOURCE_KEY_FIELD,
                "a source key is required: the X-Source-Key header, or a source_key query or form field",
            ));
        };
        // Nothing is written before the key is known, so a failure here stored nothing.
        let source = app
            .authenticate(presented.trim())
            .await
            .map_err(Problem::lead_not_stored)?;
        let Some(source) = source.filter(|k| k.role.allows(Permission::SubmitLeads)) else {
            return Err(Problem::unauthorized(
                SOURCE_KEY_FIELD,
                "the source key is unknown or revoked",
            ));
        };
        if let Some(origin) = super::cors::origin(&headers) {
            if !super::cors::allowed(&source.allowed_origins, origin) {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "origin-not-allowed",
                    format!("pages on {origin} may not post leads with this source key; nothing was stored"),
                )
                .field("Origin")
                .refuses_origin());
            }
        }
        let redirect = match field(&fields, REDIRECT_FIELD) {
            Some(target) => Some(redirect::check(target, &source.allowed_redirects).map_err(
                |e| {
                    let slug = match e {
                        BadRedirect::Malformed => "invalid-redirect",
                        BadRedirect::NotAllowed => "redirect-not-allowed",
                    };
                    Problem::new(StatusCode::BAD_REQUEST, slug, e.to_string()).field(REDIRECT_FIELD)
                },
            )?),
            None => None,
        };
        let lead = Lead::parse(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(Problem::invalid_fields)?;
        Ok(Self {
            source,
            idempotency_key,
            redirect,
            lead,
            base_url: seen_base_url(&headers),
            deadline,
        })
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-header",
            format!("Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        )
        .field("Idempotency-Key")
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text.is_empty() || text.len() > MAX_IDEMPOTENCY_KEY {
        return Err(bad());
    }
    Ok(Some(text.to_string()))
}

/// The invocation's deadline when the request came through Lambda (`None` locally, or when
/// the deadline cannot be believed, as an emulator's relative one).
fn lambda_deadline(request: &Request) -> Option<Instant> {
    deadline_of(request.extensions())
}

/// The invocation's deadline from a request's extensions (see [`lambda_deadline`]).
pub fn deadline_of(extensions: &axum::http::Extensions) -> Option<Instant> {
    let context = extensions.get::<lambda_runtime::Context>()?;
    match invocation_deadline(context.deadline) {
        Ok(deadline) => Some(deadline),
        Err(bad) => {
            tracing::debug!(%bad, "ignoring the invocation's deadline");
            None
        }
    }
}

/// The scheme and host a request came in on. API Gateway routes by host and sets
/// X-Forwarded-Proto, so in Lambda this is the API's own URL.
pub fn seen_base_url(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':');
    if host.is_empty() || !host.chars().all(valid) {
        return None;
    }
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        Some(_) => "http",
        None if host.starts_with("127.0.0.1") || host.starts_with("localhost") => "http",
        None => "https",
    };
    Some(format!("{scheme}://{host}"))
}

/// How long a request that works in slices (a replay) may work: 10 s, and never into the
/// last [`crate::app::idempotency::ANSWER_RESERVE`] before the invocation's deadline.
pub struct Budget(pub Instant);

impl<S: Send + Sync> FromRequestParts<S> for Budget {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut until = Instant::now() + std::time::Duration::from_secs(10);
        if let Some(deadline) = deadline_of(&parts.extensions) {
            let reserve = crate::app::idempotency::ANSWER_RESERVE;
            until = until.min(deadline.checked_sub(reserve).unwrap_or_else(Instant::now));
        }
        Ok(Self(until))
    }
}

/// A lead id as given in a path: a UUID, or the same 404 an unknown id gets.
pub fn lead_id(id: &str) -> Result<&str, Problem> {
    uuid::Uuid::parse_str(id)
        .map(|_| id)
        .map_err(|_| Problem::lead_not_found())
}

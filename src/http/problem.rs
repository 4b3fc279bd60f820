//! RFC 9457 problem details: the one place where failures become HTTP status codes and
//! `application/problem+json` bodies naming the field at fault.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::app::IntakeError;
use crate::domain::access::{Permission, Role};
use crate::domain::lead::FieldError;
use crate::domain::rules::ConfigError;
use crate::store::StoreError;

/// One field's problem inside a problem document.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InvalidParam {
    /// Field name or config path.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A problem details document (boxed: it travels in `Err` variants).
#[derive(Debug, Clone)]
pub struct Problem(Box<Details>);

#[derive(Debug, Clone, Serialize)]
struct Details {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<InvalidParam>,
    #[serde(skip)]
    retry_after: Option<u32>,
    /// The answer refused the request's origin: no CORS headers go with it.
    #[serde(skip)]
    origin_refused: bool,
    /// Members a problem type adds (RFC 9457 extension members).
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    /// A problem with a status, a short type slug and a detail sentence.
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Self {
        Self(Box::new(Details {
            kind: format!("https://leadrouter.dev/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            errors: Vec::new(),
            retry_after: None,
            origin_refused: false,
            extra: serde_json::Map::new(),
        }))
    }

    /// Adds an extension member (`current_version`, `diff`, ...).
    pub fn with_extra(mut self, name: &str, value: serde_json::Value) -> Self {
        self.0.extra.insert(name.to_string(), value);
        self
    }

    /// 400 for a body field that is not what it should be, naming it.
    pub fn invalid_field(field: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-field", detail).field(field)
    }

    /// 400 unless `text` (an event's `at`; absent: `now`) is an RFC 3339 time at most
    /// `skew_seconds` after `now`.
    pub fn event_time(
        text: Option<&str>,
        now: jiff::Timestamp,
        skew_seconds: i64,
    ) -> Result<jiff::Timestamp, Self> {
        let at = match text {
            Some(text) => text
                .parse::<jiff::Timestamp>()
                .map_err(|_| Self::invalid_field("at", "expected an RFC 3339 time"))?,
            None => now,
        };
        if at.as_second() > now.as_second() + skew_seconds {
            return Err(Self::invalid_field("at", "is in the future"));
        }
        Ok(at)
    }

    /// Marks a refusal of the request's origin (CORS): the answer goes without CORS headers.
    pub fn refuses_origin(mut self) -> Self {
        self.0.origin_refused = true;
        self
    }

    /// Names the field at fault.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.0.field = Some(field.into());
        self
    }

    /// Lists every invalid field (or config path) and names the first as `field`.
    fn with_errors(mut self, errors: impl IntoIterator<Item = (String, String)>) -> Self {
        self.0.errors = errors
            .into_iter()
            .map(|(field, message)| InvalidParam { field, message })
            .collect();
        self.0.field = self.0.errors.first().map(|e| e.field.clone());
        self
    }

    /// 400 for a lead whose fields are wrong; names the first field and lists them all.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .first()
            .map(ToString::to_string)
            .unwrap_or_else(|| "the lead is invalid".into());
        Self::new(StatusCode::BAD_REQUEST, "invalid-field", detail)
            .with_errors(errors.into_iter().map(|e| (e.field, e.message)))
    }

    /// 422 for a routing config with mistakes; lists each with its path.
    pub fn invalid_config(errors: Vec<ConfigError>) -> Self {
        let first = errors.first().map(ToString::to_string).unwrap_or_default();
        let detail = format!(
            "the routing config has {} mistake(s); first: {first}",
            errors.len()
        );
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-config", detail)
            .with_errors(errors.into_iter().map(|e| (e.path, e.message)))
    }

    /// 422 listing every bad row of an account file.
    pub fn invalid_accounts(errors: Vec<ConfigError>) -> Self {
        let first = errors.first().map(ToString::to_string).unwrap_or_default();
        let detail = format!(
            "the account file has {} mistake(s); nothing was stored; first: {first}",
            errors.len()
        );
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-accounts", detail)
            .field("body")
            .with_errors(errors.into_iter().map(|e| (e.path, e.message)))
    }

    /// 401 for a missing, unknown or revoked key.
    pub fn unauthorized(field: &str, detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).field(field)
    }

    /// 500 for a bug (an answer that could not be encoded): logged at error level.
    pub fn internal(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(%detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail)
    }

    /// 403 for a known key whose role does not allow what was asked.
    pub fn forbidden(name: &str, role: Role, permission: Permission) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "the key '{name}' has the role '{role}', which may not {}",
                permission.describe()
            ),
        )
        .field("Authorization")
    }

    /// 404 for a lead id that is malformed or unknown (the two are not told apart).
    pub fn lead_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "no lead with this id").field("id")
    }

    /// 503 with a Retry-After hint, saying `detail`.
    fn unavailable(slug: &str, detail: impl Into<String>) -> Self {
        let mut p = Self::new(StatusCode::SERVICE_UNAVAILABLE, slug, detail);
        p.0.retry_after = Some(2);
        p
    }
}

/// Logs a storage failure: a transient one passes (warn); a denied call, a missing table, a
/// corrupt item or a bug is for the operators to fix (error).
fn log(error: &StoreError) {
    crate::metrics::emf::store_error(error.kind());
    if error.is_transient() {
        tracing::warn!(cause = %error, "storage unavailable");
    } else {
        tracing::error!(cause = %error, "storage error");
    }
}

impl From<StoreError> for Problem {
    /// Always a 503 with Retry-After, never a 500, and true about what happened: when storage
    /// did not answer, a change may or may not have been applied (every change this API makes
    /// is safe to repeat).
    fn from(error: StoreError) -> Self {
        log(&error);
        if error.outcome_known() {
            Problem::unavailable(
                "storage-unavailable",
                "storage is unavailable; nothing was changed, please retry",
            )
        } else {
            Problem::unavailable(
                "storage-outcome-unknown",
                "storage did not answer in time; if this request changes something, it may or may not have been applied, and repeating it is safe",
            )
        }
    }
}

impl Problem {
    /// 503 for a lead submission that failed before anything could store it.
    pub fn lead_not_stored(error: StoreError) -> Self {
        log(&error);
        Problem::unavailable(
            "storage-unavailable",
            "storage is unavailable; nothing was stored, please retry",
        )
    }
}

impl From<IntakeError> for Problem {
    fn from(error: IntakeError) -> Self {
        match error {
            IntakeError::NotStored(e) => Problem::lead_not_stored(e),
            IntakeError::Unknown {
                cause,
                retry_within,
            } => {
                log(&cause);
                let retry = match retry_within {
                    None => "Retrying with the same Idempotency-Key is safe: the lead is never stored twice.".to_string(),
                    Some(seconds) => format!(
                        "Sending the same lead again within {seconds} seconds is safe: it is recognised and never stored twice (send an Idempotency-Key to be safe for 24 hours)."
                    ),
                };
                Problem::unavailable(
                    "outcome-unknown",
                    format!("storage did not answer in time, so it is not known whether the lead was stored. {retry}"),
                )
            }
            IntakeError::StoredUnread { lead_id, cause } => {
                log(&cause);
                Problem::unavailable(
                    "stored-unread",
                    format!("The lead was stored as {lead_id}, but reading it back for this answer failed. Retrying with the same Idempotency-Key (or, without one, the same lead within a minute) answers with it; it is never stored twice."),
                )
            }
            IntakeError::InProgress => {
                let mut p = Problem::new(StatusCode::CONFLICT, "in-progress", error.to_string())
                    .field("Idempotency-Key");
                p.0.retry_after = Some(1);
                p
            }
            IntakeError::KeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                error.to_string(),
            )
            .field("Idempotency-Key"),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.0.retry_after;
        let origin_refused = self.0.origin_refused;
        let body = serde_json::to_vec(&self.0).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if origin_refused {
            response.extensions_mut().insert(super::cors::OriginRefused);
        }
        response
    }
}

//! Console forms: a urlencoded body read as fields, checked against the session's CSRF token
//! before anything acts on it, and the redirect back to a page with a notice.

use axum::response::{IntoResponse, Redirect, Response};

use crate::domain::access::Permission;

use super::page;
use super::session::{Session, CSRF_FIELD};
use super::view;

/// Largest console form accepted (a routing config or an account file fits).
pub const MAX_FORM: usize = 6 * 1024 * 1024;

/// A submitted console form.
#[derive(Debug, Clone, Default)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// A urlencoded body.
    pub fn parse(bytes: &[u8]) -> Self {
        Self(serde_urlencoded::from_bytes(bytes).unwrap_or_default())
    }

    /// A field, trimmed, if given and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// A field as sent (not trimmed; a YAML document).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The form of a POST, checked against the session's CSRF token: `Err` is the refusal page.
pub fn checked(session: &Session, bytes: &[u8]) -> Result<Form, Response> {
    let form = Form::parse(bytes);
    if !session.csrf_ok(form.get(CSRF_FIELD)) {
        return Err(view::bad_csrf());
    }
    Ok(form)
}

/// Where to go after a POST: `path` with a notice code the page turns into a sentence.
pub fn back(path: &str, notice: &str) -> Response {
    let join = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{join}notice={notice}")).into_response()
}

/// The form of a POST that needs `permission`: checked against the session's CSRF token, then
/// the role. `Err` is the refusal page (403 either way, nothing done).
pub fn permitted(
    session: &Session,
    bytes: &[u8],
    permission: Permission,
) -> Result<Form, Response> {
    let form = checked(session, bytes)?;
    if !session.may(permission) {
        return Err(page::forbidden(session, permission));
    }
    Ok(form)
}

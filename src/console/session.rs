//! Console sessions: a signed cookie naming the signed-in key (by its hash, so revoking the
//! key ends the session at once), an expiry and a nonce; the CSRF token every form carries is
//! derived from that nonce. Signing in is itself protected by a pre-session nonce cookie.
//! Cookies are HttpOnly, SameSite=Strict, Secure unless the host is local, and expire.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::app::App;
use crate::domain::access::{Actor, Permission};
use crate::store::KeyRecord;

/// The session cookie.
pub const SESSION_COOKIE: &str = "lr_session";
/// The sign-in form's nonce cookie.
pub const SIGN_IN_COOKIE: &str = "lr_sign_in";
/// How long a session lasts.
pub const SESSION_SECONDS: i64 = 8 * 60 * 60;
/// The form field carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

type HmacSha256 = Hmac<Sha256>;

/// The key sessions are signed with: derived from the acknowledge-link key (one secret to
/// keep, in Secrets Manager when deployed), never that key itself.
pub async fn session_key(app: &App) -> Result<Vec<u8>, String> {
    let base = app.notifier().ack_key().await?;
    Ok(sign(base.as_bytes(), "leadrouter console session v1"))
}

fn sign(key: &[u8], text: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key");
    mac.update(text.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn verify(key: &[u8], text: &str, hex_mac: &str) -> bool {
    let Ok(bytes) = hex::decode(hex_mac) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key");
    mac.update(text.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

/// The CSRF token of a session (or sign-in) nonce.
pub fn csrf_token(key: &[u8], nonce: &str) -> String {
    hex::encode(sign(key, &format!("csrf.{nonce}")))
}

/// Whether `token` is the CSRF token of `nonce` (constant time).
pub fn csrf_ok(key: &[u8], nonce: &str, token: &str) -> bool {
    verify(key, &format!("csrf.{nonce}"), token)
}

/// A session cookie's value for the key with `hash`, until `expires` (Unix seconds).
pub fn session_value(key: &[u8], hash: &str, expires: i64, nonce: &str) -> String {
    let body = format!("v1.{hash}.{expires}.{nonce}");
    format!("{body}.{}", hex::encode(sign(key, &body)))
}

/// The key hash and nonce of a valid, unexpired session cookie value.
pub fn parse_session(key: &[u8], value: &str, now: i64) -> Option<(String, String)> {
    let (body, mac) = value.rsplit_once('.')?;
    if !verify(key, body, mac) {
        return None;
    }
    let mut parts = body.split('.');
    let (Some("v1"), Some(hash), Some(expires), Some(nonce), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let expires: i64 = expires.parse().ok()?;
    (expires > now).then(|| (hash.to_string(), nonce.to_string()))
}

/// A cookie's value from the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether the request came to a local address (cookies are Secure everywhere else).
fn local(headers: &HeaderMap) -> bool {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.starts_with("127.0.0.1") || h.starts_with("localhost"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, on `path`, for `max_age` seconds (0
/// clears it), Secure unless the request was local.
pub fn set_cookie(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if local(headers) { "" } else { "; Secure" };
    let text = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&text).expect("cookie values are ASCII")
}

/// A random nonce.
pub fn nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The signed-in key of a console request, and the CSRF token its forms must carry. A page
/// behind it redirects to sign-in when there is no valid session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The key signed in with.
    pub key: KeyRecord,
    /// The token every form of this session carries.
    pub csrf: String,
    /// The nonce the token is derived from.
    nonce: String,
    /// The session signing key.
    signing: Vec<u8>,
}

impl Session {
    /// Whether the signed-in key's role allows `permission`.
    pub fn may(&self, permission: Permission) -> bool {
        self.key.role.allows(permission)
    }

    /// Who the audit log names for what this session does.
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.key.name.clone(),
            role: self.key.role,
        }
    }

    /// Whether a submitted form's CSRF token is this session's.
    pub fn csrf_ok(&self, token: Option<&str>) -> bool {
        token.is_some_and(|t| csrf_ok(&self.signing, &self.nonce, t))
    }
}

impl FromRequestParts<Arc<App>> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to("/console/sign-in").into_response();
        let Some(value) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        let signing = session_key(app)
            .await
            .map_err(|e| super::view::unavailable(&format!("sessions cannot be checked: {e}")))?;
        let Some((hash, nonce)) = parse_session(&signing, &value, app.now().as_second()) else {
            return Err(to_sign_in());
        };
        let key = match app.store().find_key(&hash).await {
            Ok(Some(key)) if !key.revoked && key.role != crate::domain::access::Role::Source => key,
            Ok(_) => return Err(to_sign_in()),
            Err(e) => return Err(super::view::unavailable(&e.to_string())),
        };
        Ok(Session {
            csrf: csrf_token(&signing, &nonce),
            key,
            nonce,
            signing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_valid_only_as_signed_and_until_it_expires() {
        let key = b"k".to_vec();
        let value = session_value(&key, "abc", 100, "n1");
        assert_eq!(
            parse_session(&key, &value, 99),
            Some(("abc".into(), "n1".into()))
        );
        assert_eq!(parse_session(&key, &value, 100), None, "expired");
        assert_eq!(parse_session(b"other", &value, 99), None, "another key");
        let forged = value.replace("abc", "abd");
        assert_eq!(parse_session(&key, &forged, 99), None, "tampered");
        let token = csrf_token(&key, "n1");
        assert!(csrf_ok(&key, "n1", &token));
        assert!(!csrf_ok(&key, "n2", &token));
        assert!(!csrf_ok(&key, "n1", "00"));
    }

    #[test]
    fn cookies_are_read_by_name_and_set_strictly() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; lr_session=xyz; b=2"),
        );
        assert_eq!(cookie(&headers, "lr_session").as_deref(), Some("xyz"));
        headers.insert(header::HOST, HeaderValue::from_static("leads.example.com"));
        let set = set_cookie(&headers, "lr_session", "v", "/", 60);
        assert_eq!(
            set.to_str().unwrap(),
            "lr_session=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
        assert!(!set_cookie(&headers, "a", "b", "/", 1)
            .to_str()
            .unwrap()
            .contains("Secure"));
    }
}

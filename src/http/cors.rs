//! CORS for JavaScript form integrations on `POST /leads`. A preflight is answered for any
//! origin (it carries no key, and the intake needs no cookie, so answering it gives a page
//! nothing it could not do with a plain form); the POST itself is where a source key's
//! allowed origins are enforced: a key that lists origins refuses any other `Origin` with
//! 403 `origin-not-allowed` before anything is stored, and that answer carries no
//! `Access-Control-Allow-Origin`, so the page cannot read it either. Every other answer of
//! the intake (201, 303, every 4xx and 503) carries the CORS headers, so a browser script reads
//! the real outcome instead of a network error. Admin and read endpoints offer no CORS.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Marks an answer that refused the request's origin: it gets no CORS headers.
#[derive(Debug, Clone, Copy)]
pub struct OriginRefused;

/// Headers a script may send to `POST /leads`.
const ALLOW_HEADERS: &str = "Content-Type, X-Source-Key, Idempotency-Key";
/// Headers a script may read from the answer.
const EXPOSE_HEADERS: &str = "Location, Retry-After";
/// How long a browser may keep a preflight's answer.
const MAX_AGE_SECONDS: &str = "600";

/// An `Origin` as compared: `scheme://host[:port]`, lower-cased, or `None` if it is not one
/// (`null`, a path, no scheme).
pub fn normalize(origin: &str) -> Option<String> {
    let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = origin.split_once("://")?;
    let host_ok = !rest.is_empty()
        && !rest.contains(['/', '?', '#', '@', ' '])
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    (matches!(scheme, "http" | "https") && host_ok).then_some(origin)
}

/// Whether `origin` may use a key that allows `allowed` (an empty list allows any, as keys
/// made before origins could be listed do; `*` allows any).
pub fn allowed(allowed: &[String], origin: &str) -> bool {
    if allowed.is_empty() || allowed.iter().any(|a| a == "*") {
        return true;
    }
    normalize(origin).is_some_and(|o| allowed.iter().any(|a| normalize(a).as_deref() == Some(&o)))
}

/// The request's `Origin`, if it sent one.
pub fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// `OPTIONS /leads`: the preflight's answer.
pub async fn preflight(headers: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let set = response.headers_mut();
    set.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin(&headers).and_then(|o| HeaderValue::from_str(o).ok()) {
        set.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        set.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST"),
        );
        set.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        set.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE_SECONDS),
        );
    }
    response
}

/// Adds the CORS headers to every answer of the route it wraps, unless the answer refused the
/// origin.
pub async fn headers(request: Request, next: Next) -> Response {
    let origin = origin(request.headers()).and_then(|o| HeaderValue::from_str(o).ok());
    let is_preflight = request.method() == Method::OPTIONS;
    let mut response = next.run(request).await;
    if is_preflight {
        return response;
    }
    let refused = response.extensions().get::<OriginRefused>().is_some();
    let set = response.headers_mut();
    set.append(header::VARY, HeaderValue::from_static("Origin"));
    if let (Some(origin), false) = (origin, refused) {
        set.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        set.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_by_scheme_host_and_port_only() {
        assert_eq!(
            normalize("HTTPS://WWW.Example.com/").as_deref(),
            Some("https://www.example.com")
        );
        assert_eq!(
            normalize("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        for bad in [
            "null",
            "www.example.com",
            "https://x.com/path",
            "ftp://x.com",
            "https://",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
        let list = vec!["https://www.example.com".to_string()];
        assert!(allowed(&list, "https://www.example.com"));
        assert!(allowed(&list, "https://WWW.example.com"));
        assert!(!allowed(&list, "http://www.example.com"), "another scheme");
        assert!(
            !allowed(&list, "https://www.example.com:8443"),
            "another port"
        );
        assert!(!allowed(&list, "https://evil.example.com"));
        assert!(!allowed(&list, "null"));
        assert!(allowed(&[], "https://anything.test"), "no list: any origin");
        assert!(allowed(&["*".to_string()], "https://anything.test"));
    }
}

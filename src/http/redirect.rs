//! Where a form's browser may be sent after a post: only to a URL under one of the source
//! key's allowed prefixes (no open redirects), and only to one that is a valid `Location`
//! header, both checked before anything is stored.

use url::Url;

/// Why a redirect target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRedirect {
    /// Not an absolute http(s) URL, or it holds characters a header cannot carry.
    #[error("the redirect target is not a valid absolute http(s) URL")]
    Malformed,
    /// Well formed, but not under any of the source key's allowed prefixes.
    #[error("the redirect target is not in this source key's allowed redirects")]
    NotAllowed,
}

/// `target` checked against the `allowed` prefixes: the URL to send in `Location`.
///
/// A prefix allows a target with the same scheme, host and port whose path starts with the
/// prefix's path, so `https://example.com/` does not allow `https://example.com.evil.test/`.
/// Line breaks, tabs, other control characters and spaces are refused outright (URL parsers
/// silently drop some of them, which would hide a header-injection attempt).
pub fn check(target: &str, allowed: &[String]) -> Result<String, BadRedirect> {
    if target.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(BadRedirect::Malformed);
    }
    let url = Url::parse(target).map_err(|_| BadRedirect::Malformed)?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(BadRedirect::Malformed);
    }
    if axum::http::HeaderValue::from_str(url.as_str()).is_err() {
        return Err(BadRedirect::Malformed);
    }
    let under = |prefix: &String| {
        Url::parse(prefix).is_ok_and(|p| {
            p.scheme() == url.scheme()
                && p.host_str() == url.host_str()
                && p.port_or_known_default() == url.port_or_known_default()
                && url.path().starts_with(p.path())
        })
    };
    if allowed.iter().any(under) {
        Ok(url.into())
    } else {
        Err(BadRedirect::NotAllowed)
    }
}

/// A checked redirect target with the new lead's id added as `lead_id` to its query.
pub fn with_lead_id(target: &str, lead_id: &str) -> String {
    match Url::parse(target) {
        Ok(mut url) => {
            url.query_pairs_mut().append_pair("lead_id", lead_id);
            url.into()
        }
        Err(_) => target.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lead_id_joins_the_query() {
        assert_eq!(
            with_lead_id("https://example.com/thanks", "l-1"),
            "https://example.com/thanks?lead_id=l-1"
        );
        assert_eq!(
            with_lead_id("https://example.com/thanks?plan=pro#top", "l-1"),
            "https://example.com/thanks?plan=pro&lead_id=l-1#top"
        );
    }

    fn allowed() -> Vec<String> {
        vec![
            "https://example.com/thanks".into(),
            "http://127.0.0.1:3000/".into(),
        ]
    }

    #[test]
    fn targets_under_an_allowed_prefix_pass() {
        assert_eq!(
            check("https://example.com/thanks?x=1", &allowed()).as_deref(),
            Ok("https://example.com/thanks?x=1")
        );
        assert!(check("http://127.0.0.1:3000/thanks", &allowed()).is_ok());
    }

    #[test]
    fn line_breaks_and_control_characters_are_malformed() {
        for target in [
            "https://example.com/thanks\r\nSet-Cookie: x=1",
            "https://example.com/thanks\n",
            "https://example.com/th anks",
            "https://example.com/\tthanks",
            "https://example.com/thanks\u{7f}",
        ] {
            assert_eq!(
                check(target, &allowed()),
                Err(BadRedirect::Malformed),
                "{target:?}"
            );
        }
        assert_eq!(check("/thanks", &allowed()), Err(BadRedirect::Malformed));
        assert_eq!(
            check("javascript:alert(1)", &allowed()),
            Err(BadRedirect::Malformed)
        );
    }

    #[test]
    fn other_hosts_ports_schemes_and_paths_are_not_allowed() {
        for target in [
            "https://example.com.evil.test/thanks",
            "https://evil.test/?https://example.com/thanks",
            "http://example.com/thanks",
            "https://example.com:8443/thanks",
            "https://example.com/other",
            "http://127.0.0.1:3001/",
        ] {
            assert_eq!(
                check(target, &allowed()),
                Err(BadRedirect::NotAllowed),
                "{target}"
            );
        }
        assert_eq!(
            check("https://example.com/thanks", &[]),
            Err(BadRedirect::NotAllowed)
        );
    }
}

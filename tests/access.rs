//! Who may do what: every key's role decides what it may read or change, a refusal is a
//! 401 (no key, or an unknown or revoked one) or a 403 (a known key whose role does not
//! allow it) and changes nothing.

mod common;

use axum::http::StatusCode;
use common::{
    Harness, ADMIN_KEY, EDITOR_KEY, EXAMPLE_CONFIG, INTEGRATION_KEY, SOURCE_KEY, VIEWER_KEY,
};
use serde_json::json;

/// A request body: its content type and text.
type Body = Option<(&'static str, String)>;

fn yaml(body: &str) -> Body {
    Some(("application/yaml", body.to_string()))
}

#[tokio::test]
async fn each_role_reaches_exactly_what_it_may() {
    let h = Harness::example().await;
    let lead = h
        .post_lead(json!({"email": "ann@acme-robotics.com", "employees": "10"}))
        .await;
    assert_eq!(lead.status, StatusCode::CREATED, "{:?}", lead.body);
    let id = lead.body["lead_id"].as_str().unwrap().to_string();
    let read = format!("/leads/{id}");
    // (method, path, body, keys allowed)
    let everyone_but_source = [VIEWER_KEY, INTEGRATION_KEY, EDITOR_KEY, ADMIN_KEY];
    let checks: Vec<(&str, String, Body, Vec<&str>)> = vec![
        ("GET", read.clone(), None, everyone_but_source.to_vec()),
        (
            "GET",
            "/admin/config".into(),
            None,
            vec![VIEWER_KEY, EDITOR_KEY, ADMIN_KEY],
        ),
        (
            "GET",
            "/admin/metrics".into(),
            None,
            vec![VIEWER_KEY, EDITOR_KEY, ADMIN_KEY],
        ),
        (
            "POST",
            "/admin/config".into(),
            yaml(EXAMPLE_CONFIG),
            vec![EDITOR_KEY, ADMIN_KEY],
        ),
        ("GET", "/leads".into(), None, everyone_but_source.to_vec()),
        (
            "GET",
            "/leads?format=csv".into(),
            None,
            everyone_but_source.to_vec(),
        ),
        (
            "GET",
            "/admin/report".into(),
            None,
            vec![VIEWER_KEY, EDITOR_KEY, ADMIN_KEY],
        ),
        (
            "GET",
            "/admin/fairness".into(),
            None,
            vec![VIEWER_KEY, EDITOR_KEY, ADMIN_KEY],
        ),
        (
            "POST",
            format!("/leads/{id}/outcome"),
            Some((
                "application/json",
                json!({"outcome": "contacted"}).to_string(),
            )),
            vec![INTEGRATION_KEY, EDITOR_KEY, ADMIN_KEY],
        ),
    ];
    for (method, path, body, allowed) in checks {
        for key in [
            SOURCE_KEY,
            VIEWER_KEY,
            INTEGRATION_KEY,
            EDITOR_KEY,
            ADMIN_KEY,
        ] {
            // A publish names the version it is based on: the active one.
            let path = if path == "/admin/config" && method == "POST" {
                let active = h.get("/admin/config", ADMIN_KEY).await.body["version"].clone();
                format!("{path}?base_version={active}")
            } else {
                path.clone()
            };
            let reply = h.call(method, &path, Some(key), body.clone()).await;
            if allowed.contains(&key) {
                assert!(
                    reply.status.is_success(),
                    "{method} {path} with {key}: {} {:?}",
                    reply.status,
                    reply.body
                );
            } else {
                assert_eq!(
                    reply.status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} with {key}: {:?}",
                    reply.body
                );
                assert_eq!(reply.content_type(), "application/problem+json");
                assert_eq!(reply.body["field"], "Authorization");
            }
        }
        let anonymous = h.call(method, &path, None, body.clone()).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{path}");
        let forged = h.call(method, &path, Some("lra_forged"), body).await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // Closing works for a CRM's key and refuses a viewer's, leaving the lead open.
    let close = format!("/leads/{id}/close");
    let refused = h.call("POST", &close, Some(VIEWER_KEY), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(h.get(&read, ADMIN_KEY).await.body["status"], "open");
    let closed = h.call("POST", &close, Some(INTEGRATION_KEY), None).await;
    assert_eq!(closed.status, StatusCode::OK, "{:?}", closed.body);
    assert_eq!(h.get(&read, VIEWER_KEY).await.body["status"], "closed");
    // A viewer's refused writes left no trace: no outcome but the three allowed ones.
    let history = h.get(&read, VIEWER_KEY).await.body["history"].clone();
    let outcomes = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "outcome")
        .count();
    assert_eq!(outcomes, 3);
}

#[tokio::test]
async fn only_a_source_key_submits_leads() {
    let h = Harness::example().await;
    for key in [VIEWER_KEY, EDITOR_KEY, ADMIN_KEY, INTEGRATION_KEY] {
        let reply = h
            .send(common::json_lead_with_key(json!({"email": "x@y.com"}), key))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{key}");
    }
    assert_eq!(h.written_by_intake().await, 0);
}

#[tokio::test]
async fn a_fresh_deployments_first_admin_key_works_once_stored_and_ends_when_revoked() {
    use leadrouter::app::App;
    use leadrouter::domain::notify::Setting;
    use std::sync::Arc;
    use std::time::Duration;

    let h = Harness::example().await;
    let first = "generated-into-secrets-manager-at-deploy-0123456789";
    let app = Arc::new(
        App::new(
            Arc::new(h.store.clone()),
            h.clock.clone(),
            Duration::ZERO,
            common::notifier(),
        )
        .with_first_admin_key(Setting::Plain(first.into())),
    );
    let router = leadrouter::http::router(app.clone());
    let get = |key: &str| {
        let request = axum::http::Request::get("/admin/keys")
            .header("authorization", format!("Bearer {key}"))
            .body(axum::body::Body::empty())
            .unwrap();
        common::send_to(&router, request)
    };
    assert_eq!(
        get("not-the-first-key").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Two first sign-ins at once: both get in, one key is stored.
    let (a, b) = tokio::join!(get(first), get(first));
    assert_eq!(
        (a.status, b.status),
        (StatusCode::OK, StatusCode::OK),
        "{:?}",
        a.body
    );
    let keys = app.keys().await.unwrap();
    let stored: Vec<_> = keys
        .iter()
        .filter(|k| k.name == leadrouter::app::auth::FIRST_ADMIN_NAME)
        .collect();
    assert_eq!(stored.len(), 1, "{keys:?}");
    assert_eq!(stored[0].role.as_str(), "admin");
    let audit = h.get("/admin/audit", ADMIN_KEY).await;
    assert!(
        audit.body.to_string().contains("first admin"),
        "the install is audited: {}",
        audit.body
    );
    // Revoked, it never comes back, though the secret still holds it.
    let id = stored[0].id().to_string();
    let revoke = h
        .call(
            "POST",
            &format!("/admin/keys/{id}/revoke"),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(revoke.status, StatusCode::OK, "{:?}", revoke.body);
    assert_eq!(get(first).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_source_key_revoked_elsewhere_works_here_for_at_most_the_key_cache_time() {
    let h = Harness::example().await;
    h.clock.set("2026-11-24T15:00:00Z");
    // Another warm process on the same table, trusting accepted source keys for 60 s.
    let other = std::sync::Arc::new(
        leadrouter::app::App::new(
            std::sync::Arc::new(h.store.clone()),
            h.clock.clone(),
            std::time::Duration::ZERO,
            common::notifier(),
        )
        .with_key_cache(std::time::Duration::from_secs(60)),
    );
    let other_router = leadrouter::http::router(other.clone());
    let post = |n: u32| common::json_lead(json!({"email": format!("p{n}@acme.com")}), &[]);
    assert_eq!(
        common::send_to(&other_router, post(1)).await.status,
        StatusCode::CREATED
    );
    // Revoked through this process: here it stops at once.
    let admin = leadrouter::domain::access::Actor {
        name: "test-admin".into(),
        role: leadrouter::domain::access::Role::Admin,
    };
    let revoked = h
        .app
        .revoke_key(leadrouter::app::auth::KeyRef::Secret(SOURCE_KEY), &admin)
        .await
        .unwrap();
    assert!(revoked.is_some_and(|k| k.revoked));
    assert_eq!(h.send(post(2)).await.status, StatusCode::UNAUTHORIZED);
    // The other process read the key 30 s ago: it still takes leads, for the rest of the
    // minute, and then refuses.
    h.clock.set("2026-11-24T15:00:30Z");
    assert_eq!(
        common::send_to(&other_router, post(3)).await.status,
        StatusCode::CREATED
    );
    h.clock.set("2026-11-24T15:01:00Z");
    assert_eq!(
        common::send_to(&other_router, post(4)).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Admin keys are never cached: revoking one ends it everywhere at once.
    let viewer = other
        .authenticate(VIEWER_KEY)
        .await
        .unwrap()
        .expect("the viewer key");
    assert_eq!(viewer.role, leadrouter::domain::access::Role::Viewer);
    h.app
        .revoke_key(leadrouter::app::auth::KeyRef::Secret(VIEWER_KEY), &admin)
        .await
        .unwrap();
    assert!(other.authenticate(VIEWER_KEY).await.unwrap().is_none());
}

//! Bad input gets a clear 4xx problem naming the field, and writes nothing (each test checks
//! the table). Storage outages answer 503 with Retry-After.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{json_lead, Harness, ADMIN_KEY, SOURCE_KEY};
use serde_json::json;

async fn assert_problem(h: &Harness, request: Request<Body>, status: StatusCode, field: &str) {
    let reply = h.send(request).await;
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.content_type(), "application/problem+json");
    assert_eq!(reply.body["status"], status.as_u16());
    assert_eq!(reply.body["field"], field, "{:?}", reply.body);
    assert!(!reply.body["detail"].as_str().unwrap_or("").is_empty());
    assert_eq!(h.written_by_intake().await, 0, "nothing may be written");
}

fn raw(content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post("/leads")
        .header("content-type", content_type)
        .header("x-source-key", SOURCE_KEY)
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn malformed_json_is_a_400_naming_the_body() {
    let h = Harness::example().await;
    assert_problem(
        &h,
        raw("application/json", "{\"email\": "),
        StatusCode::BAD_REQUEST,
        "body",
    )
    .await;
    assert_problem(
        &h,
        raw("application/json", "[1,2]"),
        StatusCode::BAD_REQUEST,
        "body",
    )
    .await;
    assert_problem(
        &h,
        raw("application/json", r#"{"email": ["a@b.com"]}"#),
        StatusCode::BAD_REQUEST,
        "email",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_content_type_is_a_415() {
    let h = Harness::example().await;
    assert_problem(
        &h,
        raw("text/plain", "email=a@b.com"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type",
    )
    .await;
    let no_type = Request::post("/leads")
        .header("x-source-key", SOURCE_KEY)
        .body(Body::from("{}"))
        .unwrap();
    assert_problem(
        &h,
        no_type,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type",
    )
    .await;
}

#[tokio::test]
async fn a_one_mebibyte_body_is_a_413() {
    let h = Harness::example().await;
    let big = format!(
        r#"{{"email": "a@acme.com", "message": "{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    assert_problem(
        &h,
        raw("application/json", big),
        StatusCode::PAYLOAD_TOO_LARGE,
        "body",
    )
    .await;
}

#[tokio::test]
async fn oversized_fields_and_too_many_custom_fields_are_400s() {
    let h = Harness::example().await;
    let long_company = json!({"email": "a@acme.com", "company": "c".repeat(501)});
    assert_problem(
        &h,
        json_lead(long_company, &[]),
        StatusCode::BAD_REQUEST,
        "company",
    )
    .await;
    let mut many = serde_json::Map::new();
    many.insert("email".into(), json!("a@acme.com"));
    for i in 0..60 {
        many.insert(format!("extra_{i:02}"), json!("x"));
    }
    assert_problem(
        &h,
        json_lead(many.into(), &[]),
        StatusCode::BAD_REQUEST,
        "extra_50",
    )
    .await;
}

#[tokio::test]
async fn an_invalid_email_is_a_400_naming_the_field() {
    let h = Harness::example().await;
    assert_problem(
        &h,
        json_lead(json!({"work_email": "jane(at)acme"}), &[]),
        StatusCode::BAD_REQUEST,
        "work_email",
    )
    .await;
    let form = raw(
        "application/x-www-form-urlencoded",
        "email=nobody&company=Acme",
    );
    assert_problem(&h, form, StatusCode::BAD_REQUEST, "email").await;
}

#[tokio::test]
async fn a_lead_with_no_way_to_contact_the_person_is_a_400() {
    let h = Harness::example().await;
    assert_problem(
        &h,
        json_lead(json!({"company": "Acme", "country": "US"}), &[]),
        StatusCode::BAD_REQUEST,
        "email",
    )
    .await;
}

#[tokio::test]
async fn missing_unknown_and_revoked_source_keys_are_401s() {
    let h = Harness::example().await;
    let missing = Request::post("/leads")
        .header("content-type", "application/json")
        .body(Body::from(json!({"email": "a@acme.com"}).to_string()))
        .unwrap();
    assert_problem(&h, missing, StatusCode::UNAUTHORIZED, "source_key").await;
    let unknown = Request::post("/leads")
        .header("content-type", "application/json")
        .header("x-source-key", "lrs_not_a_real_key")
        .body(Body::from(json!({"email": "a@acme.com"}).to_string()))
        .unwrap();
    assert_problem(&h, unknown, StatusCode::UNAUTHORIZED, "source_key").await;
    let admin_as_source = Request::post("/leads")
        .header("content-type", "application/json")
        .header("x-source-key", ADMIN_KEY)
        .body(Body::from(json!({"email": "a@acme.com"}).to_string()))
        .unwrap();
    assert_problem(&h, admin_as_source, StatusCode::UNAUTHORIZED, "source_key").await;

    use leadrouter::store::KeyStore;
    assert!(h
        .store
        .revoke_key(
            &leadrouter::app::hash_secret(SOURCE_KEY),
            jiff::Timestamp::now(),
            None,
        )
        .await
        .unwrap());
    assert_problem(
        &h,
        json_lead(json!({"email": "a@acme.com"}), &[]),
        StatusCode::UNAUTHORIZED,
        "source_key",
    )
    .await;
}

#[tokio::test]
async fn a_redirect_outside_the_allowed_list_is_a_400() {
    let h = Harness::example().await;
    let form = raw(
        "application/x-www-form-urlencoded",
        "email=a%40acme.com&_redirect=https%3A%2F%2Fevil.example.net%2F",
    );
    assert_problem(&h, form, StatusCode::BAD_REQUEST, "_redirect").await;
}

#[tokio::test]
async fn a_redirect_with_a_line_break_is_a_400_before_anything_is_stored() {
    let h = Harness::example().await;
    // Under an allowed prefix, but a header cannot carry it: refused, and nothing stored
    // (a repost would otherwise store the lead again each time).
    for target in [
        "https%3A%2F%2Fexample.com%2Fthanks%0D%0ASet-Cookie%3A%20x%3D1",
        "https%3A%2F%2Fexample.com%2Fthanks%0A",
        "https%3A%2F%2Fexample.com%2Fth%09anks",
    ] {
        let form = raw(
            "application/x-www-form-urlencoded",
            format!("email=a%40acme.com&_redirect={target}"),
        );
        assert_problem(&h, form, StatusCode::BAD_REQUEST, "_redirect").await;
    }
    // A well-formed allowed one still redirects.
    let fine = raw(
        "application/x-www-form-urlencoded",
        "email=a%40acme.com&_redirect=https%3A%2F%2Fexample.com%2Fthanks%3Fok%3D1",
    );
    let reply = h.send(fine).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{:?}", reply.body);
    assert_eq!(reply.headers["location"], "https://example.com/thanks?ok=1");
}

#[tokio::test]
async fn a_content_length_far_beyond_the_body_is_a_413_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::example().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = h.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = r#"{"email":"a@acme.com"}"#;
    let request = format!(
        "POST /leads HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-Source-Key: {SOURCE_KEY}\r\nContent-Length: 99999999999999\r\n\r\n{body}"
    );
    client.write_all(request.as_bytes()).await.unwrap();
    // The answer comes without the rest of the declared body (the 60 s bound only keeps a
    // broken build from hanging the suite; it is not a timing assertion).
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(60), async {
        while !String::from_utf8_lossy(&answer).contains("\r\n\r\n{") {
            let n = client.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    assert!(read.is_ok(), "no answer while the body was still owed");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    assert_eq!(h.written_by_intake().await, 0);
}

#[tokio::test]
async fn every_admin_route_is_behind_the_admin_key() {
    let h = Harness::example().await;
    let id = "0193b0c2-0000-7000-8000-000000000000";
    let routes = [
        ("GET", format!("/leads/{id}")),
        ("POST", format!("/leads/{id}/close")),
        ("GET", "/admin/config".to_string()),
        ("POST", "/admin/config".to_string()),
        ("GET", "/admin/metrics".to_string()),
        ("POST", "/admin/accounts".to_string()),
        ("GET", "/admin/accounts/acme".to_string()),
    ];
    for (method, path) in &routes {
        for key in [None, Some(SOURCE_KEY), Some("lra_not_a_key")] {
            let mut request = Request::builder().method(*method).uri(path);
            if let Some(key) = key {
                request = request.header("authorization", format!("Bearer {key}"));
            }
            let reply = h.send(request.body(Body::from("{}")).unwrap()).await;
            // No key or an unknown one: 401; a known key of a role that may not: 403.
            let refused = if key == Some(SOURCE_KEY) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(reply.status, refused, "{method} {path} with {key:?}");
            assert_eq!(reply.body["field"], "Authorization");
        }
        let with_admin = Request::builder()
            .method(*method)
            .uri(path)
            .header("authorization", format!("Bearer {ADMIN_KEY}"))
            .body(Body::from("{}"))
            .unwrap();
        let reply = h.send(with_admin).await;
        assert_ne!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
}

#[tokio::test]
async fn an_invalid_config_is_a_422_listing_paths_and_changes_nothing() {
    let h = Harness::example().await;
    let bad = "reps: [{id: ana, name: Ana}]\npools: [{id: p, reps: [ana, bob]}]\nrules:\n  - {id: big, when: {employees: {gte: lots}}, route: {pool: p}}\n";
    let request = Request::post("/admin/config?base_version=1")
        .header("authorization", format!("Bearer {ADMIN_KEY}"))
        .body(Body::from(bad))
        .unwrap();
    let reply = h.send(request).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.content_type(), "application/problem+json");
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for path in ["pools[0].reps[1]", "rules[0].when.employees.gte", "rules"] {
        assert!(fields.contains(&path), "{path} missing from {fields:?}");
    }
    use leadrouter::store::ConfigStore;
    assert_eq!(
        h.store.active_config_version().await.unwrap(),
        Some(1),
        "the active config is unchanged"
    );
    let unauthenticated = Request::post("/admin/config")
        .body(Body::from("x"))
        .unwrap();
    assert_eq!(
        h.send(unauthenticated).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn storage_that_is_down_answers_503_with_retry_after() {
    // A client pointed at a port nobody listens on: every call fails to connect.
    let client = leadrouter::store::dynamo::client(Some("http://127.0.0.1:9")).await;
    let store = leadrouter::store::dynamo::DynamoStore::new(client, "nowhere");
    let app = Arc::new(leadrouter::app::App::new(
        Arc::new(store),
        Arc::new(leadrouter::app::SystemClock),
        Duration::ZERO,
        common::notifier(),
    ));
    let router = leadrouter::http::router(app);
    use tower::ServiceExt;
    let response = router
        .oneshot(json_lead(json!({"email": "a@acme.com"}), &[]))
        .await
        .unwrap();
    let reply = common::Reply::read(response).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        reply.body
    );
    assert!(reply.headers.contains_key("retry-after"));
    assert_eq!(reply.content_type(), "application/problem+json");
}

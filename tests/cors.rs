//! CORS for JavaScript form integrations: a page on another origin posts a lead with `fetch`
//! in a real headless Chromium and reads the 201 body; a key that lists other origins is
//! refused (nothing stored, and the page cannot read the answer); preflights are answered and
//! every intake answer, errors included, carries the headers.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::browser::{serve, Page};
use common::{Harness, ADMIN_KEY};
use leadrouter::app::auth::NewKey;
use leadrouter::domain::access::{Actor, Role};
use serde_json::{json, Value};

async fn source_key(h: &Harness, name: &str, origins: Vec<String>) -> String {
    let new = NewKey {
        role: Role::Source,
        name: name.into(),
        allowed_redirects: vec![],
        allowed_origins: origins,
        redirect_lead_id: false,
    };
    h.app.create_key(new, None, &Actor::cli()).await.unwrap().0
}

/// A `fetch` of `POST {api}/leads` from the page, as a form integration's script does: the
/// answer's status and body, or `blocked` when the browser refuses to hand it over.
fn post_from_page(p: &Page, api: &str, key: &str, lead: Value) -> Value {
    let js = format!(
        "fetch({url}, {{method: 'POST', headers: {{'Content-Type': 'application/json', 'X-Source-Key': {key}}}, body: JSON.stringify({lead})}})
           .then(r => r.json().then(b => ({{status: r.status, body: b}})))
           .catch(e => ({{blocked: String(e)}}))
           .then(JSON.stringify)",
        url = json!(format!("{api}/leads")),
        key = json!(key),
    );
    let text = p.eval_async(&js);
    serde_json::from_str(text.as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

async fn stored(h: &Harness, email: &str) -> usize {
    let log = h.get(&format!("/leads?q={email}"), ADMIN_KEY).await.body;
    log["leads"].as_array().map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_on_an_allowed_origin_posts_with_fetch_and_reads_the_answer() {
    let h = std::sync::Arc::new(Harness::example().await);
    let api = serve(h.router.clone()).await;
    let site = serve(axum::Router::new().route(
        "/",
        axum::routing::get(|| async {
            axum::response::Html("<!doctype html><title>Our site</title><h1>Demo request</h1>")
        }),
    ))
    .await;
    let allowed = source_key(&h, "website", vec![site.clone()]).await;
    let elsewhere = source_key(&h, "partner-site", vec!["https://partner.example".into()]).await;
    let (api2, site2) = (api.clone(), site.clone());
    let answers = tokio::task::spawn_blocking(move || {
        let p = Page::launch(&site2, false);
        p.open("/");
        let ok = post_from_page(
            &p,
            &api2,
            &allowed,
            json!({"email": "ann@acme-robotics.com", "employees": "12", "country": "US"}),
        );
        let bad = post_from_page(&p, &api2, &allowed, json!({"email": "not an email"}));
        let refused = post_from_page(
            &p,
            &api2,
            &elsewhere,
            json!({"email": "bob@acme-robotics.com", "employees": "12"}),
        );
        (ok, bad, refused)
    })
    .await
    .unwrap();
    let (ok, bad, refused) = answers;
    assert_eq!(ok["status"], 201, "{ok}");
    let id = ok["body"]["lead_id"]
        .as_str()
        .expect("the page reads the lead id");
    assert_eq!(stored(&h, "ann@acme-robotics.com").await, 1, "{id}");
    assert_eq!(bad["status"], 400, "an error is readable too: {bad}");
    assert_eq!(bad["body"]["field"], "email", "{bad}");
    assert!(refused["blocked"].is_string(), "{refused}");
    assert_eq!(
        stored(&h, "bob@acme-robotics.com").await,
        0,
        "nothing stored"
    );
}

#[tokio::test]
async fn preflights_are_answered_and_every_intake_answer_carries_the_headers() {
    let h = Harness::example().await;
    let key = source_key(&h, "website", vec!["https://www.example.com".into()]).await;
    let preflight = Request::options("/leads")
        .header("origin", "https://www.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, x-source-key",
        )
        .body(Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(h.router.clone(), preflight)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://www.example.com"
    );
    assert_eq!(headers["access-control-allow-methods"], "POST");
    let allow = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        allow.contains("x-source-key") && allow.contains("content-type"),
        "{allow}"
    );

    let post = |origin: &'static str, key: String, body: &'static str| {
        let router = h.router.clone();
        async move {
            let request = Request::post("/leads")
                .header("origin", origin)
                .header("content-type", "application/json")
                .header("x-source-key", key)
                .body(Body::from(body))
                .unwrap();
            tower::ServiceExt::oneshot(router, request).await.unwrap()
        }
    };
    let lead = r#"{"email": "cy@acme-robotics.com", "employees": "12"}"#;
    for (status, response) in [
        (
            StatusCode::CREATED,
            post("https://www.example.com", key.clone(), lead).await,
        ),
        (
            StatusCode::BAD_REQUEST,
            post("https://www.example.com", key.clone(), "{").await,
        ),
        (
            StatusCode::UNAUTHORIZED,
            post("https://www.example.com", "nope".into(), lead).await,
        ),
    ] {
        assert_eq!(response.status(), status);
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "https://www.example.com",
            "{status}"
        );
        assert!(response.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("Origin"));
    }
    let refused = post(
        "https://evil.example",
        key.clone(),
        r#"{"email": "dee@acme-robotics.com"}"#,
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let body: Value = serde_json::from_slice(
        &axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        body["type"],
        "https://leadrouter.dev/problems/origin-not-allowed"
    );
    assert_eq!(body["field"], "Origin");
    assert_eq!(stored(&h, "dee@acme-robotics.com").await, 0);
    assert_eq!(stored(&h, "cy@acme-robotics.com").await, 1);
}

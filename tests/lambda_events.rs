//! The sample API Gateway v2 events in events/ go through lambda_http's own event parsing and
//! the same router the Lambda runs.

mod common;

use axum::http::StatusCode;
use common::Harness;
use tower::ServiceExt;

async fn invoke(h: &Harness, event_file: &str) -> common::Reply {
    let path = format!("{}/events/{event_file}", env!("CARGO_MANIFEST_DIR"));
    let event = std::fs::read_to_string(&path).expect("event file");
    let request = lambda_http::request::from_str(&event).expect("a valid API Gateway v2 event");
    let (parts, body) = request.into_parts();
    let request = axum::http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
    let response = h.router.clone().oneshot(request).await.expect("router");
    common::Reply::read(response).await
}

#[tokio::test]
async fn the_json_lead_event_is_routed_to_the_financial_services_specialist() {
    let h = Harness::example().await;
    let reply = invoke(&h, "api-json-lead.json").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.owner(), "fiona");
    let again = invoke(&h, "api-json-lead.json").await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "the event carries an Idempotency-Key"
    );
    assert_eq!(again.body["lead_id"], reply.body["lead_id"]);
}

#[tokio::test]
async fn the_form_lead_event_is_routed_to_the_smb_pool() {
    let h = Harness::example().await;
    let reply = invoke(&h, "api-form-lead.json").await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    assert_eq!(reply.body["pool"], "smb");
}

#[tokio::test]
async fn the_bad_lead_event_is_a_400_and_writes_nothing() {
    let h = Harness::example().await;
    let reply = invoke(&h, "api-bad-lead.json").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["field"], "email");
    assert_eq!(h.written_by_intake().await, 0);
}

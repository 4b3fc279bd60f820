//! The sample API Gateway v2 events in events/ go through lambda_http's own event parsing and
//! the same router the Lambda runs.

mod common;

use axum::http::StatusCode;
use common::Harness;
use tower::ServiceExt;

async fn invoke(h: &Harness, event_file: &str) -> common::Reply {
    invoke_with(h, event_file, None).await
}

/// Feeds an event through the router as the Lambda runtime does, with the invocation's
/// context (its deadline) when given.
async fn invoke_with(
    h: &Harness,
    event_file: &str,
    context: Option<lambda_runtime::Context>,
) -> common::Reply {
    let path = format!("{}/events/{event_file}", env!("CARGO_MANIFEST_DIR"));
    let event = std::fs::read_to_string(&path).expect("event file");
    let request = lambda_http::request::from_str(&event).expect("a valid API Gateway v2 event");
    let (mut parts, body) = request.into_parts();
    if let Some(context) = context {
        parts.extensions.insert(context);
    }
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

#[tokio::test]
async fn a_twin_answers_409_before_its_function_times_out() {
    let h = Harness::example().await;
    // Another invocation holds the event's Idempotency-Key, still at work.
    let event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/events/api-json-lead.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let fields =
        leadrouter::http::extract::json_fields(event["body"].as_str().unwrap().as_bytes()).unwrap();
    let lead =
        leadrouter::domain::lead::Lead::parse(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap();
    let hash = leadrouter::app::hash_secret(&serde_json::to_string(&lead).unwrap());
    let claim =
        leadrouter::app::idempotency::Claim::new("test-form", Some("evt-json-lead-1"), &hash);
    let holder = leadrouter::store::IdempotencyToken {
        token: "the-first-invocation".into(),
        ..claim.token.clone()
    };
    leadrouter::store::IdempotencyStore::claim_idempotency(
        &h.store,
        &holder,
        &hash,
        "the-first-invocations-lead",
        h.app.now().as_second(),
        30,
        3600,
    )
    .await
    .unwrap();
    // The twin's function times out 8 s from now; it must answer before then. (The timeout
    // below is Lambda killing the function, which is what the defect was.)
    let function_timeout = std::time::Duration::from_secs(8);
    let mut context = lambda_runtime::Context::default();
    let now_ms = jiff::Timestamp::now().as_millisecond() as u64;
    context.deadline = now_ms + function_timeout.as_millis() as u64;
    let answered = tokio::time::timeout(
        function_timeout,
        invoke_with(&h, "api-json-lead.json", Some(context)),
    )
    .await
    .expect("the twin answered before Lambda would have killed it");
    assert_eq!(answered.status, StatusCode::CONFLICT, "{:?}", answered.body);
    assert!(answered.headers.contains_key("retry-after"));
    assert_eq!(h.lead_items().await.len(), 0);
}

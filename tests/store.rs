//! What the DynamoDB store answers when the deployment or a request is not what it expects:
//! typed errors a caller can act on, against DynamoDB Local.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use common::json_lead;
use leadrouter::domain::lead::Lead;
use leadrouter::domain::routing;
use leadrouter::store::dynamo::{self, DynamoStore};
use leadrouter::store::{
    tables, ConfigStore, IdempotencyClaim, IdempotencyToken, LeadStore, NewLead, StoreError,
    StoredResponse,
};

/// A store on a fresh, empty table.
async fn fresh_store() -> DynamoStore {
    let client = dynamo::client(Some(&common::endpoint())).await;
    let table = format!("test-{}", uuid::Uuid::new_v4());
    tables::ensure_table(&client, &tables::leads_table(), &table)
        .await
        .expect("create table");
    DynamoStore::new(client, table)
}

/// A store on a table nobody created.
async fn store_without_table() -> DynamoStore {
    let client = dynamo::client(Some(&common::endpoint())).await;
    DynamoStore::new(client, format!("missing-{}", uuid::Uuid::new_v4()))
}

#[tokio::test]
async fn a_store_on_a_table_that_does_not_exist_says_not_found() {
    let store = store_without_table().await;
    let read = store.get_lead("0193b0c2-0000-7000-8000-000000000000").await;
    assert!(matches!(read, Err(StoreError::NotFound(_))), "{read:?}");
    let config = store.active_config_version().await;
    assert!(matches!(config, Err(StoreError::NotFound(_))), "{config:?}");
    let error = config.unwrap_err();
    assert!(error.outcome_known(), "nothing was written");
    assert!(
        !error.is_transient(),
        "a missing table needs a person, not a retry"
    );
}

#[tokio::test]
async fn a_missing_table_is_a_503_with_retry_after_never_a_500() {
    let app = leadrouter::service::App::new(
        Arc::new(store_without_table().await),
        Arc::new(leadrouter::service::SystemClock),
        Duration::ZERO,
        common::notifier(),
    );
    let router = leadrouter::http::router(Arc::new(app));
    let reply = common::send_to(&router, json_lead(json!({"email": "a@acme.com"}), &[])).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        reply.body
    );
    assert!(reply.headers.contains_key("retry-after"));
    assert_eq!(reply.content_type(), "application/problem+json");
}

/// A lead for the unrouted queue that completes an Idempotency-Key claim with `response`.
fn queued_lead(token: &IdempotencyToken, response: &str) -> NewLead {
    NewLead {
        lead_id: uuid::Uuid::now_v7().to_string(),
        source: "test-form".into(),
        received_at: "2026-11-24T15:00:00Z".into(),
        lead: Lead::default(),
        assignment: routing::fallback("unrouted", "No routing config is active"),
        claim: None,
        ticket: None,
        idempotency: Some((
            token.clone(),
            StoredResponse {
                body: response.into(),
            },
        )),
        deadline: None,
        notifications: Vec::new(),
        contact: None,
        spam: false,
    }
}

#[tokio::test]
async fn a_request_recognises_its_own_idempotency_claim() {
    let store = fresh_store().await;
    let now = jiff::Timestamp::now().as_second();
    let claim = |token: IdempotencyToken| {
        let store = store.clone();
        async move {
            store
                .claim_idempotency(&token, "payload-hash", now, 30, 3600)
                .await
                .expect("claim")
        }
    };
    let mine = IdempotencyToken {
        key: "test-form#key-1".into(),
        token: "request-1".into(),
    };
    let twin = IdempotencyToken {
        token: "request-2".into(),
        ..mine.clone()
    };
    assert_eq!(claim(mine.clone()).await, IdempotencyClaim::Claimed);
    // The SDK retries a claim whose answer was lost; the retry meets the first attempt's claim,
    // which is this request's own.
    assert_eq!(claim(mine.clone()).await, IdempotencyClaim::Claimed);
    assert_eq!(claim(twin.clone()).await, IdempotencyClaim::InProgress);

    store
        .record_assignment(&queued_lead(&mine, r#"{"lead_id":"first"}"#))
        .await
        .expect("record");
    let completed = IdempotencyClaim::Completed(StoredResponse {
        body: r#"{"lead_id":"first"}"#.into(),
    });
    assert_eq!(claim(twin).await, completed);
    assert_eq!(claim(mine).await, completed);
}

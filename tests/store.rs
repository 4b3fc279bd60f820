//! What the DynamoDB store answers when the deployment or a request is not what it expects:
//! typed errors a caller can act on, against DynamoDB Local.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use common::json_lead;
use leadrouter::store::dynamo::{self, DynamoStore};
use leadrouter::store::{ConfigStore, LeadStore, StoreError};

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

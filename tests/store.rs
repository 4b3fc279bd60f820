//! What the DynamoDB store answers, against DynamoDB Local: typed errors a caller can act on
//! when the deployment is not what it expects; claims that fence their lead transaction;
//! rotation tickets given back, adopted, stored once, and repaired after a request died.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use common::json_lead;
use leadrouter::domain::lead::Lead;
use leadrouter::domain::model::{LeadStatus, Refusal};
use leadrouter::domain::report::row::{LeadFacts, Stint};
use leadrouter::domain::routing::{self, PoolTicket};
use leadrouter::store::dynamo::{self, tables, DynamoStore};
use leadrouter::store::{
    CommitError, ConfigStore, IdempotencyClaim, IdempotencyStore, IdempotencyToken, LeadStore,
    NewLead, RotationStore, Settled, Stale, StoreError, StoredResponse,
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
    let app = leadrouter::app::App::new(
        Arc::new(store_without_table().await),
        Arc::new(leadrouter::app::SystemClock),
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
    let assignment = routing::fallback("unrouted", "No routing config is active");
    let received_at = "2026-11-24T15:00:00Z".parse().unwrap();
    NewLead {
        lead_id: uuid::Uuid::now_v7().to_string(),
        source: "test-form".into(),
        received_at,
        lead: Lead::default(),
        stint: Stint::of(&assignment, 1, received_at, None, None),
        facts: LeadFacts::default(),
        assignment,
        claim: None,
        ticket: None,
        passed: Vec::new(),
        idempotency: Some((
            token.clone(),
            StoredResponse {
                body: response.into(),
            },
        )),
        deadline: None,
        notifications: Vec::new(),
        contact: None,
        status: LeadStatus::Queued,
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

fn token(key: &str, request: &str) -> IdempotencyToken {
    IdempotencyToken {
        key: key.into(),
        token: request.into(),
    }
}

#[tokio::test]
async fn settling_a_failed_claim_gives_it_back_and_fences_its_transaction() {
    let store = fresh_store().await;
    let now = jiff::Timestamp::now().as_second();
    let first = token("test-form#key-2", "request-1");
    assert_eq!(
        store
            .claim_idempotency(&first, "hash", now, 30, 3600)
            .await
            .unwrap(),
        IdempotencyClaim::Claimed
    );
    // The request failed before its transaction committed: the claim goes back...
    assert_eq!(
        store.settle_idempotency(&first).await.unwrap(),
        Settled::Released
    );
    // ...and that transaction, were it still on its way, can no longer store the lead.
    let late = queued_lead(&first, r#"{"lead_id":"late"}"#);
    let committed = store.record_assignment(&late).await;
    assert!(
        matches!(committed, Err(CommitError::Stale(Stale::ClaimLost))),
        "{committed:?}"
    );
    assert!(store.get_lead(&late.lead_id).await.unwrap().is_none());

    // A retry claims the key again and stores its lead; settling then finds it stored.
    let retry = token("test-form#key-2", "request-2");
    let answer = r#"{"lead_id":"retried"}"#;
    assert_eq!(
        store
            .claim_idempotency(&retry, "hash", now, 30, 3600)
            .await
            .unwrap(),
        IdempotencyClaim::Claimed
    );
    let stored = queued_lead(&retry, answer);
    store.record_assignment(&stored).await.unwrap();
    assert_eq!(
        store.settle_idempotency(&retry).await.unwrap(),
        Settled::Completed {
            lead_id: stored.lead_id.clone(),
            response: StoredResponse {
                body: answer.into()
            },
        }
    );
    // Nobody else's claim is given back.
    assert_eq!(
        store.settle_idempotency(&first).await.unwrap(),
        Settled::NotHeld
    );
    assert_eq!(
        store
            .settle_idempotency(&token("test-form#never", "x"))
            .await
            .unwrap(),
        Settled::NotHeld
    );
}

#[tokio::test]
async fn a_lead_transaction_sent_again_after_it_committed_says_already_stored() {
    let store = fresh_store().await;
    let now = jiff::Timestamp::now().as_second();
    let claim = token("test-form#key-3", "request-1");
    store
        .claim_idempotency(&claim, "hash", now, 30, 3600)
        .await
        .unwrap();
    let lead = queued_lead(&claim, r#"{"lead_id":"once"}"#);
    store.record_assignment(&lead).await.unwrap();
    let again = store.record_assignment(&lead).await;
    assert!(
        matches!(again, Err(CommitError::Stale(Stale::AlreadyStored))),
        "{again:?}"
    );
}

/// A lead for pool `p` that uses `turn`, as a new lead's transaction stores it.
fn pool_lead(turn: u64) -> NewLead {
    let mut lead = queued_lead(&token("test-form#k", "t"), "{}");
    lead.idempotency = None;
    lead.ticket = Some(PoolTicket {
        pool: "p".into(),
        turn,
    });
    lead
}

#[tokio::test]
async fn tickets_given_back_go_to_the_next_leads_and_each_is_stored_with_one_lead() {
    let store = fresh_store().await;
    let mut turns = Vec::new();
    for _ in 0..3 {
        turns.push(store.take_ticket("p").await.unwrap().turn);
    }
    assert_eq!(turns, [1, 2, 3]);
    store.return_tickets("p", &[2, 3]).await.unwrap();
    assert_eq!(
        store.take_ticket("p").await.unwrap().turn,
        2,
        "oldest first"
    );
    assert_eq!(store.take_ticket("p").await.unwrap().turn, 3);
    assert_eq!(
        store.take_ticket("p").await.unwrap().turn,
        4,
        "then new ones"
    );

    // A ticket given back twice can be adopted twice, but only one lead stores it.
    store.record_assignment(&pool_lead(2)).await.unwrap();
    let twice = store.record_assignment(&pool_lead(2)).await;
    assert!(
        matches!(twice, Err(CommitError::Refused(Refusal::TicketUsed))),
        "{twice:?}"
    );

    // A restarted cycle drops tickets given back before it.
    store.return_tickets("p", &[1]).await.unwrap();
    store.restart_cycle("p", 2).await.unwrap();
    let fresh = store.take_ticket("p").await.unwrap();
    assert_eq!((fresh.turn, fresh.cycle_start), (5, 4));
}

#[tokio::test]
async fn the_repair_gives_back_only_tickets_of_requests_that_died_long_enough_ago() {
    let store = fresh_store().await;
    for _ in 0..5 {
        store.take_ticket("p").await.unwrap();
    }
    // Tickets 1, 2, 4 and 5 were stored with their leads; 3's request died; 6 is in flight.
    for turn in [1, 2, 4, 5] {
        store.record_assignment(&pool_lead(turn)).await.unwrap();
    }
    let t0 = 1_800_000_000;
    let lease = 120;
    let first = store.repair_rotation("p", t0, lease).await.unwrap();
    assert!(first.returned.is_empty(), "first it only marks where it is");
    store.take_ticket("p").await.unwrap();
    let early = store.repair_rotation("p", t0 + 60, lease).await.unwrap();
    assert!(
        early.returned.is_empty(),
        "too soon: 3 may still be at work"
    );
    let due = store.repair_rotation("p", t0 + lease, lease).await.unwrap();
    assert_eq!(due.returned, [3], "only the dead request's ticket");
    assert_eq!(store.take_ticket("p").await.unwrap().turn, 3);
    // 3 is adopted and stored; 7 is taken after the repair's new mark.
    store.record_assignment(&pool_lead(3)).await.unwrap();
    assert_eq!(store.take_ticket("p").await.unwrap().turn, 7);
    let later = store
        .repair_rotation("p", t0 + 2 * lease, lease)
        .await
        .unwrap();
    assert_eq!(
        later.returned,
        [6],
        "6's request died too; 7 is too recent to judge"
    );
}

//! What the DynamoDB store answers, against DynamoDB Local: typed errors a caller can act on
//! when the deployment is not what it expects; claims that name their one lead and fence it
//! when given back;
//! rotation tickets given back, adopted, stored once, and repaired after a request died.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;

use axum::http::StatusCode;
use serde_json::json;

use common::json_lead;
use leadrouter::domain::lead::Lead;
use leadrouter::domain::model::{LeadStatus, Refusal, RepClaim};
use leadrouter::domain::report::row::{LeadFacts, Stint};
use leadrouter::domain::routing::{self, PoolTicket};
use leadrouter::store::dynamo::{self, tables, DynamoStore};
use leadrouter::store::{
    CommitError, ConfigStore, IdempotencyClaim, IdempotencyStore, IdempotencyToken, LeadStore,
    NewLead, RosterStore, RotationStore, Settled, Stale, StoreError,
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

/// A lead for the unrouted queue, stored as `lead_id`.
fn queued_lead(lead_id: &str) -> NewLead {
    let assignment = routing::fallback("unrouted", "No routing config is active");
    let received_at = "2026-11-24T15:00:00Z".parse().unwrap();
    NewLead {
        lead_id: lead_id.into(),
        source: "test-form".into(),
        received_at,
        lead: Lead::default(),
        stint: Stint::of(&assignment, 1, received_at, None, None),
        facts: LeadFacts::default(),
        assignment,
        claim: None,
        ticket: None,
        passed: Vec::new(),
        deadline: None,
        notifications: Vec::new(),
        contact: None,
        status: LeadStatus::Queued,
    }
}

fn token(key: &str, request: &str) -> IdempotencyToken {
    IdempotencyToken {
        key: key.into(),
        token: request.into(),
    }
}

fn claimed(lead_id: &str) -> IdempotencyClaim {
    IdempotencyClaim::Claimed {
        lead_id: lead_id.into(),
    }
}

#[tokio::test]
async fn a_claim_names_its_lead_and_a_request_recognises_its_own() {
    let store = fresh_store().await;
    let now = jiff::Timestamp::now().as_second();
    let claim = |token: IdempotencyToken, lead: &'static str, now: i64| {
        let store = store.clone();
        async move {
            store
                .claim_idempotency(&token, "payload-hash", lead, now, 30, 3600)
                .await
                .expect("claim")
        }
    };
    let mine = token("test-form#key-1", "request-1");
    let twin = token("test-form#key-1", "request-2");
    assert_eq!(claim(mine.clone(), "lead-1", now).await, claimed("lead-1"));
    // The SDK retries a claim whose answer was lost; the retry meets the first attempt's claim,
    // which is this request's own, for its lead.
    assert_eq!(claim(mine.clone(), "lead-1", now).await, claimed("lead-1"));
    let held = |lease_over| IdempotencyClaim::Held {
        lead_id: Some("lead-1".into()),
        token: "request-1".into(),
        lease_over,
    };
    assert_eq!(claim(twin.clone(), "lead-2", now).await, held(false));
    assert!(!store.lead_exists("lead-1").await.unwrap());
    store
        .record_assignment(&queued_lead("lead-1"))
        .await
        .unwrap();
    assert!(store.lead_exists("lead-1").await.unwrap());
    // The lead's transaction leaves the claim as it was: the twin finds the lead through it.
    assert_eq!(claim(twin.clone(), "lead-2", now).await, held(false));
    // A different payload under the same key is a mismatch.
    let other = store
        .claim_idempotency(&twin, "other-hash", "lead-3", now, 30, 3600)
        .await
        .unwrap();
    assert_eq!(other, IdempotencyClaim::Mismatch);
    // Past its expiry (TTL deletion lags) the key is free again, for a new lead.
    assert_eq!(claim(twin, "lead-4", now + 3601).await, claimed("lead-4"));
}

#[tokio::test]
async fn a_vanished_holder_is_taken_over_for_the_same_lead_so_only_one_is_ever_stored() {
    let store = fresh_store().await;
    let now = jiff::Timestamp::now().as_second();
    let first = token("test-form#key-5", "request-1");
    let retry = token("test-form#key-5", "request-2");
    store
        .claim_idempotency(&first, "hash", "lead-5", now, 30, 3600)
        .await
        .unwrap();
    // Not before the lease is over...
    assert!(!store
        .take_over_idempotency(&retry, "request-1", "lead-5", now, 30)
        .await
        .unwrap());
    // ...then once, from the holder seen.
    let later = now + 31;
    assert!(store
        .take_over_idempotency(&retry, "request-1", "lead-5", later, 30)
        .await
        .unwrap());
    assert!(!store
        .take_over_idempotency(
            &token("test-form#key-5", "request-3"),
            "request-1",
            "lead-5",
            later,
            30
        )
        .await
        .unwrap());
    // Both the vanished holder (were it alive) and the retry store the same id: one wins.
    store
        .record_assignment(&queued_lead("lead-5"))
        .await
        .unwrap();
    let again = store.record_assignment(&queued_lead("lead-5")).await;
    assert!(
        matches!(again, Err(CommitError::Stale(Stale::AlreadyStored))),
        "{again:?}"
    );
    // The old holder settling finds the lead stored; the claim stays the retry's.
    assert_eq!(
        store
            .settle_idempotency(&first, Some("lead-5"), later)
            .await
            .unwrap(),
        Settled::Stored
    );
    let held = store
        .claim_idempotency(
            &token("test-form#key-5", "request-4"),
            "hash",
            "lead-6",
            later,
            30,
            3600,
        )
        .await
        .unwrap();
    assert!(matches!(held, IdempotencyClaim::Held { token, .. } if token == "request-2"));
}

/// An SDK retry of a settling write whose first attempt landed but whose answer was lost (as
/// after DynamoDB stalled) finds the claim gone: that is still "nothing stored", never "a retry
/// took it over" nor "stored".
#[tokio::test]
async fn settling_again_after_a_landed_attempt_still_says_nothing_was_stored() {
    let store = fresh_store().await;
    let now = jiff::Timestamp::now().as_second();
    for (key, fence) in [
        ("test-form#again-1", None),
        ("test-form#again-2", Some("again")),
    ] {
        let mine = token(key, "request-1");
        assert_eq!(
            store
                .claim_idempotency(&mine, "hash", "again", now, 30, 3600)
                .await
                .unwrap(),
            claimed("again")
        );
        for attempt in 0..2 {
            assert_eq!(
                store.settle_idempotency(&mine, fence, now).await.unwrap(),
                Settled::Released,
                "{key}, attempt {attempt}"
            );
        }
    }
    assert!(!store.lead_exists("again").await.unwrap());
    // A claim taken over by a retry, for the same lead id, is the retry's.
    let first = token("test-form#again-3", "request-1");
    store
        .claim_idempotency(&first, "hash", "over", now - 60, 30, 3600)
        .await
        .unwrap();
    let retry = token("test-form#again-3", "request-2");
    assert!(store
        .take_over_idempotency(&retry, "request-1", "over", now, 30)
        .await
        .unwrap());
    for fence in [None, Some("over")] {
        assert_eq!(
            store.settle_idempotency(&first, fence, now).await.unwrap(),
            Settled::NotHeld
        );
    }
}

#[tokio::test]
async fn settling_a_failed_claim_gives_it_back_and_fences_its_lead() {
    let store = fresh_store().await;
    let now = jiff::Timestamp::now().as_second();
    let first = token("test-form#key-2", "request-1");
    assert_eq!(
        store
            .claim_idempotency(&first, "hash", "late", now, 30, 3600)
            .await
            .unwrap(),
        claimed("late")
    );
    // The request failed before its transaction committed: the claim goes back...
    assert_eq!(
        store
            .settle_idempotency(&first, Some("late"), now)
            .await
            .unwrap(),
        Settled::Released
    );
    // ...and that transaction, were it still on its way, can no longer store the lead, which
    // no reader sees.
    let committed = store.record_assignment(&queued_lead("late")).await;
    assert!(
        matches!(committed, Err(CommitError::Stale(Stale::AlreadyStored))),
        "{committed:?}"
    );
    assert!(store.get_lead("late").await.unwrap().is_none());
    assert!(!store.lead_exists("late").await.unwrap());

    // A retry claims the key again, for a new lead, and stores it; settling then finds it
    // stored and leaves the claim in place.
    let retry = token("test-form#key-2", "request-2");
    assert_eq!(
        store
            .claim_idempotency(&retry, "hash", "retried", now, 30, 3600)
            .await
            .unwrap(),
        claimed("retried")
    );
    store
        .record_assignment(&queued_lead("retried"))
        .await
        .unwrap();
    assert_eq!(
        store
            .settle_idempotency(&retry, Some("retried"), now)
            .await
            .unwrap(),
        Settled::Stored
    );
    // A request whose claim is now a new one, for another lead (it outlived its claim), fences
    // its own lead id alone: the other claim stays, and its lead can still be stored...
    assert_eq!(
        store
            .settle_idempotency(&first, Some("outlived"), now)
            .await
            .unwrap(),
        Settled::Released
    );
    let outlived = store.record_assignment(&queued_lead("outlived")).await;
    assert!(
        matches!(outlived, Err(CommitError::Stale(Stale::AlreadyStored))),
        "{outlived:?}"
    );
    let still = store
        .claim_idempotency(
            &token("test-form#key-2", "request-3"),
            "hash",
            "x",
            now,
            30,
            3600,
        )
        .await
        .unwrap();
    assert!(matches!(still, IdempotencyClaim::Held { token, .. } if token == "request-2"));
    // ...and so does one whose claim is gone.
    assert_eq!(
        store
            .settle_idempotency(&token("test-form#never", "x"), Some("never"), now)
            .await
            .unwrap(),
        Settled::Released
    );
    assert!(store.get_lead("never").await.unwrap().is_none());

    // Given back before any transaction storing its lead was sent: only the claim goes, and
    // nothing is left behind.
    let early = token("test-form#key-9", "request-1");
    store
        .claim_idempotency(&early, "hash", "early", now, 30, 3600)
        .await
        .unwrap();
    assert_eq!(
        store.settle_idempotency(&early, None, now).await.unwrap(),
        Settled::Released
    );
    store
        .record_assignment(&queued_lead("early"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lead_id_no_claim_names_is_fenced_once_and_a_stored_lead_is_not() {
    let store = fresh_store().await;
    let now = jiff::Timestamp::now().as_second();
    // Fenced: its transaction, were it still on its way, cannot store it any more.
    assert_eq!(
        store.fence_lead("late", now).await.unwrap(),
        Settled::Released
    );
    let late = store.record_assignment(&queued_lead("late")).await;
    assert!(
        matches!(late, Err(CommitError::Stale(Stale::AlreadyStored))),
        "{late:?}"
    );
    assert!(!store.lead_exists("late").await.unwrap());
    // Fenced again (the SDK retrying a put whose answer was lost): still nothing stored.
    assert_eq!(
        store.fence_lead("late", now).await.unwrap(),
        Settled::Released
    );
    // A stored lead cannot be fenced: it was stored.
    store
        .record_assignment(&queued_lead("stored"))
        .await
        .unwrap();
    assert_eq!(
        store.fence_lead("stored", now).await.unwrap(),
        Settled::Stored
    );
    assert!(store.lead_exists("stored").await.unwrap());
}

#[tokio::test]
async fn a_lead_transaction_sent_again_after_it_committed_says_already_stored() {
    let store = fresh_store().await;
    let lead = queued_lead("once");
    store.record_assignment(&lead).await.unwrap();
    let again = store.record_assignment(&lead).await;
    assert!(
        matches!(again, Err(CommitError::Stale(Stale::AlreadyStored))),
        "{again:?}"
    );
}

/// A lead for Ana in pool `p` that uses `turn` (new from the counter, or `adopted` after
/// another request gave it back), as a new lead's transaction stores it.
fn pool_lead(turn: u64, adopted: bool) -> NewLead {
    let mut lead = queued_lead(&uuid::Uuid::now_v7().to_string());
    lead.ticket = Some(PoolTicket {
        pool: "p".into(),
        turn,
        adopted,
    });
    lead.claim = Some(RepClaim {
        rep: "ana".into(),
        pool: Some("p".into()),
        caps: Vec::new(),
        max_open: None,
    });
    lead
}

/// The items of the store's table.
async fn items(store: &DynamoStore) -> Vec<HashMap<String, AttributeValue>> {
    let scan = store.client().scan().table_name(store.table());
    scan.send().await.unwrap().items.unwrap_or_default()
}

/// The tickets of pool `p` recorded as `TURN#` items, and those on Ana's entry.
async fn recorded_turns(store: &DynamoStore) -> (Vec<u64>, Vec<u64>) {
    let items = items(store).await;
    let s = |i: &HashMap<String, AttributeValue>, k: &str| i[k].as_s().unwrap().clone();
    let mut records: Vec<u64> = items
        .iter()
        .filter(|i| s(i, "pk") == "POOL#p" && s(i, "sk").starts_with("TURN#"))
        .map(|i| s(i, "sk")["TURN#".len()..].parse().unwrap())
        .collect();
    records.sort();
    let mut on_rep: Vec<u64> = items
        .iter()
        .find(|i| s(i, "pk") == "REP#ana")
        .and_then(|i| i.get("turns:p"))
        .map(|v| {
            v.as_ns()
                .unwrap()
                .iter()
                .map(|t| t.parse().unwrap())
                .collect()
        })
        .unwrap_or_default();
    on_rep.sort();
    (records, on_rep)
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
    store.record_assignment(&pool_lead(2, true)).await.unwrap();
    let twice = store.record_assignment(&pool_lead(2, true)).await;
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

/// Counts the DynamoDB calls a client makes.
#[derive(Debug, Clone, Default)]
struct CallCount(Arc<AtomicUsize>);

impl Intercept for CallCount {
    fn name(&self) -> &'static str {
        "count DynamoDB calls"
    }

    fn read_before_execution(
        &self,
        _: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn leads_adopting_at_the_same_moment_each_get_a_different_ticket_given_back() {
    // 40 tickets given back, then 48 leads at once: each adopts a different one while any is
    // left, and only the last 8 take new ones. No lead loses a race for a ticket another took:
    // at most a refused new ticket, then a refused adoption once none is left, then a new one.
    let store = fresh_store().await;
    for _ in 0..45 {
        store.take_ticket("p").await.unwrap();
    }
    let given_back: Vec<u64> = (1..=45).filter(|t| t % 9 != 0).collect();
    store.return_tickets("p", &given_back).await.unwrap();
    let calls = CallCount::default();
    let counted = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(
            store
                .client()
                .config()
                .to_builder()
                .interceptor(calls.clone())
                .build(),
        ),
        store.table(),
    );
    let takers = (0..48).map(|_| {
        let store = counted.clone();
        tokio::spawn(async move { store.take_ticket("p").await.unwrap() })
    });
    let takers: Vec<_> = takers.collect();
    let mut turns = Vec::new();
    for taker in takers {
        turns.push(taker.await.unwrap().turn);
    }
    turns.sort();
    let expected: Vec<u64> = given_back.into_iter().chain(46..=53).collect();
    assert_eq!(turns, expected, "every ticket given back adopted once");
    let calls = calls.0.load(Ordering::SeqCst);
    assert!(calls <= 48 * 3, "{calls} calls for 48 tickets");
    assert_eq!(store.take_ticket("p").await.unwrap().turn, 54);
}

#[tokio::test]
async fn the_repair_gives_back_only_tickets_of_requests_that_died_long_enough_ago() {
    let store = fresh_store().await;
    for _ in 0..5 {
        store.take_ticket("p").await.unwrap();
    }
    // Tickets 1, 2, 4 and 5 were stored with Ana's leads (on her entry, no record of their
    // own); 3's request died; 6 is in flight. Ana was enrolled in the pool before any of it;
    // the config the sweeper holds (the last argument) may not know her.
    store.enroll("p", &["ana".to_string()]).await.unwrap();
    for turn in [1, 2, 4, 5] {
        store
            .record_assignment(&pool_lead(turn, false))
            .await
            .unwrap();
    }
    assert_eq!(recorded_turns(&store).await, (vec![], vec![1, 2, 4, 5]));
    let t0 = 1_800_000_000;
    let lease = 120;
    let first = store.repair_rotation("p", t0, lease, &[]).await.unwrap();
    assert!(first.returned.is_empty(), "first it only marks where it is");
    assert_eq!(
        recorded_turns(&store).await,
        (vec![], vec![4, 5]),
        "used tickets are settled at once, up to the first unused one, and leave Ana's entry"
    );
    store.take_ticket("p").await.unwrap();
    let early = store
        .repair_rotation("p", t0 + 60, lease, &[])
        .await
        .unwrap();
    assert!(
        early.returned.is_empty(),
        "too soon: 3 may still be at work"
    );
    let due = store
        .repair_rotation("p", t0 + lease, lease, &[])
        .await
        .unwrap();
    assert_eq!(due.returned, [3], "only the dead request's ticket");
    assert_eq!(
        recorded_turns(&store).await,
        (vec![], vec![4, 5]),
        "settled only up to 2: 3 may yet be adopted by a lead that dies"
    );
    let adopted = store.take_ticket("p").await.unwrap();
    assert_eq!((adopted.turn, adopted.adopted), (3, true));
    // 3 is adopted and stored (as a record: it was given back); 7 is taken after the repair's
    // new mark.
    store.record_assignment(&pool_lead(3, true)).await.unwrap();
    assert_eq!(store.take_ticket("p").await.unwrap().turn, 7);
    let later = store
        .repair_rotation("p", t0 + 2 * lease, lease, &[])
        .await
        .unwrap();
    assert_eq!(
        later.returned,
        [6],
        "6's request died too; 7 is too recent to judge"
    );
    assert_eq!(recorded_turns(&store).await, (vec![3], vec![]));
}

#[tokio::test]
async fn the_repair_reads_the_reps_the_sweepers_config_names_when_none_were_enrolled() {
    // A pool from before enrolment (no MEMBERS item): the config's members are read.
    let store = fresh_store().await;
    for _ in 0..3 {
        store.take_ticket("p").await.unwrap();
    }
    for turn in [1, 3] {
        store
            .record_assignment(&pool_lead(turn, false))
            .await
            .unwrap();
    }
    let (t0, lease) = (1_800_000_000, 120);
    let ana = ["ana".to_string()];
    store.repair_rotation("p", t0, lease, &ana).await.unwrap();
    let due = store
        .repair_rotation("p", t0 + lease, lease, &ana)
        .await
        .unwrap();
    assert_eq!(due.returned, [2]);
}

/// Waits (up to 5 s) until the pool's recorded tickets are `expected`.
async fn until_recorded(store: &DynamoStore, expected: (Vec<u64>, Vec<u64>)) {
    for _ in 0..100 {
        if recorded_turns(store).await == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(recorded_turns(store).await, expected);
}

#[tokio::test]
async fn a_process_that_put_half_an_entry_of_tickets_on_a_rep_takes_the_settled_ones_off() {
    let store = fresh_store().await;
    store.enroll("p", &["ana".to_string()]).await.unwrap();
    let half = dynamo::TURNS_ON_REP_MAX as u64 / 2;
    for turn in 1..half {
        assert_eq!(store.take_ticket("p").await.unwrap().turn, turn);
        store
            .record_assignment(&pool_lead(turn, false))
            .await
            .unwrap();
    }
    assert_eq!(
        recorded_turns(&store).await,
        (vec![], (1..half).collect::<Vec<_>>())
    );
    // The 50th: the pool's used tickets are settled and taken off Ana's entry, judging
    // nothing dead (what the sweeper's repair does first).
    assert_eq!(store.take_ticket("p").await.unwrap().turn, half);
    store
        .record_assignment(&pool_lead(half, false))
        .await
        .unwrap();
    until_recorded(&store, (vec![], vec![])).await;
    assert_eq!(store.take_ticket("p").await.unwrap().turn, half + 1);
}

#[tokio::test]
async fn a_rep_entry_another_process_filled_sends_the_ticket_to_an_item_and_is_tidied() {
    let store = fresh_store().await;
    store.enroll("p", &["ana".to_string()]).await.unwrap();
    let max = dynamo::TURNS_ON_REP_MAX as u64;
    // Other processes' leads used tickets 1 to 100, all on Ana's entry (none tidied it).
    for turn in 1..=max {
        assert_eq!(store.take_ticket("p").await.unwrap().turn, turn);
    }
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S("REP#ana".into()))
        .key("sk", AttributeValue::S("STATE".into()))
        .update_expression("ADD #turns :turns")
        .expression_attribute_names("#turns", "turns:p")
        .expression_attribute_values(
            ":turns",
            AttributeValue::Ns((1..=max).map(|t| t.to_string()).collect()),
        )
        .send()
        .await
        .unwrap();
    // This one's lead finds the entry full: its ticket is recorded as an item of its own, and
    // the pool is tidied at once.
    assert_eq!(store.take_ticket("p").await.unwrap().turn, max + 1);
    let lead = pool_lead(max + 1, false);
    store.record_assignment(&lead).await.unwrap();
    assert!(store.get_lead(&lead.lead_id).await.unwrap().is_some());
    until_recorded(&store, (vec![max + 1], vec![])).await;
    let next = store.take_ticket("p").await.unwrap().turn;
    store
        .record_assignment(&pool_lead(next, false))
        .await
        .unwrap();
    assert_eq!(recorded_turns(&store).await, (vec![max + 1], vec![next]));
    // Nothing was judged dead or given back.
    assert_eq!(store.take_ticket("p").await.unwrap().turn, next + 1);
}

#[tokio::test]
async fn a_rep_entry_holding_the_most_new_tickets_it_may_records_the_next_as_an_item() {
    let store = fresh_store().await;
    let max = dynamo::TURNS_ON_REP_MAX as u64;
    for turn in 1..=max {
        store
            .record_assignment(&pool_lead(turn, false))
            .await
            .unwrap();
    }
    let (records, on_rep) = recorded_turns(&store).await;
    assert!(records.is_empty());
    assert_eq!(on_rep, (1..=max).collect::<Vec<_>>());
    // The sweeper has not run: the next one is a record of its own, and the lead is stored.
    let next = pool_lead(max + 1, false);
    store.record_assignment(&next).await.unwrap();
    assert!(store.get_lead(&next.lead_id).await.unwrap().is_some());
    let (records, on_rep) = recorded_turns(&store).await;
    assert_eq!(records, [max + 1]);
    assert_eq!(on_rep.len() as u64, max);
    // The rep's other conditions still hold on that path: a rep no longer in the pool.
    let mut elsewhere = pool_lead(max + 2, false);
    elsewhere.claim.as_mut().unwrap().pool = Some("q".into());
    elsewhere.ticket.as_mut().unwrap().pool = "q".into();
    store.record_assignment(&elsewhere).await.unwrap();
    store
        .write_roster(&[leadrouter::store::RosterEntry {
            rep: "ana".into(),
            active: true,
            pools: vec!["q".into()],
            floor: None,
        }])
        .await
        .unwrap();
    let refused = store.record_assignment(&pool_lead(max + 3, false)).await;
    assert!(
        matches!(refused, Err(CommitError::Refused(Refusal::NotOnRoster))),
        "{refused:?}"
    );
}

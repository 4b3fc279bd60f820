//! Many concurrent requests through the router into DynamoDB Local: every lead stored exactly
//! once with an owner, no rotation turn used twice, fair counts, and concurrent retries of one
//! Idempotency-Key producing one lead.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use axum::http::StatusCode;
use common::{is_lead, json_lead, lead_id_of, pool_turns, s, Harness};
use serde_json::json;
use tokio::sync::Semaphore;

const FOUR_REP_POOL: &str = r#"
reps:
  - {id: r1, name: Rep One}
  - {id: r2, name: Rep Two}
  - {id: r3, name: Rep Three}
  - {id: r4, name: Rep Four}
pools:
  - {id: inbound, strategy: round_robin, reps: [r1, r2, r3, r4]}
rules:
  - {id: default, route: {pool: inbound}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_leads_from_32_concurrent_clients_are_each_stored_once_and_fairly() {
    const LEADS: usize = 500;
    const CLIENTS: usize = 32;
    let h = Arc::new(Harness::with_config(FOUR_REP_POOL).await);
    let gate = Arc::new(Semaphore::new(CLIENTS));
    let mut tasks = Vec::new();
    for i in 0..LEADS {
        let h = h.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            h.post_lead(json!({"email": format!("lead{i}@company{i}.com")}))
                .await
        }));
    }
    let mut answered = HashSet::new();
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        assert!(answered.insert(reply.body["lead_id"].as_str().unwrap().to_string()));
    }

    let items = h.items().await;
    let leads: Vec<_> = items.iter().filter(|i| is_lead(i)).collect();
    assert_eq!(leads.len(), LEADS, "every lead stored exactly once");
    let stored: HashSet<String> = leads.iter().map(|i| lead_id_of(i)).collect();
    assert_eq!(stored, answered, "the stored leads are the answered ones");

    let mut per_rep: BTreeMap<String, usize> = BTreeMap::new();
    for lead in &leads {
        assert_eq!(s(lead, "owner_kind"), "rep");
        *per_rep.entry(s(lead, "owner_id")).or_default() += 1;
    }
    let (min, max) = (
        per_rep.values().min().unwrap(),
        per_rep.values().max().unwrap(),
    );
    assert_eq!(per_rep.len(), 4, "{per_rep:?}");
    assert!(
        max - min <= 1,
        "per-rep counts differ by more than one: {per_rep:?}"
    );

    let turns = pool_turns(&items, "inbound");
    assert_eq!(turns.len(), LEADS, "one turn per lead");
    let numbers: Vec<u64> = turns.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(
        numbers,
        (1..=LEADS as u64).collect::<Vec<_>>(),
        "turns 1..=500, none twice, none skipped"
    );
    let turn_leads: HashSet<String> = turns.iter().map(|(_, lead, _)| lead.clone()).collect();
    assert_eq!(
        turn_leads, stored,
        "each turn belongs to exactly one stored lead"
    );
    for (n, _, owner) in &turns {
        let expected = format!("r{}", (n - 1) % 4 + 1);
        assert_eq!(
            *owner, expected,
            "turn {n} went to the rep whose turn it was"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_retries_of_one_idempotency_key_make_one_lead() {
    let h = Arc::new(Harness::with_config(FOUR_REP_POOL).await);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            h.send(json_lead(
                json!({"email": "twin@acme.com", "company": "Acme"}),
                &[("idempotency-key", "form-submit-7f3a")],
            ))
            .await
        }));
    }
    let mut ids = HashSet::new();
    let mut created = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::CREATED => created += 1,
            StatusCode::OK => {}
            other => panic!("unexpected {other}: {:?}", reply.body),
        }
        ids.insert(reply.body["lead_id"].as_str().unwrap().to_string());
    }
    assert_eq!(created, 1, "exactly one request created the lead");
    assert_eq!(ids.len(), 1, "every retry got the same answer");
    assert_eq!(h.lead_items().await.len(), 1);

    // A later retry replays the answer; the same key with another lead is refused.
    let again = h
        .send(json_lead(
            json!({"email": "twin@acme.com", "company": "Acme"}),
            &[("idempotency-key", "form-submit-7f3a")],
        ))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(ids.contains(again.body["lead_id"].as_str().unwrap()));
    let other = h
        .send(json_lead(
            json!({"email": "someone-else@acme.com"}),
            &[("idempotency-key", "form-submit-7f3a")],
        ))
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.body["field"], "Idempotency-Key");
    assert_eq!(h.lead_items().await.len(), 1);
}

//! Notifications, acknowledgements and the SLA sweeper, against DynamoDB Local and a real HTTP
//! receiver on 127.0.0.1. Time is the harness's clock: a test moves it past a deadline instead
//! of sleeping.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};

use common::faulty::{Fault, Faulty};
use common::receiver::{Received, Receiver};
use common::{assignment_no, is_lead, lead_id_of, num, s, send_to, Harness, Reply, PUBLIC_URL};
use leadrouter::app::SweepReport;
use leadrouter::domain::notify::verify_signature;

/// A config whose channels point at `base`, with secrets in environment variables that only
/// this test uses. SMB: Alex and Ava in rotation, 15 minutes to acknowledge, managers alerted.
/// Field: a named rep with 15 minutes, then the inside-sales pool, then the fallback queue.
fn config(base: &str) -> (String, String) {
    let tag = format!("LR_TEST_{}", uuid::Uuid::new_v4().simple());
    for (name, value) in [
        ("ALEX", format!("{base}/slack/alex")),
        ("AVA", format!("{base}/slack/ava")),
        ("FRED", format!("{base}/slack/fred")),
        ("IVY", format!("{base}/slack/ivy")),
        ("MANAGERS", format!("{base}/slack/managers")),
        ("CRM_SECRET", "crm-signing-secret".to_string()),
    ] {
        std::env::set_var(format!("{tag}_{name}"), value);
    }
    let config = format!(
        r#"
channels:
  - {{id: alex-slack, type: slack, url: {{env: {tag}_ALEX}}}}
  - {{id: ava-slack, type: slack, url: {{env: {tag}_AVA}}}}
  - {{id: fred-slack, type: slack, url: {{env: {tag}_FRED}}}}
  - {{id: ivy-slack, type: slack, url: {{env: {tag}_IVY}}}}
  - {{id: managers, type: slack, url: {{env: {tag}_MANAGERS}}}}
  - {{id: crm, type: webhook, url: "{base}/hooks/crm", secret: {{env: {tag}_CRM_SECRET}}}}
reps:
  - {{id: alex, name: Alex, notify: [alex-slack]}}
  - {{id: ava, name: Ava, notify: [ava-slack]}}
  - {{id: fred, name: Fred, notify: [fred-slack]}}
  - {{id: ivy, name: Ivy, notify: [ivy-slack]}}
pools:
  - id: smb
    reps: [alex, ava]
    notify: [crm]
    sla: {{minutes: 15, alert: [managers]}}
  - {{id: inside, reps: [ivy]}}
queues:
  - {{id: unrouted, name: Unrouted, notify: [managers]}}
rules:
  - id: field
    when: {{country: DE}}
    route: {{rep: fred}}
    sla: {{minutes: 15, on_breach: {{pool: inside}}, max_escalations: 1, alert: [managers]}}
  - id: default
    route: {{pool: smb}}
"#
    );
    (config, tag)
}

async fn setup() -> (Harness, Receiver) {
    let (receiver, base) = Receiver::start().await;
    let (config, _) = config(&base);
    let h = Harness::with_config(&config).await;
    h.clock.set("2026-11-24T15:00:00Z");
    (h, receiver)
}

async fn lead(h: &Harness, email: &str, country: &str) -> String {
    let reply = h
        .post_lead(json!({"email": email, "first_name": "Jane", "last_name": "Doe", "company": "Acme", "country": country}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body["lead_id"].as_str().unwrap().to_string()
}

async fn get_lead(h: &Harness, id: &str) -> Value {
    let request = Request::get(format!("/leads/{id}"))
        .header("authorization", format!("Bearer {}", common::ADMIN_KEY))
        .body(Body::empty())
        .unwrap();
    let reply = h.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body
}

async fn sweep(h: &Harness) -> SweepReport {
    h.app
        .sweep(Instant::now() + Duration::from_secs(60))
        .await
        .expect("sweep")
}

/// The acknowledge link in a Slack message.
fn ack_link(message: &Received) -> String {
    let json = message.json();
    let url = json["blocks"][2]["elements"][0]["url"]
        .as_str()
        .expect("an acknowledge button")
        .to_string();
    assert!(url.starts_with(PUBLIC_URL), "{url}");
    url
}

/// Follows an acknowledge link as the rep's browser does after the confirmation page: a POST
/// with the link's path and query.
async fn follow(router: &Router, link: &str) -> Reply {
    let path = link.trim_start_matches(PUBLIC_URL);
    let request = Request::post(path).body(Body::empty()).unwrap();
    send_to(router, request).await
}

fn history_events(lead: &Value) -> Vec<String> {
    lead["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn slack_and_webhook_notifications_arrive_with_the_reason_deadline_link_and_a_valid_signature(
) {
    let (h, receiver) = setup().await;
    let id = lead(&h, "jane@acme.com", "US").await;

    let slack = receiver.accepted("/slack/alex");
    assert_eq!(slack.len(), 1, "the owner hears at once");
    let text = slack[0].json()["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with("New lead for Alex: Jane Doe at Acme"),
        "{text}"
    );
    let details = slack[0].json()["blocks"][1]["text"]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        details.contains("*Why:* No earlier rule matched"),
        "{details}"
    );
    assert!(
        details.contains("*Acknowledge by:* 2026-11-24T15:15:00Z"),
        "{details}"
    );
    assert!(ack_link(&slack[0]).contains(&format!("/leads/{id}/ack?token=1.")));

    let hooks = receiver.accepted("/hooks/crm");
    assert_eq!(hooks.len(), 1, "the pool's webhook hears too");
    let hook = &hooks[0];
    let timestamp: i64 = hook.headers["x-leadrouter-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(timestamp, 1_795_532_400, "signed at the app's time");
    let signature = hook.headers["x-leadrouter-signature"].to_str().unwrap();
    assert!(verify_signature(
        "crm-signing-secret",
        timestamp,
        &hook.body,
        signature
    ));
    assert!(!verify_signature("wrong", timestamp, &hook.body, signature));
    let body = hook.json();
    assert_eq!(body["type"], "lead.assigned");
    assert_eq!(body["lead_id"], id.as_str());
    assert_eq!(body["owner"]["id"], "alex");
    assert_eq!(body["sla_due_at"], "2026-11-24T15:15:00Z");
    assert_eq!(body["lead"]["email"], "jane@acme.com");
    assert_eq!(
        hook.headers["x-leadrouter-event-id"].to_str().unwrap(),
        body["event_id"].as_str().unwrap()
    );

    let stored = get_lead(&h, &id).await;
    let notes = stored["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2);
    for note in notes {
        assert_eq!(note["status"], "delivered", "{note}");
        assert_eq!(note["attempts"], 1);
    }
    assert_eq!(stored["sla_due_at"], "2026-11-24T15:15:00Z");
}

#[tokio::test]
async fn a_receiver_that_is_down_for_a_while_gets_the_notification_once_it_is_back() {
    let (h, receiver) = setup().await;
    receiver.set_down(true);
    let id = lead(&h, "jane@acme.com", "US").await;
    assert_eq!(receiver.attempts("/hooks/crm"), 1, "tried at once");

    let stored = get_lead(&h, &id).await;
    let hook = stored["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["channel"]["id"] == "crm")
        .unwrap()
        .clone();
    assert_eq!(hook["status"], "pending");
    assert_eq!(hook["attempts"], 1);
    assert_eq!(hook["last_error"], "the receiver answered HTTP 503");
    assert_eq!(
        hook["next_attempt_at"],
        1_795_532_400 + 30,
        "first retry 30 s later"
    );

    // Not due yet: nothing is sent.
    h.clock.set("2026-11-24T15:00:20Z");
    sweep(&h).await;
    assert_eq!(receiver.attempts("/hooks/crm"), 1);
    // Due, still down: the second attempt fails and backs off to 60 s.
    h.clock.set("2026-11-24T15:00:31Z");
    sweep(&h).await;
    assert_eq!(receiver.attempts("/hooks/crm"), 2);
    // Back up: the next due sweep delivers it, with the same event id.
    receiver.set_down(false);
    h.clock.set("2026-11-24T15:01:32Z");
    let report = sweep(&h).await;
    assert!(report.notifications.delivered >= 2, "{report:?}");
    let delivered = receiver.accepted("/hooks/crm");
    assert_eq!(delivered.len(), 1);
    let first_try = receiver
        .got
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.path == "/hooks/crm")
        .cloned()
        .unwrap();
    assert_eq!(
        delivered[0].headers["x-leadrouter-event-id"],
        first_try.headers["x-leadrouter-event-id"]
    );
    let stored = get_lead(&h, &id).await;
    for note in stored["notifications"].as_array().unwrap() {
        assert_eq!(note["status"], "delivered", "{note}");
    }
    // Nothing left to do (before the SLA deadline, which would bring news of its own).
    h.clock.set("2026-11-24T15:14:00Z");
    sweep(&h).await;
    assert_eq!(receiver.accepted("/hooks/crm").len(), 1);
}

#[tokio::test]
async fn a_receiver_that_never_answers_well_ends_dead_and_counted() {
    let (h, receiver) = setup().await;
    receiver.set_down(true);
    let id = lead(&h, "jane@acme.com", "US").await;
    // Acknowledged, so no escalation adds notifications: only the first two are retried.
    assert_eq!(h.lead_action(&id, "ack").await.status, StatusCode::OK);
    let mut at = jiff::Timestamp::from_second(1_795_532_400).unwrap();
    for _ in 0..20 {
        at += jiff::SignedDuration::from_secs(3601);
        h.clock.set(&at.to_string());
        sweep(&h).await;
    }
    let stored = get_lead(&h, &id).await;
    for note in stored["notifications"].as_array().unwrap() {
        assert_eq!(note["status"], "dead", "{note}");
        assert_eq!(note["attempts"], 10);
    }
    assert_eq!(
        receiver.attempts("/hooks/crm"),
        10,
        "no attempt after death"
    );
    let request = Request::get("/admin/metrics")
        .header("authorization", format!("Bearer {}", common::ADMIN_KEY))
        .body(Body::empty())
        .unwrap();
    let metrics = h.send(request).await.body;
    assert_eq!(
        metrics["dead_notifications_total"], 2,
        "Slack and webhook: {metrics}"
    );
    assert!(metrics["notifications_dead"].as_u64().unwrap() >= 2);
}

#[tokio::test]
async fn one_event_reaches_every_channel_with_one_id_and_a_channel_that_is_down_is_retried_and_revived_alone(
) {
    let (h, receiver) = setup().await;
    receiver.set_down_at("/hooks/crm", true);
    let id = lead(&h, "jane@acme.com", "US").await;
    let stored = get_lead(&h, &id).await;
    let notes = stored["notifications"].as_array().unwrap().clone();
    assert_eq!(notes.len(), 2, "{notes:?}");
    let slack = notes.iter().find(|n| n["channel"]["id"] != "crm").unwrap();
    let slack_path = format!(
        "/slack/{}",
        slack["channel"]["id"]
            .as_str()
            .unwrap()
            .trim_end_matches("-slack")
    );
    // One event: the same id and message on both channels, stored once.
    let event_id = notes[0]["message"]["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(notes.iter().all(|n| n["message"] == notes[0]["message"]));
    let crm_try = receiver.got.lock().unwrap()[..]
        .iter()
        .find(|r| r.path == "/hooks/crm")
        .cloned()
        .unwrap();
    assert_eq!(crm_try.headers["x-leadrouter-event-id"], event_id.as_str());
    assert_eq!(slack["status"], "delivered");
    let crm = notes.iter().find(|n| n["channel"]["id"] == "crm").unwrap();
    assert_eq!(
        (&crm["status"], &crm["attempts"]),
        (&json!("pending"), &json!(1))
    );
    assert_eq!(crm["next_attempt_at"], 1_795_532_400 + 30);
    assert!(slack.get("next_attempt_at").is_none(), "{slack}");

    // Acknowledged, so no escalation adds events. The webhook is retried on its own
    // schedule until it dies; Slack, delivered, is never sent again.
    assert_eq!(h.lead_action(&id, "ack").await.status, StatusCode::OK);
    h.clock.set("2026-11-24T15:00:31Z");
    sweep(&h).await;
    assert_eq!(receiver.attempts("/hooks/crm"), 2);
    let mut at = jiff::Timestamp::from_second(1_795_532_431).unwrap();
    for _ in 0..20 {
        at += jiff::SignedDuration::from_secs(3601);
        h.clock.set(&at.to_string());
        sweep(&h).await;
    }
    assert_eq!(
        receiver.attempts("/hooks/crm"),
        10,
        "no attempt after death"
    );
    assert_eq!(receiver.attempts(&slack_path), 1);
    let dead = h.app.store().dead_list(100).await.unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!((dead[0].channel.as_str(), dead[0].attempts), ("crm", 10));
    assert_eq!(h.app.store().dead_notifications().await.unwrap(), 1);

    // Back up and retried from the dead list: only the webhook is sent again.
    receiver.set_down_at("/hooks/crm", false);
    assert!(!h.app.retry_dead(&id, &event_id, "slack").await.unwrap());
    assert!(h.app.retry_dead(&id, &event_id, "crm").await.unwrap());
    assert_eq!(receiver.accepted("/hooks/crm").len(), 1);
    assert_eq!(receiver.attempts(&slack_path), 1);
    for note in get_lead(&h, &id).await["notifications"].as_array().unwrap() {
        assert_eq!(note["status"], "delivered", "{note}");
    }
    assert!(h.app.store().dead_list(100).await.unwrap().is_empty());
    assert!(!h.app.retry_dead(&id, &event_id, "crm").await.unwrap());
    h.clock.advance(3600);
    sweep(&h).await;
    assert_eq!(receiver.attempts("/hooks/crm"), 11);
}

#[tokio::test]
async fn a_result_that_could_not_be_recorded_is_sent_again_with_the_same_id_and_one_recorded_is_not(
) {
    let (receiver, base) = Receiver::start().await;
    let mut faulty = None;
    let h = Harness::build(&common::endpoint(), &config(&base).0, |store| {
        let store = std::sync::Arc::new(Faulty::new(store, Box::new(|_| Fault::None)));
        faulty = Some(store.clone());
        store as std::sync::Arc<dyn leadrouter::store::Store>
    })
    .await;
    let faulty = faulty.unwrap();
    h.clock.set("2026-11-24T15:00:00Z");

    // Delivered to both channels, but the write of the results fails: the lead still shows
    // both pending, and the sweeper sends both again after the lease, with the same id.
    faulty
        .record_faults
        .lock()
        .unwrap()
        .push_back(Fault::Before);
    let lost = lead(&h, "lost@acme.com", "US").await;
    let notes = get_lead(&h, &lost).await["notifications"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(notes.len(), 2);
    let event_id = notes[0]["message"]["event_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_all(&notes, "pending", 0);
    assert_eq!(receiver.accepted("/hooks/crm").len(), 1);
    h.clock.set("2026-11-24T15:01:01Z");
    sweep(&h).await;
    let crm = receiver.accepted("/hooks/crm");
    assert_eq!(crm.len(), 2, "sent again");
    assert!(crm
        .iter()
        .all(|r| r.headers["x-leadrouter-event-id"] == event_id.as_str()));
    let notes = get_lead(&h, &lost).await["notifications"].clone();
    assert_all(notes.as_array().unwrap(), "delivered", 1);

    // The write lands but its answer is lost: what the table says is what happened, and
    // nothing is sent again.
    faulty.record_faults.lock().unwrap().push_back(Fault::After);
    let kept = lead(&h, "kept@acme.com", "US").await;
    let notes = get_lead(&h, &kept).await["notifications"].clone();
    assert_all(notes.as_array().unwrap(), "delivered", 1);
    h.clock.set("2026-11-24T15:03:00Z");
    sweep(&h).await;
    assert_eq!(
        receiver.accepted("/hooks/crm").len(),
        3,
        "once for the second lead"
    );
    assert_eq!(
        (
            faulty.injected("record_before"),
            faulty.injected("record_after")
        ),
        (1, 1)
    );
}

/// A notification as an item of its own, the way they were stored before one item held every
/// channel of an event: pending (due at `due_at`) or dead.
async fn put_legacy(h: &Harness, lead_id: &str, event_id: &str, base: &str, dead: bool) {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    let text = |s: &str| V::S(s.to_string());
    let number = |n: i64| V::N(n.to_string());
    let map =
        |pairs: Vec<(&str, V)>| V::M(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    let message = map(vec![
        ("type", text("lead.assigned")),
        ("occurred_at", text("2026-11-24T15:00:00Z")),
        ("assignment", number(1)),
        (
            "lead",
            map(vec![
                ("email", text("old@acme.com")),
                ("score", number(0)),
                ("do_not_contact", V::Bool(false)),
            ]),
        ),
        (
            "owner",
            map(vec![
                ("kind", text("rep")),
                ("id", text("alex")),
                ("name", text("Alex")),
            ]),
        ),
        ("reason", text("stored the old way")),
    ]);
    let channel = map(vec![
        ("id", text("old-hook")),
        ("kind", text("webhook")),
        ("url", text(&format!("{base}/hooks/old"))),
    ]);
    let mut item = std::collections::HashMap::from([
        ("pk".to_string(), text(&format!("LEAD#{lead_id}"))),
        ("sk".to_string(), text(&format!("NOTIFY#{event_id}"))),
        ("channel".to_string(), channel),
        ("message".to_string(), message),
        ("attempts".to_string(), number(if dead { 10 } else { 1 })),
        (
            "status".to_string(),
            text(if dead { "dead" } else { "pending" }),
        ),
        (
            "last_error".to_string(),
            text("the receiver answered HTTP 503"),
        ),
        ("log_pk".to_string(), text("LOG#2026-11-24")),
        (
            "log_sk".to_string(),
            text(&format!(
                "2026-11-24T15:00:00.000000Z#{lead_id}#{}",
                &event_id[..8]
            )),
        ),
    ]);
    if !dead {
        item.insert("due_pk".into(), text("OUTBOX#0"));
        item.insert("due_at".into(), number(1_795_532_430));
    }
    put_raw(h, item).await;
    if dead {
        let dead_item = std::collections::HashMap::from([
            ("pk".to_string(), text("DEAD#NOTIFY")),
            (
                "sk".to_string(),
                text(&format!("2026-11-24T16:00:00.000000Z#{lead_id}#{event_id}")),
            ),
            ("lead_id".to_string(), text(lead_id)),
            ("event_id".to_string(), text(event_id)),
            ("channel".to_string(), text("old-hook")),
            ("at".to_string(), text("2026-11-24T16:00:00Z")),
            ("attempts".to_string(), number(10)),
        ]);
        put_raw(h, dead_item).await;
    }
}

/// The status and attempts of the notification of `event_id` among a lead's `notes`.
fn state_of(notes: &[Value], event_id: &str) -> (String, u64) {
    let note = notes
        .iter()
        .find(|n| n["message"]["event_id"] == event_id)
        .expect("the notification");
    (
        note["status"].as_str().unwrap().to_string(),
        note["attempts"].as_u64().unwrap(),
    )
}

/// Every one of `notes` has `status` after `attempts` attempts.
fn assert_all(notes: &[Value], status: &str, attempts: u64) {
    for note in notes {
        let state = (note["status"].as_str(), note["attempts"].as_u64());
        assert_eq!(state, (Some(status), Some(attempts)), "{note}");
    }
}

async fn put_raw(
    h: &Harness,
    item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) {
    let store = &h.store;
    let put = store.client().put_item().table_name(store.table());
    put.set_item(Some(item)).send().await.unwrap();
}

#[tokio::test]
async fn notifications_stored_one_item_per_channel_before_are_still_read_retried_and_revived() {
    let (receiver, base) = Receiver::start().await;
    let h = Harness::with_config(&config(&base).0).await;
    h.clock.set("2026-11-24T15:00:00Z");
    let id = lead(&h, "jane@acme.com", "US").await;
    let (due, dead) = (
        "0badc0de-0000-4000-8000-000000000001",
        "0badc0de-0000-4000-8000-000000000002",
    );
    put_legacy(&h, &id, due, &base, false).await;
    put_legacy(&h, &id, dead, &base, true).await;

    let notes = get_lead(&h, &id).await["notifications"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        notes.len(),
        4,
        "two of the event, two of their own: {notes:?}"
    );
    let old = state_of(&notes, due);
    assert_eq!(old, ("pending".into(), 1));
    let old = notes
        .iter()
        .find(|n| n["message"]["event_id"] == due)
        .unwrap();
    assert_eq!(old["next_attempt_at"], 1_795_532_430);
    assert_eq!(old["message"]["reason"], "stored the old way");

    // The pending one is retried when due, and recorded as delivered.
    h.clock.set("2026-11-24T15:00:31Z");
    sweep(&h).await;
    assert_eq!(receiver.accepted("/hooks/old").len(), 1);
    let notes = get_lead(&h, &id).await["notifications"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(state_of(&notes, due), ("delivered".into(), 2));
    // The dead one is listed, and retried from the list.
    let listed = h.app.store().dead_list(100).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(h.app.retry_dead(&id, dead, "old-hook").await.unwrap());
    assert_eq!(receiver.accepted("/hooks/old").len(), 2);
    assert!(h.app.store().dead_list(100).await.unwrap().is_empty());
    let notes = get_lead(&h, &id).await["notifications"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        notes.iter().all(|n| n["status"] == "delivered"),
        "{notes:?}"
    );
}

#[tokio::test]
async fn an_unacknowledged_lead_is_reassigned_and_both_owners_and_the_manager_are_told() {
    let (h, receiver) = setup().await;
    let id = lead(&h, "jane@acme.com", "US").await;
    let alex_link = ack_link(&receiver.accepted("/slack/alex")[0]);

    h.clock.set("2026-11-24T15:14:59Z");
    assert_eq!(sweep(&h).await.reassigned, 0, "not due yet");
    h.clock.set("2026-11-24T15:16:00Z");
    let report = sweep(&h).await;
    assert_eq!(report.reassigned, 1, "{report:?}");

    let stored = get_lead(&h, &id).await;
    assert_eq!(stored["assignment"]["owner"]["id"], "ava");
    assert_eq!(stored["assignment_number"], 2);
    assert_eq!(stored["escalations"], 1);
    assert_eq!(stored["owners"], json!(["alex", "ava"]));
    assert_eq!(
        stored["sla_due_at"], "2026-11-24T15:31:00Z",
        "a fresh 15 minutes"
    );
    assert_eq!(history_events(&stored), ["assigned", "reassigned"]);
    // The first entry, which lived on the lead, was written out with the reason it had.
    let first = stored["history"][0]["reason"].as_str().unwrap();
    assert!(first.starts_with("No earlier rule matched"), "{first}");
    assert!(first.contains("assigned to Alex"), "{first}");
    assert_eq!(stored["history"][0]["at"], "2026-11-24T15:00:00Z");
    let reason = stored["history"][1]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("SLA breached: Alex did not acknowledge within 15 minutes (due 2026-11-24T15:15:00Z, pool 'smb')."),
        "{reason}"
    );
    assert!(reason.contains("Alex (already had this lead)"), "{reason}");

    let told_alex = receiver.accepted("/slack/alex");
    assert_eq!(told_alex.len(), 2);
    let text = told_alex[1].json()["text"].as_str().unwrap().to_string();
    assert!(text.contains("was reassigned to Ava"), "{text}");
    let told_ava = receiver.accepted("/slack/ava");
    assert_eq!(told_ava.len(), 1);
    let ava_link = ack_link(&told_ava[0]);
    let managers = receiver.accepted("/slack/managers");
    assert_eq!(managers.len(), 1);
    assert!(managers[0].json()["text"]
        .as_str()
        .unwrap()
        .starts_with("SLA missed: Alex did not acknowledge"));
    let crm = receiver.accepted("/hooks/crm");
    assert_eq!(crm.len(), 2, "the pool's webhook hears of the new owner");
    assert_eq!(crm[1].json()["previous_owner"]["id"], "alex");

    // Alex's old link no longer works (its page says why); Ava's does.
    h.clock.set("2026-11-24T15:20:00Z");
    let old_page = Request::get(alex_link.trim_start_matches(PUBLIC_URL))
        .body(Body::empty())
        .unwrap();
    let old_page = h.send(old_page).await;
    assert!(old_page
        .body
        .as_str()
        .unwrap()
        .contains("This lead was reassigned"));
    let late = follow(&h.router, &alex_link).await;
    assert_eq!(late.status, StatusCode::CONFLICT, "{:?}", late.body);
    assert_eq!(
        late.body["type"],
        "https://leadrouter.dev/problems/reassigned"
    );
    let ok = follow(&h.router, &ava_link).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let stored = get_lead(&h, &id).await;
    assert_eq!(stored["status"], "acknowledged");
    assert_eq!(stored["time_to_ack_seconds"], 20 * 60);
    assert_eq!(stored["owner_ack_seconds"], 4 * 60);

    // Open counts followed: Alex lost it, Ava acknowledged it.
    let reps = h.items().await;
    for rep in ["alex", "ava"] {
        let state = reps
            .iter()
            .find(|i| s(i, "pk") == format!("REP#{rep}") && s(i, "sk") == "STATE")
            .unwrap();
        assert_eq!(num(state, "open"), 0, "{rep}");
    }
    // Acknowledged: later sweeps leave it alone.
    h.clock.set("2026-11-24T16:00:00Z");
    assert_eq!(sweep(&h).await.reassigned, 0);
}

#[tokio::test]
async fn a_lead_acknowledged_in_time_is_left_alone() {
    let (h, receiver) = setup().await;
    let id = lead(&h, "jane@acme.com", "US").await;
    let link = ack_link(&receiver.accepted("/slack/alex")[0]);
    h.clock.set("2026-11-24T15:05:00Z");
    let reply = follow(&h.router, &link).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "acknowledged");
    // The same link again: already done, nothing changes.
    let again = follow(&h.router, &link).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["changed"], false);

    h.clock.set("2026-11-24T15:30:00Z");
    let report = sweep(&h).await;
    assert_eq!((report.reassigned, report.queued), (0, 0), "{report:?}");
    let stored = get_lead(&h, &id).await;
    assert_eq!(stored["status"], "acknowledged");
    assert_eq!(stored["assignment"]["owner"]["id"], "alex");
    assert_eq!(stored["time_to_ack_seconds"], 300);
    assert_eq!(history_events(&stored), ["assigned", "acknowledged"]);
    assert_eq!(receiver.accepted("/slack/managers").len(), 0);
}

#[tokio::test]
async fn acknowledging_needs_the_owners_link_or_an_admin_key() {
    let (h, receiver) = setup().await;
    let id = lead(&h, "jane@acme.com", "US").await;
    let link = ack_link(&receiver.accepted("/slack/alex")[0]);
    // No credentials, a forged token, a token for another lead.
    let bare = Request::post(format!("/leads/{id}/ack"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(bare).await.status, StatusCode::UNAUTHORIZED);
    let forged = link.replace("token=1.", "token=1.00");
    assert_eq!(
        follow(&h.router, &forged).await.status,
        StatusCode::UNAUTHORIZED
    );
    let other = lead(&h, "joe@acme.com", "US").await;
    let elsewhere = link.replace(&id, &other);
    assert_eq!(
        follow(&h.router, &elsewhere).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Opening the link shows a confirmation page and changes nothing.
    let page = Request::get(link.trim_start_matches(PUBLIC_URL))
        .body(Body::empty())
        .unwrap();
    let page = h.send(page).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body.as_str().unwrap();
    assert!(html.contains("<form method=\"post\""), "{html}");
    assert!(
        html.contains("Jane Doe at Acme"),
        "the page names the lead: {html}"
    );
    assert!(
        html.contains("/assets/style.css"),
        "dressed like the console"
    );
    assert_eq!(get_lead(&h, &id).await["status"], "open");
    // A forged link's page names nothing.
    let forged_page = Request::get(forged.trim_start_matches(PUBLIC_URL))
        .body(Body::empty())
        .unwrap();
    let forged_page = h.send(forged_page).await;
    assert_eq!(forged_page.status, StatusCode::NOT_FOUND);
    assert!(!forged_page.body.as_str().unwrap().contains("Jane"));
    // The page's form post acknowledges.
    let token = link.split("token=").nth(1).unwrap();
    let form = Request::post(format!("/leads/{id}/ack"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("token={token}")))
        .unwrap();
    assert_eq!(h.send(form).await.status, StatusCode::OK);
    assert_eq!(get_lead(&h, &id).await["status"], "acknowledged");
    // Opened again, the link says so instead of offering the button.
    let again = Request::get(link.trim_start_matches(PUBLIC_URL))
        .body(Body::empty())
        .unwrap();
    let again = h.send(again).await;
    let html = again.body.as_str().unwrap();
    assert!(html.contains("Already acknowledged"), "{html}");
    assert!(!html.contains("<form method=\"post\""), "{html}");
    // An admin may acknowledge any open lead.
    assert_eq!(h.lead_action(&other, "ack").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_field_rep_who_misses_the_deadline_falls_back_to_inside_sales_then_the_queue() {
    let (h, receiver) = setup().await;
    let id = lead(&h, "jane@acme.de", "DE").await;
    assert_eq!(receiver.accepted("/slack/fred").len(), 1);

    h.clock.set("2026-11-24T15:15:01Z");
    assert_eq!(sweep(&h).await.reassigned, 1);
    let stored = get_lead(&h, &id).await;
    assert_eq!(stored["assignment"]["owner"]["id"], "ivy");
    assert_eq!(
        stored["assignment"]["rule_id"], "field",
        "still explained by its rule"
    );
    assert_eq!(receiver.accepted("/slack/ivy").len(), 1);
    assert_eq!(receiver.accepted("/slack/fred").len(), 2, "Fred is told");

    // Ivy misses it too; one escalation was all the rule allows: the fallback queue.
    h.clock.set("2026-11-24T15:30:02Z");
    let report = sweep(&h).await;
    assert_eq!(report.queued, 1, "{report:?}");
    let stored = get_lead(&h, &id).await;
    assert_eq!(stored["status"], "queued");
    assert_eq!(stored["assignment"]["owner"]["id"], "unrouted");
    assert!(
        stored.get("sla_due_at").is_none(),
        "a queue has no deadline"
    );
    let reason = stored["history"][2]["reason"].as_str().unwrap();
    assert!(
        reason.contains("it was already escalated 1 time (the most rule 'field' allows)"),
        "{reason}"
    );
    let managers = receiver.accepted("/slack/managers");
    assert_eq!(managers.len(), 3, "two breaches and the queued lead");
    let texts: Vec<String> = managers
        .iter()
        .map(|m| m.json()["text"].as_str().unwrap().to_string())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("New lead in queue Unrouted: Jane Doe at Acme")),
        "{texts:?}"
    );
    assert_eq!(receiver.accepted("/slack/ivy").len(), 2, "Ivy is told");
    h.clock.set("2026-11-24T17:00:00Z");
    let idle = sweep(&h).await;
    assert_eq!(
        idle,
        SweepReport {
            pages: 8,
            budget_seconds: idle.budget_seconds,
            ..SweepReport::default()
        }
    );
}

/// Leads whose deadline passed: `count` of them, each assigned in the 4-rep pool.
async fn due_leads(count: usize) -> (Harness, Receiver) {
    let (receiver, base) = Receiver::start().await;
    let (_, tag) = config(&base);
    let config = format!(
        r#"
channels:
  - {{id: managers, type: slack, url: {{env: {tag}_MANAGERS}}}}
reps:
  - {{id: a, name: A}}
  - {{id: b, name: B}}
  - {{id: c, name: C}}
  - {{id: d, name: D}}
pools:
  - {{id: team, reps: [a, b, c, d], sla: {{minutes: 10, alert: [managers]}}}}
rules:
  - {{id: default, route: {{pool: team}}}}
"#
    );
    let h = Harness::with_config(&config).await;
    h.clock.set("2026-11-24T15:00:00Z");
    let replies = common::flood(&h.router, count, 32, "due").await;
    assert!(replies.iter().all(|r| r.status == StatusCode::CREATED));
    h.clock.set("2026-11-24T15:11:00Z");
    (h, receiver)
}

/// Every lead item, with rep open counts checked against the leads they own.
async fn check_books(
    h: &Harness,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let items = h.items().await;
    let leads: Vec<_> = items.iter().filter(|i| is_lead(i)).cloned().collect();
    for rep in ["a", "b", "c", "d"] {
        let open = leads
            .iter()
            .filter(|l| s(l, "owner_id") == rep && s(l, "status") == "open")
            .count() as i64;
        let state = items
            .iter()
            .find(|i| s(i, "pk") == format!("REP#{rep}") && s(i, "sk") == "STATE")
            .unwrap();
        assert_eq!(num(state, "open"), open, "rep {rep}'s open count");
    }
    leads
}

#[tokio::test]
async fn two_sweeps_at_once_over_200_due_leads_escalate_each_exactly_once() {
    let (h, receiver) = due_leads(200).await;
    let started = Instant::now();
    let (one, two) = tokio::join!(sweep(&h), sweep(&h));
    eprintln!("two sweeps over 200 due leads: {:?}", started.elapsed());
    assert_eq!(one.errors + two.errors, 0);
    assert_eq!(one.reassigned + two.reassigned, 200, "{one:?} {two:?}");
    let leads = check_books(&h).await;
    assert_eq!(leads.len(), 200);
    for lead in &leads {
        assert_eq!(assignment_no(lead), 2, "escalated once");
        assert_eq!(num(lead, "escalations"), 1);
    }
    let events = h
        .items()
        .await
        .into_iter()
        .filter(|i| s(i, "sk").starts_with("EVENT#") && s(i, "event") == "reassigned")
        .count();
    assert_eq!(events, 200, "one reassignment in each lead's history");
    let alerts = receiver.accepted("/slack/managers");
    let mut alerted: Vec<String> = alerts
        .iter()
        .map(|a| {
            a.json()["blocks"][0]["text"]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(alerted.len(), 200, "one alert per breach");
    alerted.dedup();
    // Running again at the same time finds nothing due (each new owner has a fresh deadline).
    assert_eq!(sweep(&h).await.reassigned, 0);
}

#[tokio::test]
async fn an_acknowledgement_racing_a_sweep_is_never_overridden() {
    let (h, _receiver) = due_leads(200).await;
    let ids: Vec<String> = check_books(&h).await.iter().map(lead_id_of).collect();
    let acks = ids.iter().map(|id| {
        let token = leadrouter::domain::notify::ack_token(common::ACK_KEY, id, 1);
        let router = h.router.clone();
        let id = id.clone();
        async move {
            // A 503 (DynamoDB Local swamped by the whole suite) says the outcome is unknown
            // and repeating is safe, so the client repeats, as a rep's browser would.
            for _ in 0..10 {
                let request = Request::post(format!("/leads/{id}/ack?token={token}"))
                    .body(Body::empty())
                    .unwrap();
                let status = send_to(&router, request).await.status;
                if status != StatusCode::SERVICE_UNAVAILABLE {
                    return (id, status);
                }
            }
            (id, StatusCode::SERVICE_UNAVAILABLE)
        }
    });
    let (answers, first) = tokio::join!(futures::future::join_all(acks), sweep(&h));
    // A sweep that met a timeout leaves what it could not do to the next one.
    let reassigned = first.reassigned + sweep(&h).await.reassigned;
    let leads = check_books(&h).await;
    let mut acknowledged = 0;
    for (id, status) in answers {
        let lead = leads.iter().find(|l| lead_id_of(l) == id).unwrap();
        match status {
            StatusCode::OK => {
                acknowledged += 1;
                assert_eq!(s(lead, "status"), "acknowledged", "{id}");
                assert_eq!(assignment_no(lead), 1, "acknowledged, never reassigned");
            }
            StatusCode::CONFLICT => {
                assert_eq!(s(lead, "status"), "open", "{id}");
                assert_eq!(assignment_no(lead), 2, "reassigned first");
            }
            other => panic!("unexpected answer {other}"),
        }
    }
    assert_eq!(acknowledged + reassigned as usize, 200, "{first:?}");
    let history = h.items().await;
    for lead in &leads {
        let pk = s(lead, "pk");
        // The first entry lives on the lead until a reassignment writes it out.
        let mut events: Vec<String> = history
            .iter()
            .filter(|i| s(i, "pk") == pk && s(i, "sk") == "LEAD" && i.contains_key("first_event"))
            .map(|i| s(i, "first_event"))
            .collect();
        events.extend(
            history
                .iter()
                .filter(|i| s(i, "pk") == pk && s(i, "sk").starts_with("EVENT#"))
                .map(|i| s(i, "event")),
        );
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0], "assigned", "{events:?}");
        assert!(
            !(events.contains(&"acknowledged".into()) && events.contains(&"reassigned".into()))
        );
    }
}

#[tokio::test]
async fn a_sweep_out_of_time_stops_before_touching_anything_and_the_next_one_finishes() {
    let (h, _receiver) = due_leads(60).await;
    let report = h.app.sweep(Instant::now()).await.unwrap();
    assert!(report.stopped_early);
    assert_eq!(report.reassigned, 0);
    // Pages of 25 per shard: 60 leads over 4 shards need more than one page somewhere only
    // if a shard has more than 25; either way the next sweep finishes the work.
    let report = sweep(&h).await;
    assert_eq!(report.reassigned, 60, "{report:?}");
    assert!(!report.stopped_early);
}

#[tokio::test]
async fn the_due_index_pages_through_everything_exactly_once() {
    use leadrouter::store::{DueKind, SweepStore};
    let (h, _receiver) = due_leads(120).await;
    let now = h.app.now().as_second();
    let mut seen = Vec::new();
    let mut pages = 0;
    for shard in 0..leadrouter::store::DUE_SHARDS {
        let mut cursor: Option<String> = None;
        loop {
            let page = h
                .store
                .due(DueKind::Sla, shard, now, cursor.as_deref(), 7)
                .await
                .unwrap();
            pages += 1;
            seen.extend(page.items.into_iter().map(|i| i.lead_id));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    assert!(pages >= 120 / 7, "{pages} pages");
    let count = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!((count, seen.len()), (120, 120));
    // Nothing is due before the deadline.
    let early = h
        .store
        .due(DueKind::Sla, 0, now - 120, None, 100)
        .await
        .unwrap();
    assert!(early.items.is_empty());
}

#[tokio::test]
async fn the_scheduled_event_runs_one_sweep_within_the_invocations_time() {
    let (h, _receiver) = due_leads(5).await;
    let path = format!("{}/events/scheduled.json", env!("CARGO_MANIFEST_DIR"));
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(event["detail-type"], "Scheduled Event");
    let deadline_ms = (jiff::Timestamp::now().as_millisecond() + 60_000) as u64;
    let report = leadrouter::app::sweep::scheduled(&h.app, deadline_ms)
        .await
        .unwrap();
    assert_eq!(report.reassigned, 5);
    assert_eq!(report.budget_note, None);
    // An invocation already inside its safety margin does nothing.
    let deadline_ms = (jiff::Timestamp::now().as_millisecond() + 5_000) as u64;
    let report = leadrouter::app::sweep::scheduled(&h.app, deadline_ms)
        .await
        .unwrap();
    assert!(report.stopped_early);
}

#[tokio::test]
async fn a_sweep_handed_a_deadline_in_the_past_warns_and_sweeps_with_a_bounded_budget() {
    let (h, _receiver) = due_leads(3).await;
    // cargo-lambda's emulator hands a relative deadline (60 s), which reads as 1970.
    let report = leadrouter::app::sweep::scheduled(&h.app, 60_000)
        .await
        .unwrap();
    assert_eq!(report.reassigned, 3, "it swept: {report:?}");
    assert!(!report.stopped_early);
    assert_eq!(
        report.budget_seconds,
        leadrouter::app::sweep::DEFAULT_BUDGET.as_secs(),
        "{report:?}"
    );
    let note = report.budget_note.expect("the report says why");
    assert!(
        note.contains("in the past") && note.contains("default 40 s"),
        "{note}"
    );
}

#[tokio::test]
async fn a_teams_card_arrives_with_the_reason_and_links_and_is_retried_while_teams_is_down() {
    let (receiver, base) = Receiver::start().await;
    let tag = format!("LR_TEST_{}", uuid::Uuid::new_v4().simple());
    std::env::set_var(format!("{tag}_TEAMS"), format!("{base}/teams/sales"));
    let config = format!(
        r#"
channels:
  - {{id: sales-teams, type: teams, url: {{env: {tag}_TEAMS}}}}
reps:
  - {{id: alex, name: Alex, notify: [sales-teams]}}
pools:
  - {{id: smb, reps: [alex], sla: {{minutes: 15}}}}
rules:
  - {{id: default, route: {{pool: smb}}}}
"#
    );
    let h = Harness::with_config(&config).await;
    h.clock.set("2026-11-24T15:00:00Z");
    receiver.set_down(true);
    let id = lead(&h, "jane@acme.com", "US").await;
    assert_eq!(receiver.attempts("/teams/sales"), 1, "tried at once");
    assert!(receiver.accepted("/teams/sales").is_empty());
    receiver.set_down(false);
    h.clock.set("2026-11-24T15:00:31Z");
    sweep(&h).await;
    let cards = receiver.accepted("/teams/sales");
    assert_eq!(cards.len(), 1, "delivered once on the retry");
    let body = cards[0].json();
    assert_eq!(body["type"], "message");
    let card = &body["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let content = &card["content"];
    assert_eq!(content["type"], "AdaptiveCard");
    assert_eq!(
        content["body"][0]["text"],
        "New lead for Alex: Jane Doe at Acme"
    );
    let facts = content["body"][1]["facts"].as_array().unwrap();
    let fact = |name: &str| {
        facts
            .iter()
            .find(|f| f["title"] == name)
            .map(|f| f["value"].as_str().unwrap().to_string())
    };
    assert_eq!(fact("Company").as_deref(), Some("Acme"));
    assert!(fact("Why").unwrap().contains("pool 'smb'"), "{facts:?}");
    assert_eq!(
        fact("Acknowledge by").as_deref(),
        Some("2026-11-24T15:15:00Z")
    );
    let ack = content["actions"][0]["url"].as_str().unwrap().to_string();
    assert_eq!(content["actions"][0]["title"], "Acknowledge");
    assert!(ack.contains(&format!("/leads/{id}/ack?token=1.")), "{ack}");
    let titles: Vec<&str> = content["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Acknowledge",
            "Hand back",
            "I'm away until…",
            "I'm back",
            "My open leads"
        ]
    );
    // The card's link acknowledges.
    let reply = follow(&h.router, &ack).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(get_lead(&h, &id).await["status"], "acknowledged");
}

/// Posts an activity with `key` (a bearer key) at the harness's current time.
async fn activity(router: &Router, id: &str, key: &str, body: Value) -> Reply {
    let request = Request::post(format!("/leads/{id}/activity"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send_to(router, request).await
}

#[tokio::test]
async fn an_activity_before_the_deadline_stops_the_sla_and_one_after_it_leaves_the_breach() {
    let (h, _receiver) = setup().await;
    let early = lead(&h, "jane@acme.com", "US").await;
    let late = lead(&h, "joe@acme.com", "US").await;
    // The CRM logs a call at 15:05 for the first, before its 15:15 deadline.
    h.clock.set("2026-11-24T15:06:00Z");
    let reply = activity(
        &h.router,
        &early,
        common::INTEGRATION_KEY,
        json!({"type": "call", "at": "2026-11-24T15:05:00Z", "note": "left a voicemail"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["clock_stopped"], true);
    assert_eq!(reply.body["sla"], "met");
    let stored = get_lead(&h, &early).await;
    assert_eq!(stored["status"], "acknowledged");
    assert_eq!(
        stored["time_to_ack_seconds"], 300,
        "measured at the call's time"
    );
    assert_eq!(history_events(&stored), ["assigned", "activity"]);
    let entry = stored["history"][1]["reason"].as_str().unwrap();
    assert!(
        entry.contains("call reported by test-crm: left a voicemail"),
        "{entry}"
    );
    // A second touch is recorded and changes nothing else.
    let again = activity(
        &h.router,
        &early,
        common::INTEGRATION_KEY,
        json!({"type": "email"}),
    )
    .await;
    assert_eq!(again.body["clock_stopped"], false);
    assert_eq!(history_events(&get_lead(&h, &early).await).len(), 3);

    // The second is touched only at 15:20, after its deadline: recorded, the breach stands.
    h.clock.set("2026-11-24T15:20:00Z");
    let reply = activity(
        &h.router,
        &late,
        common::INTEGRATION_KEY,
        json!({"type": "meeting"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["sla"], "breached");
    let stored = get_lead(&h, &late).await;
    assert_eq!(stored["sla_state"], "breached");
    assert_eq!(stored["time_to_ack_seconds"], 1200);
    // Neither is swept: both are being worked.
    h.clock.set("2026-11-24T15:40:00Z");
    assert_eq!(sweep(&h).await.reassigned, 0);

    // The report counts them so, and speed to lead is the first activity.
    let report = day_report(&h).await;
    let overall = &report["overall"];
    assert_eq!(overall["sla"]["met"], 1, "{overall}");
    assert_eq!(overall["sla"]["breached"], 1, "{overall}");
    let touch = &overall["speed_to_lead"]["to_first_touch_seconds"];
    assert_eq!(touch["count"], 2, "{touch}");
    assert_eq!(touch["p90"], 1200, "{touch}");

    // Refusals: no key, a viewer key, an unknown type, a time in the future, no such lead.
    let bare = Request::post(format!("/leads/{early}/activity"))
        .body(Body::from(r#"{"type":"call"}"#))
        .unwrap();
    assert_eq!(h.send(bare).await.status, StatusCode::UNAUTHORIZED);
    let viewer = activity(
        &h.router,
        &early,
        common::VIEWER_KEY,
        json!({"type": "call"}),
    )
    .await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
    let odd = activity(
        &h.router,
        &early,
        common::INTEGRATION_KEY,
        json!({"type": "fax"}),
    )
    .await;
    assert_eq!(
        (odd.status, odd.body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("type"))
    );
    let future = activity(
        &h.router,
        &early,
        common::INTEGRATION_KEY,
        json!({"type": "call", "at": "2026-11-25T00:00:00Z"}),
    )
    .await;
    assert_eq!(future.body["field"], "at");
    let nobody = activity(
        &h.router,
        "0190c6c4-0000-7000-8000-000000000000",
        common::INTEGRATION_KEY,
        json!({"type": "call"}),
    )
    .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_signed_activity_webhook_is_accepted_and_a_bad_or_stale_signature_is_not() {
    use leadrouter::domain::notify::{signature, Setting};
    let (h, _receiver) = setup().await;
    let id = lead(&h, "jane@acme.com", "US").await;
    let app = leadrouter::app::App::new(
        std::sync::Arc::new(h.store.clone()),
        h.clock.clone(),
        Duration::ZERO,
        common::notifier(),
    )
    .with_activity_secret(Setting::Plain("crm-activity-secret".into()));
    let router = leadrouter::http::router(std::sync::Arc::new(app));
    let body = r#"{"type":"status_change","note":"Working"}"#;
    let now = h.app.now().as_second();
    let send = |secret: &str, at: i64| {
        let request = Request::post(format!("/leads/{id}/activity"))
            .header("x-leadrouter-timestamp", at.to_string())
            .header("x-leadrouter-signature", signature(secret, at, body))
            .body(Body::from(body))
            .unwrap();
        send_to(&router, request)
    };
    assert_eq!(send("wrong", now).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        send("crm-activity-secret", now - 600).await.status,
        StatusCode::UNAUTHORIZED,
        "a replay"
    );
    // The harness's own app has no secret: signed requests are not accepted there.
    let request = Request::post(format!("/leads/{id}/activity"))
        .header("x-leadrouter-timestamp", now.to_string())
        .header(
            "x-leadrouter-signature",
            signature("crm-activity-secret", now, body),
        )
        .body(Body::from(body))
        .unwrap();
    assert_eq!(h.send(request).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(get_lead(&h, &id).await["status"], "open", "nothing changed");
    let ok = send("crm-activity-secret", now).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    assert_eq!(ok.body["clock_stopped"], true);
    let stored = get_lead(&h, &id).await;
    assert!(stored["history"][1]["reason"]
        .as_str()
        .unwrap()
        .starts_with("status_change reported by signed webhook: Working"));
}

#[tokio::test]
async fn a_rep_hands_a_lead_back_from_the_notification_and_it_goes_to_the_next_rep() {
    let (h, receiver) = setup().await;
    let id = lead(&h, "jane@acme.com", "US").await;
    let told = receiver.accepted("/slack/alex");
    let buttons = told[0].json()["blocks"][2]["elements"].clone();
    assert_eq!(buttons[1]["text"]["text"], "Hand back");
    let link = buttons[1]["url"].as_str().unwrap().to_string();
    assert!(
        link.contains(&format!("/leads/{id}/hand-back?token=1.")),
        "{link}"
    );
    // Opening it shows the lead and changes nothing.
    let page = Request::get(link.trim_start_matches(PUBLIC_URL))
        .body(Body::empty())
        .unwrap();
    let page = h.send(page).await;
    let html = page.body.as_str().unwrap();
    assert!(
        html.contains("Hand this lead back?") && html.contains("Jane Doe at Acme"),
        "{html}"
    );
    assert_eq!(get_lead(&h, &id).await["assignment"]["owner"]["id"], "alex");

    let token = link.split("token=").nth(1).unwrap().to_string();
    let hand_back = |token: String| {
        let request = Request::post(format!("/leads/{id}/hand-back"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "token={token}&reason=On+leave+tomorrow"
            )))
            .unwrap();
        h.send(request)
    };
    let reply = hand_back(token.clone()).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert!(reply
        .body
        .as_str()
        .unwrap()
        .contains("It now belongs to <strong>Ava</strong>"));
    let stored = get_lead(&h, &id).await;
    assert_eq!(stored["assignment"]["owner"]["id"], "ava");
    assert_eq!(stored["owners"], json!(["alex", "ava"]));
    let reason = stored["history"][1]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("Reassigned by Alex (handed back): On leave tomorrow."),
        "{reason}"
    );
    assert_eq!(
        receiver.accepted("/slack/ava").len(),
        1,
        "the next owner hears"
    );
    // Open counts followed the lead.
    let items = h.items().await;
    let open = |rep: &str| {
        let state = items
            .iter()
            .find(|i| s(i, "pk") == format!("REP#{rep}") && s(i, "sk") == "STATE")
            .unwrap();
        num(state, "open")
    };
    assert_eq!((open("alex"), open("ava")), (0, 1));
    // The same link again: no longer Alex's to hand back.
    let again = hand_back(token).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(get_lead(&h, &id).await["assignment"]["owner"]["id"], "ava");
    // Ava hands it back too: never back to her.
    let ava_link = receiver.accepted("/slack/ava")[0].json()["blocks"][2]["elements"][1]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let ava_token = ava_link.split("token=").nth(1).unwrap().to_string();
    let reply = hand_back(ava_token).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let owner = get_lead(&h, &id).await["assignment"]["owner"].clone();
    assert_ne!(owner["id"], "ava", "{owner}");
}

#[tokio::test]
async fn an_email_arrives_at_the_ses_emulator_with_both_bodies_and_a_working_link_after_a_retry() {
    use leadrouter::delivery::EmailSettings;
    let mut ses = common::ses::Ses::not_started();
    let config = r#"
channels:
  - {id: alex-mail, type: email, to: [alex@example.com]}
reps:
  - {id: alex, name: Alex, notify: [alex-mail]}
pools:
  - {id: smb, reps: [alex], sla: {minutes: 15}}
rules:
  - {id: default, route: {pool: smb}}
"#;
    let h = Harness::with_config(config).await;
    h.clock.set("2026-11-24T15:00:00Z");
    let app = std::sync::Arc::new(leadrouter::app::App::new(
        std::sync::Arc::new(h.store.clone()),
        h.clock.clone(),
        Duration::ZERO,
        common::notifier().with_email(EmailSettings {
            from: "leads@example.com".into(),
            endpoint: Some(ses.url.clone()),
        }),
    ));
    let router = leadrouter::http::router(app.clone());
    let request = Request::post("/leads")
        .header("content-type", "application/json")
        .header("x-source-key", common::SOURCE_KEY)
        .body(Body::from(
            json!({"email": "jane@acme.com", "first_name": "Jane", "last_name": "Doe", "company": "Acme <&> Co", "country": "US"}).to_string(),
        ))
        .unwrap();
    let reply = send_to(&router, request).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    let id = reply.body["lead_id"].as_str().unwrap().to_string();
    // SES is not there yet: the attempt failed and waits for a retry, like any notification.
    let stored = get_lead(&h, &id).await;
    let note = &stored["notifications"][0];
    assert_eq!(note["status"], "pending", "{note}");
    assert_eq!(note["last_error"], "could not reach SES");

    ses.start().await;
    h.clock.set("2026-11-24T15:00:31Z");
    let report = app
        .sweep(Instant::now() + Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(report.notifications.delivered, 1, "{report:?}");
    let emails = ses.emails().await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    let mail = &emails[0];
    assert_eq!(mail["from"], "leads@example.com");
    assert_eq!(mail["destination"]["to"], json!(["alex@example.com"]));
    assert_eq!(
        mail["subject"],
        "New lead for Alex: Jane Doe at Acme <&> Co"
    );
    let text = mail["body"]["text"].as_str().unwrap();
    let html = mail["body"]["html"].as_str().unwrap();
    assert!(
        text.contains("Why: ") && text.contains("pool 'smb'"),
        "{text}"
    );
    assert!(
        text.contains("Acknowledge by: 2026-11-24T15:15:00Z"),
        "{text}"
    );
    assert!(
        html.contains("Acme &lt;&amp;&gt; Co"),
        "escaped in HTML: {html}"
    );
    assert!(
        html.contains("Why") && html.contains("2026-11-24T15:15:00Z"),
        "{html}"
    );
    let link = text
        .lines()
        .find_map(|l| l.strip_prefix("Acknowledge: "))
        .expect("an acknowledge link")
        .to_string();
    assert!(
        html.contains(&format!("href=\"{link}\"")),
        "the same link in HTML"
    );
    assert_eq!(
        get_lead(&h, &id).await["notifications"][0]["status"],
        "delivered"
    );
    let reply = follow(&router, &link).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(get_lead(&h, &id).await["status"], "acknowledged");
}

/// The SMB pool with reminders at half time and 10 minutes before a 30-minute deadline, then
/// steps: remind the owner at the deadline, alert the managers 10 minutes later, reassign
/// after 20.
async fn stepped() -> (Harness, Receiver) {
    let (receiver, base) = Receiver::start().await;
    let (config, _) = config(&base);
    let config = config.replace(
        "sla: {minutes: 15, alert: [managers]}",
        r#"sla: {minutes: 30, reminders: ["50%", 10], steps: [{remind: owner}, {after: 10, alert: [managers]}, {after: 20, reassign: true}]}"#,
    );
    assert!(config.contains("reminders"), "the pool's SLA was replaced");
    let h = Harness::with_config(&config).await;
    h.clock.set("2026-11-24T15:00:00Z");
    (h, receiver)
}

/// The routing report for 2026-11-24 (UTC), as an admin reads it.
async fn day_report(h: &Harness) -> Value {
    h.get(
        "/admin/report?from=2026-11-24T00:00:00Z&to=2026-11-25T00:00:00Z",
        common::ADMIN_KEY,
    )
    .await
    .body
}

/// Two sweeps at once at `at`: what they did together.
async fn sweeps_at(h: &Harness, at: &str) -> SweepReport {
    h.clock.set(at);
    let (a, b) = tokio::join!(sweep(h), sweep(h));
    SweepReport {
        reminded: a.reminded + b.reminded,
        alerted: a.alerted + b.alerted,
        reassigned: a.reassigned + b.reassigned,
        queued: a.queued + b.queued,
        errors: a.errors + b.errors,
        ..SweepReport::default()
    }
}

fn did(report: &SweepReport) -> (u64, u64, u64, u64) {
    assert_eq!(report.errors, 0, "{report:?}");
    (
        report.reminded,
        report.alerted,
        report.reassigned,
        report.queued,
    )
}

#[tokio::test]
async fn reminders_and_each_escalation_step_fire_once_in_order() {
    let (h, receiver) = stepped().await;
    let id = lead(&h, "jane@acme.com", "US").await;
    let stored = get_lead(&h, &id).await;
    assert_eq!(stored["sla_due_at"], "2026-11-24T15:30:00Z");

    // Each moment the clock reaches, two sweepers at once take exactly the step due.
    let timeline = [
        ("2026-11-24T15:14:59Z", (0, 0, 0, 0)),
        ("2026-11-24T15:15:00Z", (1, 0, 0, 0)), // half time
        ("2026-11-24T15:16:00Z", (0, 0, 0, 0)),
        ("2026-11-24T15:20:00Z", (1, 0, 0, 0)), // 10 minutes before
        ("2026-11-24T15:29:00Z", (0, 0, 0, 0)),
        ("2026-11-24T15:30:00Z", (1, 0, 0, 0)), // at the deadline: overdue
        ("2026-11-24T15:39:59Z", (0, 0, 0, 0)),
        ("2026-11-24T15:40:00Z", (0, 1, 0, 0)), // the managers
        ("2026-11-24T15:45:00Z", (0, 0, 0, 0)),
        ("2026-11-24T15:50:00Z", (0, 0, 1, 0)), // reassigned
        ("2026-11-24T15:51:00Z", (0, 0, 0, 0)),
    ];
    for (at, expected) in timeline {
        assert_eq!(did(&sweeps_at(&h, at).await), expected, "at {at}");
    }

    let alex: Vec<String> = receiver
        .accepted("/slack/alex")
        .iter()
        .map(|m| m.json()["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(alex.len(), 5, "{alex:#?}");
    assert!(alex[0].starts_with("New lead for Alex"), "{alex:#?}");
    assert!(
        alex[1].starts_with("Reminder: acknowledge Jane Doe at Acme by 2026-11-24T15:30:00Z"),
        "{alex:#?}"
    );
    assert!(alex[2].starts_with("Reminder: acknowledge"), "{alex:#?}");
    assert!(
        alex[3].starts_with("Overdue: Jane Doe at Acme was due at 2026-11-24T15:30:00Z"),
        "{alex:#?}"
    );
    assert!(alex[4].contains("was reassigned to Ava"), "{alex:#?}");
    // A reminder carries the acknowledge link of the assignment it is about.
    let reminder = &receiver.accepted("/slack/alex")[1];
    assert!(ack_link(reminder).contains(&format!("/leads/{id}/ack?token=1.")));
    let managers = receiver.accepted("/slack/managers");
    assert_eq!(managers.len(), 1, "one alert");
    let alert = managers[0].json()["text"].as_str().unwrap().to_string();
    assert!(
        alert.starts_with("SLA missed: Alex did not acknowledge Jane Doe at Acme"),
        "{alert}"
    );
    assert_eq!(receiver.accepted("/slack/ava").len(), 1, "Ava got it");

    let stored = get_lead(&h, &id).await;
    assert_eq!(
        history_events(&stored),
        [
            "assigned",
            "reminded",
            "reminded",
            "reminded",
            "alerted",
            "reassigned"
        ]
    );
    let reasons: Vec<&str> = stored["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons[1],
        "Alex reminded: acknowledge by 2026-11-24T15:30:00Z, pool 'smb'"
    );
    assert_eq!(
        reasons[3],
        "Alex reminded: 0 minutes overdue (due 2026-11-24T15:30:00Z), pool 'smb'"
    );
    assert_eq!(
        reasons[4],
        "managers alerted: Alex has not acknowledged, 10 minutes overdue (due 2026-11-24T15:30:00Z), pool 'smb'"
    );
    assert_eq!(stored["assignment"]["owner"]["id"], "ava");
    // Ava's own schedule starts over: 30 minutes, her first reminder at half time.
    assert_eq!(stored["sla_due_at"], "2026-11-24T16:20:00Z");
    assert_eq!(stored["sla_state"], "breached");
    assert_eq!(
        did(&sweeps_at(&h, "2026-11-24T16:05:00Z").await),
        (1, 0, 0, 0)
    );

    // The report counts the steps: three reminders and an alert on Alex's stint, one on Ava's.
    let report = day_report(&h).await;
    let sla = &report["overall"]["sla"];
    assert_eq!(
        (
            &sla["reminders"],
            &sla["alerts"],
            &sla["met_after_reminder"]
        ),
        (&json!(4), &json!(1), &json!(0)),
        "{sla}"
    );
    assert_eq!(report["by_rep"]["alex"]["sla"]["reminders"], 3, "{report}");
    assert_eq!(report["by_rep"]["ava"]["sla"]["reminders"], 1, "{report}");
}

#[tokio::test]
async fn a_late_sweep_skips_reminders_a_later_step_overtook_and_a_reminded_owner_who_acks_counts() {
    let (h, receiver) = stepped().await;
    let late = lead(&h, "jane@acme.com", "US").await;
    let heeded = lead(&h, "joe@acme.com", "US").await;
    // The sweeper was down until 15:21: the half-time reminders are overtaken by the
    // 10-minutes-before ones, which go out once each.
    assert_eq!(
        did(&sweeps_at(&h, "2026-11-24T15:21:00Z").await),
        (2, 0, 0, 0)
    );
    let stored = get_lead(&h, &late).await;
    assert_eq!(history_events(&stored), ["assigned", "reminded"]);
    let reason = stored["history"][1]["reason"].as_str().unwrap();
    assert!(
        reason.ends_with(
            "; 1 earlier reminder passed over (the sweep came after a later step was due)"
        ),
        "{reason}"
    );
    // The second lead's owner acknowledges from the reminder itself.
    let owner = get_lead(&h, &heeded).await["assignment"]["owner"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let reminder = receiver
        .accepted(&format!("/slack/{owner}"))
        .into_iter()
        .rev()
        .find(|m| m.json()["text"].as_str().unwrap().starts_with("Reminder:"))
        .expect("a reminder");
    assert_eq!(
        follow(&h.router, &ack_link(&reminder)).await.status,
        StatusCode::OK
    );
    // Past every step: only the unacknowledged lead goes on (overdue reminder).
    assert_eq!(
        did(&sweeps_at(&h, "2026-11-24T15:31:00Z").await),
        (1, 0, 0, 0)
    );
    let report = day_report(&h).await;
    let sla = &report["overall"]["sla"];
    assert_eq!(sla["met_after_reminder"], 1, "{sla}");
    assert_eq!(
        (&sla["met"], &sla["breached"]),
        (&json!(1), &json!(1)),
        "{sla}"
    );
}

//! The routing report and the fairness ledger against a day computed by hand: three reps in
//! two pools, leads acknowledged in time, one breached and reassigned, one breached but not
//! yet swept, one still running, queued leads, a spam catch, a rep out of office for two hours,
//! another at her daily cap, a notification that needed a retry, and outcomes. Every number
//! the test asserts is worked out in the comments from the scenario itself.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::receiver::Receiver;
use common::{json_lead_with_key, Harness, ADMIN_KEY, INTEGRATION_KEY, SOURCE_KEY, VIEWER_KEY};
use leadrouter::domain::access::Role;

const CHAT_KEY: &str = "lrs_test_chat_key";

/// Ann works 09:00-13:00 UTC on weekdays; Bob always, but is out of office 12:00-14:00 UTC on
/// Tuesday 2026-11-24; Cat always, at most 2 pool leads a day. Sales rotates Ann and Bob with
/// a 10-minute SLA (one reassignment, then the fallback queue); support is Cat alone.
fn config(crm: &str, secret_var: &str) -> String {
    format!(
        r#"
fallback_queue: unrouted
channels:
  - {{id: crm, type: webhook, url: "{crm}", secret: {{env: {secret_var}}}}}
reps:
  - {{id: ann, name: Ann, working_hours: {{mon-fri: "09:00-13:00"}}}}
  - {{id: bob, name: Bob, out_of_office: [{{from: "2026-11-24T12:00", to: "2026-11-24T14:00"}}]}}
  - {{id: cat, name: Cat, caps: {{per_day: 2}}}}
pools:
  - {{id: sales, name: Sales, reps: [ann, bob], notify: [crm], sla: {{minutes: 10, on_breach: reassign, max_escalations: 1}}}}
  - {{id: support, name: Support, reps: [cat]}}
queues:
  - {{id: nurture, name: Nurture}}
  - {{id: unrouted, name: Unrouted}}
rules:
  - {{id: free, when: {{free_mail: true}}, route: {{queue: nurture}}}}
  - {{id: support, when: {{product: support}}, route: {{pool: support}}}}
  - {{id: default, route: {{pool: sales}}}}
"#
    )
}

struct Day {
    h: Harness,
    receiver: Receiver,
    ids: Vec<String>,
}

impl Day {
    /// Posts a lead at `at` from `key`; checks who got it; returns its id.
    async fn lead(&mut self, at: &str, key: &str, lead: Value, owner: &str) -> String {
        self.h.clock.set(at);
        let reply = self.h.send(json_lead_with_key(lead, key)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        assert_eq!(reply.owner(), owner, "{at}: {:?}", reply.body["reason"]);
        let id = reply.body["lead_id"].as_str().unwrap().to_string();
        self.ids.push(id.clone());
        id
    }

    async fn ack(&self, at: &str, id: &str) {
        self.h.clock.set(at);
        let reply = self.h.lead_action(id, "ack").await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }

    async fn sweep(&self, at: &str) {
        self.h.clock.set(at);
        self.h
            .app
            .sweep(Instant::now() + Duration::from_secs(30))
            .await
            .expect("sweep");
    }

    async fn outcome(&self, id: &str, body: Value) {
        let reply = self
            .h
            .call(
                "POST",
                &format!("/leads/{id}/outcome"),
                Some(INTEGRATION_KEY),
                Some(("application/json", body.to_string())),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }
}

/// The day, lead by lead (times UTC, Tuesday 2026-11-24). Sales tickets: L1 1, L2 2, L2's
/// reassignment 3, L9 4, L3 5, L10 6.
async fn seeded_day() -> Day {
    let (receiver, base) = Receiver::start().await;
    let secret_var = format!("LR_TEST_{}", uuid::Uuid::new_v4().simple());
    std::env::set_var(&secret_var, "report-test-secret");
    let config = config(&format!("{base}/hooks/crm"), &secret_var);
    let h = Harness::with_config_at(&config, "2026-11-23T09:00:00Z").await;
    common::install_key(&h.store, CHAT_KEY, Role::Source, "chat").await;
    let mut d = Day {
        h,
        receiver,
        ids: Vec::new(),
    };
    let form = SOURCE_KEY;
    // L1 10:00, ticket 1, slot 0: Ann. Acknowledged at 10:03 (3 minutes, in time).
    let l1 = d
        .lead(
            "2026-11-24T10:00:00Z",
            form,
            json!({"email": "al@acme.com", "company": "Acme"}),
            "ann",
        )
        .await;
    d.ack("2026-11-24T10:03:00Z", &l1).await;
    // L2 10:10, ticket 2: Bob, due 10:20. Not acknowledged: at 10:21 the sweeper takes it from
    // him (ticket 3, Bob excluded) to Ann, due 10:31; she acknowledges at 10:25.
    let l2 = d
        .lead(
            "2026-11-24T10:10:00Z",
            CHAT_KEY,
            json!({"email": "bo@beta.com"}),
            "bob",
        )
        .await;
    d.sweep("2026-11-24T10:21:00Z").await;
    d.ack("2026-11-24T10:25:00Z", &l2).await;
    // L9 11:00, ticket 4, slot 3: Bob. The CRM is down: delivered by the sweep at 11:05 on the
    // second attempt. Bob acknowledges at 11:06.
    d.receiver.set_down(true);
    let l9 = d
        .lead(
            "2026-11-24T11:00:00Z",
            CHAT_KEY,
            json!({"email": "fay@epsilon.com"}),
            "bob",
        )
        .await;
    d.receiver.set_down(false);
    d.sweep("2026-11-24T11:05:00Z").await;
    d.ack("2026-11-24T11:06:00Z", &l9).await;
    // L3 12:30, ticket 5: Bob is out of office, so Ann alone. Due 12:40; nobody acknowledges
    // and no sweep runs again: breached, unswept.
    d.lead(
        "2026-11-24T12:30:00Z",
        form,
        json!({"email": "cy@gamma.com"}),
        "ann",
    )
    .await;
    // L4 13:00: free mail, to the nurture queue.
    d.lead(
        "2026-11-24T13:00:00Z",
        form,
        json!({"email": "dee@gmail.com"}),
        "nurture",
    )
    .await;
    // L5, L6: support, Cat (her cap is 2 a day); L7: Cat is at her cap, the pool has no
    // overflow, so the fallback queue.
    for (i, at) in ["13:05", "13:06"].iter().enumerate() {
        let lead = json!({"email": format!("e{i}@delta.com"), "product": "support"});
        d.lead(&format!("2026-11-24T{at}:00Z"), form, lead, "cat")
            .await;
    }
    let lead = json!({"email": "e3@delta.com", "product": "support"});
    d.lead("2026-11-24T13:07:00Z", form, lead, "unrouted").await;
    // L8: a bot fills the honeypot; it looks accepted but is spam.
    d.h.clock.set("2026-11-24T13:10:00Z");
    let spam =
        d.h.send(json_lead_with_key(
            json!({"email": "x@bot.com", "_honeypot": "http://spam"}),
            form,
        ))
        .await;
    assert_eq!(spam.status, StatusCode::CREATED);
    // L10 16:55, ticket 6: Ann is off shift (13:00), so Bob; due 17:05, still running at 17:00.
    d.lead(
        "2026-11-24T16:55:00Z",
        CHAT_KEY,
        json!({"email": "gil@zeta.com"}),
        "bob",
    )
    .await;
    // Outcomes: L1 contacted, then won for 5,000; L2 contacted, then lost; L9 a meeting.
    d.outcome(&l1, json!({"outcome": "contacted"})).await;
    d.outcome(
        &l1,
        json!({"outcome": "won", "value": 5000, "reason": "annual plan"}),
    )
    .await;
    d.outcome(&l2, json!({"outcome": "contacted"})).await;
    d.outcome(
        &l2,
        json!({"outcome": "lost", "reason": "chose a competitor"}),
    )
    .await;
    d.outcome(&l9, json!({"outcome": "meeting"})).await;
    d.h.clock.set("2026-11-24T17:00:00Z");
    d
}

fn stage(v: &Value) -> (u64, Value, Value, Value, Value) {
    (
        v["count"].as_u64().unwrap(),
        v["median"].clone(),
        v["p90"].clone(),
        v["working_median"].clone(),
        v["working_p90"].clone(),
    )
}

fn sla(v: &Value) -> (u64, u64, u64, u64, Value) {
    let s = &v["sla"];
    (
        s["with_sla"].as_u64().unwrap(),
        s["met"].as_u64().unwrap(),
        s["breached"].as_u64().unwrap(),
        s["pending"].as_u64().unwrap(),
        s["compliance"].clone(),
    )
}

#[tokio::test]
async fn every_figure_of_a_seeded_day_matches_the_hand_computation() {
    let d = seeded_day().await;
    let reply =
        d.h.get("/admin/report?from=2026-11-24&to=2026-11-24", VIEWER_KEY)
            .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let r = &reply.body;
    let o = &r["overall"];
    // Ten leads, one spam. Now with a rep: L1, L2, L3, L5, L6, L9, L10; queued: L4, L7.
    assert_eq!(o["leads"], 10);
    assert_eq!(o["spam"], 1);
    assert_eq!(o["assigned"], 7);
    assert_eq!(o["queued"], 2);
    // The router's own latency is measured, not computed: one value per routed lead.
    assert_eq!(o["speed_to_lead"]["to_assignment_ms"]["count"], 9);
    // First notification: L1, L2, L3, L10 at once (0 s), L9 after 300 s: [0,0,0,0,300].
    // Nearest rank: median = 3rd = 0, p90 = 5th = 300; the first owners (Ann 09-13 for L1 and
    // L3, Bob always) were working throughout.
    let notified = json!(300);
    assert_eq!(
        stage(&o["speed_to_lead"]["to_first_notification_seconds"]),
        (5, json!(0), notified.clone(), json!(0), notified)
    );
    // First touch from arrival: L1 180, L9 360, L2 900 (10:10 to 10:25; Ann works then).
    assert_eq!(
        stage(&o["speed_to_lead"]["to_first_touch_seconds"]),
        (3, json!(360), json!(900), json!(360), json!(900))
    );
    // SLA (sales only): L1 met, L9 met, L2 breached, L3 breached (12:40 passed, unswept),
    // L10 pending (17:05). Compliance 2 / 4.
    assert_eq!(sla(o), (5, 2, 2, 1, json!(0.5)));
    // One escalation (L2); one lead reassigned out of 7 first given to a rep: 1/7.
    assert_eq!(o["escalations"], 1);
    assert_eq!(o["reassigned"], 1);
    assert_eq!(o["reassignment_rate"], 0.1429);
    // Outcomes: contacted L1, L2; meeting L9; won L1 (5,000); lost L2. Of 9 leads: 1/9.
    let out = &o["outcomes"];
    assert_eq!(
        [
            &out["contacted"],
            &out["meeting"],
            &out["qualified"],
            &out["won"],
            &out["lost"],
            &out["disqualified"]
        ],
        [
            &json!(2),
            &json!(1),
            &json!(0),
            &json!(1),
            &json!(1),
            &json!(0)
        ]
    );
    assert_eq!(out["won_value"], 5000.0);
    assert_eq!(out["conversion"], 0.1111);
    assert_eq!(out["meeting_rate"], 0.1111);

    // Coverage of the 9 real leads: 7 to a rep, 2 queued, 1 in the fallback queue because
    // nobody in support could take it; no data-quality lead; 1 spam. Sales had nobody from
    // 13:00 (Ann's end) to 14:00 (Bob back): 1 hour; support (Cat, always) none.
    let c = &r["coverage"];
    assert_eq!(
        (
            &c["leads"],
            &c["to_rep"],
            &c["to_rep_share"],
            &c["queued"],
            &c["queued_share"]
        ),
        (
            &json!(9),
            &json!(7),
            &json!(0.7778),
            &json!(2),
            &json!(0.2222)
        )
    );
    assert_eq!(
        (&c["fallback"], &c["fallback_share"]),
        (&json!(1), &json!(0.1111))
    );
    assert_eq!(c["fallback_reasons"], json!({"pools_full": 1}));
    assert_eq!((&c["data_quality"], &c["spam"]), (&json!(0), &json!(1)));
    assert_eq!(c["uncovered_hours"], json!({"sales": 1.0, "support": 0.0}));
    // Notifications: L1, L3, L9, L10 one each, L2 two (assigned, reassigned): 6, all
    // delivered; L9's needed a second attempt.
    assert_eq!(
        r["notifications"],
        json!({"total": 6, "delivered": 6, "retried": 1, "dead": 0, "pending": 0})
    );
    assert_eq!(
        r["leads_per_day"],
        json!([{"date": "2026-11-24", "leads": 10}])
    );

    // By pool (stints): sales had L1 Ann, L2 Bob (breached), L2 Ann, L9 Bob, L3 Ann, L10 Bob.
    let sales = &r["by_pool"]["sales"];
    assert_eq!(
        (&sales["leads"], &sales["escalations"]),
        (&json!(6), &json!(1))
    );
    assert_eq!(sales["reassignment_rate"], 0.1667);
    // Met: L1, L2 (Ann), L9; breached: L2 (Bob), L3; pending: L10.
    assert_eq!(sla(sales), (6, 3, 2, 1, json!(0.6)));
    // From each owner's assignment: L1 180, L2 (Ann, from 10:21) 240, L9 360.
    assert_eq!(
        stage(&sales["speed_to_lead"]["to_first_touch_seconds"]),
        (3, json!(240), json!(360), json!(240), json!(360))
    );
    assert_eq!(r["by_pool"]["support"]["leads"], 2);
    // By rep.
    let ann = &r["by_rep"]["ann"];
    assert_eq!(
        (
            &ann["leads"],
            &ann["escalations"],
            &ann["reassignment_rate"]
        ),
        (&json!(3), &json!(0), &json!(0.0))
    );
    assert_eq!(sla(ann), (3, 2, 1, 0, json!(0.6667)));
    assert_eq!(
        stage(&ann["speed_to_lead"]["to_first_touch_seconds"]),
        (2, json!(180), json!(240), json!(180), json!(240))
    );
    assert_eq!(
        (&ann["outcomes"]["won"], &ann["outcomes"]["won_value"]),
        (&json!(1), &json!(5000.0))
    );
    let bob = &r["by_rep"]["bob"];
    assert_eq!(
        (
            &bob["leads"],
            &bob["escalations"],
            &bob["reassignment_rate"]
        ),
        (&json!(3), &json!(1), &json!(0.3333))
    );
    assert_eq!(sla(bob), (3, 1, 1, 1, json!(0.5)));
    assert_eq!(
        stage(&bob["speed_to_lead"]["to_first_notification_seconds"]),
        (3, json!(0), json!(300), json!(0), json!(300))
    );
    assert_eq!(bob["outcomes"]["meeting"], 1);
    assert_eq!(r["by_rep"]["cat"]["leads"], 2);
    // By rule and source (leads).
    let rules: Vec<(&str, u64)> = ["default", "support", "free"]
        .iter()
        .map(|k| (*k, r["by_rule"][k]["leads"].as_u64().unwrap()))
        .collect();
    assert_eq!(rules, [("default", 5), ("support", 3), ("free", 1)]);
    assert_eq!(r["by_source"]["test-form"]["leads"], 7);
    assert_eq!(r["by_source"]["test-form"]["spam"], 1);
    assert_eq!(r["by_source"]["chat"]["leads"], 3);

    // Fairness. Sales: Ann eligible for L1, L2, L2 again (Bob had it), L9, L3 (Bob away):
    // 1/2 + 1/2 + 1 + 1/2 + 1 = 3.5; Bob for L1, L2, L9, L10 (Ann off shift): 1/2 + 1/2 +
    // 1/2 + 1 = 2.5. Each got 3.
    let fairness = r["fairness"].as_array().unwrap();
    let sales = fairness.iter().find(|l| l["pool"] == "sales").unwrap();
    assert_eq!(
        (&sales["assigned"], &sales["overflowed"]),
        (&json!(6), &json!(0))
    );
    assert_eq!(
        sales["reps"],
        json!([
            {"rep": "ann", "entitled": 3.5, "actual": 3, "difference": -0.5, "eligible_for": 5,
             "skips": {"off_shift": 1}},
            {"rep": "bob", "entitled": 2.5, "actual": 3, "difference": 0.5, "eligible_for": 4,
             "skips": {"had_it_before": 1, "out_of_office": 1}},
        ])
    );
    // Support: Cat got L5 and L6, her whole entitlement; L7 found her at her cap.
    let support = fairness.iter().find(|l| l["pool"] == "support").unwrap();
    assert_eq!(
        (&support["assigned"], &support["overflowed"]),
        (&json!(2), &json!(1))
    );
    assert_eq!(
        support["reps"],
        json!([{"rep": "cat", "entitled": 2.0, "actual": 2, "difference": 0.0, "eligible_for": 2,
                "skips": {"at_cap": 1}}])
    );
    // The ledger alone, for one pool.
    let one =
        d.h.get(
            "/admin/fairness?from=2026-11-24&to=2026-11-24&pool=sales",
            VIEWER_KEY,
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{:?}", one.body);
    assert_eq!(one.body["pools"][0]["reps"], sales["reps"]);
    // What it read: 10 leads and 6 notifications, in one Query of one day.
    assert_eq!(
        (&r["reads"]["leads"], &r["reads"]["notifications"]),
        (&json!(10), &json!(6))
    );
    assert_eq!(r["reads"]["queries"], 1);
    // A period without leads is all zeros, not an error.
    let empty =
        d.h.get("/admin/report?from=2026-11-20&to=2026-11-21", ADMIN_KEY)
            .await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.body["overall"]["leads"], 0);
    assert_eq!(empty.body["overall"]["sla"]["compliance"], Value::Null);
    drop(d.receiver);
}

#[tokio::test]
async fn outcomes_are_checked_and_kept_as_history() {
    let d = seeded_day().await;
    let id = &d.ids[0];
    for (body, field) in [
        (json!({"outcome": "maybe"}), "outcome"),
        (json!({"outcome": "won", "value": -1}), "value"),
        (
            json!({"outcome": "won", "at": "2999-01-01T00:00:00Z"}),
            "at",
        ),
        (
            json!({"outcome": "won", "reason": "x".repeat(501)}),
            "reason",
        ),
        (json!({"result": "won"}), "body"),
    ] {
        let reply =
            d.h.call(
                "POST",
                &format!("/leads/{id}/outcome"),
                Some(INTEGRATION_KEY),
                Some(("application/json", body.to_string())),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {:?}",
            reply.body
        );
        assert_eq!(reply.body["field"], field);
    }
    let viewer =
        d.h.call(
            "POST",
            &format!("/leads/{id}/outcome"),
            Some(VIEWER_KEY),
            Some(("application/json", json!({"outcome": "won"}).to_string())),
        )
        .await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
    let unknown =
        d.h.call(
            "POST",
            &format!("/leads/{}/outcome", uuid::Uuid::now_v7()),
            Some(INTEGRATION_KEY),
            Some(("application/json", json!({"outcome": "won"}).to_string())),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let lead = d.h.get(&format!("/leads/{id}"), VIEWER_KEY).await.body;
    assert_eq!(lead["outcome"], "won");
    assert_eq!(lead["stages"], json!(["contacted", "won"]));
    assert_eq!(lead["won_value"], 5000.0);
    let outcomes: Vec<&str> = lead["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "outcome")
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "contacted recorded by test-crm",
            "won recorded by test-crm (value 5000): annual plan"
        ]
    );
}

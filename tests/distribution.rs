//! Fair distribution that respects people, through the router into DynamoDB Local: caps that
//! hold under 64 concurrent requests, exact weighted shares, least-loaded following
//! acknowledgements, working hours across daylight-saving changes, out-of-office boundaries,
//! deactivation and team changes taking effect the moment they are saved.

mod common;

use leadrouter::domain::model::{HistoryEvent, LeadStatus};
use leadrouter::store::dynamo::lead_of_item;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::{flood, lead_id_of, num, pool_turns, s, Harness, Reply};
use serde_json::json;

/// How many numbers the number set `name` of `item` holds (0 if absent).
fn num_set_len(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> usize {
    item.get(name)
        .and_then(|v| v.as_ns().ok())
        .map_or(0, Vec::len)
}

/// Counts replies per owner id.
fn owners(replies: &[Reply]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for reply in replies {
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        *counts.entry(reply.owner().to_string()).or_default() += 1;
    }
    counts
}

/// The stored assignment of every lead, by lead id, checking each is stored exactly once.
async fn stored(h: &Harness, replies: &[Reply]) -> BTreeMap<String, serde_json::Value> {
    let items = h.lead_items().await;
    assert_eq!(items.len(), replies.len(), "every lead stored exactly once");
    let answered: HashSet<String> = replies
        .iter()
        .map(|r| r.body["lead_id"].as_str().unwrap().to_string())
        .collect();
    let mut leads = BTreeMap::new();
    for item in items {
        let id = lead_id_of(&item);
        assert!(answered.contains(&id), "stored lead {id} was answered");
        let owner_id = s(&item, "owner_id");
        // The item leaves out what the rest of it says: read as the store reads it.
        let lead = lead_of_item(item).unwrap().expect("a lead's item");
        let assignment = serde_json::to_value(&lead.assignment).unwrap();
        assert_eq!(assignment["owner"]["id"].as_str().unwrap(), owner_id);
        leads.insert(id, assignment);
    }
    leads
}

/// Checks that every ticket `pool`'s counter handed out is accounted for exactly once: used
/// by a stored lead, spent by one passing through (a `passed` record), or given back and
/// waiting for the next lead. So no turn was lost, none was used twice and none was given back
/// twice. Returns how many the stored leads used (as [`tickets_used_once`]).
async fn every_ticket_accounted_for(h: &Harness, pool: &str) -> usize {
    let items = h.items().await;
    let mut accounted: Vec<u64> = pool_turns(&items, pool).iter().map(|t| t.0).collect();
    let used = accounted.len();
    let mut handed_out = 0;
    let pk = format!("POOL#{pool}");
    for item in items.iter().filter(|i| s(i, "pk") == pk) {
        let sk = s(item, "sk");
        if sk == "ROTATION" {
            handed_out = num(item, "turn") as u64;
            let returned = item.get("returned").and_then(|l| l.as_l().ok());
            accounted.extend(returned.into_iter().flatten().map(|t| {
                t.as_n()
                    .expect("a ticket")
                    .parse::<u64>()
                    .expect("a ticket")
            }));
        } else if let Some(turn) = sk.strip_prefix("TURN#") {
            if item.get("passed").and_then(|p| p.as_bool().ok()) == Some(&true) {
                accounted.push(turn.parse().expect("a ticket"));
            }
        }
    }
    let mut times = BTreeMap::<u64, usize>::new();
    for turn in accounted {
        *times.entry(turn).or_default() += 1;
    }
    let lost: Vec<u64> = (1..=handed_out)
        .filter(|t| !times.contains_key(t))
        .collect();
    let twice: Vec<(u64, usize)> = times
        .into_iter()
        .filter(|&(t, n)| n > 1 || t == 0 || t > handed_out)
        .collect();
    assert!(
        lost.is_empty() && twice.is_empty(),
        "tickets of {pool} (1 to {handed_out}): lost {lost:?}; more than once, or never handed out: {twice:?}"
    );
    used
}

/// Checks that no rotation ticket of `pool` was used twice and returns how many were used
/// (not counting tickets of leads that passed through the pool to its overflow).
async fn tickets_used_once(h: &Harness, pool: &str) -> usize {
    let turns = pool_turns(&h.items().await, pool);
    let numbers: HashSet<u64> = turns.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(numbers.len(), turns.len(), "no ticket used by two leads");
    turns.len()
}

const CAPPED: &str = r#"
reps:
  - {id: r1, name: Rep One, caps: {per_day: 250}}
  - {id: r2, name: Rep Two, timezone: America/New_York, caps: {per_day: 250}}
  - {id: r3, name: Rep Three, timezone: Asia/Tokyo, caps: {per_day: 300, per_week: 250}}
  - {id: r4, name: Rep Four, timezone: Europe/Berlin, caps: {per_week: 200}}
pools:
  - {id: inbound, reps: [r1, r2, r3, r4], overflow: {queue: overflow}}
queues:
  - {id: overflow, name: Overflow}
rules:
  - {id: default, route: {pool: inbound}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn caps_hold_under_64_concurrent_requests_and_the_rest_overflows_with_reasons() {
    let h = Arc::new(Harness::with_config(CAPPED).await);
    h.clock.set("2026-11-24T15:00:00Z");
    let replies = flood(&h.router, 1_200, 64, "capped").await;
    let counts = owners(&replies);
    // Capacity 250 + 250 + 250 (weekly binds first) + 200 = 950; demand 1,200.
    assert_eq!(
        counts,
        BTreeMap::from([
            ("overflow".to_string(), 250),
            ("r1".to_string(), 250),
            ("r2".to_string(), 250),
            ("r3".to_string(), 250),
            ("r4".to_string(), 200),
        ]),
        "every cap filled exactly, never exceeded"
    );
    let leads = stored(&h, &replies).await;
    for assignment in leads.values() {
        if assignment["owner"]["id"] == "overflow" {
            // Overflow only once every rep was at a cap, and the reason says so.
            let skipped = assignment["skipped"].as_array().unwrap();
            let reps: HashSet<&str> = skipped.iter().map(|s| s["rep"].as_str().unwrap()).collect();
            assert_eq!(reps.len(), 4, "{assignment}");
            assert!(skipped.iter().all(|s| s["reason"]["kind"] == "at_cap"));
            assert_eq!(assignment["overflowed"], json!(["inbound"]));
            let reason = assignment["reason"].as_str().unwrap();
            assert!(
                reason.contains("nobody in pool 'inbound' could take it"),
                "{reason}"
            );
            assert!(
                reason.contains("Rep Four (at weekly cap of 200)"),
                "{reason}"
            );
        }
    }
    // The cap counters agree with the leads, in each rep's own day and week.
    let items = h.items().await;
    let counter = |pk: &str, sk: &str| {
        items
            .iter()
            .find(|i| s(i, "pk") == pk && s(i, "sk") == sk)
            .map(|i| num(i, "assigned"))
    };
    assert_eq!(counter("REP#r1", "CAP#DAY#2026-11-24"), Some(250));
    assert_eq!(counter("REP#r2", "CAP#DAY#2026-11-24"), Some(250));
    // 15:00 UTC is already the 25th in Tokyo.
    assert_eq!(counter("REP#r3", "CAP#DAY#2026-11-25"), Some(250));
    assert_eq!(counter("REP#r3", "CAP#WEEK#2026-W48"), Some(250));
    assert_eq!(counter("REP#r4", "CAP#WEEK#2026-W48"), Some(200));
    assert_eq!(every_ticket_accounted_for(&h, "inbound").await, 950);

    // The next local day in New York frees Rep Two's daily cap, and only hers: the rotation
    // runs over Rep One and Rep Two, and each ticket's slot (from 0; the cycle never
    // restarted) names one of them by its parity.
    h.clock.set("2026-11-25T15:00:00Z");
    let replies = flood(&h.router, 40, 8, "nextday").await;
    let next_day = owners(&replies);
    assert_eq!(next_day.get("r3"), None, "weekly cap still binds");
    assert_eq!(next_day.get("r4"), None, "weekly cap still binds");
    let ids: HashSet<&str> = replies
        .iter()
        .map(|r| r.body["lead_id"].as_str().unwrap())
        .collect();
    for (turn, lead, owner) in pool_turns(&h.items().await, "inbound") {
        if ids.contains(lead.as_str()) {
            let named = if (turn - 1) % 2 == 0 { "r1" } else { "r2" };
            assert_eq!(owner, named, "ticket {turn} of lead {lead}");
        }
    }
    // They take the tickets the overflowed leads gave back, then new ones: 20 and 20 when
    // those form one run. One of the last leads before midnight may have used or passed a
    // ticket among them (or, on production's client, storage lost one: see `patient`), which
    // leaves one parity a ticket short: 19 and 21, as one CI run saw.
    for rep in ["r1", "r2"] {
        let got = next_day.get(rep).copied().unwrap_or(0);
        assert!((19..=21).contains(&got), "{next_day:?}");
    }
    assert_eq!(every_ticket_accounted_for(&h, "inbound").await, 990);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn weighted_1_2_3_over_600_concurrent_leads_is_exact() {
    let h = Harness::with_config(
        r#"
reps:
  - {id: w1, name: Weight One}
  - {id: w2, name: Weight Two}
  - {id: w3, name: Weight Three}
pools:
  - id: weighted
    strategy: weighted
    reps: [{rep: w1, weight: 1}, {rep: w2, weight: 2}, {rep: w3, weight: 3}]
rules:
  - {id: default, route: {pool: weighted}}
"#,
    )
    .await;
    let replies = flood(&h.router, 600, 32, "weighted").await;
    let counts = owners(&replies);
    assert_eq!(
        counts,
        BTreeMap::from([
            ("w1".to_string(), 100),
            ("w2".to_string(), 200),
            ("w3".to_string(), 300),
        ])
    );
    // Every prefix of the tickets is within one lead of the weight share.
    let mut by_turn: Vec<(u64, String)> = stored(&h, &replies)
        .await
        .values()
        .map(|a| {
            (
                a["turn"]["turn"].as_u64().unwrap(),
                a["owner"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_turn.sort();
    let mut seen = BTreeMap::<String, u64>::new();
    for (m, (turn, owner)) in by_turn.iter().enumerate() {
        assert_eq!(*turn, m as u64 + 1, "tickets 1..=600, each once");
        *seen.entry(owner.clone()).or_default() += 1;
        for (rep, weight) in [("w1", 1u64), ("w2", 2), ("w3", 3)] {
            let exact = (m as u64 + 1) * weight;
            let got = seen.get(rep).copied().unwrap_or(0) * 6;
            assert!(
                got.abs_diff(exact) < 6,
                "after {} leads {rep} has {}",
                m + 1,
                got / 6
            );
        }
    }
}

const LEAST_LOADED: &str = r#"
reps:
  - {id: a, name: Ann}
  - {id: b, name: Bea}
  - {id: c, name: Cal}
pools:
  - {id: team, strategy: least_loaded, reps: [a, b, c]}
rules:
  - {id: default, route: {pool: team}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn least_loaded_follows_acknowledgements_and_closures() {
    let h = Harness::with_config(LEAST_LOADED).await;
    let mut leads = BTreeMap::<String, Vec<String>>::new();
    for i in 0..3 {
        let reply = h
            .post_lead(json!({"email": format!("first{i}@x.com")}))
            .await;
        leads
            .entry(reply.owner().to_string())
            .or_default()
            .push(reply.body["lead_id"].as_str().unwrap().to_string());
    }
    assert_eq!(
        leads.len(),
        3,
        "equal loads: one each, by rotation: {leads:?}"
    );

    // Bea acknowledges her lead: she now has the fewest open leads and gets the next one.
    let acked = h.lead_action(&leads["b"][0], "ack").await;
    assert_eq!(acked.status, StatusCode::OK, "{:?}", acked.body);
    assert_eq!(acked.body["status"], "acknowledged");
    assert_eq!(h.route(json!({"email": "second@x.com"})).await, "b");

    // Cal closes his without acknowledging: he is next.
    assert_eq!(
        h.lead_action(&leads["c"][0], "close").await.body["status"],
        "closed"
    );
    assert_eq!(h.route(json!({"email": "third@x.com"})).await, "c");

    // Acknowledging twice changes nothing; a closed lead cannot be acknowledged.
    let again = h.lead_action(&leads["b"][0], "ack").await;
    assert_eq!(
        (again.status, again.body["changed"].clone()),
        (StatusCode::OK, json!(false))
    );
    let closed = h.lead_action(&leads["c"][0], "ack").await;
    assert_eq!(closed.status, StatusCode::CONFLICT);
    assert_eq!(closed.content_type(), "application/problem+json");
    // Closing an acknowledged lead does not lower the count twice: all have one open lead.
    h.lead_action(&leads["b"][0], "close").await;
    let next: HashSet<String> = [
        h.route(json!({"email": "n1@x.com"})).await,
        h.route(json!({"email": "n2@x.com"})).await,
        h.route(json!({"email": "n3@x.com"})).await,
    ]
    .into();
    assert_eq!(next.len(), 3, "one each again: {next:?}");
    let lead = h.app.lead(&leads["b"][0]).await.unwrap().unwrap();
    assert_eq!(lead.status, LeadStatus::Closed);
    let events: Vec<HistoryEvent> = lead.history.iter().map(|e| e.event).collect();
    assert_eq!(
        events,
        [
            HistoryEvent::Assigned,
            HistoryEvent::Acknowledged,
            HistoryEvent::Closed
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn least_loaded_stays_level_under_concurrency_and_a_newcomer_is_not_flooded() {
    let h = Harness::with_config(LEAST_LOADED).await;
    let counts = owners(&flood(&h.router, 90, 32, "load").await);
    let (min, max) = (
        counts.values().min().unwrap(),
        counts.values().max().unwrap(),
    );
    assert!(
        max - min <= 4,
        "open loads stay close under 32 clients: {counts:?}"
    );
    // Once the pool's newest ticket is counted, sequential leads follow the loads exactly, so
    // as many as the others lag the busiest rep make the three level again (however the
    // burst left them: most runs end level). Right after a burst that ticket may not be:
    // leads that committed out of ticket order leave a rep's latest ticket behind, and the
    // first sequential lead then assumes leads in flight that are not. It counts the newest.
    let mut counts = counts;
    *counts
        .entry(h.route(json!({"email": "settle@x.com"})).await)
        .or_default() += 1;
    let top = *counts.values().max().unwrap();
    let lag: usize = counts.values().map(|n| top - n).sum();
    for i in 0..lag {
        *counts
            .entry(h.route(json!({"email": format!("level{i}@x.com")})).await)
            .or_default() += 1;
    }
    assert_eq!(
        counts.values().collect::<HashSet<_>>(),
        HashSet::from([&top]),
        "{counts:?}"
    );

    // Dan joins with no open leads. He counts as level with the others, not as the least
    // loaded by 30 or more, so the next eight leads go two to each rep rather than all to him.
    h.publish(
        &LEAST_LOADED
            .replace("reps: [a, b, c]", "reps: [a, b, c, d]")
            .replace(
                "  - {id: c, name: Cal}",
                "  - {id: c, name: Cal}\n  - {id: d, name: Dan}",
            ),
    )
    .await;
    let mut next = BTreeMap::<String, usize>::new();
    for i in 0..8 {
        *next
            .entry(h.route(json!({"email": format!("after{i}@x.com")})).await)
            .or_default() += 1;
    }
    assert_eq!(next.get("d"), Some(&2), "{next:?}");
    assert!(next.values().all(|&n| n == 2), "{next:?}");
}

const SHIFTS: &str = r#"
reps:
  - id: ny
    name: New York
    timezone: America/New_York
    working_hours: {mon-fri: "09:00-17:00"}
  - id: berlin
    name: Berlin
    timezone: Europe/Berlin
    working_hours: {mon-fri: ["09:00-12:00", "13:00-17:00"]}
  - id: away
    name: Away
    out_of_office: [{from: "2026-11-24T14:00:00Z", to: "2026-11-24T16:00:00Z"}]
pools:
  - {id: shifts, reps: [ny, berlin], overflow: {pool: cover}}
  - {id: cover, reps: [away], overflow: {queue: after-hours}}
queues:
  - {id: after-hours, name: After hours}
rules:
  - {id: default, route: {pool: shifts}}
"#;

/// Routes one lead at `at` and returns its owner and reason.
async fn at(h: &Harness, at: &str) -> (String, String) {
    h.clock.set(at);
    let reply = h
        .post_lead(json!({"email": format!("{}@x.com", at.replace(':', "-"))}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    (
        reply.owner().to_string(),
        reply.body["reason"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn working_hours_follow_each_reps_daylight_saving_change() {
    let h = Harness::with_config(SHIFTS).await;
    // Berlin left summer time on 2026-10-25: 09:00 local was 07:00Z before, 08:00Z after.
    // New York is asleep at those hours, so Berlin alone decides.
    assert_eq!(
        at(&h, "2026-10-23T07:00:00Z").await.0,
        "berlin",
        "Fri 09:00 CEST"
    );
    let (owner, reason) = at(&h, "2026-10-23T06:59:00Z").await;
    assert_eq!(
        owner, "away",
        "Fri 08:59 CEST: nobody on shift, so the cover pool"
    );
    assert!(
        reason.contains("Berlin (off shift (local time Fri 08:59 CEST))"),
        "{reason}"
    );
    assert!(
        reason.contains("nobody in pool 'shifts' could take it"),
        "{reason}"
    );
    let (owner, reason) = at(&h, "2026-10-26T07:30:00Z").await;
    assert_eq!(
        owner, "away",
        "Mon 08:30 CET: the same UTC hour is now before the shift"
    );
    assert!(
        reason.contains("Berlin (off shift (local time Mon 08:30 CET))"),
        "{reason}"
    );
    assert_eq!(
        at(&h, "2026-10-26T08:00:00Z").await.0,
        "berlin",
        "Mon 09:00 CET"
    );
    // Berlin's lunch break is a gap in the day.
    assert_eq!(
        at(&h, "2026-10-26T11:30:00Z").await.0,
        "away",
        "Mon 12:30 CET"
    );

    // New York left summer time on 2026-11-01: 17:00 local was 21:00Z before, 22:00Z after.
    assert_eq!(
        at(&h, "2026-10-30T20:59:00Z").await.0,
        "ny",
        "Fri 16:59 EDT"
    );
    let (owner, reason) = at(&h, "2026-10-30T21:00:00Z").await;
    assert_eq!(owner, "away", "Fri 17:00 EDT");
    assert!(
        reason.contains("New York (off shift (local time Fri 17:00 EDT))"),
        "{reason}"
    );
    assert_eq!(
        at(&h, "2026-11-02T21:30:00Z").await.0,
        "ny",
        "Mon 16:30 EST: still on shift"
    );
    assert_eq!(
        at(&h, "2026-11-02T22:00:00Z").await.0,
        "away",
        "Mon 17:00 EST"
    );
    // Both on shift (Mon 15:00 CET, 09:00 EST): the rotation runs over both.
    let both: HashSet<String> = [
        at(&h, "2026-11-02T14:00:00Z").await.0,
        at(&h, "2026-11-02T14:00:01Z").await.0,
    ]
    .into();
    assert_eq!(
        both,
        HashSet::from(["ny".to_string(), "berlin".to_string()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn out_of_office_starts_and_ends_exactly_at_its_boundaries() {
    // Saturday: the shift pool is empty, so every lead tries the cover pool ('away').
    let h = Harness::with_config(&SHIFTS.replace("2026-11-24T", "2026-11-28T")).await;
    assert_eq!(at(&h, "2026-11-28T13:59:59Z").await.0, "away");
    let (owner, reason) = at(&h, "2026-11-28T14:00:00Z").await;
    assert_eq!(owner, "after-hours");
    assert!(
        reason.contains("Away (out of office until 2026-11-28 16:00 UTC)"),
        "{reason}"
    );
    assert_eq!(at(&h, "2026-11-28T15:59:59Z").await.0, "after-hours");
    assert_eq!(at(&h, "2026-11-28T16:00:00Z").await.0, "away");
}

const TEAM: &str = r#"
reps:
  - {id: t1, name: Tia}
  - {id: t2, name: Tom}
  - {id: t3, name: Ted}
  - {id: t4, name: Tess}
pools:
  - {id: team, reps: [t1, t2, t3, t4]}
rules:
  - {id: default, route: {pool: team}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rep_made_inactive_gets_nothing_once_saved_even_from_a_lambda_with_a_stale_config() {
    let h = Harness::with_config(TEAM).await;
    // A second Lambda instance caches the config for an hour: it still thinks Tess is active.
    let stale = h.another_lambda(Duration::from_secs(3600));
    assert_eq!(
        owners(&flood(&stale, 8, 1, "warm").await).get("t4"),
        Some(&2)
    );

    h.publish(&TEAM.replace(
        "{id: t4, name: Tess}",
        "{id: t4, name: Tess, active: false}",
    ))
    .await;
    let replies = flood(&stale, 40, 8, "after").await;
    let counts = owners(&replies);
    assert_eq!(counts.get("t4"), None, "{counts:?}");
    let skipped = replies
        .iter()
        .filter(|r| r.body["reason"].as_str().unwrap().contains("Tess"))
        .count();
    assert!(
        skipped >= 1,
        "the stale Lambda offered Tess at least once and was refused"
    );
    let reasons: Vec<&str> = replies
        .iter()
        .map(|r| r.body["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(
            |r| r.contains("Tess (removed or made inactive by a newer config)")
                || r.contains("Tess (inactive)")
        ),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rep_removed_while_32_requests_are_in_flight_gets_nothing_afterwards() {
    let h = Arc::new(Harness::with_config(TEAM).await);
    let stale = h.another_lambda(Duration::from_secs(3600));
    let in_flight = {
        let stale = stale.clone();
        tokio::spawn(async move { flood(&stale, 32, 32, "inflight").await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    h.publish(&TEAM.replace("[t1, t2, t3, t4]", "[t1, t2, t3]"))
        .await;
    let during = in_flight.await.unwrap();
    let after = flood(&stale, 64, 32, "after").await;
    let after_counts = owners(&after);
    assert_eq!(after_counts.get("t4"), None, "{after_counts:?}");
    let (min, max) = (
        after_counts.values().min().unwrap(),
        after_counts.values().max().unwrap(),
    );
    assert!(
        max - min <= 3,
        "the rotation continues over the three who remain: {after_counts:?}"
    );
    let mut all = during;
    all.extend(after);
    owners(&all);
    stored(&h, &all).await;
    assert_eq!(tickets_used_once(&h, "team").await, 96);

    // A fresh reader sees the new cycle: three reps, one each.
    let fresh: HashSet<String> = [
        h.route(json!({"email": "f1@x.com"})).await,
        h.route(json!({"email": "f2@x.com"})).await,
        h.route(json!({"email": "f3@x.com"})).await,
    ]
    .into();
    assert_eq!(fresh.len(), 3, "{fresh:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rep_who_joins_starts_a_new_cycle_level_with_the_others() {
    let h = Harness::with_config(TEAM).await;
    owners(&flood(&h.router, 41, 8, "before").await);
    h.publish(
        &TEAM
            .replace("[t1, t2, t3, t4]", "[t1, t2, t3, t4, t5]")
            .replace(
                "  - {id: t4, name: Tess}",
                "  - {id: t4, name: Tess}\n  - {id: t5, name: Tina}",
            ),
    )
    .await;
    let mut order = Vec::new();
    for i in 0..10 {
        order.push(h.route(json!({"email": format!("joined{i}@x.com")})).await);
    }
    assert_eq!(
        order,
        ["t1", "t2", "t3", "t4", "t5", "t1", "t2", "t3", "t4", "t5"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn weights_changed_mid_flow_take_effect_exactly_from_the_new_cycle() {
    const EVEN: &str = r#"
reps:
  - {id: w1, name: One}
  - {id: w2, name: Two}
pools:
  - {id: sales, strategy: weighted, reps: [{rep: w1, weight: 1}, {rep: w2, weight: 1}]}
rules:
  - {id: default, route: {pool: sales}}
"#;
    let h = Arc::new(Harness::with_config(EVEN).await);
    let during = {
        let h = h.clone();
        tokio::spawn(async move { flood(&h.router, 100, 16, "during").await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    h.publish(&EVEN.replace("{rep: w2, weight: 1}", "{rep: w2, weight: 3}"))
        .await;
    let during = during.await.unwrap();
    owners(&during);
    // Any 400 consecutive slots of the new 1:3 cycle give exactly 100 and 300.
    let after = flood(&h.router, 400, 32, "after").await;
    assert_eq!(
        owners(&after),
        BTreeMap::from([("w1".to_string(), 100), ("w2".to_string(), 300)])
    );
    let mut all = during;
    all.extend(after);
    stored(&h, &all).await;
    assert_eq!(tickets_used_once(&h, "sales").await, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_busy_pools_ticket_entries_are_tidied_by_the_process_that_fills_them() {
    const PAIR: &str = r#"
reps:
  - {id: p1, name: One}
  - {id: p2, name: Two}
pools:
  - {id: pair, reps: [p1, p2]}
rules:
  - {id: default, route: {pool: pair}}
"#;
    let h = Harness::with_config(PAIR).await;
    // Publishing enrolled both reps, before any lead could reach them.
    let items = h.items().await;
    let members = items
        .iter()
        .find(|i| s(i, "pk") == "POOL#pair" && s(i, "sk") == "MEMBERS")
        .expect("the pool's members");
    let mut enrolled = members["reps"].as_ss().unwrap().clone();
    enrolled.sort();
    assert_eq!(enrolled, ["p1", "p2"]);
    // 240 leads, 120 per rep, more than an entry may hold, with no sweep: the process tidies
    // the pool after every 50 tickets it puts on an entry, so none fills.
    let replies = flood(&h.router, 240, 16, "busy").await;
    assert_eq!(
        owners(&replies).values().copied().collect::<Vec<_>>(),
        [120, 120]
    );
    let held = |items: Vec<_>| -> Vec<usize> {
        ["REP#p1", "REP#p2"]
            .iter()
            .map(|pk| {
                let state = items
                    .iter()
                    .find(|i| s(i, "pk") == *pk && s(i, "sk") == "STATE");
                state.map_or(0, |i| num_set_len(i, "turns:pair"))
            })
            .collect()
    };
    let mut entries = held(h.items().await);
    for _ in 0..100 {
        if entries.iter().all(|n| *n < 50) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        entries = held(h.items().await);
    }
    assert!(entries.iter().all(|n| *n < 50), "{entries:?}");
    // Every ticket is still used once, and no turn was recorded as an item of its own.
    assert_eq!(tickets_used_once(&h, "pair").await, 240);
    let records = h
        .items()
        .await
        .iter()
        .filter(|i| s(i, "pk") == "POOL#pair" && s(i, "sk").starts_with("TURN#"))
        .count();
    assert_eq!(records, 0);
}

//! Changing routing safely, against DynamoDB Local: keys with roles managed over the API,
//! the audit log under each acting key's name, config history, diff and rollback (also through
//! a Lambda with a stale cache), publishes that name their base version, simulation against
//! live state, and replaying 2,000 stored leads through a draft.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::{json_lead, send_to, Harness, Reply, ADMIN_KEY, EDITOR_KEY, SOURCE_KEY, VIEWER_KEY};

const V1: &str = r#"
reps:
  - {id: ann, name: Ann}
  - {id: bob, name: Bob}
  - {id: cy, name: Cy, caps: {per_day: 1}}
pools:
  - {id: team, name: Team, reps: [ann, bob]}
  - {id: capped, name: Capped, reps: [cy], overflow: {pool: team}}
rules:
  - {id: capped, when: {product: capped}, route: {pool: capped}}
  - {id: default, route: {pool: team}}
"#;

fn v2() -> String {
    V1.replace("reps: [ann, bob]}", "reps: [ann, bob, cy]}")
}

async fn json_call(h: &Harness, method: &str, path: &str, key: &str, body: Value) -> Reply {
    h.call(
        method,
        path,
        Some(key),
        Some(("application/json", body.to_string())),
    )
    .await
}

async fn publish(h: &Harness, key: &str, base: u64, document: &str, message: &str) -> Reply {
    let path = format!(
        "/admin/config?base_version={base}&message={}",
        message.replace(' ', "+")
    );
    h.call(
        "POST",
        &path,
        Some(key),
        Some(("application/yaml", document.to_string())),
    )
    .await
}

#[tokio::test]
async fn keys_are_managed_over_the_api_and_every_change_is_audited_under_its_name() {
    let h = Harness::with_config(V1).await;
    // An admin makes an editor key for a person; the key is shown once.
    let made = json_call(
        &h,
        "POST",
        "/admin/keys",
        ADMIN_KEY,
        json!({"name": "Eve Editor", "role": "editor"}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let eve = made.body["key"].as_str().unwrap().to_string();
    assert!(eve.starts_with("lre_"));
    let eve_id = made.body["id"].as_str().unwrap().to_string();
    let listed = h.get("/admin/keys", ADMIN_KEY).await;
    let entry = listed.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == eve_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["name"], "Eve Editor");
    assert_eq!(entry["created_by"], "test-admin");
    assert!(entry.get("key").is_none() && entry.get("hash").is_none());
    // The harness's keys predate the list; they join it on first use.
    assert!(listed.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["name"] == "test-admin"));
    // Eve publishes, rolls back and reassigns a lead; the admin revokes a key.
    let v2_reply = publish(&h, &eve, 1, &v2(), "Cy joins the team").await;
    assert_eq!(v2_reply.status, StatusCode::CREATED, "{:?}", v2_reply.body);
    let lead = h.post_lead(json!({"email": "x@acme.com"})).await;
    let lead_id = lead.body["lead_id"].as_str().unwrap().to_string();
    let moved = json_call(
        &h,
        "POST",
        &format!("/leads/{lead_id}/reassign"),
        &eve,
        json!({"to": {"rep": "cy"}, "reason": "speaks German"}),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{:?}", moved.body);
    assert_eq!(moved.body["assignment"]["owner"]["id"], "cy");
    let back = json_call(
        &h,
        "POST",
        "/admin/config/rollback",
        &eve,
        json!({"version": 1, "base_version": 2}),
    )
    .await;
    assert_eq!(back.status, StatusCode::CREATED, "{:?}", back.body);
    let accounts = h
        .call(
            "POST",
            "/admin/accounts",
            Some(&eve),
            Some((
                "text/csv",
                "id,name,domains,owner,tier,list\na1,Acme,acme.com,ann,,\n".into(),
            )),
        )
        .await;
    assert_eq!(accounts.status, StatusCode::OK, "{:?}", accounts.body);
    let temp = json_call(
        &h,
        "POST",
        "/admin/keys",
        ADMIN_KEY,
        json!({"name": "temp form", "role": "source"}),
    )
    .await;
    let temp_id = temp.body["id"].as_str().unwrap().to_string();
    let revoked = h
        .call(
            "POST",
            &format!("/admin/keys/{temp_id}/revoke"),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(revoked.body["revoked"], true);
    let temp_key = temp.body["key"].as_str().unwrap();
    let refused = h
        .send(common::json_lead_with_key(
            json!({"email": "y@acme.com"}),
            temp_key,
        ))
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    // A key cannot revoke itself.
    let own = h
        .call(
            "POST",
            &format!("/admin/keys/{eve_id}/revoke"),
            Some(&eve),
            None,
        )
        .await;
    assert_eq!(
        own.status,
        StatusCode::FORBIDDEN,
        "an editor manages no keys"
    );
    // Viewers and source keys can do none of it; nothing they try is audited.
    for key in [VIEWER_KEY, SOURCE_KEY] {
        for (method, path, body) in [
            (
                "POST",
                "/admin/config?base_version=3".to_string(),
                Some(("application/yaml", V1.to_string())),
            ),
            (
                "POST",
                "/admin/config/rollback".to_string(),
                Some((
                    "application/json",
                    json!({"version": 2, "base_version": 3}).to_string(),
                )),
            ),
            (
                "POST",
                format!("/leads/{lead_id}/reassign"),
                Some((
                    "application/json",
                    json!({"to": {"rep": "bob"}}).to_string(),
                )),
            ),
            (
                "POST",
                "/admin/keys".to_string(),
                Some((
                    "application/json",
                    json!({"name": "x", "role": "admin"}).to_string(),
                )),
            ),
            ("GET", "/admin/keys".to_string(), None),
        ] {
            let reply = h.call(method, &path, Some(key), body).await;
            assert_eq!(
                reply.status,
                StatusCode::FORBIDDEN,
                "{method} {path} with {key}"
            );
        }
    }
    let audit = h.get("/admin/audit?limit=2", VIEWER_KEY).await;
    assert_eq!(audit.status, StatusCode::OK);
    let mut entries: Vec<Value> = Vec::new();
    let mut page = audit.body;
    loop {
        entries.extend(page["entries"].as_array().unwrap().iter().cloned());
        let Some(next) = page["next"].as_str() else {
            break;
        };
        page = h
            .get(&format!("/admin/audit?limit=2&cursor={next}"), VIEWER_KEY)
            .await
            .body;
    }
    let seen: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["actor"]["name"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // Newest first.
    let expected: Vec<(&str, &str)> = vec![
        ("test-admin", "key_revoked"),
        ("test-admin", "key_created"),
        ("Eve Editor", "accounts_loaded"),
        ("Eve Editor", "config_rolled_back"),
        ("Eve Editor", "lead_reassigned"),
        ("Eve Editor", "config_published"),
        ("test-admin", "key_created"),
        ("cli:", "config_published"),
    ];
    assert_eq!(seen.len(), expected.len(), "{seen:?}");
    for ((name, action), (want_name, want_action)) in seen.iter().zip(&expected) {
        assert!(name.starts_with(want_name), "{seen:?}");
        assert_eq!(action, want_action, "{seen:?}");
    }
    assert!(entries[3]["summary"]
        .as_str()
        .unwrap()
        .contains("rolled back to version 1"));
    assert_eq!(entries[4]["target"], lead_id.as_str());
}

#[tokio::test]
async fn history_diff_and_base_versions_keep_every_edit() {
    let h = Harness::with_config(V1).await;
    // Without a base version: 428; with a stale one: 409 and the diff from it.
    let missing = h
        .call(
            "POST",
            "/admin/config",
            Some(EDITOR_KEY),
            Some(("application/yaml", v2())),
        )
        .await;
    assert_eq!(missing.status, StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(missing.body["field"], "base_version");
    assert_eq!(
        publish(&h, EDITOR_KEY, 1, &v2(), "add cy").await.status,
        StatusCode::CREATED
    );
    let stale = publish(&h, EDITOR_KEY, 1, &V1.replace("Ann}", "Annie}"), "rename").await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{:?}", stale.body);
    assert_eq!(stale.body["current_version"], 2);
    assert_eq!(stale.body["diff"]["summary"], "pool 'team' members +cy");
    // The history: newest first, with author, message and summary.
    let versions = h.get("/admin/config/versions", VIEWER_KEY).await.body;
    assert_eq!(versions["active"], 2);
    let v = &versions["versions"];
    assert_eq!(v[0]["version"], 2);
    assert_eq!(v[0]["author"], "test-editor");
    assert_eq!(v[0]["message"], "add cy");
    assert_eq!(v[0]["summary"], "pool 'team' members +cy");
    assert_eq!(v[0]["replaced"], 1);
    assert_eq!(v[1]["summary"], "first version");
    let one = h.get("/admin/config/versions/1", VIEWER_KEY).await.body;
    assert_eq!(one["document"], V1);
    let diff = h
        .get("/admin/config/diff?from=1&to=2", VIEWER_KEY)
        .await
        .body;
    assert_eq!(diff["changes"][0]["subject"], "pool");
    assert_eq!(diff["text"], "~ pool 'team': members +cy\n");
    assert_eq!(
        h.get("/admin/config/diff?from=1&to=9", VIEWER_KEY)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The active config says its version, to base the next edit on.
    let active = h.get("/admin/config", VIEWER_KEY).await;
    assert_eq!(active.headers["etag"], "\"2\"");
    assert_eq!(active.body["author"], "test-editor");
}

#[tokio::test]
async fn of_two_publishes_based_on_the_same_version_exactly_one_wins() {
    let h = Harness::with_config(V1).await;
    let a = h.router.clone();
    let b = h.another_lambda(Duration::ZERO);
    let request = |document: String, base: u64| {
        axum::http::Request::post(format!("/admin/config?base_version={base}"))
            .header("authorization", format!("Bearer {EDITOR_KEY}"))
            .body(axum::body::Body::from(document))
            .unwrap()
    };
    for round in 0..5 {
        let base = 1 + round;
        let ra = request(v2().replace("Ann}", &format!("Ann {round}}}")), base);
        let rb = request(v2().replace("Bob}", &format!("Bob {round}}}")), base);
        let (x, y) = tokio::join!(send_to(&a, ra), send_to(&b, rb));
        let statuses: BTreeSet<u16> = [x.status.as_u16(), y.status.as_u16()].into();
        assert_eq!(
            statuses,
            BTreeSet::from([201, 409]),
            "{:?} {:?}",
            x.body,
            y.body
        );
        let active = h.get("/admin/config", VIEWER_KEY).await.body["version"].clone();
        assert_eq!(active, base + 1);
    }
}

#[tokio::test]
async fn after_a_rollback_leads_route_as_under_the_old_version_even_through_a_stale_cache() {
    let h = Harness::with_config(V1).await;
    h.clock.set("2026-11-24T15:00:00Z");
    // A second Lambda caches version 2 (with Cy) for an hour.
    assert_eq!(
        publish(&h, ADMIN_KEY, 1, &v2(), "cy joins").await.status,
        StatusCode::CREATED
    );
    let stale = h.another_lambda(Duration::from_secs(3600));
    let warm = send_to(&stale, json_lead(json!({"email": "warm@acme.com"}), &[])).await;
    assert_eq!(warm.status, StatusCode::CREATED);
    let back = json_call(
        &h,
        "POST",
        "/admin/config/rollback",
        ADMIN_KEY,
        json!({"version": 1, "base_version": 2}),
    )
    .await;
    assert_eq!(back.status, StatusCode::CREATED, "{:?}", back.body);
    assert_eq!(back.body["version"], 3);
    let mut owners = Vec::new();
    for i in 0..12 {
        let router = if i % 2 == 0 { &h.router } else { &stale };
        let reply = send_to(
            router,
            json_lead(json!({"email": format!("p{i}@acme.com")}), &[]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        owners.push(reply.owner().to_string());
    }
    assert!(!owners.contains(&"cy".to_string()), "{owners:?}");
    // Exactly version 1's rotation: ann and bob take turns, six each.
    let ann = owners.iter().filter(|o| *o == "ann").count();
    assert_eq!((ann, owners.len() - ann), (6, 6), "{owners:?}");
    let versions = h.get("/admin/config/versions", VIEWER_KEY).await.body;
    assert_eq!(versions["versions"][0]["rollback_of"], 1);
    assert_eq!(
        h.get("/admin/config/versions/3", VIEWER_KEY).await.body["document"],
        V1
    );
}

#[tokio::test]
async fn a_simulation_sees_live_caps_and_contacts_and_writes_nothing() {
    let h = Harness::with_config(V1).await;
    h.clock.set("2026-11-24T15:00:00Z");
    // Cy's one lead a day goes to a real lead.
    let first = h
        .post_lead(json!({"email": "first@acme.com", "product": "capped"}))
        .await;
    assert_eq!(first.owner(), "cy");
    let items_before = h.items().await.len();
    let simulate = |lead: Value| json!({"lead": lead});
    let capped = json_call(
        &h,
        "POST",
        "/admin/simulate",
        VIEWER_KEY,
        simulate(json!({"email": "new@other.com", "product": "capped"})),
    )
    .await;
    assert_eq!(capped.status, StatusCode::OK, "{:?}", capped.body);
    let steps = capped.body["steps"].as_array().unwrap();
    assert_eq!(
        steps[0],
        json!({"step": "ticket", "pool": "capped", "turn": 2, "slot": 1})
    );
    assert_eq!(steps[1]["owner"], "cy");
    assert_eq!(steps[1]["accepted"], false);
    assert_eq!(steps[1]["refused"], "at daily cap");
    assert_eq!(capped.body["assignment"]["owner"]["id"], "ann");
    // The returning contact goes to the owner of the earlier lead.
    let again = json_call(
        &h,
        "POST",
        "/admin/simulate",
        VIEWER_KEY,
        simulate(json!({"email": "First@acme.com"})),
    )
    .await;
    assert_eq!(again.body["returning_contact"][1]["id"], "cy");
    assert_eq!(again.body["assignment"]["owner"]["id"], "cy");
    // A draft where Cy has no cap takes the offer.
    let draft = V1.replace(", caps: {per_day: 1}", "");
    let with_draft = json_call(
        &h,
        "POST",
        "/admin/simulate",
        VIEWER_KEY,
        json!({"lead": {"email": "n@o.com", "product": "capped"}, "config": draft}),
    )
    .await;
    assert_eq!(
        with_draft.body["assignment"]["owner"]["id"], "cy",
        "{:?}",
        with_draft.body
    );
    assert_eq!(with_draft.body["config_version"], Value::Null);
    let bad = json_call(
        &h,
        "POST",
        "/admin/simulate",
        VIEWER_KEY,
        json!({"lead": {"email": "n@o.com"}, "config": "rules: ["}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let no_email = json_call(
        &h,
        "POST",
        "/admin/simulate",
        VIEWER_KEY,
        json!({"lead": {"email": "not an email"}}),
    )
    .await;
    assert_eq!(no_email.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        h.items().await.len(),
        items_before,
        "a simulation writes nothing"
    );
}

const TERRITORIES: &str = r#"
reps:
  - {id: ann, name: Ann}
  - {id: bob, name: Bob}
  - {id: cy, name: Cy}
  - {id: dee, name: Dee}
pools:
  - {id: emea, name: EMEA, reps: [ann, bob]}
  - {id: dach, name: DACH, reps: [cy]}
  - {id: rest, name: Rest, reps: [dee, ann]}
rules:
  - {id: emea, when: {country: [DE, FR, GB]}, route: {pool: emea}}
  - {id: default, route: {pool: rest}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replaying_2000_leads_moves_exactly_the_moved_territory() {
    let h = Harness::with_config_at(TERRITORIES, "2026-11-01T00:00:00Z").await;
    h.clock.set("2026-11-24T15:00:00Z");
    let countries = ["DE", "FR", "GB", "US", "BR"];
    let mut germans = BTreeSet::new();
    for batch in 0..80 {
        let mut sends = Vec::new();
        for i in batch * 25..(batch + 1) * 25 {
            let country = countries[i % countries.len()];
            let lead = json!({"email": format!("p{i}@firm{i}.com"), "country": country});
            let router = h.router.clone();
            sends.push(tokio::spawn(async move {
                (country, send_to(&router, json_lead(lead, &[])).await)
            }));
        }
        for send in sends {
            let (country, reply) = send.await.unwrap();
            assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
            if country == "DE" {
                germans.insert(reply.body["lead_id"].as_str().unwrap().to_string());
            }
        }
        h.clock.advance(30);
    }
    let run = |draft: String| {
        let h = &h;
        async move {
            let body = json!({"config": draft, "from": "2026-11-24", "to": "2026-11-24"});
            let mut reply = json_call(h, "POST", "/admin/replay", EDITOR_KEY, body).await;
            while reply.status == StatusCode::ACCEPTED {
                let location = reply.headers["location"].to_str().unwrap().to_string();
                reply = h.get(&location, EDITOR_KEY).await;
            }
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
            reply.body["report"].clone()
        }
    };
    let same = run(TERRITORIES.to_string()).await;
    assert_eq!(
        (same["leads"].as_u64(), same["moved"].as_u64()),
        (Some(2000), Some(0))
    );
    let draft = TERRITORIES.replace(
        "  - {id: emea, when",
        "  - {id: dach, when: {country: DE}, route: {pool: dach}}\n  - {id: emea, when",
    );
    let moved = run(draft.clone()).await;
    assert_eq!(moved["leads"], 2000);
    assert_eq!(moved["moved"].as_u64().unwrap() as usize, germans.len());
    assert_eq!(moved["groups"].as_array().unwrap().len(), 1);
    let group = &moved["groups"][0];
    assert_eq!(group["cause"], "rule 'emea' -> rule 'dach'");
    let moves: u64 = group["moves"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(moves as usize, germans.len());
    for example in group["examples"].as_array().unwrap() {
        assert!(
            germans.contains(example.as_str().unwrap()),
            "{example} is not a German lead"
        );
    }
    let cy = moved["shares"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["owner"] == "cy")
        .unwrap();
    assert_eq!(cy["after"].as_u64().unwrap() as usize, germans.len());
    assert_eq!(moved["new_fallback"], 0);
    // A job that did not finish in its first request is advanced by the next ones; two
    // requests advancing it at once never count a page twice.
    let started = h
        .app
        .start_replay(
            "",
            "2026-11-24T00:00:00Z".parse().unwrap(),
            "2026-11-25T00:00:00Z".parse().unwrap(),
            "test",
            std::time::Instant::now(),
        )
        .await;
    assert!(started.is_err(), "an empty draft is not a config");
    let draft_text = TERRITORIES.replace(
        "  - {id: emea, when",
        "  - {id: dach, when: {country: DE}, route: {pool: dach}}\n  - {id: emea, when",
    );
    let job = h
        .app
        .start_replay(
            &draft_text,
            "2026-11-24T00:00:00Z".parse().unwrap(),
            "2026-11-25T00:00:00Z".parse().unwrap(),
            "test",
            std::time::Instant::now(),
        )
        .await
        .unwrap();
    assert_eq!(job.processed, 0);
    let location = format!("/admin/replay/{}", job.job_id);
    let (x, y) = tokio::join!(h.get(&location, EDITOR_KEY), h.get(&location, EDITOR_KEY));
    for reply in [x, y] {
        let mut reply = reply;
        while reply.status == StatusCode::ACCEPTED {
            reply = h.get(&location, EDITOR_KEY).await;
        }
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body["report"], moved);
    }
    // The command-line tool's replay gives the same report.
    let draft = leadrouter::domain::config::RoutingConfig::parse(&draft).unwrap();
    let from = "2026-11-24T00:00:00Z".parse().unwrap();
    let to = "2026-11-25T00:00:00Z".parse().unwrap();
    let direct = h.app.replay_all(&draft, from, to).await.unwrap();
    assert_eq!(serde_json::to_value(&direct).unwrap(), moved);
    // A source key cannot replay.
    let refused = json_call(
        &h,
        "POST",
        "/admin/replay",
        VIEWER_KEY,
        json!({"config": TERRITORIES, "from": "2026-11-24", "to": "2026-11-24"}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn availability_changes_leave_the_document_alone_and_take_effect_at_once() {
    let h = Harness::with_config(V1).await;
    h.clock.set("2026-11-24T15:00:00Z");
    let away = json_call(
        &h,
        "POST",
        "/admin/reps/ann/availability",
        EDITOR_KEY,
        json!({"away_until": "2026-11-24T17:00:00Z"}),
    )
    .await;
    assert_eq!(away.status, StatusCode::OK, "{:?}", away.body);
    assert_eq!(away.body["version"], 2);
    // The document is untouched; the absence is an override beside it.
    let v2 = h.get("/admin/config", VIEWER_KEY).await.body;
    assert_eq!(v2["document"], V1);
    assert_eq!(
        v2["overrides"]["reps"]["ann"]["away"][0]["until"],
        "2026-11-24T17:00:00Z"
    );
    assert!(
        v2["summary"]
            .as_str()
            .unwrap()
            .starts_with("rep 'ann' out_of_office +"),
        "{v2}"
    );
    for i in 0..4 {
        assert_eq!(
            h.route(json!({"email": format!("a{i}@acme.com")})).await,
            "bob"
        );
    }
    // A rule edit published meanwhile keeps the absence; a stale Lambda's offer to Ann fails.
    let edited = V1.replace(
        "{id: default, route: {pool: team}}",
        "{id: default, description: all else, route: {pool: team}}",
    );
    assert_eq!(
        publish(&h, EDITOR_KEY, 2, &edited, "describe").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        h.get("/admin/config", VIEWER_KEY).await.body["overrides"]["reps"]["ann"]["away"][0]
            ["until"],
        "2026-11-24T17:00:00Z"
    );
    assert_eq!(h.route(json!({"email": "b@acme.com"})).await, "bob");
    // Back: Ann takes her turns again.
    let back = json_call(
        &h,
        "POST",
        "/admin/reps/ann/availability",
        EDITOR_KEY,
        json!({"back": true}),
    )
    .await;
    assert_eq!(back.status, StatusCode::OK);
    let owners: BTreeSet<String> = {
        let mut seen = BTreeSet::new();
        for i in 0..4 {
            seen.insert(h.route(json!({"email": format!("c{i}@acme.com")})).await);
        }
        seen
    };
    assert!(owners.contains("ann"), "{owners:?}");
    // Inactive and refusals.
    let off = json_call(
        &h,
        "POST",
        "/admin/reps/bob/availability",
        EDITOR_KEY,
        json!({"active": false}),
    )
    .await;
    assert_eq!(off.status, StatusCode::OK);
    for i in 0..3 {
        assert_eq!(
            h.route(json!({"email": format!("d{i}@acme.com")})).await,
            "ann"
        );
    }
    for (body, field) in [
        (json!({}), "body"),
        (json!({"away_until": "2026-11-24T14:00:00Z"}), "away_until"),
        (
            json!({"out_of_office": {"from": "2026-11-25T00:00:00Z", "to": "2026-11-24T00:00:00Z"}}),
            "out_of_office.to",
        ),
    ] {
        let reply = json_call(&h, "POST", "/admin/reps/ann/availability", EDITOR_KEY, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
        assert_eq!(reply.body["field"], field);
    }
    let nobody = json_call(
        &h,
        "POST",
        "/admin/reps/zed/availability",
        EDITOR_KEY,
        json!({"back": true}),
    )
    .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    let viewer = json_call(
        &h,
        "POST",
        "/admin/reps/ann/availability",
        VIEWER_KEY,
        json!({"back": true}),
    )
    .await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
    let audit = h.get("/admin/audit", ADMIN_KEY).await.body;
    let changes: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "availability_changed")
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(
        changes[0].starts_with("availability of bob: inactive"),
        "{changes:?}"
    );
    assert!(
        changes[2].starts_with("availability of ann: away until 2026-11-24T17:00:00Z"),
        "{changes:?}"
    );
}

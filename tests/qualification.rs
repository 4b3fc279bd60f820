//! No split ownership, no junk: returning contacts, accounts, qualification and idempotency,
//! through the router against DynamoDB Local.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

use common::{json_lead, num, s, send_to, Harness, ADMIN_KEY, SOURCE_KEY};
use leadrouter::domain::access::Role;

async fn get_lead(h: &Harness, id: &str) -> Value {
    let request = Request::get(format!("/leads/{id}"))
        .header("authorization", format!("Bearer {ADMIN_KEY}"))
        .body(Body::empty())
        .unwrap();
    let reply = h.send(request).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    reply.body
}

async fn post(h: &Harness, lead: Value) -> Value {
    let reply = h.post_lead(lead).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply.body
}

const TEAM: &str = r#"
reps:
  - {id: ann, name: Ann}
  - {id: bob, name: Bob}
pools:
  - {id: team, reps: [ann, bob]}
rules:
  - {id: default, route: {pool: team}}
"#;

#[tokio::test]
async fn a_returning_contact_goes_back_to_its_owner_until_the_owner_is_deactivated() {
    let h = Harness::with_config(TEAM).await;
    h.clock.set("2026-11-24T15:00:00Z");
    let first = post(&h, json!({"email": "Jane.Doe@Acme.com"})).await;
    assert_eq!(first["owner"]["id"], "ann");
    let first_id = first["lead_id"].as_str().unwrap();

    // Another capitalisation and a +tag: the same person, back to Ann, not Bob's turn.
    let again = post(
        &h,
        json!({"email": "jane.doe+webinar@ACME.COM", "company": "Acme"}),
    )
    .await;
    assert_eq!(again["owner"]["id"], "ann", "{again}");
    let reason = again["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "Returning contact: the same person sent lead {first_id}"
        )),
        "{reason}"
    );
    // The rotation was not used: the next new person gets Bob.
    assert_eq!(
        post(&h, json!({"email": "joe@other.com"})).await["owner"]["id"],
        "bob"
    );
    // Jane's second lead took Bob's ticket alongside its reads, before they showed she was
    // returning, and gave it back; Joe's lead took it.
    let used = every_turn_used_once_or_waiting(&h, "team").await;
    assert_eq!(used, [1, 2]);
    let counted = leadrouter::metrics::snapshot();
    assert!(counted.tickets_ahead_used >= 1, "{counted:?}");
    assert!(counted.tickets_ahead_missed >= 1, "{counted:?}");

    // One contact, two leads; the first lead's history shows the return.
    let items = h.items().await;
    let contacts: Vec<_> = items
        .iter()
        .filter(|i| s(i, "pk").starts_with("CONTACT#jane.doe@acme.com"))
        .collect();
    assert_eq!(contacts.len(), 1);
    assert_eq!(num(contacts[0], "leads"), 2);
    let history = get_lead(&h, first_id).await["history"].clone();
    assert_eq!(history[1]["event"], "returned", "{history}");

    // Ann leaves: the contact is routed by the rules, with the reason, and Bob owns it now.
    h.publish(&TEAM.replace(
        "{id: ann, name: Ann}",
        "{id: ann, name: Ann, active: false}",
    ))
    .await;
    // Later than a double click (the same submission within a minute gets the first answer).
    h.clock.set("2026-11-24T15:05:00Z");
    let third = post(&h, json!({"email": "JANE.DOE@acme.com"})).await;
    assert_eq!(third["owner"]["id"], "bob");
    let reason = third["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "Returning contact (first seen as lead {first_id}), but its owner Ann is inactive, so it was routed by the rules."
        )),
        "{reason}"
    );
    let fourth = post(&h, json!({"email": "jane.doe+again@acme.com"})).await;
    assert_eq!(
        fourth["owner"]["id"], "bob",
        "ownership moved with the contact"
    );
}

/// Checks that every ticket `pool`'s rotation handed out is used by exactly one stored lead or
/// waits, given back, for the next: none lost, none used twice. The turns used, in order.
async fn every_turn_used_once_or_waiting(h: &Harness, pool: &str) -> Vec<u64> {
    let items = h.items().await;
    let rotation = items
        .iter()
        .find(|i| s(i, "pk") == format!("POOL#{pool}") && s(i, "sk") == "ROTATION")
        .expect("the pool's rotation");
    let issued = num(rotation, "turn") as u64;
    let waiting: Vec<u64> = rotation
        .get("returned")
        .and_then(|v| v.as_l().ok())
        .map(|l| {
            l.iter()
                .map(|n| n.as_n().unwrap().parse().unwrap())
                .collect()
        })
        .unwrap_or_default();
    let used: Vec<u64> = common::pool_turns(&items, pool)
        .iter()
        .map(|t| t.0)
        .collect();
    let mut all = [used.clone(), waiting.clone()].concat();
    all.sort();
    let expected: Vec<u64> = (1..=issued).collect();
    assert_eq!(all, expected, "used {used:?}, waiting {waiting:?}");
    used
}

#[tokio::test]
async fn a_second_click_a_moment_later_gives_back_the_ticket_taken_beside_its_read() {
    let h = Harness::with_config(TEAM).await;
    let first = post(&h, json!({"email": "sam@acme.com"})).await;
    // The second click's read finds the first lead on the contact: the same answer, and
    // the ticket it took alongside that read goes back.
    let again = h.post_lead(json!({"email": "sam@acme.com"})).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(again.body["lead_id"], first["lead_id"]);
    let next = post(&h, json!({"email": "pat@other.com"})).await;
    assert_eq!(next["owner"]["id"], "bob", "Bob's turn was not lost");
    assert_eq!(every_turn_used_once_or_waiting(&h, "team").await, [1, 2]);
}

#[tokio::test]
async fn double_clicks_of_a_returning_contact_lose_no_turn_of_the_rotation() {
    let h = Harness::with_config(TEAM).await;
    h.clock.set("2026-11-24T15:00:00Z");
    post(&h, json!({"email": "sam@acme.com"})).await;
    // Ten clicks at once of the same person's next form: one lead, back to Ann. Each click
    // may take a ticket alongside its reads (its process had no reason to doubt the guess
    // yet) and gives back the one it did not use.
    h.clock.set("2026-11-24T15:05:00Z");
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let router = h.router.clone();
        let lead = json!({"email": "sam@acme.com", "company": "Acme"});
        tasks.push(tokio::spawn(async move {
            send_to(&router, json_lead(lead, &[])).await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        assert!(reply.status.is_success(), "{:?}", reply.body);
        assert_eq!(reply.owner(), "ann");
        ids.push(reply.body["lead_id"].as_str().unwrap().to_string());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one lead for ten clicks: {ids:?}");
    every_turn_used_once_or_waiting(&h, "team").await;
    // New people take the turns given back, then new ones, alternating as the slots say.
    let mut owners = Vec::new();
    for i in 0..12 {
        owners.push(
            post(&h, json!({ "email": format!("new{i}@acme{i}.com") })).await["owner"]["id"]
                .clone(),
        );
    }
    let used = every_turn_used_once_or_waiting(&h, "team").await;
    assert_eq!(
        used,
        (1..=13).collect::<Vec<u64>>(),
        "one ticket each, none waiting"
    );
    let anns = owners.iter().filter(|o| *o == "ann").count();
    assert_eq!(anns, 6, "tickets 2 to 13, half of them Ann's: {owners:?}");
}

#[tokio::test]
async fn twenty_concurrent_first_leads_of_one_new_contact_get_one_owner() {
    let h = Harness::with_config(TEAM).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let router = h.router.clone();
        tasks.push(tokio::spawn(async move {
            let lead = json!({"email": format!("sam+{i}@acme.com")});
            send_to(&router, json_lead(lead, &[])).await
        }));
    }
    let mut owners = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        owners.push(reply.owner().to_string());
    }
    owners.dedup();
    assert_eq!(owners.len(), 1, "one person, one owner: {owners:?}");
}

/// 10,000 accounts as CSV, BigBank among them.
fn accounts_csv() -> String {
    let reps = ["maya", "emil", "erin", "fiona"];
    let mut csv = String::from("id,name,domains,owner,tier,list\n");
    csv.push_str("bigbank,BigBank,\"bigbank.com bigbank.de\",fiona,enterprise,named-2027\n");
    for i in 1..10_000 {
        csv.push_str(&format!(
            "acct-{i},Company {i},company{i}.com,{},{},\n",
            reps[i % reps.len()],
            if i % 10 == 0 { "enterprise" } else { "smb" }
        ));
    }
    csv
}

async fn load_accounts(h: &Harness, body: String, content_type: &str) -> common::Reply {
    let request = Request::post("/admin/accounts")
        .header("authorization", format!("Bearer {ADMIN_KEY}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    h.send(request).await
}

#[tokio::test]
async fn ten_thousand_accounts_load_idempotently_and_match_by_domain_or_website() {
    let h = Harness::example().await;
    let loaded = load_accounts(&h, accounts_csv(), "text/csv").await;
    assert_eq!(loaded.status, StatusCode::OK, "{:?}", loaded.body);
    assert_eq!(loaded.body["accounts"], 10_000);
    assert_eq!(loaded.body["written"], 10_000);
    let again = load_accounts(&h, accounts_csv(), "text/csv").await;
    assert_eq!(again.body["written"], 0, "{:?}", again.body);
    assert_eq!(again.body["unchanged"], 10_000);

    // A subdomain of BigBank's email domain.
    let lead = post(
        &h,
        json!({"email": "jane@eu.bigbank.com", "employees": "20"}),
    )
    .await;
    assert_eq!(lead["owner"]["id"], "fiona", "{lead}");
    assert_eq!(lead["rule_id"], "existing-account");
    let stored = get_lead(&h, lead["lead_id"].as_str().unwrap()).await;
    assert_eq!(stored["lead"]["account"]["account"]["id"], "bigbank");
    assert_eq!(stored["lead"]["account"]["via"], "eu.bigbank.com");
    assert_eq!(stored["lead"]["account"]["domain"], "bigbank.com");
    // The same person again: the account and the contact come from one batch read, and the
    // lead has both (its account, and its owner through the contact).
    let first_id = lead["lead_id"].as_str().unwrap().to_string();
    let again = post(
        &h,
        json!({"email": "Jane+pricing@eu.bigbank.com", "employees": "20"}),
    )
    .await;
    assert_eq!(again["owner"]["id"], "fiona", "{again}");
    let reason = again["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "Returning contact: the same person sent lead {first_id}"
        )),
        "{reason}"
    );
    let stored = get_lead(&h, again["lead_id"].as_str().unwrap()).await;
    assert_eq!(stored["lead"]["account"]["account"]["id"], "bigbank");

    // Free-mail: matched by the website instead.
    let lead = post(
        &h,
        json!({"email": "jane.private@gmail.com", "website": "https://www.bigbank.com"}),
    )
    .await;
    assert_eq!(lead["owner"]["id"], "fiona", "{lead}");
    // One of the 10,000, by its domain.
    let lead = post(&h, json!({"email": "ops@company4241.com"})).await;
    assert_eq!(lead["owner"]["id"], "emil", "account 4241 is Emil's");
    // Unknown domains fall through to the other rules.
    let lead = post(&h, json!({"email": "x@unknown-co.io", "employees": "20"})).await;
    assert_eq!(lead["pool"], "smb");

    // Reloading BigBank without bigbank.de: that domain stops matching it.
    let json_body = json!([{"id": "bigbank", "name": "BigBank", "domains": ["bigbank.com"], "owner": "fiona", "tier": "enterprise", "list": "named-2027"}]);
    let changed = load_accounts(&h, json_body.to_string(), "application/json").await;
    assert_eq!(changed.body["written"], 1, "{:?}", changed.body);
    assert_eq!(changed.body["domains_removed"], 1);
    let lead = post(&h, json!({"email": "max@bigbank.de", "employees": "20"})).await;
    assert_ne!(lead["owner"]["id"], "fiona");

    // A bad file stores nothing and names every bad row.
    let bad = "id,name,domains,owner,tier,list\nok,Ok,ok-domain.com,,,\nbad,Bad,,,,\n";
    let reply = load_accounts(&h, bad.into(), "text/csv").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.body["errors"][0]["field"], "line 3.domains",
        "{:?}",
        reply.body
    );
    let request = Request::get("/admin/accounts/ok")
        .header("authorization", format!("Bearer {ADMIN_KEY}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(request).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn students_free_mail_disposable_and_honeypot_leads_go_where_the_config_says() {
    let h = Harness::example().await;
    let student = post(
        &h,
        json!({"email": "kim@cs.stanford.edu", "title": "Student", "visited_pricing": "yes"}),
    )
    .await;
    assert_eq!(student["owner"]["id"], "nurture");
    let stored = get_lead(&h, student["lead_id"].as_str().unwrap()).await;
    let q = &stored["lead"]["qualification"];
    assert_eq!(q["score"], 20.0);
    assert_eq!(
        q["breakdown"],
        json!([{"label": "visited the pricing page", "points": 20.0}])
    );

    let free = post(&h, json!({"email": "kim@gmail.com"})).await;
    assert_eq!(free["owner"]["id"], "nurture");
    let stored = get_lead(&h, free["lead_id"].as_str().unwrap()).await;
    assert_eq!(stored["lead"]["qualification"]["free_mail"], true);
    assert_eq!(stored["lead"]["qualification"]["score"], -30.0);

    let junk = post(
        &h,
        json!({"email": "bot@mailinator.com", "company": "Acme"}),
    )
    .await;
    assert_eq!(junk["owner"]["id"], "junk");

    let role = post(
        &h,
        json!({"email": "info@acme-robotics.com", "employees": "20"}),
    )
    .await;
    let stored = get_lead(&h, role["lead_id"].as_str().unwrap()).await;
    assert_eq!(stored["lead"]["qualification"]["role_address"], true);
    assert_eq!(stored["lead"]["qualification"]["score"], -10.0);

    // A bot fills the honeypot: the same kind of answer, but stored as spam, routed nowhere.
    let counted =
        |items: Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>| {
            items
                .iter()
                .filter(|i| !s(i, "pk").starts_with("IDEMPOTENCY#"))
                .count()
        };
    let before = counted(h.items().await);
    let form = Request::post("/leads")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "source_key={SOURCE_KEY}&email=buy%40pills.example&company=Acme&_honeypot=http%3A%2F%2Fspam.example"
        )))
        .unwrap();
    let reply = h.send(form).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["status"], "queued");
    let spam_id = reply.body["lead_id"].as_str().unwrap();
    let stored = get_lead(&h, spam_id).await;
    assert_eq!(stored["status"], "spam");
    assert_eq!(stored["lead"]["qualification"]["spam"], true);
    assert!(stored["notifications"].as_array().unwrap().is_empty());
    let written = counted(h.items().await) - before;
    assert_eq!(
        written, 1,
        "the lead, which holds its first history entry; no contact, no counters"
    );
}

#[tokio::test]
async fn a_demo_request_without_a_company_goes_to_data_quality_and_a_newsletter_need_not() {
    let h = Harness::example().await;
    common::install_key(&h.store, "lrs_demo_request", Role::Source, "demo-request").await;
    let demo = |lead: Value| {
        Request::post("/leads")
            .header("content-type", "application/json")
            .header("x-source-key", "lrs_demo_request")
            .body(Body::from(lead.to_string()))
            .unwrap()
    };
    let missing = h
        .send(demo(json!({"email": "jane@acme-robotics.com"})))
        .await;
    assert_eq!(missing.status, StatusCode::CREATED, "stored, not rejected");
    assert_eq!(missing.owner(), "data-quality");
    let reason = missing.body["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "Missing company (required for source 'demo-request'), so it goes to data quality."
        ),
        "{reason}"
    );
    let complete = h
        .send(demo(
            json!({"email": "joe@acme-robotics.com", "company": "Acme", "employees": "20"}),
        ))
        .await;
    assert_eq!(complete.body["pool"], "smb");
    let newsletter = post(
        &h,
        json!({"email": "ann@acme-robotics.com", "employees": "20"}),
    )
    .await;
    assert_eq!(newsletter["pool"], "smb");
}

#[tokio::test]
async fn consent_and_do_not_contact_are_stored_and_passed_to_notifications() {
    let h = Harness::example().await;
    let lead = post(
        &h,
        json!({"email": "jane@acme-robotics.com", "employees": "20", "consent": "yes", "do_not_call": "on"}),
    )
    .await;
    let stored = get_lead(&h, lead["lead_id"].as_str().unwrap()).await;
    assert_eq!(stored["lead"]["consent"], true);
    assert_eq!(stored["lead"]["do_not_contact"], true);
    let notes = stored["notifications"].as_array().unwrap();
    assert!(!notes.is_empty(), "the SMB pool notifies its channels");
    for note in notes {
        assert_eq!(note["message"]["lead"]["do_not_contact"], true);
        assert_eq!(note["message"]["lead"]["consent"], true);
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_the_answer_and_refuses_another_payload() {
    let h = Harness::example().await;
    let lead = json!({"email": "jane@acme-robotics.com", "employees": "20"});
    let first = h
        .send(json_lead(lead.clone(), &[("idempotency-key", "k-1")]))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let replay = h.send(json_lead(lead, &[("idempotency-key", "k-1")])).await;
    assert_eq!(replay.status, StatusCode::OK);
    assert_eq!(replay.body, first.body);
    let other = json!({"email": "someone-else@acme-robotics.com"});
    let reused = h
        .send(json_lead(other, &[("idempotency-key", "k-1")]))
        .await;
    assert_eq!(
        reused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        reused.body
    );
    assert_eq!(reused.content_type(), "application/problem+json");
    let records = h
        .items()
        .await
        .into_iter()
        .filter(|i| s(i, "pk").starts_with("IDEMPOTENCY#"))
        .collect::<Vec<_>>();
    assert!(
        records.iter().all(|r| num(r, "expires_at") > 0),
        "TTL attribute set"
    );
}

/// A plain HTML form post of `fields` (URL-encoded) with the test source key.
fn form_post(fields: &str) -> Request<Body> {
    Request::post("/leads")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("source_key={SOURCE_KEY}&{fields}")))
        .unwrap()
}

/// Posts `fields` as a form `clicks` times at once; every answer a success. The distinct lead
/// ids answered.
async fn clicks(h: &Harness, fields: &str, clicks: usize) -> Vec<String> {
    let mut tasks = Vec::new();
    for _ in 0..clicks {
        let (router, request) = (h.router.clone(), form_post(fields));
        tasks.push(tokio::spawn(async move { send_to(&router, request).await }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        assert!(reply.status.is_success(), "{:?}", reply.body);
        ids.push(reply.body["lead_id"].as_str().unwrap().to_string());
    }
    ids.sort();
    ids.dedup();
    ids
}

#[tokio::test]
async fn twenty_double_clicks_without_a_key_make_one_lead_and_a_later_resubmission_another() {
    let h = Harness::example().await;
    let form = "email=jane%40acme-robotics.com&company=Acme&employees=20";
    let ids = clicks(&h, form, 20).await;
    assert_eq!(ids.len(), 1, "one lead for twenty clicks");
    assert_eq!(h.lead_items().await.len(), 1);
    // No claim of its own: the contact, written with the lead, holds the submission.
    let items = h.items().await;
    assert!(!items.iter().any(|i| s(i, "pk").starts_with("IDEMPOTENCY#")));
    let contact = items
        .iter()
        .find(|i| s(i, "pk") == "CONTACT#jane@acme-robotics.com")
        .expect("the contact");
    let submission = contact["submission"].as_m().unwrap();
    assert_eq!(s(submission, "lead_id"), ids[0]);
    // A minute later the same form is a new submission (of a returning contact).
    h.clock.set("2026-11-24T15:01:01Z");
    let later = h.send(form_post(form)).await;
    assert_eq!(later.status, StatusCode::CREATED);
    let later_id = later.body["lead_id"].as_str().unwrap().to_string();
    assert_ne!(later_id, ids[0]);
    assert_eq!(h.lead_items().await.len(), 2);
    // Its own double clicks, at once, meet the returning contact's write: still one lead.
    h.clock.set("2026-11-24T15:01:05Z");
    assert_eq!(clicks(&h, form, 10).await, [later_id]);
    assert_eq!(h.lead_items().await.len(), 2);
}

#[tokio::test]
async fn double_clicks_of_a_returning_contact_at_once_make_one_lead_and_a_changed_form_another() {
    let h = Harness::example().await;
    let first = h
        .send(form_post("email=sam%40acme-robotics.com&company=Acme"))
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    // Twenty clicks of a corrected form, at once, from the same (now returning) person.
    let ids = clicks(
        &h,
        "email=sam%40acme-robotics.com&company=Acme+Robotics",
        20,
    )
    .await;
    assert_eq!(ids.len(), 1, "one lead for twenty clicks");
    assert_ne!(ids[0], first.body["lead_id"].as_str().unwrap());
    assert_eq!(h.lead_items().await.len(), 2);
}

#[tokio::test]
async fn double_clicks_of_a_lead_without_an_email_are_kept_apart_by_a_claim() {
    let h = Harness::example().await;
    let ids = clicks(&h, "phone=%2B1+212+555+0100&company=Acme", 10).await;
    assert_eq!(ids.len(), 1, "one lead for ten clicks");
    assert_eq!(h.lead_items().await.len(), 1);
    let items = h.items().await;
    assert!(items.iter().any(|i| s(i, "pk").starts_with("IDEMPOTENCY#")));
}

#[test]
fn the_template_expires_idempotency_records_by_ttl() {
    let template: serde_yaml::Value =
        serde_yaml::from_str(leadrouter::store::dynamo::tables::TEMPLATE).unwrap();
    let ttl = &template["Resources"]["LeadsTable"]["Properties"]["TimeToLiveSpecification"];
    assert_eq!(ttl["AttributeName"].as_str(), Some("expires_at"));
    assert_eq!(ttl["Enabled"].as_bool(), Some(true));
}

//! The example config's routing promises, each a scenario posted through the router and stored
//! in DynamoDB Local.

mod common;

use std::io::Read;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{lead_id_of, Harness, ADMIN_KEY, SOURCE_KEY};
use serde_json::json;

async fn route(h: &Harness, lead: serde_json::Value) -> common::Reply {
    let reply = h.post_lead(lead).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    reply
}

#[tokio::test]
async fn a_small_company_goes_to_the_smb_pool_in_rotation() {
    let h = Harness::example().await;
    let mut owners = Vec::new();
    for i in 0..5 {
        let r = route(
            &h,
            json!({"email": format!("p{i}@tinyco.io"), "company_size": "1-10"}),
        )
        .await;
        assert_eq!(r.body["pool"], "smb");
        assert_eq!(r.body["rule_id"], "smb");
        owners.push(r.owner().to_string());
    }
    assert_eq!(owners, ["sam", "sara", "sol", "sky", "sam"]);
}

#[tokio::test]
async fn mid_market_goes_to_the_territory_rep() {
    let h = Harness::example().await;
    let na = route(
        &h,
        json!({"email": "a@acme.com", "employees": "51-200", "country": "USA"}),
    )
    .await;
    assert_eq!(na.owner(), "maya");
    let emea = route(
        &h,
        json!({"email": "b@acme.de", "employees": 300, "country": "Deutschland"}),
    )
    .await;
    assert_eq!(emea.owner(), "emil");
    assert!(emea.body["reason"]
        .as_str()
        .unwrap()
        .contains("mid-market-emea"));
}

#[tokio::test]
async fn a_600_employee_lead_goes_to_the_named_enterprise_owner() {
    let h = Harness::example().await;
    let r = route(
        &h,
        json!({"email": "cio@bigcorp.com", "employees": "600", "country": "FR"}),
    )
    .await;
    assert_eq!(r.owner(), "erin");
    assert_eq!(r.body["status"], "assigned");
    assert_eq!(r.body["owner"]["name"], "Erin Okafor");
}

#[tokio::test]
async fn geography_without_size_goes_to_the_regional_team() {
    let h = Harness::example().await;
    let us = route(
        &h,
        json!({"email": "a@shop.com", "country": "United States"}),
    )
    .await;
    assert_eq!(us.body["pool"], "north-america");
    let ca = route(&h, json!({"email": "b@shop.ca", "country": "CA"})).await;
    assert_eq!(ca.body["pool"], "north-america");
    let fr = route(&h, json!({"email": "c@boutique.fr", "country": "France"})).await;
    assert_eq!(fr.body["pool"], "emea");
    let de = route(&h, json!({"email": "d@laden.de", "country": "DEU"})).await;
    assert_eq!(de.body["pool"], "emea");
}

#[tokio::test]
async fn a_bank_goes_to_the_financial_services_specialist() {
    let h = Harness::example().await;
    let r = route(
        &h,
        json!({"email": "cfo@lender.com", "industry": "Banking", "employees": 2000}),
    )
    .await;
    assert_eq!(r.owner(), "fiona");
    let by_name = route(
        &h,
        json!({"email": "x@northwind.com", "company": "Northwind Bank"}),
    )
    .await;
    assert_eq!(by_name.owner(), "fiona");
}

#[tokio::test]
async fn a_product_demo_goes_to_that_products_team() {
    let h = Harness::example().await;
    let a = route(
        &h,
        json!({"email": "a@acme.com", "product_interest": "Product A", "source": "demo_request"}),
    )
    .await;
    assert_eq!(a.body["pool"], "product-a");
    let b = route(&h, json!({"email": "b@acme.com", "product": "product b"})).await;
    assert_eq!(b.body["pool"], "product-b");
}

#[tokio::test]
async fn free_mail_and_students_go_to_nurture() {
    let h = Harness::example().await;
    for lead in [
        json!({"email": "someone@gmail.com", "employees": 5000}),
        json!({"email": "someone@Outlook.com"}),
        json!({"email": "someone@mit.edu"}),
        json!({"email": "someone@acme.com", "job_title": "Student"}),
    ] {
        let r = route(&h, lead).await;
        assert_eq!(r.body["status"], "queued");
        assert_eq!(r.owner(), "nurture");
        assert_eq!(r.body["pool"], serde_json::Value::Null);
    }
}

#[tokio::test]
async fn anything_else_goes_to_the_default_pool_even_with_only_an_email() {
    let h = Harness::example().await;
    let r = route(&h, json!({"email": "who@somewhere.io"})).await;
    assert_eq!(r.body["pool"], "default");
    assert_eq!(r.body["rule_id"], "default");
    assert!(r.body["reason"]
        .as_str()
        .unwrap()
        .starts_with("No earlier rule matched"));
}

#[tokio::test]
async fn a_plain_html_form_post_works_and_can_redirect() {
    let h = Harness::example().await;
    let form = Request::post("/leads?source_key=".to_string() + SOURCE_KEY)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(
            "email=pat%40acme.com&name=Pat+Lee&company_size=11-49&country=Canada",
        ))
        .unwrap();
    let r = h.send(form).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["pool"], "smb");

    let with_redirect = Request::post("/leads")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "source_key={SOURCE_KEY}&email=kim%40acme.com&_redirect=https%3A%2F%2Fexample.com%2Fthanks"
        )))
        .unwrap();
    let r = h.send(with_redirect).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers["location"], "https://example.com/thanks");
    assert_eq!(h.lead_items().await.len(), 2);
}

#[tokio::test]
async fn a_source_key_can_send_the_lead_id_to_its_thank_you_page() {
    let h = Harness::example().await;
    let (key, _) = h
        .app
        .create_key(
            leadrouter::app::auth::NewKey {
                role: leadrouter::domain::access::Role::Source,
                name: "landing-page".into(),
                allowed_redirects: vec!["https://example.com/".into()],
                allowed_origins: vec![],
                redirect_lead_id: true,
            },
            None,
            &leadrouter::domain::access::Actor::cli(),
        )
        .await
        .unwrap();
    assert!(key.starts_with("lrs_"));
    let form = Request::post("/leads")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "source_key={key}&email=kim%40acme.com&_redirect=https%3A%2F%2Fexample.com%2Fthanks%3Fplan%3Dpro"
        )))
        .unwrap();
    let r = h.send(form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let location = r.headers["location"].to_str().unwrap();
    let id = location
        .strip_prefix("https://example.com/thanks?plan=pro&lead_id=")
        .unwrap_or_else(|| panic!("{location}"));
    let lead = h.get(&format!("/leads/{id}"), ADMIN_KEY).await;
    assert_eq!(lead.status, StatusCode::OK);
    assert_eq!(lead.body["source"], "landing-page");
}

#[tokio::test]
async fn a_stored_lead_explains_itself_to_an_admin() {
    let h = Harness::example().await;
    let r = route(&h, json!({"email": "Jo@Acme.com", "employees": "12", "country": "US", "utm_source": "google", "favourite_colour": "teal"})).await;
    let id = r.body["lead_id"].as_str().unwrap();
    let get = |key: Option<&str>| {
        let mut b = Request::get(format!("/leads/{id}"));
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        b.body(Body::empty()).unwrap()
    };
    let denied = h.send(get(None)).await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    let denied = h.send(get(Some(SOURCE_KEY))).await;
    assert_eq!(
        denied.status,
        StatusCode::FORBIDDEN,
        "a source key may only submit leads"
    );

    let lead = h.send(get(Some(ADMIN_KEY))).await;
    assert_eq!(lead.status, StatusCode::OK);
    let body = &lead.body;
    assert_eq!(body["lead"]["email"]["address"], "jo@acme.com");
    assert_eq!(body["lead"]["custom"]["favourite_colour"], "teal");
    assert_eq!(body["assignment"]["rule_id"], "smb");
    assert_eq!(body["assignment"]["turn"]["turn"], 1);
    assert_eq!(body["assignment"]["turn"]["position"], 1);
    assert!(body["assignment"]["matched"][0]
        .as_str()
        .unwrap()
        .contains("employees < 50"));
    assert_eq!(body["history"][0]["event"], "assigned");
    assert_eq!(body["history"][0]["reason"], r.body["reason"]);
}

#[tokio::test]
async fn a_lead_is_stored_without_what_its_item_says_twice_and_reads_back_whole() {
    let h = Harness::example().await;
    let r = route(
        &h,
        json!({"email": "Jo@Acme.com", "company": "Acme", "country": "US", "employees": "12"}),
    )
    .await;
    let id = r.body["lead_id"].as_str().unwrap();
    let items = h.lead_items().await;
    let item = items.iter().find(|i| lead_id_of(i) == id).unwrap();
    // The facts (which the log indexes project) hold the email, company and country; the
    // first assignment is the arrival's; the stint began then, and its owner, pool, deadline
    // and number are the lead's; the assignment's owner id, rule, pool, eligible reps and
    // config version are the lead's or the stint's. The assignment, with its reason, is kept
    // as deflated JSON, which is smaller.
    let lead = item["lead"].as_m().unwrap();
    for said in ["email", "company", "country"] {
        assert!(
            !lead.contains_key(said),
            "the lead repeats its facts' {said}"
        );
    }
    assert!(!item.contains_key("assigned_at") && !item.contains_key("assignment_no"));
    let mut stint: Vec<_> = item["stint"].as_m().unwrap().keys().collect();
    stint.sort();
    assert_eq!(stint, ["eligible", "version"]);
    let assignment = inflated(&item["assignment"]);
    let assignment = assignment.as_m().unwrap();
    for said in ["rule_id", "config_version"] {
        assert!(
            !assignment.contains_key(said),
            "the assignment repeats {said}"
        );
    }
    let owner = assignment["owner"].as_m().unwrap();
    assert_eq!(owner.keys().collect::<Vec<_>>(), ["name"]);
    let turn = assignment["turn"].as_m().unwrap();
    assert!(!turn.contains_key("pool") && !turn.contains_key("eligible"));

    let body = h.get(&format!("/leads/{id}"), ADMIN_KEY).await.body;
    let a = &body["assignment"];
    assert_eq!(a["owner"]["id"], body["owners"][0], "{body}");
    assert_eq!(a["owner"]["kind"], "rep");
    assert_eq!(
        (&a["rule_id"], &a["config_version"]),
        (&json!("smb"), &json!(1))
    );
    assert_eq!(a["turn"]["pool"], "smb");
    assert_eq!(a["turn"]["eligible"], json!(["sam", "sara", "sol", "sky"]));
    let first = &body["stints"][0];
    assert_eq!(first["owner"], a["owner"]["id"]);
    assert_eq!((&first["pool"], &first["n"]), (&json!("smb"), &json!(1)));
    assert_eq!(first["due"], body["sla_due_at"]);
    assert_eq!(first["eligible"][0], json!(["sam", 1]));
    assert_eq!(body["lead"]["email"]["address"], "jo@acme.com");
    assert_eq!(body["lead"]["email"]["domain"], "acme.com");
    assert_eq!(body["lead"]["company"], "Acme");
    assert_eq!(body["lead"]["country"], "US");
    assert_eq!(body["assignment_number"], 1);
    assert_eq!(body["assigned_at"], body["received_at"]);
    assert_eq!(body["stints"][0]["at"], body["received_at"]);

    // The log reads the row the indexes project (the report reads its stints the same way).
    let log = h.get("/leads?q=acme", ADMIN_KEY).await;
    assert_eq!(log.status, StatusCode::OK, "{:?}", log.body);
    let row = &log.body["leads"][0];
    assert_eq!(row["lead_id"], id);
    assert_eq!(row["email"], "jo@acme.com");
    assert_eq!(row["company"], "Acme");
}

/// A binary attribute as the map it was deflated from (raw deflate of its JSON).
fn inflated(value: &AttributeValue) -> AttributeValue {
    let AttributeValue::B(bytes) = value else {
        panic!("not deflated: {value:?}");
    };
    let mut json = Vec::new();
    flate2::read::DeflateDecoder::new(bytes.as_ref())
        .read_to_end(&mut json)
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    serde_dynamo::to_attribute_value(json).unwrap()
}

#[tokio::test]
async fn a_new_config_version_takes_effect_and_old_versions_are_kept() {
    let h = Harness::example().await;
    let first = route(&h, json!({"email": "a@x-corp.com"})).await;
    assert_eq!(first.body["pool"], "default");
    let everything_to_erin =
        "reps: [{id: erin, name: Erin}]\nrules: [{id: all, route: {rep: erin}}]\n";
    let publish = Request::post("/admin/config?base_version=1")
        .header("authorization", format!("Bearer {ADMIN_KEY}"))
        .body(Body::from(everything_to_erin))
        .unwrap();
    let published = h.send(publish).await;
    assert_eq!(
        published.status,
        StatusCode::CREATED,
        "{:?}",
        published.body
    );
    assert_eq!(published.body["version"], 2);
    let second = route(&h, json!({"email": "b@x-corp.com"})).await;
    assert_eq!(second.owner(), "erin");
    let active = h
        .send(
            Request::get("/admin/config")
                .header("authorization", format!("Bearer {ADMIN_KEY}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(active.body["version"], 2);
}

#[tokio::test]
async fn after_hours_smb_leads_overflow_to_the_inbound_team_with_every_reason() {
    let h = Harness::example().await;
    // Thanksgiving evening: Sam and Sara are on holiday, Sol and Sky are off shift.
    h.clock.set("2026-11-27T01:00:00Z");
    let r = route(&h, json!({"email": "late@tinyco.io", "employees": "8"})).await;
    assert_eq!(r.body["pool"], "default");
    assert!(["dana", "drew"].contains(&r.owner()));
    let reason = r.body["reason"].as_str().unwrap();
    for part in [
        "nobody in pool 'SMB team' could take it",
        "Sam Ortiz (on holiday (2026-11-26))",
        "Sol Park (off shift (local time Thu 17:00 PST))",
        "so it overflowed; assigned to",
        "in pool 'Inbound team'",
    ] {
        assert!(reason.contains(part), "missing {part:?} in {reason}");
    }
}

#[tokio::test]
async fn product_a_is_weighted_two_to_one_and_product_b_goes_to_the_least_loaded() {
    let h = Harness::example().await;
    let mut a = Vec::new();
    for i in 0..6 {
        a.push(
            route(
                &h,
                json!({"email": format!("a{i}@acme.com"), "product": "a"}),
            )
            .await
            .owner()
            .to_string(),
        );
    }
    assert_eq!(a.iter().filter(|o| *o == "alex").count(), 4, "{a:?}");
    let first = route(&h, json!({"email": "b1@acme.com", "product": "b"})).await;
    let second = route(&h, json!({"email": "b2@acme.com", "product": "b"})).await;
    assert_ne!(first.owner(), second.owner());
    // Whoever acknowledges first gets the next one.
    let acked = h
        .lead_action(first.body["lead_id"].as_str().unwrap(), "ack")
        .await;
    assert_eq!(acked.status, StatusCode::OK);
    let third = route(&h, json!({"email": "b3@acme.com", "product": "b"})).await;
    assert_eq!(third.owner(), first.owner());
}

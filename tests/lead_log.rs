//! The lead log against DynamoDB Local: 2,500 leads over five days, paged through with every
//! filter, each lead exactly once and newest first; and the same rows as CSV, escaped.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::StatusCode;
use serde_json::{json, Value};

use common::{json_lead_with_key, lead_id_of, num, s, send_to, Harness, SOURCE_KEY, VIEWER_KEY};
use leadrouter::domain::access::Role;

const CHAT_KEY: &str = "lrs_log_chat_key";
const DAYS: usize = 5;
const PER_DAY: usize = 500;

const CONFIG: &str = r#"
reps:
  - {id: a1, name: A1}
  - {id: a2, name: A2}
  - {id: b1, name: B1}
pools:
  - {id: alpha, name: Alpha, reps: [a1, a2]}
  - {id: beta, name: Beta, reps: [b1], sla: {minutes: 30, max_escalations: 0}}
queues:
  - {id: nurture, name: Nurture}
rules:
  - {id: free, when: {free_mail: true}, route: {queue: nurture}}
  - {id: beta, when: {product: beta}, route: {pool: beta}}
  - {id: default, route: {pool: alpha}}
"#;

/// A company name that needs escaping in CSV, for every 50th lead. (Intake folds line breaks
/// in names and companies into spaces; the CSV writer's own test covers a line break.)
const AWKWARD: &str = "Zürich Ünïcode, \"Quoted\" and Sons";

fn lead(day: usize, i: usize) -> Value {
    let n = day * PER_DAY + i;
    let email = if n % 10 == 3 {
        format!("p{n}@gmail.com")
    } else {
        format!("p{n}@firm{n}.com")
    };
    let company = if n % 50 == 7 {
        AWKWARD.to_string()
    } else {
        format!("Firm {n}")
    };
    let mut lead = json!({"email": email, "company": company, "first_name": "Zoë", "last_name": format!("N{n}")});
    if n % 5 == 1 {
        lead["product"] = json!("beta");
    }
    lead
}

/// Leads posted at once, a minute apart.
const BATCH: usize = 25;

/// Five days of 500 leads each, in batches of 25 a minute apart; every 7th lead acknowledged;
/// after the first day a sweep sends beta's unacknowledged leads (30 minutes, no second
/// chance) to the fallback queue.
async fn seed() -> Harness {
    let h = Harness::with_config_at(CONFIG, "2026-11-01T00:00:00Z").await;
    common::install_key(&h.store, CHAT_KEY, Role::Source, "chat").await;
    for day in 0..DAYS {
        h.clock.set(&format!("2026-11-{:02}T08:00:00Z", 20 + day));
        for batch in 0..PER_DAY / BATCH {
            let mut sends = Vec::new();
            for i in batch * BATCH..(batch + 1) * BATCH {
                let key = if i % 3 == 0 { CHAT_KEY } else { SOURCE_KEY };
                let request = json_lead_with_key(lead(day, i), key);
                let router = h.router.clone();
                sends.push(tokio::spawn(async move { send_to(&router, request).await }));
            }
            for (j, send) in sends.into_iter().enumerate() {
                let reply = send.await.unwrap();
                assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
                if (batch * BATCH + j) % 7 == 0 && reply.owner() != "nurture" {
                    let id = reply.body["lead_id"].as_str().unwrap();
                    let ack = h.lead_action(id, "ack").await;
                    assert_eq!(ack.status, StatusCode::OK);
                }
            }
            h.clock.advance(60);
        }
        if day == 0 {
            h.clock.set("2026-11-21T00:00:00Z");
            h.app
                .sweep(Instant::now() + Duration::from_secs(60))
                .await
                .expect("sweep");
        }
    }
    h
}

type Item = HashMap<String, AttributeValue>;

/// The log's order: newest arrival first, then the larger id.
fn newest_first(items: &[&Item]) -> Vec<String> {
    let mut keyed: Vec<(String, String)> = items
        .iter()
        .map(|i| (s(i, "received_at"), lead_id_of(i)))
        .collect();
    keyed.sort_by(|a, b| b.cmp(a));
    keyed.into_iter().map(|(_, id)| id).collect()
}

/// Every page of `/leads?<query>` at `limit` rows a page: the ids in the order returned.
async fn page_through(h: &Harness, query: &str, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut url = format!("/leads?{query}&limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let reply = h.get(&url, VIEWER_KEY).await;
        assert_eq!(reply.status, StatusCode::OK, "{url}: {:?}", reply.body);
        let page = reply.body["leads"].as_array().unwrap();
        assert!(page.len() <= limit);
        ids.extend(
            page.iter()
                .map(|l| l["lead_id"].as_str().unwrap().to_string()),
        );
        match reply.body["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return ids,
        }
    }
    panic!("{query}: the log never ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_log_pages_through_2500_leads_exactly_once_for_every_filter() {
    let started = Instant::now();
    let h = seed().await;
    eprintln!("seeded in {:?}", started.elapsed());
    let now = "2026-11-24T08:25:00Z";
    h.clock.set(now);
    let leads: Vec<Item> = h.lead_items().await;
    assert_eq!(leads.len(), DAYS * PER_DAY);
    let pending = |i: &Item| s(i, "sla_state") == "pending" && s(i, "sla_due_at").as_str() > now;
    let breached = |i: &Item| {
        s(i, "sla_state") == "breached"
            || (s(i, "sla_state") == "pending" && s(i, "sla_due_at").as_str() <= now)
    };
    let all = "from=2026-11-20&to=2026-11-24";
    type Filter<'a> = (&'a str, Box<dyn Fn(&Item) -> bool + 'a>);
    let filters: Vec<Filter> = vec![
        (all, Box::new(|_| true)),
        (
            "from=2026-11-22T08:10:00Z&to=2026-11-23T08:00:00Z",
            Box::new(|i| {
                let at = s(i, "received_at");
                at.as_str() >= "2026-11-22T08:10:00Z" && at.as_str() < "2026-11-23T08:00:00Z"
            }),
        ),
        ("owner=a1", Box::new(|i| s(i, "owner_id") == "a1")),
        ("owner=nurture", Box::new(|i| s(i, "owner_id") == "nurture")),
        (
            "owner=unrouted",
            Box::new(|i| s(i, "owner_id") == "unrouted"),
        ),
        ("pool=beta", Box::new(|i| s(i, "pool_id") == "beta")),
        ("rule=default", Box::new(|i| s(i, "rule_id") == "default")),
        ("source=chat", Box::new(|i| s(i, "source") == "chat")),
        (
            "status=acknowledged",
            Box::new(|i| s(i, "status") == "acknowledged"),
        ),
        ("status=queued", Box::new(|i| s(i, "status") == "queued")),
        ("sla=met", Box::new(|i| s(i, "sla_state") == "met")),
        ("sla=breached", Box::new(breached)),
        ("sla=pending", Box::new(pending)),
        ("escalated=true", Box::new(|i| num(i, "escalations") > 0)),
        ("escalated=false", Box::new(|i| num(i, "escalations") == 0)),
        (
            "q=z%C3%9CRICH",
            Box::new(|i| s(&facts(i), "company") == AWKWARD),
        ),
        (
            "q=p1234%40",
            Box::new(|i| s(&facts(i), "email").starts_with("p1234@")),
        ),
        (
            "pool=alpha&status=open&source=test-form",
            Box::new(|i| {
                s(i, "pool_id") == "alpha"
                    && s(i, "status") == "open"
                    && s(i, "source") == "test-form"
            }),
        ),
    ];
    for (query, keep) in &filters {
        let query = if query.starts_with("from=") {
            query.to_string()
        } else {
            format!("{all}&{query}")
        };
        let wanted: Vec<&Item> = leads.iter().filter(|i| keep(i)).collect();
        assert!(!wanted.is_empty(), "{query} matches nothing: a weak test");
        let got = page_through(&h, &query, 97).await;
        let unique: BTreeSet<&String> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "{query}: a lead came twice");
        assert_eq!(got, newest_first(&wanted), "{query}");
    }
    eprintln!("paged in {:?}", started.elapsed());
    // The escalated leads are exactly beta's unacknowledged first-day leads.
    let escalated = leads.iter().filter(|i| num(i, "escalations") > 0).count();
    assert!(escalated > 50, "{escalated}");
}

fn facts(item: &Item) -> Item {
    item.get("facts")
        .and_then(|f| f.as_m().ok())
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn csv_has_a_header_and_escapes_commas_quotes_line_breaks_and_accents() {
    let h = Harness::with_config_at(CONFIG, "2026-11-01T00:00:00Z").await;
    h.clock.set("2026-11-20T08:00:00Z");
    let reply = h
        .send(json_lead_with_key(
            json!({"email": "zoe@firm.com", "company": AWKWARD, "first_name": "Zoë", "last_name": "O'Brien, Jr."}),
            SOURCE_KEY,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let id = reply.body["lead_id"].as_str().unwrap().to_string();
    let as_json = h
        .get("/leads?from=2026-11-20&to=2026-11-20", VIEWER_KEY)
        .await;
    let line = &as_json.body["leads"][0];
    let by_format = h
        .call(
            "GET",
            "/leads?from=2026-11-20&to=2026-11-20&format=csv",
            Some(VIEWER_KEY),
            None,
        )
        .await;
    let by_accept = h
        .send(
            axum::http::Request::get("/leads?from=2026-11-20&to=2026-11-20")
                .header("authorization", format!("Bearer {VIEWER_KEY}"))
                .header("accept", "text/csv")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    for csv_reply in [by_format, by_accept] {
        assert_eq!(csv_reply.status, StatusCode::OK);
        assert!(csv_reply.content_type().starts_with("text/csv"));
        let text = csv_reply.body.as_str().unwrap().to_string();
        assert!(text.starts_with("lead_id,received_at,source,status,owner_kind,owner,"));
        assert!(
            text.contains("\"Zürich Ünïcode, \"\"Quoted\"\" and Sons\""),
            "{text}"
        );
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        let field =
            |name: &str| rows[0][headers.iter().position(|h| h == name).unwrap()].to_string();
        assert_eq!(field("lead_id"), id);
        assert_eq!(field("company"), AWKWARD);
        assert_eq!(field("name"), "Zoë O'Brien, Jr.");
        assert_eq!(field("email"), line["email"].as_str().unwrap());
        assert_eq!(field("owner"), line["owner"].as_str().unwrap());
    }
    // An empty page still has the header row.
    let empty = h
        .call(
            "GET",
            "/leads?from=2026-11-01&to=2026-11-02&format=csv",
            Some(VIEWER_KEY),
            None,
        )
        .await;
    assert!(empty
        .body
        .as_str()
        .unwrap()
        .starts_with("lead_id,received_at,"));
    // Bad parameters are named; a source key cannot read the log.
    for (query, field) in [
        ("status=opn", "status"),
        ("sla=late", "sla"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("escalated=maybe", "escalated"),
        ("from=2026-11-21&to=2026-11-20", "from"),
        ("owners=a1", "owners"),
        ("cursor=zzzz", "cursor"),
        ("format=xml", "format"),
    ] {
        let reply = h.get(&format!("/leads?{query}"), VIEWER_KEY).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {:?}",
            reply.body
        );
        assert_eq!(reply.body["field"], field, "{query}");
    }
    let source = h.get("/leads", SOURCE_KEY).await;
    assert_eq!(source.status, StatusCode::FORBIDDEN);
}

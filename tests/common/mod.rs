//! Shared test harness: a fresh table per test in the DynamoDB Local that scripts/test.sh
//! starts (DYNAMODB_ENDPOINT), the real router over it, and helpers to call it in-process.
#![allow(dead_code)]

pub mod browser;
pub mod faulty;
pub mod local_dynamo;
pub mod receiver;
pub mod ses;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use leadrouter::app::{hash_secret, App, Clock};
use leadrouter::delivery::{Notifier, NotifySettings};
use leadrouter::domain::access::Role;
use leadrouter::domain::notify::Setting;
use leadrouter::store::dynamo::tables;
use leadrouter::store::dynamo::{self, DynamoStore};
use leadrouter::store::{KeyRecord, KeyStore, Store};

/// The key the harness installs for lead submissions (the same one events/ uses).
pub const SOURCE_KEY: &str = "lrs_local_dev_source_key";
/// The key the harness installs for admin calls.
pub const ADMIN_KEY: &str = "lra_local_dev_admin_key";
/// A key that may only read (leads, reports, the config).
pub const VIEWER_KEY: &str = "lrv_test_viewer_key";
/// A key that may change routing and work leads, but not manage keys.
pub const EDITOR_KEY: &str = "lre_test_editor_key";
/// A CRM's key: reads and works leads.
pub const INTEGRATION_KEY: &str = "lri_test_crm_key";
/// The key acknowledge links are signed with in tests.
pub const ACK_KEY: &str = "test-ack-link-key";
/// The public URL acknowledge links point at in tests.
pub const PUBLIC_URL: &str = "https://leads.example.test";

/// The notifier tests use: a fixed link key and a short timeout.
pub fn notifier() -> Notifier {
    Notifier::new(NotifySettings {
        public_url: Some(PUBLIC_URL.into()),
        ack_key: Setting::Plain(ACK_KEY.into()),
        timeout: Duration::from_secs(2),
    })
}

/// The example routing config.
pub const EXAMPLE_CONFIG: &str = include_str!("../../config/example.yaml");

/// How long the harness's client waits for DynamoDB Local.
#[derive(Clone, Copy)]
enum Patience {
    /// Production's client: 3 s per attempt, then the SDK sends the call again.
    Production,
    /// See [`patient`].
    Patient,
}

/// `client` waiting up to 30 s per attempt instead of 3. Tests of what concurrency does use it:
/// with both cores busy (CI runs two tests at once), DynamoDB Local can stall past 3 s, and the
/// SDK then sends a call again whose first attempt may have landed. For the updates of a pool's
/// rotation that loses a ticket (or gives one back twice) until the sweeper's repair, which
/// tests of an exact split do not run. `tests/faults.rs` tests production's timeouts, through
/// [`Harness::build`].
fn patient(client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
    let config = client
        .config()
        .to_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A router on its own fresh table.
pub struct Harness {
    pub app: Arc<App>,
    pub router: Router,
    pub store: DynamoStore,
    /// The app's clock; the system clock until a test sets it.
    pub clock: Arc<TestClock>,
    /// Items present once set-up finished (config, roster, keys).
    baseline: HashSet<(String, String)>,
}

/// A clock a test can set; it follows the system clock until then.
#[derive(Debug, Default)]
pub struct TestClock(Mutex<Option<jiff::Timestamp>>);

impl TestClock {
    /// From now on, it is `at` (RFC 3339).
    pub fn set(&self, at: &str) {
        *self.0.lock().unwrap() = Some(at.parse().expect("RFC 3339 time"));
    }

    /// Moves the clock `seconds` ahead.
    pub fn advance(&self, seconds: i64) {
        let mut now = self.0.lock().unwrap();
        let at = now.unwrap_or_else(jiff::Timestamp::now);
        *now = Some(at + jiff::SignedDuration::from_secs(seconds));
    }
}

impl Clock for TestClock {
    fn now(&self) -> jiff::Timestamp {
        self.0.lock().unwrap().unwrap_or_else(jiff::Timestamp::now)
    }
}

pub fn endpoint() -> String {
    std::env::var("DYNAMODB_ENDPOINT").expect(
        "DYNAMODB_ENDPOINT is not set: run the tests with scripts/test.sh, which starts DynamoDB Local",
    )
}

impl Harness {
    /// A fresh table with `config` published and the test keys installed, on a [`patient`]
    /// client.
    pub async fn with_config(config: &str) -> Harness {
        Self::build_at(&endpoint(), config, None, Patience::Patient, |store| {
            Arc::new(store)
        })
        .await
    }

    /// The same, with the clock set to `at` (RFC 3339) before `config` is published.
    pub async fn with_config_at(config: &str, at: &str) -> Harness {
        Self::build_at(&endpoint(), config, Some(at), Patience::Patient, |store| {
            Arc::new(store)
        })
        .await
    }

    /// A fresh table in the DynamoDB Local at `endpoint`, the app on the store `wrap` makes of
    /// it (the real one, or one that fails on purpose), with `config` published; the client
    /// has production's timeouts and retries, for tests of what storage faults do.
    pub async fn build(
        endpoint: &str,
        config: &str,
        wrap: impl FnOnce(DynamoStore) -> Arc<dyn Store>,
    ) -> Harness {
        Self::build_at(endpoint, config, None, Patience::Production, wrap).await
    }

    async fn build_at(
        endpoint: &str,
        config: &str,
        at: Option<&str>,
        patience: Patience,
        wrap: impl FnOnce(DynamoStore) -> Arc<dyn Store>,
    ) -> Harness {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .with_test_writer()
            .try_init();
        let client = dynamo::client(Some(endpoint)).await;
        let client = match patience {
            Patience::Patient => patient(&client),
            Patience::Production => client,
        };
        let table = format!("test-{}", uuid::Uuid::new_v4());
        tables::ensure_table(&client, &tables::leads_table(), &table)
            .await
            .expect("create table");
        let store = DynamoStore::new(client, table);
        for (key, role, name) in [
            (SOURCE_KEY, Role::Source, "test-form"),
            (ADMIN_KEY, Role::Admin, "test-admin"),
            (VIEWER_KEY, Role::Viewer, "test-viewer"),
            (EDITOR_KEY, Role::Editor, "test-editor"),
            (INTEGRATION_KEY, Role::Integration, "test-crm"),
        ] {
            install_key(&store, key, role, name).await;
        }
        // A zero cache time: every request sees the newest config (tests change it mid-run).
        let clock = Arc::new(TestClock::default());
        if let Some(at) = at {
            clock.set(at);
        }
        // Source keys cached as in production (KEY_CACHE_SECONDS' default).
        let app = Arc::new(
            App::new(
                wrap(store.clone()),
                clock.clone(),
                Duration::ZERO,
                notifier(),
            )
            .with_key_cache(Duration::from_secs(60)),
        );
        let mut harness = Harness {
            router: leadrouter::http::router(app.clone()),
            app,
            store,
            clock,
            baseline: HashSet::new(),
        };
        harness.publish(config).await;
        harness.baseline = harness
            .items()
            .await
            .iter()
            .map(|i| (s(i, "pk"), s(i, "sk")))
            .collect();
        harness
    }

    /// Publishes a routing config as an admin would; returns its version.
    pub async fn publish(&self, config: &str) -> u64 {
        match self.app.publish_config(config).await {
            Ok(version) => version,
            Err(e) => panic!("publish config: {e:?}"),
        }
    }

    /// Posts an admin action on a lead (`ack`, `close`).
    pub async fn lead_action(&self, lead_id: &str, action: &str) -> Reply {
        let request = Request::post(format!("/leads/{lead_id}/{action}"))
            .header("authorization", format!("Bearer {ADMIN_KEY}"))
            .body(Body::empty())
            .expect("request");
        self.send(request).await
    }

    /// Sends `method path` with `key` as a bearer key (if any) and a body of `content_type`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<(&str, String)>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(key) = key {
            builder = builder.header("authorization", format!("Bearer {key}"));
        }
        let request = match body {
            Some((content_type, body)) => builder
                .header("content-type", content_type)
                .body(Body::from(body)),
            None => builder.body(Body::empty()),
        };
        self.send(request.expect("request")).await
    }

    /// `GET path` with `key`.
    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.call("GET", path, Some(key), None).await
    }

    /// The example config, at a moment when every rep in it is on shift (Tuesday
    /// 2026-11-24 15:00 UTC: 10:00 in New York, 07:00 in Los Angeles, 16:00 in Berlin).
    pub async fn example() -> Harness {
        let harness = Self::with_config(EXAMPLE_CONFIG).await;
        harness.clock.set("2026-11-24T15:00:00Z");
        harness
    }

    /// Sends a request through the router.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        send_to(&self.router, request).await
    }

    /// Another router on the same table, like a second Lambda instance, sharing the clock but
    /// caching the routing config for `ttl` (the harness's own router re-reads it every time).
    pub fn another_lambda(&self, ttl: Duration) -> Router {
        let app = App::new(
            Arc::new(self.store.clone()),
            self.clock.clone(),
            ttl,
            notifier(),
        );
        leadrouter::http::router(Arc::new(app))
    }

    /// Posts a lead and returns the owner's id, asserting it was stored.
    pub async fn route(&self, lead: Value) -> String {
        let reply = self.post_lead(lead).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply.owner().to_string()
    }

    /// Posts a JSON lead with the source key.
    pub async fn post_lead(&self, lead: Value) -> Reply {
        self.send(json_lead(lead, &[])).await
    }

    /// Every item in the table (tests only: a Scan is fine here).
    pub async fn items(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .store
                .client()
                .scan()
                .table_name(self.store.table())
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .expect("scan");
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// Stored lead items (one per lead).
    pub async fn lead_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        self.items().await.into_iter().filter(is_lead).collect()
    }

    /// Items that are neither config nor keys: what a lead submission writes, but for the
    /// fences of lead ids given back (which hold no lead: they are what makes "nothing was
    /// stored" certain).
    pub async fn written_by_intake(&self) -> usize {
        self.items()
            .await
            .iter()
            .filter(|i| !self.baseline.contains(&(s(i, "pk"), s(i, "sk"))))
            .filter(|i| !i.contains_key("fenced"))
            .count()
    }
}

/// Stores `key` with `role` and `name` (a source key may redirect forms to example.com).
pub async fn install_key(store: &DynamoStore, key: &str, role: Role, name: &str) {
    let mut record = KeyRecord::new(
        hash_secret(key),
        role,
        name,
        "2026-11-22T00:00:00Z".parse().unwrap(),
    );
    record.allowed_redirects = vec!["https://example.com/".into()];
    store.put_key(&record, None).await.expect("put key");
}

/// Sends a request through a router.
pub async fn send_to(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.expect("router");
    Reply::read(response).await
}

/// A numeric attribute of an item (0 if absent).
pub fn num(item: &HashMap<String, AttributeValue>, key: &str) -> i64 {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Which assignment a lead's item is at (a lead's first is stored without its number).
pub fn assignment_no(lead: &HashMap<String, AttributeValue>) -> i64 {
    lead.get("assignment_no")
        .map_or(1, |_| num(lead, "assignment_no"))
}

/// A lead item's email address, from its facts (the item's `lead` leaves out what its facts
/// hold).
pub fn email_of(lead: &HashMap<String, AttributeValue>) -> String {
    let facts = lead["facts"].as_m().expect("a lead's facts");
    s(facts, "email")
}

/// A string attribute of an item ("" if absent).
pub fn s(item: &HashMap<String, AttributeValue>, key: &str) -> String {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

/// Whether a raw item is a lead (not another item of its partition, nor a fence).
pub fn is_lead(item: &HashMap<String, AttributeValue>) -> bool {
    s(item, "pk").starts_with("LEAD#") && s(item, "sk") == "LEAD" && !item.contains_key("fenced")
}

/// The id of the lead a raw lead item is (from its key: the id is not stored twice).
pub fn lead_id_of(item: &HashMap<String, AttributeValue>) -> String {
    s(item, "pk")
        .strip_prefix("LEAD#")
        .expect("a lead's item")
        .to_string()
}

/// The ticket of `pool` each stored lead in `items` used, with the lead and its owner, in
/// ticket order: read from the leads themselves (a new ticket has no record of its own), so a
/// ticket two leads used would show up twice. Tickets spent passing through the pool are not
/// here (they are `TURN#` items marked `passed`).
pub fn pool_turns(
    items: &[HashMap<String, AttributeValue>],
    pool: &str,
) -> Vec<(u64, String, String)> {
    let mut turns: Vec<(u64, String, String)> = items
        .iter()
        .filter(|i| is_lead(i))
        .filter_map(|i| dynamo::lead_of_item(i.clone()).expect("a lead item"))
        .filter_map(|lead| {
            let turn = lead.assignment.turn.as_ref().filter(|t| t.pool == pool)?;
            Some((
                turn.turn,
                lead.lead_id.clone(),
                lead.assignment.owner.id().to_string(),
            ))
        })
        .collect();
    turns.sort();
    turns
}

/// A JSON lead request sent with `key` as its source key.
pub fn json_lead_with_key(lead: Value, key: &str) -> Request<Body> {
    Request::post("/leads")
        .header("content-type", "application/json")
        .header("x-source-key", key)
        .body(Body::from(lead.to_string()))
        .expect("request")
}

/// A JSON lead request with the source key and extra headers.
pub fn json_lead(lead: Value, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::post("/leads")
        .header("content-type", "application/json")
        .header("x-source-key", SOURCE_KEY);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(lead.to_string())).expect("request")
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn read(response: Response<Body>) -> Reply {
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The owner's id (rep or queue).
    pub fn owner(&self) -> &str {
        self.body["owner"]["id"].as_str().unwrap_or("")
    }
}

/// Posts `count` distinct leads through `router`, at most `clients` at a time, and returns
/// every reply (in no particular order).
pub async fn flood(router: &Router, count: usize, clients: usize, tag: &str) -> Vec<Reply> {
    let gate = Arc::new(tokio::sync::Semaphore::new(clients));
    let mut tasks = Vec::new();
    for i in 0..count {
        let (router, gate) = (router.clone(), gate.clone());
        let lead = serde_json::json!({"email": format!("{tag}{i}@company{i}.com")});
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            send_to(&router, json_lead(lead, &[])).await
        }));
    }
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.unwrap());
    }
    replies
}

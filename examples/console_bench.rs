//! Benchmark of the console's pages for `scripts/console-bench.sh`: seeds `days` days of
//! `per_day` leads through the real intake (in process, the example config), serves the real
//! router on 127.0.0.1, signs in as an admin, then requests each page `runs` times warm over
//! HTTP and prints, per page, the median and p90 time to the last byte and how many DynamoDB
//! calls one request made (counted by an SDK interceptor on the store's client, retries
//! included, by operation).
//!
//! Usage: cargo run --release --example console_bench -- [days] [per_day] [runs]
//! (DYNAMODB_ENDPOINT must point at a DynamoDB Local.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use futures::stream::{self, StreamExt};
use leadrouter::app::auth::NewKey;
use leadrouter::app::{App, Clock, IntakeRequest};
use leadrouter::console::session;
use leadrouter::delivery::{Notifier, NotifySettings};
use leadrouter::domain::access::{Actor, Role};
use leadrouter::domain::lead::Lead;
use leadrouter::domain::notify::Setting;
use leadrouter::store::dynamo::{self, tables, DynamoStore};

struct BenchClock(Mutex<jiff::Timestamp>);

impl Clock for BenchClock {
    fn now(&self) -> jiff::Timestamp {
        *self.0.lock().unwrap()
    }
}

/// Every DynamoDB request the client sends, by operation (`Query`, `GetItem`, ...).
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "count DynamoDB calls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

impl Calls {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let days: i64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(7);
    let per_day: i64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(100);
    let runs: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(30);
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").expect("DYNAMODB_ENDPOINT");
    let calls = Calls::default();
    let plain = dynamo::client(Some(&endpoint)).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        plain
            .config()
            .to_builder()
            .interceptor(calls.clone())
            .build(),
    );
    let table = format!("console-bench-{}", uuid::Uuid::new_v4().simple());
    tables::ensure_table(&client, &tables::leads_table(), &table)
        .await
        .expect("table");
    let start: jiff::Timestamp = "2026-10-05T00:00:00Z".parse().unwrap();
    let clock = Arc::new(BenchClock(Mutex::new(start)));
    let notifier = Notifier::new(NotifySettings {
        public_url: Some("https://leads.example.test".into()),
        ack_key: Setting::Plain("bench".into()),
        timeout: Duration::from_millis(50),
    });
    let app = Arc::new(App::new(
        Arc::new(DynamoStore::new(client, &table)),
        clock.clone(),
        // The deployed default (CONFIG_CACHE_SECONDS): a warm process keeps the config.
        Duration::from_secs(15),
        notifier,
    ));
    app.publish_config(include_str!("../config/example.yaml"))
        .await
        .expect("config");
    let countries = ["US", "CA", "DE", "GB", "FR", "BR"];
    let sizes = ["12", "80", "250", "900", "3"];
    let mut some_lead = String::new();
    for day in 0..days {
        let at = start + jiff::SignedDuration::from_secs(day * 86_400 + 15 * 3600);
        *clock.0.lock().unwrap() = at;
        let ids: Vec<String> = stream::iter(0..per_day)
            .map(|i| {
                let app = app.clone();
                let n = (day * per_day + i) as usize;
                async move {
                    let pairs = [
                        ("email", format!("p{n}@company{n}.com")),
                        ("company", format!("Company {n}")),
                        ("first_name", format!("Pat{n}")),
                        ("employees", sizes[n % sizes.len()].to_string()),
                        ("country", countries[n % countries.len()].to_string()),
                    ];
                    let lead =
                        Lead::parse(pairs.iter().map(|(k, v)| (*k, v.as_str()))).expect("lead");
                    let request = IntakeRequest {
                        source: "bench".into(),
                        idempotency_key: None,
                        lead,
                        base_url: None,
                        deadline: None,
                    };
                    app.intake(request).await.expect("intake").receipt.lead_id
                }
            })
            .buffer_unordered(25)
            .collect()
            .await;
        some_lead = ids.last().cloned().unwrap_or_default();
    }
    *clock.0.lock().unwrap() = start + jiff::SignedDuration::from_secs(days * 86_400);

    let actor = Actor {
        name: "bench".into(),
        role: Role::Admin,
    };
    let new = NewKey {
        role: Role::Admin,
        name: "bench-admin".into(),
        allowed_redirects: Vec::new(),
        allowed_origins: Vec::new(),
        redirect_lead_id: false,
    };
    let (_, record) = app.create_key(new, None, &actor).await.expect("key");
    let signing = session::session_key(&app).await.expect("session key");
    let expires = app.now().as_second() + 3600;
    let cookie = format!(
        "{}={}",
        session::SESSION_COOKIE,
        session::session_value(&signing, &record.hash, expires, &session::nonce())
    );

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = leadrouter::http::router(app.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    let pages = [
        ("dashboard (7 days)", "/console".to_string()),
        ("leads", "/console/leads".to_string()),
        ("lead", format!("/console/leads/{some_lead}")),
        ("reps", "/console/reps".to_string()),
        ("rules", "/console/rules".to_string()),
        ("accounts", "/console/accounts".to_string()),
        ("keys", "/console/keys".to_string()),
        ("notifications", "/console/notifications".to_string()),
    ];
    println!("leads={} days={days} runs={runs}", days * per_day);
    println!(
        "{:<20} {:>9} {:>9} {:>8} {:>9}  calls per request",
        "page", "median_ms", "p90_ms", "bytes", "calls"
    );
    for (name, path) in pages {
        let url = format!("{base}{path}");
        let get = || async {
            let response = http
                .get(&url)
                .header("cookie", &cookie)
                .send()
                .await
                .expect("request");
            assert!(
                response.status().is_success(),
                "{url}: {}",
                response.status()
            );
            response.bytes().await.expect("body").len()
        };
        for _ in 0..3 {
            get().await;
        }
        calls.take();
        let mut times = Vec::with_capacity(runs);
        let mut bytes = 0;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for _ in 0..runs {
            let t = Instant::now();
            bytes = get().await;
            times.push(t.elapsed());
            for op in calls.take() {
                *counts.entry(op).or_default() += 1;
            }
        }
        times.sort();
        let total: usize = counts.values().sum();
        let by_op = counts
            .iter()
            .map(|(op, n)| format!("{op} {:.1}", *n as f64 / runs as f64))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "{name:<20} {:>9.1} {:>9.1} {bytes:>8} {:>9.1}  {by_op}",
            ms(times[runs / 2]),
            ms(times[runs * 9 / 10]),
            total as f64 / runs as f64,
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

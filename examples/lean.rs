//! What one lead costs, for `scripts/lean-bench.sh`: posts distinct leads through the real
//! router in process (`POST /leads` with a source key, as API Gateway hands them to the
//! function) against DynamoDB Local, and reports per lead the DynamoDB calls by operation,
//! the sequential round trips (at one client: groups of calls that overlap in time), the read
//! and write units real DynamoDB would charge (computed from the requests and items, see
//! below), latency and throughput; then the same DynamoDB Local's bare baselines in the same
//! run: PutItem p50 at one client, and the throughput of the smallest correct rotation at 32
//! clients (UpdateItem ADD on a counter + a conditional PutItem of the turn).
//!
//! Units are computed, not read from DynamoDB Local (whose ConsumedCapacity does not double
//! transactional writes): an item's size is its attribute names plus values (numbers as
//! digits / 2 + 1, lists and maps 3 bytes plus 1 per element); a write costs one unit per KB
//! of the larger of the item before and after (for an update, the item as it ends up, read
//! back after the run), twice that inside a transaction (ConditionCheck included); a read one
//! unit per 4 KB (strong) or half (eventual), a Query or BatchGetItem the sum of its items.
//! Index writes are counted too, from the indexes template.yaml defines: a write puts an
//! index entry (one unit per KB of what the index projects, never doubled) when the item is in
//! the index and the write names one of its keys or projected attributes, and deletes one
//! (one unit) when an update removes the index's keys.
//!
//! The router's clock runs at real speed from the latest Tuesday 15:00 UTC, a working hour of
//! every rep of the example config (working hours decide who is skipped, and the reasons
//! stored say so), so a run's figures do not depend on the hour it is started.
//!
//! The sweeper runs once after the warm-up and after each level, as it does once a minute
//! when deployed: its rotation repair takes the tickets it settled off the reps' entries, which
//! hold at most 100 each (past that a lead records its ticket as an item of its own, 2 write
//! units more). So a level stands for a minute's leads; a pool whose reps get over 100 leads
//! each in one minute pays those units, and the `POOL/TURN` line shows them.
//!
//! Usage: cargo run --release --example lean -- <config.yaml> <leads per level> <clients ...>
//! (DYNAMODB_ENDPOINT must point at a DynamoDB Local.)

#[path = "common/cpu.rs"]
mod cpu;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    batch_get_item::{BatchGetItemInput, BatchGetItemOutput},
    get_item::{GetItemInput, GetItemOutput},
    put_item::PutItemInput,
    query::{QueryInput, QueryOutput},
    transact_write_items::TransactWriteItemsInput,
    update_item::UpdateItemInput,
};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use axum::body::Body;
use axum::http::Request;
use futures::stream::{self, StreamExt};
use leadrouter::app::auth::NewKey;
use leadrouter::app::{App, Clock};
use leadrouter::delivery::{Notifier, NotifySettings};
use leadrouter::domain::access::{Actor, Role};
use leadrouter::domain::notify::Setting;
use leadrouter::store::dynamo::{self, item_size, tables, DynamoStore};
use tower::ServiceExt;

type Item = HashMap<String, AttributeValue>;

/// One DynamoDB call as the interceptor saw it.
#[derive(Debug, Clone)]
struct Call {
    op: &'static str,
    started: Instant,
    ended: Instant,
    /// Read units (already computed from the answer).
    read_units: f64,
    /// The items written.
    writes: Vec<Write>,
    /// How many times the SDK sent it (more than 1: retried after a transient error).
    attempts: u32,
}

/// One item written by a call.
#[derive(Debug, Clone)]
struct Write {
    /// Its key.
    key: Item,
    /// The item, if the request carries it whole (a Put).
    put: Option<Item>,
    /// Inside a transaction.
    transactional: bool,
    /// The attributes an update names (its expression's names); a Put's are all of them.
    touched: HashSet<String>,
}

impl Write {
    fn put(item: &Item, transactional: bool) -> Self {
        Self {
            key: key_of(item),
            put: Some(item.clone()),
            transactional,
            touched: item.keys().cloned().collect(),
        }
    }

    fn update(
        key: &Item,
        expression: Option<&str>,
        names: Option<&HashMap<String, String>>,
        transactional: bool,
    ) -> Self {
        let mut touched: HashSet<String> = names
            .into_iter()
            .flat_map(|n| n.values().cloned())
            .collect();
        // Names written without a placeholder (`ADD turn :one`).
        for word in expression
            .unwrap_or_default()
            .split(|c: char| !(c.is_alphanumeric() || "_#:".contains(c)))
        {
            let keyword = [
                "SET",
                "ADD",
                "REMOVE",
                "DELETE",
                "if_not_exists",
                "list_append",
            ];
            if !word.is_empty()
                && !word.starts_with([':', '#'])
                && !keyword.contains(&word)
                && !word.chars().all(|c| c.is_ascii_digit())
            {
                touched.insert(word.to_string());
            }
        }
        Self {
            key: key.clone(),
            put: None,
            transactional,
            touched,
        }
    }
}

/// What the request said, kept from before it was sent until its answer.
#[derive(Debug, Clone)]
struct Pending {
    call: Call,
    strong: bool,
    /// Keys a BatchGetItem asks for: each is charged like a GetItem, found or not.
    keys: usize,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

/// Records every call the client makes.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Call>>>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "record DynamoDB calls"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let now = Instant::now();
        let mut call = Call {
            op: "other",
            started: now,
            ended: now,
            read_units: 0.0,
            writes: Vec::new(),
            attempts: 0,
        };
        let (mut strong, mut keys) = (false, 0);
        if let Some(put) = input.downcast_ref::<PutItemInput>() {
            call.op = "PutItem";
            let item = put.item.clone().unwrap_or_default();
            call.writes.push(Write::put(&item, false));
        } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
            call.op = "UpdateItem";
            call.writes.push(Write::update(
                update.key.as_ref().unwrap_or(&Item::new()),
                update.update_expression.as_deref(),
                update.expression_attribute_names.as_ref(),
                false,
            ));
        } else if let Some(tx) = input.downcast_ref::<TransactWriteItemsInput>() {
            call.op = "TransactWriteItems";
            for entry in tx.transact_items.iter().flatten() {
                if let Some(put) = &entry.put {
                    call.writes.push(Write::put(&put.item, true));
                } else if let Some(update) = &entry.update {
                    call.writes.push(Write::update(
                        &update.key,
                        Some(&update.update_expression),
                        update.expression_attribute_names.as_ref(),
                        true,
                    ));
                } else if let Some(check) = &entry.condition_check {
                    // A check changes nothing an index holds.
                    call.writes
                        .push(Write::update(&check.key, None, None, true));
                } else if let Some(delete) = &entry.delete {
                    call.writes
                        .push(Write::update(&delete.key, None, None, true));
                }
            }
        } else if let Some(get) = input.downcast_ref::<GetItemInput>() {
            call.op = match get.key.as_ref().and_then(|k| k.get("pk")) {
                Some(AttributeValue::S(pk)) if pk.starts_with("KEY#") => "GetItem(key)",
                Some(AttributeValue::S(pk)) if pk.starts_with("CONTACT#") => "GetItem(contact)",
                Some(AttributeValue::S(pk)) if pk.starts_with("CONFIG") => "GetItem(config)",
                Some(AttributeValue::S(pk)) if pk.starts_with("IDEMPOTENCY#") => "GetItem(claim)",
                Some(AttributeValue::S(pk)) if pk.starts_with("POOL#") => "GetItem(pool)",
                Some(AttributeValue::S(pk)) if pk.starts_with("REP#") => "GetItem(rep)",
                _ => "GetItem",
            };
            strong = get.consistent_read == Some(true);
        } else if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
            call.op = "BatchGetItem";
            keys = batch
                .request_items
                .iter()
                .flat_map(|m| m.values())
                .map(|k| k.keys.len())
                .sum();
            strong = batch
                .request_items
                .iter()
                .flat_map(|m| m.values())
                .any(|k| k.consistent_read == Some(true));
        } else if let Some(query) = input.downcast_ref::<QueryInput>() {
            call.op = "Query";
            strong = query.consistent_read == Some(true);
        }
        cfg.interceptor_state()
            .store_put(Pending { call, strong, keys });
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(mut pending) = cfg.load::<Pending>().cloned() {
            pending.call.attempts += 1;
            cfg.interceptor_state().store_put(pending);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(pending) = cfg.load::<Pending>().cloned() else {
            return Ok(());
        };
        let (mut call, strong, keys) = (pending.call, pending.strong, pending.keys);
        call.ended = Instant::now();
        if let Some(output) = context.output_or_error().and_then(Result::ok) {
            if let Some(out) = output.downcast_ref::<GetItemOutput>() {
                call.read_units = read_units(out.item.iter().map(item_size).sum(), strong);
            } else if let Some(out) = output.downcast_ref::<BatchGetItemOutput>() {
                let mut found = 0;
                for item in out.responses.iter().flat_map(|r| r.values()).flatten() {
                    call.read_units += read_units(item_size(item), strong);
                    found += 1;
                }
                // A key with no item costs what reading a small one does.
                call.read_units += keys.saturating_sub(found) as f64 * read_units(0, strong);
            } else if let Some(out) = output.downcast_ref::<QueryOutput>() {
                call.read_units =
                    read_units(out.items.iter().flatten().map(item_size).sum(), strong);
            }
        }
        self.0.lock().unwrap().push(call);
        Ok(())
    }
}

impl Recorder {
    fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn key_of(item: &Item) -> Item {
    ["pk", "sk"]
        .iter()
        .filter_map(|k| item.get(*k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

fn read_units(bytes: usize, strong: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if strong {
        units
    } else {
        units / 2.0
    }
}

/// Sequential round trips of calls made one request at a time: a new one starts whenever a
/// call starts after every earlier call ended.
fn round_trips(calls: &[Call]) -> usize {
    let mut sorted: Vec<&Call> = calls.iter().collect();
    sorted.sort_by_key(|c| c.started);
    let mut trips = 0;
    let mut busy_until: Option<Instant> = None;
    for call in sorted {
        match busy_until {
            Some(until) if call.started < until => busy_until = Some(until.max(call.ended)),
            _ => {
                trips += 1;
                busy_until = Some(call.ended);
            }
        }
    }
    trips
}

/// Each operation's p50 latency over `calls`, in ms.
fn op_p50(calls: &[Call]) -> String {
    let mut by_op: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for call in calls {
        by_op
            .entry(call.op)
            .or_default()
            .push(call.ended - call.started);
    }
    let p50: Vec<String> = by_op
        .iter_mut()
        .map(|(op, times)| {
            times.sort();
            format!("{op} {:.2}", percentile(times, 0.5))
        })
        .collect();
    p50.join(", ")
}

/// How long at least one of `calls` was in flight: a lead's time waiting on DynamoDB.
fn waiting(calls: &[Call]) -> Duration {
    let mut sorted: Vec<&Call> = calls.iter().collect();
    sorted.sort_by_key(|c| c.started);
    let mut total = Duration::ZERO;
    let mut span: Option<(Instant, Instant)> = None;
    for call in sorted {
        span = match span {
            Some((from, until)) if call.started <= until => Some((from, until.max(call.ended))),
            Some((from, until)) => {
                total += until - from;
                Some((call.started, call.ended))
            }
            None => Some((call.started, call.ended)),
        };
    }
    total + span.map_or(Duration::ZERO, |(from, until)| until - from)
}

/// The form lead's message: 300 characters, as a demo request's free text often is.
const MESSAGE: &str =
    "We are evaluating lead routing for a team of twelve reps across two regions. \
Today leads arrive by form and chat and are assigned by hand in a shared inbox, which takes \
hours. We need round robin with caps, working hours, and Slack alerts. Could we see a demo \
next week, ideally Tuesday or Wednesday?";

/// Real time, shifted to start at the latest Tuesday 15:00 UTC (New York 10:00, Chicago
/// 09:00, Los Angeles 07:00, Berlin 16:00).
struct WorkingHours {
    shift: jiff::SignedDuration,
}

impl WorkingHours {
    fn new() -> Self {
        let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
        let since_tuesday = (now.date().weekday().to_monday_zero_offset() - 1).rem_euclid(7);
        let tuesday = now
            .date()
            .checked_sub(jiff::Span::new().days(since_tuesday))
            .expect("in range");
        let start = tuesday
            .at(15, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .expect("in range")
            .timestamp();
        Self {
            shift: start.duration_since(now.timestamp()),
        }
    }
}

impl Clock for WorkingHours {
    fn now(&self) -> jiff::Timestamp {
        let now = jiff::Timestamp::now() + self.shift;
        now.round(jiff::Unit::Millisecond).expect("in range")
    }
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// List prices, us-east-1 on demand, per million: write and read request units, and (for
/// the all-in figure) HTTP API requests, Lambda requests and arm64 GB-seconds.
const WRITE_PER_MILLION: f64 = 0.625;
const READ_PER_MILLION: f64 = 0.125;
const API_PER_MILLION: f64 = 1.00;
const LAMBDA_PER_MILLION: f64 = 0.20;
const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
/// template.yaml's `MemorySize` (256 MB; earlier runs of this bench priced 128).
const LAMBDA_MEMORY_GB: f64 = 0.25;

// One thread, as the Lambda runs (src/bin/api.rs): an instance serves one request at a time.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(config_path), Some(leads)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: lean <config.yaml> <leads per level> <clients ...>");
        std::process::exit(2);
    };
    let leads: usize = leads.parse().expect("leads");
    let mut levels: Vec<usize> = args[3..]
        .iter()
        .map(|c| c.parse().expect("clients"))
        .collect();
    if levels.is_empty() {
        levels = vec![1, 32];
    }
    let config = std::fs::read_to_string(config_path).expect("config");
    // The example config's channels point at a receiver here that takes everything.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let inbox = format!("http://{}", listener.local_addr().unwrap());
    let sink = axum::Router::new().fallback(|| async { "ok" });
    tokio::spawn(async move { axum::serve(listener, sink).await.unwrap() });
    for name in [
        "SLACK_SMB_WEBHOOK_URL",
        "SLACK_INBOUND_WEBHOOK_URL",
        "SLACK_MANAGERS_WEBHOOK_URL",
        "SLACK_ERIN_WEBHOOK_URL",
        "CRM_WEBHOOK_URL",
    ] {
        std::env::set_var(name, format!("{inbox}/{name}"));
    }
    std::env::set_var("CRM_WEBHOOK_SECRET", "lean-bench-secret");
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").expect("DYNAMODB_ENDPOINT");
    let recorder = Recorder::default();
    let plain = dynamo::client(Some(&endpoint)).await;
    let client = aws_sdk_dynamodb::Client::from_conf(
        plain
            .config()
            .to_builder()
            .interceptor(recorder.clone())
            .build(),
    );
    let table = format!("lean-{}", uuid::Uuid::new_v4().simple());
    tables::ensure_table(&client, &tables::leads_table(), &table)
        .await
        .expect("table");
    let notifier = Notifier::new(NotifySettings {
        public_url: Some("https://leads.example.test".into()),
        ack_key: Setting::Plain("lean".into()),
        timeout: Duration::from_millis(500),
    });
    // As deployed: the config and source keys cached in the warm process.
    let app = Arc::new(
        App::new(
            Arc::new(DynamoStore::new(client.clone(), &table)),
            Arc::new(WorkingHours::new()),
            Duration::from_secs(15),
            notifier,
        )
        .with_key_cache(Duration::from_secs(60)),
    );
    app.publish_config(&config).await.expect("config");
    let actor = Actor {
        name: "lean".into(),
        role: Role::Admin,
    };
    let new = NewKey {
        role: Role::Source,
        name: "lean".into(),
        allowed_redirects: Vec::new(),
        allowed_origins: Vec::new(),
        redirect_lead_id: false,
    };
    let (key, _) = app.create_key(new, None, &actor).await.expect("key");
    let router = leadrouter::http::router(app.clone());
    let run = format!("{:x}", rand::random::<u32>());
    // LEAN_LEAD=form: a full demo-request form (phone, title, website, industry, product, a
    // 300-character message, three UTM fields) instead of the bare email, name and company.
    let form = std::env::var("LEAN_LEAD").is_ok_and(|shape| shape == "form");
    // LEAN_RETURNING=k: every k-th lead comes from the person of the lead before it (a
    // returning contact, with another company so it is not a double click).
    let returning: Option<usize> = std::env::var("LEAN_RETURNING")
        .ok()
        .and_then(|k| k.parse().ok())
        .filter(|k| *k > 1);
    if let Some(k) = returning {
        println!("every {k}th lead is a returning contact");
    }
    let post = |n: usize| {
        let person = match returning {
            Some(k) if n % k == 1 => n - 1,
            _ => n,
        };
        let body = if form {
            format!(
                r#"{{"email":"p{person}@acme-{run}-{person}.com","first_name":"Pat","last_name":"Lee","company":"Acme {n}","employees":"12","country":"US","region":"NY","city":"New York","postal_code":"10001","phone":"+1 212 555 0100","title":"Head of Revenue Operations","website":"https://www.acme-{n}.com","industry":"Software","product":"Platform","message":"{MESSAGE}","utm_source":"google","utm_medium":"cpc","utm_campaign":"q4-demand-gen"}}"#
            )
        } else {
            format!(
                r#"{{"email":"p{person}@acme-{run}-{person}.com","first_name":"Pat","last_name":"Lee","company":"Acme {n}","employees":"12","country":"US"}}"#
            )
        };
        Request::post("/leads")
            .header("content-type", "application/json")
            .header("x-source-key", &key)
            .body(Body::from(body))
            .unwrap()
    };
    // Warm up: the config, the key, the connection pool, the JVM. DynamoDB Local's JIT needs
    // thousands of calls of a kind before it is steady (`scripts/local-probe.sh`: a
    // transaction costs half the CPU on a second pass), so every kind measured below runs
    // thousands of times first, the baselines' too.
    for n in 0..200 {
        let reply = router.clone().oneshot(post(1_000_000 + n)).await.unwrap();
        assert_eq!(reply.status(), 201);
    }
    stream::iter(0..3_000)
        .map(|n| router.clone().oneshot(post(2_000_000 + n)))
        .buffer_unordered(32)
        .for_each(|reply| async move { assert_eq!(reply.unwrap().status(), 201) })
        .await;
    put_baseline(&plain, &table, 2_000).await;
    ticket_baseline(&plain, &table, 2_000, 32).await;
    sweep(&app).await;
    recorder.take();
    // The bare PutItem, measured warm just before the leads at one client.
    let put_p50 = put_baseline(&client, &table, 300).await;
    recorder.take();

    let shape = if form { "form" } else { "bare" };
    println!("config {config_path}, {leads} leads per level, {shape} leads");
    let mut sequential = None;
    let mut lead_p50 = None;
    let mut put_between = None;
    let mut rates = BTreeMap::new();
    for clients in levels {
        let started = Instant::now();
        let cpu_before = cpu::cpu_seconds("self");
        let mut per_lead_trips = Vec::new();
        let mut per_lead_waits = Vec::new();
        let mut per_lead_own = Vec::new();
        let mut one_by_one: Vec<Call> = Vec::new();
        let mut paused = Duration::ZERO;
        let mut latencies: Vec<Duration> = if clients == 1 {
            // A PutItem after each lead, through a client the recorder does not see: the same
            // DynamoDB Local, as warm and as busy as the lead found it.
            let mut puts = Vec::new();
            let mut all = Vec::new();
            for n in 0..leads {
                let sent = Instant::now();
                let reply = router
                    .clone()
                    .oneshot(post(clients * 10_000_000 + n))
                    .await
                    .unwrap();
                let took = sent.elapsed();
                all.push(took);
                assert_eq!(reply.status(), 201);
                // Notifications are delivered (and recorded) before the answer.
                let calls = recorder.take();
                per_lead_trips.push(round_trips(&calls));
                let waited = waiting(&calls);
                per_lead_waits.push(waited);
                per_lead_own.push(took.saturating_sub(waited));
                one_by_one.extend(calls);
                puts.push(put_once(&plain, &table, n).await);
            }
            paused = puts.iter().sum();
            puts.sort();
            put_between = Some(percentile(&puts, 0.5));
            all
        } else {
            stream::iter(0..leads)
                .map(|n| {
                    let router = router.clone();
                    let request = post(clients * 10_000_000 + n);
                    async move {
                        let sent = Instant::now();
                        let reply = router.oneshot(request).await.unwrap();
                        assert_eq!(reply.status(), 201);
                        sent.elapsed()
                    }
                })
                .buffer_unordered(clients)
                .collect()
                .await
        };
        let elapsed = (started.elapsed() - paused).as_secs_f64();
        let cpu_used = cpu::cpu_seconds("self") - cpu_before;
        let op_p50 = op_p50(&one_by_one);
        let mut calls = recorder.take();
        calls.extend(one_by_one);
        // Sized before the sweep takes the level's tickets off the reps' entries.
        let units = write_units(&client, &table, &calls).await;
        recorder.take();
        sweep(&app).await;
        recorder.take();
        latencies.sort();
        let rate = leads as f64 / elapsed;
        rates.insert(clients, rate);
        let mut by_op: BTreeMap<&str, usize> = BTreeMap::new();
        for call in &calls {
            *by_op.entry(call.op).or_default() += 1;
        }
        let read_units: f64 = calls.iter().map(|c| c.read_units).sum();
        let (write_units, by_item) = (units.table + units.indexes, &units.by_item);
        let per = |v: f64| v / leads as f64;
        let ops: Vec<String> = by_op
            .iter()
            .map(|(op, n)| format!("{op} {:.2}", per(*n as f64)))
            .collect();
        println!(
            "clients {clients:>3}: {rate:>7.1} leads/s, p50 {:.2} ms, p99 {:.2} ms; calls/lead {:.2} ({}); RCU/lead {:.2}, WCU/lead {:.2} (table {:.2}, indexes {:.2})",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            per(calls.len() as f64),
            ops.join(", "),
            per(read_units),
            per(write_units),
            per(units.table),
            per(units.indexes),
        );
        println!(
            "  this process's CPU per lead: {:.2} ms{}",
            cpu_used * 1000.0 / leads as f64,
            if clients == 1 {
                " (with the PutItem after it)"
            } else {
                ""
            }
        );
        let retried: usize = calls
            .iter()
            .map(|c| c.attempts.saturating_sub(1) as usize)
            .sum();
        if retried > 0 {
            println!(
                "  the SDK retried {retried} calls' attempts ({:.3} per lead)",
                per(retried as f64)
            );
        }
        if clients == 1 {
            per_lead_trips.sort();
            let median = per_lead_trips
                .get(per_lead_trips.len() / 2)
                .copied()
                .unwrap_or(0);
            println!("  sequential DynamoDB round trips per lead (median): {median}");
            per_lead_waits.sort();
            per_lead_own.sort();
            println!(
                "  per lead, p50: waiting on DynamoDB {:.2} ms, the rest (the router's own work) {:.2} ms; call p50 by operation (ms): {}",
                percentile(&per_lead_waits, 0.5),
                percentile(&per_lead_own, 0.5),
                op_p50
            );
            let items: Vec<String> = by_item
                .iter()
                .map(|(kind, (units, bytes, n))| {
                    format!(
                        "{kind} {:.2} WCU ({} B avg)",
                        per(*units),
                        bytes / n.max(&1)
                    )
                })
                .collect();
            println!("  write units per lead by item: {}", items.join(", "));
            let indexes: Vec<String> = units
                .by_index
                .iter()
                .map(|(name, (u, n))| {
                    format!("{name} {:.2} WCU ({:.2} writes)", per(*u), per(*n as f64))
                })
                .collect();
            println!("  index write units per lead: {}", indexes.join(", "));
            sequential = Some(median);
            lead_p50 = Some(percentile(&latencies, 0.5));
            let lambda_seconds = percentile(&latencies, 0.5) / 1000.0;
            let dynamo = per(write_units) * WRITE_PER_MILLION + per(read_units) * READ_PER_MILLION;
            let lambda =
                LAMBDA_PER_MILLION + lambda_seconds * LAMBDA_MEMORY_GB * LAMBDA_GB_SECOND * 1e6;
            println!(
                "  $ per million leads at list prices: DynamoDB {dynamo:.2} (writes {:.2}, reads {:.2}) + HTTP API {API_PER_MILLION:.2} + Lambda {lambda:.2} (256 MB, p50 duration) = {:.2}",
                per(write_units) * WRITE_PER_MILLION,
                per(read_units) * READ_PER_MILLION,
                dynamo + API_PER_MILLION + lambda
            );
        }
    }
    let stored = stored_bytes(&client, &table).await;
    println!(
        "  stored per lead: {stored:.0} bytes (every item of the table over the leads routed)"
    );

    // The bare rotation on the same DynamoDB Local.
    let ticket_rate = ticket_baseline(&client, &table, leads, 32).await;
    println!("baseline PutItem p50 at 1 client: {put_p50:.2} ms");
    println!(
        "baseline ticket (UpdateItem ADD + conditional PutItem) at 32 clients: {ticket_rate:.1} /s"
    );
    if let (Some(p50), Some(between)) = (lead_p50, put_between) {
        println!("PutItem p50 interleaved with the leads at 1 client: {between:.2} ms");
        println!(
            "POST /leads p50 / PutItem p50: {:.1}x (interleaved), {:.1}x (before)",
            p50 / between,
            p50 / put_p50
        );
    }
    if let Some(rate) = rates.get(&32) {
        println!(
            "leads/s at 32 clients / ticket baseline: {:.2}x",
            rate / ticket_rate
        );
    }
    if let Some(trips) = sequential {
        println!("sequential round trips: {trips}");
    }
}

/// One sweep, as the scheduled sweeper makes it (the rotation repair among the rest).
async fn sweep(app: &App) {
    app.sweep(Instant::now() + Duration::from_secs(30))
        .await
        .expect("sweep");
}

/// Units of `calls`' writes: to the table (the written items' sizes, updates read back after
/// the run), by kind of item (the key's first part: units, bytes, writes), and to the indexes
/// (by index: units, writes).
struct WriteUnits {
    table: f64,
    by_item: BTreeMap<String, (f64, usize, usize)>,
    indexes: f64,
    by_index: BTreeMap<String, (f64, usize)>,
}

/// What an index holds of an item: its keys, and the projected attributes (`None`: all).
struct IndexShape {
    name: String,
    keys: Vec<String>,
    projected: Option<Vec<String>>,
}

fn index_shapes() -> Vec<IndexShape> {
    use aws_sdk_dynamodb::types::ProjectionType;
    tables::leads_table()
        .indexes()
        .iter()
        .map(|gsi| {
            let projection = gsi.projection();
            IndexShape {
                name: gsi.index_name().to_string(),
                keys: gsi
                    .key_schema()
                    .iter()
                    .map(|k| k.attribute_name().to_string())
                    .collect(),
                projected: match projection.and_then(|p| p.projection_type()) {
                    Some(ProjectionType::All) => None,
                    _ => Some(
                        projection
                            .map(|p| p.non_key_attributes().to_vec())
                            .unwrap_or_default(),
                    ),
                },
            }
        })
        .collect()
}

impl IndexShape {
    /// Index write units of a write whose item ends up as `item`: DynamoDB writes an index
    /// entry when the item is in the index and the write touches a key or a projected attribute
    /// (one unit per KB of the projected entry, never doubled by a transaction), and deletes
    /// one when the write removes the item's index keys.
    fn units(&self, write: &Write, item: &Item) -> Option<f64> {
        let holds = |name: &String| {
            self.keys.contains(name)
                || ["pk", "sk"].contains(&name.as_str())
                || self.projected.as_ref().is_none_or(|p| p.contains(name))
        };
        if !write.touched.iter().any(holds) {
            return None;
        }
        let in_index = self.keys.iter().all(|k| item.contains_key(k));
        if !in_index {
            // An update that removed its index keys deleted its entry (one unit).
            let removed =
                write.put.is_none() && self.keys.iter().all(|k| write.touched.contains(k));
            return removed.then_some(1.0);
        }
        let entry: Item = item
            .iter()
            .filter(|(name, _)| holds(name))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Some(item_size(&entry).div_ceil(1024).max(1) as f64)
    }
}

async fn write_units(client: &aws_sdk_dynamodb::Client, table: &str, calls: &[Call]) -> WriteUnits {
    let mut ended: HashMap<(String, String), Item> = HashMap::new();
    let wanted: HashSet<(String, String)> = calls
        .iter()
        .flat_map(|c| &c.writes)
        .filter(|w| w.put.is_none())
        .map(|w| pk_sk(&w.key))
        .collect();
    for (pk, sk) in wanted {
        let item = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S(pk.clone()))
            .key("sk", AttributeValue::S(sk.clone()))
            .consistent_read(true)
            .send()
            .await
            .expect("read back")
            .item
            .unwrap_or_default();
        ended.insert((pk, sk), item);
    }
    let shapes = index_shapes();
    let mut units = WriteUnits {
        table: 0.0,
        by_item: BTreeMap::new(),
        indexes: 0.0,
        by_index: BTreeMap::new(),
    };
    let none = Item::new();
    for write in calls.iter().flat_map(|c| &c.writes) {
        let item = write
            .put
            .as_ref()
            .unwrap_or_else(|| ended.get(&pk_sk(&write.key)).unwrap_or(&none));
        let bytes = item_size(item);
        let mut table_units = bytes.div_ceil(1024).max(1) as f64;
        if write.transactional {
            table_units *= 2.0;
        }
        units.table += table_units;
        let (pk, sk) = pk_sk(&write.key);
        let kind = format!(
            "{}/{}",
            pk.split('#').next().unwrap_or(""),
            sk.split(['#', ':']).next().unwrap_or("")
        );
        let entry = units.by_item.entry(kind).or_default();
        entry.0 += table_units;
        entry.1 += bytes;
        entry.2 += 1;
        for shape in &shapes {
            if let Some(u) = shape.units(write, item) {
                units.indexes += u;
                let entry = units.by_index.entry(shape.name.clone()).or_default();
                entry.0 += u;
                entry.1 += 1;
            }
        }
    }
    units
}

fn pk_sk(key: &Item) -> (String, String) {
    let s = |k: &str| match key.get(k) {
        Some(AttributeValue::S(s)) => s.clone(),
        _ => String::new(),
    };
    (s("pk"), s("sk"))
}

/// Bytes stored per lead: every item of the table (a Scan; a bench may) over the leads.
async fn stored_bytes(client: &aws_sdk_dynamodb::Client, table: &str) -> f64 {
    let (mut bytes, mut leads, mut start) = (0usize, 0usize, None);
    loop {
        let out = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in out.items() {
            bytes += item_size(item);
            if std::env::var("LEAN_DUMP").is_ok_and(|kinds| {
                let sk = match item.get("sk") {
                    Some(AttributeValue::S(sk)) => sk.split('#').next().unwrap_or(""),
                    _ => "",
                };
                kinds.split(',').any(|k| k == sk)
            }) {
                println!("{} B: {item:?}", item_size(item));
            }
            if matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk == "LEAD") {
                leads += 1;
            }
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    bytes as f64 / leads.max(1) as f64
}

/// PutItem p50 of a ~300-byte item, one at a time.
async fn put_baseline(client: &aws_sdk_dynamodb::Client, table: &str, n: usize) -> f64 {
    let mut latencies = Vec::new();
    for i in 0..n {
        latencies.push(put_once(client, table, i).await);
    }
    latencies.sort();
    percentile(&latencies, 0.5)
}

/// One PutItem of a ~300-byte item (the `i`th), timed.
async fn put_once(client: &aws_sdk_dynamodb::Client, table: &str, i: usize) -> Duration {
    let sent = Instant::now();
    client
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(format!("BASE#{i}")))
        .item("sk", AttributeValue::S("PUT".into()))
        .item("body", AttributeValue::S("x".repeat(280)))
        .send()
        .await
        .expect("put");
    sent.elapsed()
}

/// The bare rotation: take a ticket (UpdateItem ADD) and record its turn (PutItem on the
/// condition that the turn is new), `n` times from `clients` at once; per second.
async fn ticket_baseline(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    n: usize,
    clients: usize,
) -> f64 {
    let started = Instant::now();
    stream::iter(0..n)
        .map(|_| async move {
            let out = client
                .update_item()
                .table_name(table)
                .key("pk", AttributeValue::S("BASE#ticket".into()))
                .key("sk", AttributeValue::S("TICKET".into()))
                .update_expression("ADD next_ticket :one")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
                .send()
                .await
                .expect("ticket");
            let ticket = match out.attributes().and_then(|a| a.get("next_ticket")) {
                Some(AttributeValue::N(n)) => n.clone(),
                _ => "0".into(),
            };
            client
                .put_item()
                .table_name(table)
                .item("pk", AttributeValue::S("BASE#ticket".into()))
                .item("sk", AttributeValue::S(format!("TURN#{ticket:0>12}")))
                .item("lead", AttributeValue::S(uuid::Uuid::now_v7().to_string()))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await
                .expect("turn");
        })
        .buffer_unordered(clients)
        .collect::<Vec<()>>()
        .await;
    n as f64 / started.elapsed().as_secs_f64()
}

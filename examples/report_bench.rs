//! Benchmark of the routing report for `scripts/report-bench.sh`: seeds `days` days of
//! `per_day` leads through the real intake (in process, the example config, the clock moved
//! through each day), then times `GET /admin/report` over the whole period and prints what it
//! read: Query calls, leads and notifications, the read units DynamoDB Local reported, and the
//! bytes of the projected rows (from which real DynamoDB's read units follow: eventually
//! consistent Query reads cost 0.5 unit per 4 KB per page).
//!
//! Usage: cargo run --release --example report_bench -- <days> <per_day> [runs]
//! (DYNAMODB_ENDPOINT must point at a DynamoDB Local.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use leadrouter::app::{App, Clock, IntakeRequest};
use leadrouter::delivery::{Notifier, NotifySettings};
use leadrouter::domain::lead::Lead;
use leadrouter::domain::notify::Setting;
use leadrouter::store::dynamo::{self, item_size, tables, DynamoStore};

struct BenchClock(Mutex<jiff::Timestamp>);

impl Clock for BenchClock {
    fn now(&self) -> jiff::Timestamp {
        *self.0.lock().unwrap()
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let days: i64 = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(30);
    let per_day: i64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(1000);
    let runs: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(5);
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").expect("DYNAMODB_ENDPOINT");
    let client = dynamo::client(Some(&endpoint)).await;
    let table = format!("report-bench-{}", uuid::Uuid::new_v4().simple());
    tables::ensure_table(&client, &tables::leads_table(), &table)
        .await
        .expect("table");
    let store = DynamoStore::new(client.clone(), &table);
    let start: jiff::Timestamp = "2026-10-01T00:00:00Z".parse().unwrap();
    let clock = Arc::new(BenchClock(Mutex::new(start)));
    let notifier = Notifier::new(NotifySettings {
        public_url: Some("https://leads.example.test".into()),
        ack_key: Setting::Plain("bench".into()),
        timeout: Duration::from_millis(50),
    });
    let app = Arc::new(App::new(
        Arc::new(store),
        clock.clone(),
        Duration::from_secs(60),
        notifier,
    ));
    app.publish_config(include_str!("../config/example.yaml"))
        .await
        .expect("config");
    let seeding = Instant::now();
    // Every lead a new person at a new company, spread over each day in batches of 25.
    let countries = ["US", "CA", "DE", "GB", "FR", "BR"];
    let sizes = ["12", "80", "250", "900", "3"];
    let batch = 25;
    for day in 0..days {
        for b in 0..(per_day / batch) {
            let at = start
                + jiff::SignedDuration::from_secs(day * 86_400 + b * 86_400 * batch / per_day);
            *clock.0.lock().unwrap() = at;
            stream::iter(0..batch)
                .map(|i| {
                    let app = app.clone();
                    let n = (day * per_day + b * batch + i) as usize;
                    async move {
                        let pairs = [
                            ("email", format!("p{n}@company{n}.com")),
                            ("company", format!("Company {n}")),
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
                        app.intake(request).await.expect("intake");
                    }
                })
                .buffer_unordered(batch as usize)
                .collect::<Vec<_>>()
                .await;
        }
        eprintln!("day {} seeded ({:?})", day + 1, seeding.elapsed());
    }
    let seeded = seeding.elapsed();
    let rss_seeded = peak_rss_kb();
    let to = start + jiff::SignedDuration::from_secs(days * 86_400);
    *clock.0.lock().unwrap() = to;
    let tz = jiff::tz::TimeZone::UTC;
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let answer = app.report(start, to, &tz, "UTC").await.expect("report");
        times.push(t.elapsed());
        last = Some(answer);
    }
    times.sort();
    let answer = last.expect("a run");
    let rss_report = peak_rss_kb();
    // The projected rows' bytes, read the same way (one Query per day), to compute what real
    // DynamoDB charges: per page, the items' sizes rounded up to 4 KB, half a unit each.
    let (mut bytes, mut units) = (0usize, 0.0f64);
    for day in 0..days {
        let date = (start + jiff::SignedDuration::from_secs(day * 86_400))
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        let mut start_key = None;
        loop {
            let out = client
                .query()
                .table_name(&table)
                .index_name("log")
                .key_condition_expression("log_pk = :p")
                .expression_attribute_values(
                    ":p",
                    aws_sdk_dynamodb::types::AttributeValue::S(format!("LOG#{date}")),
                )
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .expect("query");
            let page: usize = out.items().iter().map(item_size).sum();
            bytes += page;
            units += (page as f64 / 4096.0).ceil() * 0.5;
            start_key = out.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
    }
    let reads = answer.reads;
    println!(
        "days={days} per_day={per_day} leads={} notifications={} seeded_s={:.0} \
         report_median_ms={} report_min_ms={} report_max_ms={} queries={} \
         local_read_units={} projected_bytes={} computed_read_units={:.1} per_lead_bytes={:.0} \
         last_read_ms={} last_compute_ms={} peak_rss_kb_after_seeding={} peak_rss_kb_after_reports={}",
        reads.leads,
        reads.notifications,
        seeded.as_secs_f64(),
        times[times.len() / 2].as_millis(),
        times[0].as_millis(),
        times[times.len() - 1].as_millis(),
        reads.queries,
        reads.read_units,
        bytes,
        units,
        bytes as f64 / reads.leads.max(1) as f64,
        answer.timing.read_ms,
        answer.timing.compute_ms,
        rss_seeded,
        rss_report,
    );
}

/// The process's peak resident memory (VmHWM), in KiB.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

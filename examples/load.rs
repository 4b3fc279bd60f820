//! Load generator for `scripts/load.sh`: posts distinct leads (every one a new person at a new
//! company, so no double-click or returning-contact shortcut applies) at a fixed concurrency
//! and prints `leads/s p50_ms p99_ms errors` on one line.
//!
//! Usage: cargo run --release --example load -- <base url> <source key> <requests> <clients>

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, key, requests, clients] = args.as_slice() else {
        eprintln!("usage: load <base url> <source key> <requests> <clients>");
        std::process::exit(2);
    };
    let requests: usize = requests.parse().expect("requests");
    let clients: usize = clients.parse().expect("clients");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let run = format!("{:x}", rand::random::<u32>());
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (http, next, url, key, run) = (
            http.clone(),
            next.clone(),
            url.clone(),
            key.clone(),
            run.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return (latencies, errors);
                }
                let body = format!(
                    r#"{{"email":"load{i}@acme-{run}-{i}.com","company":"Acme","employees":"12","country":"US"}}"#
                );
                let sent = Instant::now();
                let response = http
                    .post(format!("{url}/leads"))
                    .header("content-type", "application/json")
                    .header("x-source-key", &key)
                    .body(body)
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().as_u16() == 201 => latencies.push(sent.elapsed()),
                    _ => errors += 1,
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (l, e) = worker.await.expect("worker");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{:.1} {:.1} {:.1} {}",
        latencies.len() as f64 / elapsed,
        at(0.5),
        at(0.99),
        errors
    );
}

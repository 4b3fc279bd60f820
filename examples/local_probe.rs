//! What each kind of DynamoDB call costs DynamoDB Local (`scripts/local-probe.sh`): for a
//! PutItem, an UpdateItem, reads, and transactions shaped like a lead's, the p50 at one client,
//! the rate at 32, and the JVM's CPU per call (from /proc, `JVM_PID`). The lean bench's
//! latency and throughput goals are ratios to DynamoDB Local's own speed; this says where
//! that speed goes (see BENCHMARKS.md, "Stop 28").
#[path = "common/cpu.rs"]
mod cpu;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use futures::stream::{self, StreamExt};
use leadrouter::store::dynamo::{self, tables};

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// A lead-sized item (900 B), in the `log` and `owner` indexes when `gsi`.
fn lead(i: usize, gsi: bool) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        (
            "pk".to_string(),
            s(&format!("LEAD#{i}-{}", uuid::Uuid::new_v4())),
        ),
        ("sk".to_string(), s("LEAD")),
        ("body".to_string(), s(&"x".repeat(800))),
    ]);
    if gsi {
        item.insert("log_pk".into(), s("LOG#2026-12-01"));
        item.insert(
            "log_sk".into(),
            s(&format!("2026-12-01T15:00:00.{i:06}Z#{i}")),
        );
        item.insert("owner_pk".into(), s(&format!("OWNER#r{}", i % 4)));
    }
    item
}

#[tokio::main]
async fn main() {
    let pid = std::env::var("JVM_PID").unwrap();
    let endpoint = std::env::var("DYNAMODB_ENDPOINT").unwrap();
    let client = dynamo::client(Some(&endpoint)).await;
    let table = format!("probe-{}", uuid::Uuid::new_v4().simple());
    tables::ensure_table(&client, &tables::leads_table(), &table)
        .await
        .unwrap();
    let ops: Vec<(&str, Op)> = vec![
        ("PutItem 300 B", |cl, t, i| {
            Box::pin(async move {
                cl.put_item()
                    .table_name(t)
                    .item("pk", s(&format!("P#{i}")))
                    .item("sk", s("P"))
                    .item("body", s(&"x".repeat(280)))
                    .send()
                    .await
                    .unwrap();
            })
        }),
        ("PutItem 900 B, 2 GSIs", |cl, t, i| {
            Box::pin(async move {
                cl.put_item()
                    .table_name(t)
                    .set_item(Some(lead(i, true)))
                    .send()
                    .await
                    .unwrap();
            })
        }),
        ("PutItem 900 B, no GSI", |cl, t, i| {
            Box::pin(async move {
                cl.put_item()
                    .table_name(t)
                    .set_item(Some(lead(i, false)))
                    .send()
                    .await
                    .unwrap();
            })
        }),
        ("UpdateItem ADD hot", |cl, t, _| {
            Box::pin(async move {
                cl.update_item()
                    .table_name(t)
                    .key("pk", s("HOT"))
                    .key("sk", s("T"))
                    .update_expression("ADD n :one")
                    .expression_attribute_values(":one", AttributeValue::N("1".into()))
                    .send()
                    .await
                    .unwrap();
            })
        }),
        ("BatchGetItem 2 missing", |cl, t, i| {
            Box::pin(async move {
                let keys = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .keys(
                        [
                            ("pk".to_string(), s(&format!("C#{i}"))),
                            ("sk".to_string(), s("C")),
                        ]
                        .into(),
                    )
                    .keys(
                        [
                            ("pk".to_string(), s(&format!("A#{i}"))),
                            ("sk".to_string(), s("A")),
                        ]
                        .into(),
                    )
                    .build()
                    .unwrap();
                cl.batch_get_item()
                    .request_items(t, keys)
                    .send()
                    .await
                    .unwrap();
            })
        }),
        ("GetItem missing", |cl, t, i| {
            Box::pin(async move {
                cl.get_item()
                    .table_name(t)
                    .key("pk", s(&format!("C#{i}")))
                    .key("sk", s("C"))
                    .send()
                    .await
                    .unwrap();
            })
        }),
        ("Tx: lead 2 GSIs + contact new + rep update", |cl, t, i| {
            Box::pin(async move { tx(cl, t, i, true, 3).await })
        }),
        ("Tx: lead no GSI + contact new + rep update", |cl, t, i| {
            Box::pin(async move { tx(cl, t, i, false, 3).await })
        }),
        ("Tx: lead 2 GSIs only", |cl, t, i| {
            Box::pin(async move { tx(cl, t, i, true, 1).await })
        }),
        ("Tx: lead 2 GSIs + contact new", |cl, t, i| {
            Box::pin(async move { tx(cl, t, i, true, 2).await })
        }),
    ];
    // The JIT compiles what runs often: the first pass warms every path, the second is
    // steady state.
    for pass in 1..=2 {
        println!(
            "{:45} {:>9} {:>9} {:>14} {:>6}",
            format!("pass {pass}"),
            "p50, 1",
            "/s at 32",
            "JVM CPU/call",
            "cores"
        );
        for (name, op) in &ops {
            measure(name, *op, &client, &table, &pid, pass * 100_000).await;
        }
    }
}

/// One line: `op` 300 times at one client, then 2,000 times at 32, on keys from `from`.
async fn measure(
    name: &str,
    op: Op,
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    pid: &str,
    from: usize,
) {
    let (n, c) = (2000, 32);
    let mut one = Vec::new();
    for i in 0..300 {
        let sent = Instant::now();
        op(client.clone(), table.to_string(), from + n + i).await;
        one.push(sent.elapsed());
    }
    one.sort();
    let p50 = one[one.len() / 2];
    let cpu_before = cpu::cpu_seconds(pid);
    let started = Instant::now();
    stream::iter(0..n)
        .map(|i| op(client.clone(), table.to_string(), from + i))
        .buffer_unordered(c)
        .collect::<Vec<_>>()
        .await;
    let wall = started.elapsed().as_secs_f64();
    let used = cpu::cpu_seconds(pid) - cpu_before;
    println!(
        "{name:45} {:>6.2} ms {:>9.0} {:>11.2} ms {:>6.2}",
        ms(p50),
        n as f64 / wall,
        used * 1000.0 / n as f64,
        used / wall
    );
}

type Op = fn(aws_sdk_dynamodb::Client, String, usize) -> futures::future::BoxFuture<'static, ()>;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A transaction of the lead item (in two indexes when `gsi`), then a new contact, then an
/// update of one of 4 reps' entries, `items` of them; retried on a conflict.
async fn tx(cl: aws_sdk_dynamodb::Client, t: String, i: usize, gsi: bool, items: usize) {
    let mut all = vec![TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(&t)
                .set_item(Some(lead(i, gsi)))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .unwrap(),
        )
        .build()];
    if items >= 2 {
        all.push(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&t)
                        .item("pk", s(&format!("CONTACT#{i}-{}", uuid::Uuid::new_v4())))
                        .item("sk", s("CONTACT"))
                        .item("lead_id", s("x"))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        );
    }
    if items >= 3 {
        all.push(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&t)
                        .key("pk", s(&format!("REP#r{}", i % 4)))
                        .key("sk", s("STATE"))
                        .update_expression("ADD #open :one")
                        .condition_expression("attribute_not_exists(gone)")
                        .expression_attribute_names("#open", "open")
                        .expression_attribute_values(":one", AttributeValue::N("1".into()))
                        .build()
                        .unwrap(),
                )
                .build(),
        );
    }
    loop {
        match cl
            .transact_write_items()
            .set_transact_items(Some(all.clone()))
            .send()
            .await
        {
            Ok(_) => return,
            Err(e) => {
                let text = format!("{e:?}");
                if text.contains("TransactionConflict") {
                    continue;
                }
                panic!("{text}");
            }
        }
    }
}

//! Process-wide counters of what routing did, for the load script and `GET /admin/metrics`.
//! In Lambda each instance counts its own requests; the same numbers are also in the logs.
//! Counting only: nothing here may influence a routing decision.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Declares every counter once: the live atomics and the snapshot served as JSON.
macro_rules! counters {
    ($($(#[doc = $doc:expr])+ $name:ident,)+) => {
        /// One counter per event worth watching under load.
        #[derive(Debug, Default)]
        pub struct Counters {
            $($(#[doc = $doc])+ pub $name: AtomicU64,)+
        }

        /// The counters of this process.
        pub static COUNTERS: Counters = Counters {
            $($name: AtomicU64::new(0),)+
        };

        /// A copy of the counters, as served by `GET /admin/metrics`.
        #[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
        pub struct Snapshot {
            $($(#[doc = $doc])+ pub $name: u64,)+
        }

        /// Reads all counters.
        pub fn snapshot() -> Snapshot {
            Snapshot {
                $($name: COUNTERS.$name.load(Ordering::Relaxed),)+
            }
        }
    };
}

counters! {
    /// Leads stored.
    leads,
    /// Transactions retried after a conflict with a concurrent one.
    conflict_retries,
    /// Offers refused because the rep was at a cap.
    cap_refusals,
    /// Offers refused because the rep left the pool or became inactive.
    roster_refusals,
    /// `least_loaded` offers refused because the rep's load rose meanwhile.
    load_refusals,
    /// Offers refused because another lead used the rotation ticket (one given back twice).
    ticket_refusals,
    /// Rotation tickets given back by requests that did not use them.
    tickets_returned,
    /// Tickets intake took alongside a lead's reads that its walk then used.
    tickets_ahead_used,
    /// Tickets intake took alongside a lead's reads that its walk did not ask for (given back).
    tickets_ahead_missed,
    /// Leads that overflowed at least one pool.
    overflowed,
    /// Notifications delivered.
    notifications_delivered,
    /// Delivery attempts that failed (each is retried or ends dead).
    notification_failures,
    /// Notifications given up on after the last attempt.
    notifications_dead,
    /// Leads escalated after a missed SLA deadline.
    escalations,
    /// Escalations not made because the lead was acknowledged or escalated meanwhile.
    escalation_races_lost,
    /// Leads reassigned by hand.
    reassignments,
}

/// Adds one.
pub fn bump(counter: &AtomicU64) {
    add(counter, 1);
}

/// Adds `n`.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// CloudWatch Embedded Metric Format: one JSON line on standard output per event, which
/// CloudWatch turns into metrics in the namespace `METRICS_NAMESPACE` (default `LeadRouter`)
/// with the dimension `Stack` (`STACK_NAME`, default `leadrouter`). On in Lambda (or with
/// `LEADROUTER_EMF=1`), off elsewhere so local output stays readable. The alarms in
/// template.yaml read these metrics.
pub mod emf {
    use std::sync::OnceLock;

    use serde_json::{json, Map, Value};

    /// A metric's unit.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Unit {
        /// A count.
        Count,
        /// Milliseconds.
        Milliseconds,
    }

    impl Unit {
        fn name(self) -> &'static str {
            match self {
                Unit::Count => "Count",
                Unit::Milliseconds => "Milliseconds",
            }
        }
    }

    struct Settings {
        on: bool,
        namespace: String,
        stack: String,
    }

    fn settings() -> &'static Settings {
        static SETTINGS: OnceLock<Settings> = OnceLock::new();
        SETTINGS.get_or_init(|| {
            let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            Settings {
                on: var("AWS_LAMBDA_FUNCTION_NAME").is_some()
                    || var("LEADROUTER_EMF").as_deref() == Some("1"),
                namespace: var("METRICS_NAMESPACE").unwrap_or_else(|| "LeadRouter".into()),
                stack: var("STACK_NAME").unwrap_or_else(|| "leadrouter".into()),
            }
        })
    }

    /// The EMF line for `values` with the `Stack` dimension and any `extra` dimensions.
    pub fn line(
        namespace: &str,
        stack: &str,
        extra: &[(&str, &str)],
        values: &[(&str, f64, Unit)],
        timestamp_ms: i64,
    ) -> String {
        let mut dimensions = vec!["Stack".to_string()];
        let mut body = Map::new();
        body.insert("Stack".into(), json!(stack));
        for (name, value) in extra {
            dimensions.push((*name).to_string());
            body.insert((*name).to_string(), json!(value));
        }
        let metrics: Vec<Value> = values
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.name()}))
            .collect();
        for (name, value, _) in values {
            body.insert((*name).to_string(), json!(value));
        }
        body.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [dimensions],
                    "Metrics": metrics,
                }],
            }),
        );
        Value::Object(body).to_string()
    }

    /// Emits `values` (with `extra` dimensions) when EMF is on.
    pub fn emit(extra: &[(&str, &str)], values: &[(&str, f64, Unit)]) {
        let s = settings();
        if !s.on || values.is_empty() {
            return;
        }
        let now = jiff::Timestamp::now().as_millisecond();
        println!("{}", line(&s.namespace, &s.stack, extra, values, now));
    }

    /// A lead was routed: to a rep or a queue, maybe the fallback queue, after `latency_ms`.
    pub fn lead_routed(queued: bool, fallback: bool, latency_ms: u64) {
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        emit(
            &[],
            &[
                ("LeadsRouted", 1.0, Unit::Count),
                ("LeadsQueued", flag(queued), Unit::Count),
                ("LeadsFallback", flag(fallback), Unit::Count),
                ("RoutingLatency", latency_ms as f64, Unit::Milliseconds),
            ],
        );
    }

    /// A storage call failed, of this kind (`unavailable`, `throttled`, `denied`, ...).
    pub fn store_error(kind: &str) {
        emit(&[("Kind", kind)], &[("StoreErrors", 1.0, Unit::Count)]);
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_line_declares_its_metrics_and_carries_their_values() {
            let text = line(
                "LeadRouter",
                "prod",
                &[("Kind", "denied")],
                &[("StoreErrors", 1.0, Unit::Count)],
                1_764_000_000_000,
            );
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["Stack"], "prod");
            assert_eq!(v["Kind"], "denied");
            assert_eq!(v["StoreErrors"], 1.0);
            let declared = &v["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(declared["Namespace"], "LeadRouter");
            assert_eq!(declared["Dimensions"], json!([["Stack", "Kind"]]));
            assert_eq!(
                declared["Metrics"],
                json!([{"Name": "StoreErrors", "Unit": "Count"}])
            );
            assert_eq!(v["_aws"]["Timestamp"], 1_764_000_000_000i64);
            assert!(!text.contains('\n'));
        }
    }
}

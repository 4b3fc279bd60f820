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
}

/// Adds one.
pub fn bump(counter: &AtomicU64) {
    add(counter, 1);
}

/// Adds `n`.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

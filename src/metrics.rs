//! Process-wide counters of what routing did, for the load script and `GET /admin/metrics`.
//! In Lambda each instance counts its own requests; the same numbers are also in the logs.
//! Counting only: nothing here may influence a routing decision.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// One counter per event worth watching under load.
#[derive(Debug, Default)]
pub struct Counters {
    /// Leads stored.
    pub leads: AtomicU64,
    /// Transactions retried after a conflict with a concurrent one.
    pub conflict_retries: AtomicU64,
    /// Offers refused because the rep was at a cap.
    pub cap_refusals: AtomicU64,
    /// Offers refused because the rep left the pool or became inactive.
    pub roster_refusals: AtomicU64,
    /// `least_loaded` offers refused because the rep's load rose meanwhile.
    pub load_refusals: AtomicU64,
    /// Leads that overflowed at least one pool.
    pub overflowed: AtomicU64,
    /// Notifications delivered.
    pub notifications_delivered: AtomicU64,
    /// Delivery attempts that failed (each is retried or ends dead).
    pub notification_failures: AtomicU64,
    /// Notifications given up on after the last attempt.
    pub notifications_dead: AtomicU64,
    /// Leads escalated after a missed SLA deadline.
    pub escalations: AtomicU64,
    /// Escalations not made because the lead was acknowledged or escalated meanwhile.
    pub escalation_races_lost: AtomicU64,
}

/// The counters of this process.
pub static COUNTERS: Counters = Counters {
    leads: AtomicU64::new(0),
    conflict_retries: AtomicU64::new(0),
    cap_refusals: AtomicU64::new(0),
    roster_refusals: AtomicU64::new(0),
    load_refusals: AtomicU64::new(0),
    overflowed: AtomicU64::new(0),
    notifications_delivered: AtomicU64::new(0),
    notification_failures: AtomicU64::new(0),
    notifications_dead: AtomicU64::new(0),
    escalations: AtomicU64::new(0),
    escalation_races_lost: AtomicU64::new(0),
};

/// Adds one.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// A copy of the counters, as served by `GET /admin/metrics`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Snapshot {
    /// Leads stored.
    pub leads: u64,
    /// Transactions retried after a conflict.
    pub conflict_retries: u64,
    /// Offers refused at a cap.
    pub cap_refusals: u64,
    /// Offers refused because of a roster change.
    pub roster_refusals: u64,
    /// `least_loaded` offers refused because the load rose.
    pub load_refusals: u64,
    /// Leads that overflowed a pool.
    pub overflowed: u64,
    /// Notifications delivered.
    pub notifications_delivered: u64,
    /// Delivery attempts that failed (each is retried or ends dead).
    pub notification_failures: u64,
    /// Notifications given up on after the last attempt.
    pub notifications_dead: u64,
    /// Leads escalated after a missed SLA deadline.
    pub escalations: u64,
    /// Escalations not made because the lead was acknowledged or escalated meanwhile.
    pub escalation_races_lost: u64,
}

/// Reads all counters.
pub fn snapshot() -> Snapshot {
    let c = &COUNTERS;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Snapshot {
        leads: get(&c.leads),
        conflict_retries: get(&c.conflict_retries),
        cap_refusals: get(&c.cap_refusals),
        roster_refusals: get(&c.roster_refusals),
        load_refusals: get(&c.load_refusals),
        overflowed: get(&c.overflowed),
        notifications_delivered: get(&c.notifications_delivered),
        notification_failures: get(&c.notification_failures),
        notifications_dead: get(&c.notifications_dead),
        escalations: get(&c.escalations),
        escalation_races_lost: get(&c.escalation_races_lost),
    }
}

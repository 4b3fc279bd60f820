//! What a warm process remembers between requests: the active routing config (for at most its
//! cache time, so a new version takes effect within that bound), the source keys it accepted
//! (for at most their cache time: the bound on how long a revoked source key keeps working in
//! other warm processes) and the reps it has seen at a cap this period (counters only grow
//! within their period, so that stays true until the period, part of the counter's key,
//! ends), and how often intake's guess of a lead's first pool held lately (see [`Foresight`]).
//! Memory only: nothing here decides anything.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::domain::access::Role;
use crate::domain::config::RoutingConfig;
use crate::domain::model::CapCounter;
use crate::store::KeyRecord;

/// Most (rep, cap) pairs remembered as full before the memory is reset.
const KNOWN_FULL_LIMIT: usize = 10_000;
/// Guesses counted before the tally is halved, so that it follows the recent leads.
const FORESIGHT_WINDOW: u32 = 64;
/// Intake takes a ticket ahead while at most one guess in this many missed.
const FORESIGHT_MISS_EVERY: u32 = 10;

struct Cached {
    version: u64,
    config: Arc<RoutingConfig>,
    checked: Instant,
}

/// The active routing config, as last read.
pub struct ConfigCache {
    ttl: Duration,
    cached: Mutex<Option<Cached>>,
}

impl ConfigCache {
    /// A cache that trusts what it read for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// The config read less than the cache time ago, if any.
    pub fn fresh(&self) -> Option<(u64, Arc<RoutingConfig>)> {
        let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|c| c.checked.elapsed() < self.ttl)
            .map(|c| (c.version, c.config.clone()))
    }

    /// The cached config if it is this version (however old the check).
    pub fn version(&self, version: u64) -> Option<Arc<RoutingConfig>> {
        let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|c| c.version == version)
            .map(|c| c.config.clone())
    }

    /// Remembers `config` as the active version, checked now.
    pub fn keep(&self, version: u64, config: Arc<RoutingConfig>) {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some(Cached {
            version,
            config,
            checked: Instant::now(),
        });
    }

    /// Drops the config so the next request reads the active one.
    pub fn forget(&self) {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// Most source keys remembered before the memory is reset.
const KEYS_LIMIT: usize = 1_000;

/// Source keys this process accepted, by hash, with when they were read (Unix seconds of the
/// app's clock). Only source keys: a revoked admin or editor key stops at once everywhere.
pub struct KeyCache {
    ttl_seconds: i64,
    keys: Mutex<HashMap<String, (KeyRecord, i64)>>,
}

impl KeyCache {
    /// A cache that trusts an accepted source key for `ttl` (zero: never cached).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl_seconds: ttl.as_secs() as i64,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// The source key with this hash, if it was accepted less than the cache time ago.
    pub fn fresh(&self, hash: &str, now: i64) -> Option<KeyRecord> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        keys.get(hash)
            .filter(|(_, read)| now - read < self.ttl_seconds && now >= *read)
            .map(|(record, _)| record.clone())
    }

    /// Remembers an accepted key, if it is a source key and caching is on.
    pub fn keep(&self, record: &KeyRecord, now: i64) {
        if self.ttl_seconds <= 0 || record.role != Role::Source || record.revoked {
            return;
        }
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= KEYS_LIMIT {
            keys.clear();
        }
        keys.insert(record.hash.clone(), (record.clone(), now));
    }

    /// Forgets a key (revoked by this process).
    pub fn forget(&self, hash: &str) {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(hash);
    }
}

/// The (rep, cap counter) pairs this process saw full.
#[derive(Default)]
pub struct CapMemory(Mutex<HashSet<(String, CapCounter)>>);

impl CapMemory {
    /// Whether this process already saw `rep` at this cap.
    pub fn is_full(&self, rep: &str, cap: &CapCounter) -> bool {
        let full = self.0.lock().unwrap_or_else(|e| e.into_inner());
        full.contains(&(rep.to_string(), cap.clone()))
    }

    /// Remembers that `rep` is at this cap for the rest of its period.
    pub fn remember(&self, rep: &str, cap: CapCounter) {
        let mut full = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if full.len() >= KNOWN_FULL_LIMIT {
            full.clear(); // old periods' entries are never asked for again
        }
        full.insert((rep.to_string(), cap));
    }
}

/// How often intake's guess of the pool a lead's walk asks a ticket of first, made before its
/// account and earlier lead are read, held for this process's recent leads. While it holds
/// (at most one miss in [`FORESIGHT_MISS_EVERY`]), intake takes that ticket alongside the
/// reads, one round trip fewer. A miss costs more than a hit saves: the ticket is given back
/// (a write) and the next lead adopts it (two more calls), so where many leads are returning
/// contacts or owned accounts the guess soon stops being acted on. Every lead with a guess
/// counts, acted on or not, so it starts again once the leads change.
#[derive(Default)]
pub struct Foresight(Mutex<Tally>);

#[derive(Default, Clone, Copy)]
struct Tally {
    guesses: u32,
    misses: u32,
}

impl Foresight {
    /// Whether the guess held often enough lately to act on.
    pub fn trusted(&self) -> bool {
        let t = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        t.misses * FORESIGHT_MISS_EVERY <= t.guesses
    }

    /// Counts one guess, and whether it `held`.
    pub fn heard(&self, held: bool) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        t.guesses += 1;
        t.misses += u32::from(!held);
        if t.guesses >= FORESIGHT_WINDOW {
            t.guesses /= 2;
            t.misses /= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foresight_is_trusted_until_a_miss_then_again_after_nine_guesses_that_held() {
        let f = Foresight::default();
        assert!(f.trusted(), "a fresh process guesses");
        f.heard(false);
        assert!(!f.trusted());
        for _ in 0..8 {
            f.heard(true);
        }
        assert!(!f.trusted(), "one miss in nine");
        f.heard(true);
        assert!(f.trusted(), "one miss in ten");
    }

    #[test]
    fn foresight_follows_the_recent_leads() {
        let f = Foresight::default();
        for _ in 0..FORESIGHT_WINDOW * 4 {
            f.heard(false);
        }
        assert!(!f.trusted());
        for _ in 0..FORESIGHT_WINDOW * 2 {
            f.heard(true);
        }
        assert!(f.trusted(), "old misses were halved away");
    }
}

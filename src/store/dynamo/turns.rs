//! A rep's entry of unchecked tickets (`turns:<pool>` on `REP#<rep> / STATE`): how many it
//! may hold, and what this process knows of the entries it writes (which it found full, how
//! many tickets it put on each since it last tidied the pool). Never reads or writes
//! DynamoDB itself.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many new tickets of one pool a rep's entry holds for the rotation repair at most (each
/// 3 to 5 bytes; every sweep takes off those it settled). Past that (a rep given more than
/// this many leads between two sweeps, or a sweeper that has stopped), a lead records its
/// ticket as a `TURN#` item instead, so the entry, written in every one of the rep's
/// assignments, stays under the 1 KB a write unit covers.
pub const TURNS_ON_REP_MAX: usize = 100;

/// How long this process records a rep's new tickets as items of their own after finding the
/// rep's entry full, unless a tidy of the pool ends sooner.
const FULL_TURNS_FOR: Duration = Duration::from_secs(60);

/// After how many new tickets this process put on one rep's entry it takes the pool's settled
/// tickets off (half of what an entry may hold), so a busy pool's entries rarely fill between
/// two sweeps.
const TIDY_AFTER: u32 = (TURNS_ON_REP_MAX / 2) as u32;

/// What this process knows of its reps' entries of unchecked tickets (by rep and pool): how
/// many tickets it put on each since it last tidied the pool, which it found full (their leads
/// record tickets as `TURN#` items, without first trying the entry, until a tidy of the pool
/// has run or [`FULL_TURNS_FOR`] has passed), and which pools it is tidying.
#[derive(Debug, Default)]
pub(super) struct TurnEntries(Mutex<Watch>);

#[derive(Debug, Default)]
struct Watch {
    added: HashMap<(String, String), u32>,
    full: HashMap<(String, String), Instant>,
    tidying: HashSet<String>,
}

impl TurnEntries {
    fn watch(&self) -> std::sync::MutexGuard<'_, Watch> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the rep's entry for `pool` was found full a moment ago.
    pub fn is_full(&self, rep: &str, pool: &str) -> bool {
        self.watch()
            .full
            .get(&(rep.to_string(), pool.to_string()))
            .is_some_and(|until| Instant::now() < *until)
    }

    /// Notes a ticket put on the rep's entry for `pool`; true when the pool is due a tidy and
    /// none is under way.
    pub fn added(&self, rep: &str, pool: &str) -> bool {
        let mut watch = self.watch();
        let added = watch
            .added
            .entry((rep.to_string(), pool.to_string()))
            .or_default();
        *added += 1;
        let due = *added >= TIDY_AFTER;
        due && watch.tidying.insert(pool.to_string())
    }

    /// Notes the rep's entry for `pool` full; true when no tidy of the pool is under way.
    pub fn found_full(&self, rep: &str, pool: &str) -> bool {
        let mut watch = self.watch();
        let until = Instant::now() + FULL_TURNS_FOR;
        watch
            .full
            .insert((rep.to_string(), pool.to_string()), until);
        watch.tidying.insert(pool.to_string())
    }

    /// A tidy of `pool` ended (`done`: it took the settled tickets off).
    pub fn tidied(&self, pool: &str, done: bool) {
        let mut watch = self.watch();
        watch.tidying.remove(pool);
        if done {
            watch.full.retain(|(_, p), _| p != pool);
            watch.added.retain(|(_, p), _| p != pool);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_is_tidied_once_at_a_time_after_half_an_entry_or_a_full_one() {
        let entries = TurnEntries::default();
        for _ in 1..TIDY_AFTER {
            assert!(!entries.added("ana", "p"));
        }
        assert!(entries.added("ana", "p"), "the 50th ticket on Ana's entry");
        assert!(
            !entries.added("ana", "p"),
            "a tidy of the pool is under way"
        );
        assert!(!entries.found_full("ben", "p"), "still under way");
        assert!(entries.is_full("ben", "p") && !entries.is_full("ana", "p"));
        assert!(!entries.is_full("ben", "q"), "another pool");
        // A failed tidy leaves what it knew: Ben's entry stays full for now.
        entries.tidied("p", false);
        assert!(entries.is_full("ben", "p"));
        assert!(
            entries.found_full("ben", "p"),
            "and the next lead tidies again"
        );
        entries.tidied("p", true);
        assert!(!entries.is_full("ben", "p"));
        for _ in 1..TIDY_AFTER {
            assert!(!entries.added("ana", "p"), "counting from zero again");
        }
    }
}

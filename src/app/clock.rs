//! Time: where "now" comes from (tests set it) and how long an invocation may run. Lambda
//! hands each invocation an absolute deadline in Unix milliseconds; an emulator may hand a
//! relative one (cargo-lambda's `watch`), which reads as a moment in 1970: such a deadline is
//! refused with the reason, and the caller falls back to a bounded default.

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where the current time comes from; tests supply their own.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> jiff::Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Now, to the millisecond: what is stored and shown needs no more, and every timestamp
    /// is six bytes shorter on every item that holds one.
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
            .round(jiff::Unit::Millisecond)
            .expect("rounding now to milliseconds stays in range")
    }
}

/// The longest a Lambda invocation can run (the service's limit): a deadline further away
/// than this is not a real one.
pub const LONGEST_INVOCATION: Duration = Duration::from_secs(15 * 60);

/// Why an invocation's deadline was not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadDeadline {
    /// It lies this far in the past (a relative deadline read as absolute, say).
    Past(Duration),
    /// It lies further ahead than any invocation may run.
    TooFar(Duration),
}

impl fmt::Display for BadDeadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Past(d) => write!(
                f,
                "the invocation's deadline was {} s in the past (a relative deadline, as emulators send?)",
                d.as_secs()
            ),
            Self::TooFar(d) => write!(
                f,
                "the invocation's deadline was {} s ahead, longer than any invocation runs",
                d.as_secs()
            ),
        }
    }
}

/// The instant an invocation must be finished by, from its deadline in Unix milliseconds.
pub fn invocation_deadline(deadline_ms: u64) -> Result<Instant, BadDeadline> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    deadline_from(deadline_ms, now_ms, Instant::now())
}

fn deadline_from(deadline_ms: u64, now_ms: u64, now: Instant) -> Result<Instant, BadDeadline> {
    if deadline_ms <= now_ms {
        return Err(BadDeadline::Past(Duration::from_millis(
            now_ms - deadline_ms,
        )));
    }
    let left = Duration::from_millis(deadline_ms - now_ms);
    if left > LONGEST_INVOCATION {
        return Err(BadDeadline::TooFar(left));
    }
    Ok(now + left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_or_absurd_deadline_is_refused_with_the_reason() {
        let now = Instant::now();
        let now_ms = 1_795_000_000_000;
        let real = deadline_from(now_ms + 60_000, now_ms, now).unwrap();
        assert_eq!(real - now, Duration::from_secs(60));
        // cargo-lambda's emulator: "30000" means 30 s from now, read as 1970.
        let relative = deadline_from(30_000, now_ms, now).unwrap_err();
        assert!(matches!(relative, BadDeadline::Past(_)));
        assert!(relative.to_string().contains("in the past"), "{relative}");
        assert!(matches!(
            deadline_from(now_ms + 3_600_000, now_ms, now),
            Err(BadDeadline::TooFar(_))
        ));
    }
}

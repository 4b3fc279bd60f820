//! One claim per lead submission, which is also what makes every answer true.
//!
//! A request claims its Idempotency-Key (kept 24 h), or without one the lead itself (a double
//! click: the same lead from the same source within [`DOUBLE_SUBMIT_WINDOW_SECONDS`]). A
//! retry finds the claim and gets the first answer; a concurrent twin waits for it. The lead's
//! transaction completes the claim on the condition that this request still holds it, so the
//! claim is a fence: once a failed request gives its claim back ([`settle`]), its transaction
//! can never commit later, and if the claim cannot be given back because that transaction
//! completed it, the lead was stored. Either way the request knows what to answer.

use std::time::{Duration, Instant};

use crate::store::{
    IdempotencyClaim, IdempotencyStore, IdempotencyToken, Settled, StoreError, StoreResult,
    StoredResponse,
};

use super::auth::hash_secret;
use super::clock::Clock;

/// How long a request may hold a claim before a retry may take it over. Longer than any
/// request can live (the API function's timeout), so a claim is only taken from a dead one.
pub const LEASE_SECONDS: i64 = 30;
/// How long an Idempotency-Key's answer is kept for retries (DynamoDB's TTL deletes it after).
pub const KEY_KEEP_SECONDS: i64 = 24 * 60 * 60;
/// How long an identical submission without an Idempotency-Key counts as a double click.
pub const DOUBLE_SUBMIT_WINDOW_SECONDS: i64 = 60;
/// Longest a concurrent twin waits for the first request to finish before answering 409.
pub const TWIN_WAIT: Duration = Duration::from_secs(10);
/// Time kept back from an invocation's deadline so a request can still answer truly after
/// waiting or after storage stopped answering (one more storage call, bounded by the SDK's
/// operation timeout, and the response).
pub const ANSWER_RESERVE: Duration = Duration::from_secs(10);

/// A request's claim on its key.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Storage key and this request's token.
    pub token: IdempotencyToken,
    /// How long the claim and the answer it keeps last.
    pub keep_seconds: i64,
    /// True for a client's Idempotency-Key; false for a double-click guard.
    pub keyed: bool,
}

impl Claim {
    /// The claim for a lead from `source` whose JSON hashes to `request_hash`: the client's
    /// Idempotency-Key if it sent one, else the lead itself.
    pub fn new(source: &str, idempotency_key: Option<&str>, request_hash: &str) -> Self {
        let (key, keep_seconds) = match idempotency_key {
            Some(key) => (format!("{source}#{}", hash_secret(key)), KEY_KEEP_SECONDS),
            None => (
                format!("{source}#auto#{request_hash}"),
                DOUBLE_SUBMIT_WINDOW_SECONDS,
            ),
        };
        Self {
            token: IdempotencyToken {
                key,
                token: uuid::Uuid::new_v4().to_string(),
            },
            keep_seconds,
            keyed: idempotency_key.is_some(),
        }
    }
}

/// What a request may do after claiming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// It holds the claim: route and store the lead.
    Proceed,
    /// An earlier request with this key and lead finished: give its answer again.
    Replay(StoredResponse),
    /// The key was used before with a different lead.
    Reused,
    /// Another request with this key is still at work.
    Busy,
}

/// The instant a twin stops waiting for the first request: [`TWIN_WAIT`] after it started,
/// and never later than [`ANSWER_RESERVE`] before the invocation's deadline, so the function
/// is not killed before it answers.
pub fn twin_wait_until(started: Instant, deadline: Option<Instant>) -> Instant {
    let cap = started + TWIN_WAIT;
    match deadline {
        Some(deadline) => deadline
            .checked_sub(ANSWER_RESERVE)
            .map_or(started, |latest| latest.clamp(started, cap)),
        None => cap,
    }
}

/// Claims the request's key, waiting (until `wait_until`) while a twin holds it.
pub async fn admit<S: IdempotencyStore + ?Sized>(
    store: &S,
    clock: &dyn Clock,
    claim: &Claim,
    request_hash: &str,
    wait_until: Instant,
) -> StoreResult<Admission> {
    let mut pause = Duration::from_millis(20);
    loop {
        let now = clock.now().as_second();
        let found = store
            .claim_idempotency(
                &claim.token,
                request_hash,
                now,
                LEASE_SECONDS,
                claim.keep_seconds,
            )
            .await;
        let found = match found {
            // The record is inside another request's transaction right now: it is in progress.
            Err(StoreError::Conflict(_)) => IdempotencyClaim::InProgress,
            other => other?,
        };
        match found {
            IdempotencyClaim::Claimed => return Ok(Admission::Proceed),
            IdempotencyClaim::Completed(stored) => return Ok(Admission::Replay(stored)),
            IdempotencyClaim::Mismatch => return Ok(Admission::Reused),
            IdempotencyClaim::InProgress if Instant::now() + pause < wait_until => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
            }
            IdempotencyClaim::InProgress => return Ok(Admission::Busy),
        }
    }
}

/// What a failed request's lead came to.
#[derive(Debug)]
pub enum Settlement {
    /// Its transaction completed the claim: the lead is stored, and this is the answer kept.
    Stored(StoredResponse),
    /// Nothing was stored, and nothing will be: the claim was given back (or is another
    /// request's), so the transaction cannot commit any more.
    NothingStored,
    /// Storage did not answer: the lead may or may not be stored.
    Unknown(StoreError),
}

/// Settles the claim of a request that failed: gives it back unless its transaction (for
/// `lead_id`) completed it.
pub async fn settle<S: IdempotencyStore + ?Sized>(
    store: &S,
    claim: &Claim,
    lead_id: &str,
) -> Settlement {
    match store.settle_idempotency(&claim.token).await {
        Ok(Settled::Completed {
            lead_id: stored,
            response,
        }) if stored == lead_id => Settlement::Stored(response),
        Ok(_) => Settlement::NothingStored,
        Err(error) => Settlement::Unknown(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use crate::app::clock::SystemClock;

    /// Answers claims from a script, in order, and settles as told.
    struct Scripted {
        claims: Mutex<Vec<StoreResult<IdempotencyClaim>>>,
        settled: Mutex<Option<StoreResult<Settled>>>,
    }

    impl Scripted {
        fn new(claims: Vec<StoreResult<IdempotencyClaim>>) -> Self {
            Self {
                claims: Mutex::new(claims.into_iter().rev().collect()),
                settled: Mutex::new(None),
            }
        }
    }

    #[async_trait]
    impl IdempotencyStore for Scripted {
        async fn claim_idempotency(
            &self,
            _: &IdempotencyToken,
            _: &str,
            _: i64,
            _: i64,
            _: i64,
        ) -> StoreResult<IdempotencyClaim> {
            let mut claims = self.claims.lock().unwrap();
            claims.pop().unwrap_or(Ok(IdempotencyClaim::InProgress))
        }

        async fn settle_idempotency(&self, _: &IdempotencyToken) -> StoreResult<Settled> {
            self.settled.lock().unwrap().take().expect("settled once")
        }
    }

    fn claim() -> Claim {
        Claim::new("form", Some("key-1"), "hash")
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn a_twin_waits_for_the_first_answer_and_a_conflict_counts_as_in_progress() {
        let answer = StoredResponse { body: "{}".into() };
        let store = Scripted::new(vec![
            Ok(IdempotencyClaim::InProgress),
            Err(StoreError::Conflict("inside a transaction".into())),
            Ok(IdempotencyClaim::Completed(answer.clone())),
        ]);
        let admitted = admit(&store, &SystemClock, &claim(), "hash", soon()).await;
        assert_eq!(admitted.unwrap(), Admission::Replay(answer));
    }

    #[tokio::test]
    async fn a_twin_gives_up_when_its_wait_ends_and_other_answers_pass_through() {
        let store = Scripted::new(vec![]);
        let busy = admit(&store, &SystemClock, &claim(), "hash", Instant::now()).await;
        assert_eq!(busy.unwrap(), Admission::Busy);
        let store = Scripted::new(vec![Ok(IdempotencyClaim::Mismatch)]);
        let reused = admit(&store, &SystemClock, &claim(), "hash", soon()).await;
        assert_eq!(reused.unwrap(), Admission::Reused);
        let store = Scripted::new(vec![Err(StoreError::Unavailable("down".into()))]);
        assert!(admit(&store, &SystemClock, &claim(), "hash", soon())
            .await
            .is_err());
    }

    #[tokio::test]
    async fn settling_says_stored_only_for_this_requests_lead() {
        let settle_with = |settled| async move {
            let store = Scripted::new(vec![]);
            *store.settled.lock().unwrap() = Some(settled);
            settle(&store, &claim(), "lead-1").await
        };
        let response = StoredResponse {
            body: "{\"lead_id\":\"lead-1\"}".into(),
        };
        let completed = |lead: &str| {
            Ok(Settled::Completed {
                lead_id: lead.into(),
                response: response.clone(),
            })
        };
        assert!(matches!(
            settle_with(completed("lead-1")).await,
            Settlement::Stored(r) if r == response
        ));
        assert!(matches!(
            settle_with(completed("another")).await,
            Settlement::NothingStored
        ));
        assert!(matches!(
            settle_with(Ok(Settled::Released)).await,
            Settlement::NothingStored
        ));
        assert!(matches!(
            settle_with(Ok(Settled::NotHeld)).await,
            Settlement::NothingStored
        ));
        assert!(matches!(
            settle_with(Err(StoreError::Unavailable("frozen".into()))).await,
            Settlement::Unknown(_)
        ));
    }

    #[test]
    fn a_twin_never_waits_into_the_invocations_reserve() {
        let start = Instant::now();
        assert_eq!(twin_wait_until(start, None), start + TWIN_WAIT);
        // A 25 s function: the wait ends 10 s after it started (well before the reserve).
        let long = start + Duration::from_secs(25);
        assert_eq!(twin_wait_until(start, Some(long)), start + TWIN_WAIT);
        // A 15 s function: the wait ends 10 s before the deadline, 5 s in.
        let short = start + Duration::from_secs(15);
        assert_eq!(
            twin_wait_until(start, Some(short)),
            start + Duration::from_secs(5)
        );
        // Less time left than the reserve: no wait at all.
        let tight = start + Duration::from_secs(3);
        assert_eq!(twin_wait_until(start, Some(tight)), start);
    }
}

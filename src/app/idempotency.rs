//! One claim per lead submission, which is also what makes every answer true.
//!
//! A request claims its Idempotency-Key (kept 24 h), or without one the lead itself (a double
//! click: the same lead from the same source within [`DOUBLE_SUBMIT_WINDOW_SECONDS`]), for the
//! lead id it mints. That id is the only one the claim's lead can be stored under, and the
//! lead's transaction stores it only if it does not exist: so the lead is stored at most once
//! however many requests work on the claim (a retry that takes over from a vanished holder
//! keeps its id). A retry finds the claim and, once that lead exists, answers with it; a
//! concurrent twin waits for it. A failed request settles its claim ([`settle`]): one
//! transaction gives it back and fences its lead id, so its own transaction can never commit
//! later; if the fence cannot be put because the lead exists, the lead was stored. Either way
//! the request knows what to answer.

use std::time::{Duration, Instant};

use crate::store::{
    IdempotencyClaim, IdempotencyStore, IdempotencyToken, Settled, StoreError, StoreResult,
    StoredResponse,
};

/// The id a new lead gets: time-ordered, minted once per claim.
pub fn new_lead_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

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
    /// It holds the claim: route and store the lead as `lead_id`.
    Proceed {
        /// The claim's lead id.
        lead_id: String,
    },
    /// An earlier request with this key and lead stored it: answer with that lead.
    Stored {
        /// The lead.
        lead_id: String,
    },
    /// A request from before claims named their lead finished: give its answer again.
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

/// Claims the request's key for a lead `lead_id`, waiting (until `wait_until`) while a twin
/// holds it: a twin's lead, once stored, is the answer; a holder that vanished past its lease
/// is taken over, for its lead id. `Busy` only once another request was seen holding the key:
/// a claim that only ever met conflicts (the record inside someone's settling, or DynamoDB not
/// saying whose it is) ends in that conflict, so the answer is "nothing stored", not "another
/// request is at work".
pub async fn admit<S: IdempotencyStore + ?Sized>(
    store: &S,
    clock: &dyn Clock,
    claim: &Claim,
    request_hash: &str,
    lead_id: &str,
    wait_until: Instant,
) -> StoreResult<Admission> {
    let mut pause = Duration::from_millis(20);
    // Whether another request was seen holding the key, and the last conflict met.
    let mut holder_seen = false;
    let mut conflict = None;
    loop {
        let now = clock.now().as_second();
        let found = store
            .claim_idempotency(
                &claim.token,
                request_hash,
                lead_id,
                now,
                LEASE_SECONDS,
                claim.keep_seconds,
            )
            .await;
        let held = match found {
            Ok(IdempotencyClaim::Claimed { lead_id }) => return Ok(Admission::Proceed { lead_id }),
            Ok(IdempotencyClaim::Completed(stored)) => return Ok(Admission::Replay(stored)),
            Ok(IdempotencyClaim::Mismatch) => return Ok(Admission::Reused),
            Ok(IdempotencyClaim::Held {
                lead_id,
                token,
                lease_over,
            }) => Some((lead_id, token, lease_over)),
            // The record is inside another request's settling right now: look again.
            Err(StoreError::Conflict(why)) => {
                conflict = Some(why);
                None
            }
            Err(e) => return Err(e),
        };
        if let Some((held_lead, token, lease_over)) = held {
            holder_seen = true;
            if let Some(held_lead) = &held_lead {
                if store.lead_exists(held_lead).await? {
                    return Ok(Admission::Stored {
                        lead_id: held_lead.clone(),
                    });
                }
            }
            if lease_over {
                // Its holder vanished: this request goes on with its lead id (a claim from
                // before claims named their lead gets this request's own).
                let lead_id = held_lead.unwrap_or_else(|| lead_id.to_string());
                if store
                    .take_over_idempotency(&claim.token, &token, &lead_id, now, LEASE_SECONDS)
                    .await?
                {
                    return Ok(Admission::Proceed { lead_id });
                }
                continue;
            }
        }
        if Instant::now() + pause >= wait_until {
            return match conflict {
                Some(why) if !holder_seen => Err(StoreError::Conflict(why)),
                _ => Ok(Admission::Busy),
            };
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// What a failed request's lead came to.
#[derive(Debug)]
pub enum Settlement {
    /// The claim's lead is stored: answer with it.
    Stored,
    /// Nothing was stored, and nothing will be: the claim was given back and its lead id
    /// fenced, so the transaction cannot commit any more.
    NothingStored,
    /// A retry took the claim over and is storing the same lead: not stored yet.
    TakenOver,
    /// Storage did not answer: the lead may or may not be stored.
    Unknown(StoreError),
}

/// Settles the claim of a request that failed: gives it back, fencing `lead_id` when a
/// transaction storing it may have been sent (`sent`), unless the lead is stored or a retry
/// holds the claim now.
pub async fn settle<S: IdempotencyStore + ?Sized>(
    store: &S,
    clock: &dyn Clock,
    claim: &Claim,
    lead_id: &str,
    sent: bool,
) -> Settlement {
    let now = clock.now().as_second();
    let fence = sent.then_some(lead_id);
    match store.settle_idempotency(&claim.token, fence, now).await {
        Ok(Settled::Released) => Settlement::NothingStored,
        Ok(Settled::Stored) => Settlement::Stored,
        Ok(Settled::NotHeld) => Settlement::TakenOver,
        Err(error) => Settlement::Unknown(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use crate::app::clock::SystemClock;

    /// Answers claims from a script, in order; says whether leads exist and take-overs win as
    /// told; settles as told.
    #[derive(Default)]
    struct Scripted {
        claims: Mutex<Vec<StoreResult<IdempotencyClaim>>>,
        stored: Mutex<Vec<String>>,
        take_overs: Mutex<Vec<bool>>,
        settled: Mutex<Option<StoreResult<Settled>>>,
    }

    impl Scripted {
        fn new(claims: Vec<StoreResult<IdempotencyClaim>>) -> Self {
            Self {
                claims: Mutex::new(claims.into_iter().rev().collect()),
                ..Self::default()
            }
        }
    }

    fn held(lead: &str, lease_over: bool) -> StoreResult<IdempotencyClaim> {
        Ok(IdempotencyClaim::Held {
            lead_id: Some(lead.into()),
            token: "theirs".into(),
            lease_over,
        })
    }

    #[async_trait]
    impl IdempotencyStore for Scripted {
        async fn claim_idempotency(
            &self,
            _: &IdempotencyToken,
            _: &str,
            _: &str,
            _: i64,
            _: i64,
            _: i64,
        ) -> StoreResult<IdempotencyClaim> {
            let mut claims = self.claims.lock().unwrap();
            claims.pop().unwrap_or_else(|| held("theirs", false))
        }

        async fn take_over_idempotency(
            &self,
            _: &IdempotencyToken,
            _: &str,
            _: &str,
            _: i64,
            _: i64,
        ) -> StoreResult<bool> {
            Ok(self.take_overs.lock().unwrap().pop().unwrap_or(true))
        }

        async fn lead_exists(&self, lead_id: &str) -> StoreResult<bool> {
            Ok(self.stored.lock().unwrap().iter().any(|l| l == lead_id))
        }

        async fn settle_idempotency(
            &self,
            _: &IdempotencyToken,
            _: Option<&str>,
            _: i64,
        ) -> StoreResult<Settled> {
            self.settled.lock().unwrap().take().expect("settled once")
        }
    }

    fn claim() -> Claim {
        Claim::new("form", Some("key-1"), "hash")
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    async fn admitted(store: &Scripted, until: Instant) -> StoreResult<Admission> {
        admit(store, &SystemClock, &claim(), "hash", "mine", until).await
    }

    #[tokio::test]
    async fn a_twin_waits_until_the_holders_lead_exists_and_a_conflict_means_look_again() {
        let store = Scripted::new(vec![
            held("first", false),
            Err(StoreError::Conflict("inside a transaction".into())),
            held("first", false),
        ]);
        // Stored by the time of the third look.
        store.stored.lock().unwrap().push("first".into());
        assert_eq!(
            admitted(&store, soon()).await.unwrap(),
            Admission::Stored {
                lead_id: "first".into()
            }
        );
        let legacy = StoredResponse { body: "{}".into() };
        let store = Scripted::new(vec![Ok(IdempotencyClaim::Completed(legacy.clone()))]);
        assert_eq!(
            admitted(&store, soon()).await.unwrap(),
            Admission::Replay(legacy)
        );
    }

    #[tokio::test]
    async fn a_vanished_holder_is_taken_over_for_its_own_lead_id() {
        let store = Scripted::new(vec![held("first", true)]);
        assert_eq!(
            admitted(&store, soon()).await.unwrap(),
            Admission::Proceed {
                lead_id: "first".into()
            }
        );
        // Someone else took it over first: look again (and find their claim).
        let store = Scripted::new(vec![held("first", true), held("first", false)]);
        store.take_overs.lock().unwrap().push(false);
        store.stored.lock().unwrap().push("first".into());
        assert!(matches!(
            admitted(&store, soon()).await.unwrap(),
            Admission::Stored { .. }
        ));
        // A claim from before claims named their lead: taken over with this request's id.
        let store = Scripted::new(vec![Ok(IdempotencyClaim::Held {
            lead_id: None,
            token: "old".into(),
            lease_over: true,
        })]);
        assert_eq!(
            admitted(&store, soon()).await.unwrap(),
            Admission::Proceed {
                lead_id: "mine".into()
            }
        );
    }

    #[tokio::test]
    async fn a_twin_gives_up_when_its_wait_ends_and_other_answers_pass_through() {
        let store = Scripted::new(vec![]);
        let busy = admitted(&store, Instant::now()).await;
        assert_eq!(busy.unwrap(), Admission::Busy);
        let store = Scripted::new(vec![Ok(IdempotencyClaim::Mismatch)]);
        assert_eq!(admitted(&store, soon()).await.unwrap(), Admission::Reused);
        let store = Scripted::new(vec![Ok(IdempotencyClaim::Claimed {
            lead_id: "mine".into(),
        })]);
        assert_eq!(
            admitted(&store, soon()).await.unwrap(),
            Admission::Proceed {
                lead_id: "mine".into()
            }
        );
        let store = Scripted::new(vec![Err(StoreError::Unavailable("down".into()))]);
        assert!(admitted(&store, soon()).await.is_err());
    }

    #[tokio::test]
    async fn a_claim_that_only_met_conflicts_is_not_told_another_request_is_at_work() {
        // Nobody was seen holding the key: the conflict is the answer (nothing was stored).
        let conflict = || Err(StoreError::Conflict("not said whose".into()));
        let store = Scripted::new(vec![conflict(), conflict()]);
        assert!(matches!(
            admitted(&store, Instant::now()).await,
            Err(StoreError::Conflict(_))
        ));
        // A holder was seen, then conflicts until the wait ended: another request is at work.
        let store = Scripted::new(vec![held("first", false), conflict(), conflict()]);
        let until = Instant::now() + Duration::from_millis(30);
        assert_eq!(admitted(&store, until).await.unwrap(), Admission::Busy);
    }

    #[tokio::test]
    async fn settling_says_what_the_claims_transaction_found() {
        let settle_with = |settled| async move {
            let store = Scripted::new(vec![]);
            *store.settled.lock().unwrap() = Some(settled);
            settle(&store, &SystemClock, &claim(), "lead-1", true).await
        };
        assert!(matches!(
            settle_with(Ok(Settled::Stored)).await,
            Settlement::Stored
        ));
        assert!(matches!(
            settle_with(Ok(Settled::Released)).await,
            Settlement::NothingStored
        ));
        assert!(matches!(
            settle_with(Ok(Settled::NotHeld)).await,
            Settlement::TakenOver
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

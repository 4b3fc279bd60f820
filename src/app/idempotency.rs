//! What keeps a lead submission from being stored twice, which is also what makes every
//! answer true.
//!
//! A request with an Idempotency-Key claims it (kept 24 h), and so does one whose lead has no
//! email, on the lead itself (a double click: the same lead from the same source within
//! [`DOUBLE_SUBMIT_WINDOW_SECONDS`]), for the lead id it mints. That id is the only one the
//! claim's lead can be stored under, and the lead's transaction stores it only if it does not
//! exist: so the lead is stored at most once however many requests work on the claim (a retry
//! that takes over from a vanished holder keeps its id). A retry finds the claim and, once
//! that lead exists, answers with it; a concurrent twin waits for it. A failed request settles
//! its claim ([`settle`]): one transaction gives it back and fences its lead id, so its own
//! transaction can never commit later; if the fence cannot be put because the lead exists, the
//! lead was stored. Either way the request knows what to answer.
//!
//! A lead with an email and no Idempotency-Key (a web form) needs no claim of its own: its
//! contact, which the lead's transaction writes anyway, records the submission
//! ([`Submitted`]), and that write is refused if the contact already holds the same submission
//! from within the window. So a double click finds the first lead on the contact before it
//! routes, or loses to it in the transaction and then finds it ([`Guard::Contact`]); either
//! way it is answered with that lead and nothing is stored twice. A failed request fences its
//! lead id alone ([`fence`]).

use std::time::{Duration, Instant};

use crate::store::{
    Contact, IdempotencyClaim, IdempotencyStore, IdempotencyToken, Settled, StoreError,
    StoreResult, StoredResponse, Submission, SubmissionMark,
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

/// How one submission is kept from storing its lead twice.
#[derive(Debug, Clone)]
pub enum Guard {
    /// A claim on the client's Idempotency-Key, or on a lead without an email.
    Claim(Claim),
    /// A lead with an email and no Idempotency-Key: its contact records the submission.
    Contact(Submitted),
}

impl Guard {
    /// The guard for a lead from `source` whose JSON hashes to `request_hash`, arriving at
    /// `now_epoch`.
    pub fn new(
        source: &str,
        idempotency_key: Option<&str>,
        request_hash: &str,
        has_email: bool,
        now_epoch: i64,
    ) -> Self {
        if idempotency_key.is_none() && has_email {
            return Guard::Contact(Submitted {
                hash: hash_secret(&format!("{source}#{request_hash}"))[..SUBMISSION_HASH_LEN]
                    .to_string(),
                at: now_epoch,
            });
        }
        Guard::Claim(Claim::new(source, idempotency_key, request_hash))
    }

    /// True for a client's Idempotency-Key.
    pub fn keyed(&self) -> bool {
        matches!(self, Guard::Claim(claim) if claim.keyed)
    }

    /// How long the same submission is recognised (and its answer kept), in seconds.
    pub fn keep_seconds(&self) -> i64 {
        match self {
            Guard::Claim(claim) => claim.keep_seconds,
            Guard::Contact(_) => DOUBLE_SUBMIT_WINDOW_SECONDS,
        }
    }

    /// The submission this request leaves on its contact, if it is guarded by it.
    pub fn submitted(&self) -> Option<&Submitted> {
        match self {
            Guard::Contact(submitted) => Some(submitted),
            Guard::Claim(_) => None,
        }
    }
}

/// How many hex digits of a submission's hash its contact keeps (64 bits).
const SUBMISSION_HASH_LEN: usize = 16;

/// A submission guarded by its contact: what it leaves there, and how it recognises an
/// identical one stored before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// A hash of the source and the lead as submitted.
    pub hash: String,
    /// When it arrived (epoch seconds).
    pub at: i64,
}

impl Submitted {
    /// What storing it as `lead_id` leaves on the contact.
    pub fn mark(&self, lead_id: &str) -> SubmissionMark {
        SubmissionMark {
            submission: Submission {
                hash: self.hash.clone(),
                at: self.at,
                lead_id: lead_id.to_string(),
            },
            same_since: self.at - DOUBLE_SUBMIT_WINDOW_SECONDS,
        }
    }

    /// The lead the same submission stored within the window before this one, if `contact`
    /// holds it.
    pub fn twin<'c>(&self, contact: &'c Contact) -> Option<&'c str> {
        let earlier = contact.submission.as_ref()?;
        let same =
            earlier.hash == self.hash && earlier.at >= self.at - DOUBLE_SUBMIT_WINDOW_SECONDS;
        same.then_some(earlier.lead_id.as_str())
    }
}

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

/// What a failed request guarded by its contact came to: if a transaction storing its lead
/// may have been sent (`sent`), its lead id is fenced, so it cannot commit any more, unless the
/// lead is stored.
pub async fn fence<S: IdempotencyStore + ?Sized>(
    store: &S,
    clock: &dyn Clock,
    lead_id: &str,
    sent: bool,
) -> Settlement {
    if !sent {
        return Settlement::NothingStored;
    }
    match store.fence_lead(lead_id, clock.now().as_second()).await {
        Ok(Settled::Stored) => Settlement::Stored,
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

        async fn fence_lead(&self, _: &str, _: i64) -> StoreResult<Settled> {
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

    #[test]
    fn a_lead_with_an_email_and_no_key_is_guarded_by_its_contact_and_any_other_by_a_claim() {
        let at = 1_800_000_000;
        let form = Guard::new("form", None, "hash", true, at);
        let Guard::Contact(submitted) = &form else {
            panic!("{form:?}");
        };
        assert_eq!(submitted.hash.len(), SUBMISSION_HASH_LEN);
        assert!(!form.keyed());
        assert_eq!(form.keep_seconds(), DOUBLE_SUBMIT_WINDOW_SECONDS);
        // The same lead from another source is another submission.
        let Guard::Contact(other_source) = Guard::new("chat", None, "hash", true, at) else {
            panic!("guarded by the contact");
        };
        assert_ne!(other_source.hash, submitted.hash);
        let keyed = Guard::new("form", Some("key-1"), "hash", true, at);
        assert!(matches!(&keyed, Guard::Claim(c) if c.keyed) && keyed.keyed());
        let phone_only = Guard::new("form", None, "hash", false, at);
        assert!(matches!(&phone_only, Guard::Claim(c) if !c.keyed));
        assert_eq!(phone_only.submitted(), None);
    }

    #[test]
    fn the_same_submission_within_the_window_is_a_twin_of_the_lead_it_left_on_the_contact() {
        let first = Submitted {
            hash: "h".into(),
            at: 1_000,
        };
        let mark = first.mark("lead-1");
        assert_eq!(mark.same_since, 1_000 - DOUBLE_SUBMIT_WINDOW_SECONDS);
        let contact = Contact {
            key: "jane@acme.com".into(),
            lead_id: "lead-0".into(),
            first_seen_at: jiff::Timestamp::UNIX_EPOCH,
            leads: 2,
            submission: Some(mark.submission),
        };
        let again = |hash: &str, at: i64| Submitted {
            hash: hash.into(),
            at,
        };
        assert_eq!(again("h", 1_000).twin(&contact), Some("lead-1"));
        assert_eq!(again("h", 1_060).twin(&contact), Some("lead-1"));
        assert_eq!(again("h", 1_061).twin(&contact), None, "past the window");
        assert_eq!(again("other", 1_001).twin(&contact), None, "another lead");
        let unmarked = Contact {
            submission: None,
            ..contact
        };
        assert_eq!(again("h", 1_000).twin(&unmarked), None);
    }

    #[tokio::test]
    async fn a_failed_request_guarded_by_its_contact_fences_its_lead_only_if_it_sent_it() {
        let fence_with = |result: StoreResult<Settled>| async move {
            let store = Scripted::new(Vec::new());
            *store.settled.lock().unwrap() = Some(result);
            fence(&store, &SystemClock, "mine", true).await
        };
        assert!(matches!(
            fence_with(Ok(Settled::Released)).await,
            Settlement::NothingStored
        ));
        assert!(matches!(
            fence_with(Ok(Settled::Stored)).await,
            Settlement::Stored
        ));
        assert!(matches!(
            fence_with(Err(StoreError::Unavailable("frozen".into()))).await,
            Settlement::Unknown(_)
        ));
        // Nothing sent: nothing to fence (the script would panic if asked).
        let untouched = Scripted::new(Vec::new());
        assert!(matches!(
            fence(&untouched, &SystemClock, "mine", false).await,
            Settlement::NothingStored
        ));
    }
}

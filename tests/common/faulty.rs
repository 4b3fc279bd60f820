//! A store that wraps the real DynamoDB store and fails on purpose: a lead's transaction can
//! fail before it is sent (nothing written) or after it committed (the answer lost on the
//! way back, as when the SDK's attempt timeout fires); a request can "die" after taking its
//! ticket (storage stops answering it, so it can neither settle its claim nor give the
//! ticket back); reading the config can be denied, and so can a lead's account and contact. Everything else passes through, so
//! DynamoDB still enforces every condition.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;

use leadrouter::domain::account::Account;
use leadrouter::domain::distribution::Load;
use leadrouter::domain::lifecycle::StatusAction;
use leadrouter::domain::model::{Refusal, RepClaim, Ticket};
use leadrouter::store::dynamo::DynamoStore;
use leadrouter::store::*;

/// What happens to one lead transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: it goes through.
    None,
    /// It fails before it is sent: nothing is written.
    Before,
    /// It commits, then the answer is lost: the caller sees a timeout.
    After,
    /// It fails before it is sent, and the request "dies": its tickets are not given back
    /// and its claim is not settled.
    Die,
    /// It commits, the answer is lost, and storage then stops answering this request: it
    /// cannot settle its claim either.
    AfterSilence,
}

/// Decides the fault of the n-th lead transaction (from 1).
pub type Plan = Box<dyn Fn(u64) -> Fault + Send + Sync>;

/// The real store with faults.
pub struct Faulty {
    pub inner: DynamoStore,
    plan: Plan,
    commits: AtomicU64,
    /// Leads whose request died: settling their claims fails.
    dead_leads: Mutex<Vec<String>>,
    /// Counts of faults injected, by kind.
    pub injected: Mutex<HashMap<&'static str, u64>>,
    /// While true, reading the active config is denied (an IAM policy without GetItem).
    pub deny_config: AtomicBool,
    /// While true, reading a lead's account and contact fails (storage did not answer).
    pub deny_reads: AtomicBool,
    /// Leads whose transaction DynamoDB acknowledged (committed, or found already
    /// committed), with when the answer came back.
    acked: Mutex<Vec<(String, Instant)>>,
    /// What happens to the next writes of delivery results, in order (then nothing):
    /// `Before` fails without writing, `After` writes and loses the answer.
    pub record_faults: Mutex<std::collections::VecDeque<Fault>>,
}

impl Faulty {
    pub fn new(inner: DynamoStore, plan: Plan) -> Self {
        Self {
            inner,
            plan,
            commits: AtomicU64::new(0),
            dead_leads: Mutex::new(Vec::new()),
            injected: Mutex::new(HashMap::new()),
            deny_config: AtomicBool::new(false),
            deny_reads: AtomicBool::new(false),
            acked: Mutex::new(Vec::new()),
            record_faults: Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// Leads whose transaction DynamoDB acknowledged between `from` and `to`.
    pub fn acked_between(&self, from: Instant, to: Instant) -> Vec<String> {
        let acked = self.acked.lock().unwrap();
        acked
            .iter()
            .filter(|(_, at)| (from..=to).contains(at))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The real store's commit, with DynamoDB's acknowledgement noted.
    async fn commit(&self, lead: &NewLead) -> Result<(), CommitError> {
        let result = self.inner.record_assignment(lead).await;
        if matches!(
            result,
            Ok(()) | Err(CommitError::Stale(Stale::AlreadyStored))
        ) {
            let ack = (lead.lead_id.clone(), Instant::now());
            self.acked.lock().unwrap().push(ack);
        }
        result
    }

    /// Whether `lead_id` is a dead request's lead (its settling fails, once).
    fn died(&self, lead_id: Option<&str>) -> bool {
        let mut dead = self.dead_leads.lock().unwrap();
        match lead_id.and_then(|id| dead.iter().position(|l| l == id)) {
            Some(at) => {
                dead.remove(at);
                true
            }
            None => false,
        }
    }

    fn count(&self, kind: &'static str) {
        *self.injected.lock().unwrap().entry(kind).or_default() += 1;
    }

    pub fn injected(&self, kind: &str) -> u64 {
        self.injected
            .lock()
            .unwrap()
            .get(kind)
            .copied()
            .unwrap_or(0)
    }
}

fn timeout() -> StoreError {
    StoreError::Unavailable("injected: the attempt timed out".into())
}

#[async_trait]
impl LeadStore for Faulty {
    async fn record_assignment(&self, lead: &NewLead) -> Result<(), CommitError> {
        let n = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
        match (self.plan)(n) {
            Fault::None => self.commit(lead).await,
            Fault::Before => {
                self.count("before");
                Err(CommitError::Store(timeout()))
            }
            Fault::After => {
                self.commit(lead).await?;
                self.count("after");
                Err(CommitError::Store(timeout()))
            }
            Fault::AfterSilence => {
                self.commit(lead).await?;
                self.count("after, silent");
                self.dead_leads.lock().unwrap().push(lead.lead_id.clone());
                Err(CommitError::Store(timeout()))
            }
            Fault::Die => {
                self.count("die");
                self.dead_leads.lock().unwrap().push(lead.lead_id.clone());
                Err(CommitError::Store(timeout()))
            }
        }
    }
    async fn get_lead(&self, lead_id: &str) -> StoreResult<Option<StoredLead>> {
        self.inner.get_lead(lead_id).await
    }
    async fn change_status(
        &self,
        lead_id: &str,
        action: StatusAction,
        at: jiff::Timestamp,
        assignment: Option<u64>,
    ) -> StoreResult<StatusOutcome> {
        self.inner
            .change_status(lead_id, action, at, assignment)
            .await
    }
    async fn contact(&self, key: &str) -> StoreResult<Option<Contact>> {
        self.inner.contact(key).await
    }
    async fn record_outcome(&self, lead_id: &str, record: &OutcomeRecord) -> StoreResult<bool> {
        self.inner.record_outcome(lead_id, record).await
    }
    async fn record_activity(
        &self,
        lead_id: &str,
        activity: &leadrouter::store::ActivityRecord,
    ) -> StoreResult<leadrouter::store::ActivityOutcome> {
        self.inner.record_activity(lead_id, activity).await
    }
}

#[async_trait]
impl AuditStore for Faulty {
    async fn audit_log(
        &self,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
        cursor: Option<&str>,
        limit: usize,
    ) -> StoreResult<AuditPage> {
        self.inner.audit_log(from, to, cursor, limit).await
    }
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.inner.record_audit(entry).await
    }
}

#[async_trait]
impl LogStore for Faulty {
    async fn lead_log(&self, query: &LogQuery) -> StoreResult<LogPage> {
        self.inner.lead_log(query).await
    }
    async fn period_rows(
        &self,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> StoreResult<PeriodRows> {
        self.inner.period_rows(from, to).await
    }
    async fn arrived_leads(&self, ids: &[String]) -> StoreResult<Vec<ArrivedLead>> {
        self.inner.arrived_leads(ids).await
    }
}

#[async_trait]
impl JobStore for Faulty {
    async fn create_job(&self, id: &str, state: &str, expires_at: i64) -> StoreResult<()> {
        self.inner.create_job(id, state, expires_at).await
    }
    async fn job(&self, id: &str) -> StoreResult<Option<(u64, String)>> {
        self.inner.job(id).await
    }
    async fn save_job(&self, id: &str, seen: u64, state: &str) -> StoreResult<bool> {
        self.inner.save_job(id, seen, state).await
    }
}

#[async_trait]
impl ProbeStore for Faulty {
    async fn peek_ticket(&self, pool: &str) -> StoreResult<Ticket> {
        self.inner.peek_ticket(pool).await
    }
    async fn check_claim(&self, claim: &RepClaim) -> StoreResult<Option<Refusal>> {
        self.inner.check_claim(claim).await
    }
    async fn cap_counts(
        &self,
        counters: &[(String, leadrouter::domain::model::CapCounter)],
    ) -> StoreResult<Vec<u64>> {
        self.inner.cap_counts(counters).await
    }
}

#[async_trait]
impl IdempotencyStore for Faulty {
    async fn claim_idempotency(
        &self,
        token: &IdempotencyToken,
        request_hash: &str,
        lead_id: &str,
        now_epoch: i64,
        lease_seconds: i64,
        keep_seconds: i64,
    ) -> StoreResult<IdempotencyClaim> {
        self.inner
            .claim_idempotency(
                token,
                request_hash,
                lead_id,
                now_epoch,
                lease_seconds,
                keep_seconds,
            )
            .await
    }
    async fn take_over_idempotency(
        &self,
        token: &IdempotencyToken,
        seen: &str,
        lead_id: &str,
        now_epoch: i64,
        lease_seconds: i64,
    ) -> StoreResult<bool> {
        self.inner
            .take_over_idempotency(token, seen, lead_id, now_epoch, lease_seconds)
            .await
    }
    async fn lead_exists(&self, lead_id: &str) -> StoreResult<bool> {
        self.inner.lead_exists(lead_id).await
    }
    async fn fence_lead(&self, lead_id: &str, now_epoch: i64) -> StoreResult<Settled> {
        // The dead request's own fence fails.
        if self.died(Some(lead_id)) {
            return Err(timeout());
        }
        self.inner.fence_lead(lead_id, now_epoch).await
    }
    async fn settle_idempotency(
        &self,
        token: &IdempotencyToken,
        lead_id: Option<&str>,
        now_epoch: i64,
    ) -> StoreResult<Settled> {
        // The dead request's own settling fails (once: a retry that took its claim over for
        // the same lead id is alive).
        if self.died(lead_id) {
            return Err(timeout());
        }
        self.inner
            .settle_idempotency(token, lead_id, now_epoch)
            .await
    }
}

#[async_trait]
impl RotationStore for Faulty {
    async fn take_ticket(&self, pool: &str) -> StoreResult<Ticket> {
        self.inner.take_ticket(pool).await
    }
    async fn return_tickets(&self, pool: &str, turns: &[u64]) -> StoreResult<()> {
        self.inner.return_tickets(pool, turns).await
    }
    async fn enroll(&self, pool: &str, reps: &[String]) -> StoreResult<()> {
        self.inner.enroll(pool, reps).await
    }
    async fn repair_rotation(
        &self,
        pool: &str,
        now_epoch: i64,
        lease_seconds: i64,
        members: &[String],
    ) -> StoreResult<RotationRepair> {
        self.inner
            .repair_rotation(pool, now_epoch, lease_seconds, members)
            .await
    }
    async fn restart_cycle(&self, pool: &str, config_version: u64) -> StoreResult<()> {
        self.inner.restart_cycle(pool, config_version).await
    }
}

#[async_trait]
impl ConfigStore for Faulty {
    async fn active_config_version(&self) -> StoreResult<Option<u64>> {
        if self.deny_config.load(Ordering::SeqCst) {
            return Err(StoreError::Denied(
                "AccessDeniedException: not authorized to perform dynamodb:GetItem".into(),
            ));
        }
        self.inner.active_config_version().await
    }
    async fn config_version(&self, version: u64) -> StoreResult<Option<StoredConfig>> {
        self.inner.config_version(version).await
    }
    async fn config_versions(&self) -> StoreResult<Vec<VersionInfo>> {
        self.inner.config_versions().await
    }
    async fn activate_config(
        &self,
        document: &str,
        overrides: &leadrouter::domain::overrides::Overrides,
        info: &VersionInfo,
        based_on: Option<u64>,
        audit: &AuditEntry,
    ) -> StoreResult<Activation> {
        self.inner
            .activate_config(document, overrides, info, based_on, audit)
            .await
    }
}

#[async_trait]
impl KeyStore for Faulty {
    async fn find_key(&self, hash: &str) -> StoreResult<Option<KeyRecord>> {
        self.inner.find_key(hash).await
    }
    async fn put_key(&self, key: &KeyRecord, audit: Option<&AuditEntry>) -> StoreResult<()> {
        self.inner.put_key(key, audit).await
    }
    async fn revoke_key(
        &self,
        hash: &str,
        at: jiff::Timestamp,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<bool> {
        self.inner.revoke_key(hash, at, audit).await
    }
    async fn list_keys(&self) -> StoreResult<Vec<KeyRecord>> {
        self.inner.list_keys().await
    }
    async fn list_key(&self, key: &KeyRecord) -> StoreResult<()> {
        self.inner.list_key(key).await
    }
}

#[async_trait]
impl RosterStore for Faulty {
    async fn write_roster(&self, entries: &[RosterEntry]) -> StoreResult<()> {
        self.inner.write_roster(entries).await
    }
    async fn rep_loads(
        &self,
        reps: &[String],
        pool: &str,
        now_epoch: i64,
    ) -> StoreResult<Vec<(String, Load)>> {
        self.inner.rep_loads(reps, pool, now_epoch).await
    }
}

#[async_trait]
impl AccountStore for Faulty {
    async fn put_accounts(&self, accounts: &[Account]) -> StoreResult<AccountLoad> {
        self.inner.put_accounts(accounts).await
    }
    async fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        self.inner.account(id).await
    }
    async fn accounts_and_contact(
        &self,
        domains: &[String],
        contact_key: Option<&str>,
    ) -> StoreResult<(std::collections::HashMap<String, Account>, Option<Contact>)> {
        if self.deny_reads.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("the read timed out".into()));
        }
        self.inner.accounts_and_contact(domains, contact_key).await
    }
}

#[async_trait]
impl SweepStore for Faulty {
    async fn due(
        &self,
        kind: DueKind,
        shard: u32,
        now_epoch: i64,
        cursor: Option<&str>,
        limit: i32,
    ) -> StoreResult<DuePage> {
        self.inner.due(kind, shard, now_epoch, cursor, limit).await
    }
    async fn lease_due(&self, item: &DueItem, seen_due_at: i64, until: i64) -> StoreResult<bool> {
        self.inner.lease_due(item, seen_due_at, until).await
    }
    async fn reassign(&self, change: &Reassignment) -> Result<(), CommitError> {
        self.inner.reassign(change).await
    }
    async fn take_step(&self, change: &SlaStepChange) -> Result<(), CommitError> {
        self.inner.take_step(change).await
    }
}

#[async_trait]
impl OutboxStore for Faulty {
    async fn notification(
        &self,
        lead_id: &str,
        event_id: &str,
    ) -> StoreResult<Vec<StoredNotification>> {
        self.inner.notification(lead_id, event_id).await
    }
    async fn record_deliveries(
        &self,
        lead_id: &str,
        event_id: &str,
        seen: &[StoredNotification],
        attempted: &[Attempted],
    ) -> StoreResult<()> {
        let fault = self.record_faults.lock().unwrap().pop_front();
        match fault.unwrap_or(Fault::None) {
            Fault::Before | Fault::Die => {
                self.count("record_before");
                Err(timeout())
            }
            Fault::After | Fault::AfterSilence => {
                self.count("record_after");
                self.inner
                    .record_deliveries(lead_id, event_id, seen, attempted)
                    .await?;
                Err(timeout())
            }
            Fault::None => {
                self.inner
                    .record_deliveries(lead_id, event_id, seen, attempted)
                    .await
            }
        }
    }
    async fn dead_notifications(&self) -> StoreResult<u64> {
        self.inner.dead_notifications().await
    }
    async fn dead_list(&self, limit: usize) -> StoreResult<Vec<DeadNotification>> {
        self.inner.dead_list(limit).await
    }
    async fn revive(
        &self,
        dead: &DeadNotification,
        legacy: bool,
        due_at: i64,
    ) -> StoreResult<bool> {
        self.inner.revive(dead, legacy, due_at).await
    }
}

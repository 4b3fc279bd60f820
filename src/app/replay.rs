//! Replaying a period's stored leads through a draft config ([`crate::domain::replay`]), page
//! by page (200 leads: one Query of the log index and two BatchGets). Over the API a replay is
//! a job: each request advances it as far as its time allows and stores where it got to, so a
//! period of any size fits the Lambda's limits; the command-line tool runs it to the end.

use std::collections::HashMap;
use std::time::Instant;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::config::RoutingConfig;
use crate::domain::model::LeadStatus;
use crate::domain::replay::{route_as_arrived, ReplayReport, ReplayTally};
use crate::store::{LogQuery, StoreError, StoreResult};

use super::state::App;

/// Leads read per page.
const PAGE: usize = 200;
/// How long a replay job is kept (DynamoDB's TTL deletes it afterwards).
const JOB_TTL_SECONDS: i64 = 7 * 24 * 60 * 60;

/// Where a replay job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Leads are left to replay: ask again.
    Running,
    /// Every lead of the period was replayed.
    Done,
}

/// A replay job as stored between requests.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JobState {
    status: JobStatus,
    from: Timestamp,
    to: Timestamp,
    draft: String,
    cursor: Option<String>,
    tally: ReplayTally,
    created_by: String,
    created_at: Timestamp,
    finished_at: Option<Timestamp>,
}

/// What a replay request answers.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayProgress {
    /// The job (ask `GET /admin/replay/{job_id}` while it runs).
    pub job_id: String,
    /// Running or done.
    pub status: JobStatus,
    /// The period.
    pub from: Timestamp,
    /// End of the period (exclusive).
    pub to: Timestamp,
    /// Leads replayed so far.
    pub processed: u64,
    /// The report: complete when done, what was counted so far while running.
    pub report: ReplayReport,
}

/// Parsed config versions a replay met, by number (`None`: missing or unreadable).
type Versions = HashMap<u64, Option<RoutingConfig>>;

impl App {
    /// Starts a replay job of `[from, to)` through `draft`, advancing it until `budget`. A
    /// draft with mistakes is refused ([`StoreError::Invalid`]; validate it first to name
    /// them).
    pub async fn start_replay(
        &self,
        draft: &str,
        from: Timestamp,
        to: Timestamp,
        by: &str,
        budget: Instant,
    ) -> StoreResult<ReplayProgress> {
        if RoutingConfig::parse(draft).is_err() {
            return Err(StoreError::Invalid("the draft config is not valid".into()));
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        let state = JobState {
            status: JobStatus::Running,
            from,
            to,
            draft: draft.to_string(),
            cursor: None,
            tally: ReplayTally::default(),
            created_by: by.to_string(),
            created_at: self.now(),
            finished_at: None,
        };
        let expires = self.now().as_second() + JOB_TTL_SECONDS;
        self.store
            .create_job(&id, &encode(&state)?, expires)
            .await?;
        self.continue_replay(&id, budget).await?.ok_or_else(|| {
            StoreError::Unavailable("the replay job just stored is not there".into())
        })
    }

    /// Advances replay job `id` until `budget` (if it still runs) and says where it stands;
    /// `None` if there is no such job.
    pub async fn continue_replay(
        &self,
        id: &str,
        budget: Instant,
    ) -> StoreResult<Option<ReplayProgress>> {
        let mut versions = Versions::new();
        loop {
            let Some((step, text)) = self.store.job(id).await? else {
                return Ok(None);
            };
            let mut state: JobState = serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("replay job {id}: {e}")))?;
            if state.status == JobStatus::Done || Instant::now() >= budget {
                return Ok(Some(progress(id, &state)));
            }
            let draft = RoutingConfig::parse(&state.draft).map_err(|e| {
                StoreError::Corrupt(format!(
                    "replay job {id}: its draft no longer parses: {e:?}"
                ))
            })?;
            let next = self
                .replay_page(
                    &draft,
                    &mut state.tally,
                    &mut versions,
                    state.from,
                    state.to,
                    state.cursor.clone(),
                )
                .await?;
            state.cursor = next;
            if state.cursor.is_none() {
                state.status = JobStatus::Done;
                state.finished_at = Some(self.now());
            }
            // Another request advanced the job meanwhile: read it again (this page is theirs).
            if !self.store.save_job(id, step, &encode(&state)?).await? {
                continue;
            }
        }
    }

    /// Replays `[from, to)` through `draft` to the end (the command-line tool).
    pub async fn replay_all(
        &self,
        draft: &RoutingConfig,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<ReplayReport> {
        let (mut tally, mut versions, mut cursor) = (ReplayTally::default(), Versions::new(), None);
        loop {
            cursor = self
                .replay_page(draft, &mut tally, &mut versions, from, to, cursor)
                .await?;
            if cursor.is_none() {
                return Ok(tally.report());
            }
        }
    }

    /// Replays one page of leads; the cursor of the next, `None` at the end.
    async fn replay_page(
        &self,
        draft: &RoutingConfig,
        tally: &mut ReplayTally,
        versions: &mut Versions,
        from: Timestamp,
        to: Timestamp,
        cursor: Option<String>,
    ) -> StoreResult<Option<String>> {
        let query = LogQuery {
            from,
            to,
            owner: None,
            pool: None,
            rule: None,
            source: None,
            status: None,
            sla: None,
            escalated: None,
            search: None,
            now: self.now(),
            limit: PAGE,
            cursor,
        };
        let page = self.store.lead_log(&query).await?;
        let ids: Vec<String> = page.rows.iter().map(|r| r.lead_id.clone()).collect();
        let mut leads = self.store.arrived_leads(&ids).await?;
        leads.sort_by(|a, b| (a.received_at, &a.lead_id).cmp(&(b.received_at, &b.lead_id)));
        for lead in leads {
            let version = lead.first_version;
            let old = match version {
                Some(v) => {
                    if let std::collections::hash_map::Entry::Vacant(slot) = versions.entry(v) {
                        slot.insert(self.parsed_version(v).await?);
                    }
                    versions[&v].as_ref()
                }
                None => None,
            };
            let Some(old) = old.filter(|_| lead.status != LeadStatus::Spam) else {
                tally.skipped += 1;
                continue;
            };
            let turn = lead.assignment.turn.as_ref().map_or(1, |t| t.turn);
            let before = route_as_arrived(old, &lead.lead, &lead.source, lead.received_at, turn);
            let after = route_as_arrived(draft, &lead.lead, &lead.source, lead.received_at, turn);
            tally.add(
                &lead.lead_id,
                &before,
                &after,
                &old.fallback_queue,
                &draft.fallback_queue,
            );
        }
        Ok(page.next)
    }
}

fn encode(state: &JobState) -> StoreResult<String> {
    serde_json::to_string(state).map_err(|e| StoreError::Invalid(format!("replay job: {e}")))
}

fn progress(id: &str, state: &JobState) -> ReplayProgress {
    ReplayProgress {
        job_id: id.to_string(),
        status: state.status,
        from: state.from,
        to: state.to,
        processed: state.tally.leads + state.tally.skipped,
        report: state.tally.report(),
    }
}

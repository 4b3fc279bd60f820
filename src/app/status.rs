//! A lead's status after routing: read it, acknowledge it (by its owner's signed link or a
//! key allowed to work leads), close it, record what came of it. What each action may do is [`crate::domain::lifecycle`]; storage applies
//! it under a condition on the status (and assignment) it read.

use crate::domain::lifecycle::StatusAction;
use crate::domain::notify::check_ack_token;
use crate::store::{
    ActivityOutcome, ActivityRecord, OutcomeRecord, StatusOutcome, StoreError, StoreResult,
    StoredLead,
};

use super::state::App;

impl App {
    /// A stored lead with its history and notifications.
    pub async fn lead(&self, lead_id: &str) -> StoreResult<Option<StoredLead>> {
        self.store.get_lead(lead_id).await
    }

    /// Acknowledges or closes a lead (an admin's action); its owner's open-lead count follows.
    pub async fn change_status(
        &self,
        lead_id: &str,
        action: StatusAction,
    ) -> StoreResult<StatusOutcome> {
        self.store
            .change_status(lead_id, action, self.now(), None)
            .await
    }

    /// Records a touch on a lead; the first on a lead awaiting its owner stops its SLA clock.
    pub async fn record_activity(
        &self,
        lead_id: &str,
        activity: &ActivityRecord,
    ) -> StoreResult<ActivityOutcome> {
        self.store.record_activity(lead_id, activity).await
    }

    /// Records what came of a lead; `false` if there is no such lead.
    pub async fn record_outcome(&self, lead_id: &str, record: &OutcomeRecord) -> StoreResult<bool> {
        self.store.record_outcome(lead_id, record).await
    }

    /// Acknowledges `lead_id` for `rep` (from the rep's own page): only while the rep owns it,
    /// and only that assignment; `false` if it is not theirs.
    pub async fn acknowledge_own(&self, rep: &str, lead_id: &str) -> StoreResult<bool> {
        if uuid::Uuid::parse_str(lead_id).is_err() {
            return Ok(false);
        }
        let Some(lead) = self.store.get_lead(lead_id).await? else {
            return Ok(false);
        };
        if lead.assignment.owner.id() != rep
            || !matches!(
                lead.assignment.owner,
                crate::domain::model::Owner::Rep { .. }
            )
        {
            return Ok(false);
        }
        let outcome = self
            .store
            .change_status(
                lead_id,
                StatusAction::Acknowledge,
                self.now(),
                Some(lead.assignment_number),
            )
            .await?;
        Ok(matches!(
            outcome,
            StatusOutcome::Changed(_) | StatusOutcome::Unchanged(_)
        ))
    }

    /// The assignment number a lead's signed link (acknowledge, hand back) is for; `None` for
    /// a token that is not this lead's.
    pub async fn link_assignment(&self, lead_id: &str, token: &str) -> StoreResult<Option<u64>> {
        let key = self
            .notifier
            .ack_key()
            .await
            .map_err(|e| StoreError::Unavailable(format!("the acknowledge-link key: {e}")))?;
        Ok(check_ack_token(&key, lead_id, token))
    }

    /// The lead an acknowledge link is for, and whether the link is still its current
    /// owner's (`false` once it was reassigned). `None` for a bad token or no such lead.
    pub async fn lead_for_link(
        &self,
        lead_id: &str,
        token: &str,
    ) -> StoreResult<Option<(StoredLead, bool)>> {
        let Some(assignment) = self.link_assignment(lead_id, token).await? else {
            return Ok(None);
        };
        Ok(self.store.get_lead(lead_id).await?.map(|lead| {
            let current = lead.assignment_number == assignment;
            (lead, current)
        }))
    }

    /// Acknowledges a lead through a signed link: only the current assignment's link works;
    /// an earlier owner's link gets [`StatusOutcome::Superseded`]. `None` for a bad token.
    pub async fn acknowledge_with_link(
        &self,
        lead_id: &str,
        token: &str,
    ) -> StoreResult<Option<StatusOutcome>> {
        let Some(assignment) = self.link_assignment(lead_id, token).await? else {
            return Ok(None);
        };
        self.store
            .change_status(
                lead_id,
                StatusAction::Acknowledge,
                self.now(),
                Some(assignment),
            )
            .await
            .map(Some)
    }
}

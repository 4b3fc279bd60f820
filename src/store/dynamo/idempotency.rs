//! Idempotency-Key claims ([`IdempotencyStore`]): one per lead submission, naming the one lead
//! id its lead may be stored under. A claim is taken with a conditional Put (free, or expired
//! by TTL time; or this request's own claim, when the SDK retried a Put whose first attempt
//! succeeded), taken over from a holder that vanished past its lease with a conditional Update
//! that keeps the lead id, and settled after a failure by a transaction that deletes it and
//! fences its lead id. The lead's transaction does not touch the claim: its own "must not
//! exist" condition on that id is what makes the lead exactly once.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::attr::{n, s};
use super::classify::condition;
use super::client::DynamoStore;
use super::items::{self, Claim, ClaimStatus, Fence};
use super::keys::Key;
use super::tx::Guard;
use crate::store::{
    CommitError, IdempotencyClaim, IdempotencyStore, IdempotencyToken, Settled, Stale, StoreError,
    StoreResult, StoredResponse,
};

impl DynamoStore {
    /// Settling when the claim is no longer this request's: a retry that took it over stores
    /// the same lead id, so then nothing is fenced. Otherwise (the claim is gone, or is a new
    /// one for another lead, which happens only once this request outlived the claim's keep)
    /// nobody can store this lead id but this request's own transaction: fenced alone.
    async fn fence_unless_taken_over(
        &self,
        claim_key: &Key,
        lead_id: &str,
        fence: &Fence,
    ) -> StoreResult<Settled> {
        if let Some(claim) = self.read::<Claim>(claim_key).await? {
            if claim.lead_id.as_deref() == Some(lead_id) {
                return Ok(Settled::NotHeld);
            }
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::encode(&Key::lead(lead_id), fence)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        Ok(match condition(put)? {
            Ok(_) => Settled::Released,
            Err(_) => Settled::Stored,
        })
    }
}

/// How long a fenced lead id stays fenced (DynamoDB's TTL deletes the fence after): far longer
/// than any request that could still try to store it lives.
const FENCE_SECONDS: i64 = 24 * 60 * 60;

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim_idempotency(
        &self,
        token: &IdempotencyToken,
        request_hash: &str,
        lead_id: &str,
        now_epoch: i64,
        lease_seconds: i64,
        keep_seconds: i64,
    ) -> StoreResult<IdempotencyClaim> {
        let claim = Claim {
            status: ClaimStatus::InProgress,
            token: token.token.clone(),
            request_hash: request_hash.to_string(),
            lease_until: now_epoch + lease_seconds,
            expires_at: now_epoch + keep_seconds,
            response: None,
            lead_id: Some(lead_id.to_string()),
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::encode(&Key::idempotency(&token.key), &claim)?))
            // Free, or expired by TTL time (TTL deletion lags): a new lead.
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(now_epoch))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(existing) = condition(put)? else {
            return Ok(IdempotencyClaim::Claimed {
                lead_id: lead_id.to_string(),
            });
        };
        // The condition failed, so a claim exists; if DynamoDB did not say whose, a retry will.
        let Some(existing) = existing else {
            return Err(StoreError::Conflict(
                "a claim exists; not said whose".into(),
            ));
        };
        let existing: Claim = items::decode(existing)?;
        // Our own claim: the SDK retried the put after a lost answer, and the first attempt had
        // succeeded.
        if existing.token == token.token {
            if let Some(lead_id) = existing.lead_id {
                return Ok(IdempotencyClaim::Claimed { lead_id });
            }
        }
        if existing.request_hash != request_hash {
            return Ok(IdempotencyClaim::Mismatch);
        }
        match existing.response {
            Some(body) if existing.status == ClaimStatus::Completed => {
                Ok(IdempotencyClaim::Completed(StoredResponse { body }))
            }
            _ => Ok(IdempotencyClaim::Held {
                lead_id: existing.lead_id,
                token: existing.token,
                lease_over: existing.lease_until < now_epoch,
            }),
        }
    }

    async fn take_over_idempotency(
        &self,
        token: &IdempotencyToken,
        seen: &str,
        lead_id: &str,
        now_epoch: i64,
        lease_seconds: i64,
    ) -> StoreResult<bool> {
        let take = self
            .updating(&Key::idempotency(&token.key))
            .update_expression("SET #token = :token, lease_until = :lease, lead_id = :lead")
            .condition_expression(
                "#token = :seen AND #status = :in_progress AND lease_until < :now",
            )
            .expression_attribute_names("#token", "token")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":token", s(&token.token))
            .expression_attribute_values(":seen", s(seen))
            .expression_attribute_values(":lead", s(lead_id))
            .expression_attribute_values(":lease", n(now_epoch + lease_seconds))
            .expression_attribute_values(":now", n(now_epoch))
            .expression_attribute_values(":in_progress", s(ClaimStatus::InProgress.as_str()));
        Ok(self
            .conditional_update(take, ReturnValue::None)
            .await?
            .is_ok())
    }

    async fn lead_exists(&self, lead_id: &str) -> StoreResult<bool> {
        Ok(self
            .get(&Key::lead(lead_id))
            .await?
            .is_some_and(|item| !Fence::is(&item)))
    }

    async fn settle_idempotency(
        &self,
        token: &IdempotencyToken,
        lead_id: Option<&str>,
        now_epoch: i64,
    ) -> StoreResult<Settled> {
        let key = Key::idempotency(&token.key);
        let Some(lead_id) = lead_id else {
            // No transaction storing its lead was sent: given back while it is still ours.
            let release = self
                .delete(&key)
                .condition_expression("#token = :token")
                .expression_attribute_names("#token", "token")
                .expression_attribute_values(":token", s(&token.token))
                .send()
                .await;
            return Ok(match condition(release)? {
                Ok(_) => Settled::Released,
                Err(_) => Settled::NotHeld,
            });
        };
        // Given back only while it is still ours, and only with its lead id fenced: after this
        // commits, the lead transaction (whose lead must not exist) cannot commit.
        let mut tx = self.transaction();
        let release = aws_sdk_dynamodb::types::Delete::builder()
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", s(&token.token));
        tx.delete_where(release, &key, Guard::Claim)?;
        let fence = Fence {
            fenced: true,
            expires_at: now_epoch + FENCE_SECONDS,
        };
        tx.put(
            Put::builder().condition_expression("attribute_not_exists(pk)"),
            items::encode(&Key::lead(lead_id), &fence)?,
            Guard::NewLead,
        )?;
        match tx.commit(&self.client, None).await {
            Ok(()) => Ok(Settled::Released),
            // The lead exists (whatever the claim says): it is stored.
            Err(CommitError::Stale(Stale::AlreadyStored)) => Ok(Settled::Stored),
            Err(CommitError::Stale(Stale::ClaimLost)) => {
                self.fence_unless_taken_over(&key, lead_id, &fence).await
            }
            Err(CommitError::Store(e)) => Err(e),
            Err(other) => Err(StoreError::Invalid(format!("settling a claim: {other}"))),
        }
    }
}

//! Idempotency-Key claims ([`IdempotencyStore`]): one per lead submission, taken with a
//! conditional Put (free, expired, or abandoned past its lease; or this request's own claim,
//! when the SDK retried a Put whose first attempt succeeded), completed by the lead's
//! transaction, and settled after a failure with a conditional Delete that is also a fence.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::attr::{n, s};
use super::classify::condition;
use super::client::DynamoStore;
use super::items::{self, Claim, ClaimStatus};
use super::keys::Key;
use crate::store::{
    IdempotencyClaim, IdempotencyStore, IdempotencyToken, Settled, StoreResult, StoredResponse,
};

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn claim_idempotency(
        &self,
        token: &IdempotencyToken,
        request_hash: &str,
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
            lead_id: None,
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::encode(&Key::idempotency(&token.key), &claim)?))
            // Free, expired by TTL time (TTL deletion lags), or abandoned by a crashed holder.
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at < :now OR (#status = :in_progress AND lease_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(now_epoch))
            .expression_attribute_values(":in_progress", s(ClaimStatus::InProgress.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(existing) = condition(put)? else {
            return Ok(IdempotencyClaim::Claimed);
        };
        // The condition failed, so a claim exists; if DynamoDB did not say whose, a retry will.
        let Some(existing) = existing else {
            return Ok(IdempotencyClaim::InProgress);
        };
        let existing: Claim = items::decode(existing)?;
        // Our own claim: the SDK retried the put after a lost answer, and the first attempt had
        // succeeded.
        if existing.token == token.token && existing.status == ClaimStatus::InProgress {
            return Ok(IdempotencyClaim::Claimed);
        }
        if existing.request_hash != request_hash {
            return Ok(IdempotencyClaim::Mismatch);
        }
        match existing.response {
            Some(body) if existing.status == ClaimStatus::Completed => {
                Ok(IdempotencyClaim::Completed(StoredResponse { body }))
            }
            _ => Ok(IdempotencyClaim::InProgress),
        }
    }

    async fn settle_idempotency(&self, token: &IdempotencyToken) -> StoreResult<Settled> {
        // Given back only while it is still ours and in progress: after this succeeds, the
        // lead transaction (which completes the claim under the same condition) cannot commit.
        let release = self
            .delete(&Key::idempotency(&token.key))
            .condition_expression("#token = :token AND #status = :in_progress")
            .expression_attribute_names("#token", "token")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":token", s(&token.token))
            .expression_attribute_values(":in_progress", s(ClaimStatus::InProgress.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(existing) = condition(release)? else {
            return Ok(Settled::Released);
        };
        let Some(existing) = existing else {
            return Ok(Settled::NotHeld);
        };
        let claim: Claim = items::decode(existing)?;
        match (claim.status, claim.lead_id, claim.response) {
            (ClaimStatus::Completed, Some(lead_id), Some(body)) if claim.token == token.token => {
                Ok(Settled::Completed {
                    lead_id,
                    response: StoredResponse { body },
                })
            }
            _ => Ok(Settled::NotHeld),
        }
    }
}

//! Idempotency-Key claims ([`IdempotencyStore`]): one per lead submission, naming the one lead
//! id its lead may be stored under. A claim is taken with a conditional Put (free, or expired
//! by TTL time; or this request's own claim, when the SDK retried a Put whose first attempt
//! succeeded), taken over from a holder that vanished past its lease with a conditional Update
//! that keeps the lead id, and settled after a failure by a transaction that deletes it and
//! fences its lead id. The lead's transaction does not touch the claim: its own "must not
//! exist" condition on that id is what makes the lead exactly once.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::attr::{n, s, Item};
use super::classify::condition;
use super::client::DynamoStore;
use super::items::{self, Claim, ClaimStatus, Fence};
use super::keys::Key;
use super::tx::Guard;
use crate::store::{
    CommitError, IdempotencyClaim, IdempotencyStore, IdempotencyToken, Settled, Stale, StoreError,
    StoreResult, StoredResponse,
};

/// How many times settling is tried when the claim keeps changing under it.
const SETTLE_TRIES: usize = 3;

impl DynamoStore {
    /// Gives back a claim that no transaction storing its lead was sent for, while it is still
    /// this request's.
    async fn release(&self, claim_key: &Key, token: &IdempotencyToken) -> StoreResult<Settled> {
        let release = self
            .delete(claim_key)
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", s(&token.token))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        Ok(match condition(release)? {
            Ok(_) => Settled::Released,
            // Already gone: an earlier attempt of this very delete deleted it (the SDK retried
            // one whose answer was lost), or its keep ran out. Nothing was sent that could
            // store its lead, so nothing is stored.
            Err(None) => Settled::Released,
            Err(Some(_)) => Settled::NotHeld,
        })
    }

    /// Gives back the claim and fences its lead id in one transaction.
    async fn release_fenced(
        &self,
        claim_key: &Key,
        token: &IdempotencyToken,
        lead_id: &str,
        fence: &Fence,
    ) -> Result<(), CommitError> {
        let mut tx = self.transaction();
        let release = aws_sdk_dynamodb::types::Delete::builder()
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", s(&token.token));
        tx.delete_where(release, claim_key, Guard::Claim)?;
        tx.put(
            Put::builder().condition_expression("attribute_not_exists(pk)"),
            items::encode(&Key::lead(lead_id), fence)?,
            Guard::NewLead,
        )?;
        tx.commit(&self.client, None).await
    }

    /// What is at the lead id that could not be fenced: a fence (put by an earlier attempt of
    /// this request's settling, or by a retry's that took the claim over: either way nothing
    /// can be stored under it) or the lead.
    fn fenced_or_stored(seen: Option<&Item>) -> StoreResult<Settled> {
        match seen {
            Some(item) if Fence::is(item) => Ok(Settled::Released),
            Some(_) => Ok(Settled::Stored),
            None => Err(StoreError::Conflict(
                "the lead id could not be fenced; not said why".into(),
            )),
        }
    }

    /// The lead's item as a strongly consistent read sees it, for [`Self::fenced_or_stored`].
    async fn at_lead(&self, lead_id: &str) -> StoreResult<Settled> {
        Self::fenced_or_stored(self.get(&Key::lead(lead_id)).await?.as_ref())
    }

    /// Settling when the claim was not this request's as the transaction saw it. `None` when
    /// it is this request's after all (a late attempt of its own claim put landed after the
    /// transaction looked): settle again. `NotHeld` when a retry took it over for the same
    /// lead id (that retry stores the lead). Otherwise (the claim is gone, or made anew for
    /// another lead, which happens only once this request outlived the claim's keep) nobody
    /// can store this lead id but this request's own transaction: it is fenced alone.
    async fn claim_found(
        &self,
        claim_key: &Key,
        token: &IdempotencyToken,
        lead_id: &str,
        fence: &Fence,
    ) -> StoreResult<Option<Settled>> {
        if let Some(claim) = self.read::<Claim>(claim_key).await? {
            if claim.token == token.token {
                return Ok(None);
            }
            if claim.lead_id.as_deref() == Some(lead_id) {
                return Ok(Some(Settled::NotHeld));
            }
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::encode(&Key::lead(lead_id), fence)?))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        Ok(Some(match condition(put)? {
            Ok(_) => Settled::Released,
            Err(seen) => Self::fenced_or_stored(seen.as_ref())?,
        }))
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

    async fn fence_lead(&self, lead_id: &str, now_epoch: i64) -> StoreResult<Settled> {
        let fence = Fence {
            fenced: true,
            expires_at: now_epoch + FENCE_SECONDS,
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::encode(&Key::lead(lead_id), &fence)?))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match condition(put)? {
            Ok(_) => Ok(Settled::Released),
            // A fence already (an earlier attempt of this put, retried by the SDK after a lost
            // answer: nobody else knows this id), or the lead.
            Err(Some(seen)) => Self::fenced_or_stored(Some(&seen)),
            Err(None) => self.at_lead(lead_id).await,
        }
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
            return self.release(&key, token).await;
        };
        // Given back only while it is still ours, and only with its lead id fenced: after this
        // commits, the lead transaction (whose lead must not exist) cannot commit.
        let fence = Fence {
            fenced: true,
            expires_at: now_epoch + FENCE_SECONDS,
        };
        for _ in 0..SETTLE_TRIES {
            match self.release_fenced(&key, token, lead_id, &fence).await {
                Ok(()) => return Ok(Settled::Released),
                // Something is at the lead id (whatever the claim says): the lead, or a fence.
                Err(CommitError::Stale(Stale::AlreadyStored)) => {
                    return self.at_lead(lead_id).await
                }
                Err(CommitError::Stale(Stale::ClaimLost)) => {
                    if let Some(settled) = self.claim_found(&key, token, lead_id, &fence).await? {
                        return Ok(settled);
                    }
                }
                Err(CommitError::Store(e)) => return Err(e),
                Err(other) => {
                    return Err(StoreError::Invalid(format!("settling a claim: {other}")))
                }
            }
        }
        Err(StoreError::Conflict(
            "the claim kept changing while it was settled".into(),
        ))
    }
}

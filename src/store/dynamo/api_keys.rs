//! Keys by hash and their list ([`KeyStore`]); the key itself is never stored. A key's record
//! (looked up on every request) and its copy in the list are written together, with the audit
//! entry of the change.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::attr::s;
use super::audit;
use super::classify::classify;
use super::client::DynamoStore;
use super::items;
use super::keys::{Key, KEYS_PARTITION};
use super::tx::{self, Guard};
use crate::store::{AuditEntry, KeyRecord, KeyStore, StoreError, StoreResult};

#[async_trait]
impl KeyStore for DynamoStore {
    async fn find_key(&self, hash: &str) -> StoreResult<Option<KeyRecord>> {
        self.read(&Key::api_key(hash)).await
    }

    async fn put_key(&self, key: &KeyRecord, audit: Option<&AuditEntry>) -> StoreResult<()> {
        let record = KeyRecord {
            listed: true,
            ..key.clone()
        };
        let mut tx = self.transaction();
        tx.put_any(items::encode(&Key::api_key(&key.hash), &record)?)?;
        tx.put_any(items::encode(&Key::listed_key(&key.hash), &record)?)?;
        if let Some(entry) = audit {
            audit::put(&mut tx, entry)?;
        }
        tx.send(&self.client).await.map_err(classify)
    }

    async fn revoke_key(
        &self,
        hash: &str,
        at: jiff::Timestamp,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<bool> {
        let Some(found) = self.find_key(hash).await? else {
            return Ok(false);
        };
        let revoked = KeyRecord {
            revoked: true,
            revoked_at: Some(found.revoked_at.unwrap_or(at)),
            listed: true,
            ..found
        };
        let mut tx = self.transaction();
        let update = tx
            .updating(&Key::api_key(hash))
            .update_expression("SET revoked = :yes, revoked_at = :at, listed = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(
                ":at",
                items::attribute(&revoked.revoked_at.expect("set above"))?,
            );
        tx.update(update, Guard::Lead)?;
        tx.put_any(items::encode(&Key::listed_key(hash), &revoked)?)?;
        if let Some(entry) = audit {
            audit::put(&mut tx, entry)?;
        }
        match tx.send(&self.client).await {
            Ok(()) => Ok(true),
            Err(err) if !tx::failed_conditions(&err).is_empty() => Ok(false),
            Err(err) => Err(classify(err)),
        }
    }

    async fn list_keys(&self) -> StoreResult<Vec<KeyRecord>> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(KEYS_PARTITION))
            .consistent_read(true);
        self.query_all(query)
            .await?
            .into_iter()
            .map(items::decode)
            .collect()
    }

    async fn list_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let record = KeyRecord {
            listed: true,
            ..key.clone()
        };
        let mut tx = self.transaction();
        let mark = tx
            .updating(&Key::api_key(&key.hash))
            .update_expression("SET listed = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true));
        tx.update(mark, Guard::Unique)?;
        tx.put_any(items::encode(&Key::listed_key(&key.hash), &record)?)?;
        tx.send(&self.client)
            .await
            .map_err(classify)
            .map_err(|e| match e {
                StoreError::Conflict(_) => StoreError::Conflict("the key is gone".into()),
                other => other,
            })
    }
}

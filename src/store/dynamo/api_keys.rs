//! Source and admin keys by hash ([`KeyStore`]); the key itself is never stored.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use super::keys::Key;
use super::{applied, classify, DynamoStore, Item};
use crate::store::{KeyRecord, KeyStore, StoreError, StoreResult};

#[async_trait]
impl KeyStore for DynamoStore {
    async fn find_key(&self, hash: &str) -> StoreResult<Option<KeyRecord>> {
        let Some(item) = self.get(&Key::api_key(hash)).await? else {
            return Ok(None);
        };
        from_item(item)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("decode key: {e}")))
    }

    async fn put_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let mut item: Item =
            to_item(key).map_err(|e| StoreError::Invalid(format!("encode key: {e}")))?;
        item.extend(Key::api_key(&key.hash).item());
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn revoke_key(&self, hash: &str) -> StoreResult<bool> {
        let result = self
            .update(&Key::api_key(hash))
            .update_expression("SET revoked = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        applied(result.map_err(classify))
    }
}

//! Source and admin keys by hash ([`KeyStore`]); the key itself is never stored.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::attr::applied;
use super::classify::classify;
use super::client::DynamoStore;
use super::items;
use super::keys::Key;
use crate::store::{KeyRecord, KeyStore, StoreResult};

#[async_trait]
impl KeyStore for DynamoStore {
    async fn find_key(&self, hash: &str) -> StoreResult<Option<KeyRecord>> {
        self.read(&Key::api_key(hash)).await
    }

    async fn put_key(&self, key: &KeyRecord) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::encode(&Key::api_key(&key.hash), key)?))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn revoke_key(&self, hash: &str) -> StoreResult<bool> {
        let revoke = self
            .updating(&Key::api_key(hash))
            .update_expression("SET revoked = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true));
        applied(self.send_update(revoke, ReturnValue::None).await)
    }
}

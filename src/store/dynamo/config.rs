//! Routing config versions and the active pointer ([`ConfigStore`]): a new version and the
//! pointer to it are written in one transaction, conditional on the version read, so two
//! publishers never take the same number.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::Put;

use super::keys::Key;
use super::tx::{retry_conflicts, Guard, Transaction};
use super::{classify, get_n, get_s, n, s, DynamoStore};
use crate::store::{ConfigStore, StoreResult, StoredConfig};

#[async_trait]
impl ConfigStore for DynamoStore {
    async fn active_config_version(&self) -> StoreResult<Option<u64>> {
        let item = self.get(&Key::active_config()).await?;
        Ok(item.and_then(|i| get_n(&i, "version")).map(|v| v as u64))
    }

    async fn config_version(&self, version: u64) -> StoreResult<Option<StoredConfig>> {
        let item = self.get(&Key::config_version(version)).await?;
        Ok(item.map(|i| StoredConfig {
            version,
            document: get_s(&i, "document").unwrap_or_default(),
            created_at: get_s(&i, "created_at").unwrap_or_default(),
        }))
    }

    async fn activate_config(&self, document: &str, now: &str) -> StoreResult<u64> {
        retry_conflicts(|| async {
            let current = self.active_config_version().await?;
            let next = current.unwrap_or(0) + 1;
            let mut version = Key::config_version(next).item();
            version.extend([
                ("version".into(), n(next)),
                ("document".into(), s(document)),
                ("created_at".into(), s(now)),
            ]);
            let mut pointer = Key::active_config().item();
            pointer.extend([("version".into(), n(next)), ("activated_at".into(), s(now))]);
            let expected = match current {
                None => Put::builder().condition_expression("attribute_not_exists(pk)"),
                Some(v) => Put::builder()
                    .condition_expression("version = :current")
                    .set_expression_attribute_values(Some(HashMap::from([(
                        ":current".to_string(),
                        n(v),
                    )]))),
            };
            let mut tx = Transaction::new(&self.table);
            tx.put_new(version, Guard::Unique)?;
            tx.put(expected, pointer, Guard::Unique)?;
            // A conflict: another publisher took this version number; read again and retry.
            tx.send(&self.client).await.map_err(classify)?;
            Ok(next)
        })
        .await
    }
}

//! Routing config versions, their list, and the active pointer ([`ConfigStore`]): a new version and the
//! pointer to it are written in one transaction, conditional on the version read, so two
//! publishers never take the same number.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::Put;

use super::attr::{n, s};
use super::classify::classify;
use super::client::DynamoStore;
use super::items::{self, ConfigPointer, ConfigVersion, VersionStamp};
use super::keys::{self, Key};
use super::tx::{retry_conflicts, Guard};
use crate::store::{ConfigStore, StoreResult, StoredConfig};

#[async_trait]
impl ConfigStore for DynamoStore {
    async fn active_config_version(&self) -> StoreResult<Option<u64>> {
        let pointer: Option<ConfigPointer> = self.read(&Key::active_config()).await?;
        Ok(pointer.map(|p| p.version))
    }

    async fn config_version(&self, version: u64) -> StoreResult<Option<StoredConfig>> {
        let stored: Option<ConfigVersion> = self.read(&Key::config_version(version)).await?;
        Ok(stored.map(|c| StoredConfig {
            version,
            document: c.document,
            created_at: c.created_at,
        }))
    }

    async fn config_versions(&self) -> StoreResult<Vec<(u64, jiff::Timestamp)>> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :versions)")
            .expression_attribute_values(":pk", s(keys::CONFIG_PARTITION))
            .expression_attribute_values(":versions", s(keys::CONFIG_VERSION_PREFIX))
            .projection_expression("version, created_at")
            .consistent_read(true);
        self.query_all(query)
            .await?
            .into_iter()
            .map(|item| {
                let v: VersionStamp = items::decode(item)?;
                Ok((v.version, v.created_at))
            })
            .collect()
    }

    async fn activate_config(&self, document: &str, now: jiff::Timestamp) -> StoreResult<u64> {
        retry_conflicts(|| async {
            let current = self.active_config_version().await?;
            let next = current.unwrap_or(0) + 1;
            let version = ConfigVersion {
                version: next,
                document: document.to_string(),
                created_at: now,
            };
            let pointer = ConfigPointer {
                version: next,
                activated_at: Some(now),
            };
            let expected = match current {
                None => Put::builder().condition_expression("attribute_not_exists(pk)"),
                Some(v) => Put::builder()
                    .condition_expression("version = :current")
                    .set_expression_attribute_values(Some(HashMap::from([(
                        ":current".to_string(),
                        n(v),
                    )]))),
            };
            let mut tx = self.transaction();
            tx.put_new(
                items::encode(&Key::config_version(next), &version)?,
                Guard::Unique,
            )?;
            let pointer = items::encode(&Key::active_config(), &pointer)?;
            tx.put(expected, pointer, Guard::Unique)?;
            // A conflict: another publisher took this version number; read again and retry.
            tx.send(&self.client).await.map_err(classify)?;
            Ok(next)
        })
        .await
    }
}

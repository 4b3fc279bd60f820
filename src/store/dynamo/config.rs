//! Routing config versions, their list, and the active pointer ([`ConfigStore`]): a new
//! version, the pointer to it and the audit entry are written in one transaction, conditional
//! on the version read (or the one the publisher based it on), so two publishers never take
//! the same number and a publish based on a version that is no longer active is refused.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::Put;

use super::attr::{n, s};
use super::audit;
use super::classify::classify;
use super::client::DynamoStore;
use super::items::{self, ConfigPointer, ConfigVersion, VersionFields};
use super::keys::{self, Key};
use super::tx::{self, retry_conflicts, Guard};
use crate::domain::overrides::Overrides;
use crate::store::{
    Activation, AuditEntry, ConfigStore, StoreError, StoreResult, StoredConfig, VersionInfo,
};

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
            overrides: c.overrides.unwrap_or_default(),
            info: c.info.info(),
        }))
    }

    async fn config_versions(&self) -> StoreResult<Vec<VersionInfo>> {
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND begins_with(sk, :versions)")
            .expression_attribute_values(":pk", s(keys::CONFIG_PARTITION))
            .expression_attribute_values(":versions", s(keys::CONFIG_VERSION_PREFIX))
            .projection_expression(
                "version, created_at, author, message, summary, replaced, rollback_of",
            )
            .consistent_read(true);
        self.query_all(query)
            .await?
            .into_iter()
            .map(|item| Ok(items::decode::<VersionFields>(item)?.info()))
            .collect()
    }

    async fn activate_config(
        &self,
        document: &str,
        overrides: &Overrides,
        info: &VersionInfo,
        based_on: Option<u64>,
        audit: &AuditEntry,
    ) -> StoreResult<Activation> {
        let attempt = || async {
            let current = self.active_config_version().await?;
            if based_on
                .is_some_and(|base| Some(base) != current && !(base == 0 && current.is_none()))
            {
                return Ok(Activation::Stale { current });
            }
            let next = current.unwrap_or(0) + 1;
            let version = ConfigVersion {
                document: document.to_string(),
                overrides: (!overrides.is_empty()).then(|| overrides.clone()),
                info: VersionFields::of(&VersionInfo {
                    version: next,
                    replaced: current,
                    ..info.clone()
                }),
            };
            let pointer = ConfigPointer {
                version: next,
                activated_at: Some(info.created_at),
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
            let mut entry = audit.clone();
            entry.target = Some(format!("version {next}"));
            audit::put(&mut tx, &entry)?;
            match tx.send(&self.client).await {
                Ok(()) => Ok(Activation::Published(next)),
                // Another publisher took this number. Based on a version: that one is stale
                // now; otherwise read again and retry.
                Err(err) if !tx::failed_conditions(&err).is_empty() && based_on.is_some() => {
                    Ok(Activation::Stale {
                        current: self.active_config_version().await?,
                    })
                }
                Err(err) => Err(classify(err)),
            }
        };
        retry_conflicts(attempt).await.map_err(|e: StoreError| e)
    }
}

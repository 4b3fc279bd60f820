//! Reps' standing as storage enforces it ([`RosterStore`]): roster entries, loads for
//! `least_loaded`, and rotation cycles.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::{self, Key};
use super::tx::retry_conflicts;
use super::{classify, get_n, get_s, n, s, DynamoStore};
use crate::domain::distribution::Load;
use crate::store::{RosterEntry, RosterStore, StoreResult};

#[async_trait]
impl RosterStore for DynamoStore {
    async fn write_roster(&self, entries: &[RosterEntry]) -> StoreResult<()> {
        let now = jiff::Timestamp::now().to_string();
        for entry in entries {
            retry_conflicts(|| async {
                let pools = AttributeValue::L(entry.pools.iter().map(s).collect());
                let mut update = self
                    .update(&Key::rep(&entry.rep))
                    .expression_attribute_names("#active", "active")
                    .expression_attribute_names("#pools", "pools")
                    .expression_attribute_values(":active", AttributeValue::Bool(entry.active))
                    .expression_attribute_values(":pools", pools)
                    .expression_attribute_values(":now", s(&now));
                let mut expression =
                    "SET #active = :active, #pools = :pools, roster_at = :now".to_string();
                if let Some((floor, until)) = entry.floor {
                    expression.push_str(", floor_open = :floor, floor_until = :until");
                    update = update
                        .expression_attribute_values(":floor", n(floor))
                        .expression_attribute_values(":until", n(until));
                }
                update
                    .update_expression(expression)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    async fn rep_loads(
        &self,
        reps: &[String],
        pool: &str,
        now_epoch: i64,
    ) -> StoreResult<Vec<(String, Load)>> {
        let keys = reps.iter().map(|rep| Key::rep(rep)).collect();
        let items = self.batch_get(keys, true).await?;
        Ok(items
            .iter()
            .map(|item| {
                let pk = get_s(item, "pk").unwrap_or_default();
                let rep = keys::rep_of(&pk).unwrap_or_default().to_string();
                let open = get_n(item, "open").unwrap_or(0).max(0) as u64;
                let floor = match (get_n(item, "floor_open"), get_n(item, "floor_until")) {
                    (Some(floor), Some(until)) if until > now_epoch => floor.max(0) as u64,
                    _ => 0,
                };
                let last_ticket = get_n(item, &keys::ticket_attribute(pool))
                    .unwrap_or(0)
                    .max(0) as u64;
                let load = Load {
                    open,
                    floor,
                    last_ticket,
                };
                (rep, load)
            })
            .collect())
    }

    async fn restart_cycle(&self, pool: &str, config_version: u64) -> StoreResult<()> {
        self.update(&Key::rotation(pool))
            .update_expression(
                "SET cycle_start = if_not_exists(turn, :zero), cycle_config = :version",
            )
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":version", n(config_version))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

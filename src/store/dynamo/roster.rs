//! Reps' standing as storage enforces it ([`RosterStore`]): roster entries and loads for
//! `least_loaded`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;

use super::client::DynamoStore;
use super::items::{self, Changes, RepState, RosterChange};
use super::keys::{self, Key};
use super::tx::retry_conflicts;
use crate::domain::distribution::Load;
use crate::store::{RosterEntry, RosterStore, StoreResult};

#[async_trait]
impl RosterStore for DynamoStore {
    async fn write_roster(&self, entries: &[RosterEntry]) -> StoreResult<()> {
        let now = jiff::Timestamp::now();
        for entry in entries {
            let change = RosterChange {
                active: entry.active,
                pools: &entry.pools,
                roster_at: now,
                floor_open: entry.floor.map(|(floor, _)| floor),
                floor_until: entry.floor.map(|(_, until)| until),
            };
            let changes = Changes::set(&change)?;
            retry_conflicts(|| async {
                let update = changes.clone().on(self.updating(&Key::rep(&entry.rep)));
                self.send_update(update, ReturnValue::None)
                    .await
                    .map(|_| ())
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
        let ticket = keys::ticket_attribute(pool);
        let mut loads = Vec::new();
        for mut item in self
            .batch_get(reps.iter().map(|r| Key::rep(r)).collect(), true)
            .await?
        {
            let rep = Key::of(&item)
                .and_then(|key| keys::rep_of(&key.pk).map(str::to_string))
                .unwrap_or_default();
            let last_ticket: i64 = match item.remove(&ticket) {
                Some(value) => items::value_of(value)?,
                None => 0,
            };
            let state: RepState = items::decode(item)?;
            let floor = match (state.floor_open, state.floor_until) {
                (Some(floor), Some(until)) if until > now_epoch => floor.max(0) as u64,
                _ => 0,
            };
            let load = Load {
                open: state.open.max(0) as u64,
                floor,
                last_ticket: last_ticket.max(0) as u64,
            };
            loads.push((rep, load));
        }
        Ok(loads)
    }
}

//! Simulations' reads ([`ProbeStore`]): the ticket a pool would hand out next and whether a
//! rep's records would take a claim, read without writing anything.

use async_trait::async_trait;

use super::client::DynamoStore;
use super::items::{self, RepState, Rotation};
use super::keys::Key;
use super::rotation::ticket;
use crate::domain::model::{CapCounter, Refusal, RepClaim, Ticket};
use crate::store::{ProbeStore, StoreResult};

#[async_trait]
impl ProbeStore for DynamoStore {
    async fn peek_ticket(&self, pool: &str) -> StoreResult<Ticket> {
        let rotation: Rotation = self.read(&Key::rotation(pool)).await?.unwrap_or_default();
        let given_back = rotation
            .returned
            .iter()
            .copied()
            .find(|t| *t > rotation.cycle_start);
        Ok(match given_back {
            Some(turn) => ticket(&rotation, turn, true),
            None => ticket(&rotation, rotation.turn + 1, false),
        })
    }

    async fn check_claim(&self, claim: &RepClaim) -> StoreResult<Option<Refusal>> {
        let mut keys_read = vec![Key::rep(&claim.rep)];
        keys_read.extend(
            claim
                .caps
                .iter()
                .map(|c| Key::cap(&claim.rep, c.period, &c.key)),
        );
        let found = self.batch_get(keys_read, true).await?;
        let mut state = None;
        let mut counts: Vec<(String, i64)> = Vec::new();
        for item in found {
            let sk = Key::of(&item).map(|k| k.sk).unwrap_or_default();
            if sk == Key::rep(&claim.rep).sk {
                state = Some(items::decode::<RepState>(item)?);
            } else {
                counts.push((sk, items::decode::<CapCount>(item)?.assigned));
            }
        }
        // The commit's conditions: a rep without a roster entry is allowed (a publish writes
        // every rep's entry); otherwise active, and in the pool for a pool claim.
        if let Some(state) = &state {
            if let Some(active) = state.active {
                let in_pool = claim.pool.as_ref().is_none_or(|p| state.pools.contains(p));
                if !active || !in_pool {
                    return Ok(Some(Refusal::NotOnRoster));
                }
            }
            if claim
                .max_open
                .is_some_and(|max| state.open.max(0) as u64 > max)
            {
                return Ok(Some(Refusal::LoadRose));
            }
        }
        for cap in &claim.caps {
            let sk = Key::cap(&claim.rep, cap.period, &cap.key).sk;
            let count = counts.iter().find(|(k, _)| *k == sk).map_or(0, |(_, c)| *c);
            if count >= i64::from(cap.limit) {
                return Ok(Some(Refusal::AtCap(cap.period)));
            }
        }
        Ok(None)
    }

    async fn cap_counts(&self, counters: &[(String, CapCounter)]) -> StoreResult<Vec<u64>> {
        let keys: Vec<Key> = counters
            .iter()
            .map(|(rep, c)| Key::cap(rep, c.period, &c.key))
            .collect();
        let found = self.batch_get(keys.clone(), false).await?;
        let mut counts = vec![0; keys.len()];
        for item in found {
            let Some(key) = Key::of(&item) else { continue };
            let count = items::decode::<CapCount>(item)?.assigned.max(0) as u64;
            for (i, k) in keys.iter().enumerate() {
                if *k == key {
                    counts[i] = count;
                }
            }
        }
        Ok(counts)
    }
}

/// A cap counter as read.
#[derive(Debug, serde::Deserialize)]
struct CapCount {
    #[serde(default)]
    assigned: i64,
}

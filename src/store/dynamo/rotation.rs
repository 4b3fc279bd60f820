//! Pools' rotations ([`RotationStore`]): tickets, tickets given back, the repair that finds
//! tickets whose requests died, and cycle restarts, all on the pool's `ROTATION` item.
//!
//! Taking a ticket is one conditional `ADD turn :1` while nothing was given back. Otherwise
//! the oldest ticket given back is adopted (`REMOVE returned[0]` while any is there, the item
//! as it was naming the ticket removed), so a turn a failed request gave back goes to the next
//! lead, and leads adopting at once each get a different one. A ticket is still used by at
//! most one stored lead: a new one because the counter hands it out once, an
//! adopted one because the lead's transaction puts its `TURN#` record only if it does not exist
//! (a ticket given back twice loses there, and its lead takes another). The repair gives back
//! tickets that no stored lead uses, nobody gave back, and that were taken longer ago than any
//! request can live. What a lead used is on its rep's entry (`turns:<pool>`, for new tickets)
//! or in a `TURN#` record; the repair reads the entries of every rep ever made a member of the
//! pool (`MEMBERS`, written before a config that makes them members is active), and takes the
//! tickets it has settled off them again.

use std::collections::{BTreeSet, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::attr::{n, s};
use super::client::DynamoStore;
use super::items::{self, Changes, RepairMark, Rotation};
use super::keys::{self, Key};
use crate::domain::model::Ticket;
use crate::store::{RotationRepair, RotationStore, StoreResult};

/// How often a lead tries for a ticket before it takes a new one whatever was given back:
/// each try that fails found tickets given back and then, a moment later, none left (others
/// adopted the last ones, and more were given back before its next try).
const ADOPT_ATTEMPTS: u32 = 5;

impl DynamoStore {
    /// Notes that an assignment put its new ticket on the rep's entry (or, `found_full`, found
    /// that entry full and recorded the ticket as an item of its own) and, once at a time per
    /// pool, takes the pool's settled tickets off its reps' entries in the background when
    /// they need it, as the sweeper would at its next run.
    pub(super) fn noted_turn(&self, rep: &str, pool: &str, found_full: bool) {
        let tidy = if found_full {
            self.turn_entries.found_full(rep, pool)
        } else {
            self.turn_entries.added(rep, pool)
        };
        if !tidy {
            return;
        }
        let (store, pool) = (self.clone(), pool.to_string());
        tokio::spawn(async move {
            let done = store.settle_used(&pool).await;
            if let Err(error) = &done {
                tracing::warn!(%pool, %error, "could not take settled tickets off the reps' entries; the sweeper will");
            }
            store.turn_entries.tidied(&pool, done.is_ok());
        });
    }

    /// The repair's first half alone: settles the tickets stored leads used, up to the first
    /// unused one, and takes them off the reps' entries; judges nothing dead and gives nothing
    /// back (that is the sweeper's, after the lease).
    pub(super) async fn settle_used(&self, pool: &str) -> StoreResult<()> {
        let Some(rotation) = self.read::<Rotation>(&Key::rotation(pool)).await? else {
            return Ok(());
        };
        let checked = rotation
            .checked_through
            .unwrap_or(0)
            .max(rotation.cycle_start);
        let (from, to) = (checked + 1, rotation.turn);
        if from > to {
            return Ok(());
        }
        let (used, on_reps) = self.used_in(pool, from, to, &[]).await?;
        let checked_through = settled_through(&used, from, to);
        let record = self
            .updating(&Key::rotation(pool))
            .update_expression("SET checked_through = :through")
            .condition_expression(
                "attribute_not_exists(checked_through) OR checked_through <= :through",
            )
            .expression_attribute_values(":through", n(checked_through));
        if self
            .conditional_update(record, ReturnValue::None)
            .await?
            .is_ok()
        {
            self.forget_settled(pool, on_reps, checked_through).await?;
        }
        Ok(())
    }

    /// The tickets from `from` to `to` that stored leads used (as `TURN#` items or on their
    /// reps' entries), with the tickets each rep's entry holds.
    async fn used_in(
        &self,
        pool: &str,
        from: u64,
        to: u64,
        members: &[String],
    ) -> StoreResult<(HashSet<u64>, Vec<(String, BTreeSet<u64>)>)> {
        let mut used = self.used_turns(pool, from, to).await?;
        let on_reps = self.turns_on_reps(pool, members).await?;
        for (_, turns) in &on_reps {
            used.extend(turns.range(from..=to));
        }
        Ok((used, on_reps))
    }

    /// Takes the tickets up to `checked_through` off the reps' entries.
    async fn forget_settled(
        &self,
        pool: &str,
        on_reps: Vec<(String, BTreeSet<u64>)>,
        checked_through: u64,
    ) -> StoreResult<()> {
        for (rep, turns) in on_reps {
            let settled: Vec<String> = turns
                .range(..=checked_through)
                .map(u64::to_string)
                .collect();
            if settled.is_empty() {
                continue;
            }
            let forget = self
                .updating(&Key::rep(&rep))
                .update_expression("DELETE #turns :settled")
                .expression_attribute_names("#turns", keys::turns_attribute(pool))
                .expression_attribute_values(":settled", AttributeValue::Ns(settled));
            self.send_update(forget, ReturnValue::None).await?;
        }
        Ok(())
    }
}

/// The last ticket from `from` to `to` before the first one `used` lacks (`from - 1` if that
/// is `from` itself): everything up to it is settled for good.
fn settled_through(used: &HashSet<u64>, from: u64, to: u64) -> u64 {
    (from..=to)
        .find(|t| !used.contains(t))
        .map_or(to, |t| t - 1)
}

pub(super) fn ticket(rotation: &Rotation, turn: u64, adopted: bool) -> Ticket {
    Ticket {
        turn,
        cycle_start: rotation.cycle_start,
        cycle_config: rotation.cycle_config,
        adopted,
    }
}

#[async_trait]
impl RotationStore for DynamoStore {
    async fn take_ticket(&self, pool: &str) -> StoreResult<Ticket> {
        let key = Key::rotation(pool);
        for _ in 0..ADOPT_ATTEMPTS {
            // The common case, one round trip: nothing given back, a new ticket.
            let fresh = self
                .updating(&key)
                .update_expression("ADD turn :one")
                .condition_expression("attribute_not_exists(returned) OR size(returned) = :zero")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":zero", n(0));
            if let Ok(new) = self.conditional_update(fresh, ReturnValue::AllNew).await? {
                let rotation: Rotation = items::decode(new)?;
                return Ok(ticket(&rotation, rotation.turn, false));
            }
            // Adopt whichever ticket is oldest when this update runs: the item as it was says
            // which, so leads adopting at the same moment each get a different one.
            let adopt = self
                .updating(&key)
                .update_expression("REMOVE returned[0]")
                .condition_expression("size(returned) > :zero")
                .expression_attribute_values(":zero", n(0));
            if let Ok(old) = self.conditional_update(adopt, ReturnValue::AllOld).await? {
                let rotation: Rotation = items::decode(old)?;
                // One from before the cycle restarted is dropped: its slot means nothing now.
                if let Some(&oldest) = rotation.returned.first() {
                    if oldest > rotation.cycle_start {
                        return Ok(ticket(&rotation, oldest, true));
                    }
                }
            }
        }
        // Tickets keep being given back and adopted by others first: a new one, and the
        // given-back ones wait for the next lead.
        let fresh = self
            .updating(&key)
            .update_expression("ADD turn :one")
            .expression_attribute_values(":one", n(1));
        let rotation: Rotation =
            items::decode(self.send_update(fresh, ReturnValue::AllNew).await?)?;
        Ok(ticket(&rotation, rotation.turn, false))
    }

    async fn return_tickets(&self, pool: &str, turns: &[u64]) -> StoreResult<()> {
        if turns.is_empty() {
            return Ok(());
        }
        let turns = turns.iter().map(|t| n(*t)).collect();
        let give_back = Changes::default()
            .append("returned", turns)
            .on(self.updating(&Key::rotation(pool)));
        self.send_update(give_back, ReturnValue::None).await?;
        Ok(())
    }

    async fn enroll(&self, pool: &str, reps: &[String]) -> StoreResult<()> {
        if reps.is_empty() {
            return Ok(());
        }
        let add = self
            .updating(&Key::pool_members(pool))
            .update_expression("ADD reps :reps")
            .expression_attribute_values(":reps", AttributeValue::Ss(reps.to_vec()));
        self.send_update(add, ReturnValue::None).await?;
        Ok(())
    }

    async fn repair_rotation(
        &self,
        pool: &str,
        now_epoch: i64,
        lease_seconds: i64,
        members: &[String],
    ) -> StoreResult<RotationRepair> {
        let key = Key::rotation(pool);
        let Some(rotation) = self.read::<Rotation>(&key).await? else {
            return Ok(RotationRepair::default());
        };
        let checked = rotation
            .checked_through
            .unwrap_or(0)
            .max(rotation.cycle_start);
        // Tickets up to the mark were taken before `mark_at`; once that is longer ago than any
        // request lives, an unused one among them belongs to a request that died, and the mark
        // moves on to the last ticket now. Used tickets are settled at once, whatever their age.
        let (mark, dead_through) = match (rotation.mark_turn, rotation.mark_at) {
            (Some(mark), Some(at)) if now_epoch - at < lease_seconds => ((mark, at), checked),
            (Some(mark), Some(_)) => ((rotation.turn, now_epoch), mark),
            _ => ((rotation.turn, now_epoch), checked),
        };
        let (from, to) = (checked + 1, rotation.turn);
        let mut gaps = Vec::new();
        let mut checked_through = checked;
        let mut on_reps = Vec::new();
        if from <= to {
            let used;
            (used, on_reps) = self.used_in(pool, from, to, members).await?;
            gaps = (from..=dead_through.min(to))
                .filter(|t| !used.contains(t) && !rotation.returned.contains(t))
                .collect();
            // From the first unused ticket on, the next repair looks again (it may be at work
            // still, or a ticket given back may be adopted by a lead that dies).
            checked_through = settled_through(&used, from, to);
        }
        // Only one sweeper moves the mark (and gives back what it judged dead): a concurrent
        // one finds it moved, or the check past where it got, and does nothing.
        let record = Changes::set(&RepairMark {
            checked_through,
            mark_turn: mark.0,
            mark_at: mark.1,
        })?
        .on(self.updating(&key))
        .expression_attribute_values(":through", n(checked_through));
        let behind = "(attribute_not_exists(checked_through) OR checked_through <= :through)";
        let record = match rotation.mark_at {
            Some(at) => record
                .condition_expression(format!("mark_at = :seen AND {behind}"))
                .expression_attribute_values(":seen", n(at)),
            None => {
                record.condition_expression(format!("attribute_not_exists(mark_at) AND {behind}"))
            }
        };
        if self
            .conditional_update(record, ReturnValue::None)
            .await?
            .is_err()
        {
            return Ok(RotationRepair::default());
        }
        self.return_tickets(pool, &gaps).await?;
        // What is settled need not be kept on the reps' entries any more.
        self.forget_settled(pool, on_reps, checked_through).await?;
        Ok(RotationRepair { returned: gaps })
    }

    async fn restart_cycle(&self, pool: &str, config_version: u64) -> StoreResult<()> {
        let restart = self
            .updating(&Key::rotation(pool))
            .update_expression(
                "SET cycle_start = if_not_exists(turn, :zero), cycle_config = :version REMOVE returned",
            )
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":version", n(config_version));
        self.send_update(restart, ReturnValue::None).await?;
        Ok(())
    }
}

impl DynamoStore {
    /// The new tickets of `pool` each rep's leads used that are still on the rep's entry, for
    /// every rep ever enrolled in the pool and every one of `members`, read consistently.
    async fn turns_on_reps(
        &self,
        pool: &str,
        members: &[String],
    ) -> StoreResult<Vec<(String, BTreeSet<u64>)>> {
        let enrolled: Option<items::PoolMembers> = self.read(&Key::pool_members(pool)).await?;
        let reps: BTreeSet<String> = enrolled
            .map(|m| m.reps)
            .unwrap_or_default()
            .into_iter()
            .chain(members.iter().cloned())
            .collect();
        let attribute = keys::turns_attribute(pool);
        let entries = self
            .batch_get(reps.iter().map(|r| Key::rep(r)).collect(), true)
            .await?;
        let mut on_reps = Vec::new();
        for mut item in entries {
            let Some(rep) = Key::of(&item).and_then(|k| keys::rep_of(&k.pk).map(str::to_string))
            else {
                continue;
            };
            let turns: BTreeSet<u64> = match item.remove(&attribute) {
                Some(value) => items::value_of(value)?,
                None => continue,
            };
            on_reps.push((rep, turns));
        }
        Ok(on_reps)
    }

    /// The tickets from `from` to `to` that a stored lead used.
    async fn used_turns(&self, pool: &str, from: u64, to: u64) -> StoreResult<HashSet<u64>> {
        let (first, last) = (Key::turn(pool, from), Key::turn(pool, to));
        let query = self
            .client
            .query()
            .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
            .expression_attribute_values(":pk", s(first.pk))
            .expression_attribute_values(":first", s(first.sk))
            .expression_attribute_values(":last", s(last.sk))
            .projection_expression("pk, sk")
            .consistent_read(true);
        let used = self.query_all(query).await?;
        Ok(used
            .iter()
            .filter_map(|item| keys::turn_of(&Key::of(item)?.sk))
            .collect())
    }
}

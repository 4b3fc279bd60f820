//! Drives the routing walk ([`crate::domain::routing::walk`]) against storage: takes the
//! rotation tickets and reads the loads the walk asks for, tries each offer through a
//! [`Commit`] (a new lead at intake, a reassignment after a breach), feeds refusals back, and
//! gives back every ticket it took but did not use, so the pool's rotation loses no turn.
//! Decides nothing itself: the walk does.

use async_trait::async_trait;

use crate::domain::model::Refusal;
use crate::domain::routing::{PoolTicket, Proposal, Step, Walk};
use crate::metrics;
use crate::store::{CommitError, RosterStore, RotationStore, Stale, StoreError};

use super::cache::{CapMemory, ConfigCache};

/// Stores an offer the walk made, or says why not.
#[async_trait]
pub(crate) trait Commit: Sync {
    /// What a stored offer gives back.
    type Done: Send;
    /// Stores the offer (lead or reassignment, with the claim and ticket it carries).
    async fn commit(&self, proposal: &Proposal) -> Result<Self::Done, CommitError>;
}

/// Why a walk ended without a stored offer.
#[derive(Debug)]
pub(crate) enum RouteError {
    /// The lead or its contact changed meanwhile, or a commit found the work already done;
    /// nothing was stored by this walk (its tickets were given back).
    Stale(Stale),
    /// Storage failed.
    Failed {
        /// The failure.
        error: StoreError,
        /// True when the failed call was a commit, which may have stored the offer.
        in_commit: bool,
        /// Tickets taken and not known to be used: give them back once it is known that
        /// nothing was stored.
        tickets: Vec<PoolTicket>,
    },
}

/// What routing reads and remembers besides the commit.
pub(crate) struct Router<'a, S: RotationStore + RosterStore + ?Sized> {
    /// Tickets and loads.
    pub store: &'a S,
    /// Caps seen full.
    pub caps: &'a CapMemory,
    /// The cached config, dropped when storage shows it is stale.
    pub configs: &'a ConfigCache,
    /// The version the walk runs on.
    pub version: u64,
}

impl<S: RotationStore + RosterStore + ?Sized> Router<'_, S> {
    /// Runs the walk until an offer is stored.
    pub async fn drive<C: Commit>(
        &self,
        walk: &mut Walk<'_>,
        now: jiff::Timestamp,
        commit: &C,
    ) -> Result<C::Done, RouteError> {
        let mut taken: Vec<PoolTicket> = Vec::new();
        let failed = |error, in_commit, tickets| RouteError::Failed {
            error,
            in_commit,
            tickets,
        };
        loop {
            match walk.step() {
                Step::Ticket { pool } => match self.store.take_ticket(&pool).await {
                    Ok(ticket) => {
                        if ticket.cycle_config > self.version {
                            // A newer config changed this pool; later requests should use it.
                            self.configs.forget();
                        }
                        taken.push(PoolTicket {
                            pool,
                            turn: ticket.turn,
                        });
                        walk.ticket(ticket);
                    }
                    Err(error) => return Err(failed(error, false, taken)),
                },
                Step::Loads { pool, reps } => {
                    match self.store.rep_loads(&reps, &pool, now.as_second()).await {
                        Ok(loads) => walk.loads(&loads),
                        Err(error) => return Err(failed(error, false, taken)),
                    }
                }
                Step::Offer(proposal) => match commit.commit(&proposal).await {
                    Ok(done) => {
                        // Every ticket is stored with the lead (used, or spent passing through a
                        // pool); any other was someone else's.
                        taken.retain(|t| !proposal.takes(t));
                        self.give_back(taken).await;
                        return Ok(done);
                    }
                    Err(CommitError::Refused(refusal)) if proposal.claim.is_some() => {
                        self.heard(&proposal, refusal);
                        if refusal == Refusal::TicketUsed {
                            // Another lead holds it: not ours to give back.
                            taken.retain(|t| Some(t) != proposal.ticket.as_ref());
                        }
                        walk.refused(refusal);
                    }
                    Err(CommitError::Refused(refusal)) => {
                        let error = StoreError::Invalid(format!(
                            "an offer without a claim was refused ({refusal:?})"
                        ));
                        return Err(failed(error, true, taken));
                    }
                    Err(CommitError::Stale(stale)) => {
                        if stale == Stale::AlreadyStored {
                            // An earlier attempt of this very commit stored it, tickets and all.
                            taken.retain(|t| !proposal.takes(t));
                        }
                        self.give_back(taken).await;
                        return Err(RouteError::Stale(stale));
                    }
                    Err(CommitError::Store(error)) => return Err(failed(error, true, taken)),
                },
            }
        }
    }

    /// Counts a refusal and remembers what it teaches: a full cap stays full for its period;
    /// a roster refusal means the cached config is stale.
    fn heard(&self, proposal: &Proposal, refusal: Refusal) {
        match refusal {
            Refusal::AtCap(period) => {
                metrics::bump(&metrics::COUNTERS.cap_refusals);
                if let Some(claim) = &proposal.claim {
                    if let Some(cap) = claim.caps.iter().find(|c| c.period == period) {
                        self.caps.remember(&claim.rep, cap.clone());
                    }
                }
            }
            Refusal::NotOnRoster => {
                metrics::bump(&metrics::COUNTERS.roster_refusals);
                self.configs.forget();
            }
            Refusal::LoadRose => metrics::bump(&metrics::COUNTERS.load_refusals),
            Refusal::TicketUsed => metrics::bump(&metrics::COUNTERS.ticket_refusals),
        }
    }

    /// Gives tickets back to their pools so later leads take those turns (best effort: a
    /// ticket that cannot be given back now is found by the sweeper's rotation repair).
    pub async fn give_back(&self, tickets: Vec<PoolTicket>) {
        give_back(self.store, tickets).await;
    }
}

/// Gives tickets back to their pools (best effort; see [`Router::give_back`]).
pub(crate) async fn give_back<S: RotationStore + ?Sized>(store: &S, tickets: Vec<PoolTicket>) {
    let mut by_pool: Vec<(String, Vec<u64>)> = Vec::new();
    for t in tickets {
        match by_pool.iter_mut().find(|(p, _)| *p == t.pool) {
            Some((_, turns)) => turns.push(t.turn),
            None => by_pool.push((t.pool, vec![t.turn])),
        }
    }
    for (pool, turns) in by_pool {
        match store.return_tickets(&pool, &turns).await {
            Ok(()) => metrics::add(&metrics::COUNTERS.tickets_returned, turns.len() as u64),
            Err(error) => {
                tracing::warn!(%pool, ?turns, %error, "could not give tickets back; the sweeper's rotation repair will")
            }
        }
    }
}

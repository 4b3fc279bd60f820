//! Drives the routing walk ([`crate::domain::routing::walk`]) against storage: takes the
//! rotation tickets and reads the loads the walk asks for, tries each offer through a
//! [`Commit`] (a new lead at intake, a reassignment after a breach), feeds refusals back, and
//! gives back every ticket it took but did not use, so the pool's rotation loses no turn.
//! Decides nothing itself: the walk does.

use async_trait::async_trait;

use crate::domain::model::{Refusal, Ticket};
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

/// A pool's ticket taken before the walk asked for it (intake takes it alongside its reads,
/// see `App::prepare`): the walk's first ask of that pool uses it; given back if none does.
#[derive(Debug, Clone)]
pub(crate) struct Ahead {
    /// The pool.
    pub pool: String,
    /// The ticket.
    pub ticket: Ticket,
}

impl Ahead {
    /// The ticket as an offer carries it.
    pub fn pool_ticket(&self) -> PoolTicket {
        PoolTicket::of(&self.pool, &self.ticket)
    }
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
        self.drive_from(walk, now, commit, None).await
    }

    /// Runs the walk until an offer is stored, with a ticket taken `ahead` of it: used for the
    /// walk's first ask of its pool, or given back with every other ticket the walk did not use.
    pub async fn drive_from<C: Commit>(
        &self,
        walk: &mut Walk<'_>,
        now: jiff::Timestamp,
        commit: &C,
        mut ahead: Option<Ahead>,
    ) -> Result<C::Done, RouteError> {
        let mut taken: Vec<PoolTicket> = Vec::new();
        let failed = |error, in_commit, tickets| RouteError::Failed {
            error,
            in_commit,
            tickets,
        };
        if let Some(a) = &ahead {
            self.took(&mut taken, &a.pool, &a.ticket);
        }
        loop {
            match walk.step() {
                Step::Ticket { pool } => {
                    let ticket = match ahead.take_if(|a| a.pool == pool) {
                        Some(a) => a.ticket,
                        None => match self.store.take_ticket(&pool).await {
                            Ok(ticket) => {
                                self.took(&mut taken, &pool, &ticket);
                                ticket
                            }
                            Err(error) => return Err(failed(error, false, taken)),
                        },
                    };
                    walk.ticket(ticket);
                }
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
                            // An earlier attempt of this very commit stored it, tickets and all
                            // (or a retry that took the claim over did: then these tickets are
                            // unused, and the rotation repair gives them back after the lease).
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

    /// Keeps a taken ticket to give back unless an offer stores it.
    fn took(&self, taken: &mut Vec<PoolTicket>, pool: &str, ticket: &Ticket) {
        if ticket.cycle_config > self.version {
            // A newer config changed this pool; later requests should use it.
            self.configs.forget();
        }
        taken.push(PoolTicket::of(pool, ticket));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    use crate::domain::config::RoutingConfig;
    use crate::domain::distribution::Load;
    use crate::domain::lead::Lead;
    use crate::domain::model::{CapCounter, Period, Ticket};
    use crate::domain::routing::WalkContext;
    use crate::store::{RosterEntry, RotationRepair, StoreResult};

    /// A pool counter in memory: tickets 1, 2, 3, ..., the ones given back first.
    #[derive(Default)]
    struct Tickets {
        last: Mutex<u64>,
        returned: Mutex<Vec<u64>>,
    }

    #[async_trait]
    impl RotationStore for Tickets {
        async fn take_ticket(&self, _: &str) -> StoreResult<Ticket> {
            let mut returned = self.returned.lock().unwrap();
            let (turn, adopted) = if returned.is_empty() {
                let mut last = self.last.lock().unwrap();
                *last += 1;
                (*last, false)
            } else {
                (returned.remove(0), true)
            };
            Ok(Ticket {
                turn,
                cycle_start: 0,
                cycle_config: 0,
                adopted,
            })
        }
        async fn return_tickets(&self, _: &str, turns: &[u64]) -> StoreResult<()> {
            self.returned.lock().unwrap().extend(turns);
            Ok(())
        }
        async fn enroll(&self, _: &str, _: &[String]) -> StoreResult<()> {
            Ok(())
        }
        async fn repair_rotation(
            &self,
            _: &str,
            _: i64,
            _: i64,
            _: &[String],
        ) -> StoreResult<RotationRepair> {
            Ok(RotationRepair::default())
        }
        async fn restart_cycle(&self, _: &str, _: u64) -> StoreResult<()> {
            Ok(())
        }
    }

    #[async_trait]
    impl RosterStore for Tickets {
        async fn write_roster(&self, _: &[RosterEntry]) -> StoreResult<()> {
            Ok(())
        }
        async fn rep_loads(
            &self,
            _: &[String],
            _: &str,
            _: i64,
        ) -> StoreResult<Vec<(String, Load)>> {
            Ok(Vec::new())
        }
    }

    /// Answers offers from a script, in order, and keeps what it was offered.
    struct Script {
        answers: Mutex<Vec<Result<(), CommitError>>>,
        offered: Mutex<Vec<Proposal>>,
    }

    impl Script {
        fn new(answers: Vec<Result<(), CommitError>>) -> Self {
            Self {
                answers: Mutex::new(answers.into_iter().rev().collect()),
                offered: Mutex::new(Vec::new()),
            }
        }
    }

    #[async_trait]
    impl Commit for Script {
        type Done = String;

        async fn commit(&self, proposal: &Proposal) -> Result<String, CommitError> {
            self.offered.lock().unwrap().push(proposal.clone());
            let answer = self.answers.lock().unwrap().pop().unwrap_or(Ok(()));
            answer.map(|()| proposal.assignment.owner.id().to_string())
        }
    }

    const CONFIG: &str = r#"
reps:
  - {id: ana, name: Ana, caps: {per_day: 5}}
  - {id: ben, name: Ben}
  - {id: cy, name: Cy}
pools:
  - {id: p, name: P, reps: [ana, ben, cy], overflow: {queue: spill}}
queues:
  - {id: spill, name: Spill}
rules:
  - {id: default, route: {pool: p}}
"#;

    struct Fixture {
        config: RoutingConfig,
        lead: Lead,
        store: Tickets,
        caps: CapMemory,
        configs: ConfigCache,
    }

    impl Fixture {
        fn new() -> Self {
            let config = RoutingConfig::parse(CONFIG).unwrap();
            let configs = ConfigCache::new(Duration::from_secs(60));
            configs.keep(1, std::sync::Arc::new(config.clone()));
            Self {
                config,
                lead: Lead::parse([("email", "x@small.example")]).unwrap(),
                store: Tickets::default(),
                caps: CapMemory::default(),
                configs,
            }
        }

        async fn route(&self, script: &Script) -> Result<String, RouteError> {
            self.route_from(script, None).await
        }

        async fn route_from(
            &self,
            script: &Script,
            ahead: Option<Ahead>,
        ) -> Result<String, RouteError> {
            let known_full = |rep: &str, cap: &CapCounter| self.caps.is_full(rep, cap);
            let now: jiff::Timestamp = "2026-11-24T15:00:00Z".parse().unwrap();
            let ctx = WalkContext {
                config: &self.config,
                version: 1,
                lead: &self.lead,
                now,
                exclude: &[],
                known_full: &known_full,
            };
            let mut walk = Walk::intake(ctx, "form", None);
            let router = Router {
                store: &self.store,
                caps: &self.caps,
                configs: &self.configs,
                version: 1,
            };
            router.drive_from(&mut walk, now, script, ahead).await
        }

        fn taken(&self) -> u64 {
            *self.store.last.lock().unwrap()
        }

        fn given_back(&self) -> Vec<u64> {
            self.store.returned.lock().unwrap().clone()
        }
    }

    #[tokio::test]
    async fn refusals_pass_the_lead_on_and_teach_the_process() {
        let f = Fixture::new();
        let script = Script::new(vec![
            Err(CommitError::Refused(Refusal::AtCap(Period::Day))),
            Err(CommitError::Refused(Refusal::NotOnRoster)),
        ]);
        assert_eq!(f.route(&script).await.unwrap(), "cy");
        let offered = script.offered.lock().unwrap();
        let owners: Vec<&str> = offered.iter().map(|p| p.assignment.owner.id()).collect();
        assert_eq!(owners, ["ana", "ben", "cy"]);
        assert!(offered.iter().all(|p| p.ticket.as_ref().unwrap().turn == 1));
        // Ana stays full for her day; the roster refusal showed the cached config is stale.
        let cap = &offered[0].claim.as_ref().unwrap().caps[0];
        assert!(f.caps.is_full("ana", cap));
        assert!(f.configs.fresh().is_none());
        assert!(f.given_back().is_empty(), "the ticket went with the lead");
    }

    #[tokio::test]
    async fn a_ticket_another_lead_holds_is_not_given_back_and_another_is_taken() {
        let f = Fixture::new();
        let script = Script::new(vec![Err(CommitError::Refused(Refusal::TicketUsed))]);
        assert_eq!(f.route(&script).await.unwrap(), "ben", "ticket 2 names Ben");
        let offered = script.offered.lock().unwrap();
        let turns: Vec<u64> = offered
            .iter()
            .map(|p| p.ticket.as_ref().unwrap().turn)
            .collect();
        assert_eq!(turns, [1, 2]);
        assert!(f.given_back().is_empty());
    }

    #[tokio::test]
    async fn a_failed_commit_carries_its_ticket_and_a_stale_one_gives_it_back() {
        let f = Fixture::new();
        let failed = Script::new(vec![Err(CommitError::Store(StoreError::Unavailable(
            "timed out".into(),
        )))]);
        match f.route(&failed).await {
            Err(RouteError::Failed {
                in_commit: true,
                tickets,
                ..
            }) => assert_eq!(tickets.len(), 1),
            other => panic!("{other:?}"),
        }
        assert!(
            f.given_back().is_empty(),
            "whether it was stored is not known yet"
        );
        let stale = Script::new(vec![Err(CommitError::Stale(Stale::ContactChanged))]);
        assert!(matches!(
            f.route(&stale).await,
            Err(RouteError::Stale(Stale::ContactChanged))
        ));
        assert_eq!(
            f.given_back(),
            [2],
            "nothing was stored: the turn goes back"
        );
    }

    #[tokio::test]
    async fn a_pool_nobody_could_take_it_from_keeps_its_ticket_with_the_lead() {
        let f = Fixture::new();
        let refused = || Err(CommitError::Refused(Refusal::NotOnRoster));
        let script = Script::new(vec![refused(), refused(), refused()]);
        assert_eq!(f.route(&script).await.unwrap(), "spill");
        let offered = script.offered.lock().unwrap();
        let last = offered.last().unwrap();
        assert_eq!(last.ticket, None);
        assert_eq!(
            last.passed,
            [PoolTicket {
                pool: "p".into(),
                turn: 1,
                adopted: false,
            }]
        );
        assert!(
            f.given_back().is_empty(),
            "spent on this lead, stored with it"
        );
    }

    fn ahead(pool: &str, turn: u64) -> Option<Ahead> {
        let ticket = Ticket {
            turn,
            cycle_start: 0,
            cycle_config: 0,
            adopted: false,
        };
        let pool = pool.to_string();
        Some(Ahead { pool, ticket })
    }

    #[tokio::test]
    async fn a_ticket_taken_ahead_for_the_pool_is_used_and_no_other_is_taken() {
        let f = Fixture::new();
        let script = Script::new(vec![]);
        let owner = f.route_from(&script, ahead("p", 5)).await.unwrap();
        assert_eq!(owner, "ben", "ticket 5 names Ben");
        let offered = script.offered.lock().unwrap();
        assert_eq!(offered[0].ticket.as_ref().unwrap().turn, 5);
        assert_eq!(f.taken(), 0, "no ticket was taken");
        assert!(f.given_back().is_empty());
    }

    #[tokio::test]
    async fn a_ticket_taken_ahead_for_another_pool_is_given_back_once_the_lead_is_stored() {
        let f = Fixture::new();
        let script = Script::new(vec![]);
        assert_eq!(f.route_from(&script, ahead("q", 5)).await.unwrap(), "ana");
        assert_eq!(f.taken(), 1, "the walk took its own");
        assert_eq!(f.given_back(), [5], "the turn goes to a later lead");
    }

    #[tokio::test]
    async fn a_ticket_taken_ahead_is_carried_by_a_failure_and_given_back_when_stale() {
        let f = Fixture::new();
        let failed = Script::new(vec![Err(CommitError::Store(StoreError::Unavailable(
            "timed out".into(),
        )))]);
        match f.route_from(&failed, ahead("p", 5)).await {
            Err(RouteError::Failed { tickets, .. }) => assert_eq!(tickets[0].turn, 5),
            other => panic!("{other:?}"),
        }
        let stale = Script::new(vec![Err(CommitError::Stale(Stale::ContactChanged))]);
        let unused = Script::new(vec![Err(CommitError::Stale(Stale::ContactChanged))]);
        assert!(f.route_from(&stale, ahead("p", 6)).await.is_err());
        assert_eq!(
            f.given_back(),
            [6],
            "nothing was stored: the turn goes back"
        );
        // The walk adopts 6 for its pool; the one taken ahead for another goes back with it.
        assert!(f.route_from(&unused, ahead("q", 7)).await.is_err());
        assert_eq!(f.given_back(), [7, 6]);
    }
}

//! The routing walk: the one path from a lead to the owner who takes it. Intake, escalations
//! after a missed SLA and `simulate` all drive this same state machine, so the reason stored
//! with a lead is exactly what happened.
//!
//! A walk starts at a destination: for a new lead, spam goes nowhere, a returning contact is
//! offered to the owner of its earlier lead, a lead missing required fields goes to the
//! data-quality queue, anything else to the first matching rule's destination; after a breach,
//! to the pool or queue the SLA names. From there it follows named reps (fallback queue when
//! they are away), account owners, pools (their available reps in the order the strategy
//! gives, then the pool's overflow) and queues, recording every rep it passes over and why.
//!
//! Pure: [`Walk::step`] says what it needs ([`Step::Ticket`]: a pool's rotation ticket;
//! [`Step::Loads`]: reps' open leads) or makes an offer ([`Step::Offer`]: an assignment with
//! the claim storage must enforce). The caller answers with [`Walk::ticket`], [`Walk::loads`]
//! or, when storage refused the offer, [`Walk::refused`]; once an offer is stored the walk is
//! over. Nothing here reads, writes or waits.

use std::collections::VecDeque;

use jiff::Timestamp;

use crate::domain::config::{Destination, Pool, RoutingConfig, Strategy};
use crate::domain::distribution::Load;
use crate::domain::lead::Lead;
use crate::domain::model::{
    Assignment, CapCounter, Refusal, RepClaim, Skip, SkipReason, Ticket, Trail,
};

use super::decision::{account_owner, decide, overflow_of, Decision};
use super::explain::{fallback, to_named_rep, to_pool_rep, to_queue};
use super::pool::{available_members, cap_counters, offers, pool_claim, Offer};
use super::returning::{returning_owner, to_returning_owner, EarlierLead, Returning};

/// How many times a `least_loaded` pool reads loads again after they moved under an offer,
/// before it offers the lead to the best rep it saw without the bound. Each bound that
/// is dropped lets one rep run ahead of the level: with 4, 32 clients on a busy 2-core
/// machine left a pool 5 or 6 leads apart 3 times in 10; with 12, within 4 in every run
/// since (stop 28).
pub const LOAD_RETRIES: u32 = 12;

/// What a walk is about and what it may not do.
pub struct WalkContext<'a> {
    /// The active routing config.
    pub config: &'a RoutingConfig,
    /// Its version, stored with the assignment.
    pub version: u64,
    /// The lead, qualified and matched to its account.
    pub lead: &'a Lead,
    /// The moment availability, hours and caps are judged at.
    pub now: Timestamp,
    /// Reps who already had the lead: never offered it again.
    pub exclude: &'a [String],
    /// Whether a rep's cap counter is already known to be full (counters only grow within
    /// their period, so a process may remember); such reps are passed over as at cap.
    pub known_full: &'a (dyn Fn(&str, &CapCounter) -> bool + Sync),
}

/// A pool's rotation ticket, as used by an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolTicket {
    /// The pool.
    pub pool: String,
    /// The ticket.
    pub turn: u64,
    /// Adopted after another request gave it back (see [`Ticket::adopted`]).
    pub adopted: bool,
}

impl PoolTicket {
    /// `pool`'s `ticket`.
    pub fn of(pool: &str, ticket: &Ticket) -> Self {
        Self {
            pool: pool.to_string(),
            turn: ticket.turn,
            adopted: ticket.adopted,
        }
    }
}

/// How the walk came to an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The rules, or an escalation's destination.
    Rules,
    /// A returning contact, back to the owner of its earlier lead.
    ReturningOwner,
    /// A honeypot caught it: stored as spam, routed nowhere, nobody told.
    Spam,
}

/// An offer of the lead to one owner: stored together with its claim, or refused whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The owner and the whole reason.
    pub assignment: Assignment,
    /// What the owning rep's records must allow; `None` for a queue.
    pub claim: Option<RepClaim>,
    /// The pool ticket the offer uses; a ticket is stored with at most one lead.
    pub ticket: Option<PoolTicket>,
    /// Tickets of pools the lead passed through (nobody there could take it): spent on this
    /// lead, and stored with it, so no later lead takes those turns.
    pub passed: Vec<PoolTicket>,
    /// How the walk got here.
    pub via: Via,
}

impl Proposal {
    /// Whether storing this offer stores `ticket` with the lead (used or passed).
    pub fn takes(&self, ticket: &PoolTicket) -> bool {
        self.ticket.as_ref() == Some(ticket) || self.passed.contains(ticket)
    }
}

/// What the walk needs next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Take a rotation ticket of this pool and hand it to [`Walk::ticket`].
    Ticket {
        /// The pool.
        pool: String,
    },
    /// Read these reps' open-lead loads as members of this pool; hand them to [`Walk::loads`].
    Loads {
        /// The pool.
        pool: String,
        /// The reps.
        reps: Vec<String>,
    },
    /// Try to store this offer. Stored: the walk is over. Refused: tell [`Walk::refused`].
    Offer(Box<Proposal>),
}

/// One routing of one lead, from its first destination to its owner.
pub struct Walk<'a> {
    ctx: WalkContext<'a>,
    decision: Decision<'a>,
    /// Sentences put before the routing reason (a breach, a returning contact, missing fields).
    prefix: Vec<String>,
    trail: Trail,
    at: At,
    /// Tickets of pools the walk passed through.
    passed: Vec<PoolTicket>,
    /// The offer that is out, if any.
    last: Option<Proposal>,
}

/// Where the walk stands.
enum At {
    /// About to follow a destination.
    Follow(Destination),
    /// About to offer a returning contact to the owner of its earlier lead.
    Returning(Box<ReturningOffer>),
    /// About to store a honeypot catch.
    Spam(String),
    /// In a pool.
    Pool(PoolVisit),
    /// An offer is out; a refusal means something different for each.
    Offered(Offered),
}

/// A returning contact's offer to its earlier owner, and where the rules send it instead.
struct ReturningOffer {
    proposal: Proposal,
    /// The sentence that explains a refusal.
    refused: String,
    /// Where the lead goes by the rules.
    then: Destination,
}

enum Offered {
    /// To the owner of a returning contact's earlier lead.
    Returning { refused: String, then: Destination },
    /// To a named rep.
    Named(String),
    /// To a member of a pool.
    Member(PoolVisit, usize),
    /// To a queue (or as spam): nothing to refuse.
    Final,
}

/// A pool being offered the lead.
struct PoolVisit {
    pool: String,
    /// Members (indexes into the pool's reps) who may still be offered it.
    available: Vec<usize>,
    ticket: Option<Ticket>,
    loads: Option<Vec<(usize, Load)>>,
    /// How often the loads rose under an offer.
    load_rises: u32,
    /// The offers for the current ticket and loads, in order; `None` until computed.
    offers: Option<VecDeque<Offer>>,
}

impl<'a> Walk<'a> {
    /// Intake's walk for a qualified lead (its `qualification` set) from `source`: a honeypot
    /// catch is stored as spam; a returning contact is offered to the owner of its `earlier`
    /// lead when the config's `returning_contacts` allows and that owner can take it; a lead
    /// missing its source's required fields goes to the data-quality queue; everything else
    /// to the first matching rule's destination.
    pub fn intake(ctx: WalkContext<'a>, source: &str, earlier: Option<&EarlierLead<'_>>) -> Self {
        let (config, now, version) = (ctx.config, ctx.now, ctx.version);
        let decision = decide(config, ctx.lead);
        let q = ctx.lead.qualification.as_ref();
        let missing = q.map_or(&[][..], |q| q.missing.as_slice());
        let mut prefix = Vec::new();
        let at = if q.is_some_and(|q| q.spam) {
            At::Spam(format!(
                "The honeypot field '{}' was filled: stored as spam, routed nowhere",
                config.qualification.honeypot_field
            ))
        } else {
            let rules = if missing.is_empty() {
                decision.rule.route.clone()
            } else {
                Destination::Queue(config.qualification.data_quality_queue.clone())
            };
            let mut at = At::Follow(rules.clone());
            if let Some(earlier) = earlier {
                let seen = format!("Returning contact (first seen as lead {})", earlier.lead_id);
                match returning_owner(config, earlier, now) {
                    Returning::Owner(rep) => {
                        let assignment = to_returning_owner(config, version, &rep, earlier);
                        at = At::Returning(Box::new(ReturningOffer {
                            refused: format!(
                                "{seen}, but its owner {} was just removed or made inactive, so it was routed by the rules.",
                                assignment.owner.name()
                            ),
                            proposal: Proposal {
                                assignment,
                                claim: Some(RepClaim::named(&rep)),
                                ticket: None,
                                passed: Vec::new(),
                                via: Via::ReturningOwner,
                            },
                            then: rules,
                        }));
                    }
                    Returning::Rules(why) => {
                        prefix.push(format!("{seen}, but {why}, so it was routed by the rules."))
                    }
                    Returning::Off => {}
                }
            }
            if !missing.is_empty() {
                prefix.push(format!(
                    "Missing {} (required for source '{source}'), so it goes to data quality.",
                    missing.join(", ")
                ));
            }
            at
        };
        Walk {
            ctx,
            decision,
            prefix,
            trail: Trail::default(),
            at,
            passed: Vec::new(),
            last: None,
        }
    }

    /// A walk from `start` for the lead `decision` routed, with `prefix` put before the reason
    /// (an escalation: "SLA breached: ...").
    pub fn escalation(
        ctx: WalkContext<'a>,
        decision: Decision<'a>,
        start: Destination,
        prefix: Option<String>,
    ) -> Self {
        Walk {
            ctx,
            decision,
            prefix: prefix.into_iter().collect(),
            trail: Trail::default(),
            at: At::Follow(start),
            passed: Vec::new(),
            last: None,
        }
    }

    /// The next thing the walk needs, or its next offer.
    pub fn step(&mut self) -> Step {
        let (config, now) = (self.ctx.config, self.ctx.now);
        loop {
            let at = std::mem::replace(&mut self.at, At::Offered(Offered::Final));
            match at {
                At::Spam(why) => {
                    let mut spam = fallback("spam", &why);
                    spam.reason = format!("{why}.");
                    return self.offer(Offered::Final, spam, None, None, Via::Spam);
                }
                At::Returning(offer) => {
                    let ReturningOffer {
                        proposal,
                        refused,
                        then,
                    } = *offer;
                    self.at = At::Offered(Offered::Returning { refused, then });
                    self.last = Some(proposal.clone());
                    return Step::Offer(Box::new(proposal));
                }
                At::Follow(Destination::AccountOwner) => {
                    self.at = At::Follow(account_owner(config, self.ctx.lead, &mut self.trail));
                }
                At::Follow(Destination::Queue(queue)) => {
                    let assignment = to_queue(
                        config,
                        self.ctx.version,
                        &self.decision,
                        &self.trail,
                        &queue,
                    );
                    return self.offer(Offered::Final, assignment, None, None, Via::Rules);
                }
                At::Follow(Destination::Rep(rep)) => {
                    match config.reps[&rep].availability.check_present(now) {
                        Ok(()) => {
                            let assignment =
                                to_named_rep(config, self.ctx.version, &self.decision, &rep);
                            let claim = Some(RepClaim::named(&rep));
                            return self.offer(
                                Offered::Named(rep),
                                assignment,
                                claim,
                                None,
                                Via::Rules,
                            );
                        }
                        Err(why) => {
                            self.skip(None, &rep, SkipReason::Unavailable { why });
                            self.at = At::Follow(Destination::Queue(config.fallback_queue.clone()));
                        }
                    }
                }
                At::Follow(Destination::Pool(id)) => self.at = At::Pool(self.enter(id)),
                At::Pool(visit) => match self.in_pool(visit) {
                    Ok(step) => return step,
                    Err((pool, ticket)) => {
                        if let Some(ticket) = ticket {
                            self.passed.push(PoolTicket::of(&pool.id, &ticket));
                        }
                        self.trail.overflowed.push(pool.id.clone());
                        self.at = At::Follow(overflow_of(config, pool));
                    }
                },
                At::Offered(offered) => {
                    // Asked again without an answer: the same offer stands.
                    self.at = At::Offered(offered);
                    if let Some(proposal) = &self.last {
                        return Step::Offer(Box::new(proposal.clone()));
                    }
                    self.at = At::Follow(Destination::Queue(config.fallback_queue.clone()));
                }
            }
        }
    }

    /// The pool whose rotation ticket the walk asks for first, if its first step is a ticket
    /// (intake's guess before the reads, see `App::prepare`). Takes nothing: the walk is
    /// pure, and this one is thrown away.
    pub fn first_pool(mut self) -> Option<String> {
        match self.step() {
            Step::Ticket { pool } => Some(pool),
            _ => None,
        }
    }

    /// The ticket asked for by [`Step::Ticket`].
    pub fn ticket(&mut self, ticket: Ticket) {
        if let At::Pool(visit) = &mut self.at {
            visit.ticket = Some(ticket);
            visit.offers = None;
        }
    }

    /// The loads asked for by [`Step::Loads`], by rep (a rep missing from the list has none).
    pub fn loads(&mut self, loads: &[(String, Load)]) {
        let config = self.ctx.config;
        if let At::Pool(visit) = &mut self.at {
            let pool = &config.pools[&visit.pool];
            let by_member = visit
                .available
                .iter()
                .map(|&m| {
                    let load = loads.iter().find(|(rep, _)| *rep == pool.reps[m]);
                    (m, load.map(|(_, l)| *l).unwrap_or_default())
                })
                .collect();
            visit.loads = Some(by_member);
            visit.offers = None;
        }
    }

    /// Storage refused the last offer; the walk goes on to the next owner in line.
    pub fn refused(&mut self, refusal: Refusal) {
        let config = self.ctx.config;
        let at = std::mem::replace(&mut self.at, At::Offered(Offered::Final));
        self.at = match at {
            At::Offered(Offered::Returning { refused, then }) => {
                self.prefix.insert(0, refused);
                At::Follow(then)
            }
            At::Offered(Offered::Named(rep)) => {
                self.skip(None, &rep, SkipReason::NoLongerOnRoster);
                At::Follow(Destination::Queue(config.fallback_queue.clone()))
            }
            At::Offered(Offered::Member(mut visit, member)) => {
                let rep = &config.reps[&config.pools[&visit.pool].reps[member]];
                let pool = Some(visit.pool.clone());
                match refusal {
                    Refusal::AtCap(period) => {
                        let limit = cap_counters(rep, self.ctx.now)
                            .iter()
                            .find(|c| c.period == period)
                            .map_or(0, |c| c.limit);
                        self.skip(pool, &rep.id, SkipReason::AtCap { period, limit });
                        visit.available.retain(|&m| m != member);
                    }
                    Refusal::NotOnRoster => {
                        self.skip(pool, &rep.id, SkipReason::NoLongerOnRoster);
                        visit.available.retain(|&m| m != member);
                    }
                    Refusal::LoadRose => {
                        visit.load_rises += 1;
                        visit.loads = None;
                        visit.offers = None;
                    }
                    Refusal::TicketUsed => {
                        visit.ticket = None;
                        visit.loads = None;
                        visit.offers = None;
                    }
                }
                At::Pool(visit)
            }
            // A queue cannot refuse a lead: the same offer stands (the caller treats a refused
            // queue offer as an error).
            other => other,
        };
    }

    /// Starts a pool: its members available by the config, minus reps who had the lead and
    /// reps known to be at a cap.
    fn enter(&mut self, id: String) -> PoolVisit {
        let (config, now) = (self.ctx.config, self.ctx.now);
        let pool = &config.pools[&id];
        let (available, skipped) = available_members(config, pool, now);
        self.trail.skipped.extend(skipped);
        let mut visit = PoolVisit {
            pool: id,
            available: Vec::new(),
            ticket: None,
            loads: None,
            load_rises: 0,
            offers: None,
        };
        for member in available {
            let rep = &config.reps[&pool.reps[member]];
            let full = cap_counters(rep, now)
                .into_iter()
                .find(|c| (self.ctx.known_full)(&rep.id, c));
            let reason = if self.ctx.exclude.contains(&rep.id) {
                SkipReason::HadItBefore
            } else if let Some(cap) = full {
                SkipReason::AtCap {
                    period: cap.period,
                    limit: cap.limit,
                }
            } else {
                visit.available.push(member);
                continue;
            };
            self.skip(Some(pool.id.clone()), &rep.id, reason);
        }
        visit
    }

    /// The pool's next step, or the pool back (with the ticket it took, if any) when nobody
    /// in it can take the lead.
    fn in_pool(&mut self, mut visit: PoolVisit) -> Result<Step, (&'a Pool, Option<Ticket>)> {
        let config = self.ctx.config;
        let pool = &config.pools[&visit.pool];
        if visit.available.is_empty() {
            return Err((pool, visit.ticket));
        }
        let Some(ticket) = visit.ticket else {
            let step = Step::Ticket {
                pool: visit.pool.clone(),
            };
            self.at = At::Pool(visit);
            return Ok(step);
        };
        if pool.strategy == Strategy::LeastLoaded && visit.loads.is_none() {
            let step = Step::Loads {
                pool: visit.pool.clone(),
                reps: visit
                    .available
                    .iter()
                    .map(|&m| pool.reps[m].clone())
                    .collect(),
            };
            self.at = At::Pool(visit);
            return Ok(step);
        }
        let queue = visit.offers.get_or_insert_with(|| {
            let loads = visit.loads.as_deref().unwrap_or_default();
            let mut all = offers(pool, &visit.available, ticket.turn, ticket.slot(), loads);
            if visit.load_rises >= LOAD_RETRIES {
                // Loads keep moving under us: take the best we saw without the bound.
                all.iter_mut()
                    .for_each(|o| o.load = o.load.map(|(open, _)| (open, u64::MAX)));
            }
            all.into()
        });
        let offer = loop {
            match queue.pop_front() {
                Some(offer) if visit.available.contains(&offer.member) => break offer,
                Some(_) => continue,
                None => return Err((pool, Some(ticket))),
            }
        };
        let rep = &config.reps[&pool.reps[offer.member]];
        let claim = pool_claim(rep, pool, &offer, self.ctx.now);
        let assignment = to_pool_rep(
            config,
            self.ctx.version,
            &self.decision,
            &self.trail,
            pool,
            ticket.turn,
            &offer,
            &visit.available,
        );
        let used = PoolTicket::of(&pool.id, &ticket);
        let member = offer.member;
        Ok(self.offer(
            Offered::Member(visit, member),
            assignment,
            Some(claim),
            Some(used),
            Via::Rules,
        ))
    }

    /// Puts an offer out: the reason gets the walk's prefix.
    fn offer(
        &mut self,
        offered: Offered,
        mut assignment: Assignment,
        claim: Option<RepClaim>,
        ticket: Option<PoolTicket>,
        via: Via,
    ) -> Step {
        if via == Via::Rules && !self.prefix.is_empty() {
            assignment.reason = format!("{} {}", self.prefix.join(" "), assignment.reason);
        }
        let proposal = Proposal {
            assignment,
            claim,
            ticket,
            passed: self.passed.clone(),
            via,
        };
        self.last = Some(proposal.clone());
        self.at = At::Offered(offered);
        Step::Offer(Box::new(proposal))
    }

    fn skip(&mut self, pool: Option<String>, rep: &str, reason: SkipReason) {
        self.trail.skipped.push(Skip {
            pool,
            rep: rep.to_string(),
            reason,
        });
    }
}

/// Routes a lead without storage, as `leadrouter simulate` does: availability is checked at
/// `now`, pool rotations are at ticket `turn`, loads are all zero, no cap is full and every
/// offer is taken.
pub fn simulate(config: &RoutingConfig, lead: &Lead, turn: u64, now: Timestamp) -> Assignment {
    let never_full = |_: &str, _: &CapCounter| false;
    let ctx = WalkContext {
        config,
        version: 0,
        lead,
        now,
        exclude: &[],
        known_full: &never_full,
    };
    let mut walk = Walk::intake(ctx, "simulate", None);
    loop {
        match walk.step() {
            Step::Ticket { .. } => walk.ticket(Ticket {
                turn,
                cycle_start: 0,
                cycle_config: 0,
                adopted: false,
            }),
            Step::Loads { .. } => walk.loads(&[]),
            Step::Offer(proposal) => return proposal.assignment,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::LeadStatus;
    use crate::domain::routing::fixtures::{config, lead, office_hours};

    #[test]
    fn first_matching_rule_wins_and_explains_itself() {
        let c = config();
        let a = simulate(
            &c,
            &lead(&[("email", "x@gmail.com"), ("employees", "900")]),
            1,
            office_hours(),
        );
        assert_eq!(a.rule_id.as_deref(), Some("freemail"));
        assert_eq!(
            a.reason,
            "Rule 'freemail' (#1) matched because free_mail = true (was true); placed in queue 'Nurture'."
        );
    }

    #[test]
    fn pool_turns_rotate_in_order() {
        let c = config();
        let l = lead(&[("email", "x@small.com")]);
        let owners: Vec<_> = (1..=4)
            .map(|t| simulate(&c, &l, t, office_hours()).owner.id().to_string())
            .collect();
        assert_eq!(owners, ["ana", "ben", "ana", "ben"]);
        let a = simulate(&c, &l, 3, office_hours());
        assert_eq!(a.reason, "No earlier rule matched, so the default rule 'default' applied; assigned to Ana by round robin in pool 'SMB' (turn 3, slot 1 of 2).");
    }

    #[test]
    fn an_off_shift_rep_loses_the_turn_to_the_next_in_rotation() {
        let c = config();
        let l = lead(&[("email", "x@small.com")]);
        // Tuesday 03:00 UTC is 22:00 Monday in New York: Ben is off shift.
        let night: Timestamp = "2026-11-24T03:00:00Z".parse().unwrap();
        let a = simulate(&c, &l, 2, night);
        assert_eq!(a.owner.id(), "ana");
        assert_eq!(a.skipped.len(), 1);
        assert_eq!(a.reason, "No earlier rule matched, so the default rule 'default' applied; in pool 'SMB' skipped Ben (off shift (local time Mon 22:00 EST)); assigned to Ana by round robin in pool 'SMB' (turn 2, slot 1 of 1, rotating among the 1 of 2 reps who could take it).");
    }

    #[test]
    fn an_empty_pool_overflows_along_its_chain_and_says_why() {
        let mut c = config();
        c.reps.get_mut("ana").unwrap().availability.active = false;
        let night: Timestamp = "2026-11-24T03:00:00Z".parse().unwrap();
        let a = simulate(&c, &lead(&[("email", "x@small.com")]), 1, night);
        assert_eq!(a.owner.id(), "nurture");
        assert_eq!(a.overflowed, ["smb", "backup"]);
        assert_eq!(a.reason, "No earlier rule matched, so the default rule 'default' applied; nobody in pool 'SMB' could take it (Ana (inactive), Ben (off shift (local time Mon 22:00 EST))), so it overflowed; nobody in pool 'Backup' could take it (Dana (inactive)), so it overflowed; placed in queue 'Nurture'.");
    }

    #[test]
    fn a_named_owner_out_of_office_goes_to_the_fallback_queue() {
        let c = config();
        let a = simulate(
            &c,
            &lead(&[("email", "x@big.com"), ("employees", "900")]),
            1,
            office_hours(),
        );
        assert_eq!(a.owner.id(), "unrouted");
        assert!(a.reason.contains("named owner Erin (out of office until 2026-11-28 00:00 UTC) could not take it; placed in queue 'Fallback'"), "{}", a.reason);
        let later: Timestamp = "2026-11-28T00:00:00Z".parse().unwrap();
        assert_eq!(
            simulate(
                &c,
                &lead(&[("email", "x@big.com"), ("employees", "900")]),
                1,
                later
            )
            .owner
            .id(),
            "erin"
        );
    }

    fn ticket(turn: u64) -> Ticket {
        Ticket {
            turn,
            cycle_start: 0,
            cycle_config: 0,
            adopted: false,
        }
    }

    fn never_full(_: &str, _: &CapCounter) -> bool {
        false
    }

    /// A walk context at office hours, version 1, nobody excluded, no cap known to be full.
    fn context<'a>(config: &'a RoutingConfig, lead: &'a Lead) -> WalkContext<'a> {
        WalkContext {
            config,
            version: 1,
            lead,
            now: office_hours(),
            exclude: &[],
            known_full: &never_full,
        }
    }

    fn offered(step: Step) -> Proposal {
        match step {
            Step::Offer(p) => *p,
            other => panic!("expected an offer, got {other:?}"),
        }
    }

    const CAPPED: &str = r#"
reps:
  - {id: ana, name: Ana, caps: {per_day: 5}}
  - {id: ben, name: Ben}
  - {id: cy, name: Cy}
pools:
  - {id: p, name: P, reps: [ana, ben, cy]}
  - {id: ll, name: LL, strategy: least_loaded, reps: [ana, ben]}
rules:
  - {id: least, when: {product: load}, route: {pool: ll}}
  - {id: default, route: {pool: p}}
"#;

    #[test]
    fn a_refused_member_is_passed_over_and_the_next_in_rotation_is_offered() {
        let c = RoutingConfig::parse(CAPPED).unwrap();
        let l = lead(&[("email", "x@small.com")]);
        let ctx = WalkContext {
            version: 7,
            ..context(&c, &l)
        };
        let mut walk = Walk::intake(ctx, "form", None);
        assert_eq!(walk.step(), Step::Ticket { pool: "p".into() });
        walk.ticket(ticket(1));
        let first = offered(walk.step());
        assert_eq!(first.assignment.owner.id(), "ana");
        assert_eq!(
            first.ticket,
            Some(PoolTicket {
                pool: "p".into(),
                turn: 1,
                adopted: false,
            })
        );
        assert_eq!(
            first.claim.as_ref().unwrap().caps.len(),
            1,
            "Ana's daily cap is claimed"
        );
        walk.refused(Refusal::AtCap(crate::domain::model::Period::Day));
        let second = offered(walk.step());
        assert_eq!(second.assignment.owner.id(), "ben");
        walk.refused(Refusal::NotOnRoster);
        let third = offered(walk.step());
        assert_eq!(third.assignment.owner.id(), "cy");
        assert_eq!(third.assignment.config_version, Some(7));
        assert!(
            third.assignment.reason.contains("in pool 'P' skipped Ana (at daily cap of 5), Ben (removed or made inactive by a newer config)"),
            "{}",
            third.assignment.reason
        );
        // Nobody left: the pool overflows to the fallback queue, its ticket spent.
        walk.refused(Refusal::NotOnRoster);
        let last = offered(walk.step());
        assert_eq!(last.assignment.owner.id(), "unrouted");
        assert_eq!(last.claim, None);
        assert_eq!(last.assignment.overflowed, ["p"]);
        assert_eq!(last.ticket, None);
        assert_eq!(
            last.passed,
            [PoolTicket {
                pool: "p".into(),
                turn: 1,
                adopted: false,
            }]
        );
    }

    #[test]
    fn a_used_ticket_asks_for_another_and_rising_loads_are_read_again() {
        let c = RoutingConfig::parse(CAPPED).unwrap();
        let l = lead(&[("email", "x@small.com"), ("product", "load")]);
        let ctx = context(&c, &l);
        let mut walk = Walk::intake(ctx, "form", None);
        assert_eq!(walk.step(), Step::Ticket { pool: "ll".into() });
        walk.ticket(ticket(3));
        let reps = vec!["ana".to_string(), "ben".to_string()];
        assert_eq!(
            walk.step(),
            Step::Loads {
                pool: "ll".into(),
                reps: reps.clone()
            }
        );
        let load = |open| Load {
            open,
            floor: 0,
            last_ticket: 2,
        };
        walk.loads(&[("ana".into(), load(4)), ("ben".into(), load(1))]);
        let first = offered(walk.step());
        assert_eq!(first.assignment.owner.id(), "ben", "fewest open leads");
        assert_eq!(
            first.claim.as_ref().unwrap().max_open,
            Some(5),
            "one above the next in line"
        );
        walk.refused(Refusal::LoadRose);
        assert_eq!(
            walk.step(),
            Step::Loads {
                pool: "ll".into(),
                reps: reps.clone()
            }
        );
        walk.loads(&[("ana".into(), load(1)), ("ben".into(), load(6))]);
        assert_eq!(offered(walk.step()).assignment.owner.id(), "ana");
        walk.refused(Refusal::TicketUsed);
        assert_eq!(walk.step(), Step::Ticket { pool: "ll".into() });
        walk.ticket(ticket(9));
        assert!(matches!(walk.step(), Step::Loads { .. }));
        // After the loads rose LOAD_RETRIES times, the best rep is offered without a bound.
        for _ in 1..LOAD_RETRIES {
            walk.loads(&[("ana".into(), load(1)), ("ben".into(), load(6))]);
            walk.step();
            walk.refused(Refusal::LoadRose);
            walk.step();
        }
        walk.loads(&[("ana".into(), load(1)), ("ben".into(), load(6))]);
        let unbounded = offered(walk.step());
        assert_eq!(unbounded.claim.unwrap().max_open, None);
        assert_eq!(unbounded.ticket.unwrap().turn, 9);
    }

    #[test]
    fn an_escalation_skips_earlier_owners_and_reps_known_full_and_explains_the_breach() {
        let c = RoutingConfig::parse(CAPPED).unwrap();
        let l = lead(&[("email", "x@small.com")]);
        let ana_full = |rep: &str, _: &CapCounter| rep == "ana";
        let had_it = ["ben".to_string()];
        let ctx = WalkContext {
            exclude: &had_it,
            known_full: &ana_full,
            ..context(&c, &l)
        };
        let decision = decide(&c, &l);
        let mut walk = Walk::escalation(
            ctx,
            decision,
            Destination::Pool("p".into()),
            Some("SLA breached: Ben did not acknowledge.".into()),
        );
        assert_eq!(walk.step(), Step::Ticket { pool: "p".into() });
        walk.ticket(ticket(1));
        let p = offered(walk.step());
        assert_eq!(p.assignment.owner.id(), "cy");
        assert!(
            p.assignment
                .reason
                .starts_with("SLA breached: Ben did not acknowledge. No earlier rule matched"),
            "{}",
            p.assignment.reason
        );
        assert!(
            p.assignment
                .reason
                .contains("skipped Ana (at daily cap of 5), Ben (already had this lead)"),
            "{}",
            p.assignment.reason
        );
    }

    fn ana() -> crate::domain::model::Owner {
        crate::domain::model::Owner::Rep {
            id: "ana".into(),
            name: "Ana".into(),
        }
    }

    /// An open lead `l1` of `owner`'s, received in office hours.
    fn earlier_lead(owner: &crate::domain::model::Owner) -> EarlierLead<'_> {
        EarlierLead {
            lead_id: "l1",
            owner,
            status: LeadStatus::Open,
            received_at: office_hours(),
        }
    }

    #[test]
    fn a_returning_contact_is_offered_to_its_owner_first_and_routed_by_the_rules_if_refused() {
        let c = config();
        let l = lead(&[("email", "x@small.com")]);
        let ana = ana();
        let earlier = earlier_lead(&ana);
        let ctx = context(&c, &l);
        let mut walk = Walk::intake(ctx, "form", Some(&earlier));
        let back = offered(walk.step());
        assert_eq!(back.via, Via::ReturningOwner);
        assert_eq!(back.assignment.owner.id(), "ana");
        assert_eq!(back.claim, Some(RepClaim::named("ana")));
        walk.refused(Refusal::NotOnRoster);
        assert_eq!(walk.step(), Step::Ticket { pool: "smb".into() });
        walk.ticket(ticket(2));
        let rules = offered(walk.step());
        assert_eq!(rules.via, Via::Rules);
        assert!(rules.assignment.reason.starts_with("Returning contact (first seen as lead l1), but its owner Ana was just removed or made inactive, so it was routed by the rules. No earlier rule"), "{}", rules.assignment.reason);
    }

    #[test]
    fn the_first_pool_is_the_first_ticket_asked_for_and_nothing_when_an_offer_comes_first() {
        let c = config();
        let l = lead(&[("email", "x@small.com")]);
        let first = |earlier| Walk::intake(context(&c, &l), "form", earlier).first_pool();
        assert_eq!(first(None), Some("smb".to_string()));
        let ana = ana();
        let earlier = earlier_lead(&ana);
        assert_eq!(first(Some(&earlier)), None, "the owner is offered it first");
        let mut spam = lead(&[("email", "x@small.com")]);
        spam.qualification = Some(crate::domain::qualify::Qualification {
            spam: true,
            ..Default::default()
        });
        assert_eq!(
            Walk::intake(context(&c, &spam), "form", None).first_pool(),
            None
        );
    }

    #[test]
    fn spam_and_missing_fields_are_decided_before_the_rules() {
        let c = config();
        let first = |l: &Lead| {
            let ctx = context(&c, l);
            offered(Walk::intake(ctx, "demo", None).step())
        };
        let mut l = lead(&[("email", "x@small.com")]);
        l.qualification = Some(crate::domain::qualify::Qualification {
            missing: vec!["company".into()],
            ..Default::default()
        });
        let dq = first(&l);
        assert_eq!(dq.assignment.owner.id(), "data-quality");
        assert!(
            dq.assignment.reason.starts_with(
                "Missing company (required for source 'demo'), so it goes to data quality."
            ),
            "{}",
            dq.assignment.reason
        );
        l.qualification.as_mut().unwrap().spam = true;
        let spam = first(&l);
        assert_eq!(spam.via, Via::Spam);
        assert_eq!(spam.assignment.owner.id(), "spam");
        assert_eq!(
            spam.assignment.reason,
            "The honeypot field '_honeypot' was filled: stored as spam, routed nowhere."
        );
    }

    #[test]
    fn a_named_owner_who_was_removed_sends_the_lead_to_the_fallback_queue() {
        let c = config();
        let l = lead(&[("email", "x@big.com"), ("employees", "900")]);
        let later: Timestamp = "2026-11-28T00:00:00Z".parse().unwrap();
        let ctx = WalkContext {
            now: later,
            ..context(&c, &l)
        };
        let mut walk = Walk::intake(ctx, "form", None);
        assert_eq!(offered(walk.step()).assignment.owner.id(), "erin");
        walk.refused(Refusal::NotOnRoster);
        let fallback = offered(walk.step());
        assert_eq!(fallback.assignment.owner.id(), "unrouted");
        assert!(
            fallback.assignment.reason.contains(
                "named owner Erin (removed or made inactive by a newer config) could not take it"
            ),
            "{}",
            fallback.assignment.reason
        );
        // Asking again without an answer repeats the offer.
        assert_eq!(offered(walk.step()), fallback);
    }
}

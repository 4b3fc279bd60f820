//! Simulating a lead against live state: qualified as intake would, matched to the real
//! accounts and returning contacts, walked through the active config (or a draft) at a chosen
//! moment, with every ticket, load and offer checked against what storage holds now (the next
//! rotation ticket, reps' loads, roster entries and cap counters), and nothing written. The
//! answer is the decision and its whole trail.

use serde::Serialize;

use crate::domain::account::AccountMatch;
use crate::domain::audience;
use crate::domain::config::RoutingConfig;
use crate::domain::facts::Qualification;
use crate::domain::lead::Lead;
use crate::domain::model::{Assignment, CapCounter, Owner, Refusal};
use crate::domain::qualify;
use crate::domain::routing::{EarlierLead, Step, Walk, WalkContext};
use crate::store::{StoreError, StoreResult};

use super::config::ActiveConfig;
use super::state::App;

/// Steps a simulation takes at most (a walk takes a handful).
const MAX_STEPS: usize = 100;

/// One thing the walk asked storage, and what storage said.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum SimStep {
    /// The pool's next rotation ticket (not taken).
    Ticket {
        /// The pool.
        pool: String,
        /// The ticket the next lead would get.
        turn: u64,
        /// Its 0-based slot in the current cycle.
        slot: u64,
    },
    /// Reps' open leads, for `least_loaded`.
    Loads {
        /// The pool.
        pool: String,
        /// Each rep's open leads now.
        open: Vec<(String, u64)>,
    },
    /// An offer to an owner, as storage would answer it now.
    Offer {
        /// The owner offered the lead (a rep or a queue).
        owner: String,
        /// Whether storage would accept it.
        accepted: bool,
        /// Why not, when it would refuse.
        #[serde(skip_serializing_if = "Option::is_none")]
        refused: Option<String>,
    },
}

/// What a simulation found.
#[derive(Debug, Clone, Serialize)]
pub struct Simulation {
    /// The active version it ran against (`None` for a draft).
    pub config_version: Option<u64>,
    /// The moment availability, hours and caps were judged at.
    pub at: jiff::Timestamp,
    /// What qualification found.
    pub qualification: Qualification,
    /// The account the lead matched.
    pub account: Option<AccountMatch>,
    /// The earlier lead of a returning contact, and its owner.
    pub returning_contact: Option<(String, Owner)>,
    /// Every step, in order.
    pub steps: Vec<SimStep>,
    /// The owner, the rule and the reason intake would store.
    pub assignment: Assignment,
    /// The owner's deadline, if an SLA applies.
    pub sla_due_at: Option<jiff::Timestamp>,
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// No draft was given and no usable config is active.
    #[error("no usable routing config is active; send a draft")]
    NoConfig,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl App {
    /// Routes `lead` from `source` at `at` against live state and `draft` (or the active
    /// config), writing nothing.
    pub async fn simulate(
        &self,
        mut lead: Lead,
        source: &str,
        draft: Option<&RoutingConfig>,
        at: jiff::Timestamp,
    ) -> Result<Simulation, SimulateError> {
        let active;
        let (config, version): (&RoutingConfig, Option<u64>) = match draft {
            Some(config) => (config, None),
            None => match self.active_config().await? {
                ActiveConfig::Usable { version, config } => {
                    active = config;
                    (&active, Some(version))
                }
                _ => return Err(SimulateError::NoConfig),
            },
        };
        let q = qualify::qualify(&config.qualification, &lead, source);
        let spam = q.spam;
        lead.qualification = Some(q.clone());
        let mut earlier = None;
        if !spam {
            let contact_key = lead.email.as_ref().map(|e| e.contact_key());
            (lead.account, earlier) = self
                .account_and_earlier(&lead, contact_key.as_deref())
                .await?;
        }
        let seen = earlier.as_ref().map(|(_, l)| EarlierLead {
            lead_id: &l.lead_id,
            owner: &l.assignment.owner,
            status: l.status,
            received_at: l.received_at,
        });
        let never_known = |_: &str, _: &CapCounter| false;
        let ctx = WalkContext {
            config,
            version: version.unwrap_or(0),
            lead: &lead,
            now: at,
            exclude: &[],
            known_full: &never_known,
        };
        let mut walk = Walk::intake(ctx, source, seen.as_ref());
        let mut steps = Vec::new();
        let assignment = self.dry_drive(&mut walk, &mut steps, at).await?;
        let rule_sla = config
            .rules
            .iter()
            .find(|r| Some(&r.id) == assignment.rule_id.as_ref())
            .and_then(|r| r.sla.as_ref());
        let deadline = (!spam)
            .then(|| audience::deadline(config, &assignment, rule_sla, at))
            .flatten();
        Ok(Simulation {
            config_version: version,
            at,
            qualification: q,
            account: lead.account.clone(),
            returning_contact: earlier.map(|(_, l)| (l.lead_id, l.assignment.owner)),
            steps,
            assignment,
            sla_due_at: deadline.map(|d| d.due),
        })
    }

    /// Runs a walk answering each step from storage without writing: the ticket the pool
    /// would hand out, the loads, and whether the rep's records would take the offer.
    async fn dry_drive(
        &self,
        walk: &mut Walk<'_>,
        steps: &mut Vec<SimStep>,
        now: jiff::Timestamp,
    ) -> StoreResult<Assignment> {
        let mut last = None;
        for _ in 0..MAX_STEPS {
            match walk.step() {
                Step::Ticket { pool } => {
                    let ticket = self.store.peek_ticket(&pool).await?;
                    steps.push(SimStep::Ticket {
                        pool,
                        turn: ticket.turn,
                        slot: ticket.slot(),
                    });
                    walk.ticket(ticket);
                }
                Step::Loads { pool, reps } => {
                    let loads = self.store.rep_loads(&reps, &pool, now.as_second()).await?;
                    steps.push(SimStep::Loads {
                        pool,
                        open: loads.iter().map(|(r, l)| (r.clone(), l.open)).collect(),
                    });
                    walk.loads(&loads);
                }
                Step::Offer(proposal) => {
                    let refusal = match &proposal.claim {
                        Some(claim) => self.store.check_claim(claim).await?,
                        None => None,
                    };
                    let owner = proposal.assignment.owner.id().to_string();
                    last = Some(proposal.assignment.clone());
                    match refusal {
                        None => {
                            steps.push(SimStep::Offer {
                                owner,
                                accepted: true,
                                refused: None,
                            });
                            return Ok(proposal.assignment);
                        }
                        Some(refusal) => {
                            steps.push(SimStep::Offer {
                                owner,
                                accepted: false,
                                refused: Some(refused(refusal)),
                            });
                            walk.refused(refusal);
                        }
                    }
                }
            }
        }
        // A walk that never settles is a bug: say so rather than guess.
        last.ok_or_else(|| StoreError::Invalid("the simulated walk did not settle".into()))
    }
}

fn refused(refusal: Refusal) -> String {
    match refusal {
        Refusal::AtCap(period) => format!("at {} cap", period.adjective()),
        Refusal::NotOnRoster => "removed or inactive in the stored roster".into(),
        Refusal::LoadRose => "more loaded than the walk read".into(),
        Refusal::TicketUsed => "ticket already used".into(),
    }
}

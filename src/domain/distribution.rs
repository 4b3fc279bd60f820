//! How a pool orders its reps for one lead. Every lead takes a unique rotation ticket from
//! storage; the ticket's slot in the pool's cycle names the rep whose turn it is, and the reps
//! whose slots come next are the substitutes, in order, if that rep cannot take it. Round robin
//! is a cycle of equal weights; `weighted` spreads each rep's slots evenly through the cycle
//! (the quota method: every prefix of the cycle gives each rep its weight share within one
//! lead); `least_loaded` orders by open leads and breaks ties by the ticket's rotation.
//! Pure: storage supplies the ticket and the loads; nothing here reads or writes anything.

/// One cycle of a pool's rotation: member indexes, each appearing `weight` times, spread so
/// that after any `m` slots member `i` has had `floor` or `ceil` of `m * w_i / W` slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    slots: Vec<u16>,
    members: usize,
}

/// The largest cycle a pool may have (the sum of its weights).
pub const MAX_CYCLE: u32 = 10_000;

impl Schedule {
    /// The cycle for these weights (each at least 1, summing to at most [`MAX_CYCLE`]).
    ///
    /// Slot `m` goes to the member with the highest `w / (served + 1)` among those still below
    /// their exact quota `m * w / W`; ties go to the member listed first. This is Balinski and
    /// Young's quota method: smooth like nginx's weighted round robin, but with a proven bound
    /// (nginx's scheme can drift past one lead for some weights).
    pub fn new(weights: &[u32]) -> Self {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut served = vec![0u64; weights.len()];
        let mut slots = Vec::with_capacity(total as usize);
        for m in 1..=total {
            let mut best: Option<usize> = None;
            for (i, &w) in weights.iter().enumerate() {
                let w = u64::from(w);
                if served[i] * total >= m * w {
                    continue; // at or above its quota
                }
                best = match best {
                    Some(b) if u64::from(weights[b]) * (served[i] + 1) >= w * (served[b] + 1) => {
                        Some(b)
                    }
                    _ => Some(i),
                };
            }
            let pick = best.expect("someone is below quota while slots remain");
            served[pick] += 1;
            slots.push(pick as u16);
        }
        Self {
            slots,
            members: weights.len(),
        }
    }

    /// Slots in one cycle (the sum of the weights).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True for a pool without members (never built from a valid config).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The member whose slot `slot` (0-based, counted from the start of the cycle) is.
    pub fn owner(&self, slot: u64) -> usize {
        self.slots[(slot % self.slots.len() as u64) as usize] as usize
    }

    /// Every member once: the slot's owner first, then the owners of the following slots in
    /// cycle order. The first of them who can take the lead gets it.
    pub fn offer_order(&self, slot: u64) -> Vec<usize> {
        let mut seen = vec![false; self.members];
        let mut order = Vec::with_capacity(self.members);
        let start = (slot % self.slots.len() as u64) as usize;
        for i in 0..self.slots.len() {
            let member = self.slots[(start + i) % self.slots.len()] as usize;
            if !seen[member] {
                seen[member] = true;
                order.push(member);
                if order.len() == self.members {
                    break;
                }
            }
        }
        order
    }
}

/// A rep's open-lead count as `least_loaded` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Load {
    /// Leads assigned and neither acknowledged nor closed.
    pub open: u64,
    /// A rep who joined the pool recently carries this many extra leads in the comparison
    /// (but never counts as more loaded than the least loaded other member), so a newcomer
    /// with no open leads joins the rotation level with the others instead of taking every
    /// lead until they catch up.
    pub floor: u64,
    /// The pool ticket of the rep's latest lead from this pool (0 if none).
    pub last_ticket: u64,
}

/// How many leads from the pool may still be in flight ahead of the lead with ticket `turn`:
/// tickets taken after the latest one already counted in `loads` (at most 1,000).
pub fn in_flight(turn: u64, loads: &[(usize, Load)]) -> u64 {
    let latest = loads.iter().map(|(_, l)| l.last_ticket).max().unwrap_or(0);
    turn.saturating_sub(latest + 1).min(1_000)
}

/// Orders `candidates` (member indexes with their loads) for `least_loaded`, for the lead with
/// rotation slot `slot` that has `in_flight` leads ahead of it not yet counted in the loads.
///
/// Fewest open leads first; equal loads in rotation order starting at the slot, so concurrent
/// leads spread over tied reps instead of piling onto one. The leads in flight are assumed to
/// have gone where this same rule sent them (each with its own slot), so concurrent requests
/// that read the same loads fill the reps level by level instead of all choosing the same
/// least loaded rep. Returns each member with its expected load when this lead commits.
pub fn least_loaded_order(
    candidates: &[(usize, Load)],
    members: usize,
    slot: u64,
    in_flight: u64,
) -> Vec<(usize, u64)> {
    let mut expected: Vec<(usize, u64)> = candidates
        .iter()
        .map(|&(member, load)| {
            let least_other = candidates
                .iter()
                .filter(|(m, _)| *m != member)
                .map(|(_, l)| l.open)
                .min()
                .unwrap_or(0);
            let effective = if load.floor > 0 {
                (load.open + load.floor).min(load.open.max(least_other))
            } else {
                load.open
            };
            (member, effective)
        })
        .collect();
    let members = members.max(1);
    let order = |loads: &mut Vec<(usize, u64)>, slot: u64| {
        let start = (slot % members as u64) as usize;
        loads.sort_by_key(|&(m, load)| (load, (m + members - start) % members));
    };
    for ahead in (1..=in_flight).rev() {
        order(&mut expected, slot.wrapping_sub(ahead));
        if let Some(first) = expected.first_mut() {
            first.1 += 1;
        }
    }
    order(&mut expected, slot);
    expected
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn counts(s: &Schedule, n: u64) -> Vec<u64> {
        let mut c = vec![0; s.members];
        for slot in 0..n {
            c[s.owner(slot)] += 1;
        }
        c
    }

    #[test]
    fn round_robin_is_a_cycle_of_equal_weights() {
        let s = Schedule::new(&[1, 1, 1]);
        assert_eq!(
            (0..6).map(|t| s.owner(t)).collect::<Vec<_>>(),
            [0, 1, 2, 0, 1, 2]
        );
        assert_eq!(s.offer_order(1), [1, 2, 0]);
    }

    #[test]
    fn weighted_1_2_3_is_smooth() {
        let s = Schedule::new(&[1, 2, 3]);
        let cycle: Vec<_> = (0..6).map(|t| s.owner(t)).collect();
        assert_eq!(cycle, [2, 1, 2, 0, 1, 2]);
        assert_eq!(counts(&s, 600), [100, 200, 300]);
        assert_eq!(s.offer_order(3), [0, 1, 2]);
    }

    #[test]
    fn least_loaded_prefers_fewest_open_then_rotation() {
        let loads = [
            (
                0,
                Load {
                    open: 3,
                    floor: 0,
                    last_ticket: 0,
                },
            ),
            (
                1,
                Load {
                    open: 1,
                    floor: 0,
                    last_ticket: 0,
                },
            ),
            (
                2,
                Load {
                    open: 1,
                    floor: 0,
                    last_ticket: 0,
                },
            ),
        ];
        let order: Vec<_> = least_loaded_order(&loads, 3, 2, 0)
            .into_iter()
            .map(|(m, _)| m)
            .collect();
        assert_eq!(order, [2, 1, 0], "tie between 1 and 2 broken by the slot");
        let order: Vec<_> = least_loaded_order(&loads, 3, 4, 0)
            .into_iter()
            .map(|(m, _)| m)
            .collect();
        assert_eq!(order, [1, 2, 0]);
    }

    #[test]
    fn a_newcomer_ties_with_the_least_loaded_instead_of_taking_everything() {
        let loads = [
            (
                0,
                Load {
                    open: 5,
                    floor: 0,
                    last_ticket: 0,
                },
            ),
            (
                1,
                Load {
                    open: 4,
                    floor: 0,
                    last_ticket: 0,
                },
            ),
            (
                2,
                Load {
                    open: 0,
                    floor: 5,
                    last_ticket: 0,
                },
            ),
        ];
        let order = least_loaded_order(&loads, 3, 1, 0);
        assert_eq!(
            order[0],
            (1, 4),
            "the newcomer counts as 4, tied, and rotation picks 1"
        );
        assert_eq!(order[1], (2, 4));
    }

    #[test]
    fn concurrent_leads_fill_the_reps_level_by_level() {
        let load = |open, last_ticket| Load {
            open,
            floor: 0,
            last_ticket,
        };
        let loads = [(0, load(2, 10)), (1, load(0, 0)), (2, load(1, 0))];
        assert_eq!(in_flight(11, &loads), 0, "sequential");
        // Tickets 11..=16 read the same loads: they fill 1, then 1 and 2, then one each.
        let picks: Vec<usize> = (11..=16)
            .map(|t| least_loaded_order(&loads, 3, t - 1, in_flight(t, &loads))[0].0)
            .collect();
        let count = |m| picks.iter().filter(|&&p| p == m).count();
        assert_eq!((count(0), count(1), count(2)), (1, 3, 2), "{picks:?}");
    }

    proptest! {
        /// Every prefix of every cycle gives each rep its weight share within one lead.
        #[test]
        fn weighted_shares_stay_within_one_lead(weights in prop::collection::vec(1u32..40, 1..9), cycles in 1u64..3) {
            let s = Schedule::new(&weights);
            let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
            prop_assert_eq!(s.len() as u64, total);
            let mut c = vec![0u64; weights.len()];
            for m in 1..=total * cycles {
                c[s.owner(m - 1)] += 1;
                for (i, &w) in weights.iter().enumerate() {
                    // |c_i - m*w_i/W| < 1, in integers.
                    let exact = m * u64::from(w);
                    prop_assert!((c[i] * total).abs_diff(exact) < total, "weights {:?} m {} rep {} count {}", weights, m, i, c[i]);
                }
            }
        }

        /// The offer order names every member exactly once, starting with the slot's owner.
        #[test]
        fn offer_order_is_a_permutation(weights in prop::collection::vec(1u32..10, 1..8), slot in 0u64..1000) {
            let s = Schedule::new(&weights);
            let order = s.offer_order(slot);
            prop_assert_eq!(order[0], s.owner(slot));
            let mut sorted = order.clone();
            sorted.sort();
            prop_assert_eq!(sorted, (0..weights.len()).collect::<Vec<_>>());
        }
    }
}

//! Reps as they stand right now: whether each can take a lead (and if not, why and until
//! when, in their own time), today's and this week's pool leads against their caps, their
//! open leads, and the availability set outside the config document. One BatchGet of the
//! reps' entries and one of their cap counters, on top of the cached config.

use serde::Serialize;

use crate::domain::availability::Unavailable;
use crate::domain::config::RoutingConfig;
use crate::domain::model::Period;
use crate::domain::overrides::RepOverride;
use crate::domain::routing::cap_counters;
use crate::store::StoreResult;

use super::config::ActiveConfig;
use super::state::App;

/// One rep, now.
#[derive(Debug, Clone, Serialize)]
pub struct RepNow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Their time zone.
    pub timezone: String,
    /// `None` when available; otherwise why not.
    pub unavailable: Option<Unavailable>,
    /// When they can take leads again (their local time), if not now.
    pub back_at: Option<String>,
    /// The pools they are in.
    pub pools: Vec<String>,
    /// Pool leads today and the daily cap.
    pub today: Option<(u64, u32)>,
    /// Pool leads this week and the weekly cap.
    pub this_week: Option<(u64, u32)>,
    /// Open (unacknowledged) leads.
    pub open: u64,
    /// Availability set from the console or the rep's own links.
    pub overrides: Option<RepOverride>,
}

impl RepNow {
    /// At a cap now.
    pub fn at_cap(&self) -> bool {
        [self.today, self.this_week]
            .into_iter()
            .flatten()
            .any(|(n, cap)| n >= u64::from(cap))
    }
}

impl App {
    /// Every rep of the active config, now; `None` if no usable config is active.
    pub async fn reps_now(&self) -> StoreResult<Option<(u64, Vec<RepNow>)>> {
        let (version, config) = match self.active_config().await? {
            ActiveConfig::Usable { version, config } => (version, config),
            _ => return Ok(None),
        };
        let now = self.now();
        let mut ids: Vec<String> = config.reps.keys().cloned().collect();
        ids.sort_by(|a, b| config.reps[a].name.cmp(&config.reps[b].name));
        let counters: Vec<(String, crate::domain::model::CapCounter)> = ids
            .iter()
            .flat_map(|id| {
                cap_counters(&config.reps[id], now)
                    .into_iter()
                    .map(move |c| (id.clone(), c))
            })
            .collect();
        let (loads, counts, stored) = tokio::try_join!(
            self.store.rep_loads(&ids, "", now.as_second()),
            self.store.cap_counts(&counters),
            self.store.config_version(version)
        )?;
        let overrides = stored.map(|s| s.overrides).unwrap_or_default();
        Ok(Some((
            version,
            ids.iter()
                .map(|id| {
                    let rep = &config.reps[id];
                    let count = |period: Period| {
                        counters
                            .iter()
                            .zip(&counts)
                            .find(|((r, c), _)| r == id && c.period == period)
                            .map(|((_, c), n)| (*n, c.limit))
                    };
                    RepNow {
                        id: id.clone(),
                        name: rep.name.clone(),
                        timezone: rep.availability.timezone_name.clone(),
                        unavailable: rep.availability.check(now).err(),
                        back_at: rep
                            .availability
                            .next_available(now, 14)
                            .map(|t| rep.availability.local_short(t)),
                        pools: pools_of(&config, id),
                        today: count(Period::Day),
                        this_week: count(Period::Week),
                        open: loads
                            .iter()
                            .find(|(r, _)| r == id)
                            .map_or(0, |(_, l)| l.open),
                        overrides: overrides.reps.get(id).cloned(),
                    }
                })
                .collect(),
        )))
    }
}

fn pools_of(config: &RoutingConfig, rep: &str) -> Vec<String> {
    let mut pools: Vec<String> = config
        .pools
        .values()
        .filter(|p| p.reps.iter().any(|r| r == rep))
        .map(|p| p.id.clone())
        .collect();
    pools.sort();
    pools
}

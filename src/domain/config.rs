//! The routing config: one YAML or JSON document with reps, pools, queues and an ordered list
//! of rules. Parsing collects every mistake with its path; a config that parses is consistent
//! (every reference resolves, ids are unique, pools are non-empty, the last rule catches all).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value as Json;

use super::availability::{self, Absence, Availability, Shift};
use super::channel::{Channel, ChannelKind, SecretRef, Setting};
use super::distribution::{Schedule, MAX_CYCLE};
use super::qualify::{QualifyConfig, ScoreRule};
use super::rules::{Condition, ConfigError};
use super::sla::{Action, Escalation, OnBreach, Reminder, SlaPolicy, DEFAULT_MAX_ESCALATIONS};

/// Queue every lead lands in when nothing else fits, unless the config names another.
pub const DEFAULT_FALLBACK_QUEUE: &str = "unrouted";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    fallback_queue: Option<String>,
    reps: Vec<RepDoc>,
    #[serde(default)]
    pools: Vec<PoolDoc>,
    #[serde(default)]
    queues: Vec<QueueDoc>,
    #[serde(default)]
    channels: Vec<ChannelDoc>,
    #[serde(default)]
    qualification: Option<QualificationDoc>,
    #[serde(default)]
    returning_contacts: Option<ReturningDoc>,
    rules: Vec<RuleDoc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainListDoc {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QualificationDoc {
    #[serde(default)]
    free_mail: DomainListDoc,
    #[serde(default)]
    disposable: DomainListDoc,
    #[serde(default)]
    honeypot_field: Option<String>,
    #[serde(default)]
    data_quality_queue: Option<String>,
    #[serde(default)]
    required_fields: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    scoring: Vec<ScoreDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreDoc {
    label: String,
    when: Json,
    points: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReturningDoc {
    #[serde(default)]
    when: ReturningWhen,
    #[serde(default)]
    days: Option<u32>,
}

/// When a returning contact goes back to the owner of their earlier lead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturningWhen {
    /// Whenever the owner can still take it.
    #[default]
    Always,
    /// Only if the earlier lead arrived within `days`.
    Recent,
    /// Only while the earlier lead is still open (not closed).
    Open,
    /// Never: every lead is routed by the rules.
    Never,
}

/// The returning-contact rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Returning {
    /// When it applies.
    pub when: ReturningWhen,
    /// The window for [`ReturningWhen::Recent`].
    pub days: u32,
}

/// Default window for `returning_contacts: {when: recent}`.
pub const DEFAULT_RETURNING_DAYS: u32 = 90;
/// Routing target that names the matched account's owner.
pub const ACCOUNT_OWNER: &str = "account.owner";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelDoc {
    id: String,
    #[serde(rename = "type")]
    kind: ChannelKind,
    #[serde(default)]
    url: Option<Setting>,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    secret: Option<SecretRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlaDoc {
    minutes: u32,
    #[serde(default)]
    business_hours: bool,
    #[serde(default)]
    on_breach: Option<OnBreachDoc>,
    #[serde(default)]
    alert: Vec<String>,
    #[serde(default)]
    max_escalations: Option<u32>,
    #[serde(default)]
    reminders: Vec<ReminderDoc>,
    #[serde(default)]
    steps: Option<Vec<StepDoc>>,
}

/// `10` (minutes before the deadline) or `"50%"` (of the time elapsed).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ReminderDoc {
    MinutesBefore(u32),
    Text(String),
}

/// One step after the deadline: `after` minutes, then one of `remind: owner`,
/// `alert: [channels]`, `reassign: true`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDoc {
    #[serde(default)]
    after: u32,
    #[serde(default)]
    remind: Option<String>,
    #[serde(default)]
    alert: Option<Vec<String>>,
    #[serde(default)]
    reassign: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OnBreachDoc {
    Word(String),
    Route(RouteDoc),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepDoc {
    id: String,
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    working_hours: Option<BTreeMap<String, ShiftsDoc>>,
    #[serde(default)]
    out_of_office: Vec<AbsenceDoc>,
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    caps: Caps,
    #[serde(default)]
    notify: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ShiftsDoc {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AbsenceDoc {
    from: String,
    to: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolDoc {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    strategy: Strategy,
    reps: Vec<MemberDoc>,
    #[serde(default)]
    overflow: Option<RouteDoc>,
    #[serde(default)]
    notify: Vec<String>,
    #[serde(default)]
    sla: Option<SlaDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum MemberDoc {
    Plain(String),
    Weighted { rep: String, weight: u32 },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueDoc {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    notify: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    when: Option<Json>,
    route: RouteDoc,
    #[serde(default)]
    sla: Option<SlaDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteDoc {
    #[serde(default)]
    rep: Option<String>,
    #[serde(default)]
    pool: Option<String>,
    #[serde(default)]
    queue: Option<String>,
}

/// How a pool hands out its leads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Strict rotation through the pool's reps in the order listed.
    #[default]
    RoundRobin,
    /// Rotation in which each rep gets slots in proportion to its weight, spread evenly.
    Weighted,
    /// The rep with the fewest open leads; ties broken by rotation.
    LeastLoaded,
}

impl Strategy {
    /// The name used in the config and in explanations.
    pub fn name(self) -> &'static str {
        match self {
            Self::RoundRobin => "round robin",
            Self::Weighted => "weighted rotation",
            Self::LeastLoaded => "least loaded",
        }
    }
}

/// How many pool leads a rep may get per period (days and ISO weeks in the rep's time zone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    /// Most pool leads per local day.
    #[serde(default)]
    pub per_day: Option<u32>,
    /// Most pool leads per local ISO week.
    #[serde(default)]
    pub per_week: Option<u32>,
}

/// A sales rep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rep {
    /// Stable id used in rules, pools and stored assignments.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Contact address for notifications.
    pub email: Option<String>,
    /// When the rep works.
    pub availability: Availability,
    /// Most pool leads per day and week.
    pub caps: Caps,
    /// Channels told about the rep's leads.
    pub notify: Vec<String>,
}

/// A group of reps that share leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Distribution strategy.
    pub strategy: Strategy,
    /// Rep ids in rotation order.
    pub reps: Vec<String>,
    /// Each rep's weight (all 1 unless the strategy is `weighted`).
    pub weights: Vec<u32>,
    /// One cycle of the rotation.
    pub schedule: Schedule,
    /// Where a lead goes when nobody in the pool can take it (the fallback queue if unset).
    pub overflow: Option<Overflow>,
    /// Channels told about every lead the pool assigns (a team channel, a CRM webhook).
    pub notify: Vec<String>,
    /// How fast its reps must acknowledge, unless the rule sets its own.
    pub sla: Option<SlaPolicy>,
}

/// Where a pool sends the leads none of its reps can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overflow {
    /// Another pool (which may overflow further).
    Pool(String),
    /// A queue.
    Queue(String),
}

/// Where a rule sends a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A named rep.
    Rep(String),
    /// A pool; a rep is chosen by the pool's strategy.
    Pool(String),
    /// A queue worked by the team, not yet by one person.
    Queue(String),
    /// The owner of the account the lead matched (`rep: account.owner`).
    AccountOwner,
}

/// One routing rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Stable id, quoted in explanations.
    pub id: String,
    /// Optional words for humans.
    pub description: Option<String>,
    /// When the rule applies.
    pub when: Condition,
    /// Where it sends the lead.
    pub route: Destination,
    /// How fast the owner must acknowledge (overrides the pool's).
    pub sla: Option<SlaPolicy>,
}

/// A parsed, consistent routing config.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingConfig {
    /// Queue for leads nothing else fits.
    pub fallback_queue: String,
    /// Reps by id.
    pub reps: HashMap<String, Rep>,
    /// Pools by id.
    pub pools: HashMap<String, Pool>,
    /// Queue ids with display names.
    pub queues: HashMap<String, String>,
    /// Rules in order; the first that matches wins, the last always matches.
    pub rules: Vec<Rule>,
    /// Notification channels by id.
    pub channels: HashMap<String, Channel>,
    /// Channels told about every lead a queue receives, by queue id.
    pub queue_notify: HashMap<String, Vec<String>>,
    /// Free-mail, disposable, honeypot, score and required-field settings.
    pub qualification: QualifyConfig,
    /// When a returning contact goes back to their earlier owner.
    pub returning: Returning,
}

impl RoutingConfig {
    /// Parses a YAML or JSON document and checks it; returns every mistake found, each with
    /// its path.
    pub fn parse(text: &str) -> Result<RoutingConfig, Vec<ConfigError>> {
        let value: Json = serde_yaml::from_str(text).map_err(|e| {
            let path = e
                .location()
                .map(|l| format!("line {} column {}", l.line(), l.column()))
                .unwrap_or_else(|| "document".into());
            vec![ConfigError::new(
                path,
                format!("not valid YAML or JSON: {e}"),
            )]
        })?;
        Self::from_json(value)
    }

    /// Checks a document already parsed into JSON values.
    pub fn from_json(value: Json) -> Result<RoutingConfig, Vec<ConfigError>> {
        let doc: Document = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { "document".into() } else { path };
            vec![ConfigError::new(path, e.into_inner().to_string())]
        })?;
        Self::check(doc)
    }

    fn check(doc: Document) -> Result<RoutingConfig, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let channels = compile_channels(doc.channels, &mut errors);
        let mut reps = HashMap::new();
        for (i, rep) in doc.reps.into_iter().enumerate() {
            check_id(&rep.id, &format!("reps[{i}].id"), &mut errors);
            if reps.contains_key(&rep.id) {
                errors.push(dup(&format!("reps[{i}].id"), "rep", &rep.id));
            }
            check_channels(
                &rep.notify,
                &format!("reps[{i}].notify"),
                &channels,
                &mut errors,
            );
            let availability = compile_availability(&rep, &format!("reps[{i}]"), &mut errors);
            reps.insert(
                rep.id.clone(),
                Rep {
                    id: rep.id,
                    name: rep.name,
                    email: rep.email,
                    availability,
                    caps: rep.caps,
                    notify: rep.notify,
                },
            );
        }
        let mut pools = HashMap::new();
        for (i, pool) in doc.pools.into_iter().enumerate() {
            check_id(&pool.id, &format!("pools[{i}].id"), &mut errors);
            if pools.contains_key(&pool.id) {
                errors.push(dup(&format!("pools[{i}].id"), "pool", &pool.id));
            }
            if pool.reps.is_empty() {
                errors.push(ConfigError::new(
                    format!("pools[{i}].reps"),
                    "a pool needs at least one rep",
                ));
            }
            let mut seen = HashSet::new();
            let mut members = Vec::new();
            let mut weights = Vec::new();
            for (j, member) in pool.reps.into_iter().enumerate() {
                let (rep, weight) = match member {
                    MemberDoc::Plain(rep) => (rep, 1),
                    MemberDoc::Weighted { rep, weight } => {
                        if pool.strategy != Strategy::Weighted {
                            errors.push(ConfigError::new(
                                format!("pools[{i}].reps[{j}].weight"),
                                "weights apply only to pools with strategy: weighted",
                            ));
                        } else if !(1..=1000).contains(&weight) {
                            errors.push(ConfigError::new(
                                format!("pools[{i}].reps[{j}].weight"),
                                "a weight is a whole number from 1 to 1000",
                            ));
                        }
                        (rep, weight.clamp(1, 1000))
                    }
                };
                if !reps.contains_key(&rep) {
                    errors.push(ConfigError::new(
                        format!("pools[{i}].reps[{j}]"),
                        format!("unknown rep '{rep}'"),
                    ));
                }
                if !seen.insert(rep.clone()) {
                    errors.push(ConfigError::new(
                        format!("pools[{i}].reps[{j}]"),
                        format!("rep '{rep}' is listed twice"),
                    ));
                }
                members.push(rep);
                weights.push(weight);
            }
            if weights.iter().sum::<u32>() > MAX_CYCLE {
                errors.push(ConfigError::new(
                    format!("pools[{i}].reps"),
                    format!("the weights add up to more than {MAX_CYCLE}; use smaller numbers in the same ratio"),
                ));
                weights.iter_mut().for_each(|w| *w = 1);
            }
            check_channels(
                &pool.notify,
                &format!("pools[{i}].notify"),
                &channels,
                &mut errors,
            );
            let overflow = pool.overflow.map(|route| (i, route));
            let sla = pool.sla.map(|sla| (i, sla));
            pools.insert(
                pool.id.clone(),
                (
                    Pool {
                        name: pool.name.unwrap_or_else(|| pool.id.clone()),
                        id: pool.id,
                        strategy: pool.strategy,
                        schedule: Schedule::new(&weights),
                        reps: members,
                        weights,
                        overflow: None,
                        notify: pool.notify,
                        sla: None,
                    },
                    overflow,
                    sla,
                ),
            );
        }
        let fallback_queue = doc
            .fallback_queue
            .unwrap_or_else(|| DEFAULT_FALLBACK_QUEUE.to_string());
        let mut queues = HashMap::from([(fallback_queue.clone(), "Fallback".to_string())]);
        let mut queue_notify = HashMap::new();
        for (i, queue) in doc.queues.into_iter().enumerate() {
            check_id(&queue.id, &format!("queues[{i}].id"), &mut errors);
            if queues.contains_key(&queue.id) && queue.id != fallback_queue {
                errors.push(dup(&format!("queues[{i}].id"), "queue", &queue.id));
            }
            let notify_path = format!("queues[{i}].notify");
            check_channels(&queue.notify, &notify_path, &channels, &mut errors);
            if !queue.notify.is_empty() {
                queue_notify.insert(queue.id.clone(), queue.notify);
            }
            queues.insert(queue.id.clone(), queue.name.unwrap_or(queue.id));
        }
        let pool_ids: HashSet<String> = pools.keys().cloned().collect();
        let pools: HashMap<String, Pool> = pools
            .into_iter()
            .map(|(id, (mut pool, overflow, sla))| {
                if let Some((i, sla)) = sla {
                    let from = format!("pool '{}'", pool.id);
                    let refs = Refs {
                        channels: &channels,
                        pools: &pool_ids,
                        queues: &queues,
                    };
                    pool.sla = compile_sla(
                        sla,
                        &format!("pools[{i}].sla"),
                        from,
                        true,
                        &refs,
                        &mut errors,
                    );
                }
                if let Some((i, route)) = overflow {
                    let path = format!("pools[{i}].overflow");
                    pool.overflow = match (route.rep, route.pool, route.queue) {
                        (None, Some(p), None) if pool_ids.contains(&p) => Some(Overflow::Pool(p)),
                        (None, None, Some(q)) if queues.contains_key(&q) => {
                            Some(Overflow::Queue(q))
                        }
                        (None, Some(p), None) => {
                            errors.push(ConfigError::new(
                                format!("{path}.pool"),
                                format!("unknown pool '{p}'"),
                            ));
                            None
                        }
                        (None, None, Some(q)) => {
                            errors.push(ConfigError::new(
                                format!("{path}.queue"),
                                format!("unknown queue '{q}' (declare it under queues)"),
                            ));
                            None
                        }
                        _ => {
                            errors.push(ConfigError::new(
                                path,
                                "expected exactly one of pool or queue",
                            ));
                            None
                        }
                    };
                }
                (id, pool)
            })
            .collect();
        for pool in pools.values() {
            let mut seen = vec![pool.id.as_str()];
            let mut next = pool.overflow.as_ref();
            while let Some(Overflow::Pool(p)) = next {
                if seen.contains(&p.as_str()) {
                    errors.push(ConfigError::new(
                        format!("pools.{}.overflow", pool.id),
                        format!("overflow loops back: {} -> {p}", seen.join(" -> ")),
                    ));
                    break;
                }
                seen.push(p);
                next = pools.get(p).and_then(|p| p.overflow.as_ref());
            }
        }
        let mut rules = Vec::new();
        let mut rule_ids = HashSet::new();
        let count = doc.rules.len();
        let mut last_is_catch_all = false;
        for (i, rule) in doc.rules.into_iter().enumerate() {
            let path = format!("rules[{i}]");
            check_id(&rule.id, &format!("{path}.id"), &mut errors);
            if !rule_ids.insert(rule.id.clone()) {
                errors.push(dup(&format!("{path}.id"), "rule", &rule.id));
            }
            let errors_before = errors.len();
            let when = match &rule.when {
                None => Condition::Always,
                Some(json) => Condition::compile(json, &format!("{path}.when"), &mut errors),
            };
            // A condition with mistakes compiles to a placeholder; it is not a catch-all.
            let catch_all = when == Condition::Always && errors.len() == errors_before;
            last_is_catch_all = catch_all;
            if catch_all && i + 1 < count {
                errors.push(ConfigError::new(
                    format!("{path}.when"),
                    "this rule matches every lead, so the rules after it can never apply; only the last rule may be a catch-all",
                ));
            }
            let route_path = format!("{path}.route");
            let route = match (rule.route.rep, rule.route.pool, rule.route.queue) {
                (Some(rep), None, None) if rep == ACCOUNT_OWNER => Destination::AccountOwner,
                (Some(rep), None, None) => {
                    if !reps.contains_key(&rep) {
                        errors.push(ConfigError::new(
                            format!("{route_path}.rep"),
                            format!("unknown rep '{rep}'"),
                        ));
                    }
                    Destination::Rep(rep)
                }
                (None, Some(pool), None) => {
                    if !pools.contains_key(&pool) {
                        errors.push(ConfigError::new(
                            format!("{route_path}.pool"),
                            format!("unknown pool '{pool}'"),
                        ));
                    }
                    Destination::Pool(pool)
                }
                (None, None, Some(queue)) => {
                    if !queues.contains_key(&queue) {
                        errors.push(ConfigError::new(
                            format!("{route_path}.queue"),
                            format!("unknown queue '{queue}' (declare it under queues)"),
                        ));
                    }
                    Destination::Queue(queue)
                }
                _ => {
                    errors.push(ConfigError::new(
                        route_path,
                        "expected exactly one of rep, pool or queue",
                    ));
                    Destination::Queue(fallback_queue.clone())
                }
            };
            let sla = rule.sla.and_then(|sla| {
                let refs = Refs {
                    channels: &channels,
                    pools: &pool_ids,
                    queues: &queues,
                };
                let via_pool = matches!(route, Destination::Pool(_));
                let from = format!("rule '{}'", rule.id);
                compile_sla(
                    sla,
                    &format!("{path}.sla"),
                    from,
                    via_pool,
                    &refs,
                    &mut errors,
                )
            });
            rules.push(Rule {
                id: rule.id,
                description: rule.description,
                when,
                route,
                sla,
            });
        }
        let qualification = compile_qualification(doc.qualification, &mut queues, &mut errors);
        let returning = match doc.returning_contacts {
            None => Returning {
                when: ReturningWhen::Always,
                days: DEFAULT_RETURNING_DAYS,
            },
            Some(r) => {
                if r.days == Some(0) || r.days.is_some_and(|d| d > 3650) {
                    errors.push(ConfigError::new(
                        "returning_contacts.days",
                        "days must be from 1 to 3650",
                    ));
                }
                Returning {
                    when: r.when,
                    days: r.days.unwrap_or(DEFAULT_RETURNING_DAYS),
                }
            }
        };
        if !last_is_catch_all {
            errors.push(ConfigError::new(
                "rules",
                "the last rule must be a catch-all default (a rule without `when`)",
            ));
        }
        if errors.is_empty() {
            Ok(RoutingConfig {
                fallback_queue,
                reps,
                pools,
                queues,
                rules,
                channels,
                queue_notify,
                qualification,
                returning,
            })
        } else {
            Err(errors)
        }
    }
}

/// Compiles the qualification settings; declares the data-quality queue.
fn compile_qualification(
    doc: Option<QualificationDoc>,
    queues: &mut HashMap<String, String>,
    errors: &mut Vec<ConfigError>,
) -> QualifyConfig {
    let mut config = QualifyConfig::default();
    let Some(doc) = doc else {
        queues
            .entry(config.data_quality_queue.clone())
            .or_insert_with(|| "Data quality".into());
        return config;
    };
    let domains = |list: Vec<String>, path: &str, errors: &mut Vec<ConfigError>| {
        let mut set = HashSet::new();
        for (j, d) in list.into_iter().enumerate() {
            match super::normalize::website_domain(&d) {
                Some(d) => {
                    set.insert(d);
                }
                None => errors.push(ConfigError::new(
                    format!("{path}[{j}]"),
                    format!("'{d}' is not a domain"),
                )),
            }
        }
        set
    };
    config.free_mail_add = domains(doc.free_mail.add, "qualification.free_mail.add", errors);
    config.free_mail_remove = domains(
        doc.free_mail.remove,
        "qualification.free_mail.remove",
        errors,
    );
    config.disposable_add = domains(doc.disposable.add, "qualification.disposable.add", errors);
    if !doc.disposable.remove.is_empty() {
        errors.push(ConfigError::new(
            "qualification.disposable.remove",
            "the disposable list can only be added to",
        ));
    }
    if let Some(field) = doc.honeypot_field {
        config.honeypot_field = super::lead::canonical_key(&field);
    }
    if let Some(queue) = doc.data_quality_queue {
        check_id(&queue, "qualification.data_quality_queue", errors);
        config.data_quality_queue = queue;
    }
    queues
        .entry(config.data_quality_queue.clone())
        .or_insert_with(|| "Data quality".into());
    for (source, fields) in doc.required_fields {
        let mut checks = Vec::new();
        for (j, field) in fields.into_iter().enumerate() {
            let path = format!("qualification.required_fields.{source}[{j}]");
            let presence = serde_json::json!({ field.clone(): {"exists": true} });
            checks.push((field, Condition::compile(&presence, &path, errors)));
        }
        config.required.insert(source, checks);
    }
    for (i, score) in doc.scoring.into_iter().enumerate() {
        let path = format!("qualification.scoring[{i}]");
        if !score.points.is_finite() {
            errors.push(ConfigError::new(
                format!("{path}.points"),
                "expected a number",
            ));
        }
        config.scoring.push(ScoreRule {
            when: Condition::compile(&score.when, &format!("{path}.when"), errors),
            label: score.label,
            points: score.points,
        });
    }
    config
}

/// Ids the parts of a config refer to.
struct Refs<'a> {
    channels: &'a HashMap<String, Channel>,
    pools: &'a HashSet<String>,
    queues: &'a HashMap<String, String>,
}

/// Checks channel definitions: unique ids, a URL, webhooks signed, Slack URLs kept secret.
fn compile_channels(
    docs: Vec<ChannelDoc>,
    errors: &mut Vec<ConfigError>,
) -> HashMap<String, Channel> {
    let mut channels = HashMap::new();
    for (i, doc) in docs.into_iter().enumerate() {
        let path = format!("channels[{i}]");
        check_id(&doc.id, &format!("{path}.id"), errors);
        if channels.contains_key(&doc.id) {
            errors.push(dup(&format!("{path}.id"), "channel", &doc.id));
        }
        match (&doc.kind, &doc.url) {
            (ChannelKind::Email, url) => {
                if url.is_some() {
                    errors.push(ConfigError::new(
                        format!("{path}.url"),
                        "an email channel has recipients (`to`), not a URL",
                    ));
                }
                if doc.to.is_empty() {
                    errors.push(ConfigError::new(
                        format!("{path}.to"),
                        "an email channel needs at least one recipient",
                    ));
                }
                for (j, address) in doc.to.iter().enumerate() {
                    if address.parse::<email_address::EmailAddress>().is_err() {
                        errors.push(ConfigError::new(
                            format!("{path}.to[{j}]"),
                            "expected an email address",
                        ));
                    }
                }
            }
            (_, None) => errors.push(ConfigError::new(format!("{path}.url"), "a URL is required")),
            (_, Some(_)) if !doc.to.is_empty() => errors.push(ConfigError::new(
                format!("{path}.to"),
                "only email channels have recipients",
            )),
            (ChannelKind::Slack | ChannelKind::Teams, Some(Setting::Plain(_))) => errors.push(ConfigError::new(
                format!("{path}.url"),
                "a Slack or Teams webhook URL is a secret: reference it as { env: NAME } or { aws_secret: NAME }",
            )),
            (ChannelKind::Webhook, Some(Setting::Plain(url)))
                if !(url.starts_with("https://") || url.starts_with("http://")) =>
            {
                errors.push(ConfigError::new(
                    format!("{path}.url"),
                    "expected an http(s) URL",
                ))
            }
            _ => {}
        }
        if doc.kind == ChannelKind::Webhook && doc.secret.is_none() {
            errors.push(ConfigError::new(
                format!("{path}.secret"),
                "a webhook needs a signing secret: { env: NAME } or { aws_secret: NAME }",
            ));
        }
        channels.insert(
            doc.id.clone(),
            Channel {
                id: doc.id,
                kind: doc.kind,
                url: doc.url.unwrap_or_else(|| Setting::Plain(String::new())),
                to: doc.to,
                secret: doc.secret,
            },
        );
    }
    channels
}

fn check_channels(
    ids: &[String],
    path: &str,
    channels: &HashMap<String, Channel>,
    errors: &mut Vec<ConfigError>,
) {
    for (j, id) in ids.iter().enumerate() {
        if !channels.contains_key(id) {
            errors.push(ConfigError::new(
                format!("{path}[{j}]"),
                format!("unknown channel '{id}' (declare it under channels)"),
            ));
        }
    }
}

/// Compiles an SLA; `via_pool` says whether the rule or pool it sits on routes through a pool
/// (which `on_breach: reassign` needs).
fn compile_sla(
    doc: SlaDoc,
    path: &str,
    from: String,
    via_pool: bool,
    refs: &Refs<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<SlaPolicy> {
    let before = errors.len();
    if !(1..=7 * 24 * 60).contains(&doc.minutes) {
        errors.push(ConfigError::new(
            format!("{path}.minutes"),
            "minutes must be from 1 to 10080 (a week)",
        ));
    }
    let names_on_breach = doc.on_breach.is_some();
    let on_breach = match doc.on_breach {
        None => OnBreach::Reassign,
        Some(OnBreachDoc::Word(word)) if word == "reassign" => OnBreach::Reassign,
        Some(OnBreachDoc::Word(word)) => {
            errors.push(ConfigError::new(
                format!("{path}.on_breach"),
                format!("expected reassign, {{ pool: id }} or {{ queue: id }}, got '{word}'"),
            ));
            OnBreach::Reassign
        }
        Some(OnBreachDoc::Route(route)) => match (route.rep, route.pool, route.queue) {
            (None, Some(p), None) if refs.pools.contains(&p) => OnBreach::Pool(p),
            (None, None, Some(q)) if refs.queues.contains_key(&q) => OnBreach::Queue(q),
            (None, Some(p), None) => {
                errors.push(ConfigError::new(
                    format!("{path}.on_breach.pool"),
                    format!("unknown pool '{p}'"),
                ));
                OnBreach::Reassign
            }
            (None, None, Some(q)) => {
                errors.push(ConfigError::new(
                    format!("{path}.on_breach.queue"),
                    format!("unknown queue '{q}' (declare it under queues)"),
                ));
                OnBreach::Reassign
            }
            _ => {
                errors.push(ConfigError::new(
                    format!("{path}.on_breach"),
                    "expected reassign, { pool: id } or { queue: id }",
                ));
                OnBreach::Reassign
            }
        },
    };
    let reminders = compile_reminders(&doc.reminders, doc.minutes, path, errors);
    let steps = match &doc.steps {
        None => Vec::new(),
        Some(steps) => compile_steps(steps, path, refs, errors),
    };
    let reassigns = steps.is_empty() || steps.iter().any(|s| s.action == Action::Reassign);
    if !reassigns && names_on_breach {
        errors.push(ConfigError::new(
            format!("{path}.on_breach"),
            "no step reassigns the lead, so on_breach would never be used: add { reassign: true } as the last step or remove on_breach",
        ));
    }
    if on_breach == OnBreach::Reassign && reassigns && !via_pool {
        errors.push(ConfigError::new(
            format!("{path}.on_breach"),
            "reassign needs a pool to take the next rep from; this rule routes to a rep or queue, so name { pool: id } or { queue: id }",
        ));
    }
    check_channels(&doc.alert, &format!("{path}.alert"), refs.channels, errors);
    let max_escalations = doc.max_escalations.unwrap_or(DEFAULT_MAX_ESCALATIONS);
    if max_escalations > 10 {
        errors.push(ConfigError::new(
            format!("{path}.max_escalations"),
            "at most 10 escalations",
        ));
    }
    (errors.len() == before).then_some(SlaPolicy {
        from,
        minutes: doc.minutes,
        business_hours: doc.business_hours,
        on_breach,
        alert: doc.alert,
        max_escalations,
        reminders,
        steps,
    })
}

/// Compiles an SLA's reminders: minutes before a deadline of `minutes`, or a percentage of it.
fn compile_reminders(
    docs: &[ReminderDoc],
    minutes: u32,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<Reminder> {
    let mut reminders = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let at = format!("{path}.reminders[{i}]");
        let reminder = match doc {
            ReminderDoc::MinutesBefore(m) if (1..minutes).contains(m) => {
                Reminder::MinutesBefore(*m)
            }
            ReminderDoc::MinutesBefore(m) => {
                errors.push(ConfigError::new(
                    at,
                    format!("{m} minutes before a {minutes}-minute deadline would come before the lead does: use 1 to {}", minutes.saturating_sub(1)),
                ));
                continue;
            }
            ReminderDoc::Text(text) => match text
                .trim()
                .strip_suffix('%')
                .and_then(|p| p.trim().parse::<u8>().ok())
            {
                Some(p) if (1..=99).contains(&p) => Reminder::PercentElapsed(p),
                _ => {
                    errors.push(ConfigError::new(
                        at,
                        format!("expected minutes before the deadline (10) or a share of the time elapsed from 1% to 99% (\"50%\"), got '{text}'"),
                    ));
                    continue;
                }
            },
        };
        reminders.push(reminder);
    }
    if reminders.len() > 5 {
        errors.push(ConfigError::new(
            format!("{path}.reminders"),
            "at most 5 reminders",
        ));
    }
    reminders
}

/// Compiles the steps after an SLA's deadline: in time order, one action each, a reassignment
/// only last.
fn compile_steps(
    docs: &[StepDoc],
    path: &str,
    refs: &Refs<'_>,
    errors: &mut Vec<ConfigError>,
) -> Vec<Escalation> {
    if docs.is_empty() || docs.len() > 5 {
        errors.push(ConfigError::new(
            format!("{path}.steps"),
            "from 1 to 5 steps (leave steps out to reassign at the deadline)",
        ));
    }
    let mut steps = Vec::new();
    let mut previous = 0;
    for (i, doc) in docs.iter().enumerate() {
        let at = format!("{path}.steps[{i}]");
        if doc.after < previous {
            errors.push(ConfigError::new(
                format!("{at}.after"),
                format!(
                    "steps go in time order: {} comes before the step above ({previous})",
                    doc.after
                ),
            ));
        }
        if doc.after > 7 * 24 * 60 {
            errors.push(ConfigError::new(
                format!("{at}.after"),
                "at most 10080 minutes (a week) after the deadline",
            ));
        }
        previous = doc.after;
        let action = match (&doc.remind, &doc.alert, doc.reassign) {
            (Some(who), None, None) if who == "owner" => Action::Remind,
            (Some(who), None, None) => {
                errors.push(ConfigError::new(
                    format!("{at}.remind"),
                    format!("only the owner can be reminded (remind: owner), got '{who}'; use alert: [channel] for anyone else"),
                ));
                continue;
            }
            (None, Some(channels), None) if !channels.is_empty() => {
                check_channels(channels, &format!("{at}.alert"), refs.channels, errors);
                Action::Alert(channels.clone())
            }
            (None, None, Some(true)) => Action::Reassign,
            _ => {
                errors.push(ConfigError::new(
                    at,
                    "each step does one thing: remind: owner, alert: [channels] or reassign: true",
                ));
                continue;
            }
        };
        if action == Action::Reassign && i + 1 != docs.len() {
            errors.push(ConfigError::new(
                at,
                "reassign ends the owner's schedule, so it can only be the last step",
            ));
        }
        steps.push(Escalation {
            after: doc.after,
            action,
        });
    }
    steps
}

/// Compiles a rep's time zone, working hours, out-of-office ranges and holidays.
fn compile_availability(rep: &RepDoc, path: &str, errors: &mut Vec<ConfigError>) -> Availability {
    let mut availability = Availability {
        active: rep.active,
        ..Availability::always()
    };
    if let Some(name) = &rep.timezone {
        match availability::parse_timezone(name) {
            Ok(tz) => {
                availability.timezone = tz;
                availability.timezone_name = name.clone();
            }
            Err(e) => errors.push(ConfigError::new(format!("{path}.timezone"), e)),
        }
    }
    let tz = availability.timezone.clone();
    if let Some(hours) = &rep.working_hours {
        let mut week: [Vec<Shift>; 7] = Default::default();
        for (days, shifts) in hours {
            let at = format!("{path}.working_hours.{days}");
            let shifts = match shifts {
                ShiftsDoc::One(s) => std::slice::from_ref(s),
                ShiftsDoc::Many(list) => list.as_slice(),
            };
            match availability::parse_days(days) {
                Ok(indexes) => {
                    for text in shifts {
                        match availability::parse_shift(text) {
                            Ok(shift) => indexes.iter().for_each(|&d| week[d].push(shift)),
                            Err(e) => errors.push(ConfigError::new(&at, e)),
                        }
                    }
                }
                Err(e) => errors.push(ConfigError::new(&at, e)),
            }
        }
        availability.hours = Some(week);
    }
    for (j, absence) in rep.out_of_office.iter().enumerate() {
        let at = format!("{path}.out_of_office[{j}]");
        let start = availability::parse_instant(&absence.from, &tz, false);
        let end = availability::parse_instant(&absence.to, &tz, true);
        match (start, end) {
            (Ok(start), Ok(end)) if start < end => {
                availability.out_of_office.push(Absence { start, end })
            }
            (Ok(_), Ok(_)) => errors.push(ConfigError::new(at, "`to` must come after `from`")),
            (Err(e), _) => errors.push(ConfigError::new(format!("{at}.from"), e)),
            (_, Err(e)) => errors.push(ConfigError::new(format!("{at}.to"), e)),
        }
    }
    let mut holidays = BTreeSet::new();
    for (j, day) in rep.holidays.iter().enumerate() {
        match day.parse() {
            Ok(date) => {
                holidays.insert(date);
            }
            Err(_) => errors.push(ConfigError::new(
                format!("{path}.holidays[{j}]"),
                format!("expected a date like 2026-12-25, got '{day}'"),
            )),
        }
    }
    availability.holidays = holidays;
    availability
}

fn check_id(id: &str, path: &str, errors: &mut Vec<ConfigError>) {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !ok {
        errors.push(ConfigError::new(
            path,
            "ids are 1-64 characters of letters, digits, '-', '_' or '.'",
        ));
    }
}

fn dup(path: &str, kind: &str, id: &str) -> ConfigError {
    ConfigError::new(path, format!("duplicate {kind} id '{id}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
reps:
  - {id: ana, name: Ana}
pools:
  - {id: smb, reps: [ana]}
rules:
  - id: default
    route: {pool: smb}
"#;

    fn errors(text: &str) -> Vec<String> {
        RoutingConfig::parse(text)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn minimal_config_parses() {
        let config = RoutingConfig::parse(MINIMAL).unwrap();
        assert_eq!(config.rules.len(), 1);
        assert_eq!(config.fallback_queue, DEFAULT_FALLBACK_QUEUE);
    }

    #[test]
    fn the_example_config_is_valid() {
        RoutingConfig::parse(include_str!("../../config/example.yaml")).unwrap();
    }

    #[test]
    fn a_default_rule_is_required() {
        let text = MINIMAL.replace(
            "  - id: default\n    route",
            "  - id: d\n    when: {country: US}\n    route",
        );
        assert!(errors(&text)
            .iter()
            .any(|e| e.starts_with("rules: the last rule must be a catch-all")));
    }

    #[test]
    fn unknown_references_duplicates_and_empty_pools() {
        let text = r#"
reps:
  - {id: ana, name: Ana}
  - {id: ana, name: Ana Again}
pools:
  - {id: smb, reps: [ana, bob]}
  - {id: empty, reps: []}
rules:
  - {id: r1, when: {employees: {gte: lots}}, route: {pool: nowhere}}
  - {id: r1, route: {rep: zed}}
"#;
        let errs = errors(text);
        for expected in [
            "reps[1].id: duplicate rep id 'ana'",
            "pools[0].reps[1]: unknown rep 'bob'",
            "pools[1].reps: a pool needs at least one rep",
            "rules[0].when.employees.gte: expected a number",
            "rules[0].route.pool: unknown pool 'nowhere'",
            "rules[1].id: duplicate rule id 'r1'",
            "rules[1].route.rep: unknown rep 'zed'",
        ] {
            assert!(
                errs.contains(&expected.to_string()),
                "missing {expected} in {errs:?}"
            );
        }
    }

    #[test]
    fn structural_mistakes_give_a_path() {
        let errs = errors("reps:\n  - {id: ana}\nrules: []\n");
        assert!(
            errs[0].starts_with("reps[0]: missing field `name`"),
            "{errs:?}"
        );
        let errs = errors("reps: []\npools:\n  - {id: p, reps: [], strategy: random}\nrules: []\n");
        assert!(
            errs[0].starts_with("pools[0].strategy: unknown variant `random`"),
            "{errs:?}"
        );
    }

    #[test]
    fn an_early_catch_all_is_rejected() {
        let text = MINIMAL.replace("rules:\n", "rules:\n  - {id: early, route: {rep: ana}}\n");
        assert!(errors(&text)
            .iter()
            .any(|e| e.starts_with("rules[0].when: this rule matches every lead")));
    }

    #[test]
    fn distribution_settings_are_checked_with_paths() {
        let text = r#"
reps:
  - {id: ana, name: Ana, timezone: Mars/Olympus}
  - {id: ben, name: Ben, working_hours: {funday: "09:00-17:00", mon: "17:00-09:00"}}
  - {id: cy, name: Cy, out_of_office: [{from: 2026-12-10, to: 2026-12-01}], holidays: [someday]}
pools:
  - {id: p, reps: [{rep: ana, weight: 2}], overflow: {pool: q}}
  - {id: q, strategy: weighted, reps: [{rep: ben, weight: 0}], overflow: {pool: p}}
  - {id: r, reps: [cy], overflow: {queue: nowhere}}
rules:
  - {id: d, route: {pool: p}}
"#;
        let errs = errors(text);
        for expected in [
            "reps[0].timezone: unknown time zone 'Mars/Olympus'",
            "reps[1].working_hours.funday: unknown day 'funday'",
            "reps[1].working_hours.mon: '17:00-09:00' ends before it starts",
            "reps[2].out_of_office[0]: `to` must come after `from`",
            "reps[2].holidays[0]: expected a date like 2026-12-25, got 'someday'",
            "pools[0].reps[0].weight: weights apply only to pools with strategy: weighted",
            "pools[1].reps[0].weight: a weight is a whole number from 1 to 1000",
            "pools[2].overflow.queue: unknown queue 'nowhere'",
        ] {
            assert!(
                errs.iter().any(|e| e.starts_with(expected)),
                "missing {expected} in {errs:?}"
            );
        }
        assert!(
            errs.iter().any(|e| e.contains("overflow loops back")),
            "{errs:?}"
        );
    }

    #[test]
    fn weights_build_the_pools_cycle() {
        let c = RoutingConfig::parse(
            "reps:\n  - {id: a, name: A}\n  - {id: b, name: B}\npools:\n  - {id: p, strategy: weighted, reps: [{rep: a, weight: 3}, b]}\nrules:\n  - {id: d, route: {pool: p}}\n",
        )
        .unwrap();
        let pool = &c.pools["p"];
        assert_eq!(pool.weights, [3, 1]);
        assert_eq!(pool.schedule.len(), 4);
        assert_eq!(pool.overflow, None);
    }

    #[test]
    fn channels_and_slas_are_checked_with_their_paths() {
        let errs = errors(
            r#"
channels:
  - {id: plain-slack, type: slack, url: "https://hooks.slack.com/services/T/B/X"}
  - {id: unsigned, type: webhook, url: "https://crm.example.com/hook"}
  - {id: odd, type: webhook, url: "ftp://x", secret: {env: S}}
  - {id: mail-url, type: email, url: "https://x", to: [ana@example.com]}
  - {id: mail-none, type: email}
  - {id: mail-bad, type: email, to: [ana@example.com, "not an address"]}
  - {id: teams-to, type: teams, url: {env: T}, to: [ana@example.com]}
reps:
  - {id: ana, name: Ana}
pools:
  - {id: smb, reps: [ana], notify: [odd, unsigned, plain-slack]}
queues:
  - {id: triage, notify: [ghost]}
rules:
  - {id: default, route: {pool: smb}}
"#,
        );
        for expected in [
            "channels[0].url: a Slack or Teams webhook URL is a secret",
            "channels[1].secret: a webhook needs a signing secret",
            "channels[2].url: expected an http(s) URL",
            "channels[3].url: an email channel has recipients (`to`), not a URL",
            "channels[4].to: an email channel needs at least one recipient",
            "channels[5].to[1]: expected an email address",
            "channels[6].to: only email channels have recipients",
            "queues[0].notify[0]: unknown channel 'ghost'",
        ] {
            assert!(
                errs.iter().any(|e| e.starts_with(expected)),
                "missing {expected} in {errs:?}"
            );
        }
    }

    #[test]
    fn sla_mistakes_are_reported_with_their_paths() {
        let errs = errors(
            r#"
channels:
  - {id: mgr, type: slack, url: {env: MGR}}
reps:
  - {id: ana, name: Ana, notify: [nowhere]}
pools:
  - id: smb
    reps: [ana]
    sla: {minutes: 0, alert: [gone], on_breach: {pool: missing}, max_escalations: 11}
rules:
  - id: named
    when: {country: DE}
    route: {rep: ana}
    sla: {minutes: 15}
  - id: default
    route: {pool: smb}
    sla: {minutes: 15, on_breach: escalate, alert: [mgr]}
"#,
        );
        for expected in [
            "reps[0].notify[0]: unknown channel 'nowhere'",
            "pools[0].sla.minutes: minutes must be from 1 to 10080",
            "pools[0].sla.on_breach.pool: unknown pool 'missing'",
            "pools[0].sla.alert[0]: unknown channel 'gone'",
            "pools[0].sla.max_escalations: at most 10",
            "rules[0].sla.on_breach: reassign needs a pool",
            "rules[1].sla.on_breach: expected reassign",
        ] {
            assert!(
                errs.iter().any(|e| e.starts_with(expected)),
                "missing {expected} in {errs:?}"
            );
        }
    }

    #[test]
    fn a_rule_sla_and_a_pool_sla_compile() {
        let c = RoutingConfig::parse(
            r#"
channels:
  - {id: mgr, type: slack, url: {aws_secret: leadrouter/slack-managers}}
  - {id: crm, type: webhook, url: "https://crm.example.com/hook", secret: {env: CRM_SECRET}}
reps:
  - {id: ana, name: Ana, notify: [crm]}
  - {id: bo, name: Bo}
pools:
  - {id: inside, reps: [bo], sla: {minutes: 30, business_hours: true}}
rules:
  - id: field
    when: {country: DE}
    route: {rep: ana}
    sla: {minutes: 15, on_breach: {pool: inside}, alert: [mgr], max_escalations: 1}
  - {id: default, route: {pool: inside}}
"#,
        )
        .unwrap();
        let field = c.rules[0].sla.as_ref().unwrap();
        assert_eq!(field.on_breach, OnBreach::Pool("inside".into()));
        assert_eq!((field.minutes, field.max_escalations), (15, 1));
        assert_eq!(field.from, "rule 'field'");
        let inside = c.pools["inside"].sla.as_ref().unwrap();
        assert!(inside.business_hours);
        assert_eq!(inside.on_breach, OnBreach::Reassign);
        assert_eq!(inside.max_escalations, DEFAULT_MAX_ESCALATIONS);
        assert_eq!(
            c.channels["mgr"].url,
            Setting::Secret(SecretRef::AwsSecret("leadrouter/slack-managers".into()))
        );
        assert_eq!(c.reps["ana"].notify, ["crm"]);
    }

    #[test]
    fn reminders_and_steps_compile_in_order() {
        let c = RoutingConfig::parse(
            r#"
channels:
  - {id: mgr, type: slack, url: {aws_secret: leadrouter/slack-managers}}
reps:
  - {id: bo, name: Bo}
pools:
  - id: inside
    reps: [bo]
    sla:
      minutes: 30
      reminders: [10, "50%"]
      steps:
        - remind: owner
        - {after: 15, alert: [mgr]}
        - {after: 30, reassign: true}
rules:
  - {id: default, route: {pool: inside}}
"#,
        )
        .unwrap();
        let sla = c.pools["inside"].sla.as_ref().unwrap();
        assert_eq!(
            sla.reminders,
            [Reminder::MinutesBefore(10), Reminder::PercentElapsed(50)]
        );
        let steps: Vec<_> = sla.steps.iter().map(|s| (s.after, &s.action)).collect();
        assert_eq!(
            steps,
            [
                (0, &Action::Remind),
                (15, &Action::Alert(vec!["mgr".into()])),
                (30, &Action::Reassign)
            ]
        );
    }

    #[test]
    fn reminder_and_step_mistakes_name_the_field() {
        let text = r#"
reps:
  - {id: bo, name: Bo}
pools:
  - id: inside
    reps: [bo]
    sla:
      minutes: 30
      reminders: [30, "150%", soon]
      on_breach: reassign
      steps:
        - {after: 20, remind: manager}
        - {after: 10, alert: [nobody]}
        - {remind: owner, reassign: true}
rules:
  - {id: default, route: {pool: inside}}
"#;
        let errs = errors(text);
        for expected in [
            "pools[0].sla.reminders[0]: 30 minutes before a 30-minute deadline",
            "pools[0].sla.reminders[1]: expected minutes before the deadline",
            "pools[0].sla.reminders[2]: expected minutes before the deadline",
            "pools[0].sla.steps[0].remind: only the owner can be reminded",
            "pools[0].sla.steps[1].after: steps go in time order",
            "pools[0].sla.steps[1].alert[0]: unknown channel 'nobody'",
            "pools[0].sla.steps[2]: each step does one thing",
            "pools[0].sla.on_breach: no step reassigns the lead",
        ] {
            assert!(
                errs.iter().any(|e| e.starts_with(expected)),
                "missing {expected} in {errs:?}"
            );
        }
        let early = text
            .replace("      reminders: [30, \"150%\", soon]\n", "")
            .replace("      on_breach: reassign\n", "")
            .replace(
                "        - {after: 20, remind: manager}\n        - {after: 10, alert: [nobody]}\n        - {remind: owner, reassign: true}",
                "        - {reassign: true}\n        - {after: 5, remind: owner}",
            );
        assert!(
            errors(&early)
                .iter()
                .any(|e| e.starts_with("pools[0].sla.steps[0]: reassign ends the owner's schedule")),
            "{:?}",
            errors(&early)
        );
    }
}

//! The lead log and the report's reads ([`LogStore`]): Query on the `log` index one UTC day at
//! a time (or on the `owner` index for one owner), newest first, with the log's filters as a
//! FilterExpression; pages end at an opaque cursor. Never Scan.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use futures::stream::{self, StreamExt, TryStreamExt};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::attr::{n, s, Item};
use super::classify::classify;
use super::client::DynamoStore;
use super::items;
use super::keys::{self, LOG_INDEX, OWNER_INDEX};
use crate::domain::model::SlaState;
use crate::store::{ArrivedLead, LogPage, LogQuery, LogStore, PeriodRows, StoreError, StoreResult};

/// Items one Query call reads at most (before the filter): a page of the log is made of a few.
const READ_PER_CALL: i32 = 200;
/// Query calls one page of the log makes at most; a filter that matches rarely returns a
/// short page with a cursor rather than reading for ever.
const MAX_CALLS_PER_PAGE: usize = 40;
/// Days the report reads at once.
const DAYS_IN_FLIGHT: usize = 8;

/// Where a page of the log ended: the partition (a UTC day of the `log` index, or the one
/// owner's partition) and the last item read in it, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    /// The day being read (`None` on the owner index).
    day: Option<Date>,
    /// The last item read in it: its table key and its sort key in the index.
    after: Option<(String, String, String)>,
}

impl Cursor {
    fn parse(text: &str) -> StoreResult<Self> {
        let bytes = hex::decode(text).map_err(|_| bad_cursor())?;
        serde_json::from_slice(&bytes).map_err(|_| bad_cursor())
    }

    fn text(&self) -> String {
        hex::encode(serde_json::to_vec(self).expect("a cursor serialises"))
    }
}

fn bad_cursor() -> StoreError {
    StoreError::Invalid("bad cursor: pass back the `next` of the previous page".into())
}

/// One partition the log reads: which index, its key attribute and value.
struct Partition {
    index: &'static str,
    key_name: &'static str,
    key: String,
    day: Option<Date>,
}

impl Partition {
    /// The item's key as an index Query starts after it.
    fn start_after(&self, (pk, sk, log_sk): &(String, String, String)) -> Item {
        Item::from([
            ("pk".to_string(), s(pk)),
            ("sk".to_string(), s(sk)),
            ("log_sk".to_string(), s(log_sk)),
            (self.key_name.to_string(), s(&self.key)),
        ])
    }
}

/// The UTC days `[from, to)` touches, newest first.
fn days(from: Timestamp, to: Timestamp) -> Vec<Date> {
    let day = |t: Timestamp| t.to_zoned(TimeZone::UTC).date();
    let last_instant = (to - jiff::SignedDuration::from_nanos(1)).max(from);
    let (first, last) = (day(from), day(last_instant));
    let mut all = Vec::new();
    let mut d = last;
    while d >= first {
        all.push(d);
        match d.yesterday() {
            Ok(y) => d = y,
            Err(_) => break,
        }
    }
    all
}

/// The log's filters as one FilterExpression (leads only: notifications share the index).
fn filtered(mut query: QueryFluentBuilder, q: &LogQuery) -> QueryFluentBuilder {
    let mut clauses = vec!["attribute_exists(owner_kind)".to_string()];
    let value = |query: QueryFluentBuilder, name: &str, v: AttributeValue| {
        query.expression_attribute_values(name, v)
    };
    let text_filters = [
        ("pool_id", ":pool", &q.pool),
        ("rule_id", ":rule", &q.rule),
        ("#source", ":source", &q.source),
    ];
    for (attribute, placeholder, wanted) in text_filters {
        if let Some(wanted) = wanted {
            clauses.push(format!("{attribute} = {placeholder}"));
            query = value(query, placeholder, s(wanted));
        }
    }
    if q.source.is_some() {
        query = query.expression_attribute_names("#source", "source");
    }
    if let Some(status) = q.status {
        clauses.push("#status = :status".into());
        query = query.expression_attribute_names("#status", "status");
        query = value(query, ":status", s(status.as_str()));
    }
    if let Some(sla) = q.sla {
        let now = q.now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let clause = match sla {
            SlaState::Pending => "(sla_state = :pending AND sla_due_at > :now)",
            SlaState::Met => "sla_state = :met",
            SlaState::Breached => {
                "(sla_state = :breached OR (sla_state = :pending AND sla_due_at <= :now))"
            }
        };
        clauses.push(clause.into());
        if sla != SlaState::Met {
            query = value(query, ":now", s(now));
            query = value(query, ":pending", s(SlaState::Pending.as_str()));
        }
        if sla != SlaState::Pending {
            let placeholder = format!(":{}", sla.as_str());
            query = value(query, &placeholder, s(sla.as_str()));
        }
    }
    match q.escalated {
        Some(true) => {
            clauses.push("escalations > :zero".into());
            query = value(query, ":zero", n(0));
        }
        Some(false) => {
            clauses.push("(attribute_not_exists(escalations) OR escalations = :zero)".into());
            query = value(query, ":zero", n(0));
        }
        None => {}
    }
    if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        // Leads stored before the email left the search text still have it there too.
        clauses.push("(contains(#search, :search) OR contains(#facts.#email, :search))".into());
        query = query
            .expression_attribute_names("#search", "search")
            .expression_attribute_names("#facts", "facts")
            .expression_attribute_names("#email", "email");
        query = value(query, ":search", s(search.to_lowercase()));
    }
    query.filter_expression(clauses.join(" AND "))
}

#[async_trait]
impl LogStore for DynamoStore {
    async fn lead_log(&self, q: &LogQuery) -> StoreResult<LogPage> {
        let cursor = q.cursor.as_deref().map(Cursor::parse).transpose()?;
        let partitions: Vec<Partition> = match &q.owner {
            Some(owner) => vec![Partition {
                index: OWNER_INDEX,
                key_name: "owner_pk",
                key: keys::owner_partition(owner),
                day: None,
            }],
            None => days(q.from, q.to)
                .into_iter()
                .map(|day| Partition {
                    index: LOG_INDEX,
                    key_name: "log_pk",
                    key: keys::log_partition(day),
                    day: Some(day),
                })
                .collect(),
        };
        let skip = match &cursor {
            Some(c) => partitions
                .iter()
                .position(|p| p.day == c.day)
                .ok_or_else(bad_cursor)?,
            None => 0,
        };
        let (lo, hi) = (keys::sort_time(q.from), keys::sort_time(q.to));
        let mut rows = Vec::new();
        let mut calls = 0;
        for (i, partition) in partitions.iter().enumerate().skip(skip) {
            let mut start = match &cursor {
                Some(Cursor {
                    after: Some(after), ..
                }) if i == skip => Some(partition.start_after(after)),
                _ => None,
            };
            loop {
                if calls == MAX_CALLS_PER_PAGE {
                    // Read enough for one page: come back here.
                    let next = Cursor {
                        day: partition.day,
                        after: start.as_ref().map(|k| {
                            let part = |name: &str| {
                                k.get(name)
                                    .and_then(|v| v.as_s().ok())
                                    .cloned()
                                    .unwrap_or_default()
                            };
                            (part("pk"), part("sk"), part("log_sk"))
                        }),
                    };
                    return Ok(LogPage {
                        rows,
                        next: Some(next.text()),
                    });
                }
                calls += 1;
                let query = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(partition.index)
                    .key_condition_expression("#p = :p AND log_sk BETWEEN :lo AND :hi")
                    .expression_attribute_names("#p", partition.key_name)
                    .expression_attribute_values(":p", s(&partition.key))
                    .expression_attribute_values(":lo", s(&lo))
                    .expression_attribute_values(":hi", s(&hi))
                    .scan_index_forward(false)
                    .limit(READ_PER_CALL)
                    .set_exclusive_start_key(start.take());
                let out = filtered(query, q).send().await.map_err(classify)?;
                for item in out.items.unwrap_or_default() {
                    let row = items::log_row(item)?;
                    let log_sk = keys::log_keys(&row.lead_id, row.received_at).1;
                    let lead = keys::Key::lead(&row.lead_id);
                    rows.push(row);
                    if rows.len() == q.limit {
                        let next = Cursor {
                            day: partition.day,
                            after: Some((lead.pk, lead.sk, log_sk)),
                        };
                        return Ok(LogPage {
                            rows,
                            next: Some(next.text()),
                        });
                    }
                }
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(LogPage { rows, next: None })
    }

    async fn arrived_leads(&self, ids: &[String]) -> StoreResult<Vec<ArrivedLead>> {
        // Eventually consistent: a replay reads leads that arrived before it started.
        let found = self
            .batch_get(ids.iter().map(|id| keys::Key::lead(id)).collect(), false)
            .await?;
        found
            .into_iter()
            .filter_map(|item| items::lead(item).transpose())
            .map(|lead| {
                let lead = lead?;
                let first_version = lead
                    .stints()
                    .first()
                    .and_then(|s| s.version)
                    .or(lead.assignment.config_version);
                Ok(ArrivedLead {
                    status: lead.status(),
                    lead_id: lead.lead_id,
                    received_at: lead.received_at,
                    source: lead.source,
                    lead: lead.lead,
                    assignment: lead.assignment,
                    first_version,
                })
            })
            .collect()
    }

    async fn period_rows(&self, from: Timestamp, to: Timestamp) -> StoreResult<PeriodRows> {
        let (lo, hi) = (keys::sort_time(from), keys::sort_time(to));
        let per_day = stream::iter(days(from, to).into_iter().rev())
            .map(|day| {
                let query = self
                    .client
                    .query()
                    .index_name(LOG_INDEX)
                    .key_condition_expression("log_pk = :p AND log_sk BETWEEN :lo AND :hi")
                    .expression_attribute_values(":p", s(keys::log_partition(day)))
                    .expression_attribute_values(":lo", s(&lo))
                    .expression_attribute_values(":hi", s(&hi))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total);
                self.day_rows(query)
            })
            .buffered(DAYS_IN_FLIGHT)
            .try_collect::<Vec<_>>()
            .await?;
        let mut rows = PeriodRows::default();
        for day in per_day {
            rows.read_units += day.read_units;
            rows.queries += day.queries;
            rows.leads.extend(day.leads);
            rows.notifications.extend(day.notifications);
        }
        Ok(rows)
    }
}

impl DynamoStore {
    /// Every row one day's Query finds, decoded page by page (so only the rows stay in
    /// memory, never a day of raw items), with the read units and calls it took.
    async fn day_rows(&self, query: QueryFluentBuilder) -> StoreResult<PeriodRows> {
        let mut rows = PeriodRows::default();
        let mut start = None;
        loop {
            let out = query
                .clone()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            rows.queries += 1;
            rows.read_units += out
                .consumed_capacity
                .as_ref()
                .and_then(|c| c.capacity_units)
                .unwrap_or(0.0);
            for item in out.items.unwrap_or_default() {
                if item.contains_key("owner_kind") {
                    rows.leads.push(items::log_row(item)?);
                } else if item.contains_key("attempts") {
                    rows.notifications.extend(items::notification_rows(item)?);
                }
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(rows);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_touches_its_utc_days_newest_first() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let d = |s: &str| s.parse::<Date>().unwrap();
        assert_eq!(
            days(t("2026-11-29T23:00:00Z"), t("2026-12-01T01:00:00Z")),
            [
                d("2026-12-01"),
                d("2026-11-29").tomorrow().unwrap(),
                d("2026-11-29")
            ]
        );
        assert_eq!(
            days(t("2026-11-29T10:00:00Z"), t("2026-11-29T11:00:00Z")),
            [d("2026-11-29")]
        );
        assert_eq!(
            days(t("2026-11-29T00:00:00Z"), t("2026-11-30T00:00:00Z")),
            [d("2026-11-29")]
        );
    }

    #[test]
    fn a_cursor_round_trips_and_a_bad_one_is_refused() {
        let c = Cursor {
            day: Some("2026-11-24".parse().unwrap()),
            after: Some(("LEAD#1".into(), "LEAD".into(), "x".into())),
        };
        assert_eq!(Cursor::parse(&c.text()).unwrap(), c);
        assert!(matches!(Cursor::parse("zz"), Err(StoreError::Invalid(_))));
    }
}

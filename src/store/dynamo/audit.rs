//! The audit log ([`AuditStore`]): entries by UTC month, newest first; written in the
//! transaction of the change each one records ([`put`]), or on its own.

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::attr::{s, Item};
use super::classify::classify;
use super::client::DynamoStore;
use super::items;
use super::keys::{self, Key};
use super::tx::{Guard, Transaction};
use crate::store::{AuditEntry, AuditPage, AuditStore, StoreError, StoreResult};

/// Adds `entry` to a transaction: the audit entry is stored with the change or not at all.
pub(super) fn put(tx: &mut Transaction, entry: &AuditEntry) -> StoreResult<()> {
    let key = Key::audit(entry.at, &uuid::Uuid::now_v7().simple().to_string());
    tx.put_new(items::encode(&key, entry)?, Guard::Unique)
}

/// Where a page ended: the month being read and the last entry's sort key in it.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    month: Date,
    after: String,
}

fn bad_cursor() -> StoreError {
    StoreError::Invalid("bad cursor: pass back the `next` of the previous page".into())
}

/// The first days of the UTC months `[from, to)` touches, newest first.
fn months(from: Timestamp, to: Timestamp) -> Vec<Date> {
    let first_of = |t: Timestamp| t.to_zoned(TimeZone::UTC).date().first_of_month();
    let last = first_of((to - jiff::SignedDuration::from_nanos(1)).max(from));
    let first = first_of(from);
    let mut all = Vec::new();
    let mut m = last;
    while m >= first {
        all.push(m);
        match m.yesterday() {
            Ok(d) => m = d.first_of_month(),
            Err(_) => break,
        }
    }
    all
}

#[async_trait]
impl AuditStore for DynamoStore {
    async fn audit_log(
        &self,
        from: Timestamp,
        to: Timestamp,
        cursor: Option<&str>,
        limit: usize,
    ) -> StoreResult<AuditPage> {
        let cursor: Option<Cursor> = match cursor {
            Some(text) => {
                let bytes = hex::decode(text).map_err(|_| bad_cursor())?;
                Some(serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?)
            }
            None => None,
        };
        let all = months(from, to);
        let skip = match &cursor {
            Some(c) => all
                .iter()
                .position(|m| *m == c.month)
                .ok_or_else(bad_cursor)?,
            None => 0,
        };
        let (lo, hi) = (keys::sort_time(from), keys::sort_time(to));
        let mut page = AuditPage::default();
        for (i, month) in all.iter().enumerate().skip(skip) {
            let pk = keys::audit_partition(*month);
            let mut start: Option<Item> = match &cursor {
                Some(c) if i == skip => Some(Item::from([
                    ("pk".to_string(), s(&pk)),
                    ("sk".to_string(), s(&c.after)),
                ])),
                _ => None,
            };
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                    .expression_attribute_values(":pk", s(&pk))
                    .expression_attribute_values(":lo", s(&lo))
                    .expression_attribute_values(":hi", s(&hi))
                    .scan_index_forward(false)
                    .limit(limit.min(1000) as i32)
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(classify)?;
                for item in out.items.unwrap_or_default() {
                    let sk = Key::of(&item).map(|k| k.sk).unwrap_or_default();
                    page.entries.push(items::decode(item)?);
                    if page.entries.len() == limit {
                        let next = Cursor {
                            month: *month,
                            after: sk,
                        };
                        page.next = Some(hex::encode(
                            serde_json::to_vec(&next).expect("a cursor serialises"),
                        ));
                        return Ok(page);
                    }
                }
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(page)
    }

    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut tx = self.transaction();
        put(&mut tx, entry)?;
        tx.send(&self.client).await.map_err(classify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_touches_its_months_newest_first() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let d = |s: &str| s.parse::<Date>().unwrap();
        assert_eq!(
            months(t("2026-10-15T00:00:00Z"), t("2026-12-01T00:00:00Z")),
            [d("2026-11-01"), d("2026-10-01")]
        );
        assert_eq!(
            months(t("2026-12-31T00:00:00Z"), t("2027-01-02T00:00:00Z")),
            [d("2027-01-01"), d("2026-12-01")]
        );
    }
}

//! The DynamoDB implementation of the store traits (single-table design; the key layout and
//! access patterns are written next to the table in template.yaml). Every write that can race
//! states what it expects; writes that belong together go in one TransactWriteItems.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use serde_dynamo::aws_sdk_dynamodb_1::{from_attribute_value, from_item, to_attribute_value};

use super::*;
use crate::domain::account::Account;
use crate::domain::distribution::Load;
use crate::domain::routing::{CapCounter, Owner, Period};
pub(crate) use classify::classify;

mod classify;

type Item = HashMap<String, AttributeValue>;

/// How long an idempotency record is kept (DynamoDB's TTL deletes it afterwards).
pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 60 * 60;
/// How long a cap counter is kept after its period (DynamoDB's TTL deletes it afterwards).
const CAP_COUNTER_TTL_SECONDS: i64 = 9 * 24 * 60 * 60;
/// Partitions of the sparse due index per kind; the sweeper queries each.
pub const DUE_SHARDS: u32 = 4;
/// The sparse due index (see template.yaml).
const DUE_INDEX: &str = "due";
/// Attempts for a transaction that meets a conflicting one before giving up.
const MAX_CONFLICT_ATTEMPTS: u32 = 6;

/// The store on one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// Builds a DynamoDB client: the default AWS chain in Lambda, or a local endpoint with a fixed
/// dummy key pair (DynamoDB Local keeps one database per key and region).
pub async fn client(endpoint: Option<&str>) -> Client {
    use aws_config::{retry::RetryConfig, timeout::TimeoutConfig, BehaviorVersion, Region};
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(8))
                .build(),
        );
    if let Some(url) = endpoint {
        loader = loader
            .endpoint_url(url)
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "leadrouterlocal",
                "leadrouterlocal",
                None,
                None,
                "local",
            ));
    }
    Client::new(&loader.load().await)
}

impl DynamoStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The underlying client (for tooling and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn get(&self, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item)
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn get_s(item: &Item, key: &str) -> Option<String> {
    item.get(key).and_then(|v| v.as_s().ok()).cloned()
}

fn get_n(item: &Item, key: &str) -> Option<i64> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<AttributeValue> {
    to_attribute_value(value).map_err(|e| StoreError::Invalid(format!("encode: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(item: &Item, key: &str) -> StoreResult<T> {
    let value = item
        .get(key)
        .cloned()
        .ok_or_else(|| StoreError::Corrupt(format!("item has no {key}")))?;
    from_attribute_value(value).map_err(|e| StoreError::Corrupt(format!("decode {key}: {e}")))
}

/// Errors that may say "a concurrent writer got there first; try again".
pub trait Retryable {
    /// True for a conflict that retrying may win.
    fn is_conflict(&self) -> bool;
}

impl Retryable for StoreError {
    fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict(_))
    }
}

impl Retryable for RecordError {
    fn is_conflict(&self) -> bool {
        matches!(self, RecordError::Store(StoreError::Conflict(_)))
    }
}

/// Runs `op` again after a conflict, with full-jitter exponential backoff, a bounded number of
/// times (each retry is counted in [`crate::metrics`]). Any other error, or the last conflict,
/// is returned.
pub async fn retry_conflicts<T, E, F, Fut>(mut op: F) -> Result<T, E>
where
    E: Retryable,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Err(e) if e.is_conflict() && attempt + 1 < MAX_CONFLICT_ATTEMPTS => {
                crate::metrics::bump(&crate::metrics::COUNTERS.conflict_retries);
                let cap_ms = (10u64 << attempt).min(400);
                let wait = rand::random_range(0..=cap_ms);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The per-item reasons of a cancelled transaction, if that is what failed.
fn cancellation_reasons<R>(
    err: &SdkError<TransactWriteItemsError, R>,
) -> Option<&[CancellationReason]> {
    match err {
        SdkError::ServiceError(service) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(e) => {
                Some(e.cancellation_reasons())
            }
            _ => None,
        },
        _ => None,
    }
}

fn reason_is(reason: &CancellationReason, code: &str) -> bool {
    reason.code() == Some(code)
}

/// What a failed condition on one item of the lead transaction means.
#[derive(Debug, Clone, Copy)]
enum Guard {
    /// A failure here is a bug or a lost race on a unique id.
    Unique,
    /// The rep's roster and load entry.
    Roster,
    /// A cap counter.
    Cap(Period),
    /// The lead item of a reassignment (still open with the assignment seen).
    Lead,
    /// The lead's contact (new, or still owned through the lead seen).
    Contact,
}

fn put(item: Item, table: &str, condition: &str) -> StoreResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

#[async_trait]
impl ConfigStore for DynamoStore {
    async fn active_config_version(&self) -> StoreResult<Option<u64>> {
        let item = self.get("CONFIG", "ACTIVE").await?;
        Ok(item.and_then(|i| get_n(&i, "version")).map(|v| v as u64))
    }

    async fn config_version(&self, version: u64) -> StoreResult<Option<StoredConfig>> {
        let item = self
            .get("CONFIG", &format!("VERSION#{version:010}"))
            .await?;
        Ok(item.map(|i| StoredConfig {
            version,
            document: get_s(&i, "document").unwrap_or_default(),
            created_at: get_s(&i, "created_at").unwrap_or_default(),
        }))
    }

    async fn activate_config(&self, document: &str, now: &str) -> StoreResult<u64> {
        retry_conflicts(|| async {
            let current = self.active_config_version().await?;
            let next = current.unwrap_or(0) + 1;
            let version_item = HashMap::from([
                ("pk".into(), s("CONFIG")),
                ("sk".into(), s(format!("VERSION#{next:010}"))),
                ("version".into(), n(next)),
                ("document".into(), s(document)),
                ("created_at".into(), s(now)),
            ]);
            let (condition, values) = match current {
                None => ("attribute_not_exists(pk)".to_string(), None),
                Some(v) => (
                    "version = :current".to_string(),
                    Some(HashMap::from([(":current".to_string(), n(v))])),
                ),
            };
            let pointer = HashMap::from([
                ("pk".into(), s("CONFIG")),
                ("sk".into(), s("ACTIVE")),
                ("version".into(), n(next)),
                ("activated_at".into(), s(now)),
            ]);
            let pointer = Put::builder()
                .table_name(&self.table)
                .set_item(Some(pointer))
                .condition_expression(condition)
                .set_expression_attribute_values(values)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            self.client
                .transact_write_items()
                .transact_items(put(version_item, &self.table, "attribute_not_exists(pk)")?)
                .transact_items(TransactWriteItem::builder().put(pointer).build())
                .send()
                .await
                // A conflict: another publisher took this version number; read again and retry.
                .map_err(classify)?;
            Ok(next)
        })
        .await
    }
}

#[async_trait]
impl KeyStore for DynamoStore {
    async fn find_key(&self, hash: &str) -> StoreResult<Option<KeyRecord>> {
        let Some(item) = self.get(&format!("KEY#{hash}"), "KEY").await? else {
            return Ok(None);
        };
        from_item(item)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("decode key: {e}")))
    }

    async fn put_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let mut item: Item = serde_dynamo::aws_sdk_dynamodb_1::to_item(key)
            .map_err(|e| StoreError::Invalid(format!("encode key: {e}")))?;
        item.insert("pk".into(), s(format!("KEY#{}", key.hash)));
        item.insert("sk".into(), s("KEY"));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn revoke_key(&self, hash: &str) -> StoreResult<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("KEY#{hash}")))
            .key("sk", s("KEY"))
            .update_expression("SET revoked = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        match result.map_err(classify) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn idempotency_pk(key: &str) -> String {
    format!("IDEMPOTENCY#{key}")
}

#[async_trait]
impl LeadStore for DynamoStore {
    async fn claim_idempotency(
        &self,
        token: &IdempotencyToken,
        request_hash: &str,
        now_epoch: i64,
        lease_seconds: i64,
        keep_seconds: i64,
    ) -> StoreResult<IdempotencyClaim> {
        let claim = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(idempotency_pk(&token.key)))
            .item("sk", s("IDEMPOTENCY"))
            .item("status", s("in_progress"))
            .item("token", s(&token.token))
            .item("request_hash", s(request_hash))
            .item("lease_until", n(now_epoch + lease_seconds))
            .item("expires_at", n(now_epoch + keep_seconds))
            // Free, expired by TTL time (TTL deletion lags), or abandoned by a crashed holder.
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at < :now OR (#status = :in_progress AND lease_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", n(now_epoch))
            .expression_attribute_values(":in_progress", s("in_progress"))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        let existing = match claim {
            Ok(_) => return Ok(IdempotencyClaim::Claimed),
            Err(SdkError::ServiceError(service))
                if service.err().is_conditional_check_failed_exception() =>
            {
                match service.into_err() {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e) => {
                        e.item.unwrap_or_default()
                    }
                    _ => Item::new(),
                }
            }
            Err(e) => return Err(classify(e)),
        };
        // Our own claim: the SDK retried the put after a lost answer, and the first attempt had
        // succeeded.
        if get_s(&existing, "token").as_deref() == Some(token.token.as_str())
            && get_s(&existing, "status").as_deref() == Some("in_progress")
        {
            return Ok(IdempotencyClaim::Claimed);
        }
        if get_s(&existing, "request_hash").as_deref() != Some(request_hash) {
            return Ok(IdempotencyClaim::Mismatch);
        }
        match (
            get_s(&existing, "status").as_deref(),
            get_s(&existing, "response"),
        ) {
            (Some("completed"), Some(body)) => {
                Ok(IdempotencyClaim::Completed(StoredResponse { body }))
            }
            _ => Ok(IdempotencyClaim::InProgress),
        }
    }

    async fn release_idempotency(&self, token: &IdempotencyToken) -> StoreResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(idempotency_pk(&token.key)))
            .key("sk", s("IDEMPOTENCY"))
            .condition_expression("#token = :token AND #status = :in_progress")
            .expression_attribute_names("#token", "token")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":token", s(&token.token))
            .expression_attribute_values(":in_progress", s("in_progress"))
            .send()
            .await;
        match result.map_err(classify) {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn claim_next_turn(&self, pool: &str) -> StoreResult<Ticket> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("POOL#{pool}")))
            .key("sk", s("ROTATION"))
            .update_expression("ADD turn :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        let attributes = out.attributes.unwrap_or_default();
        let turn = get_n(&attributes, "turn")
            .ok_or_else(|| StoreError::Corrupt("rotation counter returned no turn".into()))?;
        Ok(Ticket {
            turn: turn as u64,
            cycle_start: get_n(&attributes, "cycle_start").unwrap_or(0) as u64,
            cycle_config: get_n(&attributes, "cycle_config").unwrap_or(0) as u64,
        })
    }

    async fn record_assignment(&self, new: &NewLead) -> Result<(), RecordError> {
        let a = &new.assignment;
        let (owner_kind, status) = owner_status(&a.owner);
        let status = if new.spam { "spam" } else { status };
        let owner_id = a.owner.id();
        let pk = format!("LEAD#{}", new.lead_id);
        let owners: Vec<AttributeValue> = match &a.owner {
            Owner::Rep { id, .. } => vec![s(id)],
            Owner::Queue { .. } => vec![],
        };
        let mut lead_item = HashMap::from([
            ("pk".into(), s(&pk)),
            ("sk".into(), s("LEAD")),
            ("lead_id".into(), s(&new.lead_id)),
            ("source".into(), s(&new.source)),
            ("received_at".into(), s(&new.received_at)),
            ("assigned_at".into(), s(&new.received_at)),
            ("owner_kind".into(), s(owner_kind)),
            ("owner_id".into(), s(owner_id)),
            ("status".into(), s(status)),
            ("assignment_no".into(), n(1)),
            ("escalations".into(), n(0)),
            ("owners".into(), AttributeValue::L(owners)),
            ("lead".into(), encode(&new.lead)?),
            ("assignment".into(), encode(a)?),
        ]);
        if let Some(deadline) = &new.deadline {
            lead_item.insert("sla".into(), encode(&deadline.policy)?);
            lead_item.insert("sla_due_at".into(), s(deadline.due.to_string()));
            lead_item.insert("due_pk".into(), s(due_pk(DueKind::Sla, &new.lead_id)));
            lead_item.insert("due_at".into(), n(deadline.due.as_second()));
        }
        if let Some(contact) = &new.contact {
            let key = match contact {
                ContactWrite::New { key } | ContactWrite::Returning { key, .. } => key,
            };
            lead_item.insert("contact".into(), s(key));
            if let ContactWrite::Returning { owning_lead, .. } = contact {
                lead_item.insert("returning_of".into(), s(owning_lead));
            }
        }
        let event = HistoryEntry {
            at: new.received_at.clone(),
            event: match (new.spam, owner_kind) {
                (true, _) => "spam",
                (false, "rep") => "assigned",
                (false, _) => "queued",
            }
            .into(),
            reason: a.reason.clone(),
        };
        let mut tx = Transaction::default();
        if let Some(contact) = &new.contact {
            self.contact_items(&mut tx, contact, &new.lead_id, &new.received_at)?;
        }
        tx.push(
            put(lead_item, &self.table, "attribute_not_exists(pk)")?,
            Guard::Unique,
        );
        tx.push(
            put(
                event_item(&pk, &event, "0001")?,
                &self.table,
                "attribute_not_exists(pk)",
            )?,
            Guard::Unique,
        );
        self.claim_items(
            &mut tx,
            &new.lead_id,
            owner_id,
            new.claim.as_ref(),
            new.ticket.as_ref(),
            &new.received_at,
        )?;
        self.outbox_items(&mut tx, &new.lead_id, &new.notifications)?;
        if let Some((token, response)) = &new.idempotency {
            let update = Update::builder()
                .table_name(&self.table)
                .key("pk", s(idempotency_pk(&token.key)))
                .key("sk", s("IDEMPOTENCY"))
                .update_expression(
                    "SET #status = :completed, #response = :response, lead_id = :lead",
                )
                .condition_expression("#token = :token AND #status = :in_progress")
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#token", "token")
                .expression_attribute_names("#response", "response")
                .expression_attribute_values(":completed", s("completed"))
                .expression_attribute_values(":in_progress", s("in_progress"))
                .expression_attribute_values(":response", s(&response.body))
                .expression_attribute_values(":lead", s(&new.lead_id))
                .expression_attribute_values(":token", s(&token.token))
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            tx.push(
                TransactWriteItem::builder().update(update).build(),
                Guard::Unique,
            );
        }
        self.commit(&tx, new.claim.as_ref()).await
    }

    async fn get_lead(&self, lead_id: &str) -> StoreResult<Option<StoredLead>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(format!("LEAD#{lead_id}")))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        let Some(main) = items
            .iter()
            .find(|i| get_s(i, "sk").as_deref() == Some("LEAD"))
        else {
            return Ok(None);
        };
        let sk_starts =
            |i: &Item, prefix: &str| get_s(i, "sk").is_some_and(|sk| sk.starts_with(prefix));
        let history = items
            .iter()
            .filter(|i| sk_starts(i, "EVENT#"))
            .map(|i| {
                from_item(i.clone()).map_err(|e| StoreError::Corrupt(format!("decode event: {e}")))
            })
            .collect::<StoreResult<Vec<HistoryEntry>>>()?;
        let mut notifications = items
            .iter()
            .filter(|i| sk_starts(i, "NOTIFY#"))
            .map(notification_of)
            .collect::<StoreResult<Vec<_>>>()?;
        notifications.sort_by_key(|n| n.message.occurred_at);
        let received_at = get_s(main, "received_at").unwrap_or_default();
        Ok(Some(StoredLead {
            lead_id: lead_id.to_string(),
            source: get_s(main, "source").unwrap_or_default(),
            assigned_at: get_s(main, "assigned_at").unwrap_or_else(|| received_at.clone()),
            received_at,
            status: lead_status(main),
            lead: decode(main, "lead")?,
            assignment: decode(main, "assignment")?,
            assignment_number: get_n(main, "assignment_no").unwrap_or(1) as u64,
            escalations: get_n(main, "escalations").unwrap_or(0) as u32,
            sla: match main.get("sla") {
                Some(_) => Some(decode(main, "sla")?),
                None => None,
            },
            sla_due_at: get_s(main, "sla_due_at"),
            due_at: get_n(main, "due_at"),
            owners: main
                .get("owners")
                .and_then(|o| o.as_l().ok())
                .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
                .unwrap_or_default(),
            acknowledged_at: get_s(main, "acknowledged_at"),
            time_to_ack_seconds: get_n(main, "time_to_ack_seconds"),
            owner_ack_seconds: get_n(main, "owner_ack_seconds"),
            history,
            notifications,
        }))
    }

    async fn change_status(
        &self,
        lead_id: &str,
        action: StatusAction,
        at: jiff::Timestamp,
        assignment: Option<u64>,
    ) -> StoreResult<StatusOutcome> {
        let pk = format!("LEAD#{lead_id}");
        retry_conflicts(|| async {
            let Some(item) = self.get(&pk, "LEAD").await? else {
                return Ok(StatusOutcome::NotFound);
            };
            let status = lead_status(&item);
            let number = get_n(&item, "assignment_no").unwrap_or(1) as u64;
            if assignment.is_some_and(|a| a != number) {
                return Ok(StatusOutcome::Superseded);
            }
            let (target, stamp, event) = match action {
                StatusAction::Acknowledge => ("acknowledged", "acknowledged_at", "acknowledged"),
                StatusAction::Close => ("closed", "closed_at", "closed"),
            };
            if status == target {
                return Ok(StatusOutcome::Unchanged(status));
            }
            if action == StatusAction::Acknowledge && status != "open" {
                return Ok(StatusOutcome::NotAllowed(status));
            }
            if status == "closed" {
                return Ok(StatusOutcome::NotAllowed(status));
            }
            let mut expression = format!("SET #status = :target, {stamp} = :at");
            let mut lead = Update::builder()
                .table_name(&self.table)
                .key("pk", s(&pk))
                .key("sk", s("LEAD"))
                .condition_expression(
                    "(#status = :seen OR (attribute_not_exists(#status) AND :seen = :open)) AND (attribute_not_exists(assignment_no) OR assignment_no = :number)",
                )
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":target", s(target))
                .expression_attribute_values(":at", s(at.to_string()))
                .expression_attribute_values(":seen", s(&status))
                .expression_attribute_values(":open", s("open"))
                .expression_attribute_values(":number", n(number));
            if action == StatusAction::Acknowledge {
                let since = |key: &str| {
                    get_s(&item, key)
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .map(|t| at.as_second() - t.as_second())
                };
                if let Some(seconds) = since("received_at") {
                    expression.push_str(", time_to_ack_seconds = :to_ack");
                    lead = lead.expression_attribute_values(":to_ack", n(seconds));
                }
                if let Some(seconds) = since("assigned_at").or(since("received_at")) {
                    expression.push_str(", owner_ack_seconds = :owner_ack");
                    lead = lead.expression_attribute_values(":owner_ack", n(seconds));
                }
            }
            // The SLA clock stops: the lead leaves the sweeper's index.
            expression.push_str(" REMOVE due_pk, due_at");
            let lead = lead
                .update_expression(expression)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let history = HistoryEntry {
                at: at.to_string(),
                event: event.into(),
                reason: match assignment {
                    Some(_) => format!("{event} by the owner's link"),
                    None => format!("{event} by an admin"),
                },
            };
            let suffix = format!("{:08x}", rand::random::<u32>());
            let mut items = vec![
                TransactWriteItem::builder().update(lead).build(),
                put(
                    event_item(&pk, &history, &suffix)?,
                    &self.table,
                    "attribute_not_exists(pk)",
                )?,
            ];
            if status == "open" {
                // It no longer counts towards its owner's open leads.
                let owner = get_s(&item, "owner_id").unwrap_or_default();
                items.push(open_leads_change(&self.table, &owner, -1)?);
            }
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match result {
                Ok(_) => Ok(StatusOutcome::Changed(target.to_string())),
                // Someone else changed the lead meanwhile: read it again.
                Err(err)
                    if cancellation_reasons(&err).is_some_and(|r| {
                        r.iter().any(|r| {
                            reason_is(r, "ConditionalCheckFailed")
                                || reason_is(r, "TransactionConflict")
                        })
                    }) =>
                {
                    Err(StoreError::Conflict("lead changed meanwhile".into()))
                }
                Err(err) => Err(classify(err)),
            }
        })
        .await
    }
}

/// The writes of one transaction with what a failed condition on each would mean.
#[derive(Default)]
struct Transaction {
    items: Vec<TransactWriteItem>,
    guards: Vec<Guard>,
}

impl Transaction {
    fn push(&mut self, item: TransactWriteItem, guard: Guard) {
        self.items.push(item);
        self.guards.push(guard);
    }
}

impl DynamoStore {
    /// The new owner's side of an assignment: their pool ticket, roster entry (membership,
    /// load bound) and cap counters.
    fn claim_items(
        &self,
        tx: &mut Transaction,
        lead_id: &str,
        owner_id: &str,
        claim: Option<&RepClaim>,
        ticket: Option<&(String, u64)>,
        at: &str,
    ) -> StoreResult<()> {
        if let Some((pool, turn)) = ticket {
            let turn_item = HashMap::from([
                ("pk".into(), s(format!("POOL#{pool}"))),
                ("sk".into(), s(format!("TURN#{turn:020}"))),
                ("lead_id".into(), s(lead_id)),
                ("owner_id".into(), s(owner_id)),
                ("at".into(), s(at)),
            ]);
            // A ticket is used by exactly one lead.
            tx.push(
                put(turn_item, &self.table, "attribute_not_exists(pk)")?,
                Guard::Unique,
            );
        }
        if let Some(claim) = claim {
            let ticket = ticket.map(|(_, turn)| *turn);
            tx.push(
                roster_update(&self.table, claim, ticket, at)?,
                Guard::Roster,
            );
            let expires = jiff::Timestamp::now().as_second() + CAP_COUNTER_TTL_SECONDS;
            for cap in &claim.caps {
                tx.push(
                    cap_update(&self.table, &claim.rep, cap, expires)?,
                    Guard::Cap(cap.period),
                );
            }
        }
        Ok(())
    }

    /// Outbox entries: one item per notification, due for the sweeper at `first_sweep_at`.
    fn outbox_items(
        &self,
        tx: &mut Transaction,
        lead_id: &str,
        notifications: &[Outgoing],
    ) -> StoreResult<()> {
        for outgoing in notifications {
            let item = HashMap::from([
                ("pk".into(), s(format!("LEAD#{lead_id}"))),
                (
                    "sk".into(),
                    s(format!("NOTIFY#{}", outgoing.message.event_id)),
                ),
                ("lead_id".into(), s(lead_id)),
                ("channel".into(), encode(&outgoing.channel)?),
                ("message".into(), encode(&outgoing.message)?),
                ("status".into(), s("pending")),
                ("attempts".into(), n(0)),
                ("due_pk".into(), s(due_pk(DueKind::Outbox, lead_id))),
                ("due_at".into(), n(outgoing.first_sweep_at)),
            ]);
            tx.push(
                put(item, &self.table, "attribute_not_exists(pk)")?,
                Guard::Unique,
            );
        }
        Ok(())
    }

    /// A lead's side of its contact: create it, or count the lead, note it on the owning lead
    /// and (if the earlier owner could not take it) hand the contact to this lead.
    fn contact_items(
        &self,
        tx: &mut Transaction,
        contact: &ContactWrite,
        lead_id: &str,
        at: &str,
    ) -> StoreResult<()> {
        match contact {
            ContactWrite::New { key } => {
                let item = HashMap::from([
                    ("pk".into(), s(format!("CONTACT#{key}"))),
                    ("sk".into(), s("CONTACT")),
                    ("key".into(), s(key)),
                    ("lead_id".into(), s(lead_id)),
                    ("last_lead_id".into(), s(lead_id)),
                    ("first_seen_at".into(), s(at)),
                    ("leads".into(), n(1)),
                ]);
                tx.push(
                    put(item, &self.table, "attribute_not_exists(pk)")?,
                    Guard::Contact,
                );
            }
            ContactWrite::Returning {
                key,
                owning_lead,
                take_over,
                note,
            } => {
                let mut expression = "ADD leads :one SET last_lead_id = :lead".to_string();
                if *take_over {
                    expression.push_str(", lead_id = :lead");
                }
                let update = Update::builder()
                    .table_name(&self.table)
                    .key("pk", s(format!("CONTACT#{key}")))
                    .key("sk", s("CONTACT"))
                    .update_expression(expression)
                    .condition_expression("lead_id = :owning")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":lead", s(lead_id))
                    .expression_attribute_values(":owning", s(owning_lead))
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                tx.push(
                    TransactWriteItem::builder().update(update).build(),
                    Guard::Contact,
                );
                tx.push(
                    put(
                        event_item(&format!("LEAD#{owning_lead}"), note, lead_id)?,
                        &self.table,
                        "attribute_not_exists(pk)",
                    )?,
                    Guard::Unique,
                );
            }
        }
        Ok(())
    }

    /// Runs a lead transaction, retrying conflicts, and says which condition refused it.
    async fn commit(&self, tx: &Transaction, claim: Option<&RepClaim>) -> Result<(), RecordError> {
        let (items, guards) = (&tx.items, &tx.guards);
        retry_conflicts(|| async move {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            if let Some(reasons) = cancellation_reasons(&err) {
                let failed = reasons
                    .iter()
                    .zip(guards)
                    .find(|(r, _)| reason_is(r, "ConditionalCheckFailed"));
                match failed {
                    Some((reason, Guard::Roster)) => {
                        let still_member = reason.item().is_none_or(|old| on_roster(old, claim));
                        return Err(RecordError::Refused(if still_member {
                            Refusal::LoadRose
                        } else {
                            Refusal::NotOnRoster
                        }));
                    }
                    Some((_, Guard::Cap(period))) => {
                        return Err(RecordError::Refused(Refusal::AtCap(*period)))
                    }
                    Some((_, Guard::Lead)) => {
                        return Err(RecordError::Refused(Refusal::LeadChanged))
                    }
                    Some((_, Guard::Contact)) => {
                        return Err(RecordError::Refused(Refusal::ContactChanged))
                    }
                    Some((_, Guard::Unique)) => {
                        return Err(StoreError::Invalid(format!(
                            "lead transaction refused: {err:?}"
                        ))
                        .into())
                    }
                    None if reasons.iter().any(|r| reason_is(r, "TransactionConflict")) => {
                        return Err(StoreError::Conflict("transaction conflict".into()).into())
                    }
                    None => {}
                }
            }
            Err(classify(err).into())
        })
        .await
    }
}

/// The owner kind and status a lead has with this owner.
fn owner_status(owner: &Owner) -> (&'static str, &'static str) {
    match owner {
        Owner::Rep { .. } => ("rep", "open"),
        Owner::Queue { .. } => ("queue", "queued"),
    }
}

/// One more or one fewer open lead for a rep.
fn open_leads_change(table: &str, rep: &str, by: i64) -> StoreResult<TransactWriteItem> {
    let update = Update::builder()
        .table_name(table)
        .key("pk", s(format!("REP#{rep}")))
        .key("sk", s("STATE"))
        .update_expression("ADD #open :by")
        .expression_attribute_names("#open", "open")
        .expression_attribute_values(":by", n(by))
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// The due index's partition for an item of a lead: spread over [`DUE_SHARDS`] partitions.
fn due_pk(kind: DueKind, lead_id: &str) -> String {
    let prefix = match kind {
        DueKind::Sla => "SLA",
        DueKind::Outbox => "OUTBOX",
    };
    let shard = lead_id.bytes().map(u32::from).sum::<u32>() % DUE_SHARDS;
    format!("{prefix}#{shard}")
}

fn notification_of(item: &Item) -> StoreResult<StoredNotification> {
    let status = get_s(item, "status").unwrap_or_default();
    Ok(StoredNotification {
        lead_id: get_s(item, "lead_id").unwrap_or_default(),
        channel: decode(item, "channel")?,
        message: decode(item, "message")?,
        attempts: get_n(item, "attempts").unwrap_or(0) as u32,
        last_error: get_s(item, "last_error"),
        delivered_at: get_s(item, "delivered_at"),
        next_attempt_at: (status == "pending")
            .then(|| get_n(item, "due_at"))
            .flatten(),
        status,
    })
}

/// A lead's status; leads stored before statuses existed are open (rep) or queued.
fn lead_status(item: &Item) -> String {
    get_s(item, "status").unwrap_or_else(|| {
        match get_s(item, "owner_kind").as_deref() {
            Some("rep") => "open",
            _ => "queued",
        }
        .to_string()
    })
}

/// A history entry of a lead as an item; `suffix` keeps entries at the same instant apart.
fn event_item(pk: &str, event: &HistoryEntry, suffix: &str) -> StoreResult<Item> {
    let mut item: Item = serde_dynamo::aws_sdk_dynamodb_1::to_item(event)
        .map_err(|e| StoreError::Invalid(format!("encode event: {e}")))?;
    item.insert("pk".into(), s(pk));
    item.insert("sk".into(), s(format!("EVENT#{}#{suffix}", event.at)));
    Ok(item)
}

/// The rep's side of an assignment: one more open lead, allowed only while the rep is active,
/// still in the pool, and (for `least_loaded`) no more loaded than the bound.
fn roster_update(
    table: &str,
    claim: &RepClaim,
    ticket: Option<u64>,
    at: &str,
) -> StoreResult<TransactWriteItem> {
    let mut update = Update::builder()
        .table_name(table)
        .key("pk", s(format!("REP#{}", claim.rep)))
        .key("sk", s("STATE"))
        .update_expression("ADD #open :one SET last_assigned_at = :at")
        .expression_attribute_names("#active", "active")
        .expression_attribute_names("#open", "open")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":at", s(at))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    if let (Some(pool), Some(ticket)) = (&claim.pool, ticket) {
        update = update
            .update_expression("ADD #open :one SET last_assigned_at = :at, #ticket = :ticket")
            .expression_attribute_names("#ticket", ticket_attribute(pool))
            .expression_attribute_values(":ticket", n(ticket));
    }
    let member = match &claim.pool {
        Some(pool) => {
            update = update
                .expression_attribute_names("#pools", "pools")
                .expression_attribute_values(":pool", s(pool));
            "#active = :yes AND contains(#pools, :pool)"
        }
        None => "#active = :yes",
    };
    // A rep without a roster entry was never seen by a publish of this version (an upgrade):
    // the config alone decides. Every publish writes every rep's entry.
    let mut condition = format!("(({member}) OR attribute_not_exists(#active))");
    if let Some(max) = claim.max_open {
        condition.push_str(" AND (attribute_not_exists(#open) OR #open <= :max)");
        update = update.expression_attribute_values(":max", n(max));
    }
    let update = update
        .condition_expression(condition)
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// The rep's attribute holding the ticket of their latest lead from `pool`.
fn ticket_attribute(pool: &str) -> String {
    format!("ticket:{pool}")
}

/// One more pool lead in a rep's day or week, refused at the cap.
fn cap_update(
    table: &str,
    rep: &str,
    cap: &CapCounter,
    expires: i64,
) -> StoreResult<TransactWriteItem> {
    let period = match cap.period {
        Period::Day => "DAY",
        Period::Week => "WEEK",
    };
    let update = Update::builder()
        .table_name(table)
        .key("pk", s(format!("REP#{rep}")))
        .key("sk", s(format!("CAP#{period}#{}", cap.key)))
        .update_expression("ADD #n :one SET expires_at = :expires")
        .condition_expression("attribute_not_exists(#n) OR #n < :limit")
        .expression_attribute_names("#n", "assigned")
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":limit", n(cap.limit))
        .expression_attribute_values(":expires", n(expires))
        .build()
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Whether a rep's state item (as it was when a condition failed) still allows the claim's
/// membership; if so, only the load bound failed.
fn on_roster(item: &Item, claim: Option<&RepClaim>) -> bool {
    if !item.contains_key("active") {
        return true;
    }
    let active = matches!(item.get("active"), Some(AttributeValue::Bool(true)));
    let member = match claim.and_then(|c| c.pool.as_deref()) {
        None => true,
        Some(pool) => item
            .get("pools")
            .and_then(|p| p.as_l().ok())
            .is_some_and(|list| list.iter().any(|p| p.as_s().is_ok_and(|p| p == pool))),
    };
    active && member
}

#[async_trait]
impl RosterStore for DynamoStore {
    async fn write_roster(&self, entries: &[RosterEntry]) -> StoreResult<()> {
        let now = jiff::Timestamp::now().to_string();
        for entry in entries {
            retry_conflicts(|| async {
                let pools = AttributeValue::L(entry.pools.iter().map(s).collect());
                let mut update = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", s(format!("REP#{}", entry.rep)))
                    .key("sk", s("STATE"))
                    .expression_attribute_names("#active", "active")
                    .expression_attribute_names("#pools", "pools")
                    .expression_attribute_values(":active", AttributeValue::Bool(entry.active))
                    .expression_attribute_values(":pools", pools)
                    .expression_attribute_values(":now", s(&now));
                let mut expression =
                    "SET #active = :active, #pools = :pools, roster_at = :now".to_string();
                if let Some((floor, until)) = entry.floor {
                    expression.push_str(", floor_open = :floor, floor_until = :until");
                    update = update
                        .expression_attribute_values(":floor", n(floor))
                        .expression_attribute_values(":until", n(until));
                }
                update
                    .update_expression(expression)
                    .send()
                    .await
                    .map_err(classify)?;
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    async fn rep_loads(
        &self,
        reps: &[String],
        pool: &str,
        now_epoch: i64,
    ) -> StoreResult<Vec<(String, Load)>> {
        let keys = reps
            .iter()
            .map(|rep| (format!("REP#{rep}"), "STATE".to_string()))
            .collect();
        let items = self.batch_get(keys, true).await?;
        Ok(items
            .iter()
            .map(|item| {
                let rep = get_s(item, "pk")
                    .unwrap_or_default()
                    .trim_start_matches("REP#")
                    .to_string();
                let open = get_n(item, "open").unwrap_or(0).max(0) as u64;
                let floor = match (get_n(item, "floor_open"), get_n(item, "floor_until")) {
                    (Some(floor), Some(until)) if until > now_epoch => floor.max(0) as u64,
                    _ => 0,
                };
                let last_ticket = get_n(item, &ticket_attribute(pool)).unwrap_or(0).max(0) as u64;
                let load = Load {
                    open,
                    floor,
                    last_ticket,
                };
                (rep, load)
            })
            .collect())
    }

    async fn restart_cycle(&self, pool: &str, config_version: u64) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("POOL#{pool}")))
            .key("sk", s("ROTATION"))
            .update_expression(
                "SET cycle_start = if_not_exists(turn, :zero), cycle_config = :version",
            )
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":version", n(config_version))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// A due-index cursor as handed to callers: the last evaluated key, as JSON.
#[derive(serde::Serialize, serde::Deserialize)]
struct Cursor {
    pk: String,
    sk: String,
    due_pk: String,
    due_at: i64,
}

#[async_trait]
impl SweepStore for DynamoStore {
    async fn due(
        &self,
        kind: DueKind,
        shard: u32,
        now_epoch: i64,
        cursor: Option<&str>,
        limit: i32,
    ) -> StoreResult<DuePage> {
        let partition = match kind {
            DueKind::Sla => format!("SLA#{shard}"),
            DueKind::Outbox => format!("OUTBOX#{shard}"),
        };
        let start = match cursor {
            None => None,
            Some(text) => {
                let c: Cursor = serde_json::from_str(text)
                    .map_err(|e| StoreError::Invalid(format!("bad cursor: {e}")))?;
                Some(HashMap::from([
                    ("pk".to_string(), s(c.pk)),
                    ("sk".to_string(), s(c.sk)),
                    ("due_pk".to_string(), s(c.due_pk)),
                    ("due_at".to_string(), n(c.due_at)),
                ]))
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("due_pk = :p AND due_at <= :now")
            .expression_attribute_values(":p", s(&partition))
            .expression_attribute_values(":now", n(now_epoch))
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(classify)?;
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| {
                let lead_id = get_s(item, "pk")?.strip_prefix("LEAD#")?.to_string();
                let sk = get_s(item, "sk")?;
                Some(DueItem {
                    lead_id,
                    event_id: sk.strip_prefix("NOTIFY#").map(str::to_string),
                    due_at: get_n(item, "due_at")?,
                })
            })
            .collect();
        let next = match out.last_evaluated_key {
            None => None,
            Some(key) => {
                let cursor = Cursor {
                    pk: get_s(&key, "pk").unwrap_or_default(),
                    sk: get_s(&key, "sk").unwrap_or_default(),
                    due_pk: get_s(&key, "due_pk").unwrap_or_default(),
                    due_at: get_n(&key, "due_at").unwrap_or_default(),
                };
                Some(serde_json::to_string(&cursor).expect("a cursor serialises"))
            }
        };
        Ok(DuePage { items, next })
    }

    async fn lease_due(&self, item: &DueItem, seen_due_at: i64, until: i64) -> StoreResult<bool> {
        let sk = match &item.event_id {
            Some(event) => format!("NOTIFY#{event}"),
            None => "LEAD".to_string(),
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("LEAD#{}", item.lead_id)))
            .key("sk", s(sk))
            .update_expression("SET due_at = :until")
            .condition_expression("due_at = :seen")
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":seen", n(seen_due_at))
            .send()
            .await;
        match result.map_err(classify) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn notification(
        &self,
        lead_id: &str,
        event_id: &str,
    ) -> StoreResult<Option<StoredNotification>> {
        let item = self
            .get(&format!("LEAD#{lead_id}"), &format!("NOTIFY#{event_id}"))
            .await?;
        item.as_ref().map(notification_of).transpose()
    }

    async fn record_delivery(
        &self,
        lead_id: &str,
        event_id: &str,
        attempts: u32,
        result: &Delivery,
    ) -> StoreResult<()> {
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(format!("LEAD#{lead_id}")))
            .key("sk", s(format!("NOTIFY#{event_id}")))
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":attempts", n(attempts));
        let (update, dead) = match result {
            Delivery::Delivered { at } => (
                update
                    .update_expression(
                        "SET #status = :delivered, attempts = :attempts, delivered_at = :at REMOVE due_pk, due_at",
                    )
                    .expression_attribute_values(":delivered", s("delivered"))
                    .expression_attribute_values(":at", s(at)),
                false,
            ),
            Delivery::Failed {
                error,
                retry_at: Some(retry_at),
            } => (
                update
                    .update_expression(
                        "SET attempts = :attempts, last_error = :error, due_at = :retry",
                    )
                    .expression_attribute_values(":error", s(error))
                    .expression_attribute_values(":retry", n(retry_at)),
                false,
            ),
            // Dead: out of the sweeper's way, kept on the lead and counted.
            Delivery::Failed {
                error,
                retry_at: None,
            } => (
                update
                    .update_expression(
                        "SET #status = :dead, attempts = :attempts, last_error = :error REMOVE due_pk, due_at",
                    )
                    .expression_attribute_values(":dead", s("dead"))
                    .expression_attribute_values(":error", s(error)),
                true,
            ),
        };
        let update = update
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        if dead {
            let count = Update::builder()
                .table_name(&self.table)
                .key("pk", s("STATS"))
                .key("sk", s("NOTIFICATIONS"))
                .update_expression("ADD dead :one")
                .expression_attribute_values(":one", n(1))
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            items.push(TransactWriteItem::builder().update(count).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already recorded by another attempt: nothing to do.
            Err(err)
                if cancellation_reasons(&err)
                    .is_some_and(|r| r.iter().any(|r| reason_is(r, "ConditionalCheckFailed"))) =>
            {
                Ok(())
            }
            Err(err) => Err(classify(err)),
        }
    }

    async fn reassign(&self, change: &Reassignment) -> Result<(), RecordError> {
        let a = &change.assignment;
        let (owner_kind, status) = owner_status(&a.owner);
        let owner_id = a.owner.id();
        let pk = format!("LEAD#{}", change.lead_id);
        let mut set = vec![
            "#status = :status",
            "owner_kind = :kind",
            "owner_id = :owner",
            "assignment = :assignment",
            "assignment_no = :next",
            "assigned_at = :at",
            "escalations = :escalations",
        ];
        let mut remove = Vec::new();
        let mut lead = Update::builder()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s("LEAD"))
            .condition_expression("#status = :open AND assignment_no = :seen")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status))
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":seen", n(change.seen_assignment))
            .expression_attribute_values(":next", n(change.seen_assignment + 1))
            .expression_attribute_values(":kind", s(owner_kind))
            .expression_attribute_values(":owner", s(owner_id))
            .expression_attribute_values(":assignment", encode(a)?)
            .expression_attribute_values(":at", s(&change.at))
            .expression_attribute_values(":escalations", n(change.escalations));
        if let Owner::Rep { id, .. } = &a.owner {
            set.push("owners = list_append(if_not_exists(owners, :none), :new_owner)");
            lead = lead
                .expression_attribute_values(":none", AttributeValue::L(vec![]))
                .expression_attribute_values(":new_owner", AttributeValue::L(vec![s(id)]));
        }
        match &change.deadline {
            Some(deadline) => {
                set.extend([
                    "sla = :sla",
                    "sla_due_at = :due_text",
                    "due_pk = :due_pk",
                    "due_at = :due",
                ]);
                lead = lead
                    .expression_attribute_values(":sla", encode(&deadline.policy)?)
                    .expression_attribute_values(":due_text", s(deadline.due.to_string()))
                    .expression_attribute_values(
                        ":due_pk",
                        s(due_pk(DueKind::Sla, &change.lead_id)),
                    )
                    .expression_attribute_values(":due", n(deadline.due.as_second()));
            }
            None => remove.extend(["sla_due_at", "due_pk", "due_at"]),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let lead = lead
            .update_expression(expression)
            .build()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let event = HistoryEntry {
            at: change.at.clone(),
            event: if owner_kind == "rep" {
                "reassigned"
            } else {
                "queued"
            }
            .into(),
            reason: a.reason.clone(),
        };
        let mut tx = Transaction::default();
        tx.push(
            TransactWriteItem::builder().update(lead).build(),
            Guard::Lead,
        );
        tx.push(
            put(
                event_item(&pk, &event, &format!("{:04}", change.seen_assignment + 1))?,
                &self.table,
                "attribute_not_exists(pk)",
            )?,
            Guard::Unique,
        );
        if let Some(previous) = &change.previous_rep {
            tx.push(open_leads_change(&self.table, previous, -1)?, Guard::Unique);
        }
        self.claim_items(
            &mut tx,
            &change.lead_id,
            owner_id,
            change.claim.as_ref(),
            change.ticket.as_ref(),
            &change.at,
        )?;
        self.outbox_items(&mut tx, &change.lead_id, &change.notifications)?;
        self.commit(&tx, change.claim.as_ref()).await
    }

    async fn dead_notifications(&self) -> StoreResult<u64> {
        let item = self.get("STATS", "NOTIFICATIONS").await?;
        Ok(item.and_then(|i| get_n(&i, "dead")).unwrap_or(0).max(0) as u64)
    }
}

fn account_item(account: &Account) -> StoreResult<Item> {
    Ok(HashMap::from([
        ("pk".into(), s(format!("ACCOUNT#{}", account.id))),
        ("sk".into(), s("ACCOUNT")),
        ("account".into(), encode(account)?),
    ]))
}

fn domain_item(domain: &str, account: &Account) -> StoreResult<Item> {
    Ok(HashMap::from([
        ("pk".into(), s(format!("DOMAIN#{domain}"))),
        ("sk".into(), s("DOMAIN")),
        ("account_id".into(), s(&account.id)),
        ("account".into(), encode(account)?),
    ]))
}

impl DynamoStore {
    /// Reads many items by key, 100 per request, following unprocessed keys.
    async fn batch_get(
        &self,
        keys: Vec<(String, String)>,
        consistent: bool,
    ) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let keys = chunk
                .iter()
                .map(|(pk, sk)| {
                    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
                })
                .collect::<Vec<_>>();
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(consistent)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            loop {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(classify)?;
                found.extend(
                    out.responses
                        .unwrap_or_default()
                        .remove(&self.table)
                        .unwrap_or_default(),
                );
                match out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                    Some(rest) if !rest.keys.is_empty() => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        request = rest;
                    }
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    /// Writes items, 25 per request, several requests at once, retrying unprocessed ones.
    async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
        use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
        use futures::stream::{self, StreamExt, TryStreamExt};
        let requests = items
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build())
                    .map_err(|e| StoreError::Invalid(e.to_string()))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let chunks: Vec<Vec<WriteRequest>> = requests.chunks(25).map(<[_]>::to_vec).collect();
        stream::iter(chunks)
            .map(|mut chunk| async move {
                let mut pause = Duration::from_millis(25);
                loop {
                    let out = self
                        .client
                        .batch_write_item()
                        .request_items(&self.table, chunk)
                        .send()
                        .await
                        .map_err(classify)?;
                    match out
                        .unprocessed_items
                        .and_then(|mut u| u.remove(&self.table))
                    {
                        Some(rest) if !rest.is_empty() => {
                            chunk = rest;
                            tokio::time::sleep(pause).await;
                            pause = (pause * 2).min(Duration::from_secs(1));
                        }
                        _ => return Ok::<(), StoreError>(()),
                    }
                }
            })
            .buffer_unordered(8)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }
}

#[async_trait]
impl AccountStore for DynamoStore {
    async fn put_accounts(&self, accounts: &[Account]) -> StoreResult<AccountLoad> {
        let keys = accounts
            .iter()
            .map(|a| (format!("ACCOUNT#{}", a.id), "ACCOUNT".to_string()))
            .collect();
        let stored: HashMap<String, Account> = self
            .batch_get(keys, true)
            .await?
            .iter()
            .filter_map(|item| decode::<Account>(item, "account").ok())
            .map(|a| (a.id.clone(), a))
            .collect();
        let mut report = AccountLoad {
            accounts: accounts.len(),
            ..AccountLoad::default()
        };
        let mut writes = Vec::new();
        for account in accounts {
            let before = stored.get(&account.id);
            if before == Some(account) {
                report.unchanged += 1;
                continue;
            }
            // Domains the account no longer lists stop matching it (unless another took them).
            for old in before.map(|b| b.domains.as_slice()).unwrap_or_default() {
                if account.domains.contains(old) {
                    continue;
                }
                let removed = self
                    .client
                    .delete_item()
                    .table_name(&self.table)
                    .key("pk", s(format!("DOMAIN#{old}")))
                    .key("sk", s("DOMAIN"))
                    .condition_expression("account_id = :id")
                    .expression_attribute_values(":id", s(&account.id))
                    .send()
                    .await
                    .map_err(classify);
                match removed {
                    Ok(_) => report.domains_removed += 1,
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            writes.push(account_item(account)?);
            for domain in &account.domains {
                writes.push(domain_item(domain, account)?);
            }
            report.written += 1;
        }
        self.batch_put(writes).await?;
        Ok(report)
    }

    async fn accounts_by_domain(
        &self,
        domains: &[String],
    ) -> StoreResult<HashMap<String, Account>> {
        let keys = domains
            .iter()
            .map(|d| (format!("DOMAIN#{d}"), "DOMAIN".to_string()))
            .collect();
        let mut found = HashMap::new();
        for item in self.batch_get(keys, false).await? {
            let domain = get_s(&item, "pk")
                .unwrap_or_default()
                .trim_start_matches("DOMAIN#")
                .to_string();
            found.insert(domain, decode(&item, "account")?);
        }
        Ok(found)
    }

    async fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        let item = self.get(&format!("ACCOUNT#{id}"), "ACCOUNT").await?;
        item.map(|i| decode(&i, "account")).transpose()
    }

    async fn contact(&self, key: &str) -> StoreResult<Option<Contact>> {
        let item = self.get(&format!("CONTACT#{key}"), "CONTACT").await?;
        Ok(item.map(|i| Contact {
            key: key.to_string(),
            lead_id: get_s(&i, "lead_id").unwrap_or_default(),
            first_seen_at: get_s(&i, "first_seen_at").unwrap_or_default(),
            leads: get_n(&i, "leads").unwrap_or(0).max(0) as u64,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn conflicts_are_retried_a_bounded_number_of_times_and_counted() {
        let calls = AtomicU32::new(0);
        let before = crate::metrics::snapshot().conflict_retries;
        let result: StoreResult<u32> = retry_conflicts(|| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(StoreError::Conflict("busy".into())),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(result.unwrap(), 2, "third attempt wins");
        assert!(crate::metrics::snapshot().conflict_retries >= before + 2);

        calls.store(0, Ordering::SeqCst);
        let result: Result<(), RecordError> = retry_conflicts(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(RecordError::Store(StoreError::Conflict("always".into())))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), MAX_CONFLICT_ATTEMPTS);

        // A refusal is an answer, not a conflict: never retried.
        calls.store(0, Ordering::SeqCst);
        let result: Result<(), RecordError> = retry_conflicts(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(RecordError::Refused(Refusal::NotOnRoster))
        })
        .await;
        assert!(matches!(result, Err(RecordError::Refused(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}

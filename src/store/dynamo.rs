//! The DynamoDB implementation of the store traits (single-table design; the key layout and
//! access patterns are written next to the table in template.yaml). Every write that can race
//! states what it expects; writes that belong together go in one TransactWriteItems.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use serde_dynamo::aws_sdk_dynamodb_1::{from_attribute_value, from_item, to_attribute_value};

use super::*;

type Item = HashMap<String, AttributeValue>;

/// How long an idempotency record is kept (DynamoDB's TTL deletes it afterwards).
pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 60 * 60;
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
    to_attribute_value(value).map_err(|e| StoreError::Other(format!("encode: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(item: &Item, key: &str) -> StoreResult<T> {
    let value = item
        .get(key)
        .cloned()
        .ok_or_else(|| StoreError::Other(format!("item has no {key}")))?;
    from_attribute_value(value).map_err(|e| StoreError::Other(format!("decode {key}: {e}")))
}

/// Maps an SDK error to what the caller can do about it.
fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{err}"))
        }
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            let message = format!("{code}: {}", service.err().message().unwrap_or_default());
            match code {
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable" => StoreError::Unavailable(message),
                "TransactionConflictException" | "ConditionalCheckFailedException" => {
                    StoreError::Conflict(message)
                }
                "TransactionCanceledException" if message.contains("TransactionConflict") => {
                    StoreError::Conflict(message)
                }
                _ => StoreError::Other(message),
            }
        }
        _ => StoreError::Other(format!("{err:?}")),
    }
}

/// Runs `op` again after a conflict, with full-jitter exponential backoff, a bounded number of
/// times. Any other error, or the last conflict, is returned.
pub async fn retry_conflicts<T, F, Fut>(mut op: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Err(StoreError::Conflict(_)) if attempt + 1 < MAX_CONFLICT_ATTEMPTS => {
                let cap_ms = (10u64 << attempt).min(400);
                let wait = rand::random_range(0..=cap_ms);
                tokio::time::sleep(Duration::from_millis(wait)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn put(item: Item, table: &str, condition: &str) -> StoreResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .map_err(|e| StoreError::Other(e.to_string()))?;
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

    async fn publish_config(&self, document: &str, now: &str) -> StoreResult<u64> {
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
                .map_err(|e| StoreError::Other(e.to_string()))?;
            self.client
                .transact_write_items()
                .transact_items(put(version_item, &self.table, "attribute_not_exists(pk)")?)
                .transact_items(TransactWriteItem::builder().put(pointer).build())
                .send()
                .await
                .map_err(|e| match classify(e) {
                    // Another publisher took this version number: read again and retry.
                    StoreError::Other(m) if m.contains("ConditionalCheckFailed") => {
                        StoreError::Conflict(m)
                    }
                    other => other,
                })?;
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
            .map_err(|e| StoreError::Other(format!("decode key: {e}")))
    }

    async fn put_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let mut item: Item = serde_dynamo::aws_sdk_dynamodb_1::to_item(key)
            .map_err(|e| StoreError::Other(format!("encode key: {e}")))?;
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
            .item("expires_at", n(now_epoch + IDEMPOTENCY_TTL_SECONDS))
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

    async fn claim_next_turn(&self, pool: &str) -> StoreResult<u64> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("POOL#{pool}")))
            .key("sk", s("ROTATION"))
            .update_expression("ADD turn :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(classify)?;
        out.attributes
            .as_ref()
            .and_then(|a| get_n(a, "turn"))
            .map(|t| t as u64)
            .ok_or_else(|| StoreError::Other("rotation counter returned no turn".into()))
    }

    async fn record_assignment(&self, new: &NewLead) -> StoreResult<()> {
        let a = &new.assignment;
        let (owner_kind, owner_id) = match &a.owner {
            crate::domain::routing::Owner::Rep { id, .. } => ("rep", id),
            crate::domain::routing::Owner::Queue { id, .. } => ("queue", id),
        };
        let pk = format!("LEAD#{}", new.lead_id);
        let lead_item = HashMap::from([
            ("pk".into(), s(&pk)),
            ("sk".into(), s("LEAD")),
            ("lead_id".into(), s(&new.lead_id)),
            ("source".into(), s(&new.source)),
            ("received_at".into(), s(&new.received_at)),
            ("owner_kind".into(), s(owner_kind)),
            ("owner_id".into(), s(owner_id)),
            ("lead".into(), encode(&new.lead)?),
            ("assignment".into(), encode(a)?),
        ]);
        let event = HistoryEntry {
            at: new.received_at.clone(),
            event: if owner_kind == "rep" {
                "assigned"
            } else {
                "queued"
            }
            .into(),
            reason: a.reason.clone(),
        };
        let mut event_item: Item = serde_dynamo::aws_sdk_dynamodb_1::to_item(&event)
            .map_err(|e| StoreError::Other(format!("encode event: {e}")))?;
        event_item.insert("pk".into(), s(&pk));
        event_item.insert("sk".into(), s(format!("EVENT#{}#0001", new.received_at)));
        let mut items = vec![
            put(lead_item, &self.table, "attribute_not_exists(pk)")?,
            put(event_item, &self.table, "attribute_not_exists(pk)")?,
        ];
        if let Some(turn) = &a.turn {
            let turn_item = HashMap::from([
                ("pk".into(), s(format!("POOL#{}", turn.pool))),
                ("sk".into(), s(format!("TURN#{:020}", turn.turn))),
                ("lead_id".into(), s(&new.lead_id)),
                ("rep_id".into(), s(owner_id)),
                ("at".into(), s(&new.received_at)),
            ]);
            // A turn is used by exactly one lead.
            items.push(put(turn_item, &self.table, "attribute_not_exists(pk)")?);
        }
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
                .map_err(|e| StoreError::Other(e.to_string()))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let items = &items;
        retry_conflicts(|| async move {
            self.client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await
                .map_err(classify)?;
            Ok(())
        })
        .await
    }

    async fn get_lead(&self, lead_id: &str) -> StoreResult<Option<StoredLead>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("LEAD#{lead_id}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let items = out.items.unwrap_or_default();
        let Some(main) = items
            .iter()
            .find(|i| get_s(i, "sk").as_deref() == Some("LEAD"))
        else {
            return Ok(None);
        };
        let history = items
            .iter()
            .filter(|i| get_s(i, "sk").is_some_and(|sk| sk.starts_with("EVENT#")))
            .map(|i| {
                from_item(i.clone()).map_err(|e| StoreError::Other(format!("decode event: {e}")))
            })
            .collect::<StoreResult<Vec<HistoryEntry>>>()?;
        Ok(Some(StoredLead {
            lead_id: lead_id.to_string(),
            source: get_s(main, "source").unwrap_or_default(),
            received_at: get_s(main, "received_at").unwrap_or_default(),
            lead: decode(main, "lead")?,
            assignment: decode(main, "assignment")?,
            history,
        }))
    }
}

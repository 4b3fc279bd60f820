//! The table and how it is reached: the client (built once per process; a local endpoint
//! with a fixed key pair for DynamoDB Local), the store on one table, and the few calls every
//! trait implementation shares (a consistent read, an update sent alone, a transaction).

use std::time::Duration;

use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;

use crate::store::{StoreError, StoreResult};

use super::attr::{invalid, Item};
use super::classify::{classify, condition};
use super::items;
use super::keys::Key;
use super::tx::{updating, Transaction};

/// How long an idempotency record is kept (DynamoDB's TTL deletes it afterwards).
pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 60 * 60;

/// The store on one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    pub(super) client: Client,
    pub(super) table: String,
    /// What this process knows of its reps' entries of unchecked tickets.
    pub(super) turn_entries: std::sync::Arc<super::turns::TurnEntries>,
}

/// Builds a DynamoDB client: the process's AWS settings (see [`crate::aws`]), or a local
/// endpoint with a fixed dummy key pair (DynamoDB Local keeps one database per key and region).
pub async fn client(endpoint: Option<&str>) -> Client {
    use aws_config::{retry::RetryConfig, timeout::TimeoutConfig};
    let shared = match endpoint {
        Some(url) => crate::aws::local(url),
        None => crate::aws::config().await,
    };
    let config = aws_sdk_dynamodb::config::Builder::from(&shared)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(8))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

impl DynamoStore {
    /// A store on `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            turn_entries: Default::default(),
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

    /// The item at `key`, read consistently.
    pub(super) async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.item()))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.item)
    }

    /// The item at `key` as what it should be, read consistently.
    pub(super) async fn read<T: DeserializeOwned>(&self, key: &Key) -> StoreResult<Option<T>> {
        self.get(key).await?.map(items::decode).transpose()
    }

    /// The lead at `key`, read consistently (`None` if there is none, or only a fence).
    pub(super) async fn read_lead(&self, key: &Key) -> StoreResult<Option<items::LeadItem>> {
        self.get(key)
            .await?
            .map(items::lead)
            .transpose()
            .map(Option::flatten)
    }

    /// An update of the item at `key`, to finish and send alone ([`Self::send_update`]) or in
    /// a transaction.
    pub(super) fn updating(&self, key: &Key) -> UpdateBuilder {
        updating(&self.table, key)
    }

    /// Sends an update alone; the item's attributes as `returning` asks. A failed condition
    /// is a [`StoreError::Conflict`].
    pub(super) async fn send_update(
        &self,
        update: UpdateBuilder,
        returning: ReturnValue,
    ) -> StoreResult<Item> {
        self.conditional_update(update, returning)
            .await?
            .map_err(|_| StoreError::Conflict("the update's condition did not hold".into()))
    }

    /// Sends a conditional update alone: `Ok` with the attributes `returning` asks for, or
    /// `Err` with the item as it was when the condition did not hold.
    pub(super) async fn conditional_update(
        &self,
        update: UpdateBuilder,
        returning: ReturnValue,
    ) -> StoreResult<Result<Item, Item>> {
        let update = update.build().map_err(invalid)?;
        let sent = self
            .client
            .update_item()
            .table_name(update.table_name)
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values)
            .return_values(returning)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        Ok(condition(sent)?
            .map(|out| out.attributes.unwrap_or_default())
            .map_err(Option::unwrap_or_default))
    }

    /// Every item a Query finds, following its pages.
    pub(super) async fn query_all(&self, query: QueryFluentBuilder) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = query
                .clone()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// A transaction on this store's table.
    pub(super) fn transaction(&self) -> Transaction {
        Transaction::new(&self.table)
    }

    /// A DeleteItem of the item at `key`, to finish and send.
    pub(super) fn delete(&self, key: &Key) -> DeleteItemFluentBuilder {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.item()))
    }
}

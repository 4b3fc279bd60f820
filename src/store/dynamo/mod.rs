//! The DynamoDB implementation of the store traits, on one table. Every key, and the access
//! pattern it serves, is in [`keys`]; SDK errors become [`StoreError`]s in `classify`; writes
//! that belong together go in one transaction (`tx`), and every write that can race states
//! what it expects. One file per trait: `config`, `api_keys`, `leads`, `sweep`, `roster`,
//! `accounts`. Nothing here decides routing.

mod accounts;
mod api_keys;
mod assign;
mod batch;
pub(crate) mod classify;
mod config;
mod items;
pub mod keys;
mod leads;
mod roster;
mod sweep;
pub mod tables;
mod tx;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Update};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;

pub use keys::DUE_SHARDS;
pub use tx::{retry_conflicts, Retryable};

use crate::store::{StoreError, StoreResult};
use classify::classify;
use keys::Key;
use tx::Transaction;

/// One item as DynamoDB has it.
type Item = HashMap<String, AttributeValue>;

/// How long an idempotency record is kept (DynamoDB's TTL deletes it afterwards).
pub const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 60 * 60;

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

    /// The item at `key`, read consistently.
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
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
    async fn read<T: DeserializeOwned>(&self, key: &Key) -> StoreResult<Option<T>> {
        self.get(key).await?.map(items::decode).transpose()
    }

    /// An update of the item at `key`, to finish and send alone ([`Self::send_update`]) or in
    /// a transaction.
    fn updating(&self, key: &Key) -> UpdateBuilder {
        updating(&self.table, key)
    }

    /// Sends an update alone; the item's attributes as `returning` asks.
    async fn send_update(
        &self,
        update: UpdateBuilder,
        returning: ReturnValue,
    ) -> StoreResult<Item> {
        let update = update.build().map_err(invalid)?;
        let out = self
            .client
            .update_item()
            .table_name(update.table_name)
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values)
            .return_values(returning)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.attributes.unwrap_or_default())
    }

    /// A transaction on this store's table.
    fn transaction(&self) -> Transaction {
        Transaction::new(&self.table)
    }

    /// A DeleteItem of the item at `key`, to finish and send.
    fn delete(&self, key: &Key) -> DeleteItemFluentBuilder {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key.item()))
    }
}

/// An update of the item at `key` on `table`.
fn updating(table: &str, key: &Key) -> UpdateBuilder {
    Update::builder()
        .table_name(table)
        .set_key(Some(key.item()))
}

/// Whether a conditional write was applied: `false` when its condition did not hold (or it
/// lost a race to a transaction on the same item).
fn applied<T>(result: StoreResult<T>) -> StoreResult<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A request that could not be built: a bug.
fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(e.to_string())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

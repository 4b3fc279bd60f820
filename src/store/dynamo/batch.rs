//! Batch reads and writes: many items by key, 100 per BatchGetItem and 25 per BatchWriteItem,
//! following what DynamoDB left unprocessed.

use std::time::Duration;

use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::keys::Key;
use super::{classify, DynamoStore, Item};
use crate::store::{StoreError, StoreResult};

impl DynamoStore {
    /// Reads many items by key, 100 per request, following unprocessed keys.
    pub(super) async fn batch_get(
        &self,
        keys: Vec<Key>,
        consistent: bool,
    ) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(Key::item).collect()))
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
    pub(super) async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
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

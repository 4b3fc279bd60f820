//! Batch reads and writes: many items by key, 100 per BatchGetItem and 25 per BatchWriteItem
//! (several at once), sending again what DynamoDB left unprocessed, with backoff.

use std::future::Future;
use std::time::Duration;

use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::attr::{invalid, Item};
use super::classify::classify;
use super::client::DynamoStore;
use super::keys::Key;
use crate::store::StoreResult;

impl DynamoStore {
    /// Reads many items by key.
    pub(super) async fn batch_get(
        &self,
        keys: Vec<Key>,
        consistent: bool,
    ) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(Key::item).collect()))
                .consistent_read(consistent)
                .build()
                .map_err(invalid)?;
            let items = until_processed(request, |keys| async {
                let get = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, keys);
                let mut out = get.send().await.map_err(classify)?;
                let items = out.responses.as_mut().and_then(|r| r.remove(&self.table));
                let rest = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
                Ok((
                    items.unwrap_or_default(),
                    rest.filter(|r| !r.keys.is_empty()),
                ))
            })
            .await?;
            found.extend(items);
        }
        Ok(found)
    }

    /// Writes items, several requests at once.
    pub(super) async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
        let requests = items
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder().set_item(Some(item)).build();
                Ok(WriteRequest::builder()
                    .put_request(put.map_err(invalid)?)
                    .build())
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let chunks: Vec<Vec<WriteRequest>> = requests.chunks(25).map(<[_]>::to_vec).collect();
        stream::iter(chunks)
            .map(|chunk| {
                until_processed(chunk, |writes| async {
                    let put = self
                        .client
                        .batch_write_item()
                        .request_items(&self.table, writes);
                    let out = put.send().await.map_err(classify)?;
                    let rest = out
                        .unprocessed_items
                        .and_then(|mut u| u.remove(&self.table));
                    Ok((Vec::new(), rest.filter(|r| !r.is_empty())))
                })
            })
            .buffer_unordered(8)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }
}

/// Sends `request`, then what each answer left unprocessed, with exponential backoff, until
/// nothing is left; the items the answers carried.
async fn until_processed<R, F, Fut>(mut request: R, mut send: F) -> StoreResult<Vec<Item>>
where
    F: FnMut(R) -> Fut,
    Fut: Future<Output = StoreResult<(Vec<Item>, Option<R>)>>,
{
    let mut found = Vec::new();
    let mut pause = Duration::from_millis(25);
    loop {
        let (items, rest) = send(request).await?;
        found.extend(items);
        match rest {
            Some(rest) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
                request = rest;
            }
            None => return Ok(found),
        }
    }
}

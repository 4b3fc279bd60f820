//! Long jobs kept between requests ([`JobStore`]): a replay's state, advanced by one request
//! at a time (each save is conditional on the step it read).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use serde::Deserialize;

use super::attr::{applied, n, s};
use super::classify::classify;
use super::client::DynamoStore;
use super::keys::Key;
use crate::store::{JobStore, StoreResult};

#[derive(Debug, Deserialize)]
struct JobItem {
    step: u64,
    state: String,
}

#[async_trait]
impl JobStore for DynamoStore {
    async fn create_job(&self, id: &str, state: &str, expires_at: i64) -> StoreResult<()> {
        let mut item = Key::job(id).item();
        item.insert("step".into(), n(0));
        item.insert("state".into(), s(state));
        item.insert("expires_at".into(), n(expires_at));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn job(&self, id: &str) -> StoreResult<Option<(u64, String)>> {
        let item: Option<JobItem> = self.read(&Key::job(id)).await?;
        Ok(item.map(|j| (j.step, j.state)))
    }

    async fn save_job(&self, id: &str, seen: u64, state: &str) -> StoreResult<bool> {
        let save = self
            .updating(&Key::job(id))
            .update_expression("SET #state = :state, step = :next")
            .condition_expression("step = :seen")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":state", s(state))
            .expression_attribute_values(":next", n(seen + 1))
            .expression_attribute_values(":seen", n(seen));
        applied(self.send_update(save, ReturnValue::None).await)
    }
}

//! Creates the DynamoDB tables from their definitions in template.yaml, so local runs and tests
//! use exactly the keys, indexes and TTL that deploy to AWS (one source of truth).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use serde_yaml::Value;

use super::classify::classify;
use crate::store::{StoreError, StoreResult};

/// The SAM template, compiled in so the tool needs no file at run time.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");

/// A table definition read from the template.
#[derive(Debug, Clone)]
pub struct TableDefinition {
    /// The template's logical id (e.g. `LeadsTable`).
    pub logical_id: String,
    attributes: Vec<AttributeDefinition>,
    keys: Vec<KeySchemaElement>,
    indexes: Vec<GlobalSecondaryIndex>,
    ttl_attribute: Option<String>,
}

impl TableDefinition {
    /// The table's global secondary indexes (keys and projections), as the template has them.
    pub fn indexes(&self) -> &[GlobalSecondaryIndex] {
        &self.indexes
    }
}

/// Reads every `AWS::DynamoDB::Table` resource of a template.
pub fn definitions(template: &str) -> Result<Vec<TableDefinition>, String> {
    let doc: Value = serde_yaml::from_str(template).map_err(|e| format!("template: {e}"))?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or("template has no Resources")?;
    let mut tables = Vec::new();
    for (id, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::DynamoDB::Table") {
            continue;
        }
        let logical_id = id.as_str().unwrap_or_default().to_string();
        let props = resource
            .get("Properties")
            .ok_or_else(|| format!("{logical_id}: no Properties"))?;
        let attributes = list(props, "AttributeDefinitions")
            .iter()
            .map(|a| {
                AttributeDefinition::builder()
                    .attribute_name(str_of(a, "AttributeName"))
                    .attribute_type(ScalarAttributeType::from(
                        str_of(a, "AttributeType").as_str(),
                    ))
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, _>>()?;
        let keys = key_schema(props)?;
        let indexes = list(props, "GlobalSecondaryIndexes")
            .iter()
            .map(|gsi| {
                let projection = gsi.get("Projection");
                GlobalSecondaryIndex::builder()
                    .index_name(str_of(gsi, "IndexName"))
                    .set_key_schema(Some(key_schema(gsi)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(
                                projection
                                    .map(|p| str_of(p, "ProjectionType"))
                                    .unwrap_or_else(|| "ALL".into())
                                    .as_str(),
                            ))
                            .set_non_key_attributes(projection.and_then(|p| {
                                let names: Vec<String> = list(p, "NonKeyAttributes")
                                    .iter()
                                    .filter_map(|n| n.as_str().map(str::to_string))
                                    .collect();
                                (!names.is_empty()).then_some(names)
                            }))
                            .build(),
                    )
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<_, String>>()?;
        let ttl_attribute = props
            .get("TimeToLiveSpecification")
            .filter(|t| t.get("Enabled").and_then(Value::as_bool) == Some(true))
            .map(|t| str_of(t, "AttributeName"));
        tables.push(TableDefinition {
            logical_id,
            attributes,
            keys,
            indexes,
            ttl_attribute,
        });
    }
    Ok(tables)
}

fn list<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value
        .get(key)
        .and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn str_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn key_schema(value: &Value) -> Result<Vec<KeySchemaElement>, String> {
    list(value, "KeySchema")
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(str_of(k, "AttributeName"))
                .key_type(KeyType::from(str_of(k, "KeyType").as_str()))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Creates `table_name` from the template's definition `logical_id` unless it exists; waits
/// until it is active and turns on its TTL.
pub async fn ensure_table(
    client: &Client,
    definition: &TableDefinition,
    table_name: &str,
) -> StoreResult<bool> {
    match client.describe_table().table_name(table_name).send().await {
        Ok(_) => return Ok(false),
        Err(e) => match classify(e) {
            StoreError::NotFound(_) => {}
            other => return Err(other),
        },
    }
    client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definition.attributes.clone()))
        .set_key_schema(Some(definition.keys.clone()))
        .set_global_secondary_indexes(
            (!definition.indexes.is_empty()).then(|| definition.indexes.clone()),
        )
        .send()
        .await
        .map_err(classify)?;
    if let Some(attribute) = &definition.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(table_name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            )
            .send()
            .await
            .map_err(classify)?;
    }
    Ok(true)
}

/// The template's leads table definition.
pub fn leads_table() -> TableDefinition {
    definitions(TEMPLATE)
        .expect("template.yaml is valid")
        .into_iter()
        .find(|t| t.logical_id == "LeadsTable")
        .expect("template.yaml declares LeadsTable")
}

#[cfg(test)]
mod tests {
    #[test]
    fn template_declares_the_leads_table() {
        let table = super::leads_table();
        assert_eq!(table.keys.len(), 2);
        assert_eq!(table.ttl_attribute.as_deref(), Some("expires_at"));
    }
}

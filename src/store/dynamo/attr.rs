//! Attribute values and items as the SDK has them, and the small helpers every part of the
//! store uses to build them or to read a conditional write's result.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::store::{StoreError, StoreResult};

/// One item as DynamoDB has it.
pub(super) type Item = HashMap<String, AttributeValue>;

/// Whether a conditional write was applied: `false` when its condition did not hold (or it
/// lost a race to a transaction on the same item).
pub(super) fn applied<T>(result: StoreResult<T>) -> StoreResult<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A request that could not be built: a bug.
pub(super) fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(e.to_string())
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

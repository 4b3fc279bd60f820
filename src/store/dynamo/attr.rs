//! Attribute values and items as the SDK has them, and the small helpers every part of the
//! store uses to build them or to read a conditional write's result.

use std::collections::HashMap;
use std::io::{Read, Write};

use aws_sdk_dynamodb::types::AttributeValue;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;

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

/// An item's size as DynamoDB counts it (what its write and read units are charged on): the
/// attributes' names and values.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, v)| name.len() + value_size(v))
        .sum()
}

/// One attribute value's size as DynamoDB counts it: a string's UTF-8 bytes, a number's
/// significant digits in pairs plus one, a binary's bytes, 3 for a map or list plus 1 per
/// element (and each element's name in a map).
pub fn value_size(v: &AttributeValue) -> usize {
    let number = |n: &str| n.trim_start_matches('-').replace('.', "").len().div_ceil(2) + 1;
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(name, v)| 1 + name.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(s) => s.iter().map(String::len).sum(),
        AttributeValue::Ns(s) => s.iter().map(|n| number(n)).sum(),
        AttributeValue::Bs(s) => s.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// `bytes` deflated (raw deflate, best compression): what the store keeps of a value that is
/// written once and only ever read whole.
pub(super) fn deflated(bytes: &[u8]) -> StoreResult<Vec<u8>> {
    let mut deflate = DeflateEncoder::new(Vec::new(), Compression::best());
    deflate.write_all(bytes).map_err(invalid)?;
    deflate.finish().map_err(invalid)
}

/// What [`deflated`] kept, as it was.
pub(super) fn inflated(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    DeflateDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

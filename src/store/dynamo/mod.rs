//! The DynamoDB implementation of the store traits, on one table. Every key, and the access
//! pattern it serves, is in [`keys`]; SDK errors become [`StoreError`]s in `classify`; writes
//! that belong together go in one transaction (`tx`), and every write that can race states
//! what it expects. One file per trait: `config`, `api_keys`, `idempotency`, `rotation`,
//! `roster`, `leads`, `sweep`, `outbox`, `accounts`. Nothing here decides routing.

mod accounts;
mod api_keys;
mod assign;
mod attr;
mod audit;
mod batch;
pub(crate) mod classify;
mod client;
mod compact;
mod config;
mod idempotency;
mod items;
mod jobs;
pub mod keys;
mod leads;
mod log;
mod outbox;
mod probe;
mod roster;
mod rotation;
mod sweep;
pub mod tables;
mod turns;
mod tx;

pub use attr::{item_size, value_size};
pub use client::{client, DynamoStore, IDEMPOTENCY_TTL_SECONDS};
pub use leads::lead_of_item;
pub use turns::TURNS_ON_REP_MAX;
pub use tx::{retry_conflicts, Retryable};

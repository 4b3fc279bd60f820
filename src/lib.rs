//! leadrouter: routes inbound leads to the right sales rep within seconds, with a reason.
//!
//! Layers: [`domain`] (pure rules and decisions), [`store`] (DynamoDB behind narrow traits),
//! [`service`] (the intake use case tying them together), [`http`] (the axum router that runs
//! both in Lambda and locally), and [`cli`] (the local tool).

pub mod cli;
pub mod delivery;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod outbox;
pub mod runtime;
pub mod service;
pub mod store;
pub mod sweep;

//! leadrouter: routes inbound leads to the right sales rep within seconds, with a reason.
//!
//! Layers, each importing only the ones below it: [`domain`] (pure rules and decisions: the
//! routing walk, distribution, availability, SLAs, what a notification says), [`store`]
//! (storage behind narrow traits; DynamoDB), [`delivery`] (sending one notification over HTTP),
//! [`app`] (the use cases: intake, routing, escalation, the sweep, ...), [`http`] (the axum
//! router that runs both in Lambda and locally), and [`cli`] (the local tool). [`runtime`]
//! wires a process; [`metrics`] counts.

pub mod app;
pub mod aws;
pub mod cli;
pub mod console;
pub mod delivery;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod runtime;
pub mod store;

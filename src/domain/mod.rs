//! The pure domain: leads, routing config, rules and assignment decisions. No AWS, HTTP or
//! tokio types appear here; everything takes data in and returns decisions out.

pub mod access;
pub mod account;
pub mod audience;
pub mod availability;
pub mod channel;
pub mod config;
pub mod config_diff;
pub mod disposable;
pub mod distribution;
pub mod facts;
pub mod lead;
pub mod lifecycle;
pub mod model;
pub mod normalize;
pub mod notify;
pub mod overrides;
pub mod qualify;
pub mod replay;
pub mod report;
pub mod roster;
pub mod routing;
pub mod rules;
pub mod sla;

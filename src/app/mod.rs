//! The use cases, one module each, importing only downwards:
//!
//! | level | modules | uses |
//! |---|---|---|
//! | 0 | `clock`, `cache` | nothing of the app |
//! | 1 | `state` ([`App`]: store, clock, caches, notifier) | level 0 |
//! | 2 | `auth`, `config`, `idempotency`, `route`, `deliver`, `status` | levels 0-1 |
//! | 3 | `intake`, `escalate` | levels 0-2 |
//! | 4 | `sweep` | levels 0-3 |
//!
//! Each use case adds methods to [`App`] or is a function over the narrow store traits it
//! needs (so its unit tests can script those). Decisions live in [`crate::domain`]; storage
//! behind [`crate::store`]; nothing here knows HTTP.

pub mod accounts;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod deliver;
pub mod escalate;
pub mod idempotency;
pub mod intake;
pub mod log;
pub mod reassign;
pub mod replay;
pub mod report;
pub mod reps;
pub mod route;
pub mod simulate;
pub mod state;
pub mod status;
pub mod sweep;

pub use auth::{generate_key, hash_secret};
pub use clock::{Clock, SystemClock};
pub use intake::{Intake, IntakeError, IntakeRequest, LeadReceipt};
pub use state::App;
pub use sweep::SweepReport;

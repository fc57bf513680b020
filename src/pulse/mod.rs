//! A pulse: `observe` (the mission at the integration head, run directories, processes) →
//! `plan` (pure) → `execute` (idempotent actions that re-check their own preconditions).

pub mod execute;
pub mod observe;
pub mod plan;
pub(crate) mod testutil;

pub use plan::{Action, Snapshot, plan};

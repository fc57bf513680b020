//! A pulse: `observe` (the mission at the integration head, run directories, processes) →
//! `plan` (pure) → `execute` (idempotent actions that re-check their own preconditions).

pub mod execute;
pub mod observe;
pub mod plan;
pub(crate) mod testutil;

pub use plan::{Action, Snapshot, plan};

/// How old the directory of a worker run the log never dispatched must be before a pulse
/// takes it for a leftover and removes it: far longer than a dispatch takes to commit (the
/// pulse that made the directory removes it itself when its dispatch loses), so only what a
/// crashed pulse left goes.
pub const PREPARED_LEFTOVER: std::time::Duration = std::time::Duration::from_secs(600);

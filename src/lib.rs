//! `git mission`: long-running, milestone-based coding missions carried out by AI coding
//! agents, with all mission state committed in the repository.
//!
//! The library never prints, never reads the terminal and never exits the process; the `cli`
//! module does those things. See `docs/architecture.md` for the map of modules.

/// A named fault point (`tests/faults.rs` makes the process crash there): nothing at all unless
/// built with the `failpoints` feature (see `faults`).
#[macro_export]
macro_rules! fault {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        {
            $crate::faults::hit($name);
        }
    };
}

#[cfg(feature = "failpoints")]
pub mod faults;

pub mod action;
pub mod agents;
pub mod budget;
pub mod claims;
pub mod cli;
pub mod comments;
pub mod config;
pub mod context;
pub mod control;
pub mod env;
pub mod error;
pub mod events;
pub mod forge;
pub mod fsutil;
pub mod git;
pub mod mission;
pub mod notify;
pub mod orchestrator;
pub mod process;
pub mod pulse;
pub mod recovery;
pub mod report;
pub mod runs;
pub mod skills;
pub mod store;
pub mod supervisor;
pub mod templates;
pub mod validation;
pub mod validator;
pub mod worker;
pub mod workspace;

pub use error::{Error, Result};

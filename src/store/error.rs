//! What committing mission state (`crate::store`) can fail with, when other writers keep it
//! busy. Nothing was changed in either case; trying again later is right.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Other supervisors kept moving the integration branch: every try lost the race.
    #[error(
        "gave up after {lost} lost races {} {branch}: other supervisors keep changing it",
        if *publishing { "publishing" } else { "committing to" }
    )]
    LostRaces {
        branch: String,
        lost: u32,
        /// Lost at the remote (publishing) rather than at the local branch.
        publishing: bool,
    },
    /// Another git process held the branch's ref lock past the patience.
    #[error(
        "{branch} stayed locked for {secs} s ({}): another git process holds it; if none runs, remove that file",
        lock_file.display()
    )]
    Locked {
        branch: String,
        secs: u64,
        lock_file: PathBuf,
    },
}

//! Forges: where a feature's "pull request" lives. `local` (this module's only forge so far)
//! treats a feature branch as its PR: run its checks, then merge it into the integration
//! branch without touching any checked-out work tree.

pub mod github;
pub mod local;

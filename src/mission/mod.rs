//! The mission document: model types, parsing (frontmatter + body), canonical rendering,
//! surgical rewriting and validation. Pure: no git, no file system.

pub mod blocks;
pub mod body;
pub mod diag;
pub mod doc;
pub mod ids;
pub mod model;
mod patch;
pub mod quick;
pub mod render;
#[cfg(test)]
mod testcorpus;
pub mod validate;
pub mod yaml;

pub use diag::{Diagnostic, Severity};
pub use doc::{MissionDoc, Rewrite};
pub use model::*;

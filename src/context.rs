//! The effect context: what the code that carries out a pulse's actions needs (the
//! workspace, the store, the run layout, the configuration, the forge and what it saw). It is
//! defined here, below every module that acts with it (pulse execution, both forges'
//! executors, validation, the orchestrator, validators), so none of them imports another's.

use std::path::{Path, PathBuf};
use std::process::Child;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::runs::Layout;
use crate::store::Store;
use crate::workspace::Workspace;

/// What executing an action needs.
pub struct Exec<'a> {
    pub ws: &'a Workspace,
    pub store: &'a Store<'a>,
    pub layout: &'a Layout,
    pub config: &'a Config,
    /// The `git-mission` executable, for detached workers.
    pub exe: PathBuf,
    /// Workers started by this process (so `run` wakes when one exits).
    pub children: Vec<(String, Child)>,
    /// `forge: github`: the client and what this pulse's query saw.
    pub forge: Option<&'a crate::forge::github::Forge>,
    pub view: Option<&'a crate::forge::github::View>,
}

impl Exec<'_> {
    /// Removes the scratch worktrees whose names start with `prefix`: they belong to claims
    /// whose holders are gone (the caller holds the claim now).
    pub fn clear_scratch(&self, prefix: &str) {
        let scratch = self.layout.scratch();
        for e in std::fs::read_dir(&scratch).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(prefix) {
                self.remove_worktree(&e.path());
            }
        }
        let _ = self.ws.repo.worktree(&["prune"]);
    }

    /// A detached scratch worktree `<prefix><tag>` at `commit`, private to the caller's claim,
    /// after clearing earlier ones of that prefix.
    pub fn scratch_worktree(&self, prefix: &str, tag: &str, commit: &str) -> Result<PathBuf> {
        self.clear_scratch(prefix);
        let wt = self.layout.scratch().join(format!("{prefix}{tag}"));
        if let Some(p) = wt.parent() {
            std::fs::create_dir_all(p).map_err(Error::io(p))?;
        }
        self.ws
            .repo
            .worktree(&["add", "--quiet", "--detach", &wt.to_string_lossy(), commit])?;
        Ok(wt)
    }

    /// Removes a worktree and whatever is left of its directory.
    pub fn remove_worktree(&self, wt: &Path) {
        let _ = self
            .ws
            .repo
            .worktree(&["remove", "--force", &wt.to_string_lossy()]);
        let _ = std::fs::remove_dir_all(wt);
    }
}

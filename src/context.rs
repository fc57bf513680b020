//! The effect context: what the code that carries out a pulse's actions needs (the
//! workspace, the store, the run layout, the configuration, the forge and what it saw). It is
//! defined here, below every module that acts with it (pulse execution, both forges'
//! executors, validation, the orchestrator, validators), so none of them imports another's.

use std::path::PathBuf;
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
    /// Where features are reviewed and merged, and state is published.
    pub forge: &'a dyn Forge,
}

/// A forge as a pulse uses it: `forge::local::LocalForge` (feature branches merged here) or
/// `forge::github::execute::GitHubForge` (pull requests). The pulse observes through it, hands
/// it the actions that are its own, and publishes through it; it never asks which one it has.
pub trait Forge {
    /// Brings this clone's mission state up to the forge's, when the forge holds it too:
    /// then returns the state commits only this clone had (oldest first), for the caller to
    /// replay on top. `None`: the state lives here only.
    fn sync(&self) -> Result<Option<Vec<String>>> {
        Ok(None)
    }

    /// Publishes each state commit as it is made, when the forge holds the state too.
    fn publisher(&self) -> Option<&dyn crate::store::Publish> {
        None
    }

    /// Observes the forge for this pulse: its part of the plan.
    fn observe(
        &self,
        ws: &Workspace,
        store: &Store,
        mission: &crate::mission::Mission,
        events: &[crate::events::Event],
        config: &Config,
    ) -> Result<std::sync::Arc<dyn crate::forge::ForgePlan>>;

    /// Whether workers run on the forge's machines (`dispatch: actions`), not here.
    fn runs_workers(&self, _config: &Config) -> bool {
        false
    }

    /// Starts run `run` of `feature` on the forge's machines.
    fn start_worker(
        &self,
        _config: &Config,
        _mission: &str,
        _feature: &str,
        _run: &str,
    ) -> Result<crate::forge::github::workers::Started> {
        Err(Error::Internal("this forge runs no workers".into()))
    }

    /// Cancels a worker run on the forge's machines.
    fn cancel_worker(&self, _workflow_run: u64) -> Result<()> {
        Ok(())
    }

    /// Carries out one of the forge's own actions (merges, pull requests, landing, comments).
    fn execute(&self, cx: &mut Exec, action: &crate::action::Action) -> Result<()>;

    /// Merges a feature in the state commit that records its run, when nothing has to happen
    /// between the two (the local forge, a feature without checks): `Ok(true)` when `tx` now
    /// merges it. The default leaves the merge to its own action.
    fn merge_in_record(
        &self,
        _cx: &Exec,
        _tx: &mut crate::store::Tx,
        _feature: &str,
        _feature_head: &str,
    ) -> Result<bool> {
        Ok(false)
    }

    /// After the commit of a [`Forge::merge_in_record`]: tidies what the merge leaves behind.
    fn merged_in_record(&self, _cx: &Exec, _feature: &str) {}

    /// After a pulse's actions (also after one failed, with its `result`): publishes what the
    /// forge shows of the mission and the state not yet published.
    fn finish(&self, _cx: &Exec, result: Result<()>) -> Result<()> {
        result
    }
}

impl Exec<'_> {
    /// Removes the scratch worktrees whose names start with `prefix`: they belong to claims
    /// whose holders are gone (the caller holds the claim now).
    pub fn clear_scratch(&self, prefix: &str) {
        let scratch = self.layout.scratch();
        let mut removed = 0;
        for e in std::fs::read_dir(&scratch).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(prefix) {
                self.ws.repo.remove_worktree(&e.path());
                removed += 1;
            }
        }
        // Only what was removed here can have left a registration behind.
        if removed > 0 {
            let _ = self.ws.repo.worktree(&["prune"]);
        }
    }

    /// A detached scratch worktree `<prefix><tag>` at `commit`, private to the caller's claim,
    /// after clearing earlier ones of that prefix.
    pub fn scratch_worktree(&self, prefix: &str, tag: &str, commit: &str) -> Result<PathBuf> {
        let wt = self.scratch_place(prefix, tag)?;
        self.ws
            .repo
            .worktree(&["add", "--quiet", "--detach", &wt.to_string_lossy(), commit])?;
        Ok(wt)
    }

    /// Removes the worktree a feature's workers ran in, if it is there (its work is merged).
    pub fn remove_feature_worktree(&self, feature: &str) {
        let wt = self.layout.worktree(feature);
        if wt.exists() {
            let _ = self.ws.repo.force_remove_worktree(&wt);
        }
    }

    /// Where a new scratch worktree named `<prefix><tag>` goes, the earlier ones of `prefix`
    /// cleared.
    fn scratch_place(&self, prefix: &str, tag: &str) -> Result<PathBuf> {
        self.clear_scratch(prefix);
        let wt = self.layout.scratch().join(format!("{prefix}{tag}"));
        if let Some(p) = wt.parent() {
            std::fs::create_dir_all(p).map_err(Error::io(p))?;
        }
        Ok(wt)
    }

    /// [`Exec::scratch_worktree`] without the mission's run records (a validation's: its
    /// commands and validators judge the code; the handoffs are in the validator's prompt).
    pub fn scratch_worktree_without_runs(
        &self,
        prefix: &str,
        tag: &str,
        commit: &str,
    ) -> Result<PathBuf> {
        let wt = self.scratch_place(prefix, tag)?;
        self.ws.repo.worktree(&[
            "add",
            "--quiet",
            "--detach",
            "--no-checkout",
            &wt.to_string_lossy(),
            commit,
        ])?;
        crate::workspace::check_out_without_run_records(&wt, &self.store.id)?;
        Ok(wt)
    }
}

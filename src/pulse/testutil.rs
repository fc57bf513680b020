//! What the pulse's unit tests share: a started demo mission in a real repository, a forge
//! that records what it is asked, and an effect context over both.

#![cfg(test)]

use std::cell::RefCell;
use std::sync::Arc;

use crate::action::Action;
use crate::context::{Exec, Forge};
use crate::env::Env;
use crate::error::Result;
use crate::events::Event;
use crate::mission::MilestoneStatus;

/// A forge that records what the pulse asks of it.
#[derive(Default)]
pub struct Fake {
    pub remote: bool,
    /// What `observe` answers instead of a plan: the forge did not answer.
    pub down: bool,
    pub asked: RefCell<Vec<String>>,
}

impl Forge for Fake {
    fn observe(
        &self,
        _ws: &Workspace,
        _store: &crate::store::Store,
        _mission: &crate::mission::Mission,
        _events: &[Event],
        _config: &Config,
    ) -> Result<Arc<dyn crate::forge::ForgePlan>> {
        if self.down {
            return Err(crate::forge::github::GitHubError::api("timed out", None).into());
        }
        Ok(Arc::new(crate::forge::local::LocalPlan::default()))
    }
    fn runs_workers(&self, _config: &Config) -> bool {
        self.remote
    }
    fn start_worker(
        &self,
        _config: &Config,
        mission: &str,
        feature: &str,
        run: &str,
    ) -> Result<crate::forge::github::workers::Started> {
        self.asked
            .borrow_mut()
            .push(format!("start {mission} {feature} {run}"));
        Ok(crate::forge::github::workers::Started::Run {
            id: Some(42),
            url: "https://example.invalid/runs/42".into(),
        })
    }
    fn cancel_worker(&self, workflow_run: u64) -> Result<()> {
        self.asked
            .borrow_mut()
            .push(format!("cancel {workflow_run}"));
        Ok(())
    }
    fn execute(&self, _cx: &mut Exec, action: &Action) -> Result<()> {
        self.asked.borrow_mut().push(action.to_string());
        Ok(())
    }
}

use crate::config::Config;
use crate::runs::Layout;
use crate::store::Store;
use crate::workspace::Workspace;

/// The demo mission, started, with M1 active.
pub fn started() -> (tempfile::TempDir, Workspace) {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("todo/missions")).expect("mkdir");
    let git = |args: &[&str]| crate::git::git(&root, args).expect("git");
    git(&["init", "-q", "-b", "main"]);
    git(&["config", "user.name", "T"]);
    git(&["config", "user.email", "t@example.com"]);
    let text =
        include_str!("../../templates/demo/mission.md").replace("status: draft", "status: running");
    std::fs::write(root.join("todo/missions/demo-mission.md"), text).expect("write");
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "plan"]);
    let env = Env::fixed(
        &[("HOME", &dir.path().to_string_lossy())],
        "2026-01-01T00:00:00Z".parse().expect("t"),
        std::time::Instant::now,
    );
    let ws = Workspace::open(&root, Arc::new(env)).expect("ws");
    let base = ws.repo.branch_head("main").expect("head").expect("main");
    let store = Store::new(&ws.repo, "demo");
    store.create(base.parse().expect("oid")).expect("create");
    store
        .mutate("activate", |tx| {
            tx.mission.milestones[0].status = MilestoneStatus::Active;
            Ok(true)
        })
        .expect("activate");
    (dir, ws)
}

pub fn with_exec(ws: &Workspace, forge: &Fake, f: impl FnOnce(&mut Exec)) {
    let store = Store::new(&ws.repo, "demo");
    let config = Config::load(
        &ws.repo,
        None,
        &crate::config::Overrides {
            env: ws.repo.env().vars.clone(),
            ..Default::default()
        },
    )
    .expect("config");
    let layout = Layout::new(&ws.repo, &config, "demo").expect("layout");
    let mut ex = Exec {
        ws,
        store: &store,
        layout: &layout,
        config: &config,
        exe: "git-mission".into(),
        children: Vec::new(),
        forge,
    };
    f(&mut ex);
}

//! `git mission doctor [--fix]`: stale run locks, orphan worktrees and branches, mission files
//! that do not parse, agents that cannot be found. `--fix` repairs only what cannot lose work:
//! it removes dead locks and clean worktrees of finished features, and nothing else.

use serde::Serialize;

use crate::error::Result;
use crate::mission::FeatureStatus;
use crate::store::Store;
use crate::store::lock::RunLock;

use super::{Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Repair what is safe to repair (dead locks, clean orphan worktrees)
    #[arg(long)]
    pub fix: bool,
}

#[derive(Debug, Serialize)]
struct Finding {
    mission: String,
    kind: &'static str,
    message: String,
    fixed: bool,
}

pub fn run(cx: &Ctx, a: &Args) -> Result<u8> {
    let ws = cx.workspace()?;
    let ov = cx.overrides();
    let mut checks = Checks {
        fix: a.fix,
        found: Vec::new(),
        agents: std::collections::BTreeMap::new(),
    };
    for id in ws.list_ids()? {
        checks.mission(cx, &ws, &id, &ov)?;
    }
    report(cx, &checks, a.fix);
    let problems = checks.found.iter().filter(|f| !f.fixed).count();
    Ok(if problems == 0 { exit::OK } else { exit::USER })
}

/// What doctor has found so far, over every mission.
struct Checks {
    fix: bool,
    found: Vec<Finding>,
    /// Each agent CLI is started once per doctor run, whatever the number of missions using it.
    agents: std::collections::BTreeMap<String, Result<AgentReport, String>>,
}

impl Checks {
    fn add(&mut self, id: &str, kind: &'static str, message: String, fixed: bool) {
        self.found.push(Finding {
            mission: id.to_owned(),
            kind,
            message,
            fixed,
        });
    }

    /// Every check of one mission; one that cannot be read is itself the finding.
    fn mission(
        &mut self,
        cx: &Ctx,
        ws: &crate::workspace::Workspace,
        id: &str,
        ov: &crate::config::Overrides,
    ) -> Result<()> {
        let store = Store::new(&ws.repo, id);
        let head = match store.head() {
            Ok(h) => h,
            Err(e) => {
                let why = format!("the integration branch cannot be read: {e}");
                self.add(id, "corrupt", why, false);
                return Ok(());
            }
        };
        let mission = match (&head, ws.load(id, false)) {
            (Some(h), _) => h.mission().clone(),
            (None, Ok(l)) => l.doc.mission,
            (None, Err(e)) => {
                self.add(id, "corrupt", e.to_string(), false);
                return Ok(());
            }
        };
        let layout = cx.layout(ws, id)?;
        self.run_lock(id, ws, &layout);
        self.worktrees(id, ws, &layout, &mission);
        self.branches(id, ws, &mission)?;
        self.leftover_logins(id, &layout);
        if !mission.status.is_finished()
            && let Ok(config) =
                crate::config::Config::load(&ws.repo, Some((&mission, store.file.as_str())), ov)
        {
            self.agents_of(id, &config, &mission, &ws.repo);
        }
        Ok(())
    }

    /// A run lock left by a process of this host that died without releasing it.
    fn run_lock(
        &mut self,
        id: &str,
        ws: &crate::workspace::Workspace,
        layout: &crate::runs::Layout,
    ) {
        if let Some(h) = RunLock::holder(&layout.lock())
            && h.host == ws.repo.env().host
            && !RunLock::held(&layout.lock())
        {
            let fixed = self.fix && RunLock::clear_stale(&layout.lock());
            let why = format!(
                "the run lock names pid {}, which died without releasing it (harmless: the next run takes it)",
                h.pid
            );
            self.add(id, "stale-lock", why, fixed);
        }
    }

    /// Worktrees of features that are finished or unknown; `--fix` removes the clean ones.
    fn worktrees(
        &mut self,
        id: &str,
        ws: &crate::workspace::Workspace,
        layout: &crate::runs::Layout,
        mission: &crate::mission::Mission,
    ) {
        for rd in layout
            .worktree_dirs()
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
        {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let live = mission.feature(&name).is_some_and(|(_, f)| {
                    matches!(
                        f.status,
                        FeatureStatus::Pending
                            | FeatureStatus::Running
                            | FeatureStatus::Review
                            | FeatureStatus::Failed
                    )
                });
                if live {
                    continue;
                }
                let path = e.path();
                let dirty = crate::git::git(&path, &["status", "--porcelain"])
                    .map(|s| !s.trim().is_empty())
                    .unwrap_or(false);
                let fixed = self.fix && !dirty && ws.repo.force_remove_worktree(&path).is_ok();
                let why = if dirty {
                    " (it has uncommitted changes: commit or copy them first)"
                } else {
                    ""
                };
                let message = format!(
                    "worktree {} belongs to no unfinished feature{why}",
                    path.display()
                );
                self.add(id, "orphan-worktree", message, fixed);
            }
        }
    }

    /// Feature branches of finished features: reported, never deleted (they may hold work).
    fn branches(
        &mut self,
        id: &str,
        ws: &crate::workspace::Workspace,
        mission: &crate::mission::Mission,
    ) -> Result<()> {
        let prefix = format!("mission/{id}.");
        for b in ws.repo.branches_under("mission/")? {
            let Some(fid) = b.strip_prefix(&prefix) else {
                continue;
            };
            let finished = mission.feature(fid).is_none_or(|(_, f)| {
                matches!(f.status, FeatureStatus::Merged | FeatureStatus::Skipped)
            });
            if finished {
                let message = format!(
                    "branch {b} belongs to no unfinished feature; delete it with `git branch -D {b}` once you have checked it"
                );
                self.add(id, "orphan-branch", message, false);
            }
        }
        Ok(())
    }

    /// Copies of a login left by a run that was killed before it could remove them.
    fn leftover_logins(&mut self, id: &str, layout: &crate::runs::Layout) {
        for (meta, state) in layout.list() {
            if state != crate::runs::RunState::Exited && state != crate::runs::RunState::Lost {
                continue;
            }
            let dir = layout.run(&meta.run);
            let left = crate::agents::home::leftovers(&dir);
            if left.is_empty() {
                continue;
            }
            let fixed = self.fix && {
                crate::agents::home::unseed(&dir);
                crate::agents::home::leftovers(&dir).is_empty()
            };
            let message = format!(
                "run {} ended without removing {} copied login or settings file(s) from {}",
                meta.run,
                left.len(),
                dir.display()
            );
            self.add(id, "leftover-credentials", message, fixed);
        }
    }

    /// The agents this mission will start: installed, starting headless, with a login.
    fn agents_of(
        &mut self,
        id: &str,
        config: &crate::config::Config,
        mission: &crate::mission::Mission,
        repo: &crate::git::Repo,
    ) {
        for role in crate::agents::roles_used(config, mission) {
            if let Err((kind, message)) = check_agent(config, role, repo, &mut self.agents) {
                self.add(id, kind, message, false);
            }
        }
    }
}

/// Prints the agents found and every finding (or JSON of the findings).
fn report(cx: &Ctx, checks: &Checks, fix: bool) {
    let out = &checks.found;
    if cx.out.json {
        cx.out.json(out);
        return;
    }
    for r in checks.agents.values().flatten() {
        let login = if r.credentials.is_empty() {
            "no login needed".to_owned()
        } else {
            format!("login from {}", r.credentials.join(", "))
        };
        cx.out
            .data(&format!("agent {}: {} ({login})", r.agent, r.version));
    }
    if out.is_empty() {
        cx.out.data("no problems found");
        return;
    }
    let mut o = String::new();
    for f in out {
        o.push_str(&format!(
            "{}: {}: {}{}\n",
            f.mission,
            f.kind,
            f.message,
            if f.fixed { " — fixed" } else { "" }
        ));
    }
    cx.out.data(&o);
    if out.iter().any(|f| !f.fixed) && !fix {
        cx.out.hint("`git mission doctor --fix` removes dead locks and clean orphan worktrees; the rest needs you");
    }
}

/// What doctor found out about one agent CLI.
#[derive(Debug, Clone, Serialize)]
struct AgentReport {
    agent: String,
    /// The first line `--version` printed.
    version: String,
    /// Where its login or key comes from (names and places, never values).
    credentials: Vec<String>,
}

/// Checks one role's agent: found, starts headless (`--version`), has a login or key. A
/// program is started once per doctor run, whatever the number of missions using it.
fn check_agent(
    config: &crate::config::Config,
    role: crate::agents::Role,
    repo: &crate::git::Repo,
    checked: &mut std::collections::BTreeMap<String, Result<AgentReport, String>>,
) -> Result<(), (&'static str, String)> {
    let root = repo.root.as_path();
    if let Err(m) = crate::agents::preflight(config, role, root) {
        return Err(("missing-agent", format!("{}; fix: {}", m.message, m.fix)));
    }
    let Ok(spec) = crate::agents::agent_spec(config, role) else {
        return Ok(());
    };
    let Some(adapter) = crate::agents::adapter(&spec.agent) else {
        return Ok(());
    };
    if spec.agent == "exec" {
        return Ok(()); // any program: nothing more to ask of it
    }
    let user = crate::agents::UserHome::of(config);
    let who = format!("the {} agent {:?}", role.as_str(), spec.agent);
    let report = checked
        .entry(spec.agent.clone())
        .or_insert_with(|| {
            let version = crate::agents::version(adapter, &user, root, repo.clock())?;
            let sources = adapter.credential_sources(&user);
            let found: Vec<String> = sources
                .iter()
                .filter(|c| c.found)
                .map(|c| c.what.clone())
                .collect();
            if found.is_empty() && !sources.is_empty() {
                let looked: Vec<&str> = sources.iter().map(|c| c.what.as_str()).collect();
                return Err(format!(
                    "no login or key: looked for {}; {}",
                    looked.join(", "),
                    adapter.login_hint()
                ));
            }
            Ok(AgentReport {
                agent: spec.agent.clone(),
                version,
                credentials: found,
            })
        })
        .clone();
    match report {
        Ok(_) => Ok(()),
        Err(why) if why.starts_with("no login") => {
            Err(("no-credentials", format!("{who} has {why}")))
        }
        Err(why) => Err((
            "agent-fails",
            format!("{who} does not start headless: {why}"),
        )),
    }
}

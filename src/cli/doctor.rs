//! `git mission doctor [--fix]`: stale run locks, orphan worktrees and branches, mission files
//! that do not parse, agents that cannot be found. `--fix` repairs only what cannot lose work:
//! it removes dead locks and clean worktrees of finished features, and nothing else.

use serde::Serialize;

use crate::error::Result;
use crate::mission::{FeatureStatus, MissionStatus};
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
    let mut out: Vec<Finding> = Vec::new();
    let ov = cx.overrides();
    let mut checked = std::collections::BTreeMap::new();
    for id in ws.list_ids()? {
        let mut add = |kind: &'static str, message: String, fixed: bool| {
            out.push(Finding {
                mission: id.clone(),
                kind,
                message,
                fixed,
            })
        };
        let store = Store::new(&ws.repo, &id);
        let head = match store.head() {
            Ok(h) => h,
            Err(e) => {
                add(
                    "corrupt",
                    format!("the integration branch cannot be read: {e}"),
                    false,
                );
                continue;
            }
        };
        let mission = match (&head, ws.load(&id, false)) {
            (Some(h), _) => h.mission().clone(),
            (None, Ok(l)) => l.doc.mission,
            (None, Err(e)) => {
                add("corrupt", e.to_string(), false);
                continue;
            }
        };
        let layout = cx.layout(&ws, &id)?;
        // Run lock.
        if let Some(h) = RunLock::holder(&layout.lock())
            && h.host == ws.repo.env().host
            && !RunLock::held(&layout.lock())
        {
            let fixed = a.fix && RunLock::clear_stale(&layout.lock());
            add(
                "stale-lock",
                format!(
                    "the run lock names pid {}, which died without releasing it (harmless: the next run takes it)",
                    h.pid
                ),
                fixed,
            );
        }
        // Worktrees of features that are finished or unknown.
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
                let fixed = a.fix
                    && !dirty
                    && ws
                        .repo
                        .worktree(&["remove", "--force", &path.to_string_lossy()])
                        .is_ok();
                let why = if dirty {
                    " (it has uncommitted changes: commit or copy them first)"
                } else {
                    ""
                };
                add(
                    "orphan-worktree",
                    format!(
                        "worktree {} belongs to no unfinished feature{why}",
                        path.display()
                    ),
                    fixed,
                );
            }
        }
        // Feature branches of finished features (kept: they may hold work).
        for b in ws
            .repo
            .branches_under("mission/")?
            .into_iter()
            .filter(|b| b.starts_with(&format!("mission/{id}.")))
        {
            let fid = &b[format!("mission/{id}.").len()..];
            let finished = mission.feature(fid).is_none_or(|(_, f)| {
                matches!(f.status, FeatureStatus::Merged | FeatureStatus::Skipped)
            });
            if finished {
                add(
                    "orphan-branch",
                    format!(
                        "branch {b} belongs to no unfinished feature; delete it with `git branch -D {b}` once you have checked it"
                    ),
                    false,
                );
            }
        }
        // Copies of a login left by a run that was killed before it could remove them.
        for (meta, state) in layout.list() {
            if state == crate::runs::RunState::Exited || state == crate::runs::RunState::Lost {
                let dir = layout.run(&meta.run);
                let left = crate::agents::home::leftovers(&dir);
                if !left.is_empty() {
                    let fixed = a.fix && {
                        crate::agents::home::unseed(&dir);
                        crate::agents::home::leftovers(&dir).is_empty()
                    };
                    add(
                        "leftover-credentials",
                        format!(
                            "run {} ended without removing {} copied login or settings file(s) from {}",
                            meta.run,
                            left.len(),
                            dir.display()
                        ),
                        fixed,
                    );
                }
            }
        }
        // The agents this mission will start: installed, starting headless, with a login.
        if matches!(
            mission.status,
            MissionStatus::Completed | MissionStatus::Cancelled
        ) {
            continue;
        }
        let Ok(config) =
            crate::config::Config::load(&ws.repo, Some((&mission, store.file.as_str())), &ov)
        else {
            continue;
        };
        for role in crate::agents::roles_used(&config, &mission) {
            if let Err((kind, message)) = check_agent(&config, role, &ws.repo, &mut checked) {
                add(kind, message, false);
            }
        }
    }
    let problems = out.iter().filter(|f| !f.fixed).count();
    if !cx.out.json {
        for r in checked.values().flatten() {
            let login = if r.credentials.is_empty() {
                "no login needed".to_owned()
            } else {
                format!("login from {}", r.credentials.join(", "))
            };
            cx.out
                .data(&format!("agent {}: {} ({login})", r.agent, r.version));
        }
    }
    if cx.out.json {
        cx.out.json(&out);
    } else if out.is_empty() {
        cx.out.data("no problems found");
    } else {
        let mut o = String::new();
        for f in &out {
            o.push_str(&format!(
                "{}: {}: {}{}\n",
                f.mission,
                f.kind,
                f.message,
                if f.fixed { " — fixed" } else { "" }
            ));
        }
        cx.out.data(&o);
        if problems > 0 && !a.fix {
            cx.out.hint("`git mission doctor --fix` removes dead locks and clean orphan worktrees; the rest needs you");
        }
    }
    Ok(if problems == 0 { exit::OK } else { exit::USER })
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

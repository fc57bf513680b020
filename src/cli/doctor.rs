//! `git mission doctor [--fix]`: stale run locks, orphan worktrees and branches, mission files
//! that do not parse, agents that cannot be found. `--fix` repairs only what cannot lose work:
//! it removes dead locks and clean worktrees of finished features, and nothing else.

use std::path::Path;

use serde::Serialize;

use crate::error::Result;
use crate::mission::FeatureStatus;
use crate::store::Store;
use crate::store::lock::{RunLock, hostname, pid_alive};

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
            && h.host == hostname()
            && !pid_alive(h.pid)
        {
            let fixed = a.fix && std::fs::remove_file(layout.lock()).is_ok();
            add(
                "stale-lock",
                format!("the run lock is held by pid {}, which is gone", h.pid),
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
        // Agents that cannot be started.
        if let Ok(config) =
            crate::config::Config::load(&ws.repo, Some((&mission, store.file.as_str())), &ov)
        {
            // Only the roles this mission will use: validators when a milestone asks for one.
            let validators = mission
                .milestones
                .iter()
                .any(|m| m.validation.scrutiny || m.validation.user_testing.is_some());
            let roles = [
                (crate::agents::Role::Worker, true),
                (crate::agents::Role::Validator, validators),
                (crate::agents::Role::Orchestrator, true),
            ];
            for role in roles.into_iter().filter(|(_, used)| *used).map(|(r, _)| r) {
                let Ok(spec) = crate::worker::agent_spec(&config, role) else {
                    continue;
                };
                let program = match (&spec.command, spec.agent.as_str()) {
                    (Some(c), _) => c.first().cloned().unwrap_or_default(),
                    (None, agent) => agent.to_owned(),
                };
                if !program.is_empty() && !found(&program, ws.root()) {
                    add(
                        "missing-agent",
                        format!(
                            "the {} agent needs `{program}`, which is not on PATH",
                            role.as_str()
                        ),
                        false,
                    );
                }
            }
        }
    }
    let problems = out.iter().filter(|f| !f.fixed).count();
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

/// Whether a program can be started: a path (absolute, or relative to the repository), or a
/// name on PATH.
fn found(program: &str, root: &Path) -> bool {
    if program.contains('/') {
        let p = Path::new(program);
        return if p.is_absolute() {
            p.exists()
        } else {
            root.join(p).exists()
        };
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

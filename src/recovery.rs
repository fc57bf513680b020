//! Recovery packets: on every block the supervisor writes `recovery/<n>-<reason>.md` into the
//! mission workspace, in the same commit as the block, and points `block.packet` at it. A packet
//! says what failed, which runs were involved, the state of git, what changed since the last
//! good state, and the next actions as concrete commands.

use crate::events::Kind;
use std::path::{Path, PathBuf};

use crate::git;
use crate::mission::Block;
use crate::store::Tx;
use crate::workspace::{MISSIONS_DIR, integration_branch};

/// Git facts gathered before the block is committed.
#[derive(Debug, Clone, Default)]
pub struct GitState {
    pub head: String,
    pub branches: Vec<String>,
    pub dirty_worktrees: Vec<String>,
    pub recent: Vec<String>,
}

impl GitState {
    pub fn gather(root: &Path, mission: &str, worktree_dirs: &[PathBuf]) -> GitState {
        let branch = integration_branch(mission);
        let head = git::git(root, &["rev-parse", "--short", &branch])
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        let branches = git::git(
            root,
            &[
                "branch",
                "--list",
                "--format=%(refname:short)",
                &format!("{branch}.*"),
            ],
        )
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default();
        let mut dirty = Vec::new();
        for rd in worktree_dirs
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
        {
            for e in rd.flatten() {
                let p = e.path();
                if let Ok(st) = git::git(&p, &["status", "--porcelain"])
                    && !st.trim().is_empty()
                {
                    dirty.push(format!(
                        "{} ({} changed paths)",
                        p.display(),
                        st.lines().count()
                    ));
                }
            }
        }
        let recent = git::git(root, &["log", "--format=%h %s", "-n", "15", &branch])
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default();
        GitState {
            head,
            branches,
            dirty_worktrees: dirty,
            recent,
        }
    }
}

/// Writes the packet for the block just set on `tx.mission` and records its path in it.
/// `details` is what failed (command output tails, the worker's failure, validator findings);
/// `runs` are the runs involved.
pub fn attach(tx: &mut Tx, git: &GitState, details: &str, runs: &[String]) {
    let Some(block) = tx.mission.block.clone() else {
        return;
    };
    // Call before the block's own event is added: packets are numbered from 1.
    let n = tx
        .head
        .events
        .iter()
        .filter(|e| e.kind == Kind::MissionBlocked || e.kind == Kind::MissionPaused)
        .count()
        + tx.events
            .iter()
            .filter(|e| e.kind == Kind::MissionBlocked || e.kind == Kind::MissionPaused)
            .count()
        + 1;
    let path = format!(
        "{MISSIONS_DIR}/{}/recovery/{n}-{}.md",
        tx.mission.id, block.reason
    );
    let mut after = tx.mission.clone();
    after.block = Some(Block {
        packet: Some(path.clone()),
        ..block.clone()
    });
    let next = crate::report::next_actions(&after);
    let text = render(&after.id, &block, git, details, runs, &next);
    tx.files.push((path.clone(), text.into_bytes()));
    if let Some(b) = tx.mission.block.as_mut() {
        b.packet = Some(path);
    }
}

fn render(
    id: &str,
    b: &Block,
    git: &GitState,
    details: &str,
    runs: &[String],
    next: &[String],
) -> String {
    let front = serde_json::json!({
        "mission": id, "reason": b.reason.as_str(), "milestone": b.milestone, "feature": b.feature,
        "since": b.since.to_string(), "runs": runs,
    });
    let mut o = format!(
        "---\n{}---\n# Blocked: {}\n\n{}\n\n",
        serde_norway::to_string(&front).unwrap_or_default(),
        b.reason,
        b.message
    );
    if !details.trim().is_empty() {
        o.push_str(&format!(
            "## What failed\n\n```\n{}\n```\n\n",
            details.trim()
        ));
    }
    if !runs.is_empty() {
        o.push_str("## Runs involved\n\n");
        for r in runs {
            o.push_str(&format!("- `{r}`: `git mission show {id} {r}`\n"));
        }
        o.push('\n');
    }
    o.push_str(&format!(
        "## Git state\n\n- integration branch `{}` at `{}`\n",
        integration_branch(id),
        git.head
    ));
    if git.branches.is_empty() {
        o.push_str("- no unmerged feature branches\n");
    } else {
        o.push_str(&format!(
            "- unmerged feature branches: {}\n",
            git.branches
                .iter()
                .map(|b| format!("`{b}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if git.dirty_worktrees.is_empty() {
        o.push_str("- no worktree has uncommitted changes\n");
    } else {
        for d in &git.dirty_worktrees {
            o.push_str(&format!("- uncommitted changes in {d}\n"));
        }
    }
    o.push_str("- open PRs: none (local forge)\n\n");
    if !git.recent.is_empty() {
        o.push_str("## What changed recently on the integration branch\n\n");
        for c in &git.recent {
            o.push_str(&format!("- {c}\n"));
        }
        o.push('\n');
    }
    o.push_str("## Recommended next actions\n\n");
    for n in next {
        o.push_str(&format!("- {n}\n"));
    }
    o
}

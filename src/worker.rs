//! One worker run (`git mission work`): prepare the feature's worktree, compose the prompt,
//! run the agent through the process builder, commit what it left, apply the effectiveness
//! guard's facts and write the exit record. Integrating the run into the mission state is the
//! supervisor's job (`pulse::execute::record_run`), so a run whose worker dies is still
//! integrated by a later pulse.

use crate::events::Kind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::agents::{self, Role};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::git::{self, Repo};
use crate::mission::{Mission, body};
use crate::process;
use crate::runs::{self, ExitRecord, Layout, Meta};
use crate::store::{Head, Store};
use crate::workspace::{MISSIONS_DIR, mission_file};

/// Environment variables that identify git the supervisor's commits, when git has no identity.
pub fn commit_env(repo: &Repo) -> Vec<(String, String)> {
    let snapshot = repo.gix().config_snapshot();
    let has = |k: &str| snapshot.string(k).is_some_and(|v| !v.is_empty());
    let mut env = Vec::new();
    if !has("user.name") && repo.env().var("GIT_AUTHOR_NAME").is_none() {
        env.push(("GIT_AUTHOR_NAME".into(), "git-mission".into()));
        env.push(("GIT_COMMITTER_NAME".into(), "git-mission".into()));
    }
    if !has("user.email") && repo.env().var("GIT_AUTHOR_EMAIL").is_none() {
        env.push(("GIT_AUTHOR_EMAIL".into(), "git-mission@localhost".into()));
        env.push(("GIT_COMMITTER_EMAIL".into(), "git-mission@localhost".into()));
    }
    env
}

/// Runs git in `dir` with the commit identity fallback.
fn git_in(dir: &Path, env: &[(String, String)], args: &[&str]) -> Result<String> {
    Ok(git::git_env(dir, env, args)?)
}

/// Creates (or reuses) the feature's worktree on its branch. Returns its path. A worktree of
/// the same branch in one of `ours` (where this tool keeps worktrees, now or in earlier
/// versions) is moved; anywhere else it is the user's, and an error.
pub fn prepare_worktree(
    repo: &Repo,
    meta: &Meta,
    integration_head: &str,
    ours: &[PathBuf],
) -> Result<PathBuf> {
    let wt = meta.worktree.clone();
    let branch = meta
        .branch
        .clone()
        .ok_or_else(|| Error::Internal("worker run without a branch".into()))?;
    if wt.join(".git").exists() {
        return Ok(wt);
    }
    if let Some(parent) = wt.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    }
    let wt_s = wt.to_string_lossy().into_owned();
    let add = || -> Result<String> {
        // The branch is made in process: `worktree add -b` starts a `git branch` for it.
        if repo.branch_head(&branch)?.is_none() {
            repo.create_branch(&branch, integration_head)?;
        }
        Ok(repo.worktree(&["add", "--quiet", "--no-checkout", &wt_s, &branch])?)
    };
    if add().is_err() {
        // A stale registration of a deleted worktree, or the branch still checked out where an
        // earlier version kept worktrees (under .git): prune, move it, and try once more.
        repo.worktree(&["prune"])?;
        release_branch(repo, &branch, &wt, ours)?;
        add()?;
    }
    crate::workspace::check_out_without_run_records(&wt, &meta.mission)?;
    Ok(wt)
}

/// Removes another worktree of ours that has `branch` checked out, so it can be checked out at
/// `wanted`. A worktree with uncommitted changes is never removed: that is an error.
fn release_branch(repo: &Repo, branch: &str, wanted: &Path, ours: &[PathBuf]) -> Result<()> {
    let list = repo.worktree(&["list", "--porcelain"])?;
    let want = format!("branch refs/heads/{branch}");
    for entry in list.split("\n\n") {
        let mut lines = entry.lines();
        let Some(path) = lines.next().and_then(|l| l.strip_prefix("worktree ")) else {
            continue;
        };
        let path = Path::new(path);
        if path == wanted
            || !entry.lines().any(|l| l == want)
            || !ours.iter().any(|d| path.starts_with(d))
        {
            continue;
        }
        let dirty = git::git(path, &["status", "--porcelain"])
            .map(|s| !s.trim().is_empty())
            .unwrap_or(false);
        if dirty {
            return Err(Error::user_hint(
                format!(
                    "{branch} is checked out at {} with uncommitted changes",
                    path.display()
                ),
                format!(
                    "commit or remove those changes, then `git worktree remove {}`",
                    path.display()
                ),
            ));
        }
        repo.force_remove_worktree(path)?;
    }
    Ok(())
}

/// The prompt of a worker run.
pub fn compose_prompt(
    store: &Store,
    head: &Head,
    meta: &Meta,
    conflict_files: &[String],
) -> Result<String> {
    let m = head.mission();
    let fid = meta.feature.as_deref().unwrap_or("");
    let (ms, f) = m
        .feature(fid)
        .ok_or_else(|| Error::Internal(format!("no feature {fid}")))?;
    let doc_body = head.doc.body();
    let secs = body::sections(doc_body);
    let section = |t: &str| {
        body::section(&secs, t)
            .map(|s| strip_comments(&doc_body[s.content.clone()]))
            .filter(|s| !s.trim().is_empty())
    };
    let mut p = format!("# Mission {}: {}\n\n", m.id, m.title);
    for t in ["Objective", "Non-goals", "Assumptions"] {
        if let Some(text) = section(t) {
            p.push_str(&format!("## {t}\n\n{}\n\n", text.trim()));
        }
    }
    p.push_str(&format!("## Your milestone: {} — {}\n\n", ms.id, ms.title));
    p.push_str(&format!(
        "## Your feature: {} — {}\n\n{}\n\n",
        f.id,
        f.title,
        f.description.trim()
    ));
    if !f.assertions.is_empty() {
        p.push_str("### Contract assertions this feature must make true\n\n");
        for a in &f.assertions {
            let text = m
                .contract
                .iter()
                .find(|c| &c.id == a)
                .map_or("", |c| c.text.as_str());
            p.push_str(&format!("- {a}: {text}\n"));
        }
        p.push('\n');
    }
    let deps = dependency_handoffs(store, head, &f.depends_on)?;
    if !deps.is_empty() {
        p.push_str("## What the features you depend on did\n\n");
        p.push_str(&deps);
    }
    let failures: Vec<String> = head
        .events
        .iter()
        .filter(|e| e.feature.as_deref() == Some(fid) && e.kind != Kind::FeatureFailed)
        .filter_map(|e| {
            // Failed runs, failed checks and merge conflicts all carry a `failure`.
            let why = e.data.get("failure")?.as_str()?;
            Some(match (&e.run, e.attempt) {
                (Some(run), Some(a)) => format!("- attempt {a} (run {run}): {why}"),
                _ => format!("- after its last run ({}): {why}", e.kind),
            })
        })
        .collect();
    if !failures.is_empty() {
        p.push_str("## Notes from earlier attempts\n\nEarlier attempts at this feature failed. Do not repeat their mistakes:\n\n");
        p.push_str(&failures.join("\n"));
        p.push_str("\n\n");
    }
    // Reviews that asked for changes on the feature's PR (the latest round).
    p.push_str(&review_feedback(&head.events, fid));
    let steering: Vec<String> = head
        .events
        .iter()
        .filter(|e| {
            e.kind == Kind::FeatureSteerDelivered && e.run.as_deref() == Some(meta.run.as_str())
        })
        .flat_map(|e| e.data["messages"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if !steering.is_empty() {
        p.push_str("## Steering from the people running this mission\n\nFollow these instructions; they override the feature description where they disagree:\n\n");
        for s in &steering {
            p.push_str(&format!("- {}\n", s.trim()));
        }
        p.push('\n');
    }
    if !conflict_files.is_empty() {
        p.push_str("## Resolve a merge conflict first\n\nThe integration branch moved and merging it into your branch conflicts in:\n\n");
        for c in conflict_files {
            p.push_str(&format!("- {c}\n"));
        }
        p.push_str("\nThe merge is in progress in your worktree. Resolve every conflict (remove all conflict markers), keeping both sides' intent, then finish.\n\n");
    }
    for skill in &f.skills {
        if !crate::mission::ids::is_mission_id(skill) {
            continue; // a name that could leave the skills directory
        }
        let path = format!("{MISSIONS_DIR}/{}/skills/{skill}/SKILL.md", m.id);
        match store.read_at(head, &path)? {
            Some(text) => p.push_str(&format!("## Skill: {skill}\n\n{}\n\n", text.trim())),
            None => p.push_str(&format!("## Skill: {skill}\n\n(not found at {path})\n\n")),
        }
    }
    p.push_str(&format!(
        "## Your working method (skill mission-worker)\n\n{}\n\n",
        crate::skills::body("mission-worker").trim()
    ));
    p.push_str(&format!(
        "## How to work\n\n\
         - You are in a git worktree on branch `{branch}`, cut from the mission's integration branch. Change only what this feature needs.\n\
         - Do not edit `{file}`: the supervisor owns it, and a change to it fails the attempt.\n\
         - Commit your work when you can; anything left uncommitted is committed for you.\n\
         - Finish by writing your handoff to the file named by `$GIT_MISSION_HANDOFF_FILE`: Markdown starting with front matter \
           (`---`, `status: done|partial|blocked`, `---`), then a summary, the tests you ran, and follow-ups.\n",
        branch = meta.branch.as_deref().unwrap_or("?"),
        file = mission_file(&m.id),
    ));
    Ok(p)
}

/// What the features `depends_on` reported when they were handed off (their last handoff).
fn dependency_handoffs(store: &Store, head: &Head, depends_on: &[String]) -> Result<String> {
    let m = head.mission();
    let mut deps = String::new();
    for d in depends_on {
        let run = head
            .events
            .iter()
            .rev()
            .find(|e| e.kind == Kind::FeatureHandoff && e.feature.as_deref() == Some(d))
            .and_then(|e| e.run.clone());
        if let Some(run) = run
            && let Some(text) =
                store.read_at(head, &crate::workspace::run_record_file(&m.id, &run))?
        {
            deps.push_str(&format!("### {d} (run {run})\n\n{}\n\n", text.trim()));
        }
    }
    Ok(deps)
}

/// The latest review round that asked for changes on feature `fid`'s PR, for its prompt:
/// each reviewer's own words, every inline comment with `path:line` and its diff hunk.
fn review_feedback(events: &[crate::events::Event], fid: &str) -> String {
    let Some(e) = events
        .iter()
        .rev()
        .find(|e| e.kind == Kind::FeatureChangesRequested && e.feature.as_deref() == Some(fid))
    else {
        return String::new();
    };
    let mut p = String::new();
    {
        p.push_str(&format!(
            "## Review feedback to address (round {}, PR #{})\n\nYour branch already has the earlier work. Reviewers asked for changes; address every point below, keeping the rest of the work. The text is the reviewers' own.\n\n",
            e.data["round"].as_u64().unwrap_or(1),
            e.data["pr"].as_u64().unwrap_or(0)
        ));
        for r in e.data["reviews"].as_array().into_iter().flatten() {
            let who = r["reviewer"].as_str().unwrap_or("a reviewer");
            if r["thread"].as_bool() == Some(true) {
                p.push_str(&format!("### @{who} left an unresolved review thread\n\n"));
            } else {
                p.push_str(&format!("### @{who} requested changes\n\n"));
            }
            let body = r["body"].as_str().unwrap_or("").trim();
            if !body.is_empty() {
                for line in body.lines() {
                    p.push_str(&format!("> {line}\n"));
                }
                p.push('\n');
            }
            for c in r["comments"].as_array().into_iter().flatten() {
                let path = c["path"].as_str().unwrap_or("?");
                let line = c["line"]
                    .as_u64()
                    .map(|l| format!(":{l}"))
                    .unwrap_or_default();
                p.push_str(&format!(
                    "- `{path}{line}`: {}\n",
                    c["body"]
                        .as_str()
                        .unwrap_or("")
                        .trim()
                        .replace('\n', "\n  ")
                ));
                let hunk = c["diff_hunk"].as_str().unwrap_or("").trim_end();
                if !hunk.is_empty() {
                    let fenced = hunk.replace('\n', "\n  ").replace("```", "'''");
                    p.push_str(&format!("\n  ```diff\n  {fenced}\n  ```\n"));
                }
            }
            p.push('\n');
        }
    }
    p
}

fn strip_comments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        match rest[i..].find("-->") {
            Some(j) => rest = &rest[i + j + 3..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `status:` of a handoff's front matter.
pub fn handoff_status(text: &str) -> Option<String> {
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---")?;
    rest[..end].lines().find_map(|l| {
        l.strip_prefix("status:")
            .map(|v| v.trim().trim_matches('"').to_owned())
    })
}

/// Executes a dispatched worker run and writes its exit record. Returns the record.
pub fn execute(
    repo: &Repo,
    store: &Store,
    config: &Config,
    layout: &Layout,
    run: &str,
) -> Result<ExitRecord> {
    let dir = layout.run(run);
    let mut meta = runs::read_meta(&dir)?;
    if let Some(prev) = runs::read_exit(&dir) {
        return Ok(prev);
    }
    meta.work_pid = Some(std::process::id());
    crate::fsutil::write_json(&dir.join("meta.json"), &meta)?;
    let head = store
        .head()?
        .ok_or_else(|| Error::user(format!("mission {} has not started", meta.mission)))?;
    let wt = prepare_worktree(repo, &meta, &meta.base, &layout.worktree_dirs())?;
    crate::fault!("work.after_worktree");
    let env_commit = commit_env(repo);
    // A conflict run starts with the integration branch merged in, conflicts left in place.
    let conflict_files = if meta.conflict {
        match merge_integration(repo, &wt, &env_commit, &head.commit.to_string())? {
            Ok(files) => files,
            Err(record) => {
                crate::fsutil::write_json(&dir.join("exit.json"), &record)?;
                return Ok(record);
            }
        }
    } else {
        Vec::new()
    };
    let prompt = compose_prompt(store, &head, &meta, &conflict_files)?;
    let handoff_file = dir.join("handoff.md");
    let _ = std::fs::remove_file(&handoff_file);
    let s = |x: &Path| x.to_string_lossy().into_owned();
    let mut env: Vec<(String, String)> = vec![
        ("GIT_MISSION_ID".into(), meta.mission.clone()),
        ("GIT_MISSION_MILESTONE".into(), meta.milestone.clone()),
        (
            "GIT_MISSION_FEATURE".into(),
            meta.feature.clone().unwrap_or_default(),
        ),
        ("GIT_MISSION_RUN".into(), meta.run.clone()),
        ("GIT_MISSION_ATTEMPT".into(), meta.attempt.to_string()),
        ("GIT_MISSION_HANDOFF_FILE".into(), s(&handoff_file)),
        ("GIT_MISSION_WORKTREE".into(), s(&wt)),
    ];
    env.extend(env_commit.iter().cloned());
    let timeout = config.worker_timeout();
    let ran = AgentRun {
        config,
        clock: repo.clock(),
        role: Role::Worker,
        dir: &dir,
        cwd: &wt,
        prompt: &prompt,
        env,
    }
    .run()?;
    let (finished, outcome, not_started) = (ran.finished, ran.outcome, ran.not_started);
    crate::fault!("work.after_agent");
    let cancelled = dir.join("cancel").exists() && !finished.timed_out;

    // Whatever the agent left is committed: work is never lost.
    commit_leftovers(&wt, &env_commit, &meta, finished.timed_out, cancelled)?;
    crate::fault!("work.after_commit");
    // A retry reuses the branch, which forked from an older integration head: compare with
    // the fork point, so only the branch's own changes count.
    let reads = git::Reader::open(&wt)?;
    let fork = reads.merge_base(&meta.base, "HEAD")?;
    let changed = reads.changed_paths(&fork, "HEAD")?;
    let owned = revert_supervisor_files(&wt, &env_commit, &meta.mission, &fork, &changed)?;
    let touched_mission_file = !owned.is_empty();
    let handoff = std::fs::read_to_string(&handoff_file)
        .ok()
        .filter(|h| !h.trim().is_empty());
    let handoff_status = handoff.as_deref().and_then(handoff_status);
    let markers = if meta.conflict {
        conflict_markers(&wt, &changed)
    } else {
        Vec::new()
    };
    let failure = failure_of(&Ending {
        not_started: not_started.as_deref(),
        cancelled,
        finished: &finished,
        timeout,
        outcome: &outcome,
        owned: &owned,
        changed: &changed,
        handoff: handoff.as_deref(),
        handoff_status: handoff_status.as_deref(),
        markers: &markers,
    });
    let head_commit = reads.head_commit()?;
    let record = ExitRecord {
        finished,
        cancelled,
        outcome,
        changed,
        touched_mission_file,
        handoff,
        handoff_status,
        failure,
        head: Some(head_commit),
        finished_at: repo.clock().now_s().to_string(),
        not_started,
        log_tail: Vec::new(),
    };
    crate::fsutil::write_json(&dir.join("exit.json"), &record)?;
    crate::fault!("work.after_exit_record");
    Ok(record)
}

/// Merges the integration head into a conflict run's worktree, leaving the conflicts for the
/// agent: the conflicted files, or the failed run's record when git failed without naming any
/// (there is nothing for an agent to resolve).
fn merge_integration(
    repo: &Repo,
    wt: &Path,
    env_commit: &[(String, String)],
    integration: &str,
) -> Result<std::result::Result<Vec<String>, ExitRecord>> {
    let Err(e) = git_in(
        wt,
        env_commit,
        &["merge", "--no-edit", "--no-ff", integration],
    ) else {
        return Ok(Ok(Vec::new()));
    };
    let conflict_files: Vec<String> = git::git(wt, &["diff", "--name-only", "--diff-filter=U"])?
        .lines()
        .map(str::to_owned)
        .collect();
    if !conflict_files.is_empty() {
        return Ok(Ok(conflict_files));
    }
    let _ = git::git(wt, &["merge", "--abort"]);
    Ok(Err(ExitRecord {
        head: git::head_commit(wt).ok(),
        ..ExitRecord::failed(
            repo.clock(),
            format!(
                "merging the integration branch failed without a conflict, so no agent ran: {e}"
            ),
        )
    }))
}

/// Commits whatever the agent left in its worktree: work is never lost.
fn commit_leftovers(
    wt: &Path,
    env_commit: &[(String, String)],
    meta: &Meta,
    timed_out: bool,
    cancelled: bool,
) -> Result<()> {
    if git::git(wt, &["status", "--porcelain"])?.trim().is_empty() {
        return Ok(());
    }
    git_in(wt, env_commit, &["add", "-A"])?;
    let what = if timed_out {
        "timed out"
    } else if cancelled {
        "cancelled"
    } else {
        "finished"
    };
    let msg = format!(
        "{}: work left by run {} ({what})",
        meta.feature.as_deref().unwrap_or("?"),
        meta.run
    );
    git_in(
        wt,
        env_commit,
        &["commit", "--quiet", "--no-verify", "-m", &msg],
    )?;
    Ok(())
}

/// The supervisor's files the branch changed since `fork` (the mission file, its workspace
/// — events, run records, skills that go into later prompts — and the repository's mission
/// configuration), undone on the branch so the next attempt starts clean. The run still
/// fails: the list is returned.
fn revert_supervisor_files(
    wt: &Path,
    env_commit: &[(String, String)],
    mission: &str,
    fork: &str,
    changed: &[String],
) -> Result<Vec<String>> {
    let file = mission_file(mission);
    let workspace = format!("{MISSIONS_DIR}/{mission}/");
    let config_file = crate::config::CONFIG_FILE;
    let owned: Vec<String> = changed
        .iter()
        .filter(|c| **c == file || c.starts_with(&workspace) || *c == config_file)
        .cloned()
        .collect();
    if owned.is_empty() {
        return Ok(owned);
    }
    for path in &owned {
        let existed = git::git(wt, &["cat-file", "-e", &format!("{fork}:{path}")]).is_ok();
        if existed {
            git_in(wt, env_commit, &["checkout", fork, "--", path])?;
        } else {
            git_in(wt, env_commit, &["rm", "-q", "-f", "--", path])?;
        }
    }
    git_in(
        wt,
        env_commit,
        &[
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            "Revert the worker's changes to the mission's state (the supervisor owns it)",
        ],
    )?;
    Ok(owned)
}

/// How a worker run ended, as far as its verdict goes.
struct Ending<'a> {
    not_started: Option<&'a str>,
    cancelled: bool,
    finished: &'a process::Finished,
    timeout: std::time::Duration,
    outcome: &'a agents::Outcome,
    /// The supervisor's files it changed (undone).
    owned: &'a [String],
    changed: &'a [String],
    handoff: Option<&'a str>,
    handoff_status: Option<&'a str>,
    /// Files of a conflict run that still hold conflict markers.
    markers: &'a [String],
}

/// Why the run failed, the first reason that applies; `None` when it succeeded.
fn failure_of(e: &Ending) -> Option<String> {
    if let Some(why) = e.not_started {
        Some(why.to_owned())
    } else if e.cancelled {
        Some("cancelled".to_owned())
    } else if e.finished.timed_out {
        Some(format!(
            "timed out after {}",
            humantime::format_duration(e.timeout)
        ))
    } else if !e.outcome.success {
        Some(
            e.outcome
                .error
                .clone()
                .unwrap_or_else(|| "the agent reported an error".into()),
        )
    } else if !e.owned.is_empty() {
        Some(format!(
            "the diff touches the mission's state, which the supervisor owns: {}",
            e.owned.join(", ")
        ))
    } else if e.changed.is_empty() && e.handoff.is_none() {
        Some("no changes and no handoff: the run did nothing".into())
    } else if e.handoff_status == Some("blocked") {
        Some("the worker reported itself blocked (see its handoff)".into())
    } else if !e.markers.is_empty() {
        Some(format!(
            "conflict markers remain in {}",
            e.markers.join(", ")
        ))
    } else {
        None
    }
}

fn conflict_markers(wt: &Path, files: &[String]) -> Vec<String> {
    files
        .iter()
        .filter(|f| {
            std::fs::read_to_string(wt.join(f)).is_ok_and(|t| {
                t.lines()
                    .any(|l| l.starts_with("<<<<<<< ") || l.starts_with(">>>>>>> "))
            })
        })
        .cloned()
        .collect()
}

/// The mission's id for messages.
pub fn describe(m: &Mission) -> String {
    format!("{} ({})", m.id, m.title)
}

/// One agent run, for any role: the prompt file, private home and temp dirs under `dir`, the
/// `GIT_MISSION_*` variables given in `env`, an allowlisted environment (`agents::env`), the
/// user's login and settings for that agent copied into its private home for the run
/// (`agents::home`), this executable first on `PATH` (so the agent can call `git mission`), the
/// role's timeout, and the adapter's verdict.
pub struct AgentRun<'a> {
    pub config: &'a Config,
    pub clock: &'a crate::env::Clock,
    pub role: Role,
    pub dir: &'a Path,
    pub cwd: &'a Path,
    pub prompt: &'a str,
    pub env: Vec<(String, String)>,
}

/// What an agent run ended with.
pub struct AgentResult {
    pub finished: process::Finished,
    pub outcome: agents::Outcome,
    /// The agent's program could not be started (the message says why): nothing ran.
    pub not_started: Option<String>,
}

impl AgentRun<'_> {
    pub fn run(self) -> Result<AgentResult> {
        let dir = self.dir;
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let prompt_file = dir.join("prompt.md");
        std::fs::write(&prompt_file, self.prompt).map_err(Error::io(&prompt_file))?;
        let home = dir.join("home");
        let tmp = dir.join("tmp");
        let mut spec = agents::agent_spec(self.config, self.role)?;
        let adapter = agents::adapter(&spec.agent)
            .ok_or_else(|| Error::user(format!("no adapter for agent {:?}", spec.agent)))?;
        for d in [&tmp]
            .into_iter()
            .chain(adapter.private_home().then_some(&home))
        {
            std::fs::create_dir_all(d).map_err(Error::io(d))?;
        }
        let user = agents::UserHome::of(self.config);
        if spec.model.is_none() {
            spec.model = adapter.default_model(&user);
        }
        let inv = adapter.invocation(&spec, self.role, &prompt_file, &home);
        if inv.argv.is_empty() {
            return Err(Error::user_hint(
                format!(
                    "the {} agent {:?} has no command",
                    self.role.as_str(),
                    spec.agent
                ),
                "give the exec profile a `command: [\"program\", \"arg\"]`",
            ));
        }
        let mut env = agents::env::allowed(
            user.vars(),
            &adapter.env_allowlist(),
            &adapter.referenced_env(&user),
            &spec.pass_env,
        );
        let mut set = |k: &str, v: String| {
            env.retain(|(name, _)| name != k);
            env.push((k.to_owned(), v));
        };
        // `-c` reaches the agent's own `git mission` commands as the environment layer.
        for (k, v) in self.config.overrides().as_env() {
            set(&k, v);
        }
        for (k, v) in self.env {
            set(&k, v);
        }
        set("GIT_MISSION_ROLE", self.role.as_str().into());
        set(
            "GIT_MISSION_PROMPT_FILE",
            prompt_file.to_string_lossy().into_owned(),
        );
        set("TMPDIR", tmp.to_string_lossy().into_owned());
        set("PATH", agents::agent_path(&user));
        for (k, v) in adapter.inherited_env(&user).iter().chain(&inv.env) {
            set(k, v.clone());
        }
        let timeout = self.config.worker_timeout();
        let pspec = process::Spec {
            argv: inv.argv.clone(),
            cwd: self.cwd.to_owned(),
            env,
            clear_env: true,
            stdin: inv.prompt_on_stdin.then(|| prompt_file.clone()),
            stdout: dir.join("stdout.log"),
            stderr: dir.join("stderr.log"),
            timeout: Some(timeout),
            grace: Duration::from_secs(5),
            pgid_file: Some(dir.join("agent.pgid")),
        };
        agents::home::seed(dir, &adapter.seeds(&user, &home))?;
        let cancel = dir.join("cancel");
        let ran = process::run(&pspec, &|| cancel.exists(), self.clock);
        // The copies of the user's login go as soon as the agent is gone.
        agents::home::unseed(dir);
        let fin = match ran {
            Ok(fin) => fin,
            // A start that failed because the worktree is gone is not a missing agent.
            Err(Error::Spawn { program, source }) if self.cwd.is_dir() => {
                let why = format!(
                    "the {} agent {:?} cannot start: `{program}`: {source}",
                    self.role.as_str(),
                    spec.agent
                );
                return Ok(AgentResult {
                    finished: process::Finished::default(),
                    outcome: agents::Outcome {
                        success: false,
                        error: Some(why.clone()),
                        ..agents::Outcome::default()
                    },
                    not_started: Some(why),
                });
            }
            Err(e) => return Err(e),
        };
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap_or_default();
        let mut outcome = adapter.parse(&read("stdout.log"), &read("stderr.log"), fin.code);
        if outcome.usage.usd.is_none()
            && outcome.usage.total_tokens() > 0
            && let Some(m) = outcome.usage.model.clone().or(spec.model.clone())
        {
            let u = &outcome.usage;
            outcome.usage.usd = agents::prices::estimate_usd(
                &m,
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.cache_write_tokens,
            );
            outcome.usage.usd_estimated = outcome.usage.usd.is_some();
        }
        Ok(AgentResult {
            finished: fin,
            outcome,
            not_started: None,
        })
    }
}

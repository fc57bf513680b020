//! `git mission run`, `pulse` and `work`: the supervisor from the command line.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::error::{Error, Result};
use crate::runs::Layout;
use crate::store::Store;
use crate::supervisor::{self, RunEnd};
use crate::workspace::check_mission_id;

use super::{Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Mission id
    pub id: String,
}

#[derive(Debug, clap::Args)]
pub struct PulseArgs {
    /// Mission id
    #[arg(required_unless_present = "all")]
    pub id: Option<String>,
    /// Every mission that is approved or running
    #[arg(long, conflicts_with = "id")]
    pub all: bool,
    /// Print the planned actions without taking them
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub struct WorkArgs {
    /// Mission id
    pub id: String,
    /// Feature id
    pub feature: String,
    /// Execute this already dispatched run (used by the supervisor, and by the worker
    /// workflow on Actions runners with `dispatch: actions`)
    #[arg(long, value_name = "RUN-ID")]
    pub run: Option<String>,
}

pub fn run(cx: &Ctx, a: &RunArgs) -> Result<u8> {
    check_mission_id(&a.id)?;
    let ws = cx.workspace()?;
    let quiet = cx.out.quiet || cx.out.json;
    let progress = (!quiet && std::io::stderr().is_terminal()).then(|| Progress::start(cx, &a.id));
    let end = supervisor::run(&ws, &a.id, &cx.overrides(), &mut |action| {
        if !quiet {
            let why = failure_of(&ws, &a.id, action);
            let _held = progress.as_ref().map(Progress::clear);
            cx.out.note(&format!("· {action}{why}"));
        }
    });
    drop(progress);
    let end = end?;
    let status = Store::new(&ws.repo, &a.id)
        .head()?
        .map(|h| h.mission().status);
    match end {
        RunEnd::Completed => {
            if cx.out.json {
                cx.out
                    .json(&json!({ "id": a.id, "status": status, "stopped": false }));
            } else {
                cx.out.data(&format!("mission {} completed", a.id));
            }
            Ok(exit::OK)
        }
        RunEnd::Stopped { status, reason } => {
            if cx.out.json {
                cx.out.json(
                    &json!({ "id": a.id, "status": status, "stopped": true, "reason": reason }),
                );
            }
            cx.out
                .warning(&format!("mission {} stopped ({status}): {reason}", a.id));
            cx.out.hint(&format!(
                "see `git mission status {}` for what to do next",
                a.id
            ));
            Ok(exit::STOPPED)
        }
    }
}

/// Why the attempt an action line is about failed, from the event that recorded it: for a
/// recorded run that failed, ` — failed: …`; for a retry, ` — attempt N failed: …`.
pub(super) fn failure_of(
    ws: &crate::workspace::Workspace,
    id: &str,
    action: &crate::action::Action,
) -> String {
    use crate::action::Action;
    let (run, feature, prefix) = match action {
        Action::Record { run, .. } => (Some(run.as_str()), None, "failed".to_owned()),
        Action::Dispatch {
            feature, attempt, ..
        } if *attempt > 1 => (
            None,
            Some((feature.as_str(), attempt - 1)),
            format!("attempt {} failed", attempt - 1),
        ),
        _ => return String::new(),
    };
    // The events alone: the mission file need not be parsed for an action line.
    let Ok(events) = Store::new(&ws.repo, id).events() else {
        return String::new();
    };
    events
        .iter()
        .rev()
        .filter(|e| e.kind.is_run_outcome())
        .find(|e| match (run, feature) {
            (Some(r), _) => e.run.as_deref() == Some(r),
            (None, Some((f, n))) => e.feature.as_deref() == Some(f) && e.attempt == Some(n),
            _ => false,
        })
        .and_then(|e| e.data["failure"].as_str())
        .map(|f| format!(" — {prefix}: {}", f.lines().next().unwrap_or("")))
        .unwrap_or_default()
}

/// The live line under `run`'s action lines on a terminal: milestone, features merged of
/// all, workers running, spending against the budget, time. Redrawn every second by a thread
/// that reads the integration branch; cleared before each action line and at the end.
struct Progress {
    stop: Arc<AtomicBool>,
    /// Held while writing to stderr, so a line is never cut by another.
    lock: Arc<Mutex<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    fn start(cx: &Ctx, id: &str) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let lock = Arc::new(Mutex::new(()));
        let (dir, env, id, ov) = (
            cx.dir.clone(),
            cx.env.clone(),
            id.to_owned(),
            cx.overrides(),
        );
        let (s, l) = (stop.clone(), lock.clone());
        let thread = std::thread::spawn(move || {
            let Ok(ws) = crate::workspace::Workspace::open(&dir, env.clone()) else {
                return;
            };
            let store = Store::new(&ws.repo, &id);
            let budget = crate::config::Config::load(&ws.repo, None, &ov)
                .map(|c| c.budget())
                .unwrap_or_default();
            let started = env.clock.instant();
            let branch = crate::workspace::integration_branch(&id);
            // The mission as of the head last read: parsed again only when the branch moved.
            let mut seen: Option<(String, crate::mission::Mission)> = None;
            while !s.load(Ordering::Relaxed) {
                let commit = ws.repo.branch_head(&branch).ok().flatten();
                if commit.is_some()
                    && commit != seen.as_ref().map(|(c, _)| c.clone())
                    && let Ok(Some(h)) = store.head()
                {
                    seen = Some((h.commit.to_string(), h.mission().clone()));
                }
                if let Some((_, m)) = &seen {
                    let line = progress_line(m, &budget, env.clock.instant() - started);
                    let _g = l.lock();
                    if !s.load(Ordering::Relaxed) {
                        eprint!("\r\x1b[2K{line}");
                    }
                }
                std::thread::park_timeout(Duration::from_secs(1));
            }
        });
        Progress {
            stop,
            lock,
            thread: Some(thread),
        }
    }

    /// Clears the line and holds stderr for the caller's own line.
    fn clear(&self) -> std::sync::MutexGuard<'_, ()> {
        let g = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        eprint!("\r\x1b[2K");
        g
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
        drop(self.clear());
    }
}

/// `M2 · 3/5 merged · 2 running · $1.20 of $10.00 · 4:05`.
fn progress_line(
    m: &crate::mission::Mission,
    budget: &crate::mission::Budget,
    elapsed: Duration,
) -> String {
    use crate::mission::{FeatureStatus, MilestoneStatus};
    let milestone = m
        .milestones
        .iter()
        .find(|ms| {
            matches!(
                ms.status,
                MilestoneStatus::Active | MilestoneStatus::Validating
            )
        })
        .map(|ms| format!("{} {}", ms.id, ms.status))
        .unwrap_or_else(|| m.status.to_string());
    let total = m.features().count();
    let merged = m
        .features()
        .filter(|(_, f)| f.status == FeatureStatus::Merged)
        .count();
    let running = m
        .features()
        .filter(|(_, f)| f.status == FeatureStatus::Running)
        .count();
    let spent = match budget.usd {
        Some(l) => format!("${:.2} of ${l:.2}", m.spent.usd),
        None => format!("${:.2}", m.spent.usd),
    };
    let secs = elapsed.as_secs();
    format!(
        "{milestone} · {merged}/{total} merged · {running} running · {spent} · {}:{:02}",
        secs / 60,
        secs % 60
    )
}

pub fn pulse(cx: &Ctx, a: &PulseArgs) -> Result<u8> {
    let ws = cx.workspace()?;
    let ids = match &a.id {
        Some(id) => vec![id.clone()],
        None => ws.list_ids()?,
    };
    let ov = cx.overrides();
    let mut out = Vec::new();
    let mut stopped = false;
    let mut failed = false;
    let exe = supervisor::current_exe(&ws)?;
    let (tx, _rx) = std::sync::mpsc::channel();
    for id in &ids {
        if a.dry_run {
            let actions = supervisor::dry_run(&ws, id, &ov)?;
            out.push(json!({ "id": id, "actions": actions.iter().map(ToString::to_string).collect::<Vec<_>>() }));
            if !cx.out.json {
                for act in &actions {
                    cx.out.data(&format!("{id}: {act}"));
                }
                if actions.is_empty() {
                    cx.out.data(&format!("{id}: nothing to do"));
                }
            }
            continue;
        }
        let r = match supervisor::pulse(&ws, id, &ov, &exe, &tx) {
            Ok(r) => r,
            Err(e) if a.all => {
                // One broken mission must not stop the others.
                cx.out.warning(&format!("{id}: {e}"));
                failed = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        stopped |= matches!(
            r.status,
            crate::mission::MissionStatus::Blocked | crate::mission::MissionStatus::Paused
        );
        if !cx.out.json {
            for act in &r.actions {
                cx.out.data(&format!("{id}: {act}"));
            }
        }
        out.push(json!({ "id": id, "status": r.status, "running": r.running, "actions": r.actions.iter().map(ToString::to_string).collect::<Vec<_>>() }));
    }
    if cx.out.json {
        cx.out.json(&out);
    }
    Ok(if failed {
        exit::USER
    } else if stopped && a.id.is_some() {
        exit::STOPPED
    } else {
        exit::OK
    })
}

pub fn work(cx: &Ctx, a: &WorkArgs) -> Result<u8> {
    check_mission_id(&a.id)?;
    if !crate::mission::ids::is_feature_id(&a.feature) {
        return Err(Error::user_hint(
            format!("invalid feature id {:?}", a.feature),
            "feature ids look like F1, F2b",
        ));
    }
    let ws = cx.workspace()?;
    let store = Store::new(&ws.repo, &a.id).remembering();
    let layout = cx.layout(&ws, &a.id)?;
    let ov = cx.overrides();
    // A run dispatched to Actions (`dispatch: actions`) has no run directory on the runner:
    // adopt it from the mission's log, fetched from GitHub.
    let remote = a
        .run
        .as_ref()
        .filter(|r| !layout.run(r).join("meta.json").exists());
    // With `forge: github`, every state commit this process makes (the run's record) is
    // pushed with a lease like a pulse's, so a local worker never leaves the clone diverged.
    let forge = {
        let cur = crate::pulse::observe::current(&ws, &store, &ov)?;
        supervisor::open_forge(&ws, &store, &cur.config)?
    };
    let store = match &forge {
        Some(f) => {
            f.sync()?;
            store.publishing(f)
        }
        None => store,
    };
    let run = match &a.run {
        Some(r) => {
            if !crate::mission::ids::is_run_id(r) {
                return Err(Error::user(format!("invalid run id {r:?}")));
            }
            if let Some(f) = forge.as_ref().filter(|_| remote.is_some())
                && !adopt(&ws, &store, &layout, &ov, f, &a.feature, r)?
            {
                let msg = format!(
                    "{} run {r}: already recorded or no longer wanted; nothing to do",
                    a.feature
                );
                if cx.out.json {
                    cx.out
                        .json(&json!({ "run": r, "feature": a.feature, "skipped": true }));
                } else {
                    cx.out.data(&msg);
                }
                return Ok(exit::OK);
            }
            r.clone()
        }
        None => {
            // Dispatch it here, then execute it in this process.
            let o = crate::pulse::observe::observe(
                &ws,
                &store,
                &layout,
                crate::pulse::observe::current(&ws, &store, &ov)?,
                &crate::forge::local::LocalForge,
            )?;
            let f = o
                .snapshot
                .mission
                .feature(&a.feature)
                .map(|(_, f)| f.clone())
                .ok_or_else(|| {
                    Error::user(format!("mission {} has no feature {}", a.id, a.feature))
                })?;
            if f.status != crate::mission::FeatureStatus::Pending {
                return Err(Error::user(format!(
                    "{} is {}, not pending",
                    a.feature, f.status
                )));
            }
            let mut ex = crate::context::Exec {
                ws: &ws,
                store: &store,
                layout: &layout,
                config: &o.config,
                exe: supervisor::current_exe(&ws)?,
                children: Vec::new(),
                forge: &crate::forge::local::LocalForge,
            };
            ex.dispatch_here(&a.feature, f.attempts + 1)?.ok_or_else(|| Error::user(format!("{} cannot be dispatched now (mission not running, milestone not active, dependencies not merged, or no free worker slot)", a.feature)))?
        }
    };
    let head = store
        .head()?
        .ok_or_else(|| Error::user(format!("mission {} has not started", a.id)))?;
    let config =
        crate::config::Config::load(&ws.repo, Some((head.mission(), store.file.as_str())), &ov)?;
    let record = crate::worker::execute(&ws.repo, &store, &config, &layout, &run)?;
    if let Some(f) = forge.as_ref().filter(|_| remote.is_some()) {
        // On a runner the branch goes up before the result: a recorded success always has its
        // branch there. A failed push leaves the run unrecorded; the pulse counts it lost.
        // (Here, the pulse that merges pushes it.)
        let branch = crate::workspace::feature_branch(&a.id, &a.feature);
        if ws.repo.branch_head(&branch)?.is_some() {
            match f.remote.push(&ws.repo.root, &branch) {
                Ok(()) => {}
                Err(e) if record.failure.is_none() => return Err(e),
                Err(e) => cx
                    .out
                    .warning(&format!("could not push {branch} after a failed run: {e}")),
            }
        }
    }
    let mut ex = crate::context::Exec {
        ws: &ws,
        store: &store,
        layout: &layout,
        config: &config,
        exe: supervisor::current_exe(&ws)?,
        children: Vec::new(),
        forge: &crate::forge::local::LocalForge,
    };
    ex.record(&run, Some(&a.feature), false)?;
    if cx.out.json {
        cx.out.json(&json!({ "run": run, "feature": a.feature, "failure": record.failure, "exit": record.finished }));
    } else {
        match &record.failure {
            None => cx.out.data(&format!("{} run {run}: done", a.feature)),
            Some(f) => cx
                .out
                .data(&format!("{} run {run}: failed: {f}", a.feature)),
        }
    }
    Ok(if record.failure.is_none() {
        exit::OK
    } else {
        exit::USER
    })
}

/// Makes the run directory of a run dispatched to Actions, from the mission's log. `false`:
/// the run is already recorded or its feature is no longer running (a late or repeated
/// workflow run), so there is nothing to do.
fn adopt(
    ws: &crate::workspace::Workspace,
    store: &Store,
    layout: &Layout,
    ov: &crate::config::Overrides,
    forge: &crate::forge::github::Forge,
    feature: &str,
    run: &str,
) -> Result<bool> {
    let head = store
        .head()?
        .ok_or_else(|| Error::user(format!("mission {} has not started", store.id)))?;
    let Some(d) = crate::events::dispatch_of(&head.events, run) else {
        return Err(Error::user_hint(
            format!("mission {} never dispatched run {run}", store.id),
            "the worker workflow runs only runs a pulse dispatched (dispatch: actions)",
        ));
    };
    if d.feature.as_deref() != Some(feature) {
        return Err(Error::user(format!("run {run} is not a run of {feature}")));
    }
    if crate::events::run_recorded(&head.events, run) {
        return Ok(false);
    }
    let Some((ms, f)) = head.mission().feature(feature) else {
        return Ok(false);
    };
    if f.status != crate::mission::FeatureStatus::Running {
        return Ok(false);
    }
    // A retry continues from the branch an earlier attempt pushed.
    let branch = crate::workspace::feature_branch(&store.id, feature);
    if ws.repo.branch_head(&branch)?.is_none()
        && let Some(r) = forge.remote.fetched(&ws.repo.root, &branch)?
    {
        crate::git::git(
            &ws.repo.root,
            &["update-ref", &format!("refs/heads/{branch}"), &r, ""],
        )?;
    }
    let config =
        crate::config::Config::load(&ws.repo, Some((head.mission(), store.file.as_str())), ov)?;
    let agent = crate::agents::agent_spec(&config, crate::agents::Role::Worker)
        .map(|s| s.agent)
        .unwrap_or_else(|_| "none".into());
    let meta = crate::runs::Meta {
        run: run.to_owned(),
        mission: store.id.clone(),
        role: crate::agents::Role::Worker,
        milestone: ms.id.clone(),
        feature: Some(feature.to_owned()),
        attempt: d.attempt.unwrap_or(1),
        agent,
        base: head.commit.to_string(),
        branch: Some(branch),
        worktree: layout.worktree(feature),
        started: ws.repo.clock().now_s().to_string(),
        work_pid: None,
        conflict: d.data["conflict"].as_bool().unwrap_or(false),
    };
    let dir = layout.run(run);
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    crate::fsutil::write_json(&dir.join("meta.json"), &meta)?;
    Ok(true)
}

//! The supervisor: pulses (observe → plan → execute) and the `run` loop that repeats them,
//! woken at once when a worker it started exits and otherwise on a short timer.

use crate::events::Kind;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use crate::config::Overrides;
use crate::context::Exec;
use crate::error::{Error, Result};
use crate::mission::MissionStatus;
use crate::pulse::observe::{current, observe};
use crate::pulse::{Action, plan};
use crate::runs::Layout;
use crate::store::Store;
use crate::store::lock::RunLock;
use crate::workspace::{Workspace, check_mission_id};

/// What one pulse did.
#[derive(Debug, Clone)]
pub struct PulseReport {
    pub actions: Vec<Action>,
    pub status: MissionStatus,
    /// Runs of this mission still alive on this machine.
    pub running: usize,
    /// Waiting on the forge (PR checks, mergeability, a land PR, Actions workers): not idle.
    pub waiting: bool,
    /// Another supervisor holds a claim this one would act on, or a merge backs off: not idle.
    pub held: bool,
}

/// The forge a mission's configuration names, as a pulse uses it.
pub fn forge_for(
    ws: &Workspace,
    store: &Store,
    config: &crate::config::Config,
) -> Result<Box<dyn crate::context::Forge>> {
    Ok(match open_forge(ws, store, config)? {
        Some(f) => Box::new(crate::forge::github::execute::GitHubForge::new(f)),
        None => Box::new(crate::forge::local::LocalForge),
    })
}

/// The GitHub forge for a mission, when its configuration says so.
pub fn open_forge(
    ws: &Workspace,
    store: &Store,
    config: &crate::config::Config,
) -> Result<Option<crate::forge::github::Forge>> {
    if !crate::forge::github::enabled(config) {
        return Ok(None);
    }
    crate::forge::github::Forge::open(&ws.repo, config, &store.id).map(Some)
}

/// Where `git-mission` itself is, to start detached workers (as the CLI found it).
pub fn current_exe(ws: &Workspace) -> Result<PathBuf> {
    Ok(ws.repo.env().exe.clone())
}

/// The actions a pulse would take, without taking them.
pub fn dry_run(ws: &Workspace, id: &str, ov: &Overrides) -> Result<Vec<Action>> {
    check_mission_id(id)?;
    let store = Store::new(&ws.repo, id);
    let cur = current(ws, &store, ov)?;
    let layout = Layout::new(&ws.repo, &cur.config, id)?;
    let forge = forge_for(ws, &store, &cur.config)?;
    let o = observe(ws, &store, &layout, cur, forge.as_ref())?;
    Ok(plan(&o.snapshot))
}

/// One pulse. Workers it starts are returned through `children` for `run` to wait on.
pub fn pulse(
    ws: &Workspace,
    id: &str,
    ov: &Overrides,
    exe: &std::path::Path,
    sink: &mpsc::Sender<String>,
) -> Result<PulseReport> {
    check_mission_id(id)?;
    let store = Store::new(&ws.repo, id).remembering();
    let mut cur = current(ws, &store, ov)?;
    let layout = Layout::new(&ws.repo, &cur.config, id)?;
    let forge = forge_for(ws, &store, &cur.config)?;
    // The Budget block of the mission body follows the spending in the same commits.
    let store = store.keeping_budget(cur.config.budget());
    // GitHub: every state change is pushed as soon as it is committed.
    let store = match forge.publisher() {
        Some(p) => store.publishing(p),
        None => store,
    };
    if let Some(dropped) = forge.sync()? {
        // The sync may move the integration head: read the mission again.
        if !dropped.is_empty() {
            // Each commit only this clone had is applied again on the remote's state, so no
            // run record or decision is lost; the log says what was repaired.
            let mut repaired = Vec::new();
            for c in &dropped {
                let outcome = match store.replay(c)? {
                    Some(conflicts) => serde_json::json!({ "commit": c, "kept_theirs": conflicts }),
                    None => serde_json::json!({ "commit": c, "skipped": true }),
                };
                repaired.push(outcome);
            }
            store.mutate("state: repaired from the remote", |tx| {
                tx.event(
                    crate::events::Event::new(Kind::StateRepaired)
                        .data(serde_json::json!({ "replayed": repaired })),
                );
                Ok(true)
            })?;
        }
        cur = current(ws, &store, ov)?;
    }
    let o = observe(ws, &store, &layout, cur, forge.as_ref())?;
    let actions = plan(&o.snapshot);
    let mut ex = Exec {
        ws,
        store: &store,
        layout: &layout,
        config: &o.config,
        exe: exe.to_owned(),
        children: Vec::new(),
        forge: forge.as_ref(),
    };
    let mut result = Ok(());
    for a in &actions {
        result = ex.execute(a);
        if result.is_err() {
            break;
        }
    }
    // The forge publishes what it shows and the state, even after an error.
    let result = forge.finish(&ex, result);
    let waiting = o.snapshot.forge.waiting(&o.snapshot.mission);
    for (run, mut child) in ex.children.drain(..) {
        let tx = sink.clone();
        std::thread::spawn(move || {
            let _ = child.wait();
            let _ = tx.send(run);
        });
    }
    // Who is told what happened: after the actions, so a notification never delays them, and
    // a delivery that fails is recorded, never an error of the pulse.
    if let Err(e) = crate::notify::notify(&store, &o.config, &layout) {
        tracing::warn!("notify: {e}");
    }
    result?;
    tidy(ws, &layout, &store);
    let head = store.head()?;
    let status = match &head {
        Some(h) => h.mission().status,
        None => o.snapshot.mission.status,
    };
    // Runs the log recorded are over but for their worker's last moments: not read.
    let recorded = head
        .as_ref()
        .map(|h| crate::events::recorded_runs(&h.events))
        .unwrap_or_default();
    let running = layout.running(|run| !recorded.contains(run));
    let held = o.snapshot.forge.held() || !o.snapshot.validating.is_empty();
    Ok(PulseReport {
        actions,
        status,
        running,
        waiting,
        held,
    })
}

/// Removes what finished work left behind: scratch worktrees whose process is gone (or is this
/// one, whose actions are over), and the clean worktrees of merged or skipped features (a crash
/// between a merge and its cleanup leaves one) whose worker is gone. Nothing with uncommitted
/// changes is touched.
fn tidy(ws: &Workspace, layout: &Layout, store: &Store) {
    let me = std::process::id();
    for e in std::fs::read_dir(layout.scratch())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('.').nth(1).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me || !crate::store::lock::pid_alive(pid) {
            ws.repo.remove_worktree(&e.path());
        }
    }
    let Ok(Some(head)) = store.head() else { return };
    // Features whose worker still lives: it removes its worktree itself after the commit that
    // merged it (read only when a merged feature's worktree is there).
    let mut working: Option<Vec<String>> = None;
    for (_, f) in head.mission().features() {
        if !matches!(
            f.status,
            crate::mission::FeatureStatus::Merged | crate::mission::FeatureStatus::Skipped
        ) {
            continue;
        }
        let wt = layout.worktree(&f.id);
        if !wt.exists() {
            continue;
        }
        let working = working.get_or_insert_with(|| {
            layout
                .list_where(|_| true)
                .into_iter()
                .filter(|(_, state)| matches!(state, crate::runs::RunState::Running { .. }))
                .filter_map(|(meta, _)| meta.feature)
                .collect()
        });
        if working.contains(&f.id) {
            continue;
        }
        let clean =
            crate::git::git(&wt, &["status", "--porcelain"]).is_ok_and(|s| s.trim().is_empty());
        if clean {
            let _ = ws.repo.force_remove_worktree(&wt);
        }
    }
}

/// How `run` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    Completed,
    Stopped {
        status: MissionStatus,
        reason: String,
    },
}

/// The local supervisor loop: pulses until the mission completes, blocks, pauses or runs out
/// of budget; running workers are waited for and recorded before it returns.
pub fn run(
    ws: &Workspace,
    id: &str,
    ov: &Overrides,
    on_action: &mut dyn FnMut(&Action),
) -> Result<RunEnd> {
    check_mission_id(id)?;
    let config = current(ws, &Store::new(&ws.repo, id), ov)?.config;
    let layout = Layout::new(&ws.repo, &config, id)?;
    let (mut lock, replaced) = RunLock::acquire(&layout.lock(), ws.repo.env())?;
    crate::fault!("run.after_lock");
    if let Some(dead) = replaced {
        tracing::warn!(
            "a previous `git mission run` (pid {} on {}) died; taking over its mission",
            dead.pid,
            dead.host
        );
    }
    let exe = current_exe(ws)?;
    let (tx, rx) = mpsc::channel::<String>();
    let mut idle = 0;
    let mut forge_errors = 0;
    let (poll, land_auto) = (
        config.duration("github.poll", Duration::from_secs(30)),
        // With `land: auto` on GitHub, `run` stays until the land PR is merged.
        config.get_str("land") == Some("auto"),
    );
    loop {
        lock.heartbeat();
        let report = match pulse(ws, id, ov, &exe, &tx) {
            Ok(r) => {
                forge_errors = 0;
                r
            }
            // GitHub trouble is transient for a supervisor: the next pulse observes again.
            Err(e @ (Error::GitHub(_) | Error::Store(_))) if forge_errors < 30 => {
                forge_errors += 1;
                tracing::warn!("{e}; pulsing again");
                std::thread::sleep(poll.max(Duration::from_millis(100)));
                continue;
            }
            Err(e) => return Err(e),
        };
        for a in &report.actions {
            on_action(a);
        }
        match report.status {
            MissionStatus::Completed if report.running == 0 && !(report.waiting && land_auto) => {
                return Ok(RunEnd::Completed);
            }
            MissionStatus::Draft => {
                return Err(Error::user_hint(
                    format!("mission {id} is not approved"),
                    format!("git mission approve {id}, commit it, then run again"),
                ));
            }
            MissionStatus::Blocked | MissionStatus::Paused | MissionStatus::Cancelled
                if report.running == 0 && report.actions.is_empty() =>
            {
                let store = Store::new(&ws.repo, id);
                let reason = store
                    .head()?
                    .and_then(|h| h.mission().block.clone())
                    .map(|b| format!("{}: {}", b.reason, b.message))
                    .unwrap_or_else(|| report.status.to_string());
                return Ok(RunEnd::Stopped {
                    status: report.status,
                    reason,
                });
            }
            _ => {}
        }
        if report.actions.is_empty() && report.running == 0 && report.held {
            // Another supervisor is merging or validating (or a merge backs off): look again
            // soon, not idle.
            idle = 0;
            let _ = rx.recv_timeout(Duration::from_millis(250));
            continue;
        }
        if report.actions.is_empty() && report.running == 0 && report.waiting {
            // Waiting on GitHub (checks, mergeability): poll, not idle.
            idle = 0;
            std::thread::sleep(poll);
            continue;
        }
        if report.actions.is_empty() && report.running == 0 {
            idle += 1;
            // Several quiet pulses in a row (another supervisor may be committing meanwhile).
            if idle > 20 {
                return Err(Error::Internal(format!(
                    "mission {id} makes no progress (status {}) and nothing is running",
                    report.status
                )));
            }
        } else {
            idle = 0;
        }
        if !report.actions.is_empty() && report.running == 0 {
            continue; // more to do at once
        }
        // Woken by a worker's exit; the timer covers adopted workers and other processes.
        let _ = rx.recv_timeout(Duration::from_millis(if report.running > 0 {
            1000
        } else {
            50
        }));
        while rx.try_recv().is_ok() {}
    }
}

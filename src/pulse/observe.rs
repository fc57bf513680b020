//! `observe`: everything a pulse plans from, read once — the mission at the integration head
//! (or the approved file before it starts), the configuration, the run directories of this
//! machine and the processes behind them.

use crate::events::Kind;
use std::collections::{HashMap, HashSet};

use crate::config::{Config, Overrides};
use crate::error::Result;
use crate::events::Event;
use crate::mission::{FeatureStatus, Mission, Mode};
use crate::runs::{Layout, RunState};
use crate::store::{Head, Store};
use crate::workspace::Workspace;

use super::plan::{ObservedRun, RunObs, Snapshot};

/// What was observed, with the handles the executor needs.
pub struct Observed {
    pub snapshot: Snapshot,
    pub config: Config,
    pub file: String,
}

/// The mission as it stands: the integration head (once started) or else the file in the
/// work tree, its path and its effective configuration.
pub struct Current {
    pub at: At,
    pub file: String,
    pub config: Config,
}

/// Where the mission was read. The mission is not copied out of the head: a 10,000-feature
/// copy was a tenth of a pulse.
pub enum At {
    Head(Box<Head>),
    WorkTree(Box<Mission>),
}

impl At {
    pub fn mission(&self) -> &Mission {
        match self {
            At::Head(h) => h.mission(),
            At::WorkTree(m) => m,
        }
    }
}

impl Current {
    pub fn head(&self) -> Option<&Head> {
        match &self.at {
            At::Head(h) => Some(h),
            At::WorkTree(_) => None,
        }
    }
}

pub fn current(ws: &Workspace, store: &Store, ov: &Overrides) -> Result<Current> {
    let (at, file) = match store.head()? {
        Some(h) => (At::Head(Box::new(h)), store.file.clone()),
        None => {
            let l = ws.load(&store.id, false)?;
            (At::WorkTree(Box::new(l.doc.mission)), l.file)
        }
    };
    let config = Config::load(&ws.repo, Some((at.mission(), file.as_str())), ov)?;
    Ok(Current { at, file, config })
}

pub fn observe(
    ws: &Workspace,
    store: &Store,
    layout: &Layout,
    current: Current,
    forge: &dyn crate::context::Forge,
) -> Result<Observed> {
    // Located only when there is an error to report (rare): the span index costs a pass.
    let corrupt = current.head().and_then(|h| {
        let profiles = current.config.profile_names();
        let v = crate::mission::validate::errors_unlocated(&h.doc, Some(&store.id), &profiles);
        if !v
            .iter()
            .any(|d| d.severity == crate::mission::Severity::Error)
        {
            return None;
        }
        crate::mission::validate::validate(&h.doc, Some(&store.id), &profiles)
            .into_iter()
            .find(|d| d.severity == crate::mission::Severity::Error)
            .map(|d| d.display(&current.file).to_string().replace('\n', " "))
    });
    let Current { at, file, config } = current;
    let started = matches!(at, At::Head(_));
    // The snapshot owns the mission: moved out of the head, which is not needed any more.
    let (mission, events) = match at {
        At::Head(h) => {
            let Head { doc, events, .. } = *h;
            // Owned by the head alone unless this process keeps the state for its next reads
            // (it committed it, or a pulse read it): then it is shared, and copied.
            let mission = match std::sync::Arc::try_unwrap(doc) {
                Ok(doc) => doc.mission,
                Err(shared) => shared.mission.clone(),
            };
            (mission, std::sync::Arc::unwrap_or_clone(events))
        }
        At::WorkTree(m) => (*m, Vec::new()),
    };
    let events: &[Event] = &events;
    // Runs the log has recorded are done with: their directories are not read.
    let recorded = crate::events::recorded_runs(events);
    // A worker run the log never dispatched is a dispatch being committed, or one that lost
    // its race (its pulse removes the directory): not a run yet, and never taken for lost
    // while its pulse may still be at it (see `Exec::record`).
    let dispatched: HashSet<&str> = events
        .iter()
        .filter(|e| e.kind == crate::events::Kind::FeatureDispatched)
        .filter_map(|e| e.run.as_deref())
        .collect();
    let runs: Vec<ObservedRun> = layout
        .list_where(|run| !recorded.contains(run))
        .into_iter()
        .filter(|(meta, _)| meta.mission == store.id && !recorded.contains(meta.run.as_str()))
        .filter(|(meta, state)| {
            meta.feature.is_none()
                || dispatched.contains(meta.run.as_str())
                || (*state == RunState::Lost
                    && crate::runs::older_than(&layout.run(&meta.run), super::PREPARED_LEFTOVER))
        })
        .map(|(meta, state)| ObservedRun {
            run: meta.run,
            feature: meta.feature,
            milestone: meta.milestone,
            attempt: meta.attempt,
            state: match state {
                RunState::Running { .. } => RunObs::Running,
                RunState::Exited => RunObs::Exited,
                RunState::Lost => RunObs::Lost,
            },
        })
        .collect();
    let (dispatched, conflicted) = runs_out_and_conflicts(&mission, events);
    let over_budget = crate::budget::over_budget(&mission, &config);
    let env = ws.repo.env();
    let validating: HashSet<String> = mission
        .milestones
        .iter()
        .filter(|m| m.status == crate::mission::MilestoneStatus::Validating)
        .filter(|m| crate::claims::validation_claim(events, &m.id).is_some_and(|c| c.live(env)))
        .map(|m| m.id.clone())
        .collect();
    // Agents are looked for only where they would run: here, unless workers go to Actions.
    let running = mission.status == crate::mission::MissionStatus::Running;
    let on_actions = forge.runs_workers(&config);
    let check = |role| {
        running
            .then(|| {
                crate::agents::preflight(&config, role, &ws.repo.root)
                    .err()
                    .map(|m| m.to_string())
            })
            .flatten()
    };
    let worker_missing = if on_actions {
        None
    } else {
        check(crate::agents::Role::Worker)
    };
    let validator_missing = check(crate::agents::Role::Validator);
    // The forge's part: an error stops the pulse (a missing answer is never "no PR").
    let forge_plan = forge.observe(ws, store, &mission, events, &config)?;
    let snapshot = Snapshot {
        started,
        runs,
        dispatched,
        max_parallel: config.max_parallel_workers(),
        worker_attempts: config.worker_attempts(),
        poc: mission
            .mode
            .map_or(config.get_str("mode") == Some("poc"), |m| m == Mode::Poc),
        over_budget,
        conflicted,
        orchestrator: config
            .get_str("agents.orchestrator")
            .is_some_and(|a| a != "none"),
        turn_taken: turn_taken(events, env),
        stop_now: stop_now(&mission, events),
        mission,
        forge: forge_plan,
        worker_missing,
        validator_missing,
        corrupt,
        validating,
    };
    Ok(Observed {
        snapshot,
        config,
        file,
    })
}

/// The features whose dispatched run is not recorded yet (with that run and its attempt), and
/// the pending features whose last word is a merge conflict.
fn runs_out_and_conflicts(
    mission: &Mission,
    events: &[Event],
) -> (HashMap<String, (String, u32)>, HashSet<String>) {
    let mut dispatched = HashMap::new();
    let mut conflicted = HashSet::new();
    for (_, f) in mission.features() {
        let last = events.iter().rev().find(|e| {
            e.feature.as_deref() == Some(f.id.as_str())
                && matches!(e.kind, Kind::FeatureDispatched | Kind::FeatureConflict)
        });
        match last {
            Some(e) if e.kind == Kind::FeatureConflict && f.status == FeatureStatus::Pending => {
                conflicted.insert(f.id.clone());
            }
            Some(e) if e.kind == Kind::FeatureDispatched && f.status == FeatureStatus::Running => {
                if let Some(run) = &e.run
                    && !crate::events::run_recorded(events, run)
                {
                    dispatched.insert(f.id.clone(), (run.clone(), e.attempt.unwrap_or(1)));
                }
            }
            _ => {}
        }
    }
    (dispatched, conflicted)
}

/// Whether the orchestrator already had its turn on the current block (or holds a live claim
/// on one).
fn turn_taken(events: &[Event], env: &crate::env::Env) -> bool {
    let last_block = events
        .iter()
        .rev()
        .find(|e| e.kind == Kind::MissionBlocked)
        .map_or(0, |e| e.seq);
    events
        .iter()
        .any(|e| e.kind == Kind::OrchestratorTurn && e.seq > last_block)
        || crate::claims::orchestrator_claim(events).is_some_and(|c| c.live(env))
}

/// Whether running workers are to be stopped: cancelled, or paused with `now`.
fn stop_now(mission: &Mission, events: &[Event]) -> bool {
    match mission.status {
        crate::mission::MissionStatus::Cancelled => true,
        crate::mission::MissionStatus::Paused => events
            .iter()
            .rev()
            .find(|e| e.kind == Kind::MissionPaused)
            .is_some_and(|e| e.data["now"].as_bool() == Some(true)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mission::MissionStatus;
    use crate::pulse::testutil::{Fake, started};
    use serde_json::json;

    fn observed(ws: &Workspace, forge: &Fake) -> Result<Observed> {
        let store = Store::new(&ws.repo, "demo");
        let ov = Overrides {
            env: ws.repo.env().vars.clone(),
            ..Default::default()
        };
        let cur = current(ws, &store, &ov)?;
        let layout = Layout::new(&ws.repo, &cur.config, "demo")?;
        observe(ws, &store, &layout, cur, forge)
    }

    #[test]
    fn the_events_say_which_runs_are_out_which_features_conflicted_and_whether_to_stop_now() {
        let (_dir, ws) = started();
        let store = Store::new(&ws.repo, "demo");
        store
            .mutate("dispatch F1, F2 conflicted, pause now", |tx| {
                let f1 = tx.mission.feature_mut("F1").expect("F1");
                f1.status = FeatureStatus::Running;
                tx.event(
                    Event::new(Kind::FeatureDispatched)
                        .feature("F1")
                        .run("r-1", 1),
                );
                tx.event(
                    Event::new(Kind::FeatureDispatched)
                        .feature("F1")
                        .run("r-2", 2),
                );
                // F3 was dispatched and its run recorded: nothing is out for it.
                tx.mission.feature_mut("F3").expect("F3").status = FeatureStatus::Running;
                tx.event(
                    Event::new(Kind::FeatureDispatched)
                        .feature("F3")
                        .run("r-3", 1),
                );
                tx.event(Event::new(Kind::RunFinished).feature("F3").run("r-3", 1));
                // F2's last word is a conflict while it is pending again.
                tx.event(
                    Event::new(Kind::FeatureDispatched)
                        .feature("F2")
                        .run("r-4", 1),
                );
                tx.event(Event::new(Kind::FeatureConflict).feature("F2"));
                tx.mission.status = MissionStatus::Paused;
                tx.event(Event::new(Kind::MissionPaused).data(json!({ "now": true })));
                Ok(true)
            })
            .expect("mutate")
            .expect("committed");
        let o = observed(&ws, &Fake::default()).expect("observed");
        let s = &o.snapshot;
        assert!(s.started);
        assert_eq!(
            s.dispatched,
            HashMap::from([("F1".to_owned(), ("r-2".to_owned(), 2))])
        );
        assert_eq!(s.conflicted, HashSet::from(["F2".to_owned()]));
        assert!(
            s.stop_now,
            "paused with now: true stops the running workers"
        );
        assert_eq!(s.mission.status, MissionStatus::Paused);
        // Paused: no agent is looked for.
        assert_eq!(s.worker_missing, None);
    }

    #[test]
    fn a_pause_that_lets_runs_finish_does_not_stop_them() {
        let (_dir, ws) = started();
        Store::new(&ws.repo, "demo")
            .mutate("pause", |tx| {
                tx.mission.status = MissionStatus::Paused;
                tx.event(Event::new(Kind::MissionPaused).data(json!({ "now": false })));
                Ok(true)
            })
            .expect("mutate");
        let o = observed(&ws, &Fake::default()).expect("observed");
        assert!(!o.snapshot.stop_now);
    }

    #[test]
    fn a_forge_that_does_not_answer_stops_the_observation() {
        let (_dir, ws) = started();
        let down = Fake {
            down: true,
            ..Fake::default()
        };
        let e = observed(&ws, &down)
            .err()
            .expect("no snapshot without the forge");
        assert!(
            matches!(e, crate::error::Error::GitHub(_)),
            "the forge's own error: {e}"
        );
    }
}

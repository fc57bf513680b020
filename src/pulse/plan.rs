//! `plan`: a pure function from a snapshot of the world to the actions a pulse takes, each
//! printable on one line (`git mission pulse --dry-run`). It never does anything itself, so
//! it is tested table by table without spawning a process.

use std::collections::{HashMap, HashSet};

pub use crate::action::{Action, Gate};
use crate::forge::Review;

use crate::mission::{
    BlockReason, FeatureStatus, MilestoneStatus, Mission, MissionStatus, ResourceStatus,
};

/// A live or finished run, as observed.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedRun {
    pub run: String,
    pub feature: Option<String>,
    pub milestone: String,
    pub attempt: u32,
    pub state: RunObs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunObs {
    Running,
    Exited,
    Lost,
}

/// Everything `plan` looks at.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub mission: Mission,
    /// Whether the integration branch exists.
    pub started: bool,
    /// Runs on this machine that are not yet recorded in the event log (plus running ones).
    pub runs: Vec<ObservedRun>,
    /// Runs the event log says were dispatched for features still `running`, by feature.
    pub dispatched: HashMap<String, (String, u32)>,
    pub max_parallel: u32,
    pub worker_attempts: u32,
    pub poc: bool,
    /// A budget limit is reached: no new run may start.
    pub over_budget: Option<String>,
    /// Features whose last failure was a merge conflict (their next run resolves it).
    pub conflicted: HashSet<String>,
    /// An orchestrator agent is configured.
    pub orchestrator: bool,
    /// The orchestrator already had its turn for the current block.
    pub turn_taken: bool,
    /// The forge's part of the plan (merges, landing, PRs, remote workers).
    pub forge: std::sync::Arc<dyn crate::forge::ForgePlan>,
    /// Paused with `now` (or cancelled): running workers are to be stopped.
    pub stop_now: bool,
    /// Why the worker agent cannot start here (not installed, not configured): nothing is
    /// dispatched to it, the mission blocks instead. `None` with `dispatch: actions` (runners
    /// have their own tools).
    pub worker_missing: Option<String>,
    /// Why the validator agent cannot start here.
    pub validator_missing: Option<String>,
    /// Milestones whose validation a live supervisor has claimed.
    pub validating: HashSet<String>,
    /// The committed mission does not validate (the first error, located): nothing is done
    /// with it — no path, ref or command is built from ids that have not passed their grammar.
    pub corrupt: Option<String>,
}

/// The actions for a snapshot, in the order they should run.
pub fn plan(s: &Snapshot) -> Vec<Action> {
    let m = &s.mission;
    let mut out = Vec::new();
    if let Some(why) = &s.corrupt {
        // Block (once) and touch nothing else until a person fixes the file.
        if m.status == MissionStatus::Running {
            out.push(Action::Block {
                reason: BlockReason::CorruptState,
                feature: None,
                message: why.clone(),
            });
        }
        return out;
    }
    s.forge.first(s.started, m, &mut out);
    let recs = records(s);
    let idle = recs.is_empty();
    out.extend(recs);
    if s.stop_now {
        stops(s, &mut out);
    }
    if !by_mission_status(s, idle, &mut out) {
        return out;
    }
    let recording = recording(&out);
    let Some(ms) = m.milestones.iter().find(|x| {
        matches!(
            x.status,
            MilestoneStatus::Active | MilestoneStatus::Validating
        )
    }) else {
        next_milestone(s, &mut out);
        return out;
    };
    milestone(s, ms, &recording, &mut out);
    out
}

/// Finished runs to record, whatever the mission's state (running workers finish), and runs
/// that were lost; in a stable order.
fn records(s: &Snapshot) -> Vec<Action> {
    let mut recs = Vec::new();
    // Finished runs are integrated whatever the mission's state: running workers finish.
    for r in &s.runs {
        if r.state != RunObs::Running {
            recs.push(Action::Record {
                run: r.run.clone(),
                feature: r.feature.clone(),
                lost: r.state == RunObs::Lost,
            });
        }
    }
    // A feature marked running whose run is nowhere on this machine was lost (its dispatch
    // committed but its worker never started, or its run directory is gone) — unless it runs
    // on Actions, where the workflow run tells.
    let mut observed: HashSet<&str> = s.runs.iter().map(|r| r.run.as_str()).collect();
    for w in s.forge.remote_workers() {
        observed.insert(w.run.as_str());
        use crate::forge::github::workers::WorkerState;
        let (why, cancel) = match &w.state {
            WorkerState::Running => continue,
            WorkerState::Ended { why } => (why, false),
            WorkerState::Overdue { why } => (why, true),
        };
        recs.push(Action::LostWorker {
            run: w.run.clone(),
            feature: w.feature.clone(),
            workflow_run: w.workflow_run,
            why: why.clone(),
            cancel,
        });
    }
    for (feature, (run, _)) in &s.dispatched {
        if !observed.contains(run.as_str()) {
            recs.push(Action::Record {
                run: run.clone(),
                feature: Some(feature.clone()),
                lost: true,
            });
        }
    }
    recs.sort_by_key(ToString::to_string);
    recs.sort_by_key(ToString::to_string);
    recs
}

/// `pause --now` or `cancel`: stop every run still going.
fn stops(s: &Snapshot, out: &mut Vec<Action>) {
    for r in s.runs.iter().filter(|r| r.state == RunObs::Running) {
        out.push(Action::StopRun { run: r.run.clone() });
    }
    for w in s.forge.remote_workers() {
        if w.state == crate::forge::github::workers::WorkerState::Running {
            out.push(Action::StopWorker {
                run: w.run.clone(),
                feature: w.feature.clone(),
                workflow_run: w.workflow_run,
            });
        }
    }
}

/// What the mission's status allows: `false` when the pulse ends here (a land, a start, an
/// orchestrator turn, or nothing while paused, blocked or finished).
fn by_mission_status(s: &Snapshot, idle: bool, out: &mut Vec<Action>) -> bool {
    let m = &s.mission;
    match m.status {
        MissionStatus::Completed if s.forge.land_pending() => {
            out.push(Action::Land);
            return false;
        }
        // Also when the integration branch exists: a supervisor that created it died before
        // it marked the mission running (starting is idempotent).
        MissionStatus::Approved => {
            out.push(Action::Start);
            return false;
        }
        MissionStatus::Running => {}
        MissionStatus::Blocked if s.orchestrator && !s.turn_taken && idle => {
            // One recovery turn per block; some blocks are for a human only.
            let human_only = m.block.as_ref().is_none_or(|b| {
                matches!(
                    b.reason,
                    BlockReason::ValidationLimit
                        | BlockReason::NeedsInput
                        | BlockReason::AgentMissing
                )
            });
            if !human_only {
                out.push(Action::Orchestrate);
            }
            return false;
        }
        _ => return false,
    }
    true
}

/// The features whose runs this pulse records first: nothing else is planned for them.
fn recording(out: &[Action]) -> HashSet<String> {
    out.iter()
        .filter_map(|a| match a {
            Action::Record {
                feature: Some(f), ..
            }
            | Action::LostWorker { feature: f, .. } => Some(f.clone()),
            _ => None,
        })
        .collect()
}

/// No milestone in progress: activate the next one, or complete (and land) the mission.
fn next_milestone(s: &Snapshot, out: &mut Vec<Action>) {
    let m = &s.mission;
    match m
        .milestones
        .iter()
        .find(|x| x.status == MilestoneStatus::Pending)
    {
        Some(next) => out.push(Action::Activate {
            milestone: next.id.clone(),
        }),
        None => {
            out.push(Action::Complete);
            if s.forge.lands() {
                out.push(Action::Land);
            }
        }
    }
}

/// The milestone in progress: merges of features in review, then its validation once every
/// feature is in, else dispatches of ready features, else a block when nothing can move.
fn milestone(
    s: &Snapshot,
    ms: &crate::mission::Milestone,
    recording: &HashSet<String>,
    out: &mut Vec<Action>,
) {
    let m = &s.mission;
    let needed: Vec<&str> = m
        .resources
        .iter()
        .filter(|r| {
            r.status == ResourceStatus::Needed && r.needed_by.as_deref().is_none_or(|n| n == ms.id)
        })
        .map(|r| r.name.as_str())
        .collect();
    // foldhash: every feature's id is hashed here, 10,000 in a big plan.
    let status: foldhash::HashMap<&str, FeatureStatus> = m
        .features()
        .map(|(_, f)| (f.id.as_str(), f.status))
        .collect();
    let done = |id: &str| {
        matches!(
            status.get(id),
            Some(FeatureStatus::Merged | FeatureStatus::Skipped)
        )
    };
    let mut running = ms
        .features
        .iter()
        .filter(|f| f.status == FeatureStatus::Running)
        .count() as u32;
    let mut merging = false;
    for f in &ms.features {
        if f.status == FeatureStatus::Review && !recording.contains(&f.id) {
            merging = true;
            match s.forge.review(f) {
                Review::Act(a) => out.push(a),
                Review::Wait => {}
                Review::Stop(a) => {
                    out.push(a);
                    return;
                }
            }
        }
    }
    let all_done = ms
        .features
        .iter()
        .all(|f| matches!(f.status, FeatureStatus::Merged | FeatureStatus::Skipped));
    if all_done {
        if !recording.is_empty() || s.validating.contains(&ms.id) {
            return;
        }
        let agents = ms.validation.scrutiny || ms.validation.user_testing.is_some();
        if let Some(why) = s.validator_missing.as_ref().filter(|_| agents) {
            out.push(Action::Block {
                reason: BlockReason::AgentMissing,
                feature: None,
                message: why.clone(),
            });
            return;
        }
        out.push(Action::Validate {
            milestone: ms.id.clone(),
        });
        return;
    }
    let limit = if s.poc { 1 } else { s.max_parallel.max(1) };
    let mut dispatchable = Vec::new();
    for f in &ms.features {
        if f.status == FeatureStatus::Pending
            && f.depends_on.iter().all(|d| done(d))
            && !recording.contains(&f.id)
        {
            dispatchable.push(f);
        }
    }
    if !dispatchable.is_empty() {
        if !needed.is_empty() {
            if running == 0 && !merging {
                out.push(Action::Block {
                    reason: BlockReason::ResourceNeeded,
                    feature: None,
                    message: format!("{} needs {}", ms.id, needed.join(", ")),
                });
            }
            return;
        }
        if let Some(why) = &s.over_budget {
            out.push(Action::PauseForBudget {
                message: why.clone(),
            });
            return;
        }
        if let Some(why) = &s.worker_missing {
            // Before any dispatch is committed: no attempt is spent on a program that is not
            // there.
            out.push(Action::Block {
                reason: BlockReason::AgentMissing,
                feature: None,
                message: why.clone(),
            });
            return;
        }
        for f in dispatchable {
            if running >= limit {
                break;
            }
            running += 1;
            out.push(Action::Dispatch {
                feature: f.id.clone(),
                attempt: f.attempts + 1,
                conflict: s.conflicted.contains(&f.id),
            });
        }
        return;
    }
    let busy = running > 0 || merging || !recording.is_empty();
    if !busy {
        let stuck: Vec<&str> = ms
            .features
            .iter()
            .filter(|f| f.status == FeatureStatus::Pending)
            .map(|f| f.id.as_str())
            .collect();
        if let Some(first) = stuck.first() {
            out.push(Action::Block {
                reason: BlockReason::NoRunnableWork,
                feature: Some((*first).to_owned()),
                message: format!(
                    "{} cannot start: a dependency failed or cannot be met",
                    stuck.join(", ")
                ),
            });
        } else if let Some(failed) = ms
            .features
            .iter()
            .find(|f| f.status == FeatureStatus::Failed)
        {
            out.push(Action::Block {
                reason: BlockReason::WorkerFailed,
                feature: Some(failed.id.clone()),
                message: format!("{} failed after {} attempts", failed.id, failed.attempts),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mission::{Feature, Milestone, Validation};

    fn feature(id: &str, status: FeatureStatus, deps: &[&str]) -> Feature {
        Feature {
            id: id.into(),
            title: id.into(),
            status,
            depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
            assertions: vec![],
            checks: None,
            skills: vec![],
            attempts: 0,
            pr: None,
            origin: None,
            description: String::new(),
        }
    }

    fn snapshot(features: Vec<Feature>) -> Snapshot {
        let mut m = Mission::draft("x", "X");
        m.status = MissionStatus::Running;
        m.milestones = vec![
            Milestone {
                id: "M1".into(),
                title: "one".into(),
                status: MilestoneStatus::Active,
                failures: 0,
                validation: Validation {
                    commands: vec!["true".into()],
                    ..Validation::default()
                },
                features,
            },
            Milestone {
                id: "M2".into(),
                title: "two".into(),
                status: MilestoneStatus::Pending,
                failures: 0,
                validation: Validation {
                    scrutiny: true,
                    ..Validation::default()
                },
                features: vec![feature("F9", FeatureStatus::Pending, &[])],
            },
        ];
        Snapshot {
            mission: m,
            started: true,
            runs: vec![],
            dispatched: HashMap::new(),
            max_parallel: 2,
            worker_attempts: 3,
            poc: false,
            over_budget: None,
            conflicted: HashSet::new(),
            orchestrator: false,
            turn_taken: false,
            forge: std::sync::Arc::new(crate::forge::local::LocalPlan::default()),
            stop_now: false,
            worker_missing: None,
            validator_missing: None,
            corrupt: None,
            validating: HashSet::new(),
        }
    }

    fn lines(s: &Snapshot) -> Vec<String> {
        plan(s).iter().map(ToString::to_string).collect()
    }

    use FeatureStatus::*;

    fn open_pr(number: u64, sha: &str) -> crate::forge::github::PrObs {
        crate::forge::github::PrObs {
            number,
            head: "mission/x.F1".into(),
            head_sha: sha.into(),
            base: "mission/x".into(),
            draft: false,
            mergeable: "MERGEABLE".into(),
            merge_state: "CLEAN".into(),
            review: None,
            checks: Some("SUCCESS".into()),
            failed_checks: vec![],
            comments: vec![],
            reviews: vec![],
            threads: vec![],
        }
    }

    /// The GitHub half of the planner, one row per state of a feature PR: F1 is in review
    /// with PR #7 recorded and its branch at `abc`.
    #[test]
    fn a_feature_pr_on_github_is_planned_by_its_state() {
        use crate::forge::github::{GhSnap, PrObs, ReviewNeed};
        fn pr_with(g: &mut GhSnap, edit: impl FnOnce(&mut PrObs)) {
            let mut p = open_pr(7, "abc");
            edit(&mut p);
            g.prs.insert("F1".into(), p);
        }
        let f1 = || "F1".to_owned();
        let push = Action::Push { feature: f1() };
        let merge = Action::MergePr {
            feature: f1(),
            pr: 7,
            sha: "abc".into(),
        };
        type Setup = Box<dyn Fn(&mut Feature, &mut GhSnap)>;
        let table: Vec<(&str, Setup, Vec<Action>)> = vec![
            (
                "no PR yet: push and open it",
                Box::new(|f, _| f.pr = None),
                vec![push.clone()],
            ),
            (
                "the recorded PR is gone",
                Box::new(|_, _| {}),
                vec![Action::PrGone {
                    feature: f1(),
                    pr: 7,
                }],
            ),
            (
                "green and clean: merge",
                Box::new(|_, g| pr_with(g, |_| {})),
                vec![merge.clone()],
            ),
            (
                "a PR the log lacks is recorded first",
                Box::new(|f, g| {
                    f.pr = None;
                    pr_with(g, |_| {});
                }),
                vec![push.clone()],
            ),
            (
                "the branch moved: push it",
                Box::new(|_, g| pr_with(g, |p| p.head_sha = "old".into())),
                vec![push.clone()],
            ),
            (
                "conflicting",
                Box::new(|_, g| pr_with(g, |p| p.mergeable = "CONFLICTING".into())),
                vec![Action::PrConflict {
                    feature: f1(),
                    pr: 7,
                }],
            ),
            (
                "checks failed",
                Box::new(|_, g| pr_with(g, |p| p.checks = Some("FAILURE".into()))),
                vec![Action::PrChecksFailed {
                    feature: f1(),
                    pr: 7,
                    state: "FAILURE".into(),
                }],
            ),
            (
                "behind its base: update it",
                Box::new(|_, g| pr_with(g, |p| p.merge_state = "BEHIND".into())),
                vec![Action::UpdatePr {
                    feature: f1(),
                    pr: 7,
                    sha: "abc".into(),
                }],
            ),
            (
                "checks still running: wait",
                Box::new(|_, g| {
                    pr_with(g, |p| {
                        p.checks = Some("PENDING".into());
                        p.merge_state = "BLOCKED".into();
                    })
                }),
                vec![],
            ),
            (
                "a draft: wait",
                Box::new(|_, g| pr_with(g, |p| p.draft = true)),
                vec![],
            ),
            (
                "changes requested, no rework due: wait",
                Box::new(|_, g| pr_with(g, |p| p.review = Some("CHANGES_REQUESTED".into()))),
                vec![],
            ),
            (
                "changes requested: rework",
                Box::new(|_, g| {
                    pr_with(g, |_| {});
                    g.reviews.insert(
                        "F1".into(),
                        ReviewNeed::Rework {
                            reviews: vec![],
                            round: 2,
                        },
                    );
                }),
                vec![Action::Rework {
                    feature: f1(),
                    pr: 7,
                    round: 2,
                }],
            ),
            (
                "review rounds used up: block",
                Box::new(|_, g| {
                    pr_with(g, |_| {});
                    g.reviews
                        .insert("F1".into(), ReviewNeed::Limit("carol: no".into()));
                }),
                vec![Action::Block {
                    reason: BlockReason::ReviewLimit,
                    feature: Some(f1()),
                    message: "carol: no".into(),
                }],
            ),
        ];
        for (what, setup, want) in table {
            let mut s = snapshot(vec![feature("F1", Review, &[])]);
            let mut g = GhSnap {
                land: "none".into(),
                tracking: Some(1),
                ..GhSnap::default()
            };
            g.heads.insert("F1".into(), "abc".into());
            let mut f = s.mission.milestones[0].features[0].clone();
            f.pr = Some(7);
            setup(&mut f, &mut g);
            s.mission.milestones[0].features[0] = f;
            s.forge = std::sync::Arc::new(g);
            assert_eq!(plan(&s), want, "{what}");
        }
    }

    /// The local half: a feature in review is merged, unless its merge is held (another
    /// supervisor, a back-off) or was given up, which blocks and ends the pulse's planning.
    #[test]
    fn a_feature_in_review_on_the_local_forge_is_merged_unless_its_merge_is_gated() {
        use crate::forge::local::LocalPlan;
        let gated = |gate: Option<Gate>| {
            let mut s = snapshot(vec![
                feature("F1", Review, &[]),
                feature("F2", Pending, &[]),
            ]);
            let mut local = LocalPlan::default();
            if let Some(g) = gate {
                local.merge_gate.insert("F1".into(), g);
            }
            s.forge = std::sync::Arc::new(local);
            plan(&s)
        };
        let dispatch_f2 = Action::Dispatch {
            feature: "F2".into(),
            attempt: 1,
            conflict: false,
        };
        assert_eq!(
            gated(None),
            [
                Action::Merge {
                    feature: "F1".into()
                },
                dispatch_f2.clone()
            ]
        );
        assert_eq!(gated(Some(Gate::Busy)), [dispatch_f2]);
        assert_eq!(
            gated(Some(Gate::GiveUp("disk full".into()))),
            [Action::Block {
                reason: BlockReason::MergeFailed,
                feature: Some("F1".into()),
                message: "disk full".into(),
            }]
        );
    }

    #[test]
    fn on_github_comments_come_first_then_the_tracking_issue_then_landing() {
        use crate::forge::github::GhSnap;
        let mut s = snapshot(vec![feature("F1", Running, &[])]);
        s.dispatched.insert("F1".into(), ("r1".into(), 1));
        s.forge = std::sync::Arc::new(GhSnap {
            land: "pr".into(),
            unlanded: vec!["M0".into()],
            comments: vec![11, 12],
            ..GhSnap::default()
        });
        assert_eq!(
            plan(&s),
            [
                Action::Comment { id: 11 },
                Action::Comment { id: 12 },
                Action::Track,
                Action::OpenLand,
                // Then the rest of the pulse: F1's run is nowhere, so it is recorded lost.
                Action::Record {
                    run: "r1".into(),
                    feature: Some("F1".into()),
                    lost: true,
                },
            ]
        );
    }

    #[test]
    fn dispatches_ready_features_up_to_the_parallel_limit() {
        let s = snapshot(vec![
            feature("F1", Pending, &[]),
            feature("F2", Pending, &[]),
            feature("F3", Pending, &[]),
            feature("F4", Pending, &["F1"]),
        ]);
        assert_eq!(
            lines(&s),
            ["dispatch F1 (attempt 1)", "dispatch F2 (attempt 1)"]
        );
        let mut poc = s.clone();
        poc.poc = true;
        assert_eq!(lines(&poc), ["dispatch F1 (attempt 1)"]);
    }

    #[test]
    fn a_corrupt_mission_blocks_once_and_nothing_else_happens() {
        let mut s = snapshot(vec![
            feature("F1", Pending, &[]),
            feature("F2", Review, &[]),
        ]);
        s.corrupt = Some("m-mission.md:20:13: bad feature id".into());
        assert_eq!(
            plan(&s),
            [Action::Block {
                reason: BlockReason::CorruptState,
                feature: None,
                message: "m-mission.md:20:13: bad feature id".into(),
            }]
        );
        s.mission.status = MissionStatus::Blocked;
        assert!(plan(&s).is_empty());
    }

    #[test]
    fn a_missing_agent_blocks_before_anything_is_dispatched_to_it() {
        let mut s = snapshot(vec![
            feature("F1", Pending, &[]),
            feature("F2", Merged, &[]),
        ]);
        s.worker_missing = Some("the worker agent \"claude\" cannot start".into());
        assert_eq!(
            plan(&s),
            [Action::Block {
                reason: BlockReason::AgentMissing,
                feature: None,
                message: "the worker agent \"claude\" cannot start".into(),
            }]
        );
        // Blocked for a missing agent, the orchestrator cannot help: a person installs it.
        let mut blocked = s.clone();
        blocked.mission.status = MissionStatus::Blocked;
        blocked.mission.block = Some(crate::mission::Block {
            reason: BlockReason::AgentMissing,
            milestone: None,
            feature: None,
            since: jiff::Timestamp::UNIX_EPOCH,
            packet: None,
            message: String::new(),
            question: None,
        });
        blocked.orchestrator = true;
        assert!(plan(&blocked).is_empty());
        // A missing validator matters only to a milestone that runs validator agents.
        let mut done = snapshot(vec![feature("F1", Merged, &[])]);
        done.validator_missing = Some("no validator".into());
        assert_eq!(lines(&done), ["validate milestone M1"]);
        done.mission.milestones[0].validation.scrutiny = true;
        assert_eq!(plan(&done).len(), 1);
        assert!(matches!(
            &plan(&done)[0],
            Action::Block { reason: BlockReason::AgentMissing, message, .. } if message == "no validator"
        ));
        // Running workers are still recorded; only new dispatches wait.
        let mut busy = snapshot(vec![
            feature("F1", Running, &[]),
            feature("F2", Pending, &[]),
        ]);
        busy.worker_missing = Some("gone".into());
        assert!(lines(&busy)[0].starts_with("block"), "{:?}", lines(&busy));
    }

    #[test]
    fn dependencies_wait_for_merge_and_running_workers_count() {
        let s = snapshot(vec![
            feature("F1", Running, &[]),
            feature("F2", Review, &[]),
            feature("F3", Pending, &["F2"]),
            feature("F4", Pending, &[]),
        ]);
        assert_eq!(
            lines(&s),
            [
                "merge F2 into the integration branch after its checks pass",
                "dispatch F4 (attempt 1)"
            ]
        );
    }

    #[test]
    fn a_finished_milestone_is_validated_and_the_next_one_activated() {
        let s = snapshot(vec![
            feature("F1", Merged, &[]),
            feature("F2", Skipped, &[]),
        ]);
        assert_eq!(lines(&s), ["validate milestone M1"]);
        let mut next = s.clone();
        next.mission.milestones[0].status = MilestoneStatus::Passed;
        assert_eq!(lines(&next), ["activate milestone M2"]);
        next.mission.milestones[1].status = MilestoneStatus::Passed;
        next.forge = std::sync::Arc::new(crate::forge::local::LocalPlan {
            land_auto: true,
            ..Default::default()
        });
        assert_eq!(
            lines(&next),
            [
                "complete the mission",
                "land the integration branch on the base branch"
            ]
        );
    }

    #[test]
    fn finished_and_lost_runs_are_recorded_first() {
        let mut s = snapshot(vec![
            feature("F1", Running, &[]),
            feature("F2", Running, &[]),
        ]);
        s.runs = vec![ObservedRun {
            run: "r1".into(),
            feature: Some("F1".into()),
            milestone: "M1".into(),
            attempt: 1,
            state: RunObs::Exited,
        }];
        s.dispatched.insert("F1".into(), ("r1".into(), 1));
        s.dispatched.insert("F2".into(), ("r2".into(), 1));
        assert_eq!(
            lines(&s),
            [
                "record F1 run r1",
                "record F2 run r2 (its worker died: counted as a failed attempt)"
            ]
        );
    }

    #[test]
    fn budget_and_stuck_work_stop_the_mission() {
        let mut s = snapshot(vec![feature("F1", Pending, &[])]);
        s.over_budget = Some("usd 40.00 of 40.00".into());
        assert_eq!(lines(&s), ["pause: budget exceeded — usd 40.00 of 40.00"]);
        let stuck = snapshot(vec![
            feature("F1", Failed, &[]),
            feature("F2", Pending, &["F1"]),
        ]);
        assert_eq!(
            lines(&stuck),
            [
                "block: no_runnable_work (F2) — F2 cannot start: a dependency failed or cannot be met"
            ]
        );
    }

    #[test]
    fn a_block_gets_one_orchestrator_turn_unless_only_a_human_can_decide() {
        let mut s = snapshot(vec![feature("F1", Failed, &[])]);
        s.mission.status = MissionStatus::Blocked;
        s.mission.block = Some(crate::mission::Block {
            reason: BlockReason::WorkerFailed,
            milestone: None,
            feature: Some("F1".into()),
            since: "2026-11-21T10:00:00Z".parse().expect("ts"),
            packet: None,
            message: "x".into(),
            question: None,
        });
        assert!(plan(&s).is_empty(), "no orchestrator configured");
        s.orchestrator = true;
        assert_eq!(
            lines(&s),
            ["orchestrator turn: ask the orchestrator agent to recover from the block"]
        );
        s.turn_taken = true;
        assert!(plan(&s).is_empty(), "one turn per block");
        s.turn_taken = false;
        s.mission.block.as_mut().expect("block").reason = BlockReason::ValidationLimit;
        assert!(plan(&s).is_empty(), "validation_limit is for a human");
    }

    #[test]
    fn a_needed_resource_blocks_its_milestone_only() {
        let mut s = snapshot(vec![feature("F1", Pending, &[])]);
        s.mission.resources = vec![crate::mission::Resource {
            name: "staging db".into(),
            status: ResourceStatus::Needed,
            needed_by: Some("M2".into()),
        }];
        assert_eq!(lines(&s), ["dispatch F1 (attempt 1)"]);
        s.mission.resources[0].needed_by = Some("M1".into());
        assert_eq!(lines(&s), ["block: resource_needed — M1 needs staging db"]);
        s.mission.resources[0].status = ResourceStatus::Available;
        assert_eq!(lines(&s), ["dispatch F1 (attempt 1)"]);
    }

    #[test]
    fn only_records_happen_while_paused_or_blocked_and_start_needs_approval() {
        let mut s = snapshot(vec![feature("F1", Pending, &[])]);
        s.mission.status = MissionStatus::Paused;
        assert!(plan(&s).is_empty());
        // Paused now: running work is stopped, nothing else happens.
        s.runs.push(ObservedRun {
            run: "r1".into(),
            feature: Some("F1".into()),
            milestone: "M1".into(),
            attempt: 1,
            state: RunObs::Running,
        });
        assert!(plan(&s).is_empty(), "a plain pause lets workers finish");
        s.stop_now = true;
        assert_eq!(lines(&s), ["stop run r1 (paused now or cancelled)"]);
        s.stop_now = false;
        s.runs.clear();
        s.mission.status = MissionStatus::Approved;
        s.started = false;
        assert_eq!(
            lines(&s),
            ["start: create the integration branch and mark the mission running"]
        );
        s.mission.status = MissionStatus::Draft;
        assert!(plan(&s).is_empty());
    }
}

//! Concurrent supervisors for real: 2, 4 and 8 pulse loops, and `run` with 3 pulse loops, drive
//! one mission (two milestones, eight features, parallel workers, checks, a scrutiny validator;
//! agents are `exec` scripts) to the end at the same time. Each scenario is repeated until the
//! race was seen — a supervisor that waited for another's turn at the state (the log line
//! `state.turn: waited`, at `info`) or lost a compare-and-swap (`state.retry`) — and every
//! mission must hold the invariants: completed, every feature merged exactly
//! once and dispatched once, every milestone validated once (one validator run each), no
//! conflict of any kind (the features touch different files), no worktree or process left,
//! `git fsck` clean, the mission file valid.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{OK_WORKER, TestRepo, count};

const MILESTONES: &str = "  - id: M1\n    title: One\n    validation: {commands: [\"test -f out-F1.txt\", \"test -f out-F4.txt\"], scrutiny: true, assertions: [VC1]}\n    features:\n      - {id: F1, title: a, description: x, checks: [\"test -f out-F1.txt\"]}\n      - {id: F2, title: b, description: x}\n      - {id: F3, title: c, depends_on: [F1], description: x}\n      - {id: F4, title: d, description: x}\n  - id: M2\n    title: Two\n    validation: {commands: [\"test -f out-F8.txt\"], scrutiny: true, assertions: [VC1]}\n    features:\n      - {id: F5, title: e, description: x}\n      - {id: F6, title: f, description: x}\n      - {id: F7, title: g, depends_on: [F5, F6], description: x}\n      - {id: F8, title: h, description: x}\n";

const FEATURES: [&str; 8] = ["F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8"];

fn mission() -> TestRepo {
    let repo = TestRepo::new();
    repo.mission(
        OK_WORKER,
        "land: none\nchecks: [\"true\"]\nlimits: {max_parallel_workers: 4, worker_timeout: 60s}\n",
        MILESTONES,
    );
    repo.add_passing_validator();
    repo
}

/// What a supervisor logs (at `info`) when another of this machine had the turn at the state.
const WAITED: &str = "state.turn: waited";

/// The log level that shows [`WAITED`].
const LOG: (&str, &str) = ("GIT_MISSION_LOG", "git_mission=info");

/// `git mission pulse m` until the mission completes or the deadline passes; counts the
/// pulses' waits for another supervisor's turn in `waits`.
fn pulse_loop(repo: &TestRepo, deadline: Instant, waits: &AtomicUsize) {
    while Instant::now() < deadline {
        let out = repo
            .command(&["pulse", "m"], &[LOG])
            .output()
            .expect("pulse");
        let code = out.status.code().unwrap_or(-1);
        assert!(
            code == 0 || code == 1 || code == 3,
            "pulse exited {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("internal error"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        waits.fetch_add(stderr.matches(WAITED).count(), Ordering::Relaxed);
        if status(repo) == "completed" {
            return;
        }
    }
}

fn status(repo: &TestRepo) -> String {
    repo.git(&["show", "mission/m:todo/missions/m-mission.md"])
        .lines()
        .find_map(|l| l.strip_prefix("status: ").map(str::to_owned))
        .unwrap_or_default()
}

/// Runs one mission with `loops` pulse loops (and `run` when asked) and checks the invariants.
/// Returns whether the race was seen.
fn one_mission(loops: usize, with_run: bool) -> bool {
    let repo = mission();
    let deadline = Instant::now() + Duration::from_secs(240);
    let waits = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..loops {
            s.spawn(|| pulse_loop(&repo, deadline, &waits));
        }
        if with_run {
            s.spawn(|| {
                let out = repo.run_deadline(&["run", "m"], &[LOG], 240);
                assert_eq!(out.code, 0, "{}", out.snapshot());
                waits.fetch_add(out.stderr.matches(WAITED).count(), Ordering::Relaxed);
            });
        }
    });
    let ev = repo.events();
    let s = repo.status_json();
    assert_eq!(s["status"], "completed", "{s}");
    for f in FEATURES {
        assert_eq!(count(&ev, "feature.merged", Some(f)), 1, "{f} merged once");
        assert_eq!(
            count(&ev, "feature.dispatched", Some(f)),
            1,
            "{f} dispatched once"
        );
    }
    for kind in [
        "feature.conflict",
        "feature.merge_failed",
        "feature.failed",
        "mission.blocked",
    ] {
        assert_eq!(count(&ev, kind, None), 0, "no {kind}");
    }
    for m in ["M1", "M2"] {
        let passed = ev
            .iter()
            .filter(|e| e["type"] == "milestone.passed" && e["milestone"] == m)
            .count();
        assert_eq!(passed, 1, "{m} passed once");
        let validators = ev
            .iter()
            .filter(|e| {
                e["type"] == "run.finished"
                    && e["milestone"] == m
                    && e["data"]["role"] == "validator"
            })
            .count();
        assert_eq!(validators, 1, "{m}: one validator run");
    }
    let seqs: Vec<u64> = ev.iter().map(|e| e["seq"].as_u64().expect("seq")).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as u64).collect::<Vec<_>>(),
        "no lost event"
    );
    // Nothing left behind.
    let worktrees = repo.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(
        worktrees.matches("worktree ").count(),
        1,
        "only the main work tree is left: {worktrees}"
    );
    repo.git(&["fsck", "--no-progress", "--strict"]);
    let v = repo.run(&["validate", "m"]);
    assert_eq!(v.code, 0, "{}", v.snapshot());
    // Evidence that supervisors met: one waited for another's turn at the state (then found
    // the claim it wanted taken, or applied its change to the other's result), or lost a
    // compare-and-swap.
    waits.load(Ordering::Relaxed) > 0 || count(&ev, "state.retry", None) > 0
}

fn scenario(loops: usize, with_run: bool, tries: usize) {
    let mut seen = 0;
    for _ in 0..tries {
        if one_mission(loops, with_run) {
            seen += 1;
        }
    }
    assert!(
        seen > 0,
        "{loops} loops{}: the race never happened in {tries} missions; the test proves nothing",
        if with_run { " + run" } else { "" }
    );
}

#[test]
fn two_pulse_loops() {
    scenario(2, false, 4);
}

#[test]
fn four_pulse_loops() {
    scenario(4, false, 2);
}

#[test]
fn eight_pulse_loops() {
    scenario(8, false, 1);
}

#[test]
fn run_and_three_pulse_loops() {
    scenario(3, true, 2);
}

//! The fault-point matrix: for each named fault point (`fault!` in the source), a mission is
//! run with that point set to crash the first process that reaches it (the panic hook exits
//! 255 at once, like a kill), then resumed with a plain `git mission run`. Whatever
//! process crashed — the supervisor, or a detached worker that inherited the setting — the
//! resumed mission must end with the invariants: completed and landed, every feature merged
//! exactly once, no feature dispatched more often than its recorded failures explain, each
//! milestone passed once, no worktree or process left, `git fsck` clean, the mission valid.
//!
//! Needs the binary built with the `failpoints` feature; `.ci/run` runs
//! `cargo test --features failpoints --test faults`. Without the feature this file is empty.
#![cfg(feature = "failpoints")]

mod common;

use common::{OK_WORKER, TestRepo, count};

const FEATURES: [&str; 3] = ["F1", "F2", "F3"];

fn mission() -> TestRepo {
    let repo = TestRepo::new();
    // Someone is told of the milestone and the end (so notifying crashes too).
    repo.write(
        "todo/missions/config.yml",
        "notify:\n  command: [\"true\"]\n",
    );
    repo.mission(
        OK_WORKER,
        "land: auto\nchecks: [\"true\"]\nlimits: {max_parallel_workers: 2, worker_timeout: 60s}\n",
        "  - id: M1\n    title: One\n    validation: {commands: [\"test -f out-F3.txt\"], scrutiny: true, assertions: [VC1]}\n    features:\n      - {id: F1, title: a, description: x}\n      - {id: F2, title: b, description: x}\n      - {id: F3, title: c, depends_on: [F1], description: x, checks: [\"test -f out-F1.txt\"]}\n",
    );
    repo.add_passing_validator();
    repo
}

/// Whether a process is alive (and not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

fn crash_then_resume(point: &str) {
    let repo = mission();
    let once = repo.home().join("fault-hit");
    let first = repo.run_deadline(
        &["run", "m"],
        &[
            ("GIT_MISSION_FAULT", point),
            ("GIT_MISSION_FAULT_ONCE", &once.to_string_lossy()),
        ],
        120,
    );
    // The crash happened in the supervisor, or in a worker process (its log says so).
    let runs = repo.runs_dir("m");
    let worker_logs: String = std::fs::read_dir(&runs)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path().join("work.log")).unwrap_or_default())
        .collect();
    let hit = format!("fault point {point} hit");
    let crashed = once.exists() && (first.stderr.contains(&hit) || worker_logs.contains(&hit));
    assert!(
        crashed,
        "{point} was never reached: the test proves nothing\n{}\n{worker_logs}",
        first.snapshot()
    );
    // Resume: a plain run repairs whatever the crash left.
    let second = repo.run_deadline(&["run", "m"], &[], 180);
    assert_eq!(second.code, 0, "{point}: {}", second.snapshot());
    let ev = repo.events();
    let s = repo.status_json();
    assert_eq!(s["status"], "completed", "{point}: {s}");
    for f in FEATURES {
        assert_eq!(
            count(&ev, "feature.merged", Some(f)),
            1,
            "{point}: {f} merged once"
        );
        let failures = ev
            .iter()
            .filter(|e| {
                e["feature"] == f
                    && matches!(e["type"].as_str(), Some("run.finished" | "run.timed_out"))
                    && !e["data"]["failure"].is_null()
            })
            .count();
        assert_eq!(
            count(&ev, "feature.dispatched", Some(f)),
            1 + failures,
            "{point}: {f} dispatched only as its failures explain"
        );
    }
    assert_eq!(count(&ev, "feature.conflict", None), 0, "{point}");
    assert_eq!(
        count(&ev, "milestone.passed", None),
        1,
        "{point}: M1 passed once"
    );
    // Landed on main, once.
    for f in FEATURES {
        assert!(
            repo.git(&["ls-tree", "--name-only", "main", &format!("out-{f}.txt")])
                .contains(f),
            "{point}: {f} is not on main"
        );
    }
    assert!(count(&ev, "mission.landed", None) <= 1, "{point}");
    // Each notifiable event is claimed for telling at most once, crash or not.
    let mut told: Vec<u64> = ev
        .iter()
        .filter(|e| e["type"] == "notify.sending")
        .flat_map(|e| e["data"]["events"].as_array().cloned().unwrap_or_default())
        .filter_map(|x| x["seq"].as_u64())
        .collect();
    let n = told.len();
    told.sort_unstable();
    told.dedup();
    assert_eq!(told.len(), n, "{point}: an event told twice");
    assert!(n >= 1, "{point}: the milestone or the end was told");
    let lands = repo.git(&["log", "--oneline", "--grep", "Land mission m", "main"]);
    assert_eq!(lands.lines().count(), 1, "{point}: landed once: {lands}");
    // Nothing left behind: worktrees, processes, repository damage.
    let worktrees = repo.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(
        worktrees.matches("worktree ").count(),
        1,
        "{point}: only the main work tree is left: {worktrees}"
    );
    for e in std::fs::read_dir(&runs).into_iter().flatten().flatten() {
        if let Ok(meta) = std::fs::read_to_string(e.path().join("meta.json")) {
            let meta: serde_json::Value = serde_json::from_str(&meta).expect("meta");
            if let Some(pid) = meta["work_pid"].as_u64() {
                assert!(!alive(pid as u32), "{point}: worker {pid} is still running");
            }
        }
    }
    repo.git(&["fsck", "--no-progress", "--strict"]);
    let v = repo.run(&["validate", "m"]);
    assert_eq!(v.code, 0, "{point}: {}", v.snapshot());
}

macro_rules! points {
    ($($name:ident => $point:literal,)*) => {
        $(
            #[test]
            fn $name() {
                crash_then_resume($point);
            }
        )*

        /// Every fault point in the source has a test here.
        #[test]
        fn every_fault_point_is_tested() {
            let tested = [$($point),*];
            let mut found = Vec::new();
            for dir in ["src"] {
                let mut stack = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir)];
                while let Some(d) = stack.pop() {
                    for e in std::fs::read_dir(&d).expect("src").flatten() {
                        let p = e.path();
                        if p.is_dir() {
                            stack.push(p);
                        } else if p.extension().is_some_and(|x| x == "rs") {
                            let text = std::fs::read_to_string(&p).expect("source");
                            for part in text.split("crate::fault!(\"").skip(1) {
                                found.push(part.split('"').next().expect("name").to_owned());
                            }
                        }
                    }
                }
            }
            found.sort();
            let mut tested: Vec<String> = tested.iter().map(|s| s.to_string()).collect();
            tested.sort();
            assert_eq!(found, tested);
            assert!(found.len() >= 20, "{} fault points", found.len());
        }
    };
}

points! {
    store_before_commit => "store.before_commit",
    store_after_commit => "store.after_commit",
    dispatch_before_spawn => "dispatch.before_spawn",
    dispatch_after_spawn => "dispatch.after_spawn",
    record_before => "record.before",
    complete_before => "complete.before",
    work_after_worktree => "work.after_worktree",
    work_after_agent => "work.after_agent",
    work_after_commit => "work.after_commit",
    work_after_exit_record => "work.after_exit_record",
    merge_after_claim => "merge.after_claim",
    merge_after_worktree => "merge.after_worktree",
    merge_before_checks => "merge.before_checks",
    merge_after_checks => "merge.after_checks",
    merge_after_commit => "merge.after_commit",
    land_after_claim => "land.after_claim",
    land_after_merge => "land.after_merge",
    validate_after_claim => "validate.after_claim",
    validate_after_commands => "validate.after_commands",
    validate_after_validators => "validate.after_validators",
    run_after_lock => "run.after_lock",
    worktree_before => "worktree.before",
    worktree_before_remove => "worktree.before_remove",
    notify_after_claim => "notify.after_claim",
}

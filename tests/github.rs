//! `forge: github` end to end: the real binary, real git repositories (the emulator's
//! repository is a real bare repo the tool pushes to), real worker processes, and the real
//! octocrab client talking HTTP to the in-process GitHub emulator.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use common::{OK_WORKER, Output, TestRepo, count};
use github_emulator::{Checks, Emulator, Fault, Faults};

struct Gh {
    repo: TestRepo,
    bare: PathBuf,
    emu: Emulator,
}

const TWO_MILESTONES: &str = "  - id: M1\n    title: One\n    validation: {commands: [\"test -f out-F1.txt\", \"test -f out-F2.txt\"], assertions: [VC1]}\n    features:\n      - {id: F1, title: first, description: x}\n      - {id: F2, title: second, depends_on: [F1], description: x}\n  - id: M2\n    title: Two\n    validation: {commands: [\"test -f out-F3.txt\"], assertions: [VC1]}\n    features:\n      - {id: F3, title: third, description: x}\n";

impl Gh {
    fn new(settings: &str, milestones: &str) -> Gh {
        let repo = TestRepo::new();
        let bare = repo.home().join("origin.git");
        let ok = std::process::Command::new("git")
            .args(["init", "-q", "--bare", "-b", "main"])
            .arg(&bare)
            .status()
            .expect("git init --bare")
            .success();
        assert!(ok);
        repo.git(&["remote", "add", "origin", &bare.to_string_lossy()]);
        repo.mission(
            OK_WORKER,
            &format!("forge: github\nlimits: {{max_parallel_workers: 2, worker_timeout: 30s}}\n{settings}"),
            milestones,
        );
        repo.git(&["push", "-q", "origin", "main"]);
        let emu = Emulator::start(&bare, "acme", "widgets");
        emu.set_permission("alice", "write");
        emu.set_permission("rita", "read");
        Gh { repo, bare, emu }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_API_URL", self.emu.url()),
            ("GITHUB_TOKEN", "test-token".into()),
            ("GITHUB_REPOSITORY", "acme/widgets".into()),
            ("GIT_MISSION_GITHUB_POLL", "20ms".into()),
        ]
    }

    fn run(&self, args: &[&str], secs: u64) -> Output {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.repo.run_deadline(args, &env, secs)
    }

    fn run_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let env = self.env();
        let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend_from_slice(extra);
        self.repo.run_deadline(args, &env, 60)
    }

    fn pulse(&self) -> Output {
        self.run(&["pulse", "m"], 60)
    }

    /// A pulse that worked (exit 3: it worked and the mission is paused or blocked).
    #[track_caller]
    fn pulse_ok(&self) {
        let out = self.pulse();
        assert!(matches!(out.code, 0 | 3), "{}", out.snapshot());
    }

    /// Pulses until `done` holds (workers finish on their own; each pulse is a real process).
    fn pulse_until(&self, what: &str, done: impl Fn(&Gh) -> bool) {
        for _ in 0..400 {
            if done(self) {
                return;
            }
            self.pulse();
        }
        panic!("never reached: {what}");
    }

    /// The prompt of `feature`'s attempt `attempt` on this machine, if that run exists.
    fn prompt(&self, feature: &str, attempt: u32) -> Option<String> {
        let tag = format!("-{feature}-{attempt}-");
        std::fs::read_dir(self.repo.runs_dir("m"))
            .ok()?
            .flatten()
            .filter(|d| d.file_name().to_string_lossy().contains(&tag))
            .find_map(|d| std::fs::read_to_string(d.path().join("prompt.md")).ok())
    }

    fn bare_show(&self, spec: &str) -> Option<String> {
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(&self.bare)
            .args(["show", spec])
            .output()
            .expect("git show");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn tracking(&self) -> u64 {
        let issues = self.emu.issues();
        assert_eq!(issues.len(), 1, "one tracking issue: {issues:?}");
        issues[0].number
    }

    fn status(&self) -> String {
        self.repo.status_json()["status"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

/// Every comment the tool wrote carries a marker; none appears twice.
fn assert_no_duplicate_comments(g: &Gh) {
    let mut numbers: Vec<u64> = g.emu.issues().iter().map(|i| i.number).collect();
    numbers.extend(g.emu.pulls().iter().map(|p| p.number));
    let mut seen: HashMap<String, u64> = HashMap::new();
    for n in numbers {
        for c in g.emu.comments(n) {
            if let Some(start) = c.body.find("<!-- git-mission:") {
                let mark = c.body[start..].split("-->").next().unwrap_or("").to_owned();
                *seen.entry(format!("#{n} {mark}")).or_default() += 1;
            }
        }
    }
    for (mark, n) in &seen {
        assert_eq!(*n, 1, "{mark} posted {n} times");
    }
}

#[test]
fn a_full_mission_through_pull_requests() {
    let g = Gh::new("land: auto\n", TWO_MILESTONES);
    g.emu.set_checks(Checks::PassAfter(1));
    let out = g.run(&["run", "m"], 120);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(g.status(), "completed");
    let pulls = g.emu.pulls();
    // One PR per feature, each merged once at the head the tool saw, into the integration
    // branch; land PRs into main.
    for f in ["F1", "F2", "F3"] {
        let prs: Vec<_> = pulls
            .iter()
            .filter(|p| p.head == format!("mission/m.{f}"))
            .collect();
        assert_eq!(prs.len(), 1, "{f}: {prs:?}");
        assert!(prs[0].merged, "{f} merged");
        assert_eq!(prs[0].base, "mission/m");
        assert!(
            prs[0].body.contains(&format!("Wrote out-{f}.txt")),
            "handoff is the body"
        );
    }
    let merges = g.emu.merges();
    let mut merged_prs: Vec<u64> = merges.iter().map(|m| m.pr).collect();
    merged_prs.sort_unstable();
    merged_prs.dedup();
    assert_eq!(merged_prs.len(), merges.len(), "no PR merged twice");
    for m in &merges {
        let pr = pulls.iter().find(|p| p.number == m.pr).expect("merged PR");
        assert_eq!(
            m.sha.as_deref(),
            Some(pr.head_sha.as_str()),
            "merge carries the head SHA"
        );
    }
    let lands: Vec<_> = pulls.iter().filter(|p| p.head == "mission/m").collect();
    assert!(!lands.is_empty() && lands.iter().all(|p| p.base == "main" && p.merged));
    // Checks were pending before they passed: no merge was attempted early (no 405).
    let reqs = g.emu.requests();
    assert!(
        !reqs
            .iter()
            .any(|r| r.route.ends_with("/merge") && r.status == 405)
    );
    // The work is on main in the GitHub repository.
    for f in ["F1", "F2", "F3"] {
        assert!(
            g.bare_show(&format!("main:out-{f}.txt")).is_some(),
            "{f} landed"
        );
    }
    // The tracking issue shows the finished mission and is closed.
    let t = g.tracking();
    let issue = g.emu.issues().into_iter().next().expect("issue");
    assert_eq!(issue.state, "closed");
    let status: Vec<_> = g
        .emu
        .comments(t)
        .into_iter()
        .filter(|c| c.body.contains("git-mission:status"))
        .collect();
    assert_eq!(status.len(), 1, "one sticky status comment");
    assert!(
        status[0].body.contains("**Status:** completed"),
        "{}",
        status[0].body
    );
    let ev = g.repo.events();
    assert_eq!(count(&ev, "milestone.landed", None), 2);
    assert_eq!(count(&ev, "feature.pr_opened", None), 3);
    assert_no_duplicate_comments(&g);
    // The state the tool pushed is the state here.
    assert_eq!(
        g.bare_show("mission/m:todo/missions/m/events.jsonl")
            .map(|s| s.lines().count()),
        Some(ev.len())
    );
    g.emu.write_log(&contract_log("full-mission"));
}

impl Gh {
    /// Installs the workflows on main and sets `dispatch: actions`, as a team does.
    fn install_workflows(&self) {
        self.repo.run(&["init", "--github"]).success();
        self.repo
            .write("todo/missions/config.yml", "dispatch: actions\n");
        self.repo.commit_all("install the git mission workflows");
        self.repo.git(&["push", "-q", "origin", "main"]);
    }

    /// Plays an Actions runner for a dispatch of the worker workflow: a fresh clone of the
    /// GitHub repository at the dispatched ref, then the workflow's command with its inputs.
    fn runner(&self, d: &github_emulator::Dispatch, name: &str, env: &[(&str, &str)]) -> Output {
        let dir = self.repo.home().join(format!("runner-{}-{name}", d.run_id));
        let ok = std::process::Command::new("git")
            .args(["clone", "-q", "--branch", &d.git_ref])
            .arg(&self.bare)
            .arg(&dir)
            .status()
            .expect("git clone")
            .success();
        assert!(ok);
        let input = |k: &str| d.inputs[k].as_str().expect("input").to_owned();
        let mut all = self.env();
        all.push(("GITHUB_ACTIONS", "true".into()));
        all.extend(env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = self
            .repo
            .command(
                &[
                    "work",
                    &input("mission"),
                    &input("feature"),
                    "--run",
                    &input("run"),
                ],
                &all,
            )
            .current_dir(&dir)
            .output()
            .expect("git-mission work");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[test]
fn workers_run_on_actions_runners() {
    let g = Gh::new("land: auto\n", TWO_MILESTONES);
    g.emu.set_checks(Checks::PassAfter(1));
    g.install_workflows();
    let mut handled = std::collections::HashSet::new();
    let mut crashed = None;
    let mut replayed = false;
    for _ in 0..300 {
        if g.status() == "completed" && g.bare_show("main:out-F3.txt").is_some() {
            break;
        }
        for d in g.emu.dispatches() {
            if !handled.insert(d.run_id) {
                continue;
            }
            assert_eq!(d.workflow, "mission-worker.yml");
            assert_eq!(d.git_ref, "main");
            let mut keys: Vec<&String> = d.inputs.as_object().expect("inputs").keys().collect();
            keys.sort();
            assert_eq!(keys, ["feature", "mission", "run"], "ids only");
            if crashed.is_none() {
                // The first runner dies before git mission records anything.
                crashed = Some(d.clone());
                g.emu.complete_workflow_run(d.run_id, "failure");
                continue;
            }
            let out = g.runner(&d, "a", &[]);
            assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
            if !replayed {
                // A re-run of a recorded run does nothing.
                replayed = true;
                let before = g.bare_show("mission/m:todo/missions/m/events.jsonl");
                let again = g.runner(&d, "b", &[]);
                assert_eq!(again.code, 0, "{}", again.stderr);
                assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);
                assert_eq!(
                    g.bare_show("mission/m:todo/missions/m/events.jsonl"),
                    before
                );
            }
            g.emu.complete_workflow_run(d.run_id, "success");
        }
        g.pulse_ok();
    }
    assert_eq!(g.status(), "completed");
    for f in ["F1", "F2", "F3"] {
        assert!(
            g.bare_show(&format!("main:out-{f}.txt")).is_some(),
            "{f} landed"
        );
    }
    let ev = g.repo.events();
    let dispatches = g.emu.dispatches();
    assert_eq!(dispatches.len(), 4, "three features, one retried");
    assert_eq!(count(&ev, "feature.dispatched", None), 4);
    assert!(
        ev.iter()
            .filter(|e| e["type"] == "feature.dispatched")
            .all(|e| e["data"]["on"] == "actions")
    );
    assert_eq!(
        count(&ev, "github.worker", None),
        4,
        "each workflow run noted"
    );
    // The installed workflow's run-name puts the run id in the title the pulse matches on.
    for r in g.emu.workflow_runs() {
        let run = r.inputs["run"].as_str().expect("run input");
        assert!(
            r.display_title.ends_with(&format!(" run {run}")),
            "{}",
            r.display_title
        );
    }
    // The crashed runner is a lost attempt, with its workflow run named; the retry succeeded.
    let crashed = crashed.expect("a crashed runner");
    let lost_run = crashed.inputs["run"].as_str().expect("run").to_owned();
    let lost = ev
        .iter()
        .find(|e| e["run"] == lost_run.as_str() && e["type"] == "run.finished")
        .expect("the lost run is recorded");
    let why = lost["data"]["failure"].as_str().unwrap_or("");
    assert!(
        why.contains("without recording a result")
            && why.contains(&format!("/actions/runs/{}", crashed.run_id)),
        "{why}"
    );
    assert_eq!(count(&ev, "feature.retried", Some("F1")), 1);
    assert_eq!(count(&ev, "feature.failed", None), 0);
    // Every other run was recorded by its runner, and nothing ran on the pulse's machine.
    assert_eq!(count(&ev, "feature.handoff", None), 3);
    let runs_here = g.repo.runs_dir("m");
    for d in std::fs::read_dir(&runs_here)
        .into_iter()
        .flatten()
        .flatten()
    {
        let meta = std::fs::read_to_string(d.path().join("meta.json")).unwrap_or_default();
        let meta: serde_json::Value = serde_json::from_str(&meta).unwrap_or_default();
        assert_ne!(
            meta["role"], "worker",
            "a worker ran where the pulse runs: {meta}"
        );
    }
    g.emu.write_log(&contract_log("actions-workers"));
}

#[test]
fn an_overdue_actions_worker_is_cancelled_and_counted() {
    let g = Gh::new(
        "land: pr\n",
        "  - id: M1\n    title: One\n    validation: {commands: [\"true\"], assertions: [VC1]}\n    features:\n      - {id: F1, title: first, description: x}\n",
    );
    g.install_workflows();
    // The pulse's deadline: no time for a runner at all.
    let tight = [
        ("GIT_MISSION_LIMITS_WORKER_TIMEOUT", "1ms"),
        ("GIT_MISSION_GITHUB_QUEUE_GRACE", "0s"),
    ];
    let pulse = || {
        let out = g.run_with(&["pulse", "m"], &tight);
        assert!(matches!(out.code, 0 | 3), "{}", out.snapshot());
    };
    for _ in 0..10 {
        if !g.emu.dispatches().is_empty() {
            break;
        }
        pulse();
    }
    let first = g.emu.dispatches();
    assert_eq!(first.len(), 1);
    // Never picked up by a runner: the next pulses cancel it and dispatch attempt 2.
    for _ in 0..50 {
        if g.emu.dispatches().len() > 1 {
            break;
        }
        pulse();
    }
    let ds = g.emu.dispatches();
    assert_eq!(ds.len(), 2, "retried once");
    let cancels: Vec<_> = g
        .emu
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST"
                && r.path
                    .ends_with(&format!("/actions/runs/{}/cancel", first[0].run_id))
        })
        .collect();
    assert_eq!(cancels.len(), 1, "the overdue run is cancelled once");
    let cancelled = g.emu.workflow_runs();
    assert_eq!(cancelled[0].status, "completed");
    assert_eq!(cancelled[0].conclusion.as_deref(), Some("cancelled"));
    let ev = g.repo.events();
    let run1 = first[0].inputs["run"].as_str().expect("run");
    let timed_out = ev
        .iter()
        .find(|e| e["run"] == run1 && e["type"] == "run.timed_out")
        .expect("recorded as timed out");
    assert!(
        timed_out["data"]["failure"]
            .as_str()
            .unwrap_or("")
            .contains("overran")
    );
    assert_eq!(
        g.repo.status_json()["milestones"][0]["features"][0]["attempts"],
        1
    );
    // A runner that picks up the cancelled run late does nothing.
    let late = g.runner(&first[0], "late", &[]);
    assert_eq!(late.code, 0, "{}", late.stderr);
    assert!(late.stdout.contains("nothing to do"), "{}", late.stdout);
    // Attempt 2 runs (with a normal deadline) and the feature goes to review.
    let out = g.runner(&ds[1], "a", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    g.emu.complete_workflow_run(ds[1].run_id, "success");
    g.pulse_ok();
    let ev = g.repo.events();
    assert_eq!(count(&ev, "feature.handoff", Some("F1")), 1);
    assert_eq!(count(&ev, "feature.pr_opened", Some("F1")), 1);
}

#[test]
fn a_lost_push_race_is_fetched_and_reapplied() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    g.pulse_until("F1's PR is open and the status is posted", |g| {
        g.emu.pulls().iter().any(|p| p.head == "mission/m.F1")
            && g.emu.issues().first().is_some_and(|i| {
                g.emu
                    .comments(i.number)
                    .iter()
                    .any(|c| c.body.contains("git-mission:status"))
            })
    });
    // Another machine pauses the mission and its push lands while our pulse works: a
    // one-shot pre-receive hook moves mission/m to that commit and refuses our push.
    let other = g.repo.home().join("other");
    let git_in = |dir: &std::path::Path, args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .status()
            .expect("git")
            .success();
        assert!(ok, "git {args:?}");
    };
    git_in(
        g.repo.home(),
        &["clone", "-q", &g.bare.to_string_lossy(), "other"],
    );
    git_in(&other, &["fetch", "-q", "origin", "mission/m:mission/m"]);
    let paused = g
        .repo
        .command(&["pause", "m"], &[])
        .current_dir(&other)
        .output()
        .expect("pause");
    assert!(
        paused.status.success(),
        "{}",
        String::from_utf8_lossy(&paused.stderr)
    );
    git_in(
        &other,
        &["push", "-q", "origin", "mission/m:refs/race/next"],
    );
    let hook = g.bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\nwhile read old new ref; do\n  if [ \"$ref\" = refs/heads/mission/m ] && next=$(git rev-parse -q --verify refs/race/next); then\n    env -u GIT_QUARANTINE_PATH git update-ref refs/heads/mission/m \"$next\"\n    env -u GIT_QUARANTINE_PATH git update-ref -d refs/race/next\n    echo 'raced' >&2\n    exit 1\n  fi\ndone\n",
    )
    .expect("hook");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // Our pulse has a state change to push: a writer's steer on the tracking issue.
    let t = g.tracking();
    let steer = g
        .emu
        .add_comment(t, "alice", false, "/mission steer F2 keep it small");
    g.pulse_ok();
    assert!(
        g.bare_show("refs/race/next").is_none(),
        "the hook fired: the race happened"
    );
    // Both changes are on GitHub, ours re-applied on top of theirs; nothing diverged.
    let remote: Vec<serde_json::Value> = g
        .bare_show("mission/m:todo/missions/m/events.jsonl")
        .expect("remote log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("event"))
        .collect();
    assert_eq!(
        count(&remote, "mission.paused", None),
        1,
        "their pause kept"
    );
    assert_eq!(
        count(&remote, "feature.steered", Some("F2")),
        1,
        "our steer kept"
    );
    assert!(
        count(&remote, "state.retry", None) >= 1,
        "the lost race is logged"
    );
    assert!(
        remote
            .iter()
            .any(|e| e["type"] == "comment.handled" && e["data"]["comment"] == steer),
        "the comment is recorded once, with its effect"
    );
    let bare_head = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&g.bare)
        .args(["rev-parse", "mission/m"])
        .output()
        .expect("rev-parse");
    assert_eq!(
        g.repo.git(&["rev-parse", "mission/m"]).trim(),
        String::from_utf8_lossy(&bare_head.stdout).trim(),
        "this clone holds what GitHub holds"
    );
    assert_eq!(g.status(), "paused");
    g.pulse_ok();
    assert_no_duplicate_comments(&g);
}

#[test]
fn pause_now_from_a_comment_cancels_actions_workers() {
    let g = Gh::new(
        "land: pr\n",
        "  - id: M1\n    title: One\n    validation: {commands: [\"true\"], assertions: [VC1]}\n    features:\n      - {id: F1, title: first, description: x}\n",
    );
    g.install_workflows();
    g.pulse_until("F1 is dispatched and tracked", |g| {
        !g.emu.dispatches().is_empty() && !g.emu.issues().is_empty()
    });
    let d = g.emu.dispatches()[0].clone();
    g.emu.start_workflow_run(d.run_id);
    let t = g.tracking();
    g.emu.add_comment(t, "alice", false, "/mission pause now");
    // The pulse that applies the pause, or the next one, stops the worker.
    let wf = |g: &Gh| {
        g.emu
            .workflow_runs()
            .into_iter()
            .find(|r| r.id == d.run_id)
            .expect("run")
    };
    g.pulse_ok();
    assert_eq!(g.status(), "paused");
    g.pulse_ok();
    let run = wf(&g);
    assert_eq!(run.conclusion.as_deref(), Some("cancelled"), "{run:?}");
    let ev = g.repo.events();
    let r1 = d.inputs["run"].as_str().expect("run");
    assert!(
        ev.iter()
            .any(|e| e["run"] == r1 && e["type"] == "run.cancelled"),
        "recorded as cancelled"
    );
    let f1 = &g.repo.status_json()["milestones"][0]["features"][0];
    assert_eq!(f1["status"], "pending");
    assert_eq!(f1["attempts"], 0, "a stop is not a failed attempt");
    // The runner that was cancelled late does nothing; nothing is dispatched while paused.
    let late = g.runner(&d, "late", &[]);
    assert_eq!(late.code, 0, "{}", late.stderr);
    assert!(late.stdout.contains("nothing to do"), "{}", late.stdout);
    g.pulse_ok();
    assert_eq!(g.emu.dispatches().len(), 1);
    // Resumed, F1 goes out again as its first attempt.
    g.emu.add_comment(t, "alice", false, "/mission resume");
    g.pulse_until("F1 is dispatched again", |g| g.emu.dispatches().len() == 2);
    let ev = g.repo.events();
    let again = ev
        .iter()
        .rev()
        .find(|e| e["type"] == "feature.dispatched")
        .expect("dispatch");
    assert_eq!(again["attempt"], 1);
}

fn contract_log(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("github-contract");
    std::fs::create_dir_all(&dir).expect("log dir");
    dir.join(format!("{name}.jsonl"))
}

#[test]
fn comments_steer_the_mission_once_and_only_from_writers() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    // Checks never finish: the mission waits on F1's PR while people talk to it.
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    g.pulse_until("F1's PR is open", |g| {
        g.emu.pulls().iter().any(|p| p.head == "mission/m.F1")
    });
    g.pulse_until("the tracking issue has a status comment", |g| {
        g.emu.issues().first().is_some_and(|i| {
            g.emu
                .comments(i.number)
                .iter()
                .any(|c| c.body.contains("git-mission:status"))
        })
    });
    let t = g.tracking();
    // A read-only user and a bot cannot command.
    let rita = g.emu.add_comment(t, "rita", false, "/mission pause");
    let bot = g
        .emu
        .add_comment(t, "dependabot[bot]", true, "/mission pause");
    g.pulse_ok();
    assert_eq!(g.status(), "running");
    let replies = |id: u64| {
        g.emu
            .comments(t)
            .into_iter()
            .filter(|c| c.body.contains(&format!("git-mission:reply comment={id} ")))
            .collect::<Vec<_>>()
    };
    assert_eq!(replies(rita).len(), 1);
    assert!(replies(rita)[0].body.contains("only people with write"));
    assert_eq!(
        g.emu.reactions(rita),
        vec![("github-actions[bot]".to_owned(), "-1".to_owned())]
    );
    assert!(replies(bot).is_empty(), "bots are ignored silently");
    // A writer pauses it, on the feature's PR (the mission is inferred from the branch).
    let pr = g
        .emu
        .pulls()
        .into_iter()
        .find(|p| p.head == "mission/m.F1")
        .expect("F1 PR")
        .number;
    let alice = g
        .emu
        .add_comment(pr, "alice", false, "Looks odd.\n/mission pause\n");
    g.pulse_ok();
    assert_eq!(g.status(), "paused");
    // Seen again by more pulses: applied and answered once.
    g.pulse_ok();
    g.pulse_ok();
    let on_pr: Vec<_> = g
        .emu
        .comments(pr)
        .into_iter()
        .filter(|c| {
            c.body
                .contains(&format!("git-mission:reply comment={alice} "))
        })
        .collect();
    assert_eq!(on_pr.len(), 1, "{on_pr:?}");
    assert!(on_pr[0].body.contains("paused m"));
    assert_eq!(g.emu.reactions(alice).len(), 1);
    let ev = g.repo.events();
    assert_eq!(count(&ev, "mission.paused", None), 1);
    assert_eq!(
        count(&ev, "comment.handled", None),
        2,
        "rita's refusal and alice's pause"
    );
    // Hostile text is data: it is stored as steering, never run.
    let pwned = g.repo.home().join("pwned");
    let body = format!(
        "/mission steer F2 $(touch {p}) `touch {p}` ; touch {p}",
        p = pwned.display()
    );
    g.emu.add_comment(t, "alice", false, &body);
    g.pulse_ok();
    let ev = g.repo.events();
    let steer = ev
        .iter()
        .find(|e| e["type"] == "feature.steered")
        .expect("steering recorded");
    assert!(
        steer["data"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("$(touch")
    );
    // An unknown command is answered with the grammar.
    let bad = g.emu.add_comment(t, "alice", false, "/mission dance");
    g.emu.add_comment(t, "alice", false, "/mission resume");
    g.emu.set_checks(Checks::PassAfter(0));
    let out = g.run(&["run", "m"], 120);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!pwned.exists(), "comment text reached a shell");
    assert_eq!(replies(bad).len(), 1);
    assert!(replies(bad)[0].body.contains("/mission [<id>] status"));
    assert_eq!(g.status(), "completed");
    // land: pr — the land PR is open for a person to merge.
    let lands: Vec<_> = g
        .emu
        .pulls()
        .into_iter()
        .filter(|p| p.head == "mission/m")
        .collect();
    assert_eq!(lands.len(), 1);
    assert!(!lands[0].merged);
    assert_no_duplicate_comments(&g);
    g.emu.write_log(&contract_log("comments"));
}

/// A mission through a storm of faults (502s, half of them after the write was performed,
/// secondary limits, 429s, exhausted GraphQL and REST rate limits) while people comment: one
/// PR per feature, each recorded with its `pr_opened`, no double merge, no duplicate comment,
/// every comment answered exactly once.
fn storm(seed: u64) {
    let g = Gh::new("land: auto\n", TWO_MILESTONES);
    g.emu.set_checks(Checks::PassAfter(1));
    g.emu.set_faults(Faults {
        rate: 0.2,
        seed,
        kinds: vec![
            Fault::ServerError,
            Fault::SecondaryLimit,
            Fault::TooMany,
            Fault::RateLimited,
        ],
    });
    let t0 = std::time::Instant::now();
    let done = |g: &Gh| {
        g.status() == "completed"
            && g.repo
                .events()
                .iter()
                .any(|e| e["type"] == "mission.landed")
    };
    // Comments arrive during the storm: a command, a hostile flood from a non-writer, an
    // invalid command (all three left to the pulses), and a command on the newest feature PR
    // delivered to the comment workflow (`comment --event`, re-run while the storm fails it,
    // as a person re-runs a failed workflow run) racing the pulses.
    let flood = format!("/mission {}", "\\".repeat(40_000));
    let script: [(&str, &str, bool); 4] = [
        ("alice", "/mission status", false),
        ("rita", &flood, false),
        ("alice", "/mission dance", false),
        ("alice", "/mission status", true),
    ];
    let mut posted: Vec<(u64, u64)> = Vec::new();
    let mut pulses = 0;
    while !done(&g) {
        assert!(pulses < 400, "never completed (seed {seed})");
        if pulses % 2 == 1 && posted.len() < script.len() {
            let (login, body, on_pr) = script[posted.len()];
            let on = if on_pr {
                g.emu.pulls().iter().map(|p| p.number).max()
            } else {
                g.emu.issues().first().map(|i| i.number)
            };
            if let Some(on) = on {
                let id = g.emu.add_comment(on, login, false, body);
                posted.push((on, id));
                if on_pr {
                    let event = g.comment_event(on, id, login, body, true);
                    let ok = (0..10).any(|_| g.run(&["comment", "--event", &event], 60).code == 0);
                    assert!(ok, "the comment workflow succeeds within ten runs");
                }
            }
        }
        g.pulse();
        pulses += 1;
    }
    assert_eq!(
        posted.len(),
        script.len(),
        "every comment was posted in the storm"
    );
    g.pulse_until("the tracking issue is closed", |g| {
        g.emu.issues().first().is_some_and(|i| i.state == "closed")
    });
    g.pulse_until("every comment is answered", |g| {
        posted
            .iter()
            .all(|&(on, id)| !replies_to(g, on, id).is_empty())
    });
    eprintln!("storm {seed}: {pulses} pulses, {:?}", t0.elapsed());
    let faults = g
        .emu
        .requests()
        .iter()
        .filter(|r| {
            r.status >= 403
                && r.status != 404
                && r.status != 405
                && r.status != 409
                && r.status != 422
        })
        .count();
    assert!(faults > 5, "the storm happened ({faults} faults)");
    let pulls = g.emu.pulls();
    let ev = g.repo.events();
    for f in ["F1", "F2", "F3"] {
        let mine: Vec<u64> = pulls
            .iter()
            .filter(|p| p.head == format!("mission/m.{f}"))
            .map(|p| p.number)
            .collect();
        assert_eq!(mine.len(), 1, "{f} has one PR");
        let recorded: Vec<&serde_json::Value> = ev
            .iter()
            .filter(|e| e["type"] == "feature.pr_opened" && e["feature"] == f)
            .collect();
        assert_eq!(recorded.len(), 1, "{f}: {recorded:?}");
        assert_eq!(
            recorded[0]["data"]["pr"], mine[0],
            "{f}: its PR is the one recorded"
        );
    }
    let merges = g.emu.merges();
    let mut prs: Vec<u64> = merges.iter().map(|m| m.pr).collect();
    prs.sort_unstable();
    prs.dedup();
    assert_eq!(prs.len(), merges.len(), "no double merge: {merges:?}");
    assert_eq!(g.emu.issues().len(), 1, "one tracking issue");
    assert_no_duplicate_comments(&g);
    for &(on, id) in &posted {
        let replies = replies_to(&g, on, id);
        assert_eq!(replies.len(), 1, "comment {id} answered once: {replies:?}");
        assert!(
            replies[0].len() < 2_000,
            "a short reply: {}",
            replies[0].len()
        );
        let handled = ev
            .iter()
            .filter(|e| {
                (e["type"] == "comment.answered" || e["type"] == "comment.unanswerable")
                    && e["data"]["comment"] == id
            })
            .count();
        assert_eq!(handled, 1, "comment {id}: one answered event");
    }
    for f in ["F1", "F2", "F3"] {
        assert!(
            g.bare_show(&format!("main:out-{f}.txt")).is_some(),
            "{f} landed"
        );
    }
    g.emu.write_log(&contract_log(&format!("storm-{seed}")));
}

#[test]
fn a_storm_of_faults_loses_nothing_and_repeats_nothing() {
    storm(7);
}

#[test]
fn a_storm_over_another_seed() {
    storm(11);
}

#[test]
fn a_storm_over_a_third_seed() {
    storm(23);
}

#[test]
fn init_github_installs_the_workflows_once() {
    let repo = TestRepo::new();
    repo.write(".github/workflows/mission-pulse.yml", "# mine\n");
    let out = repo.run(&["init", "--github"]);
    out.success();
    assert!(
        out.stdout
            .contains("installed .github/workflows/mission-worker.yml"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(".github/workflows/mission-pulse.yml already exists")
    );
    assert_eq!(
        repo.read(".github/workflows/mission-pulse.yml"),
        "# mine\n",
        "never overwritten"
    );
    let comment = repo.read(".github/workflows/mission-comment.yml");
    assert!(comment.contains("git mission comment --event \"$GITHUB_EVENT_PATH\""));
    assert!(
        !comment.contains("github.event.comment.body }}"),
        "no comment text in a script"
    );
    // Runners install exactly this binary's version, cached by version, never "the latest".
    for name in ["mission-comment.yml", "mission-worker.yml"] {
        let text = repo.read(&format!(".github/workflows/{name}"));
        assert!(
            text.contains(&format!(
                "\n  GIT_MISSION_VERSION: \"{}\"\n",
                env!("CARGO_PKG_VERSION")
            )),
            "{name}: {text}"
        );
        assert!(!text.contains("@GIT_MISSION_VERSION@"), "{name}");
        // The released binary first, checked against its SHA-256; a pinned build as fallback
        // (tests/install.rs runs the step).
        assert!(
            text.contains("cargo install --locked --root \"$dest/..\" --version \"=$GIT_MISSION_VERSION\" git-mission"),
            "{name}"
        );
        assert!(text.contains("\"$want\" = \"$got\""), "{name}");
        assert!(
            text.contains("key: git-mission-${{ runner.os }}-${{ runner.arch }}-${{ env.GIT_MISSION_VERSION }}"),
            "{name}"
        );
        assert!(
            text.contains("if: steps.git-mission-cache.outputs.cache-hit != 'true'"),
            "{name}"
        );
        assert_eq!(
            text.matches("- name: Install git-mission").count(),
            1,
            "{name}"
        );
    }
}

#[test]
fn an_idle_pulse_makes_one_request() {
    let g = Gh::new(
        "land: pr\n",
        "  - id: M1\n    title: One\n    validation: {commands: [\"true\"], assertions: [VC1]}\n    features:\n      - {id: F1, title: first, description: x}\n      - {id: F2, title: second, description: x}\n",
    );
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    g.pulse_until("both PRs are open and the status is posted", |g| {
        g.emu.pulls().len() == 2
            && g.emu.issues().first().is_some_and(|i| {
                g.emu
                    .comments(i.number)
                    .iter()
                    .any(|c| c.body.contains("git-mission:status"))
            })
    });
    g.pulse_ok();
    g.emu.clear_requests();
    g.pulse_ok();
    let reqs = g.emu.requests();
    assert_eq!(
        reqs.len(),
        1,
        "{:?}",
        reqs.iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
    assert!(reqs[0].graphql);
}

#[test]
fn comment_events_from_actions() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    g.pulse_until("the tracking issue exists", |g| !g.emu.issues().is_empty());
    let t = g.tracking();
    let issue_body = g.emu.issues()[0].body.clone();
    let event = |action: &str, id: u64, login: &str, kind: &str, body: &str| {
        let mut v: serde_json::Value = serde_json::from_str(include_str!(
            "github/webhooks/examples/issue_comment.created.2.json"
        ))
        .expect("example");
        v["action"] = action.into();
        v["issue"]["number"] = t.into();
        v["issue"]["body"] = issue_body.clone().into();
        v["comment"]["id"] = id.into();
        v["comment"]["body"] = body.into();
        v["comment"]["user"]["login"] = login.into();
        v["comment"]["user"]["type"] = kind.into();
        v["sender"]["login"] = login.into();
        v["sender"]["type"] = kind.into();
        let path = g.repo.home().join(format!("event-{id}-{action}.json"));
        std::fs::write(&path, v.to_string()).expect("write event");
        path.to_string_lossy().into_owned()
    };
    // edited, deleted and bot events are ignored without a request.
    g.emu.clear_requests();
    for (action, login, kind) in [
        ("edited", "alice", "User"),
        ("deleted", "alice", "User"),
        ("created", "renovate[bot]", "Bot"),
    ] {
        let out = g.run(
            &[
                "comment",
                "--event",
                &event(action, 9001, login, kind, "/mission pause"),
            ],
            30,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.starts_with("ignored:"), "{}", out.stdout);
    }
    assert!(g.emu.requests().is_empty());
    // A writer's comment (the emulator holds it, as GitHub would) pauses the mission, once.
    let id = g.emu.add_comment(t, "alice", false, "/mission pause");
    let path = event("created", id, "alice", "User", "/mission pause");
    g.run(&["comment", "--event", &path], 30).success();
    g.run(&["comment", "--event", &path], 30).success();
    // The mission state was pushed: a fresh fetch sees the pause.
    g.repo.git(&[
        "fetch",
        "-q",
        "origin",
        "+mission/m:refs/remotes/origin/mission/m",
    ]);
    let text = g
        .repo
        .git(&["show", "origin/mission/m:todo/missions/m-mission.md"]);
    assert!(text.contains("status: paused"), "{text}");
    let replies = g
        .emu
        .comments(t)
        .into_iter()
        .filter(|c| c.body.contains(&format!("git-mission:reply comment={id} ")))
        .count();
    assert_eq!(replies, 1);
    // The pulse sees the same comment and does not apply or answer it again.
    g.pulse_ok();
    assert_eq!(count(&g.repo.events(), "mission.paused", None), 1);
    // Every real issue_comment example: handled or ignored, never a crash.
    for entry in std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/github/webhooks/examples"
    ))
    .expect("examples")
    {
        let p = entry.expect("entry").path();
        let out = g.run(&["comment", "--event", &p.to_string_lossy()], 30);
        assert_eq!(out.code, 0, "{}: {}", p.display(), out.stderr);
    }
}

#[test]
fn a_deleted_tracking_issue_is_replaced() {
    let g = Gh::new("land: auto\n", TWO_MILESTONES);
    // Checks wait: the mission is running while its tracking issue is deleted.
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    let has_status = |g: &Gh, n: u64| {
        g.emu
            .comments(n)
            .iter()
            .any(|c| c.body.contains("git-mission:status"))
    };
    g.pulse_until("the tracking issue has a status comment", |g| {
        g.emu
            .issues()
            .first()
            .is_some_and(|i| has_status(g, i.number))
    });
    let old = g.tracking();
    g.emu.delete_issue(old);
    assert!(g.emu.issues().is_empty());
    g.emu.clear_requests();
    // The first pulse opens a new issue; the next posts the status there. No pulse fails.
    g.pulse_ok();
    g.pulse_ok();
    let issues = g.emu.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let new = &issues[0];
    assert_ne!(new.number, old);
    assert_eq!(new.state, "open");
    assert!(
        new.body.contains("<!-- git-mission:tracking mission=m -->"),
        "{}",
        new.body
    );
    assert!(
        has_status(&g, new.number),
        "status comment on the new issue"
    );
    let tracked: Vec<u64> = g
        .repo
        .events()
        .iter()
        .filter(|e| e["type"] == "github.tracking")
        .filter_map(|e| e["data"]["issue"].as_u64())
        .collect();
    assert_eq!(tracked, vec![old, new.number]);
    // Nothing was asked of the deleted issue but the query that found it gone.
    let old_paths: Vec<String> = g
        .emu
        .requests()
        .iter()
        .filter(|r| r.path.contains(&format!("/issues/{old}")))
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect();
    assert!(old_paths.is_empty(), "{old_paths:?}");
    // Commands on the new issue work, and the mission carries on to the end.
    let ask = g
        .emu
        .add_comment(new.number, "alice", false, "/mission status");
    g.emu.set_checks(Checks::PassAfter(0));
    let out = g.run(&["run", "m"], 120);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(g.status(), "completed");
    assert_eq!(g.emu.reactions(ask).len(), 1);
    let issues = g.emu.issues();
    assert_eq!(issues.len(), 1, "no third issue: {issues:?}");
    assert_eq!(
        issues[0].state, "closed",
        "the new issue is closed at the end"
    );
    assert_no_duplicate_comments(&g);
    g.emu.write_log(&contract_log("deleted-tracking-issue"));
}

/// A draft mission `id` whose workers run scripts/w.sh; `extra` goes into its first feature.
fn draft(id: &str, extra: &str) -> String {
    format!(
        "---\nschema: 1\nid: {id}\ntitle: Planned mission\nstatus: draft\napproved: null\nagents: {{worker: w}}\nprofiles:\n  w: {{agent: exec, command: [sh, scripts/w.sh]}}\nspent: {{usd: 0, tokens: 0, hours: 0, runs: 0}}\nblock: null\ncontract:\n  - {{id: VC1, text: works}}\nresources: []\nmilestones:\n  - id: M1\n    title: One\n    validation: {{commands: [\"true\"], assertions: [VC1]}}\n    features:\n      - {{id: F1, title: first, description: x{extra}}}\n---\n# Plan\n\n## Objective\n\nTest.\n\n## Non-goals\n\nNone.\n\n## Risks\n\nNone.\n"
    )
}

impl Gh {
    /// Pushes `branch` (from main) holding `files`, and opens a PR for it by `login`.
    fn plan_pr(&self, branch: &str, files: &[(&str, &str)], login: &str) -> u64 {
        self.repo.git(&["checkout", "-q", "-b", branch, "main"]);
        for (path, text) in files {
            self.repo.write(path, text);
        }
        self.repo.commit_all("plan");
        self.repo.git(&["push", "-q", "origin", branch]);
        self.repo.git(&["checkout", "-q", "main"]);
        self.emu.add_pull(branch, "main", "A plan", login)
    }

    /// An issue_comment `created` event for a comment the emulator holds, on issue or PR `on`.
    fn comment_event(&self, on: u64, comment: u64, login: &str, body: &str, pr: bool) -> String {
        let mut v: serde_json::Value = serde_json::from_str(include_str!(
            "github/webhooks/examples/issue_comment.created.2.json"
        ))
        .expect("example");
        let issue_body = self
            .emu
            .issues()
            .into_iter()
            .find(|i| i.number == on)
            .map(|i| i.body)
            .unwrap_or_default();
        v["action"] = "created".into();
        v["issue"]["number"] = on.into();
        v["issue"]["body"] = issue_body.into();
        if pr {
            v["issue"]["pull_request"] = serde_json::json!({
                "url": format!("{}/repos/acme/widgets/pulls/{on}", self.emu.url()),
                "html_url": "", "diff_url": "", "patch_url": "", "merged_at": null,
            });
        }
        v["comment"]["id"] = comment.into();
        v["comment"]["body"] = body.into();
        v["comment"]["user"]["login"] = login.into();
        v["comment"]["user"]["type"] = "User".into();
        v["sender"]["login"] = login.into();
        v["sender"]["type"] = "User".into();
        let path = self.repo.home().join(format!("event-{comment}.json"));
        std::fs::write(&path, v.to_string()).expect("write event");
        path.to_string_lossy().into_owned()
    }

    /// Comments `body` as `login` on `on` and runs `comment --event` on it; the reply.
    fn comment_via_event(&self, on: u64, login: &str, body: &str, pr: bool) -> (u64, String) {
        let id = self.emu.add_comment(on, login, false, body);
        let event = self.comment_event(on, id, login, body, pr);
        let out = self.run(&["comment", "--event", &event], 60);
        assert_eq!(out.code, 0, "{}", out.snapshot());
        let replies: Vec<String> = self
            .emu
            .comments(on)
            .into_iter()
            .filter(|c| c.body.contains(&format!("git-mission:reply comment={id} ")))
            .map(|c| c.body)
            .collect();
        assert_eq!(replies.len(), 1, "one reply: {replies:?}");
        (id, replies[0].clone())
    }

    fn bare_rev(&self, rev: &str) -> String {
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(&self.bare)
            .args(["rev-parse", rev])
            .output()
            .expect("git rev-parse");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

#[test]
fn approve_from_a_pull_request_comment() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    let file = "todo/missions/p-mission.md";
    let pr = g.plan_pr("plan/p", &[(file, &draft("p", ""))], "alice");
    let before = g.bare_rev("plan/p");
    let main = g.bare_rev("main");

    // A read-only user cannot approve: refused, nothing pushed.
    let (rita, reply) = g.comment_via_event(pr, "rita", "/mission approve", true);
    assert!(reply.contains("only people with write"), "{reply}");
    assert_eq!(
        g.emu.reactions(rita),
        vec![("github-actions[bot]".to_owned(), "-1".to_owned())]
    );
    assert_eq!(g.bare_rev("plan/p"), before);

    // A writer approves: one commit on the PR's branch, changing only the mission file.
    let (alice, reply) = g.comment_via_event(pr, "alice", "/mission approve", true);
    assert!(
        reply.contains("approved; merging this PR starts the mission `p`"),
        "{reply}"
    );
    assert_eq!(
        g.emu.reactions(alice),
        vec![("github-actions[bot]".to_owned(), "+1".to_owned())]
    );
    let after = g.bare_rev("plan/p");
    assert_ne!(after, before);
    assert_eq!(
        g.bare_rev("plan/p^"),
        before,
        "a child of the head, not a rewrite"
    );
    g.repo.git(&[
        "fetch",
        "-q",
        "origin",
        "+plan/p:refs/remotes/origin/plan/p",
    ]);
    let files = g.repo.git(&["diff", "--name-only", &before, &after]);
    assert_eq!(files.trim(), file);
    let text = g.bare_show(&format!("plan/p:{file}")).expect("file");
    assert!(text.contains("status: approved"), "{text}");
    assert!(text.contains("by: alice"), "{text}");
    assert!(text.contains("# Plan\n\n## Objective"), "the body is kept");
    assert!(
        g.repo
            .git(&["log", "-1", "--format=%B", &after])
            .contains(&format!("Git-Mission-Comment: {alice}"))
    );
    // The approved file validates as `git mission approve` would leave it.
    g.repo.git(&["checkout", "-q", "origin/plan/p"]);
    let v = g.run(&["validate", "p"], 30);
    assert_eq!(v.code, 0, "{}", v.snapshot());
    g.repo.git(&["checkout", "-q", "main"]);
    // Nothing else moved, nothing started.
    assert_eq!(g.bare_rev("main"), main);
    assert!(
        g.bare_show("mission/p:todo/missions/p-mission.md")
            .is_none()
    );

    // The same event again (a redelivery): no second commit, no second reply.
    let event = g.comment_event(pr, alice, "alice", "/mission approve", true);
    let out = g.run(&["comment", "--event", &event], 60);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("approved; merging this PR"),
        "{}",
        out.stdout
    );
    assert_eq!(g.bare_rev("plan/p"), after);
    let replies = g
        .emu
        .comments(pr)
        .iter()
        .filter(|c| {
            c.body
                .contains(&format!("git-mission:reply comment={alice} "))
        })
        .count();
    assert_eq!(replies, 1);

    // Approving again: refused with the reason.
    let (_, reply) = g.comment_via_event(pr, "alice", "/mission approve", true);
    assert!(reply.contains("already approved (by alice"), "{reply}");
    assert_eq!(g.bare_rev("plan/p"), after);

    // A draft with errors is not approved; the reply names them.
    let bad = g.plan_pr(
        "plan/q",
        &[(
            "todo/missions/q-mission.md",
            &draft("q", ", depends_on: [F9]"),
        )],
        "alice",
    );
    let q_before = g.bare_rev("plan/q");
    let (_, reply) = g.comment_via_event(bad, "alice", "/mission approve", true);
    assert!(reply.contains("cannot be approved"), "{reply}");
    assert!(reply.contains("todo/missions/q-mission.md:"), "{reply}");
    assert!(reply.contains("F9"), "{reply}");
    assert_eq!(g.bare_rev("plan/q"), q_before);

    // A PR that changes no mission file.
    let none = g.plan_pr("plan/none", &[("notes.txt", "x\n")], "alice");
    let (_, reply) = g.comment_via_event(none, "alice", "/mission approve", true);
    assert!(reply.contains("no mission file"), "{reply}");

    // On an issue: answered with how to approve.
    let issue = g.emu.add_issue("Ideas", "Let us plan.", "alice");
    let (_, reply) = g.comment_via_event(issue, "alice", "/mission approve", false);
    assert!(reply.contains("happens on a pull request"), "{reply}");
    assert!(reply.contains("/mission approve"), "{reply}");

    // On a running mission's tracking issue: it has already started.
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    g.pulse_until("the tracking issue exists", |g| {
        g.emu
            .issues()
            .iter()
            .any(|i| i.body.contains("git-mission:tracking"))
    });
    let t = g
        .emu
        .issues()
        .into_iter()
        .find(|i| i.body.contains("git-mission:tracking"))
        .expect("tracking")
        .number;
    let (_, reply) = g.comment_via_event(t, "alice", "/mission approve", false);
    assert!(reply.contains("already started"), "{reply}");
    assert_eq!(g.status(), "running");
    g.emu.write_log(&contract_log("approve"));
}

/// Pulses until F1's PR is open and the tracking issue has its status comment; returns the PR
/// and the tracking issue.
fn open_f1(g: &Gh) -> (u64, u64) {
    g.pulse_until("F1's PR is open", |g| {
        g.emu.pulls().iter().any(|p| p.head == "mission/m.F1")
    });
    g.pulse_until("the tracking issue has a status comment", |g| {
        g.emu.issues().first().is_some_and(|i| {
            g.emu
                .comments(i.number)
                .iter()
                .any(|c| c.body.contains("git-mission:status") && c.login == "github-actions[bot]")
        })
    });
    let pr = g
        .emu
        .pulls()
        .into_iter()
        .find(|p| p.head == "mission/m.F1")
        .expect("F1 PR")
        .number;
    (pr, g.tracking())
}

fn replies_to(g: &Gh, on: u64, id: u64) -> Vec<String> {
    g.emu
        .comments(on)
        .into_iter()
        .filter(|c| c.login == "github-actions[bot]")
        .filter(|c| c.body.contains(&format!("git-mission:reply comment={id} ")))
        .map(|c| c.body)
        .collect()
}

#[test]
fn a_hostile_comment_is_refused_briefly_and_stalls_nothing() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    let (_, t) = open_f1(&g);
    // 40,000 backslashes from someone without write access.
    let flood = format!("/mission {}", "\\".repeat(40_000));
    let rita = g.emu.add_comment(t, "rita", false, &flood);
    g.pulse_ok();
    let replies = replies_to(&g, t, rita);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(
        replies[0].contains("only people with write"),
        "{}",
        replies[0]
    );
    assert!(
        replies[0].len() < 1_000,
        "the reply echoes nothing: {} bytes",
        replies[0].len()
    );
    // A writer's invalid command is answered with a short, escaped excerpt.
    let alice = g.emu.add_comment(
        t,
        "alice",
        false,
        &format!("/mission {}", "`x".repeat(20_000)),
    );
    g.pulse_ok();
    let replies = replies_to(&g, t, alice);
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].len() < 1_000 && replies[0].contains('…'),
        "{}",
        replies[0]
    );
    // A comment whose thread disappears before it is answered is recorded and passed over.
    let gone = g.emu.add_issue("Unrelated", "x", "alice");
    let id = g.emu.add_comment(gone, "alice", false, "/mission m status");
    let event = g.comment_event(gone, id, "alice", "/mission m status", false);
    g.emu.delete_issue(gone);
    let out = g.run(&["comment", "--event", &event], 60);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let ev = g.repo.events();
    assert!(
        ev.iter()
            .any(|e| e["type"] == "comment.unanswerable" && e["data"]["comment"] == id),
        "recorded as unanswerable"
    );
    // Everything else goes on: F1 merges once its checks pass.
    g.emu.set_checks(Checks::PassAfter(0));
    g.pulse_until("F1 merged", |g| {
        g.repo
            .events()
            .iter()
            .any(|e| e["type"] == "feature.merged" && e["feature"] == "F1")
    });
    assert_no_duplicate_comments(&g);
}

#[test]
fn markers_in_other_peoples_comments_are_not_trusted() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    g.repo
        .write("todo/missions/config.yml", "limits: {worker_attempts: 1}\n");
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    g.pulse_until("the tracking issue exists", |g| !g.emu.issues().is_empty());
    let t = g.tracking();
    // Before the tool writes its status: someone else's comment carries its marker, and
    // pretends every alert was already posted.
    let forged_status = g.emu.add_comment(
        t,
        "rita",
        false,
        "<!-- git-mission:status mission=m --> not yours",
    );
    let alerts: String = (1..=200)
        .map(|n| format!("<!-- git-mission:alert mission=m event={n} -->"))
        .collect();
    g.emu.add_comment(t, "rita", false, &alerts);
    g.pulse_until("the tool's own status comment", |g| {
        g.emu
            .comments(t)
            .iter()
            .any(|c| c.login == "github-actions[bot]" && c.body.contains("git-mission:status"))
    });
    let rita_status = g
        .emu
        .comments(t)
        .into_iter()
        .find(|c| c.id == forged_status)
        .expect("still there");
    assert_eq!(
        rita_status.body, "<!-- git-mission:status mission=m --> not yours",
        "never edited"
    );
    // A block is announced although rita's comment claims every alert was posted.
    g.emu.set_checks(Checks::FailAfter(0));
    g.pulse_until("blocked", |g| g.status() == "blocked");
    g.pulse_until("the block is announced", |g| {
        g.emu
            .comments(t)
            .iter()
            .any(|c| c.login == "github-actions[bot]" && c.body.contains("Mission blocked"))
    });
    // A reply marker forged by someone else does not stop the real reply either.
    let status = g.emu.add_comment(t, "alice", false, "/mission status");
    g.emu.add_comment(
        t,
        "rita",
        false,
        &format!("<!-- git-mission:reply comment={status} -->"),
    );
    g.pulse_ok();
    assert_eq!(replies_to(&g, t, status).len(), 1);
}

#[test]
fn a_custom_role_based_on_write_may_command() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    g.emu.set_role("sam", "security-eng", "write");
    g.emu.set_role("tim", "auditor", "read");
    let (_, t) = open_f1(&g);
    let tim = g.emu.add_comment(t, "tim", false, "/mission pause");
    g.pulse_ok();
    assert_eq!(g.status(), "running");
    assert!(replies_to(&g, t, tim)[0].contains("yours: auditor, based on read"));
    let sam = g.emu.add_comment(t, "sam", false, "/mission pause");
    g.pulse_ok();
    assert_eq!(g.status(), "paused", "{:?}", replies_to(&g, t, sam));
}

#[test]
fn graphql_rate_limits_are_waited_out() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    g.pulse_ok();
    g.emu.rate_limit_graphql(1);
    let started = std::time::Instant::now();
    let out = g.pulse();
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(500),
        "it waited for the reset"
    );
    let graphql = g.emu.requests().iter().filter(|r| r.graphql).count();
    assert!(
        graphql >= 3,
        "the query was asked again after the limit: {graphql}"
    );
}

#[test]
fn a_pr_opened_by_a_request_whose_answer_was_lost_is_recorded() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    g.emu.set_checks(Checks::PassAfter(0));
    // The first PR is created but its answer is a 502.
    g.emu
        .fail_next_request("POST", "/pulls", Fault::ServerErrorAfterWrite);
    let mut out = g.pulse();
    for _ in 0..40 {
        if !g.emu.pulls().is_empty() {
            break;
        }
        out = g.pulse();
    }
    let posts: Vec<u16> = g
        .emu
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.route.ends_with("/pulls"))
        .map(|r| r.status)
        .collect();
    assert_eq!(posts, [502], "the fault hit the PR's creation");
    assert_ne!(
        out.code,
        0,
        "the uncertain write stops that pulse: {}",
        out.snapshot()
    );
    assert_eq!(g.emu.pulls().len(), 1, "the PR exists nonetheless");
    let out = g.run(&["run", "m"], 120);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let ev = g.repo.events();
    for f in ["F1", "F2", "F3"] {
        let pr = g
            .emu
            .pulls()
            .into_iter()
            .find(|p| p.head == format!("mission/m.{f}"))
            .expect("PR")
            .number;
        assert!(
            ev.iter().any(|e| e["type"] == "feature.pr_opened"
                && e["feature"] == f
                && e["data"]["pr"] == pr),
            "{f}: PR #{pr} recorded"
        );
    }
}

#[test]
fn parallel_deliveries_of_one_comment_answer_once() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    let (_, t) = open_f1(&g);
    for round in 0..3 {
        let id = g.emu.add_comment(t, "alice", false, "/mission status");
        let event = g.comment_event(t, id, "alice", "/mission status", false);
        let outs: Vec<Output> = std::thread::scope(|s| {
            let a = s.spawn(|| g.run(&["comment", "--event", &event], 60));
            let b = s.spawn(|| g.run(&["comment", "--event", &event], 60));
            vec![a.join().expect("a"), b.join().expect("b")]
        });
        for o in &outs {
            assert_eq!(o.code, 0, "round {round}: {}", o.snapshot());
        }
        assert_eq!(replies_to(&g, t, id).len(), 1, "round {round}: one reply");
        assert_eq!(g.emu.reactions(id).len(), 1, "round {round}");
    }
    let ev = g.repo.events();
    assert_eq!(count(&ev, "comment.answered", None), 3);
}

#[test]
fn a_local_worker_racing_a_comment_workflow_never_diverges() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    g.pulse_until("the tracking issue exists", |g| !g.emu.issues().is_empty());
    let t = g.tracking();
    // Two clones' worth of writers on mission/m: a comment handler pushes state while this
    // clone's local workers record their runs.
    for i in 0..6 {
        let id = g.emu.add_comment(t, "alice", false, "/mission status");
        let event = g.comment_event(t, id, "alice", "/mission status", false);
        let out = g.run(&["comment", "--event", &event], 60);
        assert_eq!(out.code, 0, "{}", out.snapshot());
        let p = g.pulse();
        assert!(matches!(p.code, 0 | 3), "pulse {i}: {}", p.snapshot());
        assert!(!p.stderr.contains("diverged"), "{}", p.stderr);
    }
    // The clone and GitHub hold the same mission state.
    let local = g.repo.git(&["rev-parse", "mission/m"]);
    let remote = g.bare_show("mission/m").map(|_| ());
    assert!(remote.is_some());
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(&g.bare)
        .args(["rev-parse", "mission/m"])
        .output()
        .expect("rev-parse");
    assert_eq!(String::from_utf8_lossy(&out.stdout), local);
    // A divergence left by a process that died between its commit and its push (here: a
    // state change committed with publishing off) is repaired from GitHub at the next pulse:
    // the change is applied again on GitHub's state, nothing recorded twice.
    let out = g.run(
        &[
            "-c",
            "forge=local",
            "steer",
            "m",
            "F3",
            "never pushed: use tabs",
        ],
        60,
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let stray = g.repo.git(&["rev-parse", "mission/m"]);
    assert_ne!(
        g.bare_rev("mission/m"),
        stray.trim(),
        "the change is only here"
    );
    let id = g.emu.add_comment(t, "alice", false, "/mission status");
    let event = g.comment_event(t, id, "alice", "/mission status", false);
    // The comment handler runs from another clone: GitHub moves on without the stray commit.
    let other = g.repo.home().join("other-clone");
    let ok = std::process::Command::new("git")
        .args(["clone", "-q"])
        .arg(&g.bare)
        .arg(&other)
        .status()
        .expect("clone")
        .success();
    assert!(ok);
    let env = g.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = g
        .repo
        .command(&["comment", "--event", &event], &env)
        .current_dir(&other)
        .output()
        .expect("comment in the other clone");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diverged = g.bare_rev("mission/m");
    assert!(
        !g.repo
            .git_ok(&["merge-base", "--is-ancestor", &diverged, stray.trim()])
            && !g
                .repo
                .git_ok(&["merge-base", "--is-ancestor", stray.trim(), &diverged]),
        "the clone and GitHub have diverged"
    );
    let p = g.pulse();
    assert!(matches!(p.code, 0 | 3), "{}", p.snapshot());
    let ev = g.repo.events();
    let repaired = ev
        .iter()
        .find(|e| e["type"] == "state.repaired")
        .expect("repaired");
    assert_eq!(
        repaired["data"]["replayed"],
        serde_json::json!([{ "commit": stray.trim(), "kept_theirs": [] }]),
        "{repaired}"
    );
    let steered: Vec<_> = ev
        .iter()
        .filter(|e| {
            e["type"] == "feature.steered" && e["data"]["message"] == "never pushed: use tabs"
        })
        .collect();
    assert_eq!(
        steered.len(),
        1,
        "the dropped change is back, once: {steered:?}"
    );
    // Both writers' changes are on GitHub, and the comment handled there is still handled once.
    assert!(
        g.bare_show("mission/m:todo/missions/m/events.jsonl")
            .is_some_and(|log| log.contains("never pushed: use tabs")),
        "published"
    );
    assert_eq!(
        ev.iter()
            .filter(|e| e["type"] == "comment.handled" && e["data"]["comment"] == id)
            .count(),
        1
    );
    for e in ev.iter().filter(|e| e["type"] == "run.finished") {
        let run = &e["run"];
        assert_eq!(
            ev.iter()
                .filter(|x| x["type"] == "run.finished" && x["run"] == *run)
                .count(),
            1,
            "{run} recorded once"
        );
    }
}

#[test]
fn changes_requested_come_back_as_a_rework_run_and_then_merge() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    // Repository-wide: two rework rounds per PR.
    g.repo
        .write("todo/missions/config.yml", "limits: {review_rounds: 2}\n");
    g.emu.set_checks(Checks::PassAfter(0));
    g.emu.set_permission("carol", "write");
    let (pr, _) = open_f1(&g);
    let review = g.emu.add_review_with_comments(
        pr,
        "carol",
        "CHANGES_REQUESTED",
        "Please greet in full sentences.",
        &[("out-F1.txt", 1, "Say hello here, not just the feature id.")],
    );
    g.pulse_until("the rework is dispatched", |g| {
        count(&g.repo.events(), "feature.dispatched", Some("F1")) == 2
    });
    let ev = g.repo.events();
    let round = ev
        .iter()
        .find(|e| e["type"] == "feature.changes_requested")
        .expect("recorded");
    assert_eq!(round["data"]["reviews"][0]["id"], review);
    assert_eq!(round["data"]["round"], 1);
    let status = g.repo.run(&["status", "m"]);
    assert!(
        status
            .stdout
            .contains("changes requested by @carol (round 1/2)"),
        "{}",
        status.stdout
    );
    // The rework is pushed to the same PR and carol is asked again; approved, it merges.
    g.pulse_until("carol asked to review again", |g| {
        g.emu.requested_reviewers(pr).contains(&"carol".to_owned())
    });
    assert_eq!(
        g.emu
            .pulls()
            .iter()
            .filter(|p| p.head == "mission/m.F1")
            .count(),
        1,
        "same PR"
    );
    // The rework's prompt carries the review and its inline comment with path, line and hunk.
    let prompt = g.prompt("F1", 2).expect("the rework's prompt");
    for part in [
        "Review feedback to address (round 1",
        "@carol requested changes",
        "> Please greet in full sentences.",
        "`out-F1.txt:1`: Say hello here, not just the feature id.",
        "```diff",
        "@@",
    ] {
        assert!(prompt.contains(part), "{part}:\n{prompt}");
    }
    g.emu.add_review(pr, "carol", "APPROVED");
    g.pulse_until("F1 merged", |g| {
        g.repo
            .events()
            .iter()
            .any(|e| e["type"] == "feature.merged" && e["feature"] == "F1")
    });
    // F2's PR: two rounds of changes requested, then the mission waits for a person.
    g.pulse_until("F2's PR", |g| {
        g.emu.pulls().iter().any(|p| p.head == "mission/m.F2")
    });
    let pr2 = g
        .emu
        .pulls()
        .into_iter()
        .find(|p| p.head == "mission/m.F2")
        .expect("PR")
        .number;
    for n in 1..=3 {
        g.emu.add_review_with_comments(
            pr2,
            "carol",
            "CHANGES_REQUESTED",
            &format!("Not yet ({n})."),
            &[],
        );
        g.pulse_until(&format!("round {n} handled"), |g| {
            let ev = g.repo.events();
            count(&ev, "feature.changes_requested", Some("F2")) >= n.min(2)
                && (n < 3 || g.status() == "blocked")
                && (n == 3 || count(&ev, "feature.review_requested", Some("F2")) >= n)
        });
    }
    let s = g.repo.status_json();
    assert_eq!(s["block"]["reason"], "review_limit", "{s}");
    assert!(
        s["block"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Not yet (3).")
    );
}

#[test]
fn failing_checks_bring_their_name_summary_and_log_to_the_next_attempt() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    g.emu.set_check_output(github_emulator::CheckOutput {
        name: "ci/test".into(),
        title: "2 tests failed".into(),
        summary: "test_settings and test_storage failed".into(),
        text: "running 12 tests\n...\nFAILED test_settings: expected 3, got 4\n".into(),
    });
    g.emu.set_checks(Checks::FailAfter(0));
    g.pulse_ok();
    g.pulse_until("F1's second attempt finished", |g| {
        g.repo
            .events()
            .iter()
            .filter(|e| e["type"] == "run.finished" && e["feature"] == "F1")
            .count()
            == 2
    });
    let prompt = g.prompt("F1", 2).expect("the second attempt's prompt");
    for part in [
        "check `ci/test` (failure): 2 tests failed",
        "test_settings and test_storage failed",
        "FAILED test_settings: expected 3, got 4",
    ] {
        assert!(prompt.contains(part), "{part}:\n{prompt}");
    }
}

#[test]
fn unresolved_review_threads_bring_a_rework_when_configured() {
    let g = Gh::new("land: pr\n", TWO_MILESTONES);
    g.repo.write(
        "todo/missions/config.yml",
        "github: {rework_on: unresolved_threads}\n",
    );
    g.emu.set_checks(Checks::PassAfter(u32::MAX));
    g.emu.set_permission("carol", "write");
    let (pr, _) = open_f1(&g);
    // A plain comment review (not "request changes"): only its thread asks for work.
    g.emu.add_review_with_comments(
        pr,
        "carol",
        "COMMENTED",
        "",
        &[("out-F1.txt", 1, "Name the feature in words here.")],
    );
    assert_eq!(g.emu.review_threads(pr).len(), 1, "one open thread");
    g.pulse_until("the rework is dispatched", |g| {
        count(&g.repo.events(), "feature.dispatched", Some("F1")) == 2
    });
    let ev = g.repo.events();
    let round = ev
        .iter()
        .find(|e| e["type"] == "feature.changes_requested")
        .expect("recorded");
    assert_eq!(round["data"]["reviews"][0]["thread"], true, "{round}");
    g.pulse_until("carol asked to review again", |g| {
        g.emu.requested_reviewers(pr).contains(&"carol".to_owned())
    });
    let prompt = g.prompt("F1", 2).expect("the rework's prompt");
    for part in [
        "@carol left an unresolved review thread",
        "`out-F1.txt:1`: Name the feature in words here.",
    ] {
        assert!(prompt.contains(part), "{part}:\n{prompt}");
    }
    // The thread was answered by a run: once checks pass, the PR merges although nobody
    // resolved it (a repository that requires resolution says so through mergeStateStatus).
    g.emu.set_checks(Checks::PassAfter(0));
    g.pulse_until("F1 merged", |g| {
        g.repo
            .events()
            .iter()
            .any(|e| e["type"] == "feature.merged" && e["feature"] == "F1")
    });
    assert_eq!(
        count(&g.repo.events(), "feature.changes_requested", Some("F1")),
        1,
        "one round for one thread"
    );
}

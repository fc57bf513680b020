//! Human control end to end: skip, retry, steer, feature add with provenance, revalidate and
//! the validation failure limit, each recorded in the Decision Log and the event log.

mod common;

use common::{OK_WORKER, TestRepo, count, mission_path};

const ONE_FEATURE: &str = "  - id: M1\n    title: One\n    validation: {commands: [\"true\"]}\n    features:\n      - {id: F1, title: first, description: x}\n";

fn runs_dir(repo: &TestRepo) -> std::path::PathBuf {
    repo.runs_dir("m")
}

/// Prompts of F1's runs, oldest first.
fn prompts(repo: &TestRepo) -> Vec<String> {
    let mut dirs: Vec<_> = std::fs::read_dir(runs_dir(repo))
        .expect("runs")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("prompt.md").exists())
        .collect();
    dirs.sort_by_key(|p| std::fs::read_to_string(p.join("meta.json")).expect("meta"));
    let mut with_time: Vec<(String, String)> = dirs
        .iter()
        .map(|d| {
            let meta: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(d.join("meta.json")).expect("meta"))
                    .expect("json");
            (
                format!(
                    "{}-{}",
                    meta["started"].as_str().unwrap_or(""),
                    meta["run"].as_str().unwrap_or("")
                ),
                std::fs::read_to_string(d.join("prompt.md")).expect("prompt"),
            )
        })
        .collect();
    with_time.sort();
    with_time.into_iter().map(|(_, p)| p).collect()
}

#[test]
fn skipping_a_failed_dependency_unblocks_its_dependents() {
    let repo = TestRepo::new();
    repo.mission(
        &format!("if [ \"$GIT_MISSION_FEATURE\" = F1 ]; then exit 1; fi\n{OK_WORKER}"),
        "limits: {worker_attempts: 1}\n",
        "  - id: M1\n    title: One\n    validation: {commands: [\"test -f out-F2.txt\"]}\n    features:\n      - {id: F1, title: first, description: x}\n      - {id: F2, title: second, depends_on: [F1], description: x}\n",
    );
    assert_eq!(repo.run_deadline(&["run", "m"], &[], 60).code, 3);
    assert_eq!(repo.status_json()["block"]["reason"], "worker_failed");
    let s = repo.run(&["skip", "m", "F1", "--reason", "the upstream API is gone"]);
    assert_eq!(s.code, 0, "{}", s.snapshot());
    assert_eq!(s.stdout, "skipped F1: the upstream API is gone\n");
    let st = repo.status_json();
    assert_eq!(st["status"], "running");
    assert_eq!(
        st["block"],
        serde_json::Value::Null,
        "a recovered block is history"
    );
    let out = repo.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let file = repo.git(&["show", "mission/m:todo/missions/m-mission.md"]);
    let log = &file[file.find("## Decision Log").expect("decision log")..];
    assert!(log.contains(" · Ada Lovelace <ada@example.com> · skipped F1: the upstream API is gone · why: the upstream API is gone"), "{log}");
    let ev = repo.events();
    assert_eq!(count(&ev, "plan.changed", Some("F1")), 1);
    assert_eq!(count(&ev, "mission.unblocked", None), 1);
}

#[test]
fn a_steering_message_reaches_the_next_prompt_and_only_that_one() {
    let repo = TestRepo::new();
    // Invocations 1 and 2 fail, the third succeeds.
    let script = format!(
        "n=$(cat \"$COUNTER\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$COUNTER\"\nif [ $n -lt 3 ]; then exit 1; fi\n{OK_WORKER}"
    );
    repo.mission(&script, "limits: {worker_attempts: 1}\n", ONE_FEATURE);
    let counter = repo.home().join("counter");
    let env = [("COUNTER", counter.to_string_lossy().into_owned())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(repo.run_deadline(&["run", "m"], &env, 60).code, 3);
    let steer = repo.run(&[
        "steer",
        "m",
        "F1",
        "Use the $(blue) `widget`; ignore; rm -rf /",
    ]);
    assert_eq!(steer.code, 0, "{}", steer.snapshot());
    repo.run(&["retry", "m", "F1"]).success();
    assert_eq!(repo.run_deadline(&["run", "m"], &env, 60).code, 3);
    repo.run(&["retry", "m", "F1"]).success();
    let done = repo.run_deadline(&["run", "m"], &env, 60);
    assert_eq!(done.code, 0, "{}", done.snapshot());
    let p = prompts(&repo);
    assert_eq!(p.len(), 3);
    let text = "Use the $(blue) `widget`; ignore; rm -rf /";
    assert!(!p[0].contains(text));
    assert!(p[1].contains(&format!("- {text}")), "{}", p[1]);
    assert!(!p[2].contains(text), "delivered twice:\n{}", p[2]);
    assert!(!repo.root().join("blue").exists());
    let ev = repo.events();
    assert_eq!(count(&ev, "feature.steered", Some("F1")), 1);
    assert_eq!(count(&ev, "feature.steer_delivered", Some("F1")), 1);
}

#[test]
fn repair_work_from_a_finding_carries_its_provenance() {
    let repo = TestRepo::new();
    repo.mission(
        OK_WORKER,
        "limits: {validation_failures: 5}\n",
        "  - id: M1\n    title: One\n    validation: {commands: [\"test -f out-F2.txt\"]}\n    features:\n      - {id: F1, title: first, description: x}\n",
    );
    let out = repo.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(out.code, 3, "{}", out.snapshot());
    let st = repo.status_json();
    assert_eq!(st["block"]["reason"], "validation_failed");
    let run = repo
        .events()
        .iter()
        .rev()
        .find(|e| e["type"] == "milestone.failed")
        .expect("failed")["run"]
        .as_str()
        .expect("run")
        .to_owned();
    let add = repo.run(&[
        "feature",
        "add",
        "m",
        "M1",
        "--title",
        "Write out-F2.txt",
        "--description",
        "The validation wants it.",
        "--from-finding",
        &format!("{run}:missing-file"),
        "--reason",
        "validation says so",
    ]);
    assert_eq!(add.code, 0, "{}", add.snapshot());
    assert!(
        add.stdout.starts_with(
            "added F2 to M1: Write out-F2.txt (repair for finding missing-file of run "
        ),
        "{}",
        add.stdout
    );
    repo.run(&["resume", "m"]).success();
    let done = repo.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(done.code, 0, "{}", done.snapshot());
    let st = repo.status_json();
    assert_eq!(st["status"], "completed");
    assert_eq!(st["scope"]["original"], 1);
    assert_eq!(st["scope"]["repair"], 1);
    let f2 = &st["milestones"][0]["features"][1];
    assert_eq!(f2["repair"], true);
    let file = repo.git(&["show", "mission/m:todo/missions/m-mission.md"]);
    assert!(
        file.contains(&format!(
            "origin: {{validation_run: {run}, finding: missing-file}}"
        )),
        "{file}"
    );
    assert_eq!(
        repo.events()
            .iter()
            .filter(
                |e| e["type"] == "plan.changed" && e["data"]["origin"]["finding"] == "missing-file"
            )
            .count(),
        1
    );
    let human = repo.run(&["status", "m"]);
    assert!(
        human.stdout.contains("Write out-F2.txt [repair]"),
        "{}",
        human.stdout
    );
}

#[test]
fn the_validation_failure_limit_needs_a_human() {
    let repo = TestRepo::new();
    repo.mission(
        OK_WORKER,
        "limits: {validation_failures: 2}\n",
        "  - id: M1\n    title: One\n    validation: {commands: [\"false\"]}\n    features:\n      - {id: F1, title: first, description: x}\n",
    );
    assert_eq!(repo.run_deadline(&["run", "m"], &[], 60).code, 3);
    assert_eq!(repo.status_json()["block"]["reason"], "validation_failed");
    let again = repo.run(&["revalidate", "m", "M1"]);
    assert_eq!(again.code, 3, "{}", again.snapshot());
    let st = repo.status_json();
    assert_eq!(st["block"]["reason"], "validation_limit");
    assert_eq!(st["milestones"][0]["failures"], 2);
    let packet = st["block"]["packet"].as_str().expect("packet");
    assert_eq!(packet, "todo/missions/m/recovery/2-validation_limit.md");
    let text = repo.git(&["show", &format!("mission/m:{packet}")]);
    assert!(text.contains("$ false\n(exit 1)"), "{text}");
    assert!(text.contains("raise limits.validation_failures"), "{text}");
    let r = repo.run(&["resume", "m"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("validation failure limit")
            && r.stderr.contains("hint: raise limits.validation_failures"),
        "{}",
        r.snapshot()
    );
    let rv = repo.run(&["revalidate", "m", "M1"]);
    assert_eq!(rv.code, 1, "{}", rv.snapshot());
    // The milestone never passed.
    assert_eq!(count(&repo.events(), "milestone.passed", None), 0);
}

#[test]
fn planning_changes_before_the_start_edit_the_work_tree_file() {
    let repo = TestRepo::new();
    repo.mission(OK_WORKER, "", ONE_FEATURE);
    let add = repo.run(&[
        "feature",
        "add",
        "m",
        "M1",
        "--title",
        "Docs",
        "--depends-on",
        "F1",
    ]);
    assert_eq!(add.code, 0, "{}", add.snapshot());
    let edit = repo.run(&[
        "feature",
        "edit",
        "m",
        "F2",
        "--description",
        "Write the docs.",
    ]);
    assert_eq!(edit.code, 0, "{}", edit.snapshot());
    let text = repo.read("todo/missions/m-mission.md");
    assert!(
        text.contains("title: Docs") && text.contains("Write the docs."),
        "{text}"
    );
    assert_eq!(
        text.matches(" · Ada Lovelace <ada@example.com> · ").count(),
        2,
        "{text}"
    );
    let drop = repo.run(&["feature", "drop", "m", "F1", "--reason", "x"]);
    assert_eq!(drop.code, 1, "F2 depends on F1: {}", drop.snapshot());
    assert!(drop.stderr.contains("F2 depend on F1"));
    let bad = repo.run(&[
        "feature",
        "add",
        "m",
        "M1",
        "--title",
        "x",
        "--from-finding",
        "../../etc:passwd",
    ]);
    assert_eq!(bad.code, 1);
    let v = repo.run(&["validate", "m"]);
    assert_eq!(v.code, 0, "{}", v.snapshot());
}

#[test]
fn new_plan_runs_the_planner_and_validates_its_plan() {
    let repo = TestRepo::new();
    // A planner script that writes a whole plan from the prompt's instructions.
    repo.write(
        "scripts/planner.sh",
        r#"set -eu
grep -q 'Validation contract first' "$GIT_MISSION_PROMPT_FILE"
grep -q 'Goal: Greet people' "$GIT_MISSION_PROMPT_FILE"
cat > "$GIT_MISSION_FILE" <<'PLAN'
---
schema: 1
id: greet
title: Greeter
status: draft
approved: null
budget: {usd: 10}
contract:
  - {id: VC1, text: "Everyone is greeted"}
milestones:
  - id: M1
    title: Greeting
    validation: {commands: ["true"], assertions: [VC1]}
    features:
      - {id: F1, title: Greet, assertions: [VC1], description: "Write greet.sh."}
---
# Greeter

## Objective

Greet people.

## Non-goals

Nothing else.

## Risks

None.
PLAN
"#,
    );
    repo.write(
        "todo/missions/config.yml",
        "agents: {planner: p}\nprofiles:\n  p: {agent: exec, command: [sh, scripts/planner.sh]}\n",
    );
    let out = repo.run(&["new", "greet", "--goal", "Greet people", "--plan"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(out.stdout, "todo/missions/greet-mission.md\n");
    let v = repo.run(&["validate", "greet"]);
    assert_eq!(v.code, 0, "{}", v.snapshot());
    // A planner whose plan does not validate fails `new --plan` with the located errors.
    repo.write("scripts/planner.sh", "sed -i 's/^milestones: \\[\\]$/milestones: [{id: M1, title: x, features: [{id: F1, title: y, depends_on: [F7]}]}]/' \"$GIT_MISSION_FILE\"\n");
    let bad = repo.run(&["new", "other", "--plan"]);
    assert_eq!(bad.code, 1, "{}", bad.snapshot());
    assert!(
        bad.stderr.contains("depends on unknown feature \"F7\""),
        "{}",
        bad.snapshot()
    );
    // A planner that fails without writing leaves no template file behind.
    repo.write("scripts/planner.sh", "exit 4\n");
    let failed = repo.run(&["new", "third", "--plan"]);
    assert_eq!(failed.code, 1, "{}", failed.snapshot());
    assert!(!repo.root().join(mission_path("third")).exists());
}

#[test]
fn new_plan_without_its_agent_writes_nothing_and_says_how() {
    let repo = TestRepo::new();
    let out = repo.run(&[
        "-c",
        "agents.planner=claude",
        "new",
        "greet",
        "--goal",
        "Greet",
        "--plan",
    ]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("cannot plan greet: the planner agent \"claude\" cannot start")
            && out.stderr.contains("nothing was written"),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stderr.contains("hint: install Claude Code"),
        "{}",
        out.stderr
    );
    assert!(
        !repo.root().join(mission_path("greet")).exists(),
        "no file left behind"
    );
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn skills_install_puts_the_skills_where_agents_read_them() {
    let repo = TestRepo::new();
    let out = repo.run(&["skills", "install"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    for dir in [".agents/skills", ".claude/skills"] {
        for name in [
            "mission-plan",
            "mission-orchestrator",
            "mission-worker",
            "validator-scrutiny",
            "validator-user-testing",
        ] {
            let text = repo.read(&format!("{dir}/{name}/SKILL.md"));
            assert!(
                text.starts_with(&format!("---\nname: {name}\n")),
                "{dir}/{name}"
            );
        }
    }
    let init = repo.run(&["init", "--agent", "codex"]);
    assert_eq!(init.code, 0, "{}", init.snapshot());
    assert!(
        init.stdout.contains("created todo/missions/config.yml"),
        "{}",
        init.snapshot()
    );
}

#[test]
fn doctor_finds_dead_locks_orphans_and_missing_agents_and_fixes_only_what_is_safe() {
    let repo = TestRepo::new();
    repo.mission(OK_WORKER, "", ONE_FEATURE);
    assert_eq!(repo.run_deadline(&["run", "m"], &[], 60).code, 0);
    let ok = repo.run(&["doctor"]);
    assert_eq!(ok.code, 0, "{}", ok.snapshot());
    assert_eq!(ok.stdout, "no problems found\n");
    // A dead lock holder, a leftover worktree and branch of a merged feature.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    std::fs::write(
        repo.root().join(".git/git-mission/m/run.lock"),
        format!(
            "{{\"pid\": 999999999, \"host\": \"{host}\", \"started\": \"x\", \"heartbeat\": \"x\"}}"
        ),
    )
    .expect("lock");
    let wt = repo.state_dir("m").join("worktrees/F1");
    repo.git(&[
        "worktree",
        "add",
        "--quiet",
        "-b",
        "mission/m.F1",
        &wt.to_string_lossy(),
        "mission/m",
    ]);
    // One where versions before 0.2 kept worktrees, under .git.
    let old = repo.root().join(".git/git-mission/m/worktrees/F9");
    repo.git(&[
        "worktree",
        "add",
        "--quiet",
        "--detach",
        &old.to_string_lossy(),
        "mission/m",
    ]);
    let found = repo.run(&["doctor"]);
    assert_eq!(found.code, 1, "{}", found.snapshot());
    for kind in [
        "m: stale-lock: the run lock names pid 999999999, which died without releasing it",
        "m: orphan-worktree: worktree",
        "m: orphan-branch: branch mission/m.F1",
    ] {
        assert!(found.stdout.contains(kind), "{kind}:\n{}", found.stdout);
    }
    let fixed = repo.run(&["doctor", "--fix"]);
    assert!(
        fixed.stdout.contains("stale-lock") && fixed.stdout.contains(" — fixed"),
        "{}",
        fixed.snapshot()
    );
    assert!(!wt.exists(), "the clean orphan worktree is removed");
    assert!(!old.exists(), "and the one in the old place");
    assert!(
        found.stdout.contains(&format!(
            "worktree {} belongs",
            "[REPO]/.git/git-mission/m/worktrees/F9"
        )),
        "{}",
        found.stdout
    );
    assert_eq!(
        std::fs::read_to_string(repo.root().join(".git/git-mission/m/run.lock"))
            .expect("lock file"),
        "",
        "the dead holder is cleared"
    );
    assert!(
        repo.git(&["branch", "--list", "mission/m.F1"])
            .contains("mission/m.F1"),
        "branches are never deleted"
    );
    assert_eq!(fixed.code, 1, "the branch still needs a person");
    // A completed mission's agents are not checked: nothing will start them again.
    let missing = repo.run(&["-c", "agents.worker=nope-agent-xyz", "doctor"]);
    assert!(
        !missing.stdout.contains("missing-agent"),
        "{}",
        missing.snapshot()
    );
    // An unfinished one's are.
    let draft = repo
        .read("todo/missions/m-mission.md")
        .replace("id: m\n", "id: n\n");
    repo.write("todo/missions/n-mission.md", &draft);
    let missing = repo.run(&["-c", "agents.worker=nope-agent-xyz", "doctor"]);
    assert!(
        missing.stdout.contains(
            "n: missing-agent: the worker agent \"nope-agent-xyz\" is not an agent this version knows"
        ),
        "{}",
        missing.snapshot()
    );
}

#[test]
fn doctor_starts_each_agent_headless_and_finds_its_login_without_printing_it() {
    let repo = TestRepo::new();
    repo.mission(OK_WORKER, "", ONE_FEATURE);
    // A `claude` that answers `--version` like Claude Code, and reports what it was given.
    let bin = repo.home().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let fake = bin.join("claude");
    let seen = repo.home().join("seen-env");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nenv > '{}'\n[ \"$1\" = --version ] && echo '2.1.332 (Claude Code)'\n",
            seen.display()
        ),
    )
    .expect("fake claude");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let path = format!("{}:{}", bin.display(), common::test_path());
    let secret = "sk-ant-secret-value-123";
    let ok = repo.run_env(
        &["-c", "agents.worker=claude", "doctor"],
        &[
            ("PATH", &path),
            ("ANTHROPIC_API_KEY", secret),
            ("GITHUB_TOKEN", "ghs_x"),
        ],
    );
    assert_eq!(ok.code, 0, "{}", ok.snapshot());
    assert!(
        ok.stdout.contains(
            "agent claude: 2.1.332 (Claude Code) (login from ANTHROPIC_API_KEY (environment))"
        ),
        "{}",
        ok.stdout
    );
    assert!(!ok.stdout.contains(secret) && !ok.stderr.contains(secret));
    // It was started the way a run starts it: allowlisted environment, private config home.
    let env = std::fs::read_to_string(&seen).expect("the fake ran");
    assert!(env.contains(&format!("ANTHROPIC_API_KEY={secret}")));
    assert!(!env.contains("GITHUB_TOKEN"), "{env}");
    assert!(env.contains("CLAUDE_CONFIG_DIR=/"), "{env}");
    // No login anywhere: said, with where it looked and how to log in.
    let none = repo.run_env(
        &["-c", "agents.worker=claude", "doctor"],
        &[("PATH", &path)],
    );
    assert_eq!(none.code, 1, "{}", none.snapshot());
    assert!(
        none.stdout.contains("m: no-credentials: the worker agent \"claude\" has no login or key: looked for ANTHROPIC_API_KEY (environment)")
            && none.stdout.contains(".credentials.json (`claude` /login)")
            && none.stdout.contains("claude setup-token"),
        "{}",
        none.stdout
    );
    // A CLI that does not start headless.
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'SyntaxError: Unexpected token' >&2\nexit 1\n",
    )
    .expect("broken");
    let broken = repo.run_env(
        &["-c", "agents.worker=claude", "doctor"],
        &[("PATH", &path), ("ANTHROPIC_API_KEY", secret)],
    );
    assert!(
        broken.stdout.contains("agent-fails: the worker agent \"claude\" does not start headless: exited with status 1 on `--version`: SyntaxError: Unexpected token"),
        "{}",
        broken.stdout
    );
}

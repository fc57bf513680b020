//! The real binary in hermetic temporary repositories: a new user's path through `init`,
//! `new`, a hand-edited plan, `validate`, `approve`, `status`, `list`, `show`, `estimate`
//! and `config`, with stdout, stderr and exit codes snapshotted.

mod common;

use common::{TestRepo, mission_path};

/// The plan a user might write by hand: comments, flow and block styles mixed.
const PLAN: &str = r#"budget: {usd: 40, alert_pct: 80}   # what we can afford
contract:
  - {id: VC1, text: "Settings survive a restart"}
  - {id: VC2, text: "Invalid settings are rejected with a message"}
resources: []
milestones:
  - id: M1
    title: Persistence
    validation:
      commands: ["cargo test --locked"]
      assertions: [VC1]
    features:
      - id: F1
        title: Settings schema and storage
        assertions: [VC1]
        description: |
          Store settings in a TOML file under the config dir.
      - id: F2
        title: Load on start
        depends_on: [F1]
        description: Load them when the app starts.
  - id: M2
    title: UI
    validation: {scrutiny: true, assertions: [VC2]}
    features:
      - {id: F3, title: Settings page, depends_on: [F2], assertions: [VC2], description: "The page."}
"#;

/// `new`, then the plan and prose written by hand, committed.
fn planned_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.run(&[
        "new",
        "settings-ui",
        "--title",
        "Settings UI with persistence",
        "--goal",
        "Users change settings and they persist.",
    ])
    .success();
    let path = mission_path("settings-ui");
    let text = repo
        .read(&path)
        .replacen("contract: []\nresources: []\nmilestones: []\n", PLAN, 1)
        .replacen(
            "<!-- What this mission will not do, so workers stay in scope. -->",
            "No cloud sync.",
            1,
        )
        .replacen(
            "<!-- Risks and likely blockers, and what would be done about each. -->",
            "- The config dir may be read-only.",
            1,
        );
    repo.write(&path, &text);
    repo.commit_all("plan settings-ui");
    repo
}

#[test]
fn help_is_snapshotted() {
    let repo = TestRepo::new();
    insta::assert_snapshot!("help", repo.run(&["--help"]).snapshot());
    for cmd in [
        "init", "new", "validate", "estimate", "approve", "list", "status", "show", "config",
    ] {
        insta::assert_snapshot!(format!("help-{cmd}"), repo.run(&[cmd, "--help"]).snapshot());
    }
}

#[test]
fn usage_errors_exit_2() {
    let repo = TestRepo::new();
    let out = repo.run(&["status", "--no-such-flag"]);
    assert_eq!(out.code, 2, "{}", out.snapshot());
    assert_eq!(repo.run(&["frobnicate"]).code, 2);
}

#[test]
fn init_without_agent_writes_only_comments_that_still_load() {
    let repo = TestRepo::new();
    repo.run(&["init"]).success();
    let text = repo.read("todo/missions/config.yml");
    assert!(
        text.lines().all(|l| l.is_empty() || l.starts_with('#')),
        "{text}"
    );
    let out = repo.run(&["config", "--show-origin"]);
    out.success();
    assert!(
        out.stdout.contains("built-in") && !out.stdout.contains("config.yml"),
        "{}",
        out.snapshot()
    );
}

#[test]
fn init_writes_config_once() {
    let repo = TestRepo::new();
    insta::assert_snapshot!("init", repo.run(&["init", "--agent", "codex"]).snapshot());
    let text = repo.read("todo/missions/config.yml");
    assert!(text.contains(
        "agents: {worker: codex, validator: codex, orchestrator: codex, planner: codex}"
    ));
    repo.write(
        "todo/missions/config.yml",
        "limits: {max_parallel_workers: 4}\n",
    );
    let again = repo.run(&["init"]);
    again.success();
    assert!(again.stdout.contains("already exists"));
    assert_eq!(
        repo.read("todo/missions/config.yml"),
        "limits: {max_parallel_workers: 4}\n"
    );
    let bad = repo.run(&["init", "--agent", "gpt"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("unknown agent \"gpt\""),
        "{}",
        bad.snapshot()
    );
}

#[test]
fn new_creates_a_draft_from_the_template() {
    let repo = TestRepo::new();
    let out = repo.run(&[
        "new",
        "settings-ui",
        "--title",
        "Settings UI",
        "--goal",
        "Persist settings.",
    ]);
    insta::assert_snapshot!("new", out.snapshot());
    insta::assert_snapshot!("new-file", repo.read(&mission_path("settings-ui")));
    let v = repo.run(&["validate", "settings-ui"]);
    assert_eq!(v.code, 0, "warnings alone exit 0:\n{}", v.snapshot());
    assert!(v.stdout.contains("warning: the plan has no milestones yet"));
}

#[test]
fn new_refuses_bad_and_existing_ids() {
    let repo = TestRepo::new();
    for bad in [
        "Bad",
        "../escape",
        "a/b",
        "a_b",
        "a.F1",
        &"x".repeat(49),
        "$(touch pwned)",
    ] {
        let out = repo.run(&["new", bad]);
        assert_eq!(out.code, 1, "{bad}: {}", out.snapshot());
        assert!(
            out.stderr.contains("invalid mission id"),
            "{bad}: {}",
            out.snapshot()
        );
    }
    assert!(
        !repo.root().join("todo").exists(),
        "nothing may be created for a bad id"
    );
    assert!(!repo.root().join("pwned").exists());
    repo.run(&["new", "ok"]).success();
    let before = repo.read(&mission_path("ok"));
    let again = repo.run(&["new", "ok", "--title", "Other"]);
    insta::assert_snapshot!("new-existing", again.snapshot());
    assert_eq!(repo.read(&mission_path("ok")), before);
}

#[test]
fn every_template_creates_a_valid_mission() {
    let repo = TestRepo::new();
    for t in [
        "migration",
        "test-coverage",
        "refactor",
        "prototype",
        "research",
    ] {
        let id = format!("t-{t}");
        repo.run(&["new", &id, "--template", t]).success();
        let out = repo.run(&["validate", &id]);
        assert_eq!(out.code, 0, "{t}: {}", out.snapshot());
        assert!(!out.stdout.contains(": error:"), "{t}: {}", out.snapshot());
    }
    insta::assert_snapshot!(
        "new-template-migration",
        repo.read(&mission_path("t-migration"))
    );
}

#[test]
fn a_template_not_yet_made_a_plan_cannot_be_approved() {
    let repo = TestRepo::new();
    // An Objective, but the features are still the template's.
    repo.run(&[
        "new",
        "r",
        "--template",
        "refactor",
        "--goal",
        "Split the parser.",
    ])
    .success();
    let out = repo.run(&["approve", "r"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr
            .contains("is not ready to approve: F1 is still the template's placeholder"),
        "{}",
        out.snapshot()
    );
    assert!(
        out.stderr
            .contains("hint: write the real work into F1's title"),
        "{}",
        out.stderr
    );
    assert!(
        repo.read(&mission_path("r")).contains("approved: null"),
        "nothing was changed"
    );
    // Real features, but no Objective.
    let text = repo
        .read(&mission_path("r"))
        .replace(
            "Characterisation tests for the code being refactored",
            "Tests for parse()",
        )
        .replace("First restructuring step", "Move the lexer out")
        .replace("Split the parser.", "");
    repo.write(&mission_path("r"), &text);
    let out = repo.run(&["approve", "r"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("its Objective is empty"),
        "{}",
        out.stderr
    );
    // Both written: approved.
    repo.write(
        &mission_path("r"),
        &text.replace(
            "## Objective\n",
            "## Objective\n\nThe parser is two modules.\n",
        ),
    );
    let out = repo.run(&["approve", "r"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
}

#[test]
fn a_new_users_whole_path() {
    let repo = planned_repo();
    let path = mission_path("settings-ui");
    insta::assert_snapshot!("flow-validate", repo.run(&["validate"]).snapshot());
    insta::assert_snapshot!(
        "flow-estimate",
        repo.run(&["estimate", "settings-ui", "--budget", "10"])
            .snapshot()
    );

    let before = repo.read(&path);
    insta::assert_snapshot!(
        "flow-approve",
        repo.run(&["approve", "settings-ui"]).snapshot()
    );
    // Approval changes exactly the two lines that carry it.
    let diff = repo.git(&["diff", "--numstat"]);
    assert_eq!(diff.trim(), format!("2\t2\t{path}"));
    let after = repo.read(&path);
    assert_eq!(
        after,
        before
            .replacen("status: draft\n", "status: approved\n", 1)
            .replacen(
                "approved: null\n",
                &format!(
                    "approved: {{by: \"Ada Lovelace <ada@example.com>\", at: \"{}\"}}\n",
                    common::NOW
                ),
                1
            )
    );
    repo.commit_all("approve");

    insta::assert_snapshot!(
        "flow-status",
        repo.run(&["status", "settings-ui"]).snapshot()
    );
    insta::assert_snapshot!("flow-list", repo.run(&["list"]).snapshot());
    insta::assert_snapshot!(
        "flow-show-feature",
        repo.run(&["show", "settings-ui", "F1"]).snapshot()
    );
    insta::assert_snapshot!(
        "flow-show-milestone",
        repo.run(&["show", "settings-ui", "M2"]).snapshot()
    );

    let again = repo.run(&["approve", "settings-ui"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("already approved by Ada Lovelace"),
        "{}",
        again.snapshot()
    );
}

#[test]
fn status_json_has_every_contract_field() {
    let repo = planned_repo();
    let out = repo.run(&["status", "settings-ui", "--json"]);
    out.success();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("status --json is JSON");
    for key in [
        "id",
        "title",
        "status",
        "mode",
        "base",
        "block",
        "budget",
        "estimate",
        "active_runs",
        "milestones",
        "next",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["id"], "settings-ui");
    assert_eq!(v["status"], "draft");
    assert_eq!(v["base"], "main");
    assert_eq!(v["budget"]["limits"]["usd"], 40.0);
    assert_eq!(v["budget"]["spent"]["runs"], 0);
    assert_eq!(v["estimate"]["runs"], 3 + 2 * 2);
    assert_eq!(v["active_runs"], serde_json::json!([]));
    let f2 = &v["milestones"][0]["features"][1];
    for key in [
        "id",
        "title",
        "status",
        "attempts",
        "pr",
        "branch",
        "depends_on",
    ] {
        assert!(f2.get(key).is_some(), "feature lacks {key}: {f2}");
    }
    assert_eq!(f2["depends_on"], serde_json::json!(["F1"]));
    assert_eq!(v["milestones"][1]["failures"], 0);
    assert!(v["next"].as_array().is_some_and(|n| !n.is_empty()));
    // The same view as the human output.
    let human = repo.run(&["status", "settings-ui"]);
    assert!(human.stdout.contains("git mission approve settings-ui"));
}

#[test]
fn status_write_changes_only_the_generated_blocks() {
    let repo = planned_repo();
    let path = mission_path("settings-ui");
    let before = repo.read(&path);
    let out = repo.run(&["status", "settings-ui", "--write"]);
    out.success();
    assert!(
        out.stderr.contains("wrote the Status and Budget blocks"),
        "{}",
        out.snapshot()
    );
    let after = repo.read(&path);
    insta::assert_snapshot!("status-write-diff", repo.git(&["diff", "-U0"]));
    // Only lines inside the markers were added; nothing was removed.
    let numstat = repo.git(&["diff", "--numstat"]);
    assert!(numstat.split_whitespace().nth(1) == Some("0"), "{numstat}");
    assert!(after.contains("```mermaid\nflowchart LR\n"));
    assert!(
        after.starts_with(
            &before[..before
                .find("<!-- git-mission:begin status -->")
                .expect("marker")]
        )
    );
    // Writing again changes nothing.
    let again = repo.run(&["status", "settings-ui", "--write"]);
    assert!(again.stderr.contains("up to date"), "{}", again.snapshot());
    assert_eq!(repo.read(&path), after);
}

#[test]
fn status_reads_the_integration_branch_when_it_exists() {
    let repo = planned_repo();
    let path = mission_path("settings-ui");
    repo.run(&["approve", "settings-ui"]).success();
    repo.commit_all("approve");
    // The supervisor's view lives on mission/settings-ui; the work tree keeps the approved plan.
    repo.git(&["checkout", "-q", "-b", "mission/settings-ui"]);
    let live = repo
        .read(&path)
        .replacen("status: approved", "status: running", 1)
        .replacen(
            "    title: Persistence\n",
            "    title: Persistence\n    status: active\n",
            1,
        );
    repo.write(&path, &live);
    repo.commit_all("supervisor: start");
    repo.git(&["branch", "mission/settings-ui.F1"]);
    repo.git(&["checkout", "-q", "main"]);
    let out = repo.run(&["status", "settings-ui", "--json"]);
    out.success();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["status"], "running");
    assert_eq!(v["source"]["kind"], "branch");
    assert_eq!(v["source"]["branch"], "mission/settings-ui");
    assert_eq!(v["milestones"][0]["status"], "active");
    assert_eq!(
        v["milestones"][0]["features"][0]["branch"],
        "mission/settings-ui.F1"
    );
    assert_eq!(
        v["milestones"][0]["features"][1]["branch"],
        serde_json::Value::Null
    );
    // --write refuses: the branch copy is the supervisor's.
    let w = repo.run(&["status", "settings-ui", "--write"]);
    assert_eq!(w.code, 1, "{}", w.snapshot());
    assert!(w.stderr.contains("is live on mission/settings-ui"));
    // list reads the branch too.
    let list = repo.run(&["list", "--json"]);
    let l: serde_json::Value = serde_json::from_str(&list.stdout).expect("json");
    assert_eq!(l[0]["status"], "running");
}

#[test]
fn a_broken_file_is_reported_at_its_line_and_column_and_left_alone() {
    let repo = planned_repo();
    let path = mission_path("settings-ui");
    let broken = repo.read(&path).replacen(
        "        depends_on: [F1]\n",
        "        depends_on: [F1]\n        status: done\n",
        1,
    );
    repo.write(&path, &broken);
    let line = broken
        .lines()
        .position(|l| l == "        status: done")
        .expect("line")
        + 1;
    for args in [
        &["status", "settings-ui"][..],
        &["approve", "settings-ui"],
        &["validate", "settings-ui"],
        &["status", "settings-ui", "--write"],
    ] {
        let out = repo.run(args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.snapshot());
        let text = format!("{}{}", out.stdout, out.stderr);
        assert!(
            text.contains(&format!("{path}:{line}:17: error: unknown feature status \"done\" (expected one of pending, running, review, merged, failed, skipped)")),
            "{args:?}: {}",
            out.snapshot()
        );
        assert_eq!(repo.read(&path), broken, "{args:?} modified a broken file");
    }
    insta::assert_snapshot!(
        "broken-status",
        repo.run(&["status", "settings-ui"]).snapshot()
    );
    let list = repo.run(&["list"]);
    list.success();
    assert!(list.stdout.contains("Invalid (1)"), "{}", list.snapshot());
}

#[test]
fn unknown_ids_get_a_hint() {
    let repo = planned_repo();
    insta::assert_snapshot!("unknown-mission", repo.run(&["status", "nope"]).snapshot());
    insta::assert_snapshot!(
        "unknown-feature",
        repo.run(&["show", "settings-ui", "F9"]).snapshot()
    );
    let bad = repo.run(&["show", "settings-ui", "../../etc/passwd"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .contains("is not a feature id, a milestone id or a run id")
    );
    let json = repo.run(&["status", "nope", "--json"]);
    assert_eq!(json.code, 1);
    let v: serde_json::Value =
        serde_json::from_str(&json.stdout).expect("errors are JSON with --json");
    assert_eq!(
        v["error"],
        "no mission \"nope\" (no todo/missions/nope-mission.md)"
    );
}

#[test]
fn show_reads_run_files() {
    let repo = planned_repo();
    repo.write(
        "todo/missions/settings-ui/runs/20261121-F1-1.md",
        "---\nstatus: done\n---\nDid it.\n",
    );
    let out = repo.run(&["show", "settings-ui", "20261121-F1-1"]);
    out.success();
    assert_eq!(out.stdout, "---\nstatus: done\n---\nDid it.\n");
    assert_eq!(repo.run(&["show", "settings-ui", "20261121-F9-1"]).code, 1);
}

#[test]
fn estimate_tiers_follow_the_budget() {
    let repo = planned_repo();
    let out = repo.run(&["estimate", "settings-ui", "--json", "--budget", "4"]);
    out.success();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["estimate"]["runs"]["total"], 7);
    assert_eq!(v["estimate"]["runs"]["worker"], 3);
    assert_eq!(v["estimate"]["runs"]["validator"], 4);
    let tiers: Vec<&str> = v["budget"]["milestones"]
        .as_array()
        .expect("tiers")
        .iter()
        .map(|t| t[1].as_str().expect("tier"))
        .collect();
    assert_eq!(tiers, ["likely", "stretch"]);
    // Without --budget the mission's own budget (40) is used: everything fits.
    let own = repo.run(&["estimate", "settings-ui"]);
    assert!(
        own.stdout.contains("for a budget of $40.00"),
        "{}",
        own.snapshot()
    );
    assert!(
        own.stdout.contains("for sure:     M1, M2"),
        "{}",
        own.snapshot()
    );
    assert_eq!(
        repo.run(&["estimate", "settings-ui", "--budget=-3"]).code,
        1
    );
}

#[test]
fn config_precedence_and_origins() {
    let repo = planned_repo();
    let key = "limits.max_parallel_workers";
    let get = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = extra.to_vec();
        args.extend(["config", "settings-ui", "--json"]);
        let out = repo.run_env(&args, env);
        out.success();
        let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
        let e = v
            .as_array()
            .expect("entries")
            .iter()
            .find(|e| e["key"] == key)
            .expect("key present")
            .clone();
        (
            e["value"].clone(),
            e["origin"]["layer"].as_str().expect("layer").to_owned(),
        )
    };
    assert_eq!(get(&[], &[]), (serde_json::json!(2), "built-in".into()));
    repo.git(&[
        "config",
        "--global",
        "mission.limits.max-parallel-workers",
        "3",
    ]);
    assert_eq!(get(&[], &[]), (serde_json::json!(3), "git-global".into()));
    repo.write(
        "todo/missions/config.yml",
        "limits: {max_parallel_workers: 4}\n",
    );
    assert_eq!(get(&[], &[]), (serde_json::json!(4), "repo-file".into()));
    repo.git(&[
        "config",
        "--local",
        "mission.limits.max-parallel-workers",
        "5",
    ]);
    assert_eq!(get(&[], &[]), (serde_json::json!(5), "git-local".into()));
    let path = mission_path("settings-ui");
    let text = repo.read(&path).replacen(
        "budget: {usd: 40",
        "limits: {max_parallel_workers: 6}\nbudget: {usd: 40",
        1,
    );
    repo.write(&path, &text);
    assert_eq!(get(&[], &[]), (serde_json::json!(6), "mission".into()));
    let env = [("GIT_MISSION_LIMITS_MAX_PARALLEL_WORKERS", "7")];
    assert_eq!(get(&env, &[]), (serde_json::json!(7), "env".into()));
    assert_eq!(
        get(&env, &["-c", "limits.max_parallel_workers=8"]),
        (serde_json::json!(8), "command-line".into())
    );
    insta::assert_snapshot!(
        "config-show-origin",
        repo.run_env(&["config", "settings-ui", "--show-origin"], &env)
            .snapshot()
    );
    // Bad values name their origin.
    let bad = repo.run_env(
        &["config"],
        &[("GIT_MISSION_LIMITS_WORKER_TIMEOUT", "soon")],
    );
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .contains("limits.worker_timeout (from env GIT_MISSION_LIMITS_WORKER_TIMEOUT)"),
        "{}",
        bad.snapshot()
    );
    let bad = repo.run(&["-c", "limits.nope=1", "config"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .contains("unknown configuration key \"limits.nope\""),
        "{}",
        bad.snapshot()
    );
    repo.write(
        "todo/missions/config.yml",
        "limits: {max_parallel_workers: many}\n",
    );
    let bad = repo.run(&["config"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("todo/missions/config.yml:1:32: error: limits.max_parallel_workers: expected a whole number, found many"), "{}", bad.snapshot());
}

#[test]
fn commands_outside_a_repository_say_so() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_git-mission"))
        .args(["-C", &dir.path().to_string_lossy(), "list"])
        .env(
            "GIT_CEILING_DIRECTORIES",
            dir.path().parent().expect("parent"),
        )
        .env("NO_COLOR", "1")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not inside a git repository") && err.contains("hint: run `git init` first"),
        "{err}"
    );
}

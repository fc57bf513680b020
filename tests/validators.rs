//! Validator agents: a scrutiny validator (an `exec` script) must write a valid JSON report;
//! no report or garbage fails the milestone, a failing report with findings leads to repair
//! work with provenance, and a passing revalidation completes the mission.

mod common;

use common::{OK_WORKER, TestRepo, W_PROFILE, count};

const VALIDATOR: &str = r#"case "$MODE" in
  pass) echo '{"verdict":"pass","recommendation":"accept","findings":[]}' > "$GIT_MISSION_REPORT_FILE" ;;
  none) echo "forgot the report" ;;
  garbage) echo 'this is not json' > "$GIT_MISSION_REPORT_FILE" ;;
  repair)
    if [ -f out-F2.txt ]; then
      echo '{"verdict":"pass","recommendation":"accept","findings":[]}' > "$GIT_MISSION_REPORT_FILE"
    else
      echo '{"verdict":"fail","recommendation":"repair","findings":[{"id":"f1","severity":"major","assertion":"VC1","evidence":"out-F2.txt is missing","suggested_fix":"write out-F2.txt"}]}' > "$GIT_MISSION_REPORT_FILE"
    fi ;;
esac
"#;

fn repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.write("scripts/v.sh", VALIDATOR);
    repo.mission(
        OK_WORKER,
        "",
        "  - id: M1\n    title: One\n    validation: {commands: [\"true\"], scrutiny: true, assertions: [VC1]}\n    features:\n      - {id: F1, title: first, assertions: [VC1], description: x}\n",
    );
    // The validator is a profile given on the command line.
    let text = repo.read("todo/missions/m-mission.md").replacen(
        W_PROFILE,
        &format!(
            "{W_PROFILE}  v: {{agent: exec, command: [sh, scripts/v.sh], pass_env: [MODE]}}\n"
        ),
        1,
    );
    repo.write("todo/missions/m-mission.md", &text);
    repo.commit_all("add the validator profile");
    repo
}

fn run(repo: &TestRepo, mode: &str) -> common::Output {
    repo.run_deadline(
        &["-c", "agents.validator=v", "run", "m"],
        &[("MODE", mode)],
        60,
    )
}

#[test]
fn a_passing_report_passes_the_milestone() {
    let repo = repo();
    let out = run(&repo, "pass");
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let ev = repo.events();
    let v = ev
        .iter()
        .find(|e| e["type"] == "run.finished" && e["data"]["role"] == "validator")
        .expect("validator run");
    assert_eq!(v["data"]["verdict"], "pass");
    let run_id = v["run"].as_str().expect("run id");
    let doc = repo.git(&[
        "show",
        &format!("mission/m:todo/missions/m/runs/{run_id}.md"),
    ]);
    assert!(
        doc.contains("mode: scrutiny") && doc.contains("verdict: pass"),
        "{doc}"
    );
    // The validator got the contract, the features' handoffs and the diff in its prompt.
    let prompt = std::fs::read_to_string(repo.runs_dir("m").join(format!("{run_id}/prompt.md")))
        .expect("prompt");
    for part in [
        "VC1: works",
        "### F1 — first",
        "Handoff (run",
        "## What changed since the milestone started",
        "out-F1.txt",
        "$GIT_MISSION_REPORT_FILE",
    ] {
        assert!(prompt.contains(part), "prompt lacks {part:?}:\n{prompt}");
    }
}

#[test]
fn no_report_or_garbage_fails_the_milestone() {
    for (mode, why) in [
        ("none", "wrote no report"),
        ("garbage", "report is invalid"),
    ] {
        let repo = repo();
        let out = run(&repo, mode);
        assert_eq!(out.code, 3, "{mode}: {}", out.snapshot());
        let st = repo.status_json();
        assert_eq!(st["block"]["reason"], "validation_failed", "{mode}");
        assert!(
            st["block"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(why)),
            "{mode}: {st}"
        );
        assert_eq!(count(&repo.events(), "milestone.passed", None), 0, "{mode}");
    }
}

#[test]
fn a_finding_becomes_repair_work_and_revalidation_completes_the_mission() {
    let repo = repo();
    assert_eq!(run(&repo, "repair").code, 3);
    let ev = repo.events();
    let failed = ev
        .iter()
        .find(|e| e["type"] == "milestone.failed")
        .expect("failed");
    let vrun = failed["data"]["validator_runs"][0]
        .as_str()
        .expect("validator run")
        .to_owned();
    let packet = repo.status_json()["block"]["packet"]
        .as_str()
        .expect("packet")
        .to_owned();
    let text = repo.git(&["show", &format!("mission/m:{packet}")]);
    assert!(
        text.contains("[f1:Major] out-F2.txt is missing — write out-F2.txt"),
        "{text}"
    );
    let lv = &repo.status_json()["milestones"][0]["last_validation"];
    assert_eq!(lv["verdict"], "fail");
    assert_eq!(lv["findings"], 1);
    assert_eq!(lv["validator_runs"][0], vrun.as_str());
    assert!(
        repo.run(&["status", "m"])
            .stdout
            .contains("active (1 failed) [1 findings]")
    );
    let show = repo.run(&["show", "m", "M1"]);
    assert!(
        show.stdout.contains(&format!(
            "{vrun} scrutiny: fail — the scrutiny validator failed the milestone (1 findings)"
        )),
        "{}",
        show.stdout
    );
    let add = repo.run(&[
        "feature",
        "add",
        "m",
        "M1",
        "--title",
        "Write out-F2.txt",
        "--from-finding",
        &format!("{vrun}:f1"),
    ]);
    assert_eq!(add.code, 0, "{}", add.snapshot());
    repo.run(&["resume", "m"]).success();
    let out = run(&repo, "repair");
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let st = repo.status_json();
    assert_eq!(st["status"], "completed");
    assert_eq!(st["milestones"][0]["failures"], 1);
    assert_eq!(st["milestones"][0]["features"][1]["repair"], true);
    let file = repo.git(&["show", "mission/m:todo/missions/m-mission.md"]);
    assert!(
        file.contains(&format!("origin: {{validation_run: {vrun}, finding: f1}}")),
        "{file}"
    );
    assert!(
        file.contains(&format!(
            "added F2 to M1: Write out-F2.txt (repair for finding f1 of run {vrun})"
        )),
        "{file}"
    );
}

#[test]
fn scrutiny_without_a_validator_agent_blocks_instead_of_passing() {
    let repo = repo();
    let out = repo.run_deadline(&["-c", "agents.validator=none", "run", "m"], &[], 60);
    assert_eq!(out.code, 3, "{}", out.snapshot());
    let st = repo.status_json();
    // Caught before validation starts: a person must configure one; no failure is counted.
    assert_eq!(st["block"]["reason"], "agent_missing", "{st}");
    assert_eq!(st["milestones"][0]["failures"], 0, "{st}");
    assert!(
        st["block"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("agents.validator is none")),
        "{st}"
    );
}

const ORCHESTRATOR: &str = r#"set -eu
case "$ORCH" in
  repair)
    vrun=$(grep -oE '[0-9]{8}T[0-9]{6}-M1-scrutiny-[0-9]+-[0-9a-f]+' "$GIT_MISSION_PROMPT_FILE" | head -1)
    git mission feature add "$GIT_MISSION_ID" M1 --title "Write out-F2.txt" --description "The validator wants it." --from-finding "$vrun:f1" --reason "finding f1"
    git mission resume "$GIT_MISSION_ID"
    echo "Added repair work for f1 and resumed." > "$GIT_MISSION_HANDOFF_FILE" ;;
  meddle)
    echo hacked > hack.txt
    git add -A
    git commit -q -m "orchestrator meddling"
    echo "hacked" >> README.md
    echo "Should M1 be dropped instead?" > "$GIT_MISSION_HANDOFF_FILE" ;;
esac
"#;

fn orchestrated() -> TestRepo {
    let repo = repo();
    repo.write("scripts/o.sh", ORCHESTRATOR);
    let text = repo.read("todo/missions/m-mission.md").replacen("  v: {agent: exec, command: [sh, scripts/v.sh], pass_env: [MODE]}\n", "  v: {agent: exec, command: [sh, scripts/v.sh], pass_env: [MODE]}\n  o: {agent: exec, command: [sh, scripts/o.sh], pass_env: [ORCH]}\n", 1);
    repo.write("todo/missions/m-mission.md", &text);
    repo.commit_all("add the orchestrator profile");
    repo
}

#[test]
fn the_orchestrator_repairs_from_a_finding_and_the_mission_completes() {
    let repo = orchestrated();
    let out = repo.run_deadline(
        &[
            "-c",
            "agents.validator=v",
            "-c",
            "agents.orchestrator=o",
            "run",
            "m",
        ],
        &[("MODE", "repair"), ("ORCH", "repair")],
        60,
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let st = repo.status_json();
    assert_eq!(st["status"], "completed");
    assert_eq!(st["scope"]["repair"], 1);
    assert_eq!(st["milestones"][0]["failures"], 1);
    let ev = repo.events();
    let turn = ev
        .iter()
        .find(|e| e["type"] == "orchestrator.turn")
        .expect("turn");
    assert_eq!(turn["data"]["outcome"], "continued");
    assert_eq!(
        turn["data"]["answer"],
        "Added repair work for f1 and resumed.\n"
    );
    assert_eq!(count(&ev, "orchestrator.turn", None), 1);
    let file = repo.git(&["show", "mission/m:todo/missions/m-mission.md"]);
    assert!(
        file.contains("(repair for finding f1 of run ") && file.contains("why: finding f1"),
        "{file}"
    );
}

#[test]
fn an_orchestrator_that_edits_code_has_its_edits_discarded_and_the_mission_waits_for_a_person() {
    let repo = orchestrated();
    let out = repo.run_deadline(
        &[
            "-c",
            "agents.validator=v",
            "-c",
            "agents.orchestrator=o",
            "run",
            "m",
        ],
        &[("MODE", "repair"), ("ORCH", "meddle")],
        60,
    );
    assert_eq!(out.code, 3, "{}", out.snapshot());
    let st = repo.status_json();
    // The root cause stays the block; the orchestrator's question is beside it.
    assert_eq!(st["block"]["reason"], "validation_failed", "{st}");
    assert!(
        st["block"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("validation of M1 failed")),
        "{st}"
    );
    assert_eq!(st["block"]["question"], "Should M1 be dropped instead?");
    let human = repo.run(&["status", "m"]).stdout;
    assert!(human.contains("blocked: validation_failed"), "{human}");
    assert!(
        human.contains("orchestrator: needs_input: Should M1 be dropped instead?"),
        "{human}"
    );
    let ev = repo.events();
    let turn = ev
        .iter()
        .find(|e| e["type"] == "orchestrator.turn")
        .expect("turn");
    assert_eq!(turn["data"]["outcome"], "needs_input");
    let discarded = turn["data"]["discarded"].as_array().expect("discarded");
    assert!(
        discarded.iter().any(|d| d == "README.md") && discarded.iter().any(|d| d == "1 commit(s)"),
        "{turn}"
    );
    assert!(
        repo.git(&["ls-tree", "--name-only", "mission/m"])
            .lines()
            .all(|f| f != "hack.txt")
    );
    assert!(
        !repo
            .git(&["show", "mission/m:README.md"])
            .contains("hacked")
    );
    // One turn per block: running again does not ask the orchestrator again.
    let again = repo.run_deadline(
        &[
            "-c",
            "agents.validator=v",
            "-c",
            "agents.orchestrator=o",
            "run",
            "m",
        ],
        &[("MODE", "repair"), ("ORCH", "meddle")],
        60,
    );
    assert_eq!(again.code, 3);
    assert_eq!(count(&repo.events(), "orchestrator.turn", None), 1);
}

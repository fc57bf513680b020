//! What an agent run gets and what happens when one cannot start, end to end with the real
//! binary: a missing agent blocks before anything is dispatched, an agent sees an allowlisted
//! environment (never a forge token unless a profile names it), and a worker process that
//! dies is reported with the last lines it logged.

mod common;

use common::{OK_WORKER, TestRepo, count};

const ONE_FEATURE: &str = "  - id: M1\n    title: One\n    validation: {commands: [\"true\"]}\n    features:\n      - {id: F1, title: first, description: x}\n";

#[test]
fn run_with_the_agent_absent_blocks_at_once_naming_it_and_counts_no_attempt() {
    let repo = TestRepo::new();
    // The default worker agent (claude), which this machine does not have.
    repo.mission(OK_WORKER, "", ONE_FEATURE);
    let text = repo
        .read("todo/missions/m-mission.md")
        .replace("agents: {worker: w}", "agents: {worker: claude}");
    repo.write("todo/missions/m-mission.md", &text);
    repo.commit_all("use claude");
    let started = std::time::Instant::now();
    let out = repo.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(out.code, 3, "{}", out.snapshot());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "blocks at once"
    );
    for part in [
        "agent_missing",
        "the worker agent \"claude\" cannot start",
        "`claude` is not installed",
        "not found in PATH=",
        "npm install -g @anthropic-ai/claude-code",
        "agents.worker",
    ] {
        assert!(out.stderr.contains(part), "{part}: {}", out.stderr);
    }
    let s = repo.status_json();
    assert_eq!(s["status"], "blocked");
    assert_eq!(s["block"]["reason"], "agent_missing");
    let f1 = &s["milestones"][0]["features"][0];
    assert_eq!(f1["status"], "pending", "{f1}");
    assert_eq!(f1["attempts"], 0, "no attempt was spent: {f1}");
    let ev = repo.events();
    assert_eq!(count(&ev, "feature.dispatched", None), 0);
    assert_eq!(count(&ev, "run.started", None), 0);
    let next = s["next"].to_string();
    assert!(next.contains("git mission resume m"), "{next}");
    // status says so in words too.
    let status = repo.run(&["status", "m"]);
    assert!(
        status.stdout.contains("claude") && status.stdout.contains("agent_missing"),
        "{}",
        status.snapshot()
    );
    // The fix: another agent, then resume; the mission goes on and finishes.
    let text = repo
        .read("todo/missions/m-mission.md")
        .replace("agents: {worker: claude}", "agents: {worker: w}");
    repo.write("todo/missions/m-mission.md", &text);
    let resumed = repo.run_deadline(&["-c", "agents.worker=w", "resume", "m"], &[], 60);
    assert_eq!(resumed.code, 0, "{}", resumed.snapshot());
    let done = repo.run_deadline(&["-c", "agents.worker=w", "run", "m"], &[], 60);
    assert_eq!(done.code, 0, "{}", done.snapshot());
    let s = repo.status_json();
    assert_eq!(s["milestones"][0]["features"][0]["attempts"], 1);
}

#[test]
fn validate_and_approve_warn_about_an_agent_that_is_not_installed() {
    let repo = TestRepo::new();
    repo.write(
        "todo/missions/m-mission.md",
        "---\nschema: 1\nid: m\ntitle: T\nstatus: draft\napproved: null\nagents: {worker: codex, orchestrator: p}\nprofiles:\n  p: {agent: exec, command: [/nonexistent/orchestrate]}\nspent: {usd: 0, tokens: 0, hours: 0, runs: 0}\nblock: null\ncontract:\n  - {id: VC1, text: works}\nresources: []\nmilestones:\n  - id: M1\n    title: One\n    validation: {commands: [\"true\"], assertions: [VC1]}\n    features:\n      - {id: F1, title: first, assertions: [VC1], description: x}\n---\n# T\n\n## Objective\n\nT.\n\n## Non-goals\n\nNone.\n\n## Risks\n\nNone.\n",
    );
    let v = repo.run(&["validate", "m"]);
    assert_eq!(v.code, 0, "warnings only: {}", v.snapshot());
    assert!(
        v.stdout
            .contains("warning: the worker agent \"codex\" cannot start")
            && v.stdout.contains("npm install -g @openai/codex"),
        "{}",
        v.stdout
    );
    assert!(
        v.stdout.contains("the orchestrator agent \"exec\" cannot start: `/nonexistent/orchestrate` is not installed (it does not exist or is not executable)"),
        "{}",
        v.stdout
    );
    // No validator agent is used (no scrutiny): none is reported.
    assert!(!v.stdout.contains("validator agent"), "{}", v.stdout);
    let a = repo.run(&["approve", "m", "--json"]);
    assert_eq!(a.code, 0, "{}", a.snapshot());
    let j: serde_json::Value = serde_json::from_str(&a.stdout).expect("json");
    let roles: Vec<&str> = j["agents_missing"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles, ["worker", "orchestrator"]);
}

/// Writes the environment the worker saw into `env-<feature>.txt`, committed with its work.
const ENV_WORKER: &str = "env | sort > \"env-$GIT_MISSION_FEATURE.txt\"\n";

fn env_of(repo: &TestRepo) -> Vec<String> {
    repo.git(&["show", "mission/m:env-F1.txt"])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn an_agent_sees_an_allowlisted_environment_and_no_forge_token_unless_named() {
    let repo = TestRepo::new();
    repo.mission(&format!("{ENV_WORKER}{OK_WORKER}"), "", ONE_FEATURE);
    let secrets = [
        ("GITHUB_TOKEN", "ghs_supervisor_token"),
        ("GH_TOKEN", "ghp_user_token"),
        ("ACTIONS_RUNTIME_TOKEN", "runtime"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "oidc"),
        ("SSH_AUTH_SOCK", "/tmp/agent.sock"),
        ("DATABASE_URL", "postgres://secret@db/prod"),
        ("HTTPS_PROXY", "http://proxy.corp:3128"),
    ];
    let out = repo.run_deadline(
        &["--debug", "-c", "limits.worker_timeout=5m", "run", "m"],
        &secrets,
        60,
    );
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let env = env_of(&repo);
    let has = |name: &str| env.iter().any(|l| l.starts_with(&format!("{name}=")));
    for (name, _) in &secrets[..6] {
        assert!(!has(name), "{name} reached the agent:\n{}", env.join("\n"));
    }
    assert!(!env.iter().any(|l| l.contains("ghs_") || l.contains("ghp_")));
    // What it does get: the basics, the proxy, the mission's variables, and `-c` as the
    // environment layer for its own `git mission` commands.
    for name in [
        "PATH",
        "HOME",
        "TMPDIR",
        "HTTPS_PROXY",
        "GIT_MISSION_ID",
        "GIT_MISSION_ROLE",
        "GIT_MISSION_HANDOFF_FILE",
        "GIT_AUTHOR_NAME",
    ] {
        assert!(has(name), "{name} missing:\n{}", env.join("\n"));
    }
    assert!(
        env.contains(&"GIT_MISSION_LIMITS_WORKER_TIMEOUT=5m".to_owned()),
        "{env:?}"
    );
    // --debug reached the detached worker: its log has debug lines.
    let runs = repo.runs_dir("m");
    let work_log = std::fs::read_dir(&runs)
        .expect("runs")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path().join("work.log")).unwrap_or_default())
        .collect::<String>();
    assert!(work_log.contains("DEBUG"), "work.log:\n{work_log}");

    // A profile that names a forge token gets exactly that one.
    let repo = TestRepo::new();
    repo.mission(&format!("{ENV_WORKER}{OK_WORKER}"), "", ONE_FEATURE);
    let text = repo.read("todo/missions/m-mission.md").replace(
        "pass_env: [COUNTER,",
        "pass_env: [GITHUB_TOKEN, DATABASE_*, COUNTER,",
    );
    repo.write("todo/missions/m-mission.md", &text);
    repo.commit_all("the worker may push");
    let out = repo.run_deadline(&["run", "m"], &secrets, 60);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let env = env_of(&repo);
    assert!(env.contains(&"GITHUB_TOKEN=ghs_supervisor_token".to_owned()));
    assert!(env.contains(&"DATABASE_URL=postgres://secret@db/prod".to_owned()));
    assert!(!env.iter().any(|l| l.starts_with("GH_TOKEN=")));
}

#[test]
fn a_worker_process_that_dies_is_reported_with_the_last_lines_of_its_log() {
    let repo = TestRepo::new();
    repo.mission(
        OK_WORKER,
        "base: main\nlimits: {worker_attempts: 1}\n",
        ONE_FEATURE,
    );
    // The feature branch is checked out in the user's own work tree: the worker cannot make
    // its worktree, and dies before its agent starts.
    repo.git(&["checkout", "-q", "-b", "mission/m.F1"]);
    let out = repo.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(out.code, 3, "{}", out.snapshot());
    let s = repo.status_json();
    let message = s["block"]["message"].as_str().expect("message");
    assert!(
        message.contains("lost run") && message.contains("its log ends: error:"),
        "{message}"
    );
    assert!(
        message.contains("mission/m.F1"),
        "the cause is named: {message}"
    );
    let ev = repo.events();
    let run = ev
        .iter()
        .find(|e| e["type"] == "run.finished")
        .and_then(|e| e["run"].as_str())
        .expect("the run is recorded")
        .to_owned();
    let show = repo.run(&["show", "m", &run]);
    assert_eq!(show.code, 0, "{}", show.snapshot());
    assert!(
        show.stdout
            .contains("Last lines of the worker's log (work.log)")
            && show.stdout.contains("already"),
        "{}",
        show.stdout
    );
}

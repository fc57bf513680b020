//! The real-agent conformance suite: the real CLIs — Claude Code, Codex CLI, opencode, Gemini
//! CLI and aider, at the versions `scripts/install-agents.sh` pins — driven by `git mission run`
//! with each adapter's default flags, against `crates/fake-model` on loopback. Each CLI is
//! configured only the way its own docs tell a user to, in the test's HOME; git mission is
//! given nothing else. For every agent:
//!
//! - (a) an edit is made, merged, and its tokens (and cost, where the CLI reports one) recorded;
//! - (b) an API error (401) fails the attempt with the API's message and status, also where the
//!   CLI exits 0 (aider);
//! - (c) a reply with no change fails the attempt;
//! - (d) a hang is stopped at `limits.worker_timeout`, with no process of its group left.
//!
//! The tests are `#[ignore]`d by default (they need the CLIs: about 1.3 GB of npm and PyPI
//! packages). `.ci/run` runs them:
//! `GIT_MISSION_AGENTS_PATH=$(scripts/install-agents.sh) cargo test --test agents_real -- --ignored`.

mod common;

use std::time::Duration;

use common::{TestRepo, count, test_path};
use fake_model::{FakeModel, Scenario};

const KEY: &str = "fake-key-123";
const CONTENT: &str = "hello from fake-model\n";

/// The directories holding the installed CLIs (`scripts/install-agents.sh` prints them).
fn agents_path() -> String {
    std::env::var("GIT_MISSION_AGENTS_PATH").unwrap_or_else(|_| {
        panic!(
            "GIT_MISSION_AGENTS_PATH is not set: run `GIT_MISSION_AGENTS_PATH=$(scripts/install-agents.sh) cargo test --test agents_real -- --ignored`"
        )
    })
}

/// Writes the user's own configuration of `agent` for the model server at `url` into the test
/// HOME, as the CLI's documentation describes it, and returns the environment variables a user
/// would have exported.
fn configure(agent: &str, repo: &TestRepo, url: &str) -> Vec<(String, String)> {
    let home = repo.home();
    let write = |rel: &str, text: &str| {
        let p = home.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write config");
    };
    let env = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    match agent {
        // Claude Code: settings.json's `env` (code.claude.com/docs settings, "env").
        "claude" => {
            write(
                ".claude/settings.json",
                &format!(
                    r#"{{"env": {{"ANTHROPIC_BASE_URL": "{url}", "ANTHROPIC_API_KEY": "{KEY}"}}}}"#
                ),
            );
            Vec::new()
        }
        // Codex: a model provider in ~/.codex/config.toml whose key is in an env var it names
        // (developers.openai.com/codex/config "model_providers").
        "codex" => {
            write(
                ".codex/config.toml",
                &format!(
                    "model = \"fake-model\"\nmodel_provider = \"fake\"\n\n[model_providers.fake]\nname = \"Fake model\"\nbase_url = \"{url}/v1\"\nenv_key = \"FAKE_API_KEY\"\nwire_api = \"responses\"\n"
                ),
            );
            env(&[("FAKE_API_KEY", KEY)])
        }
        // opencode: a custom provider in ~/.config/opencode/opencode.json, its key from the
        // environment (opencode.ai/docs/providers "Custom provider", `{env:…}`).
        "opencode" => {
            write(
                ".config/opencode/opencode.json",
                &format!(
                    r#"{{"$schema": "https://opencode.ai/config.json",
  "provider": {{"fake": {{"npm": "@ai-sdk/openai-compatible", "name": "Fake model",
    "options": {{"baseURL": "{url}/v1", "apiKey": "{{env:FAKE_API_KEY}}"}},
    "models": {{"fake-model": {{"name": "Fake model", "cost": {{"input": 3, "output": 15, "cache_read": 0.3}}}}}}}}}},
  "model": "fake/fake-model"}}"#
                ),
            );
            env(&[("FAKE_API_KEY", KEY)])
        }
        // Gemini CLI: an API key and endpoint in the environment, the auth type and model in
        // ~/.gemini/settings.json (geminicli.com/docs: authentication, configuration).
        "gemini" => {
            write(
                ".gemini/settings.json",
                r#"{"security": {"auth": {"selectedType": "gemini-api-key"}}, "model": {"name": "gemini-2.5-flash"}}"#,
            );
            env(&[("GEMINI_API_KEY", KEY), ("GOOGLE_GEMINI_BASE_URL", url)])
        }
        // aider: an OpenAI-compatible endpoint in the environment, the model in
        // ~/.aider.conf.yml, its prices in ~/.aider.model.metadata.json (aider.chat/docs:
        // "OpenAI compatible APIs", "Configuration", "Advanced model settings").
        "aider" => {
            write(".aider.conf.yml", "model: openai/fake-model\n");
            write(
                ".aider.model.metadata.json",
                r#"{"openai/fake-model": {"max_tokens": 8192, "max_input_tokens": 128000, "max_output_tokens": 8192, "input_cost_per_token": 0.000003, "output_cost_per_token": 0.000015, "litellm_provider": "openai", "mode": "chat"}}"#,
            );
            env(&[
                ("OPENAI_API_BASE", &format!("{url}/v1")),
                ("OPENAI_API_KEY", KEY),
            ])
        }
        other => panic!("no configuration for {other}"),
    }
}

/// Sets up an approved mission `m` whose one feature is done by `agent` with its default flags.
fn mission(agent: &str, timeout: &str) -> TestRepo {
    let repo = TestRepo::new();
    let text = format!(
        "---\nschema: 1\nid: m\ntitle: Conformance of {agent}\nstatus: draft\napproved: null\nagents: {{worker: {agent}, validator: none, orchestrator: none}}\nlimits: {{max_parallel_workers: 1, worker_attempts: 1, worker_timeout: {timeout}}}\nspent: {{usd: 0, tokens: 0, hours: 0, runs: 0}}\nblock: null\ncontract:\n  - {{id: VC1, text: a greeting file exists}}\nresources: []\nmilestones:\n  - id: M1\n    title: Greeting\n    validation: {{commands: [\"test -f hello.txt\"], assertions: [VC1]}}\n    features:\n      - {{id: F1, title: Write hello.txt, assertions: [VC1], description: \"Create hello.txt containing a greeting.\"}}\n---\n# Conformance\n\n## Objective\n\nA greeting file.\n\n## Non-goals\n\nNone.\n\n## Risks\n\nNone.\n"
    );
    repo.write("todo/missions/m-mission.md", &text);
    repo.run(&["approve", "m"]).success();
    repo.commit_all("plan and approve m");
    repo
}

/// `git mission run m` with the CLIs on PATH and the user's environment.
fn run(repo: &TestRepo, user_env: &[(String, String)], secs: u64) -> common::Output {
    let path = format!("{}:{}", agents_path(), test_path());
    let mut env: Vec<(&str, &str)> = vec![("PATH", &path)];
    env.extend(user_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    // A forge token the supervisor has must never reach an agent.
    env.push(("GITHUB_TOKEN", "ghs_must_not_reach_the_agent"));
    repo.run_deadline(&["run", "m"], &env, secs)
}

/// The worker run's `run.finished`/`run.timed_out` event.
fn run_event(repo: &TestRepo) -> serde_json::Value {
    repo.events()
        .into_iter()
        .find(|e| {
            matches!(e["type"].as_str(), Some("run.finished" | "run.timed_out"))
                && e["feature"] == "F1"
        })
        .expect("the worker run is recorded")
}

fn edit(agent: &str, cost_reported: bool) {
    let server = FakeModel::start(Scenario::edit()).expect("fake model");
    let repo = mission(agent, "3m");
    let env = configure(agent, &repo, &server.url());
    let out = run(&repo, &env, 400);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(
        repo.git(&["show", "mission/m:hello.txt"]),
        CONTENT,
        "the agent's edit is merged"
    );
    let s = repo.status_json();
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(s["milestones"][0]["features"][0]["status"], "merged");
    // The prompt reached the model through the CLI.
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.is_model_call() && r.contains("Write hello.txt")),
        "no model call carried the feature's prompt"
    );
    assert!(
        !requests.iter().any(|r| r.contains("ghs_must_not_reach")),
        "the forge token reached the model"
    );
    // Tokens as the CLI reported them, bounded by what the server gave out (aider prints
    // "1.7k", hence the rounding allowance).
    let e = run_event(&repo);
    let tokens = e["data"]["tokens"].as_u64().expect("tokens");
    let served: u64 = requests
        .iter()
        .filter_map(|r| r.usage.as_ref())
        .map(|u| u.input + u.output + u.reasoning)
        .sum();
    assert!(
        tokens > 0 && tokens <= served + served / 20,
        "{agent}: {tokens} tokens recorded, {served} served"
    );
    assert_eq!(s["budget"]["spent"]["tokens"].as_u64(), Some(tokens));
    if cost_reported {
        let usd = e["data"]["usd"].as_f64().expect("cost");
        assert!(usd > 0.0, "{e}");
        assert_eq!(e["data"]["usd_estimated"], false, "the CLI's own cost: {e}");
    }
}

fn api_error(agent: &str) {
    let server = FakeModel::start(Scenario::unauthorized()).expect("fake model");
    let repo = mission(agent, "3m");
    let env = configure(agent, &repo, &server.url());
    let out = run(&repo, &env, 400);
    assert_eq!(out.code, 3, "{}", out.snapshot());
    let s = repo.status_json();
    assert_eq!(s["block"]["reason"], "worker_failed", "{s}");
    let e = run_event(&repo);
    let failure = e["data"]["failure"].as_str().expect("failure");
    assert!(failure.contains("401"), "{agent}: no status in {failure:?}");
    assert!(
        failure.contains("Incorrect API key provided"),
        "{agent}: not the API's message: {failure:?}"
    );
    assert_eq!(count(&repo.events(), "feature.handoff", None), 0);
}

fn no_change(agent: &str) {
    let server = FakeModel::start(Scenario::NoChange).expect("fake model");
    let repo = mission(agent, "3m");
    let env = configure(agent, &repo, &server.url());
    let out = run(&repo, &env, 400);
    assert_eq!(out.code, 3, "{}", out.snapshot());
    let e = run_event(&repo);
    assert_eq!(
        e["data"]["failure"], "no changes and no handoff: the run did nothing",
        "{e}"
    );
    assert!(server.requests().iter().any(|r| r.is_model_call()));
}

fn hang(agent: &str) {
    let server = FakeModel::start(Scenario::Hang).expect("fake model");
    let repo = mission(agent, "20s");
    let env = configure(agent, &repo, &server.url());
    let started = std::time::Instant::now();
    let out = run(&repo, &env, 300);
    assert_eq!(out.code, 3, "{}", out.snapshot());
    assert!(
        server.held() > 0 || !server.requests().is_empty(),
        "the CLI never called the model"
    );
    let e = run_event(&repo);
    assert_eq!(e["type"], "run.timed_out", "{e}");
    assert_eq!(e["data"]["failure"], "timed out after 20s", "{e}");
    // Stopped at the timeout (plus TERM's grace), not at the test's deadline.
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "{:?}",
        started.elapsed()
    );
    // No process of the agent's group is left.
    let runs = repo.runs_dir("m");
    let pgid: i32 = std::fs::read_dir(&runs)
        .expect("runs")
        .flatten()
        .find_map(|d| std::fs::read_to_string(d.path().join("agent.pgid")).ok())
        .and_then(|p| p.trim().parse().ok())
        .expect("the agent's process group was recorded");
    let alive: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let rest = stat.rsplit_once(')')?.1;
            let mut f = rest.split_whitespace();
            let state = f.next()?;
            let pgrp: i32 = f.nth(1)?.parse().ok()?;
            (pgrp == pgid && state != "Z").then_some(stat)
        })
        .collect();
    assert!(alive.is_empty(), "{agent} left processes behind: {alive:?}");
}

macro_rules! conformance {
    ($agent:ident, cost: $cost:expr) => {
        mod $agent {
            #[test]
            #[ignore = "needs the real agent CLIs: run by .ci/run (scripts/install-agents.sh)"]
            fn a_edit_is_made_merged_and_counted() {
                super::edit(stringify!($agent), $cost);
            }

            #[test]
            #[ignore = "needs the real agent CLIs: run by .ci/run (scripts/install-agents.sh)"]
            fn b_an_api_error_fails_with_its_message_and_status() {
                super::api_error(stringify!($agent));
            }

            #[test]
            #[ignore = "needs the real agent CLIs: run by .ci/run (scripts/install-agents.sh)"]
            fn c_a_reply_without_a_change_fails() {
                super::no_change(stringify!($agent));
            }

            #[test]
            #[ignore = "needs the real agent CLIs: run by .ci/run (scripts/install-agents.sh)"]
            fn d_a_hang_is_stopped_at_the_timeout_with_its_group() {
                super::hang(stringify!($agent));
            }
        }
    };
}

conformance!(claude, cost: true);
conformance!(codex, cost: false);
conformance!(opencode, cost: true);
conformance!(gemini, cost: false);
conformance!(aider, cost: true);

//! The `codex` agent: OpenAI Codex CLI run headless with `codex exec`. This file owns its
//! command line, its environment and the reading of its JSONL events; facts below are from
//! `shared/reference/agent-clis.md` (§0, §2, §7, §8) for codex 0.169.0.
//!
//! Invocation: `codex exec --json -s <sandbox> [-m <model>] [spec.args…] -`.
//! - The trailing `-` makes codex read the prompt from stdin (§2 "Prompt"); clap accepts the
//!   extra arguments before it as options.
//! - `-s workspace-write` for workers, `-s read-only` for every other role (the bubblewrap
//!   sandbox verified in §2 "Sandbox"). `exec` always runs with approval `never`, and
//!   `--full-auto` / `-a` are not accepted (§2).
//! - `CODEX_HOME=<config_home>` keeps sessions and state apart per run (§0.6, §8).
//!
//! Outcome (§2 "Output", "Exit codes"; §7 "success test"): success needs a `turn.completed`
//! event and exit code 0, and no `turn.failed` or fatal top-level `error` event. Top-level
//! `error` events reading `Reconnecting... n/5` are retry notices (codex retries 5 times before
//! `turn.failed`, §0.4), and `item.completed` items of type `error` are warnings such as
//! "Model metadata … not found", so neither fails a run on its own. The final message is the
//! last `agent_message` item's text.
//!
//! Usage: `turn.completed.usage` (summed over the turn's model calls, §2 "Usage/cost"). As in
//! the OpenAI API, `input_tokens` includes the cached input, so `input_tokens` here is the
//! uncached part and `cached_input_tokens` becomes `cache_read_tokens`; `output_tokens`
//! already includes `reasoning_output_tokens`. codex reports no cost (§0.8), so USD is
//! estimated from `prices` when the output names the model (`usd_estimated = true`); codex
//! 0.169.0's events do not name it, so that is left to whoever knows `spec.model`.

use std::path::Path;

use serde_json::Value;

use super::prices::estimate_usd;
use super::{Adapter, AgentSpec, Invocation, Outcome, Role, Usage};

pub struct Codex;

impl Adapter for Codex {
    fn name(&self) -> &'static str {
        "codex"
    }

    fn invocation(
        &self,
        spec: &AgentSpec,
        role: Role,
        _prompt_file: &Path,
        config_home: &Path,
    ) -> Invocation {
        let sandbox = if role.may_edit() {
            "workspace-write"
        } else {
            "read-only"
        };
        let mut argv: Vec<String> = ["codex", "exec", "--json", "-s", sandbox]
            .map(String::from)
            .to_vec();
        if let Some(model) = &spec.model {
            argv.push("-m".into());
            argv.push(model.clone());
        }
        argv.extend(spec.args.iter().cloned());
        argv.push("-".into());
        let env = vec![(
            "CODEX_HOME".to_owned(),
            config_home.to_string_lossy().into_owned(),
        )];
        Invocation {
            argv,
            prompt_on_stdin: true,
            env,
        }
    }

    fn parse(&self, stdout: &str, stderr: &str, exit_code: Option<i32>) -> Outcome {
        let mut completed = false;
        let mut turn_usage: Vec<Value> = Vec::new();
        let mut failed: Option<String> = None;
        let mut fatal: Option<String> = None;
        let mut last_retry: Option<String> = None;
        let mut final_message: Option<String> = None;
        let mut model: Option<String> = None;

        for event in stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        {
            if model.is_none() {
                model = event
                    .get("model")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            match event.get("type").and_then(Value::as_str).unwrap_or("") {
                "turn.completed" => {
                    completed = true;
                    if let Some(u) = event.get("usage") {
                        turn_usage.push(u.clone());
                    }
                }
                "turn.failed" => {
                    let msg = event
                        .get("error")
                        .and_then(|e| e.get("message"))
                        .and_then(Value::as_str);
                    failed = Some(msg.unwrap_or("turn failed").to_owned());
                }
                "error" => {
                    let msg = event
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("error")
                        .to_owned();
                    if msg.starts_with("Reconnecting...") {
                        last_retry = Some(msg);
                    } else {
                        fatal = Some(msg);
                    }
                }
                "item.completed" => {
                    let item = event.get("item");
                    if item.and_then(|i| i.get("type")).and_then(Value::as_str)
                        == Some("agent_message")
                    {
                        final_message = item
                            .and_then(|i| i.get("text"))
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                    }
                }
                _ => {}
            }
        }

        let error = failed.or(fatal).or_else(|| {
            if !completed {
                let mut e = super::status_error(exit_code, stderr, "without turn.completed");
                if let Some(retry) = &last_retry {
                    e.push_str(&format!(" (last: {retry})"));
                }
                Some(e)
            } else if exit_code != Some(0) {
                Some(super::status_error(
                    exit_code,
                    stderr,
                    "after turn.completed",
                ))
            } else {
                None
            }
        });
        Outcome {
            success: error.is_none(),
            error,
            final_message,
            usage: usage_from(&turn_usage, model.as_deref()),
        }
    }
}

fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Sums `turn.completed.usage` objects and, when the model is known and priced, estimates USD.
fn usage_from(turns: &[Value], model: Option<&str>) -> Usage {
    let mut usage = Usage {
        model: model.map(str::to_owned),
        ..Usage::default()
    };
    for u in turns {
        let input = count(u, "input_tokens");
        let cached = count(u, "cached_input_tokens");
        let cache_write = count(u, "cache_write_input_tokens");
        usage.input_tokens += input.saturating_sub(cached).saturating_sub(cache_write);
        usage.cache_read_tokens += cached;
        usage.cache_write_tokens += cache_write;
        usage.output_tokens += count(u, "output_tokens");
    }
    if let Some(model) = model {
        usage.usd = estimate_usd(
            model,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
        );
        usage.usd_estimated = usage.usd.is_some();
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOLUSE: &str =
        include_str!("../../tests/fixtures/agent-samples/codex.jsonl.tooluse.jsonl");
    const TOOLUSE_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/codex.jsonl.tooluse.rc");
    const TOOLUSE_STDERR: &str =
        include_str!("../../tests/fixtures/agent-samples/codex.jsonl.tooluse.stderr");
    const API_401: &str =
        include_str!("../../tests/fixtures/agent-samples/codex.jsonl.api-error-401.jsonl");
    const API_401_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/codex.jsonl.api-error-401.rc");

    #[test]
    fn sandbox_follows_the_role_and_the_prompt_comes_from_stdin() {
        let spec = AgentSpec {
            agent: "codex".into(),
            model: Some("gpt-5".into()),
            args: vec!["-c".into(), "model_reasoning_effort=\"high\"".into()],
            ..AgentSpec::default()
        };
        let home = Path::new("/runs/3/home");
        let worker = Codex.invocation(&spec, Role::Worker, Path::new("/runs/3/prompt.md"), home);
        assert_eq!(
            worker.argv,
            [
                "codex",
                "exec",
                "--json",
                "-s",
                "workspace-write",
                "-m",
                "gpt-5",
                "-c",
                "model_reasoning_effort=\"high\"",
                "-",
            ]
        );
        assert!(worker.prompt_on_stdin);
        assert_eq!(
            worker.env,
            [("CODEX_HOME".to_owned(), "/runs/3/home".to_owned())]
        );

        let plain = AgentSpec {
            agent: "codex".into(),
            ..AgentSpec::default()
        };
        for role in [Role::Validator, Role::Orchestrator, Role::Planner] {
            let inv = Codex.invocation(&plain, role, Path::new("/p"), home);
            assert_eq!(
                inv.argv,
                ["codex", "exec", "--json", "-s", "read-only", "-"]
            );
            assert!(inv.prompt_on_stdin);
            assert_eq!(inv.env, worker.env);
        }
    }

    #[test]
    fn completed_turn_is_success_despite_the_metadata_warning() {
        let out = Codex.parse(TOOLUSE, TOOLUSE_STDERR, super::super::sample_rc(TOOLUSE_RC));
        assert!(out.success);
        assert_eq!(out.error, None);
        assert_eq!(out.final_message.as_deref(), Some("MOCK-DONE final answer"));
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 2400,
                output_tokens: 50,
                cache_read_tokens: 600,
                cache_write_tokens: 0,
                usd: None,
                usd_estimated: false,
                model: None,
            }
        );
        assert_eq!(
            out.usage.total_tokens(),
            3050,
            "3000 input (600 of them cached) + 50 output"
        );
    }

    #[test]
    fn failed_turn_reports_the_api_error() {
        assert_eq!(super::super::sample_rc(API_401_RC), Some(1));
        let out = Codex.parse(API_401, "", super::super::sample_rc(API_401_RC));
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some(
                "unexpected status 401 Unauthorized: mock: invalid x-api-key, url: http://127.0.0.1:18080/v1/responses"
            )
        );
        assert_eq!(out.final_message, None);
        assert_eq!(out.usage, Usage::default());
    }

    #[test]
    fn completed_turn_still_needs_exit_zero_and_a_completion() {
        let out = Codex.parse(TOOLUSE, TOOLUSE_STDERR, Some(143));
        assert!(!out.success);
        assert!(
            out.error
                .as_deref()
                .is_some_and(|e| e.starts_with("exited with status 143 after turn.completed: "))
        );

        let retries_only: String = API_401.lines().take(5).map(|l| format!("{l}\n")).collect();
        let out = Codex.parse(&retries_only, "", None);
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some(
                "killed by a signal without turn.completed (last: Reconnecting... 2/5 (unexpected status 401 \
                 Unauthorized: mock: invalid x-api-key, url: http://127.0.0.1:18080/v1/responses))"
            )
        );
    }

    #[test]
    fn a_known_model_gets_an_estimated_cost() {
        let turn: Value = TOOLUSE
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["type"] == "turn.completed")
            .expect("the sample has a turn.completed event");
        let usage = usage_from(&[turn["usage"].clone()], Some("gpt-5"));
        // gpt-5: 1.25 input, 10 output, 0.125 cache read (USD per million tokens).
        let expected = (2400.0 * 1.25 + 50.0 * 10.0 + 600.0 * 0.125) / 1e6;
        assert!((usage.usd.expect("gpt-5 is priced") - expected).abs() < 1e-12);
        assert!(usage.usd_estimated);
        assert_eq!(usage.model.as_deref(), Some("gpt-5"));
        let unknown = usage_from(&[turn["usage"].clone()], Some("mock-model"));
        assert_eq!((unknown.usd, unknown.usd_estimated), (None, false));
    }
}

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
//! The user's setup (verified with 0.169.0 against a loopback server and a mock token endpoint;
//! see docs/agents.md): everything lives in `$CODEX_HOME` (default `~/.codex`).
//! - `config.toml` (model, `model_provider` and `[model_providers.*]` with their `env_key`),
//!   profile files `*.config.toml` and the global `AGENTS.md` are copied. 0.169.0 ignores
//!   `OPENAI_BASE_URL`, so a custom endpoint is only ever in that file.
//! - `auth.json` (`codex login`) is linked, not copied: a ChatGPT login's refresh token is
//!   single-use, and codex writes the refreshed one through the link into the user's file.
//! - A login kept in the OS keyring (`cli_auth_credentials_store = "keyring"`) is keyed by the
//!   `CODEX_HOME` path and cannot be seen from a private home: such users give `CODEX_API_KEY`.
//! - Environment: `OPENAI_*`, `CODEX_*`, the Bedrock variables, and every variable the
//!   configuration names (`env_key`, `env_http_headers`, `bearer_token_env_var`, `env_vars`).
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

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::prices::estimate_usd;
use super::{Adapter, AgentSpec, Credential, Invocation, Outcome, Role, Seed, Usage, UserHome};

pub struct Codex;

/// The user's `$CODEX_HOME`, else `~/.codex`.
fn home(user: &UserHome) -> Option<PathBuf> {
    user.dir("CODEX_HOME", ".codex")
}

/// The user's `config.toml`, parsed (`None` when absent or not TOML).
fn config(user: &UserHome) -> Option<toml::Table> {
    let text = std::fs::read_to_string(home(user)?.join("config.toml")).ok()?;
    text.parse::<toml::Table>().ok()
}

/// Every variable name the configuration tells codex to read: `env_key`,
/// `bearer_token_env_var`, the values of `env_http_headers`, and MCP `env_vars`.
fn named_vars(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                match (k.as_str(), v) {
                    ("env_key" | "bearer_token_env_var", toml::Value::String(s)) => {
                        out.push(s.clone());
                    }
                    ("env_http_headers", toml::Value::Table(h)) => {
                        out.extend(h.values().filter_map(|x| x.as_str().map(str::to_owned)));
                    }
                    ("env_vars", toml::Value::Array(a)) => {
                        out.extend(a.iter().filter_map(|x| x.as_str().map(str::to_owned)));
                    }
                    _ => named_vars(v, out),
                }
            }
        }
        toml::Value::Array(a) => a.iter().for_each(|x| named_vars(x, out)),
        _ => {}
    }
}

impl Adapter for Codex {
    fn name(&self) -> &'static str {
        "codex"
    }

    fn env_allowlist(&self) -> Vec<&'static str> {
        let own: &[&str] = &["OPENAI_*", "CODEX_*", "AZURE_OPENAI_*", "RUST_LOG"];
        [own, super::env::AWS].concat()
    }

    fn referenced_env(&self, user: &UserHome) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(c) = config(user) {
            named_vars(&toml::Value::Table(c), &mut out);
        }
        out.retain(|n| super::env::valid_pattern(n) && !n.contains('*'));
        out
    }

    fn seeds(&self, user: &UserHome, config_home: &Path) -> Vec<Seed> {
        let Some(dir) = home(user) else {
            return Vec::new();
        };
        let mut seeds = vec![
            Seed::link(dir.join("auth.json"), config_home.join("auth.json")),
            Seed::copy(dir.join("config.toml"), config_home.join("config.toml")),
            Seed::copy(dir.join("AGENTS.md"), config_home.join("AGENTS.md")),
        ];
        // Profile files (`codex --profile x` reads `x.config.toml`).
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".config.toml") {
                seeds.push(Seed::copy(e.path(), config_home.join(&name)));
            }
        }
        seeds
    }

    fn credential_sources(&self, user: &UserHome) -> Vec<Credential> {
        let mut out: Vec<Credential> = ["CODEX_API_KEY", "OPENAI_API_KEY", "CODEX_ACCESS_TOKEN"]
            .iter()
            .map(|v| Credential::var(user, v))
            .collect();
        for v in self.referenced_env(user) {
            out.push(Credential::var(user, &v));
        }
        out.extend(Credential::file(
            home(user).map(|h| h.join("auth.json")),
            "`codex login`",
        ));
        if let Some(store) = config(user)
            .and_then(|c| {
                c.get("cli_auth_credentials_store")
                    .and_then(|v| v.as_str().map(str::to_owned))
            })
            .filter(|s| s == "keyring" || s == "auto")
        {
            out.push(Credential {
                what: format!("the OS keyring (cli_auth_credentials_store = \"{store}\"): invisible to a run's private CODEX_HOME, give CODEX_API_KEY instead"),
                found: false,
            });
        }
        out
    }

    fn login_hint(&self) -> &'static str {
        "log in with `codex login` (file storage), or set CODEX_API_KEY or OPENAI_API_KEY, or the `env_key` of your model provider"
    }

    fn install_hint(&self) -> &'static str {
        "install Codex CLI (`npm install -g @openai/codex`)"
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
    fn the_login_is_linked_the_config_copied_and_its_env_keys_allowed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join(".codex");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(
            dir.join("config.toml"),
            "model = \"m\"\nmodel_provider = \"local\"\ncli_auth_credentials_store = \"keyring\"\n[model_providers.local]\nbase_url = \"http://127.0.0.1:9/v1\"\nenv_key = \"LOCAL_KEY\"\nenv_http_headers = { \"X-Team\" = \"TEAM_HEADER\" }\n[mcp_servers.docs]\ncommand = \"x\"\nenv_vars = [\"DOCS_TOKEN\"]\n",
        )
        .expect("config");
        std::fs::write(dir.join("auth.json"), "{}").expect("auth");
        std::fs::write(dir.join("fast.config.toml"), "model = \"f\"").expect("profile");
        let env = vec![("HOME".to_owned(), tmp.path().to_string_lossy().into_owned())];
        let u = UserHome::new(&env);
        let private = Path::new("/run/home");
        let seeds = Codex.seeds(&u, private);
        assert!(seeds.contains(&Seed::link(
            dir.join("auth.json"),
            private.join("auth.json")
        )));
        assert!(seeds.contains(&Seed::copy(
            dir.join("config.toml"),
            private.join("config.toml")
        )));
        assert!(seeds.contains(&Seed::copy(
            dir.join("fast.config.toml"),
            private.join("fast.config.toml")
        )));
        let mut vars = Codex.referenced_env(&u);
        vars.sort();
        assert_eq!(vars, ["DOCS_TOKEN", "LOCAL_KEY", "TEAM_HEADER"]);
        let creds = Codex.credential_sources(&u);
        assert!(
            creds
                .iter()
                .any(|c| c.what.contains("OS keyring") && !c.found),
            "{creds:?}"
        );
        assert!(
            creds
                .iter()
                .any(|c| c.found && c.what.contains("auth.json"))
        );
    }

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

//! The `claude` agent: Claude Code run headless with `claude -p`. This file owns its command
//! line, its environment and the reading of its output; facts below are from
//! `shared/reference/agent-clis.md` (§0, §1, §7, §8) for Claude Code 2.1.330.
//!
//! Invocation:
//! - The prompt goes on stdin (§0.1, §1 "Prompt"), never in argv.
//! - `--output-format stream-json --verbose`: stream-json needs `--verbose` with `-p` (§1
//!   "Output"). It is chosen over `json` because a run that is killed or never reaches its
//!   `result` event still leaves its `system/api_retry` events and assistant text behind, which
//!   `parse` uses for the error and the final message. `parse` also accepts `--output-format
//!   json` output (one `result` object), which is the same object as the stream's last line.
//! - Workers: `--permission-mode acceptEdits` (writes inside the cwd allowed, §1
//!   "Permissions"), `--allowedTools Bash` so tests and builds can run, and
//!   `--disallowedTools "Bash(git commit*)" "Bash(git push*)"` because the orchestrator
//!   commits, not the agent (§8).
//! - Validators, orchestrators and planners: `--permission-mode dontAsk` (anything that would
//!   prompt is denied, §1 "Permissions") with `Edit`, `Write` and `NotebookEdit` disallowed as
//!   well as git commit/push. Not `plan`, although §1 lists it for validators: in a headless run
//!   the model leaves plan mode through an `ExitPlanMode` call that nobody can approve, and that
//!   call is then listed in `permission_denials` (public Claude Code issue reports, not §1).
//! - The two variadic `--…Tools` lists come before other options so that nothing after them
//!   (e.g. `spec.args`) can be swallowed as a tool name.
//! - Environment: `CLAUDE_CONFIG_DIR=<config_home>` (private state and transcripts, §0.6),
//!   `CLAUDE_CODE_MAX_RETRIES` capped because a 401 is otherwise retried 10 times over minutes
//!   (§0.4), and `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`, `DISABLE_AUTOUPDATER=1` (§1
//!   "Custom endpoint", [B]).
//!
//! The user's setup (verified with 2.1.332 by running it against a loopback server, with
//! strace; see docs/agents.md):
//! - With `CLAUDE_CONFIG_DIR=<P>`, Claude Code keeps everything under `<P>`: its global state
//!   `<P>/.claude.json` (the file concurrent sessions corrupt: private per run, never copied),
//!   `settings.json` (copied: `env` such as `ANTHROPIC_BASE_URL`, `model`, `apiKeyHelper`), and
//!   its OAuth login `.credentials.json` — unless `CLAUDE_SECURESTORAGE_CONFIG_DIR` names
//!   another directory (empty: `~/.claude`), which also picks the macOS Keychain entry. The
//!   login's refresh token is single-use, so a copy that refreshed would log the user out: the
//!   run is pointed at the user's own store with that variable, where Claude Code refreshes it
//!   under its own lock, as by hand. (The variable is not in Claude Code's public docs; it is
//!   what its bundle reads, checked at the pinned version by the conformance suite.)
//! - A Console key saved by `/login` on Linux is `primaryApiKey` in the global state file; it
//!   is passed as `ANTHROPIC_API_KEY` when there is no OAuth login.
//! - Environment: `ANTHROPIC_*`, `CLAUDE_CODE_*` and the Bedrock/Vertex variables it documents.
//!
//! Outcome: success is `is_error == false` and an empty `permission_denials` in the `result`
//! event (exit code 0 alone proves nothing: denials still exit 0, and an API 400 reports
//! `subtype:"success"` with `is_error:true`, §0.2), plus exit code 0. The final message is
//! `result.result`; tokens come from `result.usage` and the cost from `total_cost_usd`, which
//! Claude Code reports itself (`usd_estimated = false`, §0.8).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Adapter, AgentSpec, Credential, Invocation, Outcome, Role, Seed, Usage, UserHome};

/// Whether the login keychain has a generic password of that service (its value is not read).
fn macos_keychain_has(service: &str) -> bool {
    std::process::Command::new("security")
        .args(["find-generic-password", "-s", service])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub struct Claude;

/// Retries allowed per API request (Claude Code's default of 10 can take minutes on a 401).
const MAX_RETRIES: &str = "3";
/// Git commands a run may never execute: the orchestrator commits.
const DENIED_GIT: [&str; 2] = ["Bash(git commit*)", "Bash(git push*)"];
/// Tools that change files, removed from read-only roles.
const EDIT_TOOLS: [&str; 3] = ["Edit", "Write", "NotebookEdit"];

/// The user's Claude Code configuration directory: `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
fn config_dir(user: &UserHome) -> Option<PathBuf> {
    user.dir("CLAUDE_CONFIG_DIR", ".claude")
}

/// The user's global state file: `$CLAUDE_CONFIG_DIR/.claude.json`, else `~/.claude.json`.
fn global_config(user: &UserHome) -> Option<PathBuf> {
    match user.var("CLAUDE_CONFIG_DIR") {
        Some(d) if Path::new(d).is_absolute() => Some(Path::new(d).join(".claude.json")),
        _ => user.home().map(|h| h.join(".claude.json")),
    }
}

/// The value that points a run at the user's login store: theirs when they set one, else
/// their config directory, else empty (Claude Code's `~/.claude`).
fn secure_storage(user: &UserHome) -> String {
    user.var_raw("CLAUDE_SECURESTORAGE_CONFIG_DIR")
        .or_else(|| user.var("CLAUDE_CONFIG_DIR"))
        .unwrap_or("")
        .to_owned()
}

/// Where that store keeps the OAuth login on Linux.
fn credentials_file(user: &UserHome) -> Option<PathBuf> {
    match secure_storage(user).as_str() {
        "" => user.home().map(|h| h.join(".claude/.credentials.json")),
        d => Some(Path::new(d).join(".credentials.json")),
    }
}

impl Adapter for Claude {
    fn name(&self) -> &'static str {
        "claude"
    }

    fn env_allowlist(&self) -> Vec<&'static str> {
        let own: &[&str] = &[
            "ANTHROPIC_*",
            "CLAUDE_CODE_*",
            "DISABLE_AUTOUPDATER",
            "DISABLE_TELEMETRY",
            "DISABLE_ERROR_REPORTING",
            "API_TIMEOUT_MS",
            "MAX_THINKING_TOKENS",
            "BASH_DEFAULT_TIMEOUT_MS",
            "BASH_MAX_TIMEOUT_MS",
            "MCP_TIMEOUT",
            "MCP_TOOL_TIMEOUT",
            "IS_SANDBOX",
            "CLOUD_ML_REGION",
            "VERTEX_REGION_*",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_CLOUD_PROJECT",
            "GCLOUD_PROJECT",
        ];
        [own, super::env::AWS].concat()
    }

    fn inherited_env(&self, user: &UserHome) -> Vec<(String, String)> {
        let mut env = vec![(
            "CLAUDE_SECURESTORAGE_CONFIG_DIR".to_owned(),
            secure_storage(user),
        )];
        let oauth = credentials_file(user).is_some_and(|p| p.is_file());
        if !oauth
            && user.var("ANTHROPIC_API_KEY").is_none()
            && let Some(key) = global_config(user)
                .and_then(|p| user.json(&p))
                .and_then(|j| j["primaryApiKey"].as_str().map(str::to_owned))
                .filter(|k| !k.is_empty())
        {
            env.push(("ANTHROPIC_API_KEY".to_owned(), key));
        }
        env
    }

    fn seeds(&self, user: &UserHome, config_home: &Path) -> Vec<Seed> {
        let Some(dir) = config_dir(user) else {
            return Vec::new();
        };
        ["settings.json", "settings.local.json"]
            .into_iter()
            .map(|f| Seed::copy(dir.join(f), config_home.join(f)))
            .collect()
    }

    fn credential_sources(&self, user: &UserHome) -> Vec<Credential> {
        let mut out: Vec<Credential> = [
            "ANTHROPIC_API_KEY",
            "ANTHROPIC_AUTH_TOKEN",
            "CLAUDE_CODE_OAUTH_TOKEN",
            "CLAUDE_CODE_USE_BEDROCK",
            "CLAUDE_CODE_USE_VERTEX",
            "CLAUDE_CODE_USE_FOUNDRY",
        ]
        .iter()
        .map(|v| Credential::var(user, v))
        .collect();
        if let Some(settings) = config_dir(user).map(|d| d.join("settings.json")) {
            let j = user.json(&settings).unwrap_or_default();
            let found = j["apiKeyHelper"].is_string()
                || [
                    "ANTHROPIC_API_KEY",
                    "ANTHROPIC_AUTH_TOKEN",
                    "CLAUDE_CODE_OAUTH_TOKEN",
                ]
                .iter()
                .any(|k| j["env"][k].is_string());
            out.push(Credential {
                what: format!("{} (apiKeyHelper or a key in `env`)", settings.display()),
                found,
            });
        }
        out.extend(Credential::file(credentials_file(user), "`claude` /login"));
        if let Some(g) = global_config(user) {
            out.push(Credential {
                what: format!(
                    "primaryApiKey in {} (/login with a Console key)",
                    g.display()
                ),
                found: user
                    .json(&g)
                    .is_some_and(|j| j["primaryApiKey"].as_str().is_some_and(|k| !k.is_empty())),
            });
        }
        if cfg!(target_os = "macos") {
            out.push(Credential {
                what: "the macOS Keychain item \"Claude Code-credentials\" (`claude` /login)"
                    .into(),
                found: macos_keychain_has("Claude Code-credentials"),
            });
        }
        out
    }

    fn login_hint(&self) -> &'static str {
        "log in with `claude` then /login (or `claude setup-token` and set CLAUDE_CODE_OAUTH_TOKEN), or set ANTHROPIC_API_KEY"
    }

    fn install_hint(&self) -> &'static str {
        "install Claude Code (`npm install -g @anthropic-ai/claude-code`)"
    }

    fn invocation(
        &self,
        spec: &AgentSpec,
        role: Role,
        _prompt_file: &Path,
        config_home: &Path,
    ) -> Invocation {
        let mut argv: Vec<String> = [
            "claude",
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
        ]
        .map(String::from)
        .to_vec();
        argv.push("--disallowedTools".into());
        if role.may_edit() {
            argv.extend(DENIED_GIT.map(String::from));
            argv.extend(
                ["--allowedTools", "Bash", "--permission-mode", "acceptEdits"].map(String::from),
            );
        } else {
            argv.extend(EDIT_TOOLS.map(String::from));
            argv.extend(DENIED_GIT.map(String::from));
            argv.extend(["--permission-mode", "dontAsk"].map(String::from));
        }
        if let Some(model) = &spec.model {
            argv.push("--model".into());
            argv.push(model.clone());
        }
        argv.extend(spec.args.iter().cloned());
        let env = vec![
            (
                "CLAUDE_CONFIG_DIR".to_owned(),
                config_home.to_string_lossy().into_owned(),
            ),
            ("CLAUDE_CODE_MAX_RETRIES".to_owned(), MAX_RETRIES.to_owned()),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".to_owned(),
                "1".to_owned(),
            ),
            ("DISABLE_AUTOUPDATER".to_owned(), "1".to_owned()),
        ];
        Invocation {
            argv,
            prompt_on_stdin: true,
            env,
        }
    }

    fn parse(&self, stdout: &str, stderr: &str, exit_code: Option<i32>) -> Outcome {
        let events = json_events(stdout);
        match events.iter().rev().find(|e| kind(e) == "result") {
            Some(result) => from_result(result, &events, stderr, exit_code),
            None => without_result(&events, stderr, exit_code),
        }
    }
}

/// The JSON objects in stdout: one per line (stream-json, or json's single line), or the whole
/// text when it is one pretty-printed object.
fn json_events(stdout: &str) -> Vec<Value> {
    let lines: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .filter(Value::is_object)
        .collect();
    if lines.is_empty()
        && let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(stdout.trim())
    {
        return vec![v];
    }
    lines
}

fn kind(event: &Value) -> &str {
    event.get("type").and_then(Value::as_str).unwrap_or("")
}

fn count(v: Option<&Value>, key: &str) -> u64 {
    v.and_then(|v| v.get(key))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// The outcome of a run that printed its `result` event.
fn from_result(result: &Value, events: &[Value], stderr: &str, exit_code: Option<i32>) -> Outcome {
    let is_error = result
        .get("is_error")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let denials = result
        .get("permission_denials")
        .and_then(Value::as_array)
        .map(|d| d.iter().map(describe_denial).collect::<Vec<_>>())
        .unwrap_or_default();
    let text = result.get("result").and_then(Value::as_str);

    let error = if is_error {
        Some(result_error(result, text))
    } else if !denials.is_empty() {
        Some(format!("permission denied: {}", denials.join(", ")))
    } else if exit_code != Some(0) {
        Some(super::status_error(
            exit_code,
            stderr,
            "after reporting success",
        ))
    } else {
        None
    };

    let usage_json = result.get("usage");
    let usage = Usage {
        input_tokens: count(usage_json, "input_tokens"),
        output_tokens: count(usage_json, "output_tokens"),
        cache_read_tokens: count(usage_json, "cache_read_input_tokens"),
        cache_write_tokens: count(usage_json, "cache_creation_input_tokens"),
        usd: result.get("total_cost_usd").and_then(Value::as_f64),
        usd_estimated: false,
        model: main_model(result).or_else(|| init_model(events)),
    };
    Outcome {
        success: error.is_none(),
        error,
        final_message: if is_error {
            None
        } else {
            text.map(str::to_owned)
        },
        usage,
    }
}

/// Why an `is_error` result failed: its `errors` list (max turns, budget), else its `result`
/// text (API errors), else its subtype and terminal reason.
fn result_error(result: &Value, text: Option<&str>) -> String {
    let errors: Vec<&str> = result
        .get("errors")
        .and_then(Value::as_array)
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !errors.is_empty() {
        return errors.join("; ");
    }
    if let Some(text) = text.filter(|t| !t.trim().is_empty()) {
        return text.to_owned();
    }
    let subtype = result
        .get("subtype")
        .and_then(Value::as_str)
        .unwrap_or("error");
    match result.get("terminal_reason").and_then(Value::as_str) {
        Some(reason) => format!("{subtype} ({reason})"),
        None => subtype.to_owned(),
    }
}

/// `Tool(target)` for one `permission_denials` entry, e.g. `Write(/repo/hello.txt)`.
fn describe_denial(denial: &Value) -> String {
    let tool = denial
        .get("tool_name")
        .and_then(Value::as_str)
        .unwrap_or("unknown tool");
    let input = denial.get("tool_input");
    let target = [
        "file_path",
        "command",
        "notebook_path",
        "path",
        "url",
        "pattern",
    ]
    .iter()
    .find_map(|k| input.and_then(|i| i.get(*k)).and_then(Value::as_str));
    match target {
        Some(t) => format!("{tool}({t})"),
        None => tool.to_owned(),
    }
}

/// The model with the most tokens in `modelUsage` (the first one on a tie).
fn main_model(result: &Value) -> Option<String> {
    let models = result.get("modelUsage")?.as_object()?;
    let mut best: Option<(&String, u64)> = None;
    for (name, m) in models {
        let tokens = count(Some(m), "inputTokens") + count(Some(m), "outputTokens");
        if best.is_none_or(|(_, t)| tokens > t) {
            best = Some((name, tokens));
        }
    }
    best.map(|(name, _)| name.clone())
}

fn init_model(events: &[Value]) -> Option<String> {
    events
        .iter()
        .find(|e| kind(e) == "system" && e.get("subtype").and_then(Value::as_str) == Some("init"))
        .and_then(|e| e.get("model"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The outcome of a run that ended without a `result` event (killed, crashed, or a CLI usage
/// error): always a failure, explained by the exit status and the last API retry, if any.
fn without_result(events: &[Value], stderr: &str, exit_code: Option<i32>) -> Outcome {
    let mut error = super::status_error(exit_code, stderr, "without a result event");
    let retry = events.iter().rev().find(|e| {
        kind(e) == "system" && e.get("subtype").and_then(Value::as_str) == Some("api_retry")
    });
    if let Some(retry) = retry {
        let attempt = count(Some(retry), "attempt");
        let max = count(Some(retry), "max_retries");
        let what = match retry.get("error") {
            Some(Value::String(s)) => s.clone(),
            Some(v) if !v.is_null() => v.to_string(),
            _ => String::new(),
        };
        let status = retry
            .get("error_status")
            .filter(|s| !s.is_null())
            .map(Value::to_string);
        let detail = [status.unwrap_or_default(), what]
            .join(" ")
            .trim()
            .to_owned();
        error.push_str(&format!(" (last API retry {attempt}/{max}: {detail})"));
    }
    let final_message = events
        .iter()
        .rev()
        .filter(|e| kind(e) == "assistant")
        .find_map(|e| {
            let blocks = e.get("message")?.get("content")?.as_array()?;
            let text: Vec<&str> = blocks
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect();
            (!text.is_empty()).then(|| text.join("\n"))
        });
    let usage = Usage {
        model: init_model(events),
        ..Usage::default()
    };
    Outcome {
        success: false,
        error: Some(error),
        final_message,
        usage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUCCESS: &str =
        include_str!("../../tests/fixtures/agent-samples/claude.json.success.json");
    const SUCCESS_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/claude.json.success.rc");
    const DENIED: &str =
        include_str!("../../tests/fixtures/agent-samples/claude.json.permission-denied.json");
    const DENIED_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/claude.json.permission-denied.rc");
    const MAX_TURNS: &str =
        include_str!("../../tests/fixtures/agent-samples/claude.json.max-turns.json");
    const MAX_TURNS_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/claude.json.max-turns.rc");
    const API_400: &str =
        include_str!("../../tests/fixtures/agent-samples/claude.json.api-error-400.json");
    const API_400_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/claude.json.api-error-400.rc");
    const STREAM: &str =
        include_str!("../../tests/fixtures/agent-samples/claude.stream-json.tooluse.jsonl");
    const STREAM_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/claude.stream-json.tooluse.rc");

    fn parse(stdout: &str, rc_file: &str) -> Outcome {
        Claude.parse(stdout, "", super::super::sample_rc(rc_file))
    }

    fn var<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_run_uses_the_users_login_in_place_and_a_copy_of_their_settings() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join(".claude");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(
            dir.join("settings.json"),
            r#"{"env":{"ANTHROPIC_BASE_URL":"http://x"}}"#,
        )
        .expect("settings");
        std::fs::write(dir.join(".credentials.json"), r#"{"claudeAiOauth":{}}"#).expect("login");
        std::fs::write(
            tmp.path().join(".claude.json"),
            r#"{"primaryApiKey":"sk-console"}"#,
        )
        .expect("state");
        let env = super::super::test_user(tmp.path(), &[]);
        let u = UserHome::new(&env);
        let private = tmp.path().join("run/home");
        let seeds = Claude.seeds(&u, &private);
        assert_eq!(
            seeds[0],
            Seed::copy(dir.join("settings.json"), private.join("settings.json"))
        );
        // The login is never copied (its refresh token is single-use), nor the state file.
        assert!(
            seeds
                .iter()
                .all(|s| !s.to.ends_with(".credentials.json") && !s.to.ends_with(".claude.json"))
        );
        let inherited = Claude.inherited_env(&u);
        // Empty: Claude Code's own ~/.claude, where the user's login is.
        assert_eq!(var(&inherited, "CLAUDE_SECURESTORAGE_CONFIG_DIR"), Some(""));
        assert_eq!(
            var(&inherited, "ANTHROPIC_API_KEY"),
            None,
            "an OAuth login wins"
        );
        assert!(
            Claude
                .credential_sources(&u)
                .iter()
                .any(|c| c.found && c.what.contains(".credentials.json"))
        );

        // A Console key saved by /login, and no OAuth login: passed as the API key.
        std::fs::remove_file(dir.join(".credentials.json")).expect("rm");
        let inherited = Claude.inherited_env(&u);
        assert_eq!(var(&inherited, "ANTHROPIC_API_KEY"), Some("sk-console"));

        // A user with their own CLAUDE_CONFIG_DIR: their directory is the store.
        let own = tmp.path().join("claude-work");
        let env =
            super::super::test_user(tmp.path(), &[("CLAUDE_CONFIG_DIR", &own.to_string_lossy())]);
        let u = UserHome::new(&env);
        assert_eq!(
            var(&Claude.inherited_env(&u), "CLAUDE_SECURESTORAGE_CONFIG_DIR"),
            Some(own.to_string_lossy().as_ref())
        );
        assert_eq!(
            Claude.seeds(&u, &private)[0],
            Seed::copy(own.join("settings.json"), private.join("settings.json"))
        );
    }

    #[test]
    fn worker_may_edit_but_not_commit_and_validator_is_read_only() {
        let spec = AgentSpec {
            agent: "claude".into(),
            model: Some("claude-sonnet-4-5".into()),
            args: vec!["--max-turns".into(), "50".into()],
            ..AgentSpec::default()
        };
        let home = Path::new("/runs/7/home");
        let worker = Claude.invocation(&spec, Role::Worker, Path::new("/runs/7/prompt.md"), home);
        assert_eq!(
            worker.argv,
            [
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--disallowedTools",
                "Bash(git commit*)",
                "Bash(git push*)",
                "--allowedTools",
                "Bash",
                "--permission-mode",
                "acceptEdits",
                "--model",
                "claude-sonnet-4-5",
                "--max-turns",
                "50",
            ]
        );
        assert!(worker.prompt_on_stdin);
        assert!(!worker.argv.iter().any(|a| a.contains("prompt.md")));
        assert_eq!(
            worker.env,
            [
                ("CLAUDE_CONFIG_DIR".to_owned(), "/runs/7/home".to_owned()),
                ("CLAUDE_CODE_MAX_RETRIES".to_owned(), "3".to_owned()),
                (
                    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".to_owned(),
                    "1".to_owned()
                ),
                ("DISABLE_AUTOUPDATER".to_owned(), "1".to_owned()),
            ]
        );

        let plain = AgentSpec {
            agent: "claude".into(),
            ..AgentSpec::default()
        };
        let validator = Claude.invocation(&plain, Role::Validator, Path::new("/p"), home);
        assert_eq!(
            validator.argv,
            [
                "claude",
                "-p",
                "--output-format",
                "stream-json",
                "--verbose",
                "--disallowedTools",
                "Edit",
                "Write",
                "NotebookEdit",
                "Bash(git commit*)",
                "Bash(git push*)",
                "--permission-mode",
                "dontAsk",
            ]
        );
        assert!(validator.prompt_on_stdin);
        assert_eq!(validator.env, worker.env);
        for role in [Role::Orchestrator, Role::Planner] {
            assert_eq!(
                Claude.invocation(&plain, role, Path::new("/p"), home).argv,
                validator.argv
            );
        }
    }

    #[test]
    fn success_sample_reports_its_answer_tokens_and_cost() {
        let out = parse(SUCCESS, SUCCESS_RC);
        assert!(out.success);
        assert_eq!(out.error, None);
        assert_eq!(out.final_message.as_deref(), Some("MOCK-DONE final answer"));
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 1200,
                output_tokens: 34,
                cache_read_tokens: 500,
                cache_write_tokens: 100,
                usd: Some(0.00608),
                usd_estimated: false,
                model: Some("claude-opus-5-5".into()),
            }
        );
    }

    #[test]
    fn permission_denials_fail_a_run_that_exited_zero() {
        assert_eq!(super::super::sample_rc(DENIED_RC), Some(0));
        let out = parse(DENIED, DENIED_RC);
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("permission denied: Write(/home/dev/repo/hello.txt)")
        );
        assert_eq!(out.final_message.as_deref(), Some("MOCK-DONE final answer"));
        assert_eq!(out.usage.input_tokens, 2400);
        assert_eq!(out.usage.output_tokens, 68);
        assert_eq!(out.usage.cache_read_tokens, 1000);
        assert_eq!(out.usage.cache_write_tokens, 200);
        assert_eq!(out.usage.usd, Some(0.01216));
    }

    #[test]
    fn max_turns_is_an_error_with_the_reported_reason() {
        let out = parse(MAX_TURNS, MAX_TURNS_RC);
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("Reached maximum number of turns (1)")
        );
        assert_eq!(out.final_message, None);
        assert_eq!(out.usage.total_tokens(), 1200 + 34 + 500 + 100);
        assert_eq!(out.usage.usd, Some(0.00608));
    }

    #[test]
    fn api_error_with_success_subtype_is_still_an_error() {
        let out = parse(API_400, API_400_RC);
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("API Error: 400 mock: bad request")
        );
        assert_eq!(out.final_message, None);
        assert_eq!(out.usage.total_tokens(), 0);
        assert_eq!(out.usage.usd, Some(0.0));
        assert!(!out.usage.usd_estimated);
        assert_eq!(out.usage.model, None);
    }

    #[test]
    fn stream_json_uses_the_last_result_event() {
        let out = parse(STREAM, STREAM_RC);
        assert!(out.success);
        assert_eq!(out.error, None);
        assert_eq!(out.final_message.as_deref(), Some("MOCK-DONE final answer"));
        assert_eq!(
            (out.usage.input_tokens, out.usage.output_tokens),
            (2400, 68),
            "the result's totals, not the per-message usage of the assistant events"
        );
        assert_eq!(
            (out.usage.cache_read_tokens, out.usage.cache_write_tokens),
            (1000, 200)
        );
        assert_eq!(out.usage.usd, Some(0.01216));
        assert_eq!(out.usage.model.as_deref(), Some("claude-opus-5-5"));
    }

    #[test]
    fn a_stream_cut_before_its_result_fails_but_keeps_the_last_text() {
        let cut: String = STREAM
            .lines()
            .filter(|l| !l.contains("\"type\":\"result\""))
            .map(|l| format!("{l}\n"))
            .collect();
        let out = Claude.parse(&cut, "", None);
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("killed by a signal without a result event")
        );
        assert_eq!(out.final_message.as_deref(), Some("MOCK-DONE final answer"));
        assert_eq!(out.usage.model.as_deref(), Some("claude-opus-5-5"));
        assert_eq!(out.usage.total_tokens(), 0);

        let out = Claude.parse("", "Error: Input must be provided\n", Some(1));
        assert_eq!(
            out.error.as_deref(),
            Some("exited with status 1 without a result event: Error: Input must be provided")
        );
    }

    #[test]
    fn success_needs_exit_zero_too() {
        let out = Claude.parse(SUCCESS, "", Some(143));
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("exited with status 143 after reporting success")
        );
    }
}

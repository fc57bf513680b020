//! The `opencode` agent: opencode run headless with `opencode run --format json`. This file owns
//! its command line, its environment and the reading of its JSONL events; facts below are from
//! `shared/reference/agent-clis.md` (§0, §3, §7, §8) for opencode 1.18.33.
//!
//! Invocation: `opencode run --format json [-m provider/model] [spec.args…]`.
//! - The prompt goes on stdin only: `run` wraps a positional message that contains a space in
//!   literal double quotes (§0.1, §3 "Prompt").
//! - Private state: its session database, `OPENCODE_DB=<config_home>/opencode.db` (two runs
//!   sharing one fail with "database is locked"), plus `OPENCODE_DISABLE_AUTOUPDATE=1` and
//!   `OPENCODE_DISABLE_SHARE=1` ([B], §3). Everything else is the user's, read where it is:
//!   the global config `~/.config/opencode/opencode.json` (providers, model), the login
//!   `~/.local/share/opencode/auth.json` (`opencode auth login`; refreshed OAuth tokens are
//!   written back there, as by hand), and the cache of provider packages with the lock that
//!   serialises their installs. The `XDG_*` directories are not redirected: that would also
//!   hide the user's git and gh configuration from the agent's shell (verified with 1.18.33).
//! - Environment: `OPENCODE_*`, provider keys (`*_API_KEY` and the cloud providers'
//!   variables) and the `{env:VAR}`s its configuration names. Never `GITHUB_TOKEN`: opencode
//!   turns it into a GitHub Copilot login.
//! - Permissions go in `OPENCODE_PERMISSION` (§3 "Permissions"). Workers: edits allowed, bash
//!   allowed except `git commit*` / `git push*` (the orchestrator commits, §8; opencode uses the
//!   last matching pattern, so the catch-all comes first). Other roles: `edit` and `bash`
//!   denied, which removes those tools from the request entirely (verified for `edit`). There
//!   is no "ask" anywhere, because in `run` mode an ask is auto-rejected (§3).
//!
//! Outcome: success is exit code 0, no `error` event (§3 "Exit codes", §7) and no tool call
//! whose permission was rejected: an auto-rejected "ask" still exits 0 and only shows as a
//! `tool_use` part with `status:"error"` (§3 "Permissions"), the same failure as Claude's
//! `permission_denials`. The final message is the `text` parts after the last `step_start`.
//! Usage is the sum of the `step_finish` parts' `tokens` and `cost` (§3 "Usage/cost"); input
//! there excludes cache reads and writes, and `reasoning` is counted apart from `output`, so it
//! is added to the output tokens. opencode reports the cost itself (`usd_estimated = false`,
//! §0.8); its hidden title-generation call is not in those totals (§3).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Adapter, AgentSpec, Credential, Invocation, Outcome, Role, Usage, UserHome};

pub struct OpenCode;

/// The configuration files opencode reads for a user: the global ones, and `OPENCODE_CONFIG`.
fn config_files(user: &UserHome) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = user
        .xdg_config()
        .map(|d| {
            ["config.json", "opencode.json", "opencode.jsonc"]
                .iter()
                .map(|f| d.join("opencode").join(f))
                .collect()
        })
        .unwrap_or_default();
    out.extend(user.var("OPENCODE_CONFIG").map(PathBuf::from));
    out
}

/// The `{env:NAME}` substitutions in a configuration text.
fn env_substitutions(text: &str, out: &mut Vec<String>) {
    let mut rest = text;
    while let Some(i) = rest.find("{env:") {
        rest = &rest[i + 5..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && rest[name.len()..].starts_with('}') {
            out.push(name);
        }
    }
}

/// Worker permissions: edit freely, run commands, but never commit or push.
const WORKER_PERMISSION: &str =
    r#"{"edit":"allow","bash":{"*":"allow","git commit*":"deny","git push*":"deny"}}"#;
/// Read-only permissions: no edit tools and no shell.
const READ_ONLY_PERMISSION: &str = r#"{"edit":"deny","bash":"deny"}"#;

impl Adapter for OpenCode {
    fn name(&self) -> &'static str {
        "opencode"
    }

    fn install_hint(&self) -> &'static str {
        "install opencode (`npm install -g opencode-ai`)"
    }

    fn env_allowlist(&self) -> Vec<&'static str> {
        let own: &[&str] = &[
            "OPENCODE_*",
            "*_API_KEY",
            "*_BASE_URL",
            "AZURE_RESOURCE_NAME",
            "GOOGLE_VERTEX_PROJECT",
            "GOOGLE_VERTEX_LOCATION",
            "GOOGLE_CLOUD_PROJECT",
            "GOOGLE_APPLICATION_CREDENTIALS",
        ];
        [own, super::env::AWS].concat()
    }

    fn referenced_env(&self, user: &UserHome) -> Vec<String> {
        let mut out = Vec::new();
        for f in config_files(user) {
            if let Ok(text) = std::fs::read_to_string(f) {
                env_substitutions(&text, &mut out);
            }
        }
        if let Some(content) = user.var("OPENCODE_CONFIG_CONTENT") {
            env_substitutions(content, &mut out);
        }
        out
    }

    fn credential_sources(&self, user: &UserHome) -> Vec<Credential> {
        let mut out = Vec::new();
        out.extend(Credential::file(
            user.xdg_data().map(|d| d.join("opencode/auth.json")),
            "`opencode auth login`",
        ));
        out.push(Credential::var(user, "OPENCODE_AUTH_CONTENT"));
        let keys: Vec<&str> = user
            .vars()
            .iter()
            .filter(|(k, v)| k.ends_with("_API_KEY") && !v.is_empty())
            .map(|(k, _)| k.as_str())
            .collect();
        out.push(Credential {
            what: if keys.is_empty() {
                "a provider key such as ANTHROPIC_API_KEY or OPENAI_API_KEY (environment)".into()
            } else {
                format!("{} (environment)", keys.join(", "))
            },
            found: !keys.is_empty(),
        });
        let in_config = config_files(user)
            .into_iter()
            .filter(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("\"apiKey\"")))
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>();
        if !in_config.is_empty() {
            out.push(Credential {
                what: format!("a provider `apiKey` in {}", in_config.join(", ")),
                found: true,
            });
        }
        out
    }

    fn login_hint(&self) -> &'static str {
        "log in with `opencode auth login`, or set your provider's key (ANTHROPIC_API_KEY, OPENAI_API_KEY, …), or give the provider an `apiKey` in ~/.config/opencode/opencode.json"
    }

    fn invocation(
        &self,
        spec: &AgentSpec,
        role: Role,
        _prompt_file: &Path,
        config_home: &Path,
    ) -> Invocation {
        let mut argv: Vec<String> = ["opencode", "run", "--format", "json"]
            .map(String::from)
            .to_vec();
        if let Some(model) = &spec.model {
            argv.push("-m".into());
            argv.push(model.clone());
        }
        argv.extend(spec.args.iter().cloned());
        let db = config_home
            .join("opencode.db")
            .to_string_lossy()
            .into_owned();
        let permission = if role.may_edit() {
            WORKER_PERMISSION
        } else {
            READ_ONLY_PERMISSION
        };
        let env = vec![
            ("OPENCODE_DB".to_owned(), db),
            ("OPENCODE_PERMISSION".to_owned(), permission.to_owned()),
            ("OPENCODE_DISABLE_AUTOUPDATE".to_owned(), "1".to_owned()),
            ("OPENCODE_DISABLE_SHARE".to_owned(), "1".to_owned()),
        ];
        Invocation {
            argv,
            prompt_on_stdin: true,
            env,
        }
    }

    fn parse(&self, stdout: &str, stderr: &str, exit_code: Option<i32>) -> Outcome {
        let mut usage = Usage::default();
        let mut cost: Option<f64> = None;
        let mut step_texts: Vec<String> = Vec::new();
        let mut api_error: Option<String> = None;
        let mut rejected: Vec<String> = Vec::new();

        for event in stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        {
            let part = event.get("part");
            match event.get("type").and_then(Value::as_str).unwrap_or("") {
                "step_start" => step_texts.clear(),
                "text" => {
                    if let Some(text) = part.and_then(|p| p.get("text")).and_then(Value::as_str) {
                        step_texts.push(text.to_owned());
                    }
                }
                "step_finish" => {
                    let tokens = part.and_then(|p| p.get("tokens"));
                    let cache = tokens.and_then(|t| t.get("cache"));
                    usage.input_tokens += count(tokens, "input");
                    usage.output_tokens += count(tokens, "output") + count(tokens, "reasoning");
                    usage.cache_read_tokens += count(cache, "read");
                    usage.cache_write_tokens += count(cache, "write");
                    if let Some(c) = part.and_then(|p| p.get("cost")).and_then(Value::as_f64) {
                        cost = Some(cost.unwrap_or(0.0) + c);
                    }
                }
                "tool_use" => {
                    if let Some(denied) = part.and_then(rejected_call) {
                        rejected.push(denied);
                    }
                }
                "error" => api_error = Some(describe_error(event.get("error"))),
                _ => {}
            }
        }
        usage.usd = cost;

        let error = api_error
            .or_else(|| {
                (!rejected.is_empty())
                    .then(|| format!("permission rejected: {}", rejected.join(", ")))
            })
            .or_else(|| (exit_code != Some(0)).then(|| super::status_error(exit_code, stderr, "")));
        let final_message = (!step_texts.is_empty()).then(|| step_texts.join("\n"));
        Outcome {
            success: error.is_none(),
            error,
            final_message,
            usage,
        }
    }
}

fn count(v: Option<&Value>, key: &str) -> u64 {
    v.and_then(|v| v.get(key))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// `tool(target)` when a `tool_use` part failed because its permission was rejected: an
/// auto-rejected "ask" ("The user rejected permission…", seen in the sample), or a pattern rule
/// that denies the call ("…specified a rule which prevents you…", from opencode's source, not
/// verified in the doc).
fn rejected_call(part: &Value) -> Option<String> {
    let state = part.get("state")?;
    if state.get("status").and_then(Value::as_str) != Some("error") {
        return None;
    }
    let error = state.get("error").and_then(Value::as_str)?;
    if !(error.contains("rejected permission") || error.contains("rule which prevents you")) {
        return None;
    }
    let tool = part.get("tool").and_then(Value::as_str).unwrap_or("tool");
    let input = state.get("input");
    let target = ["filePath", "command", "path", "url", "pattern"]
        .iter()
        .find_map(|k| input.and_then(|i| i.get(*k)).and_then(Value::as_str));
    Some(match target {
        Some(t) => format!("{tool}({t})"),
        None => tool.to_owned(),
    })
}

/// "APIError (status 401): mock: invalid x-api-key" from an `error` event's `error` object.
fn describe_error(error: Option<&Value>) -> String {
    let Some(error) = error else {
        return "error event without details".to_owned();
    };
    let name = error.get("name").and_then(Value::as_str).unwrap_or("error");
    let data = error.get("data");
    let message = data
        .and_then(|d| d.get("message"))
        .or_else(|| error.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| error.to_string());
    match data
        .and_then(|d| d.get("statusCode"))
        .and_then(Value::as_u64)
    {
        Some(status) => format!("{name} (status {status}): {message}"),
        None => format!("{name}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOOLUSE: &str =
        include_str!("../../tests/fixtures/agent-samples/opencode.json.tooluse.jsonl");
    const TOOLUSE_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/opencode.json.tooluse.rc");
    const EXPORT: &str = include_str!("../../tests/fixtures/agent-samples/opencode.export.json");
    const API_401: &str =
        include_str!("../../tests/fixtures/agent-samples/opencode.json.api-error-401.jsonl");
    const API_401_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/opencode.json.api-error-401.rc");
    const REJECTED: &str = include_str!(
        "../../tests/fixtures/agent-samples/opencode.json.permission-ask-rejected.jsonl"
    );
    const REJECTED_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/opencode.json.permission-ask-rejected.rc");
    const REJECTED_STDERR: &str = include_str!(
        "../../tests/fixtures/agent-samples/opencode.json.permission-ask-rejected.stderr"
    );

    fn env<'a>(inv: &'a Invocation, key: &str) -> Option<&'a str> {
        inv.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_users_configuration_names_the_variables_it_needs() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join(".config/opencode");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(
            dir.join("opencode.json"),
            r#"{"provider":{"local":{"options":{"baseURL":"{env:LOCAL_URL}","apiKey":"{env:LOCAL_KEY}"}}},"x":"{env:not a name}"}"#,
        )
        .expect("config");
        let env = vec![
            ("HOME".to_owned(), tmp.path().to_string_lossy().into_owned()),
            (
                "OPENCODE_CONFIG_CONTENT".to_owned(),
                r#"{"a":"{env:EXTRA}"}"#.to_owned(),
            ),
        ];
        let u = UserHome::new(&env);
        assert_eq!(
            OpenCode.referenced_env(&u),
            ["LOCAL_URL", "LOCAL_KEY", "EXTRA"]
        );
        let creds = OpenCode.credential_sources(&u);
        assert!(
            creds.iter().any(|c| c.found && c.what.contains("apiKey")),
            "{creds:?}"
        );
    }

    #[test]
    fn prompt_goes_on_stdin_and_permissions_follow_the_role() {
        let spec = AgentSpec {
            agent: "opencode".into(),
            model: Some("anthropic/claude-sonnet-4-5".into()),
            args: vec!["--agent".into(), "build".into()],
            ..AgentSpec::default()
        };
        let home = Path::new("/runs/5/home");
        let worker = OpenCode.invocation(&spec, Role::Worker, Path::new("/runs/5/prompt.md"), home);
        assert_eq!(
            worker.argv,
            [
                "opencode",
                "run",
                "--format",
                "json",
                "-m",
                "anthropic/claude-sonnet-4-5",
                "--agent",
                "build"
            ]
        );
        assert!(worker.prompt_on_stdin);
        assert_eq!(
            env(&worker, "OPENCODE_DB"),
            Some("/runs/5/home/opencode.db")
        );
        // The user's own config, login, cache and git config stay where they are.
        assert!(worker.env.iter().all(|(k, _)| !k.starts_with("XDG_")));
        assert_eq!(env(&worker, "OPENCODE_DISABLE_AUTOUPDATE"), Some("1"));
        let permission: Value =
            serde_json::from_str(env(&worker, "OPENCODE_PERMISSION").expect("set"))
                .expect("valid JSON");
        assert_eq!(permission["edit"], "allow");
        assert_eq!(permission["bash"]["*"], "allow");
        assert_eq!(permission["bash"]["git commit*"], "deny");
        assert_eq!(permission["bash"]["git push*"], "deny");

        let plain = AgentSpec {
            agent: "opencode".into(),
            ..AgentSpec::default()
        };
        for role in [Role::Validator, Role::Orchestrator, Role::Planner] {
            let inv = OpenCode.invocation(&plain, role, Path::new("/p"), home);
            assert_eq!(inv.argv, ["opencode", "run", "--format", "json"]);
            assert!(inv.prompt_on_stdin);
            let permission: Value =
                serde_json::from_str(env(&inv, "OPENCODE_PERMISSION").expect("set"))
                    .expect("valid JSON");
            assert_eq!(
                permission,
                serde_json::json!({"edit": "deny", "bash": "deny"})
            );
            assert_eq!(env(&inv, "OPENCODE_DB"), Some("/runs/5/home/opencode.db"));
        }
    }

    #[test]
    fn tool_run_sums_both_steps_and_keeps_the_last_steps_text() {
        let out = OpenCode.parse(TOOLUSE, "", super::super::sample_rc(TOOLUSE_RC));
        assert!(out.success);
        assert_eq!(out.error, None);
        assert_eq!(out.final_message.as_deref(), Some("MOCK-DONE final answer"));
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 2000,
                output_tokens: 40,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
                usd: Some(0.0066),
                usd_estimated: false,
                model: None,
            }
        );
    }

    #[test]
    fn step_sums_match_the_sessions_export_totals() {
        let export: Value = serde_json::from_str(EXPORT).expect("export sample is JSON");
        let info = &export["info"];
        let out = OpenCode.parse(TOOLUSE, "", super::super::sample_rc(TOOLUSE_RC));
        assert_eq!(
            Some(out.usage.input_tokens),
            info["tokens"]["input"].as_u64()
        );
        assert_eq!(
            Some(out.usage.output_tokens),
            info["tokens"]["output"].as_u64()
        );
        let exported = info["cost"].as_f64().expect("export has a cost");
        assert!((out.usage.usd.expect("cost reported") - exported).abs() < 1e-12);
    }

    #[test]
    fn api_error_event_fails_the_run() {
        assert_eq!(super::super::sample_rc(API_401_RC), Some(1));
        let out = OpenCode.parse(API_401, "", super::super::sample_rc(API_401_RC));
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("APIError (status 401): mock: invalid x-api-key")
        );
        assert_eq!(out.final_message, None);
        assert_eq!(out.usage, Usage::default());
        // The error event alone decides, whatever the exit code says.
        assert!(!OpenCode.parse(API_401, "", Some(0)).success);
    }

    #[test]
    fn auto_rejected_permission_fails_a_run_that_exited_zero() {
        assert_eq!(super::super::sample_rc(REJECTED_RC), Some(0));
        let out = OpenCode.parse(
            REJECTED,
            REJECTED_STDERR,
            super::super::sample_rc(REJECTED_RC),
        );
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("permission rejected: write(/home/dev/repo/hello.txt)")
        );
        assert_eq!(out.final_message, None);
        assert_eq!(
            (out.usage.input_tokens, out.usage.output_tokens),
            (1000, 20)
        );
        assert_eq!(out.usage.usd, Some(0.0033));
    }

    #[test]
    fn nonzero_exit_or_a_signal_fails_without_an_error_event() {
        let out = OpenCode.parse(TOOLUSE, "boom\n", Some(143));
        assert!(!out.success);
        assert_eq!(out.error.as_deref(), Some("exited with status 143: boom"));
        assert_eq!(
            OpenCode.parse("", "", None).error.as_deref(),
            Some("killed by a signal")
        );
    }
}

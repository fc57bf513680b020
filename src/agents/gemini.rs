//! The `gemini` agent: Google's Gemini CLI run headless. This file owns its command line, its
//! environment and the reading of its output; facts below are from
//! `shared/reference/agent-clis.md` (§0, §4, §7, §8) for gemini-cli 0.61.0.
//!
//! Invocation: `gemini --output-format stream-json -m <model> --approval-mode <mode>
//! [spec.args…]`, prompt on stdin (headless mode starts when stdin is not a TTY; a positional
//! query would start interactive mode, §4 "Prompt").
//! - `stream-json` rather than `json`: with `json` an error goes to stderr after a stack trace
//!   and stdout is empty, while `stream-json` ends every run with a `result` event on stdout
//!   (§4 "Output"). `parse` still reads `json` output (stdout object, or the error object at the
//!   end of stderr) in case `spec.args` asks for it.
//! - `-m` is passed when the profile or `models.<role>` names a model, else `DEFAULT_MODEL`
//!   unless the user's own settings name one (`model.name`, or `GEMINI_MODEL`): without any,
//!   gemini first calls a "router" model and spent about 80 s retrying against a non-Gemini
//!   backend (§0.4).
//! - Workers: `--approval-mode auto_edit`, which the doc recommends and verified to write files
//!   (§4 "Permissions"). It approves edits only, not shell commands, so a worker cannot commit;
//!   a profile that wants `yolo` can say so in `spec.args` (untested: which of two
//!   `--approval-mode` flags wins). Other roles: `--approval-mode default`, under which headless
//!   runs are not offered write tools at all (§4). Not `plan`, which answers writes with
//!   "Access denied" tool errors (§4).
//! - Environment: `GEMINI_CLI_HOME=<config_home>` (§0.6, §8), `GEMINI_CLI_NO_RELAUNCH=true` so
//!   there is no re-spawned child to outlive a signal (§0.3), and
//!   `GEMINI_CLI_TRUST_WORKSPACE=true`, without which a headless run exits 55 (§4).
//!
//! The user's setup (verified with 0.61.0; see docs/agents.md): `GEMINI_CLI_HOME` replaces the
//! home directory for gemini's own files, so the private home gets a `.gemini/` with
//! - `settings.json`: the user's, plus `security.auth.selectedType` when they have none (from
//!   their key or login), because with `GOOGLE_GEMINI_BASE_URL` set gemini otherwise picks an
//!   auth type that headless runs reject (exit 41 "Invalid auth method selected");
//! - copies of `oauth_creds.json`, `google_accounts.json` and `gemini-credentials.json` (a
//!   Google login: its refresh token does not rotate, so a copy is safe), `.env` and `GEMINI.md`.
//! - Environment: `GEMINI_*`, `GOOGLE_GENAI_*`, `GOOGLE_CLOUD_*` and the other Google variables
//!   it documents, plus the `$VAR`s its settings name.
//!
//! Outcome: success is exit code 0, a `result` event with `status:"success"` and no `error`
//! event other than warnings (§7). The exit code alone is not enough, and a failure's code is
//! the HTTP status mod 256 or one of 41/42/52/53/55 (§0.2, §4 "Exit codes"). The final message
//! is the assistant `message` content after the last tool call (deltas concatenated), or
//! `response` in json mode. Tokens come from `stats.models.*` (§4 "Usage"): `input` is the
//! uncached prompt and `cached` the cache reads. gemini reports no cost (§0.8), so USD is
//! estimated from `prices` for the models it names (`usd_estimated = true`), and left empty
//! when any of them is not priced.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::prices::estimate_usd;
use super::{Adapter, AgentSpec, Credential, Invocation, Outcome, Role, Seed, Usage, UserHome};

pub struct Gemini;

/// The model used when nobody names one (see the module doc).
pub const DEFAULT_MODEL: &str = "gemini-2.5-pro";

/// The user's `.gemini` directory: under `$GEMINI_CLI_HOME` when they set it, else `~`.
fn gemini_dir(user: &UserHome) -> Option<PathBuf> {
    match user.var("GEMINI_CLI_HOME") {
        Some(h) if Path::new(h).is_absolute() => Some(Path::new(h).join(".gemini")),
        _ => user.home().map(|h| h.join(".gemini")),
    }
}

/// The auth type the user's key or login implies, for settings that name none.
fn implied_auth(user: &UserHome, dir: &Path) -> Option<&'static str> {
    if user.var("GOOGLE_GENAI_USE_VERTEXAI").is_some() {
        Some("vertex-ai")
    } else if user.var("GEMINI_API_KEY").is_some() {
        Some("gemini-api-key")
    } else if user.var("GOOGLE_GENAI_USE_GCA").is_some() || dir.join("oauth_creds.json").is_file() {
        Some("oauth-personal")
    } else {
        None
    }
}

/// The `$VAR`, `${VAR}` and `${VAR:-default}` names in the strings of a settings file.
fn dollar_vars(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(i) = rest.find('$') {
                rest = &rest[i + 1..];
                let braced = rest.starts_with('{');
                let body = if braced { &rest[1..] } else { rest };
                let name: String = body
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) {
                    out.push(name);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| dollar_vars(x, out)),
        Value::Object(o) => o.values().for_each(|x| dollar_vars(x, out)),
        _ => {}
    }
}

impl Adapter for Gemini {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn env_allowlist(&self) -> Vec<&'static str> {
        vec![
            "GEMINI_*",
            "GOOGLE_GENAI_*",
            "GOOGLE_CLOUD_*",
            "GOOGLE_API_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_GEMINI_BASE_URL",
            "GOOGLE_VERTEX_BASE_URL",
            "CODE_ASSIST_ENDPOINT",
            "CLOUD_SHELL",
            "OTLP_GOOGLE_CLOUD_PROJECT",
            "NO_BROWSER",
        ]
    }

    fn referenced_env(&self, user: &UserHome) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(s) = gemini_dir(user).and_then(|d| user.json(&d.join("settings.json"))) {
            dollar_vars(&s, &mut out);
        }
        out
    }

    fn seeds(&self, user: &UserHome, config_home: &Path) -> Vec<Seed> {
        let Some(dir) = gemini_dir(user) else {
            return Vec::new();
        };
        let to = config_home.join(".gemini");
        let mut seeds = Vec::new();
        let settings = dir.join("settings.json");
        match user.json(&settings) {
            Some(Value::Object(mut s)) => {
                let has = s
                    .get("security")
                    .and_then(|x| x.get("auth"))
                    .and_then(|x| x.get("selectedType"))
                    .is_some_and(Value::is_string);
                if !has && let Some(auth) = implied_auth(user, &dir) {
                    let security = s
                        .entry("security")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(sec) = security {
                        let a = sec
                            .entry("auth")
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let Value::Object(a) = a {
                            a.insert("selectedType".into(), Value::String(auth.into()));
                        }
                    }
                }
                let bytes = serde_json::to_vec_pretty(&Value::Object(s)).unwrap_or_default();
                seeds.push(Seed::content(bytes, to.join("settings.json")));
            }
            // Not JSON we can read (comments?): the user's file as it is.
            Some(_) | None if settings.is_file() => {
                seeds.push(Seed::copy(settings, to.join("settings.json")));
            }
            _ => {
                if let Some(auth) = implied_auth(user, &dir) {
                    let s = serde_json::json!({ "security": { "auth": { "selectedType": auth } } });
                    let bytes = serde_json::to_vec_pretty(&s).unwrap_or_default();
                    seeds.push(Seed::content(bytes, to.join("settings.json")));
                }
            }
        }
        for f in ["oauth_creds.json", "gemini-credentials.json", ".env"] {
            seeds.push(Seed::copy(dir.join(f), to.join(f)).credential());
        }
        for f in ["google_accounts.json", "GEMINI.md"] {
            seeds.push(Seed::copy(dir.join(f), to.join(f)));
        }
        seeds
    }

    fn default_model(&self, user: &UserHome) -> Option<String> {
        let configured = user.var("GEMINI_MODEL").is_some()
            || gemini_dir(user)
                .and_then(|d| user.json(&d.join("settings.json")))
                .is_some_and(|s| s["model"]["name"].is_string());
        (!configured).then(|| DEFAULT_MODEL.to_owned())
    }

    fn credential_sources(&self, user: &UserHome) -> Vec<Credential> {
        let mut out: Vec<Credential> = [
            "GEMINI_API_KEY",
            "GOOGLE_API_KEY",
            "GOOGLE_GENAI_USE_VERTEXAI",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_CLOUD_ACCESS_TOKEN",
        ]
        .iter()
        .map(|v| Credential::var(user, v))
        .collect();
        let dir = gemini_dir(user);
        out.extend(Credential::file(
            dir.as_ref().map(|d| d.join("oauth_creds.json")),
            "`gemini` sign-in with Google",
        ));
        out.extend(Credential::file(
            dir.as_ref().map(|d| d.join("gemini-credentials.json")),
            "a key saved by `gemini` /auth",
        ));
        if let Some(env) = dir.map(|d| d.join(".env")) {
            out.push(Credential {
                what: format!("GEMINI_API_KEY in {}", env.display()),
                found: std::fs::read_to_string(&env).is_ok_and(|t| {
                    t.lines()
                        .any(|l| l.trim_start().starts_with("GEMINI_API_KEY="))
                }),
            });
        }
        out
    }

    fn login_hint(&self) -> &'static str {
        "set GEMINI_API_KEY (and `security.auth.selectedType` in ~/.gemini/settings.json if you use GOOGLE_GEMINI_BASE_URL), or sign in with Google by running `gemini` once"
    }

    fn install_hint(&self) -> &'static str {
        "install Gemini CLI (`npm install -g @google/gemini-cli`)"
    }

    fn invocation(
        &self,
        spec: &AgentSpec,
        role: Role,
        _prompt_file: &Path,
        config_home: &Path,
    ) -> Invocation {
        let approval = if role.may_edit() {
            "auto_edit"
        } else {
            "default"
        };
        let mut argv: Vec<String> = ["gemini", "--output-format", "stream-json"]
            .map(String::from)
            .to_vec();
        if let Some(model) = &spec.model {
            argv.push("-m".into());
            argv.push(model.clone());
        }
        argv.extend(["--approval-mode", approval].map(String::from));
        argv.extend(spec.args.iter().cloned());
        let env = vec![
            (
                "GEMINI_CLI_HOME".to_owned(),
                config_home.to_string_lossy().into_owned(),
            ),
            ("GEMINI_CLI_NO_RELAUNCH".to_owned(), "true".to_owned()),
            ("GEMINI_CLI_TRUST_WORKSPACE".to_owned(), "true".to_owned()),
        ];
        Invocation {
            argv,
            prompt_on_stdin: true,
            env,
        }
    }

    fn parse(&self, stdout: &str, stderr: &str, exit_code: Option<i32>) -> Outcome {
        match serde_json::from_str::<Value>(stdout.trim()) {
            Ok(Value::Object(obj)) if !obj.contains_key("type") => {
                parse_json(&obj, stderr, exit_code)
            }
            _ if stdout.trim().is_empty() => parse_json(&Map::new(), stderr, exit_code),
            _ => parse_stream(stdout, stderr, exit_code),
        }
    }
}

/// `--output-format stream-json`: one event per line, ending with `result`.
fn parse_stream(stdout: &str, stderr: &str, exit_code: Option<i32>) -> Outcome {
    let mut init_model: Option<String> = None;
    let mut text = String::new();
    let mut fatal: Option<String> = None;
    let mut result: Option<Value> = None;

    for event in stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
    {
        match event.get("type").and_then(Value::as_str).unwrap_or("") {
            "init" => {
                init_model = event
                    .get("model")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            }
            "message" if event.get("role").and_then(Value::as_str) == Some("assistant") => {
                let content = event.get("content").and_then(Value::as_str).unwrap_or("");
                if event.get("delta").and_then(Value::as_bool) != Some(true) {
                    text.clear();
                }
                text.push_str(content);
            }
            "tool_use" => text.clear(),
            "error" if event.get("severity").and_then(Value::as_str) != Some("warning") => {
                let msg = event
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("error event");
                fatal = Some(msg.to_owned());
            }
            "result" => result = Some(event),
            _ => {}
        }
    }

    let usage = usage_from_stats(result.as_ref().and_then(|r| r.get("stats")), init_model);
    let status = result
        .as_ref()
        .and_then(|r| r.get("status"))
        .and_then(Value::as_str);
    let error = match (&result, status) {
        (Some(r), Some(s)) if s != "success" => Some(
            r.get("error")
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .map_or_else(|| format!("result status {s}"), str::to_owned),
        ),
        _ => None,
    }
    .or(fatal)
    .or_else(|| {
        result
            .is_none()
            .then(|| status_error(exit_code, stderr, "without a result event"))
    })
    .or_else(|| {
        (exit_code != Some(0)).then(|| status_error(exit_code, stderr, "after a successful result"))
    });
    let final_message = (!text.trim().is_empty()).then_some(text);
    Outcome {
        success: error.is_none(),
        error,
        final_message,
        usage,
    }
}

/// `--output-format json`: `{session_id, response, stats}` on stdout, or on failure an empty
/// stdout and `{session_id, error:{type,message,code}}` at the end of stderr.
fn parse_json(obj: &Map<String, Value>, stderr: &str, exit_code: Option<i32>) -> Outcome {
    let usage = usage_from_stats(obj.get("stats"), None);
    let error_obj = obj.get("error").cloned().or_else(|| trailing_error(stderr));
    let error = error_obj
        .as_ref()
        .map(describe_error)
        .or_else(|| {
            (!obj.contains_key("response"))
                .then(|| status_error(exit_code, stderr, "without a response"))
        })
        .or_else(|| {
            (exit_code != Some(0)).then(|| status_error(exit_code, stderr, "after a response"))
        });
    let final_message = obj
        .get("response")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Outcome {
        success: error.is_none(),
        error,
        final_message,
        usage,
    }
}

/// The `error` object of the JSON document that ends stderr (after gemini's stack trace), if
/// any: the document starts at the last line beginning with `{` from which the rest parses.
fn trailing_error(stderr: &str) -> Option<Value> {
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in stderr.split_inclusive('\n') {
        if line.starts_with('{') {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts.iter().rev().find_map(|&start| {
        let doc: Value = serde_json::from_str(stderr[start..].trim()).ok()?;
        doc.get("error").cloned()
    })
}

fn describe_error(error: &Value) -> String {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| error.to_string());
    match error.get("code").filter(|c| !c.is_null()) {
        Some(code) => format!("{message} (code {code})"),
        None => message,
    }
}

fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Tokens summed over `stats.models`, the busiest model's name, and the estimated cost.
fn usage_from_stats(stats: Option<&Value>, fallback_model: Option<String>) -> Usage {
    let mut usage = Usage {
        model: fallback_model,
        ..Usage::default()
    };
    let Some(models) = stats
        .and_then(|s| s.get("models"))
        .and_then(Value::as_object)
    else {
        return usage;
    };
    let mut usd = Some(0.0);
    let mut busiest: Option<(&String, u64)> = None;
    for (name, m) in models {
        let (input, output, cached) = match m.get("tokens") {
            // json mode: {input, prompt, candidates, total, cached, thoughts, tool}
            Some(t) => {
                let cached = count(t, "cached");
                let input = t
                    .get("input")
                    .and_then(Value::as_u64)
                    .unwrap_or_else(|| count(t, "prompt").saturating_sub(cached));
                (
                    input + count(t, "tool"),
                    count(t, "candidates") + count(t, "thoughts"),
                    cached,
                )
            }
            // stream-json: {total_tokens, input_tokens, output_tokens, cached, input}
            None => {
                let cached = count(m, "cached");
                let input = m
                    .get("input")
                    .and_then(Value::as_u64)
                    .unwrap_or_else(|| count(m, "input_tokens").saturating_sub(cached));
                (input, count(m, "output_tokens"), cached)
            }
        };
        usage.input_tokens += input;
        usage.output_tokens += output;
        usage.cache_read_tokens += cached;
        usd = usd.and_then(|sum| Some(sum + estimate_usd(name, input, output, cached, 0)?));
        let tokens = input + output + cached;
        if busiest.is_none_or(|(_, t)| tokens > t) {
            busiest = Some((name, tokens));
        }
    }
    if let Some((name, _)) = busiest {
        usage.model = Some(name.clone());
        usage.usd = usd;
        usage.usd_estimated = usd.is_some();
    }
    usage
}

/// What gemini's own exit codes mean (§4 "Exit codes").
fn exit_meaning(code: i32) -> Option<String> {
    Some(match code {
        41 => "authentication error".to_owned(),
        42 => "input error".to_owned(),
        52 => "configuration error".to_owned(),
        53 => "turn limit reached".to_owned(),
        55 => "untrusted folder".to_owned(),
        144..=255 => format!("probably HTTP {}", code + 256),
        _ => return None,
    })
}

/// "exited with status N (meaning) <context>: <last stderr line with words>".
fn status_error(exit_code: Option<i32>, stderr: &str, context: &str) -> String {
    let Some(code) = exit_code else {
        return format!("killed by a signal {context}");
    };
    let mut error = format!("exited with status {code}");
    if let Some(meaning) = exit_meaning(code) {
        error.push_str(&format!(" ({meaning})"));
    }
    error.push(' ');
    error.push_str(context);
    let tail = stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.chars().any(char::is_alphabetic));
    if let Some(tail) = tail {
        error.push_str(": ");
        error.push_str(tail);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str =
        include_str!("../../tests/fixtures/agent-samples/gemini.stream-json.tooluse.jsonl");
    const STREAM_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/gemini.stream-json.tooluse.rc");
    const STREAM_400: &str =
        include_str!("../../tests/fixtures/agent-samples/gemini.stream-json.api-error-400.jsonl");
    const STREAM_400_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/gemini.stream-json.api-error-400.rc");
    const JSON: &str = include_str!("../../tests/fixtures/agent-samples/gemini.json.success.json");
    const JSON_RC: &str = include_str!("../../tests/fixtures/agent-samples/gemini.json.success.rc");
    const JSON_400_STDOUT: &str =
        include_str!("../../tests/fixtures/agent-samples/gemini.json.api-error-400.stdout.json");
    const JSON_400_STDERR: &str =
        include_str!("../../tests/fixtures/agent-samples/gemini.json.api-error-400.stderr.txt");
    const JSON_400_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/gemini.json.api-error-400.rc");

    /// The mock's error body, which gemini passes through as its error message.
    const MOCK_400: &str = r#"{"type":"error","error":{"type":"invalid_request_error","message":"mock: bad request","code":"bad_request"}}"#;

    #[test]
    fn passes_the_chosen_model_and_sets_approval_by_role() {
        let spec = AgentSpec {
            agent: "gemini".into(),
            model: Some("gemini-2.5-flash".into()),
            args: vec!["--debug".into()],
            ..AgentSpec::default()
        };
        let home = Path::new("/runs/9/home");
        let worker = Gemini.invocation(&spec, Role::Worker, Path::new("/runs/9/prompt.md"), home);
        assert_eq!(
            worker.argv,
            [
                "gemini",
                "--output-format",
                "stream-json",
                "-m",
                "gemini-2.5-flash",
                "--approval-mode",
                "auto_edit",
                "--debug",
            ]
        );
        assert!(worker.prompt_on_stdin);
        assert_eq!(
            worker.env,
            [
                ("GEMINI_CLI_HOME".to_owned(), "/runs/9/home".to_owned()),
                ("GEMINI_CLI_NO_RELAUNCH".to_owned(), "true".to_owned()),
                ("GEMINI_CLI_TRUST_WORKSPACE".to_owned(), "true".to_owned()),
            ]
        );

        let plain = AgentSpec {
            agent: "gemini".into(),
            ..AgentSpec::default()
        };
        for role in [Role::Validator, Role::Orchestrator, Role::Planner] {
            let inv = Gemini.invocation(&plain, role, Path::new("/p"), home);
            assert_eq!(
                inv.argv,
                [
                    "gemini",
                    "--output-format",
                    "stream-json",
                    "--approval-mode",
                    "default"
                ]
            );
            assert!(inv.prompt_on_stdin);
            assert_eq!(inv.env, worker.env);
        }
    }

    #[test]
    fn a_model_is_chosen_only_when_the_user_configured_none() {
        let tmp = tempfile::tempdir().expect("tmp");
        let env = super::super::test_user(tmp.path(), &[]);
        let u = UserHome::new(&env);
        assert_eq!(Gemini.default_model(&u).as_deref(), Some(DEFAULT_MODEL));
        let env = super::super::test_user(tmp.path(), &[("GEMINI_MODEL", "gemini-3-pro")]);
        assert_eq!(Gemini.default_model(&UserHome::new(&env)), None);
        std::fs::create_dir_all(tmp.path().join(".gemini")).expect("mkdir");
        std::fs::write(
            tmp.path().join(".gemini/settings.json"),
            r#"{"model":{"name":"my-model"}}"#,
        )
        .expect("settings");
        let env = super::super::test_user(tmp.path(), &[]);
        assert_eq!(Gemini.default_model(&UserHome::new(&env)), None);
    }

    #[test]
    fn the_private_home_gets_the_users_settings_with_an_auth_type_and_their_login() {
        let tmp = tempfile::tempdir().expect("tmp");
        let g = tmp.path().join(".gemini");
        std::fs::create_dir_all(&g).expect("mkdir");
        std::fs::write(
            g.join("settings.json"),
            r#"{"model":{"name":"m"},"mcpServers":{"x":{"command":"run","env":{"K":"${MY_TOKEN}"}}}}"#,
        )
        .expect("settings");
        std::fs::write(g.join("oauth_creds.json"), "{}").expect("creds");
        let env = super::super::test_user(
            tmp.path(),
            &[
                ("GEMINI_API_KEY", "k"),
                ("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:1"),
            ],
        );
        let u = UserHome::new(&env);
        let private = tmp.path().join("run/home");
        let seeds = Gemini.seeds(&u, &private);
        let settings = seeds
            .iter()
            .find(|s| s.to == private.join(".gemini/settings.json"))
            .expect("settings seeded");
        let super::super::Source::Content(bytes) = &settings.from else {
            panic!("settings are made, not copied: {settings:?}");
        };
        let made: Value = serde_json::from_slice(bytes).expect("json");
        assert_eq!(made["security"]["auth"]["selectedType"], "gemini-api-key");
        assert_eq!(made["model"]["name"], "m", "the user's settings are kept");
        assert!(seeds.iter().any(|s| s.credential
            && s.to == private.join(".gemini/oauth_creds.json")
            && s.from == super::super::Source::Copy(g.join("oauth_creds.json"))));
        assert_eq!(Gemini.referenced_env(&u), ["MY_TOKEN"]);
        // A user's own choice is never overridden.
        std::fs::write(
            g.join("settings.json"),
            r#"{"security":{"auth":{"selectedType":"oauth-personal"}}}"#,
        )
        .expect("settings");
        let seeds = Gemini.seeds(&u, &private);
        let super::super::Source::Content(bytes) = &seeds[0].from else {
            panic!("made");
        };
        let made: Value = serde_json::from_slice(bytes).expect("json");
        assert_eq!(made["security"]["auth"]["selectedType"], "oauth-personal");
    }

    #[test]
    fn stream_success_takes_the_answer_and_the_stats_model() {
        let out = Gemini.parse(STREAM, "", super::super::sample_rc(STREAM_RC));
        assert!(out.success);
        assert_eq!(out.error, None);
        assert_eq!(out.final_message.as_deref(), Some("MOCK-DONE final answer"));
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 1800,
                output_tokens: 30,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
                usd: None,
                usd_estimated: false,
                // `init` said gemini-2.5-pro, but the tokens were spent by gemini-mock.
                model: Some("gemini-mock".into()),
            }
        );
    }

    #[test]
    fn stream_error_result_fails_with_its_message() {
        assert_eq!(super::super::sample_rc(STREAM_400_RC), Some(144));
        let out = Gemini.parse(STREAM_400, "", super::super::sample_rc(STREAM_400_RC));
        assert!(!out.success);
        assert_eq!(out.error, Some(format!("[API Error: {MOCK_400}]")));
        assert_eq!(out.final_message, None);
        assert_eq!(out.usage.total_tokens(), 0);
        assert_eq!(out.usage.model.as_deref(), Some("gemini-2.5-pro"));
        assert_eq!((out.usage.usd, out.usage.usd_estimated), (Some(0.0), true));
    }

    #[test]
    fn json_success_reads_the_response_and_model_tokens() {
        let out = Gemini.parse(JSON, "", super::super::sample_rc(JSON_RC));
        assert!(out.success);
        assert_eq!(out.error, None);
        assert_eq!(out.final_message.as_deref(), Some("MOCK-DONE final answer"));
        assert_eq!(
            (
                out.usage.input_tokens,
                out.usage.output_tokens,
                out.usage.cache_read_tokens
            ),
            (900, 15, 0)
        );
        assert_eq!(out.usage.model.as_deref(), Some("gemini-mock"));
        assert_eq!(out.usage.usd, None);
    }

    #[test]
    fn json_error_is_read_from_the_end_of_stderr() {
        assert!(JSON_400_STDOUT.is_empty());
        let out = Gemini.parse(
            JSON_400_STDOUT,
            JSON_400_STDERR,
            super::super::sample_rc(JSON_400_RC),
        );
        assert!(!out.success);
        assert_eq!(out.error, Some(format!("{MOCK_400} (code 400)")));
        assert_eq!(out.final_message, None);
        assert_eq!(out.usage, Usage::default());
    }

    #[test]
    fn a_priced_model_gets_an_estimated_cost() {
        let out = Gemini.parse(
            &STREAM.replace("gemini-mock", "gemini-2.5-flash"),
            "",
            Some(0),
        );
        assert!(out.success);
        // gemini-2.5-flash: 0.3 input, 2.5 output (USD per million tokens).
        let expected = (1800.0 * 0.3 + 30.0 * 2.5) / 1e6;
        assert!((out.usage.usd.expect("priced") - expected).abs() < 1e-12);
        assert!(out.usage.usd_estimated);
    }

    #[test]
    fn missing_result_or_bad_exit_code_fails() {
        let cut: String = STREAM
            .lines()
            .filter(|l| !l.contains("\"type\":\"result\""))
            .map(|l| format!("{l}\n"))
            .collect();
        let out = Gemini.parse(&cut, "", None);
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("killed by a signal without a result event")
        );
        assert_eq!(out.final_message.as_deref(), Some("MOCK-DONE final answer"));

        let out = Gemini.parse("", "not running in a trusted directory\n", Some(55));
        assert_eq!(
            out.error.as_deref(),
            Some(
                "exited with status 55 (untrusted folder) without a response: not running in a trusted directory"
            )
        );
        let out = Gemini.parse(STREAM, "", Some(1));
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("exited with status 1 after a successful result")
        );
    }
}

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
//! - `-m` is always passed (`DEFAULT_MODEL` when the spec names none): without it gemini first
//!   calls a "router" model and spent about 80 s retrying against a non-Gemini backend (§0.4).
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
//! Outcome: success is exit code 0, a `result` event with `status:"success"` and no `error`
//! event other than warnings (§7). The exit code alone is not enough, and a failure's code is
//! the HTTP status mod 256 or one of 41/42/52/53/55 (§0.2, §4 "Exit codes"). The final message
//! is the assistant `message` content after the last tool call (deltas concatenated), or
//! `response` in json mode. Tokens come from `stats.models.*` (§4 "Usage"): `input` is the
//! uncached prompt and `cached` the cache reads. gemini reports no cost (§0.8), so USD is
//! estimated from `prices` for the models it names (`usd_estimated = true`), and left empty
//! when any of them is not priced.

use std::path::Path;

use serde_json::{Map, Value};

use super::prices::estimate_usd;
use super::{Adapter, AgentSpec, Invocation, Outcome, Role, Usage};

pub struct Gemini;

/// The model used when the spec names none (gemini must always get `-m`, see the module doc).
pub const DEFAULT_MODEL: &str = "gemini-2.5-pro";

impl Adapter for Gemini {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn invocation(
        &self,
        spec: &AgentSpec,
        role: Role,
        _prompt_file: &Path,
        config_home: &Path,
    ) -> Invocation {
        let model = spec.model.as_deref().unwrap_or(DEFAULT_MODEL);
        let approval = if role.may_edit() {
            "auto_edit"
        } else {
            "default"
        };
        let mut argv: Vec<String> = [
            "gemini",
            "--output-format",
            "stream-json",
            "-m",
            model,
            "--approval-mode",
            approval,
        ]
        .map(String::from)
        .to_vec();
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
    fn always_passes_a_model_and_sets_approval_by_role() {
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
                    "-m",
                    DEFAULT_MODEL,
                    "--approval-mode",
                    "default"
                ]
            );
            assert!(inv.prompt_on_stdin);
            assert_eq!(inv.env, worker.env);
        }
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

//! The `aider` agent: aider run for one message with `--message-file`. This file owns its
//! command line and the reading of its plain-text output; facts below are from
//! `shared/reference/agent-clis.md` (§0, §5, §7, §8) for aider-chat 0.86.2.
//!
//! Invocation (§5 "Recommended worker invocation"):
//! - `--message-file <prompt_file>`: aider has no stdin prompt, and a message starting with `/`
//!   runs as an aider command (§0.1), so the supervisor must not write a prompt file that
//!   starts with `/`. stdin stays empty.
//! - `--yes-always --no-auto-commits`: answer confirmations, never commit (the orchestrator
//!   commits, §5 "Git behaviour", §8).
//! - `--no-gitignore --map-tokens 0` and the chat, input and LLM history files under
//!   `config_home` keep `.aider*` files out of the worktree (§0.6).
//! - `--no-pretty --no-stream`: plain output, and provider-reported token counts instead of
//!   local estimates (§5 "Usage/cost"); `--no-check-update --analytics-disable
//!   --no-show-model-warnings` keep a headless run quiet.
//! - Validators, orchestrators and planners add `--chat-mode ask` (aider answers without
//!   editing) and `--no-suggest-shell-commands` (§5 "Permissions").
//!
//! The user's setup: aider has no configuration directory to redirect and no login that
//! refreshes; it reads `~/.aider.conf.yml`, `~/.env` and the worktree's `.env` (which override
//! the environment) from the real home, where they are. Environment: `AIDER_*` and the litellm
//! provider variables (`*_API_KEY`, `*_API_BASE`, `OPENAI_*`, `AZURE_*`, …).
//!
//! Outcome: aider exits 0 even on API errors (§0.2, §5 "Exit codes"), so a run fails when
//! stdout has a `litellm.<Name>Error` line that no later `Tokens:` line follows (an error that
//! aider retried and then got past is followed by the successful reply's `Tokens:` line), or
//! when the exit code is not 0. Usage comes from the `Tokens: … sent, … received. Cost: $…
//! message, $… session.` lines (§5 "Output"): tokens are summed over the lines, `sent`
//! includes any `cache hit`/`cache write` counts listed beside it, and the cost is the last
//! line's session total, as aider reports it (`usd_estimated = false`). Without a reported
//! cost, USD is estimated from `prices` when the `Model:` line names a priced model. The final
//! message is the text between aider's start-up banner and the last `Tokens:` line.

use std::path::Path;

use super::prices::estimate_usd;
use super::{Adapter, AgentSpec, Credential, Invocation, Outcome, Role, Usage, UserHome};

pub struct Aider;

impl Adapter for Aider {
    fn name(&self) -> &'static str {
        "aider"
    }

    fn install_hint(&self) -> &'static str {
        "install aider (`python -m pip install aider-chat`)"
    }

    fn env_allowlist(&self) -> Vec<&'static str> {
        let own: &[&str] = &[
            "AIDER_*",
            "OPENAI_*",
            "ANTHROPIC_*",
            "*_API_KEY",
            "*_API_BASE",
            "AZURE_*",
            "VERTEXAI_*",
            "OLLAMA_*",
            "OPENROUTER_*",
            "LITELLM_*",
            "GITHUB_COPILOT_TOKEN",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "SSL_VERIFY",
        ];
        [own, super::env::AWS].concat()
    }

    fn credential_sources(&self, user: &UserHome) -> Vec<Credential> {
        let keys: Vec<&str> = user
            .vars()
            .iter()
            .filter(|(k, v)| k.ends_with("_API_KEY") && !v.is_empty())
            .map(|(k, _)| k.as_str())
            .collect();
        let mut out = vec![Credential {
            what: if keys.is_empty() {
                "a provider key such as OPENAI_API_KEY or ANTHROPIC_API_KEY (environment)".into()
            } else {
                format!("{} (environment)", keys.join(", "))
            },
            found: !keys.is_empty(),
        }];
        let home = user.home();
        let has = |rel: &str, needle: &str| -> Option<Credential> {
            let p = home.as_ref()?.join(rel);
            Some(Credential {
                found: std::fs::read_to_string(&p).is_ok_and(|t| t.contains(needle)),
                what: format!("a key in {}", p.display()),
            })
        };
        out.extend(has(".aider.conf.yml", "api-key"));
        out.extend(has(".env", "_API_KEY="));
        out.extend(has(".aider/oauth-keys.env", "_API_KEY="));
        out
    }

    fn login_hint(&self) -> &'static str {
        "set your provider's key (OPENAI_API_KEY, ANTHROPIC_API_KEY, …) in the environment, ~/.env or ~/.aider.conf.yml"
    }

    fn invocation(
        &self,
        spec: &AgentSpec,
        role: Role,
        prompt_file: &Path,
        config_home: &Path,
    ) -> Invocation {
        let path = |name: &str| config_home.join(name).to_string_lossy().into_owned();
        let mut argv: Vec<String> = vec![
            "aider".into(),
            "--message-file".into(),
            prompt_file.to_string_lossy().into_owned(),
        ];
        argv.extend(
            [
                "--yes-always",
                "--no-auto-commits",
                "--no-gitignore",
                "--map-tokens",
                "0",
                "--no-pretty",
                "--no-stream",
                "--no-check-update",
                "--analytics-disable",
                "--no-show-model-warnings",
            ]
            .map(String::from),
        );
        argv.extend([
            "--chat-history-file".into(),
            path("aider.chat.history.md"),
            "--input-history-file".into(),
            path("aider.input.history"),
            "--llm-history-file".into(),
            path("aider.llm.history"),
        ]);
        if !role.may_edit() {
            argv.extend(["--chat-mode", "ask", "--no-suggest-shell-commands"].map(String::from));
        }
        if let Some(model) = &spec.model {
            argv.push("--model".into());
            argv.push(model.clone());
        }
        argv.extend(spec.args.iter().cloned());
        Invocation {
            argv,
            prompt_on_stdin: false,
            env: Vec::new(),
        }
    }

    fn parse(&self, stdout: &str, stderr: &str, exit_code: Option<i32>) -> Outcome {
        let lines: Vec<&str> = stdout.lines().collect();
        let last_tokens = lines.iter().rposition(|l| l.starts_with("Tokens: "));
        let last_error = lines.iter().rposition(|l| has_litellm_error(l));

        let mut usage = Usage {
            model: banner_model(&lines),
            ..Usage::default()
        };
        let mut session_cost = None;
        for line in &lines {
            if let Some(report) = line.strip_prefix("Tokens: ") {
                add_tokens(&mut usage, report);
                session_cost = session_usd(report).or(session_cost);
            }
        }
        match session_cost {
            Some(usd) => usage.usd = Some(usd),
            None if usage.total_tokens() > 0 => {
                usage.usd = usage.model.as_deref().and_then(|m| {
                    estimate_usd(
                        m,
                        usage.input_tokens,
                        usage.output_tokens,
                        usage.cache_read_tokens,
                        usage.cache_write_tokens,
                    )
                });
                usage.usd_estimated = usage.usd.is_some();
            }
            None => {}
        }

        let api_error = match (last_error, last_tokens) {
            (Some(e), Some(t)) if t > e => None,
            (Some(e), _) => Some(error_block(&lines[e..])),
            (None, _) => None,
        };
        let error = api_error
            .or_else(|| (exit_code != Some(0)).then(|| super::status_error(exit_code, stderr, "")));

        let start = banner_end(&lines);
        let end = last_tokens.or(last_error).unwrap_or(lines.len()).max(start);
        let reply = lines[start..end].join("\n");
        let final_message = (!reply.trim().is_empty()).then(|| reply.trim().to_owned());
        Outcome {
            success: error.is_none(),
            error,
            final_message,
            usage,
        }
    }
}

/// Whether a line reports a litellm exception (`litellm.AuthenticationError: …`).
fn has_litellm_error(line: &str) -> bool {
    line.match_indices("litellm.").any(|(i, m)| {
        let rest = &line[i + m.len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        name.len() > "Error".len() && name.ends_with("Error")
    })
}

/// The error line and the lines that continue it, up to the next blank line, as one line,
/// led by the HTTP status the litellm exception stands for (aider prints none itself).
fn error_block(lines: &[&str]) -> String {
    let text = lines
        .iter()
        .map(|l| l.trim())
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match http_status(&text) {
        Some(status) => format!("HTTP {status}: {text}"),
        None => text,
    }
}

/// The status of litellm's OpenAI-style exception classes (litellm's exception mapping).
fn http_status(text: &str) -> Option<u16> {
    const CLASSES: [(&str, u16); 9] = [
        ("AuthenticationError", 401),
        ("PermissionDeniedError", 403),
        ("NotFoundError", 404),
        ("UnprocessableEntityError", 422),
        ("RateLimitError", 429),
        ("BadRequestError", 400),
        ("ContextWindowExceededError", 400),
        ("InternalServerError", 500),
        ("ServiceUnavailableError", 503),
    ];
    let class = text.split_once("litellm.")?.1;
    CLASSES
        .iter()
        .find(|(name, _)| class.starts_with(name) && class[name.len()..].starts_with(':'))
        .map(|(_, s)| *s)
}

/// The model named by the banner line `Model: openai/mock-model with diff edit format`.
fn banner_model(lines: &[&str]) -> Option<String> {
    let rest = lines.iter().find_map(|l| l.strip_prefix("Model: "))?;
    let name = rest.split(" with ").next().unwrap_or(rest).trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// The index of the first line after the start-up banner (the blank line after `Aider v…`).
fn banner_end(lines: &[&str]) -> usize {
    let Some(banner) = lines.iter().position(|l| l.starts_with("Aider v")) else {
        return 0;
    };
    lines[banner..]
        .iter()
        .position(|l| l.trim().is_empty())
        .map_or(lines.len(), |blank| banner + blank + 1)
}

/// Adds one `Tokens:` report (`1.0k sent, 2.1k cache write, 3.4k cache hit, 20 received. Cost: …`).
fn add_tokens(usage: &mut Usage, report: &str) {
    let counts = report
        .split(". Cost:")
        .next()
        .unwrap_or(report)
        .trim_end_matches('.');
    let (mut sent, mut cache_hit, mut cache_write, mut received) = (0, 0, 0, 0);
    for item in counts.split(", ") {
        let Some((number, label)) = item.trim().split_once(' ') else {
            continue;
        };
        let Some(n) = parse_count(number) else {
            continue;
        };
        match label.trim() {
            "sent" => sent += n,
            "received" => received += n,
            "cache hit" => cache_hit += n,
            "cache write" => cache_write += n,
            _ => {}
        }
    }
    usage.input_tokens += sent.saturating_sub(cache_hit).saturating_sub(cache_write);
    usage.cache_read_tokens += cache_hit;
    usage.cache_write_tokens += cache_write;
    usage.output_tokens += received;
}

/// aider's token counts: `842`, `1.0k`, `12k`, `1.2M`.
fn parse_count(s: &str) -> Option<u64> {
    let (digits, scale) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1e3),
        'm' | 'M' => (&s[..s.len() - 1], 1e6),
        _ => (s, 1.0),
    };
    let value: f64 = digits.parse().ok()?;
    (value >= 0.0).then(|| (value * scale).round() as u64)
}

/// The `$X session` figure of a `Tokens:` report, if the model was priced.
fn session_usd(report: &str) -> Option<f64> {
    let (_, costs) = report.split_once("Cost:")?;
    costs.split(',').find_map(|item| {
        let item = item.trim().trim_end_matches('.');
        let amount = item.strip_suffix(" session")?.trim().strip_prefix('$')?;
        amount.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDIT: &str =
        include_str!("../../tests/fixtures/agent-samples/aider.stdout.edit-no-autocommit.txt");
    const EDIT_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/aider.edit-no-autocommit.rc");
    const API_401: &str =
        include_str!("../../tests/fixtures/agent-samples/aider.stdout.api-error-401.txt");
    const API_401_RC: &str =
        include_str!("../../tests/fixtures/agent-samples/aider.api-error-401.rc");

    #[test]
    fn prompt_is_a_file_history_stays_out_of_the_worktree_and_validators_only_ask() {
        let spec = AgentSpec {
            agent: "aider".into(),
            model: Some("openai/gpt-5".into()),
            args: vec!["--read".into(), "AGENTS.md".into()],
            ..AgentSpec::default()
        };
        let home = Path::new("/runs/4/home");
        let worker = Aider.invocation(&spec, Role::Worker, Path::new("/runs/4/prompt.md"), home);
        let common = [
            "aider",
            "--message-file",
            "/runs/4/prompt.md",
            "--yes-always",
            "--no-auto-commits",
            "--no-gitignore",
            "--map-tokens",
            "0",
            "--no-pretty",
            "--no-stream",
            "--no-check-update",
            "--analytics-disable",
            "--no-show-model-warnings",
            "--chat-history-file",
            "/runs/4/home/aider.chat.history.md",
            "--input-history-file",
            "/runs/4/home/aider.input.history",
            "--llm-history-file",
            "/runs/4/home/aider.llm.history",
        ];
        let mut expected: Vec<&str> = common.to_vec();
        expected.extend(["--model", "openai/gpt-5", "--read", "AGENTS.md"]);
        assert_eq!(worker.argv, expected);
        assert!(!worker.prompt_on_stdin);
        assert!(worker.env.is_empty());

        let plain = AgentSpec {
            agent: "aider".into(),
            ..AgentSpec::default()
        };
        for role in [Role::Validator, Role::Orchestrator, Role::Planner] {
            let inv = Aider.invocation(&plain, role, Path::new("/runs/4/prompt.md"), home);
            let mut expected: Vec<&str> = common.to_vec();
            expected.extend(["--chat-mode", "ask", "--no-suggest-shell-commands"]);
            assert_eq!(inv.argv, expected);
            assert!(!inv.prompt_on_stdin);
        }
    }

    #[test]
    fn edit_run_reports_reply_tokens_and_cost() {
        let out = Aider.parse(EDIT, "", super::super::sample_rc(EDIT_RC));
        assert!(out.success);
        assert_eq!(out.error, None);
        assert_eq!(
            out.final_message.as_deref(),
            Some(
                "I'll create it.\n\nhello.txt\n```\n<<<<<<< SEARCH\n=======\nhello\n>>>>>>> REPLACE\n```"
            )
        );
        assert_eq!(
            out.usage,
            Usage {
                input_tokens: 1000,
                output_tokens: 20,
                cache_read_tokens: 0,
                cache_write_tokens: 0,
                usd: Some(0.0033),
                usd_estimated: false,
                model: Some("openai/mock-model".into()),
            }
        );
    }

    #[test]
    fn api_error_fails_although_aider_exited_zero() {
        assert_eq!(super::super::sample_rc(API_401_RC), Some(0));
        let out = Aider.parse(API_401, "", super::super::sample_rc(API_401_RC));
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some(
                "HTTP 401: litellm.AuthenticationError: AuthenticationError: OpenAIException - mock: invalid x-api-key \
                 The API provider is not able to authenticate you. Check your API key."
            )
        );
        assert_eq!(out.final_message, None);
        assert_eq!(out.usage.total_tokens(), 0);
        assert_eq!(out.usage.usd, None);
        assert_eq!(out.usage.model.as_deref(), Some("openai/mock-model"));
    }

    #[test]
    fn an_error_followed_by_a_reply_was_retried_but_one_after_it_fails() {
        let error_block =
            "litellm.APIConnectionError: connection reset\nRetrying in 0.2 seconds...\n\n";
        let retried = EDIT.replacen(
            "I'll create it.",
            &format!("{error_block}I'll create it."),
            1,
        );
        assert!(Aider.parse(&retried, "", Some(0)).success);
        let late = format!("{EDIT}\n{error_block}");
        let out = Aider.parse(&late, "", Some(0));
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("litellm.APIConnectionError: connection reset Retrying in 0.2 seconds...")
        );
        assert!(
            !has_litellm_error("litellm.Error"),
            "a bare `Error` is not an exception name"
        );
    }

    #[test]
    fn token_reports_with_cache_and_unpriced_models() {
        let mut usage = Usage::default();
        add_tokens(
            &mut usage,
            "12k sent, 2.0k cache write, 8.5k cache hit, 1.2k received. Cost: $0.02 message, $0.05 session.",
        );
        assert_eq!(
            (
                usage.input_tokens,
                usage.cache_write_tokens,
                usage.cache_read_tokens,
                usage.output_tokens
            ),
            (1500, 2000, 8500, 1200)
        );
        assert_eq!(
            session_usd("842 sent, 6 received. Cost: $0.02 message, $0.05 session."),
            Some(0.05)
        );
        assert_eq!(session_usd("842 sent, 6 received."), None);

        // No cost line but a priced model: estimated from the price table.
        let unpriced = EDIT
            .replace(" Cost: $0.0033 message, $0.0033 session.", "")
            .replace("openai/mock-model", "openai/gpt-5");
        let out = Aider.parse(&unpriced, "", Some(0));
        let expected = (1000.0 * 1.25 + 20.0 * 10.0) / 1e6;
        assert!((out.usage.usd.expect("gpt-5 is priced") - expected).abs() < 1e-12);
        assert!(out.usage.usd_estimated);
    }

    #[test]
    fn nonzero_exit_or_a_signal_fails() {
        let out = Aider.parse(EDIT, "Terminated\n", Some(143));
        assert!(!out.success);
        assert_eq!(
            out.error.as_deref(),
            Some("exited with status 143: Terminated")
        );
        assert_eq!(
            Aider.parse("", "", None).error.as_deref(),
            Some("killed by a signal")
        );
    }
}

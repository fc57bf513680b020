//! The `exec` agent: any program, given as an argv list in a profile. It runs in the worktree
//! with the prompt on stdin and in `$GIT_MISSION_PROMPT_FILE`; exit 0 is success (the
//! supervisor's effectiveness guard then asks for a diff or a handoff).
//!
//! A script may report usage by printing a last line of JSON such as
//! `{"git_mission_usage": {"input_tokens": 10, "output_tokens": 5, "usd": 0.01}}`.
//!
//! Its environment is the common allowlist plus the profile's `pass_env`: git mission cannot
//! know what an arbitrary program reads.

use std::path::Path;

use super::{Adapter, AgentSpec, Invocation, Outcome, Role, Usage};

pub struct Exec;

impl Adapter for Exec {
    fn name(&self) -> &'static str {
        "exec"
    }

    fn program(&self, spec: &AgentSpec) -> Option<String> {
        spec.command.as_ref()?.first().cloned()
    }

    fn install_hint(&self) -> &'static str {
        "correct the profile's `command` (the first word must be a program on PATH or a path)"
    }

    /// Any command: nothing points it at a private home, so none is made.
    fn private_home(&self) -> bool {
        false
    }

    fn invocation(
        &self,
        spec: &AgentSpec,
        _role: Role,
        _prompt_file: &Path,
        _config_home: &Path,
    ) -> Invocation {
        let mut argv = spec.command.clone().unwrap_or_default();
        argv.extend(spec.args.iter().cloned());
        Invocation {
            argv,
            prompt_on_stdin: true,
            env: Vec::new(),
        }
    }

    fn parse(&self, stdout: &str, stderr: &str, exit_code: Option<i32>) -> Outcome {
        let usage = stdout
            .lines()
            .rev()
            .find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l.trim()).ok()?;
                serde_json::from_value::<Usage>(v.get("git_mission_usage")?.clone()).ok()
            })
            .unwrap_or_default();
        let final_message = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.contains("git_mission_usage"))
            .map(str::to_owned);
        let success = exit_code == Some(0);
        let error = (!success).then(|| match exit_code {
            Some(c) => {
                let tail = stderr
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                format!(
                    "exited with status {c}{}{tail}",
                    if tail.is_empty() { "" } else { ": " }
                )
            }
            None => "killed by a signal".to_owned(),
        });
        Outcome {
            success,
            error,
            final_message,
            usage,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_runs_the_profile_argv_with_the_prompt_on_stdin() {
        let spec = AgentSpec {
            agent: "exec".into(),
            command: Some(vec!["sh".into(), "worker.sh".into()]),
            args: vec!["--fast".into()],
            ..AgentSpec::default()
        };
        let inv = Exec.invocation(&spec, Role::Worker, Path::new("/p"), Path::new("/h"));
        assert_eq!(inv.argv, ["sh", "worker.sh", "--fast"]);
        assert!(inv.prompt_on_stdin);
    }

    #[test]
    fn exec_success_is_exit_zero_and_usage_is_optional() {
        let ok = Exec.parse(
            "did it\n{\"git_mission_usage\": {\"input_tokens\": 7, \"usd\": 0.5}}\n",
            "",
            Some(0),
        );
        assert!(ok.success);
        assert_eq!(ok.usage.input_tokens, 7);
        assert_eq!(ok.usage.usd, Some(0.5));
        assert_eq!(ok.final_message.as_deref(), Some("did it"));
        let bad = Exec.parse("", "boom\n", Some(3));
        assert!(!bad.success);
        assert_eq!(bad.error.as_deref(), Some("exited with status 3: boom"));
        assert_eq!(
            Exec.parse("", "", None).error.as_deref(),
            Some("killed by a signal")
        );
    }
}

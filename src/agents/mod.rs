//! Agent adapters: how each agent CLI is started headless, and how what it printed becomes an
//! outcome (success, final message, token usage, cost).
//!
//! An adapter only builds an invocation and parses output; spawning, process groups,
//! timeouts and signals belong to `process`, and deciding what a run means for the mission
//! belongs to the supervisor. The facts behind each adapter are in
//! `../shared/reference/agent-clis.md` (flags, output formats, success tests).

pub mod aider;
pub mod claude;
pub mod codex;
pub mod exec;
pub mod gemini;
pub mod opencode;
pub mod prices;

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The role an agent run plays (PRODUCT.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Worker,
    Validator,
    Orchestrator,
    Planner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Worker => "worker",
            Role::Validator => "validator",
            Role::Orchestrator => "orchestrator",
            Role::Planner => "planner",
        }
    }

    /// Whether this role may edit files (workers) or must be read-only.
    pub fn may_edit(self) -> bool {
        matches!(self, Role::Worker)
    }
}

/// A resolved agent choice for one role: an agent, and optionally a model, a command (for
/// `exec`) and extra arguments, from a profile or the plain agent name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSpec {
    pub agent: String,
    pub model: Option<String>,
    /// `exec` only: the argv to run.
    pub command: Option<Vec<String>>,
    /// Extra arguments appended to the adapter's own.
    pub args: Vec<String>,
}

/// How to start an agent for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Program and arguments; never passed through a shell.
    pub argv: Vec<String>,
    /// Whether the prompt is written to the agent's stdin (else stdin is empty).
    pub prompt_on_stdin: bool,
    /// Extra environment for this agent (config homes, retry caps, ...).
    pub env: Vec<(String, String)>,
}

/// Tokens and money one run used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// Cost in USD as the agent reported it, or estimated from `prices` (see `usd_estimated`).
    pub usd: Option<f64>,
    /// True when `usd` came from the built-in price table rather than the agent.
    pub usd_estimated: bool,
    pub model: Option<String>,
}

impl Usage {
    pub fn total_tokens(&self) -> u64 {
        self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens
    }
}

/// What a finished run amounted to, by the agent's own account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// True only when the agent reports no error (not just exit code 0).
    pub success: bool,
    /// Why the run failed, when the agent says so (API error, permission denials, ...).
    pub error: Option<String>,
    /// The agent's final message, if it printed one.
    pub final_message: Option<String>,
    pub usage: Usage,
}

/// One agent CLI.
pub trait Adapter: Send + Sync {
    /// The agent name used in configuration (`claude`, `exec`, ...).
    fn name(&self) -> &'static str;

    /// The command line for a run. `prompt_file` holds the prompt (also on stdin when the
    /// invocation says so); `config_home` is a private directory for the agent's state.
    fn invocation(
        &self,
        spec: &AgentSpec,
        role: Role,
        prompt_file: &Path,
        config_home: &Path,
    ) -> Invocation;

    /// Interprets the run's output and exit code (`None` when killed by a signal).
    fn parse(&self, stdout: &str, stderr: &str, exit_code: Option<i32>) -> Outcome;
}

/// "exited with status N[ context]: <last stderr line>", or "killed by a signal[ context]".
pub(crate) fn status_error(exit_code: Option<i32>, stderr: &str, context: &str) -> String {
    let ctx = if context.is_empty() {
        String::new()
    } else {
        format!(" {context}")
    };
    match exit_code {
        Some(code) => match stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
            Some(tail) => format!("exited with status {code}{ctx}: {tail}"),
            None => format!("exited with status {code}{ctx}"),
        },
        None => format!("killed by a signal{ctx}"),
    }
}

/// The exit code recorded in a captured sample's `.rc` file (`rc=N`).
#[cfg(test)]
pub(crate) fn sample_rc(file: &str) -> Option<i32> {
    Some(
        file.trim()
            .strip_prefix("rc=")
            .expect("rc= prefix")
            .parse()
            .expect("a number"),
    )
}

/// The adapter for an agent name, if this build has one.
pub fn adapter(name: &str) -> Option<&'static dyn Adapter> {
    ADAPTERS.iter().copied().find(|a| a.name() == name)
}

static ADAPTERS: &[&dyn Adapter] = &[
    &exec::Exec,
    &claude::Claude,
    &codex::Codex,
    &opencode::OpenCode,
    &gemini::Gemini,
    &aider::Aider,
];

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
pub mod env;
pub mod exec;
pub mod gemini;
pub mod home;
pub mod opencode;
pub mod prices;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use home::{Seed, Source, UserHome};

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
    /// Environment variables (names or `PREFIX*` / `*SUFFIX` patterns) the agent gets besides
    /// its CLI's own; forge tokens only when named exactly (see `env`).
    #[serde(default)]
    pub pass_env: Vec<String>,
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

    /// Whether a run of this CLI gets the private config home `invocation` is given (a
    /// directory made for each run); a command this CLI does not point at it never sees it.
    fn private_home(&self) -> bool {
        true
    }

    /// Interprets the run's output and exit code (`None` when killed by a signal).
    fn parse(&self, stdout: &str, stderr: &str, exit_code: Option<i32>) -> Outcome;

    /// The environment variables this CLI documents (names, `PREFIX*`, `*SUFFIX`): what an
    /// agent run may see of the user's environment besides `env::COMMON`.
    fn env_allowlist(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Variables the user's own configuration of this CLI names (a Codex `env_key`, an
    /// opencode `{env:VAR}`): allowed too, whatever their name.
    fn referenced_env(&self, _user: &UserHome) -> Vec<String> {
        Vec::new()
    }

    /// Environment derived from the user's own setup of this CLI (where its login lives, a key
    /// saved by its login command), added to what the run gets.
    fn inherited_env(&self, _user: &UserHome) -> Vec<(String, String)> {
        Vec::new()
    }

    /// What the private home `config_home` needs from the user's: their login and their
    /// provider and model settings, copied for the run.
    fn seeds(&self, _user: &UserHome, _config_home: &Path) -> Vec<Seed> {
        Vec::new()
    }

    /// The model to use when neither the profile nor `models.<role>` names one, given what the
    /// user configured for this CLI (`None`: the CLI's own choice).
    fn default_model(&self, _user: &UserHome) -> Option<String> {
        None
    }

    /// Where this CLI's login or key would come from, found or not: for `doctor`, which reports
    /// names and places, never values.
    fn credential_sources(&self, _user: &UserHome) -> Vec<Credential> {
        Vec::new()
    }

    /// How a user gives this CLI a login or a key (for `doctor` when none is found).
    fn login_hint(&self) -> &'static str {
        ""
    }

    /// The program a run starts, checked before anything is dispatched (`None`: none).
    fn program(&self, _spec: &AgentSpec) -> Option<String> {
        Some(self.name().to_owned())
    }

    /// How to install this CLI.
    fn install_hint(&self) -> &'static str {
        ""
    }
}

/// The agent for a role: a profile of that name, or the agent itself, with the role's model.
pub fn agent_spec(config: &crate::config::Config, role: Role) -> crate::error::Result<AgentSpec> {
    let key = format!("agents.{}", role.as_str());
    let name = config.get_str(&key).unwrap_or("none").to_owned();
    if name == "none" {
        return Err(crate::error::Error::user_hint(
            format!("no agent is configured for the {} role", role.as_str()),
            format!("set `{key}` in the mission file or todo/missions/config.yml"),
        ));
    }
    let model = config
        .get_str(&format!("models.{}", role.as_str()))
        .map(str::to_owned);
    if let Some(p) = config.profile(&name) {
        return Ok(AgentSpec {
            agent: p.agent.clone(),
            model: p.model.clone().or(model),
            command: p.command.clone(),
            args: p.args.clone().unwrap_or_default(),
            pass_env: p.pass_env.clone().unwrap_or_default(),
        });
    }
    Ok(AgentSpec {
        agent: name,
        model,
        ..AgentSpec::default()
    })
}

/// The `PATH` an agent run gets: this executable's directory first (so an agent can run
/// `git mission`), then the user's.
pub fn agent_path(user: &UserHome) -> String {
    let exe_dir = user.exe().and_then(|e| e.parent().map(Path::to_path_buf));
    let mut parts: Vec<String> = exe_dir
        .map(|d| d.to_string_lossy().into_owned())
        .into_iter()
        .collect();
    parts.extend(user.var("PATH").map(str::to_owned));
    parts.join(":")
}

/// Where `program` would be started from: a name is looked up in the directories of `path`;
/// a path with a `/` is taken as is (relative to `cwd`). Only an executable file counts.
pub fn find_program(program: &str, path: &str, cwd: &Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = cwd.join(program);
        return runnable(&p).then_some(p);
    }
    crate::env::Env::path_dirs(path)
        .filter(|d| d.as_os_str() != ".")
        .map(|d| d.join(program))
        .find(|p| runnable(p))
}

/// The roles `mission` will give to an agent on this machine: workers (unless they run on
/// Actions runners), validators when a milestone asks for validator agents, the orchestrator
/// when one is configured.
pub fn roles_used(config: &crate::config::Config, mission: &crate::mission::Mission) -> Vec<Role> {
    let mut roles = Vec::new();
    let on_actions = config.get_str("dispatch") == Some("actions") && config.github_enabled();
    if !on_actions {
        roles.push(Role::Worker);
    }
    if mission
        .milestones
        .iter()
        .any(|m| m.validation.scrutiny || m.validation.user_testing.is_some())
    {
        roles.push(Role::Validator);
    }
    if config
        .get_str("agents.orchestrator")
        .is_some_and(|a| a != "none")
    {
        roles.push(Role::Orchestrator);
    }
    roles
}

/// For each role `mission` uses whose agent cannot start here, why (see [`preflight`]).
pub fn missing_agents(
    config: &crate::config::Config,
    mission: &crate::mission::Mission,
    cwd: &Path,
) -> Vec<(Role, Missing)> {
    roles_used(config, mission)
        .into_iter()
        .filter_map(|r| preflight(config, r, cwd).err().map(|why| (r, why)))
        .collect()
}

/// Starts the CLI headless with `--version`, the way a run would (allowlisted environment,
/// a throwaway private home, a timeout): its first line of output, or why it failed.
pub fn version(
    adapter: &dyn Adapter,
    user: &UserHome,
    cwd: &Path,
    clock: &crate::env::Clock,
) -> Result<String, String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let spec = AgentSpec {
        agent: adapter.name().to_owned(),
        ..AgentSpec::default()
    };
    let inv = adapter.invocation(&spec, Role::Worker, &tmp.path().join("prompt.md"), &home);
    let Some(program) = inv.argv.first() else {
        return Err("no command".into());
    };
    let mut env = env::allowed(
        user.vars(),
        &adapter.env_allowlist(),
        &adapter.referenced_env(user),
        &[],
    );
    let ours: Vec<(String, String)> = adapter
        .inherited_env(user)
        .into_iter()
        .chain(inv.env.iter().cloned())
        .chain([("PATH".to_owned(), agent_path(user))])
        .collect();
    env.retain(|(k, _)| !ours.iter().any(|(n, _)| n == k));
    env.extend(ours);
    let spec = crate::process::Spec {
        argv: vec![program.clone(), "--version".into()],
        cwd: cwd.to_owned(),
        env,
        clear_env: true,
        stdout: tmp.path().join("out"),
        stderr: tmp.path().join("err"),
        timeout: Some(std::time::Duration::from_secs(60)),
        grace: std::time::Duration::from_secs(2),
        ..crate::process::Spec::default()
    };
    let fin = crate::process::run(&spec, &|| false, clock).map_err(|e| e.to_string())?;
    let out = std::fs::read_to_string(tmp.path().join("out")).unwrap_or_default();
    let err = std::fs::read_to_string(tmp.path().join("err")).unwrap_or_default();
    let first = |t: &str| {
        t.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(str::to_owned)
    };
    if fin.timed_out {
        return Err("`--version` did not finish within 60 s".into());
    }
    if fin.code != Some(0) {
        return Err(status_error(fin.code, &err, "on `--version`"));
    }
    first(&out)
        .or_else(|| first(&err))
        .ok_or_else(|| "`--version` printed nothing".into())
}

/// Why an agent cannot start, and what fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// Names the role, the agent, the program and where it was looked for.
    pub message: String,
    /// Install it, or choose another agent.
    pub fix: String,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; fix: {}", self.message, self.fix)
    }
}

/// Why the agent of `role` cannot start, before anything is dispatched to it: no agent
/// configured, an unknown agent, or its program not found on the `PATH` agents get.
pub fn preflight(config: &crate::config::Config, role: Role, cwd: &Path) -> Result<(), Missing> {
    let key = format!("agents.{}", role.as_str());
    let role_s = role.as_str();
    let other = format!("set `{key}` to an agent or profile that is installed");
    if config.get_str(&key).unwrap_or("none") == "none" {
        return Err(Missing {
            message: format!(
                "{key} is none: no agent is configured for the {role_s} role, and the mission needs one"
            ),
            fix: other,
        });
    }
    let spec = agent_spec(config, role).map_err(|e| Missing {
        message: e.to_string(),
        fix: other.clone(),
    })?;
    let Some(adapter) = adapter(&spec.agent) else {
        return Err(Missing {
            message: format!(
                "the {role_s} agent {:?} is not an agent this version knows",
                spec.agent
            ),
            fix: other,
        });
    };
    let Some(program) = adapter.program(&spec) else {
        return Err(Missing {
            message: format!("the {role_s} agent {:?} has no command to run", spec.agent),
            fix: "give its profile a `command`".to_owned(),
        });
    };
    if program.contains('/') && !Path::new(&program).is_absolute() {
        // Relative to the worktree, which does not exist yet: checked when the run starts.
        return Ok(());
    }
    let user = UserHome::of(config);
    let path = agent_path(&user);
    if find_program(&program, &path, cwd).is_some() {
        return Ok(());
    }
    let looked = if program.contains('/') {
        "it does not exist or is not executable".to_owned()
    } else {
        format!("not found in PATH={path}")
    };
    let install = adapter.install_hint();
    Err(Missing {
        message: format!(
            "the {role_s} agent {:?} cannot start: `{program}` is not installed ({looked})",
            spec.agent
        ),
        fix: if install.is_empty() {
            other
        } else {
            format!("{install}, or {other}")
        },
    })
}

/// One place a CLI's login or key can come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// "ANTHROPIC_API_KEY (environment)", "~/.codex/auth.json (codex login)".
    pub what: String,
    pub found: bool,
}

impl Credential {
    /// An environment variable.
    pub fn var(user: &UserHome, name: &str) -> Credential {
        Credential {
            what: format!("{name} (environment)"),
            found: user.var(name).is_some(),
        }
    }

    /// A file, described by how it is made.
    pub fn file(path: Option<std::path::PathBuf>, how: &str) -> Option<Credential> {
        let path = path?;
        Some(Credential {
            what: format!("{} ({how})", path.display()),
            found: path.is_file(),
        })
    }
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

/// A user environment with this HOME and these variables (adapter tests).
#[cfg(test)]
pub(crate) fn test_user(home: &Path, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![("HOME".to_owned(), home.to_string_lossy().into_owned())];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
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

//! Layered configuration (PRODUCT.md §3, docs/configuration.md).
//!
//! Precedence, lowest first: built-in defaults < `git config --global mission.*` <
//! `todo/missions/config.yml` < `git config --local mission.*` < the mission's frontmatter <
//! `GIT_MISSION_*` environment variables < `-c key=value`. Every effective value remembers
//! which layer it came from, for `git mission config --show-origin`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::git::Repo;
use crate::mission::doc::parse_located;
use crate::mission::{
    Budget, ForgeKind, Land, Limits, MergeStrategy, Mission, Mode, Profile, RoleMap,
};

/// The repository defaults file, relative to the repository root.
pub const CONFIG_FILE: &str = "todo/missions/config.yml";

/// The type of a configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Enum(&'static [&'static str]),
    Uint,
    Number,
    Duration,
    List,
}

/// One known configuration key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    pub name: &'static str,
    pub kind: Kind,
    /// Built-in default, as JSON text; `None` when unset by default.
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

const MODES: &[&str] = &["full", "poc"];
const FORGES: &[&str] = &["auto", "github", "local"];
const LANDS: &[&str] = &["pr", "auto", "none"];
const MERGES: &[&str] = &["squash", "merge"];
const DISPATCHES: &[&str] = &["local", "actions"];

/// Every key, in display order.
pub const KEYS: &[KeyDef] = &[
    KeyDef {
        name: "mode",
        kind: Kind::Enum(MODES),
        default: Some("\"full\""),
        doc: "full (PRs, parallel workers) or poc (one worker, straight onto the integration branch)",
    },
    KeyDef {
        name: "base",
        kind: Kind::Str,
        default: None,
        doc: "branch the mission starts from and lands on (default: the current branch)",
    },
    KeyDef {
        name: "forge",
        kind: Kind::Enum(FORGES),
        default: Some("\"auto\""),
        doc: "auto, github or local",
    },
    KeyDef {
        name: "land",
        kind: Kind::Enum(LANDS),
        default: Some("\"pr\""),
        doc: "pr, auto or none: how a passed milestone reaches the base branch",
    },
    KeyDef {
        name: "dispatch",
        kind: Kind::Enum(DISPATCHES),
        default: Some("\"local\""),
        doc: "local or actions: where workers run (actions: the mission-worker workflow)",
    },
    KeyDef {
        name: "github.repo",
        kind: Kind::Str,
        default: None,
        doc: "owner/name on GitHub (default: $GITHUB_REPOSITORY, else the remote's URL)",
    },
    KeyDef {
        name: "github.poll",
        kind: Kind::Duration,
        default: Some("\"30s\""),
        doc: "how often `run` looks at GitHub while it waits for checks",
    },
    KeyDef {
        name: "github.worker_workflow",
        kind: Kind::Str,
        default: Some("\"mission-worker.yml\""),
        doc: "the workflow file `dispatch: actions` starts for each worker run",
    },
    KeyDef {
        name: "github.queue_grace",
        kind: Kind::Duration,
        default: Some("\"30m\""),
        doc: "time an Actions worker may wait for a runner, on top of limits.worker_timeout",
    },
    KeyDef {
        name: "github.logins",
        kind: Kind::List,
        default: Some("[]"),
        doc: "other logins git mission writes as on GitHub (a GitHub App such as my-app[bot], a person's token used locally): their comments are trusted as the tool's own, besides the token's own login",
    },
    KeyDef {
        name: "github.rework_on",
        kind: Kind::Enum(&["changes_requested", "unresolved_threads"]),
        default: Some("\"changes_requested\""),
        doc: "what sends a feature PR back to a worker: reviews requesting changes, or also unresolved review threads",
    },
    KeyDef {
        name: "github.remote",
        kind: Kind::Str,
        default: Some("\"origin\""),
        doc: "the git remote that is the GitHub repository",
    },
    KeyDef {
        name: "worktrees",
        kind: Kind::Str,
        default: None,
        doc: "where this machine keeps run directories and agents' worktrees, outside the repository (default: $XDG_STATE_HOME/git-mission, else ~/.local/state/git-mission; ~/Library/Application Support/git-mission on macOS)",
    },
    KeyDef {
        name: "merge",
        kind: Kind::Enum(MERGES),
        default: Some("\"squash\""),
        doc: "squash or merge: how a feature branch joins the integration branch",
    },
    KeyDef {
        name: "agents.worker",
        kind: Kind::Str,
        default: Some("\"claude\""),
        doc: "agent or profile for workers",
    },
    KeyDef {
        name: "agents.validator",
        kind: Kind::Str,
        default: Some("\"claude\""),
        doc: "agent or profile for validators",
    },
    KeyDef {
        name: "agents.orchestrator",
        kind: Kind::Str,
        default: Some("\"none\""),
        doc: "agent or profile for recovery turns (none: a block waits for a human)",
    },
    KeyDef {
        name: "agents.planner",
        kind: Kind::Str,
        default: Some("\"claude\""),
        doc: "agent or profile for `new --plan`",
    },
    KeyDef {
        name: "models.worker",
        kind: Kind::Str,
        default: None,
        doc: "model for workers (agent default when unset)",
    },
    KeyDef {
        name: "models.validator",
        kind: Kind::Str,
        default: None,
        doc: "model for validators",
    },
    KeyDef {
        name: "models.orchestrator",
        kind: Kind::Str,
        default: None,
        doc: "model for the orchestrator",
    },
    KeyDef {
        name: "models.planner",
        kind: Kind::Str,
        default: None,
        doc: "model for the planner",
    },
    KeyDef {
        name: "notify.command",
        kind: Kind::List,
        default: Some("[]"),
        doc: "a program and its arguments (argv, never a shell string) run with a JSON payload on stdin when a mission needs attention (see notify.on)",
    },
    KeyDef {
        name: "notify.webhooks",
        kind: Kind::List,
        default: Some("[]"),
        doc: "http(s) URLs that get the same JSON payload by POST (ntfy, Slack incoming webhooks, your own)",
    },
    KeyDef {
        name: "notify.on",
        kind: Kind::List,
        default: Some(
            "[\"blocked\", \"needs_input\", \"budget_alert\", \"budget_exceeded\", \"milestone_passed\", \"completed\"]",
        ),
        doc: "which of blocked, needs_input, budget_alert, budget_exceeded, milestone_passed, completed notify",
    },
    KeyDef {
        name: "checks",
        kind: Kind::List,
        default: Some("[]"),
        doc: "default checks a feature must pass before it merges",
    },
    KeyDef {
        name: "limits.max_parallel_workers",
        kind: Kind::Uint,
        default: Some("2"),
        doc: "workers running at once (1 in poc mode)",
    },
    KeyDef {
        name: "limits.validation_failures",
        kind: Kind::Uint,
        default: Some("5"),
        doc: "failed validations per milestone before only a human can resume",
    },
    KeyDef {
        name: "limits.worker_attempts",
        kind: Kind::Uint,
        default: Some("3"),
        doc: "attempts per feature before it fails",
    },
    KeyDef {
        name: "limits.worker_timeout",
        kind: Kind::Duration,
        default: Some("\"2h\""),
        doc: "wall-clock limit of one worker run",
    },
    KeyDef {
        name: "limits.review_rounds",
        kind: Kind::Uint,
        default: Some("3"),
        doc: "rework runs a feature PR gets for reviews requesting changes, before the mission blocks with review_limit",
    },
    KeyDef {
        name: "budget.usd",
        kind: Kind::Number,
        default: None,
        doc: "spending limit in US dollars",
    },
    KeyDef {
        name: "budget.tokens",
        kind: Kind::Uint,
        default: None,
        doc: "token limit",
    },
    KeyDef {
        name: "budget.hours",
        kind: Kind::Number,
        default: None,
        doc: "wall-clock agent hours",
    },
    KeyDef {
        name: "budget.runs",
        kind: Kind::Uint,
        default: None,
        doc: "agent runs",
    },
    KeyDef {
        name: "budget.alert_pct",
        kind: Kind::Uint,
        default: Some("80"),
        doc: "percentage of a limit that raises a budget alert",
    },
];

/// Looks a key up by name.
pub fn key_def(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.name == name)
}

/// The settings part of a mission file, also the shape of `todo/missions/config.yml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub mode: Option<Mode>,
    #[serde(default)]
    pub base: Option<String>,
    #[serde(default)]
    pub forge: Option<ForgeKind>,
    #[serde(default)]
    pub land: Option<Land>,
    #[serde(default)]
    pub merge: Option<MergeStrategy>,
    #[serde(default)]
    pub agents: Option<RoleMap>,
    #[serde(default)]
    pub models: Option<RoleMap>,
    #[serde(default)]
    pub profiles: Option<BTreeMap<String, Profile>>,
    #[serde(default)]
    pub checks: Option<Vec<String>>,
    #[serde(default)]
    pub limits: Option<Limits>,
    #[serde(default)]
    pub budget: Option<Budget>,
    /// Repository-wide only (`config.yml`), never in a mission's frontmatter.
    #[serde(default)]
    pub dispatch: Option<String>,
    /// Repository-wide only (`config.yml`).
    #[serde(default)]
    pub github: Option<GithubSettings>,
    /// Repository-wide only: where run directories and worktrees live on this machine.
    #[serde(default)]
    pub worktrees: Option<String>,
    /// Repository-wide only: who is told when a mission needs attention.
    #[serde(default)]
    pub notify: Option<NotifySettings>,
}

/// The `notify:` section of `todo/missions/config.yml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    #[serde(default)]
    pub command: Option<Vec<String>>,
    #[serde(default)]
    pub webhooks: Option<Vec<String>>,
    #[serde(default)]
    pub on: Option<Vec<String>>,
}

/// The `github:` section of `todo/missions/config.yml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSettings {
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub logins: Option<Vec<String>>,
    #[serde(default)]
    pub rework_on: Option<String>,
    #[serde(default)]
    pub remote: Option<String>,
    #[serde(default)]
    pub poll: Option<String>,
    #[serde(default)]
    pub worker_workflow: Option<String>,
    #[serde(default)]
    pub queue_grace: Option<String>,
}

impl Settings {
    /// The settings a mission's frontmatter carries.
    pub fn of_mission(m: &Mission) -> Settings {
        Settings {
            mode: m.mode,
            base: m.base.clone(),
            forge: m.forge,
            land: m.land,
            merge: m.merge,
            agents: m.agents.clone(),
            models: m.models.clone(),
            profiles: m.profiles.clone(),
            checks: m.checks.clone(),
            limits: m.limits.clone(),
            budget: m.budget.clone(),
            dispatch: None,
            github: None,
            worktrees: None,
            notify: None,
        }
    }

    /// Flattens to `(key, value)` pairs for the keys that are set (profiles excluded).
    fn flatten(&self) -> Vec<(&'static str, Value)> {
        let Ok(Value::Object(top)) = serde_json::to_value(self) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for def in KEYS {
            let mut cur = Some(&Value::Object(top.clone()));
            for part in def.name.split('.') {
                cur = cur.and_then(|v| v.get(part));
            }
            if let Some(v) = cur
                && !v.is_null()
            {
                out.push((def.name, v.clone()));
            }
        }
        out
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "layer", content = "source", rename_all = "kebab-case")]
pub enum Origin {
    BuiltIn,
    GitGlobal,
    RepoFile(String),
    GitLocal,
    Mission(String),
    Env(String),
    CommandLine,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built-in"),
            Origin::GitGlobal => f.write_str("git config --global"),
            Origin::RepoFile(p) | Origin::Mission(p) => f.write_str(p),
            Origin::GitLocal => f.write_str("git config --local"),
            Origin::Env(v) => write!(f, "env {v}"),
            Origin::CommandLine => f.write_str("-c"),
        }
    }
}

/// One effective value.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub key: String,
    pub value: Value,
    pub origin: Origin,
}

/// The effective configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    entries: BTreeMap<&'static str, Entry>,
    profiles: BTreeMap<String, (Profile, Origin)>,
    /// The process environment and command line the command was given (agents get an
    /// allowlisted part of the environment; child processes get the overrides).
    overrides: Overrides,
}

/// Inputs that are not files: environment and command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `(variable, value)` pairs of the process environment.
    pub env: Vec<(String, String)>,
    /// `key=value` strings from `-c`.
    pub cli: Vec<String>,
    /// Logging flags (`--debug`, `-v`) to give every git-mission process this one starts.
    pub log: Vec<String>,
    /// The `git-mission` executable (agents get its directory on their `PATH`).
    pub exe: Option<std::path::PathBuf>,
}

impl Overrides {
    /// Global flags for a `git-mission` child process: every `-c`, then the logging flags, so
    /// a detached worker sees the configuration and logs like the command that started it.
    pub fn child_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for kv in &self.cli {
            args.push("-c".to_owned());
            args.push(kv.clone());
        }
        args.extend(self.log.iter().cloned());
        args
    }

    /// The `-c` values as `GIT_MISSION_<KEY>` variables (the environment layer), for processes
    /// that run `git mission` themselves: agents (an orchestrator's commands) get these.
    pub fn as_env(&self) -> Vec<(String, String)> {
        self.cli
            .iter()
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| {
                let def = key_def(k.trim())?;
                let var = format!(
                    "GIT_MISSION_{}",
                    def.name.replace('.', "_").to_ascii_uppercase()
                );
                Some((var, v.to_owned()))
            })
            .collect()
    }
}

impl Config {
    /// Loads every layer. `mission` adds the frontmatter layer.
    pub fn load(repo: &Repo, mission: Option<(&Mission, &str)>, ov: &Overrides) -> Result<Config> {
        let root = repo.root.as_path();
        let mut c = Config {
            overrides: ov.clone(),
            ..Config::default()
        };
        for def in KEYS {
            if let Some(d) = def.default {
                let value = serde_json::from_str(d).expect("built-in defaults are valid JSON");
                c.set(def.name, value, Origin::BuiltIn);
            }
        }
        if let Some(b) = repo.current_branch() {
            c.set("base", Value::String(b), Origin::BuiltIn);
        }
        c.git_layer(repo, true, Origin::GitGlobal)?;
        let file = root.join(CONFIG_FILE);
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let settings: Settings =
                    parse_located(&text, "config.yml").map_err(|d| Error::Invalid {
                        file: CONFIG_FILE.to_owned(),
                        diagnostics: vec![d],
                    })?;
                let origin = Origin::RepoFile(CONFIG_FILE.to_owned());
                // Keys typed as strings in the file are checked like any other layer's.
                for (k, v) in settings.flatten() {
                    if let (Some(def), Some(text)) = (key_def(k), v.as_str())
                        && (k == "dispatch" || k == "worktrees" || k.starts_with("github."))
                    {
                        parse_value(def, text).map_err(|e| bad_value(&origin, k, e))?;
                    }
                }
                c.settings_layer(&settings, &origin);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&file)(e)),
        }
        c.git_layer(repo, false, Origin::GitLocal)?;
        if let Some((m, path)) = mission {
            c.settings_layer(&Settings::of_mission(m), &Origin::Mission(path.to_owned()));
        }
        for (var, value) in &ov.env {
            let Some(rest) = var.strip_prefix("GIT_MISSION_") else {
                continue;
            };
            let wanted = rest.to_ascii_lowercase();
            // GIT_MISSION_LIMITS_MAX_PARALLEL_WORKERS -> limits.max_parallel_workers
            if let Some(def) = KEYS.iter().find(|k| k.name.replace('.', "_") == wanted) {
                let origin = Origin::Env(var.clone());
                let v = parse_value(def, value).map_err(|e| bad_value(&origin, def.name, e))?;
                c.set(def.name, v, origin);
            }
        }
        for kv in &ov.cli {
            let (k, v) = kv.split_once('=').ok_or_else(|| {
                Error::user_hint(
                    format!("-c {kv:?} is not key=value"),
                    "write -c limits.max_parallel_workers=4",
                )
            })?;
            let def =
                key_def(k.trim()).ok_or_else(|| unknown_key(k.trim(), &Origin::CommandLine))?;
            let v =
                parse_value(def, v).map_err(|e| bad_value(&Origin::CommandLine, def.name, e))?;
            c.set(def.name, v, Origin::CommandLine);
        }
        if c.get("worktrees").is_none()
            && let Some(dir) = default_state_dir(&c.overrides.env)
        {
            let dir = dir.join("git-mission").to_string_lossy().into_owned();
            c.set("worktrees", Value::String(dir), Origin::BuiltIn);
        }
        Ok(c)
    }

    /// Whether this repository's missions use GitHub: `forge: github`, or `forge: auto` in
    /// GitHub Actions with a token.
    pub fn github_enabled(&self) -> bool {
        match self.get_str("forge") {
            Some("github") => true,
            Some("local") => false,
            _ => {
                self.env_var("GITHUB_ACTIONS") == Some("true")
                    && ["GITHUB_TOKEN", "GH_TOKEN"]
                        .iter()
                        .any(|k| self.env_var(k).is_some_and(|v| !v.is_empty()))
            }
        }
    }

    /// The environment variables the command was started with.
    pub fn environment(&self) -> &[(String, String)] {
        &self.overrides.env
    }

    /// What the command was given besides files: environment, `-c`, logging flags.
    pub fn overrides(&self) -> &Overrides {
        &self.overrides
    }

    /// One variable of that environment.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.overrides
            .env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, key: &'static str, value: Value, origin: Origin) {
        self.entries.insert(
            key,
            Entry {
                key: key.to_owned(),
                value,
                origin,
            },
        );
    }

    fn settings_layer(&mut self, s: &Settings, origin: &Origin) {
        for (k, v) in s.flatten() {
            self.set(k, v, origin.clone());
        }
        for (name, p) in s.profiles.iter().flatten() {
            self.profiles
                .insert(name.clone(), (p.clone(), origin.clone()));
        }
    }

    /// The `mission.*` keys of git's configuration, user-wide (`global`: `~/.gitconfig`,
    /// `$XDG_CONFIG_HOME/git/config`, or `$GIT_CONFIG_GLOBAL`) or of the repository
    /// (`.git/config`), read through gix: no `git config` process.
    fn git_layer(&mut self, repo: &Repo, global: bool, origin: Origin) -> Result<()> {
        use gix::config::Source;
        let snapshot = repo.gix().config_snapshot();
        let Some(sections) = snapshot.plumbing().sections_by_name("mission") else {
            return Ok(());
        };
        for section in sections {
            let source = section.meta().source;
            let wanted = if global {
                matches!(source, Source::User | Source::Git)
            } else {
                source == Source::Local
            };
            if !wanted {
                continue;
            }
            let sub = section.header().subsection_name().map(|s| s.to_string());
            let mut names: Vec<String> = section.value_names().collect();
            names.dedup();
            for name in names {
                // As `git config` spells it: the variable name in lower case; the last wins.
                let key = match &sub {
                    Some(s) => format!("mission.{s}.{}", name.to_ascii_lowercase()),
                    None => format!("mission.{}", name.to_ascii_lowercase()),
                };
                let v = section
                    .value(&name)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "true".to_owned());
                let short = key
                    .strip_prefix("mission.")
                    .unwrap_or(&key)
                    .replace('-', "_");
                let def = key_def(&short).ok_or_else(|| unknown_key(&key, &origin))?;
                let value = parse_value(def, &v).map_err(|e| bad_value(&origin, &key, e))?;
                self.set(def.name, value, origin.clone());
            }
        }
        Ok(())
    }

    /// Every effective entry, in key order of `KEYS`, then profiles.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = KEYS
            .iter()
            .filter_map(|d| self.entries.get(d.name).cloned())
            .collect();
        for (name, (p, origin)) in &self.profiles {
            out.push(Entry {
                key: format!("profiles.{name}"),
                value: serde_json::to_value(p).unwrap_or(Value::Null),
                origin: origin.clone(),
            });
        }
        out
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.get(key).map(|e| &e.value)
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(Value::as_u64)
    }

    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// A list key's strings (empty when unset).
    pub fn get_strs(&self, key: &str) -> Vec<String> {
        self.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// A duration key (validated when loaded), else `default`.
    pub fn duration(&self, key: &str, default: std::time::Duration) -> std::time::Duration {
        self.get_str(key)
            .and_then(|t| humantime::parse_duration(t).ok())
            .unwrap_or(default)
    }

    /// An unsigned setting, or its documented default.
    fn uint(&self, key: &str) -> u64 {
        self.get_u64(key)
            .or_else(|| key_def(key)?.default?.parse().ok())
            .expect("an unsigned key with a default")
    }

    /// A count limit (`limits.*`), or its documented default.
    pub fn limit(&self, key: &str) -> u32 {
        u32::try_from(self.uint(key)).unwrap_or(u32::MAX)
    }

    /// `limits.worker_attempts`: attempts per feature before it fails.
    pub fn worker_attempts(&self) -> u32 {
        u32::try_from(self.uint("limits.worker_attempts")).unwrap_or(u32::MAX)
    }

    /// `limits.max_parallel_workers`: workers running at once.
    pub fn max_parallel_workers(&self) -> u32 {
        u32::try_from(self.uint("limits.max_parallel_workers")).unwrap_or(u32::MAX)
    }

    /// `limits.worker_timeout` as a duration (2 h when unset).
    pub fn worker_timeout(&self) -> std::time::Duration {
        self.duration(
            "limits.worker_timeout",
            std::time::Duration::from_secs(7200),
        )
    }

    /// The effective budget limits.
    pub fn budget(&self) -> Budget {
        let u32_of = |k: &str| self.get_u64(k).and_then(|v| u32::try_from(v).ok());
        Budget {
            usd: self.get_f64("budget.usd"),
            tokens: self.get_u64("budget.tokens"),
            hours: self.get_f64("budget.hours"),
            runs: u32_of("budget.runs"),
            alert_pct: u32_of("budget.alert_pct"),
        }
    }

    /// A profile defined in configuration.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.get(name).map(|(p, _)| p)
    }

    /// Names of the profiles defined in configuration (all layers).
    pub fn profile_names(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }
}

/// The user's state directory: `$XDG_STATE_HOME` when it is an absolute path (the XDG Base
/// Directory rule), else `~/.local/state`; on macOS `~/Library/Application Support`, where
/// applications keep such data there.
fn default_state_dir(env: &[(String, String)]) -> Option<std::path::PathBuf> {
    let var = |n: &str| {
        env.iter()
            .find(|(k, v)| k == n && !v.is_empty())
            .map(|(_, v)| std::path::PathBuf::from(v))
    };
    if !cfg!(target_os = "macos")
        && let Some(x) = var("XDG_STATE_HOME").filter(|p| p.is_absolute())
    {
        return Some(x);
    }
    let home = var("HOME").filter(|p| p.is_absolute())?;
    Some(if cfg!(target_os = "macos") {
        home.join("Library").join("Application Support")
    } else {
        home.join(".local").join("state")
    })
}

fn unknown_key(key: &str, origin: &Origin) -> Error {
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    Error::user_hint(
        format!("unknown configuration key {key:?} (from {origin})"),
        format!("known keys: {}", names.join(", ")),
    )
}

fn bad_value(origin: &Origin, key: &str, message: String) -> Error {
    Error::user(format!("{key} (from {origin}): {message}"))
}

/// Parses a string value (from git config, the environment or `-c`) for a key.
pub fn parse_value(def: &KeyDef, s: &str) -> Result<Value, String> {
    let s = s.trim();
    match def.kind {
        Kind::Str => Ok(Value::String(s.to_owned())),
        Kind::Enum(allowed) => {
            if allowed.contains(&s) {
                Ok(Value::String(s.to_owned()))
            } else {
                Err(format!("{s:?} is not one of {}", allowed.join(", ")))
            }
        }
        Kind::Uint => s
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| format!("{s:?} is not a whole number")),
        Kind::Number => match s.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 => Ok(Value::from(x)),
            _ => Err(format!("{s:?} is not a non-negative number")),
        },
        Kind::Duration => humantime::parse_duration(s)
            .map(|_| Value::String(s.to_owned()))
            .map_err(|e| format!("{s:?} is not a duration like 45m or 2h ({e})")),
        Kind::List => {
            if s.starts_with('[') {
                serde_norway::from_str::<Vec<String>>(s)
                    .map(Value::from)
                    .map_err(|e| format!("{s:?} is not a list of strings: {e}"))
            } else if s.is_empty() {
                Ok(Value::Array(Vec::new()))
            } else {
                Ok(Value::from(vec![s.to_owned()]))
            }
        }
    }
}

/// Renders a value for `git mission config` output.
pub fn display_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n
            .as_f64()
            .filter(|_| n.is_f64())
            .map_or_else(|| n.to_string(), crate::mission::render::number),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;
    use crate::git;
    use std::path::Path;
    use std::sync::Arc;

    fn repo() -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().expect("tmp");
        git::git(dir.path(), &["init", "-q", "-b", "main"]).expect("init");
        let env = Env::fixed(
            &[],
            "2026-01-01T00:00:00Z".parse().expect("t"),
            std::time::Instant::now,
        );
        let repo = Repo::discover(dir.path(), Arc::new(env)).expect("repo");
        (dir, repo)
    }

    fn origin_of(c: &Config, key: &str) -> Origin {
        c.entries()
            .into_iter()
            .find(|e| e.key == key)
            .expect("set")
            .origin
    }

    /// Each layer overrides the ones below it, and says so: built-in < file < git --local <
    /// mission < environment < -c.
    #[test]
    fn each_layer_overrides_the_ones_below_and_names_itself() {
        let key = "limits.worker_attempts";
        let load = |repo: &Repo, mission: Option<&Mission>, env: &[(&str, &str)], cli: &[&str]| {
            let ov = Overrides {
                env: env
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                cli: cli.iter().map(|s| (*s).to_owned()).collect(),
                ..Overrides::default()
            };
            Config::load(repo, mission.map(|m| (m, "m-mission.md")), &ov).expect("load")
        };
        let with_file = |dir: &Path| {
            std::fs::create_dir_all(dir.join("todo/missions")).expect("mkdir");
            std::fs::write(dir.join(CONFIG_FILE), "limits: {worker_attempts: 4}\n").expect("write");
        };
        let (_a, bare) = repo();
        let c = load(&bare, None, &[], &[]);
        assert_eq!(
            (c.worker_attempts(), origin_of(&c, key)),
            (3, Origin::BuiltIn)
        );
        let (b, filed) = repo();
        with_file(b.path());
        let c = load(&filed, None, &[], &[]);
        assert_eq!(
            (c.worker_attempts(), origin_of(&c, key)),
            (4, Origin::RepoFile(CONFIG_FILE.into()))
        );
        let (d, repo) = repo();
        with_file(d.path());
        let set_local = |v: &str| {
            git::git(
                d.path(),
                &["config", "--local", "mission.limits.worker-attempts", v],
            )
            .expect("git config")
        };
        set_local("5");
        // git config is read (through gix) when the repository is opened: once per command.
        let repo = Repo::discover(d.path(), Arc::new(repo.env().clone())).expect("reopen");
        let c = load(&repo, None, &[], &[]);
        assert_eq!(
            (c.worker_attempts(), origin_of(&c, key)),
            (5, Origin::GitLocal)
        );
        set_local("9");
        assert_eq!(load(&repo, None, &[], &[]).worker_attempts(), 5);
        let mut m = Mission::draft("m", "M");
        m.limits = Some(Limits {
            worker_attempts: Some(6),
            ..Limits::default()
        });
        let c = load(&repo, Some(&m), &[], &[]);
        assert_eq!(
            (c.worker_attempts(), origin_of(&c, key)),
            (6, Origin::Mission("m-mission.md".into()))
        );
        let env = [("GIT_MISSION_LIMITS_WORKER_ATTEMPTS", "7")];
        let c = load(&repo, Some(&m), &env, &[]);
        assert_eq!(
            (c.worker_attempts(), origin_of(&c, key)),
            (7, Origin::Env(env[0].0.into()))
        );
        let c = load(&repo, Some(&m), &env, &["limits.worker_attempts=8"]);
        assert_eq!(
            (c.worker_attempts(), origin_of(&c, key)),
            (8, Origin::CommandLine)
        );
        // The -c values travel to child processes as the environment layer.
        assert_eq!(
            c.overrides().as_env(),
            [(
                "GIT_MISSION_LIMITS_WORKER_ATTEMPTS".to_owned(),
                "8".to_owned()
            )]
        );
    }

    #[test]
    fn a_bad_value_or_an_unknown_key_names_its_layer() {
        let (_dir, repo) = repo();
        let load = |env: Vec<(String, String)>, cli: Vec<String>| {
            Config::load(
                &repo,
                None,
                &Overrides {
                    env,
                    cli,
                    ..Overrides::default()
                },
            )
        };
        let e = load(
            vec![("GIT_MISSION_LIMITS_WORKER_ATTEMPTS".into(), "many".into())],
            vec![],
        )
        .expect_err("not a number");
        assert!(
            e.to_string().contains("GIT_MISSION_LIMITS_WORKER_ATTEMPTS"),
            "{e}"
        );
        let e = load(vec![], vec!["limits.worker_atempts=2".into()]).expect_err("typo");
        assert!(e.to_string().contains("worker_atempts"), "{e}");
        let e = load(vec![], vec!["novalue".into()]).expect_err("no =");
        assert!(e.to_string().contains("key=value"), "{e}");
    }
}

//! The command line: clap definitions, dispatch, output and the mapping from errors to exit
//! codes (0 ok, 1 user error, 2 usage, 3 stopped mission, 255 bug). The only module that
//! prints or exits.

mod approve;
mod bundle;
mod comment;
mod config;
mod control;
mod demo;
mod doctor;
mod estimate;
mod help;
mod init;
mod list;
mod new;
mod output;
mod plan;
mod run;
mod show;
mod skills;
mod status;
mod validate;
mod watch;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::error::Error;
pub use output::Out;

/// Exit codes (PRODUCT.md §3).
pub mod exit {
    pub const OK: u8 = 0;
    pub const USER: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const STOPPED: u8 = 3;
    pub const BUG: u8 = 255;
}

#[derive(Debug, Parser)]
#[command(
    name = "git-mission",
    bin_name = "git mission",
    version,
    about = "Run long, milestone-based coding missions with AI agents, with all state in git",
    long_about = None,
    after_help = "Docs: docs/ in the git-mission repository. Start with `git mission new <id>`."
)]
pub struct Cli {
    /// Run as if started in DIR
    #[arg(short = 'C', value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,
    /// Print machine-readable JSON on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// Print less on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log more on stderr (repeat for more)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log everything on stderr
    #[arg(long, global = true)]
    pub debug: bool,
    /// When to use colours
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, global = true)]
    pub color: ColorWhen,
    /// Override a configuration value for this command (KEY=VALUE)
    #[arg(short = 'c', value_name = "KEY=VALUE", global = true)]
    pub config: Vec<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write todo/missions/config.yml with the repository's defaults
    Init(init::Args),
    /// Create a mission file from a template
    New(new::Args),
    /// Check mission files: schema, references and the readiness checklist
    Validate(validate::Args),
    /// Estimate runs, cost and time, and what a budget buys
    Estimate(estimate::Args),
    /// Record approval (who, when); nothing runs before it
    Approve(approve::Args),
    /// List all missions, grouped by state
    List,
    /// Mission Control: milestones, features, runs, block, budget, next actions
    Status(status::Args),
    /// Show one feature, milestone or run
    Show(show::Args),
    /// Print the effective configuration
    Config(config::Args),
    /// Run the mission until it completes, blocks, pauses or runs out of budget
    Run(run::RunArgs),
    /// One reconcile pass: observe, plan, execute (--dry-run prints the plan)
    Pulse(run::PulseArgs),
    /// Run one worker for one feature
    Work(run::WorkArgs),
    /// Pause after running workers finish (or stop them now)
    Pause(control::PauseArgs),
    /// Resume a paused or blocked mission
    Resume(control::IdArgs),
    /// Cancel a mission and stop its workers
    Cancel(control::IdArgs),
    /// Print the event log
    Log(control::LogArgs),
    /// Skip a feature (its dependents may then start)
    Skip(plan::SkipArgs),
    /// Give a failed feature a fresh set of attempts
    Retry(plan::FeatureRef),
    /// Add a message to a feature's next worker prompt
    Steer(plan::SteerArgs),
    /// Replan: add, edit or drop features
    #[command(subcommand)]
    Feature(plan::FeatureCmd),
    /// Run a milestone's validation again
    Revalidate(plan::RevalidateArgs),
    /// Find stale locks, orphan worktrees and branches, broken files, missing agents
    Doctor(doctor::Args),
    /// Handle a GitHub issue_comment event payload (the mission-comment workflow)
    Comment(comment::Args),
    /// Install the shipped skills where agents read them
    #[command(subcommand)]
    Skills(skills::SkillsCmd),
    /// Build a sample repository and run a whole mission on it, offline, in seconds
    Demo(demo::Args),
    /// Write a mission (integration and feature branches) to a file another clone can import
    Export(bundle::ExportArgs),
    /// Bring in a mission exported by `git mission export`, to continue it with `run`
    Import(bundle::ImportArgs),
    /// Mission Control, live: features, runs and their output, events, block, budget
    Watch(watch::Args),
    /// Print the manual page, or install every page where `man` (and `git help`) finds them
    Man(help::ManArgs),
    /// Print shell completions (bash, zsh, fish, powershell, elvish)
    Completions(help::CompletionsArgs),
}

/// Runs the command line with the process arguments and environment.
pub fn run() -> ExitCode {
    // A panic is a bug whatever caused it: say so, and exit 255 as documented, not 101.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        eprintln!("error: internal error: {message}{location}");
        eprintln!("hint: this is a bug in git-mission; please report it with the command you ran");
        std::process::exit(i32::from(exit::BUG));
    }));
    run_with(std::env::args_os())
}

/// Runs the command line with these arguments.
pub fn run_with(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let e = closest_command(e);
            if e.kind() == clap::error::ErrorKind::InvalidSubcommand {
                // git turns `git mission --help` into `git help mission` (a manual page that
                // may not be installed); `-h` reaches this program.
                let text = e.render().to_string().replace(
                    "try '--help'",
                    "try 'git mission -h' (or 'git mission <command> --help')",
                );
                eprint!("{text}");
            } else {
                let _ = e.print();
            }
            return ExitCode::from(code);
        }
    };
    init_logging(&cli);
    let out = Out::new(&cli);
    let code = match dispatch(&cli, &out) {
        Ok(code) => code,
        Err(e) => out.error(&e),
    };
    ExitCode::from(code)
}

/// An unknown command gets the one closest by edits (a swap of two letters counts as one),
/// as git suggests: `stauts` → `status`, rather than clap's list ordered by another measure.
fn closest_command(e: clap::Error) -> clap::Error {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::InvalidSubcommand {
        return e;
    }
    let Some(ContextValue::String(typed)) = e.get(ContextKind::InvalidSubcommand) else {
        return e;
    };
    let cmd = Cli::command();
    let best = cmd
        .get_subcommands()
        .map(|c| c.get_name())
        .map(|name| (edits(typed, name), name))
        .min();
    let Some((distance, name)) = best else {
        return e;
    };
    let mut out = clap::Error::new(ErrorKind::InvalidSubcommand).with_cmd(&cmd);
    out.insert(
        ContextKind::InvalidSubcommand,
        ContextValue::String(typed.clone()),
    );
    if distance <= 2.max(typed.len() / 3) {
        out.insert(
            ContextKind::SuggestedSubcommand,
            ContextValue::String(name.to_owned()),
        );
    }
    out.insert(
        ContextKind::Usage,
        ContextValue::StyledStr(cmd.clone().render_usage()),
    );
    out
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// adjacent characters each cost one.
fn edits(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

fn init_logging(cli: &Cli) {
    let level = match (cli.debug, cli.verbose) {
        (true, _) | (_, 2..) => "debug",
        (_, 1) => "info",
        _ => "warn",
    };
    let filter =
        std::env::var("GIT_MISSION_LOG").unwrap_or_else(|_| format!("git_mission={level}"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(cli.color == ColorWhen::Always)
        .without_time()
        .try_init();
}

fn dispatch(cli: &Cli, out: &Out) -> Result<u8, Error> {
    let dir = match &cli.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().map_err(Error::io("."))?,
    };
    let env = std::sync::Arc::new(process_env()?);
    #[cfg(feature = "failpoints")]
    crate::faults::init(&env);
    let ctx = Ctx { dir, cli, out, env };
    match &cli.command {
        Command::Init(a) => init::run(&ctx, a),
        Command::New(a) => new::run(&ctx, a),
        Command::Validate(a) => validate::run(&ctx, a),
        Command::Estimate(a) => estimate::run(&ctx, a),
        Command::Approve(a) => approve::run(&ctx, a),
        Command::List => list::run(&ctx),
        Command::Status(a) => status::run(&ctx, a),
        Command::Show(a) => show::run(&ctx, a),
        Command::Config(a) => config::run(&ctx, a),
        Command::Run(a) => run::run(&ctx, a),
        Command::Pulse(a) => run::pulse(&ctx, a),
        Command::Work(a) => run::work(&ctx, a),
        Command::Pause(a) => control::pause(&ctx, a),
        Command::Resume(a) => control::resume(&ctx, a),
        Command::Cancel(a) => control::cancel(&ctx, a),
        Command::Log(a) => control::log(&ctx, a),
        Command::Demo(a) => demo::run(&ctx, a),
        Command::Watch(a) => watch::run(&ctx, a),
        Command::Export(a) => bundle::export(&ctx, a),
        Command::Import(a) => bundle::import(&ctx, a),
        Command::Man(a) => help::man(&ctx, a),
        Command::Completions(a) => help::completions(&ctx, a),
        Command::Skills(c) => skills::run(&ctx, c),
        Command::Doctor(a) => doctor::run(&ctx, a),
        Command::Comment(a) => comment::run(&ctx, a),
        Command::Skip(a) => plan::skip(&ctx, a),
        Command::Retry(a) => plan::retry(&ctx, a),
        Command::Steer(a) => plan::steer(&ctx, a),
        Command::Feature(c) => plan::feature(&ctx, c),
        Command::Revalidate(a) => plan::revalidate(&ctx, a),
    }
}

/// The one place the process environment and the system clock are read: the library gets
/// them as this value. `GIT_MISSION_CLOCK=<RFC 3339 time>` stops the recorded time there (a
/// reproducible run: see docs/architecture.md).
pub fn process_env() -> Result<crate::env::Env, Error> {
    let vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let fixed = vars
        .iter()
        .rev()
        .find(|(k, v)| k == "GIT_MISSION_CLOCK" && !v.is_empty())
        .map(|(_, v)| {
            v.parse::<jiff::Timestamp>().map_err(|e| {
                Error::user_hint(
                    format!("GIT_MISSION_CLOCK={v:?} is not a time: {e}"),
                    "give an RFC 3339 time such as 2026-01-01T00:00:00Z, or unset it",
                )
            })
        })
        .transpose()?;
    let mut vars = vars;
    if let Some(at) = fixed {
        // Everything this run starts (git, workers, agents) commits at that time too, unless
        // the dates are given.
        for var in ["GIT_COMMITTER_DATE", "GIT_AUTHOR_DATE"] {
            if !vars.iter().any(|(k, _)| k == var) {
                let date = format!("{} +0000", at.as_second());
                // SAFETY: called once at start, before this process starts any thread.
                unsafe { std::env::set_var(var, &date) };
                vars.push((var.to_owned(), date));
            }
        }
    }
    let clock = match fixed {
        Some(at) => crate::env::Clock::fixed(at, jiff::Timestamp::now, std::time::Instant::now),
        None => crate::env::Clock::new(
            jiff::Timestamp::now,
            jiff::Timestamp::now,
            std::time::Instant::now,
        ),
    };
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    Ok(crate::env::Env {
        vars,
        clock,
        exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("git-mission")),
        host,
    })
}

/// What every command gets.
pub struct Ctx<'a> {
    pub dir: PathBuf,
    pub cli: &'a Cli,
    pub out: &'a Out,
    pub env: std::sync::Arc<crate::env::Env>,
}

impl Ctx<'_> {
    pub fn workspace(&self) -> Result<crate::workspace::Workspace, Error> {
        crate::workspace::Workspace::open(&self.dir, self.env.clone())
    }

    /// Configuration overrides from the environment and `-c`.
    pub fn overrides(&self) -> crate::config::Overrides {
        let mut log = Vec::new();
        if self.cli.debug {
            log.push("--debug".to_owned());
        }
        log.extend(std::iter::repeat_n(
            "-v".to_owned(),
            usize::from(self.cli.verbose),
        ));
        crate::config::Overrides {
            env: self.env.vars.clone(),
            exe: Some(self.env.exe.clone()),
            cli: self.cli.config.clone(),
            log,
        }
    }

    /// Where a mission's runs and worktrees live on this machine (a repository-wide setting).
    pub fn layout(
        &self,
        ws: &crate::workspace::Workspace,
        id: &str,
    ) -> Result<crate::runs::Layout, Error> {
        let config = crate::config::Config::load(&ws.repo, None, &self.overrides())?;
        crate::runs::Layout::new(&ws.repo, &config, id)
    }

    /// The effective configuration, with the mission's frontmatter layer when given.
    pub fn config(
        &self,
        ws: &crate::workspace::Workspace,
        loaded: Option<&crate::workspace::Loaded>,
    ) -> Result<crate::config::Config, Error> {
        crate::config::Config::load(
            &ws.repo,
            loaded.map(|l| (&l.doc.mission, l.file.as_str())),
            &self.overrides(),
        )
    }
}

//! What the library gets from the process it runs in, as values: the environment variables,
//! the clock, the executable and the host. Only the CLI reads `std::env` and the system
//! clock; it builds an [`Env`] once and passes it down (through the workspace's [`Repo`],
//! which every layer below the CLI holds). Tests build one with [`Env::fixed`].
//!
//! [`Repo`]: crate::git::Repo

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// A source of time. `now` is what the tool records (event times, run ids, commit dates,
/// claim leases): fixed or stepped in reproducible runs. `wall` is always the real time, for
/// talking to servers whose answers carry real times (a rate limit's reset). `instant` is the
/// monotonic clock that times out processes: real in every mode.
#[derive(Clone)]
pub struct Clock {
    now: Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>,
    wall: Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>,
    mono: Arc<dyn Fn() -> Instant + Send + Sync>,
    fixed: bool,
}

type Mono = fn() -> Instant;

impl Clock {
    /// A clock reading `now` for records and `wall` for real time (the CLI passes the system
    /// clock for both).
    pub fn new(
        now: impl Fn() -> jiff::Timestamp + Send + Sync + 'static,
        wall: impl Fn() -> jiff::Timestamp + Send + Sync + 'static,
        mono: Mono,
    ) -> Clock {
        Clock {
            now: Arc::new(now),
            wall: Arc::new(wall),
            mono: Arc::new(mono),
            fixed: false,
        }
    }

    /// A clock stopped at `at` for records (reproducible runs and tests); `wall` stays real.
    pub fn fixed(
        at: jiff::Timestamp,
        wall: impl Fn() -> jiff::Timestamp + Send + Sync + 'static,
        mono: Mono,
    ) -> Clock {
        Clock {
            now: Arc::new(move || at),
            wall: Arc::new(wall),
            mono: Arc::new(mono),
            fixed: true,
        }
    }

    /// The time to record.
    pub fn now(&self) -> jiff::Timestamp {
        (self.now)()
    }

    /// The time to record, to the second (event times, commit dates).
    pub fn now_s(&self) -> jiff::Timestamp {
        let t = self.now();
        t.round(jiff::Unit::Second).unwrap_or(t)
    }

    /// The real time, whatever `now` says.
    pub fn wall(&self) -> jiff::Timestamp {
        (self.wall)()
    }

    /// The monotonic clock, for timeouts and durations.
    pub fn instant(&self) -> Instant {
        (self.mono)()
    }

    /// Whether records are made at a fixed time (a reproducible run).
    pub fn is_fixed(&self) -> bool {
        self.fixed
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("now", &self.now())
            .field("fixed", &self.fixed)
            .finish()
    }
}

/// The process the library runs in.
#[derive(Clone, Debug)]
pub struct Env {
    /// `(variable, value)` pairs of the process environment (those that are UTF-8).
    pub vars: Vec<(String, String)>,
    pub clock: Clock,
    /// The `git-mission` executable (detached workers are started with it).
    pub exe: PathBuf,
    /// This machine's name, for claims and locks.
    pub host: String,
}

impl Env {
    /// One variable, when set (an empty value counts as set).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// One variable, when set and not blank.
    pub fn nonempty(&self, name: &str) -> Option<&str> {
        self.var(name).filter(|v| !v.trim().is_empty())
    }

    /// An environment of exactly `vars` whose recorded and real time both stand at `at`
    /// (tests); `mono` is the monotonic clock (tests pass `Instant::now`).
    pub fn fixed(vars: &[(&str, &str)], at: jiff::Timestamp, mono: Mono) -> Env {
        Env {
            vars: vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            clock: Clock::fixed(at, move || at, mono),
            exe: PathBuf::from("git-mission"),
            host: "localhost".into(),
        }
    }

    /// The directories of `PATH` (Unix separators).
    pub fn path_dirs(path: &str) -> impl Iterator<Item = PathBuf> + '_ {
        path.split(':')
            .map(|d| if d.is_empty() { "." } else { d })
            .map(PathBuf::from)
    }
}

/// Whether `name` matches `pattern` (`NAME`, `PREFIX*` or `*SUFFIX`).
pub fn var_matches(pattern: &str, name: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix('*') {
        name.starts_with(prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        name.ends_with(suffix)
    } else {
        pattern == name
    }
}

/// Whether a pattern is well formed: a variable name, optionally with one leading or trailing
/// `*`; a lone `*` (everything) is refused.
pub fn valid_var_pattern(pattern: &str) -> bool {
    let core = pattern
        .strip_suffix('*')
        .or_else(|| pattern.strip_prefix('*'))
        .unwrap_or(pattern);
    !core.is_empty() && core.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

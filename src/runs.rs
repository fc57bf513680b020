//! Per-machine run directories: `<worktrees>/<repo key>/<id>/runs/<run-id>/` hold what a
//! detached worker needs and leaves behind (meta, prompt, output, handoff, exit record), so any
//! later pulse can integrate a run whose supervisor is gone. Worktrees live beside them,
//! outside the repository (see [`Layout`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::agents::{Outcome, Role};
use crate::error::{Context, Error, Result};
use crate::process::Finished;
use crate::store::lock::pid_alive;

/// Facts recorded when a run is dispatched.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub run: String,
    pub mission: String,
    pub role: Role,
    pub milestone: String,
    pub feature: Option<String>,
    pub attempt: u32,
    pub agent: String,
    /// The integration commit the worktree was cut from.
    pub base: String,
    pub branch: Option<String>,
    pub worktree: PathBuf,
    pub started: String,
    /// The `git mission work` process executing the run.
    #[serde(default)]
    pub work_pid: Option<u32>,
    /// True when this run resolves a merge conflict.
    #[serde(default)]
    pub conflict: bool,
}

/// What a finished run left, written by the worker before it integrates the run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ExitRecord {
    pub finished: Finished,
    pub cancelled: bool,
    pub outcome: Outcome,
    /// Files changed against `Meta::base`.
    pub changed: Vec<String>,
    pub touched_mission_file: bool,
    pub handoff: Option<String>,
    pub handoff_status: Option<String>,
    /// Why the attempt failed, when it did (the effectiveness guard's verdict).
    pub failure: Option<String>,
    /// The branch head after the run.
    pub head: Option<String>,
    pub finished_at: String,
    /// The agent's program could not be started (why): nothing ran, so no attempt is counted
    /// and the mission blocks until the agent is installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_started: Option<String>,
    /// A run whose worker process died: the last lines it logged (`work.log`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_tail: Vec<String>,
}

impl ExitRecord {
    /// The record of a run that left none of its own (lost, refused, stopped, overdue).
    pub fn failed(clock: &crate::env::Clock, why: impl Into<String>) -> ExitRecord {
        ExitRecord {
            failure: Some(why.into()),
            finished_at: clock.now_s().to_string(),
            ..ExitRecord::default()
        }
    }
}

/// The state of a run directory, as a pulse observes it.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    /// Its worker process (or agent group) is alive.
    Running { pid: u32 },
    /// It finished and left an exit record.
    Exited,
    /// No live process and no exit record: its worker died.
    Lost,
}

/// The directories of one mission on this machine.
///
/// Run directories and worktrees live outside the repository (never under `.git`, where agents
/// such as Claude Code refuse to edit): `<worktrees>/<repo key>/<mission>/`, where
/// `worktrees` is the setting of that name (the user's state directory by default) and the
/// repo key is the repository's directory name plus a hash of its git directory, so two clones
/// never share a directory. Runs started by earlier versions under
/// `<git common dir>/git-mission/<mission>/` are still found there. The run lock stays in the
/// git directory: it belongs to the repository, whatever the setting says.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
    /// `<git common dir>/git-mission/<mission>`: the lock, and runs of earlier versions.
    legacy: PathBuf,
    /// The command's clock (run ids, stop requests).
    pub clock: crate::env::Clock,
}

impl Layout {
    /// The layout for a mission of `repo` under the configured `worktrees` directory.
    pub fn new(
        repo: &crate::git::Repo,
        config: &crate::config::Config,
        mission: &str,
    ) -> Result<Layout> {
        let base = config.get_str("worktrees").ok_or_else(|| {
            Error::user_hint(
                "there is no directory for run directories and worktrees (HOME is not set)",
                "set one with `git config --global mission.worktrees /path/outside/the/repo`",
            )
        })?;
        let base = repo.root.join(base);
        let common = repo.common_dir();
        let inside = |dir: &Path| {
            let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            canon(&base).starts_with(canon(dir))
        };
        if inside(&repo.root) || inside(&common) {
            return Err(Error::user_hint(
                format!(
                    "worktrees = {} is inside the repository; agents must work outside it (Claude Code refuses to edit under .git, and nested worktrees show up as untracked files)",
                    base.display()
                ),
                "point `worktrees` at a directory outside the repository, or unset it to use the state directory",
            ));
        }
        let repo_dir = base.join(repo_key(&repo.root, &common));
        own_repo_dir(&repo_dir, &common, repo.clock())?;
        Ok(Layout {
            root: repo_dir.join(mission),
            legacy: common.join("git-mission").join(mission),
            clock: repo.clock().clone(),
        })
    }

    /// A layout at explicit places (tests).
    pub fn at(root: PathBuf, legacy: PathBuf, clock: crate::env::Clock) -> Layout {
        Layout {
            root,
            legacy,
            clock,
        }
    }

    /// A fresh run id: time, what it is for, attempt, and a per-process suffix. Under a fixed
    /// clock (a reproducible run) the suffix is the first number whose run directory does not
    /// exist yet, so two runs of the same history name their runs alike.
    pub fn new_run_id(&self, what: &str, attempt: u32) -> String {
        let now = self.clock.now();
        let stamp = now.strftime("%Y%m%dT%H%M%S").to_string();
        if self.clock.is_fixed() {
            return (0..)
                .map(|k| format!("{stamp}-{what}-{attempt}-{k}"))
                .find(|id| !self.run(id).exists())
                .expect("an unused id");
        }
        let nanos = now.subsec_nanosecond();
        format!(
            "{stamp}-{what}-{attempt}-{:x}{:04x}",
            std::process::id() & 0xffff,
            (nanos / 1000) & 0xffff
        )
    }

    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// A run's directory: here, or where an earlier version started it.
    pub fn run(&self, run: &str) -> PathBuf {
        let dir = self.runs().join(run);
        if !dir.exists() {
            let old = self.legacy.join("runs").join(run);
            if old.exists() {
                return old;
            }
        }
        dir
    }

    pub fn worktree(&self, name: &str) -> PathBuf {
        self.root.join("worktrees").join(name)
    }

    /// Every directory that holds this mission's worktrees (the current one first).
    pub fn worktree_dirs(&self) -> [PathBuf; 2] {
        [self.root.join("worktrees"), self.legacy.join("worktrees")]
    }

    /// Worktrees private to one claim (a merge, a validation, an orchestrator turn), named
    /// `<what>.<pid>.<unique>`.
    pub fn scratch(&self) -> PathBuf {
        self.root.join("scratch")
    }

    pub fn lock(&self) -> PathBuf {
        self.legacy.join("run.lock")
    }

    /// Asks a live run to stop (its worker commits the work in progress and records it as
    /// cancelled), and stops its agent's process group.
    pub fn stop(&self, run: &str) {
        let dir = self.run(run);
        let _ = std::fs::write(dir.join("cancel"), self.clock.now().to_string());
        if let Some(pgid) = std::fs::read_to_string(dir.join("agent.pgid"))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            crate::process::stop_group(pgid, std::time::Duration::from_secs(5), &self.clock);
        }
    }

    /// Every run directory with its meta and state.
    pub fn list(&self) -> Vec<(Meta, RunState)> {
        self.list_where(|_| true)
    }

    /// The run directories whose name (the run id) `keep` accepts, with their meta and
    /// state; the others' files are not read (a pulse skips the runs already recorded, which
    /// grow with the mission).
    pub fn list_where(&self, keep: impl Fn(&str) -> bool) -> Vec<(Meta, RunState)> {
        let mut out: Vec<(Meta, RunState)> = self
            .run_dirs()
            .filter(|dir| dir.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
            .filter_map(|dir| {
                let meta = read_meta(&dir).ok()?;
                let state = state(&dir, &meta);
                Some((meta, state))
            })
            .collect();
        out.sort_by(|a, b| a.0.started.cmp(&b.0.started).then(a.0.run.cmp(&b.0.run)));
        out
    }

    /// How many of the runs `keep` accepts (by run id) are still running on this machine.
    pub fn running(&self, keep: impl Fn(&str) -> bool) -> usize {
        self.list_where(keep)
            .iter()
            .filter(|(_, state)| matches!(state, RunState::Running { .. }))
            .count()
    }

    /// Every run directory, here and where earlier versions kept them.
    fn run_dirs(&self) -> impl Iterator<Item = PathBuf> {
        [self.runs(), self.legacy.join("runs")]
            .into_iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flat_map(|rd| rd.flatten())
            .map(|e| e.path())
    }
}

pub fn read_meta(dir: &Path) -> Result<Meta> {
    let p = dir.join("meta.json");
    let text = std::fs::read_to_string(&p).map_err(Error::io(&p))?;
    serde_json::from_str(&text).context(|| format!("reading {}", p.display()))
}

/// Whether the run directory `dir` was last written (its meta.json, else the directory) more
/// than `age` ago; `false` when neither can be read.
pub fn older_than(dir: &Path, age: std::time::Duration) -> bool {
    let meta = dir.join("meta.json");
    [meta.as_path(), dir]
        .iter()
        .find_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|a| a > age)
}

pub fn read_exit(dir: &Path) -> Option<ExitRecord> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("exit.json")).ok()?).ok()
}

fn state(dir: &Path, meta: &Meta) -> RunState {
    // A worker that wrote its exit record is still recording it (and merging, when it may):
    // the run is its own until it is gone, so a pulse does not do the same work beside it.
    let exited = dir.join("exit.json").exists();
    if let Some(pid) = meta.work_pid
        && pid_alive(pid)
        && !(exited && crate::process::zombie(pid))
    {
        return RunState::Running { pid };
    }
    if exited {
        return RunState::Exited;
    }
    // The agent's group may outlive a killed worker process.
    if let Some(pgid) = std::fs::read_to_string(dir.join("agent.pgid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        && crate::process::group_alive(pgid)
    {
        return RunState::Running { pid: pgid };
    }
    // Dispatched a moment ago and not yet started: give it the benefit of the doubt.
    if meta.work_pid.is_none() && !dir.join("spawn-failed").exists() {
        let fresh = std::fs::metadata(dir.join("meta.json"))
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() < 10);
        if fresh {
            return RunState::Running { pid: 0 };
        }
    }
    RunState::Lost
}

/// Makes sure the state directory `dir` belongs to this git directory, not to a repository
/// that was deleted and made again at the same path (a fresh `git init` must not inherit the
/// old one's runs, which would be taken for its own). Each git directory has a random id
/// (`<git common dir>/git-mission/instance`), also written into its state directory; a state
/// directory carrying another id is moved aside to `<dir>.stale-<time>`, one without an id
/// (made by an earlier version) is adopted. Serialised by an `flock` on
/// `<git common dir>/git-mission/instance.lock` (only processes of this repository can race
/// here; nothing is added beside the state directories).
fn own_repo_dir(dir: &Path, common: &Path, clock: &crate::env::Clock) -> Result<()> {
    let mine = instance_id(&common.join("git-mission").join("instance"), clock)?;
    let parent = dir.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    let name = dir
        .file_name()
        .map_or_else(|| "repo".to_owned(), |n| n.to_string_lossy().into_owned());
    let lock_path = common.join("git-mission").join("instance.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(Error::io(&lock_path))?;
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor owned here; released when `lock` is dropped.
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    }
    let stamp = dir.join("instance");
    match std::fs::read_to_string(&stamp) {
        Ok(theirs) if theirs.trim() == mine => return Ok(()),
        Ok(theirs) => {
            let aside = parent.join(format!(
                "{name}.stale-{}",
                clock.wall().strftime("%Y%m%dT%H%M%S%.f")
            ));
            tracing::warn!(
                "{} belonged to another repository at this path (id {}); moved to {}",
                dir.display(),
                theirs.trim(),
                aside.display()
            );
            std::fs::rename(dir, &aside).map_err(Error::io(dir))?;
        }
        Err(_) => {}
    }
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    std::fs::write(&stamp, format!("{mine}\n")).map_err(Error::io(&stamp))?;
    drop(lock);
    Ok(())
}

/// The id in `path`, made (random, atomically: written aside, then hard-linked into place)
/// when there is none yet.
fn instance_id(path: &Path, clock: &crate::env::Clock) -> Result<String> {
    if let Ok(id) = std::fs::read_to_string(path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_owned());
    }
    let dir = path.parent().unwrap_or(path);
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let mut bytes = [0u8; 8];
    getrandom(&mut bytes, clock);
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!("instance.{}.tmp", std::process::id()));
    std::fs::write(&tmp, format!("{id}\n")).map_err(Error::io(&tmp))?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(id),
        // Another process made it first: theirs is the id.
        Err(_) => Ok(std::fs::read_to_string(path)
            .map_err(Error::io(path))?
            .trim()
            .to_owned()),
    }
}

/// Random bytes from the OS (no crate needed for eight of them).
fn getrandom(buf: &mut [u8], clock: &crate::env::Clock) {
    use std::io::Read;
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .is_err()
    {
        let t = clock.wall().as_nanosecond() as u64 ^ u64::from(std::process::id());
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t >> ((i % 8) * 8)) as u8;
        }
    }
}

/// `<directory name>-<16 hex digits>`: readable, and unique per git directory (FNV-1a of its
/// path, a hash that never changes between builds, unlike std's `DefaultHasher`).
fn repo_key(root: &Path, common: &Path) -> String {
    let common = std::fs::canonicalize(common).unwrap_or_else(|_| common.to_path_buf());
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in common.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let name: String = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let name = name.trim_start_matches('.');
    format!("{}-{h:016x}", if name.is_empty() { "repo" } else { name })
}

/// Markdown with front matter, for `runs/<run-id>.md` in the mission workspace.
pub fn run_document(meta: &Meta, exit: &ExitRecord) -> String {
    let status = if exit.failure.is_none() {
        "done"
    } else {
        "failed"
    };
    let mut front = serde_json::json!({
        "run": meta.run, "role": meta.role, "milestone": meta.milestone, "feature": meta.feature,
        "attempt": meta.attempt, "agent": meta.agent, "status": status,
        "exit_code": exit.finished.code, "timed_out": exit.finished.timed_out, "cancelled": exit.cancelled,
        "wall_seconds": exit.finished.wall_ms as f64 / 1000.0,
        "tokens": exit.outcome.usage.total_tokens(), "usd": exit.outcome.usage.usd,
        "usd_estimated": exit.outcome.usage.usd_estimated,
        "changed_files": exit.changed.len(),
    });
    if let Some(f) = &exit.failure {
        front["failure"] = serde_json::Value::String(f.clone());
    }
    let yaml = serde_norway::to_string(&front).unwrap_or_default();
    let mut out = format!("---\n{yaml}---\n");
    match &exit.handoff {
        Some(h) => out.push_str(h.trim_end()),
        None => out.push_str("(no handoff)"),
    }
    out.push('\n');
    if let Some(m) = &exit.outcome.final_message {
        out.push_str(&format!("\n## Final message\n\n{}\n", m.trim_end()));
    }
    if !exit.log_tail.is_empty() {
        out.push_str("\n## Last lines of the worker's log (work.log)\n\n");
        for line in &exit.log_tail {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(run: &str, worktree: PathBuf) -> Meta {
        Meta {
            run: run.into(),
            mission: "m".into(),
            role: Role::Worker,
            milestone: "M1".into(),
            feature: Some("F1".into()),
            attempt: 1,
            agent: "exec".into(),
            base: "abc".into(),
            branch: Some("mission/m.F1".into()),
            worktree,
            started: "2026-11-25T10:00:00Z".into(),
            work_pid: None,
            conflict: false,
        }
    }

    #[test]
    fn runs_started_under_git_by_earlier_versions_are_still_found() {
        let tmp = tempfile::tempdir().expect("tmp");
        let layout = Layout::at(
            tmp.path().join("state/m"),
            tmp.path().join("repo/.git/git-mission/m"),
            crate::env::Env::fixed(
                &[],
                "2026-01-01T00:00:00Z".parse().expect("t"),
                std::time::Instant::now,
            )
            .clock,
        );
        let old = tmp.path().join("repo/.git/git-mission/m/runs/r-old");
        std::fs::create_dir_all(&old).expect("mkdir");
        crate::fsutil::write_json(&old.join("meta.json"), &meta("r-old", old.join("wt")))
            .expect("meta");
        std::fs::write(old.join("exit.json"), "{}").expect("exit");
        let new = layout.runs().join("r-new");
        std::fs::create_dir_all(&new).expect("mkdir");
        crate::fsutil::write_json(
            &new.join("meta.json"),
            &meta("r-new", layout.worktree("F1")),
        )
        .expect("meta");
        assert_eq!(layout.run("r-old"), old, "an old run is read where it is");
        assert_eq!(layout.run("r-new"), new);
        assert_eq!(
            layout.run("r-unknown"),
            layout.runs().join("r-unknown"),
            "new runs go to the new place"
        );
        let listed: Vec<String> = layout.list().into_iter().map(|(m, _)| m.run).collect();
        assert_eq!(listed, ["r-new", "r-old"]);
        assert_eq!(
            layout.lock(),
            tmp.path().join("repo/.git/git-mission/m/run.lock")
        );
        assert!(
            layout
                .worktree("F1")
                .starts_with(tmp.path().join("state/m"))
        );
    }

    #[test]
    fn the_repo_key_names_the_repository_and_separates_clones() {
        let a = repo_key(Path::new("/x/my repo"), Path::new("/x/my repo/.git"));
        let b = repo_key(Path::new("/y/my repo"), Path::new("/y/my repo/.git"));
        assert!(
            a.starts_with("my_repo-") && a.len() == "my_repo-".len() + 16,
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(
            a,
            repo_key(Path::new("/x/my repo"), Path::new("/x/my repo/.git")),
            "stable"
        );
        assert!(repo_key(Path::new("/"), Path::new("/.git")).starts_with("repo-"));
        assert!(repo_key(Path::new("/x/..."), Path::new("/x/.../.git")).starts_with("repo-"));
    }
}

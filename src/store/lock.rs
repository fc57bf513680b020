//! The per-mission, per-machine locks: the run lock (one `git mission run` per mission per
//! machine) and the turn writers take at a mission's state ([`Turn`]).
//!
//! Each is an `flock` on a file in the repository's common git directory; the run lock's file
//! names the holder's pid, host and heartbeat for messages. The kernel releases a lock when
//! its holder dies, so a dead holder is replaced atomically and a live one never.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::env::Env;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub started: String,
    pub heartbeat: String,
}

/// A held lock; released on drop (and by the kernel when the process dies).
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    holder: Holder,
    /// The open lock file, `flock`ed for as long as this value lives.
    file: std::fs::File,
    clock: crate::env::Clock,
}

/// Whether a process is alive (signal 0).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The lock file at `path` opened for locking, when it exists (never created here).
fn open_existing(path: &Path) -> Option<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .ok()
}

/// Tries to take an exclusive `flock` without waiting.
fn try_flock(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function's caller owns.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

impl RunLock {
    /// Takes the lock at `path`. Returns the lock and, when the last holder died without
    /// releasing it, who that was.
    ///
    /// The lock is an `flock` on the file, which the kernel drops when its holder dies: taking
    /// over a dead holder is the same atomic step as taking a free lock, so two runs started at
    /// once over a dead holder cannot both win, and a reused pid is never mistaken for a live
    /// holder. The file is never deleted (a process waiting on a deleted file's lock would hold
    /// a lock nobody else sees); its content only says who holds it, for messages.
    pub fn acquire(path: &Path, env: &Env) -> Result<(RunLock, Option<Holder>)> {
        let dir = path.parent().expect("lock path has a parent");
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(Error::io(path))?;
        let previous = RunLock::holder(path);
        if !try_flock(&file) {
            let who = previous.map_or_else(
                || "another process".to_owned(),
                |h| {
                    format!(
                        "pid {} on {}, since {}, last heartbeat {}",
                        h.pid, h.host, h.started, h.heartbeat
                    )
                },
            );
            return Err(Error::user_hint(
                format!("another `git mission run` holds this mission ({who})"),
                format!(
                    "stop it first, or wait for it; the lock is {} and is released when that process exits",
                    path.display()
                ),
            ));
        }
        let now = env.clock.now_s().to_string();
        let me = Holder {
            pid: std::process::id(),
            host: env.host.clone(),
            started: now.clone(),
            heartbeat: now,
        };
        let mut lock = RunLock {
            path: path.to_owned(),
            holder: me,
            file,
            clock: env.clock.clone(),
        };
        lock.write()?;
        // A holder named in the file, though nobody held the lock: it died holding it.
        let replaced = previous.filter(|h| !(h.pid == 0 && h.host.is_empty()));
        if replaced.is_some() {
            tracing::warn!(lock = %path.display(), "the last holder of the run lock died without releasing it");
        }
        Ok((lock, replaced))
    }

    fn write(&mut self) -> Result<()> {
        use std::io::Seek;
        let text = serde_json::to_string(&self.holder).expect("holder serialises");
        self.file.set_len(0).map_err(Error::io(&self.path))?;
        self.file
            .seek(std::io::SeekFrom::Start(0))
            .map_err(Error::io(&self.path))?;
        self.file
            .write_all(text.as_bytes())
            .map_err(Error::io(&self.path))
    }

    /// Refreshes the heartbeat.
    pub fn heartbeat(&mut self) {
        self.holder.heartbeat = self.clock.now_s().to_string();
        let _ = self.write();
    }

    /// Reads the holder named in a lock file, if any (`None` when released).
    pub fn holder(path: &Path) -> Option<Holder> {
        let h: Holder = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        (h.pid != 0).then_some(h)
    }

    /// Whether some process holds the lock at `path` now.
    pub fn held(path: &Path) -> bool {
        open_existing(path).is_some_and(|file| !try_flock(&file))
    }

    /// Clears the holder named in a lock nobody holds (what a killed run left). Returns
    /// whether there was one.
    pub fn clear_stale(path: &Path) -> bool {
        let Some(file) = open_existing(path) else {
            return false;
        };
        if !try_flock(&file) || RunLock::holder(path).is_none() {
            return false;
        }
        file.set_len(0).is_ok()
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Say it is free (the flock goes with the file descriptor).
        let _ = self.file.set_len(0);
    }
}

/// A writer's turn at one mission's state on this machine: an `flock` on
/// `<git common dir>/git-mission/<mission>.state.lock`, held from the read of the integration
/// head to the commit (and its push) of a state change. Writers of one mission on one machine
/// take turns instead of racing: a loser of a compare-and-swap has made every object of its
/// commit (and a merge's tree) for nothing, and applies its change again.
///
/// The turn is an optimisation, never a condition of correctness: the commit is still a
/// compare-and-swap (writers on other machines, or a `git` command, take no turn), a writer
/// that waits longer than its patience goes ahead without one, and a turn a thread already
/// holds is not taken again (a nested change of the same mission would otherwise wait for
/// itself). The kernel drops the lock when its holder dies.
#[derive(Debug)]
pub struct Turn {
    /// The locked file, when this value took the turn (not when it was already held here).
    held: Option<(PathBuf, std::fs::File)>,
}

thread_local! {
    /// The turns this thread holds.
    static TURNS: std::cell::RefCell<Vec<PathBuf>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How many times, in this process, a writer found the turn taken and waited for it.
pub static TURN_WAITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Turn {
    /// Takes the turn at `path`, waiting up to `patience` for its holder. Never fails: when the
    /// lock file cannot be made, or the holder keeps it too long, the writer goes on without
    /// a turn (and says so in the log).
    pub fn take(path: &Path, patience: std::time::Duration) -> Turn {
        use std::time::Duration;
        if TURNS.with(|t| t.borrow().iter().any(|p| p == path)) {
            return Turn { held: None };
        }
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
        };
        let file = match open().or_else(|_| {
            let dir = path.parent().unwrap_or(path);
            std::fs::create_dir_all(dir)?;
            open()
        }) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(lock = %path.display(), error = %e, "state.turn: no lock file; committing without a turn");
                return Turn { held: None };
            }
        };
        if !try_flock(&file) {
            TURN_WAITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Time waited, counted in pauses (the process's clock is the command's to read).
            let mut waited = Duration::ZERO;
            let mut pause = Duration::from_micros(500);
            loop {
                std::thread::sleep(pause);
                waited += pause;
                if try_flock(&file) {
                    tracing::info!(lock = %path.display(), waited_ms = waited.as_millis() as u64, "state.turn: waited for another writer of this mission");
                    break;
                }
                if waited >= patience {
                    tracing::warn!(lock = %path.display(), "state.turn: another writer kept the turn for {}s; committing without it", patience.as_secs());
                    return Turn { held: None };
                }
                pause = (pause * 2).min(Duration::from_millis(8));
            }
        }
        TURNS.with(|t| t.borrow_mut().push(path.to_owned()));
        Turn {
            held: Some((path.to_owned(), file)),
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some((path, _file)) = self.held.take() {
            TURNS.with(|t| t.borrow_mut().retain(|p| *p != path));
            // The lock goes with the file, closed here.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::fixed(
            &[],
            "2026-01-01T00:00:00Z".parse().expect("time"),
            std::time::Instant::now,
        )
    }

    /// Waits (bounded) until nobody holds the lock at `path`: a `git` another test's thread
    /// is starting shares the lock's file description from its fork to its exec (the file is
    /// closed on exec), for microseconds, and holds the lock that long.
    fn released(path: &Path) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while RunLock::held(path) {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }

    #[test]
    fn a_live_holder_is_refused_and_a_dead_one_replaced() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("run.lock");
        let (lock, replaced) = RunLock::acquire(&path, &env()).expect("free lock");
        assert!(replaced.is_none());
        assert!(RunLock::held(&path));
        let err = RunLock::acquire(&path, &env()).expect_err("held by a live holder");
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(lock);
        assert!(released(&path));
        assert_eq!(RunLock::holder(&path), None, "released");
        // A holder that died holding it left its name in the file, not the lock.
        let dead = Holder {
            pid: 999_999_999,
            host: "localhost".into(),
            started: "2026-01-01T00:00:00Z".into(),
            heartbeat: "2026-01-01T00:00:00Z".into(),
        };
        std::fs::write(&path, serde_json::to_string(&dead).expect("json")).expect("write");
        assert!(released(&path));
        let (_lock, replaced) = RunLock::acquire(&path, &env()).expect("dead holder replaced");
        assert_eq!(replaced.map(|h| h.pid), Some(999_999_999));
    }

    #[test]
    fn a_pid_reused_by_another_process_is_not_a_holder() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("run.lock");
        // The file names pid 1 (alive, not git mission): nobody holds the flock.
        let stale = Holder {
            pid: 1,
            host: "localhost".into(),
            started: "2026-01-01T00:00:00Z".into(),
            heartbeat: "2026-01-01T00:00:00Z".into(),
        };
        std::fs::write(&path, serde_json::to_string(&stale).expect("json")).expect("write");
        assert!(released(&path));
        let (_lock, replaced) = RunLock::acquire(&path, &env()).expect("taken");
        assert_eq!(replaced.map(|h| h.pid), Some(1));
    }
}

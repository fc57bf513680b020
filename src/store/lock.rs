//! The per-mission, per-machine run lock: one `git mission run` per mission per machine.
//!
//! The lock is a file in the repository's common git directory holding the holder's pid,
//! host and heartbeat. A holder whose process is gone (same host, pid not alive) is reported
//! as dead and replaced; a live holder is never taken over.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub started: String,
    pub heartbeat: String,
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    holder: Holder,
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

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into())
}

fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_string()
}

impl RunLock {
    /// Takes the lock at `path`. Returns the lock and, when a dead holder was replaced, who it was.
    pub fn acquire(path: &Path) -> Result<(RunLock, Option<Holder>)> {
        let dir = path.parent().expect("lock path has a parent");
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let me = Holder {
            pid: std::process::id(),
            host: hostname(),
            started: now(),
            heartbeat: now(),
        };
        let mut replaced = None;
        for _ in 0..3 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut f) => {
                    f.write_all(
                        serde_json::to_string(&me)
                            .expect("holder serialises")
                            .as_bytes(),
                    )
                    .map_err(Error::io(path))?;
                    return Ok((
                        RunLock {
                            path: path.to_owned(),
                            holder: me,
                        },
                        replaced,
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(path).unwrap_or_default();
                    match serde_json::from_str::<Holder>(&text) {
                        Ok(h) if h.host == me.host && pid_alive(h.pid) => {
                            return Err(Error::user_hint(
                                format!(
                                    "another `git mission run` holds this mission (pid {} on {}, since {}, last heartbeat {})",
                                    h.pid, h.host, h.started, h.heartbeat
                                ),
                                format!(
                                    "stop it first, or wait for it; the lock is {}",
                                    path.display()
                                ),
                            ));
                        }
                        Ok(h) if h.host != me.host => {
                            return Err(Error::user_hint(
                                format!(
                                    "the run lock is held by pid {} on another host ({})",
                                    h.pid, h.host
                                ),
                                format!("if that run is gone, remove {}", path.display()),
                            ));
                        }
                        other => {
                            tracing::warn!(lock = %path.display(), "replacing a run lock whose holder is dead");
                            replaced = other.ok();
                            let _ = std::fs::remove_file(path);
                        }
                    }
                }
                Err(e) => return Err(Error::io(path)(e)),
            }
        }
        Err(Error::Internal(format!(
            "could not take the run lock {}",
            path.display()
        )))
    }

    /// Refreshes the heartbeat.
    pub fn heartbeat(&mut self) {
        self.holder.heartbeat = now();
        let tmp = self.path.with_extension("tmp");
        if std::fs::write(
            &tmp,
            serde_json::to_string(&self.holder).expect("serialises"),
        )
        .is_ok()
        {
            let _ = std::fs::rename(&tmp, &self.path);
        }
    }

    /// Reads the holder of a lock file, if any.
    pub fn holder(path: &Path) -> Option<Holder> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if RunLock::holder(&self.path).is_some_and(|h| h.pid == self.holder.pid) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_holder_is_refused_and_a_dead_one_replaced() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("run.lock");
        let (lock, replaced) = RunLock::acquire(&path).expect("free lock");
        assert!(replaced.is_none());
        let err = RunLock::acquire(&path).expect_err("held by this live process");
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(lock);
        assert!(!path.exists());
        // A holder that no longer exists.
        let dead = Holder {
            pid: 999_999_999,
            host: hostname(),
            started: now(),
            heartbeat: now(),
        };
        std::fs::write(&path, serde_json::to_string(&dead).expect("json")).expect("write");
        let (_lock, replaced) = RunLock::acquire(&path).expect("dead holder replaced");
        assert_eq!(replaced.map(|h| h.pid), Some(999_999_999));
    }
}

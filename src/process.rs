//! The one process builder for agents, checks and validation commands: argv only (never a
//! shell string built from data), its own process group, stdin from a file, output to files,
//! a wall-clock timeout, and stopping by TERM to the group, a grace period, then KILL.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::env::Clock;

use crate::error::{Context, Error, Result};

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    /// Start from an empty environment: the process sees `env` and nothing else (agents).
    pub clear_env: bool,
    /// Feed this file on stdin (else stdin is empty).
    pub stdin: Option<PathBuf>,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub timeout: Option<Duration>,
    /// Time between TERM and KILL.
    pub grace: Duration,
    /// Called with the process group id once the process runs (to record it).
    pub pgid_file: Option<PathBuf>,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Finished {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub wall_ms: u64,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
}

/// Sends `sig` to a whole process group; a group that is already gone is fine.
pub fn signal_group(pgid: u32, sig: i32) {
    if let Ok(p) = i32::try_from(pgid)
        && p > 1
    {
        // SAFETY: killpg only sends a signal; errors (ESRCH) are ignored on purpose.
        unsafe {
            libc::killpg(p, sig);
        }
    }
}

/// Whether process `pid` has ended and waits to be reaped (a zombie: a worker whose parent
/// has not waited for it yet). `false` when it cannot tell.
pub fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X")
    })
}

/// Whether any process of the group is still alive (zombies waiting to be reaped do not
/// count: a killed child of a dead parent may linger as one where init does not reap).
pub fn group_alive(pgid: u32) -> bool {
    if let Ok(p) = i32::try_from(pgid) {
        // SAFETY: signal 0 checks existence only. No process in the group at all is the
        // common answer, and it needs no walk of every process on the machine.
        let none = unsafe { libc::killpg(p, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if none {
            return false;
        }
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        let Ok(p) = i32::try_from(pgid) else {
            return false;
        };
        // SAFETY: signal 0 checks existence only.
        return unsafe { libc::killpg(p, 0) } == 0;
    };
    entries.flatten().any(|e| {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // Fields after the parenthesised command: state, ppid, pgrp, ...
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            return false;
        };
        let mut f = rest.split_whitespace();
        let state = f.next().unwrap_or("Z");
        let pgrp = f.nth(1).and_then(|x| x.parse::<u32>().ok());
        pgrp == Some(pgid) && state != "Z" && state != "X"
    })
}

/// Stops a group: TERM, up to `grace` for it to go, then KILL.
pub fn stop_group(pgid: u32, grace: Duration, clock: &Clock) {
    signal_group(pgid, libc::SIGTERM);
    let deadline = clock.instant() + grace;
    while group_alive(pgid) && clock.instant() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if group_alive(pgid) {
        signal_group(pgid, libc::SIGKILL);
    }
}

/// Runs to completion (or timeout). `cancelled` is polled; when it returns true the group is
/// stopped like on a timeout. `clock` times it; under a fixed clock its recorded duration is
/// 0 (a reproducible run records no measured times).
pub fn run(spec: &Spec, cancelled: &dyn Fn() -> bool, clock: &Clock) -> Result<Finished> {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    let program = spec
        .argv
        .first()
        .ok_or_else(|| Error::user("empty command"))?;
    let open = |p: &Path| File::create(p).map_err(Error::io(p));
    let stdin = match &spec.stdin {
        Some(p) => Stdio::from(File::open(p).map_err(Error::io(p))?),
        None => Stdio::null(),
    };
    let mut cmd = Command::new(program);
    if spec.clear_env {
        cmd.env_clear();
    }
    cmd.args(&spec.argv[1..])
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(stdin)
        .stdout(open(&spec.stdout)?)
        .stderr(open(&spec.stderr)?)
        .process_group(0);
    let start = clock.instant();
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: program.clone(),
        source,
    })?;
    let pgid = child.id();
    if let Some(p) = &spec.pgid_file {
        let _ = std::fs::write(p, pgid.to_string());
    }
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send(());
        status
    });
    let mut timed_out = false;
    let tick = Duration::from_millis(50);
    loop {
        match rx.recv_timeout(tick) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let over = spec
                    .timeout
                    .is_some_and(|t| clock.instant().duration_since(start) >= t);
                if over || cancelled() {
                    timed_out = over;
                    stop_group(pgid, spec.grace, clock);
                    let _ = rx.recv();
                    break;
                }
            }
        }
    }
    let status = waiter
        .join()
        .map_err(|_| Error::Internal("process waiter panicked".into()))?
        .context(|| format!("waiting for {program:?}"))?;
    // Leftovers of the group (daemonised helpers) do not outlive the run.
    if group_alive(pgid) {
        stop_group(pgid, spec.grace, clock);
    }
    let wall_ms = if clock.is_fixed() {
        0
    } else {
        u64::try_from(clock.instant().duration_since(start).as_millis()).unwrap_or(u64::MAX)
    };
    Ok(Finished {
        code: status.code(),
        signal: status.signal(),
        timed_out,
        wall_ms,
    })
}

/// Runs a command line written by the user (checks, validation commands) with `sh -c`.
/// The text is the user's own configuration, never data from agents or comments.
pub fn shell_spec(command: &str, cwd: &Path, out: &Path, timeout: Option<Duration>) -> Spec {
    Spec {
        argv: vec!["sh".into(), "-c".into(), command.into()],
        cwd: cwd.to_owned(),
        env: Vec::new(),
        clear_env: false,
        stdin: None,
        stdout: out.to_owned(),
        stderr: out.with_extension("err"),
        timeout,
        grace: Duration::from_secs(5),
        pgid_file: None,
    }
}

/// The last `n` lines of a file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> Clock {
        Clock::new(
            jiff::Timestamp::now,
            jiff::Timestamp::now,
            std::time::Instant::now,
        )
    }

    fn spec(dir: &Path, script: &str, timeout: Option<Duration>) -> Spec {
        Spec {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            cwd: dir.to_owned(),
            stdout: dir.join("out"),
            stderr: dir.join("err"),
            timeout,
            grace: Duration::from_millis(300),
            pgid_file: Some(dir.join("pgid")),
            ..Spec::default()
        }
    }

    #[test]
    fn exit_codes_and_output_are_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = run(
            &spec(dir.path(), "echo hi; echo oops >&2; exit 3", None),
            &|| false,
            &clock(),
        )
        .expect("runs");
        assert_eq!(f.code, Some(3));
        assert!(!f.timed_out);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out")).expect("out"),
            "hi\n"
        );
        assert_eq!(tail(&dir.path().join("err"), 1), "oops");
    }

    #[test]
    fn a_timeout_kills_the_whole_group_even_when_term_is_ignored() {
        let dir = tempfile::tempdir().expect("tmp");
        // The leader and a child both ignore TERM.
        let script = "trap '' TERM; (trap '' TERM; sleep 30) & sleep 30; wait";
        let f = run(
            &spec(dir.path(), script, Some(Duration::from_millis(200))),
            &|| false,
            &clock(),
        )
        .expect("runs");
        assert!(f.timed_out);
        assert_eq!(f.signal, Some(libc::SIGKILL));
        let pgid: u32 = std::fs::read_to_string(dir.path().join("pgid"))
            .expect("pgid")
            .parse()
            .expect("number");
        assert!(!group_alive(pgid), "no process of the group may be left");
        assert!(f.wall_ms < 10_000);
    }

    #[test]
    fn a_missing_program_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = spec(dir.path(), "", None);
        s.argv = vec!["definitely-not-a-program-xyz".into()];
        let err = run(&s, &|| false, &clock()).expect_err("cannot start");
        assert!(
            err.to_string()
                .contains("cannot start \"definitely-not-a-program-xyz\""),
            "{err}"
        );
    }
}

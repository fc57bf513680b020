//! `git mission watch`, driven as a person would: in tmux (send-keys, capture-pane), 80×24,
//! while `git mission run` works in another process. Features change state on screen as the
//! run goes, the agent's output shows in the runs panel, `p` pauses the mission through the
//! store, `q` quits. Without a terminal it prints `status` as the mission changes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{OK_WORKER, TestRepo};

/// A tmux server of its own, killed when the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(script: &Path) -> Tmux {
        // One server per test: tests of this binary run in parallel.
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let socket = format!("gm-watch-{}-{n}", std::process::id());
        let ok = Command::new("tmux")
            .args([
                "-u",
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "80",
                "-y",
                "24",
            ])
            .arg(format!("sh {}", script.display()))
            .status()
            .expect("tmux: this test drives the terminal view in tmux")
            .success();
        assert!(ok, "tmux new-session");
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-u", "-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "0"]).stdout).into_owned()
    }

    /// Waits until the screen satisfies `ok` (a deadline, not a sleep: the screen is read
    /// again until it does, or the test fails with what it showed).
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "never saw {what}; the screen:\n{s}"
            );
            std::thread::yield_now();
        }
    }

    fn keys(&self, keys: &str) {
        assert!(self.tmux(&["send-keys", "-t", "0", keys]).status.success());
    }

    fn alive(&self) -> bool {
        self.tmux(&["has-session"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// The line of the feature table that shows feature `f`.
fn row<'s>(screen: &'s str, f: &str) -> &'s str {
    screen
        .lines()
        .find(|l| l.contains(&format!("  {f} ")))
        .unwrap_or("")
}

/// A shell script that runs `git-mission <args>` in the repository with the test's hermetic
/// environment (tmux starts it with its own).
fn script(repo: &TestRepo, name: &str, args: &str, extra: &[(&str, &str)]) -> PathBuf {
    let cmd = repo.command(&[], extra);
    let mut s = String::from("set -e\n");
    for (k, v) in cmd.get_envs() {
        if let (k, Some(v)) = (k.to_string_lossy(), v) {
            s.push_str(&format!("export {k}='{}'\n", v.to_string_lossy()));
        }
    }
    s.push_str("export LC_ALL=C.UTF-8 TERM=xterm-256color\nunset NO_COLOR\n");
    s.push_str(&format!(
        "cd '{}'\n'{}' {args}\n",
        repo.root().display(),
        env!("CARGO_BIN_EXE_git-mission")
    ));
    let path = repo.home().join(name);
    std::fs::write(&path, s).expect("script");
    path
}

#[test]
fn watch_shows_features_change_live_and_p_pauses() {
    let repo = TestRepo::new();
    let gates = repo.home().join("gates");
    std::fs::create_dir_all(&gates).expect("gates");
    // Each worker says what it does, then waits for the test to open its gate.
    let worker = format!(
        "echo \"working on $GIT_MISSION_FEATURE\"\nwhile [ ! -e '{}/'\"$GIT_MISSION_FEATURE\" ]; do sleep 0.05; done\n{OK_WORKER}",
        gates.display()
    );
    repo.mission(
        &worker,
        "limits: {max_parallel_workers: 1}\n",
        "  - id: M1\n    title: One\n    validation: {commands: [\"true\"]}\n    features:\n      - {id: F1, title: first, description: x}\n      - {id: F2, title: second, description: y}\n",
    );
    let mut run = repo
        .command(&["run", "m"], &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run");
    let tmux = Tmux::start(&script(&repo, "watch.sh", "watch m --interval 0.2", &[]));
    let s = tmux.wait_for("F1 running with its agent's output", |s| {
        row(s, "F1").contains("running") && s.contains("working on F1")
    });
    assert!(s.contains("m — Test mission"), "{s}");
    assert!(row(&s, "F2").contains("pending"), "{s}");
    assert!(
        s.contains("F1 · exec · worker"),
        "the run's feature, agent and role:\n{s}"
    );
    assert!(row(&s, "F1").contains("m.F1"), "its branch:\n{s}");
    // Every line fits 80 columns and the footer names the keys.
    assert!(s.lines().all(|l| l.chars().count() <= 80));
    assert!(s.contains("p pause"), "{s}");
    std::fs::write(gates.join("F1"), "").expect("gate");
    tmux.wait_for("F1 merged and F2 running", |s| {
        row(s, "F1").contains("merged") && row(s, "F2").contains("running")
    });
    // Select F2 (rows: M1, F1, F2), steer it, read its run's log.
    tmux.keys("Down");
    tmux.keys("Down");
    tmux.keys("s");
    tmux.wait_for("the steering prompt", |s| s.contains("steer F2: "));
    tmux.keys("use tabs");
    tmux.keys("Enter");
    tmux.wait_for("the steer command's answer", |s| {
        s.contains("git mission steer")
    });
    assert!(
        repo.events().iter().any(|e| e["type"] == "feature.steered"
            && e["feature"] == "F2"
            && e["data"]["message"] == "use tabs"),
        "the steer went through the store"
    );
    tmux.keys("Enter");
    let s = tmux.wait_for("F2's log", |s| {
        s.contains("F2 · run ") && s.contains("working on F2")
    });
    assert!(s.contains("stdout.log"), "{s}");
    tmux.keys("Escape");
    tmux.wait_for("the mission view again", |s| s.contains(" Features "));
    tmux.keys("p");
    let s = tmux.wait_for("the mission paused", |s| {
        s.lines().next().is_some_and(|l| l.contains("paused"))
    });
    assert!(
        s.contains("git mission pause"),
        "the key's command and its answer:\n{s}"
    );
    assert_eq!(repo.status_json()["status"], "paused");
    assert!(
        repo.events().iter().any(|e| e["type"] == "mission.paused"),
        "the pause went through the store"
    );
    // The running worker finishes; the paused run then stops.
    std::fs::write(gates.join("F2"), "").expect("gate");
    let code = run.wait().expect("run").code();
    assert_eq!(code, Some(3), "a paused mission stops `run` with 3");
    tmux.keys("r");
    tmux.wait_for("the mission resumed", |s| {
        s.lines().next().is_some_and(|l| l.contains("running")) && s.contains("git mission resume")
    });
    assert_eq!(repo.status_json()["status"], "running");
    tmux.keys("q");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tmux.alive() {
        assert!(
            Instant::now() < deadline,
            "q did not quit:\n{}",
            tmux.screen()
        );
        std::thread::yield_now();
    }
}

#[test]
fn without_a_terminal_watch_prints_status_as_it_changes() {
    let repo = TestRepo::new();
    repo.mission(
        OK_WORKER,
        "",
        "  - id: M1\n    title: One\n    validation: {commands: [\"true\"]}\n    features:\n      - {id: F1, title: first, description: x}\n",
    );
    let run = repo.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(run.code, 0);
    // Piped: the action lines, no progress line.
    assert!(run.stderr.contains("· dispatch F1"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("merged ·") && !run.stderr.contains('\u{1b}'),
        "{}",
        run.stderr
    );
    // Finished: one status, then it ends by itself.
    let out = repo.run_deadline(&["watch", "m"], &[], 30);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("── m at "), "{}", out.stdout);
    assert!(out.stdout.contains("status: completed"), "{}", out.stdout);
    assert!(
        !out.stdout.contains('\u{1b}'),
        "no terminal codes when piped"
    );
    assert_eq!(out.stdout.matches("── m at ").count(), 1);
}

#[test]
fn run_on_a_terminal_shows_a_live_progress_line() {
    let repo = TestRepo::new();
    let gate = repo.home().join("gate");
    repo.mission(
        &format!("while [ ! -e '{}' ]; do sleep 0.05; done\n{OK_WORKER}", gate.display()),
        "",
        "  - id: M1\n    title: One\n    validation: {commands: [\"true\"]}\n    features:\n      - {id: F1, title: first, description: x}\n      - {id: F2, title: second, description: y}\n",
    );
    let tmux = Tmux::start(&script(&repo, "run.sh", "run m || true; sleep 600", &[]));
    let s = tmux.wait_for("the progress line", |s| {
        s.contains("M1 active · 0/2 merged · 2 running · $0.00 · ")
    });
    // Action lines above it stay whole.
    assert!(
        s.lines().any(|l| l.trim() == "· dispatch F1 (attempt 1)"),
        "{s}"
    );
    std::fs::write(&gate, "").expect("gate");
    let s = tmux.wait_for("the end", |s| s.contains("mission m completed"));
    assert!(
        !s.contains("running · $"),
        "the line is cleared at the end:\n{s}"
    );
}

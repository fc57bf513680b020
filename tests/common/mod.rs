//! Hermetic test repositories and the real binary (ENGINEERING.md "Tests").
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const NOW: &str = "2026-11-21T10:00:00Z";

/// A temporary git repository with its own HOME and git configuration.
pub struct TestRepo {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
}

/// What a command printed and how it exited.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Exit code, stdout and stderr in one text, for snapshots.
    pub fn snapshot(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code, 0, "{}", self.snapshot());
        self
    }
}

impl TestRepo {
    /// A repository on branch main with one commit.
    pub fn new() -> TestRepo {
        let tmp = tempfile::tempdir().expect("temp dir");
        let base = tmp.path().canonicalize().expect("canonical temp dir");
        let root = base.join("repo");
        let home = base.join("home");
        std::fs::create_dir_all(&root).expect("mkdir repo");
        std::fs::create_dir_all(&home).expect("mkdir home");
        std::fs::write(home.join(".gitconfig"), "").expect("gitconfig");
        let repo = TestRepo {
            _tmp: tmp,
            root,
            home,
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write("README.md", "# sample\n");
        repo.git(&["add", "-A"]);
        repo.git(&["commit", "-q", "-m", "initial"]);
        repo
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ada Lovelace")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada Lovelace")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .env("GIT_AUTHOR_DATE", NOW)
            .env("GIT_COMMITTER_DATE", NOW)
            .env("TZ", "UTC")
            .env("NO_COLOR", "1")
            .env("LC_ALL", "C");
    }

    /// Runs git in the repository; panics on failure.
    pub fn git(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        let out = cmd
            .args(args)
            .current_dir(&self.root)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Runs `git-mission` with these arguments in the repository.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// Runs `git-mission` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-mission"));
        self.env(&mut cmd);
        cmd.envs(env.iter().copied());
        let out = cmd
            .args(args)
            .current_dir(&self.root)
            .output()
            .expect("run git-mission");
        let redact = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .replace(&*self.root.to_string_lossy(), "[REPO]")
                .replace(&*self.home.to_string_lossy(), "[HOME]")
        };
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: redact(&out.stdout),
            stderr: redact(&out.stderr),
        }
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).expect("read")
    }

    /// Commits everything.
    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }
}

/// The path of a mission file.
pub fn mission_path(id: &str) -> String {
    format!("todo/missions/{id}-mission.md")
}

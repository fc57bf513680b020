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
            .env("PATH", test_path())
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

    /// Runs git in the repository; whether it succeeded.
    pub fn git_ok(&self, args: &[&str]) -> bool {
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        cmd.args(args)
            .current_dir(&self.root)
            .output()
            .expect("run git")
            .status
            .success()
    }

    /// Runs `git-mission` with these arguments in the repository.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// `git-mission` with these arguments, in the repository, with the hermetic environment.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-mission"));
        self.env(&mut cmd);
        cmd.envs(env.iter().copied())
            .args(args)
            .current_dir(&self.root);
        cmd
    }

    /// Runs `git-mission` with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = self.command(args, env).output().expect("run git-mission");
        let redact = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .replace(&*self.root.to_string_lossy(), "[REPO]")
                .replace(&*self.home.to_string_lossy(), "[HOME]")
                .replace(&*bin_dir().to_string_lossy(), "[BIN]")
                .replace(&test_path(), "[PATH]")
        };
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: redact(&out.stdout),
            stderr: redact(&out.stderr),
        }
    }

    /// Where this machine keeps mission `id`'s run directories and worktrees: under the test
    /// HOME's state directory, `git-mission/<repo dir name>-<hash>/<id>` (never in the repo).
    pub fn state_dir(&self, id: &str) -> PathBuf {
        let base = self.home.join(".local/state/git-mission");
        let prefix = format!(
            "{}-",
            self.root.file_name().expect("name").to_string_lossy()
        );
        let found: Vec<PathBuf> = std::fs::read_dir(&base)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                // `<name>-<16 hex>`; not its `.lock` file or a `.stale-…` directory moved aside.
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(&prefix) && name.len() == prefix.len() + 16
            })
            .map(|e| e.path().join(id))
            .collect();
        assert!(
            found.len() <= 1,
            "one state directory per repository: {found:?}"
        );
        found
            .into_iter()
            .next()
            .unwrap_or_else(|| base.join("(none yet)").join(id))
    }

    /// The run directories of mission `id` on this machine.
    pub fn runs_dir(&self, id: &str) -> PathBuf {
        self.state_dir(id).join("runs")
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

/// The agent CLIs git mission knows: tests must not find a developer's own copies.
pub const AGENT_PROGRAMS: [&str; 5] = ["claude", "codex", "opencode", "gemini", "aider"];

/// `PATH` for the commands under test: the machine's, without directories that hold an agent
/// CLI (unless git is there too), so results do not depend on which agents a developer has
/// installed.
pub fn test_path() -> String {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let all = std::env::var_os("PATH").unwrap_or_default();
        let dirs: Vec<PathBuf> = std::env::split_paths(&all)
            .filter(|d| {
                d.join("git").exists() || !AGENT_PROGRAMS.iter().any(|p| d.join(p).exists())
            })
            .collect();
        std::env::join_paths(dirs)
            .expect("PATH entries")
            .to_string_lossy()
            .into_owned()
    })
    .clone()
}

/// The directory of the binary under test (agents get it first on their PATH).
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_git-mission"))
        .parent()
        .expect("bin dir")
        .to_path_buf()
}

/// The path of a mission file.
pub fn mission_path(id: &str) -> String {
    format!("todo/missions/{id}-mission.md")
}

/// The test missions' worker profile: the script, and the variables tests hand it (agents see
/// only an allowlisted environment).
pub const W_PROFILE: &str = "  w: {agent: exec, command: [sh, scripts/w.sh], pass_env: [COUNTER, RENDEZVOUS, STARTED, GO, MARK]}\n";

/// A worker script that writes `out-<feature>.txt`, commits it and leaves a handoff.
pub const OK_WORKER: &str = r#"set -eu
echo "$GIT_MISSION_FEATURE by $GIT_MISSION_RUN" > "out-$GIT_MISSION_FEATURE.txt"
git add -A
git commit -q -m "$GIT_MISSION_FEATURE: work"
printf -- '---\nstatus: done\n---\nWrote out-%s.txt\n' "$GIT_MISSION_FEATURE" > "$GIT_MISSION_HANDOFF_FILE"
"#;

impl TestRepo {
    /// Writes `scripts/w.sh` and an approved, committed mission `m` whose workers run it.
    /// `settings` are extra frontmatter lines; `milestones` is the YAML of the milestone list.
    pub fn mission(&self, script: &str, settings: &str, milestones: &str) {
        self.write("scripts/w.sh", script);
        let text = format!(
            "---\nschema: 1\nid: m\ntitle: Test mission\nstatus: draft\napproved: null\nagents: {{worker: w}}\nprofiles:\n{W_PROFILE}{settings}spent: {{usd: 0, tokens: 0, hours: 0, runs: 0}}\nblock: null\ncontract:\n  - {{id: VC1, text: works}}\nresources: []\nmilestones:\n{milestones}---\n# Test\n\n## Objective\n\nTest.\n\n## Non-goals\n\nNone.\n\n## Risks\n\nNone.\n"
        );
        self.write(&mission_path("m"), &text);
        let v = self.run(&["validate", "m"]);
        assert_eq!(v.code, 0, "{}", v.snapshot());
        self.run(&["approve", "m"]).success();
        self.commit_all("plan and approve m");
    }

    /// Gives the approved mission `m` a validator agent (profile `v`, a script that always
    /// passes), committed.
    pub fn add_passing_validator(&self) {
        self.write(
            "scripts/v.sh",
            "echo '{\"verdict\":\"pass\",\"recommendation\":\"accept\",\"findings\":[]}' > \"$GIT_MISSION_REPORT_FILE\"\n",
        );
        let text = self.read(&mission_path("m")).replacen(
            W_PROFILE,
            &format!("{W_PROFILE}  v: {{agent: exec, command: [sh, scripts/v.sh]}}\n"),
            1,
        );
        let text = text.replacen(
            "agents: {worker: w}",
            "agents: {worker: w, validator: v}",
            1,
        );
        self.write(&mission_path("m"), &text);
        self.commit_all("the validator");
    }

    /// Runs `git-mission` with a deadline: a hung supervisor fails the test instead of hanging it.
    pub fn run_deadline(&self, args: &[&str], env: &[(&str, &str)], secs: u64) -> Output {
        let mut cmd = self.command(args, env);
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let child = cmd.spawn().expect("spawn git-mission");
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
            Ok(out) => {
                let out = out.expect("wait");
                Output {
                    code: out.status.code().unwrap_or(-1),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                }
            }
            Err(_) => {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                panic!("git-mission {args:?} did not finish within {secs} s");
            }
        }
    }

    /// The events of mission `m` on its integration branch.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.git(&["show", "mission/m:todo/missions/m/events.jsonl"])
            .lines()
            .map(|l| serde_json::from_str(l).expect("event JSON"))
            .collect()
    }

    /// `status m --json`.
    pub fn status_json(&self) -> serde_json::Value {
        let out = self.run(&["status", "m", "--json"]);
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|_| panic!("status json: {}", out.snapshot()))
    }
}

/// Events of a kind, optionally for one feature.
pub fn count(events: &[serde_json::Value], kind: &str, feature: Option<&str>) -> usize {
    events
        .iter()
        .filter(|e| e["type"] == kind && feature.is_none_or(|f| e["feature"] == f))
        .count()
}

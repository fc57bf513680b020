//! GitHub request budget (docs/performance.md): with 1, 10 and 100 open mission PRs whose
//! checks are still pending, a pulse that has nothing to do makes exactly one request (the
//! `MissionPulse` GraphQL query), counted by the in-process emulator. Also reports the wall
//! time of that pulse (median of 5).
//!
//! Run with `cargo bench --bench github`; it exits non-zero if any idle pulse makes more than
//! one request.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use github_emulator::{Checks, Emulator};

const WORKER: &str = "set -eu\necho \"$GIT_MISSION_FEATURE\" > \"out-$GIT_MISSION_FEATURE.txt\"\ngit add -A\ngit commit -q -m \"$GIT_MISSION_FEATURE\"\nprintf -- '---\\nstatus: done\\n---\\nok\\n' > \"$GIT_MISSION_HANDOFF_FILE\"\n";

fn env(home: &Path) -> Vec<(String, String)> {
    [
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_AUTHOR_NAME", "Bench"),
        ("GIT_AUTHOR_EMAIL", "bench@example.com"),
        ("GIT_COMMITTER_NAME", "Bench"),
        ("GIT_COMMITTER_EMAIL", "bench@example.com"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([("HOME".to_owned(), home.to_string_lossy().into_owned())])
    .collect()
}

fn git(dir: &Path, home: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(env(home))
        .status()
        .expect("git")
        .success();
    assert!(ok, "git {args:?}");
}

struct Setup {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    home: std::path::PathBuf,
    emu: Emulator,
}

impl Setup {
    fn mission(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_git-mission"))
            .args(args)
            .current_dir(&self.root)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env(&self.home))
            .env("GITHUB_API_URL", self.emu.url())
            .env("GITHUB_TOKEN", "bench")
            .env("GITHUB_REPOSITORY", "acme/widgets")
            .output()
            .expect("git-mission")
    }
}

fn setup(n: usize) -> Setup {
    let tmp = tempfile::tempdir().expect("tmp");
    let base = tmp.path().canonicalize().expect("canonical");
    let (root, home, bare) = (
        base.join("repo"),
        base.join("home"),
        base.join("origin.git"),
    );
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::create_dir_all(&home).expect("mkdir");
    git(
        &base,
        &home,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            &bare.to_string_lossy(),
        ],
    );
    git(&root, &home, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(root.join("scripts")).expect("mkdir");
    std::fs::write(root.join("scripts/w.sh"), WORKER).expect("worker");
    let features: String = (1..=n)
        .map(|i| format!("      - {{id: F{i}, title: feature {i}, description: x}}\n"))
        .collect();
    let text = format!(
        "---\nschema: 1\nid: b\ntitle: Bench\nstatus: draft\napproved: null\nforge: github\nland: pr\nagents: {{worker: w}}\nprofiles:\n  w: {{agent: exec, command: [sh, scripts/w.sh]}}\nlimits: {{max_parallel_workers: {n}}}\nspent: {{usd: 0, tokens: 0, hours: 0, runs: 0}}\nblock: null\ncontract:\n  - {{id: VC1, text: works}}\nresources: []\nmilestones:\n  - id: M1\n    title: One\n    validation: {{commands: [\"true\"], assertions: [VC1]}}\n    features:\n{features}---\n# Bench\n\n## Objective\n\nB.\n\n## Non-goals\n\nNone.\n\n## Risks\n\nNone.\n"
    );
    std::fs::create_dir_all(root.join("todo/missions")).expect("mkdir");
    std::fs::write(root.join("todo/missions/b-mission.md"), text).expect("mission");
    git(&root, &home, &["add", "-A"]);
    git(&root, &home, &["commit", "-q", "-m", "plan"]);
    git(
        &root,
        &home,
        &["remote", "add", "origin", &bare.to_string_lossy()],
    );
    let emu = Emulator::start(&bare, "acme", "widgets");
    // Checks never finish: every PR stays open and the mission waits.
    emu.set_checks(Checks::PassAfter(u32::MAX));
    let s = Setup {
        _tmp: tmp,
        root,
        home,
        emu,
    };
    let out = s.mission(&["approve", "b"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    git(&s.root, &s.home, &["commit", "-q", "-am", "approve"]);
    git(&s.root, &s.home, &["push", "-q", "origin", "main"]);
    s
}

fn main() {
    let mut failed = false;
    for n in [1usize, 10, 100] {
        let s = setup(n);
        let t = Instant::now();
        // Pulse until every feature's PR is open and the status comment is posted.
        let mut settled = 0;
        for _ in 0..5000 {
            s.mission(&["pulse", "b"]);
            let open = s
                .emu
                .pulls()
                .iter()
                .filter(|p| p.head.starts_with("mission/b."))
                .count();
            let posted = s.emu.issues().first().is_some_and(|i| {
                s.emu
                    .comments(i.number)
                    .iter()
                    .any(|c| c.body.contains("git-mission:status"))
            });
            if open == n && posted {
                settled += 1;
                if settled == 2 {
                    break;
                }
            }
        }
        let setup_time = t.elapsed();
        let mut times = Vec::new();
        let mut counts = Vec::new();
        for _ in 0..5 {
            s.emu.clear_requests();
            let t = Instant::now();
            let out = s.mission(&["pulse", "b"]);
            times.push(t.elapsed());
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            counts.push(s.emu.requests().len());
        }
        times.sort();
        let median: Duration = times[times.len() / 2];
        let max = *counts.iter().max().unwrap_or(&0);
        println!(
            "{n:>3} open PRs: idle pulse made {max} request(s) (5 pulses: {counts:?}); wall time median {:.1} ms; setup {:.1} s",
            median.as_secs_f64() * 1000.0,
            setup_time.as_secs_f64()
        );
        if max != 1 {
            failed = true;
        }
    }
    if failed {
        eprintln!("an idle pulse made more than one request");
        std::process::exit(1);
    }
}

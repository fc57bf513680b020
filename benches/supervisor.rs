//! Supervisor benchmarks (docs/performance.md):
//! 1. `git mission run` on a 100-feature mission (10 milestones × 10 features) with instant
//!    `exec` workers and 4 parallel workers: supervisor overhead per feature, i.e. total wall
//!    time minus the workers' own time (their summed wall time / 4), divided by 100;
//! 2. `git mission pulse --dry-run` on a started 1,000-feature mission in a repository with
//!    10,000 commits (median of 21);
//! 3. peak memory (max RSS) of the `run` process tree during (1);
//! 4. CPU per feature of `git mission run` on 50 instant features (5 milestones × 10) with 4
//!    workers, against the shell floor in the same run: a shell loop doing the same git work
//!    for each feature (a worktree on a new branch, the same worker script, the merge computed
//!    with `git merge-tree` and committed with `git commit-tree` + `git update-ref`, the
//!    worktree and branch removed); CPU is user + system time of every process (`getrusage`
//!    of the children), median of 5 paired rounds;
//! 5. processes started per feature by (4), counted with `strace -f -e execve` when strace is
//!    installed.
//!
//! Run with `cargo bench --bench supervisor`; it exits non-zero over budget (100 ms per feature,
//! 30 ms, 50 MB, 1.5× the shell floor, 12 processes a feature).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WORKER: &str = "set -eu\necho \"$GIT_MISSION_FEATURE\" > \"out-$GIT_MISSION_FEATURE.txt\"\ngit add -A\ngit commit -q -m \"$GIT_MISSION_FEATURE\"\nprintf -- '---\\nstatus: done\\n---\\nok\\n' > \"$GIT_MISSION_HANDOFF_FILE\"\n";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .envs(env())
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_AUTHOR_NAME", "Bench"),
        ("GIT_AUTHOR_EMAIL", "bench@example.com"),
        ("GIT_COMMITTER_NAME", "Bench"),
        ("GIT_COMMITTER_EMAIL", "bench@example.com"),
    ]
}

fn mission(milestones: usize, features: usize, max_parallel: u32) -> String {
    let mut ms = String::new();
    for m in 1..=milestones {
        ms.push_str(&format!("  - id: M{m}\n    title: Milestone {m}\n    validation: {{commands: [\"true\"], assertions: [VC1]}}\n    features:\n"));
        for f in 1..=features {
            let n = (m - 1) * features + f;
            let dep = if f > 1 && f % 3 == 0 {
                format!(", depends_on: [F{}]", n - 1)
            } else {
                String::new()
            };
            ms.push_str(&format!("      - {{id: F{n}, title: Feature {n}{dep}, assertions: [VC1], description: \"Build part {n}.\"}}\n"));
        }
    }
    format!(
        "---\nschema: 1\nid: bench\ntitle: Bench\nstatus: approved\nland: none\napproved: {{by: \"Bench <bench@example.com>\", at: \"2026-11-21T10:00:00Z\"}}\nagents: {{worker: w}}\nprofiles:\n  w: {{agent: exec, command: [sh, w.sh]}}\nlimits: {{max_parallel_workers: {max_parallel}, worker_timeout: 1m}}\nspent: {{usd: 0, tokens: 0, hours: 0, runs: 0}}\nblock: null\ncontract:\n  - {{id: VC1, text: works}}\nresources: []\nmilestones:\n{ms}---\n# Bench\n"
    )
}

fn repo_with(dir: &Path, mission_text: &str) {
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join("w.sh"), WORKER).expect("write worker");
    std::fs::create_dir_all(dir.join("todo/missions")).expect("mkdir");
    std::fs::write(dir.join("todo/missions/bench-mission.md"), mission_text)
        .expect("write mission");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "bench mission"]);
}

/// The shell floor of (4): the git work of a feature, done by hand for each in turn.
const FLOOR: &str = r#"set -eu
W=$(mktemp -d)
git branch mission/bench main
for n in $(seq 1 "$1"); do
  wt=$W/F$n; b=mission/bench.F$n
  git worktree add -q -b "$b" "$wt" mission/bench
  (cd "$wt" && GIT_MISSION_FEATURE=F$n GIT_MISSION_HANDOFF_FILE=$W/h$n sh w.sh)
  tree=$(git merge-tree --write-tree mission/bench "$b")
  c=$(git commit-tree "$tree" -p mission/bench -m "F$n")
  git update-ref refs/heads/mission/bench "$c"
  git worktree remove --force "$wt"
  git branch -D -q "$b"
done
rm -rf "$W"
"#;

/// CPU time (user + system) of every child waited for so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct we pass.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Runs `cmd` to success and returns the CPU it and its descendants used.
fn cpu_of(mut cmd: Command) -> Duration {
    let before = children_cpu();
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    children_cpu() - before
}

/// (4) and (5): the supervisor's CPU per feature against the shell floor's, and its processes.
fn against_the_floor(exe: &str, quick: bool) -> (Duration, Duration, Option<f64>) {
    let (ms, fs) = if quick { (1, 6) } else { (5, 10) };
    let features = ms * fs;
    let rounds = if quick { 1 } else { 5 };
    let (mut tool, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let dir = tempfile::tempdir().expect("tmp");
        repo_with(dir.path(), &mission(ms, fs, 4));
        let mut cmd = Command::new(exe);
        cmd.args(["run", "bench"])
            .current_dir(dir.path())
            .envs(env());
        tool.push(cpu_of(cmd) / features as u32);
        let dir = tempfile::tempdir().expect("tmp");
        repo_with(dir.path(), &mission(ms, fs, 4));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", FLOOR, "floor", &features.to_string()])
            .current_dir(dir.path())
            .envs(env());
        floor.push(cpu_of(cmd) / features as u32);
    }
    tool.sort();
    floor.sort();
    let processes = Command::new("strace").arg("-V").output().ok().map(|_| {
        let dir = tempfile::tempdir().expect("tmp");
        repo_with(dir.path(), &mission(ms, fs, 4));
        let trace = dir.path().join("trace");
        let out = Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=execve", "-e", "signal=none", "-o"])
            .arg(&trace)
            .args([exe, "run", "bench"])
            .current_dir(dir.path())
            .envs(env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("strace");
        assert!(out.success());
        let text = std::fs::read_to_string(&trace).expect("trace");
        // Successful starts only: a PATH search tries (and fails) other directories first;
        // with -f a call may be split into "unfinished" and "resumed" lines.
        let mut pending = std::collections::HashMap::new();
        let mut started = 0;
        for line in text.lines() {
            let pid = line.split_whitespace().next().unwrap_or("");
            let whole = if line.contains("resumed>") {
                match pending.remove(pid) {
                    Some(start) => format!("{start}{line}"),
                    None => continue,
                }
            } else if line.contains("execve(") && line.contains("<unfinished") {
                pending.insert(pid.to_owned(), line.to_owned());
                continue;
            } else {
                line.to_owned()
            };
            if whole.contains("execve(") && !whole.contains("= -1") {
                started += 1;
            }
        }
        f64::from(started) / features as f64
    });
    (tool[tool.len() / 2], floor[floor.len() / 2], processes)
}

fn max_rss_children_kib() -> i64 {
    // SAFETY: getrusage fills the struct we pass.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u.ru_maxrss
    }
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let exe = env!("CARGO_BIN_EXE_git-mission");

    // 4 and 5 first: 50 features against the shell floor, and the processes they start (the
    // runs below churn the file system, which slows file creation, which both pay for).
    let (tool_cpu, floor_cpu, processes) = against_the_floor(exe, quick);
    let cpu_ratio = tool_cpu.as_secs_f64() / floor_cpu.as_secs_f64();

    // 1 and 3: a 100-feature mission, 4 parallel workers; the median of three whole runs.
    let (ms, fs) = if quick { (2, 5) } else { (10, 10) };
    let features = ms * fs;
    let rounds = if quick { 1 } else { 3 };
    let mut results: Vec<(Duration, Duration, Duration)> = Vec::new();
    for _ in 0..rounds {
        let dir = tempfile::tempdir().expect("tmp");
        repo_with(dir.path(), &mission(ms, fs, 4));
        let start = Instant::now();
        let out = Command::new(exe)
            .args(["run", "bench"])
            .current_dir(dir.path())
            .envs(env())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("run");
        let wall = start.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let events = git(
            dir.path(),
            &["show", "mission/bench:todo/missions/bench/events.jsonl"],
        );
        let worker_ms: u64 = events
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|e| e["type"] == "run.finished")
            .filter_map(|e| e["data"]["wall_ms"].as_u64())
            .sum();
        let worker_time = Duration::from_millis(worker_ms / 4);
        results.push((
            wall.saturating_sub(worker_time) / features as u32,
            wall,
            worker_time,
        ));
    }
    results.sort();
    let (overhead, wall, worker_time) = results[results.len() / 2];
    let rss_mib = max_rss_children_kib() as f64 / 1024.0;

    // 2: pulse --dry-run on a started 1,000-feature mission in a 10,000-commit repository.
    let commits = if quick { 200 } else { 10_000 };
    let big = tempfile::tempdir().expect("tmp");
    git(big.path(), &["init", "-q", "-b", "main"]);
    let mut fi = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(big.path())
        .envs(env())
        .stdin(Stdio::piped())
        .spawn()
        .expect("fast-import");
    {
        let stdin = fi.stdin.as_mut().expect("stdin");
        let mut w = std::io::BufWriter::new(stdin);
        for i in 1..=commits {
            let data = format!("line {i}\n");
            let msg = format!("commit {i}");
            writeln!(
                w,
                "commit refs/heads/main\ncommitter Bench <bench@example.com> {} +0000\ndata {}\n{msg}\nM 644 inline file-{}.txt\ndata {}\n{data}",
                1_700_000_000 + i,
                msg.len(),
                i % 500,
                data.len()
            )
            .expect("write");
        }
    }
    assert!(fi.wait().expect("fast-import").success());
    git(big.path(), &["checkout", "-q", "main"]);
    std::fs::write(big.path().join("w.sh"), WORKER).expect("worker");
    std::fs::create_dir_all(big.path().join("todo/missions")).expect("mkdir");
    std::fs::write(
        big.path().join("todo/missions/bench-mission.md"),
        mission(50, 20, 4),
    )
    .expect("mission");
    git(big.path(), &["add", "-A"]);
    git(big.path(), &["commit", "-q", "-m", "bench mission"]);
    // Start it (creates the integration branch and marks it running) without running workers.
    git(big.path(), &["branch", "mission/bench"]);
    let runs = if quick { 3 } else { 21 };
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let o = Command::new(exe)
            .args(["pulse", "bench", "--dry-run"])
            .current_dir(big.path())
            .envs(env())
            .output()
            .expect("pulse");
        times.push(t.elapsed());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    times.sort();
    let dry = times[times.len() / 2];

    println!(
        "run: {features} features, 4 parallel workers: {:.2} s wall, workers {:.2} s (summed wall / 4)",
        wall.as_secs_f64(),
        worker_time.as_secs_f64()
    );
    println!(
        "supervisor overhead per feature: {:.1} ms (budget 100 ms)",
        overhead.as_secs_f64() * 1e3
    );
    println!("peak RSS of the run process tree: {rss_mib:.1} MiB (budget 50 MB)");
    println!(
        "pulse --dry-run, 1,000 features, {commits} commits: {:.2} ms median of {runs} (budget 30 ms)",
        dry.as_secs_f64() * 1e3
    );
    println!(
        "run on 50 features, 4 workers: {:.1} ms CPU a feature against {:.1} ms for the shell floor: {cpu_ratio:.2}× (budget 1.5×)",
        tool_cpu.as_secs_f64() * 1e3,
        floor_cpu.as_secs_f64() * 1e3
    );
    match processes {
        Some(p) => println!("processes a feature: {p:.1} (budget 12)"),
        None => println!("processes a feature: not counted (no strace)"),
    }
    if !quick
        && (overhead > Duration::from_millis(100)
            || dry > Duration::from_millis(30)
            || rss_mib > 50.0 * 1e6 / 1048576.0
            || cpu_ratio > 1.5
            || processes.is_some_and(|p| p > 12.0))
    {
        eprintln!("over budget");
        std::process::exit(1);
    }
}

//! Issue 15's budgets, as ratios to git's floor measured in the same run: on a started mission
//! of N features (every feature with a readiness warning: no description) in a repository of
//! N commits from 10,000 features on (made with `git fast-import`), the CPU time of
//! `status`, `status --json`, `validate` and `pulse --dry-run` against `git rev-parse` +
//! `git cat-file` of the mission file (paired medians: each round runs the floor and then
//! each command), and the peak RSS of `status`.
//!
//! `cargo bench --bench floor [-- N...]` (default 1000 10000) prints the ratios and exits
//! non-zero when one is over its budget (docs/performance.md). Under `cargo test --benches`
//! it runs once on 100 features without the budgets.

use std::path::Path;
use std::process::{Command, Stdio};

/// (command, budget at 1,000 features, budget at 10,000), as multiples of the floor.
const BUDGETS: &[(&str, f64, f64)] = &[
    ("status", 3.0, 10.0),
    ("status --json", 3.0, 10.0),
    ("validate", 3.0, 10.0),
    ("pulse --dry-run", 5.0, 5.0),
];

fn generate(n: usize, dir: &Path) {
    let mut s = String::from(
        "---\nschema: 1\nid: bench\ntitle: Bench\nstatus: running\napproved: {by: 'A <a@example.com>', at: 2026-11-25T00:00:00Z}\nagents: {worker: w, validator: w}\nprofiles:\n  w: {agent: exec, command: [sh, w.sh]}\nspent: {usd: 0, tokens: 0, hours: 0, runs: 0}\nblock: null\ncontract:\n  - {id: VC1, text: works}\nresources: []\nmilestones:\n",
    );
    let mut k = 0;
    for m in 0..n.div_ceil(20) {
        let status = if m == 0 { "active" } else { "pending" };
        s.push_str(&format!(
            "  - id: M{}\n    title: Milestone {}\n    status: {status}\n    validation: {{commands: [\"true\"], assertions: [VC1]}}\n    features:\n",
            m + 1,
            m + 1
        ));
        for f in 0..20 {
            k += 1;
            let dep = if f > 0 {
                format!(", depends_on: [F{}]", k - 1)
            } else {
                String::new()
            };
            s.push_str(&format!(
                "      - {{id: F{k}, title: Feature {k}, assertions: [VC1]{dep}, description: \"\"}}\n"
            ));
        }
    }
    s.push_str(
        "---\n# Bench\n\n## Objective\n\nFast.\n\n## Non-goals\n\nNone.\n\n## Risks\n\nNone.\n",
    );
    std::fs::create_dir_all(dir.join("todo/missions")).expect("mkdir");
    std::fs::write(dir.join("todo/missions/bench-mission.md"), s).expect("write");
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "A")
            .env("GIT_AUTHOR_EMAIL", "a@example.com")
            .env("GIT_COMMITTER_NAME", "A")
            .env("GIT_COMMITTER_EMAIL", "a@example.com")
            .status()
            .expect("git")
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    if n >= 10_000 {
        history(dir, n);
        git(&["checkout", "-q", "-f", "main"]);
    }
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "mission"]);
    // Started: the integration branch holds the running mission.
    git(&["branch", "mission/bench"]);
}

/// `commits` commits on `main`, each changing one of 100 small files.
fn history(dir: &Path, commits: usize) {
    use std::io::Write as _;
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    let mut stream = String::new();
    for i in 0..commits {
        let (msg, data) = (format!("commit {i}"), format!("line {i}\n"));
        stream.push_str(&format!(
            "commit refs/heads/main\ncommitter A <a@example.com> {} +0000\ndata {}\n{msg}\nM 100644 inline src/file{}.txt\ndata {}\n{data}\n",
            1_700_000_000 + i,
            msg.len(),
            i % 100,
            data.len()
        ));
    }
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(stream.as_bytes()).expect("write");
    drop(stdin);
    assert!(child.wait().expect("wait").success(), "git fast-import");
}

/// CPU milliseconds (user + system) the commands took, run one after another.
fn cpu(dir: &Path, cmds: &[Vec<String>]) -> f64 {
    let usage = || {
        // SAFETY: getrusage fills the struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
        let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
        ms(u.ru_utime) + ms(u.ru_stime)
    };
    let before = usage();
    for c in cmds {
        let st = Command::new(&c[0])
            .args(&c[1..])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run");
        assert!(st.code().is_some(), "{c:?} was killed");
    }
    usage() - before
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = match (bench, sizes.is_empty()) {
        (false, _) => vec![100],
        (true, true) => vec![1000, 10_000],
        (true, false) => sizes,
    };
    let exe = env!("CARGO_BIN_EXE_git-mission");
    let rounds = if bench { 11 } else { 1 };
    let mut over = Vec::new();
    for n in sizes {
        let tmp = tempfile::tempdir().expect("tmp");
        generate(n, tmp.path());
        let floor = vec![
            vec!["git".into(), "rev-parse".into(), "mission/bench".into()],
            vec![
                "git".into(),
                "cat-file".into(),
                "-p".into(),
                "mission/bench:todo/missions/bench-mission.md".into(),
            ],
        ];
        let mut floors = Vec::new();
        let mut times = vec![Vec::new(); BUDGETS.len()];
        for _ in 0..rounds {
            floors.push(cpu(tmp.path(), &floor));
            for (i, (what, _, _)) in BUDGETS.iter().enumerate() {
                let mut c = vec![exe.to_owned()];
                c.extend(what.split(' ').map(str::to_owned));
                c.push("bench".into());
                times[i].push(cpu(tmp.path(), &[c]));
            }
        }
        let f = median(floors);
        println!("{n} features: floor {f:.1} ms CPU");
        for (i, (what, b1k, b10k)) in BUDGETS.iter().enumerate() {
            let t = median(times[i].clone());
            let budget = if n >= 10_000 { *b10k } else { *b1k };
            let ratio = t / f;
            println!("  {what}: {t:.1} ms ({ratio:.1}× the floor; budget {budget}×)");
            if bench && n >= 1000 && ratio > budget {
                over.push(format!("{what} at {n} features: {ratio:.1}× > {budget}×"));
            }
        }
        let rss = Command::new("/usr/bin/time")
            .args(["-f", "%M", exe, "status", "bench"])
            .current_dir(tmp.path())
            .stdout(Stdio::null())
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .and_then(|l| l.trim().parse::<f64>().ok())
            });
        if let Some(kb) = rss {
            println!("  status peak RSS: {:.1} MiB", kb / 1024.0);
        }
    }
    if !over.is_empty() {
        eprintln!("over budget:\n  {}", over.join("\n  "));
        std::process::exit(1);
    }
}

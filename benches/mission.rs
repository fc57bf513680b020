//! Benchmarks of issue #2 (docs/performance.md): parse + validate + render of a generated
//! mission with 50 milestones × 20 features, and `git mission status` on it end to end.
//!
//! Run with `cargo bench --bench mission`. Prints medians; exits non-zero when a median is
//! over its budget (20 ms and 50 ms), so the figure in the docs stays honest.

use std::process::Command;
use std::time::{Duration, Instant};

use git_mission::mission::render::render_frontmatter;
use git_mission::mission::validate::validate;
use git_mission::mission::*;

const MILESTONES: usize = 50;
const FEATURES: usize = 20;
const RUNS: usize = 31;

fn generate() -> String {
    let mut m = Mission::draft("bench", "A mission with a thousand features");
    m.budget = Some(Budget {
        usd: Some(2000.0),
        alert_pct: Some(80),
        ..Budget::default()
    });
    m.contract = (1..=10)
        .map(|i| Assertion {
            id: format!("VC{i}"),
            text: format!("Assertion number {i} holds for every input"),
        })
        .collect();
    for mi in 0..MILESTONES {
        let features = (0..FEATURES)
            .map(|fi| {
                let n = mi * FEATURES + fi + 1;
                Feature {
                    id: format!("F{n}"),
                    title: format!("Feature {n}: implement part {fi} of milestone {}", mi + 1),
                    status: FeatureStatus::Pending,
                    depends_on: if fi > 0 { vec![format!("F{}", n - 1)] } else { vec![] },
                    assertions: vec![format!("VC{}", n % 10 + 1)],
                    checks: None,
                    skills: vec![],
                    attempts: 0,
                    pr: None,
                    origin: None,
                    description: format!(
                        "Build part {fi} of milestone {}.\nTouch src/part_{n}.rs and its tests.\nVerify with cargo test part_{n}.\n",
                        mi + 1
                    ),
                }
            })
            .collect();
        m.milestones.push(Milestone {
            id: format!("M{}", mi + 1),
            title: format!("Milestone {}", mi + 1),
            status: MilestoneStatus::Pending,
            failures: 0,
            validation: Validation {
                commands: vec!["cargo test --locked".into()],
                scrutiny: true,
                user_testing: None,
                assertions: vec![format!("VC{}", mi % 10 + 1)],
            },
            features,
        });
    }
    let body = git_mission::templates::MISSION
        .split_once("\n---\n")
        .expect("template has frontmatter")
        .1
        .replace("{{title}}", &m.title)
        .replace("{{goal}}", "Exercise the mission model at scale.")
        .replace(
            "<!-- What this mission will not do, so workers stay in scope. -->",
            "Nothing else.",
        )
        .replace(
            "<!-- Risks and likely blockers, and what would be done about each. -->",
            "None.",
        );
    MissionDoc::compose(&m, &body)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "Bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .status()
        .expect("git runs")
        .success();
    assert!(ok, "git {args:?}");
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run one quick round.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 3 } else { RUNS };
    let text = generate();
    let mut model = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let doc = MissionDoc::parse(text.clone()).expect("generated mission parses");
        let diags = validate(&doc, Some("bench"), &[]);
        let out = MissionDoc::compose(&doc.mission, doc.body());
        model.push(t.elapsed());
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(out.len(), text.len());
        assert_eq!(render_frontmatter(&doc.mission), doc.frontmatter());
    }
    let model = median(model);

    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(root.join("todo/missions")).expect("mkdir");
    std::fs::write(root.join("todo/missions/bench-mission.md"), &text).expect("write");
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "bench"]);
    let mut status = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_git-mission"))
            .args(["status", "bench"])
            .current_dir(root)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git-mission runs");
        status.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let status = median(status);

    let kib = text.len() / 1024;
    println!(
        "mission: {MILESTONES} milestones x {FEATURES} features, {kib} KiB, median of {runs} runs"
    );
    println!(
        "parse + validate + render: {:.2} ms (budget 20 ms)",
        model.as_secs_f64() * 1e3
    );
    println!(
        "git mission status (end to end): {:.2} ms (budget 50 ms)",
        status.as_secs_f64() * 1e3
    );
    if !quick && (model > Duration::from_millis(20) || status > Duration::from_millis(50)) {
        eprintln!("over budget");
        std::process::exit(1);
    }
}

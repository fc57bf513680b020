//! Mutation fuzzing of the mission parser, shared by `tests/parser_fuzz.rs` (a few thousand
//! cases on every test run) and `benches/parser_fuzz.rs` (100,000 and more): valid mission files
//! are mutated (bytes flipped, lines dropped, doubled or swapped, YAML punctuation and bracket
//! runs inserted, ids replaced with hostile ones) and every mutant goes through parse, validate
//! and rewrite. Nothing may panic or take long, and whatever the tool writes must parse again.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use git_mission::mission::MissionDoc;

/// A mission with every kind of value the format has.
pub const SEED: &str = "---
schema: 1
id: m
title: \"Fuzz: the whole format\"
status: running
mode: full
base: main
forge: local
land: pr
approved: {by: \"Ada <ada@example.com>\", at: 2026-11-21T10:00:00Z}
agents: {worker: w, validator: claude, orchestrator: none}
models: {worker: sonnet}
profiles:
  w: {agent: exec, command: [sh, scripts/w.sh], pass_env: [COUNTER]}
checks: [\"cargo test\"]
limits: {max_parallel_workers: 2, worker_attempts: 3, worker_timeout: 2h}
budget: {usd: 40, tokens: 3000000, alert_pct: 80}
spent: {usd: 1.5, tokens: 1000, hours: 0.5, runs: 2}
block: null
contract:
  - {id: VC1, text: works}
  - {id: VC2, text: \"still works, with: colons\"}
resources:
  - {name: db, status: needed, needed_by: M2}
milestones:
  - id: M1
    title: One
    status: active
    failures: 0
    validation: {commands: [\"true\"], scrutiny: true, assertions: [VC1]}
    features:
      - id: F1
        title: first
        status: merged
        depends_on: []
        assertions: [VC1]
        attempts: 1
        description: |
          Multi-line
          text.
      - {id: F2, title: second, status: running, depends_on: [F1], attempts: 1, description: x}
  - id: M2
    title: Two
    validation: {commands: [\"make check\"], assertions: [VC2]}
    features:
      - {id: F3, title: third, description: \"y\", checks: [\"make t\"]}
---
# Fuzz

## Objective

Everything.

<!-- git-mission:begin status -->
<!-- git-mission:end status -->
";

const TOKENS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ":",
    ": ",
    "- ",
    "'",
    "\"",
    "#",
    "|",
    ">",
    "&a",
    "*a",
    "!!str ",
    "\t",
    "\n",
    "---\n",
    "...",
    "null",
    "~",
    "yes",
    "0x1F",
    "1e999",
    "-1",
    "18446744073709551616",
    "\\u0000",
    "../../esc",
    "F1/../x",
    "$(touch x)",
    "`id`",
    "\u{feff}",
    "é",
    "\r\n",
    ": {",
    "<<: *a",
];

/// A small deterministic PRNG (xorshift64*), so a failing case is found again from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutant of `SEED`: 1 to 4 mutations.
pub fn mutant(seed: u64) -> String {
    let mut r = Rng::new(seed);
    let mut text = SEED.to_owned();
    for _ in 0..1 + r.below(4) {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let at = |r: &mut Rng, t: &str| {
            let mut i = r.below(t.len() + 1);
            while !t.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        text = match r.below(8) {
            // A token inserted anywhere.
            0 | 1 => {
                let i = at(&mut r, &text);
                format!(
                    "{}{}{}",
                    &text[..i],
                    TOKENS[r.below(TOKENS.len())],
                    &text[i..]
                )
            }
            // A character deleted.
            2 => {
                let i = at(&mut r, &text);
                let mut t = text.clone();
                if i < t.len() {
                    t.remove(i);
                }
                t
            }
            // A line dropped, doubled or moved.
            3 => {
                let i = r.below(lines.len());
                lines
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, l)| *l)
                    .collect()
            }
            4 => {
                let i = r.below(lines.len());
                let mut v = lines.clone();
                v.insert(i, lines[i]);
                v.concat()
            }
            5 => {
                let (i, j) = (r.below(lines.len()), r.below(lines.len()));
                let mut v = lines.clone();
                v.swap(i, j);
                v.concat()
            }
            // A run of brackets (the quadratic-parser bomb), short or long.
            6 => {
                let i = at(&mut r, &text);
                let n = [3, 70, 5_000][r.below(3)];
                format!("{}{}{}", &text[..i], "[".repeat(n), &text[i..])
            }
            // An id replaced by a hostile one.
            _ => {
                let ids = ["F1", "F2", "M1", "VC1", "id: m"];
                let hostile = ["../../esc", "F1/..", "", "F 1", "-rf", "F1\n  - x"];
                text.replacen(ids[r.below(ids.len())], hostile[r.below(hostile.len())], 1)
            }
        };
    }
    text
}

/// What fuzzing found.
#[derive(Debug, Default)]
pub struct Report {
    pub cases: u64,
    pub parsed: u64,
    pub slowest: Duration,
    pub failures: Vec<String>,
    /// Mutants the quick reader read (and serde_norway read the same).
    pub quick: u64,
}

/// The quick reader must read what it accepts exactly as serde_norway does.
fn quick_agrees(text: &str) -> Result<bool, String> {
    use git_mission::mission::Mission;
    let Some(fm) = text
        .strip_prefix("---\n")
        .and_then(|rest| rest.find("\n---\n").map(|end| &rest[..=end]))
    else {
        return Ok(false);
    };
    let Some(fast) =
        git_mission::mission::quick::parse(fm).and_then(|t| t.deserialize::<Mission>(fm))
    else {
        return Ok(false);
    };
    match serde_norway::from_str::<Mission>(fm) {
        Ok(slow) if slow == fast => Ok(true),
        Ok(_) => Err("the quick reader read another mission than serde_norway".to_owned()),
        Err(e) => Err(format!(
            "the quick reader read what serde_norway refuses: {e}"
        )),
    }
}

/// Runs `cases` mutants from `first`; each must not panic, must finish within `limit`, the
/// quick reader must agree with serde_norway on it, and when it parses, its rewrite must parse
/// to the same mission.
pub fn run(first: u64, cases: u64, limit: Duration) -> Report {
    static QUICK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    QUICK.store(0, std::sync::atomic::Ordering::Relaxed);
    let mut report = Report::default();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for seed in first..first + cases {
        let text = mutant(seed);
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(|| {
            if quick_agrees(&text)? {
                QUICK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let Ok(doc) = MissionDoc::parse(text.clone()) else {
                return Ok(false);
            };
            let _ = git_mission::mission::validate::validate(&doc, Some("m"), &[]);
            let (again, _) = doc.rewrite(&doc.mission);
            match MissionDoc::parse(again) {
                Ok(d) if d.mission == doc.mission => Ok(true),
                Ok(_) => Err("the rewrite parses to another mission".to_owned()),
                Err(d) => Err(format!("the rewrite does not parse: {}", d.message)),
            }
        });
        let took = started.elapsed();
        report.cases += 1;
        report.slowest = report.slowest.max(took);
        match outcome {
            Ok(Ok(parsed)) => report.parsed += u64::from(parsed),
            Ok(Err(why)) => report.failures.push(format!("seed {seed}: {why}")),
            Err(_) => report.failures.push(format!("seed {seed}: panicked")),
        }
        if took > limit {
            report
                .failures
                .push(format!("seed {seed}: took {took:?} (limit {limit:?})"));
        }
    }
    std::panic::set_hook(hook);
    report.quick = QUICK.load(std::sync::atomic::Ordering::Relaxed);
    report
}

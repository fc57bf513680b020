//! The architecture, checked: every module of `src/` belongs to a layer (docs/architecture.md)
//! and only imports from its own layer or below; no circle of imports spans more than two
//! files; only the CLI reads the process environment and the system clock.
//!
//! Imports are read from the source: `crate::…` and `super::…` paths (in `use` items, grouped
//! `use crate::{…}` lists and inline paths), outside comments and `#[cfg(test)] mod tests`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, lowest first, and the files (path prefixes under `src/`) in each. A file matches
/// its longest prefix.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "base",
        &[
            "action.rs",
            "error.rs",
            "git/error.rs",
            "store/error.rs",
            "forge/github/error.rs",
            "env.rs",
            "fsutil.rs",
            "faults.rs",
            "mission/",
            "templates.rs",
            "skills.rs",
            "comments/mod.rs",
        ],
    ),
    (
        "state",
        &[
            "git/",
            "process.rs",
            "events/",
            "store/",
            "config/",
            "claims.rs",
            "budget/",
            "workspace.rs",
        ],
    ),
    ("agents", &["agents/", "runs.rs"]),
    (
        "runs",
        &["worker.rs", "report.rs", "recovery.rs", "control.rs"],
    ),
    (
        "forge",
        &[
            "forge/mod.rs",
            "forge/github/mod.rs",
            "forge/github/client.rs",
            "forge/github/sync.rs",
            "forge/github/workers.rs",
        ],
    ),
    (
        "effects",
        &[
            "context.rs",
            "forge/local.rs",
            "forge/github/execute.rs",
            "comments/",
            "validation.rs",
            "validator.rs",
            "orchestrator.rs",
            "notify.rs",
        ],
    ),
    ("pulse", &["pulse/", "supervisor.rs"]),
    ("cli", &["cli/", "main.rs", "lib.rs"]),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn files(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("src").flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p.strip_prefix(src()).expect("under src");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn layer(file: &str) -> usize {
    let mut best: Option<(usize, usize)> = None;
    for (i, (_, prefixes)) in LAYERS.iter().enumerate() {
        for p in *prefixes {
            if file.starts_with(p) && best.is_none_or(|(len, _)| p.len() > len) {
                best = Some((p.len(), i));
            }
        }
    }
    best.unwrap_or_else(|| {
        panic!("src/{file} is in no layer: add it to LAYERS and to docs/architecture.md")
    })
    .1
}

/// The module path of a file (`pulse/execute.rs` → `pulse::execute`).
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code of a file without comments and without its unit-test modules (which come last);
/// none for a file compiled only for tests (`#![cfg(test)]`).
fn code(text: &str) -> String {
    if text.contains("\n#![cfg(test)]\n") {
        return String::new();
    }
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| match l.find(" // ") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_path(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        out.push(rest[..end].to_owned());
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(r) if r.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') => rest = r,
            _ => break,
        }
    }
    out
}

/// Every module path `file` refers to (`crate::a::b`, `super::c`, `use crate::{a, b::c}`).
fn references(file: &str, code: &str) -> Vec<Vec<String>> {
    let me = module_of(file);
    // `super` of `a/b.rs` (module a::b) and of `a/b/mod.rs` (also a::b) is `a`.
    let parent: Vec<String> = me[..me.len().saturating_sub(1)].to_vec();
    let mut refs = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        if code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &code[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = &group[..group.find("};").unwrap_or(group.len())];
            let mut depth = 0;
            let mut start = 0;
            for (j, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        refs.push(ident_path(inner[start..j].trim()));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
            refs.push(ident_path(inner[start..].trim()));
        } else {
            refs.push(ident_path(rest));
        }
    }
    for (i, _) in code.match_indices("super::") {
        if code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut p = parent.clone();
        p.extend(ident_path(&code[i + 7..]));
        refs.push(p);
    }
    refs
}

struct Graph {
    files: Vec<String>,
    edges: BTreeMap<String, BTreeSet<String>>,
}

fn graph() -> Graph {
    let mut files_ = Vec::new();
    files(&src(), &mut files_);
    files_.sort();
    let modules: BTreeMap<Vec<String>, String> =
        files_.iter().map(|f| (module_of(f), f.clone())).collect();
    let resolve = |path: &[String]| -> Option<String> {
        (1..=path.len())
            .rev()
            .find_map(|k| modules.get(&path[..k]).cloned())
    };
    let mut edges = BTreeMap::new();
    for f in &files_ {
        let text = std::fs::read_to_string(src().join(f)).expect("read");
        let mut to = BTreeSet::new();
        for r in references(f, &code(&text)) {
            if let Some(t) = resolve(&r)
                && t != *f
            {
                to.insert(t);
            }
        }
        edges.insert(f.clone(), to);
    }
    Graph {
        files: files_,
        edges,
    }
}

#[test]
fn every_module_imports_only_its_own_layer_or_below() {
    let g = graph();
    let mut wrong = Vec::new();
    for f in &g.files {
        for t in &g.edges[f] {
            if layer(t) > layer(f) {
                wrong.push(format!(
                    "src/{f} ({}) imports src/{t} ({})",
                    LAYERS[layer(f)].0,
                    LAYERS[layer(t)].0
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "imports upward:\n{}", wrong.join("\n"));
}

#[test]
fn no_circle_of_imports_spans_more_than_two_files() {
    let g = graph();
    // Tarjan's strongly connected components.
    struct State<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on.insert(v);
        for w in &s.g.edges[v] {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("low");
                *lv = (*lv).min(lw);
            } else if s.on.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("low");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(comp);
        }
    }
    let mut s = State {
        g: &g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for f in &g.files {
        if !s.index.contains_key(f.as_str()) {
            visit(&mut s, f);
        }
    }
    let big: Vec<_> = s.out.iter().filter(|c| c.len() > 2).collect();
    assert!(big.is_empty(), "circles of imports: {big:?}");
}

#[test]
fn only_the_cli_reads_the_environment_and_the_clock() {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let forbidden = [
        "std::env::",
        "env::var",
        "Timestamp::now",
        "SystemTime::now",
        "Instant::now",
        "Time::now",
        "Zoned::now",
    ];
    let mut found = Vec::new();
    for f in all.iter().filter(|f| layer(f) != LAYERS.len() - 1) {
        let text = std::fs::read_to_string(src().join(f)).expect("read");
        for (n, line) in code(&text).lines().enumerate() {
            for word in forbidden {
                if line.contains(word) {
                    found.push(format!("src/{f}: {word}: {}", line.trim()));
                }
            }
            let _ = n;
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_pulse_never_names_a_forge_implementation() {
    // observe, plan and execute go through `context::Forge` and `forge::ForgePlan`.
    let g = graph();
    let concrete = [
        "forge/local.rs",
        "forge/github/mod.rs",
        "forge/github/execute.rs",
        "forge/github/client.rs",
        "forge/github/sync.rs",
    ];
    for f in ["pulse/observe.rs", "pulse/plan.rs", "pulse/execute.rs"] {
        let named: Vec<_> = g.edges[f]
            .iter()
            .filter(|t| concrete.contains(&t.as_str()))
            .collect();
        assert!(named.is_empty(), "src/{f} names {named:?}");
    }
    assert!(
        g.edges["supervisor.rs"].contains("forge/local.rs"),
        "the check sees the supervisor choose the forge"
    );
}

#[test]
fn the_checks_see_what_they_check() {
    // The parser finds the imports it must: a check that sees nothing passes vacuously.
    let g = graph();
    assert!(g.files.len() > 60, "{}", g.files.len());
    let e = &g.edges["pulse/execute.rs"];
    for t in [
        "context.rs",
        "forge/github/workers.rs",
        "validation.rs",
        "store/mod.rs",
    ] {
        assert!(e.contains(t), "pulse/execute.rs -> {t}: {e:?}");
    }
    assert!(g.edges["comments/apply.rs"].contains("control.rs"));
    assert!(g.edges["mission/patch.rs"].contains("mission/doc.rs"));
    let upward = references(
        "store/lock.rs",
        "use crate::{pulse::plan, git};\nsuper::tx::x",
    );
    assert!(upward.contains(&vec!["pulse".to_owned(), "plan".to_owned()]));
    assert!(upward.contains(&vec!["store".to_owned(), "tx".to_owned(), "x".to_owned()]));
}

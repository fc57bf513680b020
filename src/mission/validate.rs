//! Cross-reference checks and the plan readiness checklist (PRODUCT.md §3 `validate`).
//!
//! Errors make a mission unrunnable (bad ids, duplicates, unknown or cyclic dependencies,
//! uncited contract ids, milestones nothing would validate); warnings are the readiness
//! checklist (goal, non-goals, risks, scoped features, cited contract, a budget).
//! Every diagnostic is located in file coordinates.

// foldhash: ids are hashed tens of thousands of times in a big plan; SipHash was a tenth of
// `status` at 10,000 features. Its seeds are random per process, like std's.
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::body;
use super::diag::{Diagnostic, Severity};
use super::doc::MissionDoc;
use super::ids;
use super::model::*;
use super::yaml::{SpanIndex, YamlPath};

/// Agent adapters this build knows (PRODUCT.md §4).
pub const AGENTS: &[&str] = &["claude", "codex", "opencode", "gemini", "aider", "exec"];

struct Ctx<'a> {
    doc: &'a MissionDoc,
    /// Built on the first diagnostic: a valid mission never pays for it.
    index: std::cell::OnceCell<SpanIndex>,
    out: Vec<Diagnostic>,
    /// Profiles known from configuration, in addition to the file's own.
    extra_profiles: &'a [String],
    /// Whether warnings are wanted and diagnostics get their line and column; not when only
    /// errors matter ([`errors_unlocated`]).
    full: bool,
}

impl Ctx<'_> {
    fn index(&self) -> &SpanIndex {
        self.index.get_or_init(|| self.doc.span_index())
    }
    fn at(&self, path: &YamlPath) -> (usize, usize) {
        if !self.full {
            return (0, 0);
        }
        let (l, c) = self.index().locate(path);
        (l + 1, c)
    }
    fn key_at(&self, path: &YamlPath) -> (usize, usize) {
        if !self.full {
            return (0, 0);
        }
        let (l, c) = self.index().locate_key(path);
        (l + 1, c)
    }
    fn error(&mut self, code: &'static str, path: &YamlPath, msg: String, hint: &str) {
        let mut d = Diagnostic::error(code, self.at(path), msg);
        if !hint.is_empty() {
            d = d.hint(hint);
        }
        self.out.push(d);
    }
    fn warn(&mut self, code: &'static str, path: &YamlPath, msg: String, hint: &str) {
        if !self.full {
            return;
        }
        let mut d = Diagnostic::warning(code, self.key_at(path), msg);
        if !hint.is_empty() {
            d = d.hint(hint);
        }
        self.out.push(d);
    }
}

/// Validates a parsed mission. `file_id` is the id the file name implies, when known;
/// `profiles` are profile names defined in configuration.
pub fn validate(doc: &MissionDoc, file_id: Option<&str>, profiles: &[String]) -> Vec<Diagnostic> {
    run(doc, file_id, profiles, true)
}

/// The errors [`validate`] finds, without positions (each at line 0, column 0) and without
/// the warnings, so neither the span index nor a message per warning is made: for callers
/// that only test for errors, and locate them with [`validate`] when they print one.
pub fn errors_unlocated(
    doc: &MissionDoc,
    file_id: Option<&str>,
    profiles: &[String],
) -> Vec<Diagnostic> {
    run(doc, file_id, profiles, false)
}

/// `full`: positions and warnings; otherwise errors alone, unlocated.
fn run(
    doc: &MissionDoc,
    file_id: Option<&str>,
    profiles: &[String],
    full: bool,
) -> Vec<Diagnostic> {
    let mut cx = Ctx {
        doc,
        index: std::cell::OnceCell::new(),
        out: Vec::new(),
        extra_profiles: profiles,
        full,
    };
    let m = &doc.mission;
    check_header(&mut cx, m, file_id);
    check_settings(&mut cx, m);

    let ids = check_ids(&mut cx, m);
    let cited = check_milestones(&mut cx, m, &ids);
    check_cycles(&mut cx, m, &ids);

    check_references(&mut cx, m, &ids);
    check_readiness(&mut cx, m, &cited);
    check_body(&mut cx, doc);

    cx.out.sort_by_key(|d| (d.line, d.column, d.severity));
    cx.out
}

/// The ids the mission defines, checked: well formed and unique. Later checks resolve
/// references against them.
struct Ids<'m> {
    contract: HashMap<&'m str, usize>,
    milestones: HashMap<&'m str, usize>,
    /// Where each feature id is first defined (milestone, position), well formed or not: the
    /// cycle check follows every edge, the references only well-formed ids ([`Ids::feature`]).
    first: HashMap<&'m str, (usize, usize)>,
}

fn check_ids<'m>(cx: &mut Ctx, m: &'m Mission) -> Ids<'m> {
    let root = YamlPath::root();
    let mut contract_ids: HashMap<&'m str, usize> = HashMap::new();
    for (i, a) in m.contract.iter().enumerate() {
        let p = root.key("contract").index(i).key("id");
        if !ids::is_contract_id(&a.id) {
            cx.error(
                "bad-id",
                &p,
                format!("invalid contract id {:?}", a.id),
                "contract ids look like VC1, VC2, ...",
            );
        } else if contract_ids.contains_key(a.id.as_str()) {
            cx.error(
                "duplicate-id",
                &p,
                format!("duplicate contract id {:?}", a.id),
                "give every assertion its own id",
            );
        } else {
            contract_ids.insert(&a.id, i);
        }
    }

    // Milestones and features: ids first, so later checks know what exists.
    let mut milestone_ids: HashMap<&'m str, usize> = HashMap::new();
    let total = m.milestones.iter().map(|ms| ms.features.len()).sum();
    let mut feature_home: HashMap<&'m str, (usize, usize)> = HashMap::with_capacity(total); // first definition wins
    for (mi, ms) in m.milestones.iter().enumerate() {
        let mp = root.key("milestones").index(mi);
        if !ids::is_milestone_id(&ms.id) {
            cx.error(
                "bad-id",
                &mp.key("id"),
                format!("invalid milestone id {:?}", ms.id),
                "milestone ids look like M1, M2, ...",
            );
        } else if milestone_ids.contains_key(ms.id.as_str()) {
            cx.error(
                "duplicate-id",
                &mp.key("id"),
                format!("duplicate milestone id {:?}", ms.id),
                "give every milestone its own id",
            );
        } else {
            milestone_ids.insert(&ms.id, mi);
        }
        for (fi, f) in ms.features.iter().enumerate() {
            // Made only for a diagnostic: a path is several allocations, per feature.
            let fp = || mp.key("features").index(fi).key("id");
            if !ids::is_feature_id(&f.id) {
                cx.error(
                    "bad-id",
                    &fp(),
                    format!("invalid feature id {:?}", f.id),
                    "feature ids look like F1, F2, F2b",
                );
                feature_home.entry(f.id.as_str()).or_insert((mi, fi));
            } else if let Some(&(pm, _)) = feature_home.get(f.id.as_str()) {
                cx.error(
                    "duplicate-id",
                    &fp(),
                    format!(
                        "duplicate feature id {:?} (already used in {})",
                        f.id, m.milestones[pm].id
                    ),
                    "feature ids are unique across the whole mission",
                );
            } else {
                feature_home.insert(&f.id, (mi, fi));
            }
        }
    }

    Ids {
        contract: contract_ids,
        milestones: milestone_ids,
        first: feature_home,
    }
}

impl Ids<'_> {
    /// Where the feature `id` is defined, if it is a well-formed id defined in this file.
    fn feature(&self, id: &str) -> Option<(usize, usize)> {
        ids::is_feature_id(id)
            .then(|| self.first.get(id).copied())
            .flatten()
    }
}

/// Assertions cited at `path` must be in the contract.
fn check_assertions(
    cx: &mut Ctx,
    m: &Mission,
    ids: &Ids,
    path: impl Fn() -> YamlPath,
    list: &[String],
) {
    for (i, a) in list.iter().enumerate() {
        if ids.contract.contains_key(a.as_str()) {
            continue;
        }
        let mut known: Vec<&str> = m.contract.iter().map(|c| c.id.as_str()).collect();
        known.dedup();
        let hint = if known.is_empty() {
            "the contract is empty: add `contract: - {id: VC1, text: ...}` first".to_owned()
        } else {
            format!("the contract defines {}", known.join(", "))
        };
        cx.error(
            "unknown-assertion",
            &path().index(i),
            format!("assertion {a:?} is not in the contract"),
            &hint,
        );
    }
}

/// Milestones and their features: one active at a time, validation, citations,
/// dependencies, checks, scoping. Returns the contract ids cited anywhere.
fn check_milestones<'m>(cx: &mut Ctx, m: &'m Mission, ids: &Ids) -> HashSet<&'m str> {
    let root = YamlPath::root();
    let mut cited: HashSet<&'m str> = HashSet::new();
    let mut active = 0;
    for (mi, ms) in m.milestones.iter().enumerate() {
        let mp = root.key("milestones").index(mi);
        if matches!(
            ms.status,
            MilestoneStatus::Active | MilestoneStatus::Validating
        ) {
            active += 1;
            if active > 1 {
                cx.error(
                    "two-active-milestones",
                    &mp.key("status"),
                    format!(
                        "milestone {} is {} while an earlier milestone is still in progress",
                        ms.id, ms.status
                    ),
                    "only one milestone is active at a time",
                );
            }
        }
        if ms.validation.is_empty() {
            cx.error(
                "milestone-without-validation",
                &mp.key("id"),
                format!("milestone {} has no validation", ms.id),
                "add `validation: {commands: [\"...\"]}`, `scrutiny: true` or `user_testing: {...}`",
            );
        }
        check_assertions(
            cx,
            m,
            ids,
            || mp.key("validation").key("assertions"),
            &ms.validation.assertions,
        );
        cited.extend(ms.validation.assertions.iter().map(String::as_str));
        if let Some(ut) = &ms.validation.user_testing
            && ut.launch.is_none()
            && ut.url.is_none()
        {
            cx.error(
                "user-testing-incomplete",
                &mp.key("validation").key("user_testing"),
                format!(
                    "milestone {} user_testing names neither `launch` nor `url`",
                    ms.id
                ),
                "say how the user-testing validator starts or reaches the product",
            );
        }
        if ms.features.is_empty() {
            cx.warn(
                "milestone-without-features",
                &mp.key("id"),
                format!("milestone {} has no features", ms.id),
                "add the features that implement it, or drop the milestone",
            );
        }
        if ms.validation.assertions.is_empty()
            && ms.features.iter().all(|f| f.assertions.is_empty())
        {
            cx.warn(
                "milestone-cites-nothing",
                &mp.key("id"),
                format!("milestone {} cites no contract assertion", ms.id),
                "list the VC ids it proves under validation.assertions",
            );
        }
        for (fi, f) in ms.features.iter().enumerate() {
            check_feature(cx, m, ids, (mi, ms), (fi, f), &mut cited);
        }
    }
    cited
}

/// One feature of milestone `mi`: its citations, dependencies, checks, scope and origin.
fn check_feature<'m>(
    cx: &mut Ctx,
    m: &Mission,
    ids: &Ids,
    (mi, ms): (usize, &Milestone),
    (fi, f): (usize, &'m Feature),
    cited: &mut HashSet<&'m str>,
) {
    // Made only for a diagnostic: a path is several allocations, per feature.
    let fp = || {
        YamlPath::root()
            .key("milestones")
            .index(mi)
            .key("features")
            .index(fi)
    };
    check_assertions(cx, m, ids, || fp().key("assertions"), &f.assertions);
    if cx.full {
        // Only the readiness warnings ask what is cited.
        cited.extend(f.assertions.iter().map(String::as_str));
    }
    for (di, dep) in f.depends_on.iter().enumerate() {
        let dp = || fp().key("depends_on").index(di);
        match ids.feature(dep) {
            None => {
                let hint = if ids::is_feature_id(dep) {
                    "depends_on lists feature ids defined in this file"
                } else {
                    "feature ids look like F1, F2, F2b"
                };
                cx.error(
                    "unknown-dependency",
                    &dp(),
                    format!("feature {} depends on unknown feature {dep:?}", f.id),
                    hint,
                );
            }
            Some((dm, _)) if dm > mi => cx.error(
                "dependency-on-later-milestone",
                &dp(),
                format!(
                    "feature {} (in {}) depends on {dep} of the later milestone {}",
                    f.id, ms.id, m.milestones[dm].id
                ),
                "dependencies point backwards: move one of the features, or drop the dependency",
            ),
            Some((dm, dfi)) if cx.full && dm == mi && dfi > fi => cx.warn(
                "dependency-listed-later",
                &dp(),
                format!("feature {} is listed before its dependency {dep}", f.id),
                "list features in the order they can be built",
            ),
            _ => {}
        }
    }
    if f.checks
        .as_ref()
        .is_some_and(|c| c.iter().any(|c| c.trim().is_empty()))
    {
        cx.error(
            "empty-check",
            &fp().key("checks"),
            format!("feature {} has an empty check command", f.id),
            "remove it, or write the command to run",
        );
    }
    if cx.full && body::is_blank(&f.description) {
        cx.warn(
            "feature-not-scoped",
            &fp().key("id"),
            format!("feature {} has no description", f.id),
            "say what to build, the files likely touched and how to verify it",
        );
    }
    if let Some(o) = &f.origin
        && !ids::is_run_id(&o.validation_run)
    {
        cx.error(
            "bad-id",
            &fp().key("origin").key("validation_run"),
            format!("invalid run id {:?}", o.validation_run),
            "run ids are letters, digits, '.', '_' and '-'",
        );
    }
}

/// Resources and the block name milestones and features that exist.
fn check_references(cx: &mut Ctx, m: &Mission, ids: &Ids) {
    let root = YamlPath::root();
    for (ri, r) in m.resources.iter().enumerate() {
        if let Some(nb) = &r.needed_by
            && !ids.milestones.contains_key(nb.as_str())
        {
            cx.error(
                "unknown-milestone",
                &root.key("resources").index(ri).key("needed_by"),
                format!(
                    "resource {:?} is needed by unknown milestone {nb:?}",
                    r.name
                ),
                "needed_by names a milestone id of this file",
            );
        }
    }
    if let Some(b) = &m.block {
        if let Some(ms) = &b.milestone
            && !ids.milestones.contains_key(ms.as_str())
        {
            cx.error(
                "unknown-milestone",
                &root.key("block").key("milestone"),
                format!("block names unknown milestone {ms:?}"),
                "block.milestone names a milestone id of this file",
            );
        }
        if let Some(f) = &b.feature
            && ids.feature(f).is_none()
        {
            cx.error(
                "unknown-feature",
                &root.key("block").key("feature"),
                format!("block names unknown feature {f:?}"),
                "block.feature names a feature id of this file",
            );
        }
    }
}

/// The readiness checklist: every assertion cited, milestones, a contract, a budget.
fn check_readiness(cx: &mut Ctx, m: &Mission, cited: &HashSet<&str>) {
    let root = YamlPath::root();
    for (i, a) in m.contract.iter().enumerate() {
        if !cited.contains(a.id.as_str()) {
            cx.warn(
                "contract-not-cited",
                &root.key("contract").index(i),
                format!(
                    "contract assertion {} is not cited by any milestone or feature",
                    a.id
                ),
                "cite it where it is proved, or drop it",
            );
        }
    }
    if m.milestones.is_empty() {
        cx.warn(
            "no-milestones",
            &root.key("milestones"),
            "the plan has no milestones yet".into(),
            "add milestones with features and validation (docs/mission-file.md)",
        );
    }
    if m.contract.is_empty() {
        cx.warn(
            "no-contract",
            &root.key("contract"),
            "the validation contract is empty".into(),
            "write implementation-independent assertions (VC1, VC2, ...) before features",
        );
    }
    if m.budget.as_ref().is_none_or(|b| {
        b.usd.is_none() && b.tokens.is_none() && b.hours.is_none() && b.runs.is_none()
    }) {
        cx.warn(
            "no-budget",
            &root.key("budget"),
            "no budget is set".into(),
            &format!(
                "run `git mission estimate {}` and set `budget: {{usd: ...}}`",
                m.id
            ),
        );
    }
}

fn check_header(cx: &mut Ctx, m: &Mission, file_id: Option<&str>) {
    let root = YamlPath::root();
    if m.schema != SCHEMA_VERSION {
        cx.error(
            "schema-version",
            &root.key("schema"),
            format!("unsupported schema version {}", m.schema),
            "this version of git-mission reads schema 1; upgrade git-mission",
        );
    }
    if !ids::is_mission_id(&m.id) {
        cx.error(
            "bad-id",
            &root.key("id"),
            format!("invalid mission id {:?}", m.id),
            &format!("mission ids are {}", ids::MISSION_ID_GRAMMAR),
        );
    } else if let Some(fid) = file_id
        && fid != m.id
    {
        cx.error(
            "id-mismatch",
            &root.key("id"),
            format!(
                "mission id {:?} does not match the file name ({fid}-mission.md)",
                m.id
            ),
            "rename the file or change the id so they agree",
        );
    }
    if m.title.trim().is_empty() {
        cx.error(
            "empty-title",
            &root.key("title"),
            "the mission title is empty".into(),
            "give the mission a one-line title",
        );
    }
    let needs_approval = !matches!(m.status, MissionStatus::Draft | MissionStatus::Cancelled);
    if needs_approval && m.approved.is_none() {
        cx.error(
            "not-approved",
            &root.key("status"),
            format!(
                "mission status is {:?} but it was never approved",
                m.status.as_str()
            ),
            &format!(
                "set the status back to draft and run `git mission approve {}`",
                m.id
            ),
        );
    }
    match (&m.block, m.status) {
        (None, MissionStatus::Blocked) => cx.error(
            "block-missing",
            &root.key("status"),
            "mission status is \"blocked\" but `block` is null".into(),
            "say why in `block: {reason: ..., since: ..., message: ...}`",
        ),
        (Some(_), s) if !matches!(s, MissionStatus::Blocked | MissionStatus::Paused) => cx.warn(
            "stale-block",
            &root.key("block"),
            format!("a block is recorded but the mission is {s}"),
            "a recovered block is history: set `block: null`",
        ),
        _ => {}
    }
}

fn check_settings(cx: &mut Ctx, m: &Mission) {
    let root = YamlPath::root();
    if let Some(t) = m.limits.as_ref().and_then(|l| l.worker_timeout.as_deref())
        && humantime::parse_duration(t).is_err()
    {
        cx.error(
            "bad-duration",
            &root.key("limits").key("worker_timeout"),
            format!("invalid duration {t:?}"),
            "write durations like 45m, 2h or 1h30m",
        );
    }
    if let Some(l) = &m.limits {
        for (k, v) in [
            ("max_parallel_workers", l.max_parallel_workers),
            ("worker_attempts", l.worker_attempts),
            ("validation_failures", l.validation_failures),
        ] {
            if v == Some(0) {
                cx.error(
                    "bad-limit",
                    &root.key("limits").key(k),
                    format!("limits.{k} is 0"),
                    "use at least 1",
                );
            }
        }
    }
    if let Some(b) = &m.budget {
        for (k, v) in [("usd", b.usd), ("hours", b.hours)] {
            if let Some(x) = v
                && !(x.is_finite() && x >= 0.0)
            {
                cx.error(
                    "bad-budget",
                    &root.key("budget").key(k),
                    format!("budget.{k} must be a non-negative number, not {x}"),
                    "limits are amounts, like 40 or 2.5",
                );
            }
        }
        if let Some(p) = b.alert_pct
            && !(1..=100).contains(&p)
        {
            cx.error(
                "bad-budget",
                &root.key("budget").key("alert_pct"),
                format!("budget.alert_pct must be between 1 and 100, not {p}"),
                "alert_pct is the share of a limit that raises an alert, e.g. 80",
            );
        }
    }
    let mut profile_names: Vec<&str> = cx.extra_profiles.iter().map(String::as_str).collect();
    if let Some(ps) = &m.profiles {
        for (name, p) in ps {
            profile_names.push(name);
            let pp = root.key("profiles").key(name);
            if !AGENTS.contains(&p.agent.as_str()) {
                cx.error(
                    "unknown-agent",
                    &pp.key("agent"),
                    format!("profile {name:?} uses unknown agent {:?}", p.agent),
                    &format!("agents are {}", AGENTS.join(", ")),
                );
            }
            if p.agent == "exec" && p.command.as_ref().is_none_or(|c| c.is_empty()) {
                cx.error(
                    "exec-without-command",
                    &pp,
                    format!("profile {name:?} uses the exec agent but has no command"),
                    "add `command: [\"program\", \"arg\"]` (an argv list, never a shell string)",
                );
            }
            for (i, pat) in p.pass_env.iter().flatten().enumerate() {
                if !crate::env::valid_var_pattern(pat) {
                    cx.error(
                        "bad-pass-env",
                        &pp.key("pass_env").index(i),
                        format!("profile {name:?}: pass_env entry {pat:?} is not a variable name or pattern"),
                        "write a name (MY_VAR) or a pattern with one * at the start or end (MY_APP_*, *_API_KEY)",
                    );
                }
            }
        }
    }
    if let Some(agents) = &m.agents {
        for (role, value) in agents.entries() {
            if value != "none" && !AGENTS.contains(&value) && !profile_names.contains(&value) {
                cx.error(
                    "unknown-agent",
                    &root.key("agents").key(role),
                    format!("agents.{role} is {value:?}, which is neither an agent nor a profile"),
                    &format!("use one of {}, a profile name, or none", AGENTS.join(", ")),
                );
            }
        }
    }
}

fn check_cycles(cx: &mut Ctx, m: &Mission, ids: &Ids) {
    // Iterative DFS with colours; each cycle is reported once, at its first member in file order.
    let feats: Vec<(usize, usize, &Feature)> = m
        .milestones
        .iter()
        .enumerate()
        .flat_map(|(mi, ms)| {
            ms.features
                .iter()
                .enumerate()
                .map(move |(fi, f)| (mi, fi, f))
        })
        .collect();
    // A feature's place in `feats` from where its id is first defined (`check_ids` found it).
    let offsets: Vec<usize> = m
        .milestones
        .iter()
        .scan(0, |at, ms| {
            let start = *at;
            *at += ms.features.len();
            Some(start)
        })
        .collect();
    let pos = |id: &str| ids.first.get(id).map(|&(mi, fi)| offsets[mi] + fi);
    let mut colour = vec![0u8; feats.len()]; // 0 new, 1 on stack, 2 done
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for startn in 0..feats.len() {
        if colour[startn] != 0 {
            continue;
        }
        stack.clear();
        stack.push((startn, 0));
        colour[startn] = 1;
        while let Some((n, next)) = stack.last().copied() {
            let deps = &feats[n].2.depends_on;
            if next >= deps.len() {
                colour[n] = 2;
                stack.pop();
                continue;
            }
            stack.last_mut().expect("non-empty").1 += 1;
            let Some(d) = pos(deps[next].as_str()) else {
                continue;
            };
            match colour[d] {
                0 => {
                    colour[d] = 1;
                    stack.push((d, 0));
                }
                1 => {
                    let from = stack.iter().position(|(x, _)| *x == d).expect("on stack");
                    let mut cycle: Vec<&str> = stack[from..]
                        .iter()
                        .map(|(x, _)| feats[*x].2.id.as_str())
                        .collect();
                    cycle.push(feats[d].2.id.as_str());
                    let (mi, fi, f) = feats[n];
                    let path = YamlPath::root()
                        .key("milestones")
                        .index(mi)
                        .key("features")
                        .index(fi)
                        .key("depends_on")
                        .index(next);
                    cx.error(
                        "dependency-cycle",
                        &path,
                        format!("dependency cycle: {}", cycle.join(" → ")),
                        &format!(
                            "break the cycle: drop one of these dependencies (for example {}'s)",
                            f.id
                        ),
                    );
                }
                _ => {}
            }
        }
    }
}

fn check_body(cx: &mut Ctx, doc: &MissionDoc) {
    let body_line = doc.body_line();
    let secs = body::sections(doc.body());
    let b = doc.body();
    for (title, code, hint) in [
        (
            "Objective",
            "no-objective",
            "say what done looks like in the Objective section",
        ),
        (
            "Non-goals",
            "no-non-goals",
            "list what this mission will not do, so workers stay in scope",
        ),
        ("Risks", "no-risks", "list the risks and likely blockers"),
    ] {
        let (line, msg) = match body::section(&secs, title) {
            Some(s) if body::is_blank(&b[s.content.clone()]) => (
                body_line + s.line - 1,
                format!("the {title} section is empty"),
            ),
            Some(_) => continue,
            None => (body_line, format!("the body has no {title} section")),
        };
        cx.out
            .push(Diagnostic::warning(code, (line, 1), msg).hint(hint));
    }
}

/// True when any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../../templates/demo/mission.md");

    #[test]
    fn unlocated_validation_finds_the_same_errors_without_positions_or_warnings() {
        let text = DEMO
            .replace("depends_on: [F3]", "depends_on: [F9]")
            .replace("budget: {runs: 20, alert_pct: 80}\n", "");
        let doc = MissionDoc::parse(text).expect("parses");
        let located = validate(&doc, Some("demo"), &[]);
        let unlocated = errors_unlocated(&doc, Some("demo"), &[]);
        assert!(
            located.iter().any(|d| d.severity == Severity::Error)
                && located.iter().any(|d| d.code == "no-budget"),
            "{located:?}"
        );
        let key = |d: &Diagnostic| (d.code, d.message.clone(), d.severity);
        let mut a: Vec<_> = located
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(key)
            .collect();
        let mut b: Vec<_> = unlocated.iter().map(key).collect();
        a.sort_by(|x, y| x.1.cmp(&y.1));
        b.sort_by(|x, y| x.1.cmp(&y.1));
        assert_eq!(a, b);
        assert!(located.iter().all(|d| d.line > 0));
        assert!(unlocated.iter().all(|d| (d.line, d.column) == (0, 0)));
    }

    fn diagnose(text: &str) -> Vec<(Severity, &'static str, usize)> {
        let doc = MissionDoc::parse(text.to_owned()).expect("parses");
        validate(&doc, Some("demo"), &[])
            .into_iter()
            .map(|d| (d.severity, d.code, d.line))
            .collect()
    }

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines()
            .position(|l| l.contains(needle))
            .expect("present")
            + 1
    }

    #[test]
    fn the_demo_mission_is_ready() {
        assert_eq!(diagnose(DEMO), []);
    }

    #[test]
    fn broken_references_are_errors_at_their_line() {
        let text = DEMO
            .replace("depends_on: [F3]", "depends_on: [F9]")
            .replace(
                "assertions: [VC2], description: \"Write docs/usage.md.\"",
                "assertions: [VC7], description: \"Write docs/usage.md.\"",
            );
        let got = diagnose(&text);
        assert!(
            got.contains(&(
                Severity::Error,
                "unknown-dependency",
                line_of(&text, "depends_on: [F9]")
            )),
            "{got:?}"
        );
        assert!(
            got.contains(&(
                Severity::Error,
                "unknown-assertion",
                line_of(&text, "[VC7]")
            )),
            "{got:?}"
        );
    }

    #[test]
    fn a_dependency_on_a_later_milestone_and_duplicate_ids_are_errors() {
        let text = DEMO
            .replace(
                "{id: F1, title: A greeting,",
                "{id: F1, title: A greeting, depends_on: [F5],",
            )
            .replace("{id: F2, title: A farewell", "{id: F1, title: A farewell");
        let codes: Vec<_> = diagnose(&text).into_iter().map(|(_, c, _)| c).collect();
        assert!(
            codes.contains(&"dependency-on-later-milestone"),
            "{codes:?}"
        );
        assert!(codes.contains(&"duplicate-id"), "{codes:?}");
    }

    #[test]
    fn an_empty_plan_gets_readiness_warnings_not_errors() {
        let text = DEMO.replace(
            &DEMO[DEMO.find("milestones:").expect("m")..DEMO.find("---\n# Greeter").expect("end")],
            "milestones: []\n",
        );
        let got = diagnose(&text);
        assert!(
            got.iter().all(|(s, _, _)| *s == Severity::Warning),
            "{got:?}"
        );
        let codes: Vec<_> = got.into_iter().map(|(_, c, _)| c).collect();
        assert!(codes.contains(&"no-milestones"), "{codes:?}");
        assert!(codes.contains(&"contract-not-cited"), "{codes:?}");
    }
}

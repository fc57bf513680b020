//! `git mission show <id> <F#|M#|run-id>`: one feature, milestone or run with its artifacts.

use crate::events::Kind;
use serde_json::json;

use crate::error::{Error, Result};
use crate::mission::{Mission, ids};
use crate::workspace::{Source, Workspace};

use super::{Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Mission id
    pub id: String,
    /// A feature (F1), a milestone (M1) or a run id
    pub what: String,
}

pub fn run(cx: &Ctx, a: &Args) -> Result<u8> {
    let ws = cx.workspace()?;
    let loaded = ws.load(&a.id, true)?;
    let m = &loaded.doc.mission;
    if ids::is_feature_id(&a.what) {
        let events = crate::store::Store::new(&ws.repo, &a.id)
            .head()?
            .map(|h| h.events)
            .unwrap_or_default();
        feature(cx, &ws, m, &a.what, &events)
    } else if ids::is_milestone_id(&a.what) {
        let events = crate::store::Store::new(&ws.repo, &a.id)
            .head()?
            .map(|h| h.events)
            .unwrap_or_default();
        milestone(cx, m, &a.what, &events)
    } else if ids::is_run_id(&a.what) {
        run_file(cx, &ws, &loaded.source, &a.id, &a.what)
    } else {
        Err(Error::user_hint(
            format!(
                "{:?} is not a feature id, a milestone id or a run id",
                a.what
            ),
            "use F1, M1 or a run id from `git mission log`",
        ))
    }
}

fn feature(
    cx: &Ctx,
    ws: &Workspace,
    m: &Mission,
    id: &str,
    events: &[crate::events::Event],
) -> Result<u8> {
    let (ms, f) = m.feature(id).ok_or_else(|| {
        let known: Vec<&str> = m.features().map(|(_, f)| f.id.as_str()).collect();
        Error::user_hint(
            format!("mission {} has no feature {id}", m.id),
            format!("features: {}", known.join(", ")),
        )
    })?;
    let branch = crate::workspace::feature_branch(&m.id, &f.id);
    let branch = ws.repo.branch_head(&branch)?.map(|_| branch);
    let assertions: Vec<_> = f
        .assertions
        .iter()
        .map(|a| {
            (
                a.clone(),
                m.contract
                    .iter()
                    .find(|c| &c.id == a)
                    .map(|c| c.text.clone()),
            )
        })
        .collect();
    let attempts = crate::report::attempts(events, &f.id);
    if cx.out.json {
        cx.out.json(&json!({
            "mission": m.id, "milestone": ms.id, "feature": f, "branch": branch,
            "assertions": assertions.iter().map(|(id, text)| json!({"id": id, "text": text})).collect::<Vec<_>>(),
            "attempts": attempts,
        }));
        return Ok(exit::OK);
    }
    let mut o = format!("{} — {}\n", f.id, f.title);
    o.push_str(&format!("milestone: {} — {}\n", ms.id, ms.title));
    o.push_str(&format!(
        "status: {}   attempts: {}\n",
        f.status, f.attempts
    ));
    if !f.depends_on.is_empty() {
        o.push_str(&format!("depends on: {}\n", f.depends_on.join(", ")));
    }
    for (id, text) in &assertions {
        o.push_str(&format!(
            "asserts {id}: {}\n",
            text.as_deref().unwrap_or("(not in the contract)")
        ));
    }
    if let Some(c) = &f.checks {
        o.push_str(&format!("checks: {}\n", c.join(" ; ")));
    }
    if !f.skills.is_empty() {
        o.push_str(&format!("skills: {}\n", f.skills.join(", ")));
    }
    if let Some(b) = &branch {
        o.push_str(&format!("branch: {b}\n"));
    }
    if let Some(pr) = f.pr {
        o.push_str(&format!("pr: #{pr}\n"));
    }
    if let Some(origin) = &f.origin {
        o.push_str(&format!(
            "repair for: finding {} of run {}\n",
            origin.finding, origin.validation_run
        ));
    }
    if !f.description.trim().is_empty() {
        o.push('\n');
        o.push_str(f.description.trim_end());
        o.push('\n');
    }
    if !attempts.is_empty() {
        o.push_str("\nattempts (see each with `git mission show <id> <run>`):\n");
        for a in &attempts {
            let spent = match (a.tokens, a.usd) {
                (Some(t), Some(u)) => format!(" · {t} tokens · ${u:.2}"),
                (Some(t), None) => format!(" · {t} tokens"),
                _ => String::new(),
            };
            let why = a
                .failure
                .as_deref()
                .map(|f| format!(": {}", f.lines().next().unwrap_or("")))
                .unwrap_or_default();
            o.push_str(&format!(
                "  {} {} {} {}{why}{spent}\n",
                a.attempt,
                a.run,
                a.agent.as_deref().unwrap_or("-"),
                a.outcome
            ));
        }
    }
    cx.out.data(&o);
    Ok(exit::OK)
}

fn milestone(cx: &Ctx, m: &Mission, id: &str, events: &[crate::events::Event]) -> Result<u8> {
    let ms = m.milestone(id).ok_or_else(|| {
        let known: Vec<&str> = m.milestones.iter().map(|x| x.id.as_str()).collect();
        Error::user_hint(
            format!("mission {} has no milestone {id}", m.id),
            format!("milestones: {}", known.join(", ")),
        )
    })?;
    // Validations of this milestone, newest last: the command run and its validator runs.
    let validations: Vec<serde_json::Value> = events
        .iter()
        .filter(|e| e.milestone.as_deref() == Some(id))
        .filter_map(|e| match e.kind {
            Kind::MilestonePassed | Kind::MilestoneFailed => Some(json!({ "run": e.run, "kind": "commands", "verdict": if e.kind == Kind::MilestonePassed { "pass" } else { "fail" } })),
            Kind::RunFinished if e.data["role"] == "validator" => Some(json!({ "run": e.run, "kind": e.data["mode"], "verdict": e.data["verdict"], "findings": e.data["findings"], "failure": e.data["failure"] })),
            _ => None,
        })
        .collect();
    if cx.out.json {
        cx.out
            .json(&json!({ "mission": m.id, "milestone": ms, "validations": validations }));
        return Ok(exit::OK);
    }
    let v = &ms.validation;
    let mut o = format!("{} — {}\n", ms.id, ms.title);
    o.push_str(&format!(
        "status: {}   failed validations: {}\n",
        ms.status, ms.failures
    ));
    o.push_str("validation:\n");
    for c in &v.commands {
        o.push_str(&format!("  command: {c}\n"));
    }
    o.push_str(&format!(
        "  scrutiny validator: {}\n",
        if v.scrutiny { "yes" } else { "no" }
    ));
    if let Some(ut) = &v.user_testing {
        o.push_str(&format!(
            "  user testing: launch {} · url {} · {} flows\n",
            ut.launch.as_deref().unwrap_or("-"),
            ut.url.as_deref().unwrap_or("-"),
            ut.flows.len()
        ));
    }
    for a in &v.assertions {
        let text = m
            .contract
            .iter()
            .find(|c| &c.id == a)
            .map_or("(not in the contract)", |c| c.text.as_str());
        o.push_str(&format!("  asserts {a}: {text}\n"));
    }
    o.push_str("features:\n");
    for f in &ms.features {
        o.push_str(&format!("  {} [{}] {}\n", f.id, f.status, f.title));
    }
    if !validations.is_empty() {
        o.push_str("validations (see each with `git mission show <id> <run>`):\n");
        for v in &validations {
            let extra = match (v["findings"].as_u64(), v["failure"].as_str()) {
                (_, Some(f)) => format!(" — {f}"),
                (Some(n), None) if n > 0 => format!(" — {n} findings"),
                _ => String::new(),
            };
            o.push_str(&format!(
                "  {} {}: {}{extra}\n",
                v["run"].as_str().unwrap_or("?"),
                v["kind"].as_str().unwrap_or("?"),
                v["verdict"].as_str().unwrap_or("none")
            ));
        }
    }
    cx.out.data(&o);
    Ok(exit::OK)
}

fn run_file(cx: &Ctx, ws: &Workspace, source: &Source, id: &str, run: &str) -> Result<u8> {
    let rel = crate::workspace::run_record_file(id, run);
    let text = match source {
        Source::Branch { branch, .. } => ws.repo.read_at_branch(branch, &rel)?,
        Source::WorkTree => std::fs::read_to_string(ws.path(&rel)).ok(),
    };
    let text = text.ok_or_else(|| {
        Error::user_hint(
            format!("mission {id} has no run {run} ({rel})"),
            format!("runs are listed by `git mission log {id}`"),
        )
    })?;
    if cx.out.json {
        cx.out
            .json(&json!({ "mission": id, "run": run, "file": rel, "text": text }));
    } else {
        cx.out.data(&text);
    }
    Ok(exit::OK)
}

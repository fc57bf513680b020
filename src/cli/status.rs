//! `git mission status`: Mission Control in the terminal, as JSON, or written into the
//! mission body's generated Status and Budget blocks (`--write`).

use crate::error::{Error, Result};
use crate::mission::{Severity, body};
use crate::report::{self, StatusView};
use crate::workspace::{Source, Workspace};

use super::{
    Ctx, exit,
    output::{table, table_text},
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Mission id (may be omitted when there is exactly one mission)
    pub id: Option<String>,
    /// Also write the generated Status and Budget blocks into the mission file
    #[arg(long)]
    pub write: bool,
}

/// Everything `status` shows of one mission, read once.
pub struct Gathered {
    pub view: StatusView,
    pub loaded: crate::workspace::Loaded,
    pub events: Vec<crate::events::Event>,
    pub config: crate::config::Config,
}

/// Reads mission `id` as `status` shows it: at the integration head once started, else the
/// work tree's file; with its events, configuration and live runs on this machine.
pub fn gather(cx: &Ctx, ws: &Workspace, id: &str) -> Result<Gathered> {
    let id = id.to_owned();
    let loaded = ws.load(&id, true)?;
    // The events only: the mission was parsed once, above.
    let events = match loaded.source {
        Source::Branch { .. } => crate::store::Store::new(&ws.repo, &id).events()?,
        Source::WorkTree => Vec::new(),
    };
    let config = cx.config(ws, Some(&loaded))?;
    let prefix = format!("mission/{id}.");
    let branches: Vec<String> = ws
        .repo
        .branches_under("mission/")?
        .into_iter()
        .filter(|b| b.starts_with(&prefix))
        .collect();
    let view = report::status_view(
        &loaded.doc.mission,
        &loaded.file,
        loaded.source.clone(),
        &config,
        &branches,
        report::active_runs(&crate::runs::Layout::new(&ws.repo, &config, &id)?, &id),
        &events,
    );
    Ok(Gathered {
        view,
        loaded,
        events,
        config,
    })
}

pub fn run(cx: &Ctx, a: &Args) -> Result<u8> {
    let ws = cx.workspace()?;
    let id = match &a.id {
        Some(id) => id.clone(),
        None => only_mission(&ws)?,
    };
    let Gathered {
        view,
        loaded,
        config,
        ..
    } = gather(cx, &ws, &id)?;
    // Warnings are not shown here: no positions unless an error is to be reported.
    let unlocated = crate::mission::validate::errors_unlocated(
        &loaded.doc,
        Some(&loaded.id),
        &config.profile_names(),
    );
    let errors: Vec<_> = if unlocated.iter().any(|d| d.severity == Severity::Error) {
        Workspace::diagnostics(&loaded, &config.profile_names())
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .collect()
    } else {
        Vec::new()
    };
    if !errors.is_empty() {
        if a.write {
            return Err(Error::Invalid {
                file: loaded.file.clone(),
                diagnostics: errors,
            });
        }
        cx.out.warning(&format!(
            "{} has {} validation {}: see `git mission validate {id}`",
            loaded.file,
            errors.len(),
            if errors.len() == 1 { "error" } else { "errors" }
        ));
    }
    if a.write {
        if loaded.source != Source::WorkTree {
            return Err(Error::user_hint(
                format!(
                    "mission {id} is live on {}; its Status block is kept there by the supervisor",
                    crate::workspace::integration_branch(&id)
                ),
                "run without --write to see the status",
            ));
        }
        let b = loaded.doc.body();
        let b = body::set_block(
            b,
            "status",
            "Status",
            &report::status_block(&loaded.doc.mission),
        );
        let b = body::set_block(
            &b,
            "budget",
            "Budget",
            &crate::budget::block(&loaded.doc.mission, &config.budget()),
        );
        if b != loaded.doc.body() {
            ws.write(&loaded.file, &loaded.doc.with_body(&b))?;
            cx.out.note(&format!(
                "wrote the Status and Budget blocks of {}",
                loaded.file
            ));
        } else {
            cx.out.note(&format!(
                "the Status and Budget blocks of {} are up to date",
                loaded.file
            ));
        }
    }
    if cx.out.json {
        cx.out.json(&view);
    } else {
        cx.out.data(&human(&view));
    }
    Ok(exit::OK)
}

pub fn only_mission(ws: &Workspace) -> Result<String> {
    let ids = ws.list_ids()?;
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::user_hint(
            "no missions yet",
            "create one with `git mission new <id>`",
        )),
        many => Err(Error::user_hint(
            "several missions: say which one",
            format!(
                "git mission status <id>, with <id> one of {}; or `git mission list`",
                many.join(", ")
            ),
        )),
    }
}

fn money(x: f64) -> String {
    format!("${x:.2}")
}

pub fn human(v: &StatusView) -> String {
    let mut o = format!("{} — {}\n", v.id, v.title);
    o.push_str(&format!(
        "status: {}   mode: {}   base: {}   forge: {}   land: {}\n",
        v.status,
        v.mode,
        v.base.as_deref().unwrap_or("(unset)"),
        v.forge,
        v.land
    ));
    o.push_str(&format!("file: {} ({})\n", v.file, v.source));
    if let Some(ap) = &v.approved {
        o.push_str(&format!("approved: by {} at {}\n", ap.by, ap.at));
    }
    if !v.milestones.is_empty() {
        let mut t = table(&[
            "",
            "Title",
            "Status",
            "Attempts",
            "Depends on",
            "Branch / PR",
        ]);
        for m in &v.milestones {
            let failures = if m.failures > 0 {
                format!(" ({} failed)", m.failures)
            } else {
                String::new()
            };
            let failures = match &m.last_validation {
                Some(v) if v.findings > 0 => format!("{failures} [{} findings]", v.findings),
                _ => failures,
            };
            t.add_row(vec![
                m.id.clone(),
                m.title.clone(),
                format!("{}{failures}", m.status),
                String::new(),
                String::new(),
                String::new(),
            ]);
            for f in &m.features {
                let place = match (f.pr, &f.branch) {
                    (Some(pr), _) => format!("#{pr}"),
                    (None, Some(b)) => b.clone(),
                    (None, None) => String::new(),
                };
                let repair = if f.repair { " [repair]" } else { "" };
                let review = f
                    .review
                    .as_ref()
                    .map(|r| format!(" — {r}"))
                    .unwrap_or_default();
                t.add_row(vec![
                    format!("  {}", f.id),
                    format!("{}{repair}{review}", f.title),
                    f.status.to_string(),
                    f.attempts.to_string(),
                    f.depends_on.join(", "),
                    place,
                ]);
            }
        }
        o.push('\n');
        o.push_str(&table_text(&t));
        o.push('\n');
    } else {
        o.push_str("\nno milestones yet\n");
    }
    o.push('\n');
    if v.active_runs.is_empty() {
        o.push_str("active runs: none\n");
    } else {
        o.push_str("active runs:\n");
        for r in &v.active_runs {
            o.push_str(&format!(
                "  {} {} attempt {} ({}, {}) pid {} for {}\n",
                r.feature.as_deref().unwrap_or("-"),
                r.role,
                r.attempt,
                r.agent,
                r.run,
                r.pid,
                humantime::format_duration(std::time::Duration::from_secs(
                    r.elapsed_secs.max(0) as u64
                ))
            ));
        }
    }
    if let Some(b) = &v.block {
        let at = b.place();
        o.push_str(&format!(
            "blocked: {} {at} since {}\n  {}\n",
            b.reason, b.since, b.message
        ));
        if let Some(q) = &b.question {
            o.push_str(&format!("  orchestrator: needs_input: {q}\n"));
        }
    }
    let l = &v.budget.limits;
    let s = &v.budget.spent;
    let of = |spent: String, limit: Option<String>| match limit {
        Some(l) => format!("{spent} of {l}"),
        None => spent,
    };
    let runs = |n: u32| crate::budget::count(u64::from(n), "run", "runs");
    o.push_str(&format!(
        "budget: {} · {} tokens · {} h · {}\n",
        of(money(s.usd), l.usd.map(money)),
        of(s.tokens.to_string(), l.tokens.map(|x| x.to_string())),
        of(
            format!("{:.1}", s.hours),
            l.hours.map(|x| format!("{x:.1}"))
        ),
        match l.runs {
            Some(lim) => format!("{} of {}", s.runs, runs(lim)),
            None => runs(s.runs),
        },
    ));
    let e = &v.estimate;
    if !v.status.is_finished() && e.remaining_runs > 0 {
        let r = e.remaining_usd;
        o.push_str(&format!(
            "estimate: about {} ({} done), {}–{} more (expected {})\n",
            crate::budget::count(u64::from(e.remaining_runs), "more run", "more runs"),
            e.runs_done,
            money(r.low),
            money(r.high),
            money(r.mid),
        ));
    }
    if v.scope.repair > 0 {
        o.push_str(&format!(
            "scope: {} planned features, {} repair features\n",
            v.scope.original, v.scope.repair
        ));
    }
    if !v.next.is_empty() {
        o.push_str("next:\n");
        for n in &v.next {
            o.push_str(&format!("  {n}\n"));
        }
    }
    o
}

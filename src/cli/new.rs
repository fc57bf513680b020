//! `git mission new`: create a mission file from a template.

use crate::error::{Error, Result};
use crate::mission::{MissionDoc, Mode};
use crate::templates;
use crate::workspace::{check_mission_id, integration_branch, mission_file};

use super::{Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Mission id: lowercase letters, digits and '-'
    pub id: String,
    /// Title (default: from the id)
    #[arg(long)]
    pub title: Option<String>,
    /// The goal, written into the Objective section
    #[arg(long)]
    pub goal: Option<String>,
    /// full (PRs, parallel workers) or poc (one worker, straight onto the integration branch)
    #[arg(long, value_parser = ["full", "poc"])]
    pub mode: Option<String>,
    /// Let the planner agent write the plan (skill mission-plan); it must pass `validate`
    #[arg(long)]
    pub plan: bool,
    /// Start from a mission-type template
    #[arg(long, value_parser = templates::TYPES.iter().map(|t| t.0).collect::<Vec<_>>())]
    pub template: Option<String>,
}

pub fn run(cx: &Ctx, a: &Args) -> Result<u8> {
    check_mission_id(&a.id)?;
    let ws = cx.workspace()?;
    let file = mission_file(&a.id);
    if ws.path(&file).exists() || ws.repo.branch_head(&integration_branch(&a.id))?.is_some() {
        return Err(Error::user_hint(
            format!("mission {:?} already exists", a.id),
            format!(
                "see it with `git mission status {}`, or pick another id",
                a.id
            ),
        ));
    }
    let title = a.title.clone().unwrap_or_else(|| title_from_id(&a.id));
    if title.trim().is_empty() {
        return Err(Error::user("the title is empty"));
    }
    let template = templates::mission_template(a.template.as_deref());
    let doc = MissionDoc::parse(template.to_owned())
        .map_err(|d| Error::Internal(format!("built-in template does not parse: {}", d.message)))?;
    let mut mission = doc.mission.clone();
    mission.id = a.id.clone();
    mission.title = title.clone();
    if let Some(mode) = &a.mode {
        mission.mode = Some(if mode == "poc" { Mode::Poc } else { Mode::Full });
    }
    let goal = a.goal.as_deref().map(str::trim).unwrap_or("");
    let body = doc
        .body()
        .replacen("{{title}}", &title.replace('\n', " "), 1);
    let body = if goal.is_empty() {
        body.replacen("{{goal}}\n", "", 1)
    } else {
        body.replacen("{{goal}}", goal, 1)
    };
    let text = MissionDoc::compose(&mission, &body);
    if a.plan {
        // The planner must be there before anything is written.
        let config = cx.config(&ws, None)?;
        if let Err(m) = crate::agents::preflight(&config, crate::agents::Role::Planner, ws.root()) {
            return Err(Error::user_hint(
                format!("cannot plan {}: {}; nothing was written", a.id, m.message),
                format!(
                    "{}; or run `git mission new {}` without --plan and write the plan yourself",
                    m.fix, a.id
                ),
            ));
        }
    }
    ws.write(&file, &text)?;
    if a.plan {
        let planned = plan(cx, &ws, &a.id, &file, goal);
        // A planner that failed before writing anything leaves no template file behind.
        if planned.is_err() && std::fs::read_to_string(ws.path(&file)).is_ok_and(|t| t == text) {
            let _ = std::fs::remove_file(ws.path(&file));
        }
        return planned;
    }
    if cx.out.json {
        cx.out
            .json(&serde_json::json!({ "id": a.id, "file": file, "template": a.template }));
    } else {
        cx.out.data(&file);
        cx.out.hint(&format!(
            "next: write the plan in {file}, then `git mission validate {}`",
            a.id
        ));
    }
    Ok(exit::OK)
}

fn title_from_id(id: &str) -> String {
    let words = id.replace('-', " ");
    let mut c = words.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Runs the planner agent on the new mission file, then validates what it wrote.
fn plan(
    cx: &Ctx,
    ws: &crate::workspace::Workspace,
    id: &str,
    file: &str,
    goal: &str,
) -> Result<u8> {
    let loaded = ws.load(id, false)?;
    let config = cx.config(ws, Some(&loaded))?;
    let layout = crate::runs::Layout::new(&ws.repo, &config, id)?;
    let run = layout.new_run_id("plan", 1);
    let dir = layout.run(&run);
    let abs = ws.path(file);
    let prompt = format!(
        "{}\n\n# Your task\n\nWrite the plan of mission `{id}` into `{file}` (the file exists, made from the template).\n\nGoal: {}\n\n\
         Keep `status: draft` and `approved: null`: a person approves the plan. When you are done, \
         `git mission validate {id}` must report no errors.\n",
        crate::skills::body("mission-plan").trim(),
        if goal.is_empty() {
            "(none given: read the repository and the file's Objective section)"
        } else {
            goal
        }
    );
    let env = vec![
        ("GIT_MISSION_ID".to_owned(), id.to_owned()),
        ("GIT_MISSION_RUN".to_owned(), run.clone()),
        (
            "GIT_MISSION_FILE".to_owned(),
            abs.to_string_lossy().into_owned(),
        ),
        (
            "GIT_MISSION_WORKTREE".to_owned(),
            ws.root().to_string_lossy().into_owned(),
        ),
    ];
    cx.out
        .note(&format!("the planner is writing {file} (run {run})"));
    let ran = crate::worker::AgentRun {
        config: &config,
        clock: ws.repo.clock(),
        role: crate::agents::Role::Planner,
        dir: &dir,
        cwd: ws.root(),
        prompt: &prompt,
        env,
    }
    .run()?;
    let (fin, outcome) = (ran.finished, ran.outcome);
    if !outcome.success {
        return Err(Error::user_hint(
            format!(
                "the planner failed: {}",
                outcome
                    .error
                    .unwrap_or_else(|| format!("exit {:?}", fin.code))
            ),
            format!("its output is in {}", dir.display()),
        ));
    }
    let planned = ws.load(id, false)?;
    if planned.doc.mission.status != crate::mission::MissionStatus::Draft
        || planned.doc.mission.approved.is_some()
    {
        return Err(Error::user_hint(
            "the planner approved its own plan",
            format!("set `status: draft` and `approved: null` in {file}; only a person approves"),
        ));
    }
    let diags = crate::workspace::Workspace::diagnostics(&planned, &config.profile_names());
    let errors: Vec<_> = diags
        .iter()
        .filter(|d| d.severity == crate::mission::Severity::Error)
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(Error::Invalid {
            file: file.to_owned(),
            diagnostics: errors,
        });
    }
    if cx.out.json {
        cx.out.json(&serde_json::json!({ "id": id, "file": file, "planned_by": run, "warnings": diags.len() }));
    } else {
        cx.out.data(file);
        cx.out.hint(&format!("review the plan ({} readiness warnings: `git mission validate {id}`), then `git mission approve {id}`", diags.len()));
    }
    Ok(exit::OK)
}

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
    ws.write(&file, &text)?;
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

//! `git mission approve`: record who approved the plan and when; change nothing else.

use crate::error::{Error, Result};
use crate::git;
use crate::mission::{Approval, MissionStatus, Rewrite, Severity};
use crate::workspace::{Workspace, integration_branch};

use super::{Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Mission id
    pub id: String,
}

pub fn run(cx: &Ctx, a: &Args) -> Result<u8> {
    let ws = cx.workspace()?;
    let loaded = ws.load(&a.id, false)?;
    if ws.repo.branch_head(&integration_branch(&a.id))?.is_some() {
        return Err(Error::user_hint(
            format!(
                "mission {} has already started (branch {} exists)",
                a.id,
                integration_branch(&a.id)
            ),
            format!("see it with `git mission status {}`", a.id),
        ));
    }
    let m = &loaded.doc.mission;
    if let Some(ap) = &m.approved {
        return Err(Error::user_hint(
            format!(
                "mission {} was already approved by {} at {}",
                a.id, ap.by, ap.at
            ),
            format!("start it with `git mission run {}`", a.id),
        ));
    }
    if m.status != MissionStatus::Draft {
        return Err(Error::user(format!(
            "only a draft can be approved; mission {} is {}",
            a.id, m.status
        )));
    }
    let config = cx.config(&ws, Some(&loaded))?;
    let diagnostics = Workspace::diagnostics(&loaded, &config.profile_names());
    let errors: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(Error::Invalid {
            file: loaded.file.clone(),
            diagnostics: errors,
        });
    }
    let missing = crate::agents::missing_agents(&config, m, ws.root());
    let warnings = diagnostics.len() + missing.len();
    if m.milestones.is_empty() {
        return Err(Error::user_hint(
            format!("mission {} has no milestones to approve", a.id),
            format!("write the plan in {} first", loaded.file),
        ));
    }
    if let Some((why, fix)) = unfinished(&loaded.doc, &loaded.file) {
        return Err(Error::user_hint(
            format!("mission {} is not ready to approve: {why}", a.id),
            fix,
        ));
    }
    let (by, at) = git::identity(ws.root())?;
    let mut approved = m.clone();
    approved.status = MissionStatus::Approved;
    approved.approved = Some(Approval { by: by.clone(), at });
    let (text, how) = loaded.doc.rewrite(&approved);
    ws.write(&loaded.file, &text)?;
    if how == Rewrite::Normalized {
        cx.out.warning(&format!(
            "the frontmatter of {} was rewritten in canonical form (its layout could not be kept)",
            loaded.file
        ));
    }
    for (_, why) in &missing {
        cx.out.warning(&why.message);
        cx.out.hint(&why.fix);
    }
    if cx.out.json {
        let missing: Vec<_> = missing
            .iter()
            .map(|(role, why)| serde_json::json!({ "role": role, "message": why.message, "fix": why.fix }))
            .collect();
        cx.out.json(&serde_json::json!({
            "id": a.id, "file": loaded.file, "status": "approved",
            "approved": {"by": by, "at": at.to_string()}, "warnings": warnings,
            "agents_missing": missing,
        }));
    } else {
        cx.out.data(&format!("approved {} (by {by} at {at})", a.id));
        if warnings > 0 {
            cx.out.warning(&format!(
                "{warnings} readiness {} open: see `git mission validate {}`",
                if warnings == 1 {
                    "warning is"
                } else {
                    "warnings are"
                },
                a.id
            ));
        }
        cx.out.hint(&format!(
            "commit {} so the supervisor sees the approval, then `git mission run {}`",
            loaded.file, a.id
        ));
    }
    Ok(exit::OK)
}

/// What still reads as the template rather than a plan: an empty Objective, or a feature
/// whose title and description are a shipped template's word for word. With the fix.
fn unfinished(doc: &crate::mission::MissionDoc, file: &str) -> Option<(String, String)> {
    let body = doc.body();
    let secs = crate::mission::body::sections(body);
    let objective = crate::mission::body::section(&secs, "Objective");
    if objective.is_none_or(|s| crate::mission::body::is_blank(&body[s.content.clone()])) {
        return Some((
            "its Objective is empty".into(),
            format!("say what done looks like in the Objective section of {file}"),
        ));
    }
    let templates: Vec<crate::mission::MissionDoc> = crate::templates::TYPES
        .iter()
        .filter_map(|(_, text)| crate::mission::MissionDoc::parse((*text).to_owned()).ok())
        .collect();
    for (_, f) in doc.mission.features() {
        let copied = templates.iter().any(|t| {
            t.mission
                .features()
                .any(|(_, tf)| tf.title == f.title && tf.description.trim() == f.description.trim())
        });
        if copied {
            return Some((
                format!(
                    "{} is still the template's placeholder ({:?})",
                    f.id, f.title
                ),
                format!(
                    "write the real work into {}'s title and description in {file} (or drop it: `git mission feature drop`)",
                    f.id
                ),
            ));
        }
    }
    None
}

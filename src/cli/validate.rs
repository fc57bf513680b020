//! `git mission validate`: schema, references and the readiness checklist.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::mission::{Diagnostic, Severity, validate::has_errors};
use crate::workspace::{Workspace, mission_file};

use super::{Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Mission id (default: every mission)
    pub id: Option<String>,
    /// Validate every mission
    #[arg(long, conflicts_with = "id")]
    pub all: bool,
}

#[derive(Serialize)]
struct Report {
    id: String,
    file: String,
    valid: bool,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<Diagnostic>,
}

pub fn run(cx: &Ctx, a: &Args) -> Result<u8> {
    let ws = cx.workspace()?;
    let ids = match &a.id {
        Some(id) => vec![id.clone()],
        None => ws.list_ids()?,
    };
    if ids.is_empty() {
        return Err(Error::user_hint(
            "no missions to validate",
            "create one with `git mission new <id>`",
        ));
    }
    let mut reports = Vec::new();
    for id in &ids {
        reports.push(check(cx, &ws, id)?);
    }
    let failed = reports.iter().any(|r| !r.valid);
    if cx.out.json {
        cx.out.json(&reports);
    } else {
        for r in &reports {
            cx.out.diagnostics(&r.file, &r.diagnostics, true);
            let verdict = if r.valid { "ok" } else { "invalid" };
            cx.out.data(&format!(
                "{}: {verdict} ({} {}, {} {})",
                r.file,
                r.errors,
                plural(r.errors, "error"),
                r.warnings,
                plural(r.warnings, "warning")
            ));
        }
    }
    Ok(if failed { exit::USER } else { exit::OK })
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_owned()
    } else {
        format!("{word}s")
    }
}

/// Validates the work-tree file (what the user edits), or the branch copy if there is none.
fn check(cx: &Ctx, ws: &Workspace, id: &str) -> Result<Report> {
    let file = mission_file(id);
    let loaded = match ws.load_indexed(id, !ws.path(&file).exists()) {
        Ok(l) => l,
        Err(Error::Invalid { file, diagnostics }) => {
            return Ok(Report {
                id: id.to_owned(),
                file,
                valid: false,
                errors: diagnostics.len(),
                warnings: 0,
                diagnostics,
            });
        }
        Err(e) => return Err(e),
    };
    let config = cx.config(ws, Some(&loaded))?;
    let mut diagnostics = Workspace::diagnostics(&loaded, &config.profile_names());
    // Only worth saying once the file itself is sound.
    if !has_errors(&diagnostics) {
        for (_, why) in crate::agents::missing_agents(&config, &loaded.doc.mission, ws.root()) {
            diagnostics
                .push(Diagnostic::warning("agent-missing", (1, 1), why.message).hint(why.fix));
        }
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    Ok(Report {
        id: id.to_owned(),
        file: loaded.file,
        valid: !has_errors(&diagnostics),
        errors,
        warnings: diagnostics.len() - errors,
        diagnostics,
    })
}

//! `git mission init`: write the repository defaults file.

use crate::config::CONFIG_FILE;
use crate::error::{Error, Result};
use crate::mission::validate::AGENTS;

use super::{Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Use this agent for every role (claude, codex, opencode, gemini, aider, exec)
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,
    /// Also install the GitHub workflows (pulse, worker, comment) in .github/workflows/
    #[arg(long)]
    pub github: bool,
    /// With --github: where the workflows build git-mission from when no released binary fits
    /// the runner: a git URL, optionally with @TAG (default: crates.io)
    #[arg(long, value_name = "GIT_URL[@TAG]", requires = "github")]
    pub install_from: Option<String>,
}

/// Parses `--install-from URL[@TAG]` (the tag after the last `@` of the path, so
/// `git@host:o/r.git` keeps its user).
fn install_from(spec: Option<&str>) -> Result<crate::templates::InstallFrom> {
    let mut from = crate::templates::InstallFrom::default();
    let Some(spec) = spec else {
        return Ok(from);
    };
    let (url, tag) = match spec.rsplit_once('@') {
        Some((u, t)) if !t.contains(['/', ':']) && !u.is_empty() => (u, t),
        _ => (spec, ""),
    };
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~:/@+%".contains(c))
    };
    if !ok(url) || !(tag.is_empty() || ok(tag)) || url.starts_with('-') {
        return Err(Error::user_hint(
            format!("--install-from {spec:?} is not a git URL with an optional @tag"),
            "write e.g. --install-from https://github.com/you/git-mission@v0.1.0",
        ));
    }
    from.git = url.to_owned();
    from.git_ref = tag.to_owned();
    Ok(from)
}

pub fn run(cx: &Ctx, a: &Args) -> Result<u8> {
    let ws = cx.workspace()?;
    if let Some(agent) = &a.agent
        && !AGENTS.contains(&agent.as_str())
    {
        return Err(Error::user_hint(
            format!("unknown agent {agent:?}"),
            format!("agents are {}", AGENTS.join(", ")),
        ));
    }
    let from = install_from(a.install_from.as_deref())?;
    let path = ws.path(CONFIG_FILE);
    let created = !path.exists();
    if created {
        ws.write(CONFIG_FILE, &config_text(a.agent.as_deref()))?;
    }
    // With an agent, its skills go where it reads them (aider reads none).
    let skills = match a.agent.as_deref() {
        Some("aider") | None => Vec::new(),
        Some(agent) => crate::skills::install(ws.root(), Some(agent), false)?,
    };
    // Workflows: written when absent, never overwritten (a user may have edited them).
    let mut workflows = Vec::new();
    if a.github {
        for (name, text) in crate::templates::WORKFLOWS {
            let rel = format!(".github/workflows/{name}");
            let exists = ws.path(&rel).exists();
            if !exists {
                ws.write(&rel, &crate::templates::workflow(text, &from))?;
            }
            workflows.push(serde_json::json!({ "path": rel, "written": !exists }));
        }
    }
    if cx.out.json {
        cx.out.json(
            &serde_json::json!({ "file": CONFIG_FILE, "created": created, "skills": skills, "workflows": workflows }),
        );
    } else {
        if created {
            cx.out.data(&format!("created {CONFIG_FILE}"));
        } else {
            cx.out
                .data(&format!("{CONFIG_FILE} already exists; left as it is"));
        }
        for s in skills.iter().filter(|s| s.action == "written") {
            cx.out.data(&format!("installed {}", s.path));
        }
        for w in &workflows {
            let path = w["path"].as_str().unwrap_or("");
            if w["written"] == true {
                cx.out.data(&format!("installed {path}"));
            } else {
                cx.out
                    .data(&format!("{path} already exists; left as it is"));
            }
        }
        if a.github {
            cx.out.hint("commit the workflows, set `forge: github` and read docs/github.md (token, \"allow Actions to create pull requests\", agent secrets)");
        }
        if created {
            cx.out.hint("next: git mission new <id> --title \"...\"");
        }
    }
    Ok(exit::OK)
}

fn config_text(agent: Option<&str>) -> String {
    let agents = match agent {
        Some(a) => {
            format!("agents: {{worker: {a}, validator: {a}, orchestrator: {a}, planner: {a}}}\n")
        }
        None => {
            "# agents: {worker: claude, validator: claude, orchestrator: none, planner: claude}\n"
                .into()
        }
    };
    format!(
        "# git mission: repository defaults (see docs/configuration.md).\n\
         # Same keys as a mission file's settings. Precedence, lowest first: built-in <\n\
         # git config --global mission.* < this file < git config --local mission.* <\n\
         # mission frontmatter < GIT_MISSION_* environment < `git mission -c key=value`.\n\
         \n\
         # mode: full                # full | poc\n\
         # forge: auto               # auto | github | local\n\
         # land: pr                  # pr | auto | none\n\
         {agents}\
         # models: {{worker: sonnet, validator: sonnet, orchestrator: opus}}\n\
         # checks: [\"cargo test --locked\"]\n\
         # limits: {{max_parallel_workers: 2, validation_failures: 5, worker_attempts: 3, worker_timeout: 2h}}\n\
         # budget: {{usd: 40, alert_pct: 80}}\n\
         # profiles:\n\
         #   script: {{agent: exec, command: [\"sh\", \"scripts/worker.sh\"]}}\n"
    )
}

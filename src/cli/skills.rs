//! `git mission skills install`: put the shipped skills where agents read them.

use serde_json::json;

use crate::error::Result;

use super::{Ctx, exit};

#[derive(Debug, clap::Subcommand)]
pub enum SkillsCmd {
    /// Install the shipped skills for an agent (default: .agents/skills and .claude/skills)
    Install {
        /// claude, codex, opencode, gemini or exec
        #[arg(long)]
        agent: Option<String>,
        /// Overwrite skill files that were edited locally
        #[arg(long)]
        force: bool,
    },
}

pub fn run(cx: &Ctx, cmd: &SkillsCmd) -> Result<u8> {
    let SkillsCmd::Install { agent, force } = cmd;
    let ws = cx.workspace()?;
    let done = crate::skills::install(ws.root(), agent.as_deref(), *force)?;
    report(cx, &done);
    Ok(exit::OK)
}

/// Prints what an install did.
pub fn report(cx: &Ctx, done: &[crate::skills::Installed]) {
    if cx.out.json {
        cx.out.json(&json!(done));
        return;
    }
    let mut o = String::new();
    for i in done {
        o.push_str(&format!("{:<9} {}\n", i.action, i.path));
    }
    cx.out.data(&o);
    if done.iter().any(|i| i.action == "kept") {
        cx.out
            .hint("files edited locally were kept; pass --force to replace them");
    }
}

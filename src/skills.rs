//! The shipped skills (PRODUCT.md §6), embedded in the binary: given to agents in their
//! prompts, and installed where each agent CLI looks for skills (`skills install`).

use std::path::Path;

use crate::error::{Error, Result};

/// `(name, SKILL.md text)`.
pub const SKILLS: &[(&str, &str)] = &[
    (
        "mission-plan",
        include_str!("../skills/mission-plan/SKILL.md"),
    ),
    (
        "mission-orchestrator",
        include_str!("../skills/mission-orchestrator/SKILL.md"),
    ),
    (
        "mission-worker",
        include_str!("../skills/mission-worker/SKILL.md"),
    ),
    (
        "validator-scrutiny",
        include_str!("../skills/validator-scrutiny/SKILL.md"),
    ),
    (
        "validator-user-testing",
        include_str!("../skills/validator-user-testing/SKILL.md"),
    ),
];

/// The text of a shipped skill.
pub fn text(name: &str) -> &'static str {
    SKILLS.iter().find(|s| s.0 == name).map_or("", |s| s.1)
}

/// The body of a skill without its front matter, for prompts.
pub fn body(name: &str) -> &'static str {
    let t = text(name);
    t.strip_prefix("---\n")
        .and_then(|r| r.find("\n---\n").map(|i| &r[i + 5..]))
        .unwrap_or(t)
}

/// Where an agent reads project skills (see the agent CLI reference, "instruction files").
pub fn dirs_for(agent: Option<&str>) -> Result<Vec<&'static str>> {
    Ok(match agent {
        None => vec![".agents/skills", ".claude/skills"],
        Some("claude") => vec![".claude/skills"],
        Some("codex" | "opencode" | "gemini" | "exec") => vec![".agents/skills"],
        Some("aider") => {
            return Err(Error::user_hint(
                "aider does not read skill directories",
                "give aider the files with --read in a profile's args, e.g. args: [\"--read\", \".agents/skills/mission-worker/SKILL.md\"]",
            ));
        }
        Some(other) => return Err(Error::user(format!("unknown agent {other:?}"))),
    })
}

/// What `install` did with one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Installed {
    pub path: String,
    /// `written`, `unchanged`, or `kept` (a different file was there and `force` was not set).
    pub action: &'static str,
}

/// Installs every shipped skill under `root` for `agent`.
pub fn install(root: &Path, agent: Option<&str>, force: bool) -> Result<Vec<Installed>> {
    let mut out = Vec::new();
    for dir in dirs_for(agent)? {
        for (name, text) in SKILLS {
            let rel = format!("{dir}/{name}/SKILL.md");
            let path = root.join(&rel);
            let action = match std::fs::read_to_string(&path) {
                Ok(existing) if existing == *text => "unchanged",
                Ok(_) if !force => "kept",
                _ => {
                    let parent = path.parent().expect("skill paths have a parent");
                    std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
                    std::fs::write(&path, text).map_err(Error::io(&path))?;
                    "written"
                }
            };
            out.push(Installed { path: rel, action });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_skill_has_front_matter_naming_it() {
        for (name, text) in SKILLS {
            assert!(
                text.starts_with(&format!("---\nname: {name}\ndescription: ")),
                "{name}"
            );
            assert!(!body(name).starts_with("---"), "{name}");
            assert!(body(name).len() > 500, "{name} is too thin");
        }
    }

    #[test]
    fn install_writes_once_and_keeps_local_edits() {
        let dir = tempfile::tempdir().expect("tmp");
        let first = install(dir.path(), Some("claude"), false).expect("install");
        assert!(
            first
                .iter()
                .all(|i| i.action == "written" && i.path.starts_with(".claude/skills/"))
        );
        let p = dir.path().join(".claude/skills/mission-worker/SKILL.md");
        std::fs::write(&p, "my own").expect("edit");
        let again = install(dir.path(), Some("claude"), false).expect("install");
        assert!(again.iter().any(|i| i.action == "kept"));
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "my own");
        install(dir.path(), Some("claude"), true).expect("force");
        assert_eq!(
            std::fs::read_to_string(&p).expect("read"),
            text("mission-worker")
        );
        assert!(install(dir.path(), Some("aider"), false).is_err());
    }
}

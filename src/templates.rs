//! Templates embedded in the binary: the mission template and the mission-type templates.

/// The default mission template (all body sections of PRODUCT.md §2.1).
pub const MISSION: &str = include_str!("../templates/mission-template.md");

/// Mission-type templates: `(name, text)`.
pub const TYPES: &[(&str, &str)] = &[
    (
        "migration",
        include_str!("../templates/missions/migration.md"),
    ),
    (
        "test-coverage",
        include_str!("../templates/missions/test-coverage.md"),
    ),
    (
        "refactor",
        include_str!("../templates/missions/refactor.md"),
    ),
    (
        "prototype",
        include_str!("../templates/missions/prototype.md"),
    ),
    (
        "research",
        include_str!("../templates/missions/research.md"),
    ),
];

/// The template for `new --template NAME` (the default template for `None`).
pub fn mission_template(name: Option<&str>) -> &'static str {
    name.and_then(|n| TYPES.iter().find(|t| t.0 == n).map(|t| t.1))
        .unwrap_or(MISSION)
}

/// Where a workflow template names the git-mission version its install step pins.
pub const VERSION_PLACEHOLDER: &str = "@GIT_MISSION_VERSION@";

/// The install step's script (`templates/workflows/install.sh`), spliced into each workflow.
pub const INSTALL_SCRIPT: &str = include_str!("../templates/workflows/install.sh");

/// Where the installed workflows get git-mission from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallFrom {
    /// Release downloads: `<url>/v<version>/git-mission-<target>.tar.gz`; empty for none.
    pub releases: String,
    /// A git URL to build from instead of crates.io (empty: crates.io), and its tag.
    pub git: String,
    pub git_ref: String,
}

impl Default for InstallFrom {
    /// This crate's releases, built from crates.io when there is no binary for the runner.
    fn default() -> Self {
        let repo = env!("CARGO_PKG_REPOSITORY").trim_end_matches('/');
        InstallFrom {
            releases: if repo.is_empty() {
                String::new()
            } else {
                format!("{repo}/releases/download")
            },
            git: String::new(),
            git_ref: String::new(),
        }
    }
}

/// A workflow template as `init --github` writes it: pinned to this binary's version, so every
/// runner installs exactly the release that installed the workflows (and caches it by version),
/// with the install step's script spliced in.
pub fn workflow(text: &str, from: &InstallFrom) -> String {
    let mut out = String::with_capacity(text.len() + INSTALL_SCRIPT.len() * 2);
    for line in text.split_inclusive('\n') {
        match line.trim_end().strip_suffix("@GIT_MISSION_INSTALL@") {
            Some(indent) if indent.trim().is_empty() => {
                for l in INSTALL_SCRIPT.lines() {
                    if l.is_empty() {
                        out.push('\n');
                    } else {
                        out.push_str(&format!("{indent}{l}\n"));
                    }
                }
            }
            _ => out.push_str(line),
        }
    }
    // YAML double-quoted values: the URLs are checked to hold no quote or backslash.
    out.replace(VERSION_PLACEHOLDER, env!("CARGO_PKG_VERSION"))
        .replace("@GIT_MISSION_RELEASES@", &from.releases)
        .replace("@GIT_MISSION_GIT_REF@", &from.git_ref)
        .replace("@GIT_MISSION_GIT@", &from.git)
}

/// The GitHub workflows `init --github` installs, as (file name, template text); write
/// [`workflow`] of the text.
pub const WORKFLOWS: &[(&str, &str)] = &[
    (
        "mission-pulse.yml",
        include_str!("../templates/workflows/mission-pulse.yml"),
    ),
    (
        "mission-worker.yml",
        include_str!("../templates/workflows/mission-worker.yml"),
    ),
    (
        "mission-comment.yml",
        include_str!("../templates/workflows/mission-comment.yml"),
    ),
];

#[cfg(test)]
mod tests {
    use crate::mission::{MissionDoc, Severity, validate::validate};

    #[test]
    fn every_workflow_that_installs_git_mission_pins_this_version() {
        for (name, text) in super::WORKFLOWS {
            let pin = format!("GIT_MISSION_VERSION: \"{}\"", super::VERSION_PLACEHOLDER);
            assert_eq!(text.matches(&pin).count(), 1, "{name}");
            let written = super::workflow(text, &super::InstallFrom::default());
            assert!(!written.contains("@GIT_MISSION_"), "{name}");
            // The install script is spliced in whole, indented under `run: |`.
            assert!(
                written.contains(
                    "          cargo install --locked --root \"$dest/..\" --version \"=$GIT_MISSION_VERSION\" git-mission\n"
                ),
                "{name}: {written}"
            );
            assert!(
                written.contains(&format!(
                    "GIT_MISSION_VERSION: \"{}\"",
                    env!("CARGO_PKG_VERSION")
                )),
                "{name}"
            );
        }
    }

    #[test]
    fn every_template_parses_and_validates_without_errors() {
        for (name, text) in
            std::iter::once(("default", super::MISSION)).chain(super::TYPES.iter().copied())
        {
            let doc =
                MissionDoc::parse(text.to_owned()).unwrap_or_else(|d| panic!("{name}: {d:?}"));
            let errors: Vec<_> = validate(&doc, None, &[])
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:?}");
            for section in [
                "Objective",
                "Non-goals",
                "Assumptions",
                "Risks",
                "Validation contract",
                "Status",
                "Budget",
                "Decision Log",
                "Retrospective",
            ] {
                assert!(
                    doc.body().contains(&format!("## {section}\n")),
                    "{name} lacks {section}"
                );
            }
        }
    }
}

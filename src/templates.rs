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

/// A workflow template as `init --github` writes it: pinned to this binary's version, so every
/// runner installs exactly the release that installed the workflows (and caches it by version).
pub fn workflow(text: &str) -> String {
    text.replace(VERSION_PLACEHOLDER, env!("CARGO_PKG_VERSION"))
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
            assert!(
                text.contains(
                    "cargo install --locked --version \"=$GIT_MISSION_VERSION\" git-mission"
                ),
                "{name}"
            );
            let pin = format!("GIT_MISSION_VERSION: \"{}\"", super::VERSION_PLACEHOLDER);
            assert_eq!(text.matches(&pin).count(), 1, "{name}");
            let written = super::workflow(text);
            assert!(!written.contains(super::VERSION_PLACEHOLDER), "{name}");
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

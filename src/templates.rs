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

/// The GitHub workflows `init --github` installs, as (file name, text).
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

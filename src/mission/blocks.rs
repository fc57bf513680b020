//! The generated blocks of the mission body that show its progress: the Status block (a
//! table and a Mermaid chart of milestones and features). The store keeps it current in every
//! state commit that changes what it shows, so the file GitHub renders on `mission/<id>`
//! shows progress (and the land carries it to the base branch).

use super::model::{FeatureStatus, Mission};

/// Above this many features the Status block shows milestones only (with counts): a table
/// and a chart of thousands of nodes is unreadable, and GitHub stops rendering large charts.
pub const MAX_FEATURE_ROWS: usize = 300;

/// The generated Status block: a table and a Mermaid chart of milestones and features (of
/// milestones only, with counts, above [`MAX_FEATURE_ROWS`] features), and the block with its
/// reason when the mission is blocked.
pub fn status_block(m: &Mission) -> String {
    let mut o = String::new();
    o.push_str(&format!("**{}** — {}\n\n", m.status, cell(&m.title)));
    if let Some(b) = &m.block {
        let at = b.place();
        let at = if at.is_empty() {
            String::new()
        } else {
            format!(" at {at}")
        };
        o.push_str(&format!(
            "Blocked ({}){at}: {}\n\n",
            b.reason.as_str(),
            cell(&b.message)
        ));
    }
    let features = m.features().count();
    let each = features <= MAX_FEATURE_ROWS;
    o.push_str("| Milestone | Feature | Title | Status | Attempts | Depends on |\n");
    o.push_str("|---|---|---|---|---|---|\n");
    for ms in &m.milestones {
        let failures = if ms.failures > 0 {
            format!(" ({} failed validations)", ms.failures)
        } else {
            String::new()
        };
        let merged = ms
            .features
            .iter()
            .filter(|f| f.status == FeatureStatus::Merged)
            .count();
        o.push_str(&format!(
            "| {} | {merged}/{} merged | {} | {}{failures} | | |\n",
            ms.id,
            ms.features.len(),
            cell(&ms.title),
            ms.status
        ));
        for f in ms.features.iter().filter(|_| each) {
            let repair = if f.origin.is_some() { " (repair)" } else { "" };
            o.push_str(&format!(
                "| | {} | {}{repair} | {} | {} | {} |\n",
                f.id,
                cell(&f.title),
                f.status,
                f.attempts,
                f.depends_on.join(", ")
            ));
        }
    }
    if !each {
        o.push_str(&format!(
            "\n{features} features: `git mission status {}` lists each.\n",
            m.id
        ));
    }
    o.push_str("\n```mermaid\nflowchart LR\n");
    for ms in &m.milestones {
        o.push_str(&format!(
            "  subgraph {}[\"{} {} ({})\"]\n",
            ms.id,
            ms.id,
            mermaid(&ms.title),
            ms.status
        ));
        for f in ms.features.iter().filter(|_| each) {
            o.push_str(&format!(
                "    {}[\"{} {} ({})\"]\n",
                f.id,
                f.id,
                mermaid(&f.title),
                f.status
            ));
        }
        o.push_str("  end\n");
    }
    for pair in m.milestones.windows(2) {
        o.push_str(&format!("  {} --> {}\n", pair[0].id, pair[1].id));
    }
    for (_, f) in m.features().filter(|_| each) {
        for d in &f.depends_on {
            o.push_str(&format!("  {d} --> {}\n", f.id));
        }
    }
    o.push_str("```\n");
    o
}

/// Text safe inside a Markdown table cell.
pub fn cell(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
        .replace('|', "\\|")
        .replace('<', "&lt;")
}

/// Text safe inside a quoted Mermaid label.
pub fn mermaid(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

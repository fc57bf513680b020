//! `git mission list`: every mission, grouped Blocked / Running / Paused / Approved / Draft /
//! Completed (then Cancelled, then files that do not parse).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::mission::{FeatureStatus, MilestoneStatus, MissionStatus};
use crate::workspace::Source;

use super::{
    Ctx, exit,
    output::{table, table_text},
};

#[derive(Serialize)]
struct Item {
    id: String,
    group: &'static str,
    title: Option<String>,
    status: Option<MissionStatus>,
    file: String,
    source: Option<Source>,
    milestones: Counts,
    features: Counts,
    spent_usd: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize, Default)]
struct Counts {
    done: usize,
    total: usize,
}

const GROUPS: &[&str] = &[
    "Blocked",
    "Running",
    "Paused",
    "Approved",
    "Draft",
    "Completed",
    "Cancelled",
    "Invalid",
];

fn group(s: MissionStatus) -> &'static str {
    match s {
        MissionStatus::Blocked => "Blocked",
        MissionStatus::Running => "Running",
        MissionStatus::Paused => "Paused",
        MissionStatus::Approved => "Approved",
        MissionStatus::Draft => "Draft",
        MissionStatus::Completed => "Completed",
        MissionStatus::Cancelled => "Cancelled",
    }
}

pub fn run(cx: &Ctx) -> Result<u8> {
    let ws = cx.workspace()?;
    let mut items = Vec::new();
    for id in ws.list_ids()? {
        items.push(match ws.load(&id, true) {
            Ok(l) => {
                let m = &l.doc.mission;
                let features: Vec<_> = m.features().map(|(_, f)| f).collect();
                Item {
                    id: id.clone(),
                    group: group(m.status),
                    title: Some(m.title.clone()),
                    status: Some(m.status),
                    file: l.file.clone(),
                    source: Some(l.source.clone()),
                    milestones: Counts {
                        done: m
                            .milestones
                            .iter()
                            .filter(|ms| {
                                matches!(
                                    ms.status,
                                    MilestoneStatus::Passed | MilestoneStatus::Skipped
                                )
                            })
                            .count(),
                        total: m.milestones.len(),
                    },
                    features: Counts {
                        done: features
                            .iter()
                            .filter(|f| {
                                matches!(f.status, FeatureStatus::Merged | FeatureStatus::Skipped)
                            })
                            .count(),
                        total: features.len(),
                    },
                    spent_usd: m.spent.usd,
                    error: None,
                }
            }
            Err(Error::Invalid { file, diagnostics }) => Item {
                id: id.clone(),
                group: "Invalid",
                title: None,
                status: None,
                error: diagnostics
                    .first()
                    .map(|d| format!("{file}:{}:{}: {}", d.line, d.column, d.message)),
                file,
                source: None,
                milestones: Counts::default(),
                features: Counts::default(),
                spent_usd: 0.0,
            },
            Err(e) => return Err(e),
        });
    }
    if cx.out.json {
        cx.out.json(&items);
        return Ok(exit::OK);
    }
    if items.is_empty() {
        cx.out.note("no missions yet");
        cx.out.hint("create one with `git mission new <id>`");
        return Ok(exit::OK);
    }
    let mut text = String::new();
    for g in GROUPS {
        let members: Vec<&Item> = items.iter().filter(|i| i.group == *g).collect();
        if members.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("{g} ({})\n", members.len()));
        let mut t = table(&["Id", "Title", "Milestones", "Features", "Spent"]);
        for i in members {
            match &i.error {
                Some(e) => t.add_row(vec![
                    i.id.clone(),
                    e.clone(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]),
                None => t.add_row(vec![
                    i.id.clone(),
                    i.title.clone().unwrap_or_default(),
                    format!("{}/{}", i.milestones.done, i.milestones.total),
                    format!("{}/{}", i.features.done, i.features.total),
                    format!("${:.2}", i.spent_usd),
                ]),
            };
        }
        text.push_str(&table_text(&t));
        text.push('\n');
    }
    cx.out.data(&text);
    Ok(exit::OK)
}

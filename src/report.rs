//! Mission Control: the status view model shared by `status`, `status --json` and the
//! generated Status/Budget blocks of the mission body.

use crate::events::Kind;
use serde::Serialize;

use crate::budget::estimate::{self, Estimate, Range};
use crate::config::Config;
use crate::mission::{
    Block, BlockReason, Budget, FeatureStatus, MilestoneStatus, Mission, MissionStatus,
};
use crate::workspace::Source;

#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub id: String,
    pub title: String,
    pub status: MissionStatus,
    pub file: String,
    pub source: Source,
    pub mode: String,
    pub base: Option<String>,
    pub forge: String,
    pub land: String,
    pub approved: Option<crate::mission::Approval>,
    pub block: Option<Block>,
    pub budget: BudgetView,
    pub estimate: EstimateView,
    pub active_runs: Vec<ActiveRun>,
    pub milestones: Vec<MilestoneView>,
    /// Features of the original plan vs repair work added from validation findings.
    pub scope: Scope,
    pub next: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Scope {
    pub original: usize,
    pub repair: usize,
}

/// The effective limits (from every configuration layer) and what has been spent.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetView {
    pub limits: Budget,
    pub spent: crate::mission::Spent,
}

#[derive(Debug, Clone, Serialize)]
pub struct EstimateView {
    pub runs: u32,
    pub runs_done: u32,
    pub remaining_runs: u32,
    pub usd: Range,
    /// What the milestones not yet passed may still cost.
    pub remaining_usd: Range,
    pub hours: Range,
    pub source: &'static str,
}

/// A worker process alive on this machine.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveRun {
    pub run: String,
    pub role: String,
    pub feature: Option<String>,
    pub attempt: u32,
    pub agent: String,
    pub pid: u32,
    pub started: String,
    pub elapsed_secs: i64,
}

/// The live runs of a mission, from its run directories on this machine.
pub fn active_runs(layout: &crate::runs::Layout, mission: &str) -> Vec<ActiveRun> {
    let now = layout.clock.now();
    layout
        .list()
        .into_iter()
        .filter(|(m, _)| m.mission == mission)
        .filter_map(|(m, s)| match s {
            crate::runs::RunState::Running { pid } => {
                let elapsed = m
                    .started
                    .parse::<jiff::Timestamp>()
                    .map(|t| (now - t).get_seconds())
                    .unwrap_or(0);
                Some(ActiveRun {
                    run: m.run,
                    role: m.role.as_str().to_owned(),
                    feature: m.feature,
                    attempt: m.attempt,
                    agent: m.agent,
                    pid,
                    started: m.started,
                    elapsed_secs: elapsed,
                })
            }
            _ => None,
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct MilestoneView {
    pub id: String,
    pub title: String,
    pub status: MilestoneStatus,
    pub failures: u32,
    /// The latest validation: its run, verdict and validator findings.
    pub last_validation: Option<ValidationSummary>,
    pub features: Vec<FeatureView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValidationSummary {
    pub run: String,
    pub verdict: &'static str,
    pub validator_runs: Vec<String>,
    pub findings: u64,
}

/// The latest validation of each milestone, from the event log.
pub fn last_validations(
    events: &[crate::events::Event],
) -> std::collections::HashMap<String, ValidationSummary> {
    let mut out = std::collections::HashMap::new();
    let mut findings: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for e in events {
        if e.kind == Kind::RunFinished
            && e.data["role"] == "validator"
            && let Some(r) = &e.run
        {
            findings.insert(r.clone(), e.data["findings"].as_u64().unwrap_or(0));
        }
        if let (Some(m), Some(run), Kind::MilestonePassed | Kind::MilestoneFailed) =
            (&e.milestone, &e.run, &e.kind)
        {
            let validator_runs: Vec<String> = e.data["validator_runs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            let n = validator_runs.iter().filter_map(|r| findings.get(r)).sum();
            out.insert(
                m.clone(),
                ValidationSummary {
                    run: run.clone(),
                    verdict: if e.kind == Kind::MilestonePassed {
                        "pass"
                    } else {
                        "fail"
                    },
                    validator_runs,
                    findings: n,
                },
            );
        }
    }
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct FeatureView {
    pub id: String,
    pub title: String,
    pub status: FeatureStatus,
    pub attempts: u32,
    pub pr: Option<u64>,
    pub branch: Option<String>,
    pub depends_on: Vec<String>,
    /// True for repair work added from a validation finding.
    pub repair: bool,
    /// The latest review round, while the feature is not merged: "changes requested by @x
    /// (round 2/3)".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
}

/// "changes requested by @x (round 2/3)" for a feature whose PR got such a review.
/// The last changes-requested event of each feature, in one pass over the log.
fn last_change_requests(
    events: &[crate::events::Event],
) -> std::collections::HashMap<&str, &crate::events::Event> {
    events
        .iter()
        .filter(|e| e.kind == Kind::FeatureChangesRequested)
        .filter_map(|e| Some((e.feature.as_deref()?, e)))
        .collect()
}

fn review_round(e: &crate::events::Event, config: &Config) -> String {
    let who: Vec<String> = e.data["reviewers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(|r| format!("@{r}")))
        .collect();
    format!(
        "changes requested by {} (round {}/{})",
        who.join(", "),
        e.data["round"].as_u64().unwrap_or(1),
        config.limit("limits.review_rounds")
    )
}

/// Builds the view. `branches` are the existing feature branch names of this mission.
pub fn status_view(
    m: &Mission,
    file: &str,
    source: Source,
    config: &Config,
    branches: &[String],
    active_runs: Vec<ActiveRun>,
    events: &[crate::events::Event],
) -> StatusView {
    let validations = last_validations(events);
    let change_requests = last_change_requests(events);
    // Features with a branch, from the branch names (`mission/<id>.<F#>`).
    let prefix = crate::workspace::feature_branch(&m.id, "");
    let with_branch: std::collections::HashSet<&str> = branches
        .iter()
        .filter_map(|b| b.strip_prefix(&prefix))
        .collect();
    let est = estimate::estimate(m);
    let milestones = m
        .milestones
        .iter()
        .map(|ms| MilestoneView {
            id: ms.id.clone(),
            title: ms.title.clone(),
            status: ms.status,
            failures: ms.failures,
            last_validation: validations.get(&ms.id).cloned(),
            features: ms
                .features
                .iter()
                .map(|f| {
                    let branch = with_branch
                        .contains(f.id.as_str())
                        .then(|| crate::workspace::feature_branch(&m.id, &f.id));
                    FeatureView {
                        id: f.id.clone(),
                        title: f.title.clone(),
                        status: f.status,
                        attempts: f.attempts,
                        pr: f.pr,
                        branch,
                        depends_on: f.depends_on.clone(),
                        repair: f.origin.is_some(),
                        review: (f.status != FeatureStatus::Merged)
                            .then(|| change_requests.get(f.id.as_str()))
                            .flatten()
                            .map(|e| review_round(e, config)),
                    }
                })
                .collect(),
        })
        .collect();
    let s = |k: &str| config.get_str(k).map(str::to_owned);
    StatusView {
        id: m.id.clone(),
        title: m.title.clone(),
        status: m.status,
        file: file.to_owned(),
        source,
        mode: s("mode").unwrap_or_else(|| "full".into()),
        base: s("base"),
        // The forge in use: `auto` resolved as the supervisor resolves it.
        forge: if config.github_enabled() {
            "github".into()
        } else {
            "local".into()
        },
        land: s("land").unwrap_or_else(|| "pr".into()),
        approved: m.approved.clone(),
        block: m.block.clone(),
        budget: BudgetView {
            limits: config.budget(),
            spent: m.spent.clone(),
        },
        estimate: estimate_view(&est, m),
        active_runs,
        scope: Scope {
            original: m.features().filter(|(_, f)| f.origin.is_none()).count(),
            repair: m.features().filter(|(_, f)| f.origin.is_some()).count(),
        },
        milestones,
        next: {
            // A mission landed through configuration (`land: auto` outside the file) needs no hint.
            let landed = events.iter().any(|e| e.kind == Kind::MissionLanded);
            next_actions(m)
                .into_iter()
                .filter(|n| !(landed && n.starts_with("land it")))
                .collect()
        },
    }
}

fn estimate_view(e: &Estimate, m: &Mission) -> EstimateView {
    EstimateView {
        runs: e.runs.total,
        runs_done: m.spent.runs,
        remaining_runs: e.remaining_runs,
        usd: e.usd,
        remaining_usd: e.remaining_usd,
        hours: e.hours,
        source: e.source,
    }
}

/// One worker run of a feature, from the event log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttemptView {
    pub attempt: u32,
    pub run: String,
    pub agent: Option<String>,
    /// running, succeeded, failed, timed out or cancelled.
    pub outcome: String,
    pub failure: Option<String>,
    pub tokens: Option<u64>,
    pub usd: Option<f64>,
}

/// Every worker run of `feature`, oldest first, with how it ended.
pub fn attempts(events: &[crate::events::Event], feature: &str) -> Vec<AttemptView> {
    events
        .iter()
        .filter(|e| e.kind == Kind::RunStarted && e.feature.as_deref() == Some(feature))
        .filter_map(|start| {
            let run = start.run.clone()?;
            let end = events
                .iter()
                .find(|e| e.kind.is_run_outcome() && e.run.as_deref() == Some(run.as_str()));
            let failure = end.and_then(|e| e.data["failure"].as_str().map(str::to_owned));
            let outcome = match end.map(|e| &e.kind) {
                None => "running",
                Some(Kind::RunTimedOut) => "timed out",
                Some(Kind::RunCancelled) => "cancelled",
                Some(_) if failure.is_some() => "failed",
                Some(_) => "succeeded",
            };
            Some(AttemptView {
                attempt: start.attempt.unwrap_or(1),
                run,
                agent: start.data["agent"].as_str().map(str::to_owned),
                outcome: outcome.to_owned(),
                failure,
                tokens: end.and_then(|e| e.data["tokens"].as_u64()),
                usd: end.and_then(|e| e.data["usd"].as_f64()),
            })
        })
        .collect()
}

/// What a person can do next, as concrete commands.
pub fn next_actions(m: &Mission) -> Vec<String> {
    let id = &m.id;
    match m.status {
        MissionStatus::Draft if m.milestones.is_empty() => vec![
            format!(
                "plan the mission: add milestones and features to todo/missions/{id}-mission.md"
            ),
            format!("check it: git mission validate {id}"),
        ],
        MissionStatus::Draft => vec![
            format!("check the plan: git mission validate {id}"),
            format!("see what it may cost: git mission estimate {id}"),
            format!("approve it: git mission approve {id}"),
        ],
        MissionStatus::Approved => vec![format!("start it: git mission run {id}")],
        MissionStatus::Running => vec![
            format!("follow it: git mission log {id} --follow"),
            format!("pause it: git mission pause {id}"),
        ],
        MissionStatus::Paused => match &m.block {
            Some(b) if b.reason == BlockReason::BudgetExceeded => vec![format!(
                "raise the budget in todo/missions/{id}-mission.md, then: git mission resume {id}"
            )],
            _ => vec![format!("resume it: git mission resume {id}")],
        },
        MissionStatus::Blocked => blocked_actions(m),
        MissionStatus::Completed if m.land != Some(crate::mission::Land::Auto) => vec![format!(
            "land it on the base branch: git merge mission/{id} (or set `land: auto` next time)"
        )],
        MissionStatus::Completed | MissionStatus::Cancelled => Vec::new(),
    }
}

fn blocked_actions(m: &Mission) -> Vec<String> {
    let id = &m.id;
    let Some(b) = &m.block else {
        return vec![format!("inspect it: git mission status {id}")];
    };
    let f = b.feature.as_deref().unwrap_or("F#");
    let ms = b.milestone.as_deref().unwrap_or("M#");
    let mut out = Vec::new();
    if let Some(p) = &b.packet {
        // The packet is committed on the integration branch, not in the work tree.
        out.push(format!(
            "read the recovery packet: git show {}:{p}",
            crate::workspace::integration_branch(id)
        ));
    }
    out.extend(match b.reason {
        BlockReason::ValidationFailed => vec![
            format!("see what failed: git mission log {id}, then git mission show {id} <run-id>"),
            format!("add repair work: git mission feature add {id} {ms} --title \"...\" --from-finding <run-id>:<finding>, then: git mission resume {id}"),
            format!("or validate again now: git mission revalidate {id} {ms}"),
        ],
        BlockReason::ValidationLimit => vec![format!(
            "raise limits.validation_failures or replan {ms} in the mission file, then: git mission resume {id}"
        )],
        BlockReason::WorkerFailed => vec![
            format!("see its runs: git mission log {id}"),
            format!("guide and retry it: git mission steer {id} {f} \"...\" && git mission retry {id} {f}, then: git mission run {id}"),
            format!("or skip it: git mission skip {id} {f} --reason \"...\""),
        ],
        BlockReason::BudgetExceeded => vec![format!("raise the budget, then: git mission resume {id}")],
        BlockReason::ResourceNeeded => vec![format!(
            "provide the resource, mark it `available` in the mission file, then: git mission resume {id}"
        )],
        BlockReason::Conflict => vec![format!("resolve the conflict on mission/{id}.{f}, then: git mission resume {id}")],
        BlockReason::CorruptState => vec![format!("inspect mission/{id}; the recovery cookbook is docs/recovery.md")],
        BlockReason::ReviewLimit => vec![
            format!("read the review on {f}'s PR; address it by hand on mission/{id}.{f}, or raise limits.review_rounds"),
            format!("then: git mission resume {id}"),
        ],
        BlockReason::MergeFailed => vec![
            format!("see why merging {f} failed: git mission log {id}"),
            format!("fix the cause (disk, permissions, a hook, the branch mission/{id}.{f}), then: git mission resume {id}"),
        ],
        BlockReason::AgentMissing => vec![
            "install the agent the block names (see `git mission doctor`), or set agents.<role> to one that is installed".to_owned(),
            format!("then: git mission resume {id}"),
        ],
        BlockReason::NoRunnableWork | BlockReason::NeedsInput => {
            vec![format!("change the plan so work can continue, then: git mission resume {id}")]
        }
    });
    out
}

use crate::mission::blocks::cell;
pub use crate::mission::blocks::status_block;

/// The generated Retrospective block, written when the mission completes: outcome per
/// milestone, attempts and failures per feature, estimate vs actual, repair work and its
/// provenance, and mission skills worth promoting.
pub fn retrospective(m: &Mission, events: &[crate::events::Event], skills: &[String]) -> String {
    let est = estimate::estimate(m);
    let failed_runs = |f: &str| {
        events
            .iter()
            .filter(|e| {
                e.feature.as_deref() == Some(f)
                    && e.kind.is_run_outcome()
                    && !e.data["failure"].is_null()
            })
            .count()
    };
    let mut o = String::from(
        "### Outcome\n\n| Milestone | Outcome | Failed validations |\n|---|---|---|\n",
    );
    for ms in &m.milestones {
        o.push_str(&format!(
            "| {} {} | {} | {} |\n",
            ms.id,
            cell(&ms.title),
            ms.status,
            ms.failures
        ));
    }
    o.push_str(
        "\n### Features\n\n| Feature | Outcome | Attempts | Failed runs |\n|---|---|---|---|\n",
    );
    for (_, f) in m.features() {
        o.push_str(&format!(
            "| {} {} | {} | {} | {} |\n",
            f.id,
            cell(&f.title),
            f.status,
            f.attempts,
            failed_runs(&f.id)
        ));
    }
    let s = &m.spent;
    o.push_str(&format!(
        "\n### Budget: estimate vs actual\n\n- runs: estimated {}, actual {}\n- cost: estimated ${:.2}–${:.2} (expected ${:.2}), actual ${:.2}\n- agent time: estimated {:.1}–{:.1} h, actual {:.2} h; tokens: {}\n",
        est.runs.total, s.runs, est.usd.low, est.usd.high, est.usd.mid, s.usd, est.hours.low, est.hours.high, s.hours, s.tokens
    ));
    let repairs: Vec<String> = m
        .features()
        .filter_map(|(ms, f)| {
            let o = f.origin.as_ref()?;
            Some(format!(
                "- {} {} ({}): finding {} of validation run {}",
                f.id, f.title, m.milestones[ms].id, o.finding, o.validation_run
            ))
        })
        .collect();
    o.push_str("\n### Repair work\n\n");
    if repairs.is_empty() {
        o.push_str("None: every milestone passed on its planned features.\n");
    } else {
        o.push_str(&repairs.join("\n"));
        o.push('\n');
    }
    o.push_str("\n### Mission skills worth promoting\n\n");
    if skills.is_empty() {
        o.push_str("None written under the mission workspace's skills/.\n");
    } else {
        for sk in skills {
            o.push_str(&format!(
                "- `{sk}`: consider moving it to the repository's shared skills\n"
            ));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Event;
    use crate::mission::{FeatureStatus, MissionDoc, MissionStatus};

    fn demo() -> Mission {
        let doc = MissionDoc::parse(include_str!("../templates/demo/mission.md").to_owned())
            .expect("the demo parses");
        let mut m = doc.mission;
        m.status = MissionStatus::Running;
        m
    }

    #[test]
    fn the_status_view_shows_branches_prs_reviews_and_repairs() {
        let mut m = demo();
        m.feature_mut("F1").expect("F1").status = FeatureStatus::Review;
        m.feature_mut("F1").expect("F1").pr = Some(7);
        m.feature_mut("F2").expect("F2").status = FeatureStatus::Merged;
        m.feature_mut("F3").expect("F3").origin = Some(crate::mission::Origin {
            validation_run: "r9".into(),
            finding: "2".into(),
        });
        let events = vec![
            Event::new(Kind::FeatureChangesRequested)
                .feature("F1")
                .data(serde_json::json!({ "round": 2, "reviewers": ["carol", "dan"] })),
        ];
        let v = status_view(
            &m,
            "todo/missions/demo-mission.md",
            Source::WorkTree,
            &Config::default(),
            &["mission/demo.F1".to_owned()],
            Vec::new(),
            &events,
        );
        let f = |id: &str| {
            v.milestones
                .iter()
                .flat_map(|ms| &ms.features)
                .find(|f| f.id == id)
                .expect("listed")
        };
        assert_eq!(f("F1").branch.as_deref(), Some("mission/demo.F1"));
        assert_eq!(f("F1").pr, Some(7));
        assert_eq!(
            f("F1").review.as_deref(),
            Some("changes requested by @carol, @dan (round 2/3)")
        );
        assert_eq!(f("F2").review, None, "only features that got such a review");
        assert!(f("F3").repair && !f("F1").repair);
        assert_eq!((v.scope.original, v.scope.repair), (4, 1));
        assert_eq!(v.status, MissionStatus::Running);
        assert_eq!(v.milestones.len(), 2);
    }
}

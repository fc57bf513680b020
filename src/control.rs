//! Human control and replanning (`skip`, `retry`, `steer`, `feature add|edit|drop`): pure
//! changes to the mission model, each recorded as a Decision Log entry (date, who, what, why)
//! and a `plan.changed` event. Applied on the integration branch once the mission started,
//! else to the mission file in the work tree.

use crate::events::Kind;
use serde_json::json;

use crate::error::{Error, Result};
use crate::events::Event;
use crate::mission::{
    Feature, FeatureStatus, MilestoneStatus, Mission, MissionDoc, MissionStatus, Origin, body, ids,
};
use crate::store::Store;
use crate::workspace::Workspace;

/// One change to the plan or to a feature's course.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Skip {
        feature: String,
        reason: String,
    },
    Retry {
        feature: String,
    },
    Steer {
        feature: String,
        message: String,
    },
    Add {
        milestone: String,
        title: String,
        description: String,
        depends_on: Vec<String>,
        assertions: Vec<String>,
        origin: Option<Origin>,
    },
    Edit {
        feature: String,
        title: Option<String>,
        description: Option<String>,
        depends_on: Option<Vec<String>>,
        assertions: Option<Vec<String>>,
    },
    Drop {
        feature: String,
        reason: String,
    },
}

/// What a change did.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// One line for the Decision Log and the command's output.
    pub summary: String,
    /// The feature it concerns (the new one for `Add`).
    pub feature: String,
    pub events: Vec<Event>,
}

fn feature_mut<'m>(m: &'m mut Mission, id: &str) -> Result<&'m mut Feature> {
    let known: Vec<String> = m.features().map(|(_, f)| f.id.clone()).collect();
    m.feature_mut(id).ok_or_else(|| {
        Error::user_hint(
            format!("no feature {id}"),
            format!("features: {}", known.join(", ")),
        )
    })
}

fn check_refs(
    m: &Mission,
    milestone_index: usize,
    feature: Option<&str>,
    deps: &[String],
    assertions: &[String],
) -> Result<()> {
    for d in deps {
        let home = m
            .milestones
            .iter()
            .position(|ms| ms.features.iter().any(|f| &f.id == d));
        match home {
            None => return Err(Error::user(format!("unknown dependency {d:?}"))),
            Some(h) if h > milestone_index => {
                return Err(Error::user(format!(
                    "{d} is in a later milestone; dependencies point backwards"
                )));
            }
            _ if Some(d.as_str()) == feature => {
                return Err(Error::user(format!("{d} cannot depend on itself")));
            }
            _ => {}
        }
    }
    for a in assertions {
        if !m.contract.iter().any(|c| &c.id == a) {
            return Err(Error::user_hint(
                format!("assertion {a:?} is not in the contract"),
                "add it to `contract:` first",
            ));
        }
    }
    Ok(())
}

/// If the mission is blocked on this feature, the block is over: it becomes history.
fn unblock_for(m: &mut Mission, feature: &str, events: &mut Vec<Event>) {
    let on_it = m.block.as_ref().is_some_and(|b| {
        b.feature.as_deref() == Some(feature)
            || b.reason == crate::mission::BlockReason::NoRunnableWork
    });
    if m.status == MissionStatus::Blocked && on_it {
        let reason = m.block.as_ref().map(|b| b.reason.as_str()).unwrap_or("");
        events.push(
            Event::new(Kind::MissionUnblocked)
                .feature(feature)
                .data(json!({ "reason": reason })),
        );
        m.status = MissionStatus::Running;
        m.block = None;
    }
}

/// Applies an operation to a mission model. Pure.
pub fn apply(m: &mut Mission, op: &Op) -> Result<Applied> {
    let mut events = Vec::new();
    let (summary, feature) = match op {
        Op::Skip { feature, reason } => skip(m, feature, reason, &mut events)?,
        Op::Retry { feature } => retry(m, feature, &mut events)?,
        Op::Steer { feature, message } => steer(m, feature, message, &mut events)?,
        Op::Add {
            milestone,
            title,
            description,
            depends_on,
            assertions,
            origin,
        } => add(
            m,
            NewFeature {
                origin: origin.as_ref(),
                milestone,
                title,
                description,
                depends_on,
                assertions,
            },
        )?,
        Op::Edit {
            feature,
            title,
            description,
            depends_on,
            assertions,
        } => edit(
            m,
            feature,
            title.as_ref(),
            description.as_ref(),
            depends_on.as_deref(),
            assertions.as_deref(),
        )?,
        Op::Drop { feature, reason } => drop_feature(m, feature, reason)?,
    };
    let mut changed = Event::new(Kind::PlanChanged)
        .feature(&feature)
        .data(json!({ "change": summary }));
    if let Op::Add {
        origin: Some(o), ..
    } = op
    {
        changed.data["origin"] =
            json!({ "validation_run": o.validation_run, "finding": o.finding });
    }
    events.insert(0, changed);
    Ok(Applied {
        summary,
        feature,
        events,
    })
}

/// `skip`: a pending or failed feature is skipped (its dependents may go on).
fn skip(
    m: &mut Mission,
    feature: &str,
    reason: &str,
    events: &mut Vec<Event>,
) -> Result<(String, String)> {
    let f = feature_mut(m, feature)?;
    match f.status {
        FeatureStatus::Merged => {
            return Err(Error::user(format!("{feature} is already merged")));
        }
        FeatureStatus::Running => {
            return Err(Error::user_hint(
                format!("{feature} is running"),
                "stop it first: git mission pause <id> --now",
            ));
        }
        FeatureStatus::Skipped => {
            return Err(Error::user(format!("{feature} is already skipped")));
        }
        _ => {}
    }
    f.status = FeatureStatus::Skipped;
    events.push(
        Event::new(Kind::FeatureSkipped)
            .feature(feature)
            .data(json!({ "reason": reason })),
    );
    unblock_for(m, feature, events);
    Ok((format!("skipped {feature}: {reason}"), feature.to_owned()))
}

/// `retry`: a failed feature gets a fresh set of attempts.
fn retry(m: &mut Mission, feature: &str, events: &mut Vec<Event>) -> Result<(String, String)> {
    let f = feature_mut(m, feature)?;
    if !matches!(f.status, FeatureStatus::Failed | FeatureStatus::Pending) {
        return Err(Error::user(format!(
            "only a failed or pending feature can be retried; {feature} is {}",
            f.status
        )));
    }
    f.status = FeatureStatus::Pending;
    f.attempts = 0;
    events.push(
        Event::new(Kind::FeatureRetried)
            .feature(feature)
            .data(json!({ "by": "human" })),
    );
    unblock_for(m, feature, events);
    Ok((
        format!("retry {feature} with a fresh set of attempts"),
        feature.to_owned(),
    ))
}

/// `steer`: a message for the feature's next run.
fn steer(
    m: &mut Mission,
    feature: &str,
    message: &str,
    events: &mut Vec<Event>,
) -> Result<(String, String)> {
    let f = feature_mut(m, feature)?;
    if matches!(f.status, FeatureStatus::Merged | FeatureStatus::Skipped) {
        return Err(Error::user(format!(
            "{feature} is {}; nothing will read the message",
            f.status
        )));
    }
    if message.trim().is_empty() {
        return Err(Error::user("the steering message is empty"));
    }
    events.push(
        Event::new(Kind::FeatureSteered)
            .feature(feature)
            .data(json!({ "message": message })),
    );
    let first = message.lines().next().unwrap_or("");
    Ok((format!("steered {feature}: {first}"), feature.to_owned()))
}

/// `feature add`: a new feature in a milestone.
/// What `feature add` asks for.
struct NewFeature<'a> {
    origin: Option<&'a Origin>,
    milestone: &'a str,
    title: &'a str,
    description: &'a str,
    depends_on: &'a [String],
    assertions: &'a [String],
}

fn add(m: &mut Mission, new: NewFeature) -> Result<(String, String)> {
    let NewFeature {
        origin,
        milestone,
        title,
        description,
        depends_on,
        assertions,
    } = new;
    let mi = m
        .milestones
        .iter()
        .position(|ms| ms.id == milestone)
        .ok_or_else(|| Error::user(format!("no milestone {milestone}")))?;
    if matches!(
        m.milestones[mi].status,
        MilestoneStatus::Passed | MilestoneStatus::Skipped
    ) {
        return Err(Error::user(format!(
            "{milestone} is {}; add the work to a later milestone",
            m.milestones[mi].status
        )));
    }
    if title.trim().is_empty() {
        return Err(Error::user("the feature title is empty"));
    }
    check_refs(m, mi, None, depends_on, assertions)?;
    let next = m
        .features()
        .filter_map(|(_, f)| {
            f.id.strip_prefix('F')?
                .trim_end_matches(|c: char| c.is_ascii_lowercase())
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0)
        + 1;
    let id = format!("F{next}");
    m.milestones[mi].features.push(Feature {
        id: id.clone(),
        title: title.to_owned(),
        status: FeatureStatus::Pending,
        depends_on: depends_on.to_vec(),
        assertions: assertions.to_vec(),
        checks: None,
        skills: Vec::new(),
        attempts: 0,
        pr: None,
        origin: origin.cloned(),
        description: description.to_owned(),
    });
    let provenance = origin
        .map(|o| {
            format!(
                " (repair for finding {} of run {})",
                o.finding, o.validation_run
            )
        })
        .unwrap_or_default();
    Ok((
        format!("added {id} to {milestone}: {title}{provenance}"),
        id,
    ))
}

/// `feature edit`: a pending or failed feature's plan changes.
fn edit(
    m: &mut Mission,
    feature: &str,
    title: Option<&String>,
    description: Option<&String>,
    depends_on: Option<&[String]>,
    assertions: Option<&[String]>,
) -> Result<(String, String)> {
    let mi = m
        .milestones
        .iter()
        .position(|ms| ms.features.iter().any(|f| f.id == feature))
        .ok_or_else(|| Error::user(format!("no feature {feature}")))?;
    check_refs(
        m,
        mi,
        Some(feature),
        depends_on.unwrap_or(&[]),
        assertions.unwrap_or(&[]),
    )?;
    let f = feature_mut(m, feature)?;
    if matches!(f.status, FeatureStatus::Merged | FeatureStatus::Running) {
        return Err(Error::user(format!(
            "{feature} is {}; it can no longer be edited",
            f.status
        )));
    }
    let mut what = Vec::new();
    if let Some(t) = title {
        f.title = t.clone();
        what.push("title");
    }
    if let Some(d) = description {
        f.description = d.clone();
        what.push("description");
    }
    if let Some(d) = depends_on {
        f.depends_on = d.to_vec();
        what.push("dependencies");
    }
    if let Some(a) = assertions {
        f.assertions = a.to_vec();
        what.push("assertions");
    }
    if what.is_empty() {
        return Err(Error::user_hint(
            "nothing to change",
            "pass --title, --description, --depends-on or --assertions",
        ));
    }
    Ok((
        format!("edited {feature}: {}", what.join(", ")),
        feature.to_owned(),
    ))
}

/// `feature drop`: a pending or failed feature leaves the plan.
fn drop_feature(m: &mut Mission, feature: &str, reason: &str) -> Result<(String, String)> {
    let dependents: Vec<String> = m
        .features()
        .filter(|(_, f)| f.depends_on.iter().any(|d| d == feature))
        .map(|(_, f)| f.id.clone())
        .collect();
    if !dependents.is_empty() {
        return Err(Error::user_hint(
            format!("{} depend on {feature}", dependents.join(", ")),
            "edit their dependencies first, or skip it instead",
        ));
    }
    let ms = m
        .milestones
        .iter_mut()
        .find(|ms| ms.features.iter().any(|f| f.id == feature))
        .ok_or_else(|| Error::user(format!("no feature {feature}")))?;
    let f = ms
        .features
        .iter()
        .find(|f| f.id == feature)
        .expect("found above");
    if !matches!(f.status, FeatureStatus::Pending | FeatureStatus::Failed) {
        return Err(Error::user_hint(
            format!(
                "{feature} is {}; only pending or failed work can be dropped",
                f.status
            ),
            "skip it instead",
        ));
    }
    ms.features.retain(|f| f.id != feature);
    Ok((format!("dropped {feature}: {reason}"), feature.to_owned()))
}

/// One Decision Log line.
pub fn decision(at: jiff::Timestamp, who: &str, summary: &str, why: Option<&str>) -> String {
    let date = at.strftime("%Y-%m-%d").to_string();
    let why = why
        .filter(|w| !w.trim().is_empty())
        .map(|w| format!(" · why: {}", w.trim().replace('\n', " ")))
        .unwrap_or_default();
    format!("- {date} · {who} · {}{why}", summary.replace('\n', " "))
}

/// Applies `op` where the mission lives, with a Decision Log entry by `who`.
pub fn run(ws: &Workspace, id: &str, op: &Op, who: &str, why: Option<&str>) -> Result<Applied> {
    crate::workspace::check_mission_id(id)?;
    let store = Store::new(&ws.repo, id);
    if store.head()?.is_some() {
        let mut result = None;
        store.mutate(&format!("plan: {}", op_name(op)), |tx| {
            let mut m = tx.mission.clone();
            let applied = apply(&mut m, op)?;
            tx.mission = m;
            for e in &applied.events {
                tx.event(e.clone());
            }
            tx.body = Some(body::append_to_section(
                tx.head.doc.body(),
                "Decision Log",
                &decision(store.repo.clock().now(), who, &applied.summary, why),
            ));
            result = Some(applied);
            Ok(true)
        })?;
        return result.ok_or_else(|| Error::Internal("the change was not applied".into()));
    }
    if matches!(op, Op::Retry { .. } | Op::Steer { .. }) {
        return Err(Error::user_hint(
            format!("mission {id} has not started"),
            "edit the plan in the mission file instead",
        ));
    }
    let loaded = ws.load(id, false)?;
    let mut m = loaded.doc.mission.clone();
    let applied = apply(&mut m, op)?;
    let (text, _) = loaded.doc.rewrite(&m);
    let doc = MissionDoc::parse(text)
        .map_err(|d| Error::Internal(format!("rewritten mission does not parse: {}", d.message)))?;
    let text = doc.with_body(&body::append_to_section(
        doc.body(),
        "Decision Log",
        &decision(store.repo.clock().now(), who, &applied.summary, why),
    ));
    ws.write(&loaded.file, &text)?;
    Ok(applied)
}

fn op_name(op: &Op) -> String {
    match op {
        Op::Skip { feature, .. } => format!("skip {feature}"),
        Op::Retry { feature } => format!("retry {feature}"),
        Op::Steer { feature, .. } => format!("steer {feature}"),
        Op::Add { milestone, .. } => format!("add a feature to {milestone}"),
        Op::Edit { feature, .. } => format!("edit {feature}"),
        Op::Drop { feature, .. } => format!("drop {feature}"),
    }
}

/// Parses `--from-finding <run-id>:<finding>`.
pub fn parse_finding(s: &str) -> Result<Origin> {
    let (run, finding) = s.split_once(':').ok_or_else(|| {
        Error::user_hint(
            format!("{s:?} is not <run-id>:<finding>"),
            "for example --from-finding 20261121T100000-M1-1-ab12:f1",
        )
    })?;
    let finding_ok = !finding.is_empty()
        && finding.len() <= 40
        && finding
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if !ids::is_run_id(run) || !finding_ok {
        return Err(Error::user(format!("invalid finding reference {s:?}")));
    }
    Ok(Origin {
        validation_run: run.to_owned(),
        finding: finding.to_owned(),
    })
}

/// Resumes a paused or blocked mission. `Ok(None)`: nothing to resume; `Err((why, hint))`:
/// refused (a validation limit, a budget still exceeded).
#[allow(clippy::type_complexity)]
pub fn resume_mission(
    m: &mut Mission,
    config: &crate::config::Config,
) -> std::result::Result<Option<Vec<Event>>, (String, String)> {
    use crate::mission::BlockReason;
    if !matches!(m.status, MissionStatus::Paused | MissionStatus::Blocked) {
        return Ok(None);
    }
    let mut events = Vec::new();
    if let Some(b) = &m.block {
        match b.reason {
            BlockReason::ValidationLimit => {
                return Err(("the milestone reached its validation failure limit; only a human decision can continue".to_owned(), "raise limits.validation_failures in the mission file, or replan the milestone, then resume".to_owned()));
            }
            BlockReason::BudgetExceeded => {
                if let Some(why) = crate::budget::over_budget(m, config) {
                    return Err((format!("the budget is still exceeded ({why})"), "raise the budget (budget: in the mission file, or -c budget.usd=...), then resume".to_owned()));
                }
            }
            BlockReason::WorkerFailed => {
                // Give the failed feature a fresh set of attempts.
                if let Some(fid) = b.feature.clone()
                    && let Some(f) = m
                        .milestones
                        .iter_mut()
                        .flat_map(|ms| ms.features.iter_mut())
                        .find(|f| f.id == fid)
                    && f.status == FeatureStatus::Failed
                {
                    f.status = FeatureStatus::Pending;
                    f.attempts = 0;
                }
            }
            _ => {}
        }
        let reason = b.reason;
        events.push(Event::new(Kind::MissionUnblocked).data(json!({ "reason": reason.as_str() })));
    }
    m.status = MissionStatus::Running;
    m.block = None;
    events.push(Event::new(Kind::MissionResumed));
    Ok(Some(events))
}

/// Makes a milestone whose features are all merged or skipped validate again (the next pulse
/// runs it). A milestone blocked on its validation is unblocked first.
pub fn revalidate_mission(
    m: &mut Mission,
    milestone: &str,
    cap: u32,
    who: &str,
) -> std::result::Result<Vec<Event>, String> {
    use crate::mission::BlockReason;
    let Some(ms) = m.milestones.iter_mut().find(|x| x.id == milestone) else {
        return Err(format!("no milestone {milestone}"));
    };
    if !ms
        .features
        .iter()
        .all(|f| matches!(f.status, FeatureStatus::Merged | FeatureStatus::Skipped))
    {
        return Err(format!("{milestone} still has features to merge"));
    }
    if ms.failures >= cap {
        return Err(format!(
            "{milestone} reached its validation failure limit ({} of {cap}); raise limits.validation_failures first",
            ms.failures
        ));
    }
    ms.status = MilestoneStatus::Active;
    let mut events = Vec::new();
    let blocked_here = m.block.as_ref().is_some_and(|b| {
        matches!(
            b.reason,
            BlockReason::ValidationFailed | BlockReason::ValidationLimit
        ) && b.milestone.as_deref() == Some(milestone)
    });
    if m.status == MissionStatus::Blocked && blocked_here {
        m.status = MissionStatus::Running;
        m.block = None;
        events.push(
            Event::new(Kind::MissionUnblocked)
                .milestone(milestone)
                .data(json!({ "reason": "validation_failed", "by": who })),
        );
    }
    if m.status != MissionStatus::Running {
        return Err(format!("the mission is {}; resume it first", m.status));
    }
    events.push(
        Event::new(Kind::PlanChanged)
            .milestone(milestone)
            .data(json!({ "change": format!("revalidate {milestone}"), "by": who })),
    );
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mission::{Assertion, Block, BlockReason, Milestone, Validation};

    fn mission() -> Mission {
        let f = |id: &str, status, deps: &[&str]| Feature {
            id: id.into(),
            title: id.into(),
            status,
            depends_on: deps.iter().map(|d| (*d).into()).collect(),
            assertions: vec![],
            checks: None,
            skills: vec![],
            attempts: 3,
            pr: None,
            origin: None,
            description: String::new(),
        };
        let mut m = Mission::draft("x", "X");
        m.status = MissionStatus::Blocked;
        m.block = Some(Block {
            reason: BlockReason::WorkerFailed,
            milestone: Some("M1".into()),
            feature: Some("F1".into()),
            since: "2026-11-21T10:00:00Z".parse().expect("ts"),
            packet: None,
            message: "x".into(),
            question: None,
        });
        m.contract = vec![Assertion {
            id: "VC1".into(),
            text: "t".into(),
        }];
        m.milestones = vec![Milestone {
            id: "M1".into(),
            title: "one".into(),
            status: MilestoneStatus::Active,
            failures: 0,
            validation: Validation {
                commands: vec!["true".into()],
                ..Validation::default()
            },
            features: vec![
                f("F1", FeatureStatus::Failed, &[]),
                f("F2", FeatureStatus::Pending, &["F1"]),
            ],
        }];
        m
    }

    #[test]
    fn skipping_a_failed_dependency_unblocks_the_mission() {
        let mut m = mission();
        let a = apply(
            &mut m,
            &Op::Skip {
                feature: "F1".into(),
                reason: "flaky".into(),
            },
        )
        .expect("skip");
        assert_eq!(a.summary, "skipped F1: flaky");
        assert_eq!(m.status, MissionStatus::Running);
        assert!(m.block.is_none());
        let kinds: Vec<Kind> = a.events.iter().map(|e| e.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                Kind::PlanChanged,
                Kind::FeatureSkipped,
                Kind::MissionUnblocked
            ]
        );
    }

    #[test]
    fn retry_resets_attempts() {
        let mut m = mission();
        apply(
            &mut m,
            &Op::Retry {
                feature: "F1".into(),
            },
        )
        .expect("retry");
        let f = &m.milestones[0].features[0];
        assert_eq!((f.status, f.attempts), (FeatureStatus::Pending, 0));
        assert!(
            apply(
                &mut m,
                &Op::Retry {
                    feature: "F9".into()
                }
            )
            .is_err()
        );
    }

    #[test]
    fn add_numbers_checks_and_records_provenance() {
        let mut m = mission();
        let origin = parse_finding("20261121T100000-M1-1-ab12:f-1").expect("finding");
        let op = Op::Add {
            milestone: "M1".into(),
            title: "Repair".into(),
            description: "fix".into(),
            depends_on: vec!["F1".into()],
            assertions: vec!["VC1".into()],
            origin: Some(origin),
        };
        let a = apply(&mut m, &op).expect("add");
        assert_eq!(a.feature, "F3");
        assert_eq!(
            a.summary,
            "added F3 to M1: Repair (repair for finding f-1 of run 20261121T100000-M1-1-ab12)"
        );
        assert_eq!(a.events[0].data["origin"]["finding"], "f-1");
        let bad = Op::Add {
            milestone: "M1".into(),
            title: "x".into(),
            description: String::new(),
            depends_on: vec![],
            assertions: vec!["VC9".into()],
            origin: None,
        };
        assert!(apply(&mut m, &bad).is_err());
        assert!(parse_finding("../../x:y").is_err());
        assert!(parse_finding("run:$(touch x)").is_err());
    }

    #[test]
    fn drop_refuses_while_others_depend_on_it() {
        let mut m = mission();
        assert!(
            apply(
                &mut m,
                &Op::Drop {
                    feature: "F1".into(),
                    reason: "r".into()
                }
            )
            .is_err()
        );
        apply(
            &mut m,
            &Op::Drop {
                feature: "F2".into(),
                reason: "r".into(),
            },
        )
        .expect("drop");
        assert_eq!(m.milestones[0].features.len(), 1);
    }
}

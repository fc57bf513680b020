//! `git mission skip`, `retry`, `steer`, `feature add|edit|drop` and `revalidate`: human
//! control of a mission, each change recorded in the Decision Log and the event log.

use serde_json::json;

use crate::context::Exec;
use crate::control::{self, Op};
use crate::error::{Error, Result};
use crate::git;
use crate::mission::{MilestoneStatus, ids};
use crate::runs::Layout;
use crate::store::Store;
use crate::supervisor;
use crate::workspace::check_mission_id;

use super::{Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct SkipArgs {
    pub id: String,
    pub feature: String,
    /// Why it is skipped (recorded in the Decision Log)
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, clap::Args)]
pub struct FeatureRef {
    pub id: String,
    pub feature: String,
}

#[derive(Debug, clap::Args)]
pub struct SteerArgs {
    pub id: String,
    pub feature: String,
    /// Text for the feature's next worker prompt (delivered once)
    pub message: String,
}

#[derive(Debug, clap::Args)]
pub struct RevalidateArgs {
    pub id: String,
    pub milestone: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum FeatureCmd {
    /// Add a feature to a milestone
    Add {
        id: String,
        milestone: String,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Features it depends on (F1,F2)
        #[arg(long, value_delimiter = ',')]
        depends_on: Vec<String>,
        /// Contract assertions it makes true (VC1,VC2)
        #[arg(long, value_delimiter = ',')]
        assertions: Vec<String>,
        /// Repair work for a validation finding: <run-id>:<finding>
        #[arg(long, value_name = "RUN:FINDING")]
        from_finding: Option<String>,
        /// Why (recorded in the Decision Log)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Change a feature that has not run to completion
    Edit {
        id: String,
        feature: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, value_delimiter = ',')]
        depends_on: Option<Vec<String>>,
        #[arg(long, value_delimiter = ',')]
        assertions: Option<Vec<String>>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove a pending or failed feature
    Drop {
        id: String,
        feature: String,
        #[arg(long)]
        reason: String,
    },
}

fn check_feature(f: &str) -> Result<()> {
    if ids::is_feature_id(f) {
        Ok(())
    } else {
        Err(Error::user_hint(
            format!("invalid feature id {f:?}"),
            "feature ids look like F1, F2b",
        ))
    }
}

fn apply(cx: &Ctx, id: &str, op: Op, why: Option<&str>) -> Result<u8> {
    check_mission_id(id)?;
    let ws = cx.workspace()?;
    let (who, _) = git::identity(ws.root())?;
    let applied = control::run(&ws, id, &op, &who, why)?;
    if cx.out.json {
        cx.out.json(
            &json!({ "id": id, "feature": applied.feature, "change": applied.summary, "by": who }),
        );
    } else {
        cx.out.data(&applied.summary);
    }
    Ok(exit::OK)
}

pub fn skip(cx: &Ctx, a: &SkipArgs) -> Result<u8> {
    check_feature(&a.feature)?;
    apply(
        cx,
        &a.id,
        Op::Skip {
            feature: a.feature.clone(),
            reason: a.reason.clone(),
        },
        Some(&a.reason),
    )
}

pub fn retry(cx: &Ctx, a: &FeatureRef) -> Result<u8> {
    check_feature(&a.feature)?;
    apply(
        cx,
        &a.id,
        Op::Retry {
            feature: a.feature.clone(),
        },
        None,
    )
}

pub fn steer(cx: &Ctx, a: &SteerArgs) -> Result<u8> {
    check_feature(&a.feature)?;
    apply(
        cx,
        &a.id,
        Op::Steer {
            feature: a.feature.clone(),
            message: a.message.clone(),
        },
        None,
    )
}

pub fn feature(cx: &Ctx, cmd: &FeatureCmd) -> Result<u8> {
    let list_ok = |l: &[String], f: fn(&str) -> bool, what: &str| -> Result<()> {
        match l.iter().find(|x| !f(x)) {
            Some(bad) => Err(Error::user(format!("invalid {what} {bad:?}"))),
            None => Ok(()),
        }
    };
    match cmd {
        FeatureCmd::Add {
            id,
            milestone,
            title,
            description,
            depends_on,
            assertions,
            from_finding,
            reason,
        } => {
            if !ids::is_milestone_id(milestone) {
                return Err(Error::user(format!("invalid milestone id {milestone:?}")));
            }
            list_ok(depends_on, ids::is_feature_id, "feature id")?;
            list_ok(assertions, ids::is_contract_id, "assertion id")?;
            let origin = from_finding
                .as_deref()
                .map(control::parse_finding)
                .transpose()?;
            let op = Op::Add {
                milestone: milestone.clone(),
                title: title.clone(),
                description: description.clone(),
                depends_on: depends_on.clone(),
                assertions: assertions.clone(),
                origin,
            };
            apply(cx, id, op, reason.as_deref())
        }
        FeatureCmd::Edit {
            id,
            feature,
            title,
            description,
            depends_on,
            assertions,
            reason,
        } => {
            check_feature(feature)?;
            list_ok(
                depends_on.as_deref().unwrap_or(&[]),
                ids::is_feature_id,
                "feature id",
            )?;
            list_ok(
                assertions.as_deref().unwrap_or(&[]),
                ids::is_contract_id,
                "assertion id",
            )?;
            let op = Op::Edit {
                feature: feature.clone(),
                title: title.clone(),
                description: description.clone(),
                depends_on: depends_on.clone(),
                assertions: assertions.clone(),
            };
            apply(cx, id, op, reason.as_deref())
        }
        FeatureCmd::Drop {
            id,
            feature,
            reason,
        } => {
            check_feature(feature)?;
            apply(
                cx,
                id,
                Op::Drop {
                    feature: feature.clone(),
                    reason: reason.clone(),
                },
                Some(reason),
            )
        }
    }
}

/// Validates a milestone again, now. A milestone blocked on its validation is unblocked first;
/// one at its failure limit needs the limit raised.
pub fn revalidate(cx: &Ctx, a: &RevalidateArgs) -> Result<u8> {
    check_mission_id(&a.id)?;
    if !ids::is_milestone_id(&a.milestone) {
        return Err(Error::user(format!(
            "invalid milestone id {:?}",
            a.milestone
        )));
    }
    let ws = cx.workspace()?;
    let store = Store::new(&ws.repo, &a.id);
    let head = store.head()?.ok_or_else(|| {
        Error::user_hint(
            format!("mission {} has not started", a.id),
            format!("start it with `git mission run {}`", a.id),
        )
    })?;
    let config = crate::config::Config::load(
        &ws.repo,
        Some((head.mission(), store.file.as_str())),
        &cx.overrides(),
    )?;
    let cap = config.limit("limits.validation_failures");
    let (who, _) = git::identity(ws.root())?;
    let ms = a.milestone.clone();
    let mut refused = None;
    store.mutate(
        &format!("{ms}: revalidate"),
        |tx| match crate::control::revalidate_mission(&mut tx.mission, &ms, cap, &who) {
            Ok(events) => {
                for e in events {
                    tx.event(e);
                }
                Ok(true)
            }
            Err(why) => {
                refused = Some(why);
                Ok(false)
            }
        },
    )?;
    if let Some(r) = refused {
        return Err(Error::user(r));
    }
    let layout = Layout::new(&ws.repo, &config, &a.id)?;
    let mut ex = Exec {
        ws: &ws,
        store: &store,
        layout: &layout,
        config: &config,
        exe: supervisor::current_exe(&ws)?,
        children: Vec::new(),
        forge: &crate::forge::local::LocalForge,
    };
    crate::validation::validate(&mut ex, &a.milestone)?;
    let after = store
        .head()?
        .ok_or_else(|| Error::Internal("mission vanished".into()))?;
    let status = after.mission().milestone(&a.milestone).map(|m| m.status);
    let passed = status == Some(MilestoneStatus::Passed);
    if cx.out.json {
        cx.out.json(&json!({ "id": a.id, "milestone": a.milestone, "passed": passed, "mission": after.mission().status }));
    } else {
        cx.out.data(&format!(
            "{}: validation {}",
            a.milestone,
            if passed { "passed" } else { "failed" }
        ));
    }
    Ok(if passed { exit::OK } else { exit::STOPPED })
}

//! Forges: where a feature's "pull request" lives. `local` treats a feature branch as its PR:
//! run its checks, then merge it into the integration branch without touching any checked-out
//! work tree. `github` opens real pull requests (docs/github.md).

pub mod github;
pub mod local;

use crate::events::Kind;
use serde_json::{Value, json};

use crate::action::Action;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::mission::{Feature, FeatureStatus, MissionStatus};
use crate::store::{Head, Store};

/// A forge's part of the plan: what the pulse observed of the forge calls for. `plan` asks
/// these questions and never which forge it has (`local::LocalPlan`, `github::GhSnap`).
pub trait ForgePlan: std::fmt::Debug + Send + Sync {
    /// Actions that come before anything else (GitHub: `/mission` comments, the tracking
    /// issue, landing).
    fn first(&self, _started: bool, _mission: &crate::mission::Mission, _out: &mut Vec<Action>) {}
    /// Worker runs on other machines (`dispatch: actions`) not yet recorded.
    fn remote_workers(&self) -> &[github::workers::WorkerObs] {
        &[]
    }
    /// What a feature in review calls for.
    fn review(&self, f: &Feature) -> Review;
    /// `land: auto` and the supervisor lands: land after completing.
    fn lands(&self) -> bool {
        false
    }
    /// The mission completed but was never landed (its supervisor died first): land now.
    fn land_pending(&self) -> bool {
        false
    }
    /// Something on the forge is awaited (checks, reviews, a land PR, remote workers): `run`
    /// polls instead of counting idle pulses.
    fn waiting(&self, _mission: &crate::mission::Mission) -> bool {
        false
    }
    /// Another supervisor holds a merge, or a merge backs off: look again soon.
    fn held(&self) -> bool {
        false
    }
}

/// What a feature in review calls for.
#[derive(Debug, Clone, PartialEq)]
pub enum Review {
    /// This action.
    Act(Action),
    /// Nothing now (checks running, a merge held or backing off).
    Wait,
    /// This action, and nothing more this pulse (a block).
    Stop(Action),
}

/// What a merge needs before it starts, on either forge: the integration head, the feature's
/// milestone and the feature, when the mission runs and the feature is in review. `None`
/// otherwise (nothing to merge now).
pub fn in_review(store: &Store, feature: &str) -> Result<Option<(Head, String, Feature)>> {
    let head = store
        .head()?
        .ok_or_else(|| Error::user("the mission has not started"))?;
    if head.mission().status != MissionStatus::Running {
        return Ok(None);
    }
    let found = head
        .mission()
        .feature(feature)
        .filter(|(_, f)| f.status == FeatureStatus::Review)
        .map(|(ms, f)| (ms.id.clone(), f.clone()));
    Ok(found.map(|(ms, f)| (head, ms, f)))
}

/// A feature in review whose checks failed goes back to `pending`, or to `failed` once it has
/// used its `limit` attempts. `data` describes the failure and holds its `failure` text.
/// `None` when the feature is not in review (nothing to change).
pub fn checks_failed(
    f: &mut Feature,
    limit: u32,
    milestone: &str,
    data: Value,
) -> Option<Vec<Event>> {
    if f.status != FeatureStatus::Review {
        return None;
    }
    let failed = f.attempts >= limit;
    f.status = if failed {
        FeatureStatus::Failed
    } else {
        FeatureStatus::Pending
    };
    let failure = data["failure"].clone();
    let mut events = vec![
        Event::new(Kind::FeatureChecksFailed)
            .milestone(milestone)
            .feature(&f.id)
            .data(data),
    ];
    if failed {
        events.push(
            Event::new(Kind::FeatureFailed)
                .milestone(milestone)
                .feature(&f.id)
                .data(json!({ "failure": failure })),
        );
    }
    Some(events)
}

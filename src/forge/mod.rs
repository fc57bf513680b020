//! Forges: where a feature's "pull request" lives. `local` treats a feature branch as its PR:
//! run its checks, then merge it into the integration branch without touching any checked-out
//! work tree. `github` opens real pull requests (docs/github.md).

pub mod github;
pub mod local;

use crate::events::Kind;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::events::Event;
use crate::mission::{Feature, FeatureStatus, MissionStatus};
use crate::store::{Head, Store};

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

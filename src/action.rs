//! What a pulse does, as data: the actions `plan` chooses and `execute` carries out, each
//! printable on one line (`git mission pulse --dry-run`). Below every layer that plans or
//! acts, so a forge's part of the plan can name them.

use std::fmt;

use crate::mission::BlockReason;

/// Why an action on something may not start now.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Someone is at it, or it is backing off: wait.
    Busy,
    /// It failed too often without a conflict or a verdict: a person must look.
    GiveUp(String),
}

/// One thing a pulse does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Start,
    Record {
        run: String,
        feature: Option<String>,
        lost: bool,
    },
    Activate {
        milestone: String,
    },
    Dispatch {
        feature: String,
        attempt: u32,
        conflict: bool,
    },
    Merge {
        feature: String,
    },
    Validate {
        milestone: String,
    },
    Complete,
    Land,
    Block {
        reason: BlockReason,
        feature: Option<String>,
        message: String,
    },
    PauseForBudget {
        message: String,
    },
    Orchestrate,
    /// GitHub: handle (or answer) a `/mission` comment.
    Comment {
        id: u64,
    },
    /// GitHub: open (or find) the tracking issue.
    Track,
    /// GitHub: close the tracking issue of a finished mission.
    CloseTracking,
    /// GitHub: push a feature branch and open (or reuse) its PR.
    Push {
        feature: String,
    },
    /// GitHub: merge a feature PR whose head is `sha`.
    MergePr {
        feature: String,
        pr: u64,
        sha: String,
    },
    /// GitHub: bring a PR that is behind up to date with the integration branch.
    UpdatePr {
        feature: String,
        pr: u64,
        sha: String,
    },
    /// GitHub: a feature PR conflicts with the integration branch.
    PrConflict {
        feature: String,
        pr: u64,
    },
    /// GitHub: reviews on a feature PR request changes: a rework run on its branch.
    Rework {
        feature: String,
        pr: u64,
        round: u32,
    },
    /// GitHub: a feature PR's checks failed.
    PrChecksFailed {
        feature: String,
        pr: u64,
        state: String,
    },
    /// GitHub: a recorded feature PR is no longer open (merged or closed elsewhere).
    PrGone {
        feature: String,
        pr: u64,
    },
    /// GitHub: open the land PR (integration branch into the base branch).
    OpenLand,
    /// GitHub: merge the land PR (`land: auto`).
    MergeLand {
        pr: u64,
        sha: String,
    },
    /// GitHub: the land PR is no longer open (merged or closed).
    LandGone {
        pr: u64,
    },
    /// Paused now or cancelled: stop a run on this machine (recorded as cancelled when it exits).
    StopRun {
        run: String,
    },
    /// Paused now or cancelled: cancel a worker's Actions run and record it as cancelled.
    StopWorker {
        run: String,
        feature: String,
        workflow_run: Option<u64>,
    },
    /// GitHub (`dispatch: actions`): a worker run on Actions ended without a result, or overran
    /// its deadline (cancelled first): a failed attempt.
    LostWorker {
        run: String,
        feature: String,
        workflow_run: Option<u64>,
        why: String,
        cancel: bool,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Start => write!(
                f,
                "start: create the integration branch and mark the mission running"
            ),
            Action::Record { run, feature, lost } => write!(
                f,
                "record {} run {run}{}",
                feature.as_deref().unwrap_or("validation"),
                if *lost {
                    " (its worker died: counted as a failed attempt)"
                } else {
                    ""
                }
            ),
            Action::Activate { milestone } => write!(f, "activate milestone {milestone}"),
            Action::Dispatch {
                feature,
                attempt,
                conflict,
            } => {
                write!(
                    f,
                    "dispatch {feature} (attempt {attempt}){}",
                    if *conflict {
                        " to resolve a merge conflict"
                    } else {
                        ""
                    }
                )
            }
            Action::Merge { feature } => write!(
                f,
                "merge {feature} into the integration branch after its checks pass"
            ),
            Action::Validate { milestone } => write!(f, "validate milestone {milestone}"),
            Action::Complete => write!(f, "complete the mission"),
            Action::Land => write!(f, "land the integration branch on the base branch"),
            Action::Block {
                reason,
                feature,
                message,
            } => {
                write!(
                    f,
                    "block: {reason}{} — {message}",
                    feature
                        .as_deref()
                        .map(|x| format!(" ({x})"))
                        .unwrap_or_default()
                )
            }
            Action::PauseForBudget { message } => write!(f, "pause: budget exceeded — {message}"),
            Action::Orchestrate => write!(
                f,
                "orchestrator turn: ask the orchestrator agent to recover from the block"
            ),
            Action::Comment { id } => write!(f, "handle the /mission command in comment {id}"),
            Action::Track => write!(f, "open the tracking issue"),
            Action::CloseTracking => write!(f, "close the tracking issue"),
            Action::Push { feature } => {
                write!(f, "push {feature} and open (or update) its pull request")
            }
            Action::MergePr { feature, pr, sha } => {
                write!(f, "merge {feature} (PR #{pr}) at head {}", short(sha))
            }
            Action::UpdatePr { feature, pr, sha } => write!(
                f,
                "update {feature} (PR #{pr}, head {}) from the integration branch",
                short(sha)
            ),
            Action::PrConflict { feature, pr } => write!(
                f,
                "{feature} (PR #{pr}) conflicts with the integration branch: back to a worker"
            ),
            Action::Rework { feature, pr, round } => write!(
                f,
                "{feature} (PR #{pr}): changes requested; rework round {round} on its branch"
            ),
            Action::PrChecksFailed { feature, pr, state } => {
                write!(f, "{feature} (PR #{pr}) checks {}", state.to_lowercase())
            }
            Action::PrGone { feature, pr } => {
                write!(f, "{feature}: PR #{pr} is no longer open; find out why")
            }
            Action::OpenLand => write!(f, "open the land pull request"),
            Action::MergeLand { pr, sha } => {
                write!(f, "merge the land PR #{pr} at head {}", short(sha))
            }
            Action::LandGone { pr } => write!(f, "the land PR #{pr} is no longer open; record it"),
            Action::StopRun { run } => write!(f, "stop run {run} (paused now or cancelled)"),
            Action::StopWorker { run, feature, .. } => {
                write!(
                    f,
                    "cancel {feature} run {run} on Actions (paused now or cancelled)"
                )
            }
            Action::LostWorker {
                run,
                feature,
                why,
                cancel,
                ..
            } => {
                let what = if *cancel {
                    "cancel and record"
                } else {
                    "record lost"
                };
                write!(f, "{what} {feature} run {run} on Actions: {why}")
            }
        }
    }
}

fn short(sha: &str) -> &str {
    sha.get(..8).unwrap_or(sha)
}

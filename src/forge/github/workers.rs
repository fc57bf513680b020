//! `dispatch: actions` — the scale-out path. A pulse commits (and publishes) a worker run's
//! dispatch, then starts the worker workflow with the mission, feature and run ids; the
//! workflow runs `git mission work <id> <F> --run <run>` on a runner, which pushes the feature
//! branch and records the run's result itself. The pulse follows the workflow runs: one that
//! ends without a recorded result is a lost attempt, one that overruns `limits.worker_timeout`
//! plus `github.queue_grace` is cancelled and recorded as timed out — the same attempt
//! accounting as a local worker.

use crate::events::Kind;
use serde_json::json;

use super::Forge;
use super::client::Reply;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::mission::{FeatureStatus, Mission};

/// A worker run dispatched to Actions and not yet recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Outstanding {
    pub feature: String,
    pub run: String,
    pub dispatched_at: Option<jiff::Timestamp>,
    /// The workflow run, when the dispatch answered with it.
    pub workflow_run: Option<u64>,
}

/// An Actions workflow run of the worker workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRun {
    pub id: u64,
    pub title: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub url: String,
}

/// What the pulse makes of an outstanding Actions worker.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerObs {
    pub run: String,
    pub feature: String,
    pub workflow_run: Option<u64>,
    pub state: WorkerState,
}

#[derive(Debug, Clone, PartialEq)]
pub enum WorkerState {
    /// Queued or running, within its deadline.
    Running,
    /// Ended (or never appeared) without recording a result: a lost attempt.
    Ended { why: String },
    /// Still going past its deadline: cancel it and record a timed-out attempt.
    Overdue { why: String },
}

/// The `feature.dispatched` data of a run started on Actions.
pub const ON_ACTIONS: &str = "actions";

/// Runs dispatched to Actions for features still running whose result is not in the log.
pub fn outstanding(m: &Mission, events: &[Event]) -> Vec<Outstanding> {
    let mut out = Vec::new();
    for (_, f) in m.features() {
        if f.status != FeatureStatus::Running {
            continue;
        }
        let Some(d) = events.iter().rev().find(|e| {
            e.kind == Kind::FeatureDispatched && e.feature.as_deref() == Some(f.id.as_str())
        }) else {
            continue;
        };
        let Some(run) = d.run.as_deref() else {
            continue;
        };
        if d.data["on"].as_str() != Some(ON_ACTIONS) || crate::events::run_recorded(events, run) {
            continue;
        }
        let workflow_run = events
            .iter()
            .rev()
            .find(|e| e.kind == Kind::GithubWorker && e.run.as_deref() == Some(run))
            .and_then(|e| e.data["workflow_run"].as_u64());
        out.push(Outstanding {
            feature: f.id.clone(),
            run: run.to_owned(),
            dispatched_at: d.at.parse().ok(),
            workflow_run,
        });
    }
    out
}

/// Whether a workflow run's title names `run` (the worker workflow's `run-name` holds it).
fn names(title: &str, run: &str) -> bool {
    title.split_whitespace().any(|w| w == run)
}

/// Matches outstanding runs with workflow runs and judges each against its deadline.
pub fn judge(
    out: &[Outstanding],
    runs: &[WorkflowRun],
    now: jiff::Timestamp,
    timeout: std::time::Duration,
    grace: std::time::Duration,
) -> Vec<WorkerObs> {
    let human = |d: std::time::Duration| humantime::format_duration(d).to_string();
    out.iter()
        .map(|o| {
            let found = runs
                .iter()
                .find(|r| Some(r.id) == o.workflow_run || names(&r.title, &o.run));
            let age = o
                .dispatched_at
                .and_then(|t| std::time::Duration::try_from(now.duration_since(t)).ok())
                .unwrap_or_default();
            let state = match found {
                Some(r) if r.status == "completed" => WorkerState::Ended {
                    why: format!(
                        "its Actions run {} ended ({}) without recording a result",
                        r.url,
                        r.conclusion.as_deref().unwrap_or("no conclusion")
                    ),
                },
                Some(r) if age > timeout + grace => WorkerState::Overdue {
                    why: format!(
                        "its Actions run {} overran the worker timeout ({}) plus {} for a runner; cancelled",
                        r.url,
                        human(timeout),
                        human(grace)
                    ),
                },
                Some(_) => WorkerState::Running,
                None if age > grace => WorkerState::Ended {
                    why: format!(
                        "no Actions run appeared for it within {} of its dispatch",
                        human(grace)
                    ),
                },
                None => WorkerState::Running,
            };
            WorkerObs {
                run: o.run.clone(),
                feature: o.feature.clone(),
                workflow_run: found.map(|r| r.id).or(o.workflow_run),
                state,
            }
        })
        .collect()
}

/// The worker workflow's file name, checked before it goes into a URL.
pub fn workflow_file(config: &crate::config::Config) -> Result<String> {
    check_workflow(
        config
            .get_str("github.worker_workflow")
            .unwrap_or("mission-worker.yml"),
    )
}

fn check_workflow(w: &str) -> Result<String> {
    let ok = (w.ends_with(".yml") || w.ends_with(".yaml"))
        && !w.starts_with('.')
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(w.to_owned())
    } else {
        Err(Error::user_hint(
            format!("github.worker_workflow {w:?} is not a workflow file name"),
            "use the file name under .github/workflows/, e.g. mission-worker.yml",
        ))
    }
}

fn parse_run(v: &serde_json::Value) -> Option<WorkflowRun> {
    Some(WorkflowRun {
        id: v["id"].as_u64()?,
        title: v["display_title"].as_str().unwrap_or("").to_owned(),
        status: v["status"].as_str().unwrap_or("").to_owned(),
        conclusion: v["conclusion"].as_str().map(str::to_owned),
        url: v["html_url"].as_str().unwrap_or("").to_owned(),
    })
}

fn failed(what: &str, r: &Reply) -> Error {
    super::GitHubError::api(
        format!("{what}: {} (HTTP {})", r.message(), r.status),
        Some(r.status),
    )
    .into()
}

impl Forge {
    /// The worker workflow's recent runs (one request), plus any known run the page missed.
    pub fn workflow_runs(&self, workflow: &str, out: &[Outstanding]) -> Result<Vec<WorkflowRun>> {
        let path = self.gh.repo_path(&format!(
            "/actions/workflows/{workflow}/runs?event=workflow_dispatch&per_page=100"
        ));
        let r = self.gh.get(&path)?;
        if !r.ok() {
            return Err(failed("list the worker workflow's runs", &r));
        }
        let mut runs: Vec<WorkflowRun> = r.body["workflow_runs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(parse_run)
            .collect();
        for o in out {
            let Some(id) = o.workflow_run else { continue };
            if runs.iter().any(|r| r.id == id || names(&r.title, &o.run)) {
                continue;
            }
            let r = self
                .gh
                .get(&self.gh.repo_path(&format!("/actions/runs/{id}")))?;
            match r.status {
                200 => runs.extend(parse_run(&r.body)),
                404 => {}
                _ => return Err(failed("read a worker's workflow run", &r)),
            }
        }
        Ok(runs)
    }

    /// Starts the worker workflow for a committed dispatch. `Ok(Some(id))`: the workflow run;
    /// `Ok(None)`: started, id unknown (an older GitHub); `Err(Refused)`: GitHub said no.
    pub fn start_worker(
        &self,
        workflow: &str,
        git_ref: &str,
        mission: &str,
        feature: &str,
        run: &str,
    ) -> Result<Started> {
        let r = self.gh.post(
            &self
                .gh
                .repo_path(&format!("/actions/workflows/{workflow}/dispatches")),
            &json!({
                "ref": git_ref,
                "inputs": { "mission": mission, "feature": feature, "run": run },
                "return_run_details": true,
            }),
        )?;
        Ok(match r.status {
            200 => Started::Run {
                id: r.body["workflow_run_id"].as_u64(),
                url: r.body["html_url"].as_str().unwrap_or("").to_owned(),
            },
            204 => Started::Run {
                id: None,
                url: String::new(),
            },
            400..=499 if r.status != 429 => Started::Refused(format!(
                "GitHub refused to start {workflow} on {git_ref}: {} (HTTP {})",
                r.message(),
                r.status
            )),
            _ => return Err(failed("start the worker workflow", &r)),
        })
    }

    /// Cancels a workflow run (a finished one is left alone).
    pub fn cancel_run(&self, id: u64) -> Result<()> {
        let r = self.gh.post(
            &self.gh.repo_path(&format!("/actions/runs/{id}/cancel")),
            &json!({}),
        )?;
        match r.status {
            202 | 409 | 404 => Ok(()),
            _ => Err(failed("cancel an overdue worker", &r)),
        }
    }
}

/// How starting a worker went.
#[derive(Debug)]
pub enum Started {
    Run { id: Option<u64>, url: String },
    Refused(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn o(run: &str, at: &str, wf: Option<u64>) -> Outstanding {
        Outstanding {
            feature: "F1".into(),
            run: run.into(),
            dispatched_at: at.parse().ok(),
            workflow_run: wf,
        }
    }
    fn wr(id: u64, title: &str, status: &str) -> WorkflowRun {
        WorkflowRun {
            id,
            title: title.into(),
            status: status.into(),
            conclusion: (status == "completed").then(|| "failure".into()),
            url: format!("https://example.test/runs/{id}"),
        }
    }

    #[test]
    fn runs_are_matched_by_title_or_id_and_judged_against_their_deadline() {
        let now: jiff::Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
        let (t, g) = (Duration::from_secs(3600), Duration::from_secs(600));
        let out = [
            o("r-running", "2026-11-22T11:50:00Z", None),
            o("r-ended", "2026-11-22T11:00:00Z", None),
            o("r-overdue", "2026-11-22T10:49:00Z", Some(7)),
            o("r-young", "2026-11-22T11:55:00Z", None),
            o("r-vanished", "2026-11-22T11:49:00Z", None),
        ];
        let runs = [
            wr(5, "mission m1 F1 run r-running", "in_progress"),
            wr(6, "mission m1 F1 run r-ended", "completed"),
            wr(7, "renamed", "queued"),
            // A run whose title merely contains the id as a substring is not it.
            wr(8, "mission m1 F1 run r-vanished-2", "queued"),
        ];
        let got = judge(&out, &runs, now, t, g);
        let states: Vec<_> = got.iter().map(|w| (w.run.as_str(), &w.state)).collect();
        assert_eq!(states[0], ("r-running", &WorkerState::Running));
        assert!(
            matches!(states[1].1, WorkerState::Ended { why } if why.contains("runs/6") && why.contains("failure"))
        );
        assert!(
            matches!(states[2].1, WorkerState::Overdue { why } if why.contains("1h") && why.contains("10m"))
        );
        assert_eq!(got[2].workflow_run, Some(7));
        assert_eq!(states[3], ("r-young", &WorkerState::Running));
        assert!(
            matches!(states[4].1, WorkerState::Ended { why } if why.contains("no Actions run appeared"))
        );
        assert_eq!(got[4].workflow_run, None);
    }

    #[test]
    fn the_workflow_name_is_checked() {
        assert_eq!(
            check_workflow("mission-worker.yml").unwrap(),
            "mission-worker.yml"
        );
        for bad in [
            "../x.yml",
            "a/b.yml",
            "x.sh",
            ".hidden.yml",
            "a b.yml",
            "x.yml?y=1",
        ] {
            assert!(check_workflow(bad).is_err(), "{bad}");
        }
    }
}

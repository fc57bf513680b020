//! The GitHub actions of a pulse. Each re-checks its precondition in its store mutation; each
//! write to GitHub is either idempotent by nature (a merge with the expected head SHA, a
//! reaction, an edit) or preceded by a look-up of its hidden marker in what the pulse's query
//! saw. A write that fails uncertainly stops the pulse; the next pulse observes what happened.

use crate::events::Kind;
use serde_json::json;

use super::{Forge, View, marker, reply_marker};
use crate::context::Exec;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::mission::{FeatureStatus, MissionStatus};
use crate::workspace::{feature_branch, integration_branch};

/// GitHub caps issue and PR bodies at 65,536 characters.
const BODY_LIMIT: usize = 60_000;

fn clip(s: &str) -> String {
    if s.len() <= BODY_LIMIT {
        return s.to_owned();
    }
    let mut end = BODY_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n\n… (truncated)", &s[..end])
}

/// The GitHub forge as a pulse uses it: the client, and what this pulse's query saw (kept
/// from `observe` for the actions that follow).
pub struct GitHubForge {
    pub inner: Forge,
    view: std::cell::RefCell<Option<View>>,
}

impl GitHubForge {
    pub fn new(inner: Forge) -> GitHubForge {
        GitHubForge {
            inner,
            view: std::cell::RefCell::new(None),
        }
    }
}

impl crate::context::Forge for GitHubForge {
    fn sync(&self) -> Result<Option<Vec<String>>> {
        self.inner.sync().map(Some)
    }

    fn publisher(&self) -> Option<&dyn crate::store::Publish> {
        Some(&self.inner)
    }

    /// One query (plus one for Actions workers while some are outstanding).
    fn observe(
        &self,
        ws: &crate::workspace::Workspace,
        store: &crate::store::Store,
        mission: &crate::mission::Mission,
        events: &[Event],
        config: &crate::config::Config,
    ) -> Result<std::sync::Arc<dyn crate::forge::ForgePlan>> {
        let view = self.inner.observe(super::tracking_issue(events))?;
        let mut g = super::snapshot(
            &ws.repo,
            &store.id,
            mission,
            events,
            &view,
            config.get_str("land").unwrap_or("pr"),
            config.limit("limits.review_rounds"),
        )?;
        // `dispatch: actions`: follow the worker runs (one more request, only while some are
        // outstanding).
        use super::workers;
        let out = workers::outstanding(mission, events);
        if !out.is_empty() {
            let runs = self
                .inner
                .workflow_runs(&workers::workflow_file(config)?, &out)?;
            let grace = config.duration("github.queue_grace", std::time::Duration::from_secs(1800));
            g.workers = workers::judge(
                &out,
                &runs,
                ws.repo.clock().now(),
                config.worker_timeout(),
                grace,
            );
        }
        *self.view.borrow_mut() = Some(view);
        Ok(std::sync::Arc::new(g))
    }

    fn runs_workers(&self, config: &crate::config::Config) -> bool {
        config.get_str("dispatch") == Some("actions")
    }

    fn start_worker(
        &self,
        config: &crate::config::Config,
        mission: &str,
        feature: &str,
        run: &str,
    ) -> Result<super::workers::Started> {
        let workflow = super::workers::workflow_file(config)?;
        let base = config.get_str("base").unwrap_or("main");
        self.inner
            .start_worker(&workflow, base, mission, feature, run)
    }

    fn cancel_worker(&self, workflow_run: u64) -> Result<()> {
        self.inner.cancel_run(workflow_run)
    }

    fn execute(&self, cx: &mut Exec, action: &crate::action::Action) -> Result<()> {
        use crate::action::Action;
        let view = self.view.borrow();
        let view = view
            .as_ref()
            .ok_or_else(|| Error::Internal("a GitHub action before the query".into()))?;
        let gh = Gh {
            forge: &self.inner,
            view,
        };
        match action {
            Action::Comment { id } => comment(gh, cx, *id),
            Action::Track => track(gh, cx),
            Action::CloseTracking => close_tracking(gh, cx),
            Action::Push { feature } => push(gh, cx, feature),
            Action::MergePr { feature, pr, sha } => merge_pr(gh, cx, feature, *pr, sha),
            Action::UpdatePr { feature, pr, sha } => update_pr(gh, cx, feature, *pr, sha),
            Action::PrConflict { feature, pr } => pr_conflict(cx, feature, *pr),
            Action::Rework { feature, pr, round } => rework(gh, cx, feature, *pr, *round),
            Action::PrChecksFailed { feature, pr, state } => {
                pr_checks_failed(gh, cx, feature, *pr, state)
            }
            Action::PrGone { feature, pr } => pr_gone(gh, cx, feature, *pr),
            Action::OpenLand => open_land(gh, cx),
            Action::MergeLand { pr, sha } => merge_land(gh, cx, *pr, sha),
            Action::LandGone { pr } => land_gone(gh, cx, *pr),
            other => Err(Error::Internal(format!(
                "the GitHub forge was asked to {other}"
            ))),
        }
    }

    /// The status comment, then the state the actions committed, even after an error.
    fn finish(&self, cx: &Exec, result: Result<()>) -> Result<()> {
        let mut result = result;
        if result.is_ok()
            && let Some(view) = self.view.borrow().as_ref()
        {
            result = publish(
                Gh {
                    forge: &self.inner,
                    view,
                },
                cx,
            );
        }
        result.and(self.inner.push_state(&cx.ws.repo))
    }
}

/// The GitHub forge and what this pulse's query saw: what its actions act with.
#[derive(Clone, Copy)]
pub struct Gh<'a> {
    pub forge: &'a Forge,
    pub view: &'a View,
}

fn unexpected(what: &str, r: &super::client::Reply) -> Error {
    super::GitHubError::api(
        format!("{what}: {} (HTTP {})", r.message(), r.status),
        Some(r.status),
    )
    .into()
}

fn set_feature(
    cx: &Exec,
    message: &str,
    feature: &str,
    f: impl Fn(&mut crate::mission::Feature, &str, &mut Vec<Event>) -> bool,
) -> Result<()> {
    cx.store.mutate(message, |tx| {
        let Some((ms, _)) = tx.mission.feature(feature) else {
            return Ok(false);
        };
        let milestone = ms.id.clone();
        let mut events = Vec::new();
        let Some(feat) = tx.mission.feature_mut(feature) else {
            return Ok(false);
        };
        if !f(feat, &milestone, &mut events) {
            return Ok(false);
        }
        for e in events {
            tx.event(e);
        }
        Ok(true)
    })?;
    Ok(())
}

/// Push a feature branch and open (or reuse) its PR.
pub fn push(gh: Gh, cx: &mut Exec, feature: &str) -> Result<()> {
    let Gh { forge, view } = gh;
    let repo = &cx.ws.repo;
    let id = cx.store.id.clone();
    let head = cx
        .store
        .head()?
        .ok_or_else(|| Error::user("the mission has not started"))?;
    let Some((_, f)) = head.mission().feature(feature) else {
        return Ok(());
    };
    if f.status != FeatureStatus::Review {
        return Ok(());
    }
    let title = f.title.clone();
    let branch = feature_branch(&id, feature);
    let integ = integration_branch(&id);
    let remote = forge.remote.fetched(&repo.root, &branch)?;
    let local = match (repo.branch_head(&branch)?, &remote) {
        (Some(l), _) => l,
        // Worked on elsewhere (an Actions runner pushed it): take the remote's.
        (None, Some(r)) => {
            super::sync::fast_forward(&repo.root, &branch, None, r)?;
            r.clone()
        }
        (None, None) => {
            return Err(Error::user_hint(
                format!("{feature} is in review but its branch {branch} is gone"),
                format!("retry it: git mission retry {id} {feature}"),
            ));
        }
    };
    match &remote {
        Some(r) if *r == local => {}
        Some(r) if crate::git::is_ancestor(&repo.root, &local, r) => {
            // GitHub moved the branch (an update from the integration branch): follow it.
            let wt = cx.layout.worktree(feature);
            if wt.exists() {
                let _ = repo.force_remove_worktree(&wt);
            }
            super::sync::fast_forward(&repo.root, &branch, Some(&local), r)?;
            return Ok(());
        }
        _ => forge.remote.push(&repo.root, &branch)?,
    }
    let existing = view
        .prs
        .iter()
        .find(|p| p.head == branch && p.base == integ)
        .map(|p| p.number);
    let number = match existing {
        Some(n) => n,
        None => {
            let handoff = last_handoff(cx, &head, feature)?;
            let body = clip(&format!(
                "{}\n\n---\nFeature {feature} of mission `{id}`, opened by git mission. It merges into `{integ}` when its checks pass.\n\n{}",
                handoff.unwrap_or_else(|| "(no handoff)".into()),
                marker("feature", &format!("mission={id} feature={feature}"))
            ));
            let r = forge.gh.post(
                &forge.gh.repo_path("/pulls"),
                &json!({ "title": format!("{id} {feature}: {title}"), "head": branch, "base": integ, "body": body }),
            )?;
            match r.status {
                201 => r.body["number"]
                    .as_u64()
                    .ok_or_else(|| unexpected("create PR", &r))?,
                422 => find_pr(forge, &branch)?.ok_or_else(|| unexpected("create PR", &r))?,
                _ => return Err(unexpected("create PR", &r)),
            }
        }
    };
    set_feature(
        cx,
        &format!("{feature}: PR #{number}"),
        feature,
        |f, ms, ev| {
            if f.status != FeatureStatus::Review || f.pr == Some(number) {
                return false;
            }
            f.pr = Some(number);
            ev.push(
                Event::new(Kind::FeaturePrOpened)
                    .milestone(ms)
                    .feature(feature)
                    .data(json!({ "pr": number, "head": local })),
            );
            true
        },
    )?;
    rerequest_review(cx, forge, &head, feature, number)
}

/// After a rework run's work is pushed, asks the reviewers who requested changes to review
/// again (once per round).
fn rerequest_review(
    cx: &Exec,
    forge: &Forge,
    head: &crate::store::Head,
    feature: &str,
    pr: u64,
) -> Result<()> {
    let of_f = |e: &&Event| e.feature.as_deref() == Some(feature);
    let Some(round) = head
        .events
        .iter()
        .rev()
        .filter(of_f)
        .find(|e| {
            matches!(
                e.kind,
                Kind::FeatureChangesRequested | Kind::FeatureReviewRequested
            )
        })
        .filter(|e| e.kind == Kind::FeatureChangesRequested && e.data["pr"].as_u64() == Some(pr))
    else {
        return Ok(());
    };
    let reviewers: Vec<String> = round.data["reviewers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str())
        .filter(|r| crate::comments::apply::check_login(r) && !r.ends_with("[bot]"))
        .map(str::to_owned)
        .collect();
    let r = forge.gh.post(
        &forge
            .gh
            .repo_path(&format!("/pulls/{pr}/requested_reviewers")),
        &json!({ "reviewers": reviewers }),
    )?;
    let data = if r.ok() {
        json!({ "pr": pr, "reviewers": reviewers })
    } else if (400..500).contains(&r.status) {
        // Refused (a reviewer who cannot be asked): said once, not retried.
        json!({ "pr": pr, "reviewers": reviewers, "error": r.message(), "status": r.status })
    } else {
        return Err(unexpected("request reviews", &r));
    };
    set_feature(
        cx,
        &format!("{feature}: review requested again on PR #{pr}"),
        feature,
        |_, ms, ev| {
            ev.push(
                Event::new(Kind::FeatureReviewRequested)
                    .milestone(ms)
                    .feature(feature)
                    .data(data.clone()),
            );
            true
        },
    )
}

/// The open PR whose head is `branch`, asked over REST (after a 422 "already exists").
fn find_pr(forge: &Forge, branch: &str) -> Result<Option<u64>> {
    let r = forge.gh.get(&format!(
        "{}?state=open&head={}:{branch}&per_page=100",
        forge.gh.repo_path("/pulls"),
        forge.gh.ep.owner
    ))?;
    if !r.ok() {
        return Err(unexpected("list PRs", &r));
    }
    Ok(r.body
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["head"]["ref"].as_str() == Some(branch))
        .and_then(|p| p["number"].as_u64()))
}

/// The handoff of the feature's last run, from the integration branch.
fn last_handoff(cx: &Exec, head: &crate::store::Head, feature: &str) -> Result<Option<String>> {
    let run = head
        .events
        .iter()
        .rev()
        .find(|e| e.kind == Kind::FeatureHandoff && e.feature.as_deref() == Some(feature))
        .and_then(|e| e.run.clone());
    let Some(run) = run else {
        return Ok(None);
    };
    cx.store
        .read_at(head, &crate::workspace::run_record_file(&cx.store.id, &run))
}

/// Merge a feature PR at the head the pulse saw; 405/409 mean "look again next pulse".
pub fn merge_pr(gh: Gh, cx: &mut Exec, feature: &str, pr: u64, sha: &str) -> Result<()> {
    let forge = gh.forge;
    let Some((_, _, f)) = crate::forge::in_review(cx.store, feature)? else {
        return Ok(());
    };
    let title = format!("{} {feature}: {} (#{pr})", cx.store.id, f.title);
    // The merge's parent must hold every state commit: push them first.
    forge.push_state(&cx.ws.repo)?;
    let r = forge.gh.put(
        &forge.gh.repo_path(&format!("/pulls/{pr}/merge")),
        &json!({ "sha": sha, "merge_method": forge.merge_method, "commit_title": title }),
    )?;
    match r.status {
        200 => {}
        405 | 409 | 422 => {
            tracing::info!(
                "{feature}: PR #{pr} not merged now ({}); next pulse",
                r.message()
            );
            return Ok(());
        }
        _ => return Err(unexpected("merge PR", &r)),
    }
    let commit = r.body["sha"].as_str().unwrap_or("").to_owned();
    record_merged(gh, cx, feature, pr, sha, &commit)
}

fn record_merged(
    gh: Gh,
    cx: &mut Exec,
    feature: &str,
    pr: u64,
    sha: &str,
    commit: &str,
) -> Result<()> {
    let forge = gh.forge;
    forge.sync()?;
    let strategy = forge.merge_method.clone();
    set_feature(
        cx,
        &format!("{feature}: merged PR #{pr}"),
        feature,
        |f, ms, ev| {
            if f.status != FeatureStatus::Review {
                return false;
            }
            f.status = FeatureStatus::Merged;
            f.pr = Some(pr);
            ev.push(
                Event::new(Kind::FeatureMerged)
                    .milestone(ms)
                    .feature(feature)
                    .data(json!({ "pr": pr, "head": sha, "commit": commit, "strategy": strategy })),
            );
            true
        },
    )?;
    cx.remove_feature_worktree(feature);
    Ok(())
}

pub fn update_pr(gh: Gh, cx: &mut Exec, feature: &str, pr: u64, sha: &str) -> Result<()> {
    let forge = gh.forge;
    forge.push_state(&cx.ws.repo)?;
    let r = forge.gh.put(
        &forge.gh.repo_path(&format!("/pulls/{pr}/update-branch")),
        &json!({ "expected_head_sha": sha }),
    )?;
    match r.status {
        202 | 422 => {
            tracing::info!("{feature}: PR #{pr} update: {}", r.message());
            Ok(())
        }
        _ => Err(unexpected("update PR branch", &r)),
    }
}

pub fn pr_conflict(cx: &mut Exec, feature: &str, pr: u64) -> Result<()> {
    set_feature(
        cx,
        &format!("{feature}: PR #{pr} conflicts"),
        feature,
        |f, ms, ev| {
            if f.status != FeatureStatus::Review {
                return false;
            }
            f.status = FeatureStatus::Pending;
            ev.push(
                Event::new(Kind::FeatureConflict)
                    .milestone(ms)
                    .feature(feature)
                    .data(json!({
                        "pr": pr, "files": [],
                        "failure": format!("PR #{pr} conflicts with the integration branch"),
                    })),
            );
            true
        },
    )
}

pub fn pr_checks_failed(gh: Gh, cx: &mut Exec, feature: &str, pr: u64, state: &str) -> Result<()> {
    let limit = cx.config.worker_attempts();
    // What the failed checks said (name, title and summary, the end of their text, which is
    // often the log): the next attempt's prompt carries it.
    let details: Vec<String> = gh
        .view
        .prs
        .iter()
        .find(|p| p.number == pr)
        .map(|p| {
            p.failed_checks
                .iter()
                .take(5)
                .map(|c| {
                    let tail: Vec<&str> = c.text.lines().rev().take(30).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    let mut s = format!("check `{}` ({})", c.name, c.conclusion.to_lowercase());
                    if !c.summary.is_empty() {
                        s.push_str(&format!(
                            ": {}",
                            c.summary.chars().take(500).collect::<String>()
                        ));
                    }
                    if !tail.is_empty() {
                        s.push_str(&format!("\n{}", tail.join("\n")));
                    }
                    s
                })
                .collect()
        })
        .unwrap_or_default();
    set_feature(
        cx,
        &format!("{feature}: PR #{pr} checks failed"),
        feature,
        |f, ms, ev| {
            let mut failure = format!("the checks of PR #{pr} ended {state}");
            if !details.is_empty() {
                failure.push_str(&format!(":\n{}", details.join("\n\n")));
            }
            let checks: Vec<&str> = details.iter().map(String::as_str).collect();
            let data = json!({ "pr": pr, "state": state, "failure": failure, "checks": checks });
            match crate::forge::checks_failed(f, limit, ms, data) {
                Some(events) => {
                    ev.extend(events);
                    true
                }
                None => false,
            }
        },
    )
}

/// A recorded PR is not open any more: merged (by us in a pulse that died, or by a person)
/// or closed.
pub fn pr_gone(gh: Gh, cx: &mut Exec, feature: &str, pr: u64) -> Result<()> {
    let forge = gh.forge;
    let r = forge.gh.get(&forge.gh.repo_path(&format!("/pulls/{pr}")))?;
    if r.status == 200 && r.body["merged"].as_bool() == Some(true) {
        let sha = r.body["head"]["sha"].as_str().unwrap_or("").to_owned();
        let commit = r.body["merge_commit_sha"].as_str().unwrap_or("").to_owned();
        return record_merged(gh, cx, feature, pr, &sha, &commit);
    }
    if r.status != 200 && r.status != 404 {
        return Err(unexpected("get PR", &r));
    }
    if r.status == 200 && r.body["state"].as_str() == Some("open") {
        return Ok(()); // the query and this answer disagree: look again next pulse
    }
    set_feature(
        cx,
        &format!("{feature}: PR #{pr} closed"),
        feature,
        |f, ms, ev| {
            if f.pr != Some(pr) {
                return false;
            }
            f.pr = None;
            ev.push(
                Event::new(Kind::FeaturePrClosed)
                    .milestone(ms)
                    .feature(feature)
                    .data(json!({ "pr": pr })),
            );
            true
        },
    )
}

pub fn open_land(gh: Gh, cx: &mut Exec) -> Result<()> {
    let Gh { forge, view } = gh;
    let id = cx.store.id.clone();
    let integ = integration_branch(&id);
    let Some(base) = cx.config.get_str("base").map(str::to_owned) else {
        return Ok(());
    };
    let head = cx
        .store
        .head()?
        .ok_or_else(|| Error::user("the mission has not started"))?;
    if view.prs.iter().any(|p| p.head == integ && p.base == base) {
        return Ok(());
    }
    forge.push_state(&cx.ws.repo)?;
    let m = head.mission();
    let body = clip(&format!(
        "Lands mission `{id}` ({}) on `{base}`.\n\n{}\n{}",
        m.title,
        crate::report::status_block(m),
        marker("land", &format!("mission={id}"))
    ));
    let r = forge.gh.post(
        &forge.gh.repo_path("/pulls"),
        &json!({ "title": format!("Land mission {id}: {}", m.title), "head": integ, "base": base, "body": body }),
    )?;
    let number = match r.status {
        201 => r.body["number"].as_u64(),
        422 => find_pr(forge, &integ)?,
        _ => return Err(unexpected("open the land PR", &r)),
    }
    .ok_or_else(|| unexpected("open the land PR", &r))?;
    cx.store
        .mutate(&format!("mission: land PR #{number}"), |tx| {
            if tx.has_event(|e| {
                e.kind == Kind::LandPrOpened && e.data["pr"].as_u64() == Some(number)
            }) {
                return Ok(false);
            }
            tx.event(Event::new(Kind::LandPrOpened).data(json!({ "pr": number, "base": base })));
            Ok(true)
        })?;
    Ok(())
}

pub fn merge_land(gh: Gh, cx: &mut Exec, pr: u64, sha: &str) -> Result<()> {
    let forge = gh.forge;
    let id = cx.store.id.clone();
    let r = forge.gh.put(
        &forge.gh.repo_path(&format!("/pulls/{pr}/merge")),
        &json!({ "sha": sha, "merge_method": "merge", "commit_title": format!("Land mission {id} (#{pr})") }),
    )?;
    match r.status {
        200 => record_landed(cx, pr, true, r.body["sha"].as_str().unwrap_or("")),
        405 | 409 | 422 => {
            tracing::info!("land PR #{pr} not merged now ({}); next pulse", r.message());
            Ok(())
        }
        _ => Err(unexpected("merge the land PR", &r)),
    }
}

pub fn land_gone(gh: Gh, cx: &mut Exec, pr: u64) -> Result<()> {
    let forge = gh.forge;
    let r = forge.gh.get(&forge.gh.repo_path(&format!("/pulls/{pr}")))?;
    match r.status {
        200 if r.body["state"].as_str() == Some("open") => Ok(()),
        200 => {
            let merged = r.body["merged"].as_bool() == Some(true);
            let commit = r.body["merge_commit_sha"].as_str().unwrap_or("").to_owned();
            record_landed(cx, pr, merged, &commit)
        }
        404 => record_landed(cx, pr, false, ""),
        _ => Err(unexpected("get the land PR", &r)),
    }
}

fn record_landed(cx: &mut Exec, pr: u64, merged: bool, commit: &str) -> Result<()> {
    let base = cx.config.get_str("base").unwrap_or("main").to_owned();
    cx.store.mutate(
        &format!(
            "mission: land PR #{pr} {}",
            if merged { "merged" } else { "closed" }
        ),
        |tx| {
            if tx.has_event(|e| e.kind == Kind::LandPrClosed && e.data["pr"].as_u64() == Some(pr)) {
                return Ok(false);
            }
            tx.event(
                Event::new(Kind::LandPrClosed)
                    .data(json!({ "pr": pr, "merged": merged, "commit": commit })),
            );
            if merged {
                let landed: Vec<String> = tx
                    .head
                    .events
                    .iter()
                    .filter(|e| e.kind == Kind::MilestoneLanded)
                    .filter_map(|e| e.milestone.clone())
                    .collect();
                let passed: Vec<String> = tx
                    .mission
                    .milestones
                    .iter()
                    .filter(|m| {
                        m.status == crate::mission::MilestoneStatus::Passed
                            && !landed.contains(&m.id)
                    })
                    .map(|m| m.id.clone())
                    .collect();
                for ms in passed {
                    tx.event(
                        Event::new(Kind::MilestoneLanded)
                            .milestone(&ms)
                            .data(json!({ "pr": pr, "commit": commit })),
                    );
                }
                if tx.mission.status == MissionStatus::Completed
                    && !tx.has_event(|e| e.kind == Kind::MissionLanded)
                {
                    tx.event(
                        Event::new(Kind::MissionLanded)
                            .data(json!({ "base": base, "commit": commit, "pr": pr })),
                    );
                }
            }
            Ok(true)
        },
    )?;
    Ok(())
}

fn tracking_marker(id: &str) -> String {
    marker("tracking", &format!("mission={id}"))
}

/// Find the tracking issue by its marker, or open it; record its number.
pub fn track(gh: Gh, cx: &mut Exec) -> Result<()> {
    let forge = gh.forge;
    let id = cx.store.id.clone();
    let mark = tracking_marker(&id);
    let me = forge.me();
    let r = forge.gh.get(&format!(
        "{}?state=all&per_page=100",
        forge.gh.repo_path("/issues")
    ))?;
    if !r.ok() {
        return Err(unexpected("list issues", &r));
    }
    let found = r
        .body
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| {
            i["pull_request"].is_null()
                && i["body"].as_str().is_some_and(|b| b.contains(&mark))
                && me.is(
                    i["user"]["login"].as_str().unwrap_or(""),
                    i["user"]["type"].as_str() == Some("Bot"),
                )
        })
        .and_then(|i| i["number"].as_u64());
    let number = match found {
        Some(n) => n,
        None => {
            let head = cx
                .store
                .head()?
                .ok_or_else(|| Error::user("the mission has not started"))?;
            let m = head.mission();
            let body = format!(
                "Mission Control for `{id}`: {}\n\nThe status comment below is kept up to date by git mission. Steer the mission with comments here or on its pull requests:\n\n```\n{}\n```\n\n{mark}",
                m.title,
                crate::comments::GRAMMAR
            );
            let r = forge.gh.post(
                &forge.gh.repo_path("/issues"),
                &json!({ "title": format!("Mission {id}: {}", m.title), "body": body }),
            )?;
            if r.status != 201 {
                return Err(unexpected("open the tracking issue", &r));
            }
            r.body["number"]
                .as_u64()
                .ok_or_else(|| unexpected("open the tracking issue", &r))?
        }
    };
    cx.store
        .mutate(&format!("mission: tracking issue #{number}"), |tx| {
            if crate::forge::github::tracking_issue(&tx.head.events) == Some(number) {
                return Ok(false);
            }
            tx.event(Event::new(Kind::GithubTracking).data(json!({ "issue": number })));
            Ok(true)
        })?;
    Ok(())
}

pub fn close_tracking(gh: Gh, cx: &mut Exec) -> Result<()> {
    let Gh { forge, view } = gh;
    let Some((number, _, _)) = &view.tracking else {
        return Ok(());
    };
    publish(gh, cx)?;
    let r = forge.gh.patch(
        &forge.gh.repo_path(&format!("/issues/{number}")),
        &json!({ "state": "closed", "state_reason": "completed" }),
    )?;
    if !r.ok() {
        return Err(unexpected("close the tracking issue", &r));
    }
    Ok(())
}

/// The sticky status comment's text: only what changes with the mission's state (no clocks),
/// so an unchanged mission means no request.
pub fn status_text(cx: &Exec, head: &crate::store::Head) -> String {
    let m = head.mission();
    let id = &cx.store.id;
    let mut s = format!(
        "### Mission `{id}`: {}\n\n**Status:** {}",
        m.title, m.status
    );
    if let Some(b) = &m.block {
        s.push_str(&format!(" — blocked: {} ({})", b.reason, b.message));
    }
    s.push_str("\n\n");
    s.push_str(&crate::report::status_block(m));
    let running: Vec<String> = m
        .features()
        .filter(|(_, f)| f.status == FeatureStatus::Running)
        .map(|(_, f)| {
            let run = head
                .events
                .iter()
                .rev()
                .find(|e| e.kind == Kind::FeatureDispatched && e.feature.as_deref() == Some(&f.id))
                .and_then(|e| e.run.clone())
                .unwrap_or_default();
            format!("- {} `{run}`", f.id)
        })
        .collect();
    if !running.is_empty() {
        s.push_str(&format!("\n**Active runs**\n\n{}\n", running.join("\n")));
    }
    let next = crate::report::next_actions(m);
    if !next.is_empty() {
        s.push_str("\n**Next**\n\n");
        for n in next {
            s.push_str(&format!("- {n}\n"));
        }
    }
    let sp = &m.spent;
    s.push_str(&format!(
        "\n**Budget spent:** ${:.2}, {} tokens, {} runs, {:.2} agent hours\n",
        sp.usd, sp.tokens, sp.runs, sp.hours
    ));
    s.push_str(&format!("\n{}", marker("status", &format!("mission={id}"))));
    s
}

/// After a pulse's actions: the sticky status comment (edited only when it changed) and
/// alerts (budget, blocks) not yet posted.
pub fn publish(gh: Gh, cx: &Exec) -> Result<()> {
    let Gh { forge, view } = gh;
    let Some((number, _, comments)) = &view.tracking else {
        return Ok(()); // created this pulse: the next pulse sees its comments
    };
    let Some(head) = cx.store.head()? else {
        return Ok(());
    };
    let id = cx.store.id.clone();
    let text = status_text(cx, &head);
    let mark = marker("status", &format!("mission={id}"));
    let me = forge.me();
    let mine: Vec<&super::CommentObs> =
        comments.iter().filter(|c| me.is(&c.login, c.bot)).collect();
    let sticky = mine.iter().rev().find(|c| c.body.contains(&mark));
    match sticky {
        Some(c) if c.body.trim() == text.trim() => {}
        Some(c) => {
            let r = forge.gh.patch(
                &forge.gh.repo_path(&format!("/issues/comments/{}", c.id)),
                &json!({ "body": text }),
            )?;
            if !r.ok() {
                return Err(unexpected("update the status comment", &r));
            }
        }
        None => {
            post_comment(forge, *number, &text)?;
        }
    }
    // Alerts since the tracking issue was opened, newest ten, each once.
    let since = head
        .events
        .iter()
        .rfind(|e| e.kind == Kind::GithubTracking)
        .map_or(u64::MAX, |e| e.seq);
    let alerts: Vec<&Event> = head
        .events
        .iter()
        .filter(|e| {
            e.seq > since
                && matches!(
                    e.kind,
                    Kind::BudgetAlert | Kind::MissionBlocked | Kind::EstimateAlert
                )
        })
        .collect();
    for e in alerts.iter().rev().take(10).rev() {
        let mark = marker("alert", &format!("mission={id} event={}", e.seq));
        if mine.iter().any(|c| c.body.contains(&mark)) {
            continue;
        }
        let what = match e.kind {
            Kind::BudgetAlert => "Budget alert",
            Kind::EstimateAlert => "Estimate alert",
            _ => "Mission blocked",
        };
        let detail = e.data["message"]
            .as_str()
            .or_else(|| e.data["reason"].as_str())
            .unwrap_or("");
        post_comment(
            forge,
            *number,
            &format!("**{what}** for `{id}`: {detail}\n\n{}", mark),
        )?;
    }
    Ok(())
}

fn post_comment(forge: &Forge, on: u64, body: &str) -> Result<u64> {
    let r = forge.gh.post(
        &forge.gh.repo_path(&format!("/issues/{on}/comments")),
        &json!({ "body": clip(body) }),
    )?;
    if r.status != 201 {
        return Err(unexpected("post a comment", &r));
    }
    Ok(r.body["id"].as_u64().unwrap_or(0))
}

/// Handle (or only answer) a `/mission` comment seen by the pulse's query.
pub fn comment(gh: Gh, cx: &mut Exec, id: u64) -> Result<()> {
    let Gh { forge, view } = gh;
    let Some(c) = view.comments().find(|c| c.id == id).cloned() else {
        return Ok(());
    };
    let answered = view.has_marker(c.on, &reply_marker(c.id), &forge.me());
    let handled = crate::comments::apply::handle(cx.store, cx.config, forge, &c)?;
    if answered {
        crate::comments::apply::found_answer(cx.store, c.id)?;
    } else {
        crate::comments::apply::answer(cx.store, &forge.gh, &c, &handled)?;
    }
    Ok(())
}

/// Reviews on a feature PR request changes: the feature goes back to pending so its next run
/// works on the same branch, with the reviews (body and every inline comment with its path,
/// line and diff hunk) in its prompt. Each review is answered once; the PR is updated and its
/// reviewers asked again when the run's work is pushed.
pub fn rework(gh: Gh, cx: &mut Exec, feature: &str, pr: u64, round: u32) -> Result<()> {
    let view = gh.view;
    let Some(p) = view.prs.iter().find(|p| p.number == pr) else {
        return Ok(());
    };
    let requested = super::rework_requests(p);
    let clip_to = |s: &str, n: usize| -> String {
        let t: String = s.chars().take(n).collect();
        if s.chars().count() > n {
            format!("{t}…")
        } else {
            t
        }
    };
    cx.store
        .mutate(&format!("{feature}: changes requested on PR #{pr}"), |tx| {
            let answered = super::reworked(&tx.head.events, feature);
            let new: Vec<&super::ReviewObs> = requested
                .iter()
                .filter(|r| !answered.contains(&(r.id, r.thread)))
                .collect();
            if new.is_empty() {
                return Ok(false);
            }
            let Some((ms, _)) = tx.mission.feature(feature) else {
                return Ok(false);
            };
            let milestone = ms.id.clone();
            let Some(f) = tx
                .mission.feature_mut(feature)
            else {
                return Ok(false);
            };
            if f.status != FeatureStatus::Review {
                return Ok(false);
            }
            f.status = FeatureStatus::Pending;
            // Bounded: a review is data for a prompt, not a way to grow the log without end.
            let reviews: Vec<serde_json::Value> = new
                .iter()
                .map(|r| {
                    json!({
                        "id": r.id, "thread": r.thread, "reviewer": r.author, "body": clip_to(&r.body, 4000),
                        "comments": r.comments.iter().take(50).map(|c| json!({
                            "path": c.path, "line": c.line,
                            "diff_hunk": clip_to(&c.diff_hunk, 1500), "body": clip_to(&c.body, 2000),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let mut reviewers: Vec<&str> = new.iter().map(|r| r.author.as_str()).collect();
            reviewers.sort_unstable();
            reviewers.dedup();
            tx.event(
                Event::new(Kind::FeatureChangesRequested)
                    .milestone(&milestone)
                    .feature(feature)
                    .data(json!({ "pr": pr, "round": round, "reviewers": reviewers, "reviews": reviews })),
            );
            Ok(true)
        })?;
    Ok(())
}

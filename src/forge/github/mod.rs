//! `forge: github`: feature PRs into the integration branch, land PRs into the base branch, a
//! tracking issue with a sticky status comment, and `/mission` comment commands — all read by
//! one GraphQL query per pulse (`MissionPulse`) and changed by REST mutations that are
//! idempotent (hidden markers, expected head SHAs). See docs/github.md.

pub mod client;
pub mod execute;
pub mod sync;
pub mod workers;

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::git::Repo;
use crate::mission::{FeatureStatus, MilestoneStatus, Mission};
use crate::workspace::{feature_branch, integration_branch};

pub use client::GitHub;
use client::{Endpoint, repo_from_url};
use sync::Remote;

/// The query of every pulse: every open PR with its head, mergeability, check rollup, review
/// decision and latest comments, and the tracking issue's comments. Validated against GitHub's
/// published schema by `scripts/check-github-contract.py`.
pub const QUERY: &str = "query MissionPulse($owner: String!, $name: String!, $issue: Int!, $hasIssue: Boolean!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: 100, after: $after, states: [OPEN], orderBy: {field: CREATED_AT, direction: ASC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number headRefName headRefOid baseRefName isDraft
        mergeable mergeStateStatus reviewDecision
        commits(last: 1) { nodes { commit { oid statusCheckRollup { state } } } }
        comments(last: 50) { nodes { databaseId body author { __typename login } } }
      }
    }
    issue(number: $issue) @include(if: $hasIssue) {
      number state
      comments(last: 100) { nodes { databaseId body author { __typename login } } }
    }
  }
  rateLimit { cost remaining resetAt }
}";

/// Hidden markers in what the tool writes, so every write can be looked up before it is made.
pub fn marker(kind: &str, attrs: &str) -> String {
    format!("<!-- git-mission:{kind} {attrs} -->")
}
pub const MARK: &str = "<!-- git-mission:";

/// Whether this repository's missions use GitHub.
pub fn enabled(config: &Config) -> bool {
    match config.get_str("forge") {
        Some("github") => true,
        Some("local") => false,
        _ => {
            std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true")
                && ["GITHUB_TOKEN", "GH_TOKEN"]
                    .iter()
                    .any(|k| std::env::var(k).is_ok_and(|v| !v.is_empty()))
        }
    }
}

/// A comment as observed.
#[derive(Debug, Clone, PartialEq)]
pub struct CommentObs {
    pub id: u64,
    /// The issue or PR it is on.
    pub on: u64,
    pub body: String,
    pub login: String,
    pub bot: bool,
}

impl CommentObs {
    fn parse(v: &Value, on: u64) -> Option<CommentObs> {
        let author = &v["author"];
        let login = author["login"].as_str().unwrap_or("ghost").to_owned();
        Some(CommentObs {
            id: v["databaseId"].as_u64()?,
            on,
            body: v["body"].as_str().unwrap_or("").to_owned(),
            bot: author["__typename"].as_str() == Some("Bot") || login.ends_with("[bot]"),
            login,
        })
    }
    /// Written by this tool.
    pub fn ours(&self) -> bool {
        self.body.contains(MARK)
    }
}

/// An open pull request as observed.
#[derive(Debug, Clone, PartialEq)]
pub struct PrObs {
    pub number: u64,
    pub head: String,
    pub head_sha: String,
    pub base: String,
    pub draft: bool,
    /// MERGEABLE, CONFLICTING or UNKNOWN.
    pub mergeable: String,
    /// CLEAN, DIRTY, BEHIND, BLOCKED, UNSTABLE, HAS_HOOKS, DRAFT or UNKNOWN.
    pub merge_state: String,
    pub review: Option<String>,
    /// The check rollup of the head commit: None when the repository has no checks.
    pub checks: Option<String>,
    pub comments: Vec<CommentObs>,
}

impl PrObs {
    /// Checks passed (or there are none) and GitHub would merge it now.
    pub fn green(&self) -> bool {
        self.checks.as_deref().is_none_or(|c| c == "SUCCESS")
            && self.mergeable == "MERGEABLE"
            && matches!(
                self.merge_state.as_str(),
                "CLEAN" | "UNSTABLE" | "HAS_HOOKS"
            )
    }
}

/// What the query saw.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub prs: Vec<PrObs>,
    /// The tracking issue: (number, state, comments).
    pub tracking: Option<(u64, String, Vec<CommentObs>)>,
}

impl View {
    /// Every comment seen, on PRs and on the tracking issue.
    pub fn comments(&self) -> impl Iterator<Item = &CommentObs> {
        self.prs
            .iter()
            .flat_map(|p| p.comments.iter())
            .chain(self.tracking.iter().flat_map(|t| t.2.iter()))
    }
    pub fn has_marker(&self, on: u64, mark: &str) -> bool {
        self.comments().any(|c| c.on == on && c.body.contains(mark))
    }
}

/// The GitHub side of a pulse: the client, the remote, and the mission it works for.
pub struct Forge {
    pub gh: GitHub,
    pub remote: Remote,
    pub id: String,
    pub merge_method: String,
    /// The integration branch's value on the remote, as last fetched or pushed.
    pub remote_head: std::cell::RefCell<Option<String>>,
    /// The repository's work tree root.
    root: std::path::PathBuf,
}

impl crate::store::Publish for Forge {
    fn publish(&self, old: &str, new: &str) -> Result<bool> {
        let branch = integration_branch(&self.id);
        let expected = self.remote_head.borrow().clone();
        match self
            .remote
            .push_lease(&self.root, &branch, new, expected.as_deref())
        {
            Ok(true) => {
                *self.remote_head.borrow_mut() = Some(new.to_owned());
                Ok(true)
            }
            Ok(false) => {
                // Refused: drop this change here and take the remote's state. If it moved, we
                // lost a race and the caller re-applies; if not, GitHub declined the push.
                self.unpublish_at(old, new)?;
                self.sync()?;
                if *self.remote_head.borrow() == expected {
                    return Err(Error::Forge {
                        message: format!(
                            "{} refused the push of {branch} (a branch protection rule or hook?)",
                            self.remote.name
                        ),
                        status: 0,
                    });
                }
                Ok(false)
            }
            Err(e) => {
                self.unpublish_at(old, new)?;
                Err(e)
            }
        }
    }
}

/// The GitHub repository (`owner/name`): `github.repo`, else `$GITHUB_REPOSITORY`, else the
/// URL of the remote `github.remote`.
pub fn repo_name(repo: &Repo, config: &Config) -> Result<String> {
    if let Some(r) = config.get_str("github.repo") {
        return Ok(r.to_owned());
    }
    if let Ok(r) = std::env::var("GITHUB_REPOSITORY")
        && !r.is_empty()
    {
        return Ok(r);
    }
    let remote = config.get_str("github.remote").unwrap_or("origin");
    crate::git::git_opt(&repo.root, &["remote", "get-url", remote])?
        .and_then(|u| repo_from_url(&u))
        .ok_or_else(|| {
            Error::user_hint(
                "cannot tell which GitHub repository this is",
                "set github.repo: owner/name in todo/missions/config.yml",
            )
        })
}

impl Forge {
    pub fn open(repo: &Repo, config: &Config, id: &str) -> Result<Forge> {
        let remote_name = config.get_str("github.remote").unwrap_or("origin");
        let ep = Endpoint::from_env(&repo_name(repo, config)?)?;
        let remote = Remote::open(&repo.root, remote_name, Some(&ep.token))?;
        Ok(Forge {
            gh: GitHub::new(ep)?,
            remote,
            id: id.to_owned(),
            merge_method: if config.get_str("merge") == Some("merge") {
                "merge".into()
            } else {
                "squash".into()
            },
            remote_head: std::cell::RefCell::new(None),
            root: repo.root.clone(),
        })
    }

    /// Fetches the mission's branches and brings the local integration branch up to the
    /// remote's. Diverged histories are an error: nothing is rewritten.
    pub fn sync(&self) -> Result<()> {
        let root = &self.root;
        let branch = integration_branch(&self.id);
        self.remote.fetch_mission(root, &self.id)?;
        let remote = self.remote.fetched(root, &branch)?;
        if let Some(r) = &remote {
            let local = crate::git::git_opt(
                root,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("refs/heads/{branch}"),
                ],
            )?
            .map(|s| s.trim().to_owned());
            if !sync::fast_forward(root, &branch, local.as_deref(), r)?
                && !crate::git::is_ancestor(root, r, local.as_deref().unwrap_or(""))
            {
                return Err(Error::user_hint(
                    format!(
                        "{branch} here and on {} have diverged; nothing was changed",
                        self.remote.name
                    ),
                    format!(
                        "another supervisor changed the mission; keep one: `git branch -f {branch} {}/{branch}` drops the local commits (docs/recovery.md)",
                        self.remote.name
                    ),
                ));
            }
        }
        *self.remote_head.borrow_mut() = remote;
        Ok(())
    }

    /// Pushes the integration branch if it is ahead of the remote (lease on the known value).
    pub fn push_state(&self, repo: &Repo) -> Result<()> {
        let branch = integration_branch(&self.id);
        let Some(local) = repo.branch_head(&branch)? else {
            return Ok(());
        };
        let expected = self.remote_head.borrow().clone();
        if expected.as_deref() == Some(local.as_str()) {
            return Ok(());
        }
        if !self
            .remote
            .push_lease(&repo.root, &branch, &local, expected.as_deref())?
        {
            return Err(Error::Forge {
                message: format!(
                    "{} refused {branch}: it changed since it was fetched (another supervisor pushed) or a rule declined it; the next pulse re-reads it",
                    self.remote.name
                ),
                status: 0,
            });
        }
        *self.remote_head.borrow_mut() = Some(local);
        Ok(())
    }

    /// Puts the local integration branch back from `new` to `old` (compare-and-swap).
    fn unpublish_at(&self, old: &str, new: &str) -> Result<()> {
        let name = format!("refs/heads/{}", integration_branch(&self.id));
        crate::git::git(&self.root, &["update-ref", &name, old, new])?;
        Ok(())
    }

    /// The pulse's one query (more pages only beyond 100 open PRs).
    pub fn observe(&self, tracking: Option<u64>) -> Result<View> {
        let mut view = View::default();
        let mut after = Value::Null;
        loop {
            let vars = json!({
                "owner": self.gh.ep.owner, "name": self.gh.ep.name,
                "issue": tracking.unwrap_or(0), "hasIssue": tracking.is_some(), "after": after,
            });
            let data = self.gh.graphql(QUERY, &vars)?;
            let repo = &data["repository"];
            if repo.is_null() {
                return Err(Error::Forge {
                    message: format!(
                        "repository {}/{} not found or not visible to the token",
                        self.gh.ep.owner, self.gh.ep.name
                    ),
                    status: 404,
                });
            }
            let prs = &repo["pullRequests"];
            for n in prs["nodes"].as_array().into_iter().flatten() {
                let Some(number) = n["number"].as_u64() else {
                    continue;
                };
                let commit = &n["commits"]["nodes"][0]["commit"];
                view.prs.push(PrObs {
                    number,
                    head: n["headRefName"].as_str().unwrap_or("").to_owned(),
                    head_sha: n["headRefOid"].as_str().unwrap_or("").to_owned(),
                    base: n["baseRefName"].as_str().unwrap_or("").to_owned(),
                    draft: n["isDraft"].as_bool().unwrap_or(false),
                    mergeable: n["mergeable"].as_str().unwrap_or("UNKNOWN").to_owned(),
                    merge_state: n["mergeStateStatus"]
                        .as_str()
                        .unwrap_or("UNKNOWN")
                        .to_owned(),
                    review: n["reviewDecision"].as_str().map(str::to_owned),
                    checks: commit["statusCheckRollup"]["state"]
                        .as_str()
                        .map(str::to_owned),
                    comments: n["comments"]["nodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| CommentObs::parse(c, number))
                        .collect(),
                });
            }
            if tracking.is_some() && view.tracking.is_none() {
                let issue = &repo["issue"];
                if let Some(number) = issue["number"].as_u64() {
                    view.tracking = Some((
                        number,
                        issue["state"].as_str().unwrap_or("OPEN").to_owned(),
                        issue["comments"]["nodes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|c| CommentObs::parse(c, number))
                            .collect(),
                    ));
                }
            }
            if prs["pageInfo"]["hasNextPage"].as_bool() == Some(true) {
                after = prs["pageInfo"]["endCursor"].clone();
                continue;
            }
            return Ok(view);
        }
    }
}

/// What `plan` needs from GitHub, derived from the view, the mission and its events.
#[derive(Debug, Clone, Default)]
pub struct GhSnap {
    /// Open feature PRs, by feature.
    pub prs: HashMap<String, PrObs>,
    /// Local heads of the branches of features in review.
    pub heads: HashMap<String, String>,
    /// `pr`, `auto` or `none`.
    pub land: String,
    /// The open land PR.
    pub land_pr: Option<PrObs>,
    /// A land PR the log says was opened and that is no longer open.
    pub land_gone: Option<u64>,
    /// Passed milestones not yet on the base branch.
    pub unlanded: Vec<String>,
    /// The local integration head.
    pub integration_head: Option<String>,
    pub tracking: Option<u64>,
    pub tracking_open: bool,
    /// Command comments not yet handled, or handled but not yet answered.
    pub comments: Vec<u64>,
    /// `dispatch: actions`: worker runs on Actions not yet recorded.
    pub workers: Vec<workers::WorkerObs>,
}

/// Builds the snapshot. `view` is the query's answer; `events` the mission's log.
pub fn snapshot(
    repo: &Repo,
    id: &str,
    m: &Mission,
    events: &[Event],
    view: &View,
    land: &str,
) -> Result<GhSnap> {
    let integ = integration_branch(id);
    let mut s = GhSnap {
        land: land.to_owned(),
        integration_head: repo.branch_head(&integ)?,
        ..GhSnap::default()
    };
    for (_, f) in m.features() {
        let branch = feature_branch(id, &f.id);
        if let Some(pr) = view
            .prs
            .iter()
            .find(|p| p.head == branch && p.base == integ)
        {
            s.prs.insert(f.id.clone(), pr.clone());
        }
        if f.status == FeatureStatus::Review
            && let Some(h) = repo.branch_head(&branch)?
        {
            s.heads.insert(f.id.clone(), h);
        }
    }
    s.land_pr = view
        .prs
        .iter()
        .find(|p| p.head == integ && p.base != integ)
        .cloned();
    let landed: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "milestone.landed")
        .filter_map(|e| e.milestone.as_deref())
        .collect();
    s.unlanded = m
        .milestones
        .iter()
        .filter(|ms| ms.status == MilestoneStatus::Passed && !landed.contains(&ms.id.as_str()))
        .map(|ms| ms.id.clone())
        .collect();
    if s.land_pr.is_none() {
        let last_open = events
            .iter()
            .rev()
            .find(|e| e.kind == "land.pr_opened")
            .and_then(|e| e.data["pr"].as_u64());
        let closed = |pr: u64| {
            events
                .iter()
                .any(|e| e.kind == "land.pr_closed" && e.data["pr"].as_u64() == Some(pr))
        };
        s.land_gone = last_open.filter(|pr| !closed(*pr));
    }
    // A recorded tracking issue that no longer exists is opened again.
    s.tracking = tracking_issue(events).filter(|_| view.tracking.is_some());
    s.tracking_open = view
        .tracking
        .as_ref()
        .is_none_or(|t| t.1.eq_ignore_ascii_case("open"));
    let handled = handled_comments(events);
    for c in view.comments() {
        if c.ours() || c.bot || !crate::comments::has_command(&c.body) {
            continue;
        }
        if !mission_of(id, c, view) {
            continue;
        }
        let answered = view.has_marker(c.on, &reply_marker(c.id));
        if !handled.contains(&c.id) || !answered {
            s.comments.push(c.id);
        }
    }
    s.comments.sort_unstable();
    s.comments.dedup();
    Ok(s)
}

/// Whether a comment on a mission PR or tracking issue is addressed to mission `id`.
fn mission_of(id: &str, c: &CommentObs, view: &View) -> bool {
    // An invalid line names no mission: it is answered (with the grammar) in its thread.
    let named: Vec<Option<String>> = crate::comments::parse(&c.body)
        .into_iter()
        .map(|r| r.ok().and_then(|p| p.mission))
        .collect();
    if named.iter().any(|n| n.as_deref() == Some(id)) {
        return true;
    }
    // Unnamed: the mission of the thread (this pulse only reads its own PRs and issue).
    let thread_is_ours = view.tracking.as_ref().is_some_and(|t| t.0 == c.on)
        || view
            .prs
            .iter()
            .any(|p| p.number == c.on && mission_of_branch(&p.head).as_deref() == Some(id));
    thread_is_ours && named.iter().any(Option::is_none)
}

/// The mission a branch belongs to: `mission/<id>` or `mission/<id>.<F#>`.
pub fn mission_of_branch(branch: &str) -> Option<String> {
    let rest = branch.strip_prefix("mission/")?;
    let id = rest.split('.').next()?;
    crate::mission::ids::is_mission_id(id).then(|| id.to_owned())
}

pub fn reply_marker(comment: u64) -> String {
    marker("reply", &format!("comment={comment}"))
}

/// The tracking issue recorded in the log.
pub fn tracking_issue(events: &[Event]) -> Option<u64> {
    events
        .iter()
        .rev()
        .find(|e| e.kind == "github.tracking")
        .and_then(|e| e.data["issue"].as_u64())
}

/// Comments already applied (or refused), by id.
pub fn handled_comments(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.kind == "comment.handled")
        .filter_map(|e| e.data["comment"].as_u64())
        .collect()
}

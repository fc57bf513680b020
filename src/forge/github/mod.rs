//! `forge: github`: feature PRs into the integration branch, land PRs into the base branch, a
//! tracking issue with a sticky status comment, and `/mission` comment commands — all read by
//! one GraphQL query per pulse (`MissionPulse`) and changed by REST mutations that are
//! idempotent (hidden markers, expected head SHAs). See docs/github.md.

pub mod client;
pub mod error;
pub mod execute;
pub mod sync;
pub mod workers;

use crate::events::Kind;
use std::collections::HashMap;

use serde_json::{Value, json};

use crate::action::Action;
use crate::config::Config;
use crate::error::{Error, Result};

use crate::events::Event;
use crate::git::Repo;
use crate::mission::{BlockReason, Feature, FeatureStatus, MilestoneStatus, Mission};
use crate::workspace::{feature_branch, integration_branch};
pub use error::Error as GitHubError;

pub use client::GitHub;
use client::{Endpoint, repo_from_url};
use sync::Remote;

/// The query of every pulse: every open PR with its head, mergeability, check rollup, review
/// decision and latest comments, and the tracking issue's comments. Validated against GitHub's
/// published schema by `scripts/check-github-contract.py`; the emulator's own tests send this
/// same file.
pub const QUERY: &str = include_str!("pulse.graphql");

/// Hidden markers in what the tool writes, so every write can be looked up before it is made.
pub fn marker(kind: &str, attrs: &str) -> String {
    format!("<!-- git-mission:{kind} {attrs} -->")
}
pub const MARK: &str = "<!-- git-mission:";

/// Whether this repository's missions use GitHub (see [`Config::github_enabled`]).
pub fn enabled(config: &Config) -> bool {
    config.github_enabled()
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
    /// The checks that failed, with what they said.
    pub failed_checks: Vec<CheckObs>,
    pub comments: Vec<CommentObs>,
    /// The latest reviews (oldest first).
    pub reviews: Vec<ReviewObs>,
    /// Unresolved review threads, each as a `thread` review by its first comment's author
    /// (read only with `github.rework_on: unresolved_threads`).
    pub threads: Vec<ReviewObs>,
}

/// A failed check of a PR's head: its name and what it reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckObs {
    pub name: String,
    pub conclusion: String,
    /// The check run's title and summary, or a status's description.
    pub summary: String,
    /// The check run's text (often the end of its log).
    pub text: String,
}

/// A submitted review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewObs {
    pub id: u64,
    /// APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED or PENDING.
    pub state: String,
    pub author: String,
    pub body: String,
    pub comments: Vec<InlineObs>,
    /// An unresolved review thread (its id is its first comment's), not a review.
    pub thread: bool,
}

/// An inline review comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineObs {
    pub path: String,
    /// The line in the PR's head (or where it was, for an outdated comment).
    pub line: Option<u64>,
    pub diff_hunk: String,
    pub body: String,
}

impl CheckObs {
    fn parse(n: &Value) -> Option<CheckObs> {
        match n["__typename"].as_str()? {
            "CheckRun" => {
                let conclusion = n["conclusion"].as_str().unwrap_or("").to_owned();
                if !matches!(
                    conclusion.as_str(),
                    "FAILURE" | "TIMED_OUT" | "CANCELLED" | "ACTION_REQUIRED" | "STARTUP_FAILURE"
                ) {
                    return None;
                }
                let s = |k: &str| n[k].as_str().unwrap_or("").trim().to_owned();
                let summary = [s("title"), s("summary")]
                    .into_iter()
                    .filter(|x| !x.is_empty())
                    .collect::<Vec<_>>()
                    .join(": ");
                Some(CheckObs {
                    name: s("name"),
                    conclusion,
                    summary,
                    text: s("text"),
                })
            }
            "StatusContext" => {
                let state = n["state"].as_str().unwrap_or("");
                if !matches!(state, "FAILURE" | "ERROR") {
                    return None;
                }
                Some(CheckObs {
                    name: n["context"].as_str().unwrap_or("").to_owned(),
                    conclusion: state.to_owned(),
                    summary: n["description"].as_str().unwrap_or("").to_owned(),
                    text: String::new(),
                })
            }
            _ => None,
        }
    }
}

impl ReviewObs {
    fn parse(n: &Value) -> Option<ReviewObs> {
        Some(ReviewObs {
            id: n["databaseId"].as_u64()?,
            state: n["state"].as_str().unwrap_or("").to_owned(),
            author: n["author"]["login"].as_str().unwrap_or("ghost").to_owned(),
            body: n["body"].as_str().unwrap_or("").to_owned(),
            comments: InlineObs::parse_all(&n["comments"]),
            thread: false,
        })
    }

    /// An unresolved review thread.
    fn parse_thread(n: &Value) -> Option<ReviewObs> {
        if n["isResolved"].as_bool() != Some(false) {
            return None;
        }
        let first = &n["comments"]["nodes"][0];
        Some(ReviewObs {
            id: first["databaseId"].as_u64()?,
            state: "UNRESOLVED".into(),
            author: first["author"]["login"]
                .as_str()
                .unwrap_or("ghost")
                .to_owned(),
            body: String::new(),
            comments: InlineObs::parse_all(&n["comments"]),
            thread: true,
        })
    }
}

impl InlineObs {
    fn parse_all(conn: &Value) -> Vec<InlineObs> {
        conn["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| InlineObs {
                path: c["path"].as_str().unwrap_or("").to_owned(),
                line: c["line"].as_u64().or_else(|| c["originalLine"].as_u64()),
                diff_hunk: c["diffHunk"].as_str().unwrap_or("").to_owned(),
                body: c["body"].as_str().unwrap_or("").to_owned(),
            })
            .collect()
    }
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
    /// Whether the tool (`me`) wrote a comment on `on` carrying `mark`. Markers in anyone
    /// else's comments mean nothing: anybody can type one.
    pub fn has_marker(&self, on: u64, mark: &str, me: &client::Identity) -> bool {
        self.comments()
            .any(|c| c.on == on && c.body.contains(mark) && me.is(&c.login, c.bot))
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
    /// `github.logins`: other logins the tool writes as.
    logins: Vec<String>,
    /// `github.rework_on: unresolved_threads`: the query reads review threads.
    pub threads: bool,
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
                    return Err(GitHubError::Refused {
                        remote: self.remote.name.clone(),
                        branch,
                    }
                    .into());
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
    if let Some(r) = config.env_var("GITHUB_REPOSITORY")
        && !r.is_empty()
    {
        return Ok(r.to_owned());
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
        let ep = Endpoint::from_env(repo.env(), &repo_name(repo, config)?)?;
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
            logins: config.get_strs("github.logins"),
            threads: config.get_str("github.rework_on") == Some("unresolved_threads"),
        })
    }

    /// Who the tool writes as: the only author whose markers it trusts.
    pub fn me(&self) -> client::Identity {
        self.gh.identity(&self.logins)
    }

    /// Fetches the mission's branches and brings the local integration branch up to the
    /// remote's. Every state commit is pushed as it is made, so the only way to diverge is a
    /// process that died between its commit and its push (and another writer pushed since):
    /// then the local branch is set to the remote's and the dropped local state commits are
    /// returned, oldest first, for the caller to re-apply (`Store::replay`).
    pub fn sync(&self) -> Result<Vec<String>> {
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
                && let Some(l) = local.as_deref()
                && !crate::git::is_ancestor(root, r, l)
            {
                let dropped: Vec<String> = crate::git::git(
                    root,
                    &[
                        "rev-list",
                        "--first-parent",
                        "--reverse",
                        &format!("{r}..{l}"),
                    ],
                )?
                .lines()
                .map(str::to_owned)
                .collect();
                crate::git::git(root, &["update-ref", &format!("refs/heads/{branch}"), r, l])?;
                tracing::warn!(
                    "{branch} here and on {} had diverged; set to the remote's, re-applying {} local commit(s) (the old head {l} stays in the branch's reflog)",
                    self.remote.name,
                    dropped.len(),
                );
                *self.remote_head.borrow_mut() = remote;
                return Ok(dropped);
            }
        }
        *self.remote_head.borrow_mut() = remote;
        Ok(Vec::new())
    }

    /// Pushes the integration branch if it is ahead of the remote (lease on the known value).
    /// A refused lease is looked at again: another process of this clone (a local worker
    /// recording its run) may have pushed this very state, or pushed on top of it; only a
    /// remote that moved elsewhere is an error (the next pulse's sync repairs it).
    pub fn push_state(&self, repo: &Repo) -> Result<()> {
        let branch = integration_branch(&self.id);
        for _ in 0..3 {
            let Some(local) = repo.branch_head(&branch)? else {
                return Ok(());
            };
            let expected = self.remote_head.borrow().clone();
            if expected.as_deref() == Some(local.as_str()) {
                return Ok(());
            }
            if self
                .remote
                .push_lease(&repo.root, &branch, &local, expected.as_deref())?
            {
                *self.remote_head.borrow_mut() = Some(local);
                return Ok(());
            }
            self.remote.fetch_mission(&self.root, &self.id)?;
            let remote = self.remote.fetched(&self.root, &branch)?;
            match remote.as_deref() {
                Some(r) if r == local => {
                    *self.remote_head.borrow_mut() = remote;
                    return Ok(());
                }
                // Someone built on this state: take theirs.
                Some(r) if crate::git::is_ancestor(&self.root, &local, r) => {
                    self.sync()?;
                    return Ok(());
                }
                // Only the lease was stale: push again on what is there now.
                Some(r) if crate::git::is_ancestor(&self.root, r, &local) => {
                    *self.remote_head.borrow_mut() = remote;
                }
                _ => break,
            }
        }
        Err(GitHubError::Diverged {
            remote: self.remote.name.clone(),
            branch,
        }
        .into())
    }

    /// Puts the local integration branch back from `new` to `old` (compare-and-swap).
    fn unpublish_at(&self, old: &str, new: &str) -> Result<()> {
        let name = format!("refs/heads/{}", integration_branch(&self.id));
        crate::git::git(&self.root, &["update-ref", &name, old, new])?;
        Ok(())
    }

    /// The pulse's one query (more pages only beyond 100 open PRs).
    pub fn observe(&self, tracking: Option<u64>) -> Result<View> {
        let threads = self.threads;
        let mut view = View::default();
        let mut after = Value::Null;
        loop {
            let vars = json!({
                "owner": self.gh.ep.owner, "name": self.gh.ep.name,
                "issue": tracking.unwrap_or(0), "hasIssue": tracking.is_some(),
                "threads": threads, "after": after,
            });
            let data = self.gh.graphql(QUERY, &vars)?;
            // Who the token is, from the same query (no request of its own).
            if let Some(login) = data["viewer"]["login"].as_str() {
                self.gh.learn_identity(login);
            }
            let repo = &data["repository"];
            if repo.is_null() {
                // GraphQL answers 200 with a null repository: there is no HTTP status.
                return Err(GitHubError::NoRepository {
                    repo: format!("{}/{}", self.gh.ep.owner, self.gh.ep.name),
                }
                .into());
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
                    failed_checks: commit["statusCheckRollup"]["contexts"]["nodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(CheckObs::parse)
                        .collect(),
                    comments: n["comments"]["nodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|c| CommentObs::parse(c, number))
                        .collect(),
                    reviews: n["reviews"]["nodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(ReviewObs::parse)
                        .collect(),
                    threads: n["reviewThreads"]["nodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(ReviewObs::parse_thread)
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
    /// Features whose PR has reviews requesting changes that no rework has answered yet.
    pub reviews: HashMap<String, ReviewNeed>,
}

/// GitHub actions that do not depend on the mission running: comments first (a `pause`
/// takes effect before anything else), the tracking issue, landing.
fn github_first(started: bool, mission: &Mission, g: &GhSnap, out: &mut Vec<Action>) {
    for id in &g.comments {
        out.push(Action::Comment { id: *id });
    }
    if !started {
        return;
    }
    let finished = mission.status.is_finished();
    if g.tracking.is_none() {
        out.push(Action::Track);
    }
    if g.land != "none" && !g.unlanded.is_empty() {
        match (&g.land_pr, g.land_gone) {
            (Some(pr), _) => {
                let current = g.integration_head.as_deref() == Some(pr.head_sha.as_str());
                if g.land == "auto" && pr.green() && current {
                    out.push(Action::MergeLand {
                        pr: pr.number,
                        sha: pr.head_sha.clone(),
                    });
                }
            }
            (None, Some(pr)) => out.push(Action::LandGone { pr }),
            (None, None) => out.push(Action::OpenLand),
        }
    }
    if finished && g.tracking.is_some() && g.tracking_open && g.unlanded.is_empty() {
        out.push(Action::CloseTracking);
    }
}

/// What to do with a feature in review on GitHub; `None` while waiting (checks, mergeability).
fn github_review(f: &Feature, g: &GhSnap) -> Option<Action> {
    let feature = f.id.clone();
    let Some(pr) = g.prs.get(&f.id) else {
        return Some(match f.pr {
            Some(pr) => Action::PrGone { feature, pr },
            None => Action::Push { feature },
        });
    };
    // A head that moved, or a PR this mission has not recorded (opened by a request whose
    // answer was lost): `push` brings the branch up and records the PR with its event.
    if g.heads.get(&f.id).is_some_and(|h| *h != pr.head_sha) || f.pr != Some(pr.number) {
        return Some(Action::Push { feature });
    }
    let (number, sha) = (pr.number, pr.head_sha.clone());
    match g.reviews.get(&f.id) {
        Some(ReviewNeed::Rework { round, .. }) => {
            return Some(Action::Rework {
                feature,
                pr: number,
                round: *round,
            });
        }
        Some(ReviewNeed::Limit(why)) => {
            return Some(Action::Block {
                reason: BlockReason::ReviewLimit,
                feature: Some(feature),
                message: why.clone(),
            });
        }
        None => {}
    }
    if pr.mergeable == "CONFLICTING" || pr.merge_state == "DIRTY" {
        return Some(Action::PrConflict {
            feature,
            pr: number,
        });
    }
    if let Some(state @ ("FAILURE" | "ERROR")) = pr.checks.as_deref() {
        return Some(Action::PrChecksFailed {
            feature,
            pr: number,
            state: state.to_owned(),
        });
    }
    if pr.merge_state == "BEHIND" {
        return Some(Action::UpdatePr {
            feature,
            pr: number,
            sha,
        });
    }
    let ready = pr.green() && !pr.draft && pr.review.as_deref() != Some("CHANGES_REQUESTED");
    ready.then_some(Action::MergePr {
        feature,
        pr: number,
        sha,
    })
}

impl crate::forge::ForgePlan for GhSnap {
    fn first(&self, started: bool, mission: &Mission, out: &mut Vec<Action>) {
        github_first(started, mission, self, out);
    }

    fn remote_workers(&self) -> &[workers::WorkerObs] {
        &self.workers
    }

    fn review(&self, f: &Feature) -> crate::forge::Review {
        match github_review(f, self) {
            Some(a) => crate::forge::Review::Act(a),
            None => crate::forge::Review::Wait,
        }
    }

    fn waiting(&self, mission: &Mission) -> bool {
        mission
            .features()
            .any(|(_, f)| f.status == FeatureStatus::Review)
            || (self.land != "none" && !self.unlanded.is_empty())
            || !self.workers.is_empty()
    }
}

/// What a review asking for changes calls for.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewNeed {
    /// A rework run on the feature's branch, for these reviews; `round` counts from 1.
    Rework { reviews: Vec<ReviewObs>, round: u32 },
    /// `limits.review_rounds` are used up: a person decides (the message quotes the reviewer).
    Limit(String),
}

/// The reviews of `pr` that ask for changes now: each reviewer's latest decisive review, when
/// it is CHANGES_REQUESTED.
/// What asks for a rework of a feature PR: the reviews requesting changes (while GitHub's
/// review decision is `CHANGES_REQUESTED`), then the unresolved review threads (read only when
/// configured).
pub fn rework_requests(pr: &PrObs) -> Vec<ReviewObs> {
    let mut out = if pr.review.as_deref() == Some("CHANGES_REQUESTED") {
        changes_requested(pr)
    } else {
        Vec::new()
    };
    out.extend(pr.threads.iter().cloned());
    out
}

/// The reviews and threads already sent to a worker for `feature` (id, thread).
pub fn reworked(events: &[Event], feature: &str) -> Vec<(u64, bool)> {
    events
        .iter()
        .filter(|e| {
            e.kind == Kind::FeatureChangesRequested && e.feature.as_deref() == Some(feature)
        })
        .flat_map(|e| e.data["reviews"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| Some((r["id"].as_u64()?, r["thread"].as_bool() == Some(true))))
        .collect()
}

pub fn changes_requested(pr: &PrObs) -> Vec<ReviewObs> {
    let mut latest: Vec<&ReviewObs> = Vec::new();
    for r in &pr.reviews {
        if !matches!(
            r.state.as_str(),
            "CHANGES_REQUESTED" | "APPROVED" | "DISMISSED"
        ) {
            continue;
        }
        latest.retain(|x| x.author != r.author);
        latest.push(r);
    }
    latest
        .into_iter()
        .filter(|r| r.state == "CHANGES_REQUESTED")
        .cloned()
        .collect()
}

/// Builds the snapshot. `view` is the query's answer; `events` the mission's log.
pub fn snapshot(
    repo: &Repo,
    id: &str,
    m: &Mission,
    events: &[Event],
    view: &View,
    land: &str,
    review_rounds: u32,
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
        // Changes requested on the PR: rework once per review, up to `review_rounds`.
        if f.status == FeatureStatus::Review
            && let Some(pr) = s.prs.get(&f.id)
        {
            let rounds = events
                .iter()
                .filter(|e| {
                    e.kind == Kind::FeatureChangesRequested
                        && e.feature.as_deref() == Some(f.id.as_str())
                })
                .count();
            let answered = reworked(events, &f.id);
            let new: Vec<ReviewObs> = rework_requests(pr)
                .into_iter()
                .filter(|r| !answered.contains(&(r.id, r.thread)))
                .collect();
            if let Some(last) = new.last() {
                let round = rounds as u32 + 1;
                let need = if round > review_rounds {
                    let said = if last.body.trim().is_empty() {
                        last.comments.first().map_or("", |c| c.body.as_str())
                    } else {
                        last.body.as_str()
                    };
                    let words: String = said.trim().chars().take(300).collect();
                    ReviewNeed::Limit(format!(
                        "@{} still requests changes on PR #{} after {review_rounds} rework round(s): \"{words}\"",
                        last.author, pr.number
                    ))
                } else {
                    ReviewNeed::Rework {
                        reviews: new,
                        round,
                    }
                };
                s.reviews.insert(f.id.clone(), need);
            }
        }
    }
    s.land_pr = view
        .prs
        .iter()
        .find(|p| p.head == integ && p.base != integ)
        .cloned();
    let landed: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == Kind::MilestoneLanded)
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
            .find(|e| e.kind == Kind::LandPrOpened)
            .and_then(|e| e.data["pr"].as_u64());
        let closed = |pr: u64| {
            events
                .iter()
                .any(|e| e.kind == Kind::LandPrClosed && e.data["pr"].as_u64() == Some(pr))
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
    let done = answered_comments(events);
    for c in view.comments() {
        if c.ours() || c.bot || !crate::comments::has_command(&c.body) {
            continue;
        }
        if !mission_of(id, c, view) {
            continue;
        }
        // A reply whose answer was lost (posted, then a 502) is found by its marker; the
        // action records it, so the log is complete.
        if !handled.contains(&c.id) || !done.contains(&c.id) {
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
        .find(|e| e.kind == Kind::GithubTracking)
        .and_then(|e| e.data["issue"].as_u64())
}

/// Comments already applied (or refused), by id.
pub fn handled_comments(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.kind == Kind::CommentHandled)
        .filter_map(|e| e.data["comment"].as_u64())
        .collect()
}

/// Comments whose answer is done: posted, or refused by GitHub for good.
fn answered_comments(events: &[Event]) -> std::collections::HashSet<u64> {
    events
        .iter()
        .filter(|e| matches!(e.kind, Kind::CommentAnswered | Kind::CommentUnanswerable))
        .filter_map(|e| e.data["comment"].as_u64())
        .collect()
}

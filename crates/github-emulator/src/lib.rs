//! An in-process, stateful emulator of GitHub's REST and GraphQL API for one repository,
//! for the tests of `git mission`.
//!
//! [`Emulator::start`] serves `owner/name` on `127.0.0.1:<port>` from a background thread. The
//! repository's git data is a real bare repository on disk: branches pushed to it with plain
//! `git push` are what pull requests see, and merges and branch updates requested through the API
//! are performed in it with `git merge-tree`, `git commit-tree` and `git update-ref`.
//!
//! Response bodies are built from the examples of GitHub's OpenAPI description
//! (`tests/github/openapi`), with the fields the emulator keeps in its state overridden, so that
//! they validate against the description's schemas; `scripts/check-github-contract.py` checks
//! logs written by [`Emulator::write_log`] (or streamed by [`Emulator::log_to`]).
//!
//! # Callers
//!
//! A request acts as the owner of its token (`Authorization: Bearer T` or `token T`). Tokens
//! registered with [`Emulator::add_token`] belong to a person or to another app's bot; any other
//! token (or none) is GitHub Actions' `GITHUB_TOKEN`, an installation token of the Actions app:
//! it writes as `github-actions[bot]` (REST `user.type` `Bot`; GraphQL `author { __typename login }`
//! is `Bot` / `github-actions`, without the suffix), its GraphQL `viewer { login }` is
//! `github-actions[bot]` (how GitHub Apps read their own identity) and `GET /user` answers 403
//! "Resource not accessible by integration". Comments, reactions, issues, pull requests and
//! reviews created through the API are authored by the caller.
//!
//! # GraphQL
//!
//! Documents are parsed and executed (aliases, variables with defaults, fragments, inline
//! fragments, `@include`/`@skip`); every connection needs `first` or `last` (1–100) and takes
//! `after`/`before` cursors, and has `nodes`, `edges { cursor node }`, `pageInfo` and
//! `totalCount`. Served (beyond `__typename` everywhere):
//!
//! - `Query`: `repository(owner, name)`, `viewer { login databaseId id url name }`,
//!   `rateLimit { cost limit used remaining resetAt nodeCount }`.
//! - `Repository`: `id databaseId name nameWithOwner url owner defaultBranchRef { name prefix
//!   target { oid } }`, `pullRequests(states, headRefName, baseRefName, orderBy)`,
//!   `pullRequest(number)`, `issue(number)`, `issueOrPullRequest(number)`, `issues(states)`.
//! - `PullRequest`: `id databaseId number title body url permalink state closed merged isDraft
//!   createdAt updatedAt closedAt mergedAt headRefName headRefOid baseRefName baseRefOid
//!   mergeable mergeStateStatus reviewDecision author authorAssociation additions deletions
//!   changedFiles mergeCommit`, `commits { nodes { commit } }`, `comments`,
//!   `reviews(states, author)`, `latestReviews`, `reviewThreads`, `reviewRequests { nodes {
//!   requestedReviewer } }`.
//! - `Issue`: `id databaseId number title body state closed url createdAt updatedAt closedAt
//!   author comments`; `IssueComment`: `id databaseId body author createdAt updatedAt url
//!   authorAssociation`.
//! - `Commit`: `oid abbreviatedOid id url message committedDate statusCheckRollup { id state
//!   contexts { nodes { ... on CheckRun { name status conclusion title summary text detailsUrl
//!   url permalink databaseId startedAt completedAt isRequired } ... on StatusContext { context
//!   state description targetUrl createdAt isRequired } } } }`.
//! - `PullRequestReview`: `id databaseId state body submittedAt createdAt updatedAt author url
//!   commit authorAssociation comments`; `PullRequestReviewComment`: `id databaseId path line
//!   originalLine startLine originalStartLine diffHunk body author createdAt updatedAt url outdated
//!   commit originalCommit pullRequestReview replyTo authorAssociation`;
//!   `PullRequestReviewThread`: `id isResolved isOutdated isCollapsed path line originalLine
//!   startLine diffSide resolvedBy comments`.
//! - Actors (`User`/`Bot`): `login databaseId id url avatarUrl` (and `name` for users).
//!
//! Anything else is answered like an unknown field: an error for the whole document. Mutations
//! are not served.
//!
//! # Admin API (the standalone server)
//!
//! `src/main.rs` serves an emulator until killed (`github-emulator serve --repo OWNER/NAME --git
//! DIR [--port N] [--host ADDR] [--log FILE]`; see README.md). Scripts do what the test helpers
//! do through JSON requests under `/_emulator/`, a path GitHub never serves; they are never
//! faulted, logged or rate-limited. Refusals answer `{"error": "…"}` (400 bad body, 404 unknown
//! thing, 422 refused).
//!
//! | Request | Body | Does |
//! |---|---|---|
//! | `GET /_emulator/state` | | everything, as JSON ([`Emulator::state_json`]) |
//! | `GET /_emulator/requests`, `DELETE …` | | the request log (lines of [`Emulator::write_log`]); clear it |
//! | `POST /_emulator/tokens` | `{token, login, bot?}` | [`Emulator::add_token`] (`bot` defaults to `login` ending in `[bot]`) |
//! | `POST /_emulator/permissions` | `{login, permission}` | [`Emulator::set_permission`] |
//! | `POST /_emulator/roles` | `{login, role_name, base}` | [`Emulator::set_role`] |
//! | `POST /_emulator/comments` | `{number, login, body, bot?}` | [`Emulator::add_comment`] → `{id}` |
//! | `POST /_emulator/issues` | `{title, login, body?}` | [`Emulator::add_issue`] → `{number}` |
//! | `DELETE /_emulator/issues/{n}` | | [`Emulator::delete_issue`] |
//! | `POST /_emulator/pulls` | `{head, title, login, base?}` | [`Emulator::add_pull`] → `{number}` |
//! | `POST /_emulator/pulls/{n}/requested_reviewers` | `{reviewers: [login]}` | [`Emulator::request_reviewers`] |
//! | `POST /_emulator/reviews` | `{pr, login, state, body?, comments?: [{path, line, body}]}` | [`Emulator::add_review_with_comments`] → `{id, threads: [id]}` |
//! | `POST /_emulator/threads/{id}/resolve` (`…/unresolve`) | `{login?}` | [`Emulator::resolve_thread`] |
//! | `POST /_emulator/checks` | `{policy?: none\|pass_after\|fail_after, after?, output?: {name, title, summary, text}}` | [`Emulator::set_checks`], [`Emulator::set_check_output`] |
//! | `POST /_emulator/check_runs` | `{ref, name, conclusion?, title?, summary?, text?, details_url?}` | [`Emulator::add_check_run`] → `{id}` |
//! | `POST /_emulator/statuses` | `{ref, context, state, description?, target_url?}` | [`Emulator::add_status`] → `{id}` |
//! | `POST /_emulator/strict` | `{on}` | [`Emulator::set_strict`] |
//! | `POST /_emulator/faults` | `{rate, seed, kinds: [server_error\|secondary_limit\|too_many\|rate_limited\|slow:MS]}` | [`Emulator::set_faults`] |
//! | `POST /_emulator/faults/next` | `{fault, count, scope: graphql\|rest}` or `{fault, count, method, path}` | [`Emulator::fail_next_graphql`], [`Emulator::fail_next_rest`], [`Emulator::fail_next_request`] |
//! | `POST /_emulator/workflow_runs/{id}/start` | | [`Emulator::start_workflow_run`] |
//! | `POST /_emulator/workflow_runs/{id}/complete` | `{conclusion}` | [`Emulator::complete_workflow_run`] |

mod admin;
mod git;
mod gql;
mod graphql;
mod render;
mod rest;
mod state;
mod util;

use std::io::Write;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::state::State;

/// One served request, as [`Emulator::requests`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request path without the query.
    pub path: String,
    /// The OpenAPI path template (`/repos/{owner}/{repo}/pulls/{pull_number}`), or `/graphql`;
    /// the plain path for a route the emulator does not serve.
    pub route: String,
    pub status: u16,
    pub graphql: bool,
}

/// A pull request, as [`Emulator::pulls`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: String,
    /// The head branch name.
    pub head: String,
    pub base: String,
    pub head_sha: String,
    /// `open` or `closed`.
    pub state: String,
    pub merged: bool,
    pub merge_commit: Option<String>,
}

/// An issue (not a pull request), as [`Emulator::issues`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    /// `open` or `closed`.
    pub state: String,
}

/// An issue or pull-request comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: u64,
    pub login: String,
    pub bot: bool,
    pub body: String,
}

/// A merge performed through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    pub pr: u64,
    /// The `sha` field of the merge request, if it had one.
    pub sha: Option<String>,
    /// `merge`, `squash` or `rebase`.
    pub method: String,
    /// The commit the base branch now points at.
    pub commit: String,
}

/// A workflow dispatch.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    /// The `workflow_id` of the request path (a file name such as `mission.yml`, or an id).
    pub workflow: String,
    pub git_ref: String,
    pub inputs: Value,
    pub run_id: u64,
}

/// An Actions workflow run (one per dispatch), as [`Emulator::workflow_runs`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRun {
    pub id: u64,
    /// The dispatched workflow (a file name such as `mission.yml`, or an id).
    pub workflow: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    /// Set once completed: `success`, `failure`, `cancelled`, …
    pub conclusion: Option<String>,
    /// The workflow file's `run-name:` with the dispatch inputs substituted, or the
    /// workflow's name when it has none.
    pub display_title: String,
    pub inputs: Value,
}

/// The check policy for pull-request heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checks {
    /// No checks at all: `statusCheckRollup` is null and nothing is required.
    None,
    /// Every new head gets a required check run `ci`, pending for the first N GraphQL reads of
    /// its pull request, then successful.
    PassAfter(u32),
    /// Like `PassAfter`, but the check fails.
    FailAfter(u32),
}

impl Default for Checks {
    fn default() -> Checks {
        Checks::PassAfter(1)
    }
}

/// Injected faults.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Fraction (0.0 to 1.0) of requests that get a fault.
    pub rate: f64,
    pub seed: u64,
    /// The faults to choose from, uniformly.
    pub kinds: Vec<Fault>,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            rate: 0.0,
            seed: 1,
            kinds: Vec::new(),
        }
    }
}

/// One kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 502. For POST, PUT, PATCH and DELETE, half of these perform the request first.
    ServerError,
    /// 502 after performing the request (a mutation whose answer was lost), always.
    ServerErrorAfterWrite,
    /// 403 secondary rate limit with `retry-after: 1`; nothing performed.
    SecondaryLimit,
    /// 429 with `retry-after: 1`; nothing performed.
    TooMany,
    /// Sleeps, then answers correctly.
    Slow(Duration),
    /// The primary rate limit is exhausted; nothing performed. GraphQL answers HTTP 200 with
    /// `{"errors":[{"type":"RATE_LIMITED","code":"graphql_rate_limit","message":"API rate limit
    /// already exceeded for user ID …"}]}`, REST answers 403 "API rate limit exceeded for user
    /// ID …"; both with `x-ratelimit-remaining: 0` and an `x-ratelimit-reset` one second ahead.
    RateLimited,
}

/// What the policy's required check reports: its name (`ci` by default) always, and its
/// output title, summary and text (say, the tail of a log) once it failed. GitHub's check runs
/// carry these as `name` and `output.{title,summary,text}` (REST) and `name`, `title`,
/// `summary`, `text` (GraphQL `CheckRun`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckOutput {
    pub name: String,
    pub title: String,
    pub summary: String,
    pub text: String,
}

/// A check run besides the policy's required one (not required: it never blocks a merge, but
/// a failing or pending one makes `mergeStateStatus` UNSTABLE, as on GitHub).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckRun {
    pub name: String,
    /// `None` while in progress; else `success`, `failure`, `neutral`, `cancelled`,
    /// `skipped`, `timed_out` or `action_required`.
    pub conclusion: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    /// Defaults to the run's page on the emulator.
    pub details_url: Option<String>,
}

/// A commit status (GitHub's `StatusContext`), never required.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    pub context: String,
    /// `error`, `failure`, `pending` or `success`.
    pub state: String,
    pub description: Option<String>,
    pub target_url: Option<String>,
}

/// An inline review comment, as [`Emulator::review_threads`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewComment {
    pub id: u64,
    pub review_id: u64,
    pub path: String,
    pub line: u64,
    /// The diff hunk through the commented line, as GitHub's `diff_hunk`/`diffHunk`.
    pub diff_hunk: String,
    pub body: String,
    pub login: String,
}

/// A review thread of a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewThread {
    pub id: u64,
    pub resolved: bool,
    pub comments: Vec<ReviewComment>,
}

/// The emulator; dropping it stops the server thread.
pub struct Emulator {
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    url: String,
}

impl Emulator {
    /// Serves `owner/name`, whose git data is the bare repository `bare_repo`.
    ///
    /// # Panics
    /// If no local port can be bound.
    pub fn start(bare_repo: &Path, owner: &str, name: &str) -> Emulator {
        Emulator::bind(bare_repo, owner, name, "127.0.0.1:0")
            .unwrap_or_else(|e| panic!("github-emulator: {e}"))
    }

    /// Like [`Emulator::start`], on a given address (`127.0.0.1:8080`; port 0 picks one).
    pub fn bind(bare_repo: &Path, owner: &str, name: &str, addr: &str) -> Result<Emulator, String> {
        let server =
            tiny_http::Server::http(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let (host, port) = match server.server_addr() {
            tiny_http::ListenAddr::IP(SocketAddr::V4(a)) => (a.ip().to_string(), a.port()),
            tiny_http::ListenAddr::IP(SocketAddr::V6(a)) => (format!("[{}]", a.ip()), a.port()),
            #[allow(unreachable_patterns)]
            _ => return Err("not listening on an IP address".into()),
        };
        let host = if host == "0.0.0.0" || host == "[::]" {
            "127.0.0.1".to_string()
        } else {
            host
        };
        let url = format!("http://{host}:{port}");
        let state = Arc::new(Mutex::new(State::new(bare_repo, owner, name, &url)));
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, server, stop) = (state.clone(), server.clone(), stop.clone());
            std::thread::Builder::new()
                .name("github-emulator".into())
                .spawn(move || serve(&server, &state, &stop))
                .expect("github-emulator: cannot spawn the server thread")
        };
        Ok(Emulator {
            state,
            server,
            stop,
            thread: Some(thread),
            url,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash. GraphQL is at `{url}/graphql`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Gives `login` a role: `admin`, `maintain`, `write`, `triage` or `read`. Users without
    /// one get 404 from the permission API. The repository owner is `admin` from the start.
    pub fn set_permission(&self, login: &str, permission: &str) {
        self.lock().set_role(login, permission, permission);
    }

    /// Gives `login` a custom repository role `role_name` (say `security-eng`) built on the
    /// base role `base_permission` (`read`, `triage`, `write` or `maintain`). The permission
    /// API then answers GitHub's shape for custom roles: `permission` is the legacy base level
    /// (`maintain` maps to `write`, `triage` to `read`) and `role_name` the custom role's name.
    pub fn set_role(&self, login: &str, role_name: &str, base_permission: &str) {
        self.lock().set_role(login, role_name, base_permission);
    }

    /// Registers a token: requests that bear it (`Authorization: Bearer TOKEN` or `token
    /// TOKEN`) act as `login`. `bot == false` is a person's token (a personal access token);
    /// `bot == true` an installation token of another GitHub App whose bot is `login`
    /// (`name[bot]`). Requests with any other token, or none, act as the GitHub Actions bot
    /// (`GITHUB_TOKEN`): REST `github-actions[bot]` (type Bot), GraphQL `github-actions`.
    pub fn add_token(&self, token: &str, login: &str, bot: bool) {
        self.lock()
            .tokens
            .insert(token.to_string(), (login.to_string(), bot));
    }

    /// Adds a comment by a person (`bot == false`) or a bot; returns its id.
    pub fn add_comment(&self, issue_or_pr: u64, login: &str, bot: bool, body: &str) -> u64 {
        self.lock().add_comment(issue_or_pr, login, bot, body)
    }

    /// Opens an issue by a person (`login`); returns its number.
    pub fn add_issue(&self, title: &str, body: &str, login: &str) -> u64 {
        self.lock().add_issue(title, Some(body), login, Vec::new())
    }

    /// Opens a pull request by a person (`login`) from `head` into `base`, branches of the
    /// bare repository; returns its number.
    ///
    /// # Panics
    /// If either branch does not exist.
    pub fn add_pull(&self, head: &str, base: &str, title: &str, login: &str) -> u64 {
        self.lock()
            .add_pull(head, base, title, login)
            .unwrap_or_else(|e| panic!("github-emulator: {e}"))
    }

    /// Adds a pull-request review by someone else than the tool: `APPROVED`,
    /// `CHANGES_REQUESTED` or `COMMENTED`; returns its id.
    pub fn add_review(&self, pr: u64, login: &str, state: &str) -> u64 {
        self.lock().add_review(pr, login, false, state, "")
    }

    /// Adds a review by `login` (a bot when it ends in `[bot]`) with a body and inline
    /// comments `(path, line, body)` on lines of the pull request's head (the right side of its
    /// diff); returns the review's id. Each comment starts an unresolved review thread, and
    /// carries the diff hunk through its line computed from the pull request's real diff
    /// (base...head). Like every submitted review, it removes `login` from the requested
    /// reviewers.
    ///
    /// # Panics
    /// If there is no such pull request, or a path or line is not part of its diff.
    pub fn add_review_with_comments(
        &self,
        pr: u64,
        login: &str,
        state: &str,
        body: &str,
        comments: &[(&str, u64, &str)],
    ) -> u64 {
        let comments: Vec<(String, u64, String)> = comments
            .iter()
            .map(|(p, l, b)| (p.to_string(), *l, b.to_string()))
            .collect();
        self.lock()
            .add_review_with_comments(pr, login, render::is_bot(login), state, body, &comments)
            .unwrap_or_else(|e| panic!("github-emulator: #{pr}: {e}"))
    }

    /// The review threads of a pull request, oldest first.
    pub fn review_threads(&self, pr: u64) -> Vec<ReviewThread> {
        self.lock().threads_of(pr)
    }

    /// Marks a review thread resolved (by the repository owner).
    ///
    /// # Panics
    /// If there is no such thread.
    pub fn resolve_thread(&self, thread_id: u64) {
        let mut st = self.lock();
        let owner = st.owner.clone();
        assert!(
            st.resolve_thread(thread_id, true, &owner),
            "github-emulator: no review thread {thread_id}"
        );
    }

    /// Requests reviews from `logins`, as a person would on the pull request's page.
    ///
    /// # Panics
    /// If there is no such pull request.
    pub fn request_reviewers(&self, pr: u64, logins: &[&str]) {
        let mut st = self.lock();
        let pull = st
            .pulls
            .get_mut(&pr)
            .unwrap_or_else(|| panic!("github-emulator: no pull request #{pr}"));
        for l in logins {
            if !pull.requested.iter().any(|r| r.eq_ignore_ascii_case(l)) {
                pull.requested.push(l.to_string());
            }
        }
    }

    /// The logins whose review is requested on a pull request (a review they submit removes
    /// them, as on GitHub).
    pub fn requested_reviewers(&self, pr: u64) -> Vec<String> {
        self.lock()
            .pulls
            .get(&pr)
            .map(|p| p.requested.clone())
            .unwrap_or_default()
    }

    pub fn set_checks(&self, policy: Checks) {
        self.lock().checks = policy;
    }

    /// Names the policy's check and sets the output it reports once it failed.
    pub fn set_check_output(&self, output: CheckOutput) {
        self.lock().check_output = Some(output);
    }

    /// Adds a check run on a commit (a branch, tag or commit id); returns its id.
    ///
    /// # Panics
    /// If the ref does not resolve to a commit.
    pub fn add_check_run(&self, git_ref: &str, run: CheckRun) -> u64 {
        self.lock()
            .add_check_run(git_ref, run)
            .unwrap_or_else(|e| panic!("github-emulator: {e}"))
    }

    /// Adds a commit status on a commit (a branch, tag or commit id); returns its id.
    ///
    /// # Panics
    /// If the ref does not resolve to a commit.
    pub fn add_status(&self, git_ref: &str, status: Status) -> u64 {
        self.lock()
            .add_status(git_ref, status)
            .unwrap_or_else(|e| panic!("github-emulator: {e}"))
    }

    /// `mergeStateStatus` BEHIND (and a refused merge) when the base is not an ancestor of the
    /// head, like a branch protection with "require branches to be up to date". Off by default.
    pub fn set_strict(&self, on: bool) {
        self.lock().strict = on;
    }

    pub fn set_faults(&self, faults: Faults) {
        let mut st = self.lock();
        st.rng = util::Rng::new(faults.seed);
        st.faults = faults;
    }

    /// The next `n` GraphQL requests get `fault`, deterministically (before any random fault
    /// of [`Emulator::set_faults`]). `Fault::RateLimited` is GitHub's primary GraphQL rate
    /// limit, `Fault::SecondaryLimit` its secondary one (403 with `retry-after`, as for REST).
    pub fn fail_next_graphql(&self, n: u32, fault: Fault) {
        let mut st = self.lock();
        st.queued.0.extend(std::iter::repeat_n(fault, n as usize));
    }

    /// The next `n` REST requests get `fault`, deterministically.
    pub fn fail_next_rest(&self, n: u32, fault: Fault) {
        let mut st = self.lock();
        st.queued.1.extend(std::iter::repeat_n(fault, n as usize));
    }

    /// The next request with `method` whose path ends with `path_suffix` (say `POST`,
    /// `/pulls`) gets `fault`, whatever comes before it.
    pub fn fail_next_request(&self, method: &str, path_suffix: &str, fault: Fault) {
        self.lock()
            .aimed
            .push((method.to_owned(), path_suffix.to_owned(), fault));
    }

    /// The next `n` GraphQL requests hit the primary rate limit (`Fault::RateLimited`).
    pub fn rate_limit_graphql(&self, n: u32) {
        self.fail_next_graphql(n, Fault::RateLimited);
    }

    /// Appends every request served from now on to `path` as a JSON line (the format of
    /// [`Emulator::write_log`]), after the requests served so far.
    pub fn log_to(&self, path: &Path) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let mut st = self.lock();
        for e in &st.log {
            file.write_all(&e.json_line())?;
        }
        st.log_file = Some(file);
        Ok(())
    }

    /// The whole state as JSON, as `GET /_emulator/state` answers it.
    pub fn state_json(&self) -> Value {
        self.lock().state_json()
    }

    /// Every request served, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.lock()
            .log
            .iter()
            .map(|e| Request {
                method: e.method.clone(),
                path: e.path.clone(),
                route: e.route.clone(),
                status: e.status,
                graphql: e.graphql_query.is_some() || e.route == "/graphql",
            })
            .collect()
    }

    pub fn clear_requests(&self) {
        self.lock().log.clear();
    }

    /// All pull requests, with their heads as the bare repository has them now.
    pub fn pulls(&self) -> Vec<Pull> {
        let mut st = self.lock();
        st.refresh();
        st.pulls
            .values()
            .map(|p| Pull {
                number: p.number,
                title: p.title.clone(),
                body: p.body.clone().unwrap_or_default(),
                head: p.head.clone(),
                base: p.base.clone(),
                head_sha: p.head_sha.clone(),
                state: if p.open { "open" } else { "closed" }.into(),
                merged: p.merged,
                merge_commit: p.merge_commit.clone(),
            })
            .collect()
    }

    /// All issues that are not pull requests.
    pub fn issues(&self) -> Vec<Issue> {
        self.lock()
            .issues
            .values()
            .map(|i| Issue {
                number: i.number,
                title: i.title.clone(),
                body: i.body.clone().unwrap_or_default(),
                state: if i.open { "open" } else { "closed" }.into(),
            })
            .collect()
    }

    /// The comments on an issue or pull request, oldest first.
    pub fn comments(&self, number: u64) -> Vec<Comment> {
        self.lock()
            .comments
            .iter()
            .filter(|c| c.number == number)
            .map(|c| Comment {
                id: c.id,
                login: c.login.clone(),
                bot: c.bot,
                body: c.body.clone(),
            })
            .collect()
    }

    /// The reactions on a comment: (login, content), oldest first.
    pub fn reactions(&self, comment_id: u64) -> Vec<(String, String)> {
        self.lock()
            .reactions
            .iter()
            .filter(|r| r.comment_id == comment_id)
            .map(|r| (r.login.clone(), r.content.clone()))
            .collect()
    }

    pub fn merges(&self) -> Vec<Merge> {
        self.lock().merges.clone()
    }

    pub fn dispatches(&self) -> Vec<Dispatch> {
        self.lock().dispatches.clone()
    }

    /// Deletes an issue, as a repository admin can on GitHub: REST answers 410 Gone for it
    /// and its comments (which are deleted with it, and their reactions), it leaves the issue
    /// lists, and GraphQL `repository.issue(number:)` answers null with a NOT_FOUND error.
    ///
    /// # Panics
    /// If there is no such issue, or it is a pull request (those cannot be deleted).
    pub fn delete_issue(&self, number: u64) {
        self.lock().delete_issue(number);
    }

    /// Every workflow run, oldest first.
    pub fn workflow_runs(&self) -> Vec<WorkflowRun> {
        self.lock()
            .runs
            .iter()
            .map(|r| WorkflowRun {
                id: r.id,
                workflow: r.workflow.clone(),
                status: r.status.clone(),
                conclusion: r.conclusion.clone(),
                display_title: r.display_title.clone(),
                inputs: r.inputs.clone(),
            })
            .collect()
    }

    /// Marks a queued Actions run `in_progress`, as when a runner picks it up.
    ///
    /// # Panics
    /// If there is no such run, or it already completed.
    pub fn start_workflow_run(&self, run_id: u64) {
        self.lock()
            .start_run(run_id)
            .unwrap_or_else(|e| panic!("github-emulator: {e}"));
    }

    /// Marks an Actions run completed with `conclusion` (`success`, `failure`, `cancelled`, …).
    ///
    /// # Panics
    /// If there is no such run.
    pub fn complete_workflow_run(&self, run_id: u64, conclusion: &str) {
        self.lock()
            .complete_run(run_id, conclusion)
            .unwrap_or_else(|e| panic!("github-emulator: {e}"));
    }

    /// Writes the request log as JSON lines for `scripts/check-github-contract.py`.
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn write_log(&self, path: &Path) {
        let st = self.lock();
        let mut out = Vec::new();
        for e in &st.log {
            out.extend(e.json_line());
        }
        std::fs::File::create(path)
            .and_then(|mut f| f.write_all(&out))
            .unwrap_or_else(|e| panic!("github-emulator: cannot write {}: {e}", path.display()));
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A request as the handlers see it.
pub(crate) struct Incoming {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) raw_body: String,
    pub(crate) if_none_match: Option<String>,
    /// The token of the `Authorization` header (`Bearer X` or `token X`).
    pub(crate) token: Option<String>,
}

/// A response before it is written.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Option<Value>,
    pub(crate) headers: Vec<(String, String)>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub(crate) fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

fn serve(server: &tiny_http::Server, state: &Mutex<State>, stop: &AtomicBool) {
    loop {
        let mut rq = match server.recv() {
            Ok(rq) => rq,
            Err(_) if stop.load(Ordering::SeqCst) => break,
            Err(_) => continue,
        };
        let url = rq.url().to_string();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let mut raw_body = String::new();
        let _ = rq.as_reader().read_to_string(&mut raw_body);
        let header = |name: &'static str| {
            rq.headers()
                .iter()
                .find(|h| h.field.equiv(name))
                .map(|h| h.value.as_str().to_string())
        };
        let if_none_match = header("If-None-Match");
        let token = header("Authorization").and_then(|a| {
            let (scheme, token) = a.trim().split_once(' ')?;
            (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
                .then(|| token.trim().to_string())
        });
        let incoming = Incoming {
            method: rq.method().as_str().to_ascii_uppercase(),
            path: util::percent_decode(path, false),
            query: util::parse_query(query),
            raw_body,
            if_none_match,
            token,
        };
        // The admin API: never faulted, logged or counted.
        if incoming.path.starts_with("/_emulator/") {
            let reply = {
                let mut st = lock(state);
                catch_unwind(AssertUnwindSafe(|| admin::handle(&mut st, &incoming))).unwrap_or_else(
                    |_| {
                        Reply::json(
                            500,
                            serde_json::json!({"error": "github-emulator panicked"}),
                        )
                    },
                )
            };
            respond(rq, reply);
            continue;
        }
        let decided = lock(state).decide_fault(&incoming);
        if let state::Decided::Slow(d) = decided {
            std::thread::sleep(d);
        }
        let reply = {
            let mut st = lock(state);
            match catch_unwind(AssertUnwindSafe(|| st.process(&incoming, decided))) {
                Ok(reply) => reply,
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    Reply::json(
                        500,
                        serde_json::json!({"message": format!("github-emulator panicked: {what}")}),
                    )
                }
            }
        };
        respond(rq, reply);
    }
}

fn respond(rq: tiny_http::Request, reply: Reply) {
    let data = match &reply.body {
        Some(v) => serde_json::to_vec(v).expect("serialise a response"),
        None => Vec::new(),
    };
    let mut response = tiny_http::Response::from_data(data).with_status_code(reply.status);
    for (k, v) in &reply.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            response.add_header(h);
        }
    }
    let _ = rq.respond(response);
}

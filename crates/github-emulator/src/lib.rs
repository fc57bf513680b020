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
//! logs written by [`Emulator::write_log`].

mod git;
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
    /// 403 secondary rate limit with `retry-after: 1`; nothing performed.
    SecondaryLimit,
    /// 429 with `retry-after: 1`; nothing performed.
    TooMany,
    /// Sleeps, then answers correctly.
    Slow(Duration),
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
        let server = tiny_http::Server::http("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("github-emulator: cannot listen on 127.0.0.1: {e}"));
        let port = match server.server_addr() {
            tiny_http::ListenAddr::IP(SocketAddr::V4(a)) => a.port(),
            tiny_http::ListenAddr::IP(SocketAddr::V6(a)) => a.port(),
            #[allow(unreachable_patterns)]
            _ => panic!("github-emulator: not listening on an IP address"),
        };
        let url = format!("http://127.0.0.1:{port}");
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
        Emulator {
            state,
            server,
            stop,
            thread: Some(thread),
            url,
        }
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
        self.lock()
            .permissions
            .insert(login.to_string(), permission.to_string());
    }

    /// Adds a comment by a person (`bot == false`) or a bot; returns its id.
    pub fn add_comment(&self, issue_or_pr: u64, login: &str, bot: bool, body: &str) -> u64 {
        self.lock().add_comment(issue_or_pr, login, bot, body)
    }

    /// Opens an issue by a person (`login`); returns its number.
    pub fn add_issue(&self, title: &str, body: &str, login: &str) -> u64 {
        let mut st = self.lock();
        let number = st.next_number();
        let now = st.tick();
        st.issues.insert(
            number,
            state::IssueSt {
                number,
                title: title.to_string(),
                body: Some(body.to_string()),
                open: true,
                labels: Vec::new(),
                created_at: now,
                updated_at: now,
                closed_at: None,
                author: login.to_string(),
            },
        );
        number
    }

    /// Opens a pull request by a person (`login`) from `head` into `base`, branches of the
    /// bare repository; returns its number.
    ///
    /// # Panics
    /// If either branch does not exist.
    pub fn add_pull(&self, head: &str, base: &str, title: &str, login: &str) -> u64 {
        let mut st = self.lock();
        let branches = st.git.branches();
        let sha = |b: &str| {
            branches
                .get(b)
                .cloned()
                .unwrap_or_else(|| panic!("github-emulator: no branch {b}"))
        };
        let (head_sha, base_sha) = (sha(head), sha(base));
        st.insert_pull(
            title,
            None,
            (head, &head_sha),
            (base, &base_sha),
            false,
            login,
        )
    }

    /// Adds a pull-request review by someone else than the tool: `APPROVED`,
    /// `CHANGES_REQUESTED` or `COMMENTED`; returns its id.
    pub fn add_review(&self, pr: u64, login: &str, state: &str) -> u64 {
        self.lock().add_review(pr, login, false, state, "")
    }

    pub fn set_checks(&self, policy: Checks) {
        self.lock().checks = policy;
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
        let mut st = self.lock();
        let now = st.tick();
        let run = st
            .runs
            .iter_mut()
            .find(|r| r.id == run_id)
            .unwrap_or_else(|| panic!("github-emulator: no workflow run {run_id}"));
        assert_ne!(
            run.status, "completed",
            "github-emulator: workflow run {run_id} already completed"
        );
        run.status = "in_progress".into();
        run.updated_at = now;
    }

    /// Marks an Actions run completed with `conclusion` (`success`, `failure`, `cancelled`, …).
    ///
    /// # Panics
    /// If there is no such run.
    pub fn complete_workflow_run(&self, run_id: u64, conclusion: &str) {
        let mut st = self.lock();
        let now = st.tick();
        let run = st
            .runs
            .iter_mut()
            .find(|r| r.id == run_id)
            .unwrap_or_else(|| panic!("github-emulator: no workflow run {run_id}"));
        run.status = "completed".into();
        run.conclusion = Some(conclusion.to_string());
        run.updated_at = now;
    }

    /// Writes the request log as JSON lines for `scripts/check-github-contract.py`.
    ///
    /// # Panics
    /// If the file cannot be written.
    pub fn write_log(&self, path: &Path) {
        let st = self.lock();
        let mut out = Vec::new();
        for e in &st.log {
            let parse = |s: &Option<String>| -> Value {
                s.as_deref()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or(Value::Null)
            };
            let line = serde_json::json!({
                "method": e.method,
                "path": e.path,
                "route": e.route,
                "status": e.status,
                "request": parse(&e.request),
                "response": parse(&e.response),
                "graphql_query": e.graphql_query,
            });
            serde_json::to_writer(&mut out, &line).expect("serialise a log line");
            out.push(b'\n');
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
        let if_none_match = rq
            .headers()
            .iter()
            .find(|h| h.field.equiv("If-None-Match"))
            .map(|h| h.value.as_str().to_string());
        let incoming = Incoming {
            method: rq.method().as_str().to_ascii_uppercase(),
            path: util::percent_decode(path, false),
            query: util::parse_query(query),
            raw_body,
            if_none_match,
        };
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
}

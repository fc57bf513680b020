//! The emulator's state, its lazy views of the bare repository, faults and the request log.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::git::{Git, MergeTree, Stats};
use crate::util::{self, Rng};
use crate::{CheckOutput, CheckRun, Checks, Dispatch, Fault, Faults, Incoming, Merge, Reply};

/// The identity of GitHub Actions' `GITHUB_TOKEN` (an installation token of the GitHub Actions
/// app): callers with a token the emulator does not know act as this bot.
pub(crate) const TOOL_LOGIN: &str = "github-actions[bot]";
/// GitHub's limit on issue, pull-request and comment bodies, in characters.
pub(crate) const BODY_LIMIT: usize = 65_536;
pub(crate) const DOCS: &str = "https://docs.github.com/rest";
const RATE_LIMIT: u64 = 5000;

pub(crate) struct PullSt {
    pub(crate) number: u64,
    pub(crate) title: String,
    pub(crate) body: Option<String>,
    pub(crate) head: String,
    pub(crate) base: String,
    pub(crate) draft: bool,
    pub(crate) open: bool,
    pub(crate) merged: bool,
    pub(crate) merge_commit: Option<String>,
    pub(crate) merged_at: Option<u64>,
    pub(crate) closed_at: Option<u64>,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
    pub(crate) author: String,
    /// The head and base commits last observed; frozen once the pull request is closed.
    pub(crate) head_sha: String,
    pub(crate) base_sha: String,
    /// `None` until the first read after the head or base moved (that read answers "unknown").
    pub(crate) mergeable: Option<bool>,
    pub(crate) reviews: Vec<ReviewSt>,
    /// Review threads: each inline review comment starts one.
    pub(crate) threads: Vec<ThreadSt>,
    /// Logins whose review is requested (GitHub drops a reviewer once they submit a review).
    pub(crate) requested: Vec<String>,
}

pub(crate) struct ThreadSt {
    pub(crate) id: u64,
    pub(crate) resolved: bool,
    pub(crate) resolved_by: Option<String>,
    /// Ids of its review comments, oldest first.
    pub(crate) comments: Vec<u64>,
}

pub(crate) struct ReviewCommentSt {
    pub(crate) id: u64,
    pub(crate) review_id: u64,
    pub(crate) path: String,
    /// The line of the head commit (right side of the diff) the comment is on.
    pub(crate) line: u64,
    /// GitHub's REST `position`: the line's index in the file's diff.
    pub(crate) position: u64,
    pub(crate) diff_hunk: String,
    pub(crate) body: String,
    pub(crate) login: String,
    pub(crate) bot: bool,
    pub(crate) commit_id: String,
    pub(crate) created_at: u64,
}

/// A repository role: a built-in one (`name == base`) or a custom role on a base role.
#[derive(Debug, Clone)]
pub(crate) struct Role {
    pub(crate) name: String,
    /// admin, maintain, write, triage or read.
    pub(crate) base: String,
}

/// Who a request acts as: the owner of its token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// REST login (`name[bot]` for a bot).
    pub(crate) login: String,
    pub(crate) bot: bool,
    /// An installation token (a GitHub App, like Actions' `GITHUB_TOKEN`), not a user's token.
    pub(crate) installation: bool,
}

impl Caller {
    pub(crate) fn actions() -> Caller {
        Caller {
            login: TOOL_LOGIN.to_string(),
            bot: true,
            installation: true,
        }
    }
}

/// A commit status (`POST /statuses/{sha}`), as the emulator's tests add them.
pub(crate) struct StatusSt {
    pub(crate) id: u64,
    pub(crate) sha: String,
    pub(crate) context: String,
    /// error, failure, pending or success.
    pub(crate) state: String,
    pub(crate) description: Option<String>,
    pub(crate) target_url: Option<String>,
    pub(crate) created_at: u64,
}

/// A check run added besides the policy's required one.
pub(crate) struct ExtraRunSt {
    pub(crate) id: u64,
    pub(crate) sha: String,
    pub(crate) run: CheckRun,
    pub(crate) created_at: u64,
}

pub(crate) struct ReviewSt {
    pub(crate) id: u64,
    pub(crate) login: String,
    pub(crate) bot: bool,
    /// APPROVED, CHANGES_REQUESTED or COMMENTED.
    pub(crate) state: String,
    pub(crate) body: String,
    pub(crate) commit_id: String,
    pub(crate) submitted_at: u64,
    pub(crate) comments: Vec<ReviewCommentSt>,
}

pub(crate) struct IssueSt {
    pub(crate) number: u64,
    pub(crate) title: String,
    pub(crate) body: Option<String>,
    pub(crate) open: bool,
    pub(crate) labels: Vec<String>,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
    pub(crate) closed_at: Option<u64>,
    pub(crate) author: String,
}

pub(crate) struct CommentSt {
    pub(crate) id: u64,
    pub(crate) number: u64,
    pub(crate) login: String,
    pub(crate) bot: bool,
    pub(crate) body: String,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
}

pub(crate) struct ReactionSt {
    pub(crate) id: u64,
    pub(crate) comment_id: u64,
    pub(crate) login: String,
    pub(crate) bot: bool,
    pub(crate) content: String,
    pub(crate) created_at: u64,
}

pub(crate) struct CheckSt {
    pub(crate) id: u64,
    pub(crate) reads: u32,
    pub(crate) created_at: u64,
}

pub(crate) struct RunSt {
    pub(crate) id: u64,
    pub(crate) run_number: u64,
    pub(crate) workflow: String,
    pub(crate) git_ref: String,
    pub(crate) head_sha: String,
    pub(crate) status: String,
    pub(crate) conclusion: Option<String>,
    /// The workflow's `run-name:` with the inputs substituted, else the workflow's name.
    pub(crate) display_title: String,
    pub(crate) inputs: Value,
    pub(crate) created_at: u64,
    pub(crate) updated_at: u64,
}

pub(crate) struct LogEntry {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) route: String,
    pub(crate) status: u16,
    pub(crate) request: Option<String>,
    pub(crate) response: Option<String>,
    pub(crate) graphql_query: Option<String>,
}

/// The state of the required check `ci` on a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckState {
    Pending,
    Success,
    Failure,
}

/// What the fault generator decided for one request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Decided {
    None,
    Slow(Duration),
    ServerError {
        perform: bool,
    },
    SecondaryLimit,
    TooMany,
    /// The primary rate limit: REST 403, GraphQL 200 with a RATE_LIMITED error.
    RateLimited,
}

pub(crate) struct State {
    pub(crate) git: Git,
    pub(crate) owner: String,
    pub(crate) name: String,
    pub(crate) url: String,
    /// The branch HEAD of the bare repository names, read at start.
    pub(crate) default_branch: String,
    pub(crate) templates: serde_json::Map<String, Value>,
    pub(crate) pulls: BTreeMap<u64, PullSt>,
    pub(crate) issues: BTreeMap<u64, IssueSt>,
    /// Numbers of deleted issues: REST answers 410 Gone for them, and they are not reused.
    pub(crate) deleted: BTreeSet<u64>,
    pub(crate) comments: Vec<CommentSt>,
    pub(crate) reactions: Vec<ReactionSt>,
    pub(crate) permissions: HashMap<String, Role>,
    /// Tokens of callers other than the Actions bot: token → (login, bot).
    pub(crate) tokens: HashMap<String, (String, bool)>,
    /// The caller of the request being handled.
    pub(crate) caller: Caller,
    pub(crate) checks: Checks,
    /// What the policy's check reports (its name, and its output once it failed).
    pub(crate) check_output: Option<CheckOutput>,
    pub(crate) extra_runs: Vec<ExtraRunSt>,
    pub(crate) statuses: Vec<StatusSt>,
    /// Faults for the next GraphQL (`.0`) and REST (`.1`) requests, before the random ones.
    pub(crate) queued: (VecDeque<Fault>, VecDeque<Fault>),
    /// Faults for the next request with this method whose path ends with this suffix.
    pub(crate) aimed: Vec<(String, String, Fault)>,
    /// Every log line is also appended here as it is served (the standalone server's --log).
    pub(crate) log_file: Option<std::fs::File>,
    pub(crate) check_runs: HashMap<String, CheckSt>,
    pub(crate) strict: bool,
    pub(crate) faults: Faults,
    pub(crate) rng: Rng,
    pub(crate) log: Vec<LogEntry>,
    pub(crate) merges: Vec<Merge>,
    pub(crate) dispatches: Vec<Dispatch>,
    pub(crate) runs: Vec<RunSt>,
    pub(crate) started: u64,
    last_ts: u64,
    next_number: u64,
    next_id: u64,
    core_used: u64,
    graphql_used: u64,
    mergeable_cache: HashMap<(String, String), bool>,
    stats_cache: HashMap<(String, String), Stats>,
}

impl State {
    pub(crate) fn new(bare: &Path, owner: &str, name: &str, url: &str) -> State {
        let raw = include_str!("examples.json")
            .replace("{API}", &format!("{url}/repos/{owner}/{name}"))
            .replace("{WEB}", &format!("{url}/{owner}/{name}"))
            .replace("{ROOT}", url)
            .replace("octocat/Hello-World", &format!("{owner}/{name}"))
            .replace("Hello-World", name);
        let templates = match serde_json::from_str(&raw) {
            Ok(Value::Object(map)) => map,
            _ => panic!("github-emulator: examples.json is not a JSON object"),
        };
        let started = util::now_secs();
        let mut permissions = HashMap::new();
        permissions.insert(
            owner.to_string(),
            Role {
                name: "admin".into(),
                base: "admin".into(),
            },
        );
        let git = Git::new(bare);
        State {
            default_branch: git.default_branch(),
            git,
            owner: owner.to_string(),
            name: name.to_string(),
            url: url.to_string(),
            templates,
            pulls: BTreeMap::new(),
            issues: BTreeMap::new(),
            deleted: BTreeSet::new(),
            comments: Vec::new(),
            reactions: Vec::new(),
            permissions,
            tokens: HashMap::new(),
            caller: Caller::actions(),
            checks: Checks::default(),
            check_output: None,
            extra_runs: Vec::new(),
            statuses: Vec::new(),
            queued: (VecDeque::new(), VecDeque::new()),
            aimed: Vec::new(),
            log_file: None,
            check_runs: HashMap::new(),
            strict: false,
            faults: Faults::default(),
            rng: Rng::new(1),
            log: Vec::new(),
            merges: Vec::new(),
            dispatches: Vec::new(),
            runs: Vec::new(),
            started,
            last_ts: started.saturating_sub(1),
            next_number: 1,
            next_id: 1,
            core_used: 0,
            graphql_used: 0,
            mergeable_cache: HashMap::new(),
            stats_cache: HashMap::new(),
        }
    }

    /// A strictly increasing time stamp close to the wall clock, for every change.
    pub(crate) fn tick(&mut self) -> u64 {
        self.last_ts = util::now_secs().max(self.last_ts + 1);
        self.last_ts
    }

    /// The time of reads: never before the last change.
    pub(crate) fn now(&self) -> u64 {
        util::now_secs().max(self.last_ts)
    }

    /// The next issue or pull-request number (one sequence, like GitHub).
    pub(crate) fn next_number(&mut self) -> u64 {
        let n = self.next_number;
        self.next_number += 1;
        n
    }

    /// A fresh id for comments, reactions, reviews, check runs and workflow runs.
    pub(crate) fn next_id(&mut self, base: u64) -> u64 {
        let id = base + self.next_id;
        self.next_id += 1;
        id
    }

    pub(crate) fn exists(&self, number: u64) -> bool {
        self.pulls.contains_key(&number) || self.issues.contains_key(&number)
    }

    /// Opens a pull request (no checks of its own; callers validate); returns its number.
    pub(crate) fn insert_pull(
        &mut self,
        title: &str,
        body: Option<&str>,
        (head, head_sha): (&str, &str),
        (base, base_sha): (&str, &str),
        draft: bool,
        author: &str,
    ) -> u64 {
        let number = self.next_number();
        let now = self.tick();
        self.pulls.insert(
            number,
            PullSt {
                number,
                title: title.to_string(),
                body: body.map(str::to_string),
                head: head.to_string(),
                base: base.to_string(),
                draft,
                open: true,
                merged: false,
                merge_commit: None,
                merged_at: None,
                closed_at: None,
                created_at: now,
                updated_at: now,
                author: author.to_string(),
                head_sha: head_sha.to_string(),
                base_sha: base_sha.to_string(),
                mergeable: None,
                reviews: Vec::new(),
                threads: Vec::new(),
                requested: Vec::new(),
            },
        );
        self.ensure_check(head_sha);
        number
    }

    /// Deletes an issue the way GitHub does: its comments and their reactions go with it,
    /// and its number answers 410 Gone from then on.
    pub(crate) fn delete_issue(&mut self, number: u64) {
        assert!(
            !self.pulls.contains_key(&number),
            "github-emulator: #{number} is a pull request; GitHub cannot delete those"
        );
        assert!(
            self.issues.remove(&number).is_some(),
            "github-emulator: no issue #{number}"
        );
        self.deleted.insert(number);
        let gone: BTreeSet<u64> = self
            .comments
            .iter()
            .filter(|c| c.number == number)
            .map(|c| c.id)
            .collect();
        self.comments.retain(|c| c.number != number);
        self.reactions.retain(|r| !gone.contains(&r.comment_id));
    }

    /// Reads the branches of the bare repository and updates the heads and bases of open pull
    /// requests: a moved head or base makes mergeability unknown, a new head gets a check run.
    pub(crate) fn refresh(&mut self) {
        if !self.pulls.values().any(|p| p.open) {
            return;
        }
        let branches = self.git.branches();
        let mut new_heads = Vec::new();
        for pr in self.pulls.values_mut().filter(|p| p.open) {
            let head = branches
                .get(&pr.head)
                .cloned()
                .unwrap_or(pr.head_sha.clone());
            let base = branches
                .get(&pr.base)
                .cloned()
                .unwrap_or(pr.base_sha.clone());
            if head != pr.head_sha || base != pr.base_sha {
                if head != pr.head_sha {
                    new_heads.push(head.clone());
                }
                pr.head_sha = head;
                pr.base_sha = base;
                pr.mergeable = None;
            }
        }
        for sha in new_heads {
            self.ensure_check(&sha);
        }
    }

    pub(crate) fn ensure_check(&mut self, sha: &str) {
        if !self.check_runs.contains_key(sha) {
            let id = self.next_id(4_000_000);
            let created_at = self.now();
            self.check_runs.insert(
                sha.to_string(),
                CheckSt {
                    id,
                    reads: 0,
                    created_at,
                },
            );
        }
    }

    /// The check `ci` on a commit under the current policy; `None` without checks.
    pub(crate) fn check_state(&self, sha: &str) -> Option<CheckState> {
        let reads = self.check_runs.get(sha).map_or(0, |c| c.reads);
        match self.checks {
            Checks::None => None,
            Checks::PassAfter(n) if reads < n => Some(CheckState::Pending),
            Checks::FailAfter(n) if reads < n => Some(CheckState::Pending),
            Checks::PassAfter(_) => Some(CheckState::Success),
            Checks::FailAfter(_) => Some(CheckState::Failure),
        }
    }

    /// Whether `head` merges cleanly into `base` (cached per pair).
    pub(crate) fn compute_mergeable(&mut self, base: &str, head: &str) -> bool {
        let key = (base.to_string(), head.to_string());
        if let Some(m) = self.mergeable_cache.get(&key) {
            return *m;
        }
        let m = matches!(self.git.merge_tree(base, head), MergeTree::Clean(_));
        self.mergeable_cache.insert(key, m);
        m
    }

    /// Mergeability as one read sees it: unknown on the first read after a change (and the
    /// answer is computed for the next read), like GitHub's background job.
    pub(crate) fn read_mergeable(&mut self, number: u64) -> Option<bool> {
        let (open, known, base, head) = {
            let pr = self.pulls.get(&number)?;
            (
                pr.open,
                pr.mergeable,
                pr.base_sha.clone(),
                pr.head_sha.clone(),
            )
        };
        if !open {
            return None;
        }
        if known.is_some() {
            return known;
        }
        let m = self.compute_mergeable(&base, &head);
        if let Some(pr) = self.pulls.get_mut(&number) {
            pr.mergeable = Some(m);
        }
        None
    }

    pub(crate) fn stats(&mut self, base: &str, head: &str) -> Stats {
        let key = (base.to_string(), head.to_string());
        if let Some(s) = self.stats_cache.get(&key) {
            return s.clone();
        }
        let s = self.git.stats(base, head);
        self.stats_cache.insert(key, s.clone());
        s
    }

    /// The latest decisive review of each reviewer: CHANGES_REQUESTED wins over APPROVED.
    pub(crate) fn review_decision(&self, number: u64) -> Option<&'static str> {
        let pr = self.pulls.get(&number)?;
        let mut latest: HashMap<&str, &str> = HashMap::new();
        for r in &pr.reviews {
            if r.state == "APPROVED" || r.state == "CHANGES_REQUESTED" {
                latest.insert(&r.login, &r.state);
            }
        }
        if latest.values().any(|s| *s == "CHANGES_REQUESTED") {
            Some("CHANGES_REQUESTED")
        } else if latest.is_empty() {
            None
        } else {
            Some("APPROVED")
        }
    }

    /// GraphQL `mergeStateStatus` (upper case) for a read that saw `mergeable` and `check`.
    pub(crate) fn merge_state(
        &self,
        number: u64,
        mergeable: Option<bool>,
        check: Option<CheckState>,
    ) -> &'static str {
        let Some(pr) = self.pulls.get(&number) else {
            return "UNKNOWN";
        };
        match mergeable {
            None => "UNKNOWN",
            Some(false) => "DIRTY",
            Some(true) if pr.draft => "DRAFT",
            Some(true) if self.strict && !self.git.is_ancestor(&pr.base_sha, &pr.head_sha) => {
                "BEHIND"
            }
            Some(true)
                if matches!(check, Some(CheckState::Pending | CheckState::Failure))
                    || self.review_decision(number) == Some("CHANGES_REQUESTED") =>
            {
                "BLOCKED"
            }
            // GitHub's MergeStateStatus UNSTABLE: "Mergeable with non-passing commit status",
            // here the checks and statuses that are not required.
            Some(true)
                if matches!(
                    self.extra_state(&pr.head_sha),
                    Some(CheckState::Pending | CheckState::Failure)
                ) =>
            {
                "UNSTABLE"
            }
            Some(true) => "CLEAN",
        }
    }

    /// The combined state of the check runs and commit statuses on a commit besides the
    /// policy's required check: any failure fails, else any pending is pending.
    pub(crate) fn extra_state(&self, sha: &str) -> Option<CheckState> {
        let mut states = Vec::new();
        for r in self.extra_runs.iter().filter(|r| r.sha == sha) {
            states.push(match r.run.conclusion.as_deref() {
                None => CheckState::Pending,
                Some("success" | "neutral" | "skipped") => CheckState::Success,
                Some(_) => CheckState::Failure,
            });
        }
        for s in self.statuses.iter().filter(|s| s.sha == sha) {
            states.push(match s.state.as_str() {
                "pending" => CheckState::Pending,
                "success" => CheckState::Success,
                _ => CheckState::Failure,
            });
        }
        combine(states.into_iter())
    }

    /// `statusCheckRollup.state` of a commit whose policy check is `policy`; `None` when the
    /// commit has no checks or statuses at all (GitHub answers a null rollup then).
    pub(crate) fn rollup_state(&self, sha: &str, policy: Option<CheckState>) -> Option<CheckState> {
        combine(policy.into_iter().chain(self.extra_state(sha)))
    }

    /// The name of the policy's check (`ci` unless [`crate::Emulator::set_check_output`]).
    pub(crate) fn check_name(&self) -> String {
        self.check_output
            .as_ref()
            .map_or_else(|| "ci".to_string(), |o| o.name.clone())
    }

    /// The policy check's (title, summary, text) in a state.
    pub(crate) fn check_texts(&self, state: CheckState) -> (String, String, Option<String>) {
        match (state, &self.check_output) {
            (CheckState::Failure, Some(o)) => {
                (o.title.clone(), o.summary.clone(), Some(o.text.clone()))
            }
            (CheckState::Pending, _) => (
                format!("{} is running", self.check_name()),
                "The check is in progress.".into(),
                None,
            ),
            (CheckState::Success, _) => (
                format!("{} passed", self.check_name()),
                "All tests passed.".into(),
                None,
            ),
            (CheckState::Failure, None) => (
                format!("{} failed", self.check_name()),
                "Some tests failed.".into(),
                None,
            ),
        }
    }

    /// The caller a token stands for: a registered token's owner, else the Actions bot.
    pub(crate) fn caller_of(&self, token: Option<&str>) -> Caller {
        match token.and_then(|t| self.tokens.get(t)) {
            Some((login, bot)) => Caller {
                login: login.clone(),
                bot: *bot,
                installation: *bot,
            },
            None => Caller::actions(),
        }
    }

    pub(crate) fn add_comment(&mut self, number: u64, login: &str, bot: bool, body: &str) -> u64 {
        let id = self.next_id(1_000_000);
        let now = self.tick();
        self.comments.push(CommentSt {
            id,
            number,
            login: login.to_string(),
            bot,
            body: body.to_string(),
            created_at: now,
            updated_at: now,
        });
        self.touch(number, now);
        id
    }

    pub(crate) fn add_review(
        &mut self,
        number: u64,
        login: &str,
        bot: bool,
        state: &str,
        body: &str,
    ) -> u64 {
        self.add_review_with_comments(number, login, bot, state, body, &[])
            .expect("a review without inline comments cannot fail")
    }

    /// Submits a review with inline comments `(path, line, body)` on lines of the head commit
    /// (the right side of the pull request's diff). Each comment starts a review thread; its
    /// `diff_hunk` is the diff hunk (GitHub's three-dot diff base...head, three lines of
    /// context) from its `@@` header through the commented line, as GitHub's review comments
    /// carry it. `Err` with GitHub's message when a path or line is not part of the diff.
    ///
    /// A submitted review removes its author from the requested reviewers: "Once a requested
    /// reviewer submits a review, they are no longer considered a requested reviewer"
    /// (REST `pulls/list-requested-reviewers`).
    pub(crate) fn add_review_with_comments(
        &mut self,
        number: u64,
        login: &str,
        bot: bool,
        state: &str,
        body: &str,
        comments: &[(String, u64, String)],
    ) -> Result<u64, String> {
        self.refresh();
        let (base_sha, head_sha) = {
            let pr = self
                .pulls
                .get(&number)
                .unwrap_or_else(|| panic!("github-emulator: no pull request #{number}"));
            (pr.base_sha.clone(), pr.head_sha.clone())
        };
        let mut hunks = Vec::new();
        for (path, line, _) in comments {
            hunks.push(self.git.diff_hunk(&base_sha, &head_sha, path, *line)?);
        }
        let id = self.next_id(3_000_000);
        let now = self.tick();
        let mut review_comments = Vec::new();
        let mut threads = Vec::new();
        for ((path, line, text), (hunk, position)) in comments.iter().zip(hunks) {
            let cid = self.next_id(8_000_000);
            let tid = self.next_id(9_000_000);
            review_comments.push(ReviewCommentSt {
                id: cid,
                review_id: id,
                path: path.clone(),
                line: *line,
                position,
                diff_hunk: hunk,
                body: text.clone(),
                login: login.to_string(),
                bot,
                commit_id: head_sha.clone(),
                created_at: now,
            });
            threads.push(ThreadSt {
                id: tid,
                resolved: false,
                resolved_by: None,
                comments: vec![cid],
            });
        }
        let pr = self.pulls.get_mut(&number).expect("checked above");
        pr.reviews.push(ReviewSt {
            id,
            login: login.to_string(),
            bot,
            state: state.to_string(),
            body: body.to_string(),
            commit_id: head_sha,
            submitted_at: now,
            comments: review_comments,
        });
        pr.threads.extend(threads);
        if state != "PENDING" {
            pr.requested.retain(|r| !r.eq_ignore_ascii_case(login));
        }
        pr.updated_at = now;
        Ok(id)
    }

    /// A review comment of a pull request by id.
    pub(crate) fn review_comment(&self, number: u64, id: u64) -> Option<&ReviewCommentSt> {
        self.pulls
            .get(&number)?
            .reviews
            .iter()
            .flat_map(|r| r.comments.iter())
            .find(|c| c.id == id)
    }

    /// Resolves (or unresolves) a review thread; `false` when there is no such thread.
    pub(crate) fn resolve_thread(&mut self, thread_id: u64, resolved: bool, by: &str) -> bool {
        for pr in self.pulls.values_mut() {
            if let Some(t) = pr.threads.iter_mut().find(|t| t.id == thread_id) {
                t.resolved = resolved;
                t.resolved_by = resolved.then(|| by.to_string());
                return true;
            }
        }
        false
    }

    /// Bumps `updated_at` of an issue or pull request.
    pub(crate) fn touch(&mut self, number: u64, now: u64) {
        if let Some(p) = self.pulls.get_mut(&number) {
            p.updated_at = now;
        }
        if let Some(i) = self.issues.get_mut(&number) {
            i.updated_at = now;
        }
    }

    // -- faults, logging, headers ------------------------------------------------------------

    pub(crate) fn decide_fault(&mut self, rq: &Incoming) -> Decided {
        let aimed = self
            .aimed
            .iter()
            .position(|(m, suffix, _)| *m == rq.method && rq.path.ends_with(suffix.as_str()))
            .map(|i| self.aimed.remove(i).2);
        let queued = if aimed.is_some() {
            aimed
        } else if rq.path == "/graphql" {
            self.queued.0.pop_front()
        } else {
            self.queued.1.pop_front()
        };
        let kind = match queued {
            Some(kind) => kind,
            None => {
                let faults = &self.faults;
                if faults.kinds.is_empty() || faults.rate <= 0.0 {
                    return Decided::None;
                }
                if self.rng.next_f64() >= faults.rate {
                    return Decided::None;
                }
                faults.kinds[(self.rng.next_u64() % faults.kinds.len() as u64) as usize]
            }
        };
        match kind {
            Fault::ServerError => {
                let mutation = rq.path != "/graphql"
                    && matches!(rq.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE");
                Decided::ServerError {
                    perform: mutation && self.rng.next_u64() & 1 == 1,
                }
            }
            Fault::ServerErrorAfterWrite => Decided::ServerError {
                perform: rq.path != "/graphql"
                    && matches!(rq.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"),
            },
            Fault::SecondaryLimit => Decided::SecondaryLimit,
            Fault::TooMany => Decided::TooMany,
            Fault::Slow(d) => Decided::Slow(d),
            Fault::RateLimited => Decided::RateLimited,
        }
    }

    /// Handles one request (with its fault), logs it and adds the common headers.
    pub(crate) fn process(&mut self, rq: &Incoming, decided: Decided) -> Reply {
        let graphql = rq.path == "/graphql";
        self.caller = self.caller_of(rq.token.as_deref());
        let (route, mut reply) = match decided {
            Decided::None | Decided::Slow(_) => self.handle(rq),
            Decided::ServerError { perform } => {
                let route = if perform {
                    self.handle(rq).0
                } else {
                    crate::rest::route_of(self, rq)
                };
                (
                    route,
                    Reply::json(502, json!({"message": "Server Error", "documentation_url": DOCS})),
                )
            }
            Decided::SecondaryLimit => (
                crate::rest::route_of(self, rq),
                Reply::json(
                    403,
                    json!({
                        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                    }),
                )
                .header("retry-after", "1"),
            ),
            Decided::TooMany => (
                crate::rest::route_of(self, rq),
                Reply::json(
                    429,
                    json!({"message": "Too Many Requests", "documentation_url": DOCS}),
                )
                .header("retry-after", "1"),
            ),
            // The primary rate limit. GraphQL: HTTP 200 and a RATE_LIMITED error, nothing
            // executed (docs.github.com/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api
            // "Exceeding the primary rate limit"; the payload as clients report it, e.g.
            // github/docs#22607, octokit/plugin-throttling). No `data` key: the request failed
            // before execution, and the GraphQL spec leaves `data` out then. REST: 403 with
            // `x-ratelimit-remaining: 0` (docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
            // "Exceeding the primary rate limit").
            Decided::RateLimited => {
                let id = crate::render::user_id(&self.caller.login, &self.owner);
                let reply = if graphql {
                    Reply::json(
                        200,
                        json!({"errors": [{
                            "type": "RATE_LIMITED",
                            "code": "graphql_rate_limit",
                            "message": format!("API rate limit already exceeded for user ID {id}."),
                        }]}),
                    )
                } else {
                    Reply::json(
                        403,
                        json!({
                            "message": format!("API rate limit exceeded for user ID {id}. If you reach out to GitHub Support for help, please include the request ID."),
                            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                            "status": "403",
                        }),
                    )
                };
                (crate::rest::route_of(self, rq), reply)
            }
        };
        let limited = matches!(decided, Decided::RateLimited);

        // ETag / If-None-Match on successful reads.
        if rq.method == "GET"
            && reply.status == 200
            && let Some(body) = &reply.body
        {
            let etag = format!(
                "W/\"{:016x}\"",
                util::fnv(&serde_json::to_vec(body).unwrap_or_default())
            );
            let matches = rq.if_none_match.as_deref().is_some_and(|inm| {
                inm.split(',').any(|t| {
                    let t = t.trim();
                    t == etag || t == "*" || t.trim_start_matches("W/") == &etag[2..]
                })
            });
            reply = reply.header("etag", etag);
            if matches {
                reply.status = 304;
                reply.body = None;
            }
        }

        let resource = if graphql { "graphql" } else { "core" };
        let used = if graphql {
            &mut self.graphql_used
        } else {
            &mut self.core_used
        };
        if reply.status != 304 {
            *used += 1;
        }
        let used = if limited { RATE_LIMIT } else { *used };
        // A limited caller is told to wait a second: the window resets just ahead.
        let reset = if limited {
            util::now_secs() + 1
        } else {
            self.started + 3600
        };
        reply = reply
            .header("content-type", "application/json; charset=utf-8")
            .header("x-ratelimit-limit", RATE_LIMIT.to_string())
            .header(
                "x-ratelimit-remaining",
                RATE_LIMIT.saturating_sub(used).to_string(),
            )
            .header("x-ratelimit-used", used.to_string())
            .header("x-ratelimit-reset", reset.to_string())
            .header("x-ratelimit-resource", resource)
            .header("x-github-api-version-selected", "2022-11-28")
            .header(
                "x-github-request-id",
                format!("EMU:{:08X}", self.log.len() + 1),
            );

        let request_json = serde_json::from_str::<Value>(&rq.raw_body).ok();
        let graphql_query = if graphql {
            request_json
                .as_ref()
                .and_then(|b| b.get("query"))
                .and_then(Value::as_str)
                .map(str::to_string)
        } else {
            None
        };
        let entry = LogEntry {
            method: rq.method.clone(),
            path: rq.path.clone(),
            route,
            status: reply.status,
            request: request_json.map(|v| v.to_string()),
            response: reply.body.as_ref().map(Value::to_string),
            graphql_query,
        };
        if let Some(file) = &mut self.log_file {
            use std::io::Write;
            let _ = file.write_all(&entry.json_line());
        }
        self.log.push(entry);
        reply
    }

    /// Routes and handles one request: (route template, reply).
    fn handle(&mut self, rq: &Incoming) -> (String, Reply) {
        if rq.path == "/graphql" {
            if rq.method != "POST" {
                return ("/graphql".into(), not_found());
            }
            return ("/graphql".into(), crate::graphql::handle(self, rq));
        }
        crate::rest::handle(self, rq)
    }

    pub(crate) fn rate_limit_numbers(&self) -> (u64, u64, u64) {
        (self.core_used, self.graphql_used, self.started + 3600)
    }
}

impl LogEntry {
    /// One line of the log `scripts/check-github-contract.py` reads, with its newline.
    pub(crate) fn json_line(&self) -> Vec<u8> {
        let parse = |s: &Option<String>| -> Value {
            s.as_deref()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or(Value::Null)
        };
        let line = json!({
            "method": self.method,
            "path": self.path,
            "route": self.route,
            "status": self.status,
            "request": parse(&self.request),
            "response": parse(&self.response),
            "graphql_query": self.graphql_query,
        });
        let mut out = serde_json::to_vec(&line).expect("serialise a log line");
        out.push(b'\n');
        out
    }
}

/// Any failure fails, else any pending is pending, else success; `None` for no states.
fn combine(states: impl Iterator<Item = CheckState>) -> Option<CheckState> {
    let mut out = None;
    for s in states {
        out = Some(match (out, s) {
            (Some(CheckState::Failure), _) | (_, CheckState::Failure) => CheckState::Failure,
            (Some(CheckState::Pending), _) | (_, CheckState::Pending) => CheckState::Pending,
            _ => CheckState::Success,
        });
    }
    out
}

/// 422 for a body over GitHub's 65,536-character limit, in the shape GitHub answers:
/// comments `{"resource":"IssueComment","code":"unprocessable","field":"data","message":
/// "Body is too long (maximum is 65536 characters)"}`, issue and pull-request bodies
/// `{"resource":"Issue","code":"custom","field":"body","message":"body is too long (maximum is
/// 65536 characters)"}` (pull requests too report the resource `Issue`). Both as API clients
/// quote GitHub's answers (e.g. easybuilders/easybuild-easyconfigs#24647 in 2025 for comments,
/// denoland/bump-workspaces#34 in 2024 for pull requests); the limit counts characters.
pub(crate) fn too_long(body: Option<&str>, comment: bool, docs: &str) -> Option<Reply> {
    if body.is_none_or(|b| b.chars().count() <= BODY_LIMIT) {
        return None;
    }
    let error = if comment {
        json!({"resource": "IssueComment", "code": "unprocessable", "field": "data",
               "message": format!("Body is too long (maximum is {BODY_LIMIT} characters)")})
    } else {
        json!({"resource": "Issue", "code": "custom", "field": "body",
               "message": format!("body is too long (maximum is {BODY_LIMIT} characters)")})
    };
    Some(Reply::json(
        422,
        json!({"message": "Validation Failed", "errors": [error], "documentation_url": docs, "status": "422"}),
    ))
}

pub(crate) fn not_found() -> Reply {
    Reply::json(
        404,
        json!({"message": "Not Found", "documentation_url": DOCS, "status": "404"}),
    )
}

/// 410 for an issue that was deleted.
pub(crate) fn gone() -> Reply {
    Reply::json(
        410,
        json!({"message": "This issue was deleted", "documentation_url": DOCS, "status": "410"}),
    )
}

pub(crate) fn message(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"message": message, "documentation_url": DOCS, "status": status.to_string()}),
    )
}

/// 422 Validation Failed with GitHub's `errors` array.
pub(crate) fn validation(errors: Value) -> Reply {
    Reply::json(
        422,
        json!({"message": "Validation Failed", "errors": errors, "documentation_url": DOCS, "status": "422"}),
    )
}

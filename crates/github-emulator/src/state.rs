//! The emulator's state, its lazy views of the bare repository, faults and the request log.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::git::{Git, MergeTree, Stats};
use crate::util::{self, Rng};
use crate::{Checks, Dispatch, Fault, Faults, Incoming, Merge, Reply};

/// The tool's own identity: every API write acts as this bot.
pub(crate) const TOOL_LOGIN: &str = "github-actions[bot]";
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
    ServerError { perform: bool },
    SecondaryLimit,
    TooMany,
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
    pub(crate) permissions: HashMap<String, String>,
    pub(crate) checks: Checks,
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
        permissions.insert(owner.to_string(), "admin".to_string());
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
            checks: Checks::default(),
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
            Some(true) => "CLEAN",
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
        self.refresh();
        let id = self.next_id(3_000_000);
        let now = self.tick();
        let pr = self
            .pulls
            .get_mut(&number)
            .unwrap_or_else(|| panic!("github-emulator: no pull request #{number}"));
        pr.reviews.push(ReviewSt {
            id,
            login: login.to_string(),
            bot,
            state: state.to_string(),
            body: body.to_string(),
            commit_id: pr.head_sha.clone(),
            submitted_at: now,
        });
        pr.updated_at = now;
        id
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
        let faults = &self.faults;
        if faults.kinds.is_empty() || faults.rate <= 0.0 {
            return Decided::None;
        }
        if self.rng.next_f64() >= faults.rate {
            return Decided::None;
        }
        let kind = faults.kinds[(self.rng.next_u64() % faults.kinds.len() as u64) as usize];
        match kind {
            Fault::ServerError => {
                let mutation = rq.path != "/graphql"
                    && matches!(rq.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE");
                Decided::ServerError {
                    perform: mutation && self.rng.next_u64() & 1 == 1,
                }
            }
            Fault::SecondaryLimit => Decided::SecondaryLimit,
            Fault::TooMany => Decided::TooMany,
            Fault::Slow(d) => Decided::Slow(d),
        }
    }

    /// Handles one request (with its fault), logs it and adds the common headers.
    pub(crate) fn process(&mut self, rq: &Incoming, decided: Decided) -> Reply {
        let graphql = rq.path == "/graphql";
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
        };

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
        let used = *used;
        let reset = self.started + 3600;
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
        self.log.push(LogEntry {
            method: rq.method.clone(),
            path: rq.path.clone(),
            route,
            status: reply.status,
            request: request_json.map(|v| v.to_string()),
            response: reply.body.as_ref().map(Value::to_string),
            graphql_query,
        });
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

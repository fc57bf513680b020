//! The admin API under `/_emulator/` (a path GitHub never serves): what the test helpers of
//! [`crate::Emulator`] do, over HTTP, for the standalone server. Admin requests are never
//! faulted, logged or counted against the rate limit. Bodies are JSON; answers are JSON with
//! 200 (or 201 for creations), 400 for a bad body, 404 for an unknown thing, 422 for a refused
//! one, always as `{"error": "…"}` when refused.

use serde_json::{Value, json};

use crate::render::is_bot;
use crate::state::{ExtraRunSt, IssueSt, Role, State, StatusSt};
use crate::util::iso;
use crate::{CheckOutput, CheckRun, Checks, Fault, Faults, Incoming, Reply, ReviewComment};
use crate::{ReviewThread, Status};

impl State {
    pub(crate) fn set_role(&mut self, login: &str, name: &str, base: &str) {
        self.permissions.insert(
            login.to_string(),
            Role {
                name: name.to_string(),
                base: base.to_string(),
            },
        );
    }

    pub(crate) fn add_issue(
        &mut self,
        title: &str,
        body: Option<&str>,
        login: &str,
        labels: Vec<String>,
    ) -> u64 {
        let number = self.next_number();
        let now = self.tick();
        self.issues.insert(
            number,
            IssueSt {
                number,
                title: title.to_string(),
                body: body.map(str::to_string),
                open: true,
                labels,
                created_at: now,
                updated_at: now,
                closed_at: None,
                author: login.to_string(),
            },
        );
        number
    }

    pub(crate) fn add_pull(
        &mut self,
        head: &str,
        base: &str,
        title: &str,
        login: &str,
    ) -> Result<u64, String> {
        let branches = self.git.branches();
        let sha = |b: &str| branches.get(b).cloned().ok_or(format!("no branch {b}"));
        let (head_sha, base_sha) = (sha(head)?, sha(base)?);
        Ok(self.insert_pull(
            title,
            None,
            (head, &head_sha),
            (base, &base_sha),
            false,
            login,
        ))
    }

    pub(crate) fn threads_of(&self, pr: u64) -> Vec<ReviewThread> {
        let Some(p) = self.pulls.get(&pr) else {
            return Vec::new();
        };
        p.threads
            .iter()
            .map(|t| ReviewThread {
                id: t.id,
                resolved: t.resolved,
                comments: t
                    .comments
                    .iter()
                    .filter_map(|id| self.review_comment(pr, *id))
                    .map(|c| ReviewComment {
                        id: c.id,
                        review_id: c.review_id,
                        path: c.path.clone(),
                        line: c.line,
                        diff_hunk: c.diff_hunk.clone(),
                        body: c.body.clone(),
                        login: c.login.clone(),
                    })
                    .collect(),
            })
            .collect()
    }

    pub(crate) fn add_check_run(&mut self, git_ref: &str, run: CheckRun) -> Result<u64, String> {
        let sha = self
            .git
            .resolve(git_ref)
            .ok_or(format!("no commit {git_ref}"))?;
        let id = self.next_id(4_000_000);
        let created_at = self.tick();
        self.extra_runs.push(ExtraRunSt {
            id,
            sha,
            run,
            created_at,
        });
        Ok(id)
    }

    pub(crate) fn add_status(&mut self, git_ref: &str, status: Status) -> Result<u64, String> {
        let sha = self
            .git
            .resolve(git_ref)
            .ok_or(format!("no commit {git_ref}"))?;
        if !matches!(
            status.state.as_str(),
            "error" | "failure" | "pending" | "success"
        ) {
            return Err(format!("state {:?} is not a commit status", status.state));
        }
        let id = self.next_id(4_500_000);
        let created_at = self.tick();
        self.statuses.push(StatusSt {
            id,
            sha,
            context: status.context,
            state: status.state,
            description: status.description,
            target_url: status.target_url,
            created_at,
        });
        Ok(id)
    }

    pub(crate) fn start_run(&mut self, run_id: u64) -> Result<(), String> {
        let now = self.tick();
        let run = self
            .runs
            .iter_mut()
            .find(|r| r.id == run_id)
            .ok_or(format!("no workflow run {run_id}"))?;
        if run.status == "completed" {
            return Err(format!("workflow run {run_id} already completed"));
        }
        run.status = "in_progress".into();
        run.updated_at = now;
        Ok(())
    }

    pub(crate) fn complete_run(&mut self, run_id: u64, conclusion: &str) -> Result<(), String> {
        let now = self.tick();
        let run = self
            .runs
            .iter_mut()
            .find(|r| r.id == run_id)
            .ok_or(format!("no workflow run {run_id}"))?;
        run.status = "completed".into();
        run.conclusion = Some(conclusion.to_string());
        run.updated_at = now;
        Ok(())
    }

    /// Everything the emulator keeps, as JSON (`GET /_emulator/state`).
    pub(crate) fn state_json(&mut self) -> Value {
        self.refresh();
        let pulls: Vec<Value> = self
            .pulls
            .values()
            .map(|p| {
                let reviews: Vec<Value> = p
                    .reviews
                    .iter()
                    .map(|r| {
                        json!({
                            "id": r.id, "login": r.login, "state": r.state, "body": r.body,
                            "commit_id": r.commit_id, "submitted_at": iso(r.submitted_at),
                        })
                    })
                    .collect();
                let threads: Vec<Value> = self
                    .threads_of(p.number)
                    .into_iter()
                    .map(|t| {
                        let comments: Vec<Value> = t
                            .comments
                            .iter()
                            .map(|c| {
                                json!({
                                    "id": c.id, "review_id": c.review_id, "path": c.path,
                                    "line": c.line, "diff_hunk": c.diff_hunk, "body": c.body,
                                    "login": c.login,
                                })
                            })
                            .collect();
                        json!({"id": t.id, "resolved": t.resolved, "comments": comments})
                    })
                    .collect();
                json!({
                    "number": p.number, "title": p.title, "body": p.body, "author": p.author,
                    "head": p.head, "base": p.base, "head_sha": p.head_sha,
                    "base_sha": p.base_sha, "draft": p.draft,
                    "state": if p.open { "open" } else { "closed" }, "merged": p.merged,
                    "merge_commit": p.merge_commit, "requested_reviewers": p.requested,
                    "review_decision": self.review_decision(p.number),
                    "reviews": reviews, "threads": threads,
                })
            })
            .collect();
        let issues: Vec<Value> = self
            .issues
            .values()
            .map(|i| {
                json!({
                    "number": i.number, "title": i.title, "body": i.body, "author": i.author,
                    "state": if i.open { "open" } else { "closed" }, "labels": i.labels,
                })
            })
            .collect();
        let comments: Vec<Value> = self
            .comments
            .iter()
            .map(|c| {
                json!({"id": c.id, "number": c.number, "login": c.login, "bot": c.bot,
                       "body": c.body, "created_at": iso(c.created_at)})
            })
            .collect();
        let reactions: Vec<Value> = self
            .reactions
            .iter()
            .map(|r| json!({"id": r.id, "comment_id": r.comment_id, "login": r.login, "content": r.content}))
            .collect();
        let mut permissions = serde_json::Map::new();
        let mut logins: Vec<&String> = self.permissions.keys().collect();
        logins.sort();
        for login in logins {
            let r = &self.permissions[login];
            permissions.insert(login.clone(), json!({"role_name": r.name, "base": r.base}));
        }
        let merges: Vec<Value> = self
            .merges
            .iter()
            .map(|m| json!({"pr": m.pr, "sha": m.sha, "method": m.method, "commit": m.commit}))
            .collect();
        let runs: Vec<Value> = self
            .runs
            .iter()
            .map(|r| {
                json!({
                    "id": r.id, "workflow": r.workflow, "ref": r.git_ref, "head_sha": r.head_sha,
                    "status": r.status, "conclusion": r.conclusion,
                    "display_title": r.display_title, "inputs": r.inputs,
                })
            })
            .collect();
        let checks = match self.checks {
            Checks::None => json!({"policy": "none"}),
            Checks::PassAfter(n) => json!({"policy": "pass_after", "after": n}),
            Checks::FailAfter(n) => json!({"policy": "fail_after", "after": n}),
        };
        json!({
            "repository": format!("{}/{}", self.owner, self.name),
            "url": self.url,
            "default_branch": self.default_branch,
            "branches": self.git.branches().into_iter().collect::<std::collections::BTreeMap<_, _>>(),
            "checks": checks,
            "strict": self.strict,
            "pulls": pulls,
            "issues": issues,
            "deleted_issues": self.deleted,
            "comments": comments,
            "reactions": reactions,
            "permissions": permissions,
            "merges": merges,
            "workflow_runs": runs,
            "requests": self.log.len(),
        })
    }
}

fn ok(v: Value) -> Reply {
    Reply::json(200, v).header("content-type", "application/json")
}

fn refuse(status: u16, msg: impl Into<String>) -> Reply {
    Reply::json(status, json!({"error": msg.into()})).header("content-type", "application/json")
}

fn s<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

fn opt(body: &Value, key: &str) -> Option<String> {
    s(body, key).map(str::to_string)
}

fn n(body: &Value, key: &str) -> Option<u64> {
    body.get(key).and_then(Value::as_u64)
}

/// A fault by name: `server_error`, `secondary_limit`, `too_many`, `rate_limited`, `slow:MS`.
fn fault(name: &str) -> Option<Fault> {
    Some(match name {
        "server_error" => Fault::ServerError,
        "server_error_after_write" => Fault::ServerErrorAfterWrite,
        "secondary_limit" => Fault::SecondaryLimit,
        "too_many" => Fault::TooMany,
        "rate_limited" => Fault::RateLimited,
        other => {
            let ms = other.strip_prefix("slow:")?.parse().ok()?;
            Fault::Slow(std::time::Duration::from_millis(ms))
        }
    })
}

/// Handles one admin request.
pub(crate) fn handle(st: &mut State, rq: &Incoming) -> Reply {
    let body: Value = if rq.raw_body.trim().is_empty() {
        json!({})
    } else {
        match serde_json::from_str(&rq.raw_body) {
            Ok(v) => v,
            Err(e) => return refuse(400, format!("body is not JSON: {e}")),
        }
    };
    let path = rq
        .path
        .trim_start_matches("/_emulator")
        .trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let missing = |what: &str| refuse(400, format!("missing {what}"));
    match (rq.method.as_str(), segs.as_slice()) {
        ("GET", ["state"]) => ok(st.state_json()),
        ("GET", ["requests"]) => {
            let lines: Vec<Value> = st
                .log
                .iter()
                .map(|e| serde_json::from_slice(&e.json_line()).unwrap_or(Value::Null))
                .collect();
            ok(Value::Array(lines))
        }
        ("DELETE", ["requests"]) => {
            st.log.clear();
            ok(json!({}))
        }
        ("POST", ["tokens"]) => {
            let (Some(token), Some(login)) = (s(&body, "token"), s(&body, "login")) else {
                return missing("token or login");
            };
            let bot = body
                .get("bot")
                .and_then(Value::as_bool)
                .unwrap_or(is_bot(login));
            st.tokens
                .insert(token.to_string(), (login.to_string(), bot));
            ok(json!({"token": token, "login": login, "bot": bot}))
        }
        ("POST", ["permissions"]) => {
            let (Some(login), Some(p)) = (s(&body, "login"), s(&body, "permission")) else {
                return missing("login or permission");
            };
            st.set_role(login, p, p);
            ok(json!({"login": login, "permission": p}))
        }
        ("POST", ["roles"]) => {
            let (Some(login), Some(role), Some(base)) =
                (s(&body, "login"), s(&body, "role_name"), s(&body, "base"))
            else {
                return missing("login, role_name or base");
            };
            st.set_role(login, role, base);
            ok(json!({"login": login, "role_name": role, "base": base}))
        }
        ("POST", ["comments"]) => {
            let (Some(number), Some(login), Some(text)) =
                (n(&body, "number"), s(&body, "login"), s(&body, "body"))
            else {
                return missing("number, login or body");
            };
            if !st.exists(number) {
                return refuse(404, format!("no issue or pull request #{number}"));
            }
            let bot = body
                .get("bot")
                .and_then(Value::as_bool)
                .unwrap_or(is_bot(login));
            let id = st.add_comment(number, login, bot, text);
            Reply::json(201, json!({"id": id}))
        }
        ("POST", ["issues"]) => {
            let (Some(title), Some(login)) = (s(&body, "title"), s(&body, "login")) else {
                return missing("title or login");
            };
            let number = st.add_issue(title, s(&body, "body"), login, Vec::new());
            Reply::json(201, json!({"number": number}))
        }
        ("DELETE", ["issues", number]) => match number.parse::<u64>() {
            Ok(n) if st.issues.contains_key(&n) => {
                st.delete_issue(n);
                ok(json!({}))
            }
            _ => refuse(404, format!("no issue #{number}")),
        },
        ("POST", ["pulls"]) => {
            let (Some(head), Some(title), Some(login)) =
                (s(&body, "head"), s(&body, "title"), s(&body, "login"))
            else {
                return missing("head, title or login");
            };
            let base = s(&body, "base").unwrap_or("main").to_string();
            match st.add_pull(head, &base, title, login) {
                Ok(number) => Reply::json(201, json!({"number": number})),
                Err(e) => refuse(422, e),
            }
        }
        ("POST", ["pulls", number, "requested_reviewers"]) => {
            let Some(pull) = number.parse().ok().and_then(|n: u64| st.pulls.get_mut(&n)) else {
                return refuse(404, format!("no pull request #{number}"));
            };
            for l in body
                .get("reviewers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !pull.requested.iter().any(|r| r.eq_ignore_ascii_case(l)) {
                    pull.requested.push(l.to_string());
                }
            }
            ok(json!({"requested_reviewers": pull.requested}))
        }
        ("POST", ["reviews"]) => {
            let (Some(pr), Some(login), Some(state)) =
                (n(&body, "pr"), s(&body, "login"), s(&body, "state"))
            else {
                return missing("pr, login or state");
            };
            if !st.pulls.contains_key(&pr) {
                return refuse(404, format!("no pull request #{pr}"));
            }
            if !matches!(state, "APPROVED" | "CHANGES_REQUESTED" | "COMMENTED") {
                return refuse(422, "state is APPROVED, CHANGES_REQUESTED or COMMENTED");
            }
            let mut comments = Vec::new();
            for c in body
                .get("comments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(path), Some(line), Some(text)) =
                    (s(c, "path"), n(c, "line"), s(c, "body"))
                else {
                    return missing("path, line or body of a comment");
                };
                comments.push((path.to_string(), line, text.to_string()));
            }
            let bot = body
                .get("bot")
                .and_then(Value::as_bool)
                .unwrap_or(is_bot(login));
            let text = s(&body, "body").unwrap_or("");
            match st.add_review_with_comments(pr, login, bot, state, text, &comments) {
                Ok(id) => {
                    let threads: Vec<u64> = st
                        .threads_of(pr)
                        .into_iter()
                        .filter(|t| t.comments.iter().any(|c| c.review_id == id))
                        .map(|t| t.id)
                        .collect();
                    Reply::json(201, json!({"id": id, "threads": threads}))
                }
                Err(e) => refuse(422, e),
            }
        }
        ("POST", ["threads", id, action @ ("resolve" | "unresolve")]) => {
            let owner = st.owner.clone();
            let by = s(&body, "login").unwrap_or(&owner).to_string();
            match id.parse() {
                Ok(id) if st.resolve_thread(id, *action == "resolve", &by) => ok(json!({})),
                _ => refuse(404, format!("no review thread {id}")),
            }
        }
        ("POST", ["checks"]) => {
            let after = n(&body, "after").unwrap_or(1).min(u64::from(u32::MAX)) as u32;
            if let Some(policy) = s(&body, "policy") {
                st.checks = match policy {
                    "none" => Checks::None,
                    "pass_after" => Checks::PassAfter(after),
                    "fail_after" => Checks::FailAfter(after),
                    other => return refuse(422, format!("unknown policy {other}")),
                };
            }
            if let Some(o) = body.get("output").filter(|o| o.is_object()) {
                st.check_output = Some(CheckOutput {
                    name: s(o, "name").unwrap_or("ci").to_string(),
                    title: s(o, "title").unwrap_or("").to_string(),
                    summary: s(o, "summary").unwrap_or("").to_string(),
                    text: s(o, "text").unwrap_or("").to_string(),
                });
            }
            ok(json!({}))
        }
        ("POST", ["check_runs"]) => {
            let (Some(git_ref), Some(name)) = (s(&body, "ref"), s(&body, "name")) else {
                return missing("ref or name");
            };
            let run = CheckRun {
                name: name.to_string(),
                conclusion: opt(&body, "conclusion"),
                title: opt(&body, "title"),
                summary: opt(&body, "summary"),
                text: opt(&body, "text"),
                details_url: opt(&body, "details_url"),
            };
            match st.add_check_run(git_ref, run) {
                Ok(id) => Reply::json(201, json!({"id": id})),
                Err(e) => refuse(422, e),
            }
        }
        ("POST", ["statuses"]) => {
            let (Some(git_ref), Some(context), Some(state)) =
                (s(&body, "ref"), s(&body, "context"), s(&body, "state"))
            else {
                return missing("ref, context or state");
            };
            let status = Status {
                context: context.to_string(),
                state: state.to_string(),
                description: opt(&body, "description"),
                target_url: opt(&body, "target_url"),
            };
            match st.add_status(git_ref, status) {
                Ok(id) => Reply::json(201, json!({"id": id})),
                Err(e) => refuse(422, e),
            }
        }
        ("POST", ["strict"]) => {
            st.strict = body.get("on").and_then(Value::as_bool).unwrap_or(true);
            ok(json!({"strict": st.strict}))
        }
        ("POST", ["faults"]) => {
            let mut kinds = Vec::new();
            for k in body
                .get("kinds")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                match k.as_str().and_then(fault) {
                    Some(f) => kinds.push(f),
                    None => return refuse(422, format!("unknown fault {k}")),
                }
            }
            let faults = Faults {
                rate: body.get("rate").and_then(Value::as_f64).unwrap_or(0.0),
                seed: n(&body, "seed").unwrap_or(1),
                kinds,
            };
            st.rng = crate::util::Rng::new(faults.seed);
            st.faults = faults;
            ok(json!({}))
        }
        ("POST", ["faults", "next"]) => {
            let Some(f) = s(&body, "fault").and_then(fault) else {
                return missing("a known fault");
            };
            let count = n(&body, "count").unwrap_or(1) as usize;
            if let (Some(method), Some(path)) = (s(&body, "method"), s(&body, "path")) {
                for _ in 0..count {
                    st.aimed.push((method.to_owned(), path.to_owned(), f));
                }
                return ok(json!({"aimed": st.aimed.len()}));
            }
            let queue = match s(&body, "scope").unwrap_or("graphql") {
                "graphql" => &mut st.queued.0,
                "rest" => &mut st.queued.1,
                other => return refuse(422, format!("scope {other} is graphql or rest")),
            };
            queue.extend(std::iter::repeat_n(f, count));
            ok(json!({"graphql": st.queued.0.len(), "rest": st.queued.1.len()}))
        }
        ("POST", ["workflow_runs", id, "start"]) => {
            match id.parse().map_err(|_| format!("no workflow run {id}")) {
                Ok(id) => match st.start_run(id) {
                    Ok(()) => ok(json!({})),
                    Err(e) => refuse(422, e),
                },
                Err(e) => refuse(404, e),
            }
        }
        ("POST", ["workflow_runs", id, "complete"]) => {
            let conclusion = s(&body, "conclusion").unwrap_or("success").to_string();
            match id.parse().map_err(|_| format!("no workflow run {id}")) {
                Ok(id) => match st.complete_run(id, &conclusion) {
                    Ok(()) => ok(json!({})),
                    Err(e) => refuse(404, e),
                },
                Err(e) => refuse(404, e),
            }
        }
        _ => refuse(404, format!("no admin route {} {}", rq.method, rq.path)),
    }
}

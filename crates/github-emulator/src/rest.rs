//! REST routes: matching and handlers.

use serde_json::{Value, json};

use crate::git::MergeTree;
use crate::render::{is_bot, workflow_id, workflow_name};
use crate::state::{
    CheckState, ReactionSt, RunSt, State, gone, message, not_found, too_long, validation,
};
use crate::util::{parse_iso, percent_encode};
use crate::{Checks, Dispatch, Incoming, Merge, Reply};

/// Every route served: (method, OpenAPI path template). Literal segments come before
/// parameters where two templates could match the same path.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/rate_limit"),
    ("GET", "/user"),
    ("GET", "/repos/{owner}/{repo}"),
    ("GET", "/repos/{owner}/{repo}/pulls"),
    ("POST", "/repos/{owner}/{repo}/pulls"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    (
        "PUT",
        "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch",
    ),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    ("POST", "/repos/{owner}/{repo}/pulls/{pull_number}/reviews"),
    (
        "GET",
        "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments",
    ),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/comments"),
    (
        "GET",
        "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
    ),
    ("GET", "/repos/{owner}/{repo}/issues"),
    ("POST", "/repos/{owner}/{repo}/issues"),
    ("GET", "/repos/{owner}/{repo}/issues/comments"),
    (
        "PATCH",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
    ),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),
    (
        "GET",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
    ),
    (
        "POST",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/collaborators/{username}/permission",
    ),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/status"),
    (
        "POST",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
    ),
    (
        "GET",
        "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
    ),
    ("GET", "/repos/{owner}/{repo}/actions/runs"),
    ("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}"),
    ("POST", "/repos/{owner}/{repo}/actions/runs/{run_id}/cancel"),
];

const REACTIONS: &[&str] = &[
    "+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes",
];

struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn num(&self, name: &str) -> Option<u64> {
        self.get(name).parse().ok()
    }
}

/// Matches a path against a template; `{ref}` may span several segments.
fn match_template(path: &str, template: &str) -> Option<Params> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let tsegs: Vec<&str> = template.split('/').collect();
    let mut params = Vec::new();
    let mut i = 0;
    for (t, tseg) in tsegs.iter().enumerate() {
        if let Some(name) = tseg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            let take = if name == "ref" {
                segs.len().checked_sub(i + tsegs.len() - t - 1)?
            } else {
                1
            };
            if take == 0 || i + take > segs.len() {
                return None;
            }
            let value = segs[i..i + take].join("/");
            if value.is_empty() {
                return None;
            }
            params.push((name.to_string(), value));
            i += take;
        } else {
            if segs.get(i) != Some(tseg) {
                return None;
            }
            i += 1;
        }
    }
    (i == segs.len()).then_some(Params(params))
}

fn find(rq: &Incoming) -> Option<(&'static str, Params)> {
    ROUTES
        .iter()
        .filter(|(m, _)| *m == rq.method)
        .find_map(|(_, t)| match_template(&rq.path, t).map(|p| (*t, p)))
}

/// The route template of a request, or its path when no route serves it.
pub(crate) fn route_of(_st: &State, rq: &Incoming) -> String {
    if rq.path == "/graphql" {
        return "/graphql".into();
    }
    find(rq).map_or_else(|| rq.path.clone(), |(t, _)| t.to_string())
}

pub(crate) fn handle(st: &mut State, rq: &Incoming) -> (String, Reply) {
    let Some((route, params)) = find(rq) else {
        return (rq.path.clone(), not_found());
    };
    let reply = handle_route(st, rq, route, &params);
    (route.to_string(), reply)
}

fn handle_route(st: &mut State, rq: &Incoming, route: &str, p: &Params) -> Reply {
    if route.starts_with("/repos/")
        && (!p.get("owner").eq_ignore_ascii_case(&st.owner)
            || !p.get("repo").eq_ignore_ascii_case(&st.name))
    {
        return not_found();
    }
    let body: Value = if rq.raw_body.trim().is_empty() {
        Value::Null
    } else {
        match serde_json::from_str(&rq.raw_body) {
            Ok(v) => v,
            Err(_) => return message(400, "Problems parsing JSON"),
        }
    };
    let q = Params(rq.query.clone());
    let tail = route.trim_start_matches("/repos/{owner}/{repo}");
    match (rq.method.as_str(), tail) {
        ("GET", "/rate_limit") => Reply::json(200, st.rate_limit_json()),
        // Installation tokens (Actions' GITHUB_TOKEN, GitHub Apps) are refused: 403 "Resource
        // not accessible by integration", as API clients report it (e.g.
        // actions/create-github-app-token#258); a person's token gets their private profile.
        ("GET", "/user") => {
            if st.caller.installation {
                Reply::json(
                    403,
                    json!({
                        "message": "Resource not accessible by integration",
                        "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
                        "status": "403",
                    }),
                )
            } else {
                Reply::json(200, st.authenticated_user_json())
            }
        }
        ("GET", "") => Reply::json(200, st.repository()),
        ("GET", "/pulls") => list_pulls(st, rq, &q),
        ("POST", "/pulls") => create_pull(st, &body),
        ("GET", "/pulls/{pull_number}") => {
            with_pull(st, p, |st, n| Reply::json(200, st.pull_json(n, true)))
        }
        ("PATCH", "/pulls/{pull_number}") => with_pull(st, p, |st, n| update_pull(st, n, &body)),
        ("PUT", "/pulls/{pull_number}/merge") => with_pull(st, p, |st, n| merge(st, n, &body)),
        ("GET", "/pulls/{pull_number}/merge") => with_pull(st, p, |st, n| {
            if st.pulls[&n].merged {
                Reply::empty(204)
            } else {
                not_found()
            }
        }),
        ("PUT", "/pulls/{pull_number}/update-branch") => {
            with_pull(st, p, |st, n| update_branch(st, n, &body))
        }
        ("GET", "/pulls/{pull_number}/reviews") => with_pull(st, p, |st, n| {
            let items: Vec<Value> = st.pulls[&n]
                .reviews
                .iter()
                .map(|r| st.review_json(n, r))
                .collect();
            paginate(st, rq, items, None)
        }),
        ("POST", "/pulls/{pull_number}/reviews") => {
            with_pull(st, p, |st, n| create_review(st, n, &body))
        }
        ("GET", "/pulls/{pull_number}/comments") => with_pull(st, p, |st, n| {
            let items: Vec<Value> = st.pulls[&n]
                .reviews
                .iter()
                .flat_map(|r| r.comments.iter())
                .map(|c| st.review_comment_json(n, c, true))
                .collect();
            paginate(st, rq, items, None)
        }),
        ("GET", "/pulls/{pull_number}/reviews/{review_id}/comments") => {
            with_pull(st, p, |st, n| {
                let Some(review) = st.pulls[&n]
                    .reviews
                    .iter()
                    .find(|r| Some(r.id) == p.num("review_id"))
                else {
                    return not_found();
                };
                let items: Vec<Value> = review
                    .comments
                    .iter()
                    .map(|c| st.review_comment_json(n, c, false))
                    .collect();
                paginate(st, rq, items, None)
            })
        }
        ("GET", "/pulls/{pull_number}/requested_reviewers") => with_pull(st, p, |st, n| {
            let users: Vec<Value> = st.pulls[&n]
                .requested
                .iter()
                .map(|l| st.user(l, is_bot(l)))
                .collect();
            Reply::json(200, json!({"users": users, "teams": []}))
        }),
        ("POST", "/pulls/{pull_number}/requested_reviewers") => {
            with_pull(st, p, |st, n| request_reviewers(st, n, &body))
        }
        ("GET", "/issues") => list_issues(st, rq, &q),
        ("POST", "/issues") => create_issue(st, &body),
        ("GET", "/issues/{issue_number}") => match p.num("issue_number") {
            Some(n) if st.exists(n) => {
                st.refresh();
                Reply::json(200, st.issue_json(n).unwrap_or_default())
            }
            Some(n) if st.deleted.contains(&n) => gone(),
            _ => not_found(),
        },
        ("PATCH", "/issues/{issue_number}") => match p.num("issue_number") {
            Some(n) if st.exists(n) => update_issue(st, n, &body),
            Some(n) if st.deleted.contains(&n) => gone(),
            _ => not_found(),
        },
        ("GET", "/issues/{issue_number}/comments") => match p.num("issue_number") {
            Some(n) if st.exists(n) => list_comments(st, rq, &q, Some(n)),
            Some(n) if st.deleted.contains(&n) => gone(),
            _ => not_found(),
        },
        ("POST", "/issues/{issue_number}/comments") => match p.num("issue_number") {
            Some(n) if st.exists(n) => create_comment(st, n, &body),
            Some(n) if st.deleted.contains(&n) => gone(),
            _ => not_found(),
        },
        ("GET", "/issues/comments") => list_comments(st, rq, &q, None),
        ("PATCH", "/issues/comments/{comment_id}") => update_comment(st, p, &body),
        ("GET", "/issues/comments/{comment_id}/reactions") => list_reactions(st, rq, p, &q),
        ("POST", "/issues/comments/{comment_id}/reactions") => create_reaction(st, p, &body),
        ("GET", "/collaborators/{username}/permission") => {
            let login = p.get("username");
            let role = st
                .permissions
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(login))
                .map(|(k, v)| (k.clone(), v.clone()));
            match role {
                Some((login, role)) => Reply::json(200, st.permission_json(&login, &role)),
                None => not_found(),
            }
        }
        ("GET", "/commits/{ref}/check-runs") => check_runs(st, p, &q),
        ("GET", "/commits/{ref}/status") => match st.git.resolve(p.get("ref")) {
            Some(sha) => {
                st.refresh();
                Reply::json(200, st.combined_status_json(&sha))
            }
            None => message(404, &format!("No commit found for SHA: {}", p.get("ref"))),
        },
        ("POST", "/actions/workflows/{workflow_id}/dispatches") => dispatch(st, p, &body),
        ("GET", "/actions/workflows/{workflow_id}/runs") => {
            list_runs(st, rq, &q, Some(p.get("workflow_id")))
        }
        ("GET", "/actions/runs") => list_runs(st, rq, &q, None),
        ("GET", "/actions/runs/{run_id}") => {
            match st.runs.iter().find(|r| Some(r.id) == p.num("run_id")) {
                Some(r) => Reply::json(200, st.run_json(r)),
                None => not_found(),
            }
        }
        ("POST", "/actions/runs/{run_id}/cancel") => cancel_run(st, p),
        _ => not_found(),
    }
}

fn with_pull(st: &mut State, p: &Params, f: impl FnOnce(&mut State, u64) -> Reply) -> Reply {
    match p.num("pull_number") {
        Some(n) if st.pulls.contains_key(&n) => {
            st.refresh();
            f(st, n)
        }
        _ => not_found(),
    }
}

/// One page of `items` with GitHub's Link header (`per_page` ≤ 100, default 30).
fn paginate(st: &State, rq: &Incoming, items: Vec<Value>, wrap: Option<&str>) -> Reply {
    let q = Params(rq.query.clone());
    let per_page = q.num("per_page").unwrap_or(30).clamp(1, 100) as usize;
    let page = q.num("page").unwrap_or(1).max(1) as usize;
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = (start + per_page).min(total);
    let slice: Vec<Value> = items[start..end].to_vec();
    let body = match wrap {
        Some(key) => json!({"total_count": total, key: slice}),
        None => Value::Array(slice),
    };
    let mut reply = Reply::json(200, body);
    if last > 1 {
        let others: Vec<String> = rq
            .query
            .iter()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect();
        let link = |n: usize, rel: &str| {
            let mut parts = others.clone();
            parts.push(format!("page={n}"));
            format!("<{}{}?{}>; rel=\"{rel}\"", st.url, rq.path, parts.join("&"))
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(link((page - 1).min(last), "prev"));
        }
        if page < last {
            links.push(link(page + 1, "next"));
            links.push(link(last, "last"));
        }
        if page > 1 {
            links.push(link(1, "first"));
        }
        reply = reply.header("link", links.join(", "));
    }
    reply
}

fn str_field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

fn missing(resource: &str, field: &str) -> Reply {
    validation(json!([{"resource": resource, "field": field, "code": "missing_field"}]))
}

fn invalid(resource: &str, field: &str) -> Reply {
    validation(json!([{"resource": resource, "field": field, "code": "invalid"}]))
}

fn custom(resource: &str, msg: &str) -> Reply {
    validation(json!([{"resource": resource, "code": "custom", "message": msg}]))
}

// -- pull requests ---------------------------------------------------------------------------

/// Issues and pull requests (GitHub lists both here), newest first.
fn list_issues(st: &mut State, rq: &Incoming, q: &Params) -> Reply {
    st.refresh();
    let state = match q.get("state") {
        "" => "open",
        s @ ("open" | "closed" | "all") => s,
        _ => return invalid("Issue", "state"),
    };
    let keep = |open: bool| match state {
        "open" => open,
        "closed" => !open,
        _ => true,
    };
    let mut numbers: Vec<(u64, u64)> = st
        .issues
        .values()
        .filter(|i| keep(i.open))
        .map(|i| (i.created_at, i.number))
        .chain(
            st.pulls
                .values()
                .filter(|p| keep(p.open))
                .map(|p| (p.created_at, p.number)),
        )
        .collect();
    numbers.sort();
    if q.get("direction") != "asc" {
        numbers.reverse();
    }
    let items: Vec<Value> = numbers
        .into_iter()
        .filter_map(|(_, n)| st.issue_json(n))
        .collect();
    paginate(st, rq, items, None)
}

fn list_pulls(st: &mut State, rq: &Incoming, q: &Params) -> Reply {
    st.refresh();
    let state = match q.get("state") {
        "" => "open",
        s @ ("open" | "closed" | "all") => s,
        _ => return invalid("PullRequest", "state"),
    };
    let head = q.get("head");
    let head_branch = match head.split_once(':') {
        Some((owner, branch)) if owner.eq_ignore_ascii_case(&st.owner) => Some(branch),
        Some(_) => return paginate(st, rq, Vec::new(), None),
        None if head.is_empty() => None,
        None => Some(head),
    };
    let base = q.get("base");
    let mut numbers: Vec<(u64, u64)> = st
        .pulls
        .values()
        .filter(|p| match state {
            "open" => p.open,
            "closed" => !p.open,
            _ => true,
        })
        .filter(|p| head_branch.is_none_or(|h| p.head == h))
        .filter(|p| base.is_empty() || p.base == base)
        .map(|p| {
            let key = if q.get("sort") == "updated" {
                p.updated_at
            } else {
                p.created_at
            };
            (key, p.number)
        })
        .collect();
    numbers.sort();
    if q.get("direction") != "asc" {
        numbers.reverse();
    }
    let items: Vec<Value> = numbers
        .into_iter()
        .map(|(_, n)| st.pull_json(n, false))
        .collect();
    paginate(st, rq, items, None)
}

fn create_pull(st: &mut State, body: &Value) -> Reply {
    let Some(title) = str_field(body, "title") else {
        return missing("PullRequest", "title");
    };
    let Some(head) = str_field(body, "head") else {
        return missing("PullRequest", "head");
    };
    let Some(base) = str_field(body, "base") else {
        return missing("PullRequest", "base");
    };
    if let Some(reply) = too_long(str_field(body, "body"), false, DOCS_CREATE_PULL) {
        return reply;
    }
    let head = match head.split_once(':') {
        Some((owner, branch)) if owner.eq_ignore_ascii_case(&st.owner) => branch,
        Some(_) => return invalid("PullRequest", "head"),
        None => head,
    };
    let branches = st.git.branches();
    let Some(head_sha) = branches.get(head).cloned() else {
        return invalid("PullRequest", "head");
    };
    let Some(base_sha) = branches.get(base).cloned() else {
        return invalid("PullRequest", "base");
    };
    st.refresh();
    if st
        .pulls
        .values()
        .any(|p| p.open && p.head == head && p.base == base)
    {
        return custom(
            "PullRequest",
            &format!("A pull request already exists for {}:{head}.", st.owner),
        );
    }
    if head_sha == base_sha || st.git.is_ancestor(&head_sha, &base_sha) {
        return custom(
            "PullRequest",
            &format!("No commits between {base} and {head}"),
        );
    }
    let number = st.insert_pull(
        title,
        str_field(body, "body"),
        (head, &head_sha),
        (base, &base_sha),
        body.get("draft").and_then(Value::as_bool).unwrap_or(false),
        &st.caller.login.clone(),
    );
    // The answer to a creation is not a read: mergeability stays unknown for the first read.
    let mut v = st.pull_json(number, true);
    st.pulls.get_mut(&number).expect("just created").mergeable = None;
    v["mergeable"] = Value::Null;
    v["rebaseable"] = Value::Null;
    v["mergeable_state"] = json!("unknown");
    let location = format!("{}/pulls/{number}", st.api());
    Reply::json(201, v).header("location", location)
}

/// Changes the state of an issue or pull request (`open`/`closed`); `Err` for a refusal.
fn set_pull_state(st: &mut State, n: u64, state: &str, now: u64) -> Result<(), Reply> {
    let branches = st.git.branches();
    let duplicate = {
        let pr = &st.pulls[&n];
        st.pulls
            .values()
            .any(|o| o.open && o.number != n && o.head == pr.head && o.base == pr.base)
    };
    let pr = st.pulls.get_mut(&n).expect("a pull request");
    match state {
        "closed" if pr.open => {
            pr.open = false;
            pr.closed_at = Some(now);
        }
        "open" if !pr.open => {
            if pr.merged {
                return Err(custom(
                    "PullRequest",
                    "state cannot be changed. The pull request has been merged.",
                ));
            }
            if !branches.contains_key(&pr.head) || duplicate {
                return Err(custom(
                    "PullRequest",
                    "state cannot be changed. The head branch is missing or another pull request is open.",
                ));
            }
            pr.open = true;
            pr.closed_at = None;
        }
        "open" | "closed" => {}
        _ => return Err(invalid("PullRequest", "state")),
    }
    Ok(())
}

fn update_pull(st: &mut State, n: u64, body: &Value) -> Reply {
    if let Some(reply) = too_long(
        str_field(body, "body"),
        false,
        "https://docs.github.com/rest/pulls/pulls#update-a-pull-request",
    ) {
        return reply;
    }
    if let Some(base) = str_field(body, "base")
        && !st.git.branches().contains_key(base)
    {
        return invalid("PullRequest", "base");
    }
    let now = st.tick();
    if let Some(state) = str_field(body, "state")
        && let Err(reply) = set_pull_state(st, n, state, now)
    {
        return reply;
    }
    let pr = st.pulls.get_mut(&n).expect("a pull request");
    if let Some(title) = str_field(body, "title") {
        pr.title = title.to_string();
    }
    if let Some(b) = body.get("body") {
        pr.body = b.as_str().map(str::to_string);
    }
    if let Some(base) = str_field(body, "base") {
        pr.base = base.to_string();
    }
    pr.updated_at = now;
    st.refresh();
    Reply::json(200, st.pull_json(n, true))
}

fn merge(st: &mut State, n: u64, body: &Value) -> Reply {
    let (open, merged, draft, head, base, head_sha, base_sha, title) = {
        let pr = &st.pulls[&n];
        (
            pr.open,
            pr.merged,
            pr.draft,
            pr.head.clone(),
            pr.base.clone(),
            pr.head_sha.clone(),
            pr.base_sha.clone(),
            pr.title.clone(),
        )
    };
    let not_mergeable = || message(405, "Pull Request is not mergeable");
    if merged || !open {
        return not_mergeable();
    }
    let sha = str_field(body, "sha").map(str::to_string);
    if sha.as_ref().is_some_and(|s| *s != head_sha) {
        return message(
            409,
            "Head branch was modified. Review and try the merge again.",
        );
    }
    let method = str_field(body, "merge_method")
        .unwrap_or("merge")
        .to_string();
    if !matches!(method.as_str(), "merge" | "squash" | "rebase") {
        return invalid("PullRequest", "merge_method");
    }
    if draft {
        return message(405, "Pull Request is still a draft");
    }
    if !st.compute_mergeable(&base_sha, &head_sha) {
        return not_mergeable();
    }
    if st.checks != Checks::None && st.check_state(&head_sha) != Some(CheckState::Success) {
        return not_mergeable();
    }
    if st.strict && !st.git.is_ancestor(&base_sha, &head_sha) {
        return message(405, "Head branch is not up to date with the base branch");
    }
    let commit_title = str_field(body, "commit_title");
    let commit_message = str_field(body, "commit_message");
    let new = match method.as_str() {
        "rebase" => match st.git.rebase(&base_sha, &base_sha, &head_sha) {
            Ok(tip) => tip,
            Err(()) => return not_mergeable(),
        },
        _ => {
            let MergeTree::Clean(tree) = st.git.merge_tree(&base_sha, &head_sha) else {
                return not_mergeable();
            };
            let (default_title, parents) = if method == "squash" {
                (format!("{title} (#{n})"), vec![base_sha.as_str()])
            } else {
                (
                    format!("Merge pull request #{n} from {}/{head}", st.owner),
                    vec![base_sha.as_str(), head_sha.as_str()],
                )
            };
            let default_message = if method == "squash" { "" } else { &title };
            let msg = format!(
                "{}\n\n{}",
                commit_title.unwrap_or(&default_title),
                commit_message.unwrap_or(default_message)
            );
            match st.git.commit_tree(&tree, &parents, msg.trim_end(), None) {
                Ok(c) => c,
                Err(e) => return message(500, &e),
            }
        }
    };
    if st.git.update_branch(&base, &new, &base_sha).is_err() {
        return message(
            409,
            "Base branch was modified. Review and try the merge again.",
        );
    }
    let now = st.tick();
    let pr = st.pulls.get_mut(&n).expect("a pull request");
    pr.open = false;
    pr.merged = true;
    pr.merge_commit = Some(new.clone());
    pr.merged_at = Some(now);
    pr.closed_at = Some(now);
    pr.updated_at = now;
    st.merges.push(Merge {
        pr: n,
        sha,
        method,
        commit: new.clone(),
    });
    st.refresh();
    Reply::json(
        200,
        json!({"sha": new, "merged": true, "message": "Pull Request successfully merged"}),
    )
}

fn update_branch(st: &mut State, n: u64, body: &Value) -> Reply {
    let (open, head, base, head_sha, base_sha) = {
        let pr = &st.pulls[&n];
        (
            pr.open,
            pr.head.clone(),
            pr.base.clone(),
            pr.head_sha.clone(),
            pr.base_sha.clone(),
        )
    };
    if !open {
        return message(422, "Pull request is closed.");
    }
    if str_field(body, "expected_head_sha").is_some_and(|s| s != head_sha) {
        return message(422, "expected head sha didn't match current head ref.");
    }
    if st.git.is_ancestor(&base_sha, &head_sha) {
        return message(422, "There are no new commits on the base branch.");
    }
    let MergeTree::Clean(tree) = st.git.merge_tree(&head_sha, &base_sha) else {
        return message(422, "merge conflict between base and head");
    };
    let msg = format!("Merge branch '{base}' into {head}");
    let new = match st
        .git
        .commit_tree(&tree, &[&head_sha, &base_sha], &msg, None)
    {
        Ok(c) => c,
        Err(e) => return message(500, &e),
    };
    if st.git.update_branch(&head, &new, &head_sha).is_err() {
        return message(422, "expected head sha didn't match current head ref.");
    }
    let now = st.tick();
    st.touch(n, now);
    st.refresh();
    let url = format!("{}/pull/{n}", st.web());
    Reply::json(
        202,
        json!({"message": "Updating pull request branch.", "url": url}),
    )
}

fn create_review(st: &mut State, n: u64, body: &Value) -> Reply {
    let event = str_field(body, "event").unwrap_or("");
    let text = str_field(body, "body").unwrap_or("");
    let state = match event {
        "APPROVE" => "APPROVED",
        "REQUEST_CHANGES" => "CHANGES_REQUESTED",
        "COMMENT" => "COMMENTED",
        "" => "PENDING",
        _ => return invalid("PullRequestReview", "event"),
    };
    let simple = |msg: &str| {
        Reply::json(
            422,
            json!({"message": "Unprocessable Entity", "documentation_url": crate::state::DOCS, "errors": [msg]}),
        )
    };
    if matches!(state, "CHANGES_REQUESTED" | "COMMENTED") && text.is_empty() {
        return simple("Body can't be blank");
    }
    let caller = st.caller.clone();
    if st.pulls[&n].author == caller.login {
        match state {
            "APPROVED" => return simple("Can not approve your own pull request"),
            "CHANGES_REQUESTED" => {
                return simple("Can not request changes on your own pull request");
            }
            _ => {}
        }
    }
    // Inline comments: `comments: [{path, line, body}]` on lines of the head (side RIGHT).
    let mut comments = Vec::new();
    for c in body
        .get("comments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(path), Some(text)) = (str_field(c, "path"), str_field(c, "body")) else {
            return invalid("PullRequestReviewComment", "comments");
        };
        let Some(line) = c
            .get("line")
            .or_else(|| c.get("position"))
            .and_then(Value::as_u64)
        else {
            return simple("Line could not be resolved");
        };
        comments.push((path.to_string(), line, text.to_string()));
    }
    let id = match st.add_review_with_comments(n, &caller.login, caller.bot, state, text, &comments)
    {
        Ok(id) => id,
        Err(e) => return simple(&e),
    };
    let pr = &st.pulls[&n];
    let review = pr.reviews.iter().find(|r| r.id == id).expect("just added");
    Reply::json(200, st.review_json(n, review))
}

const DOCS_CREATE_PULL: &str = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request";

/// POST …/pulls/{n}/requested_reviewers: 201 with the pull request (pull-request-simple).
/// GitHub refuses (422) reviewers who are not collaborators and the pull request's author.
fn request_reviewers(st: &mut State, n: u64, body: &Value) -> Reply {
    let docs =
        "https://docs.github.com/rest/pulls/review-requests#request-reviewers-for-a-pull-request";
    let reviewers: Vec<String> = body
        .get("reviewers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let teams = body
        .get("team_reviewers")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    let author = st.pulls[&n].author.clone();
    if reviewers.iter().any(|r| r.eq_ignore_ascii_case(&author)) {
        return Reply::json(
            422,
            json!({"message": "Review cannot be requested from pull request author.", "documentation_url": docs, "status": "422"}),
        );
    }
    let collaborator = |l: &str| st.permissions.keys().any(|k| k.eq_ignore_ascii_case(l));
    if teams || reviewers.iter().any(|r| !collaborator(r)) {
        return Reply::json(
            422,
            json!({
                "message": format!("Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the {}/{} repository.", st.owner, st.name),
                "documentation_url": docs,
                "status": "422",
            }),
        );
    }
    let now = st.tick();
    let pr = st.pulls.get_mut(&n).expect("a pull request");
    for r in reviewers {
        if !pr.requested.iter().any(|x| x.eq_ignore_ascii_case(&r)) {
            pr.requested.push(r);
        }
    }
    pr.updated_at = now;
    Reply::json(201, st.pull_json(n, false))
}

// -- issues and comments ---------------------------------------------------------------------

fn labels(body: &Value) -> Vec<String> {
    body.get("labels")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|l| {
                    l.as_str()
                        .or_else(|| l.get("name").and_then(Value::as_str))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn title_of(body: &Value) -> Option<String> {
    match body.get("title") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn create_issue(st: &mut State, body: &Value) -> Reply {
    let Some(title) = title_of(body) else {
        return missing("Issue", "title");
    };
    if let Some(reply) = too_long(
        str_field(body, "body"),
        false,
        "https://docs.github.com/rest/issues/issues#create-an-issue",
    ) {
        return reply;
    }
    let author = st.caller.login.clone();
    let number = st.add_issue(&title, str_field(body, "body"), &author, labels(body));
    let location = format!("{}/issues/{number}", st.api());
    Reply::json(201, st.issue_json(number).expect("just created")).header("location", location)
}

fn update_issue(st: &mut State, n: u64, body: &Value) -> Reply {
    if let Some(reply) = too_long(
        str_field(body, "body"),
        false,
        "https://docs.github.com/rest/issues/issues#update-an-issue",
    ) {
        return reply;
    }
    let now = st.tick();
    let state = str_field(body, "state");
    if let Some(s) = state
        && s != "open"
        && s != "closed"
    {
        return invalid("Issue", "state");
    }
    if st.pulls.contains_key(&n) {
        st.refresh();
        if let Some(s) = state
            && let Err(reply) = set_pull_state(st, n, s, now)
        {
            return reply;
        }
        let pr = st.pulls.get_mut(&n).expect("a pull request");
        if let Some(t) = title_of(body) {
            pr.title = t;
        }
        if let Some(b) = body.get("body") {
            pr.body = b.as_str().map(str::to_string);
        }
        pr.updated_at = now;
    } else {
        let issue = st.issues.get_mut(&n).expect("an issue");
        if let Some(t) = title_of(body) {
            issue.title = t;
        }
        if let Some(b) = body.get("body") {
            issue.body = b.as_str().map(str::to_string);
        }
        if body.get("labels").is_some() {
            issue.labels = labels(body);
        }
        match state {
            Some("closed") if issue.open => {
                issue.open = false;
                issue.closed_at = Some(now);
            }
            Some("open") if !issue.open => {
                issue.open = true;
                issue.closed_at = None;
            }
            _ => {}
        }
        issue.updated_at = now;
    }
    Reply::json(200, st.issue_json(n).expect("exists"))
}

fn list_comments(st: &mut State, rq: &Incoming, q: &Params, number: Option<u64>) -> Reply {
    let since = match q.get("since") {
        "" => None,
        s => match parse_iso(s) {
            Some(t) => Some(t),
            None => return invalid("IssueComment", "since"),
        },
    };
    let mut selected: Vec<(u64, u64)> = st
        .comments
        .iter()
        .enumerate()
        .filter(|(_, c)| number.is_none_or(|n| c.number == n))
        .filter(|(_, c)| since.is_none_or(|t| c.updated_at >= t))
        .map(|(i, c)| {
            let key = if q.get("sort") == "updated" {
                c.updated_at
            } else {
                c.created_at
            };
            (key, i as u64)
        })
        .collect();
    selected.sort();
    if number.is_none() && q.get("direction") == "desc" {
        selected.reverse();
    }
    let items: Vec<Value> = selected
        .into_iter()
        .map(|(_, i)| st.comment_json(&st.comments[i as usize]))
        .collect();
    paginate(st, rq, items, None)
}

fn create_comment(st: &mut State, n: u64, body: &Value) -> Reply {
    let Some(text) = str_field(body, "body") else {
        return missing("IssueComment", "body");
    };
    if let Some(reply) = too_long(
        Some(text),
        true,
        "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
    ) {
        return reply;
    }
    let caller = st.caller.clone();
    let id = st.add_comment(n, &caller.login, caller.bot, text);
    let c = st.comments.iter().find(|c| c.id == id).expect("just added");
    let location = format!("{}/issues/comments/{id}", st.api());
    Reply::json(201, st.comment_json(c)).header("location", location)
}

fn update_comment(st: &mut State, p: &Params, body: &Value) -> Reply {
    let Some(i) = st
        .comments
        .iter()
        .position(|c| Some(c.id) == p.num("comment_id"))
    else {
        return not_found();
    };
    let Some(text) = str_field(body, "body") else {
        return missing("IssueComment", "body");
    };
    if let Some(reply) = too_long(
        Some(text),
        true,
        "https://docs.github.com/rest/issues/comments#update-an-issue-comment",
    ) {
        return reply;
    }
    let now = st.tick();
    st.comments[i].body = text.to_string();
    st.comments[i].updated_at = now;
    Reply::json(200, st.comment_json(&st.comments[i]))
}

fn list_reactions(st: &mut State, rq: &Incoming, p: &Params, q: &Params) -> Reply {
    let Some(id) = p
        .num("comment_id")
        .filter(|id| st.comments.iter().any(|c| c.id == *id))
    else {
        return not_found();
    };
    let content = q.get("content");
    let items: Vec<Value> = st
        .reactions
        .iter()
        .filter(|r| r.comment_id == id && (content.is_empty() || r.content == content))
        .map(|r| st.reaction_json(r))
        .collect();
    paginate(st, rq, items, None)
}

fn create_reaction(st: &mut State, p: &Params, body: &Value) -> Reply {
    let Some(id) = p
        .num("comment_id")
        .filter(|id| st.comments.iter().any(|c| c.id == *id))
    else {
        return not_found();
    };
    let Some(content) = str_field(body, "content").filter(|c| REACTIONS.contains(c)) else {
        return invalid("Reaction", "content");
    };
    let caller = st.caller.clone();
    if let Some(r) = st
        .reactions
        .iter()
        .find(|r| r.comment_id == id && r.login == caller.login && r.content == content)
    {
        return Reply::json(200, st.reaction_json(r));
    }
    let rid = st.next_id(2_000_000);
    let now = st.tick();
    st.reactions.push(ReactionSt {
        id: rid,
        comment_id: id,
        login: caller.login.clone(),
        bot: caller.bot,
        content: content.to_string(),
        created_at: now,
    });
    Reply::json(201, st.reaction_json(st.reactions.last().expect("pushed")))
}

// -- checks and Actions ----------------------------------------------------------------------

fn check_runs(st: &mut State, p: &Params, q: &Params) -> Reply {
    let Some(sha) = st.git.resolve(p.get("ref")) else {
        return message(422, &format!("No commit found for SHA: {}", p.get("ref")));
    };
    st.refresh();
    let runs: Vec<Value> = st
        .check_runs_json(&sha)
        .into_iter()
        .filter(|r| {
            (q.get("check_name").is_empty() || r["name"] == q.get("check_name"))
                && (q.get("status").is_empty() || r["status"] == q.get("status"))
        })
        .collect();
    Reply::json(200, json!({"total_count": runs.len(), "check_runs": runs}))
}

fn dispatch(st: &mut State, p: &Params, body: &Value) -> Reply {
    let workflow = p.get("workflow_id").to_string();
    let Some(git_ref) = str_field(body, "ref") else {
        return missing("WorkflowDispatch", "ref");
    };
    let branch = git_ref
        .strip_prefix("refs/heads/")
        .unwrap_or(git_ref)
        .to_string();
    let Some(sha) = st.git.resolve(git_ref) else {
        return message(422, &format!("No ref found for: {git_ref}"));
    };
    if workflow.parse::<u64>().is_err()
        && !st
            .git
            .file_exists(&sha, &format!(".github/workflows/{workflow}"))
    {
        return not_found();
    }
    let inputs = body.get("inputs").cloned().unwrap_or_else(|| json!({}));
    if !inputs.is_object() {
        return invalid("WorkflowDispatch", "inputs");
    }
    let display_title = st
        .git
        .show(&sha, &format!(".github/workflows/{workflow}"))
        .and_then(|text| run_name(&text, &inputs))
        .unwrap_or_else(|| workflow_name(&workflow).to_string());
    let id = st.next_id(5_000_000);
    let now = st.tick();
    let run_number = st.runs.len() as u64 + 1;
    st.runs.push(RunSt {
        id,
        run_number,
        workflow: workflow.clone(),
        git_ref: branch,
        head_sha: sha,
        status: "queued".into(),
        conclusion: None,
        display_title,
        inputs: inputs.clone(),
        created_at: now,
        updated_at: now,
    });
    st.dispatches.push(Dispatch {
        workflow,
        git_ref: git_ref.to_string(),
        inputs,
        run_id: id,
    });
    if body.get("return_run_details").and_then(Value::as_bool) == Some(true) {
        Reply::json(
            200,
            json!({
                "workflow_run_id": id,
                "run_url": format!("{}/actions/runs/{id}", st.api()),
                "html_url": format!("{}/actions/runs/{id}", st.web()),
            }),
        )
    } else {
        Reply::empty(204)
    }
}

fn list_runs(st: &mut State, rq: &Incoming, q: &Params, workflow: Option<&str>) -> Reply {
    let status = q.get("status");
    let items: Vec<Value> = st
        .runs
        .iter()
        .rev()
        .filter(|r| {
            workflow.is_none_or(|w| r.workflow == w || w.parse() == Ok(workflow_id(&r.workflow)))
        })
        .filter(|r| q.get("branch").is_empty() || r.git_ref == q.get("branch"))
        .filter(|_| q.get("event").is_empty() || q.get("event") == "workflow_dispatch")
        .filter(|r| q.get("head_sha").is_empty() || r.head_sha == q.get("head_sha"))
        .filter(|r| {
            status.is_empty() || r.status == status || r.conclusion.as_deref() == Some(status)
        })
        .map(|r| st.run_json(r))
        .collect();
    paginate(st, rq, items, Some("workflow_runs"))
}

/// POST …/actions/runs/{run_id}/cancel: 202 `{}` and the run ends `cancelled`; a run that
/// already completed answers 409, as on GitHub.
fn cancel_run(st: &mut State, p: &Params) -> Reply {
    let now = st.tick();
    let Some(run) = st.runs.iter_mut().find(|r| Some(r.id) == p.num("run_id")) else {
        return not_found();
    };
    if run.status == "completed" {
        return message(409, "Cannot cancel a workflow run that is completed.");
    }
    run.status = "completed".into();
    run.conclusion = Some("cancelled".into());
    run.updated_at = now;
    Reply::json(202, json!({}))
}

/// The run's title from a workflow file's top-level `run-name:`, with every
/// `${{ inputs.NAME }}` replaced by that dispatch input (empty when it was not given, as
/// on GitHub). Other expressions are kept as written. `None` without a `run-name:`.
pub(crate) fn run_name(workflow: &str, inputs: &Value) -> Option<String> {
    let raw = workflow
        .lines()
        .find_map(|l| l.strip_prefix("run-name:"))?
        .trim();
    let template = if let Some(q) = raw.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = q.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => break,
                },
                c => out.push(c),
            }
        }
        out
    } else if let Some(q) = raw.strip_prefix('\'') {
        let mut out = String::new();
        let mut rest = q;
        while let Some(i) = rest.find('\'') {
            out.push_str(&rest[..i]);
            if rest[i + 1..].starts_with('\'') {
                out.push('\'');
                rest = &rest[i + 2..];
            } else {
                rest = "";
                break;
            }
        }
        out.push_str(rest);
        out
    } else {
        raw.split(" #").next().unwrap_or("").trim_end().to_string()
    };
    if template.is_empty() {
        return None;
    }
    let mut out = String::new();
    let mut rest = template.as_str();
    while let Some(start) = rest.find("${{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let expr = rest[start + 3..start + len].trim();
        match expr.strip_prefix("inputs.") {
            Some(name)
                if !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
            {
                match inputs.get(name) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(v)) => out.push_str(v),
                    Some(other) => out.push_str(&other.to_string()),
                }
            }
            _ => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_substitute_inputs() {
        let inputs = json!({"mission": "m", "feature": "F2", "n": 3, "dry": true});
        let wf = "name: worker\nrun-name: work ${{ inputs.mission }} ${{inputs.feature}}\non: workflow_dispatch\n";
        assert_eq!(run_name(wf, &inputs).as_deref(), Some("work m F2"));
        let quoted = "run-name: \"${{ inputs.n }}/${{ inputs.dry }} \\\"x\\\"\"  # note\n";
        assert_eq!(run_name(quoted, &inputs).as_deref(), Some("3/true \"x\""));
        let single = "run-name: 'it''s ${{  inputs.missing  }}.'\n";
        assert_eq!(run_name(single, &inputs).as_deref(), Some("it's ."));
        let plain = "run-name: by ${{ github.actor }} # who\n";
        assert_eq!(
            run_name(plain, &inputs).as_deref(),
            Some("by ${{ github.actor }}")
        );
        // Only a top-level key counts.
        let nested = "jobs:\n  a:\n    run-name: nope\n";
        assert_eq!(run_name(nested, &inputs), None);
        assert_eq!(run_name("on: workflow_dispatch\n", &inputs), None);
    }
}

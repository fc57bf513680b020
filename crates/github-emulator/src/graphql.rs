//! POST /graphql: the operations are recognised by name (no GraphQL parser) and answered from
//! the state in exactly the shape their documents ask for.

use serde_json::{Map, Value, json};

use crate::state::{CheckState, CommentSt, State, message};
use crate::util::{base64, iso, unbase64};
use crate::{Incoming, Reply};

pub(crate) fn handle(st: &mut State, rq: &Incoming) -> Reply {
    let Ok(body) = serde_json::from_str::<Value>(&rq.raw_body) else {
        return message(400, "Problems parsing JSON");
    };
    let Some(query) = body.get("query").and_then(Value::as_str) else {
        return errors("A query attribute must be specified and must be a string.");
    };
    let operation = body
        .get("operationName")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| operation_name(query));
    let variables = body.get("variables").cloned().unwrap_or(Value::Null);
    match operation.as_deref() {
        Some("MissionPulse") => mission_pulse(st, query, &variables),
        Some(other) => errors(&format!(
            "github-emulator: unknown GraphQL operation `{other}` (served: MissionPulse)"
        )),
        None => errors("github-emulator: anonymous GraphQL operations are not served"),
    }
}

fn errors(msg: &str) -> Reply {
    Reply::json(200, json!({"errors": [{"message": msg}]}))
}

/// The name of the first operation of a document: `query Name(…) {`.
fn operation_name(query: &str) -> Option<String> {
    let text: String = query
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut words = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    match words.next()? {
        "query" | "mutation" | "subscription" => words.next().map(str::to_string),
        _ => None,
    }
}

/// The integer argument `arg` of the first `field(` in the document, e.g. `first` of
/// `pullRequests(first: 100, …)`.
fn int_arg(query: &str, field: &str, arg: &str) -> Option<usize> {
    let start = query.find(&format!("{field}("))? + field.len() + 1;
    let args = &query[start..start + query[start..].find(')')?];
    let at = args.find(&format!("{arg}:"))? + arg.len() + 1;
    let digits: String = args[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn cursor(number: u64) -> String {
    base64(format!("cursor:v2:{number}").as_bytes())
}

fn uncursor(cursor: &str) -> Option<u64> {
    let raw = String::from_utf8(unbase64(cursor)?).ok()?;
    raw.strip_prefix("cursor:v2:")?.parse().ok()
}

fn bad_variable(name: &str, ty: &str) -> Reply {
    Reply::json(
        200,
        json!({"errors": [{
            "extensions": {"value": null, "problems": [{"path": [], "explanation": "Expected value to not be null"}]},
            "locations": [{"line": 1, "column": 1}],
            "message": format!("Variable ${name} of type {ty} was provided invalid value"),
        }]}),
    )
}

/// `author { __typename login }`: GraphQL names bots without the `[bot]` suffix.
fn author(c: &CommentSt) -> Value {
    if c.bot {
        json!({"__typename": "Bot", "login": c.login.trim_end_matches("[bot]")})
    } else {
        json!({"__typename": "User", "login": c.login})
    }
}

fn comment_nodes(st: &State, number: u64, last: usize) -> Value {
    let all: Vec<&CommentSt> = st.comments.iter().filter(|c| c.number == number).collect();
    let skip = all.len().saturating_sub(last);
    let nodes: Vec<Value> = all[skip..]
        .iter()
        .map(|c| json!({"databaseId": c.id, "body": c.body, "author": author(c)}))
        .collect();
    json!({ "nodes": nodes })
}

fn mission_pulse(st: &mut State, query: &str, vars: &Value) -> Reply {
    let var = |name: &str| vars.get(name).filter(|v| !v.is_null());
    let Some(owner) = var("owner").and_then(Value::as_str) else {
        return bad_variable("owner", "String!");
    };
    let Some(name) = var("name").and_then(Value::as_str) else {
        return bad_variable("name", "String!");
    };
    let Some(issue_number) = var("issue").and_then(Value::as_u64) else {
        return bad_variable("issue", "Int!");
    };
    let Some(has_issue) = var("hasIssue").and_then(Value::as_bool) else {
        return bad_variable("hasIssue", "Boolean!");
    };
    let after = match var("after") {
        None => None,
        Some(v) => match v.as_str().and_then(uncursor) {
            Some(n) => Some(n),
            None => {
                return errors(&format!("`{v}` does not appear to be a valid cursor."));
            }
        },
    };
    let (core_reset, graphql_used) = {
        let (_, used, reset) = st.rate_limit_numbers();
        (reset, used)
    };
    let rate_limit = json!({
        "cost": 1,
        "remaining": 5000u64.saturating_sub(graphql_used + 1),
        "resetAt": iso(core_reset),
    });
    if !owner.eq_ignore_ascii_case(&st.owner) || !name.eq_ignore_ascii_case(&st.name) {
        return Reply::json(
            200,
            json!({
                "data": {"repository": null, "rateLimit": rate_limit},
                "errors": [{
                    "type": "NOT_FOUND",
                    "path": ["repository"],
                    "locations": [{"line": 2, "column": 3}],
                    "message": format!("Could not resolve to a Repository with the name '{owner}/{name}'."),
                }],
            }),
        );
    }
    st.refresh();
    let page_size = int_arg(query, "pullRequests", "first")
        .unwrap_or(100)
        .clamp(1, 100);
    let comments_last = int_arg(query, "comments", "last").unwrap_or(50).min(100);
    let open: Vec<u64> = st
        .pulls
        .values()
        .filter(|p| p.open && after.is_none_or(|a| p.number > a))
        .map(|p| p.number)
        .collect();
    let has_next = open.len() > page_size;
    let page: Vec<u64> = open.into_iter().take(page_size).collect();
    let mut nodes = Vec::new();
    for &n in &page {
        let mergeable = st.read_mergeable(n);
        let (head_sha, head, base, draft) = {
            let pr = &st.pulls[&n];
            (
                pr.head_sha.clone(),
                pr.head.clone(),
                pr.base.clone(),
                pr.draft,
            )
        };
        let check = st.check_state(&head_sha);
        let merge_state = st.merge_state(n, mergeable, check);
        if let Some(c) = st.check_runs.get_mut(&head_sha) {
            c.reads = c.reads.saturating_add(1);
        }
        let rollup = match check {
            None => Value::Null,
            Some(CheckState::Pending) => json!({"state": "PENDING"}),
            Some(CheckState::Success) => json!({"state": "SUCCESS"}),
            Some(CheckState::Failure) => json!({"state": "FAILURE"}),
        };
        let mut node = Map::new();
        node.insert("number".into(), json!(n));
        node.insert("headRefName".into(), json!(head));
        node.insert("headRefOid".into(), json!(head_sha));
        node.insert("baseRefName".into(), json!(base));
        node.insert("isDraft".into(), json!(draft));
        node.insert(
            "mergeable".into(),
            json!(match mergeable {
                None => "UNKNOWN",
                Some(true) => "MERGEABLE",
                Some(false) => "CONFLICTING",
            }),
        );
        node.insert("mergeStateStatus".into(), json!(merge_state));
        node.insert("reviewDecision".into(), json!(st.review_decision(n)));
        node.insert(
            "commits".into(),
            json!({"nodes": [{"commit": {"oid": head_sha, "statusCheckRollup": rollup}}]}),
        );
        node.insert("comments".into(), comment_nodes(st, n, comments_last));
        nodes.push(Value::Object(node));
    }
    let mut repository = Map::new();
    repository.insert(
        "pullRequests".into(),
        json!({
            "pageInfo": {"hasNextPage": has_next, "endCursor": page.last().map(|n| cursor(*n))},
            "nodes": nodes,
        }),
    );
    let mut errors_out = Vec::new();
    if has_issue {
        let issue = match st.issues.get(&issue_number) {
            Some(i) => json!({
                "number": i.number,
                "state": if i.open { "OPEN" } else { "CLOSED" },
                "comments": comment_nodes(st, i.number, 100),
            }),
            None => {
                errors_out.push(json!({
                    "type": "NOT_FOUND",
                    "path": ["repository", "issue"],
                    "locations": [{"line": 13, "column": 5}],
                    "message": format!("Could not resolve to an Issue with the number of {issue_number}."),
                }));
                Value::Null
            }
        };
        repository.insert("issue".into(), issue);
    }
    let mut out = json!({"data": {"repository": repository, "rateLimit": rate_limit}});
    if !errors_out.is_empty() {
        out["errors"] = Value::Array(errors_out);
    }
    Reply::json(200, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arguments() {
        let q = "# pulse\nquery MissionPulse($after: String) {\n  repository(owner: $o) {\n    pullRequests(first: 7, after: $after) { nodes { comments(last: 50) { nodes { body } } } }\n  }\n}";
        assert_eq!(operation_name(q).as_deref(), Some("MissionPulse"));
        assert_eq!(int_arg(q, "pullRequests", "first"), Some(7));
        assert_eq!(int_arg(q, "comments", "last"), Some(50));
        assert_eq!(operation_name("{ viewer { login } }"), None);
        assert_eq!(uncursor(&cursor(42)), Some(42));
        assert_eq!(uncursor("nonsense!"), None);
    }
}

//! Body limits, GraphQL rate limits, custom roles, caller identities, reviews with inline
//! comments and threads, review requests, check-run output, the admin API and the standalone
//! server.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Fixture, MISSION_PULSE, NAME, OWNER, Resp, http};
use github_emulator::{CheckOutput, CheckRun, Checks, Fault, Status};
use serde_json::{Value, json};

fn send_as(f: &Fixture, token: &str, method: &str, path: &str, body: Value) -> Resp {
    let auth = format!("Bearer {token}");
    http(
        &f.emu.url(),
        method,
        &f.api(path),
        Some(&body),
        &[("Authorization", &auth)],
    )
}

fn graphql_as(f: &Fixture, token: &str, query: &str, variables: Value) -> Resp {
    let auth = format!("token {token}");
    let body = json!({"query": query, "variables": variables});
    http(
        &f.emu.url(),
        "POST",
        "/graphql",
        Some(&body),
        &[("Authorization", &auth)],
    )
}

fn graphql(f: &Fixture, query: &str, variables: Value) -> Value {
    let r = graphql_as(f, "test-token", query, variables);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn vars(pr: u64) -> Value {
    json!({"owner": OWNER, "name": NAME, "pr": pr})
}

#[test]
fn bodies_over_65536_characters_are_refused() {
    let f = Fixture::new();
    let issue = f.send("POST", "/issues", json!({"title": "t"}));
    let n = issue.json()["number"].as_u64().unwrap();
    let long = "x".repeat(65_537);
    // Exactly the limit passes, and it counts characters, not bytes.
    let at_limit = "é".repeat(65_536);
    let ok = f.send(
        "POST",
        &format!("/issues/{n}/comments"),
        json!({"body": at_limit}),
    );
    assert_eq!(ok.status, 201, "{}", ok.body);
    let id = ok.json()["id"].as_u64().unwrap();

    let r = f.send(
        "POST",
        &format!("/issues/{n}/comments"),
        json!({"body": long}),
    );
    assert_eq!(r.status, 422);
    let v = r.json();
    assert_eq!(v["message"], "Validation Failed");
    assert_eq!(
        v["errors"],
        json!([{"resource": "IssueComment", "code": "unprocessable", "field": "data",
                "message": "Body is too long (maximum is 65536 characters)"}])
    );
    assert_eq!(
        v["documentation_url"],
        "https://docs.github.com/rest/issues/comments#create-an-issue-comment"
    );
    let upd = f.send(
        "PATCH",
        &format!("/issues/comments/{id}"),
        json!({"body": long}),
    );
    assert_eq!(upd.status, 422);
    assert_eq!(upd.json()["errors"][0]["resource"], "IssueComment");
    assert_eq!(f.emu.comments(n).len(), 1);
    assert_eq!(f.emu.comments(n)[0].body.chars().count(), 65_536);

    let issue_error = json!([{"resource": "Issue", "code": "custom", "field": "body",
                              "message": "body is too long (maximum is 65536 characters)"}]);
    let ci = f.send("POST", "/issues", json!({"title": "big", "body": long}));
    assert_eq!(ci.status, 422);
    assert_eq!(ci.json()["errors"], issue_error);
    let ui = f.send("PATCH", &format!("/issues/{n}"), json!({"body": long}));
    assert_eq!(ui.status, 422);
    assert_eq!(ui.json()["errors"], issue_error);

    f.branch("feat", "main", &[("a.txt", "a\n")]);
    let cp = f.send(
        "POST",
        "/pulls",
        json!({"title": "big", "head": "feat", "base": "main", "body": long}),
    );
    assert_eq!(cp.status, 422);
    assert_eq!(cp.json()["errors"], issue_error);
    assert!(f.emu.pulls().is_empty());
    let pr = f.create_pull("feat", "Feat");
    let up = f.send("PATCH", &format!("/pulls/{pr}"), json!({"body": long}));
    assert_eq!(up.status, 422);
    assert_eq!(up.json()["errors"], issue_error);
    assert_eq!(f.emu.pulls()[0].body, "b");
}

#[test]
fn graphql_rate_limits_primary_and_secondary() {
    let f = Fixture::new();
    f.emu.rate_limit_graphql(2);
    let body = json!({"query": MISSION_PULSE, "variables": {"owner": OWNER, "name": NAME, "issue": 0, "hasIssue": false, "threads": false}});
    for _ in 0..2 {
        let before = now();
        let r = http(&f.emu.url(), "POST", "/graphql", Some(&body), &[]);
        assert_eq!(r.status, 200);
        let v = r.json();
        assert!(v.get("data").is_none(), "{v}");
        assert_eq!(v["errors"][0]["type"], "RATE_LIMITED");
        assert_eq!(v["errors"][0]["code"], "graphql_rate_limit");
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("API rate limit already exceeded for user ID 41898282")
        );
        assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
        assert_eq!(r.header("x-ratelimit-resource"), Some("graphql"));
        let reset: u64 = r.header("x-ratelimit-reset").unwrap().parse().unwrap();
        assert!(reset > before && reset <= before + 2, "{reset} vs {before}");
    }
    // REST is not affected; the third GraphQL request passes.
    assert_eq!(f.get("").status, 200);
    let ok = http(&f.emu.url(), "POST", "/graphql", Some(&body), &[]);
    assert!(ok.json()["data"]["repository"].is_object(), "{}", ok.body);
    assert_ne!(ok.header("x-ratelimit-remaining"), Some("0"));

    // Secondary limits: 403 with retry-after, as for REST.
    f.emu.fail_next_graphql(1, Fault::SecondaryLimit);
    let r = http(&f.emu.url(), "POST", "/graphql", Some(&body), &[]);
    assert_eq!(r.status, 403);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit")
    );
    // The primary limit on REST: 403, remaining 0, nothing performed.
    let n = f.send("POST", "/issues", json!({"title": "t"})).json()["number"]
        .as_u64()
        .unwrap();
    f.emu.fail_next_rest(1, Fault::RateLimited);
    let r = f.send(
        "POST",
        &format!("/issues/{n}/comments"),
        json!({"body": "x"}),
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded")
    );
    assert!(f.emu.comments(n).is_empty());
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn custom_roles_answer_their_base_permission() {
    let f = Fixture::new();
    f.emu.set_role("sam", "security-eng", "write");
    f.emu.set_role("tess", "release-manager", "maintain");
    f.emu.set_role("rob", "auditor", "triage");
    let sam = f.get("/collaborators/sam/permission").json();
    assert_eq!(sam["permission"], "write");
    assert_eq!(sam["role_name"], "security-eng");
    assert_eq!(sam["user"]["login"], "sam");
    assert_eq!(sam["user"]["role_name"], "security-eng");
    assert_eq!(
        sam["user"]["permissions"],
        json!({"pull": true, "triage": true, "push": true, "maintain": false, "admin": false})
    );
    let tess = f.get("/collaborators/tess/permission").json();
    assert_eq!(
        (tess["permission"].as_str(), tess["role_name"].as_str()),
        (Some("write"), Some("release-manager"))
    );
    assert_eq!(tess["user"]["permissions"]["maintain"], true);
    let rob = f.get("/collaborators/rob/permission").json();
    assert_eq!(
        (rob["permission"].as_str(), rob["role_name"].as_str()),
        (Some("read"), Some("auditor"))
    );
    // Built-in roles still answer as before.
    f.emu.set_permission("carol", "maintain");
    let carol = f.get("/collaborators/carol/permission").json();
    assert_eq!(
        (carol["permission"].as_str(), carol["role_name"].as_str()),
        (Some("write"), Some("maintain"))
    );
}

const WHO: &str = "query Who { viewer { login } }";

#[test]
fn tokens_decide_who_acts() {
    let f = Fixture::new();
    f.emu.add_token("pat-alice", "alice", false);
    f.emu.add_token("ghs-renovate", "renovate[bot]", true);
    f.emu.set_permission("alice", "write");
    let n = f.send("POST", "/issues", json!({"title": "t"})).json()["number"]
        .as_u64()
        .unwrap();
    assert_eq!(
        f.get(&format!("/issues/{n}")).json()["user"]["login"],
        "github-actions[bot]"
    );

    // A person's token.
    let c = send_as(
        &f,
        "pat-alice",
        "POST",
        &format!("/issues/{n}/comments"),
        json!({"body": "hi"}),
    );
    assert_eq!(c.status, 201);
    assert_eq!(c.json()["user"]["login"], "alice");
    assert_eq!(c.json()["user"]["type"], "User");
    assert_eq!(c.json()["author_association"], "COLLABORATOR");
    let id = c.json()["id"].as_u64().unwrap();
    let r = send_as(
        &f,
        "pat-alice",
        "POST",
        &format!("/issues/comments/{id}/reactions"),
        json!({"content": "+1"}),
    );
    assert_eq!(r.json()["user"]["login"], "alice");
    assert_eq!(
        f.emu.reactions(id),
        vec![("alice".to_string(), "+1".to_string())]
    );
    let i = send_as(&f, "pat-alice", "POST", "/issues", json!({"title": "mine"}));
    assert_eq!(i.json()["user"]["login"], "alice");
    f.branch("feat", "main", &[("a.txt", "a\n")]);
    let p = send_as(
        &f,
        "pat-alice",
        "POST",
        "/pulls",
        json!({"title": "A", "head": "feat", "base": "main"}),
    );
    assert_eq!(p.status, 201, "{}", p.body);
    assert_eq!(p.json()["user"]["login"], "alice");
    let pr = p.json()["number"].as_u64().unwrap();
    let own = send_as(
        &f,
        "pat-alice",
        "POST",
        &format!("/pulls/{pr}/reviews"),
        json!({"event": "APPROVE"}),
    );
    assert_eq!(own.status, 422, "{}", own.body);
    let other = f.send(
        "POST",
        &format!("/pulls/{pr}/reviews"),
        json!({"event": "APPROVE"}),
    );
    assert_eq!(other.status, 200, "{}", other.body);
    assert_eq!(other.json()["user"]["login"], "github-actions[bot]");
    let auth = [("Authorization", "Bearer pat-alice")];
    let me = http(&f.emu.url(), "GET", "/user", None, &auth);
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["login"], "alice");
    assert_eq!(me.json()["type"], "User");
    let v = graphql_as(&f, "pat-alice", WHO, json!({})).json();
    assert_eq!(v["data"]["viewer"]["login"], "alice");

    // The Actions bot: GraphQL names it `github-actions[bot]` as the viewer; GET /user is
    // refused to installation tokens.
    let v = graphql(&f, WHO, json!({}));
    assert_eq!(
        v,
        json!({"data": {"viewer": {"login": "github-actions[bot]"}}})
    );
    let me = http(&f.emu.url(), "GET", "/user", None, &[]);
    assert_eq!(me.status, 403);
    assert_eq!(
        me.json()["message"],
        "Resource not accessible by integration"
    );

    // Another app's bot.
    let c = send_as(
        &f,
        "ghs-renovate",
        "POST",
        &format!("/issues/{n}/comments"),
        json!({"body": "bump"}),
    );
    assert_eq!(c.json()["user"]["login"], "renovate[bot]");
    assert_eq!(c.json()["user"]["type"], "Bot");
    let me = http(
        &f.emu.url(),
        "GET",
        "/user",
        None,
        &[("Authorization", "Bearer ghs-renovate")],
    );
    assert_eq!(me.status, 403);
    let comments = f.emu.comments(n);
    assert_eq!(
        comments
            .iter()
            .map(|c| (c.login.as_str(), c.bot))
            .collect::<Vec<_>>(),
        vec![("alice", false), ("renovate[bot]", true)]
    );
    let q = "query C($owner: String!, $name: String!, $n: Int!) { repository(owner: $owner, name: $name) { issue(number: $n) { author { login } comments(first: 10) { nodes { author { __typename login } } } } } }";
    let v = graphql(&f, q, json!({"owner": OWNER, "name": NAME, "n": n}));
    assert_eq!(
        v["data"]["repository"]["issue"]["comments"]["nodes"],
        json!([
            {"author": {"__typename": "User", "login": "alice"}},
            {"author": {"__typename": "Bot", "login": "renovate"}}
        ])
    );
    assert_eq!(
        v["data"]["repository"]["issue"]["author"]["login"],
        "github-actions"
    );
}

const LINES: &str =
    "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\nl12\nl13\nl14\nl15\nl16\nl17\nl18\nl19\nl20\n";

/// A pull request that changes line 10 of src.txt and adds a line after line 15.
fn review_fixture() -> (Fixture, u64) {
    let f = Fixture::new();
    f.emu.set_checks(Checks::None);
    f.commit_push("main", &[("src.txt", LINES)]);
    let changed = LINES
        .replace("l10\n", "L10 changed\n")
        .replace("l15\n", "l15\nnew 16\n");
    f.branch("feat", "main", &[("src.txt", &changed)]);
    let pr = f.create_pull("feat", "Feat");
    (f, pr)
}

const REVIEWS: &str = "query Reviews($owner: String!, $name: String!, $pr: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $pr) {
      reviewDecision
      reviews(last: 10) { nodes { databaseId state body submittedAt author { login }
        comments(first: 10) { nodes { databaseId path line originalLine diffHunk body author { login } } } } }
      reviewThreads(first: 10) { nodes { isResolved
        comments(first: 10) { nodes { databaseId path line diffHunk body author { login } } } } }
      reviewRequests(first: 10) { nodes { requestedReviewer { __typename ... on User { login } ... on Bot { login } } } }
    }
  }
}";

#[test]
fn reviews_with_inline_comments_and_threads() {
    let (f, pr) = review_fixture();
    f.emu.set_permission("bob", "write");
    let rid = f.emu.add_review_with_comments(
        pr,
        "bob",
        "CHANGES_REQUESTED",
        "needs work",
        &[
            ("src.txt", 10, "why change this?"),
            ("src.txt", 16, "new line?"),
        ],
    );
    let threads = f.emu.review_threads(pr);
    assert_eq!(threads.len(), 2);
    assert!(!threads[0].resolved);
    let c = &threads[0].comments[0];
    assert_eq!((c.review_id, c.path.as_str(), c.line), (rid, "src.txt", 10));
    // git diff base...head, three lines of context: the hunk through line 10.
    assert_eq!(
        c.diff_hunk,
        "@@ -7,12 +7,13 @@ l6\n l7\n l8\n l9\n-l10\n+L10 changed"
    );
    assert_eq!(
        threads[1].comments[0].diff_hunk,
        "@@ -7,12 +7,13 @@ l6\n l7\n l8\n l9\n-l10\n+L10 changed\n l11\n l12\n l13\n l14\n l15\n+new 16"
    );

    let v = graphql(&f, REVIEWS, vars(pr));
    let p = &v["data"]["repository"]["pullRequest"];
    assert_eq!(p["reviewDecision"], "CHANGES_REQUESTED");
    let review = &p["reviews"]["nodes"][0];
    assert_eq!(review["databaseId"], rid);
    assert_eq!(review["state"], "CHANGES_REQUESTED");
    assert_eq!(review["body"], "needs work");
    assert_eq!(review["author"]["login"], "bob");
    assert!(review["submittedAt"].is_string());
    let rc = &review["comments"]["nodes"][0];
    assert_eq!(rc["path"], "src.txt");
    assert_eq!(
        (rc["line"].as_u64(), rc["originalLine"].as_u64()),
        (Some(10), Some(10))
    );
    assert_eq!(rc["diffHunk"], c.diff_hunk.as_str());
    assert_eq!(rc["body"], "why change this?");
    assert_eq!(rc["author"]["login"], "bob");
    let t = &p["reviewThreads"]["nodes"];
    assert_eq!(t.as_array().unwrap().len(), 2);
    assert_eq!(t[0]["isResolved"], false);
    assert_eq!(t[1]["comments"]["nodes"][0]["line"], 16);

    // A new head does not dismiss; the same reviewer's approval does.
    f.commit_push("feat", &[("other.txt", "o\n")]);
    assert_eq!(
        graphql(&f, REVIEWS, vars(pr))["data"]["repository"]["pullRequest"]["reviewDecision"],
        "CHANGES_REQUESTED"
    );
    f.emu.resolve_thread(threads[0].id);
    f.emu.add_review(pr, "bob", "APPROVED");
    let v = graphql(&f, REVIEWS, vars(pr));
    let p = &v["data"]["repository"]["pullRequest"];
    assert_eq!(p["reviewDecision"], "APPROVED");
    assert_eq!(p["reviewThreads"]["nodes"][0]["isResolved"], true);
    assert_eq!(p["reviewThreads"]["nodes"][1]["isResolved"], false);
    assert!(f.emu.review_threads(pr)[0].resolved);
    assert_eq!(p["reviews"]["nodes"].as_array().unwrap().len(), 2);

    // REST: the review comments and the review's own.
    let all = f.get(&format!("/pulls/{pr}/comments")).json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["diff_hunk"], c.diff_hunk.as_str());
    assert_eq!(all[0]["line"], 10);
    assert_eq!(all[0]["position"], 5);
    assert_eq!(all[0]["user"]["login"], "bob");
    let own = f.get(&format!("/pulls/{pr}/reviews/{rid}/comments")).json();
    assert_eq!(own.as_array().unwrap().len(), 2);
    assert_eq!(
        f.get(&format!("/pulls/{pr}/reviews/1/comments")).status,
        404
    );
    assert_eq!(f.get(&format!("/pulls/{pr}")).json()["review_comments"], 2);
}

#[test]
fn rest_reviews_take_inline_comments() {
    let (f, pr) = review_fixture();
    f.emu.add_token("pat-bob", "bob", false);
    let r = send_as(
        &f,
        "pat-bob",
        "POST",
        &format!("/pulls/{pr}/reviews"),
        json!({"event": "COMMENT", "body": "see inline", "comments": [{"path": "src.txt", "line": 10, "body": "hm"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let threads = f.emu.review_threads(pr);
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0].comments[0].login, "bob");
    let outside = f.send(
        "POST",
        &format!("/pulls/{pr}/reviews"),
        json!({"event": "COMMENT", "body": "x", "comments": [{"path": "src.txt", "line": 1, "body": "not in the diff"}]}),
    );
    assert_eq!(outside.status, 422);
    assert_eq!(outside.json()["errors"][0], "Line could not be resolved");
    let nofile = f.send(
        "POST",
        &format!("/pulls/{pr}/reviews"),
        json!({"event": "COMMENT", "body": "x", "comments": [{"path": "nope.txt", "line": 1, "body": "?"}]}),
    );
    assert_eq!(nofile.status, 422);
    assert_eq!(f.emu.review_threads(pr).len(), 1);
}

#[test]
#[should_panic(expected = "Line could not be resolved")]
fn helper_comments_must_be_on_the_diff() {
    let (f, pr) = review_fixture();
    f.emu
        .add_review_with_comments(pr, "bob", "COMMENTED", "", &[("src.txt", 2, "?")]);
}

#[test]
fn review_requests_end_with_a_review() {
    let (f, pr) = review_fixture();
    f.emu.set_permission("bob", "write");
    f.emu.set_permission("carol", "write");
    let r = f.send(
        "POST",
        &format!("/pulls/{pr}/requested_reviewers"),
        json!({"reviewers": ["bob", "carol"]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["number"], pr);
    assert_eq!(r.json()["requested_reviewers"][0]["login"], "bob");
    assert_eq!(f.emu.requested_reviewers(pr), vec!["bob", "carol"]);
    let listed = f.get(&format!("/pulls/{pr}/requested_reviewers")).json();
    assert_eq!(listed["users"].as_array().unwrap().len(), 2);
    assert_eq!(listed["teams"], json!([]));
    let stranger = f.send(
        "POST",
        &format!("/pulls/{pr}/requested_reviewers"),
        json!({"reviewers": ["mallory"]}),
    );
    assert_eq!(stranger.status, 422);
    let author = f.send(
        "POST",
        &format!("/pulls/{pr}/requested_reviewers"),
        json!({"reviewers": ["github-actions[bot]"]}),
    );
    assert_eq!(author.status, 422);
    let v = graphql(&f, REVIEWS, vars(pr));
    assert_eq!(
        v["data"]["repository"]["pullRequest"]["reviewRequests"]["nodes"][1],
        json!({"requestedReviewer": {"__typename": "User", "login": "carol"}})
    );
    f.emu.add_review(pr, "bob", "COMMENTED");
    assert_eq!(f.emu.requested_reviewers(pr), vec!["carol"]);
    // Re-requesting puts the reviewer back.
    f.send(
        "POST",
        &format!("/pulls/{pr}/requested_reviewers"),
        json!({"reviewers": ["bob"]}),
    );
    assert_eq!(f.emu.requested_reviewers(pr), vec!["carol", "bob"]);
}

const CHECKS: &str = "query Checks($owner: String!, $name: String!, $pr: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $pr) {
      mergeStateStatus
      commits(last: 1) { nodes { commit { statusCheckRollup { state contexts(first: 20) { nodes {
        __typename
        ... on CheckRun { name conclusion title summary text detailsUrl }
        ... on StatusContext { context state description targetUrl }
      } } } } } }
    }
  }
}";

#[test]
fn failing_checks_carry_their_output() {
    let f = Fixture::new();
    f.emu.set_checks(Checks::FailAfter(0));
    f.emu.set_check_output(CheckOutput {
        name: "test".into(),
        title: "2 tests failed".into(),
        summary: "cargo test: 2 failed, 40 passed".into(),
        text: "---- a stdout ----\nassertion failed\n".into(),
    });
    let head = f.branch("feat", "main", &[("a.txt", "a\n")]);
    let pr = f.create_pull("feat", "Feat");
    f.emu.add_status(
        &head,
        Status {
            context: "lint".into(),
            state: "success".into(),
            description: Some("clean".into()),
            target_url: Some("https://ci.example/lint".into()),
        },
    );
    let v = graphql(&f, CHECKS, vars(pr));
    let commit = &v["data"]["repository"]["pullRequest"]["commits"]["nodes"][0]["commit"];
    let rollup = &commit["statusCheckRollup"];
    assert_eq!(rollup["state"], "FAILURE");
    let nodes = rollup["contexts"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0]["__typename"], "CheckRun");
    assert_eq!(nodes[0]["name"], "test");
    assert_eq!(nodes[0]["conclusion"], "FAILURE");
    assert_eq!(nodes[0]["title"], "2 tests failed");
    assert_eq!(nodes[0]["summary"], "cargo test: 2 failed, 40 passed");
    assert_eq!(nodes[0]["text"], "---- a stdout ----\nassertion failed\n");
    assert!(
        nodes[0]["detailsUrl"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert_eq!(
        nodes[1],
        json!({"__typename": "StatusContext", "context": "lint", "state": "SUCCESS",
               "description": "clean", "targetUrl": "https://ci.example/lint"})
    );
    let runs = f.get(&format!("/commits/{head}/check-runs")).json();
    assert_eq!(runs["check_runs"][0]["name"], "test");
    assert_eq!(
        runs["check_runs"][0]["output"]["text"],
        "---- a stdout ----\nassertion failed\n"
    );
    let status = f.get(&format!("/commits/{head}/status")).json();
    assert_eq!(status["state"], "failure");
    assert_eq!(status["statuses"][1]["context"], "lint");

    // A failing check that is not required: the merge is allowed, the state UNSTABLE.
    f.emu.set_checks(Checks::PassAfter(0));
    f.emu.add_check_run(
        &head,
        CheckRun {
            name: "flaky".into(),
            conclusion: Some("failure".into()),
            title: Some("1 flaky test".into()),
            ..CheckRun::default()
        },
    );
    let v = graphql(&f, CHECKS, vars(pr));
    let p = &v["data"]["repository"]["pullRequest"];
    assert_eq!(p["mergeStateStatus"], "UNSTABLE");
    let nodes = &p["commits"]["nodes"][0]["commit"]["statusCheckRollup"]["contexts"]["nodes"];
    assert_eq!(nodes[0]["conclusion"], "SUCCESS");
    assert_eq!(nodes[0]["title"], "test passed");
    assert!(nodes[0]["text"].is_null());
    assert_eq!(nodes[1]["name"], "flaky");
    assert!(nodes[1]["summary"].is_null());
    assert_eq!(
        f.send("PUT", &format!("/pulls/{pr}/merge"), json!({}))
            .status,
        200
    );
}

#[test]
fn graphql_documents_are_executed_as_written() {
    let (f, pr) = review_fixture();
    let q = "query A($owner: String!, $name: String!, $pr: Int!, $no: Boolean = false) {
      repo: repository(owner: $owner, name: $name) {
        nameWithOwner
        one: pullRequest(number: $pr) { ...Head number @skip(if: $no) }
        missing: pullRequest(number: 999) { number }
        pullRequests(first: 1, states: [OPEN]) { totalCount edges { cursor node { __typename title } } }
      }
    }
    fragment Head on PullRequest { headRefName state }";
    let v = graphql(&f, q, vars(pr));
    let repo = &v["data"]["repo"];
    assert_eq!(repo["nameWithOwner"], format!("{OWNER}/{NAME}"));
    assert_eq!(
        repo["one"],
        json!({"headRefName": "feat", "state": "OPEN", "number": pr})
    );
    assert!(repo["missing"].is_null());
    assert_eq!(v["errors"][0]["type"], "NOT_FOUND");
    assert_eq!(v["errors"][0]["path"], json!(["repo", "missing"]));
    assert_eq!(repo["pullRequests"]["totalCount"], 1);
    assert_eq!(
        repo["pullRequests"]["edges"][0]["node"]["__typename"],
        "PullRequest"
    );
    // GitHub's pagination rules and unknown fields fail the whole document.
    let unbounded = graphql(
        &f,
        "{ repository(owner: \"acme\", name: \"widgets\") { pullRequests { totalCount } } }",
        json!({}),
    );
    assert!(unbounded.get("data").is_none());
    assert!(
        unbounded["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`first` or `last`")
    );
    let too_many = graphql(
        &f,
        "{ repository(owner: \"acme\", name: \"widgets\") { pullRequests(first: 101) { totalCount } } }",
        json!({}),
    );
    assert!(
        too_many["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("exceeds the `first` limit of 100")
    );
    let syntax = graphql(&f, "query {", json!({}));
    assert!(
        syntax["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Parse error")
    );
}

#[test]
fn the_admin_api_does_what_the_helpers_do() {
    let (f, pr) = review_fixture();
    let url = f.emu.url();
    let admin = |method: &str, path: &str, body: Value| {
        http(
            &url,
            method,
            &format!("/_emulator/{path}"),
            Some(&body),
            &[],
        )
    };
    assert_eq!(
        admin("POST", "tokens", json!({"token": "t-zoe", "login": "zoe"})).status,
        200
    );
    assert_eq!(
        admin(
            "POST",
            "roles",
            json!({"login": "zoe", "role_name": "security-eng", "base": "write"})
        )
        .status,
        200
    );
    assert_eq!(
        admin(
            "POST",
            "permissions",
            json!({"login": "yan", "permission": "read"})
        )
        .status,
        200
    );
    assert_eq!(
        f.get("/collaborators/zoe/permission").json()["role_name"],
        "security-eng"
    );
    assert_eq!(
        f.get("/collaborators/yan/permission").json()["permission"],
        "read"
    );
    let me = http(
        &url,
        "GET",
        "/user",
        None,
        &[("Authorization", "token t-zoe")],
    );
    assert_eq!(me.json()["login"], "zoe");

    let c = admin(
        "POST",
        "comments",
        json!({"number": pr, "login": "zoe", "body": "/mission status"}),
    );
    assert_eq!(c.status, 201);
    assert_eq!(f.emu.comments(pr)[0].login, "zoe");
    let r = admin(
        "POST",
        "reviews",
        json!({"pr": pr, "login": "zoe", "state": "CHANGES_REQUESTED", "body": "no",
               "comments": [{"path": "src.txt", "line": 10, "body": "this"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let thread = r.json()["threads"][0].as_u64().unwrap();
    assert_eq!(f.emu.review_threads(pr)[0].id, thread);
    let bad = admin(
        "POST",
        "reviews",
        json!({"pr": pr, "login": "zoe", "state": "COMMENTED", "comments": [{"path": "src.txt", "line": 1, "body": "x"}]}),
    );
    assert_eq!(bad.status, 422);
    assert_eq!(
        admin("POST", &format!("threads/{thread}/resolve"), json!({})).status,
        200
    );
    assert!(f.emu.review_threads(pr)[0].resolved);
    assert_eq!(admin("POST", "threads/1/resolve", json!({})).status, 404);

    assert_eq!(admin("POST", "checks", json!({"policy": "fail_after", "after": 0, "output": {"name": "t", "title": "T", "summary": "S", "text": "log"}})).status, 200);
    let runs = f.get("/commits/feat/check-runs").json();
    assert_eq!(runs["check_runs"][0]["output"]["text"], "log");
    assert_eq!(
        admin(
            "POST",
            "statuses",
            json!({"ref": "feat", "context": "lint", "state": "pending"})
        )
        .status,
        201
    );
    assert_eq!(
        admin(
            "POST",
            "check_runs",
            json!({"ref": "feat", "name": "extra", "conclusion": "success"})
        )
        .status,
        201
    );
    assert_eq!(f.get("/commits/feat/check-runs").json()["total_count"], 2);

    assert_eq!(
        admin(
            "POST",
            "faults/next",
            json!({"fault": "rate_limited", "count": 1, "scope": "graphql"})
        )
        .status,
        200
    );
    let limited = graphql(&f, WHO, json!({}));
    assert_eq!(limited["errors"][0]["type"], "RATE_LIMITED");
    assert_eq!(
        admin(
            "POST",
            "faults",
            json!({"rate": 1.0, "seed": 3, "kinds": ["too_many"]})
        )
        .status,
        200
    );
    assert_eq!(f.get("").status, 429);
    assert_eq!(admin("POST", "faults", json!({})).status, 200);
    assert_eq!(f.get("").status, 200);

    f.send(
        "POST",
        "/actions/workflows/mission.yml/dispatches",
        json!({"ref": "main"}),
    );
    let run = f.emu.workflow_runs()[0].id;
    assert_eq!(
        admin("POST", &format!("workflow_runs/{run}/start"), json!({})).status,
        200
    );
    assert_eq!(f.emu.workflow_runs()[0].status, "in_progress");
    assert_eq!(
        admin(
            "POST",
            &format!("workflow_runs/{run}/complete"),
            json!({"conclusion": "failure"})
        )
        .status,
        200
    );
    assert_eq!(
        f.emu.workflow_runs()[0].conclusion.as_deref(),
        Some("failure")
    );

    let issue = admin(
        "POST",
        "issues",
        json!({"title": "Idea", "body": "b", "login": "zoe"}),
    );
    let n = issue.json()["number"].as_u64().unwrap();
    assert_eq!(
        f.get(&format!("/issues/{n}")).json()["user"]["login"],
        "zoe"
    );
    let state = http(&url, "GET", "/_emulator/state", None, &[]).json();
    assert_eq!(state, f.emu.state_json());
    assert_eq!(state["pulls"][0]["threads"][0]["resolved"], true);
    assert_eq!(state["pulls"][0]["review_decision"], "CHANGES_REQUESTED");
    assert_eq!(state["permissions"]["zoe"]["role_name"], "security-eng");
    assert_eq!(state["issues"][0]["author"], "zoe");
    assert_eq!(
        admin("DELETE", &format!("issues/{n}"), json!({})).status,
        200
    );
    assert_eq!(f.get(&format!("/issues/{n}")).status, 410);
    // Admin requests are neither logged nor faulted.
    assert!(
        f.emu
            .requests()
            .iter()
            .all(|r| !r.path.starts_with("/_emulator"))
    );
    assert_eq!(admin("GET", "nonsense", json!({})).status, 404);
}

#[test]
fn the_standalone_server_serves_a_new_bare_repository() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("origin.git");
    let log = dir.path().join("log.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_github-emulator"))
        .args(["serve", "--repo", "acme/widgets", "--git"])
        .arg(&bare)
        .arg("--log")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(
        bare.join("HEAD").exists(),
        "the bare repository was created"
    );
    let repo = http(&url, "GET", "/repos/acme/widgets", None, &[]);
    assert_eq!(repo.status, 200);
    assert_eq!(repo.json()["default_branch"], "main");
    let i = http(
        &url,
        "POST",
        "/repos/acme/widgets/issues",
        Some(&json!({"title": "t"})),
        &[],
    );
    assert_eq!(i.status, 201);
    let state = http(&url, "GET", "/_emulator/state", None, &[]).json();
    assert_eq!(state["issues"][0]["title"], "t");
    child.kill().unwrap();
    child.wait().unwrap();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().count(), 2, "{logged}");
    assert!(logged.contains("\"route\":\"/repos/{owner}/{repo}/issues\""));

    let usage = Command::new(env!("CARGO_BIN_EXE_github-emulator"))
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

/// Every new route and GraphQL field, checked by scripts/check-github-contract.py.
#[test]
fn extensions_pass_the_contract_checker() {
    let (f, pr) = review_fixture();
    f.emu.add_token("pat-alice", "alice", false);
    f.emu.set_permission("bob", "write");
    f.emu.set_role("sam", "security-eng", "maintain");
    f.get("/collaborators/sam/permission");
    let long = "x".repeat(65_537);
    let n = f.send("POST", "/issues", json!({"title": "t"})).json()["number"]
        .as_u64()
        .unwrap();
    f.send(
        "POST",
        &format!("/issues/{n}/comments"),
        json!({"body": long}),
    );
    let c = send_as(
        &f,
        "pat-alice",
        "POST",
        &format!("/issues/{n}/comments"),
        json!({"body": "hi"}),
    );
    let cid = c.json()["id"].as_u64().unwrap();
    f.send(
        "PATCH",
        &format!("/issues/comments/{cid}"),
        json!({"body": long}),
    );
    f.send("POST", "/issues", json!({"title": "t", "body": long}));
    f.send("PATCH", &format!("/issues/{n}"), json!({"body": long}));
    f.send(
        "POST",
        "/pulls",
        json!({"title": "t", "head": "feat", "base": "main", "body": long}),
    );
    f.send("PATCH", &format!("/pulls/{pr}"), json!({"body": long}));
    http(&f.emu.url(), "GET", "/user", None, &[]);
    http(
        &f.emu.url(),
        "GET",
        "/user",
        None,
        &[("Authorization", "Bearer pat-alice")],
    );
    f.send(
        "POST",
        &format!("/pulls/{pr}/requested_reviewers"),
        json!({"reviewers": ["bob"]}),
    );
    f.send(
        "POST",
        &format!("/pulls/{pr}/requested_reviewers"),
        json!({"reviewers": ["mallory"]}),
    );
    f.get(&format!("/pulls/{pr}/requested_reviewers"));
    let rid = f.emu.add_review_with_comments(
        pr,
        "bob",
        "CHANGES_REQUESTED",
        "b",
        &[("src.txt", 10, "x")],
    );
    send_as(
        &f,
        "pat-alice",
        "POST",
        &format!("/pulls/{pr}/reviews"),
        json!({"event": "COMMENT", "body": "c", "comments": [{"path": "src.txt", "line": 16, "body": "y"}]}),
    );
    f.get(&format!("/pulls/{pr}/comments"));
    f.get(&format!("/pulls/{pr}/reviews/{rid}/comments"));
    f.get(&format!("/pulls/{pr}/reviews"));
    f.get(&format!("/pulls/{pr}"));
    f.emu.resolve_thread(f.emu.review_threads(pr)[0].id);
    f.emu.set_checks(Checks::FailAfter(0));
    f.emu.set_check_output(CheckOutput {
        name: "test".into(),
        title: "T".into(),
        summary: "S".into(),
        text: "log".into(),
    });
    f.emu.add_status(
        "feat",
        Status {
            context: "lint".into(),
            state: "error".into(),
            ..Status::default()
        },
    );
    f.emu.add_check_run(
        "feat",
        CheckRun {
            name: "x".into(),
            ..CheckRun::default()
        },
    );
    f.get("/commits/feat/check-runs");
    f.get("/commits/feat/status");
    // The checker resolves abstract types (Actor, RepositoryOwner) by `__typename` only.
    let typed = |q: &str| q.replace("author { login }", "author { __typename login }");
    graphql(&f, &typed(REVIEWS), vars(pr));
    graphql(&f, CHECKS, vars(pr));
    graphql(&f, CHECKS, vars(pr));
    graphql(&f, WHO, json!({}));
    graphql_as(&f, "pat-alice", WHO, json!({}));
    let everything = "query E($owner: String!, $name: String!, $pr: Int!) {
      rateLimit { cost limit used remaining resetAt nodeCount }
      viewer { login databaseId }
      repository(owner: $owner, name: $name) {
        id databaseId name nameWithOwner url owner { __typename login } defaultBranchRef { name target { __typename oid } }
        issues(first: 5, states: [OPEN]) { totalCount nodes { number title body state closed url createdAt updatedAt closedAt author { __typename login } } }
        pullRequest(number: $pr) {
          id databaseId number title body url state closed merged isDraft createdAt updatedAt closedAt mergedAt
          headRefName headRefOid baseRefName baseRefOid mergeable mergeStateStatus reviewDecision
          additions deletions changedFiles mergeCommit { oid } authorAssociation
          author { __typename login ... on Bot { databaseId } ... on User { databaseId } }
          commits(first: 5) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { commit { oid abbreviatedOid message committedDate url } } }
          comments(last: 5) { nodes { id databaseId body createdAt updatedAt url authorAssociation author { __typename login } } }
          latestReviews(first: 5) { nodes { state author { __typename login } } }
          reviews(first: 5, states: [CHANGES_REQUESTED, COMMENTED]) { edges { cursor node { id url createdAt commit { oid } authorAssociation } } }
          reviewThreads(last: 5) { totalCount nodes { id isResolved isOutdated isCollapsed path line originalLine startLine diffSide resolvedBy { login }
            comments(first: 5) { nodes { id url outdated createdAt startLine originalStartLine replyTo { id } pullRequestReview { databaseId } commit { oid } originalCommit { oid } } } } }
          reviewRequests(first: 5) { nodes { requestedReviewer { __typename ... on User { login } } } }
        }
      }
    }";
    let v = graphql(&f, everything, vars(pr));
    assert!(v.get("errors").is_none(), "{v}");
    f.emu.rate_limit_graphql(1);
    graphql(&f, WHO, json!({}));
    f.emu.fail_next_graphql(1, Fault::SecondaryLimit);
    graphql_as(&f, "test-token", WHO, json!({}));
    f.emu.fail_next_rest(1, Fault::RateLimited);
    f.send(
        "POST",
        &format!("/issues/{n}/comments"),
        json!({"body": "x"}),
    );

    let log = f.dir.path().join("extensions.jsonl");
    f.emu.write_log(&log);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var("GITHUB_CONTRACT_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_modules = Command::new(&python)
        .args(["-c", "import jsonschema, graphql"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_modules {
        eprintln!(
            "note: skipping scripts/check-github-contract.py: `{python}` lacks jsonschema/graphql-core"
        );
        return;
    }
    let out = Command::new(&python)
        .arg(root.join("scripts/check-github-contract.py"))
        .arg(&log)
        .output()
        .expect("run the contract checker");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "contract check failed:\n{text}");
}

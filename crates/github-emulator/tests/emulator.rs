//! The emulator through HTTP, against a real bare repository.

mod common;

use std::process::Command;

use common::{Fixture, MISSION_PULSE, NAME, OWNER, http};
use github_emulator::{Checks, Fault, Faults};
use serde_json::json;

#[test]
fn create_pull_duplicate_and_invalid_heads() {
    let f = Fixture::new();
    let head = f.branch("feat-a", "main", &[("a.txt", "a\n")]);
    let r = f.send(
        "POST",
        "/pulls",
        json!({"title": "A", "head": format!("{OWNER}:feat-a"), "base": "main", "body": "does a"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let pr = r.json();
    assert_eq!(pr["number"], 1);
    assert_eq!(pr["head"]["sha"], head.as_str());
    assert_eq!(pr["head"]["ref"], "feat-a");
    assert_eq!(pr["user"]["login"], "github-actions[bot]");
    assert_eq!(pr["user"]["type"], "Bot");
    assert!(pr["mergeable"].is_null());
    assert_eq!(
        r.header("location"),
        Some(format!("{}/repos/{OWNER}/{NAME}/pulls/1", f.emu.url()).as_str())
    );
    assert!(r.header("x-ratelimit-remaining").is_some());

    let dup = f.send(
        "POST",
        "/pulls",
        json!({"title": "A again", "head": "feat-a", "base": "main"}),
    );
    assert_eq!(dup.status, 422);
    assert_eq!(
        dup.json()["errors"][0]["message"],
        format!("A pull request already exists for {OWNER}:feat-a.")
    );
    let missing = f.send(
        "POST",
        "/pulls",
        json!({"title": "X", "head": "nope", "base": "main"}),
    );
    assert_eq!(missing.status, 422);
    git_reset_to_main(&f, "empty");
    let empty = f.send(
        "POST",
        "/pulls",
        json!({"title": "E", "head": "empty", "base": "main"}),
    );
    assert_eq!(empty.status, 422, "{}", empty.body);

    // Issues share the number sequence.
    let issue = f.send("POST", "/issues", json!({"title": "Mission", "body": "go"}));
    assert_eq!(issue.status, 201);
    assert_eq!(issue.json()["number"], 2);
    assert_eq!(f.emu.issues().len(), 1);
    let pulls = f.emu.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].head_sha, head);
    assert_eq!(f.get("/pulls/7").status, 404);
    assert_eq!(f.get("/nonsense").status, 404);
    let other = http(&f.emu.url(), "GET", "/repos/someone/else/pulls", None, &[]);
    assert_eq!(other.status, 404);
}

/// Points `branch` of the bare repository back at main (a branch without new commits).
fn git_reset_to_main(f: &Fixture, branch: &str) {
    let main = f.rev("main");
    common::git(
        &f.bare,
        &["update-ref", &format!("refs/heads/{branch}"), &main],
    );
}

#[test]
fn graphql_lazy_mergeability_and_checks() {
    let f = Fixture::new();
    f.emu.set_checks(Checks::PassAfter(1));
    f.branch("feat", "main", &[("f.txt", "1\n")]);
    let n = f.create_pull("feat", "Feat");

    let first = f.pulse_pr(n);
    assert_eq!(first["mergeable"], "UNKNOWN");
    assert_eq!(first["mergeStateStatus"], "UNKNOWN");
    assert_eq!(
        first["commits"]["nodes"][0]["commit"]["statusCheckRollup"]["state"],
        "PENDING"
    );
    assert!(first["reviewDecision"].is_null());
    let second = f.pulse_pr(n);
    assert_eq!(second["mergeable"], "MERGEABLE");
    assert_eq!(second["mergeStateStatus"], "CLEAN");
    assert_eq!(
        second["commits"]["nodes"][0]["commit"]["statusCheckRollup"]["state"],
        "SUCCESS"
    );

    // A push makes a new head: unknown and pending again.
    let new_head = f.commit_push("feat", &[("f.txt", "2\n")]);
    let third = f.pulse_pr(n);
    assert_eq!(third["headRefOid"], new_head.as_str());
    assert_eq!(third["mergeable"], "UNKNOWN");
    assert_eq!(
        third["commits"]["nodes"][0]["commit"]["statusCheckRollup"]["state"],
        "PENDING"
    );
    let fourth = f.pulse_pr(n);
    assert_eq!(fourth["mergeable"], "MERGEABLE");
    assert_eq!(fourth["mergeStateStatus"], "CLEAN");

    // REST check runs and combined status follow the same check.
    let runs = f.get(&format!("/commits/{new_head}/check-runs")).json();
    assert_eq!(runs["total_count"], 1);
    assert_eq!(runs["check_runs"][0]["name"], "ci");
    assert_eq!(runs["check_runs"][0]["conclusion"], "success");
    let status = f.get("/commits/feat/status").json();
    assert_eq!(status["state"], "success");

    // Failing checks block; no checks at all give a null rollup.
    f.emu.set_checks(Checks::FailAfter(0));
    let failing = f.pulse_pr(n);
    assert_eq!(failing["mergeStateStatus"], "BLOCKED");
    assert_eq!(
        failing["commits"]["nodes"][0]["commit"]["statusCheckRollup"]["state"],
        "FAILURE"
    );
    f.emu.set_checks(Checks::None);
    let none = f.pulse_pr(n);
    assert!(none["commits"]["nodes"][0]["commit"]["statusCheckRollup"].is_null());
    assert_eq!(none["mergeStateStatus"], "CLEAN");

    // REST reads are lazy too.
    f.commit_push("feat", &[("f.txt", "3\n")]);
    let rest1 = f.get(&format!("/pulls/{n}")).json();
    assert!(rest1["mergeable"].is_null());
    assert_eq!(rest1["mergeable_state"], "unknown");
    let rest2 = f.get(&format!("/pulls/{n}")).json();
    assert_eq!(rest2["mergeable"], true);
    assert_eq!(rest2["mergeable_state"], "clean");
    assert_eq!(rest2["commits"], 3);
    assert_eq!(rest2["changed_files"], 1);
}

#[test]
fn merge_checks_sha_and_moves_the_base() {
    let f = Fixture::new();
    f.emu.set_checks(Checks::PassAfter(1));
    let head = f.branch("feat", "main", &[("feature.txt", "feature\n")]);
    let n = f.create_pull("feat", "Add the feature");
    let before = f.rev("main");

    // Checks pending: not mergeable yet.
    let pending = f.send(
        "PUT",
        &format!("/pulls/{n}/merge"),
        json!({"sha": head, "merge_method": "squash"}),
    );
    assert_eq!(pending.status, 405, "{}", pending.body);
    f.pulse_pr(n);

    let wrong = f.send(
        "PUT",
        &format!("/pulls/{n}/merge"),
        json!({"sha": before, "merge_method": "squash"}),
    );
    assert_eq!(wrong.status, 409);
    assert_eq!(
        wrong.json()["message"],
        "Head branch was modified. Review and try the merge again."
    );
    assert!(f.emu.merges().is_empty());
    assert_eq!(f.rev("main"), before);
    assert_eq!(f.get(&format!("/pulls/{n}/merge")).status, 404);

    let ok = f.send(
        "PUT",
        &format!("/pulls/{n}/merge"),
        json!({"sha": head, "merge_method": "squash"}),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let sha = ok.json()["sha"].as_str().unwrap().to_string();
    assert_eq!(f.rev("main"), sha);
    assert_eq!(f.rev(&format!("{sha}^")), before, "a squash has one parent");
    assert_eq!(f.show("main", "feature.txt"), "feature");
    assert_eq!(f.show("main", "README.md"), "hello");
    let merges = f.emu.merges();
    assert_eq!(merges.len(), 1);
    assert_eq!(merges[0].pr, n);
    assert_eq!(merges[0].sha.as_deref(), Some(head.as_str()));
    assert_eq!(merges[0].method, "squash");
    assert_eq!(merges[0].commit, sha);
    let pull = &f.emu.pulls()[0];
    assert!(pull.merged);
    assert_eq!(pull.state, "closed");
    assert_eq!(pull.merge_commit.as_deref(), Some(sha.as_str()));
    assert_eq!(f.rev("feat"), head, "the head branch stays");
    assert_eq!(f.get(&format!("/pulls/{n}/merge")).status, 204);
    let again = f.send("PUT", &format!("/pulls/{n}/merge"), json!({}));
    assert_eq!(again.status, 405);
    assert!(
        f.pulse(None)["data"]["repository"]["pullRequests"]["nodes"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A merge commit has two parents; a rebase replays the commits.
    f.emu.set_checks(Checks::None);
    let h2 = f.branch("two", "main", &[("two.txt", "2\n")]);
    let n2 = f.create_pull("two", "Two");
    let m = f.send("PUT", &format!("/pulls/{n2}/merge"), json!({}));
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(f.rev("main^2"), h2);
    assert!(
        common::git(&f.bare, &["log", "-1", "--format=%s", "main"])
            .starts_with(&format!("Merge pull request #{n2} from {OWNER}/two"))
    );
    f.branch("three", "main", &[("three.txt", "3\n")]);
    let n3 = f.create_pull("three", "Three");
    let base3 = f.rev("main");
    let r = f.send(
        "PUT",
        &format!("/pulls/{n3}/merge"),
        json!({"merge_method": "rebase"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(f.rev("main^"), base3);
    assert_eq!(f.show("main", "three.txt"), "3");
    assert_eq!(
        common::git(&f.bare, &["log", "-1", "--format=%an", "main"]),
        "Dev"
    );
}

#[test]
fn conflicts_are_dirty_and_refused() {
    let f = Fixture::new();
    f.emu.set_checks(Checks::None);
    f.branch("left", "main", &[("README.md", "left\n")]);
    f.branch("right", "main", &[("README.md", "right\n")]);
    let left = f.create_pull("left", "Left");
    let right = f.create_pull("right", "Right");
    assert_eq!(
        f.send("PUT", &format!("/pulls/{left}/merge"), json!({}))
            .status,
        200
    );
    let first = f.pulse_pr(right);
    assert_eq!(first["mergeable"], "UNKNOWN");
    let second = f.pulse_pr(right);
    assert_eq!(second["mergeable"], "CONFLICTING");
    assert_eq!(second["mergeStateStatus"], "DIRTY");
    let rest = f.get(&format!("/pulls/{right}")).json();
    assert_eq!(rest["mergeable"], false);
    assert_eq!(rest["mergeable_state"], "dirty");
    let refused = f.send("PUT", &format!("/pulls/{right}/merge"), json!({}));
    assert_eq!(refused.status, 405);
    assert_eq!(refused.json()["message"], "Pull Request is not mergeable");
    let update = f.send("PUT", &format!("/pulls/{right}/update-branch"), json!({}));
    assert_eq!(update.status, 422);
    assert_eq!(f.emu.merges().len(), 1);
}

#[test]
fn update_branch_and_strict_behind() {
    let f = Fixture::new();
    f.emu.set_checks(Checks::None);
    f.emu.set_strict(true);
    f.branch("a", "main", &[("a.txt", "a\n")]);
    let head_b = f.branch("b", "main", &[("b.txt", "b\n")]);
    let a = f.create_pull("a", "A");
    let b = f.create_pull("b", "B");
    assert_eq!(
        f.send("PUT", &format!("/pulls/{a}/merge"), json!({}))
            .status,
        200
    );
    f.pulse_pr(b);
    let behind = f.pulse_pr(b);
    assert_eq!(behind["mergeable"], "MERGEABLE");
    assert_eq!(behind["mergeStateStatus"], "BEHIND");
    let refused = f.send("PUT", &format!("/pulls/{b}/merge"), json!({}));
    assert_eq!(refused.status, 405);

    let wrong = f.send(
        "PUT",
        &format!("/pulls/{b}/update-branch"),
        json!({"expected_head_sha": f.rev("main")}),
    );
    assert_eq!(wrong.status, 422);
    assert_eq!(f.rev("b"), head_b);
    let ok = f.send(
        "PUT",
        &format!("/pulls/{b}/update-branch"),
        json!({"expected_head_sha": head_b}),
    );
    assert_eq!(ok.status, 202, "{}", ok.body);
    assert_eq!(ok.json()["message"], "Updating pull request branch.");
    let new_head = f.rev("b");
    assert_eq!(f.rev("b^1"), head_b);
    assert_eq!(f.rev("b^2"), f.rev("main"));
    assert_eq!(f.show("b", "a.txt"), "a");
    let after = f.pulse_pr(b);
    assert_eq!(after["headRefOid"], new_head.as_str());
    assert_eq!(after["mergeable"], "UNKNOWN");
    let clean = f.pulse_pr(b);
    assert_eq!(clean["mergeStateStatus"], "CLEAN");
    let up_to_date = f.send("PUT", &format!("/pulls/{b}/update-branch"), json!({}));
    assert_eq!(up_to_date.status, 422);
    assert_eq!(
        f.send(
            "PUT",
            &format!("/pulls/{b}/merge"),
            json!({"sha": new_head})
        )
        .status,
        200
    );
}

#[test]
fn comments_reactions_reviews_and_permissions() {
    let f = Fixture::new();
    f.branch("feat", "main", &[("x.txt", "x\n")]);
    let n = f.create_pull("feat", "Feat");
    let human = f.emu.add_comment(n, "alice", false, "/mission status");
    let posted = f.send(
        "POST",
        &format!("/issues/{n}/comments"),
        json!({"body": "on it"}),
    );
    assert_eq!(posted.status, 201);
    let c = posted.json();
    assert_eq!(c["user"]["login"], "github-actions[bot]");
    assert_eq!(c["user"]["type"], "Bot");
    let id = c["id"].as_u64().unwrap();
    let patched = f.send(
        "PATCH",
        &format!("/issues/comments/{id}"),
        json!({"body": "done"}),
    );
    assert_eq!(patched.status, 200);
    assert_eq!(patched.json()["body"], "done");
    let comments = f.emu.comments(n);
    assert_eq!(comments.len(), 2);
    assert_eq!((comments[0].id, comments[0].bot), (human, false));
    assert_eq!(comments[1].body, "done");
    let listed = f.get(&format!("/issues/{n}/comments")).json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["user"]["login"], "alice");
    let since = listed[1]["updated_at"].as_str().unwrap().to_string();
    let recent = f
        .get(&format!(
            "/issues/comments?since={since}&sort=updated&direction=desc"
        ))
        .json();
    assert_eq!(recent.as_array().unwrap().len(), 1);
    assert_eq!(recent[0]["id"], id);

    let reacted = f.send(
        "POST",
        &format!("/issues/comments/{human}/reactions"),
        json!({"content": "eyes"}),
    );
    assert_eq!(reacted.status, 201);
    let again = f.send(
        "POST",
        &format!("/issues/comments/{human}/reactions"),
        json!({"content": "eyes"}),
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], reacted.json()["id"]);
    let bad = f.send(
        "POST",
        &format!("/issues/comments/{human}/reactions"),
        json!({"content": "party"}),
    );
    assert_eq!(bad.status, 422);
    let list = f.get(&format!("/issues/comments/{human}/reactions")).json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        f.emu.reactions(human),
        vec![("github-actions[bot]".to_string(), "eyes".to_string())]
    );

    // GraphQL: bots are named without "[bot]", and typed.
    let node = f.pulse_pr(n);
    let nodes = node["comments"]["nodes"].as_array().unwrap();
    assert_eq!(
        nodes[0]["author"],
        json!({"__typename": "User", "login": "alice"})
    );
    assert_eq!(
        nodes[1]["author"],
        json!({"__typename": "Bot", "login": "github-actions"})
    );
    assert_eq!(nodes[1]["databaseId"], id);

    // Reviews: the tool cannot approve its own pull request; someone else can.
    let own = f.send(
        "POST",
        &format!("/pulls/{n}/reviews"),
        json!({"event": "APPROVE"}),
    );
    assert_eq!(own.status, 422);
    let note = f.send(
        "POST",
        &format!("/pulls/{n}/reviews"),
        json!({"event": "COMMENT", "body": "looks fine"}),
    );
    assert_eq!(note.status, 200, "{}", note.body);
    assert!(f.pulse_pr(n)["reviewDecision"].is_null());
    f.emu.add_review(n, "bob", "CHANGES_REQUESTED");
    assert_eq!(f.pulse_pr(n)["reviewDecision"], "CHANGES_REQUESTED");
    f.emu.add_review(n, "bob", "APPROVED");
    assert_eq!(f.pulse_pr(n)["reviewDecision"], "APPROVED");
    assert_eq!(
        f.get(&format!("/pulls/{n}/reviews"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Permissions.
    f.emu.set_permission("carol", "maintain");
    f.emu.set_permission("dave", "triage");
    let carol = f.get("/collaborators/carol/permission").json();
    assert_eq!(carol["permission"], "write");
    assert_eq!(carol["role_name"], "maintain");
    assert_eq!(carol["user"]["login"], "carol");
    let dave = f.get("/collaborators/dave/permission").json();
    assert_eq!(
        (dave["permission"].as_str(), dave["role_name"].as_str()),
        (Some("read"), Some("triage"))
    );
    assert_eq!(
        f.get(&format!("/collaborators/{OWNER}/permission")).json()["permission"],
        "admin"
    );
    assert_eq!(f.get("/collaborators/mallory/permission").status, 404);

    // The issue branch of the pulse query.
    let issue = f.send(
        "POST",
        "/issues",
        json!({"title": "Mission", "labels": ["mission"]}),
    );
    let issue_n = issue.json()["number"].as_u64().unwrap();
    f.emu.add_comment(issue_n, "alice", false, "/mission go");
    let v = f.pulse(Some(issue_n));
    assert_eq!(v["data"]["repository"]["issue"]["state"], "OPEN");
    assert_eq!(
        v["data"]["repository"]["issue"]["comments"]["nodes"][0]["body"],
        "/mission go"
    );
    let closed = f.send(
        "PATCH",
        &format!("/issues/{issue_n}"),
        json!({"state": "closed"}),
    );
    assert_eq!(closed.json()["state"], "closed");
    assert_eq!(
        f.pulse(Some(issue_n))["data"]["repository"]["issue"]["state"],
        "CLOSED"
    );
    let missing = f.pulse(Some(999));
    assert!(missing["data"]["repository"]["issue"].is_null());
    let without = f.pulse(None);
    assert!(without["data"]["repository"].get("issue").is_none());
    assert_eq!(without["data"]["rateLimit"]["cost"], 1);
}

#[test]
fn pagination_links_and_etags() {
    let f = Fixture::new();
    let issue = f.send("POST", "/issues", json!({"title": "Many comments"}));
    let n = issue.json()["number"].as_u64().unwrap();
    for i in 0..7 {
        f.emu.add_comment(n, "alice", false, &format!("c{i}"));
    }
    let url = f.emu.url();
    let base = format!("{url}/repos/{OWNER}/{NAME}/issues/{n}/comments");
    let p1 = f.get(&format!("/issues/{n}/comments?per_page=3"));
    assert_eq!(p1.json().as_array().unwrap().len(), 3);
    assert_eq!(
        p1.header("link"),
        Some(
            format!(
                "<{base}?per_page=3&page=2>; rel=\"next\", <{base}?per_page=3&page=3>; rel=\"last\""
            )
            .as_str()
        )
    );
    let p2 = f.get(&format!("/issues/{n}/comments?per_page=3&page=2"));
    assert_eq!(p2.json()[0]["body"], "c3");
    let link2 = p2.header("link").unwrap();
    for rel in ["prev", "next", "last", "first"] {
        assert!(link2.contains(&format!("rel=\"{rel}\"")), "{link2}");
    }
    let p3 = f.get(&format!("/issues/{n}/comments?per_page=3&page=3"));
    assert_eq!(p3.json().as_array().unwrap().len(), 1);
    assert!(!p3.header("link").unwrap().contains("rel=\"next\""));
    assert!(
        f.get(&format!("/issues/{n}/comments"))
            .header("link")
            .is_none()
    );

    // Pull lists paginate the same way, newest first.
    for b in ["p1", "p2", "p3"] {
        f.branch(b, "main", &[(&format!("{b}.txt"), "x\n")]);
        f.create_pull(b, b);
    }
    let pulls = f.get("/pulls?state=all&per_page=1&page=1");
    assert_eq!(pulls.json()[0]["head"]["ref"], "p3");
    assert!(
        pulls
            .header("link")
            .unwrap()
            .contains("page=3>; rel=\"last\"")
    );
    let by_head = f
        .get(&format!("/pulls?state=open&head={OWNER}%3Ap2"))
        .json();
    assert_eq!(by_head.as_array().unwrap().len(), 1);
    assert_eq!(by_head[0]["head"]["ref"], "p2");

    // ETag and If-None-Match.
    let path = format!("/repos/{OWNER}/{NAME}/pulls?state=all");
    let first = http(&url, "GET", &path, None, &[]);
    let etag = first.header("etag").unwrap().to_string();
    let cached = http(&url, "GET", &path, None, &[("If-None-Match", &etag)]);
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    f.send("PATCH", "/pulls/2", json!({"title": "renamed"}));
    let changed = http(&url, "GET", &path, None, &[("If-None-Match", &etag)]);
    assert_eq!(changed.status, 200);
    // A single pull request, after mergeability settled.
    f.get("/pulls/2");
    let one = f.get("/pulls/2");
    let tag = one.header("etag").unwrap().to_string();
    let again = http(
        &url,
        "GET",
        &format!("/repos/{OWNER}/{NAME}/pulls/2"),
        None,
        &[("If-None-Match", &tag)],
    );
    assert_eq!(again.status, 304);
}

#[test]
fn graphql_pages_with_cursors() {
    let f = Fixture::new();
    for b in ["g1", "g2", "g3"] {
        f.branch(b, "main", &[(&format!("{b}.txt"), "x\n")]);
        f.create_pull(b, b);
    }
    let small = MISSION_PULSE.replace("first: 100", "first: 2");
    let p1 = f.pulse_query(&small, None, None);
    let prs = &p1["data"]["repository"]["pullRequests"];
    assert_eq!(prs["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(prs["pageInfo"]["hasNextPage"], true);
    let cursor = prs["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    let p2 = f.pulse_query(&small, None, Some(&cursor));
    let prs2 = &p2["data"]["repository"]["pullRequests"];
    assert_eq!(prs2["nodes"][0]["number"], 3);
    assert_eq!(prs2["pageInfo"]["hasNextPage"], false);
    let unknown = f.pulse_query("query Other { viewer { nonsense } }", None, None);
    assert!(unknown["errors"][0]["message"].is_string());
}

#[test]
fn fault_storm_performs_each_mutation_at_most_once() {
    let f = Fixture::new();
    let issue = f.send("POST", "/issues", json!({"title": "storm"}));
    let n = issue.json()["number"].as_u64().unwrap();
    f.emu.set_faults(Faults {
        rate: 1.0,
        seed: 42,
        kinds: vec![Fault::ServerError],
    });
    for i in 0..20 {
        let r = f.send(
            "POST",
            &format!("/issues/{n}/comments"),
            json!({"body": format!("attempt {i}")}),
        );
        assert_eq!(r.status, 502);
    }
    let comments = f.emu.comments(n);
    assert!(
        !comments.is_empty() && comments.len() < 20,
        "{}",
        comments.len()
    );
    let mut bodies: Vec<String> = comments.iter().map(|c| c.body.clone()).collect();
    bodies.dedup();
    assert_eq!(bodies.len(), comments.len(), "never performed twice");
    let get = f.get(&format!("/issues/{n}"));
    assert_eq!(get.status, 502);

    f.emu.set_faults(Faults {
        rate: 1.0,
        seed: 7,
        kinds: vec![Fault::SecondaryLimit, Fault::TooMany],
    });
    let before = f.emu.comments(n).len();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let r = f.send(
            "POST",
            &format!("/issues/{n}/comments"),
            json!({"body": "limited"}),
        );
        assert_eq!(r.header("retry-after"), Some("1"));
        if r.status == 403 {
            assert!(
                r.json()["message"]
                    .as_str()
                    .unwrap()
                    .contains("secondary rate limit")
            );
        } else {
            assert_eq!(r.status, 429);
        }
        seen.push(r.status);
    }
    assert!(seen.contains(&403) && seen.contains(&429));
    assert_eq!(f.emu.comments(n).len(), before);

    f.emu.set_faults(Faults {
        rate: 0.5,
        seed: 3,
        kinds: vec![Fault::Slow(std::time::Duration::from_millis(1))],
    });
    assert_eq!(f.get(&format!("/issues/{n}")).status, 200);
    f.emu.set_faults(Faults::default());
    assert_eq!(f.get(&format!("/issues/{n}")).status, 200);
    let statuses: Vec<u16> = f.emu.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses.len(), 34);
    f.emu.clear_requests();
    assert!(f.emu.requests().is_empty());
}

#[test]
fn workflow_dispatch_and_runs() {
    let f = Fixture::new();
    let r = f.send(
        "POST",
        "/actions/workflows/mission.yml/dispatches",
        json!({"ref": "main", "inputs": {"mission": "m1"}, "return_run_details": true}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let run_id = r.json()["workflow_run_id"].as_u64().unwrap();
    let plain = f.send(
        "POST",
        "/actions/workflows/mission.yml/dispatches",
        json!({"ref": "main"}),
    );
    assert_eq!(plain.status, 204);
    assert!(plain.body.is_empty());
    let missing = f.send(
        "POST",
        "/actions/workflows/nope.yml/dispatches",
        json!({"ref": "main"}),
    );
    assert_eq!(missing.status, 404);
    let bad_ref = f.send(
        "POST",
        "/actions/workflows/mission.yml/dispatches",
        json!({"ref": "nowhere"}),
    );
    assert_eq!(bad_ref.status, 422);
    let d = f.emu.dispatches();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0].workflow, "mission.yml");
    assert_eq!(d[0].git_ref, "main");
    assert_eq!(d[0].inputs, json!({"mission": "m1"}));
    assert_eq!(d[0].run_id, run_id);

    let run = f.get(&format!("/actions/runs/{run_id}")).json();
    assert_eq!(run["status"], "queued");
    assert!(run["conclusion"].is_null());
    assert_eq!(run["head_sha"], f.rev("main").as_str());
    f.emu.complete_workflow_run(run_id, "success");
    let runs = f
        .get("/actions/workflows/mission.yml/runs?status=completed")
        .json();
    assert_eq!(runs["total_count"], 1);
    assert_eq!(runs["workflow_runs"][0]["conclusion"], "success");
    let all = f.get("/actions/runs?branch=main").json();
    assert_eq!(all["total_count"], 2);
    let limits = http(&f.emu.url(), "GET", "/rate_limit", None, &[]).json();
    assert!(limits["resources"]["core"]["used"].as_u64().unwrap() > 0);
    let repo = f.get("").json();
    assert_eq!(repo["full_name"], format!("{OWNER}/{NAME}"));
    assert_eq!(repo["default_branch"], "main");
}

#[test]
fn a_deleted_issue_is_gone_everywhere() {
    let f = Fixture::new();
    let keep = f.send("POST", "/issues", json!({"title": "Keep"}));
    let keep = keep.json()["number"].as_u64().unwrap();
    let doomed = f.send("POST", "/issues", json!({"title": "Doomed", "body": "x"}));
    let n = doomed.json()["number"].as_u64().unwrap();
    let c = f.emu.add_comment(n, "alice", false, "hello");
    f.send(
        "POST",
        &format!("/issues/comments/{c}/reactions"),
        json!({"content": "eyes"}),
    );
    let kept_comment = f.emu.add_comment(keep, "alice", false, "stays");
    f.emu.delete_issue(n);

    let get = f.get(&format!("/issues/{n}"));
    assert_eq!(get.status, 410);
    assert_eq!(get.json()["message"], "This issue was deleted");
    assert_eq!(
        f.send("PATCH", &format!("/issues/{n}"), json!({"state": "closed"}))
            .status,
        410
    );
    assert_eq!(f.get(&format!("/issues/{n}/comments")).status, 410);
    assert_eq!(
        f.send(
            "POST",
            &format!("/issues/{n}/comments"),
            json!({"body": "anyone?"})
        )
        .status,
        410
    );
    // Its comments went with it; the other issue's did not.
    assert_eq!(
        f.send(
            "PATCH",
            &format!("/issues/comments/{c}"),
            json!({"body": "y"})
        )
        .status,
        404
    );
    assert_eq!(
        f.get(&format!("/issues/comments/{c}/reactions")).status,
        404
    );
    assert!(f.emu.comments(n).is_empty());
    assert!(f.emu.reactions(c).is_empty());
    let all: Vec<u64> = f
        .get("/issues/comments")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(all, vec![kept_comment]);
    // Gone from the lists and from the model.
    let listed: Vec<u64> = f
        .get("/issues?state=all")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, vec![keep]);
    assert_eq!(
        f.emu.issues().iter().map(|i| i.number).collect::<Vec<_>>(),
        vec![keep]
    );
    // GraphQL: null and NOT_FOUND, the rest of the answer intact.
    let v = f.pulse(Some(n));
    assert!(v["data"]["repository"]["issue"].is_null(), "{v}");
    assert!(v["data"]["repository"]["pullRequests"]["nodes"].is_array());
    assert_eq!(v["errors"][0]["type"], "NOT_FOUND");
    assert_eq!(v["errors"][0]["path"], json!(["repository", "issue"]));
    assert_eq!(
        f.pulse(Some(keep))["data"]["repository"]["issue"]["number"],
        keep
    );
    // Numbers are never reused; an unknown number is 404, not 410.
    let next = f.send("POST", "/issues", json!({"title": "Next"}));
    assert_eq!(next.json()["number"], n + 1);
    assert_eq!(f.get("/issues/999").status, 404);
}

#[test]
fn people_open_issues_and_pull_requests() {
    let f = Fixture::new();
    let head = f.branch("plan", "main", &[("plan.md", "p\n")]);
    let pr = f.emu.add_pull("plan", "main", "A plan", "alice");
    let issue = f.emu.add_issue("Ideas", "some", "bob");
    assert_eq!(issue, pr + 1, "one number sequence");
    let p = f.get(&format!("/pulls/{pr}")).json();
    assert_eq!(p["user"]["login"], "alice");
    assert_eq!(p["user"]["type"], "User");
    assert_eq!(p["head"]["ref"], "plan");
    assert_eq!(p["head"]["sha"], head.as_str());
    assert_eq!(p["head"]["repo"]["full_name"], format!("{OWNER}/{NAME}"));
    assert_eq!(p["base"]["ref"], "main");
    assert_eq!(f.pulse_pr(pr)["headRefName"], "plan");
    let i = f.get(&format!("/issues/{issue}")).json();
    assert_eq!(i["user"]["login"], "bob");
    assert_eq!(i["body"], "some");
    assert!(i.get("pull_request").is_none());
}

#[test]
#[should_panic(expected = "cannot delete")]
fn pull_requests_cannot_be_deleted() {
    let f = Fixture::new();
    f.branch("feat", "main", &[("x.txt", "x\n")]);
    let n = f.create_pull("feat", "Feat");
    f.emu.delete_issue(n);
}

#[test]
fn workflow_runs_have_run_names_start_and_cancel() {
    let f = Fixture::new();
    f.commit_push(
        "main",
        &[(
            ".github/workflows/worker.yml",
            "name: worker\nrun-name: \"mission ${{ inputs.mission }} ${{inputs.feature}} (${{ inputs.run }})\"\non:\n  workflow_dispatch:\n    inputs:\n      mission: {required: true}\n",
        )],
    );
    let dispatch = |workflow: &str, inputs: serde_json::Value| {
        let r = f.send(
            "POST",
            &format!("/actions/workflows/{workflow}/dispatches"),
            json!({"ref": "main", "inputs": inputs, "return_run_details": true}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["workflow_run_id"].as_u64().unwrap()
    };
    let worker = dispatch(
        "worker.yml",
        json!({"mission": "m", "feature": "F2", "run": "r-1"}),
    );
    let plain = dispatch("mission.yml", json!({"mission": "m"}));
    let runs = f.emu.workflow_runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, worker);
    assert_eq!(runs[0].workflow, "worker.yml");
    assert_eq!(runs[0].display_title, "mission m F2 (r-1)");
    assert_eq!(
        runs[0].inputs,
        json!({"mission": "m", "feature": "F2", "run": "r-1"})
    );
    assert_eq!(
        (runs[0].status.as_str(), runs[0].conclusion.as_deref()),
        ("queued", None)
    );
    assert_eq!(
        runs[1].display_title, "mission",
        "no run-name: the workflow's name"
    );
    assert_eq!(
        f.get(&format!("/actions/runs/{worker}")).json()["display_title"],
        "mission m F2 (r-1)"
    );
    // The run-name is read at the dispatched ref: a branch without it keeps the name.
    f.branch("old", "main", &[("x.txt", "x\n")]);
    f.commit_push(
        "old",
        &[(".github/workflows/worker.yml", "on: workflow_dispatch\n")],
    );
    let r = f.send(
        "POST",
        "/actions/workflows/worker.yml/dispatches",
        json!({"ref": "old", "inputs": {"mission": "m"}}),
    );
    assert_eq!(r.status, 204);
    assert_eq!(f.emu.workflow_runs()[2].display_title, "worker");

    // A runner picks the run up; cancelling it ends it `cancelled`.
    f.emu.start_workflow_run(worker);
    assert_eq!(
        f.get(&format!("/actions/runs/{worker}")).json()["status"],
        "in_progress"
    );
    let in_progress = f.get("/actions/runs?status=in_progress").json();
    assert_eq!(in_progress["total_count"], 1);
    let cancel = f.send("POST", &format!("/actions/runs/{worker}/cancel"), json!({}));
    assert_eq!(cancel.status, 202, "{}", cancel.body);
    assert_eq!(cancel.json(), json!({}));
    let run = f.get(&format!("/actions/runs/{worker}")).json();
    assert_eq!(
        (run["status"].as_str(), run["conclusion"].as_str()),
        (Some("completed"), Some("cancelled"))
    );
    let again = f.send("POST", &format!("/actions/runs/{worker}/cancel"), json!({}));
    assert_eq!(again.status, 409);
    assert_eq!(
        again.json()["message"],
        "Cannot cancel a workflow run that is completed."
    );
    // A queued run can be cancelled too; a finished one cannot.
    f.emu.complete_workflow_run(plain, "success");
    assert_eq!(
        f.send("POST", &format!("/actions/runs/{plain}/cancel"), json!({}))
            .status,
        409
    );
    assert_eq!(
        f.emu.workflow_runs()[1].conclusion.as_deref(),
        Some("success")
    );
    let queued = f.emu.workflow_runs()[2].id;
    assert_eq!(
        f.send("POST", &format!("/actions/runs/{queued}/cancel"), json!({}))
            .status,
        202
    );
    assert_eq!(
        f.emu.workflow_runs()[2].conclusion.as_deref(),
        Some("cancelled")
    );
    assert_eq!(
        f.send("POST", "/actions/runs/12345/cancel", json!({}))
            .status,
        404
    );
}

/// A scenario over every route, checked against the OpenAPI description and the GraphQL
/// schema by scripts/check-github-contract.py (skipped when its Python modules are missing).
#[test]
fn contract_log_passes_the_checker() {
    let f = Fixture::new();
    f.emu.set_checks(Checks::PassAfter(1));
    f.emu.set_permission("carol", "maintain");
    let head = f.branch("feat", "main", &[("f.txt", "f\n")]);
    let n = f.create_pull("feat", "Feat");
    f.branch("left", "main", &[("README.md", "l\n")]);
    let conflict = f.create_pull("left", "Left");
    f.branch("right", "main", &[("README.md", "r\n")]);
    let right = f.create_pull("right", "Right");
    f.send(
        "POST",
        "/pulls",
        json!({"title": "dup", "head": "feat", "base": "main"}),
    );
    f.get("/pulls?state=all&per_page=1");
    f.get(&format!("/pulls/{n}"));
    f.get(&format!("/pulls/{n}"));
    f.send("PATCH", &format!("/pulls/{n}"), json!({"body": "more"}));
    f.get(&format!("/pulls/{n}/reviews"));
    f.send(
        "POST",
        &format!("/pulls/{n}/reviews"),
        json!({"event": "COMMENT", "body": "hm"}),
    );
    f.send(
        "POST",
        &format!("/pulls/{n}/reviews"),
        json!({"event": "APPROVE"}),
    );
    let issue = f.send(
        "POST",
        "/issues",
        json!({"title": "Mission", "body": "b", "labels": ["x"]}),
    );
    let i = issue.json()["number"].as_u64().unwrap();
    f.get(&format!("/issues/{i}"));
    f.get(&format!("/issues/{n}"));
    f.send(
        "PATCH",
        &format!("/issues/{i}"),
        json!({"title": "Mission 2"}),
    );
    let c = f.send(
        "POST",
        &format!("/issues/{n}/comments"),
        json!({"body": "hi"}),
    );
    let cid = c.json()["id"].as_u64().unwrap();
    f.emu.add_comment(i, "alice", false, "/mission status");
    f.get(&format!("/issues/{n}/comments"));
    f.get("/issues/comments?sort=created&direction=desc");
    f.send(
        "PATCH",
        &format!("/issues/comments/{cid}"),
        json!({"body": "hello"}),
    );
    f.send(
        "POST",
        &format!("/issues/comments/{cid}/reactions"),
        json!({"content": "rocket"}),
    );
    f.send(
        "POST",
        &format!("/issues/comments/{cid}/reactions"),
        json!({"content": "rocket"}),
    );
    f.get(&format!("/issues/comments/{cid}/reactions"));
    f.get("/collaborators/carol/permission");
    f.get("/collaborators/nobody/permission");
    f.get(&format!("/commits/{head}/check-runs"));
    f.get(&format!("/commits/{head}/status"));
    f.pulse(Some(i));
    f.pulse(None);
    f.pulse(Some(n));
    f.send(
        "PUT",
        &format!("/pulls/{n}/merge"),
        json!({"sha": "0000000000000000000000000000000000000000"}),
    );
    f.send("PUT", &format!("/pulls/{conflict}/merge"), json!({}));
    f.send(
        "PUT",
        &format!("/pulls/{conflict}/update-branch"),
        json!({"expected_head_sha": "1234"}),
    );
    f.send(
        "PUT",
        &format!("/pulls/{n}/merge"),
        json!({"sha": head, "merge_method": "merge"}),
    );
    f.get(&format!("/pulls/{n}/merge"));
    f.get(&format!("/pulls/{conflict}/merge"));
    f.get(&format!("/pulls/{n}"));
    f.send(
        "PUT",
        &format!("/pulls/{conflict}/update-branch"),
        json!({}),
    );
    f.pulse(None);
    f.pulse(None);
    let refused = f.send("PUT", &format!("/pulls/{right}/merge"), json!({}));
    assert_eq!(refused.status, 405);
    f.send("PUT", &format!("/pulls/{right}/update-branch"), json!({}));
    f.send(
        "POST",
        "/actions/workflows/mission.yml/dispatches",
        json!({"ref": "main", "inputs": {"a": "b"}, "return_run_details": true}),
    );
    f.send(
        "POST",
        "/actions/workflows/mission.yml/dispatches",
        json!({"ref": "main"}),
    );
    f.emu
        .complete_workflow_run(f.emu.dispatches()[0].run_id, "failure");
    f.get("/actions/workflows/mission.yml/runs");
    f.get("/actions/runs");
    f.get(&format!("/actions/runs/{}", f.emu.dispatches()[1].run_id));
    let queued = f.emu.dispatches()[1].run_id;
    f.emu.start_workflow_run(queued);
    f.send("POST", &format!("/actions/runs/{queued}/cancel"), json!({}));
    f.send("POST", &format!("/actions/runs/{queued}/cancel"), json!({}));
    let doomed = f.send("POST", "/issues", json!({"title": "Doomed"}));
    let doomed = doomed.json()["number"].as_u64().unwrap();
    f.emu.delete_issue(doomed);
    f.get(&format!("/issues/{doomed}"));
    f.send(
        "PATCH",
        &format!("/issues/{doomed}"),
        json!({"state": "closed"}),
    );
    f.get(&format!("/issues/{doomed}/comments"));
    f.send(
        "POST",
        &format!("/issues/{doomed}/comments"),
        json!({"body": "x"}),
    );
    f.pulse(Some(doomed));
    f.get("");
    http(&f.emu.url(), "GET", "/rate_limit", None, &[]);
    f.send(
        "PATCH",
        &format!("/pulls/{conflict}"),
        json!({"state": "closed"}),
    );
    f.emu.set_faults(Faults {
        rate: 1.0,
        seed: 5,
        kinds: vec![Fault::ServerError, Fault::SecondaryLimit, Fault::TooMany],
    });
    for _ in 0..4 {
        f.send(
            "POST",
            &format!("/issues/{i}/comments"),
            json!({"body": "x"}),
        );
        let body = json!({"query": MISSION_PULSE, "variables": {"owner": OWNER, "name": NAME, "issue": 0, "hasIssue": false, "threads": false}});
        http(&f.emu.url(), "POST", "/graphql", Some(&body), &[]);
    }
    f.emu.set_faults(Faults::default());
    assert!(
        f.emu
            .requests()
            .iter()
            .all(|r| !r.route.contains("nonsense"))
    );

    let log = f.dir.path().join("emulator.jsonl");
    f.emu.write_log(&log);
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(lines.lines().count(), f.emu.requests().len());

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = std::env::var("GITHUB_CONTRACT_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_modules = Command::new(&python)
        .args(["-c", "import jsonschema, graphql"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_modules {
        eprintln!(
            "note: skipping scripts/check-github-contract.py: `{python}` lacks jsonschema/graphql-core \
             (set GITHUB_CONTRACT_PYTHON to a Python that has them)"
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
    eprintln!("{text}");
    if let Ok(keep) = std::env::var("GITHUB_CONTRACT_KEEP_LOG") {
        std::fs::copy(&log, keep).expect("keep the log");
    }
    assert!(out.status.success(), "contract check failed:\n{text}");
    assert!(text.contains(": ok"), "{text}");
}

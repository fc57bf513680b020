//! `git mission comment --event <path>`: handle a GitHub `issue_comment` event payload (the
//! mission-comment workflow). Only `created` comments by people are considered; the payload's
//! text is data: it never reaches a shell, a path or a ref name.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::comments::Command;
use crate::comments::apply::{Handled, answer, handle, not_a_writer, permission, writer};
use crate::error::{Error, Result};
use crate::forge::github::{CommentObs, GitHub, MARK, mission_of_branch, reply_marker};
use crate::store::Store;
use crate::workspace::{Workspace, check_mission_id};

use super::{Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The event payload (in Actions: "$GITHUB_EVENT_PATH")
    #[arg(long, value_name = "PATH")]
    pub event: PathBuf,
}

fn ignored(cx: &Ctx, why: &str) -> Result<u8> {
    if cx.out.json {
        cx.out.json(&json!({ "handled": false, "ignored": why }));
    } else {
        cx.out.data(&format!("ignored: {why}"));
    }
    Ok(exit::OK)
}

pub fn run(cx: &Ctx, a: &Args) -> Result<u8> {
    let text = std::fs::read_to_string(&a.event).map_err(Error::io(&a.event))?;
    let payload: Value = serde_json::from_str(&text).map_err(|e| {
        Error::user_hint(
            format!("{} is not a JSON event payload: {e}", a.event.display()),
            "pass the issue_comment event file: --event \"$GITHUB_EVENT_PATH\"",
        )
    })?;
    let action = payload["action"].as_str().unwrap_or("");
    if payload["comment"].is_null() || payload["issue"].is_null() {
        return ignored(cx, "not an issue_comment event");
    }
    if action != "created" {
        return ignored(
            cx,
            &format!("a comment {action} event (only new comments command)"),
        );
    }
    let c = &payload["comment"];
    let body = c["body"].as_str().unwrap_or("");
    let login = c["user"]["login"].as_str().unwrap_or("");
    let bot = c["user"]["type"].as_str() == Some("Bot")
        || payload["sender"]["type"].as_str() == Some("Bot")
        || login.ends_with("[bot]");
    if bot {
        return ignored(cx, &format!("a comment by the bot {login:?}"));
    }
    if body.contains(MARK) {
        return ignored(cx, "a comment written by git mission");
    }
    if !crate::comments::has_command(body) {
        return ignored(cx, "no /mission command");
    }
    let (Some(comment_id), Some(number)) = (c["id"].as_u64(), payload["issue"]["number"].as_u64())
    else {
        return ignored(cx, "the payload has no comment id or issue number");
    };
    let ws = cx.workspace()?;
    let ov = cx.overrides();
    let obs = CommentObs {
        id: comment_id,
        on: number,
        body: body.to_owned(),
        login: login.to_owned(),
        bot,
    };
    // `/mission approve` outside a running mission's threads: on the pull request that
    // carries the draft, or answered with how to approve.
    if let Some(handled) = approve_route(&ws, &ov, &payload, &obs)? {
        return report(cx, comment_id, &[handled]);
    }
    // The missions addressed: named ones, else the thread's (tracking issue or mission PR).
    // An invalid line names no mission: it is answered in its thread.
    let named: Vec<Option<String>> = crate::comments::parse(body)
        .into_iter()
        .map(|r| r.ok().and_then(|p| p.mission))
        .collect();
    let unnamed = named.iter().any(Option::is_none);
    let mut ids: Vec<String> = named.into_iter().flatten().collect();
    if unnamed {
        let issue_body = payload["issue"]["body"].as_str().unwrap_or("");
        if let Some(id) = tracking_mission(issue_body) {
            ids.push(id);
        } else if payload["issue"]["pull_request"].is_object()
            && let Some(id) = pr_mission(&ws, &ov, number)?
        {
            ids.push(id);
        }
    }
    ids.sort();
    ids.dedup();
    ids.retain(|id| check_mission_id(id).is_ok());
    if ids.is_empty() {
        return ignored(
            cx,
            "no mission named, and the thread is not a mission's PR or tracking issue",
        );
    }
    let mut results = Vec::new();
    for id in &ids {
        let store = Store::new(&ws.repo, id);
        let config = crate::pulse::observe::current(&ws, &store, &ov)?.config;
        let forge = match crate::supervisor::open_forge(&ws, &store, &config)? {
            Some(f) => f,
            None => {
                return Err(Error::user_hint(
                    format!("mission {id} does not use GitHub"),
                    "set `forge: github` (docs/github.md)",
                ));
            }
        };
        // Each change is pushed with a lease as it is made; a lost race is re-applied.
        forge.sync()?;
        let store = Store::new(&ws.repo, id).publishing(&forge);
        let config = crate::pulse::observe::current(&ws, &store, &ov)?.config;
        let handled = handle(&store, &config, &forge, &obs)?;
        if !already_answered(&forge.gh, &obs, c["created_at"].as_str(), &forge.me())? {
            answer(&store, &forge.gh, &obs, &handled)?;
        }
        results.push((Some(id.clone()), handled));
    }
    report(cx, comment_id, &results)
}

/// Prints the results of a handled comment.
fn report(cx: &Ctx, comment_id: u64, results: &[(Option<String>, Handled)]) -> Result<u8> {
    if cx.out.json {
        let results: Vec<Value> = results
            .iter()
            .map(|(id, h)| json!({ "mission": id, "ok": h.ok, "reply": h.reply }))
            .collect();
        cx.out
            .json(&json!({ "handled": true, "comment": comment_id, "results": results }));
    } else {
        for (_, h) in results {
            cx.out.data(&h.reply);
        }
    }
    Ok(exit::OK)
}

/// `/mission approve` where no running mission's store can take it: on a pull request whose
/// head is not a mission branch (the PR that carries a draft), or on an issue that is not a
/// tracking issue. Answers the comment and returns what was done; `None` leaves the comment to
/// the missions' stores (a running mission answers that it has already started).
fn approve_route(
    ws: &Workspace,
    ov: &crate::config::Overrides,
    payload: &Value,
    obs: &CommentObs,
) -> Result<Option<(Option<String>, Handled)>> {
    let parsed: Vec<_> = crate::comments::parse(&obs.body)
        .into_iter()
        .filter_map(|r| r.ok())
        .collect();
    let Some(first) = parsed.iter().find(|p| p.command == Command::Approve) else {
        return Ok(None);
    };
    let named = first
        .mission
        .clone()
        .filter(|id| check_mission_id(id).is_ok());
    let others = parsed.iter().any(|p| p.command != Command::Approve);
    let config = crate::config::Config::load(&ws.repo, None, ov)?;
    let repo = crate::forge::github::repo_name(&ws.repo, &config)?;
    let ep = crate::forge::github::client::Endpoint::from_env(ws.repo.env(), &repo)?;
    let token = ep.token.clone();
    let gh = GitHub::new(ep)?;
    let handled = if payload["issue"]["pull_request"].is_object() {
        let r = gh.get(&gh.repo_path(&format!("/pulls/{}", obs.on)))?;
        if r.status != 200 {
            return Err(crate::forge::github::GitHubError::api(
                format!("get pull request #{}: {}", obs.on, r.message()),
                Some(r.status),
            )
            .into());
        }
        if r.body["head"]["ref"]
            .as_str()
            .and_then(mission_of_branch)
            .is_some()
        {
            return Ok(None); // a running mission's PR: its store answers
        }
        let remote_name = config.get_str("github.remote").unwrap_or("origin");
        let remote =
            crate::forge::github::sync::Remote::open(&ws.repo.root, remote_name, Some(&token))?;
        crate::comments::approve::from_pr(
            &ws.repo,
            ov,
            &gh,
            &remote,
            obs,
            named.as_deref(),
            others,
        )?
    } else {
        let tracking = tracking_mission(payload["issue"]["body"].as_str().unwrap_or(""));
        if tracking.is_some() || others {
            return Ok(None);
        }
        let perm = permission(&gh, &obs.login)?;
        if writer(&perm) {
            crate::comments::approve::elsewhere(&obs.login, named.as_deref())
        } else {
            not_a_writer(&obs.login, &perm)
        }
    };
    let created = payload["comment"]["created_at"].as_str();
    let me = gh.identity(&config.get_strs("github.logins"));
    if !already_answered(&gh, obs, created, &me)? {
        // No mission's log to claim the answer in (a draft's PR): the marker look-up above is
        // the guard.
        crate::comments::apply::post_answer(&gh, obs, &handled)?;
    }
    Ok(Some((named, handled)))
}

/// Whether the tool (`me`) already replied to the comment (a redelivered event). A marker in
/// anyone else's comment means nothing.
fn already_answered(
    gh: &GitHub,
    obs: &CommentObs,
    since: Option<&str>,
    me: &crate::forge::github::client::Identity,
) -> Result<bool> {
    let mut path = format!(
        "{}?per_page=100",
        gh.repo_path(&format!("/issues/{}/comments", obs.on))
    );
    if let Some(t) = since.filter(|t| t.parse::<jiff::Timestamp>().is_ok()) {
        path.push_str(&format!("&since={t}"));
    }
    let r = gh.get(&path)?;
    if r.status == 404 || r.status == 410 {
        // The thread is gone: nothing there to find (answering records it as unanswerable).
        return Ok(false);
    }
    if !r.ok() {
        return Err(crate::forge::github::GitHubError::api(
            format!("list comments: {}", r.message()),
            Some(r.status),
        )
        .into());
    }
    let mark = reply_marker(obs.id);
    Ok(r.body
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            me.is(
                c["user"]["login"].as_str().unwrap_or(""),
                c["user"]["type"].as_str() == Some("Bot"),
            )
        })
        .any(|c| c["body"].as_str().is_some_and(|b| b.contains(&mark))))
}

/// The mission of a tracking issue, from its hidden marker.
fn tracking_mission(issue_body: &str) -> Option<String> {
    let start = issue_body.find("<!-- git-mission:tracking mission=")?;
    let rest = &issue_body[start + "<!-- git-mission:tracking mission=".len()..];
    let id = rest.split_whitespace().next()?;
    crate::mission::ids::is_mission_id(id).then(|| id.to_owned())
}

/// The mission of a PR, from its head branch (asked over REST: the payload lacks it).
fn pr_mission(
    ws: &Workspace,
    ov: &crate::config::Overrides,
    number: u64,
) -> Result<Option<String>> {
    let config = crate::config::Config::load(&ws.repo, None, ov)?;
    let repo = crate::forge::github::repo_name(&ws.repo, &config)?;
    let ep = crate::forge::github::client::Endpoint::from_env(ws.repo.env(), &repo)?;
    let gh = crate::forge::github::GitHub::new(ep)?;
    let r = gh.get(&gh.repo_path(&format!("/pulls/{number}")))?;
    if r.status != 200 {
        return Ok(None);
    }
    Ok(r.body["head"]["ref"].as_str().and_then(mission_of_branch))
}

//! Applying `/mission` comment commands: who may command (the collaborator-permission API,
//! not `author_association`), applying each comment at most once (its id is recorded in the
//! same commit as its effect), and answering once (a reaction and a reply carrying a hidden
//! marker that is looked up before posting). Comment text is data only.

use crate::events::Kind;
use serde_json::json;

use super::{Command, GRAMMAR, parse};
use crate::config::Config;
use crate::control::{self, Op};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::forge::github::{CommentObs, Forge, GitHub, reply_marker};
use crate::mission::{MissionStatus, body};
use crate::store::{Store, Tx};

/// How a comment was handled.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    /// `Some(true)`: applied; `Some(false)`: refused; `None`: not a valid command.
    pub ok: Option<bool>,
    pub reply: String,
}

/// A GitHub login, checked before it reaches a URL.
pub fn check_login(login: &str) -> bool {
    let core = login.strip_suffix("[bot]").unwrap_or(login);
    !core.is_empty()
        && core.len() <= 39
        && core.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A user's access to the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The base level GitHub documents for the permission check: admin, maintain, write,
    /// triage, read or none. A custom role reports the level it is based on here.
    pub permission: String,
    /// The role's name (a custom role's own name), for messages only.
    pub role: String,
}

impl Access {
    fn none() -> Access {
        Access {
            permission: "none".into(),
            role: "none".into(),
        }
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.role == self.permission {
            f.write_str(&self.permission)
        } else {
            write!(f, "{}, based on {}", self.role, self.permission)
        }
    }
}

/// The user's access to the repository (the collaborator-permission API).
pub fn permission(gh: &GitHub, login: &str) -> Result<Access> {
    if !check_login(login) {
        return Ok(Access::none());
    }
    let r = gh.get(&gh.repo_path(&format!("/collaborators/{login}/permission")))?;
    match r.status {
        200 => {
            let permission = r.body["permission"].as_str().unwrap_or("none").to_owned();
            let role = r.body["role_name"]
                .as_str()
                .unwrap_or(&permission)
                .to_owned();
            Ok(Access { permission, role })
        }
        404 => Ok(Access::none()),
        _ => Err(crate::forge::github::GitHubError::api(
            format!("permission of {login}: {}", r.message()),
            Some(r.status),
        )
        .into()),
    }
}

pub(crate) fn writer(a: &Access) -> bool {
    matches!(a.permission.as_str(), "admin" | "maintain" | "write")
}

/// Handles a comment for the store's mission: applies its commands once, or returns how it
/// was handled before.
pub fn handle(store: &Store, config: &Config, forge: &Forge, c: &CommentObs) -> Result<Handled> {
    let id = store.id.clone();
    let Some(head) = store.head()? else {
        return Ok(Handled {
            ok: Some(false),
            reply: format!(
                "mission `{id}` has not started, so there is nothing to command yet. {}",
                super::approve::how_to(&id)
            ),
        });
    };
    if let Some(h) = recorded(&head.events, c.id) {
        return Ok(h);
    }
    let lines: Vec<_> = parse(&c.body)
        .into_iter()
        .filter(|r| match r {
            Ok(p) => p.mission.as_deref().is_none_or(|m| m == id),
            Err(_) => true,
        })
        .collect();
    let commands: Vec<Command> = lines
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|p| p.command.clone()))
        .collect();
    // Who may command comes first: a non-writer's text is never answered, only refused.
    let perm = permission(&forge.gh, &c.login)?;
    let handled = if !writer(&perm) {
        not_a_writer(&c.login, &perm)
    } else if commands.is_empty() {
        let why = lines
            .iter()
            .find_map(|r| r.as_ref().err().map(|e| e.message.clone()))
            .unwrap_or_else(|| "no command".into());
        Handled {
            ok: None,
            reply: format!("@{}: {why}. Commands:\n\n```\n{GRAMMAR}\n```", c.login),
        }
    } else {
        {
            // Applied in the same commit that records the comment: at most once.
            let cap = config.limit("limits.validation_failures");
            let mut result = None;
            store.mutate(
                &format!("comment {}: /mission by @{}", c.id, c.login),
                |tx| {
                    if let Some(h) = recorded(&tx.head.events, c.id) {
                        result = Some(h);
                        return Ok(false);
                    }
                    let mut replies = Vec::new();
                    let mut ok = true;
                    for cmd in &commands {
                        match apply(tx, cmd, &c.login, config, cap) {
                            Ok(s) => replies.push(format!("✓ {s}")),
                            Err(s) => {
                                ok = false;
                                replies.push(format!("✗ {s}"));
                            }
                        }
                    }
                    let h = Handled {
                        ok: Some(ok),
                        reply: format!("@{}: mission `{id}`\n\n{}", c.login, replies.join("\n")),
                    };
                    tx.event(handled_event(c, &h));
                    result = Some(h);
                    Ok(true)
                },
            )?;
            return result.ok_or_else(|| Error::Internal("comment not handled".into()));
        }
    };
    // Refusals and invalid commands are recorded too, so they are answered once.
    store.mutate(&format!("comment {}: refused", c.id), |tx| {
        if recorded(&tx.head.events, c.id).is_some() {
            return Ok(false);
        }
        tx.event(handled_event(c, &handled));
        Ok(true)
    })?;
    Ok(handled)
}

/// The refusal for someone who may not command missions.
pub(crate) fn not_a_writer(login: &str, perm: &Access) -> Handled {
    Handled {
        ok: Some(false),
        reply: format!(
            "@{login}: only people with write, maintain or admin permission on this repository can command missions (yours: {perm}). Nothing was changed."
        ),
    }
}

/// The record of a handled comment; [`recorded`] reads it back.
fn handled_event(c: &CommentObs, h: &Handled) -> Event {
    Event::new(Kind::CommentHandled).data(json!({
        "comment": c.id, "on": c.on, "by": c.login, "ok": h.ok, "reply": h.reply,
    }))
}

fn recorded(events: &[Event], comment: u64) -> Option<Handled> {
    events
        .iter()
        .find(|e| e.kind == Kind::CommentHandled && e.data["comment"].as_u64() == Some(comment))
        .map(|e| Handled {
            ok: e.data["ok"].as_bool(),
            reply: e.data["reply"].as_str().unwrap_or("").to_owned(),
        })
}

/// One command against the mission in a transaction: a one-line result, or why not.
fn apply(
    tx: &mut Tx,
    cmd: &Command,
    who: &str,
    config: &Config,
    cap: u32,
) -> std::result::Result<String, String> {
    let id = tx.mission.id.clone();
    let status = tx.mission.status;
    match cmd {
        Command::Status => {
            let merged = tx
                .mission
                .features()
                .filter(|(_, f)| f.status == crate::mission::FeatureStatus::Merged)
                .count();
            let total = tx.mission.features().count();
            Ok(format!(
                "{id} is {status}: {merged} of {total} features merged"
            ))
        }
        Command::Pause { now } => {
            if status != MissionStatus::Running {
                return Err(format!("{id} is {status}; nothing to pause"));
            }
            tx.mission.status = MissionStatus::Paused;
            tx.event(Event::new(Kind::MissionPaused).data(json!({ "now": now, "by": who })));
            Ok(if *now {
                format!(
                    "paused {id}; the next pulse stops running workers (their work so far is kept)"
                )
            } else {
                format!("paused {id} (running workers finish)")
            })
        }
        Command::Resume => match control::resume_mission(&mut tx.mission, config) {
            Ok(Some(events)) => {
                for e in events {
                    tx.event(e);
                }
                Ok(format!("resumed {id}"))
            }
            Ok(None) => Err(format!("{id} is {status}; nothing to resume")),
            Err((why, hint)) => Err(format!("{why} ({hint})")),
        },
        Command::Cancel => {
            if status.is_finished() {
                return Err(format!("{id} is {status}"));
            }
            tx.mission.status = MissionStatus::Cancelled;
            tx.event(Event::new(Kind::MissionCancelled).data(json!({ "by": who })));
            Ok(format!("cancelled {id} (branches are kept)"))
        }
        Command::Approve => Err(format!(
            "{id} has already started ({status}); only a draft can be approved"
        )),
        Command::Revalidate { milestone } => {
            match control::revalidate_mission(&mut tx.mission, milestone, cap, who) {
                Ok(events) => {
                    for e in events {
                        tx.event(e);
                    }
                    Ok(format!(
                        "{milestone} will be validated again by the next pulse"
                    ))
                }
                Err(why) => Err(why),
            }
        }
        Command::Skip { feature, reason } => op(
            tx,
            Op::Skip {
                feature: feature.clone(),
                reason: reason
                    .clone()
                    .unwrap_or_else(|| format!("skipped by @{who}")),
            },
            who,
            reason.as_deref(),
        ),
        Command::Retry { feature } => op(
            tx,
            Op::Retry {
                feature: feature.clone(),
            },
            who,
            None,
        ),
        Command::Steer { feature, text } => op(
            tx,
            Op::Steer {
                feature: feature.clone(),
                message: text.clone(),
            },
            who,
            None,
        ),
    }
}

fn op(tx: &mut Tx, op: Op, who: &str, why: Option<&str>) -> std::result::Result<String, String> {
    let at = tx.now;
    let mut m = tx.mission.clone();
    let applied = control::apply(&mut m, &op).map_err(|e| e.to_string())?;
    tx.mission = m;
    for e in &applied.events {
        tx.event(e.clone());
    }
    let current = tx
        .body
        .clone()
        .unwrap_or_else(|| tx.head.doc.body().to_owned());
    tx.body = Some(body::append_to_section(
        &current,
        "Decision Log",
        &control::decision(at, &format!("@{who} (GitHub)"), &applied.summary, why),
    ));
    Ok(applied.summary)
}

/// How posting an answer went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Yes,
    /// GitHub refused it for good (422 body too long, 404 or 410: the comment or thread is
    /// gone): recorded as handled, never retried, never in the way of other actions.
    Refused {
        status: u16,
        message: String,
    },
}

/// GitHub's limit on a comment body is 65,536 characters; replies stay well below.
const REPLY_LIMIT: usize = 60_000;

/// Posts the reaction and the reply. A transient failure (5xx, network) is an error: the
/// reply is tried again later.
pub fn post_answer(gh: &GitHub, c: &CommentObs, h: &Handled) -> Result<Posted> {
    let content = match h.ok {
        Some(true) => "+1",
        Some(false) => "-1",
        None => "confused",
    };
    let r = gh.post(
        &gh.repo_path(&format!("/issues/comments/{}/reactions", c.id)),
        &json!({ "content": content }),
    )?;
    if !r.ok() {
        tracing::warn!("cannot react to comment {}: {}", c.id, r.message());
    }
    let mut reply = h.reply.clone();
    if reply.len() > REPLY_LIMIT {
        let mut end = REPLY_LIMIT;
        while !reply.is_char_boundary(end) {
            end -= 1;
        }
        reply.truncate(end);
        reply.push_str("\n… (truncated)");
    }
    let r = gh.post(
        &gh.repo_path(&format!("/issues/{}/comments", c.on)),
        &json!({ "body": format!("{reply}\n\n{}", reply_marker(c.id)) }),
    )?;
    match r.status {
        201 => Ok(Posted::Yes),
        400..=499 => Ok(Posted::Refused {
            status: r.status,
            message: r.message(),
        }),
        _ => Err(crate::forge::github::GitHubError::api(
            format!("reply to comment {}: {}", c.id, r.message()),
            Some(r.status),
        )
        .into()),
    }
}

/// The state of a comment's answer in the log: `Some(true)` done (answered, or refused for
/// good), `Some(false)` someone is at it, `None` free to answer.
fn answer_state(events: &[Event], comment: u64, env: &crate::env::Env) -> Option<bool> {
    let e = events.iter().rev().find(|e| {
        e.data["comment"].as_u64() == Some(comment)
            && matches!(
                e.kind,
                Kind::CommentAnswering
                    | Kind::CommentAnswered
                    | Kind::CommentUnanswerable
                    | Kind::CommentAnswerReleased
            )
    })?;
    match e.kind {
        Kind::CommentAnswered | Kind::CommentUnanswerable => Some(true),
        Kind::CommentAnswering => crate::claims::Claim::of(e)
            .is_some_and(|c| c.live(env))
            .then_some(false),
        _ => None,
    }
}

/// Records a reply found on GitHub (by its marker, from the tool's own identity) whose
/// answer was lost before the log said so: `comment.answered` with `found: true`.
pub fn found_answer(store: &Store, comment: u64) -> Result<()> {
    store.mutate(&format!("comment {comment}: answered"), |tx| {
        if answer_state(&tx.head.events, comment, store.repo.env()) == Some(true) {
            return Ok(false);
        }
        tx.event(
            Event::new(Kind::CommentAnswered).data(json!({ "comment": comment, "found": true })),
        );
        Ok(true)
    })?;
    Ok(())
}

/// Answers a handled comment once, even when two deliveries of its event race: the answer is
/// claimed in the mission's log first (`comment.answering`, pushed with a lease), posted, then
/// recorded (`comment.answered`). A reply GitHub refuses for good is recorded as
/// `comment.unanswerable` and never blocks anything; a transient failure releases the claim, so
/// a later pulse answers.
pub fn answer(store: &Store, gh: &GitHub, c: &CommentObs, h: &Handled) -> Result<()> {
    let claim = crate::claims::Claim::mine(store.repo.env(), std::time::Duration::from_secs(300));
    let claimed = store.mutate(&format!("comment {}: answering", c.id), |tx| {
        if answer_state(&tx.head.events, c.id, store.repo.env()).is_some() {
            return Ok(false);
        }
        let mut data = claim.data();
        data["comment"] = json!(c.id);
        tx.event(Event::new(Kind::CommentAnswering).data(data));
        Ok(true)
    })?;
    if claimed.is_none() {
        return Ok(());
    }
    let (kind, data) = match post_answer(gh, c, h) {
        Ok(Posted::Yes) => (Kind::CommentAnswered, json!({ "comment": c.id })),
        Ok(Posted::Refused { status, message }) => {
            tracing::warn!(
                "GitHub refused the reply to comment {}: {status} {message}",
                c.id
            );
            (
                Kind::CommentUnanswerable,
                json!({ "comment": c.id, "status": status, "message": message }),
            )
        }
        Err(e) => {
            tracing::warn!(
                "replying to comment {}: {e}; a later pulse tries again",
                c.id
            );
            (
                Kind::CommentAnswerReleased,
                json!({ "comment": c.id, "error": e.to_string() }),
            )
        }
    };
    store.mutate(&format!("comment {}: answer", c.id), |tx| {
        tx.event(Event::new(kind.clone()).data(data.clone()));
        Ok(true)
    })?;
    Ok(())
}

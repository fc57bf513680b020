//! Applying `/mission` comment commands: who may command (the collaborator-permission API,
//! not `author_association`), applying each comment at most once (its id is recorded in the
//! same commit as its effect), and answering once (a reaction and a reply carrying a hidden
//! marker that is looked up before posting). Comment text is data only.

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

/// The user's permission on the repository: admin, maintain, write, triage, read or none.
pub fn permission(gh: &GitHub, login: &str) -> Result<String> {
    if !check_login(login) {
        return Ok("none".into());
    }
    let r = gh.get(&gh.repo_path(&format!("/collaborators/{login}/permission")))?;
    match r.status {
        200 => Ok(r.body["role_name"]
            .as_str()
            .or_else(|| r.body["permission"].as_str())
            .unwrap_or("none")
            .to_owned()),
        404 => Ok("none".into()),
        _ => Err(Error::Forge {
            message: format!("permission of {login}: {}", r.message()),
            status: r.status,
        }),
    }
}

pub(crate) fn writer(p: &str) -> bool {
    matches!(p, "admin" | "maintain" | "write")
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
    let handled = if commands.is_empty() {
        let why = lines
            .iter()
            .find_map(|r| r.as_ref().err().map(|e| e.message.clone()))
            .unwrap_or_else(|| "no command".into());
        Handled {
            ok: None,
            reply: format!("@{}: {why}. Commands:\n\n```\n{GRAMMAR}\n```", c.login),
        }
    } else {
        let perm = permission(&forge.gh, &c.login)?;
        if !writer(&perm) {
            not_a_writer(&c.login, &perm)
        } else {
            // Applied in the same commit that records the comment: at most once.
            let cap = config.get_u64("limits.validation_failures").unwrap_or(5) as u32;
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
pub(crate) fn not_a_writer(login: &str, perm: &str) -> Handled {
    Handled {
        ok: Some(false),
        reply: format!(
            "@{login}: only people with write, maintain or admin permission on this repository can command missions (yours: {perm}). Nothing was changed."
        ),
    }
}

/// The record of a handled comment; [`recorded`] reads it back.
fn handled_event(c: &CommentObs, h: &Handled) -> Event {
    Event::new("comment.handled").data(json!({
        "comment": c.id, "on": c.on, "by": c.login, "ok": h.ok, "reply": h.reply,
    }))
}

fn recorded(events: &[Event], comment: u64) -> Option<Handled> {
    events
        .iter()
        .find(|e| e.kind == "comment.handled" && e.data["comment"].as_u64() == Some(comment))
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
            tx.event(Event::new("mission.paused").data(json!({ "now": now, "by": who })));
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
            if matches!(status, MissionStatus::Completed | MissionStatus::Cancelled) {
                return Err(format!("{id} is {status}"));
            }
            tx.mission.status = MissionStatus::Cancelled;
            tx.event(Event::new("mission.cancelled").data(json!({ "by": who })));
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
        &control::decision(&format!("@{who} (GitHub)"), &applied.summary, why),
    ));
    Ok(applied.summary)
}

/// Answers a handled comment: a reaction (idempotent on GitHub) and one reply, posted only if
/// no reply with its marker exists.
pub fn answer(gh: &GitHub, c: &CommentObs, h: &Handled) -> Result<()> {
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
    let r = gh.post(
        &gh.repo_path(&format!("/issues/{}/comments", c.on)),
        &json!({ "body": format!("{}\n\n{}", h.reply, reply_marker(c.id)) }),
    )?;
    if r.status != 201 {
        return Err(Error::Forge {
            message: format!("reply to comment {}: {}", c.id, r.message()),
            status: r.status,
        });
    }
    Ok(())
}

//! `git mission pause`, `resume`, `cancel` and `log`.

use crate::events::Kind;
use std::time::Duration;

use serde_json::json;

use crate::error::{Error, Result};
use crate::events::Event;
use crate::mission::MissionStatus;
use crate::runs::RunState;
use crate::store::Store;
use crate::workspace::{Workspace, check_mission_id};

use super::{Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    /// Mission id
    pub id: String,
    /// Stop running workers now (their work in progress is committed)
    #[arg(long)]
    pub now: bool,
}

#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// Mission id
    pub id: String,
}

#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// Mission id
    pub id: String,
    /// Keep printing new events as they are committed
    #[arg(long, short)]
    pub follow: bool,
}

fn started<'r>(ws: &'r Workspace, id: &str) -> Result<Store<'r>> {
    check_mission_id(id)?;
    let store = Store::new(&ws.repo, id);
    if store.head()?.is_none() {
        ws.read(id, false)?;
        return Err(Error::user_hint(
            format!("mission {id} has not started"),
            format!("start it with `git mission run {id}`"),
        ));
    }
    Ok(store)
}

/// Asks every live run of the mission to stop, and stops its agent's process group.
fn stop_runs(cx: &Ctx, ws: &Workspace, id: &str) -> Result<usize> {
    let layout = cx.layout(ws, id)?;
    let mut n = 0;
    for (meta, state) in layout.list() {
        if meta.mission != id || !matches!(state, RunState::Running { .. }) {
            continue;
        }
        layout.stop(&meta.run);
        n += 1;
    }
    Ok(n)
}

pub fn pause(cx: &Ctx, a: &PauseArgs) -> Result<u8> {
    let ws = cx.workspace()?;
    let store = started(&ws, &a.id)?;
    let changed = store.mutate("mission: paused", |tx| {
        if tx.mission.status != MissionStatus::Running {
            return Ok(false);
        }
        tx.mission.status = MissionStatus::Paused;
        tx.event(Event::new(Kind::MissionPaused).data(json!({ "now": a.now })));
        Ok(true)
    })?;
    let stopped = if a.now { stop_runs(cx, &ws, &a.id)? } else { 0 };
    let status = store.head()?.map(|h| h.mission().status);
    if cx.out.json {
        cx.out.json(&json!({ "id": a.id, "status": status, "changed": changed.is_some(), "stopped_runs": stopped }));
    } else if changed.is_some() {
        cx.out.data(&format!(
            "paused {}{}",
            a.id,
            if a.now {
                format!(" (stopped {stopped} running workers)")
            } else {
                " (running workers finish)".into()
            }
        ));
    } else {
        cx.out.data(&format!(
            "{} is {}; nothing to pause",
            a.id,
            status.map_or("unknown".into(), |s| s.to_string())
        ));
    }
    Ok(exit::OK)
}

pub fn resume(cx: &Ctx, a: &IdArgs) -> Result<u8> {
    let ws = cx.workspace()?;
    let store = started(&ws, &a.id)?;
    let config = crate::config::Config::load(
        &ws.repo,
        store
            .head()?
            .as_ref()
            .map(|h| (h.mission(), store.file.as_str())),
        &cx.overrides(),
    )?;
    let mut refused = None;
    let changed = store.mutate(
        "mission: resumed",
        |tx| match crate::control::resume_mission(&mut tx.mission, &config) {
            Ok(Some(events)) => {
                for e in events {
                    tx.event(e);
                }
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(why) => {
                refused = Some(why);
                Ok(false)
            }
        },
    )?;
    if let Some((msg, hint)) = refused {
        return Err(Error::user_hint(msg, hint));
    }
    if cx.out.json {
        cx.out
            .json(&json!({ "id": a.id, "changed": changed.is_some() }));
    } else if changed.is_some() {
        cx.out.data(&format!("resumed {}", a.id));
        cx.out
            .hint(&format!("continue with `git mission run {}`", a.id));
    } else {
        cx.out.data(&format!(
            "{} is not paused or blocked; nothing to resume",
            a.id
        ));
    }
    Ok(exit::OK)
}

pub fn cancel(cx: &Ctx, a: &IdArgs) -> Result<u8> {
    let ws = cx.workspace()?;
    let store = started(&ws, &a.id)?;
    let changed = store.mutate("mission: cancelled", |tx| {
        if tx.mission.status.is_finished() {
            return Ok(false);
        }
        tx.mission.status = MissionStatus::Cancelled;
        tx.event(Event::new(Kind::MissionCancelled));
        Ok(true)
    })?;
    let stopped = stop_runs(cx, &ws, &a.id)?;
    if cx.out.json {
        cx.out
            .json(&json!({ "id": a.id, "changed": changed.is_some(), "stopped_runs": stopped }));
    } else {
        cx.out.data(&format!(
            "cancelled {} ({stopped} running workers stopped; branches are kept)",
            a.id
        ));
    }
    Ok(exit::OK)
}

pub fn log(cx: &Ctx, a: &LogArgs) -> Result<u8> {
    let ws = cx.workspace()?;
    let store = started(&ws, &a.id)?;
    let mut shown = 0u64;
    loop {
        let head = store
            .head()?
            .ok_or_else(|| Error::user("the integration branch is gone"))?;
        let since = shown;
        for e in head.events.iter().filter(|e| e.seq > since) {
            if cx.out.json {
                cx.out
                    .data(&serde_json::to_string(e).expect("events serialise"));
            } else {
                cx.out.data(&e.human());
            }
            shown = e.seq;
        }
        if !a.follow || head.mission().status.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Ok(exit::OK)
}

//! The orchestrator turn: after a block, one run of the orchestrator agent (role
//! `orchestrator`, the `mission-orchestrator` skill, the recovery packet as prompt) in a scratch
//! detached worktree. It acts only through `git mission` commands; code it changes is discarded
//! and reported. Afterwards the mission continues only if it is running and valid; otherwise it
//! stays blocked with `needs_input` and the orchestrator's question.

use crate::events::Kind;
use std::path::Path;

use serde_json::json;

use crate::agents::Role;
use crate::context::Exec;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::git;
use crate::mission::{Block, MissionStatus, Severity};

/// One turn, claimed first (a paid agent run must not happen twice for one block): a turn
/// whose holder is gone is taken over, one at work is left alone.
pub fn turn(cx: &mut Exec) -> Result<()> {
    let lease = cx.config.worker_timeout() + std::time::Duration::from_secs(300);
    let claim = crate::claims::Claim::mine(cx.ws.repo.env(), lease);
    let claimed = cx.store.mutate("orchestrator: claim the turn", |tx| {
        if tx.mission.status != MissionStatus::Blocked || tx.mission.block.is_none() {
            return Ok(false);
        }
        let events = &tx.head.events;
        let last_block = events
            .iter()
            .rev()
            .find(|e| e.kind == Kind::MissionBlocked)
            .map_or(0, |e| e.seq);
        let taken = events
            .iter()
            .any(|e| e.kind == Kind::OrchestratorTurn && e.seq > last_block)
            || crate::claims::orchestrator_claim(events).is_some_and(|c| c.live(cx.ws.repo.env()));
        if taken {
            return Ok(false);
        }
        tx.event(Event::new(Kind::OrchestratorClaimed).data(claim.data()));
        Ok(true)
    })?;
    let Some(head) = claimed else { return Ok(()) };
    let result = turn_claimed(cx, &head);
    if let Err(e) = &result {
        let me = std::process::id();
        cx.store.mutate("orchestrator: turn not taken", |tx| {
            let ours =
                crate::claims::orchestrator_claim(&tx.head.events).is_some_and(|c| c.pid == me);
            if !ours {
                return Ok(false);
            }
            tx.event(
                Event::new(Kind::OrchestratorReleased).data(json!({ "error": e.to_string() })),
            );
            Ok(true)
        })?;
    }
    result
}

fn turn_claimed(cx: &mut Exec, head: &crate::store::Head) -> Result<()> {
    let Some(block) = head.mission().block.clone() else {
        return Ok(());
    };
    let turns = head
        .events
        .iter()
        .filter(|e| e.kind == Kind::OrchestratorTurn)
        .count() as u32;
    let run = cx.layout.new_run_id("orchestrator", turns + 1);
    let dir = cx.layout.run(&run);
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;

    // The turn is claimed: scratch worktrees of earlier turns belong to holders that are gone.
    let wt = cx.scratch_worktree(
        "orchestrator.",
        &format!("{}.{run}", std::process::id()),
        &head.commit.to_string(),
    )?;
    let packet = match &block.packet {
        Some(p) => cx.store.read_at(head, p)?.unwrap_or_default(),
        None => String::new(),
    };
    let id = cx.store.id.clone();
    let prompt = format!(
        "{}\n\n# The block\n\nMission `{id}` is blocked ({}): {}\n\n{}\n\n# Where you are\n\nA scratch worktree of the repository (your changes to files here are discarded). \
         Run `git mission` commands for mission `{id}` from here, e.g. `git mission status {id}`. \
         Write what you did, or your question for a person, to `$GIT_MISSION_HANDOFF_FILE`.\n",
        crate::skills::body("mission-orchestrator"),
        block.reason,
        block.message,
        packet.trim()
    );
    let handoff_file = dir.join("handoff.md");
    let s = |x: &Path| x.to_string_lossy().into_owned();
    let mut env: Vec<(String, String)> = vec![
        ("GIT_MISSION_ID".into(), id.clone()),
        (
            "GIT_MISSION_MILESTONE".into(),
            block.milestone.clone().unwrap_or_default(),
        ),
        (
            "GIT_MISSION_FEATURE".into(),
            block.feature.clone().unwrap_or_default(),
        ),
        ("GIT_MISSION_RUN".into(), run.clone()),
        ("GIT_MISSION_ATTEMPT".into(), (turns + 1).to_string()),
        ("GIT_MISSION_HANDOFF_FILE".into(), s(&handoff_file)),
        ("GIT_MISSION_WORKTREE".into(), s(&wt)),
    ];
    env.extend(crate::worker::commit_env(&cx.ws.repo));
    let ran = crate::worker::AgentRun {
        config: cx.config,
        clock: cx.ws.repo.clock(),
        role: Role::Orchestrator,
        dir: &dir,
        cwd: &wt,
        prompt: &prompt,
        env,
    }
    .run()?;
    let (fin, outcome) = (ran.finished, ran.outcome);
    // Whatever it changed in files is discarded, and said.
    let mut discarded: Vec<String> = git::git(&wt, &["status", "--porcelain"])?
        .lines()
        .map(|l| l[3.min(l.len())..].to_owned())
        .collect();
    let commits = git::git(&wt, &["rev-list", &format!("{}..HEAD", head.commit)])?;
    if !commits.trim().is_empty() {
        discarded.push(format!("{} commit(s)", commits.lines().count()));
    }
    cx.ws.repo.remove_worktree(&wt);
    let answer = std::fs::read_to_string(&handoff_file)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .or(outcome.final_message.clone());
    let question = answer
        .clone()
        .unwrap_or_else(|| "the orchestrator gave no answer".into());
    let question: String = question.trim().chars().take(800).collect();
    // Is the mission runnable and valid now?
    let after = cx
        .store
        .head()?
        .ok_or_else(|| Error::Internal("the mission vanished".into()))?;
    let errors: Vec<String> =
        crate::mission::validate::validate(&after.doc, Some(&id), &cx.config.profile_names())
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.message)
            .collect();
    let usage = outcome.usage.clone();
    cx.store.mutate("orchestrator: turn", |tx| {
        tx.mission.spent.add_run(usage.usd, usage.total_tokens(), fin.wall_ms);
        let continues = tx.mission.status == MissionStatus::Running && errors.is_empty();
        let outcome = if continues { "continued" } else { "needs_input" };
        let message = if errors.is_empty() {
            question.clone()
        } else {
            format!("the orchestrator left the mission invalid: {}", errors.join("; "))
        };
        tx.event(Event::new(Kind::OrchestratorTurn).run(&run, turns + 1).data(json!({
            "outcome": outcome, "block": block.reason.as_str(), "discarded": discarded, "answer": answer,
            "exit_code": fin.code, "timed_out": fin.timed_out, "errors": errors,
            "question": (!continues).then_some(&message), "message": block.message,
        })));
        if !continues {
            // The block keeps its reason and message (the root cause); the orchestrator's
            // question is beside it. No new `mission.blocked`: this block had its turn.
            tx.mission.status = MissionStatus::Blocked;
            tx.mission.block = Some(Block {
                question: Some(message.clone()),
                ..block.clone()
            });
        }
        Ok(true)
    })?;
    Ok(())
}

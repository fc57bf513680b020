//! Milestone validation by commands: each `validation.commands` entry runs in a fresh detached
//! worktree at the integration head. Pass → the milestone passes; fail → `failures += 1`, the
//! output is kept in `runs/<run-id>.md`, and the mission blocks with `validation_failed`
//! (`validation_limit` once `limits.validation_failures` is reached).
//!
//! When the commands pass, the validator agents the milestone asks for (scrutiny, user testing)
//! run in the same worktree (`validator.rs`). The validation is claimed before it starts, and
//! its worktree is private to the claim.

use crate::events::Kind;
use serde_json::json;

use crate::claims::{self, Claim};
use crate::context::Exec;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::mission::{Block, BlockReason, MilestoneStatus, MissionStatus};
use crate::process;

struct CommandResult {
    command: String,
    code: Option<i32>,
    timed_out: bool,
    wall_ms: u64,
    tail: String,
}

/// Validates a milestone: claims the validation (a CAS commit naming this process), then runs
/// it in a worktree private to the claim. A validation whose holder is gone is taken over; one
/// whose holder is at work is left alone, so a validator agent never runs twice.
pub fn validate(cx: &mut Exec, milestone: &str) -> Result<()> {
    let (commands, agents) = cx
        .store
        .head()?
        .and_then(|h| h.mission().milestone(milestone).cloned())
        .map_or((0, 0), |m| {
            let v = &m.validation;
            (
                v.commands.len() as u32,
                u32::from(v.scrutiny) + u32::from(v.user_testing.is_some()),
            )
        });
    let lease =
        cx.config.worker_timeout() * (commands + agents + 1) + std::time::Duration::from_secs(300);
    let claim = Claim::mine(cx.ws.repo.env(), lease);
    let started = cx.store.mutate(&format!("{milestone}: validating"), |tx| {
        if tx.mission.status != MissionStatus::Running {
            return Ok(false);
        }
        let taken = claims::validation_claim(&tx.head.events, milestone)
            .is_some_and(|c| c.live(cx.ws.repo.env()));
        let Some(m) = tx.mission.milestones.iter_mut().find(|m| m.id == milestone) else {
            return Ok(false);
        };
        let ready = m.features.iter().all(|f| {
            matches!(
                f.status,
                crate::mission::FeatureStatus::Merged | crate::mission::FeatureStatus::Skipped
            )
        });
        if !ready
            || taken
            || !matches!(
                m.status,
                MilestoneStatus::Active | MilestoneStatus::Validating
            )
        {
            return Ok(false);
        }
        m.status = MilestoneStatus::Validating;
        tx.event(
            Event::new(Kind::MilestoneValidating)
                .milestone(milestone)
                .data(claim.data()),
        );
        Ok(true)
    })?;
    let Some(head) = started else { return Ok(()) };
    crate::fault!("validate.after_claim");
    let result = validate_claimed(cx, milestone, &head);
    if let Err(e) = &result {
        // Not a verdict: release the claim so the validation can be taken up again.
        let me = std::process::id();
        cx.store
            .mutate(&format!("{milestone}: validation not done"), |tx| {
                let ours = claims::validation_claim(&tx.head.events, milestone)
                    .is_some_and(|c| c.pid == me);
                if !ours {
                    return Ok(false);
                }
                tx.event(
                    Event::new(Kind::MilestoneValidationReleased)
                        .milestone(milestone)
                        .data(json!({ "error": e.to_string() })),
                );
                Ok(true)
            })?;
    }
    result
}

fn validate_claimed(cx: &mut Exec, milestone: &str, head: &crate::store::Head) -> Result<()> {
    let ms = head
        .mission()
        .milestone(milestone)
        .cloned()
        .ok_or_else(|| Error::Internal(format!("no milestone {milestone}")))?;
    let run = cx.layout.new_run_id(milestone, ms.failures + 1);
    // Worktrees of earlier claims on this validation belong to holders that are gone.
    let wt = cx.scratch_worktree_without_runs(
        &format!("validate-{milestone}."),
        &format!("{}.{run}", std::process::id()),
        &head.commit.to_string(),
    )?;
    let out_dir = cx.layout.run(&run);
    std::fs::create_dir_all(&out_dir).map_err(Error::io(&out_dir))?;
    let results = run_commands(cx, &ms.validation.commands, &wt, &out_dir)?;
    crate::fault!("validate.after_commands");
    let commands_passed = results.iter().all(|r| r.code == Some(0) && !r.timed_out);
    // Validator agents judge only what the commands let through.
    let (validators, validator_error) = if commands_passed {
        run_validators(cx, head, &ms, &wt, &results)
    } else {
        (Vec::new(), None)
    };
    cx.ws.repo.remove_worktree(&wt);
    crate::fault!("validate.after_validators");
    let passed = commands_passed
        && validator_error.is_none()
        && validators.iter().all(|v| v.failure.is_none());
    let report = report(
        milestone,
        &run,
        &head.commit.to_string(),
        &results,
        &ms.validation,
        passed,
    );
    let cap = cx.config.limit("limits.validation_failures");
    let wall: u64 = results.iter().map(|r| r.wall_ms).sum();
    let git_state = if passed {
        crate::recovery::GitState::default()
    } else {
        cx.git_state()
    };
    let details = failure_details(&results, validator_error.as_deref(), &validators);
    let validator_runs: Vec<String> = validators.iter().map(|v| v.run.clone()).collect();
    cx.store.mutate(&format!("{milestone}: validation {}", if passed { "passed" } else { "failed" }), |tx| {
        let Some(mi) = tx.mission.milestones.iter().position(|m| m.id == milestone) else { return Ok(false) };
        if tx.mission.milestones[mi].status != MilestoneStatus::Validating {
            return Ok(false);
        }
        let attempt = tx.mission.milestones[mi].failures + 1;
        let path = crate::workspace::run_record_file(&tx.mission.id, &run);
        tx.files.push((path, report.clone().into_bytes()));
        record_validators(tx, milestone, attempt, &validators);
        let summary: Vec<_> = results.iter().map(|r| json!({ "command": r.command, "exit_code": r.code, "timed_out": r.timed_out })).collect();
        let m = &mut tx.mission.milestones[mi];
        if passed {
            m.status = MilestoneStatus::Passed;
            let attempt = m.failures + 1;
            tx.event(Event::new(Kind::MilestonePassed).milestone(milestone).run(&run, attempt).data(json!({ "commands": summary, "wall_ms": wall })));
            if let Some(alert) = estimate_alert(tx, milestone) {
                tx.event(alert);
            }
        } else {
            m.failures += 1;
            m.status = MilestoneStatus::Active;
            let failures = m.failures;
            let reason = if failures >= cap { BlockReason::ValidationLimit } else { BlockReason::ValidationFailed };
            let mut failing: Vec<String> = results.iter().filter(|r| r.code != Some(0) || r.timed_out).map(|r| r.command.clone()).collect();
            failing.extend(validator_error.clone());
            failing.extend(validators.iter().filter_map(|v| v.failure.clone()));
            let message = format!("validation of {milestone} failed ({failures} of {cap} allowed): {}", failing.join("; "));
            tx.event(Event::new(Kind::MilestoneFailed).milestone(milestone).run(&run, failures).data(json!({ "commands": summary, "failures": failures, "validator_runs": validator_runs })));
            tx.mission.status = MissionStatus::Blocked;
            tx.mission.block = Some(Block { reason, milestone: Some(milestone.to_owned()), feature: None, since: cx.ws.repo.clock().now_s(), packet: None, message: message.clone(), question: None });
            let mut involved = vec![run.clone()];
            involved.extend(validator_runs.iter().cloned());
            crate::recovery::attach(tx, &git_state, &details, &involved);
            tx.event(Event::new(Kind::MissionBlocked).milestone(milestone).data(json!({ "reason": reason.as_str(), "message": message })));
        }
        Ok(true)
    })?;
    Ok(())
}
/// What failed, for the recovery packet: each failing command with its exit and output tail,
/// the validator that could not run, and each validator's failure with its findings.
fn failure_details(
    results: &[CommandResult],
    validator_error: Option<&str>,
    validators: &[crate::validator::Outcome],
) -> String {
    let mut details = results
        .iter()
        .filter(|r| r.code != Some(0) || r.timed_out)
        .map(|r| {
            let code = r.code.map_or("by a signal".to_owned(), |c| c.to_string());
            format!(
                "$ {}\n(exit {code}{})\n{}",
                r.command,
                if r.timed_out { ", timed out" } else { "" },
                r.tail
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    if let Some(e) = validator_error {
        details.push_str(&format!("\n{e}"));
    }
    for v in validators {
        if let Some(f) = &v.failure {
            details.push_str(&format!("\n{f} (run {}):", v.run));
            for finding in v.report.iter().flat_map(|r| r.findings.iter()) {
                details.push_str(&format!(
                    "\n- [{}:{:?}] {} — {}",
                    finding.id,
                    finding.severity,
                    finding.evidence,
                    finding.suggested_fix.as_deref().unwrap_or("")
                ));
            }
        }
    }
    details
}

/// In the validation's commit: each validator run's document, spending and `run.finished`.
fn record_validators(
    tx: &mut crate::store::Tx,
    milestone: &str,
    attempt: u32,
    validators: &[crate::validator::Outcome],
) {
    for v in validators {
        let path = format!(
            "{}/{}/runs/{}.md",
            crate::workspace::MISSIONS_DIR,
            tx.mission.id,
            v.run
        );
        tx.files
            .push((path, validator_document(milestone, v).into_bytes()));
        tx.mission
            .spent
            .add_run(v.usage.usd, v.usage.total_tokens(), v.wall_ms);
        let verdict = v.report.as_ref().map(|r| r.verdict);
        let findings = v.report.as_ref().map_or(0, |r| r.findings.len());
        tx.event(Event::new(Kind::RunFinished).milestone(milestone).run(&v.run, attempt).data(json!({
            "role": "validator", "mode": v.mode, "verdict": verdict, "findings": findings, "failure": v.failure,
            "tokens": v.usage.total_tokens(), "usd": v.usage.usd, "usd_estimated": v.usage.usd_estimated, "wall_ms": v.wall_ms,
        })));
    }
}

/// The milestone's validation commands, each in the scratch worktree `wt`, output kept in
/// `out_dir`.
fn run_commands(
    cx: &Exec,
    commands: &[String],
    wt: &std::path::Path,
    out_dir: &std::path::Path,
) -> Result<Vec<CommandResult>> {
    let timeout = cx.config.worker_timeout();
    let mut results = Vec::new();
    for (i, command) in commands.iter().enumerate() {
        let out = out_dir.join(format!("command-{i}.log"));
        let fin = process::run(
            &process::shell_spec(command, wt, &out, Some(timeout)),
            &|| false,
            cx.ws.repo.clock(),
        )?;
        let tail = [
            process::tail(&out, 30),
            process::tail(&out.with_extension("err"), 30),
        ]
        .join("\n")
        .trim()
        .to_owned();
        results.push(CommandResult {
            command: command.clone(),
            code: fin.code,
            timed_out: fin.timed_out,
            wall_ms: fin.wall_ms,
            tail,
        });
    }
    Ok(results)
}

/// The validator agents the milestone asks for (scrutiny, user testing), after its commands
/// passed: their outcomes, or why they could not run.
fn run_validators(
    cx: &mut Exec,
    head: &crate::store::Head,
    ms: &crate::mission::Milestone,
    wt: &std::path::Path,
    results: &[CommandResult],
) -> (Vec<crate::validator::Outcome>, Option<String>) {
    let milestone = ms.id.as_str();
    let mut validators: Vec<crate::validator::Outcome> = Vec::new();
    let mut validator_error = None;
    let modes: Vec<&'static str> = [
        ("scrutiny", ms.validation.scrutiny),
        ("user-testing", ms.validation.user_testing.is_some()),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(m, _)| m)
    .collect();
    if !modes.is_empty()
        && cx
            .config
            .get_str("agents.validator")
            .is_none_or(|a| a == "none")
    {
        validator_error = Some(format!(
            "{milestone} asks for a {} validator but agents.validator is none",
            modes.join(" and ")
        ));
    } else {
        let summary: String = results
            .iter()
            .map(|r| format!("- `{}`: exit 0", r.command))
            .collect::<Vec<_>>()
            .join("\n");
        for mode in modes {
            let vrun = cx
                .layout
                .new_run_id(&format!("{milestone}-{mode}"), ms.failures + 1);
            match crate::validator::run(cx, head, ms, mode, wt, &summary, &vrun) {
                Ok(o) => validators.push(o),
                Err(e) => {
                    validator_error = Some(format!("the {mode} validator could not run: {e}"))
                }
            }
        }
    }

    (validators, validator_error)
}

fn report(
    milestone: &str,
    run: &str,
    commit: &str,
    results: &[CommandResult],
    v: &crate::mission::Validation,
    passed: bool,
) -> String {
    let mut o = format!(
        "---\nrun: {run}\nrole: validator\nmilestone: {milestone}\ncommit: {commit}\nverdict: {}\n---\n# Validation of {milestone}\n\n",
        if passed { "pass" } else { "fail" }
    );
    if results.is_empty() {
        o.push_str("No validation commands.\n");
    }
    for r in results {
        let status = if r.timed_out {
            "timed out".to_owned()
        } else {
            format!("exit {}", r.code.map_or("signal".into(), |c| c.to_string()))
        };
        o.push_str(&format!(
            "## `{}` — {status} ({:.1} s)\n\n```\n{}\n```\n\n",
            r.command,
            r.wall_ms as f64 / 1000.0,
            r.tail
        ));
    }
    if v.scrutiny || v.user_testing.is_some() {
        o.push_str("Validator agents (scrutiny, user testing) run after these commands; each writes its own report in its run directory, and the milestone's event lists their runs.\n");
    }
    o
}

/// After a milestone: actual runs and cost against the estimate. More than 50 % over raises a
/// `budget.alert` with a projection for the rest of the mission.
fn estimate_alert(tx: &crate::store::Tx, milestone: &str) -> Option<Event> {
    let est = crate::budget::estimate::estimate(&tx.mission);
    let me = est.milestones.iter().find(|m| m.id == milestone)?;
    let runs_of = |e: &&Event| e.milestone.as_deref() == Some(milestone) && e.kind.is_run_outcome();
    let finished: Vec<&Event> = tx.head.events.iter().filter(runs_of).collect();
    // The worker runs, plus this validation.
    let actual_runs = finished.len() as f64 + 1.0;
    let actual_usd: f64 = finished.iter().filter_map(|e| e.data["usd"].as_f64()).sum();
    let est_runs = f64::from(me.runs.total);
    let (ratio, basis) = if actual_usd > 0.0 && me.usd.mid > 0.0 {
        (actual_usd / me.usd.mid, "usd")
    } else {
        (actual_runs / est_runs.max(1.0), "runs")
    };
    if ratio <= 1.5 {
        return None;
    }
    let remaining_runs = f64::from(est.remaining_runs) * ratio;
    let projection_usd = tx.mission.spent.usd + est.remaining_usd.mid * ratio;
    Some(Event::new(Kind::BudgetAlert).milestone(milestone).data(json!({
        "kind": "estimate", "basis": basis, "ratio": (ratio * 100.0).round() / 100.0,
        "actual_runs": actual_runs, "estimated_runs": est_runs, "actual_usd": actual_usd, "estimated_usd": me.usd.mid,
        "projected_remaining_runs": remaining_runs.round(), "projected_total_usd": (projection_usd * 100.0).round() / 100.0,
        "message": format!("{milestone} took {:.0} % of its estimate; at this rate the rest of the mission needs about {:.0} more runs", ratio * 100.0, remaining_runs),
    })))
}

/// `runs/<run-id>.md` of a validator run: front matter, the findings, and the raw report.
fn validator_document(milestone: &str, v: &crate::validator::Outcome) -> String {
    let verdict = v.report.as_ref().map_or("fail", |r| {
        if r.verdict == crate::validator::Verdict::Pass {
            "pass"
        } else {
            "fail"
        }
    });
    let mut o = format!(
        "---\nrun: {}\nrole: validator\nmode: {}\nmilestone: {milestone}\nverdict: {verdict}\n---\n# {} validation of {milestone}\n\n",
        v.run, v.mode, v.mode
    );
    if let Some(f) = &v.failure {
        o.push_str(&format!("{f}\n\n"));
    }
    if let Some(r) = &v.report {
        o.push_str(&format!("Recommendation: {:?}\n\n", r.recommendation));
        for f in &r.findings {
            o.push_str(&format!(
                "## Finding {} ({:?})\n\n- assertion: {}\n- feature: {}\n- evidence: {}\n- suggested fix: {}\n\n",
                f.id,
                f.severity,
                f.assertion.as_deref().unwrap_or("-"),
                f.feature.as_deref().unwrap_or("-"),
                f.evidence,
                f.suggested_fix.as_deref().unwrap_or("-")
            ));
        }
        o.push_str(&format!(
            "```json\n{}\n```\n",
            serde_json::to_string_pretty(r).unwrap_or_default()
        ));
    }
    o
}

//! `execute`: the effects of each planned action. Every action re-checks its precondition
//! against freshly read state inside its store mutation, so two pulses acting at once never
//! dispatch a feature twice, and a crashed pulse is repaired by the next one.

use crate::events::Kind;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::error::{Context, Error, Result};
use crate::events::Event;
use crate::mission::{
    Block, BlockReason, FeatureStatus, MilestoneStatus, MissionDoc, MissionStatus,
};
use crate::runs::{self, ExitRecord, Meta};
use crate::validation;
use crate::workspace::feature_branch;

use super::plan::Action;

pub use crate::context::Exec;

impl Exec<'_> {
    pub fn execute(&mut self, action: &Action) -> Result<()> {
        tracing::info!(mission = %self.store.id, "{action}");
        match action {
            Action::Start => self.start(),
            Action::Activate { milestone } => self.activate(milestone),
            Action::Dispatch {
                feature,
                attempt,
                conflict,
            } => self.dispatch(feature, *attempt, *conflict),
            Action::Record { run, feature, lost } => self.record(run, feature.as_deref(), *lost),

            Action::Validate { milestone } => validation::validate(self, milestone),
            Action::Complete => self.complete(),
            Action::Block {
                reason,
                feature,
                message,
            } => self
                .block(*reason, None, feature.clone(), message.clone())
                .map(|_| ()),
            Action::Orchestrate => crate::orchestrator::turn(self),
            Action::PauseForBudget { message } => self.pause_for_budget(message),
            // The forge's own: merges, landing, pull requests, comments.
            a @ (Action::Merge { .. }
            | Action::Land
            | Action::Comment { .. }
            | Action::Track
            | Action::CloseTracking
            | Action::Push { .. }
            | Action::MergePr { .. }
            | Action::UpdatePr { .. }
            | Action::PrConflict { .. }
            | Action::Rework { .. }
            | Action::PrChecksFailed { .. }
            | Action::PrGone { .. }
            | Action::OpenLand
            | Action::MergeLand { .. }
            | Action::LandGone { .. }) => {
                let forge = self.forge;
                forge.execute(self, a)
            }
            Action::StopRun { run } => {
                self.layout.stop(run);
                Ok(())
            }
            Action::StopWorker {
                run,
                feature,
                workflow_run,
            } => self.stop_worker(run, feature, *workflow_run),
            Action::LostWorker {
                run,
                feature,
                workflow_run,
                why,
                cancel,
            } => self.lost_worker(run, feature, *workflow_run, why, *cancel),
        }
    }

    fn start(&mut self) -> Result<()> {
        let base = self
            .config
            .get_str("base")
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::user_hint(
                    "the mission has no base branch",
                    "set `base: main` in the mission file",
                )
            })?;
        let commit = self
            .ws
            .repo
            .branch_head(&base)?
            .ok_or_else(|| Error::user(format!("the base branch {base} does not exist")))?;
        let text = self
            .ws
            .repo
            .read_at_branch(&base, &self.store.file)?
            .ok_or_else(|| {
                Error::user_hint(
                    format!("{} is not committed on {base}", self.store.file),
                    format!("commit the approved mission file on {base}, then run again"),
                )
            })?;
        let doc = MissionDoc::parse(text).map_err(|d| Error::Invalid {
            file: format!("{base}:{}", self.store.file),
            diagnostics: vec![d],
        })?;
        // A hand-edited or hostile file is never started: every id must pass its grammar
        // before it names a path, a ref or a command line.
        let errors: Vec<_> = crate::mission::validate::validate(
            &doc,
            Some(&self.store.id),
            &self.config.profile_names(),
        )
        .into_iter()
        .filter(|d| d.severity == crate::mission::Severity::Error)
        .collect();
        if !errors.is_empty() {
            return Err(Error::Invalid {
                file: format!("{base}:{}", self.store.file),
                diagnostics: errors,
            });
        }
        if doc.mission.status != MissionStatus::Approved || doc.mission.approved.is_none() {
            return Err(Error::user_hint(
                format!(
                    "the mission file committed on {base} is not approved (status {})",
                    doc.mission.status
                ),
                format!(
                    "run `git mission approve {}` and commit the file",
                    self.store.id
                ),
            ));
        }
        let oid = gix::ObjectId::from_hex(commit.as_bytes()).context(|| "bad commit id")?;
        self.store.create(oid)?;
        self.store.mutate("mission: start", |tx| {
            if tx.mission.status != MissionStatus::Approved {
                return Ok(false);
            }
            tx.mission.status = MissionStatus::Running;
            tx.event(
                Event::new(Kind::MissionStarted).data(json!({ "base": base, "commit": commit })),
            );
            if let Some(first) = tx
                .mission
                .milestones
                .iter_mut()
                .find(|m| m.status == MilestoneStatus::Pending)
            {
                first.status = MilestoneStatus::Active;
                let id = first.id.clone();
                tx.event(
                    Event::new(Kind::MilestoneStarted)
                        .milestone(&id)
                        .data(json!({ "commit": commit })),
                );
            }
            Ok(true)
        })?;
        Ok(())
    }

    fn activate(&mut self, milestone: &str) -> Result<()> {
        self.store
            .mutate(&format!("mission: start {milestone}"), |tx| {
                let busy = tx.mission.active_milestone().is_some();
                let Some(m) = tx.mission.milestones.iter_mut().find(|m| m.id == milestone) else {
                    return Ok(false);
                };
                if busy
                    || m.status != MilestoneStatus::Pending
                    || tx.mission.status != MissionStatus::Running
                {
                    return Ok(false);
                }
                m.status = MilestoneStatus::Active;
                let commit = tx.head.commit.to_string();
                tx.event(
                    Event::new(Kind::MilestoneStarted)
                        .milestone(milestone)
                        .data(json!({ "commit": commit })),
                );
                Ok(true)
            })?;
        Ok(())
    }

    fn dispatch(&mut self, feature: &str, attempt: u32, conflict: bool) -> Result<()> {
        if self.forge.runs_workers(self.config) {
            return self.dispatch_remote(feature, attempt, conflict);
        }
        let Some(run) = self.prepare_run(feature, attempt, conflict, false)? else {
            return Ok(());
        };
        crate::fault!("dispatch.before_spawn");
        let dir = self.layout.run(&run);
        let log =
            std::fs::File::create(dir.join("work.log")).map_err(Error::io(dir.join("work.log")))?;
        let log2 = log.try_clone().map_err(Error::io(dir.join("work.log")))?;
        use std::os::unix::process::CommandExt;
        // `-c` and the logging flags go along: the worker must see the same configuration.
        let spawned = Command::new(&self.exe)
            .arg("-C")
            .arg(&self.ws.repo.root)
            .args(self.config.overrides().child_args())
            .args(["work", &self.store.id, feature, "--run", &run])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .spawn();
        crate::fault!("dispatch.after_spawn");
        match spawned {
            // A reproducible run (fixed clock) runs one worker at a time, each to its end, so
            // its log does not depend on which process the system schedules first.
            Ok(mut child) if self.ws.repo.clock().is_fixed() => {
                let _ = child.wait();
            }
            Ok(child) => self.children.push((run, child)),
            Err(e) => {
                let _ = std::fs::write(dir.join("spawn-failed"), e.to_string());
                tracing::warn!("cannot start the worker for {feature}: {e}");
            }
        }
        Ok(())
    }

    /// `dispatch: actions`: commits (and publishes) the dispatch, then starts the worker
    /// workflow, which executes the run on a runner and records it there. A refusal by GitHub
    /// is a failed attempt at once; an uncertain answer stops the pulse, and the next pulses
    /// find the workflow run by its title or count the attempt lost after the grace period.
    fn dispatch_remote(&mut self, feature: &str, attempt: u32, conflict: bool) -> Result<()> {
        use crate::forge::github::workers::Started;
        let Some(run) = self.prepare_run(feature, attempt, conflict, true)? else {
            return Ok(());
        };
        let started = self
            .forge
            .start_worker(self.config, &self.store.id, feature, &run)?;
        match started {
            Started::Run { id, url } => {
                let Some(id) = id else { return Ok(()) };
                self.store
                    .mutate(&format!("{feature}: run {run} is Actions run {id}"), |tx| {
                        if crate::events::run_recorded(&tx.head.events, &run) {
                            return Ok(false);
                        }
                        tx.event(
                            Event::new(Kind::GithubWorker)
                                .feature(feature)
                                .run(&run, attempt)
                                .data(json!({ "workflow_run": id, "url": url })),
                        );
                        Ok(true)
                    })?;
                Ok(())
            }
            Started::Refused(why) => {
                tracing::warn!("{why}");
                self.record_with(
                    &run,
                    Some(feature),
                    Some(ExitRecord::failed(self.ws.repo.clock(), why)),
                )
            }
        }
    }

    /// An Actions worker that ended without a result, or overran its deadline: cancel it
    /// if asked, then record the failed attempt.
    fn lost_worker(
        &mut self,
        run: &str,
        feature: &str,
        workflow_run: Option<u64>,
        why: &str,
        cancel: bool,
    ) -> Result<()> {
        if cancel && let Some(id) = workflow_run {
            self.forge.cancel_worker(id)?;
        }
        let mut exit = ExitRecord::failed(self.ws.repo.clock(), why);
        exit.finished.timed_out = cancel;
        self.record_with(run, Some(feature), Some(exit))
    }

    /// Paused now or cancelled: cancel an Actions worker and record it as cancelled (the
    /// feature goes back to pending; no attempt is counted). Work its runner already pushed
    /// stays on the feature branch.
    fn stop_worker(&mut self, run: &str, feature: &str, workflow_run: Option<u64>) -> Result<()> {
        if let Some(id) = workflow_run {
            self.forge.cancel_worker(id)?;
        }
        self.record_with(
            run,
            Some(feature),
            Some(ExitRecord {
                cancelled: true,
                ..ExitRecord::failed(
                    self.ws.repo.clock(),
                    "stopped: the mission was paused now or cancelled",
                )
            }),
        )
    }

    /// Dispatches a feature to be executed by this process (`git mission work` by hand).
    pub fn dispatch_here(&mut self, feature: &str, attempt: u32) -> Result<Option<String>> {
        self.prepare_run(feature, attempt, false, false)
    }

    /// Commits the dispatch (re-checking every precondition) and writes the run directory
    /// (none for a run on Actions: the runner makes its own).
    fn prepare_run(
        &mut self,
        feature: &str,
        attempt: u32,
        conflict: bool,
        on_actions: bool,
    ) -> Result<Option<String>> {
        let run = self.layout.new_run_id(feature, attempt);
        // The run directory exists before the dispatch is committed, so no other pulse can see
        // a dispatched run without its directory and take it for lost.
        let dir = self.layout.run(&run);
        if !on_actions {
            std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        }
        let spec = crate::agents::agent_spec(self.config, crate::agents::Role::Worker);
        let mut meta = Meta {
            run: run.clone(),
            mission: self.store.id.clone(),
            role: crate::agents::Role::Worker,
            milestone: String::new(),
            feature: Some(feature.to_owned()),
            attempt,
            agent: spec
                .as_ref()
                .map(|s| s.agent.clone())
                .unwrap_or_else(|_| "none".into()),
            base: String::new(),
            branch: Some(feature_branch(&self.store.id, feature)),
            worktree: self.layout.worktree(feature),
            started: self.ws.repo.clock().now_s().to_string(),
            work_pid: None,
            conflict,
        };
        if !on_actions {
            crate::fsutil::write_json(&dir.join("meta.json"), &meta)?;
        }
        let limit = if self.poc() {
            1
        } else {
            self.config.max_parallel_workers().max(1) as usize
        };
        let mut milestone = String::new();
        let committed = self
            .store
            .mutate(&format!("{feature}: dispatch run {run}"), |tx| {
                let claim = Dispatch {
                    feature,
                    run: &run,
                    agent: &meta.agent,
                    attempt,
                    conflict,
                    on_actions,
                    limit,
                };
                Ok(match claim.commit(tx)? {
                    Some(ms) => {
                        milestone = ms;
                        true
                    }
                    None => false,
                })
            })?;
        let Some(head) = committed else {
            let _ = std::fs::remove_dir_all(&dir);
            return Ok(None);
        };
        if !on_actions {
            meta.milestone = milestone;
            meta.base = head.commit.to_string();
            crate::fsutil::write_json(&dir.join("meta.json"), &meta)?;
        }
        Ok(Some(run))
    }

    /// Git facts for a recovery packet.
    pub fn git_state(&self) -> crate::recovery::GitState {
        crate::recovery::GitState::gather(
            &self.ws.repo.root,
            &self.store.id,
            &self.layout.worktree_dirs(),
        )
    }

    fn poc(&self) -> bool {
        self.config.get_str("mode") == Some("poc")
    }

    /// Integrates a finished (or lost) run into the mission state. Idempotent by run id.
    pub fn record(&mut self, run: &str, feature: Option<&str>, lost: bool) -> Result<()> {
        let dir = self.layout.run(run);
        if lost && feature.is_some() {
            let dispatched = self
                .store
                .head()?
                .is_some_and(|h| crate::events::dispatch_of(&h.events, run).is_some());
            if !dispatched {
                // A worker run the log never dispatched is no run of the mission: its
                // directory was made by a pulse whose dispatch lost its race (that pulse
                // removes it, perhaps at this moment) or is being committed now (its worker
                // starts next). Nothing is recorded; what a crashed pulse left is removed
                // once it is old (only then is it observed).
                if runs::older_than(&dir, super::PREPARED_LEFTOVER) {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                return Ok(());
            }
        } else if lost
            && runs::read_meta(&dir)
                .ok()
                .is_some_and(|m| m.base.is_empty())
        {
            // Prepared but never dispatched (the dispatch lost its race): nothing to record.
            let _ = std::fs::remove_dir_all(&dir);
            return Ok(());
        }
        crate::fault!("record.before");
        let lost = (lost && runs::read_exit(&dir).is_none()).then(|| {
            // Its copies of the user's login may still be there.
            crate::agents::home::unseed(&dir);
            lost_record(&dir, self.ws.repo.clock())
        });
        self.record_with(run, feature, lost)
    }

    /// Integrates a run: its exit record on this machine, else `synthetic` (a run that left
    /// none: lost, refused or cancelled). Idempotent by run id.
    pub fn record_with(
        &mut self,
        run: &str,
        feature: Option<&str>,
        synthetic: Option<ExitRecord>,
    ) -> Result<()> {
        let dir = self.layout.run(run);
        let meta = runs::read_meta(&dir).ok();
        let Some(exit) = runs::read_exit(&dir).or(synthetic) else {
            return Ok(());
        };
        let attempt_of = |tx_attempt: u32| meta.as_ref().map_or(tx_attempt, |m| m.attempt);
        let limit = self.config.worker_attempts();
        let alert_pct = self.config.get_u64("budget.alert_pct").unwrap_or(80) as f64;
        let budget = self.config.budget();
        let usage = exit.outcome.usage.clone();
        // Facts for a recovery packet, in case this failure blocks the mission.
        let packet_facts = exit.failure.as_ref().map(|f| {
            let tail = crate::process::tail(&dir.join("stderr.log"), 20);
            let details = if tail.trim().is_empty() {
                f.clone()
            } else {
                format!("{f}\n\nstderr of the last run (last 20 lines):\n{tail}")
            };
            (self.git_state(), details)
        });
        let fid = feature
            .map(str::to_owned)
            .or_else(|| meta.as_ref().and_then(|m| m.feature.clone()));
        let mut merged = None;
        let recorded = self.store.mutate(
            &format!("{}: record run {run}", feature.unwrap_or("run")),
            |tx| {
                merged = None;
                if crate::events::run_recorded(&tx.head.events, run) {
                    return Ok(false);
                }
                let fid = fid.clone();
                let dispatched_attempt = crate::events::dispatch_of(&tx.head.events, run)
                    .and_then(|e| e.attempt)
                    .unwrap_or(1);
                let attempt = attempt_of(dispatched_attempt);
                let milestone = tx
                    .mission
                    .feature(fid.as_deref().unwrap_or(""))
                    .map(|(m, _)| m.id.clone())
                    .unwrap_or_default();
                // Spending, whatever the outcome.
                let before = tx.mission.spent.clone();
                tx.mission
                    .spent
                    .add_run(usage.usd, usage.total_tokens(), exit.finished.wall_ms);
                let (kind, data) = run_event(&exit);
                tx.event(
                    Event::new(kind)
                        .milestone(&milestone)
                        .feature(fid.as_deref().unwrap_or(""))
                        .run(run, attempt)
                        .data(data),
                );
                if let Some(m) = &meta {
                    let path = crate::workspace::run_record_file(&tx.mission.id, run);
                    tx.files
                        .push((path, runs::run_document(m, &exit).into_bytes()));
                }
                budget_events(tx, &before, &budget, alert_pct);
                let Some(fid) = fid else { return Ok(true) };
                let Some(f) = tx.mission.feature_mut(&fid) else {
                    return Ok(true);
                };
                if f.status != FeatureStatus::Running {
                    return Ok(true); // skipped or changed meanwhile: keep the record only
                }
                let blocked_now = settle_feature(f, &exit, attempt, limit);
                if let Some(why) = &exit.not_started
                    && tx.mission.status == MissionStatus::Running
                {
                    tx.mission.status = MissionStatus::Blocked;
                    tx.mission.block = Some(Block {
                        reason: BlockReason::AgentMissing,
                        milestone: Some(milestone.clone()),
                        feature: Some(fid.clone()),
                        since: self.ws.repo.clock().now_s(),
                        packet: None,
                        message: why.clone(),
                        question: None,
                    });
                    tx.event(
                        Event::new(Kind::MissionBlocked)
                            .milestone(&milestone)
                            .feature(&fid)
                            .data(json!({ "reason": "agent_missing", "message": why })),
                    );
                    return Ok(true);
                }
                if exit.failure.is_none() {
                    tx.event(
                        Event::new(Kind::FeatureHandoff)
                            .milestone(&milestone)
                            .feature(&fid)
                            .run(run, attempt)
                            .data(json!({ "status": exit.handoff_status })),
                    );
                    // Nothing to wait for before its merge: merged in this same commit.
                    if let Some(at) = &exit.head
                        && self.forge.merge_in_record(self, tx, &fid, at)?
                    {
                        merged = Some(fid.clone());
                    }
                } else if blocked_now {
                    let message = format!(
                        "{fid} failed {limit} attempts; last: {}",
                        exit.failure.as_deref().unwrap_or("?")
                    );
                    tx.event(
                        Event::new(Kind::FeatureFailed)
                            .milestone(&milestone)
                            .feature(&fid)
                            .run(run, attempt)
                            .data(json!({ "failure": exit.failure })),
                    );
                    if tx.mission.status == MissionStatus::Running {
                        tx.mission.status = MissionStatus::Blocked;
                        tx.mission.block = Some(Block {
                            reason: BlockReason::WorkerFailed,
                            milestone: Some(milestone.clone()),
                            feature: Some(fid.clone()),
                            since: self.ws.repo.clock().now_s(),
                            packet: None,
                            message: message.clone(),
                            question: None,
                        });
                        if let Some((git_state, details)) = &packet_facts {
                            let runs: Vec<String> = tx
                                .head
                                .events
                                .iter()
                                .filter(|e| {
                                    e.kind == Kind::FeatureDispatched
                                        && e.feature.as_deref() == Some(fid.as_str())
                                })
                                .filter_map(|e| e.run.clone())
                                .collect();
                            crate::recovery::attach(tx, git_state, details, &runs);
                        }
                        tx.event(
                            Event::new(Kind::MissionBlocked)
                                .milestone(&milestone)
                                .feature(&fid)
                                .data(json!({ "reason": "worker_failed", "message": message })),
                        );
                    }
                }
                Ok(true)
            },
        )?;
        if let Some(fid) = merged.filter(|_| recorded.is_some()) {
            self.forge.merged_in_record(self, &fid);
        }
        Ok(())
    }

    fn complete(&mut self) -> Result<()> {
        crate::fault!("complete.before");
        let skills = crate::git::git(
            &self.ws.repo.root,
            &[
                "ls-tree",
                "-d",
                "--name-only",
                &format!(
                    "{}:{}/{}/skills/",
                    self.store.branch,
                    crate::workspace::MISSIONS_DIR,
                    self.store.id
                ),
            ],
        )
        .map(|s| s.lines().map(str::to_owned).collect::<Vec<_>>())
        .unwrap_or_default();
        self.store.mutate("mission: completed", |tx| {
            if tx.mission.status != MissionStatus::Running
                || !tx
                    .mission
                    .milestones
                    .iter()
                    .all(|m| matches!(m.status, MilestoneStatus::Passed | MilestoneStatus::Skipped))
            {
                return Ok(false);
            }
            tx.mission.status = MissionStatus::Completed;
            let spent = tx.mission.spent.clone();
            tx.event(Event::new(Kind::MissionCompleted).data(json!({ "spent": spent })));
            let retro = crate::report::retrospective(&tx.mission, &tx.head.events, &skills);
            tx.body = Some(crate::mission::body::set_block(
                tx.head.doc.body(),
                "retrospective",
                "Retrospective",
                &retro,
            ));
            Ok(true)
        })?;
        Ok(())
    }

    /// Blocks the mission (if it is running).
    pub fn block(
        &mut self,
        reason: BlockReason,
        milestone: Option<String>,
        feature: Option<String>,
        message: String,
    ) -> Result<bool> {
        let git_state = self.git_state();
        let done = self
            .store
            .mutate(&format!("mission: blocked ({reason})"), |tx| {
                if tx.mission.status != MissionStatus::Running {
                    return Ok(false);
                }
                tx.mission.status = MissionStatus::Blocked;
                tx.mission.block = Some(Block {
                    reason,
                    milestone: milestone.clone(),
                    feature: feature.clone(),
                    since: self.ws.repo.clock().now_s(),
                    packet: None,
                    message: message.clone(),
                    question: None,
                });
                crate::recovery::attach(tx, &git_state, &message, &[]);
                let mut e = Event::new(Kind::MissionBlocked)
                    .data(json!({ "reason": reason.as_str(), "message": message }));
                e.milestone = milestone.clone();
                e.feature = feature.clone();
                tx.event(e);
                Ok(true)
            })?;
        Ok(done.is_some())
    }

    fn pause_for_budget(&mut self, message: &str) -> Result<()> {
        let git_state = self.git_state();
        self.store
            .mutate("mission: paused (budget exceeded)", |tx| {
                if tx.mission.status != MissionStatus::Running {
                    return Ok(false);
                }
                tx.mission.status = MissionStatus::Paused;
                tx.mission.block = Some(Block {
                    reason: BlockReason::BudgetExceeded,
                    milestone: None,
                    feature: None,
                    since: self.ws.repo.clock().now_s(),
                    packet: None,
                    message: message.to_owned(),
                    question: None,
                });
                let spent = serde_json::to_string(&tx.mission.spent).unwrap_or_default();
                crate::recovery::attach(tx, &git_state, &format!("{message}\nspent: {spent}"), &[]);
                tx.event(Event::new(Kind::BudgetExceeded).data(json!({ "message": message })));
                tx.event(
                    Event::new(Kind::MissionPaused).data(json!({ "reason": "budget_exceeded" })),
                );
                Ok(true)
            })?;
        Ok(())
    }
}

/// The record of a run whose worker process died without leaving one: the last lines it
/// logged say why (a panic, "cannot start …", a kill).
fn lost_record(dir: &std::path::Path, clock: &crate::env::Clock) -> ExitRecord {
    let tail: Vec<String> = crate::process::tail(&dir.join("work.log"), 20)
        .lines()
        .map(str::to_owned)
        .collect();
    let last = tail.iter().rev().map(|l| l.trim()).find(|l| !l.is_empty());
    let why = match last {
        Some(l) => {
            format!("the worker process died before it finished (lost run); its log ends: {l}")
        }
        None => {
            "the worker process died before it finished (lost run); its log (work.log) is empty"
                .to_owned()
        }
    };
    ExitRecord {
        log_tail: tail,
        ..ExitRecord::failed(clock, why)
    }
}

/// `budget.alert` once per limit when spending crosses `alert_pct`.
fn budget_events(
    tx: &mut crate::store::Tx,
    before: &crate::mission::Spent,
    budget: &crate::mission::Budget,
    pct: f64,
) {
    let after = tx.mission.spent.clone();
    let checks = [
        ("usd", budget.usd, before.usd, after.usd),
        (
            "tokens",
            budget.tokens.map(|x| x as f64),
            before.tokens as f64,
            after.tokens as f64,
        ),
        ("hours", budget.hours, before.hours, after.hours),
        (
            "runs",
            budget.runs.map(f64::from),
            f64::from(before.runs),
            f64::from(after.runs),
        ),
    ];
    for (limit, max, was, now) in checks {
        let Some(max) = max else { continue };
        let threshold = max * pct / 100.0;
        if was < threshold
            && now >= threshold
            && !tx.has_event(|e| e.kind == Kind::BudgetAlert && e.data["limit"] == limit)
        {
            tx.event(
                Event::new(Kind::BudgetAlert)
                    .data(json!({ "limit": limit, "spent": now, "max": max, "alert_pct": pct })),
            );
        }
    }
}

/// The steering messages for `feature` not yet delivered to a run, with their event's seq.
fn undelivered_steering(events: &[Event], feature: &str) -> Vec<(u64, String)> {
    let delivered: Vec<u64> = events
        .iter()
        .filter(|e| e.kind == Kind::FeatureSteerDelivered && e.feature.as_deref() == Some(feature))
        .flat_map(|e| e.data["seqs"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_u64())
        .collect();
    events
        .iter()
        .filter(|e| {
            e.kind == Kind::FeatureSteered
                && e.feature.as_deref() == Some(feature)
                && !delivered.contains(&e.seq)
        })
        .filter_map(|e| Some((e.seq, e.data["message"].as_str()?.to_owned())))
        .collect()
}

/// The event that records a run's end (finished, timed out or cancelled) and its data.
fn run_event(exit: &ExitRecord) -> (Kind, serde_json::Value) {
    let usage = &exit.outcome.usage;
    let kind = if exit.cancelled {
        Kind::RunCancelled
    } else if exit.finished.timed_out {
        Kind::RunTimedOut
    } else {
        Kind::RunFinished
    };
    let mut data = json!({
        "exit_code": exit.finished.code, "signal": exit.finished.signal, "wall_ms": exit.finished.wall_ms,
        "tokens": usage.total_tokens(), "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
        "usd": usage.usd, "usd_estimated": usage.usd_estimated, "changed_files": exit.changed.len(),
    });
    if let Some(f) = &exit.failure {
        data["failure"] = json!(f);
    }
    (kind, data)
}

/// Where a running feature goes after its run: review when it succeeded, pending again when
/// nothing ran (no attempt counted) or attempts remain, failed past `limit` attempts (`true`).
fn settle_feature(
    f: &mut crate::mission::Feature,
    exit: &ExitRecord,
    attempt: u32,
    limit: u32,
) -> bool {
    if exit.failure.is_none() {
        f.status = FeatureStatus::Review;
        f.attempts = f.attempts.max(attempt);
        return false;
    }
    if exit.cancelled || exit.not_started.is_some() {
        f.status = FeatureStatus::Pending;
        return false;
    }
    f.attempts = f.attempts.max(attempt);
    if f.attempts >= limit {
        f.status = FeatureStatus::Failed;
        true
    } else {
        f.status = FeatureStatus::Pending;
        false
    }
}

/// One worker run about to be dispatched.
struct Dispatch<'a> {
    feature: &'a str,
    run: &'a str,
    /// The worker's agent, recorded with the run's start.
    agent: &'a str,
    attempt: u32,
    conflict: bool,
    on_actions: bool,
    /// How many features may run at once.
    limit: usize,
}

impl Dispatch<'_> {
    /// In the dispatch commit: re-checks every precondition (the mission running, the
    /// milestone active, room under the limit, the feature pending with its dependencies
    /// done), marks the feature running and records the dispatch, the steering it delivers and
    /// the run's start. The feature's milestone, or `None` when a precondition no longer holds.
    fn commit(&self, tx: &mut crate::store::Tx) -> Result<Option<String>> {
        let Dispatch {
            feature,
            run,
            agent,
            attempt,
            conflict,
            on_actions,
            limit,
        } = *self;
        if tx.mission.status != MissionStatus::Running {
            return Ok(None);
        }
        let running = tx
            .mission
            .features()
            .filter(|(_, f)| f.status == FeatureStatus::Running)
            .count();
        let done: Vec<String> = tx
            .mission
            .features()
            .filter(|(_, f)| matches!(f.status, FeatureStatus::Merged | FeatureStatus::Skipped))
            .map(|(_, f)| f.id.clone())
            .collect();
        let Some(ms) = tx
            .mission
            .milestones
            .iter_mut()
            .find(|m| m.features.iter().any(|f| f.id == feature))
        else {
            return Ok(None);
        };
        if ms.status != MilestoneStatus::Active || running >= limit {
            return Ok(None);
        }
        let milestone = ms.id.clone();
        let f = ms
            .features
            .iter_mut()
            .find(|f| f.id == feature)
            .expect("found above");
        if f.status != FeatureStatus::Pending || !f.depends_on.iter().all(|d| done.contains(d)) {
            return Ok(None);
        }
        f.status = FeatureStatus::Running;
        if attempt > 1 {
            tx.event(
                Event::new(Kind::FeatureRetried)
                    .milestone(&milestone)
                    .feature(feature)
                    .run(run, attempt),
            );
        }
        tx.event(
            Event::new(Kind::FeatureDispatched)
                .milestone(&milestone)
                .feature(feature)
                .run(run, attempt)
                .data(if on_actions {
                    json!({ "conflict": conflict, "on": crate::forge::github::workers::ON_ACTIONS })
                } else {
                    json!({ "conflict": conflict })
                }),
        );
        // Steering messages not yet delivered go to this run's prompt, exactly once.
        let pending = undelivered_steering(&tx.head.events, feature);
        if !pending.is_empty() {
            let (seqs, messages): (Vec<u64>, Vec<String>) = pending.into_iter().unzip();
            tx.event(
                Event::new(Kind::FeatureSteerDelivered)
                    .milestone(&milestone)
                    .feature(feature)
                    .run(run, attempt)
                    .data(json!({ "seqs": seqs, "messages": messages })),
            );
        }
        tx.event(
            Event::new(Kind::RunStarted)
                .milestone(&milestone)
                .feature(feature)
                .run(run, attempt)
                .data(json!({ "role": "worker", "agent": agent })),
        );
        Ok(Some(milestone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pulse::testutil::{Fake, started, with_exec};
    use crate::store::Store;

    #[test]
    fn each_steering_message_is_delivered_once_and_only_to_its_feature() {
        let ev = |seq: u64, kind: Kind, feature: &str, data: serde_json::Value| {
            let mut e = Event::new(kind).feature(feature).data(data);
            e.seq = seq;
            e
        };
        let mut events = vec![
            ev(
                1,
                Kind::FeatureSteered,
                "F1",
                json!({ "message": "use tabs" }),
            ),
            ev(
                2,
                Kind::FeatureSteered,
                "F2",
                json!({ "message": "not for F1" }),
            ),
            ev(
                3,
                Kind::FeatureSteered,
                "F1",
                json!({ "message": "and spaces" }),
            ),
        ];
        assert_eq!(
            undelivered_steering(&events, "F1"),
            [(1, "use tabs".to_owned()), (3, "and spaces".to_owned())]
        );
        events.push(ev(
            4,
            Kind::FeatureSteerDelivered,
            "F1",
            json!({ "seqs": [1] }),
        ));
        assert_eq!(
            undelivered_steering(&events, "F1"),
            [(3, "and spaces".to_owned())]
        );
    }

    #[test]
    fn the_forges_own_actions_go_to_the_forge() {
        let (_dir, ws) = started();
        let fake = Fake::default();
        let own = [
            Action::Merge {
                feature: "F1".into(),
            },
            Action::Land,
            Action::Comment { id: 7 },
            Action::MergePr {
                feature: "F1".into(),
                pr: 3,
                sha: "abcdef12".into(),
            },
            Action::OpenLand,
        ];
        with_exec(&ws, &fake, |ex| {
            for a in &own {
                ex.execute(a).expect("execute");
            }
        });
        let want: Vec<String> = own.iter().map(ToString::to_string).collect();
        assert_eq!(*fake.asked.borrow(), want);
    }

    #[test]
    fn a_forge_that_runs_workers_gets_the_dispatch_and_its_cancellation() {
        let (_dir, ws) = started();
        let fake = Fake {
            remote: true,
            ..Fake::default()
        };
        with_exec(&ws, &fake, |ex| {
            ex.execute(&Action::Dispatch {
                feature: "F1".into(),
                attempt: 1,
                conflict: false,
            })
            .expect("dispatch");
        });
        let store = Store::new(&ws.repo, "demo");
        let head = store.head().expect("head").expect("started");
        let dispatched = head
            .events
            .iter()
            .find(|e| e.kind == Kind::FeatureDispatched)
            .expect("dispatched");
        let run = dispatched.run.clone().expect("run");
        assert_eq!(*fake.asked.borrow(), [format!("start demo F1 {run}")]);
        let worker = head
            .events
            .iter()
            .find(|e| e.kind == Kind::GithubWorker)
            .expect("the remote run is recorded");
        assert_eq!(worker.data["workflow_run"], 42);
        // No run directory here: the forge's machine makes its own.
        // Stopping it cancels it there and records it as cancelled.
        with_exec(&ws, &fake, |ex| {
            ex.execute(&Action::StopWorker {
                run: run.clone(),
                feature: "F1".into(),
                workflow_run: Some(42),
            })
            .expect("stop");
        });
        assert_eq!(
            fake.asked.borrow().last().map(String::as_str),
            Some("cancel 42")
        );
        let head = store.head().expect("head").expect("started");
        assert!(crate::events::run_recorded(&head.events, &run));
        assert_eq!(
            head.mission().feature("F1").expect("F1").1.status,
            FeatureStatus::Pending,
            "a cancelled run counts no attempt"
        );
    }
}

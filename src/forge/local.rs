//! The local forge: a feature's PR is its branch `mission/<id>.<F#>`. A feature with checks is
//! claimed, then its checks run in a scratch worktree private to the claim (after merging a
//! moved integration head into it); a feature without checks needs neither. Either way the
//! merge result is committed onto `mission/<id>` with compare-and-swap, its tree computed with
//! `git merge-tree` so no work tree is touched. Landing merges the integration branch into the
//! base branch, never touching a dirty checkout of it.

use crate::events::Kind;
use std::path::Path;

use serde_json::json;

use crate::claims::{self, Claim};
use crate::context::Exec;
use crate::error::{Context, Error, Result};
use crate::events::Event;
use crate::git;
use crate::mission::{FeatureStatus, MissionStatus};
use crate::process;
use crate::worker::commit_env;
use crate::workspace::{Workspace, feature_branch, integration_branch};

/// A merge's answer: the merged tree, or the conflicting files.
type MergeAnswer = std::result::Result<String, Vec<String>>;

/// The last merges computed by this process, by repository and commits: a state commit that
/// must wait for the branch's lock, or loses a race to nothing that changed, applies its
/// change again on the same head, and two commits always merge the same way.
static MERGES: std::sync::Mutex<Vec<(String, MergeAnswer)>> = std::sync::Mutex::new(Vec::new());

/// `git merge-tree --write-tree`: the merged tree, or the conflicting files.
pub fn merge_tree(root: &Path, ours: &str, theirs: &str) -> Result<MergeAnswer> {
    let key = format!("{}\n{ours}\n{theirs}", root.display());
    let known = MERGES
        .lock()
        .ok()
        .and_then(|m| m.iter().find(|(k, _)| *k == key).map(|(_, a)| a.clone()));
    if let Some(answer) = known {
        return Ok(answer);
    }
    let answer = run_merge_tree(root, ours, theirs)?;
    if let Ok(mut m) = MERGES.lock() {
        if m.len() >= 8 {
            m.drain(..1);
        }
        m.push((key, answer.clone()));
    }
    Ok(answer)
}

/// Runs `git merge-tree --write-tree` on two commits.
fn run_merge_tree(root: &Path, ours: &str, theirs: &str) -> Result<MergeAnswer> {
    let out = git::git_raw(
        root,
        &[],
        &[
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            ours,
            theirs,
        ],
    )?;
    let mut lines = out.stdout.lines();
    let tree = lines.next().unwrap_or("").trim().to_owned();
    // Exit 1 with the conflicted paths is a conflict; anything else is git failing.
    match out.code {
        Some(0) => Ok(Ok(tree)),
        Some(1) => Ok(Err(lines
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect())),
        _ => Err(crate::git::Error::Command {
            args: format!("merge-tree {ours} {theirs}"),
            message: out.stderr,
        }
        .into()),
    }
}

/// Whether `integ` has changes beyond the mission's own files since `branch` forked from it.
fn needs_update(repo: &git::Repo, id: &str, integ: &str, branch: &str) -> Result<bool> {
    let reads = repo.reads();
    if reads.is_ancestor(integ, branch) {
        return Ok(false);
    }
    let fork = reads.merge_base(integ, branch)?;
    let state = crate::workspace::mission_file(id);
    let workspace = format!("{}/{id}/", crate::workspace::MISSIONS_DIR);
    Ok(reads
        .changed_paths(&fork, integ)?
        .iter()
        .any(|f| *f != state && !f.starts_with(&workspace)))
}

/// The local forge's part of the plan: merges (each held while another supervisor merges or
/// while git failures back off, given up after too many) and `land: auto`.
#[derive(Debug, Clone, Default)]
pub struct LocalPlan {
    /// Merges that must wait, or that failed too often, by feature.
    pub merge_gate: std::collections::HashMap<String, crate::action::Gate>,
    /// `land: auto`.
    pub land_auto: bool,
    /// `land: auto`, the mission completed, and its work is not on the base branch yet (a
    /// supervisor that completed it died before landing).
    pub land_pending: bool,
}

impl crate::forge::ForgePlan for LocalPlan {
    fn review(&self, f: &crate::mission::Feature) -> crate::forge::Review {
        use crate::action::{Action, Gate};
        use crate::forge::Review;
        match self.merge_gate.get(&f.id) {
            Some(Gate::Busy) => Review::Wait,
            Some(Gate::GiveUp(why)) => Review::Stop(Action::Block {
                reason: crate::mission::BlockReason::MergeFailed,
                feature: Some(f.id.clone()),
                message: why.clone(),
            }),
            None => Review::Act(Action::Merge {
                feature: f.id.clone(),
            }),
        }
    }

    fn lands(&self) -> bool {
        self.land_auto
    }

    fn land_pending(&self) -> bool {
        self.land_pending
    }

    fn held(&self) -> bool {
        !self.merge_gate.is_empty()
    }
}

/// The local forge: a feature branch is its own pull request, merged here after its checks.
pub struct LocalForge;

impl crate::context::Forge for LocalForge {
    fn observe(
        &self,
        ws: &Workspace,
        store: &crate::store::Store,
        mission: &crate::mission::Mission,
        events: &[Event],
        config: &crate::config::Config,
    ) -> Result<std::sync::Arc<dyn crate::forge::ForgePlan>> {
        // Claims and back-off: what another supervisor is doing, what must wait.
        let env = ws.repo.env();
        let now = env.clock.now();
        let mut merge_gate = std::collections::HashMap::new();
        for (_, f) in mission.features() {
            if f.status != FeatureStatus::Review {
                continue;
            }
            if crate::claims::merge_claim(events, &f.id).is_some_and(|c| c.live(env)) {
                merge_gate.insert(f.id.clone(), crate::action::Gate::Busy);
                continue;
            }
            let (failures, last) = crate::claims::merge_failures(events, &f.id);
            if failures >= MERGE_FAILURES {
                let why = last.map(|(_, w)| w).unwrap_or_default();
                merge_gate.insert(
                    f.id.clone(),
                    crate::action::Gate::GiveUp(format!(
                        "merging {} failed {failures} times without a conflict; last: {why}",
                        f.id
                    )),
                );
            } else if failures > 0
                && let Some((Some(at), _)) = last
                && now < at + merge_backoff(failures)
            {
                merge_gate.insert(f.id.clone(), crate::action::Gate::Busy);
            }
        }
        let land_auto = config.get_str("land") == Some("auto");
        Ok(std::sync::Arc::new(LocalPlan {
            merge_gate,
            land_auto,
            land_pending: land_auto
                && mission.status == MissionStatus::Completed
                && !events
                    .iter()
                    .any(|e| e.kind == Kind::MissionLanded || e.kind == Kind::MissionLandDeferred)
                && !claims::land_claim(events).is_some_and(|c| c.live(env))
                && land_missing(ws, &store.id, config),
        }))
    }

    fn merge_in_record(
        &self,
        cx: &Exec,
        tx: &mut crate::store::Tx,
        feature: &str,
        feature_head: &str,
    ) -> Result<bool> {
        // A worker records its run through this forge whatever the mission's is: a mission on
        // GitHub merges through its pull requests.
        if crate::forge::github::enabled(cx.config) {
            return Ok(false);
        }
        let Some((milestone, f)) = tx.mission.feature(feature).map(|(m, f)| (m.id.clone(), f))
        else {
            return Ok(false);
        };
        if f.status != FeatureStatus::Review
            || tx.mission.status != MissionStatus::Running
            || !checks_of(cx, f).is_empty()
        {
            return Ok(false);
        }
        // A conflict is left to the merge action, which sends the feature back for a
        // conflict run.
        let Ok(tree) = merge_tree(&cx.ws.repo.root, &tx.head.commit.to_string(), feature_head)?
        else {
            return Ok(false);
        };
        let branch = feature_branch(&cx.store.id, feature);
        apply_merge(
            cx,
            tx,
            (feature, &milestone),
            (&branch, feature_head),
            &tree,
        )?;
        Ok(true)
    }

    fn merged_in_record(&self, cx: &Exec, feature: &str) {
        merged_cleanup(cx, feature);
    }

    fn execute(&self, cx: &mut Exec, action: &crate::action::Action) -> Result<()> {
        use crate::action::Action;
        match action {
            Action::Merge { feature } => merge(cx, feature),
            Action::Land => land(cx),
            other => Err(Error::Internal(format!(
                "the local forge was asked to {other}"
            ))),
        }
    }
}

/// Whether the integration branch has work the base branch does not (cheap: one ancestry
/// check, asked only of a completed `land: auto` mission with no land recorded).
fn land_missing(ws: &Workspace, id: &str, config: &crate::config::Config) -> bool {
    let (Some(base), Ok(Some(integ))) = (
        config.get_str("base"),
        ws.repo
            .branch_head(&crate::workspace::integration_branch(id)),
    ) else {
        return false;
    };
    match ws.repo.branch_head(base) {
        Ok(Some(b)) => !ws.repo.reads().is_ancestor(&integ, &b),
        _ => false,
    }
}

/// Merge failures (git failing, not conflicts) before the mission blocks with `merge_failed`.
pub const MERGE_FAILURES: u32 = 3;

/// How long to wait after the `n`th merge failure: 5 s, 10 s, 20 s, …
fn merge_backoff(n: u32) -> jiff::SignedDuration {
    jiff::SignedDuration::from_secs(5 << n.saturating_sub(1).min(6))
}

/// Merges a reviewed feature into the integration branch: claims the merge, then, in a scratch
/// worktree private to that claim, brings the feature up to date with the integration branch,
/// runs its checks, and commits the result onto `mission/<id>` with compare-and-swap. The
/// feature's own worktree (where its workers ran) is never used, so two supervisors can never
/// merge in the same directory. A failure that is not a conflict (git failing, the feature
/// branch moving) releases the claim as `feature.merge_failed`: no attempt is counted, no agent
/// runs, and the supervisor backs off before it tries again.
pub fn merge(cx: &mut Exec, feature: &str) -> Result<()> {
    let id = cx.store.id.clone();
    let branch = feature_branch(&id, feature);
    let Some((head, milestone, f)) = super::in_review(cx.store, feature)? else {
        return Ok(());
    };
    let checks = checks_of(cx, &f);
    if cx.ws.repo.branch_head(&branch)?.is_none() {
        return Err(Error::user_hint(
            format!("{feature} is in review but its branch {branch} is gone"),
            format!("retry it: git mission retry {id} {feature}"),
        ));
    }
    if checks.is_empty() {
        return merge_unclaimed(cx, &head, feature, &milestone);
    }
    let timeout = cx.config.worker_timeout();
    let lease = timeout * (checks.len() as u32 + 1) + std::time::Duration::from_secs(300);
    let env = cx.ws.repo.env();
    let claim = Claim::mine(env, lease);
    let claimed = cx.store.mutate(&format!("{feature}: merging"), |tx| {
        let Some((_, f)) = tx.mission.feature(feature) else {
            return Ok(false);
        };
        if f.status != FeatureStatus::Review
            || tx.mission.status != MissionStatus::Running
            || claims::merge_claim(&tx.head.events, feature).is_some_and(|c| c.live(env))
        {
            return Ok(false);
        }
        tx.event(
            Event::new(Kind::FeatureMerging)
                .milestone(&milestone)
                .feature(feature)
                .data(claim.data()),
        );
        Ok(true)
    })?;
    let Some(head) = claimed else { return Ok(()) };
    crate::fault!("merge.after_claim");
    // Scratch worktrees of earlier claims on this feature belong to holders that are gone.
    let prefix = format!("merge-{feature}.");
    cx.clear_scratch(&prefix);
    let wt = cx.layout.scratch().join(format!(
        "{prefix}{}.{}",
        claim.pid,
        claim.since.as_nanosecond()
    ));
    let result = merge_claimed(cx, &head, feature, &milestone, &checks, &wt);
    cx.ws.repo.remove_worktree(&wt);
    match result {
        Ok(Merged::Yes) => {
            merged_cleanup(cx, feature);
            Ok(())
        }
        Ok(Merged::Decided) => Ok(()),
        Ok(Merged::Released(why)) => {
            release(cx, feature, &milestone, Kind::FeatureMergeReleased, &why)
        }
        Err(e) => {
            tracing::warn!("{feature}: merging failed: {e}");
            release(
                cx,
                feature,
                &milestone,
                Kind::FeatureMergeFailed,
                &e.to_string(),
            )
        }
    }
}

/// The checks a feature's merge runs: its own, else the mission's `checks`.
fn checks_of(cx: &Exec, f: &crate::mission::Feature) -> Vec<String> {
    f.checks.clone().unwrap_or_else(|| {
        cx.config
            .get("checks")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    })
}

/// Makes `tx` the merge of `feature` (of `milestone`) at `feature_head` of `branch`: the merged
/// `tree` on the integration head, a squash — or with `merge: merge` (and in poc mode) a merge
/// commit with the feature as second parent — and the feature merged.
fn apply_merge(
    cx: &Exec,
    tx: &mut crate::store::Tx,
    (feature, milestone): (&str, &str),
    (branch, feature_head): (&str, &str),
    tree: &str,
) -> Result<()> {
    let squash =
        cx.config.get_str("merge") != Some("merge") && cx.config.get_str("mode") != Some("poc");
    if let Some(f) = tx.mission.feature_mut(feature) {
        f.status = FeatureStatus::Merged;
    }
    tx.base_tree = Some(gix::ObjectId::from_hex(tree.as_bytes()).context(|| "tree id")?);
    if !squash {
        tx.extra_parent =
            Some(gix::ObjectId::from_hex(feature_head.as_bytes()).context(|| "commit id")?);
    }
    tx.event(Event::new(Kind::FeatureMerged).milestone(milestone).feature(feature).data(json!({ "branch": branch, "head": feature_head, "strategy": if squash { "squash" } else { "merge" } })));
    Ok(())
}

/// The worker's worktree and the feature branch have served their purpose once the feature
/// is merged. The branch is kept when a worktree still has it checked out (one with changes
/// the removal refused to lose).
fn merged_cleanup(cx: &Exec, feature: &str) {
    cx.remove_feature_worktree(feature);
    let branch = feature_branch(&cx.store.id, feature);
    if let Err(e) = cx.ws.repo.delete_branch(&branch) {
        tracing::warn!("{feature}: keeping the branch {branch}: {e}");
    }
}

/// Merges a feature that has no checks. No claim comes first: nothing runs before the state
/// commit that merges it, and that commit is itself the compare-and-swap (two supervisors
/// compute the same merge; one commits it, the other finds the feature merged). A failure
/// that is not a conflict is recorded as `feature.merge_failed`, so the supervisor backs off
/// and blocks after too many, as for a claimed merge.
fn merge_unclaimed(
    cx: &mut Exec,
    head: &crate::store::Head,
    feature: &str,
    milestone: &str,
) -> Result<()> {
    match merge_direct(cx, head, feature, milestone) {
        Ok(Merged::Yes) => {
            merged_cleanup(cx, feature);
            Ok(())
        }
        Ok(Merged::Decided | Merged::Released(_)) => Ok(()),
        Err(e) => {
            tracing::warn!("{feature}: merging failed: {e}");
            let why = e.to_string();
            cx.store
                .mutate(&format!("{feature}: merge not done"), |tx| {
                    let in_review = tx
                        .mission
                        .feature(feature)
                        .is_some_and(|(_, f)| f.status == FeatureStatus::Review);
                    if in_review {
                        tx.event(
                            Event::new(Kind::FeatureMergeFailed)
                                .milestone(milestone)
                                .feature(feature)
                                .data(json!({ "error": why })),
                        );
                    }
                    Ok(in_review)
                })?;
            Ok(())
        }
    }
}

/// How a claimed merge ended.
enum Merged {
    /// Committed onto the integration branch.
    Yes,
    /// A result was recorded (a conflict, failing checks): the claim ended with it.
    Decided,
    /// Nothing was decided (the integration branch moved under it): try again next pulse.
    Released(String),
}

/// Ends a merge claim without a result.
fn release(cx: &mut Exec, feature: &str, milestone: &str, kind: Kind, why: &str) -> Result<()> {
    let claim_pid = std::process::id();
    cx.store
        .mutate(&format!("{feature}: merge not done"), |tx| {
            let ours =
                claims::merge_claim(&tx.head.events, feature).is_some_and(|c| c.pid == claim_pid);
            if !ours {
                return Ok(false);
            }
            tx.event(
                Event::new(kind.clone())
                    .milestone(milestone)
                    .feature(feature)
                    .data(json!({ "error": why })),
            );
            Ok(true)
        })?;
    Ok(())
}

/// The merge itself, once claimed, in the private worktree `wt`.
fn merge_claimed(
    cx: &mut Exec,
    head: &crate::store::Head,
    feature: &str,
    milestone: &str,
    checks: &[String],
    wt: &Path,
) -> Result<Merged> {
    let id = cx.store.id.clone();
    let branch = feature_branch(&id, feature);
    let branch_head = cx
        .ws
        .repo
        .branch_head(&branch)?
        .ok_or_else(|| Error::user(format!("the branch {branch} is gone")))?;
    if let Some(p) = wt.parent() {
        std::fs::create_dir_all(p).map_err(Error::io(p))?;
    }
    cx.ws.repo.worktree(&[
        "add",
        "--quiet",
        "--detach",
        &wt.to_string_lossy(),
        &branch_head,
    ])?;
    crate::fault!("merge.after_worktree");
    if !update_from_integration(cx, head, feature, milestone, wt)? {
        return Ok(Merged::Decided);
    }
    crate::fault!("merge.before_checks");
    if !run_checks(cx, feature, milestone, checks, wt)? {
        return Ok(Merged::Decided);
    }
    crate::fault!("merge.after_checks");
    let feature_head = git::head_commit(wt)?;
    if feature_head != branch_head {
        // Keep the update on the feature's branch (a later attempt starts from it), if the
        // branch is still where this merge found it.
        git::git(
            &cx.ws.repo.root,
            &[
                "update-ref",
                &format!("refs/heads/{branch}"),
                &feature_head,
                &branch_head,
            ],
        )?;
    }
    commit_merge(
        cx,
        head,
        feature,
        milestone,
        (&branch, &feature_head),
        OnConflict::Release,
    )
}

/// What a conflict found when the merge is committed means.
#[derive(Clone, Copy, PartialEq)]
enum OnConflict {
    /// The feature was brought up to date and checked: the integration branch moved since,
    /// so the merge is tried again.
    Release,
    /// Nothing was brought up to date: the feature conflicts and goes back for a conflict run.
    SendBack,
}

/// The merge of a feature without checks (no claim, see [`merge_unclaimed`]): its branch head
/// merged onto the integration head from trees (`git merge-tree`), in one state commit; a
/// conflict sends the feature back to pending for a conflict run, as the update of a checked
/// merge does.
fn merge_direct(
    cx: &mut Exec,
    head: &crate::store::Head,
    feature: &str,
    milestone: &str,
) -> Result<Merged> {
    let branch = feature_branch(&cx.store.id, feature);
    let branch_head = cx
        .ws
        .repo
        .branch_head(&branch)?
        .ok_or_else(|| Error::user(format!("the branch {branch} is gone")))?;
    commit_merge(
        cx,
        head,
        feature,
        milestone,
        (&branch, &branch_head),
        OnConflict::SendBack,
    )
}

/// The state commit of a feature's conflict with the integration branch: back to pending,
/// with the files, so the next run of it resolves them.
fn record_conflict(
    tx: &mut crate::store::Tx,
    feature: &str,
    milestone: &str,
    files: &[String],
) -> Result<bool> {
    let Some(f) = tx.mission.feature_mut(feature) else {
        return Ok(false);
    };
    if f.status != FeatureStatus::Review {
        return Ok(false);
    }
    f.status = FeatureStatus::Pending;
    tx.event(Event::new(Kind::FeatureConflict).milestone(milestone).feature(feature).data(json!({ "files": files, "failure": format!("merging the integration branch conflicts in {}", files.join(", ")) })));
    Ok(true)
}

/// Brings the feature up to date with the integration branch, when the integration branch
/// changed more than the mission's own state since the feature forked. `false` when that
/// conflicts: the feature went back to pending (recorded) and the merge is decided.
fn update_from_integration(
    cx: &mut Exec,
    head: &crate::store::Head,
    feature: &str,
    milestone: &str,
    wt: &Path,
) -> Result<bool> {
    let head_hex = head.commit.to_string();
    let branch = feature_branch(&cx.store.id, feature);
    if !needs_update(&cx.ws.repo, &cx.store.id, &head_hex, &branch)? {
        return Ok(true);
    }
    let env = commit_env(&cx.ws.repo);
    let merged = git::git_raw(wt, &env, &["merge", "--no-edit", "--quiet", &head_hex])?;
    if merged.code == Some(0) {
        return Ok(true);
    }
    let files: Vec<String> = git::git(wt, &["diff", "--name-only", "--diff-filter=U"])?
        .lines()
        .map(str::to_owned)
        .collect();
    if files.is_empty() {
        // Not a conflict: git failed for another reason.
        return Err(crate::git::Error::Command {
            args: format!("merge {head_hex}"),
            message: merged.stderr,
        }
        .into());
    }
    cx.store
        .mutate(&format!("{feature}: merge conflict"), |tx| {
            record_conflict(tx, feature, milestone, &files)
        })?;
    Ok(false)
}

/// Runs the merge checks on the merged result. `false` when one fails: the failure is
/// recorded (a retry, or the feature failed past its attempts) and the merge is decided.
fn run_checks(
    cx: &mut Exec,
    feature: &str,
    milestone: &str,
    checks: &[String],
    wt: &Path,
) -> Result<bool> {
    let timeout = cx.config.worker_timeout();
    let out_dir = cx.layout.root.join("checks").join(feature);
    std::fs::create_dir_all(&out_dir).map_err(Error::io(&out_dir))?;
    for (i, check) in checks.iter().enumerate() {
        let out = out_dir.join(format!("{i}.log"));
        let fin = process::run(
            &process::shell_spec(check, wt, &out, Some(timeout)),
            &|| false,
            cx.ws.repo.clock(),
        )?;
        if fin.success() {
            continue;
        }
        let tail = format!(
            "{}\n{}",
            process::tail(&out, 20),
            process::tail(&out.with_extension("err"), 20)
        );
        let limit = cx.config.worker_attempts();
        cx.store
            .mutate(&format!("{feature}: checks failed"), |tx| {
                let Some(f) = tx.mission.feature_mut(feature) else {
                    return Ok(false);
                };
                let failure = format!(
                    "check `{check}` failed (exit {:?}):\n{}",
                    fin.code,
                    tail.trim()
                );
                let Some(events) = super::checks_failed(
                    f,
                    limit,
                    milestone,
                    json!({ "check": check, "exit_code": fin.code, "failure": failure }),
                ) else {
                    return Ok(false);
                };
                for e in events {
                    tx.event(e);
                }
                Ok(true)
            })?;
        return Ok(false);
    }
    Ok(true)
}

/// Commits the merged tree of the feature's `branch` at `feature_head` onto the integration
/// branch, with the feature merged, in one state commit; on a conflict, what `on_conflict`
/// says.
fn commit_merge(
    cx: &mut Exec,
    head: &crate::store::Head,
    feature: &str,
    milestone: &str,
    (branch, feature_head): (&str, &str),
    on_conflict: OnConflict,
) -> Result<Merged> {
    let root = cx.ws.repo.root.clone();
    let title = head
        .mission()
        .feature(feature)
        .map(|(_, f)| f.title.clone())
        .unwrap_or_default();
    let mut conflict = None;
    let done = cx.store.mutate(&format!("{feature}: {title}"), |tx| {
        conflict = None;
        let Some(f) = tx.mission.feature(feature).map(|(_, f)| f) else {
            return Ok(false);
        };
        if f.status != FeatureStatus::Review {
            return Ok(false);
        }
        let tree = match merge_tree(&root, &tx.head.commit.to_string(), feature_head)? {
            Ok(t) => t,
            Err(files) if on_conflict == OnConflict::SendBack => {
                let recorded = record_conflict(tx, feature, milestone, &files)?;
                conflict = Some(files);
                return Ok(recorded);
            }
            Err(files) => {
                conflict = Some(files);
                return Ok(false);
            }
        };
        apply_merge(cx, tx, (feature, milestone), (branch, feature_head), &tree)?;
        Ok(true)
    })?;
    crate::fault!("merge.after_commit");
    if conflict.is_some() && on_conflict == OnConflict::SendBack {
        return Ok(Merged::Decided);
    }
    if let Some(files) = conflict {
        // The integration head moved while checks ran and now conflicts: try again next pulse.
        return Ok(Merged::Released(format!(
            "the integration branch moved while the checks ran and now conflicts in {}; merging again",
            files.join(", ")
        )));
    }
    Ok(if done.is_some() {
        Merged::Yes
    } else {
        Merged::Decided
    })
}

/// Merges the integration branch into the base branch (`land: auto`).
pub fn land(cx: &mut Exec) -> Result<()> {
    let root = cx.ws.repo.root.clone();
    let id = cx.store.id.clone();
    let integ = integration_branch(&id);
    let Some(base) = cx.config.get_str("base").map(str::to_owned) else {
        return Ok(());
    };
    let Some(base_head) = cx.ws.repo.branch_head(&base)? else {
        return Ok(());
    };
    let Some(integ_head) = cx.ws.repo.branch_head(&integ)? else {
        return Ok(());
    };
    let head = cx
        .store
        .head()?
        .ok_or_else(|| Error::user("the mission has not started"))?;
    if head.events.iter().any(|e| e.kind == Kind::MissionLanded)
        || cx.ws.repo.reads().is_ancestor(&integ_head, &base_head)
    {
        return Ok(());
    }
    if !claim_land(cx)? {
        return Ok(());
    }
    crate::fault!("land.after_claim");
    let to_land = ToLand {
        root: &root,
        base: &base,
        base_head: &base_head,
        integ: &integ,
        integ_head: &integ_head,
        message: format!("Land mission {id}: {}", head.mission().title),
        env: commit_env(&cx.ws.repo),
    };
    let attempted = to_land.merge();
    crate::fault!("land.after_merge");
    let result = match attempted {
        Ok(r) => r,
        Err(e) => {
            cx.store.mutate("mission: land not done", |tx| {
                tx.event(
                    Event::new(Kind::MissionLandReleased).data(json!({ "error": e.to_string() })),
                );
                Ok(true)
            })?;
            return Err(e);
        }
    };
    cx.store.mutate("mission: land", |tx| {
        if tx.has_event(|e| e.kind == Kind::MissionLanded || e.kind == Kind::MissionLandDeferred)
            && result.is_err()
        {
            // Said once already; end the claim without saying it again.
            tx.event(Event::new(Kind::MissionLandReleased));
            return Ok(true);
        }
        match &result {
            Ok(commit) => tx.event(
                Event::new(Kind::MissionLanded).data(json!({ "base": base, "commit": commit })),
            ),
            Err(why) => tx.event(
                Event::new(Kind::MissionLandDeferred).data(json!({ "base": base, "message": why })),
            ),
        }
        Ok(true)
    })?;
    Ok(())
}

/// Claims the land first, so one supervisor lands; `false` when it is landed or another
/// live supervisor holds the claim.
fn claim_land(cx: &mut Exec) -> Result<bool> {
    let env = cx.ws.repo.env();
    let claim = Claim::mine(env, std::time::Duration::from_secs(600));
    let claimed = cx.store.mutate("mission: landing", |tx| {
        if tx.has_event(|e| e.kind == Kind::MissionLanded)
            || claims::land_claim(&tx.head.events).is_some_and(|c| c.live(env))
        {
            return Ok(false);
        }
        tx.event(Event::new(Kind::MissionLanding).data(claim.data()));
        Ok(true)
    })?;
    Ok(claimed.is_some())
}

/// The integration branch about to be merged into the base branch.
struct ToLand<'a> {
    root: &'a Path,
    base: &'a str,
    base_head: &'a str,
    integ: &'a str,
    integ_head: &'a str,
    message: String,
    env: Vec<(String, String)>,
}

impl ToLand<'_> {
    /// The merge commit now on the base branch, or why it could not be made (a conflict, a
    /// dirty checkout of the base): then the user lands by hand.
    fn merge(&self) -> Result<std::result::Result<String, String>> {
        match checked_out_at(self.root, self.base)? {
            Some(wt) => self.in_checkout(&wt),
            None => self.without_checkout(),
        }
    }

    /// The base branch is checked out: merge there, so its work tree follows.
    fn in_checkout(&self, wt: &Path) -> Result<std::result::Result<String, String>> {
        let (base, integ) = (self.base, self.integ);
        let dirty = !git::git(wt, &["status", "--porcelain"])?.trim().is_empty();
        if dirty {
            return Ok(Err(format!(
                "{base} is checked out at {} with uncommitted changes; land it by hand: git merge {integ}",
                wt.display()
            )));
        }
        let args = ["merge", "--no-ff", "--quiet", "-m", &self.message, integ];
        if git::git_env(wt, &self.env, &args).is_ok() {
            return Ok(Ok(git::head_commit(wt)?));
        }
        let _ = git::git(wt, &["merge", "--abort"]);
        Ok(Err(format!(
            "merging {integ} into {base} conflicts; land it by hand: git merge {integ}"
        )))
    }

    /// The base branch is not checked out: make the merge commit from trees and move the
    /// branch only if it is still where it was read.
    fn without_checkout(&self) -> Result<std::result::Result<String, String>> {
        let (root, base, base_head) = (self.root, self.base, self.base_head);
        let tree = match merge_tree(root, base_head, self.integ_head)? {
            Ok(tree) => tree,
            Err(files) => {
                return Ok(Err(format!(
                    "merging {} into {base} conflicts in {}; land it by hand",
                    self.integ,
                    files.join(", ")
                )));
            }
        };
        let parents = ["-p", base_head, "-p", self.integ_head];
        let mut args = vec!["commit-tree", tree.as_str()];
        args.extend(parents);
        args.extend(["-m", &self.message]);
        let commit = git::git_env(root, &self.env, &args)?.trim().to_owned();
        let base_ref = format!("refs/heads/{base}");
        git::git(root, &["update-ref", &base_ref, &commit, base_head])?;
        Ok(Ok(commit))
    }
}

/// The work tree where `branch` is checked out, if any.
fn checked_out_at(root: &Path, branch: &str) -> Result<Option<std::path::PathBuf>> {
    let list = git::git(root, &["worktree", "list", "--porcelain"])?;
    let mut current: Option<&str> = None;
    for line in list.lines() {
        if let Some(p) = line.strip_prefix("worktree ") {
            current = Some(p);
        } else if line == format!("branch refs/heads/{branch}") {
            return Ok(current.map(std::path::PathBuf::from));
        }
    }
    Ok(None)
}

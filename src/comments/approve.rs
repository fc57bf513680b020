//! `/mission approve` on a pull request: a writer approves the draft mission the PR adds or
//! changes. The tool makes the same change as `git mission approve` (status `approved`,
//! `approved: {by, at}` with the GitHub login) as a commit on top of the PR's head, written
//! without a work tree, and pushes it to the head branch with a lease on the head it fetched:
//! never a force, so a push that raced it is never overwritten. Merging the PR then puts the
//! approved mission on the base branch, where the next pulse starts it.
//!
//! At most once: the commit carries the comment's id in a trailer; a redelivered event that
//! finds that commit at the head answers as the first one did instead of approving again.

use serde_json::Value;

use super::apply::{Handled, not_a_writer, permission, writer};
use crate::config::{Config, Overrides};
use crate::error::{Error, Result};
use crate::forge::github::sync::Remote;
use crate::forge::github::{CommentObs, GitHub};
use crate::git::{self, Repo};
use crate::mission::{Approval, MissionDoc, MissionStatus, Severity, ids, validate};
use crate::workspace::{MISSIONS_DIR, integration_branch, mission_file};

/// How to approve a draft, for replies that refuse.
pub fn how_to(id: &str) -> String {
    format!(
        "To approve a draft, comment `/mission approve` on the pull request that adds or changes `{}` from a branch of this repository, or run `git mission approve {id}` and commit the change.",
        mission_file(id)
    )
}

fn how_to_any() -> String {
    format!(
        "To approve a draft, comment `/mission approve` on the pull request that adds or changes its `{MISSIONS_DIR}/<id>-mission.md` from a branch of this repository, or run `git mission approve <id>` and commit the change."
    )
}

/// The answer to `/mission approve` where no pull request can carry the approval (an issue,
/// or a thread that is not a mission's).
pub fn elsewhere(login: &str, id: Option<&str>) -> Handled {
    Handled {
        ok: Some(false),
        reply: format!(
            "@{login}: approval is a commit of the mission file, so it happens on a pull request, not on an issue. Nothing was changed. {}",
            id.map_or_else(how_to_any, how_to)
        ),
    }
}

/// The trailer that ties an approval commit to the comment that asked for it.
fn trailer(comment: u64) -> String {
    format!("Git-Mission-Comment: {comment}")
}

/// Why a pull request cannot carry an approval (it is closed, or its head is not a branch of
/// `repo`, `owner/name`); `None` when it can.
pub fn refusal(pr: &Value, repo: &str) -> Option<String> {
    if pr["state"].as_str() != Some("open") {
        return Some("this pull request is not open".into());
    }
    let head_repo = pr["head"]["repo"]["full_name"].as_str();
    if !head_repo.is_some_and(|r| r.eq_ignore_ascii_case(repo)) {
        return Some(format!(
            "the branch of this pull request is in {}, not in {repo}; git mission only pushes to branches of this repository",
            head_repo.unwrap_or("a deleted fork")
        ));
    }
    let branch = pr["head"]["ref"].as_str().unwrap_or("");
    if !branch_name_ok(branch) {
        return Some(format!(
            "the head branch {branch:?} is not a name git mission pushes to"
        ));
    }
    if pr["head"]["sha"].as_str().is_none_or(|s| !is_sha(s)) {
        return Some("GitHub did not say which commit the pull request's head is".into());
    }
    None
}

/// A branch name safe to put in a refspec: git's own rules, plus no leading `-`.
fn branch_name_ok(branch: &str) -> bool {
    !branch.is_empty()
        && !branch.starts_with('-')
        && !branch.contains(['*', ':', ' ', '\\', '?', '[', '~', '^'])
        && !branch.contains("..")
        && !branch.contains("@{")
        && !branch.ends_with('/')
        && !branch.ends_with(".lock")
        && !branch.ends_with('.')
        && branch
            .split('/')
            .all(|c| !c.is_empty() && !c.starts_with('.'))
        && branch.chars().all(|c| !c.is_control())
}

fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Handles a comment's `/mission approve` on pull request `c.on`. `named` is the mission the
/// line names, if any; `others` says whether the comment had other commands (they do not apply
/// on a plan PR, and the reply says so).
pub fn from_pr(
    repo: &Repo,
    ov: &Overrides,
    gh: &GitHub,
    remote: &Remote,
    c: &CommentObs,
    named: Option<&str>,
    others: bool,
) -> Result<Handled> {
    let mut h = approve(repo, ov, gh, remote, c, named)?;
    if others {
        h.reply.push_str(
            "\n\nOnly `/mission approve` applies on a pull request that carries a draft; other commands go to the tracking issue or the pull requests of a running mission.",
        );
    }
    Ok(h)
}

fn approve(
    repo: &Repo,
    ov: &Overrides,
    gh: &GitHub,
    remote: &Remote,
    c: &CommentObs,
    named: Option<&str>,
) -> Result<Handled> {
    let login = c.login.as_str();
    let refuse = |why: String| -> Result<Handled> {
        Ok(Handled {
            ok: Some(false),
            reply: format!("@{login}: {why}"),
        })
    };
    let perm = permission(gh, login)?;
    if !writer(&perm) {
        return Ok(not_a_writer(login, &perm));
    }
    let n = c.on;
    let r = gh.get(&gh.repo_path(&format!("/pulls/{n}")))?;
    if r.status != 200 {
        return Err(crate::forge::github::GitHubError::api(
            format!("get pull request #{n}: {}", r.message()),
            Some(r.status),
        )
        .into());
    }
    let pr = &r.body;
    let full = format!("{}/{}", gh.ep.owner, gh.ep.name);
    if let Some(why) = refusal(pr, &full) {
        let how = named.map_or_else(how_to_any, how_to);
        return refuse(format!("{why}. Nothing was changed. {how}"));
    }
    let branch = pr["head"]["ref"].as_str().unwrap_or_default();
    let head = pr["head"]["sha"].as_str().unwrap_or_default();
    let base = pr["base"]["ref"].as_str().unwrap_or_default();
    if !branch_name_ok(base) {
        return refuse(format!(
            "the base branch {base:?} is not a name git mission reads"
        ));
    }
    let root = repo.root.as_path();
    let head_ref = format!("refs/git-mission/pr/{n}/head");
    let base_ref = format!("refs/git-mission/pr/{n}/base");
    remote.fetch_into(root, &[(branch, &head_ref), (base, &base_ref)])?;
    let fetched = git::git(root, &["rev-parse", "--verify", &head_ref])?;
    if fetched.trim() != head {
        return refuse(format!(
            "`{branch}` moved while its pull request was read. Nothing was changed; comment again to approve what it holds now."
        ));
    }
    // Which mission: the one named, else the one mission file this pull request changes.
    let id = match named {
        Some(id) => id.to_owned(),
        None => match changed_mission(root, &base_ref, head)? {
            Ok(id) => id,
            Err(why) => return refuse(why),
        },
    };
    let file = mission_file(&id);
    let Some(text) = file_at(root, head, &file)? else {
        return refuse(format!(
            "`{file}` is not on `{branch}`. Nothing was changed. {}",
            how_to(&id)
        ));
    };
    // A redelivered event: the approval for this comment is already the head.
    let message = git::git(root, &["log", "-1", "--format=%B", head])?;
    if message.lines().any(|l| l.trim() == trailer(c.id)) {
        return Ok(approved(login, &id, branch, head));
    }
    let doc = match MissionDoc::parse(text) {
        Ok(d) => d,
        Err(d) => {
            return refuse(format!(
                "`{file}` does not parse ({}:{}: {}), so it cannot be approved. Nothing was changed.",
                d.line, d.column, d.message
            ));
        }
    };
    if let Some(why) = not_approvable(repo, ov, remote, &id, &file, &doc)? {
        return refuse(why);
    }
    let commit = commit_approval(repo, &id, &doc, &file, c, head)?;
    match remote.push_commit(root, &commit, branch, head) {
        Ok(()) => Ok(approved(login, &id, branch, &commit)),
        Err(Error::GitHub(crate::forge::github::GitHubError::LeaseLost { .. })) => refuse(format!(
            "`{branch}` moved while the approval was being pushed. Nothing was changed; comment again to approve what it holds now."
        )),
        Err(e) => Err(e),
    }
}

/// Why the draft `doc` (mission `id`, at `file`) cannot be approved, if it cannot: approved
/// already, not a draft, started, no milestones, or errors.
fn not_approvable(
    repo: &Repo,
    ov: &Overrides,
    remote: &Remote,
    id: &str,
    file: &str,
    doc: &MissionDoc,
) -> Result<Option<String>> {
    let root = repo.root.as_path();
    let m = &doc.mission;
    if let Some(ap) = &m.approved {
        return Ok(Some(format!(
            "mission `{id}` is already approved (by {} at {}); merging this pull request starts it.",
            ap.by, ap.at
        )));
    }
    if m.status != MissionStatus::Draft {
        return Ok(Some(format!(
            "only a draft can be approved; mission `{id}` is {}. Nothing was changed.",
            m.status
        )));
    }
    remote.fetch_mission(root, id)?;
    if remote.fetched(root, &integration_branch(id))?.is_some() {
        return Ok(Some(format!(
            "mission `{id}` has already started (the branch `{}` exists). Nothing was changed.",
            integration_branch(id)
        )));
    }
    if m.milestones.is_empty() {
        return Ok(Some(format!(
            "mission `{id}` has no milestones to approve; write the plan in `{file}` first. Nothing was changed."
        )));
    }
    let config = Config::load(repo, Some((m, file)), ov)?;
    let errors: Vec<String> = validate::validate(doc, Some(id), &config.profile_names())
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| format!("- {file}:{}:{}: {}", d.line, d.column, d.message))
        .collect();
    if !errors.is_empty() {
        return Ok(Some(format!(
            "`{file}` has {} error{}, so it cannot be approved. Nothing was changed.\n\n{}\n\n`git mission validate {id}` shows them with hints.",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            errors
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        )));
    }
    Ok(None)
}

/// Commits the approved mission file on top of `head` (not yet pushed), with the trailer
/// that makes a redelivery of comment `c` find it.
fn commit_approval(
    repo: &Repo,
    id: &str,
    doc: &MissionDoc,
    file: &str,
    c: &CommentObs,
    head: &str,
) -> Result<String> {
    let root = repo.root.as_path();
    let (login, n) = (c.login.as_str(), c.on);
    let m = &doc.mission;
    let (_, at) = git::identity(root)?;
    let mut new = m.clone();
    new.status = MissionStatus::Approved;
    new.approved = Some(Approval {
        by: login.to_owned(),
        at,
    });
    let (text, _) = doc.rewrite(&new);
    crate::store::commit_file(
        repo,
        head,
        file,
        text.as_bytes(),
        &format!(
            "Approve mission {id}\n\nApproved by @{login} with `/mission approve` on pull request #{n}.\n\n{}\n",
            trailer(c.id)
        ),
    )
}

/// The one mission file a pull request adds or changes (between `base_ref` and `head`), or
/// why there is none to approve without naming it.
fn changed_mission(
    root: &std::path::Path,
    base_ref: &str,
    head: &str,
) -> Result<std::result::Result<String, String>> {
    let changed = git::git(
        root,
        &[
            "diff",
            "--name-only",
            "--no-renames",
            &format!("{base_ref}...{head}"),
            "--",
            MISSIONS_DIR,
        ],
    )?;
    let mut found: Vec<String> = changed
        .lines()
        .filter_map(|p| {
            p.strip_prefix(MISSIONS_DIR)?
                .strip_prefix('/')?
                .strip_suffix("-mission.md")
        })
        .filter(|id| ids::is_mission_id(id))
        .map(str::to_owned)
        .filter(|id| file_at(root, head, &mission_file(id)).is_ok_and(|t| t.is_some()))
        .collect();
    found.sort();
    found.dedup();
    Ok(match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(format!(
            "this pull request adds or changes no mission file. Nothing was changed. {}",
            how_to_any()
        )),
        many => Err(format!(
            "this pull request changes several mission files ({}); name the one to approve: `/mission <id> approve`. Nothing was changed.",
            many.join(", ")
        )),
    })
}

fn approved(login: &str, id: &str, branch: &str, commit: &str) -> Handled {
    Handled {
        ok: Some(true),
        reply: format!(
            "@{login}: approved; merging this PR starts the mission `{id}` (approval commit {} on `{branch}`).",
            &commit[..commit.len().min(12)]
        ),
    }
}

/// A file's text at a commit, `None` when the commit does not have it.
fn file_at(root: &std::path::Path, commit: &str, path: &str) -> Result<Option<String>> {
    let listed = git::git(root, &["ls-tree", "--name-only", commit, "--", path])?;
    if listed.trim() != path {
        return Ok(None);
    }
    Ok(Some(git::git(
        root,
        &["cat-file", "blob", &format!("{commit}:{path}")],
    )?))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pr(state: &str, repo: Option<&str>, branch: &str) -> Value {
        json!({
            "state": state,
            "head": {
                "ref": branch,
                "sha": "0123456789abcdef0123456789abcdef01234567",
                "repo": repo.map(|r| json!({"full_name": r})),
            },
        })
    }

    #[test]
    fn only_open_prs_from_this_repository_carry_an_approval() {
        assert_eq!(
            refusal(&pr("open", Some("acme/widgets"), "plan/x"), "acme/widgets"),
            None
        );
        assert_eq!(
            refusal(&pr("open", Some("ACME/Widgets"), "plan/x"), "acme/widgets"),
            None
        );
        let fork = refusal(
            &pr("open", Some("mallory/widgets"), "plan/x"),
            "acme/widgets",
        );
        assert!(fork.is_some_and(|w| w.contains("mallory/widgets")));
        let gone = refusal(&pr("open", None, "plan/x"), "acme/widgets");
        assert!(gone.is_some_and(|w| w.contains("deleted fork")));
        let closed = refusal(
            &pr("closed", Some("acme/widgets"), "plan/x"),
            "acme/widgets",
        );
        assert!(closed.is_some_and(|w| w.contains("not open")));
        for bad in [
            "-x", "a..b", "a b", "a:b", "x/", "x.lock", ".x", "a//b", "x\u{7}",
        ] {
            assert!(
                refusal(&pr("open", Some("acme/widgets"), bad), "acme/widgets").is_some(),
                "{bad:?}"
            );
        }
        let mut no_sha = pr("open", Some("acme/widgets"), "plan/x");
        no_sha["head"]["sha"] = json!("nope");
        assert!(refusal(&no_sha, "acme/widgets").is_some());
    }
}

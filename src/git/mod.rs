//! Git access: gix for reads (refs, blobs at a ref), and the single builder for `git`
//! subprocesses (identity, configuration). Nothing here builds a shell string.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub mod error;
pub use error::Error;

use error::read;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The one way this crate runs `git`: argv only, no shell, no prompts, output captured.
pub fn git(dir: &Path, args: &[&str]) -> Result<String> {
    git_env(dir, &[], args)
}

/// What a git command printed and how it exited.
#[derive(Debug, Clone)]
pub struct GitOutput {
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The one `git` process builder: argv only, stdin closed, no prompts, messages in the C
/// locale (so nothing depends on the user's language), output captured, and no automatic
/// maintenance (git starts a `git maintenance run --auto` process after commits and merges:
/// one more process per state change, for work the user's own git does anyway). An error only
/// when git cannot be started; the exit status is the caller's to read.
pub fn git_raw(dir: &Path, env: &[(String, String)], args: &[&str]) -> Result<GitOutput> {
    let out = Command::new("git")
        .args(["-c", "maintenance.auto=false", "-c", "gc.auto=0"])
        .args(args)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .env("LANGUAGE", "C")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Start {
            args: args.join(" "),
            source,
        })?;
    tracing::debug!(?args, status = ?out.status, "git");
    Ok(GitOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    })
}

/// [`git`] with extra environment variables.
pub fn git_env(dir: &Path, env: &[(String, String)], args: &[&str]) -> Result<String> {
    let out = git_raw(dir, env, args)?;
    if out.code == Some(0) {
        Ok(out.stdout)
    } else {
        Err(Error::Command {
            args: args.join(" "),
            message: out.stderr,
        })
    }
}

/// The commit `HEAD` names in the work tree at `dir` (a linked worktree too), read in process:
/// it was a `git rev-parse HEAD` process about twice a feature.
pub fn head_commit(dir: &Path) -> Result<String> {
    Reader::open(dir)?.head_commit()
}

/// Whether commit `a` is an ancestor of (or equal to) `b` in the repository at `dir`
/// ([`Reader::is_ancestor`]).
pub fn is_ancestor(dir: &Path, a: &str, b: &str) -> bool {
    Reader::open(dir).is_ok_and(|r| r.is_ancestor(a, b))
}

/// Fills the worktree at `wt`, added with `--no-checkout`, with everything but the directory
/// `leave_out` (a repository path of checked characters): a sparse-checkout file private to
/// this worktree, read by one `git read-tree`. What is left out carries git's skip-worktree
/// bit, so `git status` is clean without it and a merge that changes a file there writes it.
/// Nothing is set in the repository's configuration. Should that fail, the whole tree is
/// checked out.
pub fn check_out_leaving_out(wt: &Path, leave_out: &str) -> Result<()> {
    if let Some(admin) = worktree_gitdir(wt).filter(|a| a.is_dir()) {
        let info = admin.join("info");
        let patterns = format!("/*\n!/{leave_out}/\n");
        let written = std::fs::create_dir_all(&info)
            .and_then(|()| std::fs::write(info.join("sparse-checkout"), patterns));
        if written.is_ok() {
            let sparse = [
                "-c",
                "core.sparseCheckout=true",
                "-c",
                "core.sparseCheckoutCone=false",
                "read-tree",
                "-mu",
                "HEAD",
            ];
            match git(wt, &sparse) {
                Ok(_) => return Ok(()),
                Err(e) => tracing::warn!("checking out {} sparsely: {e}", wt.display()),
            }
        }
    }
    git(wt, &["read-tree", "-mu", "HEAD"])?;
    Ok(())
}

/// The git directory a linked worktree's `.git` file at `wt` names (`gitdir: <path>`, a
/// relative path taken from `wt`), as git reads it: the line ends are not part of the path.
fn worktree_gitdir(wt: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(wt.join(".git")).ok()?;
    let named = text
        .strip_prefix("gitdir: ")?
        .trim_end_matches(['\n', '\r']);
    Some(wt.join(named))
}

/// Reads of one repository in process, for what was a `git` process each: the HEAD of a
/// worktree, ancestry, fork points, the paths two commits differ in. Open it once for several.
pub struct Reader(gix::Repository);

impl Reader {
    /// Opens the repository at `dir` (a linked worktree too).
    pub fn open(dir: &Path) -> Result<Reader> {
        gix::open(dir).map(Reader).map_err(read(|| {
            format!("opening the repository at {}", dir.display())
        }))
    }

    /// The commit `HEAD` names.
    pub fn head_commit(&self) -> Result<String> {
        let id = self.0.head_id().map_err(read(|| "reading HEAD".into()))?;
        Ok(id.to_string())
    }

    /// The commit `rev` (an id, a branch, `HEAD`) names.
    fn commit_of(&self, rev: &str) -> Result<gix::ObjectId> {
        commit_of(&self.0, rev)
    }

    /// Whether commit `a` is an ancestor of (or equal to) `b`; `false` when either is unknown,
    /// as `git merge-base --is-ancestor` answers.
    pub fn is_ancestor(&self, a: &str, b: &str) -> bool {
        let (Ok(a), Ok(b)) = (self.commit_of(a), self.commit_of(b)) else {
            return false;
        };
        // `a` is an ancestor of `b` exactly when it is their best common ancestor.
        a == b || matches!(self.0.merge_base(a, b), Ok(Some(base)) if base.detach() == a)
    }

    /// A best common ancestor of `a` and `b` (what `git merge-base a b` prints).
    pub fn merge_base(&self, a: &str, b: &str) -> Result<String> {
        let (ia, ib) = (self.commit_of(a)?, self.commit_of(b)?);
        if ia == ib {
            return Ok(ia.to_string());
        }
        let ctx = || format!("finding the fork point of {a} and {b}");
        match self.0.merge_base(ia, ib).map_err(read(ctx))? {
            Some(base) => Ok(base.to_string()),
            None => Err(Error::Command {
                args: format!("merge-base {a} {b}"),
                message: "the two have no common history".into(),
            }),
        }
    }

    /// The paths that differ between the trees of commits `from` and `to`, sorted: what `git
    /// diff --name-only --no-renames from to` prints (unquoted). A rename is its old and its
    /// new path; a submodule whose commit changed is its path.
    pub fn changed_paths(&self, from: &str, to: &str) -> Result<Vec<String>> {
        let repo = &self.0;
        let ctx = || format!("comparing {from} with {to}");
        let tree = |rev: &str| -> Result<gix::ObjectId> {
            let commit = repo.find_commit(self.commit_of(rev)?).map_err(read(ctx))?;
            Ok(commit.tree_id().map_err(read(ctx))?.detach())
        };
        let (a, b) = (tree(from)?, tree(to)?);
        let mut out = Vec::new();
        diff_trees(repo, Some(a), Some(b), "", &mut out).map_err(|source| Error::Read {
            context: ctx(),
            source,
        })?;
        out.sort_unstable();
        Ok(out)
    }
}

/// The commit `rev` (an id, a branch, `HEAD`) names in `repo`.
fn commit_of(repo: &gix::Repository, rev: &str) -> Result<gix::ObjectId> {
    let ctx = || format!("finding the commit {rev}");
    // A full id needs no parse of the revision syntax (nor the configuration it reads).
    let object = match gix::ObjectId::from_hex(rev.as_bytes()) {
        Ok(id) => repo.find_object(id).map_err(read(ctx))?,
        Err(_) if rev == "HEAD" => repo
            .head_id()
            .map_err(read(ctx))?
            .object()
            .map_err(read(ctx))?,
        Err(_) => repo
            .rev_parse_single(rev)
            .map_err(read(ctx))?
            .object()
            .map_err(read(ctx))?,
    };
    Ok(object.peel_to_commit().map_err(read(ctx))?.id)
}

/// One entry of a tree: its mode and object.
type Entry = (gix::objs::tree::EntryMode, gix::ObjectId);

/// Why a tree could not be read.
type TreeError = Box<dyn std::error::Error + Send + Sync>;

/// The entries of tree `id` by name (none for `None`).
fn tree_entries(
    repo: &gix::Repository,
    id: Option<gix::ObjectId>,
) -> Result<std::collections::BTreeMap<Vec<u8>, Entry>, TreeError> {
    let mut map = std::collections::BTreeMap::new();
    if let Some(id) = id {
        let tree = repo.find_tree(id)?;
        let decoded = tree.decode()?;
        for e in decoded.entries {
            map.insert(e.filename.to_vec(), (e.mode, e.oid.to_owned()));
        }
    }
    Ok(map)
}

/// Adds to `out` every file path under `prefix` that differs between trees `a` and `b`.
fn diff_trees(
    repo: &gix::Repository,
    a: Option<gix::ObjectId>,
    b: Option<gix::ObjectId>,
    prefix: &str,
    out: &mut Vec<String>,
) -> Result<(), TreeError> {
    let (mut left, right) = (tree_entries(repo, a)?, tree_entries(repo, b)?);
    let mut names: Vec<Vec<u8>> = left.keys().chain(right.keys()).cloned().collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        let (x, y) = (left.remove(&name), right.get(&name).copied());
        if x == y {
            continue;
        }
        let path = format!("{prefix}{}", String::from_utf8_lossy(&name));
        let sub = |e: Option<Entry>| e.filter(|(m, _)| m.is_tree()).map(|(_, id)| id);
        if x.is_some_and(|(m, _)| !m.is_tree()) || y.is_some_and(|(m, _)| !m.is_tree()) {
            out.push(path.clone());
        }
        let (tx, ty) = (sub(x), sub(y));
        if tx.is_some() || ty.is_some() {
            diff_trees(repo, tx, ty, &format!("{path}/"), out)?;
        }
    }
    Ok(())
}

/// Like [`git`], but a non-zero exit with no stderr (as `git config --get` gives for "not
/// set") is `Ok(None)`.
pub fn git_opt(dir: &Path, args: &[&str]) -> Result<Option<String>> {
    match git(dir, args) {
        Ok(s) => Ok(Some(s)),
        Err(Error::Command { message, .. }) if message.is_empty() => Ok(None),
        Err(e) => Err(e),
    }
}

/// An opened repository with a work tree.
pub struct Repo {
    pub root: PathBuf,
    repo: gix::Repository,
    env: std::sync::Arc<crate::env::Env>,
}

impl Repo {
    /// The environment and clock the command was given.
    pub fn env(&self) -> &crate::env::Env {
        &self.env
    }

    /// The clock of [`Repo::env`].
    pub fn clock(&self) -> &crate::env::Clock {
        &self.env.clock
    }

    /// Finds the repository containing `dir`; `env` is what the command was given.
    pub fn discover(dir: &Path, env: std::sync::Arc<crate::env::Env>) -> Result<Repo> {
        let repo = gix::discover(dir).map_err(|_| Error::NotARepository {
            dir: dir.to_path_buf(),
        })?;
        let root = repo.workdir().ok_or(Error::Bare)?.to_path_buf();
        Ok(Repo { root, repo, env })
    }

    /// The gix repository.
    pub fn gix(&self) -> &gix::Repository {
        &self.repo
    }

    /// In-process reads of this repository ([`Reader`]).
    pub fn reads(&self) -> Reader {
        Reader(self.repo.clone())
    }

    /// The common git directory (shared by all worktrees): where per-machine state lives.
    pub fn common_dir(&self) -> PathBuf {
        let d = self.repo.common_dir();
        if d.is_absolute() {
            d.to_path_buf()
        } else {
            self.root.join(d)
        }
    }

    /// Removes the worktree at `wt` and whatever is left of its directory (a scratch worktree
    /// of a claim, or one a dead process left half made). Failures are ignored: what remains
    /// is tidied again later.
    pub fn remove_worktree(&self, wt: &Path) {
        let _ = self.force_remove_worktree(wt);
        let _ = std::fs::remove_dir_all(wt);
    }

    /// `git worktree remove --force <wt>`, done in this process when `wt` is a linked worktree
    /// of this repository that is not locked: then git deletes the work tree and its
    /// administrative directory `<common dir>/worktrees/<name>` and nothing else (uncommitted
    /// changes and untracked files go with it, as with `--force`), and so does this, in the
    /// same order, under the same lock as [`Repo::worktree`]. Anything else — a locked
    /// worktree, a directory that is not one of this repository's worktrees, a `.git` file
    /// this does not recognise — is left to git itself, which refuses or does what it does.
    pub fn force_remove_worktree(&self, wt: &Path) -> Result<()> {
        let removed = self.under_worktrees_lock(|| {
            let Some(admin) = self.linked_worktree_admin(wt) else {
                return false;
            };
            crate::fault!("worktree.before_remove");
            if std::fs::remove_dir_all(wt).is_err() && wt.exists() {
                return false;
            }
            // No going back from here, as for git: the registration goes too.
            let _ = std::fs::remove_dir_all(&admin);
            let _ = std::fs::remove_dir(self.common_dir().join("worktrees"));
            true
        })?;
        if !removed {
            self.worktree(&["remove", "--force", &wt.to_string_lossy()])?;
        }
        Ok(())
    }

    /// The administrative directory of `wt` when `wt` is an unlocked linked worktree of this
    /// repository: its `.git` file names `<common dir>/worktrees/<name>`, whose `gitdir` names
    /// `wt/.git` back (what `git worktree` validates before it removes one).
    fn linked_worktree_admin(&self, wt: &Path) -> Option<PathBuf> {
        let admin = worktree_gitdir(wt)?.canonicalize().ok()?;
        let registry = self.common_dir().join("worktrees").canonicalize().ok()?;
        if admin.parent() != Some(registry.as_path()) || admin.join("locked").exists() {
            return None;
        }
        let back = std::fs::read_to_string(admin.join("gitdir")).ok()?;
        let back = Path::new(back.trim_end_matches(['\n', '\r']));
        let back = admin.join(back).canonicalize().ok()?;
        (back == wt.join(".git").canonicalize().ok()?).then_some(admin)
    }

    /// `git worktree …` under a per-repository lock: concurrent `add`, `remove` and `prune`
    /// from parallel workers otherwise race on `.git/worktrees/` (a prune can delete the
    /// directory another process is creating).
    pub fn worktree(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["worktree"];
        full.extend_from_slice(args);
        self.under_worktrees_lock(|| git(&self.root, &full))?
    }

    /// Runs `f` holding the per-repository lock of [`Repo::worktree`].
    fn under_worktrees_lock<T>(&self, f: impl FnOnce() -> T) -> Result<T> {
        use std::os::fd::AsRawFd;
        let dir = self.common_dir().join("git-mission");
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let path = dir.join("worktrees.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
        crate::fault!("worktree.before");
        // SAFETY: flock on a file descriptor we own; released when `file` is dropped.
        unsafe {
            libc::flock(file.as_raw_fd(), libc::LOCK_EX);
        }
        let out = f();
        drop(file);
        Ok(out)
    }

    /// The commit id a branch points at, if the branch exists.
    pub fn branch_head(&self, branch: &str) -> Result<Option<String>> {
        let name = format!("refs/heads/{branch}");
        let found = self
            .repo
            .try_find_reference(name.as_str())
            .map_err(read(|| format!("reading {name}")))?;
        match found {
            None => Ok(None),
            Some(mut r) => {
                let commit = r
                    .peel_to_commit()
                    .map_err(read(|| format!("peeling {name}")))?;
                Ok(Some(commit.id.to_string()))
            }
        }
    }

    /// The text of `path` in the tree of `branch`'s head, if both exist.
    pub fn read_at_branch(&self, branch: &str, path: &str) -> Result<Option<String>> {
        let name = format!("refs/heads/{branch}");
        let ctx = || format!("reading {path} at {name}");
        let Some(mut r) = self
            .repo
            .try_find_reference(name.as_str())
            .map_err(read(ctx))?
        else {
            return Ok(None);
        };
        let tree = r.peel_to_tree().map_err(read(ctx))?;
        let Some(entry) = tree.lookup_entry_by_path(path).map_err(read(ctx))? else {
            return Ok(None);
        };
        // The object's buffer becomes the text: no copy of a megabyte mission file.
        let data = entry.object().map_err(read(ctx))?.detach().data;
        String::from_utf8(data).map(Some).map_err(read(ctx))
    }

    /// Short names of local branches under `prefix` (e.g. `mission/x/`).
    pub fn branches_under(&self, prefix: &str) -> Result<Vec<String>> {
        let full = format!("refs/heads/{prefix}");
        let ctx = || format!("listing {full}");
        let platform = self.repo.references().map_err(read(ctx))?;
        let iter = platform.prefixed(full.as_str()).map_err(read(ctx))?;
        let mut out = Vec::new();
        for r in iter {
            let r = r.map_err(read(ctx))?;
            let name = r.name().as_bstr().to_string();
            if let Some(short) = name.strip_prefix("refs/heads/") {
                out.push(short.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    /// The identity the supervisor commits as: the repository's committer
    /// ([`Repo::committer`]), else git-mission; dated [`Repo::commit_time`].
    pub fn signature(&self) -> gix::actor::Signature {
        let (name, email) = self.committer();
        gix::actor::Signature {
            name: name.unwrap_or_else(|| "git-mission".into()).into(),
            email: email
                .unwrap_or_else(|| "git-mission@localhost".into())
                .into(),
            time: self.commit_time(),
        }
    }

    /// When the supervisor's commits are made: `GIT_COMMITTER_DATE` when set (in any format
    /// git takes), else the command's clock, so a run under a fixed clock makes the same
    /// commits.
    pub fn commit_time(&self) -> gix::date::Time {
        if let Some(d) = self.env.nonempty("GIT_COMMITTER_DATE")
            && let Ok(t) = gix::date::parse(d, None)
        {
            return t;
        }
        gix::date::Time {
            seconds: self.env.clock.now_s().as_second(),
            offset: 0,
        }
    }

    /// Applies one reference edit signed by the supervisor's identity (gix's own identity
    /// lookup loads the time-zone database).
    fn edit_ref(
        &self,
        edit: gix::refs::transaction::RefEdit,
        ctx: impl FnOnce() -> String,
    ) -> Result<()> {
        let sig = self.signature();
        let mut buf = gix::date::parse::TimeBuf::default();
        self.repo
            .edit_references_as(Some(edit), Some(sig.to_ref(&mut buf)))
            .map_err(read(ctx))?;
        Ok(())
    }

    /// Creates branch `branch` at commit `at` (it must not exist), in process: `git worktree
    /// add -b` otherwise starts a `git branch` process.
    pub fn create_branch(&self, branch: &str, at: &str) -> Result<()> {
        let id = commit_of(&self.repo, at)?;
        self.create_ref(
            &format!("refs/heads/{branch}"),
            id,
            &format!("branch: Created from {at}"),
        )
    }

    /// Creates the reference `name` (a full name) at `id`, with a reflog entry saying
    /// `message`; an error when it exists.
    pub fn create_ref(&self, name: &str, id: gix::ObjectId, message: &str) -> Result<()> {
        use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
        let ctx = || format!("creating {name}");
        let edit = RefEdit {
            change: Change::Update {
                log: LogChange {
                    mode: RefLog::AndReference,
                    force_create_reflog: false,
                    message: message.into(),
                },
                expected: PreviousValue::MustNotExist,
                new: gix::refs::Target::Object(id),
            },
            name: name.try_into().map_err(read(ctx))?,
            deref: false,
        };
        self.edit_ref(edit, ctx)
    }

    /// Deletes branch `branch` and its reflog, in process (it was a `git branch -D` process a
    /// feature), unless a worktree has it checked out: git refuses that too, and the worktree
    /// would be left on a branch that does not exist. `Ok(false)` when kept or already gone.
    pub fn delete_branch(&self, branch: &str) -> Result<bool> {
        use gix::refs::transaction::{Change, PreviousValue, RefEdit, RefLog};
        let name = format!("refs/heads/{branch}");
        let ctx = || format!("deleting the branch {branch}");
        let Some(r) = self
            .repo
            .try_find_reference(name.as_str())
            .map_err(read(ctx))?
        else {
            return Ok(false);
        };
        if self.checked_out(&name) {
            return Ok(false);
        }
        let edit = RefEdit {
            change: Change::Delete {
                expected: PreviousValue::MustExistAndMatch(r.target().into_owned()),
                log: RefLog::AndReference,
            },
            name: r.name().to_owned(),
            deref: false,
        };
        self.edit_ref(edit, ctx)?;
        Ok(true)
    }

    /// Whether any worktree of the repository (the main one too) has `refname` as its HEAD,
    /// read from the HEAD files git keeps for each (`<common dir>/worktrees/*/HEAD`).
    fn checked_out(&self, refname: &str) -> bool {
        let wanted = format!("ref: {refname}");
        let names =
            |path: &Path| std::fs::read_to_string(path).is_ok_and(|t| t.trim_end() == wanted);
        let common = self.common_dir();
        if names(&common.join("HEAD")) {
            return true;
        }
        std::fs::read_dir(common.join("worktrees"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| names(&e.path().join("HEAD")))
    }

    /// Who commits here, as git decides it: `GIT_COMMITTER_NAME`/`GIT_COMMITTER_EMAIL`, else
    /// `committer.name`/`committer.email`, else `user.name`/`user.email` (and `EMAIL` for the
    /// address); `None` for what is not set. Read here rather than through gix's identity,
    /// whose clock loads the whole time-zone database (a walk of /usr/share/zoneinfo) in
    /// every process that commits.
    pub fn committer(&self) -> (Option<String>, Option<String>) {
        let snapshot = self.repo.config_snapshot();
        let config = |k: &str| {
            snapshot
                .string(k)
                .map(|v| v.to_string())
                .filter(|v| !v.trim().is_empty())
        };
        let env = |k: &str| self.env.nonempty(k).map(str::to_owned);
        let name = env("GIT_COMMITTER_NAME")
            .or_else(|| config("committer.name"))
            .or_else(|| config("user.name"));
        let email = env("GIT_COMMITTER_EMAIL")
            .or_else(|| config("committer.email"))
            .or_else(|| config("user.email"))
            .or_else(|| env("EMAIL"));
        (name, email)
    }

    /// The branch HEAD points at, if any.
    pub fn current_branch(&self) -> Option<String> {
        let name = self.repo.head_name().ok()??;
        name.as_bstr()
            .to_string()
            .strip_prefix("refs/heads/")
            .map(str::to_owned)
    }
}

/// Who is acting and when, as git would record it for a commit: `("Name <email>", time)`.
/// Honours `GIT_COMMITTER_NAME`/`EMAIL`/`DATE` like git does.
pub fn identity(dir: &Path) -> Result<(String, jiff::Timestamp)> {
    let ident = git(dir, &["var", "GIT_COMMITTER_IDENT"]).map_err(|_| Error::NoIdentity)?;
    parse_ident(ident.trim()).ok_or_else(|| Error::Unexpected {
        args: "var GIT_COMMITTER_IDENT".into(),
        output: ident.clone(),
    })
}

fn parse_ident(ident: &str) -> Option<(String, jiff::Timestamp)> {
    let close = ident.rfind('>')?;
    let who = ident[..=close].to_owned();
    let secs: i64 = ident[close + 1..].split_whitespace().next()?.parse().ok()?;
    Some((who, jiff::Timestamp::from_second(secs).ok()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn head_commit_reads_a_linked_worktree_as_git_does() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path().join("repo");
        std::fs::create_dir(&root).expect("mkdir");
        let git = run;
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["commit", "-q", "--allow-empty", "-m", "one"]);
        let wt = dir.path().join("wt");
        git(
            &root,
            &["worktree", "add", "-q", "-b", "side", &wt.to_string_lossy()],
        );
        git(&wt, &["commit", "-q", "--allow-empty", "-m", "two"]);
        let want = git(&wt, &["rev-parse", "HEAD"]);
        assert_eq!(super::head_commit(&wt).expect("reads"), want);
        assert_ne!(super::head_commit(&root).expect("reads"), want);
        assert_eq!(
            super::head_commit(&root).expect("reads"),
            git(&root, &["rev-parse", "HEAD"])
        );
    }

    /// `git` in `d` with an identity, its trimmed output.
    fn run(d: &std::path::Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(d)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git");
        assert!(out.status.success(), "{args:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    #[test]
    fn changed_paths_merge_base_and_ancestry_answer_as_git_does() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        let write = |p: &str, text: &str| {
            let path = d.join(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        run(d, &["init", "-q", "-b", "main"]);
        for (p, t) in [
            ("a.txt", "a"),
            ("a/x", "x"),
            ("a-b", "ab"),
            ("keep/same.txt", "same"),
            ("deep/er/still/f", "f"),
            ("gone/one", "1"),
            ("file-then-dir", "plain"),
            ("moved.txt", "moving"),
            ("mode.sh", "echo"),
            ("caf\u{e9}.txt", "non-ascii"),
        ] {
            write(p, t);
        }
        run(d, &["add", "-A"]);
        run(d, &["commit", "-q", "-m", "base"]);
        let base = run(d, &["rev-parse", "HEAD"]);
        run(d, &["checkout", "-q", "-b", "side"]);
        write("a/x", "x2");
        write("a.txt", "a2");
        write("deep/er/still/f", "f2");
        write("deep/er/new", "n");
        std::fs::remove_dir_all(d.join("gone")).expect("rm");
        std::fs::remove_file(d.join("file-then-dir")).expect("rm");
        write("file-then-dir/inner", "inside");
        std::fs::rename(d.join("moved.txt"), d.join("renamed.txt")).expect("mv");
        run(d, &["update-index", "--chmod=+x", "mode.sh"]);
        write("caf\u{e9}.txt", "changed");
        run(d, &["add", "-A"]);
        run(d, &["commit", "-q", "-m", "side"]);
        let side = run(d, &["rev-parse", "HEAD"]);
        run(d, &["checkout", "-q", "main"]);
        write("main-only", "m");
        run(d, &["add", "-A"]);
        run(d, &["commit", "-q", "-m", "main"]);
        let main = run(d, &["rev-parse", "HEAD"]);

        let reader = super::Reader::open(d).expect("opens");
        for (from, to) in [(&base, &side), (&side, &main), (&base, &base)] {
            let want: Vec<String> =
                run(d, &["diff", "--name-only", "--no-renames", "-z", from, to])
                    .split('\0')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect();
            let got = reader.changed_paths(from, to).expect("compares");
            assert_eq!(got, want, "{from}..{to}");
        }
        assert!(reader.changed_paths(&base, &side).expect("compares").len() > 8);
        assert_eq!(reader.merge_base(&side, "main").expect("fork"), base);
        assert_eq!(reader.merge_base(&main, &main).expect("itself"), main);
        assert!(super::is_ancestor(d, &base, "side"));
        assert!(super::is_ancestor(d, &main, &main));
        assert!(!super::is_ancestor(d, &side, &main));
        assert!(!super::is_ancestor(d, &main, &base));
        assert!(!super::is_ancestor(d, "no-such-branch", &main));
        let orphan = {
            run(d, &["checkout", "-q", "--orphan", "alone"]);
            run(d, &["commit", "-q", "-m", "alone"]);
            run(d, &["rev-parse", "HEAD"])
        };
        assert!(reader.merge_base(&orphan, &main).is_err());
        assert!(!super::is_ancestor(d, &orphan, &main));
    }

    #[test]
    fn branches_made_and_deleted_in_process_are_what_git_sees_and_a_checked_out_one_is_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path().join("repo");
        std::fs::create_dir(&d).expect("mkdir");
        run(&d, &["init", "-q", "-b", "main"]);
        run(&d, &["commit", "-q", "--allow-empty", "-m", "one"]);
        let one = run(&d, &["rev-parse", "HEAD"]);
        run(&d, &["commit", "-q", "--allow-empty", "-m", "two"]);
        let at: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        let env = crate::env::Env::fixed(
            &[
                ("GIT_COMMITTER_NAME", "Sup"),
                ("GIT_COMMITTER_EMAIL", "sup@example.com"),
            ],
            at,
            std::time::Instant::now,
        );
        let repo = super::Repo::discover(&d, std::sync::Arc::new(env)).expect("repo");
        repo.create_branch("mission/x.F1", &one).expect("created");
        assert_eq!(run(&d, &["rev-parse", "mission/x.F1"]), one);
        assert!(
            run(&d, &["reflog", "show", "--format=%gs", "mission/x.F1"]).contains("Created from"),
            "the branch has a reflog as git's own would"
        );
        assert!(
            repo.create_branch("mission/x.F1", "main").is_err(),
            "it exists"
        );
        repo.create_branch("mission/x.F2", "main").expect("by name");
        let wt = dir.path().join("wt");
        run(
            &d,
            &[
                "worktree",
                "add",
                "-q",
                &wt.to_string_lossy(),
                "mission/x.F1",
            ],
        );
        assert!(
            !repo.delete_branch("mission/x.F1").expect("kept"),
            "checked out in a worktree"
        );
        assert!(
            !repo.delete_branch("main").expect("kept"),
            "checked out in the main worktree"
        );
        run(&d, &["worktree", "remove", &wt.to_string_lossy()]);
        assert!(repo.delete_branch("mission/x.F1").expect("deleted"));
        assert!(repo.delete_branch("mission/x.F2").expect("deleted"));
        assert_eq!(run(&d, &["branch", "--list", "mission/*"]), "");
        assert!(
            !d.join(".git/logs/refs/heads/mission/x.F1").exists(),
            "its reflog went too"
        );
        assert!(
            !repo.delete_branch("mission/x.F1").expect("gone"),
            "already gone"
        );
        assert_eq!(repo.signature().name, "Sup");
    }

    #[test]
    fn parses_git_identities() {
        let (who, at) =
            super::parse_ident("Ada Lovelace <ada@example.com> 1795000000 +0100").expect("valid");
        assert_eq!(who, "Ada Lovelace <ada@example.com>");
        assert_eq!(at.to_string(), "2026-11-18T11:06:40Z");
        assert!(super::parse_ident("no email 12").is_none());
    }

    #[test]
    fn a_worktree_removed_in_process_is_gone_as_git_would_leave_it_and_others_are_left_to_git() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path().join("repo");
        std::fs::create_dir(&d).expect("mkdir");
        run(&d, &["init", "-q", "-b", "main"]);
        std::fs::write(d.join("a.txt"), "a\n").expect("write");
        run(&d, &["add", "a.txt"]);
        run(&d, &["commit", "-q", "-m", "one"]);
        let env = crate::env::Env::fixed(&[], "2026-01-01T00:00:00Z".parse().expect("t"), || {
            std::time::Instant::now()
        });
        let repo = super::Repo::discover(&d, std::sync::Arc::new(env)).expect("repo");
        let add = |name: &str, extra: &[&str]| {
            let wt = dir.path().join(name);
            let mut args = vec!["worktree", "add", "-q"];
            args.extend_from_slice(extra);
            args.extend([wt.to_str().expect("utf-8"), "-b", name, "main"]);
            run(&d, &args);
            wt
        };
        let registered = || run(&d, &["worktree", "list", "--porcelain"]);
        // With uncommitted and untracked work in it, as `--force` removes it.
        let wt = add("w1", &[]);
        std::fs::write(wt.join("a.txt"), "changed\n").expect("write");
        std::fs::create_dir(wt.join("new")).expect("mkdir");
        std::fs::write(wt.join("new/b.txt"), "b\n").expect("write");
        repo.force_remove_worktree(&wt).expect("removed");
        assert!(!wt.exists());
        assert!(
            !d.join(".git/worktrees/w1").exists(),
            "its registration went"
        );
        assert!(
            !d.join(".git/worktrees").exists(),
            "and the empty registry, as git does"
        );
        assert!(!registered().contains("w1"), "{}", registered());
        assert_eq!(
            run(&d, &["worktree", "prune", "--dry-run", "-v"]),
            "",
            "nothing stale"
        );
        assert!(
            !run(&d, &["rev-parse", "--verify", "w1"]).is_empty(),
            "the branch stays"
        );
        // A worktree git wrote relative paths for (worktree.useRelativePaths, git 2.48) is
        // recognised too (git before 2.48 would not know it as a worktree).
        let wt = add("w2", &[]);
        let admin = d.join(".git/worktrees/w2");
        std::fs::write(wt.join(".git"), "gitdir: ../repo/.git/worktrees/w2\n").expect("write");
        std::fs::write(admin.join("gitdir"), "../../../../w2/.git\n").expect("write");
        repo.force_remove_worktree(&wt).expect("removed");
        assert!(!wt.exists() && !admin.exists());
        // A locked worktree is git's to refuse; a directory that is no worktree, too.
        let wt = add("w3", &["--lock"]);
        assert!(
            repo.force_remove_worktree(&wt).is_err(),
            "git refuses a locked one"
        );
        assert!(wt.join("a.txt").exists() && registered().contains("w3"));
        let plain = dir.path().join("plain");
        std::fs::create_dir(&plain).expect("mkdir");
        std::fs::write(
            plain.join(".git"),
            format!("gitdir: {}\n", d.join(".git/worktrees/w3").display()),
        )
        .expect("write");
        assert!(
            repo.force_remove_worktree(&plain).is_err(),
            "not w3's directory"
        );
        assert!(plain.join(".git").exists() && wt.join("a.txt").exists());
    }
}

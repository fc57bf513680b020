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
    let ctx = || format!("reading HEAD in {}", dir.display());
    let repo = gix::open(dir).map_err(read(ctx))?;
    let id = repo.head_id().map_err(read(ctx))?;
    Ok(id.to_string())
}

/// Whether commit `a` is an ancestor of (or equal to) `b`.
pub fn is_ancestor(dir: &Path, a: &str, b: &str) -> bool {
    git(dir, &["merge-base", "--is-ancestor", a, b]).is_ok()
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
        let _ = self.worktree(&["remove", "--force", &wt.to_string_lossy()]);
        let _ = std::fs::remove_dir_all(wt);
    }

    /// `git worktree …` under a per-repository lock: concurrent `add`, `remove` and `prune`
    /// from parallel workers otherwise race on `.git/worktrees/` (a prune can delete the
    /// directory another process is creating).
    pub fn worktree(&self, args: &[&str]) -> Result<String> {
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
        let mut full = vec!["worktree"];
        full.extend_from_slice(args);
        let out = git(&self.root, &full);
        drop(file);
        out
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
        let git = |d: &std::path::Path, args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
                .args(args)
                .current_dir(d)
                .output()
                .expect("git");
            assert!(out.status.success(), "{args:?}");
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
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

    #[test]
    fn parses_git_identities() {
        let (who, at) =
            super::parse_ident("Ada Lovelace <ada@example.com> 1795000000 +0100").expect("valid");
        assert_eq!(who, "Ada Lovelace <ada@example.com>");
        assert_eq!(at.to_string(), "2026-11-18T11:06:40Z");
        assert!(super::parse_ident("no email 12").is_none());
    }
}

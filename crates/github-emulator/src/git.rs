//! The bare repository: every git operation runs `git` through `std::process::Command`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The identity the emulator's own commits (merges, branch updates) carry.
const AUTHOR_NAME: &str = "github-actions[bot]";
const AUTHOR_EMAIL: &str = "41898282+github-actions[bot]@users.noreply.github.com";
const COMMITTER_NAME: &str = "GitHub";
const COMMITTER_EMAIL: &str = "noreply@github.com";

#[derive(Debug, Clone)]
pub(crate) struct Git {
    dir: PathBuf,
}

/// The outcome of merging two commits without a worktree.
pub(crate) enum MergeTree {
    Clean(String),
    Conflict,
}

impl Git {
    pub(crate) fn new(dir: &Path) -> Git {
        Git {
            dir: dir.to_path_buf(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("--git-dir")
            .arg(&self.dir)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_NAME", AUTHOR_NAME)
            .env("GIT_AUTHOR_EMAIL", AUTHOR_EMAIL)
            .env("GIT_COMMITTER_NAME", COMMITTER_NAME)
            .env("GIT_COMMITTER_EMAIL", COMMITTER_EMAIL)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE");
        cmd
    }

    fn output(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.output()
            .unwrap_or_else(|e| panic!("github-emulator: cannot run git {args:?}: {e}"))
    }

    /// Runs git and returns trimmed stdout, or the error text.
    pub(crate) fn run(&self, args: &[&str]) -> Result<String, String> {
        self.run_env(args, &[])
    }

    fn run_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Result<String, String> {
        let out = self.output(args, envs);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(format!(
                "git {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn succeeds(&self, args: &[&str]) -> bool {
        self.output(args, &[]).status.success()
    }

    /// Every branch and its commit.
    pub(crate) fn branches(&self) -> HashMap<String, String> {
        let out = self
            .run(&[
                "for-each-ref",
                "--format=%(objectname) %(refname)",
                "refs/heads",
            ])
            .unwrap_or_default();
        out.lines()
            .filter_map(|l| {
                let (sha, name) = l.split_once(' ')?;
                Some((
                    name.strip_prefix("refs/heads/")?.to_string(),
                    sha.to_string(),
                ))
            })
            .collect()
    }

    /// The branch HEAD names, `main` when HEAD is not a branch.
    pub(crate) fn default_branch(&self) -> String {
        self.run(&["symbolic-ref", "--short", "HEAD"])
            .unwrap_or_else(|_| "main".to_string())
    }

    /// A branch, tag, or commit id to a commit id.
    pub(crate) fn resolve(&self, rev: &str) -> Option<String> {
        if rev.starts_with('-') || rev.is_empty() {
            return None;
        }
        for candidate in [
            format!("refs/heads/{rev}^{{commit}}"),
            format!("refs/tags/{rev}^{{commit}}"),
            format!("{rev}^{{commit}}"),
        ] {
            if let Ok(sha) = self.run(&["rev-parse", "--verify", "--quiet", &candidate]) {
                return Some(sha);
            }
        }
        None
    }

    pub(crate) fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        self.succeeds(&["merge-base", "--is-ancestor", ancestor, descendant])
    }

    /// A file's text at a commit; `None` when it is not there.
    pub(crate) fn show(&self, commit: &str, path: &str) -> Option<String> {
        let out = self.output(&["cat-file", "blob", &format!("{commit}:{path}")], &[]);
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The blob id of a file at a commit; `None` when it is not there.
    pub(crate) fn blob_id(&self, commit: &str, path: &str) -> Option<String> {
        self.run(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{commit}:{path}"),
        ])
        .ok()
    }

    pub(crate) fn file_exists(&self, commit: &str, path: &str) -> bool {
        self.succeeds(&["cat-file", "-e", &format!("{commit}:{path}")])
    }

    /// Merges `theirs` into `ours` without a worktree (`git merge-tree --write-tree`).
    pub(crate) fn merge_tree(&self, ours: &str, theirs: &str) -> MergeTree {
        self.merge_tree_with_base(ours, theirs, None)
    }

    fn merge_tree_with_base(&self, ours: &str, theirs: &str, base: Option<&str>) -> MergeTree {
        let merge_base = base.map(|b| format!("--merge-base={b}"));
        let mut args = vec!["merge-tree", "--write-tree", "--no-messages"];
        if let Some(b) = &merge_base {
            args.push(b);
        }
        args.extend([ours, theirs]);
        let out = self.output(&args, &[]);
        match out.status.code() {
            Some(0) => {
                let stdout = String::from_utf8_lossy(&out.stdout);
                MergeTree::Clean(stdout.lines().next().unwrap_or("").trim().to_string())
            }
            _ => MergeTree::Conflict,
        }
    }

    pub(crate) fn commit_tree(
        &self,
        tree: &str,
        parents: &[&str],
        message: &str,
        author: Option<&Author>,
    ) -> Result<String, String> {
        let mut args = vec!["commit-tree", tree];
        for p in parents {
            args.push("-p");
            args.push(p);
        }
        args.push("-m");
        args.push(message);
        let envs: Vec<(&str, &str)> = match author {
            Some(a) => vec![
                ("GIT_AUTHOR_NAME", a.name.as_str()),
                ("GIT_AUTHOR_EMAIL", a.email.as_str()),
                ("GIT_AUTHOR_DATE", a.date.as_str()),
            ],
            None => Vec::new(),
        };
        self.run_env(&args, &envs)
    }

    /// Compare-and-swap a branch.
    pub(crate) fn update_branch(&self, branch: &str, new: &str, old: &str) -> Result<(), String> {
        self.run(&["update-ref", &format!("refs/heads/{branch}"), new, old])
            .map(|_| ())
    }

    /// Commits in `base..head`, oldest first, without merges.
    pub(crate) fn commits_between(&self, base: &str, head: &str) -> Vec<String> {
        self.run(&[
            "rev-list",
            "--reverse",
            "--no-merges",
            &format!("{base}..{head}"),
        ])
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// Number of commits, changed files, additions, deletions of `base...head`.
    pub(crate) fn stats(&self, base: &str, head: &str) -> Stats {
        let commits = self
            .run(&["rev-list", "--count", &format!("{base}..{head}")])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let numstat = self
            .run(&["diff", "--numstat", &format!("{base}...{head}")])
            .unwrap_or_default();
        let mut stats = Stats {
            commits,
            ..Stats::default()
        };
        for line in numstat.lines() {
            let mut parts = line.split('\t');
            stats.changed_files += 1;
            stats.additions += parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
            stats.deletions += parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        }
        stats
    }

    /// The diff hunk GitHub gives a review comment on `line` of `path` in `head` (the right
    /// side of the pull request's diff `base...head`, three lines of context like GitHub's
    /// diffs): the hunk's `@@ -a,b +c,d @@` header line and its lines through the commented
    /// line, joined with newlines (no trailing newline), as in the `diff_hunk` of GitHub's
    /// review comments. `Err` with GitHub's message when the path or line is not in the diff.
    pub(crate) fn diff_hunk(
        &self,
        base: &str,
        head: &str,
        path: &str,
        line: u64,
    ) -> Result<(String, u64), String> {
        let diff = self
            .run(&[
                "diff",
                "--no-color",
                "--no-ext-diff",
                "--unified=3",
                &format!("{base}...{head}"),
                "--",
                path,
            ])
            .unwrap_or_default();
        if diff.is_empty() {
            return Err("Path could not be resolved".into());
        }
        hunk_through(&diff, line).ok_or_else(|| "Line could not be resolved".into())
    }

    /// Author, tree and message of a commit, for replaying it.
    pub(crate) fn commit_info(&self, sha: &str) -> Option<CommitInfo> {
        let out = self
            .run(&[
                "log",
                "-1",
                "--format=%an%x00%ae%x00%aI%x00%T%x00%cI%x00%B",
                sha,
            ])
            .ok()?;
        let mut parts = out.splitn(6, '\0');
        let author = Author {
            name: parts.next()?.to_string(),
            email: parts.next()?.to_string(),
            date: parts.next()?.to_string(),
        };
        let tree = parts.next()?.to_string();
        let committed = parts.next()?.to_string();
        let message = parts.next().unwrap_or("").trim_end().to_string();
        Some(CommitInfo {
            author,
            tree,
            committed,
            message,
        })
    }

    /// Replays `base..head` on top of `onto` (a rebase merge); returns the new tip.
    pub(crate) fn rebase(&self, onto: &str, base: &str, head: &str) -> Result<String, ()> {
        let mut tip = onto.to_string();
        for commit in self.commits_between(base, head) {
            let info = self.commit_info(&commit).ok_or(())?;
            let parent = format!("{commit}^");
            let tree = match self.merge_tree_with_base(&tip, &commit, Some(&parent)) {
                MergeTree::Clean(tree) => tree,
                MergeTree::Conflict => return Err(()),
            };
            tip = self
                .commit_tree(&tree, &[&tip], &info.message, Some(&info.author))
                .map_err(|_| ())?;
        }
        Ok(tip)
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    pub(crate) commits: u64,
    pub(crate) changed_files: u64,
    pub(crate) additions: u64,
    pub(crate) deletions: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Author {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) date: String,
}

#[derive(Debug, Clone)]
pub(crate) struct CommitInfo {
    pub(crate) author: Author,
    pub(crate) tree: String,
    pub(crate) committed: String,
    pub(crate) message: String,
}

/// The hunk of a unified diff that holds new-side line `line`, cut after that line, and the
/// line's `position` (GitHub's REST review comments: lines below the file's first `@@` header,
/// later headers counted).
pub(crate) fn hunk_through(diff: &str, line: u64) -> Option<(String, u64)> {
    let mut hunk: Vec<&str> = Vec::new();
    let mut new_line = 0u64;
    let mut position = 0u64;
    for l in diff.lines() {
        if !hunk.is_empty() {
            position += 1;
        }
        if let Some(rest) = l.strip_prefix("@@ ") {
            // @@ -a,b +c,d @@ context
            let plus = rest.split_whitespace().find(|w| w.starts_with('+'))?;
            let start: u64 = plus[1..].split(',').next()?.parse().ok()?;
            hunk = vec![l];
            new_line = start;
            continue;
        }
        if hunk.is_empty() {
            continue; // the file header
        }
        match l.chars().next() {
            Some('+') | Some(' ') | None => {
                hunk.push(l);
                if new_line == line {
                    return Some((hunk.join("\n"), position));
                }
                new_line += 1;
            }
            Some('-') | Some('\\') => hunk.push(l),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunks_end_at_the_commented_line() {
        let diff = "diff --git a/f b/f\nindex 1..2 100644\n--- a/f\n+++ b/f\n@@ -1,3 +1,4 @@ fn main\n one\n-two\n+TWO\n+2b\n three\n@@ -10,2 +11,2 @@\n ten\n-eleven\n+ELEVEN";
        let at = |l| hunk_through(diff, l);
        assert_eq!(
            at(3),
            Some(("@@ -1,3 +1,4 @@ fn main\n one\n-two\n+TWO\n+2b".into(), 4))
        );
        assert_eq!(at(1), Some(("@@ -1,3 +1,4 @@ fn main\n one".into(), 1)));
        assert_eq!(
            at(12),
            Some(("@@ -10,2 +11,2 @@\n ten\n-eleven\n+ELEVEN".into(), 9))
        );
        assert_eq!(hunk_through(diff, 6), None);
        assert_eq!(hunk_through(diff, 13), None);
    }
}

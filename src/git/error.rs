//! What git access (`crate::git`) can fail with. It names nothing above it, so the crate's
//! error (`crate::error::Error::Git`) can carry it with its source chain.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// git ran and exited with an error; `message` is what it printed on stderr.
    #[error("`git {args}` failed: {message}")]
    Command { args: String, message: String },
    /// git could not be started at all (not installed, not executable).
    #[error("cannot run `git {args}`")]
    Start {
        args: String,
        #[source]
        source: std::io::Error,
    },
    /// The directory is in no git repository.
    #[error("not inside a git repository: {}", dir.display())]
    NotARepository { dir: PathBuf },
    /// The repository has no work tree for missions to work in.
    #[error("this repository has no work tree (bare repository)")]
    Bare,
    /// git has no committer name and email to sign commits with.
    #[error("git does not know who you are")]
    NoIdentity,
    /// A file the git access keeps next to the repository (its worktree lock).
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// gix could not read references or objects while doing `context`.
    #[error("{context}")]
    Read {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// git answered something this crate does not understand: a bug here, or a git too old.
    #[error("unexpected output of `git {args}`: {output:?}")]
    Unexpected { args: String, output: String },
}

impl Error {
    /// What the user can do about it, when it is theirs to fix.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Start { .. } => Some("install git and make sure it is on PATH"),
            Error::NotARepository { .. } => Some("run `git init` first, or pass -C <dir>"),
            Error::Bare => Some("clone it with a work tree, or run from a worktree of it"),
            Error::NoIdentity => Some(
                "set it with `git config --global user.name \"Your Name\"` and `git config --global user.email you@example.com`",
            ),
            _ => None,
        }
    }

    /// Whether it is a bug in this crate (or a broken repository) rather than the user's to fix.
    pub fn is_bug(&self) -> bool {
        matches!(self, Error::Read { .. } | Error::Unexpected { .. })
    }
}

/// The error for gix failing while doing `what`.
pub(super) fn read<E: std::error::Error + Send + Sync + 'static>(
    what: impl FnOnce() -> String,
) -> impl FnOnce(E) -> Error {
    move |e| Error::Read {
        context: what(),
        source: Box::new(e),
    }
}

//! The library's error type. The CLI turns each variant into a message, a hint and an exit
//! code (`cli::exit`).

use std::path::PathBuf;

use crate::mission::Diagnostic;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something the current state does not allow (exit 1).
    #[error("{message}")]
    User {
        message: String,
        hint: Option<String>,
    },
    /// A mission file that cannot be parsed or does not validate (exit 1).
    #[error("{file}: the mission file is invalid")]
    Invalid {
        file: String,
        diagnostics: Vec<Diagnostic>,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Git access failed (`crate::git`).
    #[error(transparent)]
    Git(#[from] crate::git::error::Error),
    /// A program could not be started: not installed, not executable (exit 1).
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// GitHub did not answer, answered with an error, or its remote refused a push
    /// (`crate::forge::github`): the pulse stops planning (a missing answer is never "no PR")
    /// and the next pulse observes again (exit 1).
    #[error(transparent)]
    GitHub(#[from] crate::forge::github::error::Error),
    /// Other writers kept the mission state busy (lost races, a held ref lock) past the
    /// retries (`crate::store`): nothing was changed; trying again later is right (exit 1;
    /// `run` pulses again).
    #[error(transparent)]
    Store(#[from] crate::store::error::Error),
    /// Something that should not happen: a bug (exit 255).
    #[error("{0}")]
    Internal(String),
    /// A library this one stands on (gix, serde, octocrab, the runtime) failed while doing
    /// `context`; `source` says how, and its own chain why. What the tool made could not be
    /// read or written, as with `Internal` (exit 255).
    #[error("{context}")]
    Failed {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Adds what was being done to a lower library's error, keeping it as the source.
pub trait Context<T> {
    fn context<C: Into<String>>(self, what: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> Context<T> for std::result::Result<T, E> {
    fn context<C: Into<String>>(self, what: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| Error::Failed {
            context: what().into(),
            source: Box::new(e),
        })
    }
}

impl Error {
    pub fn user(message: impl Into<String>) -> Self {
        Error::User {
            message: message.into(),
            hint: None,
        }
    }

    pub fn user_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::User {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// `source` failed while doing `context`.
    pub fn failed(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Failed {
            context: context.into(),
            source: source.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("object 1234 is missing")]
    struct Missing(#[source] std::io::Error);

    #[test]
    fn context_keeps_the_lower_error_and_its_chain() {
        let lower: std::result::Result<(), Missing> =
            Err(Missing(std::io::Error::other("disk on fire")));
        let e = lower.context(|| "reading mission/m").expect_err("failed");
        assert_eq!(e.to_string(), "reading mission/m");
        let mut chain = Vec::new();
        let mut s = std::error::Error::source(&e);
        while let Some(x) = s {
            chain.push(x.to_string());
            s = x.source();
        }
        assert_eq!(chain, ["object 1234 is missing", "disk on fire"]);
    }

    #[test]
    fn module_errors_are_carried_with_their_sources() {
        let git = crate::git::Error::Command {
            args: "push --porcelain origin x".into(),
            message: "Connection refused".into(),
        };
        let e: Error = crate::forge::github::GitHubError::Remote {
            remote: "origin".into(),
            source: git,
        }
        .into();
        assert!(matches!(e, Error::GitHub(_)));
        assert_eq!(
            e.to_string(),
            "GitHub: the remote origin could not be reached"
        );
        let cause = std::error::Error::source(&e).expect("the git error");
        assert_eq!(
            cause.to_string(),
            "`git push --porcelain origin x` failed: Connection refused"
        );
        let e: Error = crate::store::StoreError::LostRaces {
            branch: "mission/m".into(),
            lost: 8,
            publishing: true,
        }
        .into();
        assert_eq!(
            e.to_string(),
            "gave up after 8 lost races publishing mission/m: other supervisors keep changing it"
        );
    }
}

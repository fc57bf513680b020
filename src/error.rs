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
    #[error("`git {args}` failed: {message}")]
    Git { args: String, message: String },
    /// A program could not be started: not installed, not executable (exit 1).
    #[error("cannot start {program:?}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// GitHub did not answer, or answered with an error: the pulse stops planning (a missing
    /// answer is never "no PR") and the next pulse observes again (exit 1).
    #[error("GitHub: {message}")]
    Forge {
        message: String,
        /// The HTTP status GitHub answered with; `None` when there was no answer (a network
        /// error, a refused `git push`).
        status: Option<u16>,
    },
    /// A push with a lease found the branch moved by another writer since it was fetched:
    /// nothing was changed there (exit 1; the next pulse re-reads it).
    #[error("{branch} changed on {remote} since it was fetched")]
    LeaseLost { branch: String, remote: String },
    /// Other writers kept the state busy (lost races, a held ref lock) past the retries: nothing
    /// was changed; trying again later is right (exit 1; `run` pulses again).
    #[error("{message}")]
    Busy { message: String },
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
}

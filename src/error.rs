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

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

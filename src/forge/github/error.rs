//! What the GitHub forge (`crate::forge::github`) can fail with. It names nothing above it,
//! so the crate's error (`crate::error::Error::GitHub`) carries it with its source chain.
//! Every variant means nothing is planned on partial information: the next pulse observes
//! again.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// GitHub answered a request with an error, or did not answer (`status` is `None`: a
    /// network error, a timeout, rate-limit waits exhausted).
    #[error("GitHub: {message}")]
    Api {
        message: String,
        status: Option<u16>,
    },
    /// GraphQL answered with no repository: it does not exist or the token cannot see it.
    #[error("GitHub: repository {repo} not found or not visible to the token")]
    NoRepository { repo: String },
    /// `git push`/`git fetch` to the remote failed before the remote answered about the ref.
    #[error("GitHub: the remote {remote} could not be reached")]
    Remote {
        remote: String,
        #[source]
        source: crate::git::error::Error,
    },
    /// The remote refused a push though the branch had not moved there: a branch protection
    /// rule or a hook declined it.
    #[error("{remote} refused the push of {branch} (a branch protection rule or hook?)")]
    Refused { remote: String, branch: String },
    /// The remote kept refusing the state: it changed since it was fetched (another
    /// supervisor pushed) or a rule declined it.
    #[error(
        "{remote} refused {branch}: it changed since it was fetched (another supervisor pushed) or a rule declined it; the next pulse re-reads it"
    )]
    Diverged { remote: String, branch: String },
    /// A push with a lease found the branch moved by another writer since it was fetched:
    /// nothing was changed there.
    #[error("{branch} changed on {remote} since it was fetched")]
    LeaseLost { branch: String, remote: String },
}

impl Error {
    /// GitHub's answer to a request: its message and HTTP status.
    pub fn api(message: impl Into<String>, status: Option<u16>) -> Self {
        Error::Api {
            message: message.into(),
            status,
        }
    }
}

//! Moving mission branches between this clone and the GitHub remote with `git` (gix cannot
//! push). The integration branch is pushed with a lease on the value last fetched, so a
//! supervisor never overwrites state another one pushed; feature branches are pushed without
//! force (a rejected push is an error, never a rewrite).

use std::path::Path;

use crate::error::{Error, Result};
use crate::git;

use super::GitHubError;

/// A remote and the environment that authenticates `git` to it.
pub struct Remote {
    pub name: String,
    env: Vec<(String, String)>,
}

impl Remote {
    /// `name` must be an existing remote of the repository.
    pub fn open(root: &Path, name: &str, token: Option<&str>) -> Result<Remote> {
        if name.starts_with('-') || name.contains(['/', ' ', ':']) || name.is_empty() {
            return Err(Error::user(format!("{name:?} is not a remote name")));
        }
        let url = git::git_opt(root, &["remote", "get-url", name])?.ok_or_else(|| {
            Error::user_hint(
                format!("this repository has no remote {name:?}"),
                format!("add it (`git remote add {name} https://github.com/OWNER/REPO`) or set github.remote"),
            )
        })?;
        let url = url.trim().to_owned();
        let mut env = Vec::new();
        // An https remote gets the token as an extra header through the environment (never on a
        // command line), the way actions/checkout does it.
        if let (Some(token), Some(rest)) = (token, url.strip_prefix("https://")) {
            let host = rest.split('/').next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            let basic = base64_encode(format!("x-access-token:{token}").as_bytes());
            env.push(("GIT_CONFIG_COUNT".into(), "1".into()));
            env.push((
                "GIT_CONFIG_KEY_0".into(),
                format!("http.https://{host}/.extraheader"),
            ));
            env.push((
                "GIT_CONFIG_VALUE_0".into(),
                format!("AUTHORIZATION: basic {basic}"),
            ));
        }
        Ok(Remote {
            name: name.to_owned(),
            env,
        })
    }

    fn tracking(&self, branch: &str) -> String {
        format!("refs/remotes/{}/{branch}", self.name)
    }

    /// Fetches every branch of a mission (`mission/<id>` and `mission/<id>.*`) into
    /// remote-tracking refs, pruning those gone on the remote.
    pub fn fetch_mission(&self, root: &Path, id: &str) -> Result<()> {
        let spec = format!(
            "+refs/heads/mission/{id}*:refs/remotes/{}/mission/{id}*",
            self.name
        );
        self.fetch(
            root,
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--prune",
                &self.name,
                &spec,
            ],
        )
    }

    /// Runs a `git fetch`, again when it failed only because another process on this machine
    /// (a worker publishing its record) moved a tracking ref while it ran: git then refuses
    /// that ref ("cannot lock ref … is at X but expected Y") and the next fetch takes it.
    fn fetch(&self, root: &Path, args: &[&str]) -> Result<()> {
        let mut tries = 0;
        loop {
            match git::git_env(root, &self.env, args) {
                Ok(_) => return Ok(()),
                Err(git::Error::Command { message, .. })
                    if tries < 3 && message.contains("cannot lock ref") =>
                {
                    tries += 1;
                }
                Err(e) => return Err(self.unreachable(e)),
            }
        }
    }

    /// The remote's value of a branch, as last fetched.
    pub fn fetched(&self, root: &Path, branch: &str) -> Result<Option<String>> {
        Ok(git::git_opt(
            root,
            &["rev-parse", "--verify", "--quiet", &self.tracking(branch)],
        )?
        .map(|s| s.trim().to_owned()))
    }

    /// Sets the remote's `branch` to `commit`, expecting it to hold `expected` (`None`: to not
    /// have it). `Ok(false)`: the remote refused the update — it holds something else (another
    /// writer pushed first), or a rule or hook declined it; fetch to tell which.
    pub fn push_lease(
        &self,
        root: &Path,
        branch: &str,
        commit: &str,
        expected: Option<&str>,
    ) -> Result<bool> {
        let lease = format!(
            "--force-with-lease=refs/heads/{branch}:{}",
            expected.unwrap_or("")
        );
        let spec = format!("{commit}:refs/heads/{branch}");
        let args = ["push", "--porcelain", &lease, &self.name, &spec];
        let out = git::git_raw(root, &self.env, &args)?;
        if out.code != Some(0) {
            // `--porcelain` reports each ref as `<flag>\t<from>:<to>\t<summary>`; `!` is a
            // ref the remote refused (a lost lease, a rule, a hook). No flag line: the push
            // never reached the remote — an error, not a refusal.
            let refused = out
                .stdout
                .lines()
                .any(|l| l.starts_with('!') && l.contains(&format!("refs/heads/{branch}")));
            if refused {
                return Ok(false);
            }
            return Err(self.unreachable(git::Error::Command {
                args: args.join(" "),
                message: out.stderr,
            }));
        }
        // Keep the remote-tracking ref in step, so the next lease expects what we pushed.
        git::git(root, &["update-ref", &self.tracking(branch), commit])?;
        Ok(true)
    }

    /// Fetches `refs/heads/<branch>` of the remote into the local ref `into` for each pair
    /// (branch names checked by the caller); returns nothing on success.
    pub fn fetch_into(&self, root: &Path, pairs: &[(&str, &str)]) -> Result<()> {
        let specs: Vec<String> = pairs
            .iter()
            .map(|(branch, into)| format!("+refs/heads/{branch}:{into}"))
            .collect();
        let mut args = vec!["fetch", "--quiet", "--no-tags", self.name.as_str()];
        args.extend(specs.iter().map(String::as_str));
        self.fetch(root, &args)
    }

    /// Pushes `commit` to `branch` with a lease: the remote must still hold `expected`.
    /// Never a plain force. A lost lease is `GitHubError::LeaseLost`.
    pub fn push_commit(
        &self,
        root: &Path,
        commit: &str,
        branch: &str,
        expected: &str,
    ) -> Result<()> {
        if self.push_lease(root, branch, commit, Some(expected))? {
            return Ok(());
        }
        Err(GitHubError::LeaseLost {
            branch: branch.to_owned(),
            remote: self.name.clone(),
        }
        .into())
    }

    /// A push or fetch that did not get an answer about the ref from the remote.
    fn unreachable(&self, source: git::Error) -> Error {
        GitHubError::Remote {
            remote: self.name.clone(),
            source,
        }
        .into()
    }

    /// Pushes a feature branch without force.
    pub fn push(&self, root: &Path, branch: &str) -> Result<()> {
        let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
        git::git_env(root, &self.env, &["push", "--quiet", &self.name, &spec])
            .map_err(|e| self.unreachable(e))?;
        Ok(())
    }
}

/// Brings a local branch to the remote's value when the remote is ahead (compare-and-swap on
/// the old value). Returns `false` when the local branch has commits the remote lacks.
pub fn fast_forward(root: &Path, branch: &str, local: Option<&str>, remote: &str) -> Result<bool> {
    let name = format!("refs/heads/{branch}");
    match local {
        None => {
            git::git(root, &["update-ref", &name, remote, ""])?;
            Ok(true)
        }
        Some(l) if l == remote => Ok(true),
        Some(l) if git::is_ancestor(root, l, remote) => {
            git::git(root, &["update-ref", &name, remote, l])?;
            Ok(true)
        }
        Some(_) => Ok(false),
    }
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64() {
        assert_eq!(
            super::base64_encode(b"x-access-token:abc"),
            "eC1hY2Nlc3MtdG9rZW46YWJj"
        );
        assert_eq!(super::base64_encode(b"ab"), "YWI=");
        assert_eq!(super::base64_encode(b"a"), "YQ==");
    }
}

//! The environment an agent run gets: an allowlist, never the whole environment of the
//! supervisor. An agent is a program that runs whatever a model tells it to, in a worktree
//! where anything may be written; on an Actions runner the supervisor's environment holds a
//! `contents: write` `GITHUB_TOKEN`. So an agent sees:
//!
//! - the variables every program needs and that carry no secret ([`COMMON`]: PATH, HOME,
//!   locale, proxies, CA bundles, git identity, toolchain homes);
//! - the variables its CLI documents (each adapter's [`super::Adapter::env_allowlist`]: API
//!   keys, base URLs, model and provider switches) and the ones the user's own configuration of
//!   that CLI names (a Codex `env_key`, an opencode `{env:VAR}`);
//! - `GIT_MISSION_*`;
//! - whatever a profile's `pass_env` names. Forge credentials ([`FORGE`]: `GITHUB_TOKEN`,
//!   `GH_TOKEN`, `ACTIONS_*` …) pass only when `pass_env` names them exactly; no pattern, of
//!   the CLI's or the profile's, lets them through.
//!
//! A pattern is an exact name, `PREFIX*` or `*SUFFIX`.

/// Variables any program may need, none of them a credential.
pub const COMMON: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TZ",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "TMPDIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_DIRS",
    "XDG_DATA_DIRS",
    // The session bus: where libsecret keyrings are reached (Codex, Gemini CLI can keep a
    // login there).
    "DBUS_SESSION_BUS_ADDRESS",
    // Proxies and CA bundles: corporate networks need them for every request.
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "NODE_USE_SYSTEM_CA",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    // git: identity and which configuration files to read (never GIT_DIR and the like, which
    // would point the agent's git away from its worktree).
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_NOSYSTEM",
    "EMAIL",
    // Toolchains the agent builds and tests with.
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "GOPATH",
    "GOROOT",
    "GOCACHE",
    "GOMODCACHE",
    "GOFLAGS",
    "JAVA_HOME",
    "NVM_DIR",
    "NODE_PATH",
    "VIRTUAL_ENV",
    "PYENV_ROOT",
    "CONDA_PREFIX",
    "DOTNET_ROOT",
    "GIT_MISSION_*",
];

/// AWS's SDK variables, for the CLIs that reach models on Amazon Bedrock.
pub const AWS: &[&str] = &[
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];

/// Forge credentials and CI runtime tokens: passed only when a profile's `pass_env` names one
/// exactly.
pub const FORGE: &[&str] = &[
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "GITHUB_PAT",
    "GITLAB_TOKEN",
    "CI_JOB_TOKEN",
    "ACTIONS_*",
    "GIT_ASKPASS",
    "SSH_AUTH_SOCK",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_KEY_*",
    "GIT_CONFIG_VALUE_*",
    "GIT_CONFIG_PARAMETERS",
];

pub use crate::env::{valid_var_pattern as valid_pattern, var_matches as matches};

/// What the agent may see of `user` (the supervisor's environment), given the CLI's own
/// patterns, the variables its configuration names, and the profile's `pass_env`.
pub fn allowed(
    user: &[(String, String)],
    cli: &[&str],
    referenced: &[String],
    pass_env: &[String],
) -> Vec<(String, String)> {
    user.iter()
        .filter(|(name, _)| {
            if FORGE.iter().any(|p| matches(p, name)) {
                return pass_env.iter().any(|p| p == name);
            }
            COMMON.iter().chain(cli).any(|p| matches(p, name))
                || referenced.iter().any(|r| r == name)
                || pass_env
                    .iter()
                    .any(|p| valid_pattern(p) && matches(p, name))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn names(v: &[(String, String)]) -> Vec<&str> {
        v.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn forge_tokens_pass_only_when_named_exactly() {
        let user = env(&[
            ("PATH", "/bin"),
            ("GITHUB_TOKEN", "ghs_x"),
            ("GH_TOKEN", "ghp_y"),
            ("ACTIONS_RUNTIME_TOKEN", "z"),
            ("ANTHROPIC_API_KEY", "sk"),
            ("AWS_SECRET_ACCESS_KEY", "aws"),
            ("LC_ALL", "C"),
            ("MY_VAR", "1"),
            ("GIT_MISSION_LIMITS_WORKER_ATTEMPTS", "2"),
        ]);
        let base = allowed(&user, &["ANTHROPIC_*"], &[], &[]);
        assert_eq!(
            names(&base),
            [
                "PATH",
                "ANTHROPIC_API_KEY",
                "LC_ALL",
                "GIT_MISSION_LIMITS_WORKER_ATTEMPTS"
            ]
        );
        // Patterns never let a forge token through, not even `*_TOKEN` or `GITHUB_*`.
        let patterns = allowed(
            &user,
            &["*_TOKEN", "GITHUB_*"],
            &[],
            &["*_TOKEN".into(), "ACTIONS_*".into()],
        );
        assert!(!names(&patterns).iter().any(|n| n.contains("TOKEN")));
        let named = allowed(&user, &[], &[], &["GITHUB_TOKEN".into(), "MY_VAR".into()]);
        assert_eq!(
            names(&named),
            [
                "PATH",
                "GITHUB_TOKEN",
                "LC_ALL",
                "MY_VAR",
                "GIT_MISSION_LIMITS_WORKER_ATTEMPTS"
            ]
        );
        // A variable the CLI's own configuration names (a Codex env_key).
        let referenced = allowed(&user, &[], &["AWS_SECRET_ACCESS_KEY".into()], &[]);
        assert!(names(&referenced).contains(&"AWS_SECRET_ACCESS_KEY"));
        // A malformed pattern (from a config.yml nobody validated) matches nothing.
        let star = allowed(&user, &[], &[], &["*".into()]);
        assert!(!names(&star).contains(&"MY_VAR"));
    }

    #[test]
    fn patterns() {
        assert!(matches("LC_*", "LC_ALL"));
        assert!(matches("*_API_KEY", "OPENAI_API_KEY"));
        assert!(!matches("*_API_KEY", "OPENAI_API_KEYS"));
        assert!(!matches("PATH", "PATHX"));
        for ok in ["FOO", "FOO_*", "*_KEY", "A1_b"] {
            assert!(valid_pattern(ok), "{ok}");
        }
        for bad in ["*", "", "FOO*BAR", "**", "A-B", "*FOO*", "$(x)"] {
            assert!(!valid_pattern(bad), "{bad}");
        }
    }
}

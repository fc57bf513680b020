//! The GitHub client: octocrab (plain HTTP to loopback emulators, rustls elsewhere) driven on a
//! current-thread tokio runtime, with this tool's own request policy instead of octocrab's
//! retry layer (which is not compiled in):
//!
//! - Reads (GET and the GraphQL query) are retried on 5xx, transport errors and rate-limit
//!   answers, waiting for `retry-after` or the reset time (bounded).
//! - Writes are retried only on an answer that says the request was refused without effect
//!   (a primary or secondary rate limit). A 5xx or a transport error on a write is *uncertain*:
//!   it is never retried blindly. The pulse stops and the next one observes what happened.

use std::time::Duration;

use http::{HeaderMap, Method, Uri};
use octocrab::Octocrab;
use serde_json::Value;

use crate::error::{Context, Error, Result};

/// The longest single wait for a rate limit before the pulse gives up (the next one retries).
const MAX_WAIT: Duration = Duration::from_secs(120);
/// Attempts of one request (reads) or of one refused write.
const ATTEMPTS: u32 = 4;

/// An answer from GitHub.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// GitHub's `message`, for errors.
    pub fn message(&self) -> String {
        self.body["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("HTTP {}", self.status))
    }
}

/// Where and as whom to talk to GitHub.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub api: String,
    pub graphql: String,
    pub token: String,
    pub owner: String,
    pub name: String,
    /// Running in GitHub Actions (`GITHUB_ACTIONS=true`): the token is the Actions bot's.
    pub actions: bool,
    /// Real time, to wait for a rate limit's reset.
    pub clock: crate::env::Clock,
}

impl Endpoint {
    /// From the environment (`GITHUB_TOKEN`/`GH_TOKEN`, `GITHUB_API_URL`, `GITHUB_GRAPHQL_URL`)
    /// and the repository name found by the caller.
    pub fn from_env(env: &crate::env::Env, repo: &str) -> Result<Endpoint> {
        let token = ["GITHUB_TOKEN", "GH_TOKEN"]
            .iter()
            .find_map(|k| env.nonempty(k).map(str::to_owned))
            .ok_or_else(|| {
                Error::user_hint(
                    "forge: github needs a token",
                    "set GITHUB_TOKEN or GH_TOKEN (in Actions: `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`)",
                )
            })?;
        let api = env
            .nonempty("GITHUB_API_URL")
            .unwrap_or("https://api.github.com")
            .to_owned();
        let api = api.trim_end_matches('/').to_owned();
        let graphql = env
            .nonempty("GITHUB_GRAPHQL_URL")
            .map_or_else(|| graphql_url(&api), str::to_owned);
        let (owner, name) = split_repo(repo)?;
        Ok(Endpoint {
            api,
            graphql,
            token,
            owner,
            name,
            actions: env.var("GITHUB_ACTIONS") == Some("true"),
            clock: env.clock.clone(),
        })
    }
}

/// The GraphQL endpoint for a REST API URL: `https://api.github.com/graphql` on github.com,
/// `https://HOST/api/graphql` on GitHub Enterprise Server (whose REST API is `/api/v3`).
pub fn graphql_url(api: &str) -> String {
    let api = api.trim_end_matches('/');
    match api.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{api}/graphql"),
    }
}

/// `owner/name`, each part checked: it reaches URLs.
pub fn split_repo(repo: &str) -> Result<(String, String)> {
    let ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && s != "."
            && s != ".."
    };
    match repo.split_once('/') {
        Some((o, n)) if ok(o) && ok(n) => Ok((o.to_owned(), n.trim_end_matches(".git").to_owned())),
        _ => Err(Error::user_hint(
            format!("{repo:?} is not a GitHub repository name (owner/name)"),
            "set github.repo in todo/missions/config.yml, or GITHUB_REPOSITORY",
        )),
    }
}

/// The repository named by a remote URL on github.com or an Enterprise host.
pub fn repo_from_url(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/').trim_end_matches(".git");
    let path = if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
        rest.split_once('/')?.1
    } else {
        url.split_once(':')?.1
    };
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() < 2 {
        return None;
    }
    let repo = format!("{}/{}", parts[parts.len() - 2], parts[parts.len() - 1]);
    split_repo(&repo).ok().map(|_| repo)
}

/// The client.
pub struct GitHub {
    rt: tokio::runtime::Runtime,
    octo: Octocrab,
    pub ep: Endpoint,
    /// Who the token is, asked once (see [`GitHub::identity`]).
    me: std::cell::OnceCell<Identity>,
}

/// Who the tool is on GitHub: the only author whose hidden markers it trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The login without a `[bot]` suffix (GraphQL gives `github-actions`, REST
    /// `github-actions[bot]` for the same author).
    pub login: String,
    pub bot: bool,
    /// Other logins the tool writes as (`github.logins`), without `[bot]`.
    pub also: Vec<String>,
}

impl Identity {
    /// The Actions bot: what `GITHUB_TOKEN` writes as.
    pub fn actions() -> Identity {
        Identity {
            login: "github-actions".into(),
            bot: true,
            also: Vec::new(),
        }
    }

    /// Whether this is the author `login` (`bot` when GitHub says it is one).
    pub fn is(&self, login: &str, bot: bool) -> bool {
        let plain = login.strip_suffix("[bot]").unwrap_or(login);
        (bot == self.bot && plain.eq_ignore_ascii_case(&self.login))
            || self.also.iter().any(|a| plain.eq_ignore_ascii_case(a))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

impl GitHub {
    pub fn new(ep: Endpoint) -> Result<GitHub> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context(|| "starting the tokio runtime")?;
        let octo = {
            let _g = rt.enter();
            Octocrab::builder()
                .base_uri(ep.api.as_str())
                .map_err(|e| {
                    Error::user_hint(
                        format!("GITHUB_API_URL {:?} is not a URL: {e}", ep.api),
                        "use e.g. https://api.github.com or https://HOST/api/v3",
                    )
                })?
                .personal_token(ep.token.clone())
                .add_header(http::header::ACCEPT, "application/vnd.github+json".into())
                .set_connect_timeout(Some(Duration::from_secs(10)))
                .set_read_timeout(Some(Duration::from_secs(60)))
                .build()
                .context(|| "building the octocrab client")?
        };
        Ok(GitHub {
            rt,
            octo,
            ep,
            me: std::cell::OnceCell::new(),
        })
    }

    /// Records who the token is, as a query's `viewer` said (a GitHub App's installation token
    /// reads as `<app>[bot]`).
    pub fn learn_identity(&self, login: &str) {
        let _ = self.me.set(Identity {
            login: login.strip_suffix("[bot]").unwrap_or(login).to_owned(),
            bot: login.ends_with("[bot]"),
            also: Vec::new(),
        });
    }

    /// Who the token writes as (the `viewer` of the pulse's query when it ran; else the
    /// Actions bot inside Actions, `GITHUB_ACTIONS=true`; else the token's user, `GET /user`,
    /// once per process; an installation token, which may not ask, is taken for the Actions
    /// bot), plus the other logins the tool writes as (`github.logins`).
    pub fn identity(&self, also: &[String]) -> Identity {
        let mut me = self.token_identity();
        me.also = also
            .iter()
            .map(|l| l.strip_suffix("[bot]").unwrap_or(l).to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        me
    }

    fn token_identity(&self) -> Identity {
        self.me
            .get_or_init(|| {
                if self.ep.actions {
                    return Identity::actions();
                }
                match self.get("/user") {
                    Ok(r) if r.status == 200 => {
                        let l = r.body["login"].as_str().unwrap_or("");
                        Identity {
                            login: l.strip_suffix("[bot]").unwrap_or(l).to_owned(),
                            bot: r.body["type"].as_str() == Some("Bot") || l.ends_with("[bot]"),
                            also: Vec::new(),
                        }
                    }
                    _ => Identity::actions(),
                }
            })
            .clone()
    }

    /// `/repos/{owner}/{repo}` + `rest`.
    pub fn repo_path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.ep.owner, self.ep.name)
    }

    pub fn get(&self, path: &str) -> Result<Reply> {
        self.send(Method::GET, path, None, Kind::Read)
    }
    pub fn post(&self, path: &str, body: &Value) -> Result<Reply> {
        self.send(Method::POST, path, Some(body), Kind::Write)
    }
    pub fn put(&self, path: &str, body: &Value) -> Result<Reply> {
        self.send(Method::PUT, path, Some(body), Kind::Write)
    }
    pub fn patch(&self, path: &str, body: &Value) -> Result<Reply> {
        self.send(Method::PATCH, path, Some(body), Kind::Write)
    }

    /// A GraphQL query (a read). GraphQL errors are forge errors: partial data is never used.
    pub fn graphql(&self, query: &str, variables: &Value) -> Result<Value> {
        let body = serde_json::json!({ "query": query, "variables": variables });
        let url = self.ep.graphql.clone();
        let r = self.send(Method::POST, &url, Some(&body), Kind::Read)?;
        if !r.ok() {
            return Err(forge_error(
                &format!("GraphQL: {}", r.message()),
                Some(r.status),
            ));
        }
        // A deleted tracking issue is an answer ("not found"), not a failure.
        let missing_issue = |e: &Value| {
            e["type"].as_str() == Some("NOT_FOUND")
                && e["path"][0].as_str() == Some("repository")
                && e["path"][1].as_str() == Some("issue")
        };
        if let Some(errors) = r.body.get("errors").and_then(Value::as_array)
            && !errors.is_empty()
            && !errors.iter().all(missing_issue)
        {
            let msgs: Vec<&str> = errors
                .iter()
                .filter_map(|e| e["message"].as_str())
                .collect();
            return Err(forge_error(
                &format!("GraphQL errors: {}", msgs.join("; ")),
                Some(200),
            ));
        }
        Ok(r.body["data"].clone())
    }

    fn send(&self, method: Method, path: &str, body: Option<&Value>, kind: Kind) -> Result<Reply> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.rt.block_on(self.once(&method, path, body));
            let what = format!("{method} {path}");
            match result {
                Ok((status, headers, value)) => {
                    let limited =
                        rate_limited(status, &headers, &value, self.ep.clock.wall().as_second());
                    let retryable = limited.is_some() || (kind == Kind::Read && status >= 500);
                    if retryable && attempt < ATTEMPTS {
                        let wait = limited.unwrap_or(Duration::from_secs(1 << (attempt - 1)));
                        if wait > MAX_WAIT {
                            return Err(forge_error(
                                &format!(
                                    "{what}: rate limited for {}s; the next pulse tries again",
                                    wait.as_secs()
                                ),
                                Some(status),
                            ));
                        }
                        tracing::warn!("{what}: HTTP {status}; retrying in {wait:?}");
                        std::thread::sleep(wait);
                        continue;
                    }
                    if status >= 500 || limited.is_some() {
                        return Err(forge_error(
                            &format!(
                                "{what}: HTTP {status}{}",
                                if kind == Kind::Write {
                                    " (the write may or may not have happened; the next pulse observes it)"
                                } else {
                                    ""
                                }
                            ),
                            Some(status),
                        ));
                    }
                    if status == 401 {
                        return Err(Error::user_hint(
                            format!("{what}: GitHub refused the token (401)"),
                            "check GITHUB_TOKEN / GH_TOKEN",
                        ));
                    }
                    return Ok(Reply {
                        status,
                        body: value,
                    });
                }
                Err(e) => {
                    if kind == Kind::Read && attempt < ATTEMPTS {
                        tracing::warn!("{what}: {e}; retrying");
                        std::thread::sleep(Duration::from_millis(200 << attempt));
                        continue;
                    }
                    return Err(forge_error(&format!("{what}: {e}"), None));
                }
            }
        }
    }

    async fn once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
    ) -> std::result::Result<(u16, HeaderMap, Value), String> {
        let uri: Uri = path.parse().map_err(|e| format!("bad URI {path:?}: {e}"))?;
        let resp = match *method {
            Method::GET => self.octo._get(uri).await,
            Method::POST => self.octo._post(uri, body).await,
            Method::PUT => self.octo._put(uri, body).await,
            Method::PATCH => self.octo._patch(uri, body).await,
            _ => self.octo._delete(uri, body).await,
        }
        .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = self
            .octo
            .body_to_string(resp)
            .await
            .map_err(|e| e.to_string())?;
        let value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, headers, value))
    }
}

/// How long to wait when GitHub says the request was rate limited (and not performed).
/// `now`: the real time in seconds since the epoch (a reset is a real time).
fn rate_limited(status: u16, headers: &HeaderMap, body: &Value, now: i64) -> Option<Duration> {
    // GraphQL says so with 200 and an error of type RATE_LIMITED (GitHub's docs, "Rate limits
    // and node limits for the GraphQL API"), and the same reset headers.
    let graphql = status == 200
        && body["errors"].as_array().is_some_and(|es| {
            es.iter()
                .any(|e| e["type"].as_str() == Some("RATE_LIMITED"))
        });
    if status != 403 && status != 429 && !graphql {
        return None;
    }
    let header = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .map(str::to_owned)
    };
    if let Some(secs) = header("retry-after").and_then(|v| v.parse::<u64>().ok()) {
        return Some(Duration::from_secs(secs));
    }
    if header("x-ratelimit-remaining").as_deref() == Some("0")
        && let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok())
    {
        return Some(Duration::from_secs((reset - now).max(1) as u64));
    }
    let message = body["message"].as_str().unwrap_or("").to_lowercase();
    if status == 429 || graphql || message.contains("rate limit") {
        // A secondary limit without retry-after: at least one minute (GitHub's advice).
        return Some(Duration::from_secs(60));
    }
    None
}

/// GitHub's error: with the HTTP status it answered with, or `None` when no answer came.
fn forge_error(message: &str, status: Option<u16>) -> Error {
    super::GitHubError::api(message, status).into()
}

#[cfg(test)]
mod tests {
    const NOW: i64 = 1_790_000_000;
    use super::*;

    #[test]
    fn only_the_tools_own_logins_are_trusted() {
        let mut me = Identity::actions();
        assert!(me.is("github-actions[bot]", true));
        assert!(
            me.is("github-actions", true),
            "GraphQL drops the [bot] suffix"
        );
        assert!(
            !me.is("github-actions", false),
            "a user named like the bot is not it"
        );
        assert!(!me.is("rita", false));
        me.also = vec!["my-app".into(), "Alice".into()];
        assert!(me.is("my-app[bot]", true));
        assert!(me.is("alice", false), "logins compare without case");
        assert!(!me.is("rita", false));
    }

    #[test]
    fn graphql_url_for_github_and_ghes() {
        assert_eq!(
            graphql_url("https://api.github.com"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            graphql_url("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com/api/graphql"
        );
        assert_eq!(
            graphql_url("http://127.0.0.1:4000"),
            "http://127.0.0.1:4000/graphql"
        );
    }

    #[test]
    fn repo_names_from_urls() {
        assert_eq!(
            repo_from_url("git@github.com:acme/widgets.git").as_deref(),
            Some("acme/widgets")
        );
        assert_eq!(
            repo_from_url("https://github.com/acme/widgets").as_deref(),
            Some("acme/widgets")
        );
        assert_eq!(repo_from_url("/srv/git/x").as_deref(), None);
        assert!(split_repo("acme/../x").is_err());
        assert!(split_repo("acme/wid gets").is_err());
        assert!(split_repo("acme").is_err());
    }

    #[test]
    fn rate_limit_answers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(
            rate_limited(429, &h, &Value::Null, NOW),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            rate_limited(403, &HeaderMap::new(), &Value::Null, NOW),
            None
        );
        let msg = serde_json::json!({"message": "You have exceeded a secondary rate limit"});
        assert_eq!(
            rate_limited(403, &HeaderMap::new(), &msg, NOW),
            Some(Duration::from_secs(60))
        );
        assert_eq!(rate_limited(502, &h, &Value::Null, NOW), None);
        // GraphQL: 200 with a RATE_LIMITED error waits for the reset.
        let limited = serde_json::json!({"data": null, "errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}]});
        let mut reset = HeaderMap::new();
        reset.insert("x-ratelimit-remaining", "0".parse().unwrap());
        let at = NOW + 3;
        reset.insert("x-ratelimit-reset", at.to_string().parse().unwrap());
        let wait = rate_limited(200, &reset, &limited, NOW).expect("limited");
        assert!(
            wait >= Duration::from_secs(2) && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
        assert_eq!(
            rate_limited(200, &HeaderMap::new(), &limited, NOW),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            rate_limited(200, &reset, &serde_json::json!({"data": {}}), NOW),
            None
        );
    }
}

//! A fake model server on loopback that the real coding-agent CLIs (Claude Code, Codex CLI,
//! opencode, Gemini CLI, aider) can be pointed at, for `git mission`'s conformance tests.
//!
//! [`FakeModel::start`] binds `127.0.0.1:0` and serves, from a background thread, the wire
//! protocols those CLIs speak, each streaming (SSE) and not:
//!
//! - Anthropic Messages (`POST /v1/messages`, `/v1/messages/count_tokens`): `anthropic`.
//! - OpenAI Chat Completions (`POST /v1/chat/completions`): `openai_chat`.
//! - OpenAI Responses (`POST /v1/responses`): `openai_responses`.
//! - Gemini (`POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent`,
//!   `:countTokens`): `gemini`.
//! - Model discovery (`GET /v1/models`, `GET /v1beta/models`, …): `models`.
//!
//! Each API module only translates between its wire format and a provider-neutral `Turn`
//! (what the request offers and contains) and `Plan` (what to answer); `server` owns the
//! HTTP plumbing. What to answer is decided by `scenario` from the [`Scenario`] the server was
//! started with: create a file with whatever write tool the CLI offers (or an aider edit
//! block), fail with a provider-shaped error, answer plain text, or never answer. Every request
//! is recorded ([`FakeModel::requests`]) with what was answered, including the token usage the
//! server reported, so tests can compare it with what a CLI prints.
//!
//! ```no_run
//! use fake_model::{FakeModel, Scenario};
//!
//! let model = FakeModel::start(Scenario::edit()).expect("bind 127.0.0.1");
//! // Point the CLI at model.url() (Claude Code, Gemini CLI) or model.url() + "/v1" (Codex,
//! // opencode, aider), run it, then:
//! assert!(model.requests().iter().any(|r| r.contains("hello.txt")));
//! ```

mod aider;
mod anthropic;
mod gemini;
mod models;
mod openai_chat;
mod openai_responses;
mod scenario;
mod server;
mod sse;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::{Log, Shared, serve};

pub use models::MODELS;
pub use scenario::Scenario;

/// Which wire protocol a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// Anthropic Messages (`/v1/messages`, `/v1/messages/count_tokens`).
    Anthropic,
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    OpenAiChat,
    /// OpenAI Responses (`/v1/responses`).
    OpenAiResponses,
    /// Gemini (`/v1beta/models/{model}:…`).
    Gemini,
    /// Model listing or lookup (`GET …/models`).
    Models,
    /// Anything the server does not know; answered with 404.
    Unknown,
}

/// Token usage the server reported in one answer, provider-neutral.
///
/// `input` counts every prompt token, cached or not (as OpenAI and Gemini report it); the
/// Anthropic module splits it into `input_tokens`, `cache_creation_input_tokens` and
/// `cache_read_input_tokens`, which add up to `input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// All prompt tokens, including `cached` and `cache_write`.
    pub input: u64,
    /// Prompt tokens read from the provider's cache.
    pub cached: u64,
    /// Prompt tokens written to the cache (only Anthropic reports these).
    pub cache_write: u64,
    /// Generated tokens, including `reasoning`.
    pub output: u64,
    /// Reasoning ("thinking") tokens (always 0: the fake model does not think).
    pub reasoning: u64,
}

/// What the server did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Answered with this HTTP status.
    Status(u16),
    /// Held open without an answer ([`Scenario::Hang`]).
    Hung,
    /// Answered `200` and a few bytes of padding, then nothing more ([`Scenario::Stall`]).
    Stalled,
}

/// One request the server received, as [`FakeModel::requests`] reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// When it arrived, relative to [`FakeModel::start`].
    pub at: Duration,
    pub method: String,
    /// The path without the query, e.g. `/v1/messages`.
    pub path: String,
    /// The raw query without `?`, e.g. `beta=true`; empty when there is none.
    pub query: String,
    /// All headers, names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `Value::Null` when empty, a `Value::String` when not JSON.
    pub body: Value,
    pub api: Api,
    /// What the scenario answered: a text, a tool call, JSON, an error, or nothing.
    pub reply: ReplyKind,
    pub answer: Answer,
    /// The token usage reported in the answer, if it was a model answer.
    pub usage: Option<Usage>,
}

/// The kind of answer the scenario chose for a request (see [`Recorded::reply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyKind {
    /// A plain assistant text.
    Text(String),
    /// A call of the named tool (for aider: an edit block in the text, see [`ReplyKind::EditBlock`]).
    ToolCall(String),
    /// An aider edit block in the named edit format (`whole`, `diff`, `udiff`, …).
    EditBlock(String),
    /// JSON for a structured-output (schema) request.
    Json,
    /// A provider error with this status.
    Error(u16),
    /// Model listing, token count, 404, or a hung request.
    Other,
}

impl Recorded {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether any string in the body (at any depth) contains `needle`, e.g. a prompt.
    pub fn contains(&self, needle: &str) -> bool {
        fn walk(v: &Value, needle: &str) -> bool {
            match v {
                Value::String(s) => s.contains(needle),
                Value::Array(a) => a.iter().any(|v| walk(v, needle)),
                Value::Object(o) => o.values().any(|v| walk(v, needle)),
                _ => false,
            }
        }
        walk(&self.body, needle)
    }

    /// Whether this was a model call (a generation request, not a listing or token count).
    pub fn is_model_call(&self) -> bool {
        matches!(
            self.api,
            Api::Anthropic | Api::OpenAiChat | Api::OpenAiResponses | Api::Gemini
        ) && !self.path.ends_with("/count_tokens")
            && !self.path.ends_with(":countTokens")
            && self.method == "POST"
    }
}

/// The server; dropping it stops serving and releases hung connections.
pub struct FakeModel {
    shared: Arc<Shared>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    url: String,
}

impl FakeModel {
    /// Serves `scenario` on `127.0.0.1` at a free port.
    pub fn start(scenario: Scenario) -> std::io::Result<FakeModel> {
        FakeModel::start_on(0, scenario)
    }

    /// Serves `scenario` on `127.0.0.1:port` (0 picks a free port).
    pub fn start_on(port: u16, scenario: Scenario) -> std::io::Result<FakeModel> {
        let server = tiny_http::Server::http(("127.0.0.1", port)).map_err(std::io::Error::other)?;
        let port = match server.server_addr() {
            tiny_http::ListenAddr::IP(SocketAddr::V4(a)) => a.port(),
            tiny_http::ListenAddr::IP(SocketAddr::V6(a)) => a.port(),
            #[allow(unreachable_patterns)]
            _ => return Err(std::io::Error::other("not listening on an IP address")),
        };
        let shared = Arc::new(Shared {
            scenario,
            started: Instant::now(),
            stop: AtomicBool::new(false),
            log: Mutex::new(Log::default()),
            arrived: Condvar::new(),
            released: Mutex::new(false),
            release: Condvar::new(),
        });
        let server = Arc::new(server);
        let thread = {
            let (shared, server) = (shared.clone(), server.clone());
            std::thread::Builder::new()
                .name("fake-model".into())
                .spawn(move || serve(&server, &shared))?
        };
        Ok(FakeModel {
            shared,
            server,
            thread: Some(thread),
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash and without `/v1`.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The scenario being served.
    pub fn scenario(&self) -> &Scenario {
        &self.shared.scenario
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// Waits until at least `count` requests have arrived or `timeout` has passed; returns
    /// whether they arrived.
    pub fn wait_for_requests(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut log = self.shared.lock();
        while log.requests.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            log = match self.shared.arrived.wait_timeout(log, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }

    /// How many requests are being held open right now ([`Scenario::Hang`] and
    /// [`Scenario::Stall`]).
    pub fn held(&self) -> usize {
        let log = self.shared.lock();
        log.hung.len() + log.stalled.iter().filter(|t| !t.is_finished()).count()
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Answer (500) and close the connections held by `Hang`, so clients see the server go.
        let (hung, stalled) = {
            let mut log = self.shared.lock();
            (
                std::mem::take(&mut log.hung),
                std::mem::take(&mut log.stalled),
            )
        };
        drop(hung);
        // End the stalled streams (the clients see them cut short).
        *self
            .shared
            .released
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.release.notify_all();
        for thread in stalled {
            let _ = thread.join();
        }
    }
}

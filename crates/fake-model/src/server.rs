//! The HTTP plumbing: the serving loop, what an API module sees of a request ([`Incoming`]),
//! what it hands back ([`Reply`]), routing by path, and delivering the three kinds of answer
//! (send, hang, stall). Everything provider-specific lives in the API modules.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{
    Answer, Api, Recorded, ReplyKind, Scenario, Usage, anthropic, gemini, models, openai_chat,
    openai_responses,
};

/// State shared between the handle and the serving thread.
pub(crate) struct Shared {
    pub(crate) scenario: Scenario,
    pub(crate) started: Instant,
    pub(crate) stop: AtomicBool,
    pub(crate) log: Mutex<Log>,
    /// Signalled whenever a request is recorded ([`crate::FakeModel::wait_for_requests`]).
    pub(crate) arrived: Condvar,
    /// Set (and signalled) when the server stops, to end stalled answers.
    pub(crate) released: Mutex<bool>,
    pub(crate) release: Condvar,
}

#[derive(Default)]
pub(crate) struct Log {
    pub(crate) requests: Vec<Recorded>,
    /// Requests held open by [`Scenario::Hang`]. Holding the `tiny_http::Request` keeps the
    /// connection open without a thread spinning on it; dropping it (when the server stops)
    /// answers 500 and closes the connection.
    pub(crate) hung: Vec<tiny_http::Request>,
    /// Threads answering [`Scenario::Stall`] requests; each sleeps on [`Shared::release`].
    pub(crate) stalled: Vec<JoinHandle<()>>,
    /// Counter for ids of messages and tool calls, so they are unique per server.
    pub(crate) next_id: u64,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Log> {
        // A panic while holding the lock must not hide the requests from the test.
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_id(&self) -> u64 {
        let mut log = self.lock();
        log.next_id += 1;
        log.next_id
    }
}

pub(crate) fn serve(server: &tiny_http::Server, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match server.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(request)) => handle(request, shared),
            Ok(None) => {}
            Err(_) => {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
            }
        }
    }
}

/// A request as the API modules see it.
pub(crate) struct Incoming {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
    /// Size of the raw body in bytes; the fake token counts are derived from it.
    pub body_len: usize,
}

impl Incoming {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of query parameter `name`, undecoded.
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then_some(v)
        })
    }
}

/// What an API module wants sent back.
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub extra_headers: Vec<(&'static str, String)>,
    pub kind: ReplyKind,
    pub usage: Option<Usage>,
    pub mode: Mode,
}

/// How a [`Reply`] is delivered.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Send it.
    Send,
    /// Keep the connection open and never answer.
    Hang,
    /// Send the status, headers and `body` (padding), then nothing until the server stops.
    Stall,
}

impl Reply {
    pub(crate) fn json(status: u16, body: &Value, kind: ReplyKind) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
            extra_headers: Vec::new(),
            kind,
            usage: None,
            mode: Mode::Send,
        }
    }

    pub(crate) fn sse(body: String, kind: ReplyKind) -> Reply {
        Reply {
            status: 200,
            content_type: "text/event-stream",
            body: body.into_bytes(),
            extra_headers: vec![("Cache-Control", "no-cache".to_string())],
            kind,
            usage: None,
            mode: Mode::Send,
        }
    }

    pub(crate) fn hang() -> Reply {
        Reply {
            status: 0,
            content_type: "",
            body: Vec::new(),
            extra_headers: Vec::new(),
            kind: ReplyKind::Other,
            usage: None,
            mode: Mode::Hang,
        }
    }

    /// A `200` that starts like a streamed (`sse`) or plain JSON answer and then stalls.
    pub(crate) fn stall(sse: bool) -> Reply {
        // More than tiny_http's 8 KiB chunk buffer, so the status line, headers and a first
        // chunk really reach the client. SSE comment lines and JSON leading whitespace are
        // both ignored by parsers.
        let line: &[u8] = if sse {
            b": fake-model is stalling\n\n"
        } else {
            b"                       \n"
        };
        Reply {
            status: 200,
            content_type: if sse {
                "text/event-stream"
            } else {
                "application/json"
            },
            body: line.repeat(9 * 1024 / line.len()),
            extra_headers: Vec::new(),
            kind: ReplyKind::Other,
            usage: None,
            mode: Mode::Stall,
        }
    }

    pub(crate) fn with_usage(mut self, usage: Usage) -> Reply {
        self.usage = Some(usage);
        self
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.extra_headers.push((name, value));
        self
    }
}

/// The context an API module needs to build its answer.
pub(crate) struct Ctx<'a> {
    pub scenario: &'a Scenario,
    shared: &'a Shared,
}

impl Ctx<'_> {
    /// A fresh number for message, response and tool-call ids.
    pub(crate) fn id(&self) -> u64 {
        self.shared.next_id()
    }

    /// Seconds since the epoch, for `created` fields.
    pub(crate) fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

fn handle(mut request: tiny_http::Request, shared: &Arc<Shared>) {
    let at = shared.started.elapsed();
    let url = request.url().to_string();
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (url.clone(), String::new()),
    };
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let mut raw = Vec::new();
    // A body that cannot be read is recorded as empty; the request is still answered.
    let _ = request.as_reader().read_to_end(&mut raw);
    let body = if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&raw)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()))
    };
    let incoming = Incoming {
        method: request.method().as_str().to_ascii_uppercase(),
        path,
        query,
        headers,
        body,
        body_len: raw.len(),
    };
    let ctx = Ctx {
        scenario: &shared.scenario,
        shared,
    };
    let (api, reply) = route(&incoming, &ctx);

    let recorded = Recorded {
        at,
        method: incoming.method,
        path: incoming.path,
        query: incoming.query,
        headers: incoming.headers,
        body: incoming.body,
        api,
        reply: reply.kind.clone(),
        answer: match reply.mode {
            Mode::Send => Answer::Status(reply.status),
            Mode::Hang => Answer::Hung,
            Mode::Stall => Answer::Stalled,
        },
        usage: reply.usage,
    };
    let mut log = shared.lock();
    log.requests.push(recorded);
    shared.arrived.notify_all();
    let mut headers = vec![("Content-Type", reply.content_type.to_string())];
    headers.extend(reply.extra_headers);
    let headers: Vec<tiny_http::Header> = headers
        .into_iter()
        .filter_map(|(n, v)| tiny_http::Header::from_bytes(n.as_bytes(), v.as_bytes()).ok())
        .collect();
    let status = tiny_http::StatusCode(reply.status);
    match reply.mode {
        Mode::Hang => log.hung.push(request),
        Mode::Stall => {
            // Responding blocks until the body ends, so it gets its own (sleeping) thread.
            let body = Stalling {
                padding: std::io::Cursor::new(reply.body),
                shared: shared.clone(),
            };
            let response = tiny_http::Response::new(status, headers, body, None, None);
            let thread = std::thread::Builder::new()
                .name("fake-model-stall".into())
                .spawn(move || {
                    let _ = request.respond(response);
                });
            // Without a thread the request is dropped, which answers 500: still a failure
            // the client sees, so nothing more to do.
            if let Ok(thread) = thread {
                log.stalled.push(thread);
            }
        }
        Mode::Send => {
            drop(log);
            let len = reply.body.len();
            let response = tiny_http::Response::new(
                status,
                headers,
                std::io::Cursor::new(reply.body),
                Some(len),
                None,
            );
            // The client may have gone away; nothing to do about it.
            let _ = request.respond(response);
        }
    }
}

/// The body of a stalled answer: the padding, then a read that blocks until the server stops
/// and then reports the end of the body.
struct Stalling {
    padding: std::io::Cursor<Vec<u8>>,
    shared: Arc<Shared>,
}

impl std::io::Read for Stalling {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = std::io::Read::read(&mut self.padding, buf)?;
        if n > 0 {
            return Ok(n);
        }
        let mut released = self
            .shared
            .released
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        while !*released {
            released = self
                .shared
                .release
                .wait(released)
                .unwrap_or_else(|p| p.into_inner());
        }
        Ok(0)
    }
}

/// Dispatches a request to the API module that owns its path.
fn route(rq: &Incoming, ctx: &Ctx) -> (Api, Reply) {
    if rq.method == "HEAD" {
        // Connectivity probes (Claude Code sends `HEAD /api/hello`): the server is up.
        return (
            Api::Unknown,
            Reply::json(200, &Value::Null, ReplyKind::Other),
        );
    }
    let (api, reply) = dispatch(rq, ctx);
    // `Hang` holds every API request, including token counts and model listings.
    if *ctx.scenario == Scenario::Hang && api != Api::Unknown {
        return (api, Reply::hang());
    }
    (api, reply)
}

fn dispatch(rq: &Incoming, ctx: &Ctx) -> (Api, Reply) {
    let path = rq.path.trim_end_matches('/');
    let post = rq.method == "POST";
    if post && path.ends_with("/messages/count_tokens") {
        (Api::Anthropic, anthropic::count_tokens(rq, ctx))
    } else if post && path.ends_with("/messages") {
        (Api::Anthropic, anthropic::messages(rq, ctx))
    } else if post && path.ends_with("/chat/completions") {
        (Api::OpenAiChat, openai_chat::completions(rq, ctx))
    } else if path.ends_with("/responses") {
        (Api::OpenAiResponses, openai_responses::responses(rq, ctx))
    } else if post && path.contains("/models/") && path.contains(':') {
        (Api::Gemini, gemini::call(rq, ctx))
    } else if rq.method == "GET" && (path.ends_with("/models") || path.contains("/models/")) {
        (Api::Models, models::list(rq, ctx))
    } else {
        (Api::Unknown, not_found(rq))
    }
}

fn not_found(rq: &Incoming) -> Reply {
    let body = serde_json::json!({
        "error": {
            "message": format!("fake-model: no route for {} {}", rq.method, rq.path),
            "type": "not_found_error",
            "code": 404,
        }
    });
    Reply::json(404, &body, ReplyKind::Other)
}

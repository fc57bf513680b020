//! Told, not polling: when a mission needs a person (blocked, an orchestrator's question, a
//! budget alert or stop) or reaches a milestone or its end, the configured command (argv,
//! never a shell) gets a JSON payload on stdin and each webhook gets it by POST.
//!
//! At the end of a pulse, the events not yet notified are claimed in one state commit
//! (`notify.sending`, which also moves the watermark past them), then delivered, each with a
//! few attempts and back-off, and the outcome recorded (`notify.sent` / `notify.failed`). So
//! an event is notified at most once per channel, even with two supervisors; a delivery that
//! fails is recorded and never fails the pulse.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Config;
use crate::error::Result;
use crate::events::{Event, Kind};
use crate::runs::Layout;
use crate::store::{Head, Store};

/// Attempts per delivery, and the pause before each retry.
const BACKOFF: &[Duration] = &[Duration::from_millis(500), Duration::from_secs(2)];
/// How long one attempt may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// With no watermark yet (notifications just configured), only events this recent are told.
const FIRST_LOOK_BACK: i64 = 3600;

/// What a person is told about, named as in `notify.on`.
pub fn topic(e: &Event) -> Option<&'static str> {
    Some(match e.kind {
        Kind::MissionBlocked if e.data["reason"].as_str() == Some("needs_input") => "needs_input",
        Kind::OrchestratorTurn if e.data["outcome"].as_str() == Some("needs_input") => {
            "needs_input"
        }
        Kind::MissionBlocked => "blocked",
        Kind::BudgetAlert => "budget_alert",
        Kind::BudgetExceeded => "budget_exceeded",
        Kind::MilestonePassed => "milestone_passed",
        Kind::MissionCompleted => "completed",
        _ => return None,
    })
}

/// A configured destination.
#[derive(Debug, Clone, PartialEq)]
pub enum Channel {
    Command(Vec<String>),
    Webhook(String),
}

impl Channel {
    fn name(&self) -> String {
        match self {
            Channel::Command(argv) => {
                format!("command {}", argv.first().map_or("", String::as_str))
            }
            Channel::Webhook(url) => format!("webhook {}", redact(url)),
        }
    }
}

/// A URL without its query and user info (tokens often live there), for the log.
fn redact(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or("");
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let host_path = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            format!("{scheme}://{host_path}")
        }
        None => no_query.to_owned(),
    }
}

/// The channels configured, and the topics they want.
pub fn channels(config: &Config) -> (Vec<Channel>, Vec<String>) {
    let mut out = Vec::new();
    let argv = config.get_strs("notify.command");
    if !argv.is_empty() {
        out.push(Channel::Command(argv));
    }
    out.extend(
        config
            .get_strs("notify.webhooks")
            .into_iter()
            .map(Channel::Webhook),
    );
    (out, config.get_strs("notify.on"))
}

/// The JSON a channel gets.
#[derive(Debug, Clone, Serialize)]
pub struct Payload {
    pub mission: String,
    pub title: String,
    /// blocked, needs_input, budget_alert, budget_exceeded, milestone_passed, completed.
    pub event: String,
    /// The event's sequence number in the mission's log.
    pub seq: u64,
    pub at: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub milestone: Option<String>,
    pub feature: Option<String>,
    /// What a person can do next, as commands.
    pub next: Vec<String>,
    pub links: Value,
    /// One line for chat tools (Slack shows `text`).
    pub text: String,
}

fn payload(head: &Head, e: &Event, topic: &str) -> Payload {
    let m = head.mission();
    let id = &m.id;
    let reason = e.data["reason"]
        .as_str()
        .or_else(|| e.data["block"].as_str())
        .map(str::to_owned);
    // For an orchestrator's question: the question, then the root cause it is about.
    let message = match e.data["question"].as_str() {
        Some(q) => Some(format!(
            "{q} (blocked: {})",
            e.data["message"].as_str().unwrap_or("")
        )),
        None => e.data["message"].as_str().map(str::to_owned).or_else(|| {
            m.block
                .as_ref()
                .filter(|_| topic == "blocked")
                .map(|b| b.message.clone())
        }),
    };
    let mut text = format!("git mission {id}: {}", topic.replace('_', " "));
    if let Some(ms) = &e.milestone {
        text.push_str(&format!(" ({ms})"));
    }
    if let Some(msg) = &message {
        text.push_str(&format!(": {msg}"));
    }
    let branch = crate::workspace::integration_branch(id);
    let file = crate::workspace::mission_file(id);
    Payload {
        mission: id.clone(),
        title: m.title.clone(),
        event: topic.to_owned(),
        seq: e.seq,
        at: e.at.clone(),
        status: m.status.to_string(),
        reason,
        message,
        milestone: e.milestone.clone(),
        feature: e.feature.clone(),
        next: crate::report::next_actions(m),
        links: json!({
            "branch": branch,
            "file": file,
            "show": format!("git show {branch}:{file}"),
            "status": format!("git mission status {id}"),
        }),
        text,
    }
}

/// The events to notify now: each of a wanted topic after the watermark (the last event a
/// `notify.sending` covered), or, before any, from the last hour.
fn pending<'h>(head: &'h Head, wanted: &[String], now: jiff::Timestamp) -> Vec<&'h Event> {
    let watermark = head
        .events
        .iter()
        .rev()
        .find(|e| e.kind == Kind::NotifySending)
        .and_then(|e| e.data["upto"].as_u64());
    head.events
        .iter()
        .filter(|e| match watermark {
            Some(w) => e.seq > w,
            None => {
                e.at.parse::<jiff::Timestamp>()
                    .is_ok_and(|at| now.as_second() - at.as_second() <= FIRST_LOOK_BACK)
            }
        })
        .filter(|e| topic(e).is_some_and(|t| wanted.iter().any(|w| w == t)))
        .collect()
}

/// Notifies what happened since the last pulse that notified. Errors in delivery are recorded,
/// never returned; only a state commit that fails is an error.
pub fn notify(store: &Store, config: &Config, layout: &Layout) -> Result<()> {
    let (channels, wanted) = channels(config);
    if channels.is_empty() {
        return Ok(());
    }
    let Some(head) = store.head()? else {
        return Ok(());
    };
    let now = store.repo.clock().now_s();
    if pending(&head, &wanted, now).is_empty() {
        return Ok(());
    }
    let mut claimed: Vec<(u64, String)> = Vec::new();
    let committed = store.mutate("notify: sending", |tx| {
        // Read again in the claim: another supervisor may have claimed them meanwhile.
        let events = pending(tx.head, &wanted, now);
        let Some(upto) = events.last().map(|e| e.seq) else {
            return Ok(false);
        };
        claimed = events
            .iter()
            .map(|e| (e.seq, topic(e).unwrap_or_default().to_owned()))
            .collect();
        let items: Vec<Value> = claimed
            .iter()
            .map(|(seq, t)| json!({ "seq": seq, "event": t }))
            .collect();
        let names: Vec<String> = channels.iter().map(Channel::name).collect();
        tx.event(
            Event::new(Kind::NotifySending)
                .data(json!({ "upto": upto, "events": items, "channels": names })),
        );
        Ok(true)
    })?;
    let Some(head) = committed else {
        return Ok(());
    };
    crate::fault!("notify.after_claim");
    let dir = layout.root.join("notify");
    let mut outcomes = Vec::new();
    for (seq, t) in &claimed {
        let Some(e) = head.events.iter().find(|e| e.seq == *seq) else {
            continue;
        };
        let body = serde_json::to_vec(&payload(&head, e, t)).unwrap_or_default();
        for ch in &channels {
            let at = Delivery {
                cwd: &store.repo.root,
                dir: &dir,
                seq: *seq,
                clock: store.repo.clock(),
            };
            let (attempts, result) = at.deliver(ch, &body);
            if let Err(why) = &result {
                tracing::warn!("notify: {} for event {seq}: {why}", ch.name());
            }
            outcomes.push((*seq, ch.name(), attempts, result));
        }
    }
    store.mutate("notify: done", |tx| {
        for (seq, channel, attempts, result) in &outcomes {
            let e = match result {
                Ok(()) => Event::new(Kind::NotifySent)
                    .data(json!({ "seq": seq, "channel": channel, "attempts": attempts })),
                Err(why) => Event::new(Kind::NotifyFailed).data(
                    json!({ "seq": seq, "channel": channel, "attempts": attempts, "error": why }),
                ),
            };
            tx.event(e);
        }
        Ok(!outcomes.is_empty())
    })?;
    Ok(())
}

/// Where one event's payload is delivered from.
struct Delivery<'a> {
    /// The command runs in the repository's root.
    cwd: &'a std::path::Path,
    /// Where its input and output files go (the mission's state directory on this machine).
    dir: &'a std::path::Path,
    seq: u64,
    clock: &'a crate::env::Clock,
}

impl Delivery<'_> {
    /// Delivers the payload on one channel, with retries; the attempts made and the outcome.
    fn deliver(&self, ch: &Channel, body: &[u8]) -> (u32, std::result::Result<(), String>) {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let result = match ch {
                Channel::Command(argv) => self.run_command(argv, body, attempts),
                Channel::Webhook(url) => post(url, body),
            };
            match result {
                Ok(()) => return (attempts, Ok(())),
                Err(why) if attempts as usize > BACKOFF.len() => return (attempts, Err(why)),
                Err(_) => std::thread::sleep(BACKOFF[attempts as usize - 1]),
            }
        }
    }

    /// Runs the command with the payload on stdin; its output goes to
    /// `<dir>/<seq>-<attempt>.log`.
    fn run_command(
        &self,
        argv: &[String],
        body: &[u8],
        attempt: u32,
    ) -> std::result::Result<(), String> {
        let (dir, seq) = (self.dir, self.seq);
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let input = dir.join(format!("{seq}.json"));
        std::fs::write(&input, body).map_err(|e| format!("{}: {e}", input.display()))?;
        let out = dir.join(format!("{seq}-{attempt}.log"));
        run_with_input(argv, self.cwd, input, &out, self.clock)
    }
}

/// Runs `argv` in `cwd` with `input` on stdin and its output in `out` (and `.err`).
fn run_with_input(
    argv: &[String],
    cwd: &std::path::Path,
    input: std::path::PathBuf,
    out: &std::path::Path,
    clock: &crate::env::Clock,
) -> std::result::Result<(), String> {
    let out = out.to_path_buf();
    let spec = crate::process::Spec {
        argv: argv.to_vec(),
        cwd: cwd.to_owned(),
        stdin: Some(input),
        stdout: out.clone(),
        stderr: out.with_extension("err"),
        timeout: Some(ATTEMPT_TIMEOUT),
        grace: Duration::from_secs(2),
        ..Default::default()
    };
    let fin = crate::process::run(&spec, &|| false, clock).map_err(|e| e.to_string())?;
    if fin.success() {
        return Ok(());
    }
    let tail = crate::process::tail(&out.with_extension("err"), 3);
    Err(if fin.timed_out {
        format!("timed out after {} s", ATTEMPT_TIMEOUT.as_secs())
    } else {
        format!("exited with {:?}: {}", fin.code, tail.trim())
    })
}

/// POSTs the payload as JSON; any 2xx is delivered.
fn post(url: &str, body: &[u8]) -> std::result::Result<(), String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err("not an http(s) URL".into());
    }
    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let _g = rt.enter();
    let octo = octocrab::Octocrab::builder()
        .set_connect_timeout(Some(ATTEMPT_TIMEOUT))
        .set_read_timeout(Some(ATTEMPT_TIMEOUT))
        .build()
        .map_err(|e| e.to_string())?;
    let value: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let status = rt.block_on(async {
        let resp = octo
            ._post(uri, Some(&value))
            .await
            .map_err(|e| e.to_string())?;
        Ok::<u16, String>(resp.status().as_u16())
    })?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_secrets_in_the_log() {
        assert_eq!(
            redact("https://user:token@hooks.slack.com/services/T/B/X?key=1"),
            "https://hooks.slack.com/services/T/B/X"
        );
        assert_eq!(
            redact("http://127.0.0.1:9/hook#frag"),
            "http://127.0.0.1:9/hook"
        );
    }

    #[test]
    fn topics_name_what_a_person_is_told() {
        let blocked = Event::new(Kind::MissionBlocked).data(json!({ "reason": "worker_failed" }));
        let question = Event::new(Kind::MissionBlocked).data(json!({ "reason": "needs_input" }));
        assert_eq!(topic(&blocked), Some("blocked"));
        assert_eq!(topic(&question), Some("needs_input"));
        assert_eq!(
            topic(&Event::new(Kind::MilestonePassed)),
            Some("milestone_passed")
        );
        assert_eq!(topic(&Event::new(Kind::FeatureMerged)), None);
    }
}

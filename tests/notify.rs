//! Told, not polling: a blocked mission calls the configured command (argv, payload on stdin)
//! and POSTs to the webhook, each exactly once, whatever the number of pulses after it; a
//! webhook that fails first is retried; a channel that keeps failing is recorded and never
//! fails the pulse.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{TestRepo, count};

/// A loopback HTTP server that answers the first `fail_first` requests with 500 and the rest
/// with 200; it keeps the bodies of the requests it accepted.
struct Hook {
    url: String,
    accepted: Arc<Mutex<Vec<serde_json::Value>>>,
    requests: Arc<Mutex<u32>>,
}

fn hook(fail_first: u32) -> Hook {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/hook?token=secret",
        listener.local_addr().expect("addr")
    );
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(Mutex::new(0));
    let (acc, req) = (accepted.clone(), requests.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let n = {
                let mut r = req.lock().expect("lock");
                *r += 1;
                *r
            };
            let status = if n <= fail_first {
                "500 Internal Server Error"
            } else {
                acc.lock()
                    .expect("lock")
                    .push(serde_json::from_slice(&body).unwrap_or_default());
                "200 OK"
            };
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    Hook {
        url,
        accepted,
        requests,
    }
}

/// A mission whose only feature fails every attempt: it blocks with `worker_failed`.
fn blocking(repo: &TestRepo, notify: &str) {
    repo.write("todo/missions/config.yml", notify);
    repo.write("scripts/told.sh", "cat >> \"$1\"\necho >> \"$1\"\n");
    repo.mission(
        "echo failed on purpose >&2\nexit 1\n",
        "limits: {worker_attempts: 1}\n",
        "  - id: M1\n    title: One\n    validation: {commands: [\"true\"]}\n    features:\n      - {id: F1, title: first, description: x}\n",
    );
}

#[test]
fn a_command_and_a_webhook_each_get_one_blocked_payload() {
    let repo = TestRepo::new();
    let hook = hook(1);
    let told = repo.root().join("told.jsonl");
    blocking(
        &repo,
        &format!(
            "notify:\n  command: [sh, scripts/told.sh, {}]\n  webhooks: [\"{}\"]\n",
            told.display(),
            hook.url
        ),
    );
    let out = repo.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(out.code, 3, "{}", out.snapshot());
    // More pulses on the blocked mission tell nobody again.
    for _ in 0..2 {
        repo.run_deadline(&["pulse", "m"], &[], 60);
    }
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&told)
        .expect("the command ran")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON on stdin"))
        .collect();
    let blocked: Vec<_> = lines.iter().filter(|p| p["event"] == "blocked").collect();
    assert_eq!(blocked.len(), 1, "{lines:?}");
    let p = blocked[0];
    assert_eq!(p["mission"], "m");
    assert_eq!(p["reason"], "worker_failed");
    assert_eq!(p["feature"], "F1");
    assert_eq!(p["status"], "blocked");
    assert!(
        p["message"]
            .as_str()
            .is_some_and(|m| m.contains("F1 failed")),
        "{p}"
    );
    assert!(
        p["next"].as_array().is_some_and(|n| !n.is_empty()),
        "next actions: {p}"
    );
    assert_eq!(p["links"]["branch"], "mission/m");
    // The webhook: one payload accepted after a 500 (retried once), the same event.
    let accepted = hook.accepted.lock().expect("lock").clone();
    let hooked: Vec<_> = accepted
        .iter()
        .filter(|p| p["event"] == "blocked")
        .collect();
    assert_eq!(hooked.len(), 1, "{accepted:?}");
    assert_eq!(hooked[0]["seq"], p["seq"]);
    assert!(
        hooked[0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("git mission m: blocked"))
    );
    assert_eq!(
        *hook.requests.lock().expect("lock"),
        2,
        "one failure, one retry"
    );
    // Recorded: claimed once, sent once per channel; the log never shows the webhook's token.
    let ev = repo.events();
    assert_eq!(count(&ev, "notify.sending", None), 1);
    let sent: Vec<_> = ev.iter().filter(|e| e["type"] == "notify.sent").collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().any(|e| e["data"]["attempts"] == 2));
    assert!(
        !repo
            .git(&["show", "mission/m:todo/missions/m/events.jsonl"])
            .contains("secret")
    );
}

#[test]
fn a_channel_that_keeps_failing_is_recorded_and_the_mission_goes_on() {
    let repo = TestRepo::new();
    let hook = hook(u32::MAX);
    blocking(
        &repo,
        &format!(
            "notify:\n  command: [false]\n  webhooks: [\"{}\"]\n  on: [blocked]\n",
            hook.url
        ),
    );
    let out = repo.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(
        out.code,
        3,
        "the block, not the notification, ends the run: {}",
        out.snapshot()
    );
    let ev = repo.events();
    let failed: Vec<_> = ev.iter().filter(|e| e["type"] == "notify.failed").collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        failed.iter().all(|e| e["data"]["attempts"] == 3),
        "{failed:?}"
    );
    assert_eq!(*hook.requests.lock().expect("lock"), 3);
    assert_eq!(count(&ev, "mission.blocked", None), 1);
}

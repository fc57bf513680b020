//! The server itself: recording, waiting for requests, and the scenarios that do not answer
//! (Hang, Stall) together with what dropping the server does to their connections.

mod support;

use std::io::{ErrorKind, Read};
use std::time::{Duration, Instant};

use fake_model::{Answer, FakeModel, Scenario};
use serde_json::json;
use support::{post, request, send};

fn start(scenario: Scenario) -> FakeModel {
    FakeModel::start(scenario).expect("start the fake model")
}

/// Reads from `stream` until `window` passes without the connection closing; returns what
/// arrived and whether the connection was closed.
fn read_for(stream: &mut std::net::TcpStream, window: Duration) -> (Vec<u8>, bool) {
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("set a read timeout");
    let deadline = Instant::now() + window;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return (got, true),
        }
    }
    (got, false)
}

#[test]
fn records_every_request() {
    let model = start(Scenario::NoChange);
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "the PROMPT here"}]});
    let reply = request(
        &model.url(),
        "POST",
        "/v1/chat/completions?x=1",
        &[("Authorization", "Bearer secret")],
        Some(&body),
    );
    assert_eq!(reply.status, 200);
    assert!(model.wait_for_requests(1, Duration::from_secs(1)));
    assert!(!model.wait_for_requests(2, Duration::from_millis(50)));
    let log = model.requests();
    let rq = &log[0];
    assert_eq!(
        (rq.method.as_str(), rq.path.as_str(), rq.query.as_str()),
        ("POST", "/v1/chat/completions", "x=1")
    );
    assert_eq!(rq.header("authorization"), Some("Bearer secret"));
    assert_eq!(rq.body, body);
    assert!(rq.contains("PROMPT"));
    assert!(rq.is_model_call());
    assert_eq!(rq.answer, Answer::Status(200));
    assert!(model.url().starts_with("http://127.0.0.1:"));
}

#[test]
fn connectivity_probes_are_answered() {
    let model = start(Scenario::Hang);
    // Even while the model hangs, a HEAD probe says the server is there.
    assert_eq!(
        request(&model.url(), "HEAD", "/api/hello", &[], None).status,
        200
    );
}

#[test]
fn hang_holds_requests_until_the_server_is_dropped() {
    let model = start(Scenario::Hang);
    let url = model.url();
    let body = json!({"model": "m", "stream": true, "messages": []});
    let mut streams = vec![
        send(&url, "POST", "/v1/messages", &[], Some(&body)),
        send(&url, "POST", "/v1/chat/completions", &[], Some(&body)),
        send(&url, "POST", "/v1/responses", &[], Some(&body)),
        send(
            &url,
            "POST",
            "/v1beta/models/g:streamGenerateContent?alt=sse",
            &[],
            Some(&body),
        ),
        send(&url, "GET", "/v1/models", &[], None),
    ];
    assert!(model.wait_for_requests(streams.len(), Duration::from_secs(5)));
    for stream in &mut streams {
        let (got, closed) = read_for(stream, Duration::from_millis(300));
        assert!(got.is_empty() && !closed, "a hung request gets nothing");
    }
    assert_eq!(model.held(), streams.len());
    assert!(model.requests().iter().all(|r| r.answer == Answer::Hung));

    let dropped = Instant::now();
    drop(model);
    for stream in &mut streams {
        let (got, closed) = read_for(stream, Duration::from_secs(5));
        assert!(closed, "dropping the server closes hung connections");
        // tiny_http answers a request dropped without an answer with 500.
        assert!(got.is_empty() || support::parse(&got).status == 500);
    }
    assert!(dropped.elapsed() < Duration::from_secs(5));
}

#[test]
fn stall_sends_headers_then_nothing_until_dropped() {
    let model = start(Scenario::Stall);
    let url = model.url();
    let mut stream = send(
        &url,
        "POST",
        "/v1/messages",
        &[],
        Some(&json!({"model": "m", "stream": true, "messages": []})),
    );
    let (got, closed) = read_for(&mut stream, Duration::from_millis(500));
    assert!(!closed);
    let head = String::from_utf8_lossy(&got).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"));
    // No event, only padding comments.
    assert!(!head.contains("data:"));
    let (more, closed) = read_for(&mut stream, Duration::from_millis(500));
    assert!(more.is_empty() && !closed, "nothing more arrives");
    assert_eq!(model.requests()[0].answer, Answer::Stalled);
    assert_eq!(model.held(), 1);

    // Listings are still answered.
    assert_eq!(support::get(&url, "/v1/models", &[]).status, 200);

    drop(model);
    let (_, closed) = read_for(&mut stream, Duration::from_secs(5));
    assert!(closed, "dropping the server ends the stalled body");
}

#[test]
fn scenarios_parse_from_the_command_line_syntax() {
    assert_eq!(Scenario::parse("stall"), Some(Scenario::Stall));
    assert_eq!(Scenario::parse("hang"), Some(Scenario::Hang));
    assert_eq!(Scenario::parse("error:401"), Some(Scenario::unauthorized()));
    assert_eq!(
        Scenario::parse("edit:src/a.rs"),
        Some(Scenario::Edit {
            path: "src/a.rs".into(),
            content: "hello from fake-model\n".into()
        })
    );
}

#[test]
fn many_requests_in_parallel() {
    let model = start(Scenario::edit());
    let url = model.url();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let body = json!({"model": "m", "messages": [{"role": "user", "content": format!("n{i}")}]});
                post(&url, "/v1/chat/completions", &body).status
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().expect("client thread"), 200);
    }
    assert_eq!(model.requests().len(), 8);
}

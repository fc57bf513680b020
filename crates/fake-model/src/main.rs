//! `fake-model`: serves one scenario on loopback for trying agent CLIs by hand.
//!
//! ```text
//! fake-model [--scenario edit|edit:PATH|error|error:STATUS|nochange|hang|stall] [--port N]
//!            [--content TEXT] [--log FILE]
//! ```
//!
//! Prints the base URL on stdout, then serves until killed. With `--log`, every request is
//! appended to FILE as one JSON line (method, path, query, headers, body, answer, usage).

use std::io::Write;
use std::time::Duration;

use fake_model::{Answer, FakeModel, Recorded, Scenario};
use serde_json::json;

fn main() {
    if let Err(e) = run() {
        eprintln!("fake-model: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), String> {
    let mut scenario = Scenario::edit();
    let mut port = 0u16;
    let mut content = None;
    let mut log = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--scenario" => {
                let v = value()?;
                scenario = Scenario::parse(&v).ok_or(format!("unknown scenario {v:?}"))?;
            }
            "--port" => port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--content" => content = Some(value()?),
            "--log" => log = Some(value()?),
            "-h" | "--help" => {
                println!(
                    "usage: fake-model [--scenario edit|edit:PATH|error|error:STATUS|nochange|hang|stall] \
                     [--port N] [--content TEXT] [--log FILE]"
                );
                return Ok(());
            }
            _ => return Err(format!("unknown argument {arg:?} (try --help)")),
        }
    }
    if let (Scenario::Edit { content: c, .. }, Some(new)) = (&mut scenario, content) {
        *c = new;
    }
    let server = FakeModel::start_on(port, scenario).map_err(|e| format!("cannot listen: {e}"))?;
    println!("{}", server.url());
    // Scripts read the URL from a pipe; make sure it is out before serving.
    let _ = std::io::stdout().flush();

    let mut file = match &log {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("{path}: {e}"))?,
        ),
        None => None,
    };
    let mut written = 0;
    loop {
        server.wait_for_requests(written + 1, Duration::from_secs(3600));
        let requests = server.requests();
        for rq in &requests[written..] {
            let line = to_json(rq).to_string();
            match &mut file {
                Some(f) => {
                    let _ = writeln!(f, "{line}");
                }
                None => eprintln!("{} {}?{} -> {:?}", rq.method, rq.path, rq.query, rq.answer),
            }
        }
        written = requests.len();
    }
}

fn to_json(rq: &Recorded) -> serde_json::Value {
    json!({
        "at_ms": rq.at.as_millis() as u64,
        "method": rq.method,
        "path": rq.path,
        "query": rq.query,
        "headers": rq.headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
        "api": format!("{:?}", rq.api),
        "reply": format!("{:?}", rq.reply),
        "status": match rq.answer {
            Answer::Status(s) => json!(s),
            Answer::Hung => json!("hung"),
            Answer::Stalled => json!("stalled"),
        },
        "usage": rq.usage.map(|u| json!({
            "input": u.input, "cached": u.cached, "cache_write": u.cache_write,
            "output": u.output, "reasoning": u.reasoning,
        })),
        "body": rq.body,
    })
}

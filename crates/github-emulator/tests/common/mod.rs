//! Test fixtures: a real bare repository with a scratch clone, and a tiny HTTP/1.1 client.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use github_emulator::Emulator;
use serde_json::{Value, json};

pub const OWNER: &str = "acme";
pub const NAME: &str = "widgets";

/// The tool's own pulse query (the file `git mission` compiles in).
pub const MISSION_PULSE: &str = include_str!("../../../../src/forge/github/pulse.graphql");

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub bare: PathBuf,
    pub work: PathBuf,
    pub emu: Emulator,
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Fixture {
    /// A bare repository whose `main` has README.md and .github/workflows/mission.yml.
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let bare = dir.path().join("remote.git");
        let work = dir.path().join("work");
        git(
            dir.path(),
            &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
        );
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                bare.to_str().unwrap(),
                work.to_str().unwrap(),
            ],
        );
        git(&work, &["checkout", "-q", "-b", "main"]);
        std::fs::write(work.join("README.md"), "hello\n").unwrap();
        std::fs::create_dir_all(work.join(".github/workflows")).unwrap();
        std::fs::write(
            work.join(".github/workflows/mission.yml"),
            "on: workflow_dispatch\n",
        )
        .unwrap();
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "initial"]);
        git(&work, &["push", "-q", "origin", "main"]);
        let emu = Emulator::start(&bare, OWNER, NAME);
        Fixture {
            dir,
            bare,
            work,
            emu,
        }
    }

    /// Creates `branch` from `from` with the files written, committed and pushed.
    pub fn branch(&self, branch: &str, from: &str, files: &[(&str, &str)]) -> String {
        git(
            &self.work,
            &["checkout", "-q", "-B", branch, &format!("origin/{from}")],
        );
        self.commit_push(branch, files)
    }

    /// Commits the files on the checked-out `branch` and pushes it; returns the new head.
    pub fn commit_push(&self, branch: &str, files: &[(&str, &str)]) -> String {
        git(&self.work, &["checkout", "-q", branch]);
        for (path, content) in files {
            let p = self.work.join(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(p, content).unwrap();
        }
        git(&self.work, &["add", "-A"]);
        git(
            &self.work,
            &["commit", "-q", "-m", &format!("change {branch}")],
        );
        git(&self.work, &["push", "-q", "-f", "origin", branch]);
        git(&self.work, &["fetch", "-q", "origin"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// A ref of the bare repository.
    pub fn rev(&self, rev: &str) -> String {
        git(&self.bare, &["rev-parse", rev])
    }

    /// A file at a revision of the bare repository.
    pub fn show(&self, rev: &str, path: &str) -> String {
        git(&self.bare, &["show", &format!("{rev}:{path}")])
    }

    pub fn api(&self, path: &str) -> String {
        format!("/repos/{OWNER}/{NAME}{path}")
    }

    pub fn get(&self, path: &str) -> Resp {
        http(&self.emu.url(), "GET", &self.api(path), None, &[])
    }

    pub fn send(&self, method: &str, path: &str, body: Value) -> Resp {
        http(&self.emu.url(), method, &self.api(path), Some(&body), &[])
    }

    pub fn create_pull(&self, head: &str, title: &str) -> u64 {
        let r = self.send(
            "POST",
            "/pulls",
            json!({"title": title, "head": head, "base": "main", "body": "b"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["number"].as_u64().unwrap()
    }

    pub fn pulse(&self, issue: Option<u64>) -> Value {
        self.pulse_query(MISSION_PULSE, issue, None)
    }

    pub fn pulse_query(&self, query: &str, issue: Option<u64>, after: Option<&str>) -> Value {
        let body = json!({
            "query": query,
            "variables": {
                "owner": OWNER, "name": NAME,
                "issue": issue.unwrap_or(0), "hasIssue": issue.is_some(),
                "threads": false, "after": after,
            },
        });
        let r = http(&self.emu.url(), "POST", "/graphql", Some(&body), &[]);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// The pull-request node of a MissionPulse answer.
    pub fn pulse_pr(&self, number: u64) -> Value {
        let v = self.pulse(None);
        v["data"]["repository"]["pullRequests"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["number"] == number)
            .cloned()
            .unwrap_or(Value::Null)
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`).
pub fn http(
    base: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Resp {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect to the emulator");
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut rq = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/vnd.github+json\r\nx-github-api-version: 2022-11-28\r\nContent-Length: {}\r\n",
        payload.len()
    );
    // The Actions token unless the caller passes its own Authorization.
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
    {
        rq.push_str("Authorization: Bearer test-token\r\n");
    }
    if body.is_some() {
        rq.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        rq.push_str(&format!("{k}: {v}\r\n"));
    }
    rq.push_str("\r\n");
    rq.push_str(&payload);
    stream.write_all(rq.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..eol])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
}

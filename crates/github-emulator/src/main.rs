//! The emulator as a standalone server, for running `git mission` with `forge: github`
//! entirely offline (see the crate's README.md):
//!
//! ```text
//! github-emulator serve --repo OWNER/NAME --git BARE_REPO_DIR [--port N] [--host ADDR] [--log FILE]
//! ```
//!
//! It creates the bare repository if it is missing (default branch `main`), prints its URL
//! (`http://127.0.0.1:PORT`) as the first line of standard output, and serves until killed.
//! Scripts drive it through the admin API under `/_emulator/` (see the crate doc).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use github_emulator::Emulator;

const USAGE: &str = "usage: github-emulator serve --repo OWNER/NAME --git BARE_REPO_DIR [--port N] [--host ADDR] [--log FILE]

Serves GitHub's REST and GraphQL API for one repository whose git data is BARE_REPO_DIR
(created with default branch main if missing) on http://ADDR:N (default 127.0.0.1, a free
port), prints that URL, and serves until killed. --log appends every request as a JSON line
for scripts/check-github-contract.py. The admin API is under /_emulator/ (see README.md).";

struct Args {
    repo: String,
    git: PathBuf,
    host: String,
    port: u16,
    log: Option<PathBuf>,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    match argv.next().as_deref() {
        Some("serve") => {}
        Some("-h" | "--help") | None => return Err(String::new()),
        Some(other) => return Err(format!("unknown command {other:?}")),
    }
    let (mut repo, mut git, mut host, mut port, mut log) =
        (None, None, "127.0.0.1".to_string(), 0u16, None);
    while let Some(flag) = argv.next() {
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (flag, None),
        };
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = match inline.or_else(|| argv.next()) {
            Some(v) => v,
            None => return Err(format!("{flag} needs a value")),
        };
        match flag.as_str() {
            "--repo" => repo = Some(value),
            "--git" => git = Some(PathBuf::from(value)),
            "--host" => host = value,
            "--port" => port = value.parse().map_err(|_| format!("bad --port {value:?}"))?,
            "--log" => log = Some(PathBuf::from(value)),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let repo = repo.ok_or("--repo OWNER/NAME is required")?;
    if repo.split('/').count() != 2 || repo.split('/').any(str::is_empty) {
        return Err(format!("--repo wants OWNER/NAME, got {repo:?}"));
    }
    let git = git.ok_or("--git BARE_REPO_DIR is required")?;
    Ok(Args {
        repo,
        git,
        host,
        port,
        log,
    })
}

fn run(args: Args) -> Result<(), String> {
    if !args.git.exists() {
        let out = Command::new("git")
            .args(["init", "--quiet", "--bare", "--initial-branch=main"])
            .arg(&args.git)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "git init --bare {}: {}",
                args.git.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    let git = args
        .git
        .canonicalize()
        .map_err(|e| format!("{}: {e}", args.git.display()))?;
    let (owner, name) = args.repo.split_once('/').expect("checked by parse");
    let emu = Emulator::bind(&git, owner, name, &format!("{}:{}", args.host, args.port))?;
    if let Some(log) = &args.log {
        emu.log_to(log)
            .map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    }
    let url = emu.url();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{url}").map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    drop(out);
    eprintln!(
        "github-emulator: serving {owner}/{name} (git: {}) on {url}\n\
         \x20 export GITHUB_API_URL={url} GITHUB_REPOSITORY={owner}/{name} GITHUB_TOKEN=anything\n\
         \x20 admin API: {url}/_emulator/state",
        git.display()
    );
    loop {
        std::thread::park();
    }
}

fn main() -> ExitCode {
    match parse(std::env::args().skip(1)) {
        Ok(args) => match run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("github-emulator: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("github-emulator: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

//! `git mission demo`: build a small sample repository and run a whole mission on it with
//! scripted `exec` workers and the local forge — offline, in seconds.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::git;
use crate::mission::{Approval, MissionDoc, MissionStatus};
use crate::store::Store;
use crate::supervisor::{self, RunEnd};
use crate::workspace::{Workspace, mission_file};

use super::{Ctx, exit};

const MISSION: &str = include_str!("../../templates/demo/mission.md");
const WORKER: &str = include_str!("../../templates/demo/worker.sh");

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to create the sample repository (must not exist, or be empty)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn run(cx: &Ctx, a: &Args) -> Result<u8> {
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            let stamp = jiff::Timestamp::now().strftime("%Y%m%d-%H%M%S").to_string();
            std::env::temp_dir().join(format!("git-mission-demo-{stamp}-{}", std::process::id()))
        }
    };
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map_err(Error::io(&dir))?
            .next()
            .is_some()
    {
        return Err(Error::user_hint(
            format!("{} exists and is not empty", dir.display()),
            "pass --dir with a new directory",
        ));
    }
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    let dir = dir.canonicalize().map_err(Error::io(&dir))?;
    cx.out.note(&format!(
        "creating the sample repository in {}",
        dir.display()
    ));
    git::git(&dir, &["init", "--quiet", "-b", "main"])?;
    git::git(&dir, &["config", "user.name", "Demo User"])?;
    git::git(&dir, &["config", "user.email", "demo@example.com"])?;
    let write = |rel: &str, text: &str| -> Result<()> {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
        }
        std::fs::write(&p, text).map_err(Error::io(&p))
    };
    write(
        "README.md",
        "# Greeter\n\nA sample project built by `git mission demo`.\n",
    )?;
    write("scripts/demo-worker.sh", WORKER)?;
    git::git(&dir, &["add", "-A"])?;
    git::git(&dir, &["commit", "--quiet", "-m", "Initial project"])?;

    let doc = MissionDoc::parse(MISSION.to_owned())
        .map_err(|d| Error::Internal(format!("demo mission: {}", d.message)))?;
    let mut m = doc.mission.clone();
    let (by, at) = git::identity(&dir)?;
    m.status = MissionStatus::Approved;
    m.approved = Some(Approval { by, at });
    let (text, _) = doc.rewrite(&m);
    write(&mission_file("demo"), &text)?;
    git::git(&dir, &["add", "-A"])?;
    git::git(
        &dir,
        &["commit", "--quiet", "-m", "Plan and approve mission demo"],
    )?;

    let ws = Workspace::open(&dir, cx.env.clone())?;
    let started = std::time::Instant::now();
    let quiet = cx.out.quiet || cx.out.json;
    let end = supervisor::run(&ws, "demo", &cx.overrides(), &mut |action| {
        if !quiet {
            let why = super::run::failure_of(&ws, "demo", action);
            cx.out.note(&format!("· {action}{why}"));
        }
    })?;
    let secs = started.elapsed().as_secs_f64();
    let code = match &end {
        RunEnd::Completed => exit::OK,
        RunEnd::Stopped { .. } => exit::STOPPED,
    };
    let store = Store::new(&ws.repo, "demo");
    let head = store
        .head()?
        .ok_or_else(|| Error::Internal("the demo mission did not start".into()))?;
    let config = crate::config::Config::load(
        &ws.repo,
        Some((head.mission(), store.file.as_str())),
        &cx.overrides(),
    )?;
    let view = crate::report::status_view(
        head.mission(),
        &store.file,
        crate::workspace::Source::Branch {
            branch: store.branch.clone(),
            commit: head.commit.to_string(),
        },
        &config,
        &[],
        Vec::new(),
        &head.events,
    );
    if cx.out.json {
        cx.out
            .json(&serde_json::json!({ "dir": dir, "seconds": secs, "status": view }));
    } else {
        cx.out.data(&super::status::human(&view));
        cx.out.data(&format!(
            "The demo ran in {secs:.1} s. The repository is {dir}\n  see the work:   git -C {dir} log --oneline --graph --all\n  see the events: git mission -C {dir} log demo",
            dir = dir.display()
        ));
    }
    Ok(code)
}

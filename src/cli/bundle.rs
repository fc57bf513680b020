//! `git mission export <id> -o <file>` and `git mission import <file>`: a mission moved to
//! another clone or machine, to continue there with `run`.
//!
//! The file is one line `git-mission-export 1`, one line of JSON (the manifest: format,
//! version of the tool, mission, the commit it started from, the refs, the bundle's size and
//! SHA-256), then a git bundle of the integration branch `mission/<id>` (the mission file and
//! its workspace: events, run records, recovery packets) and the feature branches
//! `mission/<id>.<F>` (work not merged yet). Run directories stay behind: they belong to this
//! machine's processes.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::git;
use crate::store::Store;
use crate::workspace::{check_mission_id, integration_branch};

use super::{Ctx, exit};

const MAGIC: &str = "git-mission-export 1";

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Mission id
    pub id: String,
    /// Where to write the bundle
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// A file made by `git mission export`
    pub file: PathBuf,
    /// Import over a mission of the same id; its branches are kept under
    /// refs/git-mission/replaced/<id>-<time>/
    #[arg(long)]
    pub force: bool,
}

/// What a bundle says about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    /// The git-mission version that exported it.
    pub version: String,
    pub mission: String,
    pub title: String,
    pub status: String,
    /// The commit the mission started from: the importing repository must have it.
    pub base_commit: String,
    /// Branch name → commit, as exported.
    pub refs: Vec<(String, String)>,
    pub bundle_bytes: u64,
    pub bundle_sha256: String,
}

fn sha256(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn export(cx: &Ctx, a: &ExportArgs) -> Result<u8> {
    check_mission_id(&a.id)?;
    let ws = cx.workspace()?;
    let id = &a.id;
    let head = Store::new(&ws.repo, id).head()?.ok_or_else(|| {
        Error::user_hint(
            format!(
                "mission {id} has not started: there is no {} to export",
                integration_branch(id)
            ),
            "a draft or approved mission is its file: commit it and push, or copy it",
        )
    })?;
    let layout = cx.layout(&ws, id)?;
    let live = crate::report::active_runs(&layout, id);
    if !live.is_empty() {
        return Err(Error::user_hint(
            format!(
                "mission {id} has {} run(s) going on here; their work would not travel",
                live.len()
            ),
            format!("pause it and let them finish first: git mission pause {id}, then export"),
        ));
    }
    let base_commit = head
        .events
        .iter()
        .find(|e| e.kind == crate::events::Kind::MissionStarted)
        .and_then(|e| e.data["commit"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| Error::user(format!("mission {id} has no mission.started event")))?;
    let mut refs = vec![(integration_branch(id), head.commit.to_string())];
    for b in ws.repo.branches_under("mission/")? {
        if b.starts_with(&format!("{}.", integration_branch(id)))
            && let Some(c) = ws.repo.branch_head(&b)?
        {
            refs.push((b, c));
        }
    }
    let tmp = tempfile::NamedTempFile::new().map_err(Error::io(std::env::temp_dir()))?;
    let mut args = vec![
        "bundle".to_owned(),
        "create".to_owned(),
        "--quiet".to_owned(),
        tmp.path().to_string_lossy().into_owned(),
    ];
    args.extend(refs.iter().map(|(b, _)| format!("refs/heads/{b}")));
    // Only what the importing clone lacks: everything after the commit the mission started at.
    args.push(format!("^{base_commit}"));
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    git::git(ws.root(), &argv)?;
    let bundle = std::fs::read(tmp.path()).map_err(Error::io(tmp.path()))?;
    let m = head.mission();
    let manifest = Manifest {
        format: 1,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        mission: id.clone(),
        title: m.title.clone(),
        status: m.status.to_string(),
        base_commit,
        refs,
        bundle_bytes: bundle.len() as u64,
        bundle_sha256: sha256(&bundle),
    };
    let out = if a.output.is_absolute() {
        a.output.clone()
    } else {
        cx.dir.join(&a.output)
    };
    let mut file = tempfile::NamedTempFile::new_in(out.parent().unwrap_or(Path::new(".")))
        .map_err(Error::io(&out))?;
    let manifest_line =
        serde_json::to_string(&manifest).map_err(|e| Error::failed("the manifest", e))?;
    write!(file, "{MAGIC}\n{manifest_line}\n").map_err(Error::io(&out))?;
    file.write_all(&bundle).map_err(Error::io(&out))?;
    file.persist(&out).map_err(|e| Error::io(&out)(e.error))?;
    if cx.out.json {
        cx.out.json(&manifest);
    } else {
        cx.out.data(&format!(
            "exported mission {id} ({}, {} branch(es), {} bytes) to {}",
            manifest.status,
            manifest.refs.len(),
            manifest.bundle_bytes,
            out.display()
        ));
        cx.out.hint(&format!(
            "on the other clone: git mission import {}, then git mission run {id}",
            out.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
    }
    Ok(exit::OK)
}

/// Reads and checks an export file: its manifest and the bundle bytes.
fn read(path: &Path) -> Result<(Manifest, Vec<u8>)> {
    let bad = |why: String| {
        Error::user_hint(
            format!("{} is not a mission export: {why}", path.display()),
            "make one with `git mission export <id> -o <file>`",
        )
    };
    let f = std::fs::File::open(path).map_err(Error::io(path))?;
    let mut r = std::io::BufReader::new(f);
    let mut magic = String::new();
    r.read_line(&mut magic).map_err(Error::io(path))?;
    if magic.trim_end() != MAGIC {
        return Err(bad(format!("it does not start with {MAGIC:?}")));
    }
    let mut line = String::new();
    r.read_line(&mut line).map_err(Error::io(path))?;
    let manifest: Manifest = serde_json::from_str(&line)
        .map_err(|e| bad(format!("its manifest does not parse ({e})")))?;
    if manifest.format != 1 {
        return Err(bad(format!(
            "format {} is newer than this version understands (1); upgrade git-mission",
            manifest.format
        )));
    }
    check_mission_id(&manifest.mission)?;
    let prefix = integration_branch(&manifest.mission);
    if let Some((b, _)) = manifest
        .refs
        .iter()
        .find(|(b, _)| *b != prefix && !b.starts_with(&format!("{prefix}.")))
    {
        return Err(bad(format!(
            "it carries the branch {b:?}, which is not the mission's"
        )));
    }
    let mut bundle = Vec::new();
    r.read_to_end(&mut bundle).map_err(Error::io(path))?;
    if bundle.len() as u64 != manifest.bundle_bytes || sha256(&bundle) != manifest.bundle_sha256 {
        return Err(bad(format!(
            "its bundle is damaged ({} bytes, SHA-256 {}; the manifest says {} bytes, {})",
            bundle.len(),
            sha256(&bundle),
            manifest.bundle_bytes,
            manifest.bundle_sha256
        )));
    }
    Ok((manifest, bundle))
}

pub fn import(cx: &Ctx, a: &ImportArgs) -> Result<u8> {
    let ws = cx.workspace()?;
    let path = if a.file.is_absolute() {
        a.file.clone()
    } else {
        cx.dir.join(&a.file)
    };
    let (manifest, bundle) = read(&path)?;
    let id = manifest.mission.clone();
    // The importing repository must have what the mission started from.
    if git::git(
        ws.root(),
        &[
            "cat-file",
            "-e",
            &format!("{}^{{commit}}", manifest.base_commit),
        ],
    )
    .is_err()
    {
        return Err(Error::user_hint(
            format!(
                "this repository lacks commit {}, which mission {id} started from",
                manifest.base_commit
            ),
            "import into a clone of the repository it was exported from (fetch that commit first)",
        ));
    }
    let tmp = tempfile::NamedTempFile::new().map_err(Error::io(std::env::temp_dir()))?;
    std::fs::write(tmp.path(), &bundle).map_err(Error::io(tmp.path()))?;
    let bundle_path = tmp.path().to_string_lossy().into_owned();
    git::git(ws.root(), &["bundle", "verify", "--quiet", &bundle_path])?;
    let mut existing: Vec<String> = ws
        .repo
        .branches_under("mission/")?
        .into_iter()
        .filter(|b| {
            *b == integration_branch(&id) || b.starts_with(&format!("{}.", integration_branch(&id)))
        })
        .collect();
    existing.sort();
    let mut kept = None;
    if !existing.is_empty() {
        if !a.force {
            return Err(Error::user_hint(
                format!("mission {id} already exists here ({})", existing.join(", ")),
                "import with --force to replace it (its branches are kept under refs/git-mission/replaced/)",
            ));
        }
        let at = cx.env.clock.now_s().strftime("%Y%m%dT%H%M%S").to_string();
        let keep = format!("refs/git-mission/replaced/{id}-{at}");
        for b in &existing {
            let c = ws.repo.branch_head(b)?.unwrap_or_default();
            git::git(ws.root(), &["update-ref", &format!("{keep}/{b}"), &c])?;
            git::git(
                ws.root(),
                &["update-ref", "-d", &format!("refs/heads/{b}"), &c],
            )?;
        }
        kept = Some(keep);
    }
    let specs: Vec<String> = manifest
        .refs
        .iter()
        .map(|(b, _)| format!("refs/heads/{b}:refs/heads/{b}"))
        .collect();
    let mut args = vec!["fetch", "--quiet", "--no-tags", bundle_path.as_str()];
    args.extend(specs.iter().map(String::as_str));
    git::git(ws.root(), &args)?;
    for (b, c) in &manifest.refs {
        if ws.repo.branch_head(b)?.as_deref() != Some(c.as_str()) {
            return Err(Error::user(format!("{b} did not arrive at {c}")));
        }
    }
    if cx.out.json {
        cx.out
            .json(&serde_json::json!({ "manifest": manifest, "replaced": kept }));
    } else {
        cx.out.data(&format!(
            "imported mission {id} ({}, {} branch(es)) from {}",
            manifest.status,
            manifest.refs.len(),
            path.display()
        ));
        if let Some(k) = &kept {
            cx.out
                .note(&format!("the mission that was here is kept under {k}/"));
        }
        cx.out.hint(&format!("continue it: git mission run {id}"));
    }
    Ok(exit::OK)
}

//! Where missions live in a repository: finding, loading and writing mission files.
//!
//! Reads come from the integration branch `mission/<id>` when it exists (the supervisor keeps
//! the live state there) and from the work tree otherwise. Writes here go to the work tree
//! only, atomically, and only after the new text has been produced from a successful parse.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::git::Repo;
use crate::mission::{Diagnostic, MissionDoc, ids, validate};

/// The missions directory, relative to the repository root.
pub const MISSIONS_DIR: &str = "todo/missions";

/// Repository-relative path of a mission file. `id` must already be valid.
pub fn mission_file(id: &str) -> String {
    debug_assert!(ids::is_mission_id(id));
    format!("{MISSIONS_DIR}/{id}-mission.md")
}

/// Repository-relative directory of a mission's run records (`runs/<run-id>.md`).
pub fn runs_dir(id: &str) -> String {
    format!("{MISSIONS_DIR}/{id}/runs")
}

/// Repository-relative path of the record of run `run` of mission `id`.
pub fn run_record_file(id: &str, run: &str) -> String {
    format!("{}/{run}.md", runs_dir(id))
}

/// Fills a worktree of the mission `id` added with `--no-checkout`, leaving out its run
/// records (they grow by one a run, and neither workers nor validations need them):
/// [`crate::git::check_out_leaving_out`].
pub fn check_out_without_run_records(wt: &Path, id: &str) -> Result<()> {
    check_mission_id(id)?;
    Ok(crate::git::check_out_leaving_out(wt, &runs_dir(id))?)
}

/// The integration branch of a mission.
pub fn integration_branch(id: &str) -> String {
    format!("mission/{id}")
}

/// The branch of one feature: `mission/<id>.<feature>`.
///
/// Not `mission/<id>/<feature>`: git cannot hold both `refs/heads/mission/<id>` and a ref
/// below it (a file and a directory of the same name), so feature branches sit beside the
/// integration branch. Mission ids never contain `.`, so no mission's integration branch can
/// collide with another mission's feature branch.
pub fn feature_branch(id: &str, feature: &str) -> String {
    format!("mission/{id}.{feature}")
}

/// Rejects an id that must not reach a path or a ref.
pub fn check_mission_id(id: &str) -> Result<()> {
    if ids::is_mission_id(id) {
        Ok(())
    } else {
        Err(Error::user_hint(
            format!("invalid mission id {id:?}"),
            format!("mission ids are {}", ids::MISSION_ID_GRAMMAR),
        ))
    }
}

/// Where a loaded mission was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    WorkTree,
    Branch { branch: String, commit: String },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::WorkTree => f.write_str("work tree"),
            Source::Branch { branch, commit } => {
                write!(f, "{branch} @ {}", &commit[..commit.len().min(12)])
            }
        }
    }
}

/// A mission file read and parsed.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: String,
    /// Repository-relative path of the file.
    pub file: String,
    pub source: Source,
    pub doc: MissionDoc,
}

/// A repository with missions.
pub struct Workspace {
    pub repo: Repo,
}

impl Workspace {
    /// The repository containing `dir`, for a command given `env`.
    pub fn open(dir: &Path, env: std::sync::Arc<crate::env::Env>) -> Result<Workspace> {
        Ok(Workspace {
            repo: Repo::discover(dir, env)?,
        })
    }

    pub fn root(&self) -> &Path {
        &self.repo.root
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.repo.root.join(rel)
    }

    /// Reads a mission's text: from its integration branch when `branch_first` and the branch
    /// exists, else from the work tree.
    pub fn read(&self, id: &str, branch_first: bool) -> Result<(String, Source)> {
        check_mission_id(id)?;
        let file = mission_file(id);
        if branch_first {
            let branch = integration_branch(id);
            if let Some(commit) = self.repo.branch_head(&branch)? {
                let text = self.repo.read_at_branch(&branch, &file)?.ok_or_else(|| {
                    Error::user_hint(
                        format!("branch {branch} exists but has no {file}"),
                        "inspect it with `git log --stat <branch>` and `git mission doctor`",
                    )
                })?;
                return Ok((text, Source::Branch { branch, commit }));
            }
        }
        let path = self.path(&file);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((text, Source::WorkTree)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::user_hint(
                format!("no mission {id:?} (no {file})"),
                self.known_hint(),
            )),
            Err(e) => Err(Error::io(path)(e)),
        }
    }

    /// Reads and parses a mission; a parse error is `Error::Invalid` with its location.
    pub fn load(&self, id: &str, branch_first: bool) -> Result<Loaded> {
        self.load_with(id, branch_first, MissionDoc::parse)
    }

    /// [`Workspace::load`] for a caller that locates many diagnostics: the parse keeps where
    /// each value is (`MissionDoc::parse_indexed`).
    pub fn load_indexed(&self, id: &str, branch_first: bool) -> Result<Loaded> {
        self.load_with(id, branch_first, MissionDoc::parse_indexed)
    }

    fn load_with(
        &self,
        id: &str,
        branch_first: bool,
        parse: fn(String) -> std::result::Result<MissionDoc, Diagnostic>,
    ) -> Result<Loaded> {
        let (text, source) = self.read(id, branch_first)?;
        let file = mission_file(id);
        let doc = parse(text).map_err(|d| Error::Invalid {
            file: file.clone(),
            diagnostics: vec![d],
        })?;
        Ok(Loaded {
            id: id.to_owned(),
            file,
            source,
            doc,
        })
    }

    /// Ids of every mission: files in the work tree and `mission/<id>` branches.
    pub fn list_ids(&self) -> Result<Vec<String>> {
        let dir = self.path(MISSIONS_DIR);
        let mut ids_found = Vec::new();
        match std::fs::read_dir(&dir) {
            Ok(rd) => {
                for entry in rd {
                    let entry = entry.map_err(Error::io(&dir))?;
                    let name = entry.file_name();
                    let Some(name) = name.to_str() else { continue };
                    if let Some(id) = name.strip_suffix("-mission.md")
                        && ids::is_mission_id(id)
                    {
                        ids_found.push(id.to_owned());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(dir)(e)),
        }
        for branch in self.repo.branches_under("mission/")? {
            let id = &branch["mission/".len()..];
            if ids::is_mission_id(id) {
                ids_found.push(id.to_owned());
            }
        }
        ids_found.sort();
        ids_found.dedup();
        Ok(ids_found)
    }

    fn known_hint(&self) -> String {
        match self.list_ids() {
            Ok(ids) if !ids.is_empty() => format!("known missions: {}", ids.join(", ")),
            _ => "create one with `git mission new <id>`".to_owned(),
        }
    }

    /// Writes a repository-relative file atomically (temp file + rename in the same directory).
    pub fn write(&self, rel: &str, text: &str) -> Result<()> {
        let path = self.path(rel);
        let dir = path.parent().expect("mission paths have a parent");
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(Error::io(dir))?;
        std::fs::write(tmp.path(), text).map_err(Error::io(tmp.path()))?;
        tmp.persist(&path).map_err(|e| Error::io(&path)(e.error))?;
        Ok(())
    }

    /// Validates a loaded mission with the profiles of `profiles` known.
    pub fn diagnostics(loaded: &Loaded, profiles: &[String]) -> Vec<Diagnostic> {
        validate::validate(&loaded.doc, Some(&loaded.id), profiles)
    }
}

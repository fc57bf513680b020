//! Inherit identity, isolate state: each agent run has a private config home (so parallel runs
//! never share a writable config file; Claude Code corrupts a shared `~/.claude.json`), seeded
//! with copies of what that agent needs from the user's real home — its login and its provider
//! and model settings — so whatever works by hand works under git mission.
//!
//! Settings are copied (mode 0600, in the run directory outside the repository, never
//! committed) and removed when the run ends; a run killed before that is cleaned by the pulse
//! that records it, or by `git mission doctor --fix`. A copy is never written back: an agent
//! can write anything into its private home, and that must not reach the user's files.
//!
//! Logins whose refresh token rotates on every refresh (Claude Code's and Codex's OAuth) are
//! not copied: a copy that refreshes would invalidate the user's own login. The CLI is pointed
//! at the user's own store instead (a link, or the CLI's own variable for it), where it
//! refreshes under its own lock exactly as when the user runs it by hand.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The user's environment and home, as the supervisor was given them.
#[derive(Debug, Clone, Copy)]
pub struct UserHome<'a> {
    env: &'a [(String, String)],
    /// The `git-mission` executable, whose directory agents get first on their `PATH`.
    exe: Option<&'a Path>,
}

impl<'a> UserHome<'a> {
    pub fn new(env: &'a [(String, String)]) -> UserHome<'a> {
        UserHome { env, exe: None }
    }

    /// The environment and executable of the command `config` was made for.
    pub fn of(config: &'a crate::config::Config) -> UserHome<'a> {
        UserHome {
            env: config.environment(),
            exe: config.overrides().exe.as_deref(),
        }
    }

    /// The `git-mission` executable, when known.
    pub fn exe(&self) -> Option<&'a Path> {
        self.exe
    }

    /// A variable, when set and not empty.
    pub fn var(&self, name: &str) -> Option<&'a str> {
        self.env
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A variable, when set, even to the empty string.
    pub fn var_raw(&self, name: &str) -> Option<&'a str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A file of the user's, as JSON (`None` when absent or not JSON).
    pub fn json(&self, path: &Path) -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    /// Every variable.
    pub fn vars(&self) -> &'a [(String, String)] {
        self.env
    }

    /// `$HOME`, when it is an absolute path.
    pub fn home(&self) -> Option<PathBuf> {
        self.var("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    }

    /// A directory named by `var` (an absolute path), else `default` under the home.
    pub fn dir(&self, var: &str, default: &str) -> Option<PathBuf> {
        self.var(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| self.home().map(|h| h.join(default)))
    }

    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    pub fn xdg_config(&self) -> Option<PathBuf> {
        self.dir("XDG_CONFIG_HOME", ".config")
    }

    /// `$XDG_DATA_HOME`, else `~/.local/share`.
    pub fn xdg_data(&self) -> Option<PathBuf> {
        self.dir("XDG_DATA_HOME", ".local/share")
    }
}

/// One file the private home needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// In the private home.
    pub to: PathBuf,
    pub from: Source,
    /// A login or key (reported as such by `doctor`, never printed).
    pub credential: bool,
}

/// Where a seeded file's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A copy of the user's file (skipped when it does not exist).
    Copy(PathBuf),
    /// A symbolic link to the user's file (skipped when it does not exist): for a login whose
    /// refresh token rotates, which the CLI must refresh in place — a copy that refreshes
    /// would invalidate the user's own.
    Link(PathBuf),
    /// Content made for the run (the user's settings with what headless runs need added).
    Content(Vec<u8>),
}

impl Seed {
    pub fn copy(from: PathBuf, to: PathBuf) -> Seed {
        Seed {
            to,
            from: Source::Copy(from),
            credential: false,
        }
    }

    pub fn link(from: PathBuf, to: PathBuf) -> Seed {
        Seed {
            to,
            from: Source::Link(from),
            credential: true,
        }
    }

    pub fn content(bytes: Vec<u8>, to: PathBuf) -> Seed {
        Seed {
            to,
            from: Source::Content(bytes),
            credential: false,
        }
    }

    /// Marks it as a login or key.
    pub fn credential(mut self) -> Seed {
        self.credential = true;
        self
    }
}

/// The list of files a run seeded, kept in its run directory so they can be removed even by
/// another process.
const MANIFEST: &str = "seeded.json";

/// Files larger than this are not copied (a config file is small; a runaway one is not ours to
/// duplicate into every run).
const MAX_FILE: u64 = 16 << 20;

/// Puts every seed whose source exists into the private home (copies and made files with mode
/// 0600), and records them in `run_dir`. Returns the paths made.
pub fn seed(run_dir: &Path, seeds: &[Seed]) -> Result<Vec<PathBuf>> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut made = Vec::new();
    for s in seeds {
        let bytes = match &s.from {
            Source::Copy(from) => {
                let Ok(meta) = std::fs::metadata(from) else {
                    continue;
                };
                if !meta.is_file() || meta.len() > MAX_FILE {
                    tracing::debug!("not copying {}: not a small file", from.display());
                    continue;
                }
                Some(std::fs::read(from).map_err(Error::io(from))?)
            }
            Source::Link(from) => {
                if !from.is_file() {
                    continue;
                }
                None
            }
            Source::Content(b) => Some(b.clone()),
        };
        if let Some(parent) = s.to.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
        }
        let _ = std::fs::remove_file(&s.to);
        match (bytes, &s.from) {
            (Some(bytes), _) => {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&s.to)
                    .map_err(Error::io(&s.to))?;
                f.write_all(&bytes).map_err(Error::io(&s.to))?;
            }
            (None, Source::Link(from)) => {
                std::os::unix::fs::symlink(from, &s.to).map_err(Error::io(&s.to))?;
            }
            (None, _) => continue,
        }
        made.push(s.to.clone());
        // Recorded as it goes: a crash halfway still leaves a manifest of what is there.
        crate::fsutil::write_json(&run_dir.join(MANIFEST), &made)?;
    }
    Ok(made)
}

/// Removes what a run seeded (idempotent; also for a run whose worker died). A link is
/// removed, never what it points to.
pub fn unseed(run_dir: &Path) {
    for p in listed(run_dir) {
        let _ = std::fs::remove_file(&p);
    }
    let _ = std::fs::remove_file(run_dir.join(MANIFEST));
}

/// The seeded files a run still holds (a run killed before it could remove them).
pub fn leftovers(run_dir: &Path) -> Vec<PathBuf> {
    listed(run_dir)
        .into_iter()
        .filter(|p| p.symlink_metadata().is_ok())
        .collect()
}

/// The manifest's paths, only those inside the run's directory, whatever the file says.
fn listed(run_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string(run_dir.join(MANIFEST))
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<PathBuf>>(&t).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| {
            p.starts_with(run_dir) && !p.components().any(|c| c == std::path::Component::ParentDir)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_private_recorded_and_removed_and_originals_untouched() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tmp");
        let user = tmp.path().join("home");
        std::fs::create_dir_all(user.join(".tool")).expect("mkdir");
        std::fs::write(user.join(".tool/auth.json"), "{\"refresh\":\"r1\"}").expect("write");
        std::fs::write(user.join(".tool/config.toml"), "model = \"x\"").expect("write");
        let run = tmp.path().join("run");
        let private = run.join("home");
        std::fs::create_dir_all(&private).expect("mkdir");
        let seeds = [
            Seed::link(user.join(".tool/auth.json"), private.join("tool/auth.json")),
            Seed::copy(
                user.join(".tool/config.toml"),
                private.join("tool/config.toml"),
            ),
            Seed::copy(
                user.join(".tool/absent.json"),
                private.join("tool/absent.json"),
            ),
            Seed::content(b"{}".to_vec(), private.join("tool/made.json")),
        ];
        let made = seed(&run, &seeds).expect("seed");
        assert_eq!(made.len(), 3, "a missing source is skipped");
        let config = private.join("tool/config.toml");
        assert_eq!(
            std::fs::read_to_string(&config).expect("copy"),
            "model = \"x\""
        );
        let mode = std::fs::metadata(&config)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        // The rotating login is the user's own file: a refresh by the CLI lands there.
        let auth = private.join("tool/auth.json");
        assert!(
            auth.symlink_metadata()
                .expect("link")
                .file_type()
                .is_symlink()
        );
        std::fs::write(&auth, "{\"refresh\":\"r2\"}").expect("refresh through the link");
        assert_eq!(
            std::fs::read_to_string(user.join(".tool/auth.json")).expect("original"),
            "{\"refresh\":\"r2\"}"
        );
        assert_eq!(leftovers(&run).len(), 3);
        // The agent rewrites its copy of the settings: the user's file is not touched.
        std::fs::write(&config, "planted").expect("agent write");
        unseed(&run);
        assert!(leftovers(&run).is_empty());
        assert!(auth.symlink_metadata().is_err() && !config.exists());
        assert!(
            user.join(".tool/auth.json").exists(),
            "a link's target is never removed"
        );
        assert_eq!(
            std::fs::read_to_string(user.join(".tool/config.toml")).expect("original"),
            "model = \"x\""
        );
        unseed(&run); // idempotent
    }

    #[test]
    fn a_manifest_never_removes_files_outside_its_run() {
        let tmp = tempfile::tempdir().expect("tmp");
        let run = tmp.path().join("run");
        std::fs::create_dir_all(&run).expect("mkdir");
        let outside = tmp.path().join("precious.txt");
        std::fs::write(&outside, "keep").expect("write");
        let forged = vec![outside.clone(), run.join("../precious.txt")];
        crate::fsutil::write_json(&run.join(MANIFEST), &forged).expect("manifest");
        unseed(&run);
        assert!(outside.exists());
    }

    #[test]
    fn user_home_reads_the_given_environment_only() {
        let env = vec![
            ("HOME".to_owned(), "/home/ada".to_owned()),
            (
                "XDG_CONFIG_HOME".to_owned(),
                "relative/not/allowed".to_owned(),
            ),
            ("EMPTY".to_owned(), String::new()),
        ];
        let u = UserHome::new(&env);
        assert_eq!(u.home(), Some(PathBuf::from("/home/ada")));
        assert_eq!(u.xdg_config(), Some(PathBuf::from("/home/ada/.config")));
        assert_eq!(u.xdg_data(), Some(PathBuf::from("/home/ada/.local/share")));
        assert_eq!(u.var("EMPTY"), None);
    }
}

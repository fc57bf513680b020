//! `git mission man` and `git mission completions`: manual pages and shell completions made
//! from the clap definitions, so they never drift from the commands.
//!
//! git turns `git mission --help` into `git help mission`, which opens the manual page
//! `git-mission(1)`; without one installed, git says "No manual entry for git-mission".

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::error::{Error, Result};

use super::{Cli, Ctx, exit};

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write the pages as files into DIR/man1 instead of printing git-mission(1). Without DIR:
    /// the share/man directory beside the one holding this executable, which `man` searches
    /// for every directory on PATH
    #[arg(long, value_name = "DIR")]
    #[allow(clippy::option_option)]
    pub install: Option<Option<PathBuf>>,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The page name of a command: `git-mission`, `git-mission-run`, `git-mission-feature-add`.
fn page_name(path: &[&str]) -> String {
    let mut name = String::from("git-mission");
    for p in path {
        name.push('-');
        name.push_str(p);
    }
    name
}

/// Every manual page: `(file name, roff)`, the main page first, then one per subcommand
/// (and per sub-subcommand).
pub fn pages() -> Result<Vec<(String, Vec<u8>)>> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    render(&cmd, &[], &mut out)?;
    Ok(out)
}

fn render(cmd: &clap::Command, path: &[&str], out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    let name = page_name(path);
    let bin = std::iter::once("git mission")
        .chain(path.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let page_cmd = cmd.clone().name(name.clone()).bin_name(bin);
    let mut roff = Vec::new();
    clap_mangen::Man::new(page_cmd)
        .section("1")
        .manual("Git Mission Manual")
        .source(format!("git-mission {}", env!("CARGO_PKG_VERSION")))
        .render(&mut roff)
        .map_err(|e| Error::failed(format!("rendering the manual page {name}"), e))?;
    out.push((format!("{name}.1"), roff));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut p = path.to_vec();
        p.push(sub.get_name());
        render(sub, &p, out)?;
    }
    Ok(())
}

/// Where `--install` writes by default: `<dir>/../share/man` for the directory on PATH that
/// holds the `git-mission` git runs (else this executable's), which man-db (Linux) and man
/// (macOS) search for each directory on PATH.
fn default_man_dir(env: &crate::env::Env) -> Result<PathBuf> {
    let on_path = env
        .var("PATH")
        .map(|p| {
            std::env::split_paths(p)
                .map(|d| d.join("git-mission"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file());
    let exe = on_path.unwrap_or_else(|| env.exe.clone());
    let prefix = exe.parent().and_then(Path::parent).ok_or_else(|| {
        Error::user_hint(
            format!(
                "no directory beside {} to put manual pages in",
                exe.display()
            ),
            "name one: git mission man --install <DIR>",
        )
    })?;
    Ok(prefix.join("share").join("man"))
}

pub fn man(cx: &Ctx, a: &ManArgs) -> Result<u8> {
    let pages = pages()?;
    let Some(install) = &a.install else {
        cx.out.data(&String::from_utf8_lossy(&pages[0].1));
        return Ok(exit::OK);
    };
    let root = match install {
        Some(d) if d.is_absolute() => d.clone(),
        Some(d) => cx.dir.join(d),
        None => default_man_dir(&cx.env)?,
    };
    let dir = root.join("man1");
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    for (name, roff) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, roff).map_err(Error::io(&path))?;
    }
    if cx.out.json {
        #[derive(serde::Serialize)]
        struct Installed<'a> {
            dir: &'a Path,
            pages: Vec<&'a str>,
        }
        cx.out.json(&Installed {
            dir: &dir,
            pages: pages.iter().map(|(n, _)| n.as_str()).collect(),
        });
    } else {
        cx.out.data(&format!(
            "installed {} manual pages in {}",
            pages.len(),
            dir.display()
        ));
    }
    if !man_finds(&dir.join("git-mission.1")) {
        cx.out.hint(&format!(
            "`man` does not search {} yet: add it to MANPATH (export MANPATH=\"{}:$MANPATH\"), or install into a directory it searches",
            root.display(),
            root.display()
        ));
    } else {
        cx.out
            .note("`git mission --help` and `git help mission` now open git-mission(1)");
    }
    Ok(exit::OK)
}

/// Whether `man -w git-mission` finds the page just written (`false` without a `man`).
fn man_finds(page: &Path) -> bool {
    let Ok(out) = std::process::Command::new("man")
        .args(["-w", "git-mission"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
    else {
        return false;
    };
    let found = String::from_utf8_lossy(&out.stdout);
    let found = Path::new(found.trim());
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    out.status.success() && canon(found).is_some() && canon(found) == canon(page)
}

/// The shell function git's bash completion calls for `git mission …`.
const GIT_BASH_HOOK: &str = r#"
# git's own completion calls _git_mission for `git mission …`: complete it as git-mission.
_git_mission() {
    local cur prev words cword
    COMP_WORDS=(git-mission "${COMP_WORDS[@]:2}")
    COMP_CWORD=$((COMP_CWORD - 1))
    COMP_LINE="git-mission ${COMP_LINE#*mission}"
    COMP_POINT=${#COMP_LINE}
    _gitmission git-mission "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
}
"#;

pub fn completions(cx: &Ctx, a: &CompletionsArgs) -> Result<u8> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    let text = if a.shell == clap_complete::Shell::Bash {
        // clap_complete's bash script names its functions inconsistently for a program name
        // with a hyphen; made for `gitmission`, it is bound to `git-mission` here.
        clap_complete::generate(a.shell, &mut cmd, "gitmission", &mut buf);
        let script = String::from_utf8_lossy(&buf)
            .lines()
            .map(|l| match l.strip_suffix(" gitmission") {
                Some(head) if l.trim_start().starts_with("complete -F _gitmission") => {
                    format!("{head} git-mission")
                }
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        format!("{script}\n{GIT_BASH_HOOK}")
    } else {
        clap_complete::generate(a.shell, &mut cmd, "git-mission", &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    };
    cx.out.data(&text);
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_has_a_page_named_as_git_looks_for_it() {
        let pages = super::pages().expect("pages");
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "git-mission.1");
        for n in [
            "git-mission-run.1",
            "git-mission-status.1",
            "git-mission-feature-add.1",
            "git-mission-man.1",
        ] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        let main = String::from_utf8_lossy(&pages[0].1);
        assert!(main.contains(".TH git-mission 1"), "{}", &main[..200]);
        assert!(
            main.contains("git mission"),
            "the synopsis names the command as typed"
        );
    }
}

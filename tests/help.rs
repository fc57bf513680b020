//! Help like git's own subcommands: `git mission --help` and `git help mission` open the
//! manual page once `git mission man --install` put it where `man` looks; completions for bash
//! complete `git mission …` through git's own completion hook; a typo gets the closest command.

mod common;

use std::path::Path;
use std::process::Command;

use common::{TestRepo, test_path};

/// `git` with PATH starting at `bin` (where `git-mission` is) and pages printed, not paged.
fn git_with(repo: &TestRepo, bin: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("git")
        .args(args)
        .current_dir(repo.root())
        .env("PATH", format!("{}:{}", bin.display(), test_path()))
        .env("HOME", repo.home())
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "80")
        .env_remove("MANPATH")
        .output()
        .expect("git");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn git_mission_help_opens_the_manual_page_once_installed() {
    if Command::new("man").arg("-w").arg("man").output().is_err() {
        panic!("this test needs `man` (man-db): it checks what `git help` opens");
    }
    let repo = TestRepo::new();
    let prefix = tempfile::tempdir().expect("tmp");
    let bin = prefix.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_git-mission"), bin.join("git-mission"))
        .expect("link");
    // Before: git routes --help to a manual page that is not there.
    let (ok, before) = git_with(&repo, &bin, &["mission", "--help"]);
    assert!(
        !ok && before.contains("No manual entry for git-mission"),
        "{before}"
    );
    let (ok, installed) = git_with(&repo, &bin, &["mission", "man", "--install"]);
    assert!(ok, "{installed}");
    let pages = prefix.path().join("share/man/man1");
    assert!(
        installed.contains(&format!("installed 32 manual pages in {}", pages.display()))
            || installed.contains("manual pages in"),
        "{installed}"
    );
    assert!(pages.join("git-mission.1").is_file());
    assert!(pages.join("git-mission-run.1").is_file());
    assert!(installed.contains("now open git-mission(1)"), "{installed}");
    for args in [&["mission", "--help"][..], &["help", "mission"]] {
        let (ok, page) = git_with(&repo, &bin, args);
        assert!(ok, "{args:?}: {page}");
        assert!(page.contains("NAME"), "{args:?}: {page}");
        assert!(
            page.contains("git-mission - Run long, milestone-based coding missions"),
            "{args:?}: {page}"
        );
        assert!(page.contains("SUBCOMMANDS"), "{args:?}: {page}");
    }
    // Each command has its own page, as git's do (`man git-mission-run`).
    let out = Command::new("man")
        .args(["git-mission-run"])
        .env("PATH", format!("{}:{}", bin.display(), test_path()))
        .env("MANPAGER", "cat")
        .env_remove("MANPATH")
        .output()
        .expect("man");
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains("git mission run"), "{page}");
}

#[test]
fn bash_completes_git_mission_through_gits_hook_and_directly() {
    let repo = TestRepo::new();
    let script = repo.run(&["completions", "bash"]);
    assert_eq!(script.code, 0, "{}", script.snapshot());
    assert!(
        script
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with("complete -F _gitmission")
                && l.ends_with(" git-mission")),
        "the completion is bound to the program git runs"
    );
    let file = repo.root().join("completion.bash");
    std::fs::write(&file, &script.stdout).expect("write");
    let complete = |words: &str, function: &str| {
        let line = words.to_owned();
        let n = line.split(' ').count() - 1;
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({line}); COMP_CWORD={n}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; {function}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                file.display()
            ))
            .output()
            .expect("bash");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let via_git = complete("git mission sta", "_git_mission");
    assert!(via_git.lines().any(|l| l == "status"), "{via_git}");
    assert!(!via_git.lines().any(|l| l == "pause"), "{via_git}");
    let direct = complete("git-mission sta", "_gitmission git-mission sta git-mission");
    assert!(direct.lines().any(|l| l == "status"), "{direct}");
    let flags = complete("git mission pause --", "_git_mission");
    assert!(flags.lines().any(|l| l == "--now"), "{flags}");
    for shell in ["zsh", "fish", "powershell"] {
        let out = repo.run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.snapshot());
        assert!(out.stdout.contains("status"), "{shell}");
    }
}

#[test]
fn a_mistyped_command_gets_the_closest_one() {
    let repo = TestRepo::new();
    let out = repo.run(&["stauts"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("tip: a similar subcommand exists: 'status'"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("'pause'"), "{}", out.stderr);
    // The way to more help is one that reaches this program, not git's manual lookup.
    assert!(
        out.stderr.contains("try 'git mission -h'"),
        "{}",
        out.stderr
    );
    let far = repo.run(&["frobnicate"]);
    assert!(!far.stderr.contains("similar"), "{}", far.stderr);
}

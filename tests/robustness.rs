//! Hostile and faulty input, and other processes in the way: a hand-approved mission with an id
//! that would escape the repository, a mission made corrupt on its branch, bracket bombs, an
//! empty feature id, a ref lock held by another git process. Nothing panics, nothing is written
//! outside the repository, and every refusal says where and why.

mod common;

use common::{OK_WORKER, TestRepo, count};

const ONE_FEATURE: &str = "  - id: M1\n    title: One\n    validation: {commands: [\"true\"]}\n    features:\n      - {id: F1, title: first, description: x}\n";

#[test]
fn a_hand_approved_mission_with_an_escaping_feature_id_never_starts() {
    let repo = TestRepo::new();
    repo.mission(OK_WORKER, "", ONE_FEATURE);
    // Approved, then edited by hand: the feature id now climbs out of any directory.
    let text = repo
        .read("todo/missions/m-mission.md")
        .replace("{id: F1,", "{id: \"x/../../../../../../esc\",");
    repo.write("todo/missions/m-mission.md", &text);
    repo.commit_all("sneak a path into an id");
    let out = repo.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stdout.contains("todo/missions/m-mission.md:") || out.stderr.contains("m-mission.md:"),
        "the refusal is located: {}",
        out.snapshot()
    );
    assert!(
        out.stderr.contains("x/../../../../../../esc") || out.stdout.contains("x/../../"),
        "{}",
        out.snapshot()
    );
    // Not started, nothing dispatched, nothing written for the mission anywhere (the
    // repository's state directory holds at most its instance id).
    assert!(repo.git(&["branch", "--list", "mission/m"]).is_empty());
    let state = repo.home().join(".local/state/git-mission");
    for dir in std::fs::read_dir(&state).into_iter().flatten().flatten() {
        let inside: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(inside, ["instance"], "{}", dir.path().display());
    }
    for escaped in ["esc", "../esc", "../../esc"] {
        assert!(!repo.root().join(escaped).exists(), "{escaped}");
    }
}

#[test]
fn a_mission_made_corrupt_on_its_branch_blocks_with_the_located_error_and_does_nothing_else() {
    let repo = TestRepo::new();
    // M1 runs; M2 waits for a resource, so `run` stops with nothing running.
    repo.mission(
        OK_WORKER,
        "",
        "  - id: M1\n    title: One\n    validation: {commands: [\"true\"]}\n    features:\n      - {id: F1, title: first, description: x}\n  - id: M2\n    title: Two\n    validation: {commands: [\"true\"]}\n    features:\n      - {id: F2, title: second, description: x}\n",
    );
    let text = repo.read("todo/missions/m-mission.md").replace(
        "resources: []\n",
        "resources:\n  - {name: db, status: needed, needed_by: M2}\n",
    );
    repo.write("todo/missions/m-mission.md", &text);
    repo.commit_all("M2 needs a database");
    let out = repo.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(out.code, 3, "{}", out.snapshot());
    assert_eq!(repo.status_json()["block"]["reason"], "resource_needed");
    // Someone edits the state on mission/m by hand: the resource is there, and F2's id now
    // climbs out of any directory.
    let wt = repo.home().join("hand-edit");
    repo.git(&["worktree", "add", "-q", &wt.to_string_lossy(), "mission/m"]);
    let file = wt.join("todo/missions/m-mission.md");
    let text = std::fs::read_to_string(&file)
        .expect("mission file")
        .replace("status: needed", "status: available")
        .replace("id: F2", "id: \"../../escape\"");
    std::fs::write(&file, text).expect("edit");
    let commit = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(&wt)
            .env("GIT_CONFIG_GLOBAL", repo.home().join(".gitconfig"))
            .env("GIT_AUTHOR_NAME", "A")
            .env("GIT_AUTHOR_EMAIL", "a@example.com")
            .env("GIT_COMMITTER_NAME", "A")
            .env("GIT_COMMITTER_EMAIL", "a@example.com")
            .status()
            .expect("git")
            .success();
        assert!(ok, "git {args:?}");
    };
    commit(&["commit", "-qam", "hand edit on the integration branch"]);
    repo.git(&["worktree", "remove", &wt.to_string_lossy()]);
    let resumed = repo.run(&["resume", "m"]);
    assert_eq!(resumed.code, 0, "{}", resumed.snapshot());
    let out = repo.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(out.code, 3, "{}", out.snapshot());
    let s = repo.status_json();
    assert_eq!(s["block"]["reason"], "corrupt_state", "{s}");
    let message = s["block"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("todo/missions/m-mission.md:") && message.contains("../../escape"),
        "{message}"
    );
    let corrupt_blocks = |repo: &TestRepo| {
        repo.events()
            .iter()
            .filter(|e| e["type"] == "mission.blocked" && e["data"]["reason"] == "corrupt_state")
            .count()
    };
    assert_eq!(corrupt_blocks(&repo), 1);
    // Another pulse changes nothing: blocked once.
    let again = repo.run_deadline(&["pulse", "m"], &[], 60);
    assert_eq!(again.code, 3, "{}", again.snapshot());
    assert_eq!(corrupt_blocks(&repo), 1);
    assert_eq!(
        count(&repo.events(), "feature.dispatched", Some("../../escape")),
        0
    );
    assert!(!repo.root().parent().expect("tmp").join("escape").exists());
}

#[test]
fn bracket_bombs_are_refused_at_once_with_a_location() {
    let repo = TestRepo::new();
    let depth = 100_000;
    let bomb = format!(
        "---\nschema: 1\nid: m\ntitle: x\nstatus: draft\ncontract: {}{}\nmilestones: []\n---\n# x\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    repo.write("todo/missions/m-mission.md", &bomb);
    let started = std::time::Instant::now();
    let out = repo.run(&["validate", "m"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stdout
            .contains("todo/missions/m-mission.md:6:75: error: brackets nested more than 64 deep"),
        "{}",
        out.stdout
    );
    // The same bomb in the repository's configuration, read by every command.
    repo.write(
        "todo/missions/config.yml",
        &format!("checks: {}{}\n", "[".repeat(depth), "]".repeat(depth)),
    );
    let out = repo.run(&["config"]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("brackets nested more than 64 deep"),
        "{}",
        out.stderr
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Quotes and comments do not count as nesting.
    assert!(
        git_mission::mission::doc::check_bounds(&format!(
            "a: '{}'\nb: \"{}\" # {}\n",
            "[".repeat(100),
            "{".repeat(100),
            "[".repeat(100)
        ))
        .is_ok()
    );
}

#[test]
fn an_empty_feature_id_is_an_error_not_a_panic() {
    let repo = TestRepo::new();
    repo.mission(OK_WORKER, "", ONE_FEATURE);
    let text = repo
        .read("todo/missions/m-mission.md")
        .replace("{id: F1,", "{id: \"\",");
    repo.write("todo/missions/m-mission.md", &text);
    let out = repo.run(&["feature", "add", "m", "M1", "--title", "More"]);
    assert!(
        out.code == 0 || out.code == 1,
        "no panic, no internal error: {}",
        out.snapshot()
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn a_ref_lock_held_by_another_git_process_is_waited_for() {
    let repo = TestRepo::new();
    repo.mission(OK_WORKER, "", ONE_FEATURE);
    let out = repo.run_deadline(&["pulse", "m"], &[], 60);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    // Another git process (a fetch, a gc) holds the integration branch's lock for a second.
    let lock = repo.root().join(".git/refs/heads/mission/m.lock");
    std::fs::write(&lock, "").expect("take the lock");
    let held = std::time::Duration::from_millis(1000);
    let releaser = {
        let lock = lock.clone();
        std::thread::spawn(move || {
            std::thread::sleep(held);
            std::fs::remove_file(lock).expect("release the lock");
        })
    };
    let started = std::time::Instant::now();
    let out = repo.run(&["pause", "m"]);
    releaser.join().expect("releaser");
    assert_eq!(
        out.code,
        0,
        "a held lock is a wait, not a bug: {}",
        out.snapshot()
    );
    assert!(started.elapsed() >= held, "it waited for the lock");
    assert_eq!(repo.status_json()["status"], "paused");
}

#[test]
fn two_runs_started_together_over_a_dead_lock_never_both_hold_it() {
    let repo = TestRepo::new();
    // The worker waits for the test, so whichever run holds the lock keeps holding it.
    repo.mission(
        &format!("read x < \"$GO\"\n{OK_WORKER}"),
        "limits: {worker_timeout: 120s}\n",
        ONE_FEATURE,
    );
    let go = repo.home().join("go");
    let ok = std::process::Command::new("mkfifo")
        .arg(&go)
        .status()
        .expect("mkfifo")
        .success();
    assert!(ok);
    // A run that died holding the lock left its name in the file.
    let lock = repo.root().join(".git/git-mission/m/run.lock");
    std::fs::create_dir_all(lock.parent().expect("dir")).expect("mkdir");
    std::fs::write(
        &lock,
        r#"{"pid": 999999999, "host": "localhost", "started": "x", "heartbeat": "x"}"#,
    )
    .expect("dead holder");
    let go_s = go.to_string_lossy().into_owned();
    let env = [("GO", go_s.as_str())];
    let spawn = || {
        let mut cmd = repo.command(&["run", "m"], &env);
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().expect("spawn run")
    };
    let (a, b) = (spawn(), spawn());
    // One of them refuses at once; the other holds the lock until its worker is let go.
    let (tx, rx) = std::sync::mpsc::channel();
    for child in [a, b] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output().expect("wait"));
        });
    }
    let first = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("one run refuses");
    assert_eq!(first.status.code(), Some(1), "{first:?}");
    assert!(
        String::from_utf8_lossy(&first.stderr)
            .contains("another `git mission run` holds this mission"),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    std::fs::write(&go, "go\n").expect("let the worker finish");
    let second = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the holder finishes");
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(count(&repo.events(), "feature.dispatched", Some("F1")), 1);
}

#[test]
fn a_repository_made_again_at_the_same_path_does_not_inherit_the_old_ones_runs() {
    let repo = TestRepo::new();
    repo.mission(OK_WORKER, "", ONE_FEATURE);
    let out = repo.run(&["run", "m"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let old_runs: Vec<_> = std::fs::read_dir(repo.runs_dir("m"))
        .expect("runs")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(!old_runs.is_empty(), "the first repository left its runs");
    // Deleted and made again at the same path, with a mission of the same id.
    for e in std::fs::read_dir(repo.root()).expect("ls").flatten() {
        let p = e.path();
        if p.is_dir() {
            std::fs::remove_dir_all(&p).expect("rm -r");
        } else {
            std::fs::remove_file(&p).expect("rm");
        }
    }
    repo.git(&["init", "-q", "-b", "main"]);
    repo.write("README.md", "# again\n");
    repo.commit_all("initial");
    repo.mission(OK_WORKER, "", ONE_FEATURE);
    // Its first pulse starts the mission: none of the old runs is taken for its own.
    let out = repo.run(&["pulse", "m"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let ev = repo.events();
    assert_eq!(ev[0]["type"], "mission.started", "{ev:?}");
    let out = repo.run(&["run", "m"]);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    let new_runs: Vec<_> = std::fs::read_dir(repo.runs_dir("m"))
        .expect("runs")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        new_runs.iter().all(|r| !old_runs.contains(r)),
        "{new_runs:?} vs {old_runs:?}"
    );
    // The old state directory is kept aside, not deleted.
    let base = repo.home().join(".local/state/git-mission");
    let aside = std::fs::read_dir(&base)
        .expect("state")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".stale-"))
        .count();
    assert_eq!(aside, 1);
}

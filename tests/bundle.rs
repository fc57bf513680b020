//! `export` and `import`: a mission blocked on one clone is exported, imported into another
//! clone of the same repository and run to completion there. An import refuses a damaged file,
//! a repository without the mission's base, and a mission id that exists (unless `--force`,
//! which keeps the old branches under another ref).

mod common;

use common::{OK_WORKER, TestRepo, count};

/// A clone of `from`'s main branch, as another machine would have.
fn clone_of(from: &TestRepo) -> TestRepo {
    let to = TestRepo::new();
    let url = from.root().to_string_lossy().into_owned();
    to.git(&["fetch", "-q", &url, "main:refs/remotes/origin/main"]);
    to.git(&["reset", "-q", "--hard", "origin/main"]);
    to
}

#[test]
fn a_mission_moves_to_another_clone_and_finishes_there() {
    let a = TestRepo::new();
    let flag = a.home().join("fail-F2");
    std::fs::write(&flag, "").expect("flag");
    // F2 fails while the flag exists (on the first machine only).
    a.mission(
        &format!(
            "if [ \"$GIT_MISSION_FEATURE\" = F2 ] && [ -e '{}' ]; then echo no >&2; exit 1; fi\n{OK_WORKER}",
            flag.display()
        ),
        "land: auto\nlimits: {worker_attempts: 1}\n",
        "  - id: M1\n    title: One\n    validation: {commands: [\"true\"]}\n    features:\n      - {id: F1, title: first, description: x}\n      - {id: F2, title: second, description: y}\n",
    );
    let out = a.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(out.code, 3, "{}", out.snapshot());
    assert_eq!(a.status_json()["block"]["reason"], "worker_failed");
    let file = a.home().join("m.mission");
    let exported = a.run(&["export", "m", "-o", &file.to_string_lossy()]);
    assert_eq!(exported.code, 0, "{}", exported.snapshot());
    assert!(
        exported.stdout.contains("exported mission m (blocked, "),
        "{}",
        exported.stdout
    );

    let b = clone_of(&a);
    std::fs::remove_file(&flag).expect("the other machine does not fail F2");
    let imported = b.run(&["import", &file.to_string_lossy()]);
    assert_eq!(imported.code, 0, "{}", imported.snapshot());
    assert_eq!(
        b.git(&["rev-parse", "mission/m"]),
        a.git(&["rev-parse", "mission/m"]),
        "the integration branch arrived as it was"
    );
    assert_eq!(
        b.git(&["rev-parse", "mission/m.F2"]),
        a.git(&["rev-parse", "mission/m.F2"]),
        "the unmerged feature branch too"
    );
    let s = b.status_json();
    assert_eq!(s["status"], "blocked");
    let f1 = s["milestones"][0]["features"][0]["status"].clone();
    assert!(
        f1 == "review" || f1 == "merged",
        "F1's work came along: {s}"
    );
    b.run(&["retry", "m", "F2"]).success();
    let out = b.run_deadline(&["run", "m"], &[], 60);
    assert_eq!(out.code, 0, "{}", out.snapshot());
    assert_eq!(b.status_json()["status"], "completed");
    let ev = b.events();
    assert_eq!(
        count(&ev, "feature.dispatched", Some("F1")),
        1,
        "F1 was not redone"
    );
    assert_eq!(count(&ev, "feature.merged", Some("F1")), 1);
    assert_eq!(count(&ev, "feature.merged", Some("F2")), 1);
    assert!(
        b.git(&["ls-tree", "--name-only", "main"])
            .contains("out-F2.txt")
    );

    // Importing again: the id exists.
    let again = b.run(&["import", &file.to_string_lossy()]);
    assert_eq!(again.code, 1, "{}", again.snapshot());
    assert!(
        again.stderr.contains("mission m already exists here"),
        "{}",
        again.stderr
    );
    // --force: the bundle's state, the old one kept.
    let finished = b.git(&["rev-parse", "mission/m"]);
    let forced = b.run(&["import", "--force", &file.to_string_lossy()]);
    assert_eq!(forced.code, 0, "{}", forced.snapshot());
    assert_eq!(
        b.git(&["rev-parse", "mission/m"]),
        a.git(&["rev-parse", "mission/m"])
    );
    let kept = b.git(&[
        "for-each-ref",
        "--format=%(refname) %(objectname)",
        "refs/git-mission/replaced/",
    ]);
    assert!(
        kept.lines()
            .any(|l| l.ends_with(&format!("/mission/m {}", finished.trim()))),
        "{kept}"
    );
}

#[test]
fn an_import_refuses_a_damaged_file_and_a_repository_without_the_base() {
    let a = TestRepo::new();
    a.mission(
        OK_WORKER,
        "",
        "  - id: M1\n    title: One\n    validation: {commands: [\"true\"]}\n    features:\n      - {id: F1, title: first, description: x}\n",
    );
    assert_eq!(a.run_deadline(&["run", "m"], &[], 60).code, 0);
    let file = a.home().join("m.mission");
    a.run(&["export", "m", "-o", &file.to_string_lossy()])
        .success();
    // Another repository, unrelated: the base is not there.
    let other = TestRepo::new();
    let out = other.run(&["import", &file.to_string_lossy()]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("this repository lacks commit"),
        "{}",
        out.stderr
    );
    assert!(
        other.git(&["branch", "--list", "mission/*"]).is_empty(),
        "nothing was imported"
    );
    // One byte changed: the checksum says so.
    let mut bytes = std::fs::read(&file).expect("read");
    let last = bytes.len() - 10;
    bytes[last] ^= 0xff;
    let bad = a.home().join("bad.mission");
    std::fs::write(&bad, &bytes).expect("write");
    let b = clone_of(&a);
    let out = b.run(&["import", &bad.to_string_lossy()]);
    assert_eq!(out.code, 1, "{}", out.snapshot());
    assert!(
        out.stderr.contains("its bundle is damaged"),
        "{}",
        out.stderr
    );
    // Not an export at all.
    let out = b.run(&["import", "README.md"]);
    assert!(
        out.stderr.contains("is not a mission export"),
        "{}",
        out.stderr
    );
    // A mission not started has nothing to export.
    let n = b.run(&["export", "nope", "-o", "x"]);
    assert_eq!(n.code, 1, "{}", n.snapshot());
}

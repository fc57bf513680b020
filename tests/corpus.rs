//! The invalid-file corpus: every file under tests/corpus/invalid must fail `validate` with
//! exit 1 and exactly the snapshotted message (file:line:column, the offending value, a hint),
//! and must not be modified by any command.

mod common;

use common::TestRepo;

#[test]
fn every_invalid_file_fails_with_its_exact_message() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with("-mission.md"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 25,
        "the corpus has only {} files",
        files.len()
    );
    let repo = TestRepo::new();
    for path in files {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let id = name.trim_end_matches("-mission.md");
        let text = std::fs::read_to_string(&path).expect("read corpus file");
        let rel = common::mission_path(id);
        repo.write(&rel, &text);
        let out = repo.run(&["validate", id]);
        assert_eq!(out.code, 1, "{name} must be invalid:\n{}", out.snapshot());
        assert!(
            out.stdout.contains(&format!("{rel}:")),
            "{name}: no location:\n{}",
            out.snapshot()
        );
        let lines: Vec<&str> = out.stdout.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.contains(": error: ") {
                assert!(
                    lines.get(i + 1).is_some_and(|l| l.starts_with("  hint: ")),
                    "{name}: error without a hint: {line}"
                );
            }
        }
        insta::assert_snapshot!(id, out.snapshot());
        // Commands that write must refuse and leave the bytes alone.
        let approve = repo.run(&["approve", id]);
        assert_eq!(
            approve.code,
            1,
            "{name}: approve must refuse:\n{}",
            approve.snapshot()
        );
        let status = repo.run(&["status", id, "--write"]);
        assert_ne!(status.code, 0, "{name}: status --write must refuse");
        assert_eq!(repo.read(&rel), text, "{name} was modified");
    }
}

//! Mutated mission files against the parser (a few thousand cases; `cargo bench --bench
//! parser_fuzz` runs 100,000) and against the real binary: no panic, no internal error, no
//! hang, and a file the tool cannot parse is never rewritten.

mod common;
mod fuzz;

use std::time::Duration;

use common::TestRepo;

#[test]
fn mutants_never_panic_or_hang_and_what_is_written_parses() {
    let r = fuzz::run(0, 3_000, Duration::from_secs(2));
    assert!(
        r.failures.is_empty(),
        "{:#?}",
        &r.failures[..r.failures.len().min(20)]
    );
    assert!(
        r.parsed > 100 && r.parsed < r.cases,
        "both kinds of mutant were tried: {r:?}"
    );
    assert!(r.quick > 100, "the quick reader read mutants too: {r:?}");
}

#[test]
fn the_binary_never_fails_internally_or_rewrites_a_file_it_cannot_parse() {
    let repo = TestRepo::new();
    let file = "todo/missions/m-mission.md";
    let mut unparsed = 0;
    for seed in 0..60u64 {
        let text = fuzz::mutant(1_000_000 + seed);
        repo.write(file, &text);
        let parses = git_mission::mission::MissionDoc::parse(text.clone()).is_ok();
        for args in [
            &["validate", "m"][..],
            &["status", "m", "--write"],
            &["approve", "m"],
            &["feature", "add", "m", "M1", "--title", "More"],
        ] {
            let out = repo.run(args);
            assert!(
                out.code != 255 && out.code != 101 && !out.stderr.contains("internal error"),
                "seed {seed} {args:?}: {}",
                out.snapshot()
            );
            if !parses {
                assert_eq!(
                    repo.read(file),
                    text,
                    "seed {seed} {args:?}: rewrote a file it cannot parse"
                );
            }
        }
        unparsed += u32::from(!parses);
    }
    assert!(unparsed > 5, "some mutants did not parse: {unparsed}");
}

//! Round-trip guarantees of the mission file (issue: parse → render is byte-identical for
//! files the tool wrote; body text outside generated blocks is preserved byte for byte;
//! hand formatting survives a state change).

use git_mission::mission::render::render_frontmatter;
use git_mission::mission::*;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z][A-Za-z0-9 ]{0,20}",
        any::<String>().prop_map(|s| s
            .chars()
            .filter(|c| !c.is_control() || *c == '\n')
            .take(30)
            .collect()),
        Just("yes".to_owned()),
        Just("12".to_owned()),
        Just("a: b # c".to_owned()),
        Just("- [x] {y}, 'z' \"q\"".to_owned()),
        Just("  leading and trailing  ".to_owned()),
        Just("line one\nline two\n".to_owned()),
        Just("x\n\n  indented\n\n".to_owned()),
        Just(String::new()),
    ]
}

fn strings(max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 0..max)
}

fn feature(n: usize) -> impl Strategy<Value = Feature> {
    (
        text(),
        prop::sample::select(FeatureStatus::ALL.to_vec()),
        strings(3),
        prop::option::of(strings(2)),
        0u32..5,
        prop::option::of(1u64..100_000),
        prop::option::of((text(), text())),
        text(),
    )
        .prop_map(
            move |(title, status, skills, checks, attempts, pr, origin, description)| Feature {
                id: format!("F{n}"),
                title,
                status,
                depends_on: (1..n).step_by(2).map(|d| format!("F{d}")).collect(),
                assertions: vec!["VC1".into()],
                checks,
                skills,
                attempts,
                pr,
                origin: origin.map(|(validation_run, finding)| Origin {
                    validation_run,
                    finding,
                }),
                description,
            },
        )
}

fn milestone(m: usize) -> impl Strategy<Value = Milestone> {
    (
        text(),
        prop::sample::select(MilestoneStatus::ALL.to_vec()),
        0u32..9,
        strings(3),
        any::<bool>(),
        prop::option::of((
            prop::option::of(text()),
            prop::option::of(text()),
            strings(3),
        )),
        0usize..4,
    )
        .prop_flat_map(
            move |(title, status, failures, commands, scrutiny, ut, nf)| {
                let feats: Vec<_> = (0..nf).map(|i| feature(m * 10 + i + 1)).collect();
                (
                    Just((title, status, failures, commands, scrutiny, ut)),
                    feats,
                )
            },
        )
        .prop_map(
            move |((title, status, failures, commands, scrutiny, ut), features)| Milestone {
                id: format!("M{m}"),
                title,
                status,
                failures,
                validation: Validation {
                    commands,
                    scrutiny,
                    user_testing: ut.map(|(launch, url, flows)| UserTesting { launch, url, flows }),
                    assertions: vec!["VC1".into()],
                },
                features,
            },
        )
}

fn mission() -> impl Strategy<Value = Mission> {
    let header = (
        text(),
        prop::sample::select(MissionStatus::ALL.to_vec()),
        prop::option::of(prop::sample::select(Mode::ALL.to_vec())),
        prop::option::of(text()),
        prop::option::of((text(), 0i64..4_000_000_000)),
        prop::option::of(strings(3)),
        prop::option::of((
            prop::option::of(1u32..9),
            prop::option::of(1u32..9),
            prop::option::of(Just("1h30m".to_owned())),
        )),
        prop::option::of((
            prop::option::of(0.0f64..1e6),
            prop::option::of(any::<u64>()),
            prop::option::of(1u32..100),
        )),
    );
    let tail = (
        (0.0f64..1e4, any::<u64>(), 0.0f64..1e3, any::<u32>()),
        prop::option::of((
            prop::sample::select(BlockReason::ALL.to_vec()),
            text(),
            0i64..4_000_000_000,
        )),
        prop::collection::vec(text(), 1..4),
        prop::collection::vec((text(), any::<bool>()), 0..3),
        prop::collection::vec(0usize..1, 0..4),
        prop::option::of((
            prop::sample::select(vec!["exec", "claude"]),
            prop::option::of(text()),
            strings(3),
        )),
    );
    (header, tail)
        .prop_flat_map(|(h, t)| {
            let ms: Vec<_> = (0..t.4.len()).map(|i| milestone(i + 1)).collect();
            (Just((h, t)), ms)
        })
        .prop_map(|((h, t), milestones)| {
            let (title, status, mode, base, approved, checks, limits, budget) = h;
            let (spent, block, contract, resources, _, profile) = t;
            let mut m = Mission::draft("prop-mission", &title);
            m.status = status;
            m.mode = mode;
            m.base = base;
            m.approved = approved.map(|(by, s)| Approval {
                by,
                at: jiff::Timestamp::from_second(s).expect("in range"),
            });
            m.checks = checks;
            m.limits = limits.map(|(a, b, c)| Limits {
                max_parallel_workers: a,
                worker_attempts: b,
                validation_failures: None,
                worker_timeout: c,
                review_rounds: None,
            });
            m.budget = budget.map(|(usd, tokens, pct)| Budget {
                usd,
                tokens,
                hours: usd.map(|u| u / 7.0),
                runs: None,
                alert_pct: pct,
            });
            m.spent = Spent {
                usd: spent.0,
                tokens: spent.1,
                hours: spent.2,
                runs: spent.3,
            };
            m.block = block.map(|(reason, message, s)| Block {
                reason,
                milestone: Some("M1".into()),
                feature: None,
                since: jiff::Timestamp::from_second(s).expect("in range"),
                packet: Some("todo/missions/prop-mission/recovery/1-x.md".into()),
                question: (message.len() % 2 == 0).then(|| format!("{message}?")),
                message,
            });
            m.contract = contract
                .into_iter()
                .enumerate()
                .map(|(i, text)| Assertion {
                    id: format!("VC{}", i + 1),
                    text,
                })
                .collect();
            m.resources = resources
                .into_iter()
                .map(|(name, needed)| Resource {
                    name,
                    status: if needed {
                        ResourceStatus::Needed
                    } else {
                        ResourceStatus::Available
                    },
                    needed_by: needed.then(|| "M1".into()),
                })
                .collect();
            m.profiles = profile.map(|(agent, model, args)| {
                [(
                    "p-1".to_owned(),
                    Profile {
                        agent: agent.into(),
                        model,
                        command: Some(vec!["sh".into(), "x.sh".into()]),
                        args: Some(args),
                        pass_env: Some(vec!["MY_APP_*".into()]),
                    },
                )]
                .into_iter()
                .collect()
            });
            m.milestones = milestones;
            m
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_valid_missions_round_trip(m in mission()) {
        let body = "# Body\n\ntext\n";
        let text = MissionDoc::compose(&m, body);
        let doc = MissionDoc::parse(text.clone()).map_err(|d| TestCaseError::fail(format!("{d:?}\n{text}")))?;
        prop_assert_eq!(&doc.mission, &m);
        prop_assert!(doc.is_canonical());
        prop_assert_eq!(MissionDoc::compose(&doc.mission, doc.body()), text);
        prop_assert_eq!(doc.body(), body);
    }

    #[test]
    fn rewriting_one_value_changes_one_line(m in mission()) {
        let text = MissionDoc::compose(&m, "body\n");
        let doc = MissionDoc::parse(text.clone()).expect("parses");
        let mut changed = m.clone();
        changed.status = if m.status == MissionStatus::Running { MissionStatus::Paused } else { MissionStatus::Running };
        let (new_text, how) = doc.rewrite(&changed);
        prop_assert_eq!(how, Rewrite::Canonical);
        let differing = text.lines().zip(new_text.lines()).filter(|(a, b)| a != b).count();
        prop_assert_eq!(differing, 1);
        prop_assert_eq!(text.lines().count(), new_text.lines().count());
    }
}

const UNUSUAL_BODY: &str = "# Title with `code`\r\n\
\n\
| a | b |\n|---|:-:|\n| <!-- x --> | `---` |\n\
\n\
<!-- a comment\nspanning lines -->\n\
\n\
```yaml\n---\nstatus: running\n<!-- git-mission:begin status -->\n---\n```\n\
\n\
~~~\n---\n~~~\n\
trailing spaces   \n\
<div>html</div>\n\
\n\
## Status\n\
<!-- git-mission:begin status -->\nold generated text\n<!-- git-mission:end status -->\n\
after the block, no final newline";

#[test]
fn unusual_markdown_outside_blocks_is_kept_byte_for_byte() {
    let mut m = Mission::draft("weird", "Weird");
    let text = MissionDoc::compose(&m, UNUSUAL_BODY);
    let doc = MissionDoc::parse(text.clone()).expect("parses");
    assert_eq!(doc.body(), UNUSUAL_BODY);
    // A frontmatter change keeps the body.
    m.status = MissionStatus::Cancelled;
    let (out, _) = doc.rewrite(&m);
    assert!(out.ends_with(UNUSUAL_BODY));
    // A block change touches only the block (the marker inside the fence is not a marker).
    let body = body::set_block(doc.body(), "status", "Status", "new\n");
    assert_eq!(body, UNUSUAL_BODY.replace("old generated text", "new"));
    let back = MissionDoc::parse(doc.with_body(&body)).expect("parses");
    assert_eq!(back.frontmatter(), doc.frontmatter());
}

const HAND_WRITTEN: &str = r#"---
# A comment the tool must keep.
schema: 1
id: hand
title: 'Hand written'   # trailing comment
status: draft
approved: ~
budget: {usd: 40,   alert_pct: 80}
contract:
  - id: VC1
    text: >-
      Folded text
      over lines
milestones:
- id: M1
  title: One
  validation: {scrutiny: true}
  features:
  - {id: F1, title: First, assertions: [VC1], description: do it}
---
Body.
"#;

#[test]
fn hand_formatting_survives_approval() {
    let doc = MissionDoc::parse(HAND_WRITTEN.to_owned()).expect("parses");
    assert!(!doc.is_canonical());
    let mut m = doc.mission.clone();
    m.status = MissionStatus::Approved;
    m.approved = Some(Approval {
        by: "Ada <ada@example.com>".into(),
        at: "2026-11-21T10:00:00Z".parse().expect("ts"),
    });
    let (out, how) = doc.rewrite(&m);
    assert_eq!(how, Rewrite::Patched);
    let expected = HAND_WRITTEN
        .replace("status: draft", "status: approved")
        .replace(
            "approved: ~",
            "approved: {by: \"Ada <ada@example.com>\", at: \"2026-11-21T10:00:00Z\"}",
        );
    assert_eq!(out, expected);
    // Nested and list edits are surgical too.
    let doc = MissionDoc::parse(out).expect("parses");
    let mut m2 = doc.mission.clone();
    m2.milestones[0].features[0].status = FeatureStatus::Merged;
    m2.spent.runs = 3;
    let (out2, how2) = doc.rewrite(&m2);
    assert_eq!(how2, Rewrite::Patched);
    assert!(
        out2.contains(
            "  - {id: F1, title: First, assertions: [VC1], description: do it, status: merged}"
        ) || out2.contains("status: merged"),
        "{out2}"
    );
    assert!(out2.contains("# A comment the tool must keep."));
    assert_eq!(MissionDoc::parse(out2).expect("parses").mission, m2);
}

#[test]
fn a_quoted_value_with_a_comment_after_it_is_changed_and_the_comment_kept() {
    // With a folded scalar (read by the full YAML parser) and without (the fast reader).
    let plain = HAND_WRITTEN.replace(
        ">-\n      Folded text\n      over lines",
        "Folded text over lines",
    );
    assert_ne!(plain, HAND_WRITTEN);
    for text in [HAND_WRITTEN.to_owned(), plain] {
        let doc = MissionDoc::parse(text.clone()).expect("parses");
        let mut m = doc.mission.clone();
        m.title = "Renamed".into();
        let (out, how) = doc.rewrite(&m);
        assert_eq!(how, Rewrite::Patched);
        assert_eq!(
            out,
            text.replace("'Hand written'   # trailing", "Renamed   # trailing"),
            "only the value changed"
        );
    }
}

#[test]
fn a_change_that_cannot_be_patched_normalises_and_says_so() {
    let doc = MissionDoc::parse(HAND_WRITTEN.to_owned()).expect("parses");
    let mut m = doc.mission.clone();
    let copy = Feature {
        id: "F2".into(),
        ..m.milestones[0].features[0].clone()
    };
    m.milestones[0].features.push(copy);
    let (out, how) = doc.rewrite(&m);
    assert_eq!(how, Rewrite::Normalized);
    assert_eq!(out, MissionDoc::compose(&m, "Body.\n"));
}

#[test]
fn canonical_render_is_stable() {
    let doc = MissionDoc::parse(HAND_WRITTEN.to_owned()).expect("parses");
    let once = render_frontmatter(&doc.mission);
    let again = MissionDoc::parse(format!("---\n{once}---\n")).expect("parses");
    assert_eq!(render_frontmatter(&again.mission), once);
}

#[test]
fn approving_a_minimal_hand_written_file_appends_only_the_missing_key() {
    let text = "---\nschema: 1\nid: tiny\ntitle: Tiny\nstatus: draft\nmilestones:\n  - id: M1\n    title: Only\n    validation: {commands: [make test]}\n    features:\n      - {id: F1, title: Do it}\n---\n";
    let doc = MissionDoc::parse(text.to_owned()).expect("parses");
    let mut m = doc.mission.clone();
    m.status = MissionStatus::Approved;
    m.approved = Some(Approval {
        by: "Ada <ada@example.com>".into(),
        at: "2026-11-21T10:00:00Z".parse().expect("ts"),
    });
    let (out, how) = doc.rewrite(&m);
    assert_eq!(how, Rewrite::Patched);
    assert_eq!(
        out,
        text.replace("status: draft", "status: approved").replace(
            "      - {id: F1, title: Do it}\n",
            "      - {id: F1, title: Do it}\napproved: {by: \"Ada <ada@example.com>\", at: \"2026-11-21T10:00:00Z\"}\n"
        )
    );
}

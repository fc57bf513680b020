//! The `/mission` comment grammar (PRODUCT.md §5): lines of an issue or pull-request comment
//! that start with `/mission`. Parsing only — who may command, and applying a command, belong
//! to the GitHub forge. Comment text is data: it is kept verbatim and never reaches a shell, a
//! path or a ref name; ids are checked against their grammars here.

use crate::mission::ids;

pub mod apply;
pub mod approve;

/// The grammar, for replies to comments that do not parse.
pub const GRAMMAR: &str = "/mission [<id>] status|pause [now]|resume|cancel|approve|skip F# [reason]|retry F#|steer F# <text>|revalidate M#";

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Status,
    Pause {
        now: bool,
    },
    Resume,
    Cancel,
    Approve,
    Skip {
        feature: String,
        reason: Option<String>,
    },
    Retry {
        feature: String,
    },
    Steer {
        feature: String,
        text: String,
    },
    Revalidate {
        milestone: String,
    },
}

/// A command line of a comment, with the mission it names (if any) and its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub mission: Option<String>,
    pub command: Command,
    /// 1-based line in the comment body.
    pub line: usize,
}

/// A `/mission` line that is not a valid command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub line: usize,
    pub message: String,
}

const VERBS: &[&str] = &[
    "status",
    "pause",
    "resume",
    "cancel",
    "approve",
    "skip",
    "retry",
    "steer",
    "revalidate",
];

/// Whether a comment has any `/mission` line (valid or not).
pub fn has_command(body: &str) -> bool {
    !parse(body).is_empty()
}

/// Every `/mission` line of a comment body, parsed. Lines in fenced code blocks are not commands.
pub fn parse(body: &str) -> Vec<Result<Parsed, Invalid>> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    for (i, raw) in body.lines().enumerate() {
        let line = raw.trim_start();
        if let Some(f) = fence {
            if line.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if line.starts_with("```") || line.starts_with("~~~") {
            fence = Some(&line[..3]);
            continue;
        }
        let Some(rest) = line.strip_prefix("/mission") else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            continue; // `/missions`, `/mission-foo`: not ours
        }
        out.push(parse_line(rest.trim(), i + 1));
    }
    out
}

/// What a reply may quote of a comment's text: at most 32 characters, no backticks or control
/// characters, in a code span. A reply never echoes more (a 40,000-character "command" must not
/// make a reply GitHub refuses, nor let a commenter put words in the tool's mouth).
pub fn excerpt(s: &str) -> String {
    const MAX: usize = 32;
    let clean: String = s
        .chars()
        .filter(|c| !c.is_control() && *c != '`')
        .take(MAX)
        .collect();
    let more = s.chars().filter(|c| !c.is_control() && *c != '`').count() > MAX;
    format!("`{clean}{}`", if more { "…" } else { "" })
}

/// Splits off the first whitespace-separated word.
fn word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

fn parse_line(s: &str, line: usize) -> Result<Parsed, Invalid> {
    let bad = |message: String| Invalid { line, message };
    let (first, rest) = word(s);
    let (mission, verb, args) = if VERBS.contains(&first) {
        (None, first, rest)
    } else if ids::is_mission_id(first) {
        let (v, a) = word(rest);
        (Some(first.to_owned()), v, a)
    } else if first.is_empty() {
        return Err(bad(format!("a command is missing; usage: {GRAMMAR}")));
    } else {
        return Err(bad(format!(
            "unknown command {}; usage: {GRAMMAR}",
            excerpt(first)
        )));
    };
    let feature = |args: &str| -> Result<(String, String), Invalid> {
        let (f, rest) = word(args);
        if ids::is_feature_id(f) {
            Ok((f.to_owned(), rest.to_owned()))
        } else if f.is_empty() {
            Err(bad(format!(
                "{verb} needs a feature id (F1, F2b); usage: {GRAMMAR}"
            )))
        } else {
            Err(bad(format!(
                "{} is not a feature id (F1, F2b); usage: {GRAMMAR}",
                excerpt(f)
            )))
        }
    };
    let no_more = |args: &str, cmd: Command| {
        if args.is_empty() {
            Ok(cmd)
        } else {
            Err(bad(format!(
                "unexpected {} after {verb}; usage: {GRAMMAR}",
                excerpt(args)
            )))
        }
    };
    let command = match verb {
        "status" => no_more(args, Command::Status)?,
        "resume" => no_more(args, Command::Resume)?,
        "cancel" => no_more(args, Command::Cancel)?,
        "approve" => no_more(args, Command::Approve)?,
        "pause" => match args {
            "" => Command::Pause { now: false },
            "now" => Command::Pause { now: true },
            other => {
                return Err(bad(format!(
                    "unexpected {} after pause (only `now`); usage: {GRAMMAR}",
                    excerpt(other)
                )));
            }
        },
        "skip" => {
            let (feature, reason) = feature(args)?;
            Command::Skip {
                feature,
                reason: (!reason.is_empty()).then_some(reason),
            }
        }
        "retry" => {
            let (feature, rest) = feature(args)?;
            no_more(&rest, Command::Retry { feature })?
        }
        "steer" => {
            let (feature, text) = feature(args)?;
            if text.is_empty() {
                return Err(bad(format!(
                    "steer needs a message after the feature id; usage: {GRAMMAR}"
                )));
            }
            Command::Steer { feature, text }
        }
        "revalidate" => {
            let (m, rest) = word(args);
            if !ids::is_milestone_id(m) {
                return Err(bad(format!(
                    "revalidate needs a milestone id (M1); usage: {GRAMMAR}"
                )));
            }
            no_more(
                rest,
                Command::Revalidate {
                    milestone: m.to_owned(),
                },
            )?
        }
        "" => {
            let id = mission.as_deref().unwrap_or("");
            return Err(bad(format!(
                "{} is not a command (after a mission id, a command must follow); usage: {GRAMMAR}",
                excerpt(id)
            )));
        }
        other => {
            return Err(bad(format!(
                "unknown command {}; usage: {GRAMMAR}",
                excerpt(other)
            )));
        }
    };
    Ok(Parsed {
        mission,
        command,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(body: &str) -> Result<Parsed, Invalid> {
        let mut all = parse(body);
        assert_eq!(all.len(), 1, "{body:?}: {all:?}");
        all.remove(0)
    }

    #[test]
    fn every_command_of_the_grammar() {
        let cases = [
            ("/mission status", None, Command::Status),
            (
                "/mission settings-ui pause",
                Some("settings-ui"),
                Command::Pause { now: false },
            ),
            ("/mission pause now", None, Command::Pause { now: true }),
            ("/mission resume", None, Command::Resume),
            ("/mission cancel", None, Command::Cancel),
            ("/mission approve", None, Command::Approve),
            (
                "/mission skip F3 the API is gone",
                None,
                Command::Skip {
                    feature: "F3".into(),
                    reason: Some("the API is gone".into()),
                },
            ),
            (
                "/mission skip F3",
                None,
                Command::Skip {
                    feature: "F3".into(),
                    reason: None,
                },
            ),
            (
                "/mission x retry F2b",
                Some("x"),
                Command::Retry {
                    feature: "F2b".into(),
                },
            ),
            (
                "/mission revalidate M2",
                None,
                Command::Revalidate {
                    milestone: "M2".into(),
                },
            ),
        ];
        for (body, mission, command) in cases {
            let p = one(body).unwrap_or_else(|e| panic!("{body}: {e:?}"));
            assert_eq!(
                (p.mission.as_deref(), p.command),
                (mission, command),
                "{body}"
            );
        }
    }

    #[test]
    fn steering_text_is_kept_verbatim_as_data() {
        let p = one(
            "please:\n  /mission steer F1 run `rm -rf /` and $(touch /tmp/pwned); keep  spacing",
        )
        .expect("parses");
        assert_eq!(p.line, 2);
        assert_eq!(
            p.command,
            Command::Steer {
                feature: "F1".into(),
                text: "run `rm -rf /` and $(touch /tmp/pwned); keep  spacing".into()
            }
        );
    }

    #[test]
    fn everything_else_is_ignored_or_answered_with_the_grammar() {
        assert!(
            parse(
                "no commands here\n/missions status\n/mission-x status\n> quoted /mission status"
            )
            .is_empty()
        );
        assert!(
            parse("```\n/mission pause\n```\n~~~\n/mission cancel\n~~~").is_empty(),
            "fenced lines are examples"
        );
        for (body, needle) in [
            ("/mission", "a command is missing"),
            ("/mission dance", "`dance` is not a command"),
            ("/mission x", "`x` is not a command"),
            ("/mission x dance", "unknown command `dance`"),
            ("/mission skip ../etc", "is not a feature id"),
            ("/mission steer F1", "steer needs a message"),
            ("/mission pause later", "only `now`"),
            ("/mission retry F1 extra", "unexpected `extra`"),
            ("/mission revalidate F1", "needs a milestone id"),
            ("/mission Bad_Id status", "unknown command `Bad_Id`"),
        ] {
            let e = one(body).expect_err(body);
            assert!(
                e.message.contains(needle) && e.message.contains(GRAMMAR),
                "{body}: {}",
                e.message
            );
        }
        let two = parse("/mission pause\n/mission resume");
        assert_eq!(two.len(), 2);
    }

    #[test]
    fn a_reply_quotes_a_short_escaped_excerpt_only() {
        let long = format!("/mission {}", "\\".repeat(40_000));
        let e = one(&long).expect_err("not a command");
        assert!(e.message.len() < GRAMMAR.len() + 120, "{}", e.message.len());
        let tricky = one("/mission `@everyone` ```\u{7}").expect_err("not a command");
        assert!(
            !tricky.message[..tricky.message.find(';').expect(";")].contains("``"),
            "{}",
            tricky.message
        );
        assert_eq!(excerpt("abc"), "`abc`");
        assert_eq!(excerpt(&"x".repeat(40)), format!("`{}…`", "x".repeat(32)));
        assert_eq!(excerpt("a`b\u{1b}c"), "`abc`");
    }
}

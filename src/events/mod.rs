//! The event log `todo/missions/<id>/events.jsonl` (PRODUCT.md §2.2): one JSON object per
//! line, appended in the same commit as the state change it describes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What an event records. The log stores it as its `type` string (PRODUCT.md §2.2); a kind
/// this version does not know (written by a newer one) is kept as `Other`.
macro_rules! kinds {
    ($($variant:ident => $name:literal,)*) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Kind {
            $($variant,)*
            /// A kind this version does not know.
            Other(String),
        }

        impl Kind {
            /// The name in the log.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Kind::$variant => $name,)*
                    Kind::Other(s) => s,
                }
            }

            /// The kind a log name stands for.
            pub fn parse(name: &str) -> Kind {
                match name {
                    $($name => Kind::$variant,)*
                    other => Kind::Other(other.to_owned()),
                }
            }

            /// Every kind this version writes or reads.
            pub const ALL: &[&str] = &[$($name,)*];
        }
    };
}

kinds! {
    BudgetAlert => "budget.alert",
    BudgetExceeded => "budget.exceeded",
    CommentAnswerReleased => "comment.answer_released",
    CommentAnswered => "comment.answered",
    CommentAnswering => "comment.answering",
    CommentHandled => "comment.handled",
    CommentUnanswerable => "comment.unanswerable",
    EstimateAlert => "estimate.alert",
    FeatureChangesRequested => "feature.changes_requested",
    FeatureChecksFailed => "feature.checks_failed",
    FeatureConflict => "feature.conflict",
    FeatureDispatched => "feature.dispatched",
    FeatureFailed => "feature.failed",
    FeatureHandoff => "feature.handoff",
    FeatureMergeFailed => "feature.merge_failed",
    FeatureMergeReleased => "feature.merge_released",
    FeatureMerged => "feature.merged",
    FeatureMerging => "feature.merging",
    FeaturePrClosed => "feature.pr_closed",
    FeaturePrOpened => "feature.pr_opened",
    FeatureRetried => "feature.retried",
    FeatureReviewRequested => "feature.review_requested",
    FeatureSkipped => "feature.skipped",
    FeatureSteerDelivered => "feature.steer_delivered",
    FeatureSteered => "feature.steered",
    GithubTracking => "github.tracking",
    GithubWorker => "github.worker",
    LandPrClosed => "land.pr_closed",
    LandPrOpened => "land.pr_opened",
    MilestoneFailed => "milestone.failed",
    MilestoneLanded => "milestone.landed",
    MilestonePassed => "milestone.passed",
    MilestoneStarted => "milestone.started",
    MilestoneValidating => "milestone.validating",
    MilestoneValidationReleased => "milestone.validation_released",
    MissionBlocked => "mission.blocked",
    MissionCancelled => "mission.cancelled",
    MissionCompleted => "mission.completed",
    MissionLandDeferred => "mission.land_deferred",
    MissionLandReleased => "mission.land_released",
    MissionLanded => "mission.landed",
    NotifySending => "notify.sending",
    NotifySent => "notify.sent",
    NotifyFailed => "notify.failed",
    MissionLanding => "mission.landing",
    MissionPaused => "mission.paused",
    MissionResumed => "mission.resumed",
    MissionStarted => "mission.started",
    MissionUnblocked => "mission.unblocked",
    OrchestratorClaimed => "orchestrator.claimed",
    OrchestratorReleased => "orchestrator.released",
    OrchestratorTurn => "orchestrator.turn",
    PlanChanged => "plan.changed",
    RunFinished => "run.finished",
    RunStarted => "run.started",
    RunCancelled => "run.cancelled",
    RunTimedOut => "run.timed_out",
    StateRepaired => "state.repaired",
    StateRetry => "state.retry",
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        Ok(Kind::parse(&String::deserialize(d)?))
    }
}

impl Kind {
    /// A run's outcome (`run.finished`, `run.cancelled`, …): any `run.` kind but its start.
    pub fn is_run_outcome(&self) -> bool {
        self.as_str().starts_with("run.") && *self != Kind::RunStarted
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(default)]
    pub milestone: Option<String>,
    #[serde(default)]
    pub feature: Option<String>,
    #[serde(default)]
    pub run: Option<String>,
    #[serde(default)]
    pub attempt: Option<u32>,
    #[serde(default)]
    pub data: Value,
}

impl Event {
    /// A new event of `kind`; `seq` and `at` are set when it is committed.
    pub fn new(kind: Kind) -> Event {
        Event {
            seq: 0,
            at: String::new(),
            kind,
            milestone: None,
            feature: None,
            run: None,
            attempt: None,
            data: Value::Null,
        }
    }
    pub fn milestone(mut self, m: &str) -> Self {
        self.milestone = Some(m.to_owned());
        self
    }
    pub fn feature(mut self, f: &str) -> Self {
        self.feature = Some(f.to_owned());
        self
    }
    pub fn run(mut self, r: &str, attempt: u32) -> Self {
        self.run = Some(r.to_owned());
        self.attempt = Some(attempt);
        self
    }
    pub fn data(mut self, d: Value) -> Self {
        self.data = d;
        self
    }

    /// One line of the log, for people.
    pub fn human(&self) -> String {
        let mut where_ = Vec::new();
        for x in [&self.milestone, &self.feature, &self.run]
            .into_iter()
            .flatten()
        {
            where_.push(x.as_str());
        }
        let mut parts = vec![
            format!("{:>5}", self.seq),
            self.at.clone(),
            format!("{:<20}", self.kind),
        ];
        if !where_.is_empty() {
            parts.push(where_.join(" "));
        }
        if let Some(a) = self.attempt {
            parts.push(format!("attempt {a}"));
        }
        let data = describe(&self.data);
        if !data.is_empty() {
            parts.push(data);
        }
        parts.join(" ").trim_end().to_owned()
    }
}

/// An event's data as `key=value` words for people: nothing for null, false or empty values,
/// commit ids shortened, a multi-line text cut to its first line, nested values compact.
pub fn describe(data: &Value) -> String {
    let Value::Object(o) = data else {
        return short(data);
    };
    o.iter()
        .filter(|(_, v)| !matches!(v, Value::Null | Value::Bool(false)))
        .filter(|(_, v)| !is_empty(v))
        .map(|(k, v)| match v {
            Value::Bool(true) => k.clone(),
            // A claim: who holds it.
            Value::Object(c) if c.contains_key("host") && c.contains_key("pid") => {
                format!("{k}={}:{}", short(&c["host"]), c["pid"])
            }
            v => format!("{k}={}", short(v)),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) if s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit()) => {
            s[..12].to_owned()
        }
        Value::String(s) => {
            let first = s.lines().next().unwrap_or("");
            let cut: String = first.chars().take(120).collect();
            let more = if cut.len() < s.trim_end().len() {
                "…"
            } else {
                ""
            };
            if cut.contains(' ') || cut.is_empty() {
                format!("{:?}", format!("{cut}{more}"))
            } else {
                format!("{cut}{more}")
            }
        }
        Value::Array(a) if a.iter().all(|x| !x.is_object() && !x.is_array()) => {
            a.iter().map(short).collect::<Vec<_>>().join(",")
        }
        Value::Object(_) | Value::Array(_) => {
            let text = v.to_string();
            if text.chars().count() > 80 {
                format!("{}…", text.chars().take(80).collect::<String>())
            } else {
                text
            }
        }
        other => other.to_string(),
    }
}

/// Parses a log; lines that do not parse are skipped (and counted).
pub fn parse(text: &str) -> (Vec<Event>, usize) {
    let mut bad = 0;
    let events = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| match serde_json::from_str(l) {
            Ok(e) => Some(e),
            Err(_) => {
                bad += 1;
                None
            }
        })
        .collect();
    (events, bad)
}

/// The events of `text`, as [`parse`] reads them, when the events of an earlier version of the
/// log are known: the log only grows by appended lines, so when `known_text` is a prefix of
/// `text` ending where a line ends, only the rest is parsed. Otherwise the whole text is.
pub fn parse_after(text: &str, known_text: &str, known: &[Event]) -> Vec<Event> {
    let at_line_end = known_text.is_empty()
        || known_text.ends_with('\n')
        || text[known_text.len().min(text.len())..].starts_with('\n');
    if !(text.starts_with(known_text) && at_line_end) {
        return parse(text).0;
    }
    let (rest, _) = parse(&text[known_text.len()..]);
    let mut all = Vec::with_capacity(known.len() + rest.len());
    all.extend_from_slice(known);
    all.extend(rest);
    all
}

/// Appends events to a log text, numbering them after the last one.
pub fn append(text: &mut String, events: &mut [Event], last_seq: u64, at: &str) {
    let mut seq = last_seq;
    for e in events.iter_mut() {
        seq += 1;
        e.seq = seq;
        if e.at.is_empty() {
            e.at = at.to_owned();
        }
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&serde_json::to_string(e).expect("events serialise"));
        text.push('\n');
    }
}

/// The ids of every run the log has recorded an outcome of.
pub fn recorded_runs(events: &[Event]) -> std::collections::HashSet<&str> {
    events
        .iter()
        .filter(|e| e.kind.is_run_outcome())
        .filter_map(|e| e.run.as_deref())
        .collect()
}

/// The event that dispatched `run` (`feature.dispatched`), if the log holds one.
pub fn dispatch_of<'e>(events: &'e [Event], run: &str) -> Option<&'e Event> {
    events
        .iter()
        .rev()
        .find(|e| e.kind == Kind::FeatureDispatched && e.run.as_deref() == Some(run))
}

/// Whether the log already holds the outcome of `run`.
pub fn run_recorded(events: &[Event], run: &str) -> bool {
    events
        .iter()
        .any(|e| e.run.as_deref() == Some(run) && e.kind.is_run_outcome())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_keeps_its_log_name_and_unknown_kinds_survive() {
        for name in Kind::ALL {
            let kind = Kind::parse(name);
            assert!(!matches!(kind, Kind::Other(_)), "{name}");
            assert_eq!(kind.as_str(), *name);
            let json = serde_json::to_string(&kind).expect("json");
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Kind>(&json).expect("back"), kind);
        }
        // A kind written by a newer version is read and written back unchanged.
        let line =
            r#"{"seq":1,"at":"2026-01-01T00:00:00Z","type":"mission.teleported","data":null}"#;
        let (evs, bad) = parse(line);
        assert_eq!(bad, 0);
        assert_eq!(evs[0].kind, Kind::Other("mission.teleported".into()));
        assert!(
            serde_json::to_string(&evs[0])
                .expect("json")
                .contains("\"mission.teleported\"")
        );
        assert!(Kind::RunFinished.is_run_outcome() && !Kind::RunStarted.is_run_outcome());
    }

    #[test]
    fn append_numbers_and_parses_back() {
        let mut text = String::new();
        let mut evs = vec![
            Event::new(Kind::MissionStarted),
            Event::new(Kind::FeatureDispatched)
                .feature("F1")
                .run("r1", 1),
        ];
        append(&mut text, &mut evs, 0, "2026-11-21T10:00:00Z");
        let mut more = vec![
            Event::new(Kind::RunFinished)
                .run("r1", 1)
                .data(serde_json::json!({"ok": true})),
        ];
        append(&mut text, &mut more, 2, "2026-11-21T10:01:00Z");
        let (back, bad) = parse(&format!("{text}garbage\n"));
        assert_eq!(bad, 1);
        assert_eq!(back.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(back[1].feature.as_deref(), Some("F1"));
        assert_eq!(back[2].data["ok"], true);
        assert!(text.contains("\"type\":\"feature.dispatched\""));
    }

    #[test]
    fn a_log_read_after_a_known_prefix_is_the_log_read_whole() {
        let line = |kind: Kind, seq: u64| {
            let mut e = Event::new(kind).feature("F1");
            e.seq = seq;
            e.at = "2026-01-01T00:00:00Z".into();
            serde_json::to_string(&e).expect("json") + "\n"
        };
        let known_text = line(Kind::FeatureDispatched, 1) + &line(Kind::RunFinished, 2);
        let text = known_text.clone() + &line(Kind::FeatureMerged, 3) + "not json\n";
        let known = parse(&known_text).0;
        let whole = parse(&text).0;
        // Appended lines: only they are parsed, and the known events are taken as they are.
        assert_eq!(parse_after(&text, &known_text, &known), whole);
        let marked = [
            Event::new(Kind::MissionPaused),
            Event::new(Kind::MissionPaused),
        ];
        assert_eq!(
            parse_after(&text, &known_text, &marked)[..2],
            marked,
            "the known events are reused"
        );
        // A known log without its last newline still ends where a line ends.
        let bare = known_text.trim_end();
        assert_eq!(parse_after(&text, bare, &parse(bare).0), whole);
        // Nothing known, a log rewritten (not a prefix), a prefix ending inside a line: the
        // whole text is read.
        assert_eq!(parse_after(&text, "", &[]), whole);
        let other = line(Kind::MissionPaused, 1);
        assert_eq!(parse_after(&text, &other, &marked), whole);
        let half = &known_text[..known_text.len() / 2];
        assert_eq!(parse_after(&text, half, &marked), whole);
        assert_eq!(parse_after(half, &known_text, &marked), parse(half).0);
    }

    #[test]
    fn people_read_event_data_as_words() {
        let data = serde_json::json!({
            "base": "main",
            "commit": "728e15f347f42e179323633a0a5fbf657b1ce851",
            "usd": null,
            "conflict": false,
            "cancelled": true,
            "files": ["a.txt", "b.txt"],
            "failure": "check `make` failed (exit 2):\nlots\nof output",
            "claim": {"host": "vm", "pid": 42, "since": "x"},
            "kept_theirs": [],
        });
        assert_eq!(
            describe(&data),
            "base=main commit=728e15f347f4 cancelled files=a.txt,b.txt failure=\"check `make` failed (exit 2):…\" claim=vm:42"
        );
        let e = Event::new(Kind::MissionCompleted);
        assert!(
            !e.human().ends_with(' '),
            "no trailing space: {:?}",
            e.human()
        );
    }
}

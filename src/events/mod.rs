//! The event log `todo/missions/<id>/events.jsonl` (PRODUCT.md §2.2): one JSON object per
//! line, appended in the same commit as the state change it describes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at: String,
    #[serde(rename = "type")]
    pub kind: String,
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
    pub fn new(kind: &str) -> Event {
        Event {
            seq: 0,
            at: String::new(),
            kind: kind.to_owned(),
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
        let attempt = self
            .attempt
            .map(|a| format!(" attempt {a}"))
            .unwrap_or_default();
        let data = match &self.data {
            Value::Null => String::new(),
            Value::Object(o) if o.is_empty() => String::new(),
            d => format!(" {d}"),
        };
        format!(
            "{:>5} {} {:<20} {}{attempt}{data}",
            self.seq,
            self.at,
            self.kind,
            where_.join(" ")
        )
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

/// Whether the log already holds the outcome of `run`.
pub fn run_recorded(events: &[Event], run: &str) -> bool {
    events.iter().any(|e| {
        e.run.as_deref() == Some(run) && e.kind.starts_with("run.") && e.kind != "run.started"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_numbers_and_parses_back() {
        let mut text = String::new();
        let mut evs = vec![
            Event::new("mission.started"),
            Event::new("feature.dispatched").feature("F1").run("r1", 1),
        ];
        append(&mut text, &mut evs, 0, "2026-11-21T10:00:00Z");
        let mut more = vec![
            Event::new("run.finished")
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
}

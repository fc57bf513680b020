//! Server-sent events framing, shared by the streaming answers of every API.
//!
//! The whole stream is built up front and sent as one body: the fake model has nothing to
//! wait for, and clients parse `text/event-stream` incrementally either way.

use serde_json::Value;

#[derive(Default)]
pub(crate) struct Sse {
    out: String,
}

impl Sse {
    /// An event with an `event:` name line (Anthropic, OpenAI Responses).
    pub(crate) fn event(&mut self, name: &str, data: &Value) {
        self.out.push_str("event: ");
        self.out.push_str(name);
        self.out.push('\n');
        self.data(data);
    }

    /// A data-only event (OpenAI Chat Completions, Gemini).
    pub(crate) fn data(&mut self, data: &Value) {
        self.out.push_str("data: ");
        self.out.push_str(&data.to_string());
        self.out.push_str("\n\n");
    }

    /// A raw data line, for Chat Completions' closing `[DONE]`.
    pub(crate) fn raw(&mut self, data: &str) {
        self.out.push_str("data: ");
        self.out.push_str(data);
        self.out.push_str("\n\n");
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// Splits `text` into a few chunks, so streamed answers arrive as several deltas as real ones
/// do (clients that only handle a single delta would be caught).
pub(crate) fn chunks(text: &str) -> Vec<String> {
    const SIZE: usize = 16;
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        cur.push(ch);
        if cur.len() >= SIZE {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() || out.is_empty() {
        out.push(cur);
    }
    out
}

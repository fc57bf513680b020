//! Output: data to stdout (text or JSON), messages to stderr, colour per `--color`/`NO_COLOR`.

use std::io::Write;

use anstream::ColorChoice;
use anstyle::{AnsiColor, Style};
use serde::Serialize;

use super::{Cli, ColorWhen, exit};
use crate::error::Error;
use crate::mission::{Diagnostic, Severity};

pub struct Out {
    pub json: bool,
    pub quiet: bool,
    choice: ColorChoice,
}

const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();
const HINT: Style = AnsiColor::Cyan.on_default();

impl Out {
    pub fn new(cli: &Cli) -> Out {
        let choice = match cli.color {
            ColorWhen::Always => ColorChoice::Always,
            ColorWhen::Never => ColorChoice::Never,
            ColorWhen::Auto => ColorChoice::Auto,
        };
        Out {
            json: cli.json,
            quiet: cli.quiet,
            choice,
        }
    }

    fn stdout(&self) -> anstream::AutoStream<std::io::Stdout> {
        anstream::AutoStream::new(std::io::stdout(), self.choice)
    }

    fn stderr(&self) -> anstream::AutoStream<std::io::Stderr> {
        anstream::AutoStream::new(std::io::stderr(), self.choice)
    }

    /// Prints data on stdout.
    pub fn data(&self, text: &str) {
        fn put(mut w: impl Write, text: &str) {
            let _ = w.write_all(text.as_bytes());
            if !text.ends_with('\n') && !text.is_empty() {
                let _ = w.write_all(b"\n");
            }
        }
        // Text without escape codes goes out as it is: stripping scans every byte and writes
        // between codes, which a 10,000-row table pays for.
        if text.contains('\x1b') {
            put(self.stdout(), text);
        } else {
            put(std::io::stdout().lock(), text);
        }
    }

    /// Prints a value as pretty JSON on stdout.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(s) => self.data(&s),
            Err(e) => self.message(ERROR, "error", &format!("cannot serialise JSON: {e}")),
        }
    }

    /// A note on stderr (suppressed by -q).
    pub fn note(&self, text: &str) {
        if !self.quiet {
            let _ = writeln!(self.stderr(), "{text}");
        }
    }

    pub fn hint(&self, text: &str) {
        if !self.quiet {
            self.message(HINT, "hint", text);
        }
    }

    pub fn warning(&self, text: &str) {
        self.message(WARNING, "warning", text);
    }

    fn message(&self, style: Style, label: &str, text: &str) {
        let _ = writeln!(self.stderr(), "{style}{label}:{style:#} {text}");
    }

    /// Diagnostics as `file:line:col: severity: message` (+ hint), to stdout or stderr, in
    /// one write (a 10,000-feature plan can have 10,000 warnings).
    pub fn diagnostics(&self, file: &str, ds: &[Diagnostic], to_stdout: bool) {
        use std::fmt::Write as _;
        // Styles only where they are kept, so the text is written once, as it is.
        let choice = if to_stdout {
            self.stdout().current_choice()
        } else {
            self.stderr().current_choice()
        };
        let coloured = choice != ColorChoice::Never;
        let paint = |s: Style| if coloured { s } else { Style::new() };
        let mut text = String::with_capacity(ds.len() * 120);
        for d in ds {
            let (style, label) = match d.severity {
                Severity::Error => (paint(ERROR), "error"),
                Severity::Warning => (paint(WARNING), "warning"),
            };
            let _ = writeln!(
                text,
                "{file}:{}:{}: {style}{label}:{style:#} {}",
                d.line, d.column, d.message
            );
            if let Some(h) = &d.hint {
                let hint = paint(HINT);
                let _ = writeln!(text, "  {hint}hint:{hint:#} {h}");
            }
        }
        if to_stdout {
            self.data(&text);
        } else {
            let _ = self.stderr().write_all(text.as_bytes());
        }
    }

    /// Reports an error and returns its exit code: `error:`, a `caused by:` line for each
    /// source the message does not already carry, then the `hint:`.
    pub fn error(&self, e: &Error) -> u8 {
        let causes = causes(e);
        let (code, hint) = Self::classify(e);
        if self.json {
            #[derive(Serialize)]
            struct J<'a> {
                error: String,
                #[serde(skip_serializing_if = "<[String]>::is_empty")]
                causes: &'a [String],
                #[serde(skip_serializing_if = "Option::is_none")]
                hint: Option<&'a str>,
                #[serde(skip_serializing_if = "Option::is_none")]
                diagnostics: Option<&'a [Diagnostic]>,
            }
            let diagnostics = match e {
                Error::Invalid { diagnostics, .. } => Some(diagnostics.as_slice()),
                _ => None,
            };
            self.json(&J {
                error: e.to_string(),
                causes: &causes,
                hint,
                diagnostics,
            });
        }
        match e {
            Error::Invalid { file, diagnostics } => {
                self.diagnostics(file, diagnostics, false);
                self.message(
                    ERROR,
                    "error",
                    &format!("{file} is invalid; nothing was changed"),
                );
            }
            Error::Internal(_) | Error::Failed { .. } => {
                self.message(ERROR, "error", &format!("internal error: {e}"));
            }
            Error::User { message, .. } => self.message(ERROR, "error", message),
            _ => self.message(ERROR, "error", &e.to_string()),
        }
        for c in &causes {
            self.message(ERROR, "caused by", c);
        }
        if let Some(h) = hint {
            self.hint(h);
        }
        code
    }

    /// The exit code of an error, and the hint it gets.
    fn classify(e: &Error) -> (u8, Option<&str>) {
        match e {
            Error::User { hint, .. } => (exit::USER, hint.as_deref()),
            Error::Git(g) if g.is_bug() => (exit::BUG, Some(BUG)),
            Error::Git(g) => (exit::USER, g.hint()),
            Error::Invalid { .. } | Error::Io { .. } => (exit::USER, None),
            Error::Spawn { .. } => (
                exit::USER,
                Some(
                    "install the program, or fix the command in the profile or mission file; it runs without a shell",
                ),
            ),
            Error::Store(_)
            | Error::GitHub(crate::forge::github::GitHubError::LeaseLost { .. }) => (
                exit::USER,
                Some("nothing was changed; run the command again"),
            ),
            Error::GitHub(_) => (
                exit::USER,
                Some("nothing was planned on partial information; the next pulse observes again"),
            ),
            Error::Internal(_) | Error::Failed { .. } => (exit::BUG, Some(BUG)),
        }
    }
}

const BUG: &str = "this is a bug in git-mission; please report it with the command you ran";

/// The chain of sources of `e` that its message does not already carry.
fn causes(e: &Error) -> Vec<String> {
    let shown = e.to_string();
    let mut out = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !shown.contains(&text) && !out.contains(&text) {
            out.push(text);
        }
        source = s.source();
    }
    out
}

/// A table in the house style: one rule under the header, no borders, no width games.
pub fn table(header: &[&str]) -> Table {
    Table {
        header: header.iter().map(|h| (*h).to_owned()).collect(),
        rows: Vec::new(),
    }
}

/// Rows under a header, each cell padded by one space, columns as wide as their widest cell
/// (display width), a rule of `─` under the header. Linear in the cells: a status of 10,000
/// features lays out in a few milliseconds.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn add_row(&mut self, row: Vec<String>) -> &mut Table {
        self.rows.push(row);
        self
    }
}

/// A table's text, without trailing spaces.
pub fn table_text(t: &Table) -> String {
    use unicode_width::UnicodeWidthStr;
    // Display width; the common ASCII cell is its length (a 10,000-row table measures 60,000).
    let width = |c: &str| if c.is_ascii() { c.len() } else { c.width() };
    let cols = t.header.len();
    let mut widths: Vec<usize> = t.header.iter().map(|h| width(h)).collect();
    for r in &t.rows {
        for (i, c) in r.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(width(c));
        }
    }
    let line_len: usize = widths.iter().map(|w| w + 2).sum::<usize>() + cols;
    let mut out = String::with_capacity(line_len * (t.rows.len() + 2));
    let line = |out: &mut String, cells: &[String]| {
        let start = out.len();
        for (i, w) in widths.iter().enumerate() {
            let c = cells.get(i).map_or("", String::as_str);
            if i > 0 {
                out.push(' ');
            }
            out.push(' ');
            out.push_str(c);
            out.extend(std::iter::repeat_n(' ', w.saturating_sub(width(c)) + 1));
        }
        let kept = out[start..].trim_end().len();
        out.truncate(start + kept);
    };
    line(&mut out, &t.header);
    // The rule fills each cell, its padding included, with a space between cells.
    for (i, w) in widths.iter().enumerate() {
        out.push(if i == 0 { '\n' } else { ' ' });
        out.extend(std::iter::repeat_n('─', w + 2));
    }
    for r in &t.rows {
        out.push('\n');
        line(&mut out, r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_by_display_width_with_a_rule_under_the_header() {
        let mut t = table(&["", "Title", "Status"]);
        t.add_row(vec!["M1".into(), "Wörter 字".into(), "passed".into()]);
        t.add_row(vec!["  F1".into(), "A greeting".into(), String::new()]);
        assert_eq!(
            table_text(&t),
            "        Title        Status\n────── ──────────── ────────\n M1     Wörter 字    passed\n   F1   A greeting"
        );
    }

    #[test]
    fn causes_list_what_the_message_does_not_already_say() {
        let e = Error::failed(
            "reading mission/m",
            std::io::Error::other("permission denied"),
        );
        assert_eq!(causes(&e), ["permission denied"]);
        // An I/O error's message already carries its source: nothing is repeated.
        let io = Error::io("todo/x")(std::io::Error::other("permission denied"));
        assert!(causes(&io).is_empty());
        assert!(causes(&Error::user("no")).is_empty());
    }
}

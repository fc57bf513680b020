//! A mission file as text plus its parsed frontmatter: split, parse with located errors, and
//! rewrite with the smallest possible change.
//!
//! Rewriting follows one rule: a file the tool wrote is re-rendered canonically (so renders
//! are deterministic and diffs small); a hand-formatted file is patched in place, value by
//! value, keeping its comments and layout; only when a patch cannot express the change is the
//! frontmatter normalised, and the caller is told. The body is never touched here.

use super::diag::Diagnostic;
use super::model::Mission;
use super::patch;
use super::render::render_frontmatter;
use super::yaml::{NodeKind, Seg, SpanIndex, YamlPath};

/// A parsed mission file.
#[derive(Debug, Clone)]
pub struct MissionDoc {
    text: String,
    fm_start: usize,
    fm_end: usize,
    body_start: usize,
    pub mission: Mission,
    /// The quick reader's tree of the frontmatter, kept by [`MissionDoc::parse_indexed`] so that
    /// positions need no second pass.
    tree: Option<std::sync::Arc<super::quick::Tree>>,
    /// Whether the frontmatter is what the canonical renderer writes, once asked (every state
    /// commit asks, and a commit's document is kept for the next).
    canonical: std::sync::OnceLock<bool>,
}

/// How `MissionDoc::rewrite` produced the new frontmatter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    /// The file was canonical and was re-rendered canonically.
    Canonical,
    /// Hand formatting was kept; only changed values were edited.
    Patched,
    /// Hand formatting could not be kept; the frontmatter was rendered canonically.
    Normalized,
}

impl MissionDoc {
    /// Parses a whole mission file. The error is located in file coordinates.
    pub fn parse(text: String) -> Result<MissionDoc, Diagnostic> {
        Self::parse_keeping(text, false)
    }

    /// [`MissionDoc::parse`], keeping what the parse learnt of where each value is, for a
    /// caller that will locate many diagnostics (`validate`): the text is then read once.
    pub fn parse_indexed(text: String) -> Result<MissionDoc, Diagnostic> {
        Self::parse_keeping(text, true)
    }

    fn parse_keeping(text: String, keep_tree: bool) -> Result<MissionDoc, Diagnostic> {
        let (fm_start, fm_end, body_start) = split(&text)?;
        let (mission, tree) =
            read_located(&text[fm_start..fm_end], "mission").map_err(|mut d| {
                d.line += 1; // the opening `---` line
                d
            })?;
        Ok(MissionDoc {
            text,
            fm_start,
            fm_end,
            body_start,
            mission,
            tree: tree.filter(|_| keep_tree).map(std::sync::Arc::new),
            canonical: std::sync::OnceLock::new(),
        })
    }

    /// Builds a new file from a mission and a body.
    pub fn compose(mission: &Mission, body: &str) -> String {
        format!("---\n{}---\n{body}", render_frontmatter(mission))
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn frontmatter(&self) -> &str {
        &self.text[self.fm_start..self.fm_end]
    }

    pub fn body(&self) -> &str {
        &self.text[self.body_start..]
    }

    /// 1-based file line where the body starts.
    pub fn body_line(&self) -> usize {
        self.text[..self.body_start].matches('\n').count() + 1
    }

    /// True when the frontmatter is exactly what the canonical renderer writes.
    pub fn is_canonical(&self) -> bool {
        *self
            .canonical
            .get_or_init(|| render_frontmatter(&self.mission) == self.frontmatter())
    }

    /// The span index of the frontmatter (line numbers in frontmatter coordinates).
    pub fn span_index(&self) -> SpanIndex {
        if let Some(tree) = &self.tree {
            return SpanIndex::from_tree(self.frontmatter(), tree.clone());
        }
        SpanIndex::quick(self.frontmatter())
            .unwrap_or_else(|| SpanIndex::build(self.frontmatter()).unwrap_or_default())
    }

    /// The file text with `new` as its frontmatter; the body is kept byte for byte.
    pub fn rewrite(&self, new: &Mission) -> (String, Rewrite) {
        let (fm, how) = if self.is_canonical() {
            (render_frontmatter(new), Rewrite::Canonical)
        } else {
            match patch::patch(self.frontmatter(), &self.mission, new) {
                Some(fm) => (fm, Rewrite::Patched),
                None => (render_frontmatter(new), Rewrite::Normalized),
            }
        };
        let mut out = String::with_capacity(self.text.len() + 64);
        out.push_str(&self.text[..self.fm_start]);
        out.push_str(&fm);
        out.push_str(&self.text[self.fm_end..]);
        (out, how)
    }

    /// The file text with a new body; the frontmatter is kept byte for byte.
    pub fn with_body(&self, body: &str) -> String {
        format!("{}{body}", &self.text[..self.body_start])
    }

    /// This document with a new body: the same frontmatter, so the same mission (what parsing
    /// [`MissionDoc::with_body`]'s text would give, without the parse).
    pub fn with_new_body(mut self, body: &str) -> MissionDoc {
        self.text.truncate(self.body_start);
        self.text.push_str(body);
        self
    }
}

/// Finds the frontmatter: returns (yaml start, yaml end, body start) byte offsets.
fn split(text: &str) -> Result<(usize, usize, usize), Diagnostic> {
    let first_end = text.find('\n').map_or(text.len(), |i| i + 1);
    if text[..first_end].trim_end() != "---" {
        return Err(Diagnostic::error(
            "no-frontmatter",
            (1, 1),
            "missing YAML frontmatter: the file must start with a line `---`".into(),
        )
        .hint(
            "a mission file is `---`, YAML, `---`, then Markdown; `git mission new` writes one",
        ));
    }
    let mut pos = first_end;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
        let line = text[pos..end].trim_end();
        if line == "---" || line == "..." {
            return Ok((first_end, pos, end));
        }
        pos = end;
    }
    Err(Diagnostic::error(
        "unclosed-frontmatter",
        (1, 1),
        "the frontmatter is never closed".into(),
    )
    .hint("add a line `---` after the YAML frontmatter, before the Markdown body"))
}

/// Parses frontmatter YAML into the model; errors are in frontmatter coordinates.
pub fn parse_frontmatter(fm: &str) -> Result<Mission, Diagnostic> {
    parse_located(fm, "mission")
}

/// The largest front matter (or config file) parsed: a 10,000-feature mission is about 3 MB.
pub const MAX_YAML_BYTES: usize = 32 << 20;
/// The deepest `[`/`{` nesting parsed: a mission file needs 3; a parser's cost grows with it.
/// The quick reader leaves anything deeper to the slow path, which refuses it here.
pub const MAX_FLOW_DEPTH: usize = super::quick::MAX_DEPTH;

/// Refuses, with a located error, YAML too large or too deeply nested to be a mission: the
/// parser's time grows faster than linearly with flow nesting (64,000 `[` took 10 s).
pub fn check_bounds(yaml: &str) -> Result<(), Diagnostic> {
    if yaml.len() > MAX_YAML_BYTES {
        return Err(Diagnostic::error(
            "too-large",
            (1, 1),
            format!(
                "the YAML is {} bytes, more than the {} this tool reads",
                yaml.len(),
                MAX_YAML_BYTES
            ),
        ));
    }
    let (mut line, mut col, mut depth) = (1usize, 0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut prev = '\n';
    let mut chars = yaml.chars().peekable();
    while let Some(c) = chars.next() {
        col += 1;
        if c == '\n' {
            (line, col, comment) = (line + 1, 0, false);
            prev = c;
            continue;
        }
        match quote {
            _ if comment => {}
            Some('"') if c == '\\' => {
                chars.next();
                col += 1;
            }
            Some(q) if c == q => {
                if q == '\'' && chars.peek() == Some(&'\'') {
                    chars.next();
                    col += 1;
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None => match c {
                '#' if prev.is_whitespace() => comment = true,
                '"' | '\''
                    if depth > 0 || matches!(prev, ' ' | ':' | '-' | '\n' | ',' | '[' | '{') =>
                {
                    quote = Some(c);
                }
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Err(Diagnostic::error(
                            "too-deep",
                            (line, col),
                            format!("brackets nested more than {MAX_FLOW_DEPTH} deep"),
                        )
                        .hint("a mission file nests a few levels; this one is not a mission"));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        prev = c;
    }
    Ok(())
}

/// Parses a YAML document into `T`; an error is located (in `text` coordinates) and worded
/// with `root_noun` naming the top-level mapping.
pub fn parse_located<T: serde::de::DeserializeOwned>(
    fm: &str,
    root_noun: &'static str,
) -> Result<T, Diagnostic> {
    read_located(fm, root_noun).map(|(value, _)| value)
}

/// [`parse_located`], with the quick reader's tree when it read the text.
fn read_located<T: serde::de::DeserializeOwned>(
    fm: &str,
    root_noun: &'static str,
) -> Result<(T, Option<super::quick::Tree>), Diagnostic> {
    // The fast reader answers for the YAML mission files are written in (it reads in linear
    // time, nesting at most MAX_FLOW_DEPTH); anything else, and every error, is read (and
    // worded) by serde_norway, which the bounds protect.
    if fm.len() <= MAX_YAML_BYTES
        && let Some(tree) = super::quick::parse(fm)
        && let Some(value) = tree.deserialize(fm)
    {
        return Ok((value, Some(tree)));
    }
    check_bounds(fm)?;
    let de = serde_norway::Deserializer::from_str(fm);
    serde_path_to_error::deserialize(de)
        .map(|v| (v, None))
        .map_err(|e| {
            // Only a failed parse pays for the span index.
            let index =
                match SpanIndex::build(fm) {
                    Ok(index) => index,
                    Err(e) => {
                        return Diagnostic::error(
                    "yaml-syntax",
                    (e.line, e.column),
                    format!("invalid YAML: {}", e.message),
                )
                .hint("check indentation, quoting and brackets on this line or the one before");
                    }
                };
            let path = convert_path(e.path());
            let inner = e.into_inner();
            let message = strip_location(&inner.to_string());
            if path.0.is_empty()
                && !matches!(
                    index.get(&YamlPath::root()).map(|n| n.kind),
                    Some(NodeKind::Mapping { .. })
                )
            {
                return Diagnostic::error(
                    "frontmatter-not-mapping",
                    (1, 1),
                    "the frontmatter must be a YAML mapping of `key: value` lines".into(),
                )
                .hint("start from `git mission new`, or see docs/mission-file.md");
            }
            if index.get(&path).is_none()
                && !message.starts_with("unknown field")
                && !message.starts_with("missing field")
            {
                // libyaml rejected something saphyr accepted: report libyaml's own position.
                if let Some(loc) = inner.location() {
                    return Diagnostic::error(
                        "yaml-syntax",
                        (loc.line(), loc.column()),
                        format!("invalid YAML: {message}"),
                    );
                }
            }
            schema_error(fm, &index, &path, &message, root_noun)
        })
}

fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains(" column ") => msg[..i].to_owned(),
        _ => msg.to_owned(),
    }
}

fn convert_path(p: &serde_path_to_error::Path) -> YamlPath {
    use serde_path_to_error::Segment;
    YamlPath(
        p.iter()
            .filter_map(|s| match s {
                Segment::Seq { index } => Some(Seg::Index(*index)),
                Segment::Map { key } => Some(Seg::Key(key.clone())),
                Segment::Enum { .. } | Segment::Unknown => None,
            })
            .collect(),
    )
}

/// What a path points into, for messages: "feature", "milestone", ...
pub fn owner_noun(path: &YamlPath) -> &'static str {
    let keys: Vec<&str> = path
        .0
        .iter()
        .map(|s| match s {
            Seg::Key(k) => k.as_str(),
            Seg::Index(_) => "[]",
        })
        .collect();
    match keys.as_slice() {
        [] => "mission",
        ["milestones", "[]", "features", "[]", "origin", ..] => "feature origin",
        ["milestones", "[]", "features", "[]", ..] => "feature",
        ["milestones", "[]", "validation", "user_testing", ..] => "user_testing",
        ["milestones", "[]", "validation", ..] => "milestone validation",
        ["milestones", "[]", ..] => "milestone",
        ["contract", "[]", ..] => "contract assertion",
        ["resources", "[]", ..] => "resource",
        ["profiles", _, ..] => "profile",
        [k, ..] => match *k {
            "approved" => "approval",
            "block" => "block",
            "limits" => "limits",
            "budget" => "budget",
            "spent" => "spent",
            "agents" => "agents",
            "models" => "models",
            _ => "mission",
        },
    }
}

fn backticked(msg: &str) -> Vec<&str> {
    msg.split('`').skip(1).step_by(2).collect()
}

/// Turns a serde error at `path` into a located, friendly diagnostic.
fn schema_error(
    fm: &str,
    index: &SpanIndex,
    path: &YamlPath,
    message: &str,
    root_noun: &'static str,
) -> Diagnostic {
    let owner_noun = |p: &YamlPath| match owner_noun(p) {
        "mission" => root_noun,
        n => n,
    };
    let message = clean_message(message);
    let field = path.last_key().unwrap_or("value");
    if message.starts_with("unknown variant") {
        let ticks = backticked(&message);
        let (value, expected) = ticks.split_first().map_or(("", &[][..]), |(v, e)| (*v, e));
        let owner = path.parent().map(|p| owner_noun(&p)).unwrap_or(root_noun);
        let what = if field == "status" || field == "reason" {
            format!("{owner} {field}")
        } else {
            field.to_owned()
        };
        return Diagnostic::error(
            "unknown-value",
            index.locate(path),
            format!(
                "unknown {what} {value:?} (expected one of {})",
                expected.join(", ")
            ),
        )
        .hint("the allowed values are listed in docs/mission-file.md");
    }
    if message.starts_with("unknown field") {
        let ticks = backticked(&message);
        let key = ticks.first().copied().unwrap_or("");
        let owner = owner_noun(path);
        let d = Diagnostic::error(
            "unknown-key",
            index.locate_key(&path.key(key)),
            format!("unknown key {key:?} in {owner}"),
        );
        return match (owner, key) {
            ("mission", "features") => d.hint(
                "features live only inside a milestone: move them under `milestones: - id: M1 ... features:`",
            ),
            _ if ticks.len() > 1 => d.hint(format!("expected one of {}", ticks[1..].join(", "))),
            _ => d.hint("this key is not part of the format (docs/mission-file.md)"),
        };
    }
    if message.starts_with("missing field") {
        let key = backticked(&message)
            .first()
            .copied()
            .unwrap_or("")
            .to_owned();
        let owner = owner_noun(path);
        return Diagnostic::error(
            "missing-key",
            index.locate(path),
            format!("{owner} is missing the required key {key:?}"),
        )
        .hint(format!("add `{key}: ...` to this {owner}"));
    }
    let found = index
        .get(path)
        .map(|n| fm[n.start..n.end].trim().to_owned())
        .filter(|t| !t.is_empty() && !t.contains('\n'));
    if matches!(field, "at" | "since") {
        return Diagnostic::error(
            "bad-timestamp",
            index.locate(path),
            format!(
                "{path}: invalid timestamp {}",
                found.as_deref().unwrap_or("")
            ),
        )
        .hint("write times in RFC 3339, like 2026-11-21T10:00:00Z");
    }
    let expected = message
        .rsplit_once(", expected ")
        .map(|(_, e)| e.to_owned());
    let friendly = expected.as_deref().map(|e| match e {
        "u32" | "u64" | "usize" => "a whole number".to_owned(),
        "f64" | "f32" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a sequence" => "a list like [a, b]".to_owned(),
        e if e.starts_with("struct ") => "a mapping of `key: value` lines".to_owned(),
        e => e.to_owned(),
    });
    let shown = if path.0.is_empty() {
        root_noun.to_owned()
    } else {
        path.to_string()
    };
    let d = match (&found, &friendly) {
        (Some(v), Some(f)) => Diagnostic::error(
            "invalid-value",
            index.locate(path),
            format!("{shown}: expected {f}, found {v}"),
        ),
        _ => Diagnostic::error(
            "invalid-value",
            index.locate(path),
            format!("{shown}: {message}"),
        ),
    };
    d.hint(format!(
        "check the type of `{field}` in docs/mission-file.md"
    ))
}

/// serde_norway prefixes messages with the path and suffixes them with the location; both
/// are reported separately here.
fn clean_message(msg: &str) -> String {
    let msg = strip_location(msg);
    match msg.split_once(": ") {
        Some((head, rest)) if !head.is_empty() && !head.contains(' ') => rest.to_owned(),
        _ => msg,
    }
}

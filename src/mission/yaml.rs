//! YAML helpers the mission file needs beyond serde: a span index (where each node of the
//! frontmatter starts and ends, so diagnostics can name `line:column` and edits can be
//! surgical) and scalar formatting for the canonical renderer.
//!
//! Typed (de)serialisation is serde_norway's job; this module only locates and formats.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::quick;

/// One step of a path into the YAML tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path into the frontmatter, e.g. `milestones[0].features[1].status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct YamlPath(pub Vec<Seg>);

impl YamlPath {
    pub fn root() -> Self {
        YamlPath(Vec::new())
    }
    pub fn key(&self, k: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_owned()));
        p
    }
    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
    pub fn parent(&self) -> Option<Self> {
        let mut p = self.clone();
        p.0.pop().map(|_| p)
    }
    pub fn last_key(&self) -> Option<&str> {
        self.0.iter().rev().find_map(|s| match s {
            Seg::Key(k) => Some(k.as_str()),
            Seg::Index(_) => None,
        })
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// What kind of node sits at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Scalar(ScalarStyle),
    Mapping { flow: bool },
    Sequence { flow: bool },
}

/// Where a node is. Lines and columns are 1-based; byte offsets index the parsed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSpan {
    pub kind: NodeKind,
    pub line: usize,
    pub column: usize,
    pub start: usize,
    pub end: usize,
    /// Where the mapping key naming this node starts (line, column), if it is a map value.
    pub key_pos: Option<(usize, usize)>,
}

/// A YAML syntax error with its position (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Every node of a YAML document, by path.
#[derive(Debug, Default)]
pub struct SpanIndex {
    nodes: HashMap<YamlPath, NodeSpan>,
    /// The fast reader's tree, when it read the text: nodes are found by walking it.
    quick: Option<Quick>,
    /// Top-level keys in document order.
    pub top_keys: Vec<String>,
}

#[derive(Debug)]
struct Quick {
    text: String,
    tree: std::sync::Arc<quick::Tree>,
    /// Byte offset where each line starts.
    lines: Vec<usize>,
}

impl Quick {
    fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.lines.partition_point(|&start| start <= offset);
        let start = self.lines[line - 1];
        (line, self.text[start..offset].chars().count() + 1)
    }

    fn get(&self, path: &YamlPath) -> Option<NodeSpan> {
        let steps = path.0.iter().map(|seg| match seg {
            Seg::Key(k) => quick::Step::Key(k),
            Seg::Index(i) => quick::Step::Index(*i),
        });
        let place = self.tree.find(&self.text, steps)?;
        let (line, column) = self.position(place.start);
        Some(NodeSpan {
            kind: match place.kind {
                quick::PlaceKind::Scalar(style) => NodeKind::Scalar(match style {
                    quick::Style::Plain => ScalarStyle::Plain,
                    quick::Style::Single => ScalarStyle::SingleQuoted,
                    quick::Style::Double => ScalarStyle::DoubleQuoted,
                    quick::Style::Literal => ScalarStyle::Literal,
                }),
                quick::PlaceKind::Mapping { flow } => NodeKind::Mapping { flow },
                quick::PlaceKind::Sequence { flow } => NodeKind::Sequence { flow },
            },
            line,
            column,
            start: place.start,
            end: place.end,
            key_pos: place.key.map(|k| self.position(k)),
        })
    }
}

enum Frame {
    Map {
        path: YamlPath,
        pending_key: Option<(String, (usize, usize))>,
    },
    Seq {
        path: YamlPath,
        next: usize,
    },
}

impl SpanIndex {
    /// The index of `text` as the fast reader sees it (nodes found on demand, nothing hashed),
    /// or `None` when that reader leaves the text to the full parser ([`SpanIndex::build`]).
    /// Positions are the same as `build`'s, and so are the ends of what a rewrite replaces
    /// (scalars, flow collections).
    pub fn quick(text: &str) -> Option<SpanIndex> {
        let tree = quick::parse(text)?;
        Some(Self::from_tree(text, std::sync::Arc::new(tree)))
    }

    /// The index of `text` from the quick reader's tree of it.
    pub fn from_tree(text: &str, tree: std::sync::Arc<quick::Tree>) -> SpanIndex {
        let lines = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SpanIndex {
            nodes: HashMap::new(),
            top_keys: tree.top_keys(text),
            quick: Some(Quick {
                text: text.to_owned(),
                tree,
                lines,
            }),
        }
    }

    /// Parse `text` and record the span of every node.
    pub fn build(text: &str) -> Result<SpanIndex, SyntaxError> {
        let offsets = CharOffsets::new(text);
        let mut index = SpanIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        while let Some(next) = parser.next_event() {
            let (event, span) = next.map_err(|e| SyntaxError {
                line: e.marker().line(),
                column: e.marker().col() + 1,
                message: e.info().to_owned(),
            })?;
            match event {
                Event::Scalar(value, style, ..) => {
                    // A scalar in key position names the next node rather than being one.
                    if let Some(Frame::Map { pending_key, .. }) = stack.last_mut()
                        && pending_key.is_none()
                    {
                        let pos = (span.start.line(), span.start.col() + 1);
                        *pending_key = Some((value.into_owned(), pos));
                        continue;
                    }
                    let path = index.record(&mut stack, NodeKind::Scalar(style), span, &offsets);
                    // saphyr's span of a quoted scalar runs on over a comment after it: end it
                    // at the closing quote, so a rewrite replaces the value and keeps the comment.
                    if let Some(node) = index.nodes.get_mut(&path)
                        && let Some(end) = quoted_end(text, node.start, style)
                    {
                        node.end = node.end.min(end);
                    }
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let is_map = matches!(event, Event::MappingStart(..));
                    let start = offsets.byte(span.start.index());
                    let flow = text[start..].starts_with(if is_map { '{' } else { '[' });
                    let kind = if is_map {
                        NodeKind::Mapping { flow }
                    } else {
                        NodeKind::Sequence { flow }
                    };
                    let path = index.record(&mut stack, kind, span, &offsets);
                    stack.push(if is_map {
                        Frame::Map {
                            path,
                            pending_key: None,
                        }
                    } else {
                        Frame::Seq { path, next: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    let frame = stack.pop();
                    let path = match &frame {
                        Some(Frame::Map { path, .. }) | Some(Frame::Seq { path, .. }) => path,
                        None => continue,
                    };
                    let end = offsets.byte(span.end.index());
                    if let Some(node) = index.nodes.get_mut(path) {
                        node.end = node.end.max(end);
                    }
                }
                _ => {}
            }
        }
        Ok(index)
    }

    fn record(
        &mut self,
        stack: &mut [Frame],
        kind: NodeKind,
        span: Span,
        offsets: &CharOffsets,
    ) -> YamlPath {
        let (path, key_pos) = match stack.last_mut() {
            Some(Frame::Map { path, pending_key }) => match pending_key.take() {
                Some((k, pos)) => (path.key(&k), Some(pos)),
                // A complex (non-scalar) key: index it under a name no lookup will ask for.
                None => (path.key("\u{0}complex-key"), None),
            },
            Some(Frame::Seq { path, next }) => {
                *next += 1;
                (path.index(*next - 1), None)
            }
            None => (YamlPath::root(), None),
        };
        if path.0.len() == 1
            && let Some(Seg::Key(k)) = path.0.first()
        {
            self.top_keys.push(k.clone());
        }
        self.nodes.insert(
            path.clone(),
            NodeSpan {
                kind,
                line: span.start.line(),
                column: span.start.col() + 1,
                start: offsets.byte(span.start.index()),
                end: offsets.byte(span.end.index()),
                key_pos,
            },
        );
        path
    }

    /// The node at exactly this path.
    pub fn get(&self, path: &YamlPath) -> Option<NodeSpan> {
        match &self.quick {
            Some(q) => q.get(path),
            None => self.nodes.get(path).copied(),
        }
    }

    /// The position of the node at `path`, or of its nearest ancestor that exists.
    pub fn locate(&self, path: &YamlPath) -> (usize, usize) {
        let mut p = path.clone();
        loop {
            if let Some(n) = self.get(&p) {
                return (n.line, n.column);
            }
            if p.0.pop().is_none() {
                return (1, 1);
            }
        }
    }

    /// The position of the key naming `path` (falls back to the node itself).
    pub fn locate_key(&self, path: &YamlPath) -> (usize, usize) {
        match self.get(path).and_then(|n| n.key_pos) {
            Some(pos) => pos,
            None => self.locate(path),
        }
    }
}

/// Where the quoted scalar starting at byte `start` of `text` ends (just after its closing
/// quote); `None` for other styles.
fn quoted_end(text: &str, start: usize, style: ScalarStyle) -> Option<usize> {
    let quote = match style {
        ScalarStyle::SingleQuoted => b'\'',
        ScalarStyle::DoubleQuoted => b'"',
        _ => return None,
    };
    let bytes = text.as_bytes();
    if bytes.get(start) != Some(&quote) {
        return None;
    }
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            // `''` is a quote inside single quotes; `\x` an escape inside double quotes.
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b'\\' if quote == b'"' => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Converts saphyr's character indices to byte offsets.
struct CharOffsets {
    /// Byte offset of each char, plus the text length; empty for ASCII text (identity).
    table: Vec<usize>,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        if text.is_ascii() {
            return CharOffsets { table: Vec::new() };
        }
        let mut table: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        table.push(text.len());
        CharOffsets { table }
    }
    fn byte(&self, char_index: usize) -> usize {
        if self.table.is_empty() {
            char_index
        } else {
            self.table[char_index.min(self.table.len() - 1)]
        }
    }
}

/// Formats a string as a YAML scalar that reads back as exactly this string.
///
/// `flow` is for scalars inside `{...}` or `[...]`, where more characters need quoting.
pub fn scalar(s: &str, flow: bool) -> String {
    if plain_is_safe(s, flow) {
        s.to_owned()
    } else {
        // A JSON string is a valid YAML double-quoted scalar.
        serde_json::to_string(s).expect("serialising a str cannot fail")
    }
}

/// Formats a string in block context, using a literal block (`|`) for multi-line text.
/// `indent` is the indentation of the block's content lines.
pub fn block_text(s: &str, indent: usize) -> String {
    let literal_ok = s.contains('\n')
        && !s.starts_with([' ', '\t', '\n'])
        && s.chars()
            .all(|c| c == '\n' || (!c.is_control() && c != '\u{feff}'))
        && !s.lines().any(|l| l.ends_with([' ', '\t']));
    if !literal_ok {
        return scalar(s, false);
    }
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let pad = " ".repeat(indent);
    let mut out = format!("|{chomp}");
    for line in s[..if trailing > 1 {
        s.len() - 1
    } else {
        body.len()
    }]
        .split('\n')
    {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

fn plain_is_safe(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !(first.is_alphanumeric() || first == '_' || first == '/') || s.ends_with(' ') {
        return false;
    }
    if is_reserved_word(s) || looks_numeric(s) {
        return false;
    }
    let bytes = s.as_bytes();
    for (i, c) in s.char_indices() {
        let ok = match c {
            c if c.is_alphanumeric() => true,
            '_' | '-' | '.' | '/' | '@' | '+' | '(' | ')' | '=' | '%' | '?' | '!' | ';' | '~'
            | '$' | '^' => true,
            ' ' => bytes.get(i + 1).is_some_and(|b| *b != b' ' && *b != b'#'),
            ',' => !flow,
            ':' => !flow && bytes.get(i + 1).is_some_and(|b| *b != b' '),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

fn is_reserved_word(s: &str) -> bool {
    matches!(
        s.to_ascii_lowercase().as_str(),
        "null" | "~" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    )
}

fn looks_numeric(s: &str) -> bool {
    // Anything that starts like a number and is made of number-ish characters (YAML 1.1 ints
    // with `_`, sexagesimals `1:20`, hex, octal, dates) is quoted to stay unambiguous.
    s.parse::<f64>().is_ok()
        || s.starts_with(|c: char| c.is_ascii_digit())
            && s.chars().all(|c| {
                c.is_ascii_hexdigit()
                    || matches!(c, '_' | ':' | '.' | '-' | '+' | 'x' | 'o' | 'T' | 'Z')
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_what_yaml_would_misread() {
        assert_eq!(scalar("main", false), "main");
        assert_eq!(scalar("2h", false), "2h");
        assert_eq!(scalar("cargo test --locked", false), "cargo test --locked");
        for &s in crate::mission::testcorpus::MISREAD {
            let out = scalar(s, false);
            assert_ne!(out, s, "{s:?} must be quoted");
            let back: String = serde_norway::from_str(&out).expect("reparses");
            assert_eq!(back, s);
        }
        assert_eq!(scalar("a, b", true), "\"a, b\"");
        assert_eq!(scalar("a:b", true), "\"a:b\"");
    }

    #[test]
    fn literal_blocks_keep_exact_text() {
        for s in ["a\nb", "a\nb\n", "a\n\nb\n\n", "x\n  indented\n"] {
            let text = format!("k: {}\n", block_text(s, 2));
            let back: std::collections::BTreeMap<String, String> =
                serde_norway::from_str(&text).expect("reparses");
            assert_eq!(back["k"], s, "{text}");
        }
    }

    #[test]
    fn index_locates_nested_nodes() {
        let text = "a: 1\nlist:\n  - {id: F1, x: [1, 2]}\n  - id: F2\n    deep: yes\n";
        let idx = SpanIndex::build(text).expect("valid");
        let p = YamlPath::root().key("list").index(1).key("deep");
        assert_eq!(idx.locate(&p), (5, 11));
        assert_eq!(idx.locate_key(&p), (5, 5));
        let f1 = YamlPath::root().key("list").index(0).key("id");
        let n = idx.get(&f1).expect("indexed");
        assert_eq!(&text[n.start..n.end], "F1");
        assert_eq!(idx.top_keys, vec!["a", "list"]);
        let missing = YamlPath::root().key("list").index(0).key("nope");
        assert_eq!(idx.locate(&missing), (3, 5));
    }

    #[test]
    fn the_quick_index_places_nodes_where_the_full_one_does() {
        let mut texts: Vec<String> = crate::mission::testcorpus::frontmatters()
            .into_iter()
            .map(|(_, fm)| fm)
            .collect();
        texts.push("a: 1\nlist:\n  - {id: F1, x: [1, 2]}\n  - id: F2\n    deep: yes\n".into());
        texts.push("k: 'é' # x\nl:\n- \"ü\": |\n    text\n\n  m: [a, 'b']\n".into());
        let (mut compared, mut ends) = (0, 0);
        for text in &texts {
            let (Ok(full), Some(quick)) = (SpanIndex::build(text), SpanIndex::quick(text)) else {
                continue;
            };
            assert_eq!(quick.top_keys, full.top_keys);
            for (path, want) in &full.nodes {
                if path
                    .0
                    .iter()
                    .any(|s| matches!(s, Seg::Key(k) if k.starts_with('\0')))
                {
                    continue;
                }
                let got = quick
                    .get(path)
                    .unwrap_or_else(|| panic!("{path} in {text}"));
                let empty = matches!(want.kind, NodeKind::Scalar(_)) && want.start == want.end;
                if !empty {
                    assert_eq!(
                        (got.line, got.column),
                        (want.line, want.column),
                        "{path}\n{text}"
                    );
                    assert_eq!(got.kind, want.kind, "{path}");
                    // What a rewrite replaces must end where the full parser says it ends.
                    let replaceable = match want.kind {
                        NodeKind::Scalar(style) => {
                            !matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
                        }
                        NodeKind::Mapping { flow } | NodeKind::Sequence { flow } => flow,
                    };
                    let (g, w) = (&text[got.start..got.end], &text[want.start..want.end]);
                    assert!(!replaceable || g == w, "{path}: {g:?} / {w:?}\n{text}");
                    ends += usize::from(replaceable);
                }
                assert_eq!(got.key_pos, want.key_pos, "{path}\n{text}");
                compared += 1;
            }
        }
        assert!(compared > 1000 && ends > 500, "{compared} {ends}");
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = SpanIndex::build("a: [1, 2\nb: 3\n").expect_err("unterminated");
        assert!(err.line >= 1 && err.column >= 1, "{err:?}");
    }
}

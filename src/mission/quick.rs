//! A fast reader for the YAML mission files are written in: block mappings and sequences,
//! one-line flow collections, plain, quoted and literal (`|`) scalars, comments.
//!
//! It builds a small tree (byte offsets into the text, values borrowed where they can be) in
//! one pass and deserialises the model from it with the same scalar rules as serde_norway, so
//! a 10,000-feature mission is read several times faster than through libyaml's event list.
//! It is a fast path, never the judge: on anything it does not handle (anchors, tags,
//! multi-line plain or quoted scalars, folded scalars, tabs, duplicate keys, any error) it
//! answers `None` and the caller reads the text with serde_norway, whose result and errors
//! stay the contract. Values it does produce are the ones serde_norway would (checked
//! against it by the tests in this file on every construct it accepts).

use std::fmt;

use serde::de::{self, DeserializeSeed, Visitor};

/// Deepest nesting read, as `doc::MAX_FLOW_DEPTH`; deeper text goes to the slow path (which
/// refuses it).
pub const MAX_DEPTH: usize = 64;
/// libyaml refuses a mapping key longer than 1024 characters; longer keys go to the slow path.
const MAX_KEY: usize = 1000;

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

/// What a node is. A scalar's value is its own text (inside the quotes for a quoted one) or,
/// when decoding changed it, `owned[a]`; a collection's children are a run of
/// `Arena::children` from `a`: their count, then their ids (key and value alternating in a
/// mapping). So a node is 16 bytes and the tree makes no allocation per collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scalar(Style),
    Owned(Style),
    Map,
    Seq,
}

#[derive(Debug)]
struct Node {
    /// Byte offsets of the node in the text (for a block collection, its first key or `-`).
    start: u32,
    end: u32,
    a: u32,
    kind: Kind,
    flow: bool,
}

const _: () = assert!(std::mem::size_of::<Node>() == 16);

#[derive(Debug, Default)]
struct Arena {
    nodes: Vec<Node>,
    children: Vec<u32>,
    owned: Vec<Box<str>>,
}

impl Arena {
    /// A scalar node's text (`None` for a collection).
    fn scalar<'s>(&'s self, text: &'s str, id: u32) -> Option<&'s str> {
        let n = &self.nodes[id as usize];
        let (start, end) = (n.start as usize, n.end as usize);
        match n.kind {
            Kind::Scalar(Style::Plain) => Some(&text[start..end]),
            Kind::Scalar(_) => Some(&text[start + 1..end - 1]),
            Kind::Owned(_) => Some(&self.owned[n.a as usize]),
            Kind::Map | Kind::Seq => None,
        }
    }
    /// A collection's children (key and value ids alternate in a mapping's).
    fn children(&self, id: u32) -> &[u32] {
        let first = self.nodes[id as usize].a as usize;
        let len = self.children[first] as usize;
        &self.children[first + 1..first + 1 + len]
    }
}

/// The parsed document.
#[derive(Debug)]
pub struct Tree {
    arena: Arena,
    root: u32,
}

/// Where a node is, as the span index reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    pub start: usize,
    pub end: usize,
    pub kind: PlaceKind,
    /// Byte offset of the key naming this node, when it is a mapping value.
    pub key: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceKind {
    Scalar(Style),
    Mapping { flow: bool },
    Sequence { flow: bool },
}

/// A step of a path: a mapping key or a sequence index.
pub enum Step<'p> {
    Key(&'p str),
    Index(usize),
}

impl Tree {
    /// The node at the end of `path` in the tree of `text`, or `None` when a step does not
    /// exist.
    pub fn find<'p>(&self, text: &str, path: impl IntoIterator<Item = Step<'p>>) -> Option<Place> {
        let a = &self.arena;
        let mut id = self.root;
        let mut key = None;
        for step in path {
            match (a.nodes[id as usize].kind, step) {
                (Kind::Map, Step::Key(k)) => {
                    let pair = a
                        .children(id)
                        .chunks_exact(2)
                        .find(|pair| a.scalar(text, pair[0]) == Some(k))?;
                    key = Some(a.nodes[pair[0] as usize].start as usize);
                    id = pair[1];
                }
                (Kind::Seq, Step::Index(i)) => {
                    id = *a.children(id).get(i)?;
                    key = None;
                }
                _ => return None,
            }
        }
        let n = &a.nodes[id as usize];
        Some(Place {
            start: n.start as usize,
            end: n.end as usize,
            kind: match n.kind {
                Kind::Scalar(style) | Kind::Owned(style) => PlaceKind::Scalar(style),
                Kind::Map => PlaceKind::Mapping { flow: n.flow },
                Kind::Seq => PlaceKind::Sequence { flow: n.flow },
            },
            key,
        })
    }

    /// The root mapping's keys, in document order.
    pub fn top_keys(&self, text: &str) -> Vec<String> {
        let a = &self.arena;
        match a.nodes[self.root as usize].kind {
            Kind::Map => a
                .children(self.root)
                .chunks_exact(2)
                .filter_map(|pair| a.scalar(text, pair[0]).map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Deserialises `T` from the tree; `None` when serde refuses (the slow path then reports
    /// the error in its own words).
    pub fn deserialize<T: de::DeserializeOwned>(&self, text: &str) -> Option<T> {
        T::deserialize(De {
            tree: self,
            text,
            id: self.root,
        })
        .ok()
    }
}

/// Reads `text`, or `None` when it uses anything this reader leaves to serde_norway.
pub fn parse(text: &str) -> Option<Tree> {
    if text.len() >= (u32::MAX / 2) as usize || !plain_characters(text.as_bytes()) {
        return None;
    }
    let mut p = P {
        s: text,
        b: text.as_bytes(),
        pos: 0,
        line: 0,
        ind: None,
        depth: 0,
        // Sized for the densest text mission files have (a node per 6 bytes, in one-line flow
        // mappings), so the arena never grows by copying; pages never written cost nothing.
        arena: Arena {
            nodes: Vec::with_capacity(text.len() / 6 + 16),
            children: Vec::with_capacity(text.len() / 8 + 16),
            owned: Vec::new(),
        },
        scratch: Vec::with_capacity(64),
    };
    p.next_content().ok()?;
    let indent = p.ind?;
    let root = p.node_at(indent, None).ok()?;
    if p.ind.is_some() {
        return None; // content less indented than the root: not one node
    }
    Some(Tree {
        arena: p.arena,
        root,
    })
}

/// False when the text has a character libyaml reads differently from a plain printable one
/// (tabs, carriage returns, controls, a byte-order mark, Unicode line separators).
fn plain_characters(b: &[u8]) -> bool {
    // Most text is printable ASCII: 32 bytes at a time, without a branch per byte.
    let printable = |c: u8| (0x20..0x7f).contains(&c) | (c == b'\n');
    b.chunks(32).enumerate().all(|(k, chunk)| {
        chunk.iter().fold(true, |ok, &c| ok & printable(c)) || {
            let base = k * 32;
            (base..base + chunk.len()).all(|i| plain_at(b, i))
        }
    })
}

/// Whether the byte at `i` starts nothing libyaml reads specially (see `plain_characters`).
fn plain_at(b: &[u8], i: usize) -> bool {
    match b[i] {
        b'\n' => true,
        0..=0x1f | 0x7f => false,
        0xc2 => !matches!(b.get(i + 1), Some(0x80..=0x9f)),
        0xe2 => !(b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xa8 | 0xa9))),
        0xef => !matches!(
            (b.get(i + 1), b.get(i + 2)),
            (Some(0xbb), Some(0xbf)) | (Some(0xbf), Some(0xbe | 0xbf))
        ),
        _ => true,
    }
}

/// Bytes that end or interrupt a plain scalar's run of ordinary bytes: in block context, and
/// inside `[...]`/`{...}`.
const BLOCK_STOP: [bool; 256] = stops(b"\n: ");
const FLOW_STOP: [bool; 256] = stops(b"\n: ,[]{}");

const fn stops(bytes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    t
}

/// Anything the fast reader leaves to the slow one.
struct Bail;
type R<T> = Result<T, Bail>;

struct P<'a> {
    s: &'a str,
    b: &'a [u8],
    pos: usize,
    /// Byte offset where the current line starts.
    line: usize,
    /// Indentation of the line `pos` is on, once at its content; `None` at the end.
    ind: Option<usize>,
    depth: usize,
    arena: Arena,
    /// Children of the collections being read, innermost last.
    scratch: Vec<u32>,
}

impl<'a> P<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }
    fn at(&self, i: usize) -> Option<u8> {
        self.b.get(i).copied()
    }
    fn blank_or_end(&self, i: usize) -> bool {
        matches!(self.at(i), None | Some(b' ' | b'\n'))
    }
    fn push(&mut self, kind: Kind, (start, end): (usize, usize), a: u32, flow: bool) -> u32 {
        self.arena.nodes.push(Node {
            start: start as u32,
            end: end as u32,
            a,
            kind,
            flow,
        });
        (self.arena.nodes.len() - 1) as u32
    }
    fn node(&self, id: u32) -> &Node {
        &self.arena.nodes[id as usize]
    }
    fn own(&mut self, value: String) -> u32 {
        self.arena.owned.push(value.into());
        (self.arena.owned.len() - 1) as u32
    }
    /// Moves the children gathered since `mark` into the arena (their count first); returns
    /// where they start.
    fn settle(&mut self, mark: usize) -> u32 {
        let first = self.arena.children.len() as u32;
        let count = (self.scratch.len() - mark) as u32;
        self.arena.children.push(count);
        self.arena.children.extend_from_slice(&self.scratch[mark..]);
        self.scratch.truncate(mark);
        first
    }
    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Bail);
        }
        Ok(())
    }

    /// From a line start, skips blank and comment lines; leaves `pos` at the next content
    /// and `ind` at its indentation (`None` at the end of the text).
    fn next_content(&mut self) -> R<()> {
        loop {
            self.line = self.pos;
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            match self.peek() {
                None => {
                    self.ind = None;
                    return Ok(());
                }
                Some(b'\n') => self.pos += 1,
                Some(b'#') => self.skip_line(),
                Some(c) => {
                    let ind = self.pos - self.line;
                    if c == b'%'
                        || ind == 0
                            && (self.s[self.pos..].starts_with("---")
                                || self.s[self.pos..].starts_with("..."))
                            && self.blank_or_end(self.pos + 3)
                    {
                        return Err(Bail);
                    }
                    self.ind = Some(ind);
                    return Ok(());
                }
            }
        }
    }

    fn skip_line(&mut self) {
        match self.s[self.pos..].find('\n') {
            Some(i) => self.pos += i + 1,
            None => self.pos = self.b.len(),
        }
    }

    /// After a value: spaces, an optional comment, the end of the line, then the next content.
    fn end_line(&mut self) -> R<()> {
        let before = self.pos;
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        match self.peek() {
            None => {}
            Some(b'\n') => self.pos += 1,
            Some(b'#') if self.pos > before => self.skip_line(),
            _ => return Err(Bail),
        }
        self.next_content()
    }

    fn is_seq_entry(&self) -> bool {
        self.peek() == Some(b'-') && self.blank_or_end(self.pos + 1)
    }

    /// A block node whose first character is at `pos`, in column `col`; `parent` is the
    /// indentation of the collection holding it (for a literal scalar's content).
    fn node_at(&mut self, col: usize, parent: Option<usize>) -> R<u32> {
        self.enter()?;
        let id = if self.is_seq_entry() {
            self.block_seq(col)?
        } else {
            match self.peek().ok_or(Bail)? {
                b'[' | b'{' => {
                    let id = self.flow_node()?;
                    self.end_line()?;
                    id
                }
                b'|' => self.literal(parent)?,
                b'\'' | b'"' => {
                    let id = self.quoted()?;
                    let after = self.pos;
                    while self.peek() == Some(b' ') {
                        self.pos += 1;
                    }
                    if self.peek() == Some(b':') && self.blank_or_end(self.pos + 1) {
                        self.check_key(id)?;
                        self.pos += 1;
                        self.block_map(col, id)?
                    } else {
                        self.pos = after;
                        self.end_line()?;
                        id
                    }
                }
                _ => {
                    let (id, colon) = self.plain_block()?;
                    if colon {
                        self.check_key(id)?;
                        self.pos += 1;
                        self.block_map(col, id)?
                    } else {
                        self.end_line()?;
                        id
                    }
                }
            }
        };
        self.depth -= 1;
        Ok(id)
    }

    fn check_key(&self, id: u32) -> R<()> {
        let n = self.node(id);
        match self.arena.scalar(self.s, id) {
            Some(k) if (n.end - n.start) as usize <= MAX_KEY && k != "<<" => Ok(()),
            _ => Err(Bail),
        }
    }

    /// A block mapping in column `n` whose first key is parsed and whose `:` was consumed.
    fn block_map(&mut self, n: usize, first: u32) -> R<u32> {
        let start = self.node(first).start as usize;
        let mark = self.scratch.len();
        let mut key = first;
        loop {
            let value = self.map_value(n)?;
            self.scratch.extend([key, value]);
            match self.ind {
                Some(i) if i == n && !self.is_seq_entry() => {
                    key = match self.peek() {
                        Some(b'\'' | b'"') => {
                            let id = self.quoted()?;
                            while self.peek() == Some(b' ') {
                                self.pos += 1;
                            }
                            if self.peek() != Some(b':') || !self.blank_or_end(self.pos + 1) {
                                return Err(Bail);
                            }
                            id
                        }
                        _ => match self.plain_block()? {
                            (id, true) => id,
                            (_, false) => return Err(Bail),
                        },
                    };
                    self.check_key(key)?;
                    self.pos += 1;
                }
                Some(i) if i >= n => return Err(Bail),
                _ => break,
            }
        }
        self.no_duplicates(mark)?;
        Ok(self.map_node(mark, start, false))
    }

    /// The mapping whose key and value ids are on the scratch stack from `mark`.
    fn map_node(&mut self, mark: usize, start: usize, flow: bool) -> u32 {
        let end = match self.scratch.last() {
            Some(&v) if !flow => self.node(v).end as usize,
            _ => self.pos,
        };
        let first = self.settle(mark);
        self.push(Kind::Map, (start, end), first, flow)
    }

    fn seq_node(&mut self, mark: usize, start: usize, flow: bool) -> u32 {
        let end = match self.scratch.last() {
            Some(&v) if !flow => self.node(v).end as usize,
            _ => self.pos,
        };
        let first = self.settle(mark);
        self.push(Kind::Seq, (start, end), first, flow)
    }

    /// Refuses a mapping (its pairs on the scratch stack from `mark`) that repeats a key.
    fn no_duplicates(&self, mark: usize) -> R<()> {
        let pairs = &self.scratch[mark..];
        let key = |i: usize| self.arena.scalar(self.s, pairs[2 * i]).unwrap_or("");
        let n = pairs.len() / 2;
        if n > 16 {
            let mut seen = std::collections::HashSet::with_capacity(n);
            if !(0..n).all(|i| seen.insert(key(i))) {
                return Err(Bail);
            }
        } else {
            // Each key read once; most pairs differ in length, compared first.
            let mut keys = [""; 16];
            for (i, k) in keys.iter_mut().enumerate().take(n) {
                *k = key(i);
            }
            let keys = &keys[..n];
            if (1..n).any(|i| keys[..i].contains(&keys[i])) {
                return Err(Bail);
            }
        }
        Ok(())
    }

    /// The value after a block mapping key's `:` (mapping in column `n`).
    fn map_value(&mut self, n: usize) -> R<u32> {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        match self.peek() {
            None | Some(b'\n') | Some(b'#') => {
                let at = self.pos;
                // `:` is followed by a blank, so a `#` here starts a comment.
                self.skip_line();
                self.next_content()?;
                match self.ind {
                    Some(i) if i > n => {
                        let col = i;
                        self.node_at(col, Some(n))
                    }
                    Some(i) if i == n && self.is_seq_entry() => {
                        self.enter()?;
                        let id = self.block_seq(n)?;
                        self.depth -= 1;
                        // saphyr places a sequence as indented as its key at its first item.
                        if self.node(id).kind == Kind::Seq {
                            let item = self.arena.children(id)[0];
                            self.arena.nodes[id as usize].start = self.node(item).start;
                        }
                        Ok(id)
                    }
                    _ => Ok(self.push(Kind::Scalar(Style::Plain), (at, at), 0, false)),
                }
            }
            Some(_) => {
                if self.is_seq_entry() {
                    return Err(Bail); // `key: - x` is not YAML
                }
                let col = self.pos - self.line;
                let id = self.node_at(col, Some(n))?;
                let node = self.node(id);
                if node.kind == Kind::Map && !node.flow {
                    return Err(Bail); // `a: b: c`
                }
                match self.ind {
                    Some(i) if i > n => Err(Bail), // a continuation line
                    _ => Ok(id),
                }
            }
        }
    }

    /// A block sequence whose `-` entries are in column `n`; `pos` is at the first `-`.
    fn block_seq(&mut self, n: usize) -> R<u32> {
        let start = self.pos;
        let mark = self.scratch.len();
        loop {
            let dash = self.pos;
            self.pos += 1;
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            let item = match self.peek() {
                None | Some(b'\n') | Some(b'#') => {
                    self.skip_line();
                    self.next_content()?;
                    match self.ind {
                        Some(i) if i > n => self.node_at(i, Some(n))?,
                        _ => self.push(Kind::Scalar(Style::Plain), (dash + 1, dash + 1), 0, false),
                    }
                }
                Some(_) => {
                    let col = self.pos - self.line;
                    self.node_at(col, Some(n))?
                }
            };
            self.scratch.push(item);
            match self.ind {
                Some(i) if i == n && self.is_seq_entry() => {}
                Some(i) if i > n => return Err(Bail),
                _ => break,
            }
        }
        Ok(self.seq_node(mark, start, false))
    }

    /// A plain scalar in block context; true when it ends at a `: ` (it is a key).
    fn plain_block(&mut self) -> R<(u32, bool)> {
        let (start, end, colon_at) = self.plain(false)?;
        self.pos = colon_at.unwrap_or(end);
        let id = self.push(Kind::Scalar(Style::Plain), (start, end), 0, false);
        Ok((id, colon_at.is_some()))
    }

    /// A plain scalar inside `[...]` or `{...}`: ends at `,`, a bracket, `: ` or the line's end.
    fn plain_flow(&mut self) -> R<u32> {
        let (start, end, _) = self.plain(true)?;
        self.pos = end;
        Ok(self.push(Kind::Scalar(Style::Plain), (start, end), 0, true))
    }

    /// Scans a plain scalar from `pos`: its (start, end) without trailing spaces, and where a
    /// `: ` after it is (it is then a key). Inside a flow collection it also ends at `,` and
    /// brackets.
    fn plain(&self, flow: bool) -> R<(usize, usize, Option<usize>)> {
        let (start, b) = (self.pos, self.b);
        self.plain_start()?;
        let stop = if flow { &FLOW_STOP } else { &BLOCK_STOP };
        let (mut end, mut i) = (start, start);
        loop {
            let run = i;
            while i < b.len() && !stop[b[i] as usize] {
                i += 1;
            }
            if i > run {
                end = i;
            }
            match b.get(i) {
                Some(b' ') => {
                    while b.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    if b.get(i) == Some(&b'#') {
                        break; // a comment
                    }
                }
                Some(b':') if self.blank_or_end(i + 1) => return Ok((start, end, Some(i))),
                // libyaml refuses `:` before a flow indicator; before anything else it is text.
                Some(b':')
                    if flow
                        && matches!(
                            b.get(i + 1),
                            Some(b',' | b'?' | b'[' | b']' | b'{' | b'}')
                        ) =>
                {
                    return Err(Bail);
                }
                Some(b':') => {
                    i += 1;
                    end = i;
                }
                _ => break, // a flow indicator, the end of the line or of the text
            }
        }
        // `end` follows an ASCII byte or a whole run: always a character boundary.
        Ok((start, end, None))
    }

    /// Refuses a plain scalar starting with an indicator libyaml treats specially.
    fn plain_start(&self) -> R<()> {
        match self.peek().ok_or(Bail)? {
            b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
            | b'"' | b'%' | b'@' | b'`' | b'?' | b':' => Err(Bail),
            b'-' if self.blank_or_end(self.pos + 1)
                || matches!(
                    self.at(self.pos + 1),
                    Some(b',' | b'[' | b']' | b'{' | b'}')
                ) =>
            {
                Err(Bail)
            }
            _ => Ok(()),
        }
    }

    /// Spaces inside a flow collection (a flow collection spanning lines goes to the slow path).
    fn flow_space(&mut self) -> R<()> {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        match self.peek() {
            None | Some(b'\n' | b'#') => Err(Bail),
            _ => Ok(()),
        }
    }

    fn flow_item(&mut self) -> R<u32> {
        match self.peek().ok_or(Bail)? {
            b'[' | b'{' => self.flow_node(),
            b'\'' | b'"' => self.quoted(),
            _ => self.plain_flow(),
        }
    }

    /// `[...]` or `{...}` on one line.
    fn flow_node(&mut self) -> R<u32> {
        self.enter()?;
        let start = self.pos;
        let map = self.b[self.pos] == b'{';
        let close = if map { b'}' } else { b']' };
        self.pos += 1;
        let mark = self.scratch.len();
        loop {
            self.flow_space()?;
            if self.peek() == Some(close) {
                break;
            }
            if map {
                let key = match self.peek() {
                    Some(b'\'' | b'"') => self.quoted()?,
                    _ => self.plain_flow()?,
                };
                self.check_key(key)?;
                self.flow_space()?;
                if self.peek() != Some(b':') || !self.blank_or_end(self.pos + 1) {
                    return Err(Bail);
                }
                self.pos += 1;
                self.flow_space()?;
                if matches!(self.peek(), Some(b',' | b'}')) {
                    return Err(Bail);
                }
                let value = self.flow_item()?;
                self.scratch.extend([key, value]);
            } else {
                let item = self.flow_item()?;
                self.scratch.push(item);
            }
            self.flow_space()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => break,
                _ => return Err(Bail),
            }
        }
        self.pos += 1;
        self.depth -= 1;
        if map {
            self.no_duplicates(mark)?;
            Ok(self.map_node(mark, start, true))
        } else {
            Ok(self.seq_node(mark, start, true))
        }
    }

    /// A single- or double-quoted scalar on one line.
    fn quoted(&mut self) -> R<u32> {
        let start = self.pos;
        let q = self.b[start];
        let mut i = start + 1;
        let mut owned: Option<String> = None;
        let mut run = i; // start of the bytes not yet copied into `owned`
        loop {
            let c = *self.b.get(i).ok_or(Bail)?;
            match c {
                b'\n' => return Err(Bail),
                b'\'' if q == b'\'' => {
                    if self.at(i + 1) == Some(b'\'') {
                        let o = owned.get_or_insert_with(String::new);
                        o.push_str(&self.s[run..=i]);
                        i += 2;
                        run = i;
                        continue;
                    }
                    break;
                }
                b'"' if q == b'"' => break,
                b'\\' if q == b'"' => {
                    let o = owned.get_or_insert_with(String::new);
                    o.push_str(&self.s[run..i]);
                    let (ch, len) = self.escape(i + 1)?;
                    o.push(ch);
                    i += 1 + len;
                    run = i;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        self.pos = i + 1;
        let style = if q == b'"' {
            Style::Double
        } else {
            Style::Single
        };
        Ok(match owned {
            Some(mut o) => {
                o.push_str(&self.s[run..i]);
                let a = self.own(o);
                self.push(Kind::Owned(style), (start, self.pos), a, false)
            }
            None => self.push(Kind::Scalar(style), (start, self.pos), 0, false),
        })
    }

    /// The character a double-quoted escape at `i` (after the backslash) stands for, and the
    /// bytes it takes.
    fn escape(&self, i: usize) -> R<(char, usize)> {
        let simple = match self.at(i).ok_or(Bail)? {
            b'0' => '\0',
            b'a' => '\u{7}',
            b'b' => '\u{8}',
            b't' => '\t',
            b'n' => '\n',
            b'v' => '\u{b}',
            b'f' => '\u{c}',
            b'r' => '\r',
            b'e' => '\u{1b}',
            b' ' => ' ',
            b'"' => '"',
            b'\\' => '\\',
            b'x' => return self.hex(i + 1, 2),
            b'u' => return self.hex(i + 1, 4),
            b'U' => return self.hex(i + 1, 8),
            _ => return Err(Bail),
        };
        Ok((simple, 1))
    }

    fn hex(&self, i: usize, digits: usize) -> R<(char, usize)> {
        let text = self.s.get(i..i + digits).ok_or(Bail)?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Bail);
        }
        let code = u32::from_str_radix(text, 16).map_err(|_| Bail)?;
        Ok((char::from_u32(code).ok_or(Bail)?, 1 + digits))
    }

    /// A literal block scalar (`|`, `|-`, `|+`) whose indicator is at `pos`; `parent` is the
    /// indentation of the collection holding it.
    fn literal(&mut self, parent: Option<usize>) -> R<u32> {
        let start = self.pos;
        self.pos += 1;
        let chomp = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                b'-'
            }
            Some(b'+') => {
                self.pos += 1;
                b'+'
            }
            _ => b' ',
        };
        // The header ends the line: spaces and a comment at most.
        let before = self.pos;
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'\n') => self.pos += 1,
            Some(b'#') if self.pos > before => self.skip_line(),
            _ => return Err(Bail),
        }
        // Lines: blank ones (spaces only) and content ones, until a less indented content line.
        let mut lines: Vec<(usize, usize)> = Vec::new(); // (line start, line end) byte offsets
        let mut indent: Option<usize> = None;
        let mut leading_blank = 0usize;
        let mut first = start; // where the first content line's text starts
        let mut pos = self.pos;
        while pos < self.b.len() {
            let end = self.s[pos..].find('\n').map_or(self.b.len(), |i| pos + i);
            let spaces = self.b[pos..end].iter().take_while(|&&c| c == b' ').count();
            let blank = pos + spaces == end;
            match indent {
                None if blank => leading_blank = leading_blank.max(spaces),
                None => {
                    if parent.is_some_and(|p| spaces <= p) || spaces < leading_blank {
                        return Err(Bail); // an empty block scalar, or an over-indented blank
                    }
                    indent = Some(spaces);
                    first = pos + spaces;
                }
                Some(m) if !blank && spaces < m => break,
                Some(m) if blank && spaces > m => return Err(Bail),
                _ => {}
            }
            lines.push((pos, end));
            pos = (end + 1).min(self.b.len());
            if end == self.b.len() {
                break;
            }
        }
        let m = indent.ok_or(Bail)?;
        let text_of = |(s, e): (usize, usize)| if e - s > m { &self.s[s + m..e] } else { "" };
        let last = lines
            .iter()
            .rposition(|&l| !text_of(l).is_empty())
            .ok_or(Bail)?;
        if lines[last].1 == self.b.len() {
            return Err(Bail); // no line break after the last line: left to libyaml
        }
        let mut value = String::new();
        for (k, &l) in lines[..=last].iter().enumerate() {
            if k > 0 {
                value.push('\n');
            }
            value.push_str(text_of(l));
        }
        match chomp {
            b'-' => {}
            b'+' => {
                value.push('\n');
                for _ in last + 1..lines.len() {
                    value.push('\n');
                }
            }
            _ => value.push('\n'),
        }
        // The block ends after its last line (trailing blank lines included).
        let end = lines.last().map_or(self.pos, |l| l.1);
        self.pos = (end + 1).min(self.b.len());
        if end == self.b.len() {
            self.pos = end;
        }
        let content_end = lines[last].1;
        self.next_content()?;
        let a = self.own(value);
        // Placed at its text, as saphyr places it.
        Ok(self.push(Kind::Owned(Style::Literal), (first, content_end), a, false))
    }
}

/// Why the fast path refused; never shown (the slow path reports errors).
#[derive(Debug)]
pub struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to serde_norway")
    }
}

impl std::error::Error for Refused {}

impl de::Error for Refused {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Refused
    }
}

/// serde_norway's plain-scalar words.
fn is_null(v: &str) -> bool {
    matches!(v, "" | "null" | "Null" | "NULL" | "~")
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Decimal digits with no leading zero: the only integers read here (serde_norway also reads
/// hex, octal, binary and signs; those go to the slow path).
fn simple_unsigned(v: &str) -> Option<u64> {
    let ok = !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_digit())
        && (v.len() == 1 || !v.starts_with('0'));
    if ok { v.parse().ok() } else { None }
}

fn simple_signed(v: &str) -> Option<i64> {
    match v.strip_prefix('-') {
        Some(rest) => simple_unsigned(rest).and_then(|u| i64::try_from(u).ok().map(|i| -i)),
        None => simple_unsigned(v).and_then(|u| i64::try_from(u).ok()),
    }
}

/// `123` or `12.5` (optionally negative); anything fancier goes to the slow path.
fn simple_float(v: &str) -> Option<f64> {
    let digits = v.strip_prefix('-').unwrap_or(v);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let ok = !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (int.len() == 1 || !int.starts_with('0'));
    if ok { v.parse().ok() } else { None }
}

/// Could serde_norway read this plain scalar as something other than a string?
fn maybe_not_string(v: &str) -> bool {
    let unsigned = v.strip_prefix(['+', '-']).unwrap_or(v);
    unsigned.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

struct De<'t> {
    tree: &'t Tree,
    text: &'t str,
    id: u32,
}

impl<'t> De<'t> {
    fn kind(&self) -> Kind {
        self.tree.arena.nodes[self.id as usize].kind
    }
    fn plain(&self) -> Option<&'t str> {
        match self.kind() {
            Kind::Scalar(Style::Plain) => self.scalar(),
            _ => None,
        }
    }
    fn scalar(&self) -> Option<&'t str> {
        self.tree.arena.scalar(self.text, self.id)
    }
    fn at(&self, id: u32) -> De<'t> {
        De {
            tree: self.tree,
            text: self.text,
            id,
        }
    }
}

macro_rules! unsigned {
    ($($name:ident)*) => {$(
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
            match self.plain().and_then(simple_unsigned) {
                Some(n) => visitor.visit_u64(n),
                None => Err(Refused),
            }
        }
    )*};
}

macro_rules! signed {
    ($($name:ident)*) => {$(
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
            match self.plain().and_then(simple_signed) {
                Some(n) => visitor.visit_i64(n),
                None => Err(Refused),
            }
        }
    )*};
}

impl<'de, 't> de::Deserializer<'de> for De<'t> {
    type Error = Refused;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self.kind() {
            Kind::Scalar(Style::Plain) => {
                let v = self.scalar().unwrap_or_default();
                if is_null(v) {
                    visitor.visit_unit()
                } else if let Some(b) = parse_bool(v) {
                    visitor.visit_bool(b)
                } else if let Some(n) = simple_unsigned(v) {
                    visitor.visit_u64(n)
                } else if let Some(n) = simple_signed(v) {
                    visitor.visit_i64(n)
                } else if let Some(f) = simple_float(v) {
                    visitor.visit_f64(f)
                } else if maybe_not_string(v) {
                    Err(Refused)
                } else {
                    visitor.visit_str(v)
                }
            }
            Kind::Scalar(_) | Kind::Owned(_) => {
                visitor.visit_str(self.scalar().unwrap_or_default())
            }
            Kind::Map => self.deserialize_map(visitor),
            Kind::Seq => self.deserialize_seq(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self.plain().and_then(parse_bool) {
            Some(b) => visitor.visit_bool(b),
            None => Err(Refused),
        }
    }

    unsigned!(deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64);
    signed!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self.plain().and_then(simple_float) {
            Some(f) => visitor.visit_f64(f),
            None => Err(Refused),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self.scalar() {
            Some(v) => visitor.visit_str(v),
            None => Err(Refused),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Refused> {
        Err(Refused)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Refused> {
        Err(Refused)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self.plain() {
            Some(v) if is_null(v) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self.plain() {
            Some(v) if is_null(v) => visitor.visit_unit(),
            _ => Err(Refused),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Refused> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Refused> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self.kind() {
            Kind::Seq => visitor.visit_seq(Items {
                de: self.at(self.id),
                items: self.tree.arena.children(self.id).iter(),
            }),
            _ if self.plain() == Some("") => visitor.visit_seq(Items {
                de: self.at(self.id),
                items: [].iter(),
            }),
            _ => Err(Refused),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Refused> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Refused> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self.kind() {
            Kind::Map => visitor.visit_map(Entries {
                de: self.at(self.id),
                entries: self.tree.arena.children(self.id).chunks_exact(2),
                value: None,
            }),
            _ if self.plain() == Some("") => visitor.visit_map(Entries {
                de: self.at(self.id),
                entries: [].chunks_exact(2),
                value: None,
            }),
            _ => Err(Refused),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Refused> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Refused> {
        match self.scalar() {
            Some(_) => visitor.visit_enum(self),
            None => Err(Refused),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        visitor.visit_unit()
    }
}

impl<'de, 't> de::EnumAccess<'de> for De<'t> {
    type Error = Refused;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), Refused> {
        let value = seed.deserialize(self.at(self.id))?;
        Ok((value, self))
    }
}

impl<'de, 't> de::VariantAccess<'de> for De<'t> {
    type Error = Refused;

    fn unit_variant(self) -> Result<(), Refused> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, _: S) -> Result<S::Value, Refused> {
        Err(Refused)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Refused> {
        Err(Refused)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Refused> {
        Err(Refused)
    }
}

struct Items<'t> {
    de: De<'t>,
    items: std::slice::Iter<'t, u32>,
}

impl<'de, 't> de::SeqAccess<'de> for Items<'t> {
    type Error = Refused;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Refused> {
        match self.items.next() {
            Some(&id) => seed.deserialize(self.de.at(id)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Entries<'t> {
    de: De<'t>,
    entries: std::slice::ChunksExact<'t, u32>,
    value: Option<u32>,
}

impl<'de, 't> de::MapAccess<'de> for Entries<'t> {
    type Error = Refused;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Refused> {
        match self.entries.next() {
            Some(pair) => {
                self.value = Some(pair[1]);
                seed.deserialize(self.de.at(pair[0])).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Refused> {
        let id = self.value.take().ok_or(Refused)?;
        seed.deserialize(self.de.at(id))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mission::doc::MissionDoc;
    use crate::mission::model::Mission;
    use serde_norway::Value;

    /// Reads `text` both ways as a generic value; returns whether the fast reader answered.
    /// When it answers, serde_norway must agree; when serde_norway refuses, it must not answer.
    fn agrees(text: &str) -> bool {
        let slow = serde_norway::from_str::<Value>(text);
        let fast = parse(text).and_then(|t| t.deserialize::<Value>(text));
        match (&fast, &slow) {
            (Some(f), Ok(s)) => assert_eq!(f, s, "different values for {text:?}"),
            (Some(f), Err(e)) => panic!("{text:?}: fast read {f:?}, serde_norway refused: {e}"),
            (None, _) => {}
        }
        fast.is_some()
    }

    #[test]
    fn reads_what_mission_files_use_as_serde_norway_does() {
        for text in [
            "a: 1\nb: two\n",
            "a:\n  b: c\n  d: [1, 2]\n",
            "list:\n- a\n- b\nnext: 1\n",
            "list:\n  - a\n  -   b # c\n",
            "- id: F1\n  title: x\n- id: F2\n",
            "m: {id: F1, title: Feature 1, depends_on: [F0], description: \"\"}\n",
            "s: 'it''s'\nd: \"tab\\there \\u00e9 \\\" \\\\ \\x41 \\e\\0\"\n",
            "t: |\n  line 1\n\n  line 3\n\nu: 2\n",
            "t: |-\n  a\n  b\n\n\n",
            "t: |+\n  a\n\n\nu: 1\n",
            "t: |\n  x\n    indented\n  y\n",
            "t: |\n\n  after a blank\n",
            "t: |  # why\n  x\n# after\nu: 1\n",
            "k: # comment\n  v\n",
            "# top\na: 1 # trailing\n\n# between\nb: ~\nc:\nd: null\ne: true\nf: 1.5\ng: -3\n",
            "title: Fix foo, bar [x] {y}\nurl: http://x.y/z#frag\nk: a:b\n",
            "unicode: héllo wörld — ok ✓\n'😀': \"\\U0001F600\"\n",
            "nested:\n  - - a\n    - b\n  - c\n",
            "empty: []\nobj: {}\nnil: ''\n",
            "q: [\"a, b\", 'c', [d, {e: f}]]\n",
            "k: -flag\nl: [--locked, -x]\n",
            "\"quoted key\": 1\n'single': 2\nplain key: 3\n",
            "a:\n\n  b: 1\n  # indented comment\nc: 2\n",
            "-\n  a: 1\n- \n- x\n",
            "a: [x,]\nb: {c: d,}\n",
            "v: 0\nw: 10\nx: 1.25\ny: -0\n",
            "k: [a:b, 'c:d', x:1]\n",
        ] {
            assert!(agrees(text), "the fast reader should read {text:?}");
        }
    }

    #[test]
    fn leaves_the_rest_to_serde_norway() {
        for text in [
            "a: b: c\n",
            "a: [1,\n 2]\n",
            "a: &x 1\nb: *x\n",
            "a: !tag 1\n",
            "? a\n: b\n",
            "a: >\n  folded\n",
            "a: |2\n   x\n",
            "a:\n  - x\n   - y\n",
            "a: 'multi\n  line'\n",
            "a: plain\n  continued\n",
            "a:\tb\n",
            "a: 1\na: 2\n",
            "- a\nb: 1\n",
            "a: {b: c, b: d}\n",
            "a: [a:b]\n",
            "a: [a:]\n",
            "a: {a:, b: c}\n",
            "a: [a:[b]]\n",
            "a: [x]y\n",
            "a: \"x\"y\n",
            "\u{feff}a: 1\n",
            "a: 1\r\n",
            "%YAML 1.2\n---\na: 1\n",
            "---\na: 1\n",
            "a: 1\n...\n",
            "a: @x\n",
            "a: `x`\n",
            "a: -\n",
            "a: [-]\n",
            "a: {b}\n",
            "a: {b: }\n",
            "a: [a, , b]\n",
            "  a: 1\nb: 2\n",
            "a:\n    b: 1\n  c: 2\n",
            "a: |\n    \n  x\n",
            "a: |\n  x\n   \n",
            "a: |\n  x",
            "a: .inf\n",
            "a: +1\n",
            "a: 1e3\n",
            "a: 1_000\n",
            "a: 0o17\n",
            "a: 0x1f\n",
            "a: 007\n",
            "a: 1.\n",
            "a: 2026-11-25\n",
            "a: x #y\nb: x#y\n",
            "a: 'x':\n",
            "a: [\"\\/\"]\n",
            "a: \"\\ud800\"\n",
            "a: \"\\N\"\n",
            "<<: {a: 1}\n",
            "a: |\n# c\nb: 1\n",
            "a: |#c\n  x\n",
            "a: [\n]\n",
            "a: 1\n b: 2\n",
            "a:\n- b\n c\n",
            "",
            "# only a comment\n",
            "[a, b]\n",
            "plain\n",
            "a: \u{85}\n",
            "a: x\u{2028}y\n",
        ] {
            agrees(text);
        }
    }

    #[test]
    fn every_mission_in_the_repository_reads_the_same_both_ways() {
        let mut fast_read = 0;
        for (name, fm) in crate::mission::testcorpus::frontmatters() {
            let slow = serde_norway::from_str::<Mission>(&fm);
            match (parse(&fm).and_then(|t| t.deserialize::<Mission>(&fm)), slow) {
                (Some(f), Ok(s)) => {
                    assert_eq!(f, s, "{name}");
                    fast_read += 1;
                }
                (Some(_), Err(e)) => panic!("{name}: the fast reader read what serde refused: {e}"),
                (None, _) => {}
            }
            agrees(&fm);
        }
        assert!(
            fast_read >= 20,
            "only {fast_read} missions took the fast path"
        );
    }

    #[test]
    fn rendered_missions_read_the_same_both_ways() {
        let text = include_str!("../../templates/demo/mission.md").replace("\r\n", "\n");
        let doc = MissionDoc::parse(text).expect("the demo mission parses");
        // Strings YAML would misread, and text a renderer must keep exactly.
        let extra = [
            "a\n\nb\n\n",
            "x\n  indented\n",
            "tab\there",
            "é — ✓",
            "back\\slash",
            "cr\r\nlf",
            "\u{1b}[0m",
        ];
        let odd: Vec<&str> = crate::mission::testcorpus::MISREAD
            .iter()
            .copied()
            .chain(extra)
            .collect();
        let mut fast_read = 0;
        for &s in &odd {
            let mut m = doc.mission.clone();
            m.title = s.to_owned();
            let f = &mut m.milestones[0].features[0];
            f.description = s.to_owned();
            f.title = format!("{s} title");
            f.depends_on = vec![s.to_owned()];
            let fm = crate::mission::render::render_frontmatter(&m);
            let slow: Mission = serde_norway::from_str(&fm).expect("the render reads back");
            assert_eq!(slow, m, "{s:?}");
            if let Some(fast) = parse(&fm).and_then(|t| t.deserialize::<Mission>(&fm)) {
                assert_eq!(fast, m, "{s:?}");
                fast_read += 1;
            }
        }
        assert!(
            fast_read >= odd.len() - 4,
            "only {fast_read} took the fast path"
        );
    }

    #[test]
    fn a_started_mission_takes_the_fast_path() {
        let fm = "schema: 1\nid: bench\ntitle: Bench\nstatus: running\n\
            approved: {by: 'A <a@example.com>', at: 2026-11-25T00:00:00Z}\n\
            spent: {usd: 0.25, tokens: 1200, hours: 0.0001, runs: 3}\nblock: null\n\
            contract:\n  - {id: VC1, text: works}\nmilestones:\n  - id: M1\n    title: One\n\
            \x20   validation: {commands: [\"true\"], assertions: [VC1]}\n    features:\n\
            \x20     - {id: F1, title: Feature 1, assertions: [VC1], description: \"\"}\n";
        let slow: Mission = serde_norway::from_str(fm).expect("valid");
        let fast = parse(fm).and_then(|t| t.deserialize::<Mission>(fm));
        assert_eq!(fast.as_ref(), Some(&slow));
    }
}

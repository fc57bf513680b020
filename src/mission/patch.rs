//! Surgical edits of hand-formatted frontmatter: change only the values that changed, keep
//! comments, key order and layout. Returns `None` whenever the change is structural in a way
//! a value replacement cannot express, and the caller falls back to canonical rendering.
//!
//! The result is always checked: it must parse back to exactly the new model.

use serde_json::Value;

use super::doc::parse_frontmatter;
use super::model::Mission;
use super::render::number;
use super::yaml::{NodeKind, SpanIndex, YamlPath, scalar};
use saphyr_parser::ScalarStyle;

enum Edit {
    Replace {
        start: usize,
        end: usize,
        text: String,
    },
    AppendTopLevel {
        key: String,
        text: String,
    },
}

/// The frontmatter `fm` (which parses to `old`) edited so that it parses to `new`.
pub fn patch(fm: &str, old: &Mission, new: &Mission) -> Option<String> {
    let old_v = serde_json::to_value(old).ok()?;
    let new_v = serde_json::to_value(new).ok()?;
    // The quick reader's index (a linear pass) where it reads the text; saphyr's otherwise.
    let index = match SpanIndex::quick(fm) {
        Some(index) => index,
        None => SpanIndex::build(fm).ok()?,
    };
    let mut edits = Vec::new();
    diff(&index, &YamlPath::root(), &old_v, &new_v, &mut edits)?;
    let mut out = fm.to_owned();
    let mut replaces: Vec<(usize, usize, String)> = Vec::new();
    let mut appends = String::new();
    for e in edits {
        match e {
            Edit::Replace { start, end, text } => replaces.push((start, end, text)),
            Edit::AppendTopLevel { key, text } => {
                appends.push_str(&format!("{}: {text}\n", scalar(&key, false)));
            }
        }
    }
    replaces.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (start, end, text) in replaces {
        out.replace_range(start..end, &text);
    }
    if !appends.is_empty() {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&appends);
    }
    match parse_frontmatter(&out) {
        Ok(back) if &back == new => Some(out),
        _ => None,
    }
}

fn diff(
    index: &SpanIndex,
    path: &YamlPath,
    old: &Value,
    new: &Value,
    edits: &mut Vec<Edit>,
) -> Option<()> {
    if old == new {
        return Some(());
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n))
            if index
                .get(path)
                .is_some_and(|s| matches!(s.kind, NodeKind::Mapping { flow: false })) =>
        {
            for (k, nv) in n {
                match o.get(k) {
                    Some(ov) if index.get(&path.key(k)).is_some() => {
                        diff(index, &path.key(k), ov, nv, edits)?
                    }
                    Some(ov) if ov == nv => {}
                    _ if path.0.is_empty() && index.get(&path.key(k)).is_none() => {
                        edits.push(Edit::AppendTopLevel {
                            key: k.clone(),
                            text: flow(nv),
                        });
                    }
                    _ => return None,
                }
            }
            // A key that disappeared (an optional setting removed) cannot be expressed by
            // replacing values unless it was written as null.
            for (k, ov) in o {
                if !n.contains_key(k) && !ov.is_null() && index.get(&path.key(k)).is_some() {
                    return None;
                }
            }
            Some(())
        }
        (Value::Array(o), Value::Array(n))
            if o.len() == n.len()
                && index
                    .get(path)
                    .is_some_and(|s| matches!(s.kind, NodeKind::Sequence { flow: false })) =>
        {
            for (i, (ov, nv)) in o.iter().zip(n).enumerate() {
                diff(index, &path.index(i), ov, nv, edits)?;
            }
            Some(())
        }
        _ => {
            let node = index.get(path)?;
            let replaceable = match node.kind {
                NodeKind::Scalar(style) => {
                    !matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
                }
                NodeKind::Mapping { flow } | NodeKind::Sequence { flow } => flow,
            };
            if !replaceable || node.end <= node.start {
                return None;
            }
            edits.push(Edit::Replace {
                start: node.start,
                end: node.end,
                text: flow(new),
            });
            Some(())
        }
    }
}

/// A JSON value as single-line YAML, valid in block and flow context alike.
fn flow(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u.to_string(),
            (_, Some(i), _) => i.to_string(),
            (_, _, Some(f)) => number(f),
            _ => n.to_string(),
        },
        Value::String(s) => scalar(s, true),
        Value::Array(a) => format!("[{}]", a.iter().map(flow).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", scalar(k, true), flow(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

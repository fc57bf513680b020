//! The Markdown body: its `##` sections and the generated blocks between
//! `<!-- git-mission:begin NAME -->` and `<!-- git-mission:end NAME -->` markers.
//!
//! Markers are found with pulldown-cmark, so a marker shown inside a code fence is text, not a
//! marker. Everything outside a generated block is kept byte for byte.

use std::ops::Range;

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

/// A level-2 section of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    /// 1-based line of the heading, relative to the body.
    pub line: usize,
    /// Byte range of the content after the heading up to the next `##` heading (or the end).
    pub content: Range<usize>,
}

/// The `##` sections of a Markdown body, in order.
pub fn sections(body: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut heading: Option<(usize, String)> = None;
    for (event, range) in Parser::new(body).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) if level <= HeadingLevel::H2 => {
                if let Some(last) = out.last_mut() {
                    last.content.end = range.start;
                }
                heading = (level == HeadingLevel::H2).then(|| (range.start, String::new()));
                if heading.is_none() {
                    // An `#` heading closes the previous section without opening one.
                    if let Some(last) = out.last_mut() {
                        last.content.end = range.start;
                    }
                }
            }
            Event::Text(t) | Event::Code(t) if heading.is_some() => {
                if let Some((_, title)) = heading.as_mut() {
                    title.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(HeadingLevel::H2)) => {
                if let Some((start, title)) = heading.take() {
                    out.push(Section {
                        title: title.trim().to_owned(),
                        line: body[..start].matches('\n').count() + 1,
                        content: range.end..body.len(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The section with this title (case-insensitive).
pub fn section<'a>(sections: &'a [Section], title: &str) -> Option<&'a Section> {
    sections
        .iter()
        .find(|s| s.title.eq_ignore_ascii_case(title))
}

/// True when a section holds nothing but whitespace and HTML comments (template guidance).
pub fn is_blank(text: &str) -> bool {
    let mut rest = text;
    while let Some(i) = rest.find("<!--") {
        if !rest[..i].trim().is_empty() {
            return false;
        }
        match rest[i..].find("-->") {
            Some(j) => rest = &rest[i + j + 3..],
            None => return false,
        }
    }
    rest.trim().is_empty()
}

fn marker(kind: &str, name: &str) -> String {
    format!("<!-- git-mission:{kind} {name} -->")
}

/// Byte range of the content of generated block `name` (between the marker lines).
pub fn block_range(body: &str, name: &str) -> Option<Range<usize>> {
    let (begin, end) = (marker("begin", name), marker("end", name));
    let mut content_start = None;
    for (event, range) in Parser::new(body).into_offset_iter() {
        let Event::Html(html) = event else { continue };
        let line = html.trim();
        if content_start.is_none() && line == begin {
            let after = body[range.start..]
                .find('\n')
                .map_or(body.len(), |i| range.start + i + 1);
            content_start = Some(after);
        } else if let Some(start) = content_start
            && line == end
        {
            let line_start = body[..range.start].rfind('\n').map_or(0, |i| i + 1);
            return Some(start..line_start.max(start));
        }
    }
    None
}

/// The body with the content of each generated block of `names` emptied (its markers kept):
/// what people wrote, to compare bodies whatever the generated blocks held.
pub fn without_blocks(body: &str, names: &[&str]) -> String {
    names
        .iter()
        .fold(body.to_owned(), |b, name| match block_range(&b, name) {
            Some(r) => format!("{}{}", &b[..r.start], &b[r.end..]),
            None => b,
        })
}

/// The body with generated block `name` holding `content`. If the block has no markers yet,
/// it is added under a `## {heading}` section: inside that section if it exists, else at the end.
pub fn set_block(body: &str, name: &str, heading: &str, content: &str) -> String {
    let mut content = content.to_owned();
    if !content.is_empty() && !content.ends_with('\n') {
        content.push('\n');
    }
    if let Some(r) = block_range(body, name) {
        let mut out = String::with_capacity(body.len() + content.len());
        out.push_str(&body[..r.start]);
        out.push_str(&content);
        out.push_str(&body[r.end..]);
        return out;
    }
    let block = format!(
        "{}\n{content}{}\n",
        marker("begin", name),
        marker("end", name)
    );
    let secs = sections(body);
    match section(&secs, heading) {
        Some(s) => {
            let at = s.content.start;
            let (before, after) = body.split_at(at);
            let sep = if before.ends_with("\n\n") { "" } else { "\n" };
            format!("{before}{sep}{block}\n{}", after.trim_start_matches('\n'))
        }
        None => {
            let sep = if body.is_empty() || body.ends_with("\n\n") {
                ""
            } else if body.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{body}{sep}## {heading}\n\n{block}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "# T\n\n## Objective\n\nShip it.\n\n## Status\n\n<!-- git-mission:begin status -->\nold\n<!-- git-mission:end status -->\n\n```md\n<!-- git-mission:begin status -->\n---\n```\n\n## Risks\n\n<!-- none yet -->\n";

    #[test]
    fn without_blocks_keeps_what_people_wrote() {
        let a = "# T\n\n<!-- git-mission:begin status -->\nold\n<!-- git-mission:end status -->\n\nnotes\n";
        let b = a.replace("old", "new table");
        assert_eq!(
            without_blocks(a, &["status"]),
            without_blocks(&b, &["status"])
        );
        assert_ne!(
            without_blocks(a, &["status"]),
            without_blocks(&a.replace("notes", "other notes"), &["status"])
        );
        assert!(
            without_blocks(a, &["status"])
                .contains("<!-- git-mission:begin status -->\n<!-- git-mission:end status -->")
        );
    }

    #[test]
    fn finds_sections_and_blank_ones() {
        let s = sections(BODY);
        let titles: Vec<&str> = s.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Objective", "Status", "Risks"]);
        assert_eq!(s[0].line, 3);
        assert!(!is_blank(&BODY[s[0].content.clone()]));
        assert!(is_blank(&BODY[s[2].content.clone()]));
    }

    #[test]
    fn replaces_only_the_block_and_ignores_fenced_markers() {
        let out = set_block(BODY, "status", "Status", "new\n");
        assert_eq!(out, BODY.replacen("\nold\n", "\nnew\n", 1));
        assert_eq!(set_block(&out, "status", "Status", "new\n"), out);
    }

    #[test]
    fn adds_missing_block_under_heading_or_at_end() {
        let body = "## Budget\n\ntext\n";
        let out = set_block(body, "budget", "Budget", "x\n");
        assert_eq!(
            out,
            "## Budget\n\n<!-- git-mission:begin budget -->\nx\n<!-- git-mission:end budget -->\n\ntext\n"
        );
        let out = set_block("intro\n", "status", "Status", "x\n");
        assert_eq!(
            out,
            "intro\n\n## Status\n\n<!-- git-mission:begin status -->\nx\n<!-- git-mission:end status -->\n"
        );
    }
}

/// The body with `entry` appended at the end of the `## {heading}` section (created at the end
/// of the body if missing). Text already in the section is kept.
pub fn append_to_section(body: &str, heading: &str, entry: &str) -> String {
    let mut entry = entry.trim_end().to_owned();
    entry.push('\n');
    let secs = sections(body);
    match section(&secs, heading) {
        Some(s) => {
            let (before, after) = body.split_at(s.content.end);
            let trimmed = before.trim_end_matches('\n');
            // Consecutive entries form one list; after prose, a comment or the heading, a blank line.
            let last = trimmed.lines().last().unwrap_or("");
            let sep = if last.starts_with("- ") { "\n" } else { "\n\n" };
            let tail = if after.is_empty() {
                String::new()
            } else {
                format!("\n{after}")
            };
            format!("{trimmed}{sep}{entry}{tail}")
        }
        None => {
            let sep = if body.is_empty() || body.ends_with("\n\n") {
                ""
            } else if body.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{body}{sep}## {heading}\n\n{entry}")
        }
    }
}

#[cfg(test)]
mod append_tests {
    use super::append_to_section;

    #[test]
    fn entries_go_to_the_end_of_their_section() {
        let body = "## Decision Log\n\n<!-- Append-only. -->\n\n## Retrospective\n\nx\n";
        let one = append_to_section(body, "Decision Log", "- a");
        assert_eq!(
            one,
            "## Decision Log\n\n<!-- Append-only. -->\n\n- a\n\n## Retrospective\n\nx\n"
        );
        let two = append_to_section(&one, "Decision Log", "- b");
        assert_eq!(
            two,
            "## Decision Log\n\n<!-- Append-only. -->\n\n- a\n- b\n\n## Retrospective\n\nx\n"
        );
        assert_eq!(
            append_to_section("# T\n", "Decision Log", "- a"),
            "# T\n\n## Decision Log\n\n- a\n"
        );
        assert_eq!(
            append_to_section("## Decision Log\n", "Decision Log", "- a"),
            "## Decision Log\n\n- a\n"
        );
    }
}

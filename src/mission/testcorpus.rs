#![cfg(test)]
//! Every mission file in the repository (templates, the test corpus, docs), for tests that
//! hold the readers to one another.

/// (path, frontmatter) of each Markdown file that starts with one.
pub fn frontmatters() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![
        std::path::PathBuf::from("templates"),
        "tests/corpus".into(),
        "docs".into(),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                let text = std::fs::read_to_string(&path).expect("utf-8");
                if let Some(rest) = text.strip_prefix("---\n")
                    && let Some(end) = rest.find("\n---\n")
                {
                    out.push((path.display().to_string(), rest[..=end].to_owned()));
                }
            }
        }
    }
    assert!(out.len() > 40, "the corpus is found: {}", out.len());
    out
}

/// Strings YAML would read as something else (or not at all) if they were written plain.
pub const MISREAD: &[&str] = &[
    "",
    "true",
    "No",
    "null",
    "~",
    "12",
    "1.5",
    "-3",
    "0x1f",
    "2026-11-21",
    "1:20",
    "a: b",
    "a #b",
    " lead",
    "trail ",
    "- x",
    "#c",
    "[x]",
    "{x}",
    "*a",
    "&a",
    "!t",
    "|",
    ">",
    "'q'",
    "\"q\"",
    "%x",
    "@x",
    "`x`",
    "a\nb",
    ".inf",
    "1e3",
];

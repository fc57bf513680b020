//! aider's edit formats. aider offers the model no tools: it asks, in its system prompt, for
//! file edits written as text blocks in one "edit format", and applies the blocks it finds in
//! the answer. This module recognises the format from the prompt and writes a block that
//! creates a file in it.

/// The edit format aider's prompt asks for, recognised by wording that only that format's
/// prompt (aider 0.86 `aider/coders/*_prompts.py`) contains; `None` when the text is not an
/// aider edit prompt.
pub(crate) fn edit_format(text: &str) -> Option<String> {
    let format = if text.contains("*** Begin Patch") && text.contains("V4A diff format") {
        "patch"
    } else if text.contains("diff -U0") {
        "udiff"
    } else if text.contains("SEARCH/REPLACE block") {
        // The fenced variant's examples put the file name inside the fence, right before
        // `<<<<<<< SEARCH`.
        if text.contains("```python\nmathweb/flask/app.py\n<<<<<<< SEARCH") {
            "diff-fenced"
        } else {
            "diff"
        }
    } else if text.contains("*file listing*") {
        "whole"
    } else {
        return None;
    };
    Some(format.to_string())
}

/// An answer, in edit format `format`, that creates `path` holding `content`. `conversation`
/// is the request's text, in which aider reports why a previous block failed.
pub(crate) fn edit_block(format: &str, path: &str, content: &str, conversation: &str) -> String {
    // aider picks a longer fence when a file in the chat contains triple backticks (a mission
    // file's Mermaid chart does), and then shows that fence in the request: answer with it.
    let fence = if conversation.contains("````") {
        "````"
    } else {
        "```"
    };
    let body = if content.ends_with('\n') || content.is_empty() {
        content.to_string()
    } else {
        format!("{content}\n")
    };
    let block = match format {
        "whole" => format!("{path}\n{fence}\n{body}{fence}\n"),
        "diff-fenced" => {
            format!("{fence}\n{path}\n<<<<<<< SEARCH\n=======\n{body}>>>>>>> REPLACE\n{fence}\n")
        }
        "udiff" => {
            let plus: String = body.lines().map(|l| format!("+{l}\n")).collect();
            format!("{fence}diff\n--- /dev/null\n+++ {path}\n@@ -0,0 +1 @@\n{plus}{fence}\n")
        }
        "patch" => {
            // The patch prompt demands that the whole answer is the patch: no preamble.
            let plus: String = body.lines().map(|l| format!("+{l}\n")).collect();
            // aider 0.86 creates a new file (empty) before applying the patch, so its own
            // `Add File` then fails with "File already exists" and aider asks again. The
            // retry therefore fills the now existing empty file with an `Update File`.
            let action = if conversation.contains(&format!("File already exists: {path}")) {
                format!("*** Update File: {path}\n@@\n")
            } else {
                format!("*** Add File: {path}\n")
            };
            return format!("*** Begin Patch\n{action}{plus}*** End Patch\n");
        }
        // "diff" and anything unknown: the SEARCH/REPLACE block, the most common format.
        _ => format!("{path}\n{fence}\n<<<<<<< SEARCH\n=======\n{body}>>>>>>> REPLACE\n{fence}\n"),
    };
    format!("I'll create {path}.\n\n{block}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_formats() {
        assert_eq!(
            edit_format("use this *file listing* format").as_deref(),
            Some("whole")
        );
        assert_eq!(
            edit_format("a *SEARCH/REPLACE block* per").as_deref(),
            Some("diff")
        );
        assert_eq!(
            edit_format("like `diff -U0` would").as_deref(),
            Some("udiff")
        );
        assert_eq!(edit_format("You are Claude Code"), None);
    }

    #[test]
    fn patch_retry_updates_the_file_aider_created() {
        assert!(
            edit_block("patch", "a.txt", "hi", "")
                .starts_with("*** Begin Patch\n*** Add File: a.txt\n+hi\n")
        );
        let retry = edit_block(
            "patch",
            "a.txt",
            "hi",
            "ADD Error: File already exists: a.txt",
        );
        assert_eq!(
            retry,
            "*** Begin Patch\n*** Update File: a.txt\n@@\n+hi\n*** End Patch\n"
        );
    }

    #[test]
    fn whole_block() {
        assert_eq!(
            edit_block("whole", "a.txt", "hi", ""),
            "I'll create a.txt.\n\na.txt\n```\nhi\n```\n"
        );
    }

    #[test]
    fn the_fence_is_the_one_aider_asked_for() {
        let asked = "path/to/file.md\n````\nwith ``` inside\n````\n";
        assert!(edit_block("whole", "a.txt", "hi", asked).ends_with("a.txt\n````\nhi\n````\n"));
    }
}

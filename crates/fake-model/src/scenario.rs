//! The scenario logic: given a provider-neutral view of one model request ([`Turn`]), decide
//! what to answer ([`Plan`]). The API modules build the `Turn` from their wire format and render
//! the `Plan` back into it; nothing here knows about a wire format.

use serde_json::{Value, json};

use crate::Usage;

/// What the fake model does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scenario {
    /// Create the file `path` (relative to the agent's working directory, or absolute) holding
    /// `content`. The first main-conversation request that offers a file-writing tool gets a
    /// call of that tool; once a tool result is in the conversation the model says "done" and
    /// ends the turn. Requests without tools get an aider edit block when they carry aider's
    /// edit-format instructions, plain text otherwise.
    Edit { path: String, content: String },
    /// Every API request gets this HTTP status, with a body in the provider's error shape.
    ApiError { status: u16, message: String },
    /// Every request gets a short plain-text answer: no tool call, no edit.
    NoChange,
    /// Requests are accepted and never answered; the connection is held until the server is
    /// dropped (which answers them 500).
    Hang,
    /// Model requests are answered `200` with streaming headers and a little padding, then
    /// nothing more until the server is dropped (which ends the body early): a model that
    /// stalls mid-answer. Listings and token counts are answered normally.
    Stall,
}

impl Scenario {
    /// The usual edit: `hello.txt` holding `hello from fake-model\n`.
    pub fn edit() -> Scenario {
        Scenario::Edit {
            path: "hello.txt".into(),
            content: "hello from fake-model\n".into(),
        }
    }

    /// A 401 with OpenAI's "Incorrect API key provided" wording, which litellm (aider) needs
    /// to report an `AuthenticationError` rather than a `BadRequestError`.
    pub fn unauthorized() -> Scenario {
        Scenario::ApiError {
            status: 401,
            message: "Incorrect API key provided: the fake model rejects every key.".into(),
        }
    }

    /// Parses the binary's `--scenario` syntax: `edit`, `edit:PATH`, `error`, `error:STATUS`,
    /// `nochange`, `hang`, `stall`.
    pub fn parse(s: &str) -> Option<Scenario> {
        let (name, arg) = s.split_once(':').unwrap_or((s, ""));
        match name {
            "edit" if arg.is_empty() => Some(Scenario::edit()),
            "edit" => Some(Scenario::Edit {
                path: arg.to_string(),
                content: "hello from fake-model\n".into(),
            }),
            "error" if arg.is_empty() || arg == "401" => Some(Scenario::unauthorized()),
            "error" => {
                let status: u16 = arg.parse().ok()?;
                (400..600).contains(&status).then(|| Scenario::ApiError {
                    status,
                    message: format!("fake-model: HTTP {status}"),
                })
            }
            "nochange" => Some(Scenario::NoChange),
            "hang" => Some(Scenario::Hang),
            "stall" => Some(Scenario::Stall),
            _ => None,
        }
    }
}

/// The text the model ends an edit with, once the tool result is back.
pub(crate) const DONE: &str = "done";
/// The answer to everything in [`Scenario::NoChange`], and to side requests.
pub(crate) const NO_CHANGE: &str = "No changes are needed.";

/// A provider-neutral view of one model request.
#[derive(Debug, Default)]
pub(crate) struct Turn {
    /// The tools the request offers.
    pub tools: Vec<Tool>,
    /// Whether the conversation already holds the result of a tool call.
    pub has_tool_result: bool,
    /// The system prompt (or instructions) and every message text, joined by newlines: where
    /// the working directory and aider's edit-format instructions are found.
    pub text: String,
    /// A structured-output schema the answer must follow (Gemini `responseSchema`, OpenAI
    /// `json_schema`), if any.
    pub schema: Option<Value>,
    /// Size of the request body, from which the fake prompt token count is derived.
    pub body_len: usize,
}

/// One tool offered by a request.
#[derive(Debug, Clone)]
pub(crate) struct Tool {
    pub name: String,
    /// A free-form (grammar) tool whose input is a plain string (Responses `custom` tools), not
    /// a JSON object.
    pub freeform: bool,
}

/// What to answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Plan {
    Text(String),
    /// Call tool `name` with `input`: a JSON object, or a `Value::String` for free-form tools.
    Call {
        name: String,
        input: Value,
    },
    /// An aider edit block (plain text) in edit format `format`.
    EditBlock {
        format: String,
        text: String,
    },
    Json(Value),
    Error {
        status: u16,
        message: String,
    },
    Hang,
    Stall,
}

impl Plan {
    /// The length of the answer's text, from which the fake output token count is derived.
    fn output_len(&self) -> usize {
        match self {
            Plan::Text(t) | Plan::EditBlock { text: t, .. } => t.len(),
            Plan::Call { name, input } => name.len() + input.to_string().len(),
            Plan::Json(v) => v.to_string().len(),
            Plan::Error { .. } | Plan::Hang | Plan::Stall => 0,
        }
    }

    pub(crate) fn kind(&self) -> crate::ReplyKind {
        use crate::ReplyKind;
        match self {
            Plan::Text(t) => ReplyKind::Text(t.clone()),
            Plan::Call { name, .. } => ReplyKind::ToolCall(name.clone()),
            Plan::EditBlock { format, .. } => ReplyKind::EditBlock(format.clone()),
            Plan::Json(_) => ReplyKind::Json,
            Plan::Error { status, .. } => ReplyKind::Error(*status),
            Plan::Hang | Plan::Stall => ReplyKind::Other,
        }
    }
}

/// Decides the answer to a model request.
pub(crate) fn plan(scenario: &Scenario, turn: &Turn) -> Plan {
    match scenario {
        Scenario::ApiError { status, message } => Plan::Error {
            status: *status,
            message: message.clone(),
        },
        Scenario::Hang => Plan::Hang,
        Scenario::Stall => Plan::Stall,
        Scenario::NoChange => text_or_json(NO_CHANGE, turn),
        Scenario::Edit { path, content } => {
            if turn.has_tool_result {
                return text_or_json(DONE, turn);
            }
            if let Some(call) = edit_call(&turn.tools, &turn.text, path, content) {
                return call;
            }
            if turn.tools.is_empty()
                && turn.schema.is_none()
                && let Some(format) = crate::aider::edit_format(&turn.text)
            {
                return Plan::EditBlock {
                    text: crate::aider::edit_block(&format, path, content, &turn.text),
                    format,
                };
            }
            // A side request (a title, a summary, a quota probe): short text.
            text_or_json(NO_CHANGE, turn)
        }
    }
}

/// The fake token usage of answering `plan` to `turn`: about four bytes of request per prompt
/// token, half of the prompt "read from the cache". `cache_write` is for Anthropic, the only
/// provider that reports cache writes.
pub(crate) fn usage(turn: &Turn, plan: &Plan, cache_write: bool) -> Usage {
    let input = (turn.body_len as u64 / 4).max(1);
    let cached = input / 2;
    let cache_write = if cache_write { input / 8 } else { 0 };
    Usage {
        input,
        cached,
        cache_write,
        output: plan.output_len() as u64 / 4 + 5,
        reasoning: 0,
    }
}

fn text_or_json(text: &str, turn: &Turn) -> Plan {
    match &turn.schema {
        Some(schema) => Plan::Json(sample(schema, None)),
        None => Plan::Text(text.to_string()),
    }
}

/// The tool call that creates `path` with `content`, with whichever writing tool is offered.
/// The preference order puts dedicated write tools before patch tools before shells.
fn edit_call(tools: &[Tool], text: &str, path: &str, content: &str) -> Option<Plan> {
    let cwd = working_directory(text);
    let absolute = match (&cwd, path.starts_with('/')) {
        (Some(dir), false) => format!("{}/{path}", dir.trim_end_matches('/')),
        _ => path.to_string(),
    };
    let has = |name: &str| tools.iter().find(|t| t.name == name);
    let call = |name: &str, input: Value| {
        Some(Plan::Call {
            name: name.to_string(),
            input,
        })
    };
    // Claude Code.
    if has("Write").is_some() {
        return call("Write", json!({"file_path": absolute, "content": content}));
    }
    // opencode.
    if has("write").is_some() {
        return call("write", json!({"filePath": absolute, "content": content}));
    }
    // Gemini CLI.
    if has("write_file").is_some() {
        return call(
            "write_file",
            json!({"file_path": absolute, "content": content}),
        );
    }
    // Codex: apply_patch runs inside its sandbox policy; paths are relative to the cwd.
    if let Some(tool) = has("apply_patch") {
        let patch = add_file_patch(path, content);
        let input = if tool.freeform {
            Value::String(patch)
        } else {
            json!({"input": patch})
        };
        return call("apply_patch", input);
    }
    // Codex recognises an `apply_patch` heredoc in a shell command and applies the patch
    // itself (reported as a `file_change` item), under the same sandbox policy.
    let script = format!(
        "apply_patch <<'EOF'\n{}EOF\n",
        add_file_patch(path, content)
    );
    if has("exec_command").is_some() {
        return call("exec_command", json!({"cmd": script}));
    }
    if has("shell_command").is_some() {
        return call("shell_command", json!({"command": script}));
    }
    if has("shell").is_some() {
        return call("shell", json!({"command": ["bash", "-lc", script]}));
    }
    None
}

/// An `apply_patch` envelope that adds `path` with `content`.
fn add_file_patch(path: &str, content: &str) -> String {
    let mut patch = format!("*** Begin Patch\n*** Add File: {path}\n");
    for line in content.lines() {
        patch.push('+');
        patch.push_str(line);
        patch.push('\n');
    }
    patch.push_str("*** End Patch\n");
    patch
}

/// The agent's working directory, as the CLI states it in its system prompt or environment
/// context. Each CLI words it differently; the first marker found wins.
pub(crate) fn working_directory(text: &str) -> Option<String> {
    // (marker, terminator): the directory is what follows the marker up to the terminator or
    // the end of the line.
    const MARKERS: &[(&str, &str)] = &[
        ("<cwd>", "</cwd>"),                                // Codex environment_context
        ("Primary working directory: ", "\n"),              // Claude Code
        ("Working directory: ", "\n"),                      // opencode, older Claude Code
        ("- **Workspace Directories:**\n  - ", "\n"),       // Gemini CLI 0.61
        ("I'm currently working in the directory: ", "\n"), // older Gemini CLI
        ("Current working directory: ", "\n"),
        ("working directory is ", "\n"),
    ];
    MARKERS.iter().find_map(|(marker, end)| {
        let start = text.find(marker)? + marker.len();
        let rest = &text[start..];
        let dir = rest[..rest.find(end).unwrap_or(rest.len())].trim();
        let dir = dir.trim_end_matches(['.', '`', '"', '\'']);
        dir.starts_with('/').then(|| dir.to_string())
    })
}

/// A value that satisfies `schema` (JSON Schema, or Gemini's OpenAPI subset with upper-case
/// type names). `name` is the property the value is for: Gemini CLI's next-speaker check must
/// hear `"user"`, or it would keep asking the model to continue.
pub(crate) fn sample(schema: &Value, name: Option<&str>) -> Value {
    if let Some(first) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(|v| v.as_array())
        .and_then(|a| a.first())
    {
        return sample(first, name);
    }
    if let Some(values) = schema.get("enum").and_then(|v| v.as_array()) {
        let user = Value::String("user".into());
        if name == Some("next_speaker") && values.contains(&user) {
            return user;
        }
        return values.first().cloned().unwrap_or(Value::Null);
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.to_ascii_lowercase(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str())
            .find(|t| *t != "null")
            .unwrap_or("null")
            .to_ascii_lowercase(),
        _ if schema.get("properties").is_some() => "object".into(),
        _ => "string".into(),
    };
    match ty.as_str() {
        "object" => {
            let mut out = serde_json::Map::new();
            if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
                for (key, sub) in props {
                    out.insert(key.clone(), sample(sub, Some(key)));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let min = schema.get("minItems").and_then(|m| m.as_u64()).unwrap_or(0);
            let item = schema.get("items").cloned().unwrap_or(json!({}));
            Value::Array((0..min).map(|_| sample(&item, None)).collect())
        }
        "integer" | "number" => schema.get("minimum").cloned().unwrap_or(json!(0)),
        "boolean" => Value::Bool(false),
        "null" => Value::Null,
        _ => match name {
            Some("next_speaker") => Value::String("user".into()),
            _ => Value::String(NO_CHANGE.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_working_directories() {
        let cases = [
            ("<environment_context>\n  <cwd>/tmp/r</cwd>", "/tmp/r"),
            ("Primary working directory: /tmp/a b\n", "/tmp/a b"),
            ("<env>\n  Working directory: /x/y\n", "/x/y"),
            ("I'm currently working in the directory: /g\n", "/g"),
            (
                "- **Workspace Directories:**\n  - /w/r\n- **Directory",
                "/w/r",
            ),
        ];
        for (text, dir) in cases {
            assert_eq!(working_directory(text).as_deref(), Some(dir), "{text}");
        }
        assert_eq!(working_directory("Working directory: relative\n"), None);
    }

    #[test]
    fn samples_the_next_speaker_schema() {
        let schema = json!({"type":"OBJECT","properties":{
            "reasoning":{"type":"STRING"},
            "next_speaker":{"type":"STRING","enum":["model","user"]}},
            "required":["reasoning","next_speaker"]});
        let v = sample(&schema, None);
        assert_eq!(v["next_speaker"], "user");
        assert!(v["reasoning"].is_string());
    }

    #[test]
    fn parses_scenarios() {
        assert_eq!(Scenario::parse("nochange"), Some(Scenario::NoChange));
        assert_eq!(
            Scenario::parse("error:429"),
            Some(Scenario::ApiError {
                status: 429,
                message: "fake-model: HTTP 429".into()
            })
        );
        assert_eq!(Scenario::parse("error:99"), None);
        assert_eq!(Scenario::parse("bogus"), None);
    }

    #[test]
    fn patch_adds_every_line() {
        assert_eq!(
            add_file_patch("a.txt", "x\ny\n"),
            "*** Begin Patch\n*** Add File: a.txt\n+x\n+y\n*** End Patch\n"
        );
    }
}

//! Each API, driven over plain HTTP the way the agent CLIs drive it, in every scenario that
//! answers: Edit (tool call, then "done"), NoChange, and ApiError.

mod support;

use fake_model::{Answer, Api, FakeModel, ReplyKind, Scenario};
use serde_json::{Value, json};
use support::{get, post, request};

fn edit() -> FakeModel {
    FakeModel::start(Scenario::Edit {
        path: "hello.txt".into(),
        content: "hi there\n".into(),
    })
    .expect("start the fake model")
}

fn start(scenario: Scenario) -> FakeModel {
    FakeModel::start(scenario).expect("start the fake model")
}

fn unauthorized() -> FakeModel {
    start(Scenario::ApiError {
        status: 401,
        message: "bad key".into(),
    })
}

// ---------------------------------------------------------------------------------------------
// Anthropic Messages
// ---------------------------------------------------------------------------------------------

/// A Claude Code style request: working directory in the system prompt, `Write` among tools.
fn claude_request(stream: bool, messages: Value) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": stream,
        "system": [{"type": "text", "text": "You are Claude Code.\n - Primary working directory: /work/repo\n - Is a git repository: true"}],
        "tools": [
            {"name": "Bash", "input_schema": {"type": "object"}},
            {"name": "Write", "input_schema": {"type": "object"}},
        ],
        "messages": messages,
    })
}

/// Reassembles a streamed Anthropic message: (text, tool uses, stop reason, final usage).
fn anthropic_stream(events: &[(String, Value)]) -> (String, Vec<Value>, String, Value) {
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    let mut text = String::new();
    let mut tools = Vec::new();
    let mut partial = String::new();
    let mut stop = String::new();
    let mut usage = Value::Null;
    for (name, data) in events {
        assert_eq!(data["type"], name.as_str(), "event name and type agree");
        match name.as_str() {
            "content_block_start" if data["content_block"]["type"] == "tool_use" => {
                tools.push(data["content_block"].clone());
            }
            "content_block_delta" => match data["delta"]["type"].as_str() {
                Some("text_delta") => text.push_str(data["delta"]["text"].as_str().unwrap_or("")),
                Some("input_json_delta") => {
                    partial.push_str(data["delta"]["partial_json"].as_str().unwrap_or(""));
                }
                other => panic!("unexpected delta {other:?}"),
            },
            "content_block_stop" if !partial.is_empty() => {
                let last = tools.last_mut().expect("a tool_use block is open");
                last["input"] = serde_json::from_str(&partial).expect("complete tool input JSON");
                partial.clear();
            }
            "message_delta" => {
                stop = data["delta"]["stop_reason"].as_str().unwrap_or("").into();
                usage = data["usage"].clone();
            }
            _ => {}
        }
    }
    (text, tools, stop, usage)
}

#[test]
fn anthropic_edit_streams_a_write_then_says_done() {
    let model = edit();
    let url = model.url();
    let first = post(
        &url,
        "/v1/messages?beta=true",
        &claude_request(true, json!([{"role": "user", "content": "make hello.txt"}])),
    );
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), Some("text/event-stream"));
    let (text, tools, stop, usage) = anthropic_stream(&first.events());
    assert_eq!(text, "");
    assert_eq!(stop, "tool_use");
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["name"], "Write");
    assert_eq!(
        tools[0]["input"],
        json!({"file_path": "/work/repo/hello.txt", "content": "hi there\n"})
    );

    // The usage in the stream is what the server recorded, split the Anthropic way.
    let recorded = model.requests()[0].usage.expect("usage recorded");
    let total = usage["input_tokens"].as_u64().unwrap_or(0)
        + usage["cache_creation_input_tokens"].as_u64().unwrap_or(0)
        + usage["cache_read_input_tokens"].as_u64().unwrap_or(0);
    assert_eq!(total, recorded.input);
    assert_eq!(usage["cache_read_input_tokens"], recorded.cached);
    assert_eq!(usage["output_tokens"], recorded.output);
    assert!(recorded.input > 10 && recorded.cached > 0 && recorded.cache_write > 0);

    let id = tools[0]["id"].clone();
    let second = post(
        &url,
        "/v1/messages?beta=true",
        &claude_request(
            true,
            json!([
                {"role": "user", "content": "make hello.txt"},
                {"role": "assistant", "content": [tools[0].clone()]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "File created"}]},
            ]),
        ),
    );
    let (text, tools, stop, _) = anthropic_stream(&second.events());
    assert_eq!(
        (text.as_str(), tools.len(), stop.as_str()),
        ("done", 0, "end_turn")
    );

    let log = model.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].api, Api::Anthropic);
    assert_eq!(log[0].query, "beta=true");
    assert_eq!(log[0].reply, ReplyKind::ToolCall("Write".into()));
    assert_eq!(log[1].reply, ReplyKind::Text("done".into()));
    assert!(log[0].contains("make hello.txt"));
}

#[test]
fn anthropic_non_streaming_and_side_requests() {
    let model = edit();
    // No tools (a title or quota request): plain text, even in the Edit scenario.
    let side = post(
        &model.url(),
        "/v1/messages",
        &json!({"model": "claude-haiku", "max_tokens": 1, "messages": [{"role": "user", "content": "quota"}]}),
    );
    assert_eq!(side.status, 200);
    let body = side.json();
    assert_eq!(body["type"], "message");
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["content"][0]["type"], "text");
    assert!(body["usage"]["output_tokens"].as_u64().unwrap_or(0) > 0);

    let main = post(
        &model.url(),
        "/v1/messages",
        &claude_request(false, json!([{"role": "user", "content": "go"}])),
    );
    let body = main.json();
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(body["content"][0]["name"], "Write");
    assert_eq!(
        body["content"][0]["input"]["file_path"],
        "/work/repo/hello.txt"
    );

    let count = post(
        &model.url(),
        "/v1/messages/count_tokens",
        &json!({"model": "m", "messages": []}),
    );
    assert!(count.json()["input_tokens"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn anthropic_nochange_and_error() {
    let model = start(Scenario::NoChange);
    let reply = post(
        &model.url(),
        "/v1/messages",
        &claude_request(true, json!([{"role": "user", "content": "go"}])),
    );
    let (text, tools, stop, _) = anthropic_stream(&reply.events());
    assert!(!text.is_empty());
    assert!(tools.is_empty());
    assert_eq!(stop, "end_turn");

    let model = unauthorized();
    let reply = post(
        &model.url(),
        "/v1/messages?beta=true",
        &claude_request(true, json!([])),
    );
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.json(),
        json!({"type": "error", "error": {"type": "authentication_error", "message": "bad key"},
               "request_id": reply.json()["request_id"]})
    );
    assert!(reply.header("request-id").is_some());
    let count = post(&model.url(), "/v1/messages/count_tokens", &json!({}));
    assert_eq!(count.status, 401);
    assert_eq!(model.requests()[0].answer, Answer::Status(401));
    assert_eq!(model.requests()[0].reply, ReplyKind::Error(401));
}

// ---------------------------------------------------------------------------------------------
// OpenAI Chat Completions
// ---------------------------------------------------------------------------------------------

/// An opencode style request: `<env> Working directory`, `write` among the tools.
fn opencode_request(messages: Value) -> Value {
    json!({
        "model": "fake-model",
        "stream": true,
        "stream_options": {"include_usage": true},
        "messages": messages,
        "tools": [
            {"type": "function", "function": {"name": "bash", "parameters": {}}},
            {"type": "function", "function": {"name": "write", "parameters": {}}},
        ],
        "tool_choice": "auto",
    })
}

#[test]
fn chat_edit_streams_tool_call_deltas_and_usage() {
    let model = edit();
    let system = json!({"role": "system", "content": "You are opencode.\n<env>\n  Working directory: /w/r\n</env>"});
    let reply = post(
        &model.url(),
        "/v1/chat/completions",
        &opencode_request(json!([system, {"role": "user", "content": "go"}])),
    );
    assert_eq!(reply.status, 200);
    let events = reply.events();
    assert_eq!(events.last().map(|(_, d)| d.clone()), Some(json!("[DONE]")));
    let mut name = String::new();
    let mut args = String::new();
    let mut finish = Value::Null;
    let mut usage = Value::Null;
    let mut call_id = Value::Null;
    for (_, chunk) in &events {
        if chunk == "[DONE]" {
            continue;
        }
        assert_eq!(chunk["object"], "chat.completion.chunk");
        if let Some(choice) = chunk["choices"].get(0) {
            if let Some(call) = choice["delta"]["tool_calls"].get(0) {
                if let Some(n) = call["function"]["name"].as_str() {
                    name.push_str(n);
                    call_id = call["id"].clone();
                }
                args.push_str(call["function"]["arguments"].as_str().unwrap_or(""));
            }
            if !choice["finish_reason"].is_null() {
                finish = choice["finish_reason"].clone();
            }
        } else {
            usage = chunk["usage"].clone();
        }
    }
    assert_eq!(name, "write");
    assert_eq!(finish, "tool_calls");
    let args: Value = serde_json::from_str(&args).expect("arguments are JSON");
    assert_eq!(
        args,
        json!({"filePath": "/w/r/hello.txt", "content": "hi there\n"})
    );
    let recorded = model.requests()[0].usage.expect("usage recorded");
    assert_eq!(usage["prompt_tokens"], recorded.input);
    assert_eq!(usage["completion_tokens"], recorded.output);
    assert_eq!(
        usage["prompt_tokens_details"]["cached_tokens"],
        recorded.cached
    );
    assert_eq!(usage["total_tokens"], recorded.input + recorded.output);

    let reply = post(
        &model.url(),
        "/v1/chat/completions",
        &opencode_request(json!([
            system,
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": call_id, "type": "function", "function": {"name": "write", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": call_id, "content": "Wrote file successfully."},
        ])),
    );
    let text: String = reply
        .events()
        .iter()
        .filter_map(|(_, c)| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(text, "done");
}

#[test]
fn chat_without_include_usage_sends_no_usage_chunk() {
    let model = start(Scenario::NoChange);
    let reply = post(
        &model.url(),
        "/v1/chat/completions",
        &json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert!(
        reply
            .events()
            .iter()
            .all(|(_, c)| c == "[DONE]" || c["choices"].as_array().is_some_and(|a| !a.is_empty()))
    );
}

/// aider's system prompt for each edit format, reduced to the wording that identifies it.
const AIDER_PROMPTS: &[(&str, &str)] = &[
    ("whole", "You MUST use this *file listing* format:"),
    (
        "diff",
        "Describe each change with a *SEARCH/REPLACE block* per the examples below.",
    ),
    (
        "udiff",
        "write out the changes similar to a unified diff like `diff -U0` would produce.",
    ),
    (
        "patch",
        "Describe the changes using the V4A diff format, enclosed within `*** Begin Patch` and `*** End Patch` markers.",
    ),
];

#[test]
fn chat_aider_gets_an_edit_block_in_its_format() {
    let model = edit();
    for (format, prompt) in AIDER_PROMPTS {
        let reply = post(
            &model.url(),
            "/v1/chat/completions",
            &json!({"model": "fake-model", "temperature": 0, "messages": [
                {"role": "system", "content": format!("Act as an expert software developer.\n{prompt}")},
                {"role": "user", "content": "Create hello.txt"},
            ]}),
        );
        let body = reply.json();
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        let text = body["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default();
        assert!(text.contains("hello.txt"), "{format}: {text}");
        assert!(text.contains("hi there"), "{format}: {text}");
        assert!(body["usage"]["prompt_tokens"].as_u64().unwrap_or(0) > 0);
    }
    let kinds: Vec<ReplyKind> = model.requests().into_iter().map(|r| r.reply).collect();
    let expected: Vec<ReplyKind> = AIDER_PROMPTS
        .iter()
        .map(|(f, _)| ReplyKind::EditBlock(f.to_string()))
        .collect();
    assert_eq!(kinds, expected);
}

#[test]
fn chat_error_has_the_openai_shape() {
    let model = start(Scenario::unauthorized());
    let reply = post(
        &model.url(),
        "/v1/chat/completions",
        &opencode_request(json!([])),
    );
    assert_eq!(reply.status, 401);
    let error = &reply.json()["error"];
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["code"], "invalid_api_key");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Incorrect API key provided"))
    );
}

// ---------------------------------------------------------------------------------------------
// OpenAI Responses
// ---------------------------------------------------------------------------------------------

/// A Codex style request; `tools` varies with the model Codex thinks it talks to.
fn codex_request(tools: Value, extra_input: Value) -> Value {
    let mut input = vec![
        json!({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "You are Codex."}]}),
        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n  <cwd>/c/repo</cwd>\n</environment_context>"}]}),
        json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "make hello.txt"}]}),
    ];
    input.extend(extra_input.as_array().cloned().unwrap_or_default());
    json!({"model": "gpt-5.5", "stream": true, "input": input, "tools": tools,
           "tool_choice": "auto", "parallel_tool_calls": false})
}

/// The `output_item.done` items and the `response.completed` response of a stream.
fn responses_stream(events: &[(String, Value)]) -> (Vec<Value>, Value) {
    assert_eq!(events[0].0, "response.created");
    let mut items = Vec::new();
    let mut completed = Value::Null;
    for (seq, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], seq);
        match name.as_str() {
            "response.output_item.done" => items.push(data["item"].clone()),
            "response.completed" => completed = data["response"].clone(),
            _ => {}
        }
    }
    assert_eq!(
        events.last().map(|(n, _)| n.as_str()),
        Some("response.completed")
    );
    (items, completed)
}

#[test]
fn responses_edit_uses_freeform_apply_patch_when_offered() {
    let model = edit();
    let tools = json!([
        {"type": "function", "name": "exec_command", "parameters": {}},
        {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
    ]);
    let reply = post(
        &model.url(),
        "/v1/responses",
        &codex_request(tools.clone(), json!([])),
    );
    assert_eq!(reply.status, 200);
    let events = reply.events();
    assert!(
        events
            .iter()
            .any(|(n, _)| n == "response.custom_tool_call_input.delta")
    );
    let (items, completed) = responses_stream(&events);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["type"], "custom_tool_call");
    assert_eq!(items[0]["name"], "apply_patch");
    assert_eq!(
        items[0]["input"],
        "*** Begin Patch\n*** Add File: hello.txt\n+hi there\n*** End Patch\n"
    );
    let usage = &completed["usage"];
    let recorded = model.requests()[0].usage.expect("usage recorded");
    assert_eq!(usage["input_tokens"], recorded.input);
    assert_eq!(
        usage["input_tokens_details"]["cached_tokens"],
        recorded.cached
    );
    assert_eq!(usage["output_tokens"], recorded.output);
    assert_eq!(usage["total_tokens"], recorded.input + recorded.output);

    let output = json!([items[0].clone(),
        {"type": "custom_tool_call_output", "call_id": items[0]["call_id"], "output": "Success"}]);
    let reply = post(&model.url(), "/v1/responses", &codex_request(tools, output));
    let (items, completed) = responses_stream(&reply.events());
    assert_eq!(items[0]["type"], "message");
    assert_eq!(items[0]["content"][0]["text"], "done");
    assert_eq!(completed["status"], "completed");
}

#[test]
fn responses_edit_falls_back_to_an_apply_patch_heredoc_in_exec_command() {
    let model = edit();
    let tools = json!([{"type": "function", "name": "exec_command", "parameters": {}}]);
    let reply = post(
        &model.url(),
        "/v1/responses",
        &codex_request(tools, json!([])),
    );
    let (items, _) = responses_stream(&reply.events());
    assert_eq!(items[0]["type"], "function_call");
    assert_eq!(items[0]["name"], "exec_command");
    let args: Value = serde_json::from_str(items[0]["arguments"].as_str().unwrap_or_default())
        .expect("arguments are JSON");
    assert_eq!(
        args["cmd"],
        "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: hello.txt\n+hi there\n*** End Patch\nEOF\n"
    );
}

#[test]
fn responses_non_streaming_websocket_and_error() {
    let model = start(Scenario::NoChange);
    let mut body = codex_request(json!([]), json!([]));
    body["stream"] = json!(false);
    let reply = post(&model.url(), "/v1/responses", &body);
    let body = reply.json();
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["output"][0]["type"], "message");
    assert!(body["usage"]["total_tokens"].as_u64().unwrap_or(0) > 0);

    // A WebSocket handshake is refused, so Codex falls back to HTTP streaming.
    let ws = request(
        &model.url(),
        "GET",
        "/v1/responses",
        &[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        None,
    );
    assert_eq!(ws.status, 426);

    let model = unauthorized();
    let reply = post(
        &model.url(),
        "/v1/responses",
        &codex_request(json!([]), json!([])),
    );
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["error"]["message"], "bad key");
}

// ---------------------------------------------------------------------------------------------
// Gemini
// ---------------------------------------------------------------------------------------------

/// A Gemini CLI style request: workspace directories in the session context, `write_file`.
fn gemini_request(contents: Value) -> Value {
    json!({
        "systemInstruction": {"role": "user", "parts": [{"text": "You are Gemini CLI."}]},
        "contents": contents,
        "tools": [{"functionDeclarations": [
            {"name": "read_file", "parametersJsonSchema": {}},
            {"name": "write_file", "parametersJsonSchema": {}},
        ]}],
        "generationConfig": {"temperature": 1},
    })
}

fn gemini_context() -> Value {
    json!({"role": "user", "parts": [{"text": "<session_context>\n- **Workspace Directories:**\n  - /g/repo\n- **Directory Structure:**\n"}]})
}

#[test]
fn gemini_edit_streams_a_function_call_then_text() {
    let model = edit();
    let path = "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse";
    let ask = json!({"role": "user", "parts": [{"text": "make hello.txt"}]});
    let reply = post(
        &model.url(),
        path,
        &gemini_request(json!([gemini_context(), ask])),
    );
    assert_eq!(reply.status, 200);
    let chunks = reply.events();
    assert_eq!(chunks.len(), 1);
    let chunk = &chunks[0].1;
    let call = &chunk["candidates"][0]["content"]["parts"][0]["functionCall"];
    assert_eq!(call["name"], "write_file");
    assert_eq!(
        call["args"],
        json!({"file_path": "/g/repo/hello.txt", "content": "hi there\n"})
    );
    assert_eq!(chunk["candidates"][0]["finishReason"], "STOP");
    let usage = &chunk["usageMetadata"];
    let recorded = model.requests()[0].usage.expect("usage recorded");
    assert_eq!(usage["promptTokenCount"], recorded.input);
    assert_eq!(usage["candidatesTokenCount"], recorded.output);
    assert_eq!(usage["cachedContentTokenCount"], recorded.cached);

    let answer = json!({"role": "user", "parts": [{"functionResponse": {"name": "write_file", "response": {"output": "ok"}}}]});
    let reply = post(
        &model.url(),
        path,
        &gemini_request(
            json!([gemini_context(), ask, {"role": "model", "parts": [{"functionCall": call}]}, answer]),
        ),
    );
    let chunks = reply.events();
    let text: String = chunks
        .iter()
        .filter_map(|(_, c)| c["candidates"][0]["content"]["parts"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "done");
    // Only the last chunk carries usage (the complete count).
    let with_usage: Vec<bool> = chunks
        .iter()
        .map(|(_, c)| c.get("usageMetadata").is_some())
        .collect();
    assert_eq!(with_usage.last(), Some(&true));
    assert_eq!(with_usage.iter().filter(|u| **u).count(), 1);
    assert_eq!(model.requests()[0].api, Api::Gemini);
}

#[test]
fn gemini_json_side_calls_count_tokens_and_errors() {
    let model = start(Scenario::NoChange);
    // The next-speaker check: the answer must say the user speaks next, or the CLI goes on.
    let reply = post(
        &model.url(),
        "/v1beta/models/gemini-3-flash-preview:generateContent",
        &json!({
            "contents": [{"role": "user", "parts": [{"text": "who speaks next?"}]}],
            "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {
                "type": "object",
                "properties": {"reasoning": {"type": "string"},
                               "next_speaker": {"type": "string", "enum": ["model", "user"]}},
                "required": ["reasoning", "next_speaker"]}},
        }),
    );
    let text = reply.json()["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let answer: Value = serde_json::from_str(&text).expect("the answer is JSON");
    assert_eq!(answer["next_speaker"], "user");
    assert!(answer["reasoning"].is_string());
    assert_eq!(model.requests()[0].reply, ReplyKind::Json);

    let count = post(
        &model.url(),
        "/v1beta/models/gemini-2.5-pro:countTokens",
        &json!({"contents": []}),
    );
    assert!(count.json()["totalTokens"].as_u64().unwrap_or(0) > 0);

    let model = unauthorized();
    let reply = post(
        &model.url(),
        "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
        &gemini_request(json!([])),
    );
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.json(),
        json!({"error": {"code": 401, "message": "bad key", "status": "UNAUTHENTICATED"}})
    );
}

// ---------------------------------------------------------------------------------------------
// Model discovery
// ---------------------------------------------------------------------------------------------

#[test]
fn model_listings_follow_the_provider_shape() {
    let model = start(Scenario::NoChange);
    let url = model.url();
    let openai = get(&url, "/v1/models", &[("Authorization", "Bearer k")]).json();
    assert_eq!(openai["object"], "list");
    assert_eq!(openai["data"][0]["object"], "model");
    let anthropic = get(
        &url,
        "/v1/models",
        &[("x-api-key", "k"), ("anthropic-version", "2023-06-01")],
    )
    .json();
    assert_eq!(anthropic["data"][0]["type"], "model");
    assert_eq!(anthropic["has_more"], false);
    let gemini = get(&url, "/v1beta/models", &[]).json();
    assert!(
        gemini["models"][0]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("models/"))
    );
    let one = get(&url, "/v1/models/some-model", &[]).json();
    assert_eq!(one["id"], "some-model");

    let model = unauthorized();
    assert_eq!(get(&model.url(), "/v1/models", &[]).status, 401);
    assert_eq!(get(&model.url(), "/nowhere", &[]).status, 404);
}

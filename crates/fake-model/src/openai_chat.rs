//! The OpenAI Chat Completions API: `POST /v1/chat/completions`, streaming (with the final
//! usage chunk that `stream_options.include_usage` asks for) and not (aider `--no-stream`).
//! Tool calls go out as `tool_calls` (whole, or as streamed deltas). Also owns the OpenAI error
//! shape, which the Responses API shares.

use serde_json::{Value, json};

use crate::scenario::{self, Plan, Tool, Turn};
use crate::server::{Ctx, Incoming, Reply};
use crate::sse::{Sse, chunks};
use crate::{ReplyKind, Usage};

/// `POST /v1/chat/completions`.
pub(crate) fn completions(rq: &Incoming, ctx: &Ctx) -> Reply {
    let turn = turn(&rq.body, rq.body_len);
    let plan = scenario::plan(ctx.scenario, &turn);
    let model = rq.body["model"].as_str().unwrap_or("gpt-fake").to_string();
    let (content, tool_calls) = match &plan {
        Plan::Hang => return Reply::hang(),
        Plan::Stall => return Reply::stall(rq.body["stream"].as_bool() == Some(true)),
        Plan::Error { status, message } => return error(*status, message),
        Plan::Text(t) | Plan::EditBlock { text: t, .. } => (t.clone(), Vec::new()),
        Plan::Json(v) => (v.to_string(), Vec::new()),
        Plan::Call { name, input } => (
            String::new(),
            vec![json!({
                "id": format!("call_fake{:08}", ctx.id()),
                "type": "function",
                "function": {"name": name, "arguments": input.to_string()},
            })],
        ),
    };
    let usage = scenario::usage(&turn, &plan, false);
    let finish = if tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    let head = Head {
        id: format!("chatcmpl-fake{:08}", ctx.id()),
        created: ctx.now(),
        model,
    };
    let reply = if rq.body["stream"].as_bool() == Some(true) {
        let include_usage = rq.body["stream_options"]["include_usage"].as_bool() == Some(true);
        let body = stream(&head, &content, &tool_calls, finish, usage, include_usage);
        Reply::sse(body, plan.kind())
    } else {
        let mut message = json!({"role": "assistant", "content": content, "refusal": null});
        if !tool_calls.is_empty() {
            message["content"] = Value::Null;
            message["tool_calls"] = Value::Array(tool_calls);
        }
        let body = json!({
            "id": head.id,
            "object": "chat.completion",
            "created": head.created,
            "model": head.model,
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
            "usage": usage_json(usage),
            "system_fingerprint": "fp_fake",
        });
        Reply::json(200, &body, plan.kind())
    };
    reply.with_usage(usage)
}

/// The provider-neutral view of a Chat Completions request.
fn turn(body: &Value, body_len: usize) -> Turn {
    let mut text = String::new();
    let mut has_tool_result = false;
    for message in body["messages"].as_array().into_iter().flatten() {
        has_tool_result |= message["role"] == "tool";
        match &message["content"] {
            Value::String(s) => text.push_str(s),
            Value::Array(parts) => {
                for part in parts {
                    if let Some(s) = part["text"].as_str() {
                        text.push_str(s);
                        text.push('\n');
                    }
                }
            }
            _ => {}
        }
        text.push('\n');
    }
    let tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str())
        .map(|name| Tool {
            name: name.to_string(),
            freeform: false,
        })
        .collect();
    let format = &body["response_format"];
    let schema = match format["type"].as_str() {
        Some("json_schema") => Some(format["json_schema"]["schema"].clone()),
        Some("json_object") => Some(json!({"type": "object"})),
        _ => None,
    };
    Turn {
        tools,
        has_tool_result,
        text,
        schema,
        body_len,
    }
}

struct Head {
    id: String,
    created: u64,
    model: String,
}

fn usage_json(u: Usage) -> Value {
    json!({
        "prompt_tokens": u.input,
        "completion_tokens": u.output,
        "total_tokens": u.input + u.output,
        "prompt_tokens_details": {"cached_tokens": u.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": u.reasoning, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
        },
    })
}

fn stream(
    head: &Head,
    content: &str,
    tool_calls: &[Value],
    finish: &str,
    usage: Usage,
    include_usage: bool,
) -> String {
    let mut sse = Sse::default();
    let chunk = |delta: Value, finish: Option<&str>| {
        let mut c = json!({
            "id": head.id, "object": "chat.completion.chunk", "created": head.created,
            "model": head.model, "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        // With include_usage, every chunk carries `"usage": null` until the last one.
        if include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    sse.data(&chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        None,
    ));
    if !content.is_empty() {
        for piece in chunks(content) {
            sse.data(&chunk(json!({"content": piece}), None));
        }
    }
    for (index, call) in tool_calls.iter().enumerate() {
        sse.data(&chunk(
            json!({"tool_calls": [{
                "index": index, "id": call["id"], "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }]}),
            None,
        ));
        let args = call["function"]["arguments"].as_str().unwrap_or("{}");
        for piece in chunks(args) {
            sse.data(&chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                None,
            ));
        }
    }
    sse.data(&chunk(json!({}), Some(finish)));
    if include_usage {
        sse.data(&json!({
            "id": head.id, "object": "chat.completion.chunk", "created": head.created,
            "model": head.model, "system_fingerprint": "fp_fake",
            "choices": [], "usage": usage_json(usage),
        }));
    }
    sse.raw("[DONE]");
    sse.finish()
}

/// An error in OpenAI's shape (Chat Completions and Responses), with the `type` and `code`
/// the real API uses for `status`.
pub(crate) fn error(status: u16, message: &str) -> Reply {
    let (kind, code) = match status {
        401 => ("invalid_request_error", json!("invalid_api_key")),
        403 => (
            "invalid_request_error",
            json!("unsupported_country_region_territory"),
        ),
        404 => ("invalid_request_error", json!("model_not_found")),
        429 => ("requests", json!("rate_limit_exceeded")),
        500..=599 => ("server_error", Value::Null),
        _ => ("invalid_request_error", Value::Null),
    };
    let body = json!({
        "error": {"message": message, "type": kind, "param": null, "code": code}
    });
    Reply::json(status, &body, ReplyKind::Error(status))
}

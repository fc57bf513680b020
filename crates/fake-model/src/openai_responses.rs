//! The OpenAI Responses API: `POST /v1/responses`, streaming and not, as Codex CLI uses it.
//!
//! A stream is `response.created`, `response.in_progress`, then per output item
//! `response.output_item.added`, its deltas (`response.output_text.delta`,
//! `response.function_call_arguments.delta` or `response.custom_tool_call_input.delta`) and
//! `response.output_item.done`, and finally `response.completed` carrying the whole response
//! with its usage. Codex builds its history from the `output_item.done` items and its token
//! counts from `response.completed`, which therefore must carry `usage.total_tokens`.
//!
//! Function tools get `function_call` items (JSON `arguments`); free-form (`custom`) tools such
//! as Codex's `apply_patch` get `custom_tool_call` items (raw `input`).
//!
//! Codex may first try the same path as a WebSocket (`GET /v1/responses` with `Upgrade:
//! websocket`); that is refused with 426 so it falls back to HTTP streaming at once.

use serde_json::{Value, json};

use crate::openai_chat::error;
use crate::scenario::{self, Plan, Tool, Turn};
use crate::server::{Ctx, Incoming, Reply};
use crate::sse::{Sse, chunks};
use crate::{ReplyKind, Usage};

/// `/v1/responses`.
pub(crate) fn responses(rq: &Incoming, ctx: &Ctx) -> Reply {
    if rq.method != "POST" {
        // A WebSocket handshake (or any other method): this server only streams over HTTP.
        let body = json!({"error": {
            "message": "fake-model: WebSocket transport is not supported; use HTTP",
            "type": "invalid_request_error", "param": null, "code": "websocket_not_supported",
        }});
        return Reply::json(426, &body, ReplyKind::Other);
    }
    let turn = turn(&rq.body, rq.body_len);
    let plan = scenario::plan(ctx.scenario, &turn);
    let item = match &plan {
        Plan::Hang => return Reply::hang(),
        Plan::Stall => return Reply::stall(rq.body["stream"].as_bool() == Some(true)),
        Plan::Error { status, message } => return error(*status, message),
        Plan::Text(t) | Plan::EditBlock { text: t, .. } => message_item(t, ctx),
        Plan::Json(v) => message_item(&v.to_string(), ctx),
        Plan::Call { name, input } => {
            let call_id = format!("call_fake{:08}", ctx.id());
            match input {
                Value::String(raw) => json!({
                    "type": "custom_tool_call", "id": format!("ctc_fake{:08}", ctx.id()),
                    "status": "completed", "call_id": call_id, "name": name, "input": raw,
                }),
                _ => json!({
                    "type": "function_call", "id": format!("fc_fake{:08}", ctx.id()),
                    "status": "completed", "call_id": call_id, "name": name,
                    "arguments": input.to_string(),
                }),
            }
        }
    };
    let usage = scenario::usage(&turn, &plan, false);
    let model = rq.body["model"].as_str().unwrap_or("gpt-fake");
    let mut response = json!({
        "id": format!("resp_fake{:08}", ctx.id()),
        "object": "response",
        "created_at": ctx.now(),
        "status": "completed",
        "error": null,
        "incomplete_details": null,
        "model": model,
        "output": [item],
        "parallel_tool_calls": rq.body["parallel_tool_calls"].as_bool().unwrap_or(true),
        "tool_choice": rq.body["tool_choice"].clone(),
        "usage": usage_json(usage),
    });
    let reply = if rq.body["stream"].as_bool() == Some(true) {
        Reply::sse(stream(&mut response), plan.kind())
    } else {
        Reply::json(200, &response, plan.kind())
    };
    reply.with_usage(usage)
}

/// The provider-neutral view of a Responses request.
fn turn(body: &Value, body_len: usize) -> Turn {
    let mut text = String::new();
    if let Some(s) = body["instructions"].as_str() {
        text.push_str(s);
        text.push('\n');
    }
    let mut has_tool_result = false;
    match &body["input"] {
        Value::String(s) => text.push_str(s),
        Value::Array(items) => {
            for item in items {
                let ty = item["type"].as_str().unwrap_or("message");
                has_tool_result |= ty.ends_with("_call_output");
                match &item["content"] {
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
            }
        }
        _ => {}
    }
    let tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let name = t["name"].as_str()?;
            Some(Tool {
                name: name.to_string(),
                freeform: t["type"] == "custom",
            })
        })
        .collect();
    let format = &body["text"]["format"];
    let schema = (format["type"] == "json_schema").then(|| format["schema"].clone());
    Turn {
        tools,
        has_tool_result,
        text,
        schema,
        body_len,
    }
}

fn message_item(text: &str, ctx: &Ctx) -> Value {
    json!({
        "type": "message", "id": format!("msg_fake{:08}", ctx.id()), "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    })
}

fn usage_json(u: Usage) -> Value {
    json!({
        "input_tokens": u.input,
        "input_tokens_details": {"cached_tokens": u.cached},
        "output_tokens": u.output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning},
        "total_tokens": u.input + u.output,
    })
}

/// The event stream for the finished `response` (one output item).
fn stream(response: &mut Value) -> String {
    let mut sse = Sse::default();
    let mut seq = 0u64;
    let mut event = |sse: &mut Sse, name: &str, mut data: Value| {
        data["type"] = json!(name);
        data["sequence_number"] = json!(seq);
        seq += 1;
        sse.event(name, &data);
    };
    let done = response.clone();
    let mut pending = response.clone();
    pending["status"] = json!("in_progress");
    pending["output"] = json!([]);
    pending["usage"] = Value::Null;
    event(&mut sse, "response.created", json!({"response": pending}));
    event(
        &mut sse,
        "response.in_progress",
        json!({"response": pending}),
    );

    let items = done["output"].as_array().cloned().unwrap_or_default();
    for (index, item) in items.iter().enumerate() {
        let id = item["id"].clone();
        let mut added = item.clone();
        added["status"] = json!("in_progress");
        match item["type"].as_str() {
            Some("message") => {
                added["content"] = json!([]);
                event(
                    &mut sse,
                    "response.output_item.added",
                    json!({"output_index": index, "item": added}),
                );
                let text = item["content"][0]["text"].as_str().unwrap_or_default();
                let part = |t: &str| json!({"type": "output_text", "text": t, "annotations": []});
                let at = json!({"item_id": id, "output_index": index, "content_index": 0});
                let with = |extra: Value| {
                    let mut v = at.clone();
                    if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
                        v.extend(extra.clone());
                    }
                    v
                };
                event(
                    &mut sse,
                    "response.content_part.added",
                    with(json!({"part": part("")})),
                );
                for piece in chunks(text) {
                    event(
                        &mut sse,
                        "response.output_text.delta",
                        with(json!({"delta": piece, "logprobs": []})),
                    );
                }
                event(
                    &mut sse,
                    "response.output_text.done",
                    with(json!({"text": text, "logprobs": []})),
                );
                event(
                    &mut sse,
                    "response.content_part.done",
                    with(json!({"part": part(text)})),
                );
            }
            Some(kind) => {
                // function_call (JSON `arguments`) or custom_tool_call (raw `input`).
                let (field, prefix) = if kind == "custom_tool_call" {
                    ("input", "response.custom_tool_call_input")
                } else {
                    ("arguments", "response.function_call_arguments")
                };
                added[field] = json!("");
                event(
                    &mut sse,
                    "response.output_item.added",
                    json!({"output_index": index, "item": added}),
                );
                let full = item[field].as_str().unwrap_or_default();
                for piece in chunks(full) {
                    event(
                        &mut sse,
                        &format!("{prefix}.delta"),
                        json!({"item_id": id, "output_index": index, "delta": piece}),
                    );
                }
                event(
                    &mut sse,
                    &format!("{prefix}.done"),
                    json!({"item_id": id, "output_index": index, field: full}),
                );
            }
            None => {}
        }
        event(
            &mut sse,
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
    }
    event(&mut sse, "response.completed", json!({"response": done}));
    sse.finish()
}

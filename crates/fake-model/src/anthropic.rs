//! The Anthropic Messages API: `POST /v1/messages` (Claude Code adds `?beta=true`), streaming
//! and not, and `POST /v1/messages/count_tokens`.
//!
//! Streams follow the documented event order: `message_start`, then per content block
//! `content_block_start` / `content_block_delta` (`text_delta` or `input_json_delta`) /
//! `content_block_stop`, then `message_delta` (stop reason and final usage) and
//! `message_stop`.

use serde_json::{Value, json};

use crate::scenario::{self, Plan, Tool, Turn};
use crate::server::{Ctx, Incoming, Reply};
use crate::sse::{Sse, chunks};
use crate::{ReplyKind, Usage};

/// `POST /v1/messages`.
pub(crate) fn messages(rq: &Incoming, ctx: &Ctx) -> Reply {
    let turn = turn(&rq.body, rq.body_len);
    let plan = scenario::plan(ctx.scenario, &turn);
    let model = rq.body["model"]
        .as_str()
        .unwrap_or("claude-fake")
        .to_string();
    let streaming = rq.body["stream"].as_bool() == Some(true);
    match &plan {
        Plan::Hang => Reply::hang(),
        Plan::Stall => Reply::stall(streaming),
        Plan::Error { status, message } => error(*status, message, ctx),
        _ => {
            let usage = scenario::usage(&turn, &plan, true);
            let id = format!("msg_fake{:08}", ctx.id());
            let blocks = blocks(&plan, ctx);
            let stop = if matches!(plan, Plan::Call { .. }) {
                "tool_use"
            } else {
                "end_turn"
            };
            let reply = if streaming {
                Reply::sse(stream(&id, &model, &blocks, stop, usage), plan.kind())
            } else {
                let body = json!({
                    "id": id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": blocks,
                    "stop_reason": stop,
                    "stop_sequence": null,
                    "usage": usage_json(usage),
                });
                Reply::json(200, &body, plan.kind())
            };
            reply
                .with_usage(usage)
                .with_header("request-id", format!("req_fake{:08}", ctx.id()))
        }
    }
}

/// `POST /v1/messages/count_tokens`.
pub(crate) fn count_tokens(rq: &Incoming, ctx: &Ctx) -> Reply {
    if let crate::Scenario::ApiError { status, message } = ctx.scenario {
        return error(*status, message, ctx);
    }
    let tokens = (rq.body_len as u64 / 4).max(1);
    Reply::json(200, &json!({"input_tokens": tokens}), ReplyKind::Other)
}

/// The provider-neutral view of a Messages request.
fn turn(body: &Value, body_len: usize) -> Turn {
    let mut text = String::new();
    push_content(&mut text, &body["system"]);
    let mut has_tool_result = false;
    for message in body["messages"].as_array().into_iter().flatten() {
        let content = &message["content"];
        has_tool_result |= content
            .as_array()
            .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"));
        push_content(&mut text, content);
    }
    let tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .map(|name| Tool {
            name: name.to_string(),
            freeform: false,
        })
        .collect();
    // Structured outputs: `output_format` (beta) or `output_config.format`.
    let schema = [
        &body["output_format"]["schema"],
        &body["output_config"]["format"]["schema"],
    ]
    .into_iter()
    .find(|s| s.is_object())
    .cloned();
    Turn {
        tools,
        has_tool_result,
        text,
        schema,
        body_len,
    }
}

/// Appends the text of a `system` or message `content` (a string or an array of blocks).
fn push_content(out: &mut String, content: &Value) {
    match content {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(blocks) => {
            for block in blocks {
                if let Some(s) = block["text"].as_str() {
                    out.push_str(s);
                    out.push('\n');
                } else if block["type"] == "tool_result" {
                    push_content(out, &block["content"]);
                }
            }
        }
        _ => {}
    }
}

/// The answer's content blocks.
fn blocks(plan: &Plan, ctx: &Ctx) -> Vec<Value> {
    match plan {
        Plan::Text(t) | Plan::EditBlock { text: t, .. } => {
            vec![json!({"type": "text", "text": t})]
        }
        Plan::Json(v) => vec![json!({"type": "text", "text": v.to_string()})],
        Plan::Call { name, input } => vec![json!({
            "type": "tool_use",
            "id": format!("toolu_fake{:08}", ctx.id()),
            "name": name,
            "input": input,
        })],
        Plan::Error { .. } | Plan::Hang | Plan::Stall => Vec::new(),
    }
}

fn usage_json(u: Usage) -> Value {
    json!({
        "input_tokens": u.input - u.cached - u.cache_write,
        "cache_creation_input_tokens": u.cache_write,
        "cache_read_input_tokens": u.cached,
        "output_tokens": u.output,
        "service_tier": "standard",
    })
}

fn stream(id: &str, model: &str, blocks: &[Value], stop: &str, usage: Usage) -> String {
    let mut sse = Sse::default();
    // message_start carries the prompt usage and a provisional output count, as the real API.
    let mut start_usage = usage_json(usage);
    start_usage["output_tokens"] = json!(1);
    sse.event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null, "usage": start_usage,
        }}),
    );
    sse.event("ping", &json!({"type": "ping"}));
    for (index, block) in blocks.iter().enumerate() {
        let (start, deltas): (Value, Vec<Value>) = if block["type"] == "tool_use" {
            let mut start = block.clone();
            start["input"] = json!({});
            let args = block["input"].to_string();
            let deltas = chunks(&args)
                .into_iter()
                .map(|c| json!({"type": "input_json_delta", "partial_json": c}))
                .collect();
            (start, deltas)
        } else {
            let text = block["text"].as_str().unwrap_or_default();
            let deltas = chunks(text)
                .into_iter()
                .map(|c| json!({"type": "text_delta", "text": c}))
                .collect();
            (json!({"type": "text", "text": ""}), deltas)
        };
        sse.event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        for delta in deltas {
            sse.event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            );
        }
        sse.event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        );
    }
    sse.event(
        "message_delta",
        &json!({"type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": null},
            "usage": usage_json(usage)}),
    );
    sse.event("message_stop", &json!({"type": "message_stop"}));
    sse.finish()
}

/// An error in Anthropic's shape, with the error type the real API uses for `status`.
pub(crate) fn error(status: u16, message: &str, ctx: &Ctx) -> Reply {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    let request_id = format!("req_fake{:08}", ctx.id());
    let body = json!({
        "type": "error",
        "error": {"type": kind, "message": message},
        "request_id": request_id,
    });
    Reply::json(status, &body, ReplyKind::Error(status)).with_header("request-id", request_id)
}

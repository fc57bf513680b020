//! The Gemini API (Google AI, `generativelanguage` style paths), as Gemini CLI uses it:
//! `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse` and
//! `:countTokens`.
//!
//! Answers are `candidates[0].content.parts` holding `text` or `functionCall` parts, with
//! `usageMetadata`. In a stream the usage is only on the last chunk, as the final, complete
//! count. Gemini CLI's side calls (the next-speaker check and other JSON requests) carry a
//! `responseJsonSchema` or `responseSchema`; they get JSON for that schema.

use serde_json::{Value, json};

use crate::scenario::{self, Plan, Tool, Turn};
use crate::server::{Ctx, Incoming, Reply};
use crate::sse::{Sse, chunks};
use crate::{ReplyKind, Usage};

/// `POST …/models/{model}:{method}`.
pub(crate) fn call(rq: &Incoming, ctx: &Ctx) -> Reply {
    let (model, method) = model_and_method(&rq.path);
    if let crate::Scenario::ApiError { status, message } = ctx.scenario {
        return error(*status, message);
    }
    match method {
        "countTokens" => {
            let tokens = (rq.body_len as u64 / 4).max(1);
            Reply::json(200, &json!({"totalTokens": tokens}), ReplyKind::Other)
        }
        "generateContent" | "streamGenerateContent" => {
            generate(rq, ctx, model, method == "streamGenerateContent")
        }
        _ => {
            let body = json!({"error": {
                "code": 404, "status": "NOT_FOUND",
                "message": format!("fake-model: method {method} is not supported"),
            }});
            Reply::json(404, &body, ReplyKind::Other)
        }
    }
}

/// `("gemini-2.5-pro", "generateContent")` from `/v1beta/models/gemini-2.5-pro:generateContent`.
fn model_and_method(path: &str) -> (&str, &str) {
    let tail = path.rsplit_once("/models/").map_or(path, |(_, t)| t);
    tail.rsplit_once(':').unwrap_or((tail, ""))
}

fn generate(rq: &Incoming, ctx: &Ctx, model: &str, stream: bool) -> Reply {
    let turn = turn(&rq.body, rq.body_len);
    let plan = scenario::plan(ctx.scenario, &turn);
    let parts = match &plan {
        Plan::Hang => return Reply::hang(),
        Plan::Stall => return Reply::stall(stream && rq.query_param("alt") == Some("sse")),
        Plan::Error { status, message } => return error(*status, message),
        Plan::Text(t) | Plan::EditBlock { text: t, .. } => vec![json!({"text": t})],
        Plan::Json(v) => vec![json!({"text": v.to_string()})],
        Plan::Call { name, input } => vec![json!({"functionCall": {"name": name, "args": input}})],
    };
    let usage = scenario::usage(&turn, &plan, false);
    let response_id = format!("fake{:08}", ctx.id());
    let chunk = |parts: Vec<Value>, last: bool| {
        let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        let mut c = json!({"candidates": [], "modelVersion": model, "responseId": response_id});
        if last {
            candidate["finishReason"] = json!("STOP");
            c["usageMetadata"] = usage_json(usage);
        }
        c["candidates"] = json!([candidate]);
        c
    };
    let reply = if stream && rq.query_param("alt") == Some("sse") {
        let mut sse = Sse::default();
        match parts.first().and_then(|p| p["text"].as_str()) {
            Some(text) => {
                let pieces = chunks(text);
                let n = pieces.len();
                for (i, piece) in pieces.into_iter().enumerate() {
                    sse.data(&chunk(vec![json!({"text": piece})], i + 1 == n));
                }
            }
            None => sse.data(&chunk(parts, true)),
        }
        Reply::sse(sse.finish(), plan.kind())
    } else if stream {
        // Without `alt=sse` the stream is one JSON array of chunks.
        Reply::json(200, &json!([chunk(parts, true)]), plan.kind())
    } else {
        Reply::json(200, &chunk(parts, true), plan.kind())
    };
    reply.with_usage(usage)
}

/// The provider-neutral view of a `generateContent` request.
fn turn(body: &Value, body_len: usize) -> Turn {
    let mut text = String::new();
    let mut has_tool_result = false;
    let mut push_parts = |parts: &Value, text: &mut String| {
        for part in parts.as_array().into_iter().flatten() {
            if let Some(s) = part["text"].as_str() {
                text.push_str(s);
                text.push('\n');
            }
            has_tool_result |= part.get("functionResponse").is_some();
        }
    };
    push_parts(&body["systemInstruction"]["parts"], &mut text);
    for content in body["contents"].as_array().into_iter().flatten() {
        push_parts(&content["parts"], &mut text);
    }
    let tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|t| t["functionDeclarations"].as_array().into_iter().flatten())
        .filter_map(|f| f["name"].as_str())
        .map(|name| Tool {
            name: name.to_string(),
            freeform: false,
        })
        .collect();
    let config = &body["generationConfig"];
    let schema = [&config["responseJsonSchema"], &config["responseSchema"]]
        .into_iter()
        .find(|s| s.is_object())
        .cloned()
        .or_else(|| {
            (config["responseMimeType"] == "application/json").then(|| json!({"type": "object"}))
        });
    Turn {
        tools,
        has_tool_result,
        text,
        schema,
        body_len,
    }
}

fn usage_json(u: Usage) -> Value {
    json!({
        "promptTokenCount": u.input,
        "candidatesTokenCount": u.output,
        "totalTokenCount": u.input + u.output,
        "cachedContentTokenCount": u.cached,
        "thoughtsTokenCount": u.reasoning,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": u.input}],
    })
}

/// An error in Google's shape, with the canonical status name for the HTTP status.
pub(crate) fn error(status: u16, message: &str) -> Reply {
    let name = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    };
    let body = json!({"error": {"code": status, "message": message, "status": name}});
    Reply::json(status, &body, ReplyKind::Error(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_model_and_method() {
        assert_eq!(
            model_and_method("/v1beta/models/gemini-2.5-pro:streamGenerateContent"),
            ("gemini-2.5-pro", "streamGenerateContent")
        );
    }
}

//! Model discovery: `GET /v1/models` and `GET /v1/models/{id}` (OpenAI shape, or Anthropic
//! shape when the request carries Anthropic headers) and `GET /v1beta/models[/{id}]` (Gemini
//! shape). Under [`Scenario::ApiError`](crate::Scenario::ApiError) these fail like everything
//! else, as they would with a bad key.

use serde_json::{Value, json};

use crate::server::{Ctx, Incoming, Reply};
use crate::{ReplyKind, Scenario};

/// The names the fake model answers to in listings. Any other name works in a request too.
pub const MODELS: &[&str] = &[
    "fake-model",
    "claude-sonnet-4-5",
    "gpt-5-codex",
    "gemini-2.5-pro",
];

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    OpenAi,
    Anthropic,
    Gemini,
}

/// `GET …/models` or `GET …/models/{id}`.
pub(crate) fn list(rq: &Incoming, ctx: &Ctx) -> Reply {
    let shape = if rq.path.starts_with("/v1beta") || rq.header("x-goog-api-key").is_some() {
        Shape::Gemini
    } else if rq.header("anthropic-version").is_some() || rq.header("x-api-key").is_some() {
        Shape::Anthropic
    } else {
        Shape::OpenAi
    };
    if let Scenario::ApiError { status, message } = ctx.scenario {
        return match shape {
            Shape::OpenAi => crate::openai_chat::error(*status, message),
            Shape::Anthropic => crate::anthropic::error(*status, message, ctx),
            Shape::Gemini => crate::gemini::error(*status, message),
        };
    }
    let one = rq
        .path
        .trim_end_matches('/')
        .split_once("/models/")
        .map(|(_, id)| id.to_string());
    let body = match one {
        Some(id) => model(shape, &id, ctx),
        None => {
            let models: Vec<Value> = MODELS.iter().map(|id| model(shape, id, ctx)).collect();
            match shape {
                Shape::OpenAi => json!({"object": "list", "data": models}),
                Shape::Anthropic => json!({
                    "data": models, "has_more": false,
                    "first_id": MODELS.first(), "last_id": MODELS.last(),
                }),
                Shape::Gemini => json!({"models": models}),
            }
        }
    };
    Reply::json(200, &body, ReplyKind::Other)
}

fn model(shape: Shape, id: &str, ctx: &Ctx) -> Value {
    match shape {
        Shape::OpenAi => json!({
            "id": id, "object": "model", "created": ctx.now(), "owned_by": "fake-model",
        }),
        Shape::Anthropic => json!({
            "type": "model", "id": id, "display_name": id,
            "created_at": "2025-01-01T00:00:00Z",
        }),
        Shape::Gemini => json!({
            "name": format!("models/{id}"), "version": "001", "displayName": id,
            "inputTokenLimit": 1_048_576, "outputTokenLimit": 65_536,
            "supportedGenerationMethods": ["generateContent", "countTokens"],
        }),
    }
}

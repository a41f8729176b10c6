//! Metered usage: what a tenant consumed, recorded in the same transaction as what it measures.
//!
//! Quantities are exact integers in base units (milliseconds, tokens, characters); pricing and billing turn them
//! into money later. Every record carries an idempotency key derived from what it measures (e.g. the call and the
//! transcript segment), so a retried write is counted once.

use async_graphql::Enum;

/// What is metered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
pub enum Metric {
    /// Call time, answered → ended, in milliseconds.
    CallMs,
    /// Caller audio transcribed, in milliseconds.
    SttAudioMs,
    /// LLM prompt tokens.
    LlmInputTokens,
    /// LLM completion tokens.
    LlmOutputTokens,
    /// Characters synthesised to speech.
    TtsCharacters,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::CallMs,
        Metric::SttAudioMs,
        Metric::LlmInputTokens,
        Metric::LlmOutputTokens,
        Metric::TtsCharacters,
    ];

    /// The metric stored as `name` in `usage_events.metric`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// The name stored in `usage_events.metric`.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::CallMs => "call_ms",
            Metric::SttAudioMs => "stt_audio_ms",
            Metric::LlmInputTokens => "llm_input_tokens",
            Metric::LlmOutputTokens => "llm_output_tokens",
            Metric::TtsCharacters => "tts_characters",
        }
    }
}

/// One usage record to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUsage {
    /// Unique per measured thing, e.g. `<call id>:stt:<segment seq>`.
    pub idempotency_key: String,
    pub call_id: Option<String>,
    pub metric: Metric,
    pub quantity: i64,
}

impl NewUsage {
    /// Usage of a call; `what` makes the key unique within the call (e.g. `stt:3`).
    pub fn for_call(call_id: &str, what: &str, metric: Metric, quantity: i64) -> Self {
        Self {
            idempotency_key: format!("{call_id}:{what}"),
            call_id: Some(call_id.to_string()),
            metric,
            quantity: quantity.max(0),
        }
    }
}

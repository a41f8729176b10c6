//! Agent configuration as clients send it (GraphQL input objects). Optional fields fall back to defaults, and
//! every field is validated, when an input becomes a [`ConfigDraft`](super::ConfigDraft) (`draft.rs`).

use async_graphql::{InputObject, Json};

use crate::model::agent::*;

#[derive(Debug, Clone, Default, InputObject)]
pub struct AgentConfigInput {
    pub system_prompt: String,
    pub first_message: Option<String>,
    /// Default `en`.
    pub language: Option<String>,
    pub voice: Option<VoiceSettingsInput>,
    pub llm: Option<LlmSettingsInput>,
    #[graphql(default)]
    pub tools: Vec<ToolInput>,
    pub end_call: Option<EndCallRulesInput>,
    pub interruption: Option<InterruptionSettingsInput>,
    pub turn_detection: Option<TurnDetectionInput>,
    /// Default: detection on, hang up.
    pub voicemail: Option<VoicemailSettingsInput>,
    /// Left on an answering machine (`voicemail.action: LEAVE_MESSAGE`); may use `{{variables}}`.
    pub voicemail_message: Option<String>,
    /// Default: off.
    pub analysis: Option<AnalysisSettingsInput>,
    /// Record live calls. Default true.
    pub record_calls: Option<bool>,
}

#[derive(Debug, Clone, Default, InputObject)]
pub struct AnalysisSettingsInput {
    /// Default true when given.
    pub enabled: Option<bool>,
    /// What makes a call a success (at most 2000 characters).
    pub success_criteria: Option<String>,
    /// JSON Schema of the data to extract: an object schema.
    pub extraction_schema: Option<Json<serde_json::Value>>,
}

#[derive(Debug, Clone, Default, InputObject)]
pub struct VoicemailSettingsInput {
    /// Default true.
    pub detection: Option<bool>,
    /// Default `HANG_UP`.
    pub action: Option<VoicemailAction>,
    /// Default 30.
    pub max_greeting_secs: Option<i32>,
}

#[derive(Debug, Clone, Default, InputObject)]
pub struct VoiceSettingsInput {
    /// Default `en_US-joe-medium`.
    pub voice_id: Option<String>,
    /// Default 1.0.
    pub speed: Option<f64>,
}

#[derive(Debug, Clone, Default, InputObject)]
pub struct LlmSettingsInput {
    /// Default `openai` / `gpt-4o-mini`.
    pub primary: Option<LlmTargetInput>,
    #[graphql(default)]
    pub fallbacks: Vec<LlmTargetInput>,
    /// Default 0.7.
    pub temperature: Option<f64>,
    /// Default 400.
    pub max_tokens: Option<i32>,
    /// Said when no model answers. Default: "Sorry, I'm having trouble answering right now. Could you say
    /// that again in a moment?"
    pub apology_message: Option<String>,
}

#[derive(Debug, Clone, InputObject)]
pub struct LlmTargetInput {
    pub provider: String,
    pub model: String,
    /// Required for `vllm` and `custom`.
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, InputObject)]
pub struct ToolInput {
    pub kind: ToolKind,
    pub name: String,
    #[graphql(default)]
    pub description: String,
    pub parameters: Option<Json<serde_json::Value>>,
    pub url: Option<String>,
    pub method: Option<HttpMethod>,
    pub timeout_ms: Option<i32>,
    #[graphql(default)]
    pub destinations: Vec<TransferDestinationInput>,
    /// Request headers a webhook tool sends (e.g. `Authorization`), at most 16. Values are stored encrypted and
    /// never shown again. Left out (null): the tool keeps the headers the same-named webhook tool has now;
    /// `[]` removes them.
    pub headers: Option<Vec<ToolHeaderInput>>,
}

/// A webhook tool's request header.
#[derive(Clone, InputObject)]
pub struct ToolHeaderInput {
    pub name: String,
    /// Write-only.
    pub value: String,
}

/// Header values are tenant secrets; keep them out of logs.
impl std::fmt::Debug for ToolHeaderInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolHeaderInput")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, InputObject)]
pub struct TransferDestinationInput {
    pub name: String,
    pub phone_number: String,
}

#[derive(Debug, Clone, Default, InputObject)]
pub struct EndCallRulesInput {
    /// Default 1800.
    pub max_duration_secs: Option<i32>,
    /// Default 30.
    pub silence_timeout_secs: Option<i32>,
    #[graphql(default)]
    pub end_phrases: Vec<String>,
    /// Default "Are you still there?"
    pub silence_reprompt: Option<String>,
}

#[derive(Debug, Clone, Default, InputObject)]
pub struct InterruptionSettingsInput {
    /// Default true.
    pub enabled: Option<bool>,
    /// Default 1.
    pub min_words: Option<i32>,
    /// Default 300.
    pub min_duration_ms: Option<i32>,
}

#[derive(Debug, Clone, Default, InputObject)]
pub struct TurnDetectionInput {
    /// Default 0.5.
    pub threshold: Option<f64>,
    /// Default 300.
    pub prefix_padding_ms: Option<i32>,
    /// Default 500.
    pub silence_duration_ms: Option<i32>,
}

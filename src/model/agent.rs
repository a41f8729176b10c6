//! What an agent is: its configuration, as stored (JSON in `agent_versions.config`) and as served.
//!
//! Inputs ([`super::input`]) have optional fields; turning an input into an [`AgentConfig`] applies the
//! defaults below and validates every field, so a stored configuration is always complete and valid.

use async_graphql::{Enum, Json, SimpleObject};
use serde::{Deserialize, Serialize};

/// A voice agent's complete configuration. Every change is saved as a new immutable version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct AgentConfig {
    /// Instructions for the language model.
    pub system_prompt: String,
    /// What the agent says when the call connects (none: it waits for the caller).
    pub first_message: Option<String>,
    /// BCP 47 language tag of the conversation, e.g. `en` or `en-US`.
    pub language: String,
    pub voice: VoiceSettings,
    pub llm: LlmSettings,
    pub tools: Vec<Tool>,
    pub end_call: EndCallRules,
    pub interruption: InterruptionSettings,
    pub turn_detection: TurnDetection,
    /// What the agent does when an outbound phone call reaches an answering machine.
    #[serde(default)]
    pub voicemail: VoicemailSettings,
    /// Left on an answering machine after the beep when `voicemail.action` is `LEAVE_MESSAGE`; may use
    /// `{{variables}}` like the system prompt and first message.
    #[serde(default)]
    pub voicemail_message: Option<String>,
    /// What the agent's LLM reads from each answered call once it has ended.
    #[serde(default)]
    pub analysis: AnalysisSettings,
    /// Record live calls (both sides, one stereo file); off: this agent's calls are never recorded.
    #[serde(default = "default_true")]
    pub record_calls: bool,
}

fn default_true() -> bool {
    true
}

/// Post-call analysis: after an answered call ends, the agent's LLM (same providers and tenant keys) writes a
/// summary, judges the call against `successCriteria`, reads the caller's sentiment and, with an
/// `extractionSchema`, extracts data into it (validated; one retry with the validation error).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisSettings {
    pub enabled: bool,
    /// What makes a call a success, in plain words (none: `success` is not judged).
    pub success_criteria: Option<String>,
    /// JSON Schema (an object schema) of the data to extract, e.g. `{appointment_time, name}`.
    pub extraction_schema: Option<Json<serde_json::Value>>,
}

/// Answering-machine handling on outbound phone calls: Twilio's detection (`MachineDetection`, asynchronous)
/// and the server's own check on the first seconds of audio (a long uninterrupted greeting, a beep).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct VoicemailSettings {
    /// Listen for an answering machine before speaking (outbound phone calls only).
    pub detection: bool,
    pub action: VoicemailAction,
    /// Longest wait for the greeting's beep (or its end) before the message is left anyway, in seconds (5–120).
    pub max_greeting_secs: i32,
}

impl Default for VoicemailSettings {
    fn default() -> Self {
        Self {
            detection: true,
            action: VoicemailAction::HangUp,
            max_greeting_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
pub enum VoicemailAction {
    /// Hang up at once; the call ends with `endedReason` `voicemail`.
    HangUp,
    /// Wait for the beep, say `voicemailMessage`, then hang up (`endedReason` `voicemail`).
    LeaveMessage,
}

/// How the agent sounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct VoiceSettings {
    /// Voice id (a TTS voice installed on the server, e.g. `en_US-joe-medium`).
    pub voice_id: String,
    /// Speaking rate, 0.5–2.0 (1.0 is natural).
    pub speed: f64,
}

/// Which language model answers, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct LlmSettings {
    /// The primary model.
    pub primary: LlmTarget,
    /// Tried in order when the primary fails or its circuit is open.
    pub fallbacks: Vec<LlmTarget>,
    /// Sampling temperature, 0–2.
    pub temperature: f64,
    /// Upper bound on tokens per reply.
    pub max_tokens: i32,
    /// What the caller hears when no model answers (every provider failed or its circuit is open).
    #[serde(default = "default_apology")]
    pub apology_message: String,
}

pub fn default_apology() -> String {
    "Sorry, I'm having trouble answering right now. Could you say that again in a moment?".into()
}

pub fn default_silence_reprompt() -> String {
    "Are you still there?".into()
}

/// One OpenAI-compatible model endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
#[graphql(complex)]
pub struct LlmTarget {
    /// Provider name: `openai`, `groq`, `together`, `ollama`, `vllm` or `custom`. API keys are tenant
    /// credentials looked up by this name, never part of the agent; a key is sent only to the provider's
    /// public endpoint or to the base URL stored with it (`setLlmKey`).
    pub provider: String,
    /// The model, e.g. `gpt-4o-mini` or `llama-3.1-8b-instant`.
    pub model: String,
    /// Served by a resolver that hides query strings and user info from roles that cannot edit agents.
    #[graphql(skip)]
    pub base_url: String,
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
#[graphql(complex)]
pub struct Tool {
    pub kind: ToolKind,
    /// Function name the model sees: letters, digits, `_` and `-`, at most 64.
    pub name: String,
    /// When the model should use it.
    pub description: String,
    /// JSON Schema of the arguments (webhook tools).
    pub parameters: Option<Json<serde_json::Value>>,
    /// Where a webhook tool is called (http or https). Served by a resolver that hides query strings and user
    /// info from roles that cannot edit agents.
    #[graphql(skip)]
    pub url: Option<String>,
    pub method: Option<HttpMethod>,
    /// Extra request headers of a webhook tool (e.g. `Authorization`): names only, values are write-only.
    #[serde(default)]
    pub headers: Vec<ToolHeader>,
    /// Webhook timeout in milliseconds, 100–30000.
    pub timeout_ms: Option<i32>,
    /// Where `TRANSFER_CALL` may send the caller.
    pub destinations: Vec<TransferDestination>,
}

/// A request header a webhook tool sends. The value is stored sealed with the server key and never served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct ToolHeader {
    /// The header's name, e.g. `Authorization`.
    pub name: String,
    /// The value, sealed (see `agents::tool_headers`).
    #[graphql(skip)]
    pub sealed: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// Calls the tenant's HTTP endpoint with validated arguments; the answer goes back to the model.
    Webhook,
    /// Built-in: ends the call.
    EndCall,
    /// Built-in: transfers the caller to one of `destinations`.
    TransferCall,
    /// Built-in: presses keys on the phone (DTMF tones in the agent's audio), e.g. to get through a phone menu.
    SendDtmf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct TransferDestination {
    /// What the model calls it, e.g. `sales`.
    pub name: String,
    /// E.164 phone number.
    pub phone_number: String,
}

/// When the agent hangs up on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct EndCallRules {
    /// Longest call, in seconds (1–14400).
    pub max_duration_secs: i32,
    /// Seconds of caller silence before one reprompt, then hanging up (5–600).
    pub silence_timeout_secs: i32,
    /// Caller phrases that end the call (case-insensitive, whole words), e.g. `goodbye`.
    pub end_phrases: Vec<String>,
    /// Said once when the caller has been silent for `silenceTimeoutSecs`; the next silence as long ends the call.
    #[serde(default = "default_silence_reprompt")]
    pub silence_reprompt: String,
}

/// Whether and when the caller can talk over the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct InterruptionSettings {
    /// Off: the caller's words while the agent speaks are answered once it has finished.
    pub enabled: bool,
    /// The agent stops when a caller utterance of at least this many words is transcribed (0–10; 0: not used).
    pub min_words: i32,
    /// The agent stops once the caller has been speaking this long, in milliseconds (0–5000; 0: at the first
    /// sound of speech). Whichever of the two thresholds is reached first stops the agent; shorter sounds
    /// ("mm-hmm") are recorded but not answered.
    pub min_duration_ms: i32,
}

/// Server-side voice activity detection (OpenAI `server_vad` semantics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct TurnDetection {
    /// Speech probability above which audio counts as speech, 0.1–0.99.
    pub threshold: f64,
    /// Audio kept from before speech started, in milliseconds (0–2000).
    pub prefix_padding_ms: i32,
    /// Silence that ends a caller's turn, in milliseconds (100–5000).
    pub silence_duration_ms: i32,
}

impl AgentConfig {
    /// Every tool's name and kind, for quick lookups by the call pipeline.
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }
}

/// The public Chat Completions endpoint of a known provider.
pub fn default_base_url(provider: &str) -> Option<&'static str> {
    Some(match provider {
        "openai" => "https://api.openai.com/v1",
        "groq" => "https://api.groq.com/openai/v1",
        "together" => "https://api.together.xyz/v1",
        "ollama" => "http://127.0.0.1:11434/v1",
        _ => return None,
    })
}

pub const KNOWN_PROVIDERS: [&str; 6] = ["openai", "groq", "together", "ollama", "vllm", "custom"];

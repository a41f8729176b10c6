//! What the brain is told: LLM providers and the agent's reply settings.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use reqwest::Url;

use super::error::BrainError;
use super::tools::ToolSet;

/// One OpenAI-compatible Chat Completions endpoint (OpenAI, Groq, Together, Ollama, vLLM ...).
#[derive(Clone)]
pub struct ProviderConfig {
    /// Name used in events, logs and as the circuit-breaker key; distinct endpoints need distinct names.
    pub name: String,
    /// API root that `/chat/completions` is appended to, e.g. `https://api.groq.com/openai/v1`
    /// or `http://localhost:11434/v1` for Ollama.
    pub base_url: String,
    /// Sent as `Authorization: Bearer ...`; local servers (Ollama, vLLM) usually need none.
    pub api_key: Option<String>,
    /// Model id as the provider spells it.
    pub model: String,
    /// Sampling temperature; `None` leaves the provider's default.
    pub temperature: Option<f32>,
    /// Cap on reply tokens; `None` leaves the provider's default.
    pub max_tokens: Option<u32>,
    /// Time allowed for the TCP/TLS connection.
    pub connect_timeout: Duration,
    /// Time from sending the request to the first text or tool-call fragment; past it the next
    /// provider is tried, because a caller is waiting in silence.
    pub first_token_timeout: Duration,
    /// Time allowed for one whole streamed response.
    pub overall_timeout: Duration,
    /// Ask for a final usage chunk (`stream_options.include_usage`). Some older servers reject the
    /// option; without it usage is estimated.
    pub stream_usage: bool,
}

impl ProviderConfig {
    /// A provider with voice-friendly defaults: 2 s connect, 4 s first token, 60 s overall.
    pub fn new(
        name: impl Into<String>,
        base_url: impl Into<String>,
        model: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            base_url: base_url.into(),
            api_key: None,
            model: model.into(),
            temperature: None,
            max_tokens: None,
            connect_timeout: Duration::from_secs(2),
            first_token_timeout: Duration::from_secs(4),
            overall_timeout: Duration::from_secs(60),
            stream_usage: true,
        }
    }

    /// Sets the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The `chat/completions` URL, checked once when the agent is configured.
    pub(crate) fn completions_url(&self) -> Result<Url, BrainError> {
        let base = self.base_url.trim_end_matches('/');
        let url = Url::parse(&format!("{base}/chat/completions")).map_err(|e| {
            BrainError::Config(format!("provider {}: bad base_url: {e}", self.name))
        })?;
        match url.scheme() {
            "http" | "https" => Ok(url),
            other => Err(BrainError::Config(format!(
                "provider {}: unsupported scheme {other}",
                self.name
            ))),
        }
    }

    fn validate(&self) -> Result<(), BrainError> {
        let fail = |what: &str| {
            Err(BrainError::Config(format!(
                "provider {}: {what}",
                self.name
            )))
        };
        if self.name.trim().is_empty() {
            return Err(BrainError::Config("provider name is empty".into()));
        }
        if self.model.trim().is_empty() {
            return fail("model is empty");
        }
        if [
            self.connect_timeout,
            self.first_token_timeout,
            self.overall_timeout,
        ]
        .contains(&Duration::ZERO)
        {
            return fail("timeouts must be positive");
        }
        if self.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
            return fail("temperature must be within 0..=2");
        }
        self.completions_url().map(|_| ())
    }
}

/// Keeps API keys out of logs.
impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .field("connect_timeout", &self.connect_timeout)
            .field("first_token_timeout", &self.first_token_timeout)
            .field("overall_timeout", &self.overall_timeout)
            .field("stream_usage", &self.stream_usage)
            .finish()
    }
}

/// Caps on one streamed response, so that no provider — or whatever a base URL points at — can make a reply
/// unbounded. Cut-offs are reported as [`BrainEvent::ReplyCut`](super::BrainEvent::ReplyCut).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Reply text plus tool-call names and arguments, in bytes; past it the response ends there (its text so
    /// far is kept, its unfinished tool calls dropped).
    pub max_bytes: usize,
    /// Tool calls in one response; the stream is cut when one more starts, and the first ones run.
    pub max_tool_calls: usize,
    /// Bytes read from the provider for one response (chunk framing included: a stream of empty chunks
    /// counts too).
    pub max_stream_bytes: usize,
}

impl Default for ReplyLimits {
    /// 32 KiB of reply (a voice answer is a few hundred bytes; `maxTokens` ≤ 4096 is ~16 KiB), 8 tool calls,
    /// 1 MiB of stream.
    fn default() -> Self {
        Self {
            max_bytes: 32 * 1024,
            max_tool_calls: 8,
            max_stream_bytes: 1 << 20,
        }
    }
}

/// A provider whose URL has been parsed, as the driver uses it.
#[derive(Debug, Clone)]
pub(crate) struct Provider {
    pub(crate) config: ProviderConfig,
    pub(crate) url: Url,
}

/// How one agent thinks: its provider chain, tools and limits. Validated on construction, shared
/// (behind an `Arc`) by every call of that agent version.
#[derive(Debug, Clone)]
pub struct AgentSpec {
    providers: Vec<Provider>,
    tools: ToolSet,
    apology: String,
    max_tool_rounds: u32,
    context_tokens: usize,
    limits: ReplyLimits,
}

impl AgentSpec {
    /// Default text spoken when no provider can answer.
    pub const DEFAULT_APOLOGY: &'static str =
        "Sorry, I'm having trouble answering right now. Could you say that again in a moment?";

    /// An agent trying `providers` in order. Defaults: 3 tool rounds per reply, 6000 prompt tokens.
    pub fn new(providers: Vec<ProviderConfig>, tools: ToolSet) -> Result<Self, BrainError> {
        if providers.is_empty() {
            return Err(BrainError::Config("at least one provider is needed".into()));
        }
        let mut names = HashSet::new();
        let mut resolved = Vec::with_capacity(providers.len());
        for config in providers {
            config.validate()?;
            if !names.insert(config.name.clone()) {
                return Err(BrainError::Config(format!(
                    "provider name {} is used twice",
                    config.name
                )));
            }
            let url = config.completions_url()?;
            resolved.push(Provider { config, url });
        }
        Ok(Self {
            providers: resolved,
            tools,
            apology: Self::DEFAULT_APOLOGY.to_owned(),
            max_tool_rounds: 3,
            context_tokens: 6000,
            limits: ReplyLimits::default(),
        })
    }

    /// Caps on each response (see [`ReplyLimits`]).
    pub fn with_limits(mut self, limits: ReplyLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The caps on each response.
    pub fn limits(&self) -> ReplyLimits {
        self.limits
    }

    /// Text spoken (as [`BrainEvent::Apology`](super::BrainEvent::Apology)) when every provider fails.
    pub fn with_apology(mut self, text: impl Into<String>) -> Self {
        self.apology = text.into();
        self
    }

    /// How many times per reply tool results may be fed back before the model must answer in text.
    pub fn with_max_tool_rounds(mut self, rounds: u32) -> Self {
        self.max_tool_rounds = rounds;
        self
    }

    /// Token budget for each request's prompt (messages plus tool definitions), see
    /// [`Conversation::messages_within`](super::Conversation::messages_within).
    pub fn with_context_tokens(mut self, tokens: usize) -> Self {
        self.context_tokens = tokens;
        self
    }

    pub(crate) fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// The agent's tools.
    pub fn tools(&self) -> &ToolSet {
        &self.tools
    }

    /// The apology text.
    pub fn apology(&self) -> &str {
        &self.apology
    }

    /// Tool rounds allowed per reply.
    pub fn max_tool_rounds(&self) -> u32 {
        self.max_tool_rounds
    }

    /// Prompt token budget.
    pub fn context_tokens(&self) -> usize {
        self.context_tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_url_tolerates_trailing_slash() {
        let p = ProviderConfig::new("ollama", "http://localhost:11434/v1/", "llama3.2");
        assert_eq!(
            p.completions_url().map(|u| u.to_string()),
            Ok("http://localhost:11434/v1/chat/completions".to_owned())
        );
    }

    #[test]
    fn rejects_bad_providers() {
        let ok = ProviderConfig::new("a", "https://api.openai.com/v1", "gpt-4o-mini");
        let dup = AgentSpec::new(vec![ok.clone(), ok.clone()], ToolSet::empty());
        assert!(matches!(dup, Err(BrainError::Config(_))));
        let ftp = ProviderConfig::new("b", "ftp://x", "m");
        assert!(AgentSpec::new(vec![ftp], ToolSet::empty()).is_err());
        assert!(AgentSpec::new(vec![], ToolSet::empty()).is_err());
        let mut zero = ok;
        zero.first_token_timeout = Duration::ZERO;
        assert!(AgentSpec::new(vec![zero], ToolSet::empty()).is_err());
    }

    #[test]
    fn debug_redacts_the_key() {
        let p = ProviderConfig::new("a", "https://x/v1", "m").with_api_key("sk-secret");
        assert!(!format!("{p:?}").contains("sk-secret"));
    }
}

//! The brain's one error type.

use std::time::Duration;

use crate::error::{ErrorCode, Reportable};
use crate::outbound;

/// Everything that can go wrong while configuring the brain or producing a reply.
///
/// It is `Clone` (transport errors are kept as text) so a failure can travel inside
/// [`BrainEvent::ProviderFailed`](super::BrainEvent::ProviderFailed) to the call timeline and still be
/// matched on there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrainError {
    /// The agent, provider or tool configuration is unusable (bad URL, bad schema, duplicate name ...).
    #[error("invalid brain configuration: {0}")]
    Config(String),
    /// The provider's circuit breaker is open, so it was not asked at all.
    #[error("circuit breaker open")]
    CircuitOpen,
    /// The URL leads to an address tenants may not reach (see [`crate::outbound`]); nothing was sent.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// Connecting or sending the request failed (refused, DNS, TLS, connect timeout).
    #[error("request failed: {0}")]
    Request(String),
    /// The provider answered with a non-success HTTP status (its error body is kept, shortened).
    #[error("HTTP {status}: {body}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body, usually the provider's JSON error.
        body: String,
    },
    /// Neither text nor a tool call arrived within the provider's first-token timeout.
    #[error("no first token within {0:?}")]
    FirstTokenTimeout(Duration),
    /// The response did not finish within the provider's overall timeout.
    #[error("reply not finished within {0:?}")]
    OverallTimeout(Duration),
    /// The connection broke or closed while the body was streaming.
    #[error("stream interrupted: {0}")]
    Stream(String),
    /// The body did not follow the Chat Completions streaming protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The provider reported an error inside the stream (`data: {"error": ...}`).
    #[error("provider error: {0}")]
    Provider(String),
}

/// The outbound policy refused the URL before anything was sent.
impl From<outbound::Refused> for BrainError {
    fn from(refused: outbound::Refused) -> Self {
        Self::NotAllowed(refused.to_string())
    }
}

/// Why a provider failed, as the call timeline's `llm_provider_failed` events say.
impl Reportable for BrainError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::CircuitOpen => ErrorCode::CircuitOpen,
            Self::FirstTokenTimeout(_) => ErrorCode::FirstTokenTimeout,
            Self::OverallTimeout(_) => ErrorCode::Timeout,
            Self::Status { .. } => ErrorCode::ProviderStatus,
            Self::Config(_) => ErrorCode::Config,
            Self::NotAllowed(_) => ErrorCode::UrlNotAllowed,
            Self::Request(_) => ErrorCode::ProviderUnreachable,
            Self::Stream(_) | Self::Protocol(_) | Self::Provider(_) => ErrorCode::ProviderError,
        }
    }
}

/// An error and all its sources on one line: reqwest keeps the useful part ("connection refused")
/// a few sources down, and the call timeline should show it.
pub(crate) fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

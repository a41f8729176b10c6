//! What a reply stream tells the voice pipeline.

use std::time::Duration;

use super::conversation::Turn;
use super::error::BrainError;
use crate::error::ErrorCode;

/// One event of a reply, in the order things happened.
///
/// Text arrives as [`BrainEvent::TextDelta`] the moment the provider sends it, so the pipeline's
/// sentence chunker can start TTS on the first sentence while the rest streams. Call-control events
/// ([`BrainEvent::EndCall`], [`BrainEvent::TransferCall`]) come after all the text they follow, so
/// "speak everything before it, then act" is always right. [`BrainEvent::Done`] is the last event
/// unless the reply was cancelled, in which case the stream simply ends.
#[derive(Debug, Clone, PartialEq)]
pub enum BrainEvent {
    /// The next piece of reply text.
    TextDelta(String),
    /// The model called a tool; it is executed next (or refused, see the matching result).
    ToolCall {
        /// The provider's call id.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments as the model wrote them (JSON text).
        arguments: String,
    },
    /// What the model was told about a tool call.
    ToolResult {
        /// The call id.
        id: String,
        /// Tool name.
        name: String,
        /// False when the arguments were refused or the webhook failed; `content` then says why.
        ok: bool,
        /// Why it failed, for the call timeline: `URL_NOT_ALLOWED`, `TIMEOUT` or `TOOL_FAILED`.
        code: Option<ErrorCode>,
        /// The text sent back to the model.
        content: String,
        /// How long validation and the webhook took.
        elapsed: Duration,
    },
    /// The model ended the call: hang up once the text before this event has been spoken.
    EndCall {
        /// The model's reason, if it gave one.
        reason: Option<String>,
    },
    /// The model asked to transfer the caller once the text before this event has been spoken.
    TransferCall {
        /// Destination, one of the agent's configured destinations when it has a list.
        to: String,
        /// The model's reason, if it gave one.
        reason: Option<String>,
    },
    /// The model pressed phone keys (`send_dtmf`): play them as tones after the text before this event.
    SendDtmf {
        /// `0-9`, `*`, `#`, `A-D`; `w` is a half-second pause.
        digits: String,
    },
    /// Tokens this reply used, summed over its requests (tool rounds make several); sent once,
    /// before `Done`, when at least one provider answered.
    Usage {
        /// Prompt (input) tokens.
        prompt_tokens: u32,
        /// Completion (output) tokens.
        completion_tokens: u32,
        /// True when some request's counts are estimates because the provider sent no usage.
        estimated: bool,
    },
    /// A provider could not answer (or was skipped, [`BrainError::CircuitOpen`]), for the call
    /// timeline. Unless `mid_stream`, the next provider is tried.
    ProviderFailed {
        /// Provider name.
        provider: String,
        /// What went wrong.
        error: BrainError,
        /// The failure came after text had been streamed; the reply ends there.
        mid_stream: bool,
    },
    /// The provider's response was cut off at one of the agent's [`ReplyLimits`](super::ReplyLimits): what
    /// came before the cut stands (text, the first tool calls), the rest was never read.
    ReplyCut {
        /// Provider name.
        provider: String,
        /// `LLM_REPLY_TOO_LARGE` or `LLM_TOO_MANY_TOOL_CALLS`.
        code: ErrorCode,
        /// The limit that was reached (bytes, or tool calls).
        limit: usize,
    },
    /// No provider could answer: speak this text so the caller is not left in silence.
    Apology(String),
    /// The reply is complete.
    Done(ReplySummary),
}

/// How a reply ended and what it added to the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplySummary {
    /// Turns to append to the conversation: tool rounds, then the assistant text (including a
    /// partial text or an apology). After a barge-in the pipeline records what was spoken instead.
    pub turns: Vec<Turn>,
    /// Why the reply ended.
    pub finish: Finish,
    /// The provider that produced the last response, if any did.
    pub provider: Option<String>,
}

/// Why a reply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The model finished its answer.
    Stop,
    /// The model hit its token limit.
    Length,
    /// The model ended the call.
    EndCall,
    /// The model transferred the call.
    TransferCall,
    /// The model kept calling tools past the agent's limit.
    ToolRoundsExhausted,
    /// A provider broke off after text had been streamed.
    ProviderFailed,
    /// No provider answered; the apology was sent.
    AllProvidersFailed,
}

//! What clients and sessions say to each other, independent of the wire protocol.
//!
//! A wire protocol ([`super::realtime`], [`super::twilio`]) turns client messages into [`Command`]s and renders
//! the session's [`Event`]s; the session never sees JSON.

use crate::audio::AudioFormat;
use crate::error::{ApiError, ErrorCode, Reportable};
use crate::voice::TurnConfig;

/// Something a client asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Caller audio in the session's input format.
    Audio(Vec<u8>),
    /// End the caller's turn now (`input_audio_buffer.commit`).
    Commit,
    /// Drop buffered caller audio (`input_audio_buffer.clear`).
    ClearInput,
    /// Change the session: `None` fields stay as they are.
    Configure {
        input_format: Option<AudioFormat>,
        output_format: Option<AudioFormat>,
        /// Answer automatically when the caller's turn ends.
        create_response: Option<bool>,
        /// `Some(None)` turns server turn detection off (the client commits).
        turn_detection: Option<Option<TurnConfig>>,
    },
    /// A typed user message (`conversation.item.create`).
    UserText {
        item_id: Option<String>,
        text: String,
    },
    /// Ask the agent to answer now (`response.create`).
    CreateResponse,
    /// Stop the agent's answer (`response.cancel`).
    CancelResponse,
    /// The client played the agent message `item_id` only up to `audio_end_ms` (`conversation.item.truncate`):
    /// the caller heard that much of it.
    Truncate { item_id: String, audio_end_ms: u64 },
    /// The caller pressed a key (Twilio `dtmf`).
    Dtmf(String),
    /// The client played audio up to a mark (Twilio `mark`).
    PlaybackMark(String),
    /// The caller hung up (Twilio `stop`).
    Hangup,
}

/// Something the session tells the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The session is ready (first message); `call_id` is the call record it is stored as.
    SessionCreated {
        call_id: String,
    },
    /// A `Configure` was applied.
    SessionUpdated,
    SpeechStarted {
        item_id: String,
        audio_start_ms: u64,
    },
    SpeechStopped {
        item_id: String,
        audio_end_ms: u64,
    },
    /// Caller audio became a conversation item.
    Committed {
        item_id: String,
        previous_item_id: Option<String>,
    },
    InputCleared,
    /// A user item joined the conversation: audio awaiting its transcript, or typed text.
    UserItemAdded {
        item_id: String,
        previous_item_id: Option<String>,
        text: Option<String>,
    },
    /// The transcript of a user audio item.
    Transcribed {
        item_id: String,
        text: String,
    },
    TranscriptionFailed {
        item_id: String,
        error: ClientError,
    },
    /// The agent starts answering.
    ResponseCreated {
        response_id: String,
    },
    /// An item of the response joined the conversation (a message still empty, or a tool call).
    ResponseItemAdded {
        response_id: String,
        previous_item_id: Option<String>,
        output_index: usize,
        item: OutputItem,
    },
    /// Agent audio in the output format, paced for playback.
    ResponseAudio {
        response_id: String,
        item_id: String,
        output_index: usize,
        audio: Vec<u8>,
    },
    /// The agent's words: the transcript of the audio now playing, or the answer itself when there is no audio.
    ResponseText {
        response_id: String,
        item_id: String,
        output_index: usize,
        text: String,
        audio: bool,
    },
    /// An item of the response is complete (for a message: what was said, cut where the caller interrupted).
    ResponseItemDone {
        response_id: String,
        output_index: usize,
        item: OutputItem,
    },
    ResponseDone {
        response_id: String,
        status: ResponseStatus,
        output: Vec<OutputItem>,
        /// (input, output) LLM tokens.
        usage: Option<(u32, u32)>,
    },
    /// Agent audio up to here was sent; the client says when it has played (Twilio `mark`).
    PlaybackMark {
        name: String,
    },
    /// Drop agent audio sent but not played yet (Twilio `clear`).
    ClearPlayback,
    /// A [`Command::Truncate`] was applied.
    ItemTruncated {
        item_id: String,
        audio_end_ms: u64,
    },
    Error(ClientError),
}

/// An item an agent response adds to the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputItem {
    Message {
        item_id: String,
        text: String,
        audio: bool,
    },
    /// A tool the agent called; the server runs it.
    FunctionCall {
        item_id: String,
        call_id: String,
        name: String,
        arguments: String,
    },
}

impl OutputItem {
    pub fn item_id(&self) -> &str {
        match self {
            Self::Message { item_id, .. } | Self::FunctionCall { item_id, .. } => item_id,
        }
    }
}

/// How a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseStatus {
    Completed,
    /// `turn_detected` (the caller spoke) or `client_cancelled`.
    Cancelled(&'static str),
}

/// An error reported to the client, with a stable `code`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientError {
    /// Stable, from the one table of codes; clients see it in snake_case (the Realtime API's style).
    pub code: ErrorCode,
    pub message: String,
    /// The offending field, e.g. `session.input_audio_format`.
    pub param: Option<String>,
    /// The client event that caused it.
    pub event_id: Option<String>,
    /// When set, the connection closes with this WebSocket close code after the error is reported.
    pub close: Option<u16>,
}

impl ClientError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            param: None,
            event_id: None,
            close: None,
        }
    }

    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn event_id(mut self, event_id: Option<&str>) -> Self {
        self.event_id = event_id.map(str::to_string);
        self
    }

    /// A refusal of the connection for a reason any layer gave (`ApiError` is every layer's error as clients
    /// see it); reporting it ends the connection with `1008 policy violation`.
    pub fn refusal(error: impl Into<ApiError>) -> Self {
        let error = error.into();
        Self::new(error.code, error.message).closing(axum::extract::ws::close_code::POLICY)
    }

    /// Reporting this error ends the connection with `code`.
    pub fn closing(mut self, code: u16) -> Self {
        self.close = Some(code);
        self
    }
}

/// Any layer's error refuses a connection that is being admitted (`?` in admission).
impl<E: Reportable> From<E> for ClientError {
    fn from(error: E) -> Self {
        Self::refusal(ApiError::report(&error))
    }
}

/// A wire protocol: client messages in, session events out.
pub trait Protocol: Send + Sync + 'static {
    /// Translates a text message.
    fn text(&mut self, text: &str) -> Result<Vec<Command>, ClientError>;
    /// Translates a binary message.
    fn binary(&mut self, bytes: &[u8]) -> Result<Vec<Command>, ClientError>;
    /// Renders an event as text messages; empty when the protocol has no such message.
    fn render(&mut self, event: &Event) -> Vec<String>;
    /// The agent's audio: its format and how many milliseconds go in one message.
    fn output_audio(&self) -> (AudioFormat, u64);
}

//! Live calls: a caller's audio over a WebSocket — heard, turned into utterances, transcribed, answered by the
//! agent's voice and recorded while the call goes on.
//!
//! # Layout
//! - [`realtime`] — the OpenAI-Realtime-compatible protocol (browsers, SDKs), beta and GA forms.
//! - [`twilio`] — Twilio Media Streams (phone calls).
//! - [`admit`] — admission, the same for both transports: credential → tenant and agent → limits → voice engines
//!   → [`plan::CallPlan`] → the call record, `in_progress`. The only live-call code that sees the app state.
//! - [`plan`] — where an agent's configuration becomes a call: turn detection, brain, voice, barge-in, end rules.
//! - [`protocol`] — what both protocols translate to and from: client [`Command`]s and session [`Event`]s.
//! - [`session`] — the call driver: listens, transcribes on the STT pool, has the agent answer, and ends the call
//!   in a proper state however it ends.
//! - [`limits`] — what one call may ask of the server: audio pace, typed messages, transcriptions waiting.
//! - [`listen`] — [`Listener`]: wire audio → 16 kHz → Silero VAD → turns (or manual commits), run as a stage of
//!   its own so the call never waits on VAD.
//! - [`respond`] — one task per agent response: LLM (brain) → sentences → TTS → encoded audio.
//! - [`playout`] — the agent's audio paced to playback, and what the caller heard of it (barge-in).
//! - [`voicemail`] — [`voicemail::Screener`]: a person or an answering machine, from the first seconds of an
//!   outbound call's audio and Twilio's verdict; when the machine is ready for the message.
//! - [`registry`] — [`registry::LiveCalls`]: the calls running here, so Twilio's callbacks reach their sessions.
//! - [`recorder`] — timeline events, transcript segments, usage and the final state, written by a task of their
//!   own so the call never waits on SQLite.
//! - [`socket`] — the sending side: a bounded queue and writer task, so a client that stops reading is dropped
//!   instead of buffered without bound.
//!
//! ```text
//! WebSocket ─► protocol (JSON → Command) ─► listen stage (decode, VAD, turns) ─► STT pool ─► recorder
//!                                                                                  │
//!     ◄─ protocol (Event → JSON) ◄── Playout (paced audio, marks) ◄── respond (LLM → sentences → TTS)
//! ```

pub mod admit;
pub mod limits;
pub mod listen;
pub mod plan;
pub mod playout;
pub mod protocol;
pub mod realtime;
pub mod recorder;
pub mod registry;
pub mod respond;
pub mod session;
pub mod socket;
pub mod twilio;
pub mod voicemail;

use std::time::Duration;

pub use listen::Listener;
pub use protocol::{ClientError, Command, Event, Protocol};

/// Connection limits of live calls (see the `--live-*` settings).
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// Between WebSocket pings.
    pub ping_interval: Duration,
    /// Silence from the client (no message, no pong) after which the call ends as `connection_lost`.
    pub idle_timeout: Duration,
    /// How long the client may take to accept what is sent before it is dropped as too slow.
    pub write_timeout: Duration,
    /// Largest accepted message.
    pub max_message_bytes: usize,
}

/// How live calls reach LLM providers (see the `--llm-*` settings).
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// Time allowed to connect to a provider.
    pub connect_timeout: Duration,
    /// Time from request to first token before the next provider is tried: a caller is waiting in silence.
    pub first_token_timeout: Duration,
    /// When a failing provider is skipped, and for how long.
    pub breaker: crate::brain::BreakerConfig,
}

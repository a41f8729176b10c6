//! Voice engines: turn detection, speech to text, text to speech — as libraries, without transport or server
//! wiring.
//!
//! # Layout
//! - [`models`] — [`VoiceConfig`] (where the files are), [`VoiceModels`] (what loaded) and the `/readyz`
//!   [`VoiceStatus`]. The server starts without models and refuses calls that need a missing one.
//! - [`runtime`] — ONNX Runtime, loaded dynamically once per process.
//! - [`pool`] — [`InferencePool`]: bounded dedicated threads for model inference, so calls never block the async
//!   runtime and bursts queue instead of oversubscribing the CPU.
//! - [`vad`] — Silero VAD: speech probability per 32 ms window, with per-call recurrent state.
//! - [`turn`] — [`TurnDetector`]: OpenAI `server_vad` turn semantics over those probabilities (sans-I/O).
//! - [`stt`] — Whisper (whisper-rs) speech to text with decoder settings tuned for short utterances.
//! - [`beep`] — [`BeepDetector`]: the tone ending an answering machine's greeting (sans-I/O).
//! - [`tts`] — Piper text to speech (espeak-ng phonemes, ONNX model) and the [`SentenceChunker`] that feeds it.
//! - [`VoiceError`] — the one error type of this layer, with stable codes.
//!
//! Stage logic ([`TurnDetector`], [`SentenceChunker`], the audio codecs) takes time and input from outside;
//! only the engines touch models, and only on their pools.

pub mod beep;
mod error;
pub mod models;
pub mod pool;
pub mod runtime;
pub mod stt;
pub mod tts;
pub mod turn;
pub mod vad;

#[cfg(test)]
pub(crate) mod testing;

pub use beep::{Beep, BeepDetector};
pub use error::{ModelKind, VoiceError};
pub use models::{ModelStatus, VoiceConfig, VoiceModels, VoiceOptions, VoiceStatus};
pub use pool::InferencePool;
pub use stt::{SpeechToText, Transcription};
pub use tts::{SentenceChunker, Synthesized, TextToSpeech};
pub use turn::{TurnConfig, TurnDetector, TurnEvent, Utterance};
pub use vad::{SileroVad, VadStream, VadWindow};

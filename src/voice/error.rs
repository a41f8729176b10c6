//! [`VoiceError`]: the one error type of the voice layer.

use std::path::PathBuf;

use crate::audio::AudioError;
use crate::error::{ErrorCode, Reportable};

/// Which engine a model file belongs to; used in errors and in the readiness report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// ONNX Runtime shared library (needed by VAD and TTS).
    OnnxRuntime,
    /// Whisper GGML model (speech to text).
    Stt,
    /// Silero VAD ONNX model.
    Vad,
    /// Piper voice ONNX model + JSON config (text to speech).
    Tts,
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::OnnxRuntime => "ONNX Runtime library",
            Self::Stt => "speech-to-text model",
            Self::Vad => "voice activity detection model",
            Self::Tts => "text-to-speech model",
        })
    }
}

fn describe_missing(path: Option<&std::path::Path>) -> String {
    match path {
        Some(p) => format!("{} not found", p.display()),
        None => "no path configured".to_string(),
    }
}

/// Errors of the voice engines. Each variant has a stable [`code`](VoiceError::code) for the API edge.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    /// A model (or the ONNX Runtime library) is not configured or its file does not exist. The call that needs
    /// it is refused; `setting` names the configuration to fix.
    #[error("{model} is not available: {} (set {setting})", describe_missing(.path.as_deref()))]
    ModelMissing {
        /// The engine whose model is missing.
        model: ModelKind,
        /// Configuration setting (environment variable) that points at the missing file.
        setting: &'static str,
        /// Path that was looked at; `None` when nothing is configured.
        path: Option<PathBuf>,
    },
    /// A model file exists but could not be loaded.
    #[error("{model} at {path} failed to load: {reason}")]
    ModelFailed {
        /// The engine whose model failed.
        model: ModelKind,
        /// Path of the file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The inference pool has shut down (process is stopping) or a worker died mid-job.
    #[error("{pool} inference pool is unavailable: {reason}")]
    PoolUnavailable {
        /// Pool name (`stt`, `vad`, `tts`).
        pool: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// Inference ran and failed.
    #[error("{engine} inference failed: {reason}")]
    Inference {
        /// Engine name (`whisper`, `silero`, `piper`).
        engine: &'static str,
        /// The engine's message.
        reason: String,
    },
    /// The espeak-ng phonemizer could not be run or gave no usable output.
    #[error("phonemizer failed: {0}")]
    Phonemizer(String),
    /// The input cannot be processed (empty audio, text too long, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Audio conversion failed.
    #[error(transparent)]
    Audio(#[from] AudioError),
}

impl Reportable for VoiceError {
    /// Stable machine-readable code for live-call errors, the call timeline and `/readyz`.
    fn code(&self) -> ErrorCode {
        match self {
            Self::ModelMissing { .. } => ErrorCode::VoiceModelMissing,
            Self::ModelFailed { .. } => ErrorCode::VoiceModelFailed,
            Self::PoolUnavailable { .. } => ErrorCode::VoiceUnavailable,
            Self::Inference { .. } => ErrorCode::VoiceInferenceFailed,
            Self::Phonemizer(_) => ErrorCode::VoicePhonemizerFailed,
            Self::InvalidInput(_) => ErrorCode::VoiceInvalidInput,
            Self::Audio(_) => ErrorCode::VoiceAudioError,
        }
    }
}

impl VoiceError {
    pub(crate) fn inference(engine: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::Inference {
            engine,
            reason: reason.to_string(),
        }
    }
}

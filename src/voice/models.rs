//! Voice model configuration, loading and readiness.
//!
//! The server must start without models (a fresh checkout, a region without the voice files yet) and say so:
//! [`VoiceModels::load`] never fails; it loads what exists and records, per model, whether it is loaded, missing
//! (with the setting to fix and the path looked at) or failed (with the error). Calls that need a model that is
//! not loaded are refused with a [`VoiceError`] naming the setting; `/readyz` serialises [`VoiceStatus`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::runtime::{ORT_DYLIB_SETTING, ort_environment, resolve_dylib_path};
use super::stt::{SpeechToText, SttOptions};
use super::tts::{TextToSpeech, TtsOptions};
use super::vad::{SileroVad, VadOptions};
use super::{ModelKind, VoiceError};

/// Setting: directory holding the model files.
pub const MODELS_DIR_SETTING: &str = "VOXEDGE_MODELS_DIR";
/// Setting: Whisper GGML model file (relative to the models directory unless absolute).
pub const STT_MODEL_SETTING: &str = "VOXEDGE_STT_MODEL";
/// Setting: Silero VAD ONNX model file.
pub const VAD_MODEL_SETTING: &str = "VOXEDGE_VAD_MODEL";
/// Setting: Piper voice ONNX model file (its `.json` must sit next to it).
pub const TTS_MODEL_SETTING: &str = "VOXEDGE_TTS_MODEL";
/// Setting: the espeak-ng executable used for TTS phonemes.
pub const ESPEAK_SETTING: &str = "VOXEDGE_ESPEAK_NG";

/// Where the voice models are. Flatten into the server's clap config with `#[command(flatten)]`.
#[derive(Debug, Clone, PartialEq, clap::Args, Serialize)]
pub struct VoiceConfig {
    /// Directory holding the model files.
    #[arg(long = "models-dir", env = MODELS_DIR_SETTING, default_value = "models")]
    pub models_dir: PathBuf,
    /// Whisper GGML model, relative to the models directory unless absolute.
    #[arg(long = "stt-model", env = STT_MODEL_SETTING, default_value = "ggml-tiny.en.bin")]
    pub stt_model: PathBuf,
    /// Silero VAD ONNX model, relative to the models directory unless absolute.
    #[arg(long = "vad-model", env = VAD_MODEL_SETTING, default_value = "silero_vad.onnx")]
    pub vad_model: PathBuf,
    /// Piper voice ONNX model, relative to the models directory unless absolute.
    #[arg(long = "tts-model", env = TTS_MODEL_SETTING, default_value = "en_US-joe-medium.onnx")]
    pub tts_model: PathBuf,
    /// ONNX Runtime shared library; when unset, `ORT_DYLIB_PATH` is used.
    #[arg(long = "ort-dylib", env = ORT_DYLIB_SETTING)]
    pub ort_dylib: Option<PathBuf>,
    /// espeak-ng executable.
    #[arg(long = "espeak-ng", env = ESPEAK_SETTING, default_value = "espeak-ng")]
    pub espeak_ng: String,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            models_dir: "models".into(),
            stt_model: "ggml-tiny.en.bin".into(),
            vad_model: "silero_vad.onnx".into(),
            tts_model: "en_US-joe-medium.onnx".into(),
            ort_dylib: None,
            espeak_ng: "espeak-ng".into(),
        }
    }
}

impl VoiceConfig {
    /// A config with every model in `dir` under its default name.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            models_dir: dir.into(),
            ..Self::default()
        }
    }

    /// Full path of a model setting.
    pub fn model_path(&self, file: &Path) -> PathBuf {
        self.models_dir.join(file)
    }
}

/// Pool sizes of the three engines.
#[derive(Debug, Clone, Default)]
pub struct VoiceOptions {
    /// Speech to text.
    pub stt: SttOptions,
    /// Voice activity detection.
    pub vad: VadOptions,
    /// Text to speech (its `espeak_program` is replaced by the config's).
    pub tts: TtsOptions,
}

/// State of one model, as `/readyz` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ModelStatus {
    /// Loaded and serving.
    Loaded {
        /// File it was loaded from.
        path: PathBuf,
    },
    /// Not configured or the file does not exist.
    Missing {
        /// Setting to fix.
        setting: &'static str,
        /// Path that was looked at, if any.
        path: Option<PathBuf>,
    },
    /// Present but could not be loaded.
    Failed {
        /// File that failed.
        path: PathBuf,
        /// Why.
        error: String,
    },
}

impl ModelStatus {
    /// True when loaded.
    pub fn is_loaded(&self) -> bool {
        matches!(self, Self::Loaded { .. })
    }

    /// `path` is the file being loaded, for errors that do not name one.
    fn from_error(err: &VoiceError, path: &Path) -> Self {
        match err {
            VoiceError::ModelMissing { setting, path, .. } => Self::Missing {
                setting,
                path: path.clone(),
            },
            VoiceError::ModelFailed { path, reason, .. } => Self::Failed {
                path: path.clone(),
                error: reason.clone(),
            },
            other => Self::Failed {
                path: path.to_path_buf(),
                error: other.to_string(),
            },
        }
    }

    /// The error refusing a call that needs this model; `None` when loaded.
    fn to_error(&self, model: ModelKind) -> Option<VoiceError> {
        match self {
            Self::Loaded { .. } => None,
            Self::Missing { setting, path } => Some(VoiceError::ModelMissing {
                model,
                setting,
                path: path.clone(),
            }),
            Self::Failed { path, error } => Some(VoiceError::ModelFailed {
                model,
                path: path.clone(),
                reason: error.clone(),
            }),
        }
    }
}

/// Readiness of the voice layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoiceStatus {
    /// ONNX Runtime library (VAD and TTS need it).
    pub onnx_runtime: ModelStatus,
    /// Whisper model.
    pub stt: ModelStatus,
    /// Silero VAD model.
    pub vad: ModelStatus,
    /// Piper voice.
    pub tts: ModelStatus,
}

impl VoiceStatus {
    /// True when every engine is loaded.
    pub fn ready(&self) -> bool {
        [&self.onnx_runtime, &self.stt, &self.vad, &self.tts]
            .iter()
            .all(|s| s.is_loaded())
    }
}

/// The loaded voice engines, shared by all calls.
pub struct VoiceModels {
    stt: Option<Arc<SpeechToText>>,
    vad: Option<Arc<SileroVad>>,
    tts: Option<Arc<TextToSpeech>>,
    status: VoiceStatus,
}

impl VoiceModels {
    /// Loads every model that exists; never fails (see the module docs). Blocking: call it at start-up, off the
    /// async workers. Takes a few seconds with all models present.
    pub fn load(config: &VoiceConfig, options: VoiceOptions) -> Self {
        let stt_path = config.model_path(&config.stt_model);
        let (stt, stt_status) = load_one(ModelKind::Stt, STT_MODEL_SETTING, &stt_path, |p| {
            SpeechToText::load(p, options.stt)
        });

        let (onnx_runtime, env) = match resolve_dylib_path(config.ort_dylib.as_deref()) {
            Some(path) => match ort_environment(&path) {
                Ok(env) => (ModelStatus::Loaded { path }, Some(env)),
                Err(e) => (ModelStatus::from_error(&e, &path), None),
            },
            None => (
                ModelStatus::Missing {
                    setting: ORT_DYLIB_SETTING,
                    path: None,
                },
                None,
            ),
        };

        let vad_path = config.model_path(&config.vad_model);
        let tts_path = config.model_path(&config.tts_model);
        let tts_options = TtsOptions {
            espeak_program: config.espeak_ng.clone(),
            ..options.tts
        };
        let ((vad, vad_status), (tts, tts_status)) = match &env {
            Some(env) => (
                load_one(ModelKind::Vad, VAD_MODEL_SETTING, &vad_path, |p| {
                    SileroVad::load(env, p, options.vad)
                }),
                load_one(ModelKind::Tts, TTS_MODEL_SETTING, &tts_path, |p| {
                    TextToSpeech::load(env, p, tts_options)
                }),
            ),
            // Without the runtime, the ONNX models cannot load: point at the runtime setting.
            None => ((None, onnx_runtime.clone()), (None, onnx_runtime.clone())),
        };

        let status = VoiceStatus {
            onnx_runtime,
            stt: stt_status,
            vad: vad_status,
            tts: tts_status,
        };
        tracing::info!(ready = status.ready(), status = ?status, "voice models");
        Self {
            stt,
            vad,
            tts,
            status,
        }
    }

    /// No engines: for commands that never handle calls. Every model reports as missing.
    pub fn none() -> Self {
        let missing = |setting| ModelStatus::Missing {
            setting,
            path: None,
        };
        Self {
            stt: None,
            vad: None,
            tts: None,
            status: VoiceStatus {
                onnx_runtime: missing(ORT_DYLIB_SETTING),
                stt: missing(STT_MODEL_SETTING),
                vad: missing(VAD_MODEL_SETTING),
                tts: missing(TTS_MODEL_SETTING),
            },
        }
    }

    /// Per-model status for `/readyz`.
    pub fn status(&self) -> &VoiceStatus {
        &self.status
    }

    /// Speech to text, or the error refusing a call that needs it.
    pub fn stt(&self) -> Result<Arc<SpeechToText>, VoiceError> {
        available(&self.stt, &self.status.stt, ModelKind::Stt)
    }

    /// Voice activity detection, or the error refusing a call that needs it.
    pub fn vad(&self) -> Result<Arc<SileroVad>, VoiceError> {
        available(&self.vad, &self.status.vad, ModelKind::Vad)
    }

    /// Text to speech, or the error refusing a call that needs it.
    pub fn tts(&self) -> Result<Arc<TextToSpeech>, VoiceError> {
        available(&self.tts, &self.status.tts, ModelKind::Tts)
    }
}

fn available<T>(
    slot: &Option<Arc<T>>,
    status: &ModelStatus,
    model: ModelKind,
) -> Result<Arc<T>, VoiceError> {
    match slot {
        Some(engine) => Ok(Arc::clone(engine)),
        None => Err(status
            .to_error(model)
            .unwrap_or(VoiceError::PoolUnavailable {
                pool: "voice",
                reason: "model reported loaded but is absent",
            })),
    }
}

fn load_one<T>(
    model: ModelKind,
    setting: &'static str,
    path: &Path,
    load: impl FnOnce(&Path) -> Result<T, VoiceError>,
) -> (Option<Arc<T>>, ModelStatus) {
    if !path.is_file() {
        let status = ModelStatus::Missing {
            setting,
            path: Some(path.to_path_buf()),
        };
        tracing::warn!(%model, setting, path = %path.display(), "voice model missing");
        return (None, status);
    }
    match load(path) {
        Ok(engine) => (
            Some(Arc::new(engine)),
            ModelStatus::Loaded {
                path: path.to_path_buf(),
            },
        ),
        Err(e) => {
            tracing::error!(%model, path = %path.display(), error = %e, "voice model failed to load");
            (None, ModelStatus::from_error(&e, path))
        }
    }
}

#[cfg(test)]
#[path = "models_tests.rs"]
mod tests;

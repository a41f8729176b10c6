//! Text to speech with Piper voices (VITS, ONNX) through ONNX Runtime, and the sentence chunker feeding it.
//!
//! A synthesis runs on the TTS pool: espeak-ng turns the text into IPA ([`phonemes`]), the voice's
//! `phoneme_id_map` turns that into ids, and the model renders audio at the voice's rate (22,050 Hz for
//! `en_US-joe-medium`). Each worker owns a session (`ort` sessions must not run concurrently); the model is ~60 MB,
//! so a worker costs that much memory.

pub mod chunker;
mod phonemes;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ort::environment::Environment;
use ort::session::Session;
use ort::value::TensorRef;

pub use chunker::SentenceChunker;
pub use phonemes::MAX_TEXT_CHARS;

use super::pool::InferencePool;
use super::runtime::build_session;
use super::{ModelKind, VoiceError};

/// A Piper voice's settings, from the `.onnx.json` next to the model.
#[derive(Debug, Clone)]
pub struct PiperVoice {
    /// Output sample rate.
    pub sample_rate: u32,
    /// espeak-ng voice for phonemization (e.g. `en-us`).
    pub espeak_voice: String,
    /// Variability of the generated audio.
    pub noise_scale: f32,
    /// Natural speaking rate: > 1 is slower.
    pub length_scale: f32,
    /// Variability of phoneme durations.
    pub noise_w: f32,
    /// Speakers in a multi-speaker model (speaker 0 is used).
    pub num_speakers: u32,
    phoneme_id_map: HashMap<char, Vec<i64>>,
}

#[derive(serde::Deserialize)]
struct VoiceJson {
    audio: AudioJson,
    espeak: EspeakJson,
    inference: InferenceJson,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default)]
    num_speakers: u32,
}
#[derive(serde::Deserialize)]
struct AudioJson {
    sample_rate: u32,
}
#[derive(serde::Deserialize)]
struct EspeakJson {
    voice: String,
}
#[derive(serde::Deserialize)]
struct InferenceJson {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

/// Why a Piper voice cannot be used; loading reports it as the reason of [`VoiceError::ModelFailed`].
#[derive(Debug, thiserror::Error)]
pub enum PiperConfigError {
    /// The `.onnx.json` next to the model cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The config is not Piper's JSON.
    #[error("invalid voice config: {0}")]
    Invalid(#[from] serde_json::Error),
    /// The espeak-ng voice name is empty or could pass for a command-line option.
    #[error("invalid espeak voice name {0:?}")]
    EspeakVoice(String),
    /// `phoneme_id_map` lacks one of the ids every utterance needs (`^`, `_`, `$`).
    #[error("phoneme_id_map lacks {0:?}")]
    MissingPhoneme(char),
    /// The output rate is outside 8–48 kHz.
    #[error("implausible sample rate {0}")]
    SampleRate(u32),
    /// The espeak-ng program cannot be started.
    #[error("cannot run {program}: {source}")]
    EspeakMissing {
        program: String,
        source: std::io::Error,
    },
    /// The espeak-ng program runs but fails.
    #[error("{program} --version exited with {status}")]
    EspeakFailed {
        program: String,
        status: std::process::ExitStatus,
    },
}

impl PiperVoice {
    /// Parses a Piper `.onnx.json`.
    pub fn from_json(json: &str) -> Result<Self, PiperConfigError> {
        let v: VoiceJson = serde_json::from_str(json)?;
        let valid_voice = !v.espeak.voice.is_empty()
            && v.espeak
                .voice
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_+".contains(c));
        if !valid_voice {
            return Err(PiperConfigError::EspeakVoice(v.espeak.voice));
        }
        let mut phoneme_id_map = HashMap::with_capacity(v.phoneme_id_map.len());
        for (key, ids) in v.phoneme_id_map {
            let mut chars = key.chars();
            // Piper maps single code points; anything else could never match and is ignored.
            if let (Some(c), None) = (chars.next(), chars.next()) {
                phoneme_id_map.insert(c, ids);
            }
        }
        for required in ['^', '_', '$'] {
            if !phoneme_id_map.contains_key(&required) {
                return Err(PiperConfigError::MissingPhoneme(required));
            }
        }
        if !(8_000..=48_000).contains(&v.audio.sample_rate) {
            return Err(PiperConfigError::SampleRate(v.audio.sample_rate));
        }
        Ok(Self {
            sample_rate: v.audio.sample_rate,
            espeak_voice: v.espeak.voice,
            noise_scale: v.inference.noise_scale,
            length_scale: v.inference.length_scale,
            noise_w: v.inference.noise_w,
            num_speakers: v.num_speakers.max(1),
            phoneme_id_map,
        })
    }

    /// The config path for a model path: `voice.onnx` → `voice.onnx.json`.
    pub fn config_path(model: &Path) -> PathBuf {
        let mut p = model.as_os_str().to_owned();
        p.push(".json");
        PathBuf::from(p)
    }
}

/// Pool sizing and the phonemizer program.
#[derive(Debug, Clone)]
pub struct TtsOptions {
    /// Worker threads, each with its own session.
    pub workers: usize,
    /// Syntheses that may wait for a worker.
    pub queue: usize,
    /// ONNX Runtime threads inside one synthesis.
    pub intra_threads: usize,
    /// The espeak-ng executable (name on PATH or a path).
    pub espeak_program: String,
}

impl Default for TtsOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            workers: (cores / 2).max(1),
            queue: 64,
            // Measured (benches/voice_onnx.rs): a second thread does not speed up a sentence (RTF ~0.1 either
            // way on 2 cores) and would compete with whisper.
            intra_threads: 1,
            espeak_program: "espeak-ng".into(),
        }
    }
}

/// Synthesised audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthesized {
    /// Mono samples in [-1, 1]; empty when the text had nothing to speak.
    pub samples: Vec<f32>,
    /// Rate of `samples`.
    pub sample_rate: u32,
    /// The phonemes spoken (for debugging pronunciation).
    pub phonemes: String,
    /// Time spent phonemizing and rendering (excludes waiting for a worker).
    pub processing_time: Duration,
}

/// A Piper voice and its worker pool.
pub struct TextToSpeech {
    voice: Arc<PiperVoice>,
    pool: InferencePool<Session>,
    espeak: Arc<str>,
}

impl TextToSpeech {
    /// Loads the voice at `model` (with `model` + `.json` beside it) and starts the pool. Blocking.
    pub fn load(env: &Environment, model: &Path, options: TtsOptions) -> Result<Self, VoiceError> {
        let voice = || -> Result<PiperVoice, PiperConfigError> {
            let path = PiperVoice::config_path(model);
            let json = std::fs::read_to_string(&path)
                .map_err(|source| PiperConfigError::Unreadable { path, source })?;
            let voice = PiperVoice::from_json(&json)?;
            phonemes::check_espeak(&options.espeak_program)?;
            Ok(voice)
        };
        let voice = Arc::new(voice().map_err(|e| VoiceError::ModelFailed {
            model: ModelKind::Tts,
            path: model.to_path_buf(),
            reason: e.to_string(),
        })?);
        let (env, path, threads) = (env.clone(), model.to_path_buf(), options.intra_threads);
        let pool = InferencePool::start("tts", options.workers, options.queue, move |_| {
            build_session(&env, ModelKind::Tts, &path, threads)
        })?;
        Ok(Self {
            voice,
            pool,
            espeak: options.espeak_program.into(),
        })
    }

    /// The voice's settings.
    pub fn voice(&self) -> &PiperVoice {
        &self.voice
    }

    /// Output sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.voice.sample_rate
    }

    /// Speaks `text` (at most [`MAX_TEXT_CHARS`]; feed long replies sentence by sentence via
    /// [`SentenceChunker`]) at `speed` (1.0 is the voice's natural rate; clamped to 0.5–2.0). Text without
    /// anything speakable gives empty audio.
    pub async fn synthesize(&self, text: &str, speed: f32) -> Result<Synthesized, VoiceError> {
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(VoiceError::InvalidInput(format!(
                "text too long for one synthesis (> {MAX_TEXT_CHARS} characters)"
            )));
        }
        let (voice, espeak, text) = (
            Arc::clone(&self.voice),
            Arc::clone(&self.espeak),
            text.to_string(),
        );
        let length_scale = voice.length_scale / speed.clamp(0.5, 2.0);
        self.pool
            .run(move |session: &mut Session| {
                synthesize_blocking(session, &voice, &espeak, &text, length_scale)
            })
            .await?
    }
}

fn synthesize_blocking(
    session: &mut Session,
    voice: &PiperVoice,
    espeak: &str,
    text: &str,
    length_scale: f32,
) -> Result<Synthesized, VoiceError> {
    let started = Instant::now();
    let clauses = phonemes::split_clauses(text);
    let phonemes = phonemes::phonemize(espeak, &voice.espeak_voice, &clauses)?;
    if phonemes.is_empty() {
        return Ok(Synthesized {
            samples: Vec::new(),
            sample_rate: voice.sample_rate,
            phonemes,
            processing_time: started.elapsed(),
        });
    }
    let ids = phonemes::phoneme_ids(&phonemes, &voice.phoneme_id_map);
    let samples = render(session, voice, &ids, length_scale)?;
    Ok(Synthesized {
        samples,
        sample_rate: voice.sample_rate,
        phonemes,
        processing_time: started.elapsed(),
    })
}

/// Runs the VITS model over phoneme ids; `length_scale` > 1 speaks slower.
fn render(
    session: &mut Session,
    voice: &PiperVoice,
    ids: &[i64],
    length_scale: f32,
) -> Result<Vec<f32>, VoiceError> {
    run_piper(session, voice, ids, length_scale).map_err(|e| VoiceError::inference("piper", e))
}

fn run_piper(
    session: &mut Session,
    voice: &PiperVoice,
    ids: &[i64],
    length_scale: f32,
) -> ort::Result<Vec<f32>> {
    let lengths = [ids.len() as i64];
    let scales = [voice.noise_scale, length_scale, voice.noise_w];
    let speaker = [0i64];
    let mut inputs = ort::inputs![
        "input" => TensorRef::from_array_view(([1usize, ids.len()], ids))?,
        "input_lengths" => TensorRef::from_array_view(([1usize], &lengths[..]))?,
        "scales" => TensorRef::from_array_view(([3usize], &scales[..]))?,
    ];
    if voice.num_speakers > 1 {
        inputs.push((
            "sid".into(),
            TensorRef::from_array_view(([1usize], &speaker[..]))?.into(),
        ));
    }
    let outputs = session.run(inputs)?;
    let audio = outputs
        .get("output")
        .ok_or_else(|| ort::Error::new("model has no output `output`"))?;
    let (_, samples) = audio.try_extract_tensor::<f32>()?;
    Ok(samples.iter().map(|s| s.clamp(-1.0, 1.0)).collect())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

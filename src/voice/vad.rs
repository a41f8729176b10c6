//! Silero VAD v6.2 through ONNX Runtime: speech probability per 32 ms window of 16 kHz audio.
//!
//! The model is recurrent: each call carries its own [`VadStream`] (LSTM state, the last 64 samples as context,
//! and samples not yet making up a window), while the model itself is loaded once per process. `ort` sessions must
//! not run on two threads at once (`Session::run` takes `&mut self`), so each worker of the VAD pool owns one
//! session; the default is a single worker, i.e. one session per process. One window costs well under a
//! millisecond, so one worker serves many concurrent calls.
//!
//! What to do with the probabilities (turns, utterances) is [`super::turn`]'s job, which needs no model.

use std::path::Path;

use ort::environment::Environment;
use ort::session::Session;
use ort::value::TensorRef;

use super::pool::InferencePool;
use super::runtime::build_session;
use super::{ModelKind, VoiceError};
use crate::audio::PIPELINE_SAMPLE_RATE;

/// New samples per model call (32 ms at 16 kHz).
pub const VAD_WINDOW: usize = 512;
/// Samples of the previous window the model sees in front of the new ones.
const CONTEXT: usize = 64;
/// LSTM state: [2, 1, 128].
const STATE_LEN: usize = 2 * 128;

/// Pool sizing for the VAD model.
#[derive(Debug, Clone, Copy)]
pub struct VadOptions {
    /// Worker threads, each with its own session.
    pub workers: usize,
    /// Jobs that may wait for a worker.
    pub queue: usize,
}

impl Default for VadOptions {
    fn default() -> Self {
        Self {
            workers: 1,
            queue: 256,
        }
    }
}

/// Per-call VAD state. Feed it contiguous 16 kHz audio through [`SileroVad::process`].
#[derive(Debug, Clone)]
pub struct VadStream {
    state: Vec<f32>,
    context: [f32; CONTEXT],
    pending: Vec<f32>,
    /// Stream position of `pending[0]`.
    pending_start: u64,
}

impl Default for VadStream {
    fn default() -> Self {
        Self {
            state: vec![0.0; STATE_LEN],
            context: [0.0; CONTEXT],
            pending: Vec::with_capacity(VAD_WINDOW * 4),
            pending_start: 0,
        }
    }
}

impl VadStream {
    /// A fresh stream starting at sample 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stream position (in samples) of the next window that will be produced.
    pub fn position(&self) -> u64 {
        self.pending_start
    }
}

/// One analysed window.
#[derive(Debug, Clone, PartialEq)]
pub struct VadWindow {
    /// Stream position of `samples[0]`, in 16 kHz samples.
    pub start_sample: u64,
    /// The [`VAD_WINDOW`] samples the probability is about.
    pub samples: Vec<f32>,
    /// Speech probability in [0, 1].
    pub probability: f32,
}

/// The Silero VAD model, shared by all calls.
pub struct SileroVad {
    pool: InferencePool<Session>,
}

impl SileroVad {
    /// Loads the model at `path` into `options.workers` sessions. Blocking.
    pub fn load(env: &Environment, path: &Path, options: VadOptions) -> Result<Self, VoiceError> {
        let env = env.clone();
        let path = path.to_path_buf();
        let pool = InferencePool::start("vad", options.workers, options.queue, move |_| {
            let session = build_session(&env, ModelKind::Vad, &path, 1)?;
            check_io(&session).map_err(|reason| VoiceError::ModelFailed {
                model: ModelKind::Vad,
                path: path.clone(),
                reason,
            })?;
            Ok(session)
        })?;
        Ok(Self { pool })
    }

    /// Appends `samples` (16 kHz mono, contiguous with what came before) to `stream` and returns a window for every
    /// complete 512 samples. Runs on the VAD pool. On error the stream starts over from silence at the same
    /// position.
    pub async fn process(
        &self,
        stream: &mut VadStream,
        samples: &[f32],
    ) -> Result<Vec<VadWindow>, VoiceError> {
        let mut owned = std::mem::take(stream);
        let position = owned.pending_start;
        owned.pending.extend_from_slice(samples);
        if owned.pending.len() < VAD_WINDOW {
            *stream = owned;
            return Ok(Vec::new());
        }
        let result = self
            .pool
            .run(move |session: &mut Session| {
                let windows = run_windows(session, &mut owned);
                (owned, windows)
            })
            .await;
        match result {
            Ok((owned, Ok(windows))) => {
                *stream = owned;
                Ok(windows)
            }
            Ok((_, Err(e))) | Err(e) => {
                stream.pending_start = position;
                Err(e)
            }
        }
    }
}

/// Runs the model over every complete window in `stream.pending`.
fn run_windows(
    session: &mut Session,
    stream: &mut VadStream,
) -> Result<Vec<VadWindow>, VoiceError> {
    let count = stream.pending.len() / VAD_WINDOW;
    let mut windows = Vec::with_capacity(count);
    let mut input = [0.0f32; CONTEXT + VAD_WINDOW];
    for i in 0..count {
        let window = &stream.pending[i * VAD_WINDOW..(i + 1) * VAD_WINDOW];
        input[..CONTEXT].copy_from_slice(&stream.context);
        input[CONTEXT..].copy_from_slice(window);
        let probability = infer(session, &input, &mut stream.state)?;
        stream
            .context
            .copy_from_slice(&window[VAD_WINDOW - CONTEXT..]);
        windows.push(VadWindow {
            start_sample: stream.pending_start + (i * VAD_WINDOW) as u64,
            samples: window.to_vec(),
            probability,
        });
    }
    stream.pending.drain(..count * VAD_WINDOW);
    stream.pending_start += (count * VAD_WINDOW) as u64;
    Ok(windows)
}

/// One model call: `input` is context + window; `state` is read and replaced by the model's new state.
fn infer(session: &mut Session, input: &[f32], state: &mut [f32]) -> Result<f32, VoiceError> {
    run_silero(session, input, state).map_err(|e| VoiceError::inference("silero", e))
}

fn run_silero(session: &mut Session, input: &[f32], state: &mut [f32]) -> ort::Result<f32> {
    let sr = [i64::from(PIPELINE_SAMPLE_RATE)];
    let outputs = session.run(ort::inputs![
        "input" => TensorRef::from_array_view(([1usize, CONTEXT + VAD_WINDOW], input))?,
        "state" => TensorRef::from_array_view(([2usize, 1, 128], &*state))?,
        "sr" => TensorRef::from_array_view(((), &sr[..]))?,
    ])?;
    let output = |name: &str| {
        outputs
            .get(name)
            .ok_or_else(|| ort::Error::new(format!("model has no output `{name}`")))
    };
    let (_, prob) = output("output")?.try_extract_tensor::<f32>()?;
    let (_, new_state) = output("stateN")?.try_extract_tensor::<f32>()?;
    if new_state.len() != STATE_LEN || prob.is_empty() {
        return Err(ort::Error::new("unexpected output shapes"));
    }
    state.copy_from_slice(new_state);
    Ok(prob[0])
}

/// Refuses models that do not have Silero v5/v6's inputs and outputs, at load time rather than mid-call.
fn check_io(session: &Session) -> Result<(), String> {
    let inputs: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
    let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    for name in ["input", "state", "sr"] {
        if !inputs.contains(&name) {
            return Err(format!(
                "not a Silero VAD v5+ model: no input `{name}` (has {inputs:?})"
            ));
        }
    }
    for name in ["output", "stateN"] {
        if !outputs.contains(&name) {
            return Err(format!(
                "not a Silero VAD v5+ model: no output `{name}` (has {outputs:?})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::testing;
    use crate::voice::turn::{StopReason, TurnConfig, TurnDetector, TurnEvent, Utterance};

    fn vad() -> SileroVad {
        SileroVad::load(
            &testing::ort_env(),
            &testing::model("silero_vad.onnx"),
            VadOptions::default(),
        )
        .expect("Silero VAD loads")
    }

    #[tokio::test]
    async fn silence_is_not_speech_and_chunking_does_not_matter() {
        let vad = vad();
        let audio = testing::jfk().samples;
        let mut whole = VadStream::new();
        let a = vad
            .process(&mut whole, &audio[..16_000])
            .await
            .expect("inference");
        let mut chunked = VadStream::new();
        let mut b = Vec::new();
        for piece in audio[..16_000].chunks(333) {
            b.extend(vad.process(&mut chunked, piece).await.expect("inference"));
        }
        assert_eq!(a.len(), 16_000 / VAD_WINDOW);
        assert_eq!(a, b);
        assert_eq!(whole.position(), (a.len() * VAD_WINDOW) as u64);

        let mut quiet = VadStream::new();
        let probs = vad
            .process(&mut quiet, &[0.0; 8_192])
            .await
            .expect("inference");
        assert!(probs.iter().all(|w| w.probability < 0.1), "{probs:?}");
    }

    /// Runs `audio` through a detector with `config`, window by window as the VAD produced them.
    fn turns(windows: &[VadWindow], config: TurnConfig) -> Vec<Utterance> {
        let mut detector = TurnDetector::new(config, PIPELINE_SAMPLE_RATE);
        let mut events = Vec::new();
        for w in windows {
            events.extend(detector.push(w.start_sample, &w.samples, w.probability));
        }
        events.extend(detector.finish());
        let mut utterances = Vec::new();
        let mut open = false;
        for e in events {
            match e {
                TurnEvent::SpeechStarted { .. } => {
                    assert!(!open, "started twice");
                    open = true;
                }
                TurnEvent::SpeechStopped { utterance, .. } => {
                    assert!(open, "stopped without start");
                    open = false;
                    utterances.push(utterance);
                }
            }
        }
        utterances
    }

    #[tokio::test]
    async fn jfk_turns() {
        let vad = vad();
        // 2 s of silence either side, as a caller pausing before and after speaking.
        let pad = vec![0.0f32; 32_000];
        let audio: Vec<f32> = [&pad[..], &testing::jfk().samples, &pad[..]].concat();
        let mut stream = VadStream::new();
        let mut windows = Vec::new();
        for piece in audio.chunks(320) {
            // 20 ms pieces, as a transport delivers them.
            windows.extend(vad.process(&mut stream, piece).await.expect("inference"));
        }
        let secs = |ms: u64| ms as f64 / 1000.0 - 2.0; // back to jfk.wav time

        // Kennedy pauses for effect (~1.0 s, ~1.0 s, ~0.6 s): with the Realtime default of 500 ms silence
        // that is four turns, cut at the pauses.
        let four = turns(&windows, TurnConfig::default());
        assert_eq!(four.len(), 4, "{four:?}");
        assert!(four.iter().all(|u| u.reason == StopReason::Silence));
        for pair in four.windows(2) {
            assert!(
                pair[1].audio_start_ms >= pair[0].audio_end_ms,
                "no overlap: {pair:?}"
            );
        }

        // A patient listener (1.2 s) hears one utterance: speech from ~0.3 s to ~10.9 s.
        let patient = TurnConfig {
            silence_duration_ms: 1_200,
            ..TurnConfig::default()
        };
        let one = turns(&windows, patient);
        let [u] = &one[..] else {
            panic!("expected one utterance, got {one:?}");
        };
        let (onset, end) = (secs(u.speech_start_ms), secs(u.speech_end_ms));
        assert!((0.1..0.6).contains(&onset), "speech onset at {onset} s");
        assert!((10.3..11.3).contains(&end), "speech end at {end} s");
        assert_eq!(u.audio_start_ms, u.speech_start_ms - 300, "prefix padding");
        assert_eq!(u.audio_end_ms, u.speech_end_ms + 1_200, "silence duration");
        assert_eq!(u.reason, StopReason::Silence);
        assert_eq!(four[0].speech_start_ms, u.speech_start_ms);
        assert_eq!(four[3].speech_end_ms, u.speech_end_ms);
    }
}

//! Speech to text with whisper.cpp (through whisper-rs) on a bounded pool of worker threads.
//!
//! The GGML model is loaded once per process (`WhisperContext`, shared read-only); each pool worker owns a
//! `WhisperState` (KV cache + compute buffers, ~tens of MB for tiny) and reuses it for every utterance, so a call
//! pays neither model loading nor state allocation. See [`super::pool`] for why dedicated threads.
//!
//! # Decoder settings, measured
//! whisper.cpp's defaults are built for files: the encoder always runs over a 30 s window (`audio_ctx` 1500), the
//! decoder emits timestamps and may re-decode at higher temperatures. A voice turn is 1–10 s, so
//! [`DecodeSettings::tuned`] shrinks the encoder context to the utterance (50 frames/s + 64, but at least 768 =
//! 15 s), decodes one segment without timestamps, greedily, without temperature fallback, and caps tokens at
//! 8/s + 16, redoing a decode that hits the cap with the full context. Each guard is there because the bench
//! showed its absence failing: a context fitted tightly makes tiny.en repeat itself ("And so my fellow mirror" ×40,
//! "Hello? Hello?"), chaotically with respect to the margin. From `cargo bench --bench voice_whisper_settings`
//! (release, tiny.en, 2 threads, whisper.cpp with `-march=native`, 2-core VM shared with other builds, so times
//! are noisy; cell = median ms of 3 / WER % / runs that needed the full-context retry):
//!
//! ```text
//! jfk.wav slices (quiet machine, before the context floor existed)  0-1s        0-2s      0-5s      0-11s
//! whisper.cpp defaults                                              956/0/0     720/0/0   808/0/0   888/0/0
//! + no timestamps, single segment                                   792/0/0     937/0/0   871/0/0   914/0/0
//! + greedy, no fallback, context fitted +64                         935/10900/0 96/0/0    181/14/0  421/0/0
//!   same, fitted +0                                                 891/10900/0 884/4320/0 941/3043/0 312/0/0
//! + token cap / full-context retry                                  892/0/3     79/0/0    150/14/0  344/0/0
//!   same, 1 thread                                                  1479/0/3    133/0/0   266/14/0  584/0/0
//!   same, flash attention                                           71/0/0      102/0/0   210/0/0   460/0/0
//!
//! 12 short turns synthesised by Piper (1.4–3.6 s incl. 300/500 ms padding)   WER    retries  p50/p95 ms (loaded)
//! whisper.cpp defaults                                                       8%     0/12     1104/1611
//! fitted +64, cap/retry, no floor                                            8%     8/12     929/5335
//!   fitted +128                                                              8%     6/12     306/3493
//!   timestamps on                                                            8%     2/12     83/990
//! floor 384                                                                  18%    0/12     128/189  ("Hello? Hello?")
//! floor 768 (chosen)                                                         8%     0/12     269/464
//! floor 384 + flash attention                                                10%    0/12     164/254
//! ```
//! The 14 % on 0–5 s is one word ("asked not"). Piper adds noise, so the synthesised turns differ between runs;
//! across three runs the floor-less fitted context needed the retry on 5–8 of 12 turns, floor 768 on none.
//! Flash attention is faster on short clips but repeats words on short turns without a floor; left off.
//!
//! Sizing: by default one worker per two cores with two whisper threads each (on 2 cores: one worker, two threads);
//! see [`SttOptions::for_machine`].
//!
//! Build note: whisper.cpp compiles with `-march=native` by default (ggml's `GGML_NATIVE`), so a binary may not run
//! on an older CPU; release images should build with `GGML_NATIVE=OFF` (whisper-rs-sys passes `GGML_*` env vars to
//! CMake). Debug builds still compile whisper.cpp optimised (RelWithDebInfo).

use std::path::Path;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use super::pool::InferencePool;
use super::{ModelKind, VoiceError};
use crate::audio::PIPELINE_SAMPLE_RATE;

/// Whisper's encoder produces one frame per 20 ms (320 samples at 16 kHz); 1500 frames = 30 s.
const SAMPLES_PER_ENCODER_FRAME: usize = 320;
const MAX_AUDIO_CTX: i32 = 1500;
/// whisper.cpp ignores input shorter than 100 ms; shorter utterances are padded with silence to this length.
const MIN_SAMPLES: usize = PIPELINE_SAMPLE_RATE as usize / 2;
/// Longest input accepted in one job (bounds memory and worker time).
const MAX_SAMPLES: usize = PIPELINE_SAMPLE_RATE as usize * 600;

/// whisper.cpp decoding settings; see the module docs for the measured effect of each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeSettings {
    /// Size the encoder context to the audio instead of always encoding 30 s.
    pub fit_audio_ctx: bool,
    /// Extra encoder frames (20 ms each) beyond the audio when fitting; too tight a context makes whisper drop
    /// or repeat the last words.
    pub audio_ctx_margin: i32,
    /// Smallest fitted context: very short contexts make whisper repeat itself.
    pub min_audio_ctx: i32,
    /// Force a single segment (no segmentation of the window).
    pub single_segment: bool,
    /// Do not predict timestamp tokens.
    pub no_timestamps: bool,
    /// Do not feed previous text as a prompt. Must stay on: a worker's state serves many calls, and with it off
    /// one caller's words would prompt the next caller's transcription.
    pub no_context: bool,
    /// Candidates sampled per temperature-fallback step.
    pub best_of: i32,
    /// Re-decode at higher temperatures when the result looks unreliable.
    pub temperature_fallback: bool,
    /// Cap on decoded tokens per second of audio (plus 16), 0 = none. Speech rarely exceeds 5 tokens/s; a decode
    /// that hits the cap is a repetition loop (a known failure of a reduced `audio_ctx`) and is redone with the
    /// full 30 s context.
    pub max_tokens_per_second: i32,
    /// Threads whisper.cpp uses for one job.
    pub threads: i32,
}

impl DecodeSettings {
    /// whisper.cpp's own defaults (the `whisper-cli` baseline), with `threads`.
    pub fn whisper_defaults(threads: i32) -> Self {
        Self {
            fit_audio_ctx: false,
            audio_ctx_margin: 0,
            min_audio_ctx: 0,
            single_segment: false,
            no_timestamps: false,
            no_context: true,
            best_of: 5,
            temperature_fallback: true,
            max_tokens_per_second: 0,
            threads,
        }
    }

    /// The settings chosen for voice turns (see the module docs).
    pub fn tuned(threads: i32) -> Self {
        Self {
            fit_audio_ctx: true,
            audio_ctx_margin: 64,
            min_audio_ctx: 768,
            single_segment: true,
            no_timestamps: true,
            no_context: true,
            best_of: 1,
            temperature_fallback: false,
            max_tokens_per_second: 8,
            threads,
        }
    }

    /// The `audio_ctx` used for `n_samples` of audio (0 = whisper's full 1500).
    pub fn audio_ctx_for(&self, n_samples: usize) -> i32 {
        if !self.fit_audio_ctx {
            return 0;
        }
        let frames =
            i32::try_from(n_samples.div_ceil(SAMPLES_PER_ENCODER_FRAME)).unwrap_or(i32::MAX);
        let ctx = frames
            .saturating_add(self.audio_ctx_margin)
            .max(self.min_audio_ctx);
        if ctx >= MAX_AUDIO_CTX { 0 } else { ctx }
    }

    /// The token cap for `n_samples` of audio (0 = none).
    pub fn token_cap(&self, n_samples: usize) -> i32 {
        if self.max_tokens_per_second <= 0 {
            return 0;
        }
        let seconds = n_samples as f64 / f64::from(PIPELINE_SAMPLE_RATE);
        (seconds * f64::from(self.max_tokens_per_second)).ceil() as i32 + 16
    }

    /// whisper-rs parameters for `n_samples` of audio.
    pub fn full_params(&self, n_samples: usize) -> FullParams<'static, 'static> {
        let mut p = FullParams::new(SamplingStrategy::Greedy {
            best_of: self.best_of.max(1),
        });
        p.set_n_threads(self.threads.max(1));
        p.set_language(Some("en"));
        p.set_translate(false);
        p.set_no_context(self.no_context);
        p.set_no_timestamps(self.no_timestamps);
        // Over 30 s whisper must slide its window, which needs multiple segments.
        let fits_one_window = n_samples < SAMPLES_PER_ENCODER_FRAME * MAX_AUDIO_CTX as usize;
        p.set_single_segment(self.single_segment && fits_one_window);
        p.set_audio_ctx(self.audio_ctx_for(n_samples));
        p.set_max_tokens(self.token_cap(n_samples));
        if !self.temperature_fallback {
            p.set_temperature_inc(0.0);
        }
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_print_special(false);
        p.set_print_timestamps(false);
        p
    }
}

/// Pool sizing and decoding settings.
#[derive(Debug, Clone, Copy)]
pub struct SttOptions {
    /// Concurrent transcriptions (each with its own `WhisperState`).
    pub workers: usize,
    /// Transcriptions that may wait for a worker.
    pub queue: usize,
    /// Decoder settings (`settings.threads` is per worker).
    pub settings: DecodeSettings,
}

impl SttOptions {
    /// One worker per two cores, two whisper threads each (tiny/base models gain little beyond that per job,
    /// and parallel jobs keep latency flat under concurrent calls).
    pub fn for_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let workers = (cores / 2).max(1);
        let threads = i32::try_from((cores / workers).clamp(1, 4)).unwrap_or(2);
        Self {
            workers,
            queue: 64,
            settings: DecodeSettings::tuned(threads),
        }
    }
}

impl Default for SttOptions {
    fn default() -> Self {
        Self::for_machine()
    }
}

/// The result of one transcription.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcription {
    /// Recognised text, trimmed.
    pub text: String,
    /// Mean probability of the text tokens (0 when there are none): low values flag mumbles and noise.
    pub confidence: f32,
    /// Whisper's probability that the audio holds no speech.
    pub no_speech_probability: f32,
    /// Number of text tokens.
    pub tokens: usize,
    /// Length of the audio transcribed.
    pub audio_duration: Duration,
    /// Time whisper spent on it (excludes waiting for a worker).
    pub processing_time: Duration,
    /// The fitted-context decode hit the token cap and was redone with the full context.
    pub retried_full_context: bool,
}

/// The Whisper model and its worker pool.
pub struct SpeechToText {
    ctx: Arc<WhisperContext>,
    pool: InferencePool<Worker>,
    settings: DecodeSettings,
}

/// What each pool worker owns.
struct Worker {
    state: WhisperState,
    /// End-of-text token: ids from here on are special tokens (timestamps, language, ...), not text.
    eot: i32,
}

impl SpeechToText {
    /// Loads the GGML model at `path` and starts the pool. Blocking (reads ~75 MB for tiny).
    pub fn load(path: &Path, options: SttOptions) -> Result<Self, VoiceError> {
        static LOG_HOOKS: Once = Once::new();
        // Route whisper.cpp/ggml logging into `tracing` instead of stderr.
        LOG_HOOKS.call_once(whisper_rs::install_logging_hooks);
        let failed = |reason: String| VoiceError::ModelFailed {
            model: ModelKind::Stt,
            path: path.to_path_buf(),
            reason,
        };
        let ctx = WhisperContext::new_with_params(path, WhisperContextParameters::default())
            .map_err(|e| failed(e.to_string()))?;
        let ctx = Arc::new(ctx);
        let state_ctx = Arc::clone(&ctx);
        let pool = InferencePool::start("stt", options.workers, options.queue, move |_| {
            let state = state_ctx.create_state().map_err(|e| {
                VoiceError::inference("whisper", format!("cannot create state: {e}"))
            })?;
            Ok(Worker {
                state,
                eot: state_ctx.token_eot(),
            })
        })?;
        Ok(Self {
            ctx,
            pool,
            settings: options.settings,
        })
    }

    /// The loaded model (e.g. for benchmarks comparing against bare whisper-rs).
    pub fn context(&self) -> &Arc<WhisperContext> {
        &self.ctx
    }

    /// Decoder settings in use.
    pub fn settings(&self) -> DecodeSettings {
        self.settings
    }

    /// Transcribes 16 kHz mono audio on the pool.
    pub async fn transcribe(&self, samples_16k: Vec<f32>) -> Result<Transcription, VoiceError> {
        let settings = self.settings;
        self.pool
            .run(move |w: &mut Worker| {
                transcribe_blocking(&mut w.state, w.eot, &settings, samples_16k)
            })
            .await?
    }
}

/// Transcribes on the calling thread with `state` (what a pool worker runs); `eot` is the model's end-of-text token.
pub fn transcribe_blocking(
    state: &mut WhisperState,
    eot: i32,
    settings: &DecodeSettings,
    mut samples: Vec<f32>,
) -> Result<Transcription, VoiceError> {
    if samples.is_empty() {
        return Err(VoiceError::InvalidInput("no audio to transcribe".into()));
    }
    if samples.len() > MAX_SAMPLES {
        return Err(VoiceError::InvalidInput(format!(
            "audio too long to transcribe in one job: {} s > {} s",
            samples.len() / PIPELINE_SAMPLE_RATE as usize,
            MAX_SAMPLES / PIPELINE_SAMPLE_RATE as usize
        )));
    }
    let audio_duration =
        Duration::from_secs_f64(samples.len() as f64 / f64::from(PIPELINE_SAMPLE_RATE));
    if samples.len() < MIN_SAMPLES {
        samples.resize(MIN_SAMPLES, 0.0);
    }
    let started = Instant::now();
    let mut out = decode(state, eot, settings, &samples)?;
    let cap = settings.token_cap(samples.len());
    if settings.fit_audio_ctx && cap > 0 && out.tokens >= cap as usize {
        tracing::debug!(
            tokens = out.tokens,
            cap,
            "whisper hit the token cap; retrying with full context"
        );
        let full = DecodeSettings {
            fit_audio_ctx: false,
            ..*settings
        };
        out = decode(state, eot, &full, &samples)?;
        out.retried_full_context = true;
    }
    out.audio_duration = audio_duration;
    out.processing_time = started.elapsed();
    Ok(out)
}

fn decode(
    state: &mut WhisperState,
    eot: i32,
    settings: &DecodeSettings,
    samples: &[f32],
) -> Result<Transcription, VoiceError> {
    state
        .full(settings.full_params(samples.len()), samples)
        .map_err(|e| VoiceError::inference("whisper", e))?;
    Ok(collect(state, eot))
}

/// Text, token confidence and no-speech probability from a finished `full()` run.
fn collect(state: &WhisperState, eot: i32) -> Transcription {
    let mut text = String::new();
    let (mut prob_sum, mut tokens) = (0.0f32, 0usize);
    let mut no_speech = 0.0f32;
    for (i, segment) in state.as_iter().enumerate() {
        if i == 0 {
            no_speech = segment.no_speech_probability();
        }
        if let Ok(s) = segment.to_str_lossy() {
            text.push_str(&s);
        }
        for t in 0..segment.n_tokens() {
            let Some(token) = segment.get_token(t) else {
                continue;
            };
            // Special tokens ([_BEG_], [_TT_...], <|endoftext|>) sort after the text vocabulary.
            if token.token_id() < eot {
                prob_sum += token.token_probability();
                tokens += 1;
            }
        }
    }
    Transcription {
        text: text.trim().to_string(),
        confidence: if tokens == 0 {
            0.0
        } else {
            prob_sum / tokens as f32
        },
        no_speech_probability: no_speech,
        tokens,
        audio_duration: Duration::ZERO,
        processing_time: Duration::ZERO,
        retried_full_context: false,
    }
}

#[cfg(test)]
#[path = "stt_tests.rs"]
mod tests;

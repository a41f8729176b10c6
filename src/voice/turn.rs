//! Turn detection with OpenAI Realtime `server_vad` semantics, driven by VAD probabilities.
//!
//! Sans-I/O: the detector is fed windows (position, samples, speech probability) and returns events; it reads no
//! clock and runs no model, so tests drive it with made-up probabilities at any speed.
//!
//! Semantics (as the Realtime API documents them):
//! - speech starts at the first window whose probability reaches `threshold`; `SpeechStarted.audio_start_ms`
//!   includes `prefix_padding_ms` of audio before that window, and so does the utterance audio;
//! - speech stops after `silence_duration_ms` without speech; `SpeechStopped.audio_end_ms` includes that silence.
//!
//! Two additions: hysteresis as in Silero's own segmenter (once speaking, a window only counts as silence below
//! `threshold - 0.15`, so a word that dips to 0.4 does not start the silence clock), and `max_utterance_ms`, which
//! cuts a turn that never pauses (noise, music on hold) so the utterance stays within what Whisper handles in one
//! pass and memory stays bounded.

use std::collections::VecDeque;

use crate::audio::{ms_to_samples, samples_to_ms};

/// Turn detection settings; defaults are the Realtime API's `server_vad` defaults.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TurnConfig {
    /// Speech probability at which speech starts (0..1).
    pub threshold: f32,
    /// Audio kept before the detected start of speech.
    pub prefix_padding_ms: u32,
    /// Silence that ends a turn.
    pub silence_duration_ms: u32,
    /// Longest utterance before a forced cut.
    pub max_utterance_ms: u32,
}

impl Default for TurnConfig {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            prefix_padding_ms: 300,
            silence_duration_ms: 500,
            max_utterance_ms: 30_000,
        }
    }
}

/// Why an utterance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// `silence_duration_ms` of silence.
    Silence,
    /// Reached `max_utterance_ms`.
    MaxLength,
    /// The audio stream ended ([`TurnDetector::finish`]).
    EndOfStream,
}

/// A finished utterance. Positions are milliseconds from the start of the stream.
#[derive(Clone, PartialEq)]
pub struct Utterance {
    /// Audio from `audio_start_ms` to `audio_end_ms`.
    pub samples: Vec<f32>,
    /// Rate of `samples`.
    pub sample_rate: u32,
    /// Start of the audio, including prefix padding.
    pub audio_start_ms: u64,
    /// Start of the first window detected as speech.
    pub speech_start_ms: u64,
    /// End of the last window detected as speech.
    pub speech_end_ms: u64,
    /// End of the audio (includes the trailing silence when `reason` is `Silence`).
    pub audio_end_ms: u64,
    /// Why it ended.
    pub reason: StopReason,
}

/// Debug output shows the sample count, not seconds of samples (logs and test failures stay readable).
impl std::fmt::Debug for Utterance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Utterance")
            .field("samples", &format_args!("[{} samples]", self.samples.len()))
            .field("sample_rate", &self.sample_rate)
            .field("audio_start_ms", &self.audio_start_ms)
            .field("speech_start_ms", &self.speech_start_ms)
            .field("speech_end_ms", &self.speech_end_ms)
            .field("audio_end_ms", &self.audio_end_ms)
            .field("reason", &self.reason)
            .finish()
    }
}

/// What the detector reports.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// The caller started speaking (`input_audio_buffer.speech_started`).
    SpeechStarted {
        /// Start of the utterance audio, including prefix padding.
        audio_start_ms: u64,
    },
    /// The caller stopped speaking (`input_audio_buffer.speech_stopped`), with the utterance.
    SpeechStopped {
        /// End of the utterance audio.
        audio_end_ms: u64,
        /// The audio and its timings.
        utterance: Utterance,
    },
}

#[derive(Debug)]
enum State {
    Idle,
    Speaking {
        /// Stream position of `audio[0]`.
        audio_start: u64,
        speech_start: u64,
        /// End of the last voiced window.
        speech_end: u64,
        /// Inside a run of windows below the negative threshold.
        in_silence: bool,
    },
}

/// Per-call turn detector; see the module docs.
#[derive(Debug)]
pub struct TurnDetector {
    config: TurnConfig,
    sample_rate: u32,
    state: State,
    /// While idle: the most recent audio, at most `prefix_padding_ms` long, ending at `next_sample`.
    recent: VecDeque<f32>,
    /// While speaking: the utterance so far.
    audio: Vec<f32>,
    next_sample: u64,
}

impl TurnDetector {
    /// A detector for audio at `sample_rate`.
    pub fn new(config: TurnConfig, sample_rate: u32) -> Self {
        Self {
            config,
            sample_rate,
            state: State::Idle,
            recent: VecDeque::new(),
            audio: Vec::new(),
            next_sample: 0,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &TurnConfig {
        &self.config
    }

    /// True between `SpeechStarted` and `SpeechStopped`.
    pub fn is_speaking(&self) -> bool {
        matches!(self.state, State::Speaking { .. })
    }

    /// Feeds one VAD window: its stream position (in samples at the detector's rate), its samples and its speech
    /// probability. Windows are expected to be contiguous; after a gap the idle padding restarts.
    pub fn push(&mut self, start_sample: u64, samples: &[f32], probability: f32) -> Vec<TurnEvent> {
        if start_sample != self.next_sample && !self.is_speaking() {
            self.recent.clear();
        }
        let end = start_sample + samples.len() as u64;
        self.next_sample = end;
        let threshold = self.config.threshold;
        let negative = (threshold - 0.15).max(0.01);
        let mut events = Vec::new();

        match &mut self.state {
            State::Idle => {
                if probability >= threshold {
                    let audio_start = start_sample.saturating_sub(self.recent.len() as u64);
                    self.audio.clear();
                    self.audio.extend(self.recent.drain(..));
                    self.audio.extend_from_slice(samples);
                    self.state = State::Speaking {
                        audio_start,
                        speech_start: start_sample,
                        speech_end: end,
                        in_silence: false,
                    };
                    events.push(TurnEvent::SpeechStarted {
                        audio_start_ms: self.ms(audio_start),
                    });
                } else {
                    self.remember(samples);
                }
            }
            State::Speaking {
                audio_start,
                speech_end,
                in_silence,
                ..
            } => {
                self.audio.extend_from_slice(samples);
                if probability >= threshold {
                    *in_silence = false;
                    *speech_end = end;
                } else if probability < negative {
                    *in_silence = true;
                } else if !*in_silence {
                    *speech_end = end;
                }
                let silence =
                    ms_to_samples(u64::from(self.config.silence_duration_ms), self.sample_rate);
                let max = ms_to_samples(u64::from(self.config.max_utterance_ms), self.sample_rate);
                if *in_silence && end - *speech_end >= silence {
                    let stop_at = *speech_end + silence;
                    events.push(self.stop(stop_at, StopReason::Silence));
                } else if end - *audio_start >= max.max(1) {
                    events.push(self.stop(end, StopReason::MaxLength));
                }
            }
        }
        events
    }

    /// Ends the stream: closes an open utterance (reason `EndOfStream`).
    pub fn finish(&mut self) -> Option<TurnEvent> {
        self.is_speaking()
            .then(|| self.stop(self.next_sample, StopReason::EndOfStream))
    }

    /// Drops any buffered audio and open utterance without reporting it (`input_audio_buffer.clear`).
    pub fn clear(&mut self) {
        self.state = State::Idle;
        self.recent.clear();
        self.audio.clear();
    }

    /// Closes the utterance at stream position `stop_at` (≤ `next_sample`); audio after it becomes idle padding.
    fn stop(&mut self, stop_at: u64, reason: StopReason) -> TurnEvent {
        let State::Speaking {
            audio_start,
            speech_start,
            speech_end,
            ..
        } = std::mem::replace(&mut self.state, State::Idle)
        else {
            unreachable!("stop is only called while speaking");
        };
        let keep = usize::try_from(stop_at - audio_start)
            .unwrap_or(usize::MAX)
            .min(self.audio.len());
        let tail = self.audio.split_off(keep);
        let samples = std::mem::take(&mut self.audio);
        self.recent.clear();
        if reason == StopReason::Silence {
            // What follows the cut is silence the next utterance may use as its prefix padding.
            self.remember(&tail);
        }
        let utterance = Utterance {
            samples,
            sample_rate: self.sample_rate,
            audio_start_ms: self.ms(audio_start),
            speech_start_ms: self.ms(speech_start),
            speech_end_ms: self.ms(speech_end),
            audio_end_ms: self.ms(stop_at),
            reason,
        };
        TurnEvent::SpeechStopped {
            audio_end_ms: utterance.audio_end_ms,
            utterance,
        }
    }

    fn remember(&mut self, samples: &[f32]) {
        let cap = usize::try_from(ms_to_samples(
            u64::from(self.config.prefix_padding_ms),
            self.sample_rate,
        ))
        .unwrap_or(usize::MAX);
        self.recent.extend(samples.iter().copied());
        let excess = self.recent.len().saturating_sub(cap);
        self.recent.drain(..excess);
    }

    fn ms(&self, sample: u64) -> u64 {
        samples_to_ms(sample, self.sample_rate)
    }
}

#[cfg(test)]
#[path = "turn_tests.rs"]
mod tests;

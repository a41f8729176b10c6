//! The listening half of a call: wire bytes → 16 kHz audio → VAD windows → turns (or, with turn detection off,
//! a buffer the client commits by hand).
//!
//! [`Listener`] is the logic; [`ListenerStage`] runs it as a stage of its own, fed by a bounded channel, so the
//! call's loop never waits for voice activity detection (which runs on the inference pool): it hands audio over
//! and goes on playing the agent's answer, reading the client, and so on. Everything the stage is asked is
//! answered in order, so a commit or a clear sees all the audio sent before it.
//!
//! Positions are counted in samples of the pipeline rate from the start of the call, so the listener runs as fast
//! as audio arrives and tests can feed minutes of audio in a second.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::audio::{AudioError, AudioFormat, FormatDecoder, PIPELINE_SAMPLE_RATE, samples_to_ms};
use crate::voice::turn::StopReason;
use crate::voice::{
    Beep, BeepDetector, SileroVad, TurnConfig, TurnDetector, TurnEvent, Utterance, VadStream,
    VoiceError,
};

/// Listens to one caller.
pub struct Listener {
    decoder: FormatDecoder,
    vad: Arc<SileroVad>,
    vad_stream: VadStream,
    /// `None`: turn detection is off and the client commits the buffer itself.
    turns: Option<TurnDetector>,
    /// Turn detection off: audio since the last commit or clear.
    manual: Vec<f32>,
    /// Stream position of `manual[0]`.
    manual_start: u64,
    /// 16 kHz samples received so far.
    received: u64,
    /// Longest utterance, from the turn settings (also bounds the manual buffer).
    max_utterance_samples: usize,
    /// Listening for an answering machine's beep (outbound calls, while screening).
    beeps: Option<BeepDetector>,
    /// Beeps heard and not yet reported.
    heard_beeps: Vec<Beep>,
}

impl Listener {
    /// A listener for audio in `format`, with `turns` (`None`: manual commits).
    pub fn new(
        vad: Arc<SileroVad>,
        format: AudioFormat,
        turns: Option<TurnConfig>,
    ) -> Result<Self, AudioError> {
        let max = turns.unwrap_or_default().max_utterance_ms;
        Ok(Self {
            decoder: FormatDecoder::new(format)?,
            vad,
            vad_stream: VadStream::new(),
            turns: turns.map(|config| TurnDetector::new(config, PIPELINE_SAMPLE_RATE)),
            manual: Vec::new(),
            manual_start: 0,
            received: 0,
            max_utterance_samples: ms_to_samples(max),
            beeps: None,
            heard_beeps: Vec::new(),
        })
    }

    /// Also listens for beeps (an answering machine's, before its recording starts).
    pub fn with_beep_detection(mut self) -> Self {
        self.beeps = Some(BeepDetector::new());
        self
    }

    /// Stops listening for beeps.
    pub fn stop_beep_detection(&mut self) {
        self.beeps = None;
    }

    /// Beeps heard since the last call.
    pub fn take_beeps(&mut self) -> Vec<Beep> {
        std::mem::take(&mut self.heard_beeps)
    }

    /// Whether audio in `format` can be listened to.
    pub fn check_format(format: AudioFormat) -> Result<(), AudioError> {
        FormatDecoder::new(format).map(drop)
    }

    /// The wire format being decoded.
    pub fn format(&self) -> AudioFormat {
        self.decoder.format()
    }

    /// Switches the wire format for audio that follows. Positions keep counting.
    pub fn set_format(&mut self, format: AudioFormat) -> Result<(), AudioError> {
        if format != self.decoder.format() {
            self.decoder = FormatDecoder::new(format)?;
        }
        Ok(())
    }

    /// Switches turn detection on (with new settings) or off. An open utterance is dropped.
    pub fn set_turn_detection(&mut self, turns: Option<TurnConfig>) {
        let unchanged = match (&self.turns, &turns) {
            (Some(current), Some(new)) => current.config() == new,
            (None, None) => true,
            _ => false,
        };
        if unchanged {
            return;
        }
        self.max_utterance_samples = ms_to_samples(turns.unwrap_or_default().max_utterance_ms);
        self.turns = turns.map(|config| TurnDetector::new(config, PIPELINE_SAMPLE_RATE));
        self.manual.clear();
        self.manual_start = self.received;
    }

    /// True when the server detects turns (else the client commits).
    pub fn detects_turns(&self) -> bool {
        self.turns.is_some()
    }

    /// True while the caller is speaking (server turn detection only).
    pub fn caller_speaking(&self) -> bool {
        self.turns.as_ref().is_some_and(TurnDetector::is_speaking)
    }

    /// Milliseconds of audio received.
    pub fn position_ms(&self) -> u64 {
        samples_to_ms(self.received, PIPELINE_SAMPLE_RATE)
    }

    /// Takes encoded audio; returns the turn events it completes.
    pub async fn push(&mut self, bytes: &[u8]) -> Result<Vec<TurnEvent>, VoiceError> {
        let frame = self.decoder.decode(bytes);
        self.feed(frame.samples).await
    }

    async fn feed(&mut self, samples: Vec<f32>) -> Result<Vec<TurnEvent>, VoiceError> {
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        self.received += samples.len() as u64;
        if let Some(detector) = &mut self.beeps {
            self.heard_beeps.extend(detector.push(&samples));
        }
        let Some(turns) = &mut self.turns else {
            self.manual.extend_from_slice(&samples);
            let excess = self.manual.len().saturating_sub(self.max_utterance_samples);
            if excess > 0 {
                // Keep the most recent audio, like a ring buffer: a client that never commits cannot grow it.
                self.manual.drain(..excess);
                self.manual_start += excess as u64;
            }
            return Ok(Vec::new());
        };
        let windows = self.vad.process(&mut self.vad_stream, &samples).await?;
        let mut events = Vec::new();
        for window in windows {
            events.extend(turns.push(window.start_sample, &window.samples, window.probability));
        }
        Ok(events)
    }

    /// Ends the current turn now (`input_audio_buffer.commit`): the open utterance under server turn detection, or
    /// the manual buffer. `None` when there is nothing to commit.
    pub fn commit(&mut self) -> Option<Utterance> {
        match &mut self.turns {
            Some(turns) => match turns.finish() {
                Some(TurnEvent::SpeechStopped { utterance, .. }) => Some(utterance),
                _ => None,
            },
            None => {
                if self.manual.is_empty() {
                    return None;
                }
                let samples = std::mem::take(&mut self.manual);
                let start = self.manual_start;
                let end = start + samples.len() as u64;
                self.manual_start = end;
                let (start_ms, end_ms) = (to_ms(start), to_ms(end));
                Some(Utterance {
                    samples,
                    sample_rate: PIPELINE_SAMPLE_RATE,
                    audio_start_ms: start_ms,
                    speech_start_ms: start_ms,
                    speech_end_ms: end_ms,
                    audio_end_ms: end_ms,
                    reason: StopReason::EndOfStream,
                })
            }
        }
    }

    /// Drops buffered audio and any open utterance (`input_audio_buffer.clear`).
    pub fn clear(&mut self) {
        if let Some(turns) = &mut self.turns {
            turns.clear();
        }
        self.manual.clear();
        self.manual_start = self.received;
    }

    /// The call is over: flushes the decoder and returns the last utterance, if the caller was mid-sentence (or,
    /// without turn detection, audio was left uncommitted).
    pub async fn finish(&mut self) -> Result<Option<Utterance>, VoiceError> {
        let tail = self.decoder.flush();
        let events = self.feed(tail.samples).await?;
        let stopped = events.into_iter().find_map(|event| match event {
            TurnEvent::SpeechStopped { utterance, .. } => Some(utterance),
            TurnEvent::SpeechStarted { .. } => None,
        });
        Ok(stopped.or_else(|| self.commit()))
    }
}

/// What the session asks of the listening stage, handled in order with the audio.
#[derive(Debug)]
pub enum Listen {
    /// Caller audio in the current wire format.
    Audio(Vec<u8>),
    /// End the caller's turn now (`input_audio_buffer.commit`).
    Commit,
    /// Drop buffered audio and any open utterance.
    Clear,
    /// Switch the wire format and/or turn detection (`Some(None)`: off) for the audio that follows.
    Configure {
        format: Option<AudioFormat>,
        turns: Option<Option<TurnConfig>>,
    },
    /// Stop listening for beeps (answered by nothing: it changes no audio already heard).
    StopBeeps,
    /// The call is over: flush what is left.
    Finish,
}

/// What the listening stage reports, in the order it was asked.
#[derive(Debug)]
pub enum Heard {
    /// Audio was heard up to `position_ms`; the caller is `speaking`; `turns` are the turn events it completed;
    /// `beeps` the beeps that ended in it (when listening for them).
    Audio {
        position_ms: u64,
        speaking: bool,
        turns: Vec<TurnEvent>,
        beeps: Vec<Beep>,
    },
    /// Voice activity detection failed on audio.
    Failed(VoiceError),
    /// The answer to [`Listen::Commit`]: the utterance committed, if there was audio.
    Committed(Option<Utterance>),
    Cleared,
    Configured,
    /// The answer to [`Listen::Finish`]: the last utterance, if the caller was mid-sentence.
    Finished(Result<Option<Utterance>, VoiceError>),
}

/// Messages waiting for the stage before the session waits for room (a few seconds of audio).
const STAGE_QUEUE: usize = 256;

/// A [`Listener`] running as a stage of its own.
pub struct ListenerStage {
    tx: mpsc::Sender<Listen>,
    heard: mpsc::UnboundedReceiver<Heard>,
}

impl ListenerStage {
    /// Starts the stage. Its reports are unbounded (at most a few per message asked), so the stage never
    /// blocks on a session that is itself waiting for room in the stage's queue.
    pub fn start(mut listener: Listener) -> Self {
        let (tx, mut rx) = mpsc::channel(STAGE_QUEUE);
        let (out, heard) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(input) = rx.recv().await {
                let report = match input {
                    Listen::Audio(bytes) => match listener.push(&bytes).await {
                        Ok(turns) => Heard::Audio {
                            position_ms: listener.position_ms(),
                            speaking: listener.caller_speaking(),
                            turns,
                            beeps: listener.take_beeps(),
                        },
                        Err(e) => Heard::Failed(e),
                    },
                    Listen::StopBeeps => {
                        listener.stop_beep_detection();
                        continue;
                    }
                    Listen::Commit => Heard::Committed(listener.commit()),
                    Listen::Clear => {
                        listener.clear();
                        Heard::Cleared
                    }
                    Listen::Configure { format, turns } => {
                        if let Some(format) = format
                            && let Err(e) = listener.set_format(format)
                        {
                            // The session checks formats before asking; keep the old one.
                            tracing::warn!(error = %e, "cannot switch the input format");
                        }
                        if let Some(turns) = turns {
                            listener.set_turn_detection(turns);
                        }
                        Heard::Configured
                    }
                    Listen::Finish => {
                        let _ = out.send(Heard::Finished(listener.finish().await));
                        return;
                    }
                };
                if out.send(report).is_err() {
                    return;
                }
            }
        });
        Self { tx, heard }
    }

    /// Hands `input` to the stage, waiting for room when it is far behind.
    pub async fn send(&self, input: Listen) {
        if self.tx.send(input).await.is_err() {
            tracing::warn!("the listening stage has stopped");
        }
    }

    /// The next report.
    pub async fn next(&mut self) -> Option<Heard> {
        self.heard.recv().await
    }
}

fn ms_to_samples(ms: u32) -> usize {
    (u64::from(ms) * u64::from(PIPELINE_SAMPLE_RATE) / 1000) as usize
}

fn to_ms(samples: u64) -> u64 {
    samples_to_ms(samples, PIPELINE_SAMPLE_RATE)
}

//! How long one turn took, stage by stage, from the end of the caller's speech: stored on the call timeline
//! (`turn`), exported as histograms, and — when traces are exported — as the turn's span with a child span per
//! stage, carrying the same figures.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::telemetry::trace::{PastSpan, Wall, export_past};

/// Latency of one turn, from the end of the caller's speech.
#[derive(Debug, Clone)]
pub(super) struct TurnTimer {
    caller_done: Instant,
    /// The silence voice activity detection waited for before it called the turn over (`None`: the client
    /// committed the turn).
    end_of_turn: Option<Duration>,
    transcribed: Option<Instant>,
    first_token: Option<Instant>,
    first_audio: Option<Instant>,
    first_sent: Option<Instant>,
    /// Tools the agent ran: name, whether it succeeded, when it finished and how long it took.
    tools: Vec<(String, bool, Instant, Duration)>,
}

impl TurnTimer {
    /// A turn whose caller speech ended at `caller_done` (after `end_of_turn` of silence, when voice activity
    /// detection decided) and whose transcript is ready now.
    pub(super) fn new(caller_done: Instant, end_of_turn: Option<Duration>) -> Self {
        let now = Instant::now();
        metrics::histogram!("voxedge_turn_stt_seconds").record((now - caller_done).as_secs_f64());
        Self {
            caller_done,
            end_of_turn,
            transcribed: Some(now),
            first_token: None,
            first_audio: None,
            first_sent: None,
            tools: Vec::new(),
        }
    }

    pub(super) fn mark(&mut self, stage: Stage, at: Instant) {
        let (slot, metric) = match stage {
            Stage::LlmFirstToken => (
                &mut self.first_token,
                "voxedge_turn_llm_first_token_seconds",
            ),
            Stage::TtsFirstAudio => (
                &mut self.first_audio,
                "voxedge_turn_tts_first_audio_seconds",
            ),
            Stage::AudioSent => (&mut self.first_sent, "voxedge_turn_voice_to_voice_seconds"),
        };
        if slot.is_none() {
            *slot = Some(at);
            metrics::histogram!(metric).record((at - self.caller_done).as_secs_f64());
        }
    }

    /// A tool the agent ran for this turn finished at `at`, after `elapsed`.
    pub(super) fn tool(&mut self, name: &str, ok: bool, at: Instant, elapsed: Duration) {
        self.tools.push((name.to_string(), ok, at, elapsed));
    }

    fn ms(&self, at: Option<Instant>) -> Option<u64> {
        at.map(|at| (at - self.caller_done).as_millis() as u64)
    }

    pub(super) fn to_json(&self) -> serde_json::Value {
        json!({
            "endOfTurnMs": self.end_of_turn.map(|d| d.as_millis() as u64),
            "sttMs": self.ms(self.transcribed),
            "llmFirstTokenMs": self.ms(self.first_token),
            "ttsFirstAudioMs": self.ms(self.first_audio),
            "voiceToVoiceMs": self.ms(self.first_sent),
        })
    }

    /// Exports the turn under the call's span: `turn` from the end of the caller's speech (the VAD's silence
    /// included) to its last stage, with children `vad.end_of_turn`, `stt`, `llm.first_token`, `tts.first_audio`
    /// and one `tool` per tool. Each carries its figure from the timeline event in `voxedge.ms` (milliseconds
    /// from the end of the caller's turn); the turn carries them all. No words, no phone numbers.
    pub(super) fn export(&self, call: &tracing::Span, response_id: &str, call_started: Instant) {
        let clock = Wall::now();
        let wall = |at| clock.at(at);
        let zero = self.caller_done;
        // The silence is measured in audio: a client streaming faster than real time makes it longer than the
        // wall time it took, so it never reaches back before the call.
        let start = zero
            .checked_sub(self.end_of_turn.unwrap_or_default())
            .unwrap_or(zero)
            .max(call_started)
            .min(zero);
        let mut end = [
            self.transcribed,
            self.first_token,
            self.first_audio,
            self.first_sent,
        ]
        .into_iter()
        .flatten()
        .chain(self.tools.iter().map(|(_, _, at, _)| *at))
        .max()
        .unwrap_or(zero);
        end = end.max(zero);
        let figure = |span: PastSpan, at: Option<Instant>| match self.ms(at) {
            Some(ms) => span.with("voxedge.ms", ms as i64),
            None => span,
        };
        let mut turn = PastSpan::new("turn", wall(start), wall(end))
            .with("voxedge.response_id", response_id.to_string());
        for (key, value) in [
            (
                "voxedge.end_of_turn_ms",
                self.end_of_turn.map(|d| d.as_millis() as u64),
            ),
            ("voxedge.stt_ms", self.ms(self.transcribed)),
            ("voxedge.llm_first_token_ms", self.ms(self.first_token)),
            ("voxedge.tts_first_audio_ms", self.ms(self.first_audio)),
            ("voxedge.voice_to_voice_ms", self.ms(self.first_sent)),
        ] {
            if let Some(value) = value {
                turn = turn.with(key, value as i64);
            }
        }
        if let Some(silence) = self.end_of_turn {
            turn.children.push(
                PastSpan::new("vad.end_of_turn", wall(start), wall(zero))
                    .with("voxedge.ms", silence.as_millis() as i64),
            );
        }
        // Each stage runs from the one before it to its own mark.
        let mut from = zero;
        for (name, at) in [
            ("stt", self.transcribed),
            ("llm.first_token", self.first_token),
            ("tts.first_audio", self.first_audio),
        ] {
            if let Some(at) = at {
                turn.children
                    .push(figure(PastSpan::new(name, wall(from), wall(at)), Some(at)));
                from = at;
            }
        }
        for (name, ok, at, elapsed) in &self.tools {
            let started = at.checked_sub(*elapsed).unwrap_or(*at);
            turn.children.push(
                PastSpan::new("tool", wall(started), wall(*at))
                    .with("voxedge.tool", name.clone())
                    .with("voxedge.tool_ok", *ok)
                    .with("voxedge.ms", elapsed.as_millis() as i64),
            );
        }
        export_past(call, turn);
    }
}

#[derive(Clone, Copy)]
pub(super) enum Stage {
    LlmFirstToken,
    TtsFirstAudio,
    AudioSent,
}

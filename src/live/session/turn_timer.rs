//! How long one turn took, stage by stage, from the end of the caller's speech: stored on the call timeline
//! (`turn`) and exported as histograms.

use serde_json::json;
use tokio::time::Instant;

/// Latency of one turn, from the end of the caller's speech.
#[derive(Debug, Clone, Copy)]
pub(super) struct TurnTimer {
    caller_done: Instant,
    transcribed: Option<Instant>,
    first_token: Option<Instant>,
    first_audio: Option<Instant>,
    first_sent: Option<Instant>,
}

impl TurnTimer {
    /// A turn whose caller speech ended at `caller_done` and whose transcript is ready now.
    pub(super) fn new(caller_done: Instant) -> Self {
        let now = Instant::now();
        metrics::histogram!("voxedge_turn_stt_seconds").record((now - caller_done).as_secs_f64());
        Self {
            caller_done,
            transcribed: Some(now),
            first_token: None,
            first_audio: None,
            first_sent: None,
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

    pub(super) fn to_json(self) -> serde_json::Value {
        let ms = |at: Option<Instant>| at.map(|at| (at - self.caller_done).as_millis() as u64);
        json!({
            "sttMs": ms(self.transcribed),
            "llmFirstTokenMs": ms(self.first_token),
            "ttsFirstAudioMs": ms(self.first_audio),
            "voiceToVoiceMs": ms(self.first_sent),
        })
    }
}

#[derive(Clone, Copy)]
pub(super) enum Stage {
    LlmFirstToken,
    TtsFirstAudio,
    AudioSent,
}

//! Barge-in: what the caller says while the agent speaks — end phrases, interruptions by duration or words,
//! cancellations — and what the caller heard of an answer cut short, by our playback clock or by the client's
//! own report (Realtime `conversation.item.truncate`).

use std::time::Duration;

use serde_json::json;

use super::{Ending, Session};
use crate::error::ErrorCode;
use crate::live::playout::Playout;
use crate::live::protocol::{ClientError, Event, Protocol};
use crate::repo::calls::NewSegment;

/// The agent's last finished message, and enough of its playback to cut it where a client says it stopped.
pub(super) struct LastMessage {
    pub(super) item_id: String,
    pub(super) playout: Playout,
    /// What the conversation and the transcript hold of it now.
    pub(super) heard: String,
    /// Its transcript segment, if one was stored.
    pub(super) segment: Option<NewSegment>,
}

/// A playback position must lie within the audio sent.
fn check_audio_end(playout: &Playout, audio_end: Duration) -> Result<(), ClientError> {
    let sent = playout.audio_sent();
    if audio_end > sent {
        return Err(ClientError::new(
            ErrorCode::InvalidValue,
            format!(
                "audio_end_ms {} is past the end of the message's audio ({} ms)",
                audio_end.as_millis(),
                sent.as_millis()
            ),
        )
        .param("audio_end_ms"));
    }
    Ok(())
}

impl<P: Protocol> Session<P> {
    /// Barge-in by duration: the caller has been speaking over the agent for long enough.
    pub(super) async fn check_barge_in_by_duration(&mut self) -> Result<(), Ending> {
        let (Some(started), Some(_)) = (self.speech_started_ms, &self.speaking) else {
            return Ok(());
        };
        // An answering machine's sounds never stop the voicemail message.
        if self.screening() {
            return Ok(());
        }
        let rules = self.plan.barge_in;
        let Some(threshold) = rules.after_speaking else {
            return Ok(());
        };
        let spoken = Duration::from_millis(self.position_ms.saturating_sub(started));
        if rules.enabled && spoken >= threshold {
            self.interrupt("turn_detected").await?;
        }
        Ok(())
    }

    /// Stops the agent now: cancels the LLM and TTS, drops queued audio, tells the client to drop what it
    /// buffered, and records what the caller heard.
    pub(super) async fn interrupt(&mut self, reason: &'static str) -> Result<(), Ending> {
        let Some(speaking) = &self.speaking else {
            return Ok(());
        };
        let (id, audio_sent) = (speaking.id.clone(), speaking.audio_sent);
        if audio_sent {
            self.emit(Event::ClearPlayback).await?;
        }
        let played = self.stop_speaking(reason).await;
        metrics::counter!("voxedge_interruptions_total", "reason" => reason).increment(1);
        self.timeline(
            "interruption",
            json!({ "responseId": id, "reason": reason, "playedMs": played.as_millis() as u64 }),
        )
        .await;
        Ok(())
    }

    /// The client played agent message `item_id` only up to `audio_end_ms` (Realtime `conversation.item.truncate`):
    /// the caller heard that much. A message still playing stops there; the last finished one is cut to it, in
    /// the model's memory and in the transcript.
    pub(super) async fn truncate(
        &mut self,
        item_id: String,
        audio_end_ms: u64,
    ) -> Result<(), Ending> {
        let audio_end = Duration::from_millis(audio_end_ms);
        let playing = self
            .speaking
            .as_ref()
            .filter(|s| s.audio && s.message.as_ref().is_some_and(|(id, _)| *id == item_id));
        if let Some(s) = playing {
            if let Err(error) = check_audio_end(&s.playout, audio_end) {
                return self.client_error(error).await;
            }
            let (id, heard) = (s.id.clone(), s.playout.heard_within(audio_end));
            self.stop_speaking_heard("client_cancelled", Some(heard))
                .await;
            metrics::counter!("voxedge_interruptions_total", "reason" => "client_truncated")
                .increment(1);
            self.timeline(
                "interruption",
                json!({ "responseId": id, "reason": "client_truncated", "playedMs": audio_end_ms }),
            )
            .await;
        } else {
            let Some(last) = self.last_message.as_mut().filter(|m| m.item_id == item_id) else {
                let error = ClientError::new(
                    ErrorCode::ItemTruncateInvalidItemId,
                    format!("no agent audio message {item_id:?} to truncate (only the latest one can be)"),
                )
                .param("item_id");
                return self.client_error(error).await;
            };
            if let Err(error) = check_audio_end(&last.playout, audio_end) {
                return self.client_error(error).await;
            }
            let heard = last.playout.heard_within(audio_end);
            if heard != last.heard {
                self.conversation.correct_assistant(&last.heard, &heard);
                last.heard = heard.clone();
                let segment = last.segment.as_mut().map(|segment| {
                    segment.text = heard;
                    segment.clone()
                });
                self.recorder
                    .segments(segment.into_iter().collect(), Vec::new())
                    .await;
                self.timeline(
                    "playback_truncated",
                    json!({ "itemId": item_id, "audioEndMs": audio_end_ms }),
                )
                .await;
            }
        }
        self.emit(Event::ItemTruncated {
            item_id,
            audio_end_ms,
        })
        .await
    }
}

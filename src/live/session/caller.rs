//! The caller's side of a call: what the listening stage heard (turns, commits), transcribing utterances on the
//! STT pool, typed messages, and what the caller's words make happen (end phrases, barge-in by words, answers).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::close_code;
use serde_json::json;
use tokio::time::Instant;

use super::ending::says_phrase;
use super::screening::Voicemail;
use super::turn_timer::TurnTimer;
use super::{Ending, Session, new_item_id};
use crate::error::{ErrorCode, Reportable as _};
use crate::live::limits::{self, AudioVerdict};
use crate::live::listen::{Heard, Listen};
use crate::live::protocol::{ClientError, Event, Protocol};
use crate::model::{Metric, NewUsage, Speaker};
use crate::repo::calls::NewSegment;
use crate::voice::turn::StopReason;
use crate::voice::{Transcription, TurnEvent, Utterance, VoiceError};

/// How long the listening stage has to hand over the last words once the connection is over.
const FINAL_LISTENING: Duration = Duration::from_secs(5);

/// An utterance being transcribed on the STT pool.
pub(super) type Pending = tokio::task::JoinHandle<Transcribed>;

pub(super) struct Transcribed {
    item_id: String,
    /// When the caller's turn ended (the start of this turn's latency).
    turn_ended: Instant,
    speech_start_ms: u64,
    speech_end_ms: u64,
    audio_ms: u64,
    /// The silence voice activity detection waited for before it ended the turn (`None`: committed by hand).
    end_of_turn: Option<Duration>,
    result: Result<Transcription, VoiceError>,
}

impl<P: Protocol> Session<P> {
    /// Caller audio from the client: handed to the listening stage, unless it comes faster than the call's
    /// audio pace allows (then it is dropped, and reported every few seconds while that goes on).
    pub(super) async fn caller_audio(&mut self, bytes: Vec<u8>) -> Result<(), Ending> {
        match self
            .limits
            .audio(self.input_format, bytes.len(), Instant::now())
        {
            AudioVerdict::Accepted => {
                if let Some(recording) = &self.recording {
                    recording.caller(&bytes);
                }
                self.listener.send(Listen::Audio(bytes)).await;
                Ok(())
            }
            AudioVerdict::Refused { report: false } => Ok(()),
            AudioVerdict::Refused { report: true } => {
                metrics::counter!("voxedge_live_limited_total", "code" => ErrorCode::InputAudioTooFast.wire())
                    .increment(1);
                self.timeline(
                    "input_audio_dropped",
                    json!({ "code": ErrorCode::InputAudioTooFast.wire(), "positionMs": self.position_ms }),
                )
                .await;
                let error = ClientError::new(
                    ErrorCode::InputAudioTooFast,
                    format!(
                        "audio is accepted at most {}x real time (after a {} s burst); this audio was dropped",
                        limits::AUDIO_SPEED,
                        limits::AUDIO_BURST.as_secs()
                    ),
                );
                self.client_error(error).await
            }
        }
    }

    /// Acts on what the listening stage reports.
    pub(super) async fn heard(&mut self, heard: Heard) -> Result<(), Ending> {
        match heard {
            Heard::Audio {
                position_ms,
                speaking,
                turns,
                beeps,
            } => {
                self.position_ms = position_ms;
                self.caller_speaking = speaking;
                self.screen(&turns, beeps).await?;
                for event in turns {
                    self.turn(event).await?;
                }
                self.check_barge_in_by_duration().await
            }
            Heard::Failed(e) => {
                tracing::error!(error = %e, "voice activity detection failed");
                Err(Ending::failed(
                    "internal_error",
                    close_code::ERROR,
                    e.code().wire(),
                ))
            }
            Heard::Committed(Some(utterance)) => self.utterance_done(utterance).await,
            Heard::Committed(None) => {
                let error = ClientError::new(
                    ErrorCode::InputAudioBufferCommitEmpty,
                    "there is no buffered audio to commit",
                );
                self.client_error(error).await
            }
            Heard::Cleared => {
                self.speech_item = None;
                self.emit(Event::InputCleared).await
            }
            Heard::Configured => {
                if let Some(Some(detects_turns)) = self.configuring.pop_front() {
                    self.detects_turns = detects_turns;
                    self.speech_item = None;
                }
                self.emit(Event::SessionUpdated).await
            }
            // Only asked for when the call ends (see `Session::last_words`).
            Heard::Finished(_) => Ok(()),
        }
    }

    async fn turn(&mut self, event: TurnEvent) -> Result<(), Ending> {
        match event {
            TurnEvent::SpeechStarted { audio_start_ms } => {
                let item_id = new_item_id();
                self.speech_item = Some(item_id.clone());
                self.speech_started_ms = Some(self.position_ms);
                self.last_activity = Instant::now();
                self.timeline(
                    "speech_started",
                    json!({ "itemId": item_id, "audioStartMs": audio_start_ms }),
                )
                .await;
                self.emit(Event::SpeechStarted {
                    item_id,
                    audio_start_ms,
                })
                .await
            }
            TurnEvent::SpeechStopped { utterance, .. } => self.utterance_done(utterance).await,
        }
    }

    /// The caller finished an utterance (by silence, commit, or the end of the call): tell the client and
    /// transcribe it on the STT pool.
    async fn utterance_done(&mut self, utterance: Utterance) -> Result<(), Ending> {
        let item_id = self.speech_item.take().unwrap_or_else(new_item_id);
        self.speech_started_ms = None;
        if self.detects_turns {
            self.timeline(
                "speech_stopped",
                json!({ "itemId": item_id, "audioEndMs": utterance.audio_end_ms }),
            )
            .await;
            self.emit(Event::SpeechStopped {
                item_id: item_id.clone(),
                audio_end_ms: utterance.audio_end_ms,
            })
            .await?;
        }
        let previous_item_id = self.last_item.replace(item_id.clone());
        self.emit(Event::Committed {
            item_id: item_id.clone(),
            previous_item_id: previous_item_id.clone(),
        })
        .await?;
        self.emit(Event::UserItemAdded {
            item_id: item_id.clone(),
            previous_item_id,
            text: None,
        })
        .await?;
        self.transcribe(item_id, utterance).await
    }

    /// Queues `utterance` on the STT pool (its caller turn ended now) — unless too many of the call's
    /// utterances wait already: then it is dropped, with a timeline event and a `.failed` transcription.
    pub(super) async fn transcribe(
        &mut self,
        item_id: String,
        utterance: Utterance,
    ) -> Result<(), Ending> {
        if self.pending.len() >= limits::MAX_PENDING_TRANSCRIPTIONS {
            let audio_ms = utterance.audio_end_ms - utterance.audio_start_ms;
            let code = ErrorCode::TranscriptionBacklog;
            metrics::counter!("voxedge_live_limited_total", "code" => code.wire()).increment(1);
            tracing::warn!(audio_ms, "transcription backlog full; utterance dropped");
            self.timeline(
                "transcription_dropped",
                json!({ "itemId": item_id, "code": code.wire(), "audioMs": audio_ms }),
            )
            .await;
            let error = ClientError::new(
                code,
                format!(
                    "{} utterances of this call wait for transcription already; this one was dropped",
                    limits::MAX_PENDING_TRANSCRIPTIONS
                ),
            );
            return self
                .emit(Event::TranscriptionFailed { item_id, error })
                .await;
        }
        let turn_ended = Instant::now();
        let stt = Arc::clone(&self.stt);
        let audio_ms = utterance.audio_end_ms - utterance.audio_start_ms;
        let (speech_start_ms, speech_end_ms) = (utterance.speech_start_ms, utterance.speech_end_ms);
        let end_of_turn = (utterance.reason == StopReason::Silence)
            .then(|| Duration::from_millis(utterance.audio_end_ms.saturating_sub(speech_end_ms)));
        // Spawned so the work is queued on the pool now, not when the session next polls it.
        self.pending.push_back(tokio::spawn(async move {
            Transcribed {
                result: stt.transcribe(utterance.samples).await,
                item_id,
                turn_ended,
                speech_start_ms,
                speech_end_ms,
                audio_ms,
                end_of_turn,
            }
        }));
        Ok(())
    }

    pub(super) async fn transcribed(
        &mut self,
        done: Result<Transcribed, tokio::task::JoinError>,
    ) -> Result<(), Ending> {
        let done = match done {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "transcription task failed");
                return Ok(());
            }
        };
        let usage = NewUsage::for_call(
            &self.call_id,
            &format!("stt:{}", done.item_id),
            Metric::SttAudioMs,
            done.audio_ms as i64,
        );
        match done.result {
            Ok(transcription) => {
                metrics::histogram!("voxedge_stt_seconds")
                    .record(transcription.processing_time.as_secs_f64());
                let text = transcription.text.trim().to_string();
                let confidence = Some(f64::from(transcription.confidence));
                self.store_caller_segment(
                    &text,
                    done.speech_start_ms,
                    done.speech_end_ms,
                    confidence,
                    Some(usage),
                )
                .await;
                self.emit(Event::Transcribed {
                    item_id: done.item_id,
                    text: text.clone(),
                })
                .await?;
                let timer = TurnTimer::new(done.turn_ended, done.end_of_turn);
                self.caller_said(text, timer, done.speech_end_ms).await
            }
            Err(e) => {
                tracing::error!(error = %e, "transcription failed");
                self.timeline(
                    "transcription_failed",
                    json!({ "itemId": done.item_id, "code": e.code().wire() }),
                )
                .await;
                let error = ClientError::new(e.code(), e.to_string());
                self.emit(Event::TranscriptionFailed {
                    item_id: done.item_id,
                    error,
                })
                .await
            }
        }
    }

    /// A message the caller typed (`conversation.item.create`): part of the conversation and the transcript,
    /// within the call's limits on typed messages (size and rate).
    pub(super) async fn user_text(
        &mut self,
        item_id: Option<String>,
        text: String,
    ) -> Result<(), Ending> {
        let refusal = if text.chars().count() > limits::MAX_TEXT_CHARS {
            Some(ClientError::new(
                ErrorCode::InputTextTooLong,
                format!(
                    "typed messages are limited to {} characters",
                    limits::MAX_TEXT_CHARS
                ),
            ))
        } else if !self.limits.text_item(Instant::now()) {
            Some(ClientError::new(
                ErrorCode::ItemRateExceeded,
                format!(
                    "at most {} typed messages at once, then one per second",
                    limits::TEXT_ITEM_BURST
                ),
            ))
        } else {
            None
        };
        if let Some(error) = refusal {
            metrics::counter!("voxedge_live_limited_total", "code" => error.code.wire())
                .increment(1);
            return self.client_error(error.param("item.content")).await;
        }
        let item_id = item_id.unwrap_or_else(new_item_id);
        let at = self.position_ms;
        self.store_caller_segment(&text, at, at, None, None).await;
        self.conversation.push_user(text.clone());
        let previous_item_id = self.last_item.replace(item_id.clone());
        self.emit(Event::UserItemAdded {
            item_id,
            previous_item_id,
            text: Some(text),
        })
        .await
    }

    /// Stores what the caller said (nothing for an empty transcript, but its usage still counts).
    async fn store_caller_segment(
        &mut self,
        text: &str,
        start_ms: u64,
        end_ms: u64,
        confidence: Option<f64>,
        usage: Option<NewUsage>,
    ) {
        let mut segments = Vec::new();
        if !text.is_empty() {
            segments.push(NewSegment {
                seq: self.next_seq,
                speaker: Speaker::Caller,
                text: text.to_string(),
                start_ms: start_ms as i64,
                end_ms: end_ms as i64,
                confidence,
                is_final: true,
            });
            self.next_seq += 1;
        }
        self.recorder
            .segments(segments, usage.into_iter().collect())
            .await;
    }

    /// A caller turn (whose speech ended at `ended_ms` of call audio) was transcribed: end the call, interrupt the
    /// agent, answer, or just record it.
    async fn caller_said(
        &mut self,
        text: String,
        timer: TurnTimer,
        ended_ms: u64,
    ) -> Result<(), Ending> {
        if self.closing {
            return Ok(());
        }
        if self.screening() {
            // Who answered is not known yet (or a machine is recording): heard, stored, not answered.
            if !text.is_empty() && matches!(self.voicemail, Some(Voicemail::Screening(_))) {
                self.conversation.push_user(text);
                self.unanswered = Some(timer);
            }
            return Ok(());
        }
        if !text.is_empty() {
            self.last_activity = Instant::now();
            self.reprompted = false;
            if let Some(phrase) = self
                .plan
                .ending
                .end_phrases
                .iter()
                .find(|phrase| says_phrase(&text, phrase))
            {
                self.timeline("end_phrase", json!({ "phrase": phrase }))
                    .await;
                return Err(Ending::rule("end_phrase"));
            }
            self.settle().await?;
            let before_agent = self
                .speaking
                .as_ref()
                .is_some_and(|s| s.begun_at_ms >= ended_ms);
            if before_agent {
                // Said before the agent began (a "Hello?" heard while screening): part of the conversation, no
                // interruption of what the agent says now.
                self.conversation.push_user(text);
                return Ok(());
            }
            if self.speaking.is_some() {
                let rules = self.plan.barge_in;
                if !rules.enabled {
                    self.waiting.push((text, Some(timer)));
                    return Ok(());
                }
                let words = text.split_whitespace().count();
                if rules.min_words.is_some_and(|min| words >= min) {
                    self.interrupt("turn_detected").await?;
                } else {
                    // Too short to stop the agent ("mm-hmm"): recorded, not answered.
                    return Ok(());
                }
            }
            self.conversation.push_user(text);
            self.unanswered = Some(timer);
        }
        // Answer once the caller is done: words still being spoken or transcribed would cut the answer off at
        // once, and they are answered together.
        let caller_done = self.speech_item.is_none() && self.pending.is_empty();
        if self.create_response
            && caller_done
            && self.speaking.is_none()
            && self.unanswered.is_some()
        {
            self.think(None).await?;
        }
        Ok(())
    }

    /// Flushes the listening stage and queues for transcription every utterance still in it, the caller's last
    /// words (mid-sentence, or uncommitted audio without turn detection) included.
    pub(super) async fn last_words(&mut self) {
        self.listener.send(Listen::Finish).await;
        let deadline = Instant::now() + FINAL_LISTENING;
        loop {
            let heard = match tokio::time::timeout_at(deadline, self.listener.next()).await {
                Ok(Some(heard)) => heard,
                Ok(None) | Err(_) => {
                    tracing::warn!("the listening stage did not finish in time");
                    return;
                }
            };
            let utterances = match heard {
                Heard::Audio { turns, .. } => turns
                    .into_iter()
                    .filter_map(|turn| match turn {
                        TurnEvent::SpeechStopped { utterance, .. } => Some(utterance),
                        TurnEvent::SpeechStarted { .. } => None,
                    })
                    .collect(),
                Heard::Committed(utterance) => utterance.into_iter().collect(),
                Heard::Finished(Ok(last)) => {
                    if let Some(utterance) = last {
                        let item_id = self.speech_item.take().unwrap_or_else(new_item_id);
                        // The client may be gone; what matters now is the transcript.
                        let _ = self.transcribe(item_id, utterance).await;
                    }
                    return;
                }
                Heard::Finished(Err(e)) => {
                    tracing::error!(error = %e, "cannot flush the last utterance");
                    return;
                }
                Heard::Failed(_) | Heard::Cleared | Heard::Configured => Vec::new(),
            };
            for utterance in utterances {
                let item_id = self.speech_item.take().unwrap_or_else(new_item_id);
                let _ = self.transcribe(item_id, utterance).await;
            }
        }
    }
}

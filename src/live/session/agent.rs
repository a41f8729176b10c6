//! The agent's side of a call: answering caller turns, playing the answer in real time, recording what the
//! caller heard of it, and acting on what the agent decided (hang up, transfer).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::turn_timer::{Stage, TurnTimer};
use super::{Ending, Session};
use crate::brain::{Finish, Turn};
use crate::live::playout::Playout;
use crate::live::protocol::{Event, OutputItem, Protocol, ResponseStatus};
use crate::live::respond::{Output, Responder, Script};

/// What to do once the agent has finished speaking.
pub(super) enum After {
    HangUp,
    Transfer {
        to: String,
    },
    /// The voicemail message was left.
    Voicemail,
}

/// The response in progress.
pub(super) struct Speaking {
    pub(super) id: String,
    responder: Responder,
    /// The responder has nothing more to say (its task ended).
    pub(super) produced: bool,
    /// What the response adds to the conversation, once complete.
    pub(super) turns: Option<Vec<Turn>>,
    pub(super) playout: Playout,
    /// Whether the message carries audio (else text only).
    pub(super) audio: bool,
    /// The message item's id and output index, once its first sentence started.
    pub(super) message: Option<(String, usize)>,
    /// Function-call items, in order.
    pub(super) calls: Vec<OutputItem>,
    pub(super) next_output_index: usize,
    /// Everything sent so far (sentences started).
    pub(super) said: Vec<String>,
    pub(super) audio_sent: bool,
    pub(super) timer: Option<TurnTimer>,
    pub(super) tts_chars: usize,
    tts_failed: bool,
    pub(super) usage: Option<(u32, u32)>,
    pub(super) after: Option<After>,
    /// Call audio position where the agent started speaking.
    pub(super) start_ms: Option<u64>,
    /// Call audio position when the response was begun (caller speech ending before it is not a barge-in).
    pub(super) begun_at_ms: u64,
    /// `response.done` was sent (all produced and sent; playback may go on).
    pub(super) done_sent: bool,
}

/// What woke the session for the agent.
pub(super) enum SpeechStep {
    Output(Option<Output>),
    Due,
}

/// The next thing the agent's response needs: an output from its task, or audio due for playback.
pub(super) async fn next_step(speaking: &mut Option<Speaking>) -> SpeechStep {
    let Some(s) = speaking.as_mut() else {
        return std::future::pending().await;
    };
    let wake = if s.playout.has_queued() {
        s.playout.next_due()
    } else if s.produced {
        Some(s.playout.ends().unwrap_or_else(Instant::now))
    } else {
        None
    };
    tokio::select! {
        biased;
        () = sleep_until(wake) => SpeechStep::Due,
        output = s.responder.outputs.recv(), if !s.produced => SpeechStep::Output(output),
    }
}

/// Sleeps until `at`, or forever.
pub(super) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl<P: Protocol> Session<P> {
    /// Says the agent's first message, if it has one.
    pub(super) async fn greet(&mut self) -> Result<(), Ending> {
        match self.plan.first_message.clone() {
            Some(text) => self.respond(Script::Say(text), None).await,
            None => Ok(()),
        }
    }

    /// Answers the conversation as it stands.
    pub(super) async fn think(&mut self, timer: Option<TurnTimer>) -> Result<(), Ending> {
        // Latency counts from the caller's latest turn this answer covers.
        let timer = self.unanswered.take().or(timer);
        let script = match &self.plan.brain {
            Ok(spec) => Script::Think {
                spec: Arc::clone(spec),
                conversation: self.conversation.clone(),
            },
            Err(reason) => {
                let reason = reason.clone();
                self.timeline("llm_unavailable", json!({ "reason": reason }))
                    .await;
                Script::Say(self.plan.apology.clone())
            }
        };
        self.respond(script, timer).await
    }

    /// Whether the agent is answering: producing or sending a response (not just finishing playing one).
    pub(super) fn answering(&self) -> bool {
        self.speaking.as_ref().is_some_and(|s| !s.done_sent)
    }

    /// Wraps up a response that was completely sent but may still be playing its last moments, so a new one can
    /// start.
    pub(super) async fn settle(&mut self) -> Result<(), Ending> {
        if let Some(s) = self.speaking.take_if(|s| s.done_sent) {
            let said = s.said.join(" ");
            self.spoken(s, said).await?;
        }
        Ok(())
    }

    /// Starts a response; the previous one must be over (see [`Session::settle`]).
    pub(super) async fn respond(
        &mut self,
        script: Script,
        timer: Option<TurnTimer>,
    ) -> Result<(), Ending> {
        let id = format!("resp_{}", crate::db::new_ulid());
        let (format, frame_ms) = self.output;
        let bytes_per_ms = format.sample_rate() as usize / 1000 * format.bytes_per_sample();
        let responder = Responder::start(
            self.brain.clone(),
            script,
            self.tts.clone(),
            format,
            self.plan.voice.speed,
        );
        self.speaking = Some(Speaking {
            id: id.clone(),
            responder,
            produced: false,
            turns: None,
            playout: Playout::new(bytes_per_ms, frame_ms),
            audio: self.tts.is_some(),
            message: None,
            calls: Vec::new(),
            next_output_index: 0,
            said: Vec::new(),
            audio_sent: false,
            timer,
            tts_chars: 0,
            tts_failed: false,
            usage: None,
            after: None,
            start_ms: None,
            begun_at_ms: self.position_ms,
            done_sent: false,
        });
        self.emit(Event::ResponseCreated { response_id: id }).await
    }

    /// Ends the response in progress, if any, keeping only what the caller heard. Returns how much audio played.
    pub(super) async fn stop_speaking(&mut self, reason: &'static str) -> Duration {
        self.stop_speaking_heard(reason, None).await
    }

    /// [`Session::stop_speaking`] where the client said how much it `heard` (else our playback clock decides).
    pub(super) async fn stop_speaking_heard(
        &mut self,
        reason: &'static str,
        heard: Option<String>,
    ) -> Duration {
        let Some(mut s) = self.speaking.take() else {
            return Duration::ZERO;
        };
        s.responder.stop();
        let now = Instant::now();
        let heard = heard.unwrap_or_else(|| s.playout.heard(now));
        let played = s.playout.stop(now);
        if let Some(recording) = &self.recording {
            recording.cut(now);
        }
        if !s.done_sent {
            // The client may be gone when the call ends; what matters then is the record.
            let _ = self
                .response_done(&mut s, &heard, ResponseStatus::Cancelled(reason))
                .await;
        }
        s.after = None;
        let _ = self.spoken(s, heard).await;
        played
    }

    /// Handles what woke the session for the agent.
    pub(super) async fn speech(&mut self, step: SpeechStep) -> Result<(), Ending> {
        match step {
            SpeechStep::Output(Some(output)) => self.output(output).await?,
            SpeechStep::Output(None) => {
                if let Some(s) = &mut self.speaking {
                    s.produced = true;
                }
            }
            SpeechStep::Due => self.play().await?,
        }
        self.complete_if_done().await
    }

    async fn output(&mut self, output: Output) -> Result<(), Ending> {
        let Some(s) = &mut self.speaking else {
            return Ok(());
        };
        match output {
            Output::FirstToken(at) => {
                if let Some(timer) = &mut s.timer {
                    timer.mark(Stage::LlmFirstToken, at);
                }
            }
            Output::Sentence(sentence) => {
                let audio = sentence.audio.unwrap_or_default();
                if !audio.is_empty() && !sentence.text.is_empty() {
                    s.tts_chars += sentence.text.chars().count();
                    if let Some(timer) = &mut s.timer {
                        timer.mark(Stage::TtsFirstAudio, Instant::now());
                    }
                }
                s.playout.push(sentence.text, audio);
                if let Some(code) = sentence.tts_error
                    && !s.tts_failed
                {
                    s.tts_failed = true;
                    metrics::counter!("voxedge_tts_failures_total").increment(1);
                    let id = s.id.clone();
                    self.timeline("tts_failed", json!({ "responseId": id, "code": code }))
                        .await;
                }
            }
            Output::ToolCall {
                id: call_id,
                name,
                arguments,
            } => {
                let output_index = s.next_output_index;
                s.next_output_index += 1;
                let item = OutputItem::FunctionCall {
                    item_id: super::new_item_id(),
                    call_id: call_id.clone(),
                    name: name.clone(),
                    arguments,
                };
                s.calls.push(item.clone());
                let response_id = s.id.clone();
                let previous_item_id = self.last_item.replace(item.item_id().to_string());
                self.emit(Event::ResponseItemAdded {
                    response_id: response_id.clone(),
                    previous_item_id,
                    output_index,
                    item: item.clone(),
                })
                .await?;
                self.emit(Event::ResponseItemDone {
                    response_id,
                    output_index,
                    item,
                })
                .await?;
                self.timeline("tool_call", json!({ "name": name, "callId": call_id }))
                    .await;
            }
            Output::ToolResult {
                name,
                ok,
                code,
                elapsed,
            } => {
                metrics::counter!("voxedge_tool_calls_total", "ok" => ok.to_string()).increment(1);
                if let Some(timer) = &mut s.timer {
                    timer.tool(&name, ok, Instant::now(), elapsed);
                }
                let mut data =
                    json!({ "name": name, "ok": ok, "elapsedMs": elapsed.as_millis() as u64 });
                if let Some(code) = code {
                    data["code"] = json!(code.wire());
                }
                self.timeline("tool_result", data).await;
            }
            Output::ReplyCut { code, limit } => {
                metrics::counter!("voxedge_llm_replies_cut_total", "code" => code.wire())
                    .increment(1);
                self.timeline(
                    "llm_reply_cut",
                    json!({ "code": code.wire(), "limit": limit }),
                )
                .await;
            }
            Output::EndCall { reason } => {
                s.after = Some(After::HangUp);
                self.timeline("end_call_requested", json!({ "reason": reason }))
                    .await;
            }
            Output::KeysPressed { digits } => {
                metrics::counter!("voxedge_dtmf_sent_total").increment(1);
                let id = s.id.clone();
                self.timeline("dtmf_sent", json!({ "digits": digits, "responseId": id }))
                    .await;
            }
            Output::Transfer { to, reason } => {
                s.after = Some(After::Transfer { to: to.clone() });
                self.timeline("transfer_requested", json!({ "to": to, "reason": reason }))
                    .await;
            }
            Output::Usage {
                prompt_tokens,
                completion_tokens,
            } => s.usage = Some((prompt_tokens, completion_tokens)),
            Output::ProviderFailed {
                provider,
                code,
                message,
                mid_stream,
            } => {
                metrics::counter!("voxedge_llm_provider_failures_total", "code" => code.wire())
                    .increment(1);
                tracing::warn!(%provider, %code, %message, mid_stream, "LLM provider failed");
                self.timeline(
                    "llm_provider_failed",
                    json!({ "provider": provider, "code": code.wire(), "midStream": mid_stream }),
                )
                .await;
            }
            Output::Apologising => {
                metrics::counter!("voxedge_llm_unavailable_total").increment(1);
                self.timeline(
                    "llm_unavailable",
                    json!({ "reason": "every provider failed" }),
                )
                .await;
            }
            Output::Done { turns, finish } => {
                if finish == Finish::ToolRoundsExhausted {
                    tracing::warn!("the model kept calling tools past the agent's limit");
                }
                s.turns = Some(turns);
                s.produced = true;
            }
        }
        Ok(())
    }
}

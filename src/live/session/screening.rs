//! Answering machines on outbound phone calls: while the [`Screener`] listens, the agent stays silent; a person
//! is greeted, a machine is hung up on or — once its greeting is over — left the agent's voicemail message, after
//! which the call ends with `endedReason` `voicemail`.

use serde_json::json;

use super::agent::After;
use super::{Ending, Session};
use crate::live::protocol::Protocol;
use crate::live::registry::Signal;
use crate::live::respond::Script;
use crate::live::voicemail::{Screener, Verdict};
use crate::voice::{Beep, TurnEvent};

/// Where the call stands with answering machines.
pub(super) enum Voicemail {
    /// Listening: nobody knows yet who answered.
    Screening(Screener),
    /// A machine is recording the agent's message.
    LeavingMessage,
}

impl<P: Protocol> Session<P> {
    /// Whether the agent holds back from conversing (screening, or leaving a message).
    pub(super) fn screening(&self) -> bool {
        self.voicemail.is_some()
    }

    /// Feeds what the listening stage heard to the screener.
    pub(super) async fn screen(
        &mut self,
        turns: &[TurnEvent],
        beeps: Vec<Beep>,
    ) -> Result<(), Ending> {
        let position = self.position_ms;
        let Some(Voicemail::Screening(screener)) = &mut self.voicemail else {
            return Ok(());
        };
        for event in turns {
            match event {
                TurnEvent::SpeechStarted { audio_start_ms } => {
                    screener.speech_started(*audio_start_ms);
                }
                TurnEvent::SpeechStopped { utterance, .. } => {
                    screener.speech_stopped(utterance.speech_end_ms);
                }
            }
        }
        for beep in beeps {
            let Some(Voicemail::Screening(screener)) = &mut self.voicemail else {
                return Ok(());
            };
            let heard = screener.beep(beep);
            if !heard.is_empty() {
                let frequency = beep.frequency.round() as u64;
                self.timeline(
                    "beep",
                    json!({ "atMs": beep.end_ms, "frequencyHz": frequency }),
                )
                .await;
            }
            self.screened(heard, "audio").await?;
        }
        let Some(Voicemail::Screening(screener)) = &mut self.voicemail else {
            return Ok(());
        };
        let verdicts = screener.heard(position);
        self.screened(verdicts, "audio").await
    }

    /// Something arrived for this call from outside the connection.
    pub(super) async fn signal(&mut self, signal: Signal) -> Result<(), Ending> {
        match signal {
            Signal::AnsweredBy(answered_by) => {
                let Some(Voicemail::Screening(screener)) = &mut self.voicemail else {
                    return Ok(());
                };
                let verdicts = screener.answered_by(answered_by);
                self.screened(verdicts, "twilio").await
            }
        }
    }

    /// Acts on the screener's verdicts, in order.
    async fn screened(
        &mut self,
        verdicts: Vec<Verdict>,
        source: &'static str,
    ) -> Result<(), Ending> {
        for verdict in verdicts {
            match verdict {
                Verdict::Human => {
                    self.voicemail = None;
                    self.listener
                        .send(crate::live::listen::Listen::StopBeeps)
                        .await;
                    self.timeline(
                        "answered_by",
                        json!({ "answeredBy": "human", "source": source }),
                    )
                    .await;
                    match self.plan.first_message {
                        Some(_) => self.greet().await?,
                        None if self.unanswered.is_some() && self.create_response => {
                            self.think(None).await?
                        }
                        None => {}
                    }
                }
                Verdict::Machine { fax } => {
                    let message = self.plan.voicemail.as_ref().and_then(|v| v.message.clone());
                    let action = match (&message, fax) {
                        (Some(_), false) => "leave_message",
                        _ => "hang_up",
                    };
                    metrics::counter!("voxedge_voicemail_detected_total", "source" => source, "action" => action)
                        .increment(1);
                    let answered_by = if fax { "fax" } else { "machine" };
                    self.timeline(
                        "voicemail_detected",
                        json!({ "answeredBy": answered_by, "source": source, "action": action }),
                    )
                    .await;
                    if action == "hang_up" {
                        return Err(Ending::rule("voicemail"));
                    }
                }
                Verdict::LeaveMessage => {
                    let Some(message) =
                        self.plan.voicemail.as_ref().and_then(|v| v.message.clone())
                    else {
                        return Err(Ending::rule("voicemail"));
                    };
                    self.voicemail = Some(Voicemail::LeavingMessage);
                    self.listener
                        .send(crate::live::listen::Listen::StopBeeps)
                        .await;
                    self.timeline("voicemail_message", json!({ "source": source }))
                        .await;
                    self.respond(Script::Say(message), None).await?;
                    if let Some(speaking) = &mut self.speaking {
                        speaking.after = Some(After::Voicemail);
                    }
                }
            }
        }
        Ok(())
    }
}

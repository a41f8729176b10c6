//! Playing the agent's response in real time — sentence events, paced audio, marks — and, once it is over,
//! recording what the caller heard of it: in the model's memory, the transcript and usage, then acting on what
//! the agent decided (hang up, transfer) or on caller turns that waited.

use serde_json::json;
use tokio::time::Instant;

use super::agent::{After, Speaking};
use super::barge_in::LastMessage;
use super::turn_timer::Stage;
use super::{Ending, Session};
use crate::brain::Turn;
use crate::live::playout::Step;
use crate::live::protocol::{Event, OutputItem, Protocol, ResponseStatus};
use crate::model::{Metric, NewUsage, Speaker};
use crate::repo::calls::NewSegment;

impl<P: Protocol> Session<P> {
    /// Sends the audio due now.
    pub(super) async fn play(&mut self) -> Result<(), Ending> {
        let Some(s) = &mut self.speaking else {
            return Ok(());
        };
        let now = Instant::now();
        let response_id = s.id.clone();
        for step in s.playout.poll(now) {
            let s = self.speaking.as_mut().expect("invariant: still speaking");
            match step {
                Step::SentenceStarted { text, .. } => {
                    if s.start_ms.is_none() {
                        s.start_ms = Some(self.position_ms);
                    }
                    let (item_id, output_index, audio) = match &s.message {
                        Some((item_id, index)) => (item_id.clone(), *index, s.audio),
                        None => {
                            let item_id = super::new_item_id();
                            let index = s.next_output_index;
                            s.next_output_index += 1;
                            s.message = Some((item_id.clone(), index));
                            let audio = s.audio;
                            let previous_item_id = self.last_item.replace(item_id.clone());
                            let item = OutputItem::Message {
                                item_id: item_id.clone(),
                                text: String::new(),
                                audio,
                            };
                            self.emit(Event::ResponseItemAdded {
                                response_id: response_id.clone(),
                                previous_item_id,
                                output_index: index,
                                item,
                            })
                            .await?;
                            (item_id, index, audio)
                        }
                    };
                    if text.is_empty() {
                        // Keys pressed (`send_dtmf`): tones without words.
                        continue;
                    }
                    let s = self.speaking.as_mut().expect("invariant: still speaking");
                    let delta = if s.said.is_empty() {
                        text.clone()
                    } else {
                        format!(" {text}")
                    };
                    s.said.push(text);
                    self.emit(Event::ResponseText {
                        response_id: response_id.clone(),
                        item_id,
                        output_index,
                        text: delta,
                        audio,
                    })
                    .await?;
                }
                Step::Audio(audio) => {
                    if !s.audio_sent {
                        s.audio_sent = true;
                        if let Some(timer) = &mut s.timer {
                            timer.mark(Stage::AudioSent, Instant::now());
                        }
                    }
                    if let Some(recording) = &self.recording {
                        recording.agent(&audio, self.output.0);
                    }
                    let (item_id, output_index) =
                        s.message.clone().expect("invariant: a sentence started");
                    self.emit(Event::ResponseAudio {
                        response_id: response_id.clone(),
                        item_id,
                        output_index,
                        audio,
                    })
                    .await?;
                }
                Step::SentenceSent { index } => {
                    self.emit(Event::PlaybackMark {
                        name: format!("{index}@{response_id}"),
                    })
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// The client says sentence `name` (`<index>@<response id>`) has played.
    pub(super) fn played(&mut self, name: &str) {
        if let (Some((index, response)), Some(s)) = (name.split_once('@'), &mut self.speaking)
            && response == s.id
            && let Ok(index) = index.parse()
        {
            s.playout.marked(index);
        }
    }

    /// Sends `response.done` once everything is produced and sent, and wraps the response up once it has played.
    pub(super) async fn complete_if_done(&mut self) -> Result<(), Ending> {
        let Some(mut s) = self.speaking.take() else {
            return Ok(());
        };
        if !s.produced || s.playout.has_queued() {
            self.speaking = Some(s);
            return Ok(());
        }
        if !s.done_sent {
            let said = s.said.join(" ");
            self.response_done(&mut s, &said, ResponseStatus::Completed)
                .await?;
        }
        if !s.playout.played_out(Instant::now()) {
            self.speaking = Some(s);
            return Ok(());
        }
        let said = s.said.join(" ");
        self.spoken(s, said).await
    }

    pub(super) async fn response_done(
        &mut self,
        s: &mut Speaking,
        text: &str,
        status: ResponseStatus,
    ) -> Result<(), Ending> {
        s.done_sent = true;
        let mut output = s.calls.clone();
        if let Some((item_id, index)) = &s.message {
            let item = OutputItem::Message {
                item_id: item_id.clone(),
                text: text.to_string(),
                audio: s.audio,
            };
            self.emit(Event::ResponseItemDone {
                response_id: s.id.clone(),
                output_index: *index,
                item: item.clone(),
            })
            .await?;
            output.insert((*index).min(output.len()), item);
        }
        self.emit(Event::ResponseDone {
            response_id: s.id.clone(),
            status,
            output,
            usage: s.usage,
        })
        .await
    }

    /// The response is over and `heard` is what the caller heard of it: record it, meter it, and act on what the
    /// agent decided (hang up, transfer) or on caller turns that waited.
    pub(super) async fn spoken(&mut self, s: Speaking, heard: String) -> Result<(), Ending> {
        let now = Instant::now();
        self.last_activity = now;
        let mut turns = s.turns.unwrap_or_default();
        match turns.last_mut() {
            Some(Turn::Assistant(text)) => *text = heard.clone(),
            _ if !heard.is_empty() => turns.push(Turn::Assistant(heard.clone())),
            _ => {}
        }
        turns.retain(|t| !matches!(t, Turn::Assistant(text) if text.is_empty()));
        self.conversation.extend(turns);

        let mut usage = Vec::new();
        if let Some((input, output)) = s.usage {
            usage.push(NewUsage::for_call(
                &self.call_id,
                &format!("llm-in:{}", s.id),
                Metric::LlmInputTokens,
                input.into(),
            ));
            usage.push(NewUsage::for_call(
                &self.call_id,
                &format!("llm-out:{}", s.id),
                Metric::LlmOutputTokens,
                output.into(),
            ));
        }
        if s.tts_chars > 0 {
            usage.push(NewUsage::for_call(
                &self.call_id,
                &format!("tts:{}", s.id),
                Metric::TtsCharacters,
                s.tts_chars as i64,
            ));
        }
        let mut segments = Vec::new();
        if !heard.is_empty() {
            let start = s.start_ms.unwrap_or(self.position_ms);
            segments.push(NewSegment {
                seq: self.next_seq,
                speaker: Speaker::Agent,
                text: heard.clone(),
                start_ms: start as i64,
                end_ms: self.position_ms.max(start) as i64,
                confidence: None,
                is_final: true,
            });
            self.next_seq += 1;
        }
        self.last_message = match s.message {
            Some((item_id, _)) if s.audio => Some(LastMessage {
                item_id,
                playout: s.playout,
                heard,
                segment: segments.first().cloned(),
            }),
            _ => None,
        };
        self.recorder.segments(segments, usage).await;
        if let Some(timer) = s.timer {
            let mut timings = timer.to_json();
            timings["responseId"] = json!(s.id);
            self.timeline("turn", timings).await;
            timer.export(&tracing::Span::current(), &s.id, self.started);
        }
        match s.after {
            Some(After::HangUp) => return Err(Ending::rule("agent_hangup")),
            Some(After::Voicemail) => return Err(Ending::rule("voicemail")),
            Some(After::Transfer { to }) => return Err(self.transfer(&to).await),
            None => {}
        }
        if !self.waiting.is_empty() && !self.closing {
            let waiting = std::mem::take(&mut self.waiting);
            let timer = waiting.last().and_then(|(_, timer)| timer.clone());
            for (text, _) in waiting {
                self.conversation.push_user(text);
            }
            if self.create_response {
                self.think(timer).await?;
            }
        }
        Ok(())
    }
}

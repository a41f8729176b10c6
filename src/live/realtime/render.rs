//! Rendering session events as Realtime server events, in the GA or the beta shape.

use base64::Engine as _;
use serde_json::{Value, json};

use super::Realtime;
use crate::error::ErrorCode;
use crate::live::protocol::{ClientError, Event, OutputItem, ResponseStatus};

impl Realtime {
    pub(super) fn render_event(&mut self, event: &Event) -> Vec<String> {
        let beta = self.beta;
        let message = match event {
            Event::SessionCreated { call_id } => {
                // The session id is the call's id, so clients can find the call in the API.
                self.session.id = call_id.clone();
                self.event(
                    "session.created",
                    json!({ "session": self.session.to_json(beta) }),
                )
            }
            Event::SessionUpdated => self.event(
                "session.updated",
                json!({ "session": self.session.to_json(beta) }),
            ),
            Event::SpeechStarted {
                item_id,
                audio_start_ms,
            } => self.event(
                "input_audio_buffer.speech_started",
                json!({ "audio_start_ms": audio_start_ms, "item_id": item_id }),
            ),
            Event::SpeechStopped {
                item_id,
                audio_end_ms,
            } => self.event(
                "input_audio_buffer.speech_stopped",
                json!({ "audio_end_ms": audio_end_ms, "item_id": item_id }),
            ),
            Event::Committed {
                item_id,
                previous_item_id,
            } => self.event(
                "input_audio_buffer.committed",
                json!({ "previous_item_id": previous_item_id, "item_id": item_id }),
            ),
            Event::InputCleared => self.event("input_audio_buffer.cleared", json!({})),
            Event::UserItemAdded {
                item_id,
                previous_item_id,
                text,
            } => {
                let body = json!({
                    "previous_item_id": previous_item_id,
                    "item": self.user_item(item_id, text.as_deref()),
                });
                if beta {
                    self.event("conversation.item.created", body)
                } else {
                    return vec![
                        self.event("conversation.item.added", body.clone()),
                        self.event("conversation.item.done", body),
                    ];
                }
            }
            Event::Transcribed { item_id, text } => self.event(
                "conversation.item.input_audio_transcription.completed",
                json!({ "item_id": item_id, "content_index": 0, "transcript": text }),
            ),
            Event::TranscriptionFailed { item_id, error } => self.event(
                "conversation.item.input_audio_transcription.failed",
                json!({ "item_id": item_id, "content_index": 0, "error": error_json(error) }),
            ),
            Event::ResponseCreated { response_id } => self.event(
                "response.created",
                json!({ "response": response_json(response_id, "in_progress", None, &[], None) }),
            ),
            Event::ResponseItemAdded {
                response_id,
                previous_item_id,
                output_index,
                item,
            } => {
                let item_json = self.output_item(item, "in_progress");
                let mut out = vec![self.event(
                    "response.output_item.added",
                    json!({ "response_id": response_id, "output_index": output_index, "item": item_json }),
                )];
                let added = json!({ "previous_item_id": previous_item_id, "item": item_json });
                out.push(if beta {
                    self.event("conversation.item.created", added)
                } else {
                    self.event("conversation.item.added", added)
                });
                if let OutputItem::Message { item_id, audio, .. } = item {
                    out.push(self.event(
                        "response.content_part.added",
                        json!({
                            "response_id": response_id, "item_id": item_id, "output_index": output_index,
                            "content_index": 0, "part": self.content_part(*audio, ""),
                        }),
                    ));
                }
                return out;
            }
            Event::ResponseAudio {
                response_id,
                item_id,
                output_index,
                audio,
            } => self.event(
                if beta {
                    "response.audio.delta"
                } else {
                    "response.output_audio.delta"
                },
                json!({
                    "response_id": response_id, "item_id": item_id, "output_index": output_index,
                    "content_index": 0,
                    "delta": base64::engine::general_purpose::STANDARD.encode(audio),
                }),
            ),
            Event::ResponseText {
                response_id,
                item_id,
                output_index,
                text,
                audio,
            } => self.event(
                match (beta, audio) {
                    (true, true) => "response.audio_transcript.delta",
                    (false, true) => "response.output_audio_transcript.delta",
                    (true, false) => "response.text.delta",
                    (false, false) => "response.output_text.delta",
                },
                json!({
                    "response_id": response_id, "item_id": item_id, "output_index": output_index,
                    "content_index": 0, "delta": text,
                }),
            ),
            Event::ResponseItemDone {
                response_id,
                output_index,
                item,
            } => {
                let at = |extra: Value| {
                    let mut body = json!({
                        "response_id": response_id, "item_id": item.item_id(), "output_index": output_index,
                    });
                    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
                        body.extend(extra.clone());
                    }
                    body
                };
                let mut out = Vec::new();
                match item {
                    OutputItem::Message { text, audio, .. } => {
                        let (done, text_done) = match (beta, audio) {
                            (true, true) => {
                                ("response.audio.done", "response.audio_transcript.done")
                            }
                            (false, true) => (
                                "response.output_audio.done",
                                "response.output_audio_transcript.done",
                            ),
                            (true, false) => ("", "response.text.done"),
                            (false, false) => ("", "response.output_text.done"),
                        };
                        if *audio {
                            out.push(self.event(done, at(json!({ "content_index": 0 }))));
                        }
                        let field = if *audio { "transcript" } else { "text" };
                        out.push(
                            self.event(text_done, at(json!({ "content_index": 0, field: text }))),
                        );
                        out.push(self.event(
                            "response.content_part.done",
                            at(json!({ "content_index": 0, "part": self.content_part(*audio, text) })),
                        ));
                    }
                    OutputItem::FunctionCall {
                        call_id,
                        name,
                        arguments,
                        ..
                    } => {
                        out.push(self.event(
                            "response.function_call_arguments.delta",
                            at(json!({ "call_id": call_id, "delta": arguments })),
                        ));
                        out.push(self.event(
                            "response.function_call_arguments.done",
                            at(json!({ "call_id": call_id, "name": name, "arguments": arguments })),
                        ));
                    }
                }
                let item_json = self.output_item(item, "completed");
                out.push(self.event(
                    "response.output_item.done",
                    json!({ "response_id": response_id, "output_index": output_index, "item": item_json }),
                ));
                if !beta {
                    out.push(self.event("conversation.item.done", json!({ "item": item_json })));
                }
                return out;
            }
            Event::ResponseDone {
                response_id,
                status,
                output,
                usage,
            } => {
                let (status, reason) = match status {
                    ResponseStatus::Completed => ("completed", None),
                    ResponseStatus::Cancelled(reason) => ("cancelled", Some(*reason)),
                };
                let items: Vec<Value> = output
                    .iter()
                    .map(|item| {
                        self.output_item(
                            item,
                            if reason.is_some() {
                                "incomplete"
                            } else {
                                "completed"
                            },
                        )
                    })
                    .collect();
                self.event(
                    "response.done",
                    json!({ "response": response_json(response_id, status, reason, &items, *usage) }),
                )
            }
            Event::ItemTruncated {
                item_id,
                audio_end_ms,
            } => self.event(
                "conversation.item.truncated",
                json!({ "item_id": item_id, "content_index": 0, "audio_end_ms": audio_end_ms }),
            ),
            Event::PlaybackMark { .. } | Event::ClearPlayback => return Vec::new(),
            Event::Error(error) => {
                let mut body = error_json(error);
                if body["event_id"].is_null() {
                    body["event_id"] = json!(self.handling);
                }
                self.event("error", json!({ "error": body }))
            }
        };
        vec![message]
    }

    fn event(&self, kind: &str, mut body: Value) -> String {
        body["type"] = json!(kind);
        body["event_id"] = json!(format!("event_{}", crate::db::new_ulid()));
        body.to_string()
    }

    fn content_part(&self, audio: bool, text: &str) -> Value {
        match (self.beta, audio) {
            (true, true) => json!({ "type": "audio", "transcript": text }),
            (false, true) => json!({ "type": "output_audio", "transcript": text }),
            (true, false) => json!({ "type": "text", "text": text }),
            (false, false) => json!({ "type": "output_text", "text": text }),
        }
    }

    fn output_item(&self, item: &OutputItem, status: &str) -> Value {
        match item {
            OutputItem::Message {
                item_id,
                text,
                audio,
            } => {
                let content = if text.is_empty() && status == "in_progress" {
                    json!([])
                } else {
                    json!([self.content_part(*audio, text)])
                };
                json!({
                    "id": item_id, "object": "realtime.item", "type": "message", "status": status,
                    "role": "assistant", "content": content,
                })
            }
            OutputItem::FunctionCall {
                item_id,
                call_id,
                name,
                arguments,
            } => json!({
                "id": item_id, "object": "realtime.item", "type": "function_call", "status": "completed",
                "call_id": call_id, "name": name, "arguments": arguments,
            }),
        }
    }

    fn user_item(&self, item_id: &str, text: Option<&str>) -> Value {
        let content = match text {
            Some(text) => json!([{ "type": "input_text", "text": text }]),
            None => json!([{ "type": "input_audio", "transcript": null }]),
        };
        json!({
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": content,
        })
    }
}

fn response_json(
    id: &str,
    status: &str,
    cancelled: Option<&str>,
    output: &[Value],
    usage: Option<(u32, u32)>,
) -> Value {
    json!({
        "id": id,
        "object": "realtime.response",
        "status": status,
        "status_details": cancelled.map(|reason| json!({ "type": "cancelled", "reason": reason })),
        "output": output,
        "usage": usage.map(|(input, output)| json!({
            "total_tokens": input + output,
            "input_tokens": input,
            "output_tokens": output,
        })),
    })
}

fn error_json(error: &ClientError) -> Value {
    let server_fault = matches!(
        error.code,
        ErrorCode::Internal
            | ErrorCode::VoiceModelMissing
            | ErrorCode::VoiceModelFailed
            | ErrorCode::VoiceUnavailable
            | ErrorCode::VoiceInferenceFailed
            | ErrorCode::VoicePhonemizerFailed
            | ErrorCode::VoiceInvalidInput
            | ErrorCode::VoiceAudioError
    );
    let kind = if server_fault {
        "server_error"
    } else {
        "invalid_request_error"
    };
    json!({
        "type": kind,
        "code": error.code.wire(),
        "message": error.message,
        "param": error.param,
        "event_id": error.event_id,
    })
}

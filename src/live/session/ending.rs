//! How a call ends ([`Ending`]), and the rules that end it from the agent's side: transfers, the caller's silence
//! (one reprompt, then hang up), and end phrases; then the end itself: the last words transcribed, the recording
//! and the final state stored, the close frame sent.

use std::time::Duration;

use axum::extract::ws::close_code;
use futures::StreamExt as _;
use serde_json::json;
use tokio::time::Instant;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::Session;
use crate::error::Reportable as _;
use crate::live::protocol::{ClientError, Protocol};
use crate::live::respond::Script;
use crate::live::socket::Gone;
use crate::model::CallStatus;

/// Bounds on waiting for the last words once the connection is over.
const FINAL_TRANSCRIPTS: Duration = Duration::from_secs(30);
const FINAL_TRANSCRIPTS_AT_SHUTDOWN: Duration = Duration::from_millis(1500);

/// How a call ended: its final state, `endedReason`, and the close frame sent to the client.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ending {
    pub(super) status: CallStatus,
    pub(super) reason: &'static str,
    pub(super) close_code: u16,
    pub(super) close_reason: String,
}

/// The client went away: `?` on a send to it ends the call.
impl From<Gone> for Ending {
    fn from(gone: Gone) -> Self {
        match gone {
            Gone::TooSlow => Self::failed(
                "client_too_slow",
                close_code::POLICY,
                "client stopped reading",
            ),
            Gone::Disconnected => Self::completed("connection_lost", close_code::AWAY),
        }
    }
}

impl Ending {
    /// The call ended by a rule or the agent (not the connection): a normal close.
    pub(super) fn rule(reason: &'static str) -> Self {
        Self::completed(reason, close_code::NORMAL)
    }

    pub(super) fn completed(reason: &'static str, close_code: u16) -> Self {
        Self {
            status: CallStatus::Completed,
            reason,
            close_code,
            close_reason: reason.to_string(),
        }
    }

    pub(super) fn failed(
        reason: &'static str,
        close_code: u16,
        close_reason: impl Into<String>,
    ) -> Self {
        Self {
            status: CallStatus::Failed,
            reason,
            close_code,
            close_reason: close_reason.into(),
        }
    }

    pub(super) fn protocol(error: &ClientError, close: u16) -> Self {
        let reason = if close == close_code::SIZE {
            "message_too_large"
        } else {
            "protocol_error"
        };
        Self::failed(
            reason,
            close,
            format!("{}: {}", error.code.wire(), error.message),
        )
    }
}

impl<P: Protocol> Session<P> {
    /// Hands a phone call to `destination` (a configured destination's name) through Twilio, and ends our part.
    pub(super) async fn transfer(&mut self, destination: &str) -> Ending {
        let number = self.plan.transfer_number(destination).map(str::to_string);
        let (Some(number), Some(call_sid)) = (number, self.call_sid.clone()) else {
            // A browser call has no phone line to hand over: the client saw the function call and acts on it.
            return Ending::rule("transferred");
        };
        let result = self
            .telephony
            .transfer_call(&self.tenant, &call_sid, &number)
            .await;
        match result {
            Ok(()) => Ending::rule("transferred"),
            Err(e) => {
                tracing::warn!(code = %e.code(), error = %e, "transfer failed");
                self.timeline("transfer_failed", json!({ "code": e.code().as_str() }))
                    .await;
                Ending::failed("transfer_failed", close_code::NORMAL, "transfer failed")
            }
        }
    }

    /// When the caller's silence ends the call or earns a reprompt: nobody speaking, nothing being transcribed.
    pub(super) fn silence_deadline(&self) -> Option<Instant> {
        if self.speaking.is_some()
            || self.speech_item.is_some()
            || !self.pending.is_empty()
            || self.screening()
        {
            return None;
        }
        Some(self.last_activity + self.plan.ending.silence_timeout)
    }

    /// The caller has been silent for the agent's silence timeout: ask once, then hang up.
    pub(super) async fn silence(&mut self) -> Result<(), Ending> {
        if self.reprompted {
            self.timeline("silence_timeout", json!({})).await;
            return Err(Ending::rule("silence_timeout"));
        }
        self.reprompted = true;
        self.last_activity = Instant::now();
        let text = self.plan.ending.silence_reprompt.clone();
        self.timeline("silence_reprompt", json!({})).await;
        self.respond(Script::Say(text), None).await
    }
}

/// Whether `text` contains `phrase` as whole words, ignoring case and punctuation.
pub(super) fn says_phrase(text: &str, phrase: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let (text, phrase) = (words(text), words(phrase));
    !phrase.is_empty() && text.windows(phrase.len()).any(|w| w == phrase.as_slice())
}

impl<P: Protocol> Session<P> {
    /// The connection is over: transcribe the last words, end the call once everything is recorded, say goodbye.
    pub(super) async fn finish(mut self, ending: Ending) {
        let shutting_down = ending.reason == "server_shutdown";
        self.closing = true;
        self.stop_speaking("call_ended").await;
        self.last_words().await;
        let bound = if shutting_down {
            FINAL_TRANSCRIPTS_AT_SHUTDOWN
        } else {
            FINAL_TRANSCRIPTS
        };
        let deadline = Instant::now() + bound;
        while let Ok(Some(done)) = tokio::time::timeout_at(deadline, self.pending.next()).await {
            // The client may be gone; what matters now is storing the transcript.
            let _ = self.transcribed(done).await;
        }
        if !self.pending.is_empty() {
            tracing::warn!(
                left = self.pending.len(),
                "call ended before its last utterances were transcribed"
            );
        }
        let Self {
            recorder,
            out,
            recording,
            recordings,
            tenant,
            ..
        } = self;
        let mut recorded = false;
        if let Some(recording) = recording
            && let Some(row) = recording.finish().await
        {
            recorder.recording(row).await;
            recorded = true;
        }
        recorder.finish(ending.status, ending.reason).await;
        if recorded {
            recordings.unsettled(tenant.id);
        }
        let call = tracing::Span::current();
        call.set_attribute("voxedge.call_status", ending.status.as_str());
        call.set_attribute("voxedge.ended_reason", ending.reason.to_string());
        tracing::info!(
            status = ending.status.as_str(),
            reason = ending.reason,
            "live call ended"
        );
        out.close(ending.close_code, &ending.close_reason).await;
    }
}

#[cfg(test)]
mod tests {
    use super::says_phrase;

    #[test]
    fn end_phrases_match_whole_words_in_any_case() {
        assert!(says_phrase("OK, goodbye!", "goodbye"));
        assert!(says_phrase("Thanks. That's all, bye now.", "that's all"));
        assert!(!says_phrase("Goodbyes are hard", "goodbye"));
        assert!(!says_phrase("anything", ""));
    }
}

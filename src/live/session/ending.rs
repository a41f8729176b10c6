//! How a call ends ([`Ending`]), and the rules that end it from the agent's side: transfers, the caller's silence
//! (one reprompt, then hang up), and end phrases.

use axum::extract::ws::close_code;
use serde_json::json;
use tokio::time::Instant;

use super::Session;
use crate::error::Reportable as _;
use crate::live::protocol::{ClientError, Protocol};
use crate::live::respond::Script;
use crate::live::socket::Gone;
use crate::model::CallStatus;

/// How a call ended: its final state, `endedReason`, and the close frame sent to the client.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ending {
    pub(super) status: CallStatus,
    pub(super) reason: &'static str,
    pub(super) close_code: u16,
    pub(super) close_reason: String,
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

    pub(super) fn gone(gone: Gone) -> Self {
        match gone {
            Gone::TooSlow => Self::failed(
                "client_too_slow",
                close_code::POLICY,
                "client stopped reading",
            ),
            Gone::Disconnected => Self::completed("connection_lost", close_code::AWAY),
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

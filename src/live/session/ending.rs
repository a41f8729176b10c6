//! The rules that end a call from the agent's side: transfers, the caller's silence (one reprompt, then hang up),
//! and end phrases.

use std::time::Duration;

use axum::extract::ws::close_code;
use serde_json::json;
use tokio::time::Instant;

use super::{Ending, Session};
use crate::live::protocol::Protocol;
use crate::live::respond::Script;

impl<P: Protocol> Session<P> {
    /// Hands a phone call to `destination` (a configured destination's name) through Twilio, and ends our part.
    pub(super) async fn transfer(&mut self, destination: &str) -> Ending {
        let number = self
            .agent
            .version
            .config
            .tools
            .iter()
            .flat_map(|t| &t.destinations)
            .find(|d| d.name == destination || d.phone_number == destination)
            .map(|d| d.phone_number.clone());
        let (Some(number), Some(call_sid)) = (number, self.call_sid.clone()) else {
            // A browser call has no phone line to hand over: the client saw the function call and acts on it.
            return Ending::rule("transferred");
        };
        let result =
            crate::telephony::transfer_call(&self.app, self.tenant, &call_sid, &number).await;
        match result {
            Ok(()) => Ending::rule("transferred"),
            Err(e) => {
                tracing::warn!(code = e.code.as_str(), error = %e.message, "transfer failed");
                self.timeline("transfer_failed", json!({ "code": e.code.as_str() }))
                    .await;
                Ending::failed("transfer_failed", close_code::NORMAL, "transfer failed")
            }
        }
    }

    /// When the caller's silence ends the call or earns a reprompt: nobody speaking, nothing being transcribed.
    pub(super) fn silence_deadline(&self) -> Option<Instant> {
        if self.speaking.is_some() || self.speech_item.is_some() || !self.pending.is_empty() {
            return None;
        }
        let secs = self
            .agent
            .version
            .config
            .end_call
            .silence_timeout_secs
            .max(1) as u64;
        Some(self.last_activity + Duration::from_secs(secs))
    }

    /// The caller has been silent for the agent's silence timeout: ask once, then hang up.
    pub(super) async fn silence(&mut self) -> Result<(), Ending> {
        if self.reprompted {
            self.timeline("silence_timeout", json!({})).await;
            return Err(Ending::rule("silence_timeout"));
        }
        self.reprompted = true;
        self.last_activity = Instant::now();
        let text = self.agent.version.config.end_call.silence_reprompt.clone();
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

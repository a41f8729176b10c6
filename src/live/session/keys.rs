//! Keys the caller presses (Twilio `dtmf`): each goes on the timeline at once; together they reach the agent as
//! one message once the caller pauses ([`KEYS_PAUSE`]) or presses `#`, so "1 2 3 4" typed as an account number
//! is answered once, not four times.

use std::time::Duration;

use tokio::time::Instant;

use super::{Ending, Session};
use crate::live::protocol::Protocol;

/// A pause this long after a key sends the keys pressed so far.
pub(super) const KEYS_PAUSE: Duration = Duration::from_millis(1500);

/// Keys pressed and not yet told to the agent.
#[derive(Debug, Default)]
pub(super) struct Keys {
    pressed: String,
    /// When they are told to the agent.
    pub(super) due: Option<Instant>,
}

impl<P: Protocol> Session<P> {
    /// The caller pressed `digit`.
    pub(super) async fn key_pressed(&mut self, digit: String) -> Result<(), Ending> {
        self.timeline("dtmf", serde_json::json!({ "digit": digit }))
            .await;
        self.keys.pressed.push_str(&digit);
        let now = Instant::now();
        self.keys.due = Some(if digit.ends_with('#') {
            now
        } else {
            now + KEYS_PAUSE
        });
        self.last_activity = now;
        Ok(())
    }

    /// The caller stopped pressing keys: the agent hears them as a message.
    pub(super) async fn keys_done(&mut self) -> Result<(), Ending> {
        self.keys.due = None;
        let pressed = std::mem::take(&mut self.keys.pressed);
        if pressed.is_empty() || self.screening() || self.closing {
            return Ok(());
        }
        let keys: Vec<String> = pressed.chars().map(String::from).collect();
        let text = format!("[The caller pressed on the keypad: {}]", keys.join(" "));
        self.settle().await?;
        if self.speaking.is_some() {
            // Answered once the agent has finished, like words said while it speaks without barge-in.
            self.waiting.push((text, None));
            return Ok(());
        }
        self.conversation.push_user(text);
        if self.create_response {
            self.think(None).await?;
        }
        Ok(())
    }
}

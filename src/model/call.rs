//! The call state machine.
//!
//! ```text
//! queued ─► ringing ─► in_progress ─► completed
//!   │  │       │            └───────► failed
//!   │  │       ├─► no_answer | busy | failed | canceled
//!   │  └───────┼─► in_progress        (web calls connect without ringing)
//!   └──────────┴─► no_answer | busy | failed | canceled   (Twilio may report these without ringing)
//! ```
//! Terminal states never change again.

use async_graphql::Enum;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
pub enum CallStatus {
    Queued,
    Ringing,
    InProgress,
    Completed,
    Failed,
    NoAnswer,
    Busy,
    Canceled,
}

impl CallStatus {
    pub const ALL: [CallStatus; 8] = [
        Self::Queued,
        Self::Ringing,
        Self::InProgress,
        Self::Completed,
        Self::Failed,
        Self::NoAnswer,
        Self::Busy,
        Self::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Ringing => "ringing",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::NoAnswer => "no_answer",
            Self::Busy => "busy",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::NoAnswer | Self::Busy | Self::Canceled
        )
    }

    /// The transition table.
    pub fn can_become(self, next: CallStatus) -> bool {
        use CallStatus::*;
        matches!(
            (self, next),
            (
                Queued,
                Ringing | InProgress | NoAnswer | Busy | Failed | Canceled
            ) | (Ringing, InProgress | NoAnswer | Busy | Failed | Canceled)
                | (InProgress, Completed | Failed)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Telephony (Twilio Media Streams).
    Phone,
    /// Browser or SDK (OpenAI-Realtime-compatible WebSocket).
    Web,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Caller,
    Agent,
}

macro_rules! str_enum {
    ($ty:ty { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

str_enum!(Direction { Inbound => "inbound", Outbound => "outbound" });
str_enum!(Transport { Phone => "phone", Web => "web" });
str_enum!(Speaker { Caller => "caller", Agent => "agent" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_never_change() {
        for from in CallStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in CallStatus::ALL {
                assert!(!from.can_become(to), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn every_state_is_reachable_from_queued() {
        let mut reached = vec![CallStatus::Queued];
        let mut i = 0;
        while i < reached.len() {
            for to in CallStatus::ALL {
                if reached[i].can_become(to) && !reached.contains(&to) {
                    reached.push(to);
                }
            }
            i += 1;
        }
        assert_eq!(reached.len(), CallStatus::ALL.len());
    }

    #[test]
    fn names_round_trip() {
        for s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(Transport::parse("web"), Some(Transport::Web));
        assert_eq!(Speaker::parse("robot"), None);
    }
}

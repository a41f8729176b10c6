//! Outbound campaigns: their state, calling windows, retry rules, and what became of each call.

use async_graphql::{Enum, SimpleObject};
use serde::{Deserialize, Serialize};

use super::CallStatus;

/// ```text
/// draft ─► running ⇄ paused
///   │        │  └──────┴─► canceled
///   │        └─► completed (every contact done)
///   └─► canceled
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Being set up: contacts can be added; nothing is dialled.
    Draft,
    /// Dialling within its windows.
    Running,
    /// No new calls (calls already on go on).
    Paused,
    /// Every contact reached a final outcome.
    Completed,
    /// Stopped for good; contacts not yet called never will be.
    Canceled,
}

/// Where a contact stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
pub enum ContactStatus {
    /// Waiting for its next attempt.
    Pending,
    /// An attempt is on the phone.
    Calling,
    /// A final outcome.
    Done,
    /// Its campaign was canceled first.
    Canceled,
}

/// What became of one call of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// A person answered and talked with the agent.
    Answered,
    /// An answering machine answered (the message was left, or the agent hung up).
    Voicemail,
    Busy,
    NoAnswer,
    /// The call failed (Twilio refused or failed it, the line dropped before the agent spoke, ...).
    Failed,
    Canceled,
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

str_enum!(CampaignStatus { Draft => "draft", Running => "running", Paused => "paused", Completed => "completed", Canceled => "canceled" });
str_enum!(ContactStatus { Pending => "pending", Calling => "calling", Done => "done", Canceled => "canceled" });
str_enum!(CallOutcome { Answered => "answered", Voicemail => "voicemail", Busy => "busy", NoAnswer => "no_answer", Failed => "failed", Canceled => "canceled" });

impl CallOutcome {
    pub const ALL: [CallOutcome; 6] = [
        Self::Answered,
        Self::Voicemail,
        Self::Busy,
        Self::NoAnswer,
        Self::Failed,
        Self::Canceled,
    ];
}

/// What a call's final state says about its campaign attempt. `None`: the call never reached Twilio (the attempt
/// is made again), or it has not ended.
pub fn outcome_of(status: CallStatus, ended_reason: Option<&str>) -> Option<CallOutcome> {
    Some(match (status, ended_reason) {
        (CallStatus::Failed, Some("not_placed")) => return None,
        (CallStatus::Completed, Some("voicemail")) => CallOutcome::Voicemail,
        (CallStatus::Completed, _) => CallOutcome::Answered,
        (CallStatus::Busy, _) => CallOutcome::Busy,
        (CallStatus::NoAnswer, _) => CallOutcome::NoAnswer,
        (CallStatus::Canceled, _) => CallOutcome::Canceled,
        (CallStatus::Failed, _) => CallOutcome::Failed,
        (CallStatus::Queued | CallStatus::Ringing | CallStatus::InProgress, _) => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Enum)]
#[serde(rename_all = "UPPERCASE")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub fn from_chrono(day: chrono::Weekday) -> Self {
        match day {
            chrono::Weekday::Mon => Self::Mon,
            chrono::Weekday::Tue => Self::Tue,
            chrono::Weekday::Wed => Self::Wed,
            chrono::Weekday::Thu => Self::Thu,
            chrono::Weekday::Fri => Self::Fri,
            chrono::Weekday::Sat => Self::Sat,
            chrono::Weekday::Sun => Self::Sun,
        }
    }
}

/// When calls may be placed, in the contact's local time: on `days`, from `start` to `end` (`HH:MM`, 24-hour;
/// `end` may be `24:00`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct CallingWindow {
    pub days: Vec<Weekday>,
    pub start: String,
    pub end: String,
}

/// Which outcomes are tried again, how soon, and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase")]
pub struct RetryRules {
    pub on_busy: bool,
    pub on_no_answer: bool,
    pub on_voicemail: bool,
    pub on_failed: bool,
    /// Minutes from the end of a call to the next attempt (1–10080).
    pub delay_minutes: i32,
    /// Attempts per contact, the first included (1–10).
    pub max_attempts: i32,
}

impl Default for RetryRules {
    fn default() -> Self {
        Self {
            on_busy: true,
            on_no_answer: true,
            on_voicemail: false,
            on_failed: false,
            delay_minutes: 60,
            max_attempts: 3,
        }
    }
}

impl RetryRules {
    /// Whether `outcome` is tried again (attempts permitting).
    pub fn retries(&self, outcome: CallOutcome) -> bool {
        match outcome {
            CallOutcome::Busy => self.on_busy,
            CallOutcome::NoAnswer => self.on_no_answer,
            CallOutcome::Voicemail => self.on_voicemail,
            CallOutcome::Failed => self.on_failed,
            CallOutcome::Answered | CallOutcome::Canceled => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_states_become_outcomes() {
        assert_eq!(
            outcome_of(CallStatus::Completed, Some("voicemail")),
            Some(CallOutcome::Voicemail)
        );
        assert_eq!(
            outcome_of(CallStatus::Completed, Some("caller_hangup")),
            Some(CallOutcome::Answered)
        );
        assert_eq!(
            outcome_of(CallStatus::NoAnswer, None),
            Some(CallOutcome::NoAnswer)
        );
        assert_eq!(outcome_of(CallStatus::Failed, Some("not_placed")), None);
        assert_eq!(outcome_of(CallStatus::Ringing, None), None);
        for outcome in CallOutcome::ALL {
            assert_eq!(CallOutcome::parse(outcome.as_str()), Some(outcome));
        }
        let rules = RetryRules::default();
        assert!(rules.retries(CallOutcome::Busy) && !rules.retries(CallOutcome::Answered));
    }
}

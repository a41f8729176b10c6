//! Twilio's callbacks about a placed call — `StatusCallback` (initiated, ringing, answered, completed, busy,
//! no-answer, failed, canceled) and `AsyncAmdStatusCallback` (`AnsweredBy`) — mapped onto the call's state
//! machine and timeline. The reconciler feeds what it reads back from Twilio through the same mapping.
//!
//! | Twilio `CallStatus` | the call |
//! |---|---|
//! | `queued`, `initiated` | on the timeline only |
//! | `ringing` | `queued → ringing` |
//! | `in-progress` | `→ in_progress` (answered; the stream continues it) |
//! | `completed` | ended by its session if one runs here; else `in_progress → completed` (`connection_lost`), or — answered but never connected — `failed` (`not_connected`) |
//! | `busy`, `no-answer`, `canceled` | `busy`, `no_answer`, `canceled` |
//! | `failed` | `failed` (`twilio_failed`) |

use serde_json::{Value, json};

use super::TelephonyError;
use crate::calls;
use crate::error::Reportable as _;
use crate::live::registry::{LiveCalls, Signal};
use crate::live::voicemail::AnsweredBy;
use crate::model::CallStatus;
use crate::repo;
use crate::tenants::{Change, Tenant};

/// What Twilio said about a call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TwilioReport {
    pub call_sid: Option<String>,
    /// `CallStatus`.
    pub status: Option<String>,
    /// `AnsweredBy` (answering-machine detection).
    pub answered_by: Option<String>,
    /// Details worth keeping on the timeline (`SipResponseCode`, `ErrorCode`, `CallDuration`, ...).
    pub details: Value,
}

impl TwilioReport {
    /// From a callback's form parameters.
    pub fn from_params(params: &[(String, String)]) -> Self {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let mut details = serde_json::Map::new();
        for name in [
            "CallDuration",
            "SipResponseCode",
            "ErrorCode",
            "ErrorMessage",
            "MachineDetectionDuration",
        ] {
            if let Some(value) = get(name) {
                details.insert(
                    name.to_string(),
                    json!(value.chars().take(200).collect::<String>()),
                );
            }
        }
        Self {
            call_sid: get("CallSid"),
            status: get("CallStatus"),
            answered_by: get("AnsweredBy"),
            details: Value::Object(details),
        }
    }
}

/// What a Twilio status means for a call now in `current` (`None`: nothing to change).
fn transition_for(
    status: &str,
    current: CallStatus,
    live: bool,
) -> Option<(CallStatus, Option<&'static str>)> {
    use CallStatus::*;
    let next = match (status, current) {
        (_, s) if s.is_terminal() => return None,
        ("ringing", Queued) => (Ringing, None),
        ("in-progress" | "answered", Queued | Ringing) => (InProgress, None),
        // A session here ends the call itself, once its last words are stored.
        ("completed", InProgress) if live => return None,
        ("completed", InProgress) => (Completed, Some("connection_lost")),
        ("completed", Queued | Ringing) => (Failed, Some("not_connected")),
        ("busy", Queued | Ringing) => (Busy, Some("busy")),
        ("no-answer", Queued | Ringing) => (NoAnswer, Some("no_answer")),
        ("canceled", Queued | Ringing) => (Canceled, Some("canceled")),
        ("failed", _) => (Failed, Some("twilio_failed")),
        _ => return None,
    };
    Some(next)
}

/// Applies what Twilio said about `call_id`: the timeline, the stored Twilio state, the call's state machine, and
/// the answering-machine verdict to the call's session. Returns the call's status afterwards.
pub async fn apply(
    tenant: &Tenant,
    live: &LiveCalls,
    call_id: &str,
    report: TwilioReport,
    now: i64,
) -> Result<CallStatus, TelephonyError> {
    let id = call_id.to_string();
    let recorded = report.clone();
    let current = tenant
        .commit(move |tx| {
            let call = repo::calls::get_call(tx, &id)?.ok_or(calls::CallError::NotFound)?;
            let twilio = repo::outbound::get_twilio_call(tx, &id)?;
            if twilio.as_ref().is_some_and(|t| t.call_sid.is_none())
                && let Some(sid) = &recorded.call_sid
            {
                // The answer to our request was lost (a crash); Twilio's callback says what it was.
                repo::outbound::set_call_sid(tx, &id, sid, now)?;
            }
            if twilio.is_some() {
                repo::outbound::set_twilio_status(
                    tx,
                    &id,
                    recorded.status.as_deref(),
                    recorded.answered_by.as_deref(),
                    now,
                )?;
            }
            let mut data = json!({ "callSid": recorded.call_sid });
            if let Some(status) = &recorded.status {
                data["status"] = json!(status);
            }
            if let Some(answered_by) = &recorded.answered_by {
                data["answeredBy"] = json!(answered_by);
            }
            if let Value::Object(details) = &recorded.details {
                for (k, v) in details {
                    data[k] = v.clone();
                }
            }
            let event = repo::calls::insert_event(tx, &id, "twilio_status", &data, now)?;
            Ok::<_, TelephonyError>(Change {
                value: call.status,
                events: vec![crate::events::TenantEvent::CallEvent(std::sync::Arc::new(
                    event,
                ))],
                deliveries: 0,
            })
        })
        .await?;
    if let Some(verdict) = report.answered_by.as_deref().and_then(AnsweredBy::parse) {
        live.signal(tenant.id, call_id, Signal::AnsweredBy(verdict));
    }
    let Some(status) = report.status.as_deref() else {
        return Ok(current);
    };
    let is_live = live.is_live(tenant.id, call_id);
    let Some((to, reason)) = transition_for(status, current, is_live) else {
        return Ok(current);
    };
    match calls::transition(tenant, call_id.to_string(), to, reason.map(String::from)).await {
        Ok(call) => Ok(call.status),
        // The session moved it meanwhile (e.g. the stream connected): its move stands.
        Err(e @ calls::CallError::InvalidTransition { .. }) => {
            tracing::info!(call_id, code = %e.code(), "Twilio status arrived after the call moved on");
            Ok(current)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CallStatus::*;

    #[test]
    fn twilio_statuses_map_onto_the_state_machine() {
        assert_eq!(
            transition_for("ringing", Queued, false),
            Some((Ringing, None))
        );
        assert_eq!(
            transition_for("in-progress", Ringing, false),
            Some((InProgress, None))
        );
        assert_eq!(
            transition_for("busy", Queued, false),
            Some((Busy, Some("busy")))
        );
        assert_eq!(
            transition_for("no-answer", Ringing, false),
            Some((NoAnswer, Some("no_answer")))
        );
        assert_eq!(
            transition_for("completed", InProgress, true),
            None,
            "the session ends it"
        );
        assert_eq!(
            transition_for("completed", InProgress, false),
            Some((Completed, Some("connection_lost")))
        );
        assert_eq!(
            transition_for("completed", Ringing, false),
            Some((Failed, Some("not_connected")))
        );
        assert_eq!(
            transition_for("busy", Completed, false),
            None,
            "final states stay"
        );
        assert_eq!(transition_for("initiated", Queued, false), None);
        for (from, to) in [
            (Queued, Ringing),
            (Ringing, InProgress),
            (Queued, Busy),
            (Ringing, NoAnswer),
            (InProgress, Completed),
            (Ringing, Failed),
            (Queued, Canceled),
        ] {
            assert!(from.can_become(to), "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn reports_read_the_callback_parameters() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1"),
            ("CallStatus", "no-answer"),
            ("SipResponseCode", "487"),
            ("AnsweredBy", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let report = TwilioReport::from_params(&params);
        assert_eq!(report.call_sid.as_deref(), Some("CA1"));
        assert_eq!(report.status.as_deref(), Some("no-answer"));
        assert_eq!(report.answered_by, None);
        assert_eq!(report.details["SipResponseCode"], "487");
    }
}

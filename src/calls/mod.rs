//! Calls: creation, the state machine, the timeline, transcripts, deletion.
//!
//! Every change is one transaction ([`Tenant::commit`]) that also appends to the call's timeline and writes
//! webhook deliveries; the resulting events are published on the tenant's bus after commit, in commit order.

mod deletion;
mod error;
mod json;
mod recovery;

pub use deletion::delete;
pub use error::CallError;
pub use json::call_json;
pub use recovery::Recovery;

use std::sync::Arc;

use serde_json::json;

use crate::agents::is_e164;
use crate::billing::Admission;
use crate::clock::now_ms;
use crate::db::TenantId;
use crate::error::{ErrorCode, FieldError, InvalidInput};
use crate::events::TenantEvent;
use crate::model::{CallStatus, Direction, Metric, NewUsage, Transport, Variables};
use crate::repo;
use crate::repo::calls::{CallEventRow, CallRow, NewSegment, SegmentRow};
use crate::tenants::{Change, Tenant};
use crate::webhooks::{self, WebhookEvent};

/// Most segments accepted in one call to [`add_segments`].
pub const MAX_SEGMENTS_PER_BATCH: usize = 500;

/// A call to create.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub agent_id: String,
    pub direction: Direction,
    pub transport: Transport,
    pub from: Option<String>,
    pub to: Option<String>,
    pub metadata: serde_json::Value,
    /// What the agent's `{{placeholders}}` are filled with (stored when any are given).
    pub variables: Variables,
}

fn validate_new_call(call: &NewCall) -> Result<(), InvalidInput> {
    let mut errors = Vec::new();
    for (field, value) in [("input.from", &call.from), ("input.to", &call.to)] {
        let Some(value) = value else { continue };
        let ok = match call.transport {
            Transport::Phone => is_e164(value),
            Transport::Web => {
                (1..=200).contains(&value.chars().count()) && !value.chars().any(char::is_control)
            }
        };
        if !ok {
            let message = match call.transport {
                Transport::Phone => "phone calls need E.164 numbers like +14155550123",
                Transport::Web => "1–200 printable characters",
            };
            errors.push(FieldError::new(field, ErrorCode::InvalidAddress, message));
        }
    }
    if !call.metadata.is_object() || call.metadata.to_string().len() > 16_384 {
        errors.push(FieldError::new(
            "input.metadata",
            ErrorCode::InvalidMetadata,
            "a JSON object of at most 16 KiB",
        ));
    }
    InvalidInput::check(errors)
}

/// Records a call in `queued`, pinned to the agent's active version (`createCall`: a call carried elsewhere,
/// which no quota refuses and which holds no concurrent-call slot).
pub async fn create(tenant: &Tenant, new: NewCall) -> Result<CallRow, CallError> {
    create_with(tenant, new, None).await
}

/// Creates a call voxedge carries (live, placed through Twilio) once `admission` allows one more, checked in
/// the same transaction, so concurrent starts never exceed a limit and a refused start creates nothing.
pub async fn create_admitted(
    tenant: &Tenant,
    new: NewCall,
    admission: Admission,
) -> Result<CallRow, CallError> {
    create_with(tenant, new, Some(admission)).await
}

async fn create_with(
    tenant: &Tenant,
    new: NewCall,
    admission: Option<Admission>,
) -> Result<CallRow, CallError> {
    validate_new_call(&new)?;
    let tenant_id = tenant.id;
    tenant
        .commit(move |tx| {
            let (call, events, deliveries) =
                insert(tx, tenant_id, new, admission.as_ref(), now_ms())?;
            Ok(Change {
                value: call,
                events,
                deliveries,
            })
        })
        .await
}

/// Creates a call inside the caller's transaction (a campaign attempt and its call are one change): the call,
/// the events to publish once committed, and the webhook deliveries queued. With an `admission`, the call is one
/// voxedge carries: refused unless the tenant's limits allow one more, and holding a concurrent-call slot.
pub fn insert(
    tx: &rusqlite::Transaction<'_>,
    tenant_id: TenantId,
    new: NewCall,
    admission: Option<&Admission>,
    now: i64,
) -> Result<(CallRow, Vec<TenantEvent>, usize), CallError> {
    validate_new_call(&new)?;
    let agent = repo::agents::get_agent(tx, &new.agent_id)?.ok_or(CallError::AgentNotFound)?;
    if agent.archived_at.is_some() {
        return Err(CallError::AgentArchived);
    }
    if let Some(admission) = admission {
        admission.check(tx)?;
    }
    let call = CallRow {
        id: crate::db::new_id(),
        agent_id: agent.id,
        agent_version: agent.active_version,
        direction: new.direction,
        transport: new.transport,
        from_address: new.from,
        to_address: new.to,
        status: CallStatus::Queued,
        ended_reason: None,
        created_at: now,
        answered_at: None,
        ended_at: None,
        duration_ms: None,
        updated_at: now,
        metadata: new.metadata,
    };
    repo::calls::insert_call(tx, &call)?;
    if admission.is_some() {
        repo::calls::mark_carried(tx, &call.id)?;
    }
    if !new.variables.is_empty() {
        repo::call_variables::insert(tx, &call.id, &new.variables)?;
    }
    let event = repo::calls::insert_event(
        tx,
        &call.id,
        "created",
        &json!({ "status": "queued", "agentVersion": call.agent_version }),
        now,
    )?;
    let deliveries = webhooks::enqueue(
        tx,
        tenant_id,
        WebhookEvent::CallCreated,
        json!({ "call": call_json(&call) }),
    )?;
    let events = vec![
        TenantEvent::Call(Arc::new(call.clone())),
        TenantEvent::CallEvent(Arc::new(event)),
    ];
    Ok((call, events, deliveries))
}

/// Moves a call to `to`, refusing transitions the state machine does not allow. `reason` becomes the
/// `endedReason` of a terminal state (default: the state's name). Entering a terminal state records the call's
/// duration as usage (`call_ms`) in the same transaction.
pub async fn transition(
    tenant: &Tenant,
    call_id: String,
    to: CallStatus,
    reason: Option<String>,
) -> Result<CallRow, CallError> {
    transition_at(tenant, call_id, to, reason, None).await
}

/// [`transition`], with the end of a call that ended before now (`ended_at`: when it was last heard of).
async fn transition_at(
    tenant: &Tenant,
    call_id: String,
    to: CallStatus,
    reason: Option<String>,
    ended_at: Option<i64>,
) -> Result<CallRow, CallError> {
    if let Some(reason) = &reason
        && !(1..=200).contains(&reason.chars().count())
    {
        return Err(InvalidInput::field("reason", ErrorCode::TooLong, "1–200 characters").into());
    }
    let tenant_id = tenant.id;
    if to.is_terminal() {
        // Before the commit that may queue an analysis, so a restart in between cannot forget it.
        tenant.analysis().queue(tenant_id).await?;
    }
    let call = tenant
        .commit(move |tx| {
            let mut call = repo::calls::get_call(tx, &call_id)?.ok_or(CallError::NotFound)?;
            let from = call.status;
            if !from.can_become(to) {
                return Err(CallError::InvalidTransition { from, to });
            }
            let now = now_ms();
            call.status = to;
            call.updated_at = now;
            if to == CallStatus::InProgress {
                call.answered_at = Some(now);
            }
            if to.is_terminal() {
                let ended = ended_at.unwrap_or(now).min(now);
                call.ended_at = Some(ended);
                call.ended_reason = Some(reason.clone().unwrap_or_else(|| to.as_str().to_string()));
                let duration = call
                    .answered_at
                    .map_or(0, |answered| (ended - answered).max(0));
                call.duration_ms = Some(duration);
                let usage = NewUsage::for_call(&call.id, "duration", Metric::CallMs, duration);
                repo::usage::record(tx, &usage, now)?;
                if call.answered_at.is_some() && analyses_calls(tx, &call)? {
                    repo::analysis::insert_pending(tx, &call.id, now)?;
                }
            }
            repo::calls::update_status(tx, &call)?;
            let event = repo::calls::insert_event(
                tx,
                &call.id,
                "status_changed",
                &json!({ "from": from.as_str(), "to": to.as_str(), "reason": reason }),
                now,
            )?;
            let mut deliveries = 0;
            if to == CallStatus::InProgress {
                deliveries += webhooks::enqueue(
                    tx,
                    tenant_id,
                    WebhookEvent::CallStarted,
                    json!({ "call": call_json(&call) }),
                )?;
            }
            if to.is_terminal() {
                deliveries += webhooks::enqueue(
                    tx,
                    tenant_id,
                    WebhookEvent::CallEnded,
                    json!({ "call": call_json(&call) }),
                )?;
                let segments = repo::calls::list_segments(tx, &call.id, 0, 10_000)?;
                let transcript: Vec<_> = segments
                    .iter()
                    .filter(|s| s.is_final)
                    .map(json::segment_json)
                    .collect();
                deliveries += webhooks::enqueue(
                    tx,
                    tenant_id,
                    WebhookEvent::TranscriptReady,
                    json!({ "call": call_json(&call), "transcript": transcript }),
                )?;
            }
            let call = Arc::new(call);
            Ok(Change {
                value: (*call).clone(),
                events: vec![
                    TenantEvent::Call(call),
                    TenantEvent::CallEvent(Arc::new(event)),
                ],
                deliveries,
            })
        })
        .await?;
    if to.is_terminal() {
        tenant.analysis().wake();
    }
    Ok(call)
}

/// Whether the agent version a call ran analyses its calls.
fn analyses_calls(tx: &rusqlite::Transaction<'_>, call: &CallRow) -> Result<bool, CallError> {
    let version = repo::agents::get_version(tx, &call.agent_id, call.agent_version)?;
    Ok(version.is_some_and(|v| v.config.analysis.enabled))
}

/// Appends an event (speech started, tool called, ...) to a call's timeline.
pub async fn record_event(
    tenant: &Tenant,
    call_id: String,
    kind: &'static str,
    data: serde_json::Value,
) -> Result<CallEventRow, CallError> {
    tenant
        .commit(move |tx| {
            repo::calls::get_call(tx, &call_id)?.ok_or(CallError::NotFound)?;
            let event = repo::calls::insert_event(tx, &call_id, kind, &data, now_ms())?;
            let shared = Arc::new(event.clone());
            Ok(Change {
                value: event,
                events: vec![TenantEvent::CallEvent(shared)],
                deliveries: 0,
            })
        })
        .await
}

fn validate_segments(segments: &[NewSegment]) -> Result<(), InvalidInput> {
    if segments.len() > MAX_SEGMENTS_PER_BATCH {
        return Err(InvalidInput::field(
            "segments",
            ErrorCode::TooMany,
            format!("at most {MAX_SEGMENTS_PER_BATCH} segments per request"),
        ));
    }
    let mut errors = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        let mut fail = |field: &str, code: ErrorCode, message: &str| {
            errors.push(FieldError::new(
                format!("segments[{i}].{field}"),
                code,
                message,
            ))
        };
        if s.seq < 1 {
            fail("seq", ErrorCode::OutOfRange, "must be 1 or more");
        }
        if s.text.chars().count() > 10_000 {
            fail("text", ErrorCode::TooLong, "at most 10000 characters");
        }
        if s.start_ms < 0 || s.end_ms < s.start_ms {
            fail("endMs", ErrorCode::OutOfRange, "0 ≤ startMs ≤ endMs");
        }
        if s.confidence.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
            fail(
                "confidence",
                ErrorCode::OutOfRange,
                "must be between 0 and 1",
            );
        }
    }
    InvalidInput::check(errors)
}

/// Stores transcript segments of a call (a segment with an existing seq replaces it) and the usage they
/// measure (e.g. the audio transcribed), in one transaction.
pub async fn add_segments(
    tenant: &Tenant,
    call_id: String,
    segments: Vec<NewSegment>,
    usage: Vec<NewUsage>,
) -> Result<Vec<SegmentRow>, CallError> {
    validate_segments(&segments)?;
    tenant
        .commit(move |tx| {
            repo::calls::get_call(tx, &call_id)?.ok_or(CallError::NotFound)?;
            let now = now_ms();
            let stored = segments
                .iter()
                .map(|segment| repo::calls::upsert_segment(tx, &call_id, segment, now))
                .collect::<Result<Vec<_>, _>>()?;
            for usage in &usage {
                repo::usage::record(tx, usage, now)?;
            }
            let events = stored
                .iter()
                .map(|s| TenantEvent::Segment(Arc::new(s.clone())))
                .collect();
            Ok(Change {
                value: stored,
                events,
                deliveries: 0,
            })
        })
        .await
}

/// The words of free text as quoted FTS5 terms. User input never reaches FTS5's query syntax, so no
/// input can make a search fail or behave unexpectedly.
pub fn fts_terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .take(32)
        .map(|w| format!("\"{}\"", w.replace('"', "")))
        .collect()
}

/// An FTS5 query matching segments that contain every word of `text` (any order).
pub fn fts_query(text: &str) -> Option<String> {
    let terms = fts_terms(text);
    (!terms.is_empty()).then(|| terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fts_queries_quote_every_word() {
        assert_eq!(fts_terms("it's fine"), ["\"it's\"", "\"fine\""]);
        assert_eq!(fts_query("ask not").as_deref(), Some("\"ask\" \"not\""));
        assert_eq!(
            fts_query("  OR AND NEAR( * \" ").as_deref(),
            Some("\"OR\" \"AND\" \"NEAR\"")
        );
        assert_eq!(fts_query("!!!"), None);
    }
}

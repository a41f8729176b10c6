//! The JSON shapes of calls and segments in webhook payloads and exports (camelCase, like GraphQL).

use serde_json::{Value, json};

use crate::clock::datetime;
use crate::repo::calls::{CallRow, SegmentRow};

pub fn call_json(call: &CallRow) -> Value {
    json!({
        "id": call.id,
        "agentId": call.agent_id,
        "agentVersion": call.agent_version,
        "direction": call.direction.as_str(),
        "transport": call.transport.as_str(),
        "from": call.from_address,
        "to": call.to_address,
        "status": call.status.as_str(),
        "endedReason": call.ended_reason,
        "createdAt": datetime(call.created_at),
        "answeredAt": call.answered_at.map(datetime),
        "endedAt": call.ended_at.map(datetime),
        "durationMs": call.duration_ms,
        "metadata": call.metadata,
    })
}

pub fn segment_json(segment: &SegmentRow) -> Value {
    json!({
        "seq": segment.seq,
        "speaker": segment.speaker.as_str(),
        "text": segment.text,
        "startMs": segment.start_ms,
        "endMs": segment.end_ms,
        "confidence": segment.confidence,
    })
}

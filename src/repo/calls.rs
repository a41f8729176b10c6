//! Tenant database → `calls`, `call_events`, `transcript_segments`, `transcript_fts`.
//!
//! A call's `from`/`to` are sealed in the file ([`crate::pii`]): written through
//! `pii_seal`, read through `pii_open`, matched by number through their blind indexes.

use super::Result;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, named_params, params_from_iter};

use crate::model::analysis::Sentiment;
use crate::model::{CallStatus, Direction, Speaker, Transport};

#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    pub id: String,
    pub agent_id: String,
    pub agent_version: i64,
    pub direction: Direction,
    pub transport: Transport,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub status: CallStatus,
    pub ended_reason: Option<String>,
    pub created_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub updated_at: i64,
    pub metadata: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallEventRow {
    pub id: i64,
    pub call_id: String,
    pub seq: i64,
    pub kind: String,
    pub data: serde_json::Value,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRow {
    pub id: i64,
    pub call_id: String,
    pub seq: i64,
    pub speaker: Speaker,
    pub text: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub confidence: Option<f64>,
    pub is_final: bool,
    pub created_at: i64,
}

/// A segment to store. Re-sending the same `(call, seq)` replaces the earlier one.
#[derive(Debug, Clone)]
pub struct NewSegment {
    pub seq: i64,
    pub speaker: Speaker,
    pub text: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub confidence: Option<f64>,
    pub is_final: bool,
}

/// Which calls to list.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub statuses: Vec<CallStatus>,
    pub agent_id: Option<String>,
    pub direction: Option<Direction>,
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    /// FTS5 terms that must each occur somewhere in the call's transcript.
    pub transcript_terms: Vec<String>,
    /// The post-call analysis judged the call a success (or not).
    pub success: Option<bool>,
    pub sentiment: Option<Sentiment>,
    /// Lower-case words that must each occur in the analysis summary.
    pub summary_terms: Vec<String>,
    /// An E.164 number the call was from or to (matched through the blind indexes).
    pub number: Option<String>,
}

const CALL_COLUMNS: &str = "id, agent_id, agent_version, direction, transport, pii_open(from_sealed, 'calls.from'), \
     pii_open(to_sealed, 'calls.to'), status, ended_reason, created_at, answered_at, ended_at, duration_ms, updated_at, \
     metadata";
const SEGMENT_COLUMNS: &str =
    "id, call_id, seq, speaker, text, start_ms, end_ms, confidence, is_final, created_at";

fn bad_text(index: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        rusqlite::types::Type::Text,
        format!("unknown {what}").into(),
    )
}

fn call_from_row(row: &Row<'_>) -> rusqlite::Result<CallRow> {
    Ok(CallRow {
        id: row.get(0)?,
        agent_id: row.get(1)?,
        agent_version: row.get(2)?,
        direction: Direction::parse(&row.get::<_, String>(3)?)
            .ok_or_else(|| bad_text(3, "direction"))?,
        transport: Transport::parse(&row.get::<_, String>(4)?)
            .ok_or_else(|| bad_text(4, "transport"))?,
        from_address: row.get(5)?,
        to_address: row.get(6)?,
        status: CallStatus::parse(&row.get::<_, String>(7)?)
            .ok_or_else(|| bad_text(7, "status"))?,
        ended_reason: row.get(8)?,
        created_at: row.get(9)?,
        answered_at: row.get(10)?,
        ended_at: row.get(11)?,
        duration_ms: row.get(12)?,
        updated_at: row.get(13)?,
        metadata: super::json_column(row, 14)?,
    })
}

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<CallEventRow> {
    Ok(CallEventRow {
        id: row.get(0)?,
        call_id: row.get(1)?,
        seq: row.get(2)?,
        kind: row.get(3)?,
        data: super::json_column(row, 4)?,
        at: row.get(5)?,
    })
}

fn segment_from_row(row: &Row<'_>) -> rusqlite::Result<SegmentRow> {
    Ok(SegmentRow {
        id: row.get(0)?,
        call_id: row.get(1)?,
        seq: row.get(2)?,
        speaker: Speaker::parse(&row.get::<_, String>(3)?).ok_or_else(|| bad_text(3, "speaker"))?,
        text: row.get(4)?,
        start_ms: row.get(5)?,
        end_ms: row.get(6)?,
        confidence: row.get(7)?,
        is_final: row.get(8)?,
        created_at: row.get(9)?,
    })
}

/// Marks a call as carried by voxedge itself (it holds a concurrent-call slot until it ends).
pub fn mark_carried(conn: &Connection, call_id: &str) -> Result<()> {
    conn.execute(
        "update calls set carried = 1 where id = :id",
        named_params! { ":id": call_id },
    )?;
    Ok(())
}

/// Calls voxedge carries that are queued, ringing or in progress (the concurrent-call count).
pub fn count_carried_open(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "select count(*) from calls
             where carried = 1 and status in ('queued', 'ringing', 'in_progress')",
        )?
        .query_row([], |row| row.get(0))?)
}

/// Calls voxedge carried that a process which is gone left open: in progress, or created for a live call
/// and not yet started (calls placed through Twilio and still queued or ringing are Twilio's to settle), with
/// when each was last heard of (its latest timeline event, transcript segment or status change).
pub fn orphaned_calls(conn: &Connection) -> Result<Vec<(String, i64)>> {
    Ok(conn
        .prepare_cached(
            "select c.id, max(c.updated_at,
                    coalesce((select max(at) from call_events e where e.call_id = c.id), 0),
                    coalesce((select max(created_at) from transcript_segments s where s.call_id = c.id), 0))
             from calls c
             where c.carried = 1
               and (c.status = 'in_progress'
                    or (c.status = 'queued' and not exists (select 1 from twilio_calls t where t.call_id = c.id)))",
        )?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn insert_call(conn: &Connection, call: &CallRow) -> Result<()> {
    conn.prepare_cached(
        "insert into calls (id, agent_id, agent_version, direction, transport, from_sealed, from_index, to_sealed,
            to_index, status, ended_reason, created_at, answered_at, ended_at, duration_ms, updated_at, metadata)
         values (:id, :agent_id, :agent_version, :direction, :transport, pii_seal(:from_address, 'calls.from'),
            pii_index(:from_address), pii_seal(:to_address, 'calls.to'), pii_index(:to_address), :status,
            :ended_reason, :created_at, :answered_at, :ended_at, :duration_ms, :updated_at, :metadata)",
    )?
    .execute(named_params! {
        ":id": call.id, ":agent_id": call.agent_id, ":agent_version": call.agent_version,
        ":direction": call.direction.as_str(), ":transport": call.transport.as_str(),
        ":from_address": call.from_address, ":to_address": call.to_address, ":status": call.status.as_str(),
        ":ended_reason": call.ended_reason, ":created_at": call.created_at, ":answered_at": call.answered_at,
        ":ended_at": call.ended_at, ":duration_ms": call.duration_ms, ":updated_at": call.updated_at,
        ":metadata": call.metadata.to_string(),
    })?;
    Ok(())
}

pub fn get_call(conn: &Connection, id: &str) -> Result<Option<CallRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {CALL_COLUMNS} from calls where id = :id and deleted_at is null"
        ))?
        .query_row(named_params! { ":id": id }, call_from_row)
        .optional()?)
}

pub fn get_calls(conn: &Connection, ids: &[String]) -> Result<Vec<CallRow>> {
    let ids = serde_json::to_string(ids).expect("invariant: strings serialise");
    Ok(conn
        .prepare_cached(&format!(
            "select {CALL_COLUMNS} from calls where id in (select value from json_each(:ids)) and deleted_at is null"
        ))?
        .query_map(named_params! { ":ids": ids }, call_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Writes a call's status fields (the caller has checked the transition).
pub fn update_status(conn: &Connection, call: &CallRow) -> Result<()> {
    conn.prepare_cached(
        "update calls set status = :status, ended_reason = :ended_reason, answered_at = :answered_at,
            ended_at = :ended_at, duration_ms = :duration_ms, updated_at = :updated_at
         where id = :id",
    )?
    .execute(named_params! {
        ":id": call.id, ":status": call.status.as_str(), ":ended_reason": call.ended_reason,
        ":answered_at": call.answered_at, ":ended_at": call.ended_at, ":duration_ms": call.duration_ms,
        ":updated_at": call.updated_at,
    })?;
    Ok(())
}

/// Appends an event to a call's timeline with the next sequence number.
pub fn insert_event(
    conn: &Connection,
    call_id: &str,
    kind: &str,
    data: &serde_json::Value,
    at: i64,
) -> Result<CallEventRow> {
    Ok(conn.prepare_cached(
        "insert into call_events (call_id, seq, type, data, at)
         values (:call_id, (select coalesce(max(seq), 0) + 1 from call_events where call_id = :call_id), :type, :data, :at)
         returning id, call_id, seq, type, data, at",
    )?
    .query_row(
        named_params! { ":call_id": call_id, ":type": kind, ":data": data.to_string(), ":at": at },
        event_from_row,
    )?)
}

pub fn list_events(
    conn: &Connection,
    call_id: &str,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<CallEventRow>> {
    Ok(conn
        .prepare_cached(
            "select id, call_id, seq, type, data, at from call_events
         where call_id = :call_id and seq > :after order by seq limit :limit",
        )?
        .query_map(
            named_params! { ":call_id": call_id, ":after": after_seq, ":limit": limit as i64 },
            event_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// Inserts or replaces (same call and seq) a transcript segment.
pub fn upsert_segment(
    conn: &Connection,
    call_id: &str,
    segment: &NewSegment,
    now: i64,
) -> Result<SegmentRow> {
    Ok(conn.prepare_cached(&format!(
        "insert into transcript_segments (call_id, seq, speaker, text, start_ms, end_ms, confidence, is_final, created_at)
         values (:call_id, :seq, :speaker, :text, :start_ms, :end_ms, :confidence, :is_final, :now)
         on conflict (call_id, seq) do update set speaker = excluded.speaker, text = excluded.text,
            start_ms = excluded.start_ms, end_ms = excluded.end_ms, confidence = excluded.confidence,
            is_final = excluded.is_final
         returning {SEGMENT_COLUMNS}"
    ))?
    .query_row(
        named_params! {
            ":call_id": call_id, ":seq": segment.seq, ":speaker": segment.speaker.as_str(), ":text": segment.text,
            ":start_ms": segment.start_ms, ":end_ms": segment.end_ms, ":confidence": segment.confidence,
            ":is_final": segment.is_final, ":now": now,
        },
        segment_from_row,
    )?)
}

pub fn list_segments(
    conn: &Connection,
    call_id: &str,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<SegmentRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {SEGMENT_COLUMNS} from transcript_segments
         where call_id = :call_id and seq > :after order by seq limit :limit"
        ))?
        .query_map(
            named_params! { ":call_id": call_id, ":after": after_seq, ":limit": limit as i64 },
            segment_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// The highest segment seq of a call (0 if none).
pub fn last_segment_seq(conn: &Connection, call_id: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "select coalesce(max(seq), 0) from transcript_segments where call_id = :call_id",
        )?
        .query_row(named_params! { ":call_id": call_id }, |row| row.get(0))?)
}

/// A page of calls matching `filter`, newest first, after the `(created_at, id)` cursor. The SQL is
/// assembled from fixed fragments so each filter combination can use its index; values are always bound.
pub fn list_calls(
    conn: &Connection,
    filter: &CallFilter,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<CallRow>> {
    let mut sql = format!(
        "select {CALL_COLUMNS} from calls where (created_at, id) < (?, ?) and deleted_at is null"
    );
    let (at, id) = after.unwrap_or((i64::MAX, String::new()));
    let mut params: Vec<SqlValue> = vec![at.into(), id.into()];
    if !filter.statuses.is_empty() {
        sql.push_str(&format!(
            " and status in ({})",
            vec!["?"; filter.statuses.len()].join(", ")
        ));
        params.extend(
            filter
                .statuses
                .iter()
                .map(|s| SqlValue::from(s.as_str().to_string())),
        );
    }
    if let Some(agent_id) = &filter.agent_id {
        sql.push_str(" and agent_id = ?");
        params.push(agent_id.clone().into());
    }
    if let Some(direction) = filter.direction {
        sql.push_str(" and direction = ?");
        params.push(direction.as_str().to_string().into());
    }
    if let Some(number) = &filter.number {
        // Two indexed lookups (calls_by_from, calls_by_to) rather than a scan.
        sql.push_str(" and (from_index = pii_index(?) or to_index = pii_index(?))");
        params.push(number.clone().into());
        params.push(number.clone().into());
    }
    if let Some(after) = filter.created_after {
        sql.push_str(" and created_at >= ?");
        params.push(after.into());
    }
    if let Some(before) = filter.created_before {
        sql.push_str(" and created_at < ?");
        params.push(before.into());
    }
    for term in &filter.transcript_terms {
        sql.push_str(
            " and id in (select s.call_id from transcript_fts f join transcript_segments s on s.id = f.rowid \
             where transcript_fts match ?)",
        );
        params.push(term.clone().into());
    }
    if let Some(success) = filter.success {
        sql.push_str(
            " and id in (select call_id from call_analyses where status = 'done' and success = ?)",
        );
        params.push(i64::from(success).into());
    }
    if let Some(sentiment) = filter.sentiment {
        sql.push_str(" and id in (select call_id from call_analyses where status = 'done' and sentiment = ?)");
        params.push(sentiment.as_str().to_string().into());
    }
    for word in &filter.summary_terms {
        sql.push_str(
            " and id in (select call_id from call_analyses where instr(lower(summary), ?) > 0)",
        );
        params.push(word.clone().into());
    }
    sql.push_str(" order by created_at desc, id desc limit ?");
    params.push((limit as i64).into());
    Ok(conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(params), call_from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Calls not yet in a terminal state, newest first.
pub fn active_calls(conn: &Connection, limit: usize) -> Result<Vec<CallRow>> {
    Ok(conn.prepare_cached(&format!(
        "select {CALL_COLUMNS} from calls indexed by calls_by_status
         where status in ('queued', 'ringing', 'in_progress') order by created_at desc, id desc limit :limit"
    ))?
    .query_map(named_params! { ":limit": limit as i64 }, call_from_row)?
    .collect::<rusqlite::Result<_>>()?)
}

/// One transcript search hit.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub segment: SegmentRow,
    pub snippet: String,
    /// bm25 score: lower is more relevant.
    pub rank: f64,
}

/// How search results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOrder {
    /// Best bm25 score first. Every match is scored, so the cost grows with the number of matches.
    Relevance,
    /// Most recently stored first. FTS5 walks its index backwards and stops at the page, so the cost
    /// stays flat however many segments match.
    Newest,
}

/// Final segments matching an FTS5 query.
pub fn search_segments(
    conn: &Connection,
    fts_query: &str,
    highlight: (&str, &str),
    order: SearchOrder,
    offset: usize,
    limit: usize,
) -> Result<Vec<SearchHit>> {
    let order_by = match order {
        SearchOrder::Relevance => "transcript_fts.rank, transcript_fts.rowid desc",
        SearchOrder::Newest => "transcript_fts.rowid desc",
    };
    Ok(conn.prepare_cached(&format!(
        "select s.id, s.call_id, s.seq, s.speaker, s.text, s.start_ms, s.end_ms, s.confidence, s.is_final, s.created_at,
                snippet(transcript_fts, 0, :start, :end, '…', 16), transcript_fts.rank
         from transcript_fts join transcript_segments s on s.id = transcript_fts.rowid
         where transcript_fts match :query
         order by {order_by} limit :limit offset :offset"
    ))?
    .query_map(
        named_params! {
            ":query": fts_query, ":start": highlight.0, ":end": highlight.1,
            ":limit": limit as i64, ":offset": offset as i64,
        },
        |row| Ok(SearchHit { segment: segment_from_row(row)?, snippet: row.get(10)?, rank: row.get(11)? }),
    )?
    .collect::<rusqlite::Result<_>>()?)
}

/// Calls queued, ringing or in progress.
pub fn count_active(conn: &Connection) -> Result<usize> {
    let n: i64 = conn
        .prepare_cached(
            "select count(*) from calls indexed by calls_by_status
             where status in ('queued', 'ringing', 'in_progress')",
        )?
        .query_row([], |row| row.get(0))?;
    Ok(n as usize)
}

//! Post-call analyses (tenant `call_analyses`, one row per analysed call, also the job's state) and the
//! `region.db`'s `analysis_queue` (which tenants have analyses to run).

use rusqlite::{Connection, OptionalExtension, Row, named_params};

use super::Result;
use crate::db::TenantId;
use crate::model::analysis::{AnalysisStatus, Sentiment};

/// A call's analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisRow {
    pub call_id: String,
    pub status: AnalysisStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub summary: Option<String>,
    pub success: Option<bool>,
    pub success_reason: Option<String>,
    pub sentiment: Option<Sentiment>,
    pub extraction: Option<serde_json::Value>,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
}

const COLUMNS: &str = "call_id, status, attempts, next_attempt_at, summary, success, success_reason, sentiment, \
     extraction, error_code, error, created_at, updated_at, completed_at";

fn bad_text(index: usize) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        rusqlite::types::Type::Text,
        "unknown value".into(),
    )
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<AnalysisRow> {
    let extraction: Option<String> = row.get(8)?;
    Ok(AnalysisRow {
        call_id: row.get(0)?,
        status: AnalysisStatus::parse(&row.get::<_, String>(1)?).ok_or_else(|| bad_text(1))?,
        attempts: row.get(2)?,
        next_attempt_at: row.get(3)?,
        summary: row.get(4)?,
        success: row.get(5)?,
        success_reason: row.get(6)?,
        sentiment: match row.get::<_, Option<String>>(7)? {
            Some(s) => Some(Sentiment::parse(&s).ok_or_else(|| bad_text(7))?),
            None => None,
        },
        extraction: match extraction {
            Some(_) => Some(super::json_column(row, 8)?),
            None => None,
        },
        error_code: row.get(9)?,
        error: row.get(10)?,
        created_at: row.get(11)?,
        updated_at: row.get(12)?,
        completed_at: row.get(13)?,
    })
}

/// Queues the analysis of `call_id` (nothing when it is already there: ending a call twice analyses it once).
pub fn insert_pending(conn: &Connection, call_id: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "insert into call_analyses (call_id, status, next_attempt_at, created_at, updated_at)
         values (:call_id, 'pending', :now, :now, :now) on conflict (call_id) do nothing",
    )?
    .execute(named_params! { ":call_id": call_id, ":now": now })?;
    Ok(())
}

pub fn get(conn: &Connection, call_id: &str) -> Result<Option<AnalysisRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {COLUMNS} from call_analyses where call_id = :call_id"
        ))?
        .query_row(named_params! { ":call_id": call_id }, from_row)
        .optional()?)
}

/// Analyses of these calls (any order), for batching.
pub fn get_many(conn: &Connection, call_ids: &[String]) -> Result<Vec<AnalysisRow>> {
    let ids = serde_json::to_string(call_ids).unwrap_or_else(|_| "[]".into());
    Ok(conn
        .prepare_cached(&format!(
            "select {COLUMNS} from call_analyses where call_id in (select value from json_each(:ids))"
        ))?
        .query_map(named_params! { ":ids": ids }, from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Pending analyses due by `now`, oldest due first.
pub fn due(conn: &Connection, now: i64, limit: usize) -> Result<Vec<AnalysisRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {COLUMNS} from call_analyses indexed by call_analyses_due
             where status = 'pending' and next_attempt_at <= :now order by next_attempt_at limit :limit"
        ))?
        .query_map(named_params! { ":now": now, ":limit": limit as i64 }, from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// When the next pending analysis is due, if any is.
pub fn earliest_pending(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "select min(next_attempt_at) from call_analyses indexed by call_analyses_due where status = 'pending'",
        )?
        .query_row([], |row| row.get(0))?)
}

/// Writes an analysis's new state. Only a pending row changes, so a finished analysis is never overwritten.
/// Returns false when the row was no longer pending.
pub fn update(conn: &Connection, row: &AnalysisRow) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "update call_analyses set status = :status, attempts = :attempts, next_attempt_at = :next,
                 summary = :summary, success = :success, success_reason = :reason, sentiment = :sentiment,
                 extraction = :extraction, error_code = :error_code, error = :error, updated_at = :updated_at,
                 completed_at = :completed_at
             where call_id = :call_id and status = 'pending'",
        )?
        .execute(named_params! {
            ":call_id": row.call_id,
            ":status": row.status.as_str(),
            ":attempts": row.attempts,
            ":next": row.next_attempt_at,
            ":summary": row.summary,
            ":success": row.success,
            ":reason": row.success_reason,
            ":sentiment": row.sentiment.map(Sentiment::as_str),
            ":extraction": row.extraction.as_ref().map(serde_json::Value::to_string),
            ":error_code": row.error_code,
            ":error": row.error,
            ":updated_at": row.updated_at,
            ":completed_at": row.completed_at,
        })?;
    Ok(changed == 1)
}

/// `region.db`: marks a tenant as having analyses due at `due_at` (keeps the earlier time if queued).
pub fn queue_tenant(conn: &Connection, tenant: TenantId, due_at: i64) -> Result<()> {
    conn.prepare_cached(
        "insert into analysis_queue (tenant_id, due_at) values (:tenant_id, :due_at)
         on conflict (tenant_id) do update set due_at = min(due_at, excluded.due_at), version = version + 1",
    )?
    .execute(named_params! { ":tenant_id": tenant.to_string(), ":due_at": due_at })?;
    Ok(())
}

/// `region.db`: tenants with analyses due by `now`, with the queue row's version.
pub fn due_tenants(conn: &Connection, now: i64, limit: usize) -> Result<Vec<(String, i64)>> {
    Ok(conn
        .prepare_cached(
            "select tenant_id, version from analysis_queue where due_at <= :now order by due_at limit :limit",
        )?
        .query_map(named_params! { ":now": now, ":limit": limit as i64 }, |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// `region.db`: after a tenant's turn, sets its next due time, or removes it when nothing is pending — unless it
/// was re-queued meanwhile (`version` changed), in which case the newer entry stands.
pub fn settle_tenant(
    conn: &Connection,
    tenant: &str,
    seen_version: i64,
    next_due: Option<i64>,
) -> Result<()> {
    match next_due {
        Some(due_at) => conn.execute(
            "update analysis_queue set due_at = :due_at where tenant_id = :tenant_id and version = :version",
            named_params! { ":tenant_id": tenant, ":due_at": due_at, ":version": seen_version },
        )?,
        None => conn.execute(
            "delete from analysis_queue where tenant_id = :tenant_id and version = :version",
            named_params! { ":tenant_id": tenant, ":version": seen_version },
        )?,
    };
    Ok(())
}

//! Tenant database → `twilio_calls` (outbound calls placed through Twilio); `region.db` → `outbound_queue` (tenants
//! the outbound scheduler looks after).

use rusqlite::{Connection, OptionalExtension, Row, named_params};

use super::Result;
use super::calls::CallRow;
use crate::db::TenantId;

/// An outbound call as Twilio knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TwilioCallRow {
    pub call_id: String,
    /// Null while the request to Twilio is in flight (or was lost in a crash).
    pub call_sid: Option<String>,
    pub requested_at: i64,
    /// Twilio's last `CallStatus`.
    pub status: Option<String>,
    pub answered_by: Option<String>,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "t.call_id, t.call_sid, t.requested_at, t.status, t.answered_by, t.updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<TwilioCallRow> {
    Ok(TwilioCallRow {
        call_id: row.get(0)?,
        call_sid: row.get(1)?,
        requested_at: row.get(2)?,
        status: row.get(3)?,
        answered_by: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

/// Notes that Twilio is about to be asked to place `call_id`.
pub fn insert_twilio_call(conn: &Connection, call_id: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "insert into twilio_calls (call_id, requested_at, updated_at) values (:call_id, :now, :now)",
    )?
    .execute(named_params! { ":call_id": call_id, ":now": now })?;
    Ok(())
}

/// Twilio placed the call as `call_sid`.
pub fn set_call_sid(conn: &Connection, call_id: &str, call_sid: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "update twilio_calls set call_sid = :sid, updated_at = :now where call_id = :call_id",
    )?
    .execute(named_params! { ":call_id": call_id, ":sid": call_sid, ":now": now })?;
    Ok(())
}

/// What Twilio last said about the call (a null keeps the stored value).
pub fn set_twilio_status(
    conn: &Connection,
    call_id: &str,
    status: Option<&str>,
    answered_by: Option<&str>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "update twilio_calls set status = coalesce(:status, status),
            answered_by = coalesce(:answered_by, answered_by), updated_at = :now
         where call_id = :call_id",
    )?
    .execute(named_params! {
        ":call_id": call_id, ":status": status, ":answered_by": answered_by, ":now": now,
    })?;
    Ok(())
}

pub fn get_twilio_call(conn: &Connection, call_id: &str) -> Result<Option<TwilioCallRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {COLUMNS} from twilio_calls t where t.call_id = :call_id"
        ))?
        .query_row(named_params! { ":call_id": call_id }, from_row)
        .optional()?)
}

/// Whether some call of ours has this Twilio SID.
pub fn sid_known(conn: &Connection, call_sid: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("select 1 from twilio_calls where call_sid = :sid")?
        .exists(named_params! { ":sid": call_sid })?)
}

/// Outbound calls that have not ended yet, oldest request first, with their call records.
pub fn unended_twilio_calls(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<(TwilioCallRow, CallRow)>> {
    let sql = format!(
        "select {COLUMNS}, c.id from twilio_calls t join calls c on c.id = t.call_id
         where c.status in ('queued', 'ringing', 'in_progress')
         order by t.requested_at limit :limit"
    );
    let rows: Vec<(TwilioCallRow, String)> = conn
        .prepare_cached(&sql)?
        .query_map(named_params! { ":limit": limit as i64 }, |row| {
            Ok((from_row(row)?, row.get(6)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let ids: Vec<String> = rows.iter().map(|(_, id)| id.clone()).collect();
    let calls = super::calls::get_calls(conn, &ids)?;
    Ok(rows
        .into_iter()
        .filter_map(|(twilio, id)| {
            let call = calls.iter().find(|c| c.id == id)?.clone();
            Some((twilio, call))
        })
        .collect())
}

/// `region.db`: marks a tenant as having outbound work due at `due_at` (keeps the earlier time if queued).
pub fn queue_tenant(conn: &Connection, tenant: TenantId, due_at: i64) -> Result<()> {
    conn.prepare_cached(
        "insert into outbound_queue (tenant_id, due_at) values (:tenant_id, :due_at)
         on conflict (tenant_id) do update set due_at = min(due_at, excluded.due_at), version = version + 1",
    )?
    .execute(named_params! { ":tenant_id": tenant.to_string(), ":due_at": due_at })?;
    Ok(())
}

/// `region.db`: tenants with outbound work due by `now`, with the queue row's version.
pub fn due_tenants(conn: &Connection, now: i64, limit: usize) -> Result<Vec<(String, i64)>> {
    Ok(conn
        .prepare_cached(
            "select tenant_id, version from outbound_queue where due_at <= :now order by due_at limit :limit",
        )?
        .query_map(named_params! { ":now": now, ":limit": limit as i64 }, |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// `region.db`: after a tenant's turn, sets its next due time, or removes it when it has no outbound work left —
/// unless it was re-queued meanwhile (`version` changed), in which case the newer entry stands.
pub fn settle_tenant(
    conn: &Connection,
    tenant: &str,
    seen_version: i64,
    next_due: Option<i64>,
) -> Result<()> {
    match next_due {
        Some(due_at) => conn.execute(
            "update outbound_queue set due_at = :due_at where tenant_id = :tenant_id and version = :version",
            named_params! { ":tenant_id": tenant, ":due_at": due_at, ":version": seen_version },
        )?,
        None => conn.execute(
            "delete from outbound_queue where tenant_id = :tenant_id and version = :version",
            named_params! { ":tenant_id": tenant, ":version": seen_version },
        )?,
    };
    Ok(())
}

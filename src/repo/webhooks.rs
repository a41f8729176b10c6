//! Tenant database → `webhook_endpoints`, `webhook_deliveries`; `region.db` → `webhook_queue`.

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

use crate::db::TenantId;

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub secret: String,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub id: String,
    pub endpoint_id: String,
    pub event_type: String,
    pub payload: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

const ENDPOINT_COLUMNS: &str =
    "id, url, description, events, secret, enabled, created_at, updated_at";
/// Payloads carry calls' numbers and transcripts: sealed in the file ([`crate::pii`]).
const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_type, pii_open(payload, 'webhook_deliveries.payload'), status, \
     attempts, next_attempt_at, last_status_code, last_error, created_at, delivered_at";

fn endpoint_from_row(row: &Row<'_>) -> rusqlite::Result<EndpointRow> {
    Ok(EndpointRow {
        id: row.get(0)?,
        url: row.get(1)?,
        description: row.get(2)?,
        events: super::json_column(row, 3)?,
        secret: row.get(4)?,
        enabled: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
    })
}

fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<DeliveryRow> {
    Ok(DeliveryRow {
        id: row.get(0)?,
        endpoint_id: row.get(1)?,
        event_type: row.get(2)?,
        payload: row.get(3)?,
        status: row.get(4)?,
        attempts: row.get(5)?,
        next_attempt_at: row.get(6)?,
        last_status_code: row.get(7)?,
        last_error: row.get(8)?,
        created_at: row.get(9)?,
        delivered_at: row.get(10)?,
    })
}

pub fn insert_endpoint(conn: &Connection, e: &EndpointRow) -> Result<()> {
    conn.execute(
        "insert into webhook_endpoints (id, url, description, events, secret, enabled, created_at, updated_at)
         values (:id, :url, :description, :events, :secret, :enabled, :created_at, :updated_at)",
        named_params! {
            ":id": e.id, ":url": e.url, ":description": e.description,
            ":events": serde_json::to_string(&e.events).expect("invariant: strings serialise"),
            ":secret": e.secret, ":enabled": e.enabled, ":created_at": e.created_at, ":updated_at": e.updated_at,
        },
    )?;
    Ok(())
}

pub fn update_endpoint(conn: &Connection, e: &EndpointRow) -> Result<()> {
    conn.execute(
        "update webhook_endpoints set url = :url, description = :description, events = :events, secret = :secret,
            enabled = :enabled, updated_at = :updated_at where id = :id",
        named_params! {
            ":id": e.id, ":url": e.url, ":description": e.description,
            ":events": serde_json::to_string(&e.events).expect("invariant: strings serialise"),
            ":secret": e.secret, ":enabled": e.enabled, ":updated_at": e.updated_at,
        },
    )?;
    Ok(())
}

pub fn delete_endpoint(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn.execute(
        "delete from webhook_endpoints where id = :id",
        named_params! { ":id": id },
    )? == 1)
}

pub fn get_endpoint(conn: &Connection, id: &str) -> Result<Option<EndpointRow>> {
    Ok(conn
        .query_row(
            &format!("select {ENDPOINT_COLUMNS} from webhook_endpoints where id = :id"),
            named_params! { ":id": id },
            endpoint_from_row,
        )
        .optional()?)
}

pub fn list_endpoints(
    conn: &Connection,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<EndpointRow>> {
    let (at, id) = after.unwrap_or((i64::MAX, String::new()));
    Ok(conn
        .prepare_cached(&format!(
            "select {ENDPOINT_COLUMNS} from webhook_endpoints where (created_at, id) < (:at, :id)
         order by created_at desc, id desc limit :limit"
        ))?
        .query_map(
            named_params! { ":at": at, ":id": id, ":limit": limit as i64 },
            endpoint_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// Enabled endpoints subscribed to `event_type`.
pub fn subscribed_endpoints(conn: &Connection, event_type: &str) -> Result<Vec<EndpointRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "select {ENDPOINT_COLUMNS} from webhook_endpoints
         where enabled = 1 and exists (select 1 from json_each(events) where value = :event_type)"
        ))?
        .query_map(
            named_params! { ":event_type": event_type },
            endpoint_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn insert_delivery(conn: &Connection, d: &DeliveryRow) -> Result<()> {
    conn.prepare_cached(
        "insert into webhook_deliveries (id, endpoint_id, event_type, payload, status, attempts, next_attempt_at,
            last_status_code, last_error, created_at, delivered_at)
         values (:id, :endpoint_id, :event_type, pii_seal(:payload, 'webhook_deliveries.payload'), :status,
            :attempts, :next_attempt_at, :last_status_code, :last_error, :created_at, :delivered_at)",
    )?
    .execute(named_params! {
        ":id": d.id, ":endpoint_id": d.endpoint_id, ":event_type": d.event_type, ":payload": d.payload,
        ":status": d.status, ":attempts": d.attempts, ":next_attempt_at": d.next_attempt_at,
        ":last_status_code": d.last_status_code, ":last_error": d.last_error, ":created_at": d.created_at,
        ":delivered_at": d.delivered_at,
    })?;
    Ok(())
}

/// Records an attempt's outcome.
pub fn update_delivery(conn: &Connection, d: &DeliveryRow) -> Result<()> {
    conn.prepare_cached(
        "update webhook_deliveries set status = :status, attempts = :attempts, next_attempt_at = :next_attempt_at,
            last_status_code = :last_status_code, last_error = :last_error, delivered_at = :delivered_at
         where id = :id",
    )?
    .execute(named_params! {
        ":id": d.id, ":status": d.status, ":attempts": d.attempts, ":next_attempt_at": d.next_attempt_at,
        ":last_status_code": d.last_status_code, ":last_error": d.last_error, ":delivered_at": d.delivered_at,
    })?;
    Ok(())
}

pub fn get_delivery(conn: &Connection, id: &str) -> Result<Option<DeliveryRow>> {
    Ok(conn
        .query_row(
            &format!("select {DELIVERY_COLUMNS} from webhook_deliveries where id = :id"),
            named_params! { ":id": id },
            delivery_from_row,
        )
        .optional()?)
}

/// Pending deliveries due at `now`, oldest first, with their endpoints.
pub fn due_deliveries(
    conn: &Connection,
    now: i64,
    limit: usize,
) -> Result<Vec<(DeliveryRow, EndpointRow)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {}, {} from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
         where d.status = 'pending' and d.next_attempt_at <= :now order by d.next_attempt_at limit :limit",
        "d.id, d.endpoint_id, d.event_type, pii_open(d.payload, 'webhook_deliveries.payload'), d.status, \
         d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.delivered_at",
        ENDPOINT_COLUMNS.split(", ").map(|c| format!("e.{c}")).collect::<Vec<_>>().join(", "),
    ))?;
    Ok(stmt
        .query_map(
            named_params! { ":now": now, ":limit": limit as i64 },
            |row| {
                let delivery = delivery_from_row(row)?;
                let offset = 11;
                let events: String = row.get(offset + 3)?;
                let endpoint = EndpointRow {
                    id: row.get(offset)?,
                    url: row.get(offset + 1)?,
                    description: row.get(offset + 2)?,
                    events: serde_json::from_str(&events).unwrap_or_default(),
                    secret: row.get(offset + 4)?,
                    enabled: row.get(offset + 5)?,
                    created_at: row.get(offset + 6)?,
                    updated_at: row.get(offset + 7)?,
                };
                Ok((delivery, endpoint))
            },
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// Holds back an endpoint's pending deliveries due before `until`: it just failed, so its other deliveries
/// wait for the failed one's retry instead of each spending a timeout on it. Returns how many moved.
pub fn postpone_endpoint(conn: &Connection, endpoint_id: &str, until: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "update webhook_deliveries set next_attempt_at = :until
             where endpoint_id = :endpoint_id and status = 'pending' and next_attempt_at < :until",
        )?
        .execute(named_params! { ":endpoint_id": endpoint_id, ":until": until })?)
}

/// When the next pending delivery is due, if any.
pub fn next_due(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "select min(next_attempt_at) from webhook_deliveries where status = 'pending'",
        [],
        |row| row.get(0),
    )?)
}

/// A page of an endpoint's deliveries, newest first, optionally of one status.
pub fn list_deliveries(
    conn: &Connection,
    endpoint_id: &str,
    status: Option<&str>,
    after: Option<(i64, String)>,
    limit: usize,
) -> Result<Vec<DeliveryRow>> {
    let (at, id) = after.unwrap_or((i64::MAX, String::new()));
    Ok(conn.prepare_cached(&format!(
        "select {DELIVERY_COLUMNS} from webhook_deliveries
         where endpoint_id = :endpoint_id and (created_at, id) < (:at, :id) and (:status is null or status = :status)
         order by created_at desc, id desc limit :limit"
    ))?
    .query_map(
        named_params! { ":endpoint_id": endpoint_id, ":at": at, ":id": id, ":status": status, ":limit": limit as i64 },
        delivery_from_row,
    )?
    .collect::<rusqlite::Result<_>>()?)
}

/// `region.db`: marks a tenant as having deliveries due at `due_at` (keeps the earlier time if already queued).
pub fn queue_tenant(conn: &Connection, tenant: TenantId, due_at: i64) -> Result<()> {
    conn.prepare_cached(
        "insert into webhook_queue (tenant_id, due_at) values (:tenant_id, :due_at)
         on conflict (tenant_id) do update set due_at = min(due_at, excluded.due_at), version = version + 1",
    )?
    .execute(named_params! { ":tenant_id": tenant.to_string(), ":due_at": due_at })?;
    Ok(())
}

/// A tenant waiting in `region.db`'s webhook queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedTenant {
    pub tenant_id: String,
    /// Changes on every re-queue (see [`settle_tenant`]).
    pub version: i64,
    /// When its earliest pending delivery is due.
    pub due_at: i64,
}

/// `region.db`: the first `limit` queued tenants, earliest due first.
pub fn queue_head(conn: &Connection, limit: usize) -> Result<Vec<QueuedTenant>> {
    Ok(conn
        .prepare_cached(
            "select tenant_id, version, due_at from webhook_queue order by due_at, tenant_id limit :limit",
        )?
        .query_map(named_params! { ":limit": limit as i64 }, |row| {
            Ok(QueuedTenant {
                tenant_id: row.get(0)?,
                version: row.get(1)?,
                due_at: row.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// `region.db`: the earliest due time of any queued tenant.
pub fn earliest_due(conn: &Connection) -> Result<Option<i64>> {
    Ok(
        conn.query_row("select min(due_at) from webhook_queue", [], |row| {
            row.get(0)
        })?,
    )
}

/// `region.db`: after processing a tenant, sets its next due time, or removes it when nothing is pending —
/// unless it was re-queued meanwhile (`version` changed), in which case the newer entry stands.
pub fn settle_tenant(
    conn: &Connection,
    tenant: &str,
    seen_version: i64,
    next_due: Option<i64>,
) -> Result<()> {
    match next_due {
        // Re-queued meanwhile: its new due time may be earlier than what this pass saw.
        Some(due_at) => conn.execute(
            "update webhook_queue set due_at = case when version = :version then :due_at else min(due_at, :due_at) end
             where tenant_id = :tenant_id",
            named_params! { ":tenant_id": tenant, ":due_at": due_at, ":version": seen_version },
        )?,
        None => conn.execute(
            "delete from webhook_queue where tenant_id = :tenant_id and version = :version",
            named_params! { ":tenant_id": tenant, ":version": seen_version },
        )?,
    };
    Ok(())
}

/// Catalog: the queue rows written there before it moved to `region.db`; [`forget_catalog_queue`] removes them.
pub fn catalog_queue(conn: &Connection) -> Result<Vec<(String, i64)>> {
    Ok(conn
        .prepare("select tenant_id, due_at from webhook_queue")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

/// Catalog: empties the old queue table once its rows are in `region.db`.
pub fn forget_catalog_queue(conn: &Connection) -> Result<()> {
    conn.execute("delete from webhook_queue", [])?;
    Ok(())
}

/// `region.db`: forgets a tenant's queue entry (it moved to another region, whose dispatcher takes over).
pub fn unqueue_tenant(conn: &Connection, tenant: TenantId) -> Result<()> {
    conn.execute(
        "delete from webhook_queue where tenant_id = :tenant_id",
        named_params! { ":tenant_id": tenant.to_string() },
    )?;
    Ok(())
}

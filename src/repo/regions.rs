//! Regions: the catalog's heartbeat (`catalog.db`) and the tenants that moved away from this machine
//! (`region.db`).

use super::Result;
use rusqlite::{Connection, OptionalExtension, named_params};

use crate::db::TenantId;

/// Catalog: the primary's heartbeat, rewritten every second.
pub fn beat(conn: &Connection, region: &str, at: i64) -> Result<()> {
    conn.prepare_cached(
        "insert into catalog_heartbeat (id, region, at) values (1, :region, :at)
         on conflict (id) do update set region = excluded.region, at = excluded.at",
    )?
    .execute(named_params! { ":region": region, ":at": at })?;
    Ok(())
}

/// Catalog: when the primary last wrote its heartbeat (unix ms), if it ever did.
pub fn heartbeat(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("select at from catalog_heartbeat where id = 1")?
        .query_row([], |row| row.get(0))
        .optional()?)
}

/// `region.db`: records that `tenant` now lives in `to_region`.
pub fn record_move(
    conn: &Connection,
    tenant: TenantId,
    to_region: &str,
    move_id: &str,
    at: i64,
) -> Result<()> {
    conn.execute(
        "insert into moved_tenants (tenant_id, to_region, move_id, moved_at)
         values (:tenant_id, :to_region, :move_id, :at)
         on conflict (tenant_id) do update set to_region = excluded.to_region,
            move_id = excluded.move_id, moved_at = excluded.moved_at",
        named_params! {
            ":tenant_id": tenant.to_string(), ":to_region": to_region, ":move_id": move_id, ":at": at,
        },
    )?;
    Ok(())
}

/// `region.db`: where `tenant` went, if it moved away from here.
pub fn moved_to(conn: &Connection, tenant: TenantId) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("select to_region from moved_tenants where tenant_id = :tenant_id")?
        .query_row(named_params! { ":tenant_id": tenant.to_string() }, |row| {
            row.get(0)
        })
        .optional()?)
}

/// `region.db`: every tenant that moved away, with its new region (loaded once at start).
pub fn all_moves(conn: &Connection) -> Result<Vec<(TenantId, String)>> {
    Ok(conn
        .prepare("select tenant_id, to_region from moved_tenants")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

/// `region.db`: forgets a move (the tenant came back to this machine).
pub fn forget_move(conn: &Connection, tenant: TenantId) -> Result<()> {
    conn.execute(
        "delete from moved_tenants where tenant_id = :tenant_id",
        named_params! { ":tenant_id": tenant.to_string() },
    )?;
    Ok(())
}

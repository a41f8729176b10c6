//! `catalog.db` → `tenants`.

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

use crate::db::TenantId;

/// A tenant as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    /// The Fly region the tenant's data lives in; `None` means any region may serve it.
    pub home_region: Option<String>,
    pub plan: String,
    pub status: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

const COLUMNS: &str = "id, slug, name, home_region, plan, status, created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<TenantRecord> {
    Ok(TenantRecord {
        id: row.get(0)?,
        slug: row.get(1)?,
        name: row.get(2)?,
        home_region: row.get(3)?,
        plan: row.get(4)?,
        status: row.get(5)?,
        created_at: row.get(6)?,
    })
}

pub fn insert(conn: &Connection, tenant: &TenantRecord) -> Result<()> {
    conn.execute(
        "insert into tenants (id, slug, name, home_region, plan, status, created_at)
         values (:id, :slug, :name, :home_region, :plan, :status, :created_at)",
        named_params! {
            ":id": tenant.id.to_string(),
            ":slug": tenant.slug,
            ":name": tenant.name,
            ":home_region": tenant.home_region,
            ":plan": tenant.plan,
            ":status": tenant.status,
            ":created_at": tenant.created_at,
        },
    )?;
    Ok(())
}

/// Inserts the tenant, or overwrites every column of the existing row with the same id (restores).
pub fn upsert(conn: &Connection, tenant: &TenantRecord) -> Result<()> {
    conn.execute(
        "insert into tenants (id, slug, name, home_region, plan, status, created_at)
         values (:id, :slug, :name, :home_region, :plan, :status, :created_at)
         on conflict (id) do update set slug = excluded.slug, name = excluded.name,
            home_region = excluded.home_region, plan = excluded.plan, status = excluded.status,
            created_at = excluded.created_at",
        named_params! {
            ":id": tenant.id.to_string(),
            ":slug": tenant.slug,
            ":name": tenant.name,
            ":home_region": tenant.home_region,
            ":plan": tenant.plan,
            ":status": tenant.status,
            ":created_at": tenant.created_at,
        },
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: TenantId) -> Result<Option<TenantRecord>> {
    Ok(conn
        .query_row(
            &format!("select {COLUMNS} from tenants where id = :id"),
            named_params! { ":id": id.to_string() },
            from_row,
        )
        .optional()?)
}

pub fn slug_taken(conn: &Connection, slug: &str) -> Result<bool> {
    Ok(conn.query_row(
        "select exists (select 1 from tenants where slug = :slug)",
        named_params! { ":slug": slug },
        |row| row.get(0),
    )?)
}

/// Every tenant, oldest first.
pub fn list(conn: &Connection) -> Result<Vec<TenantRecord>> {
    let mut stmt = conn.prepare(&format!(
        "select {COLUMNS} from tenants order by created_at, id"
    ))?;
    Ok(stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn rename(conn: &Connection, id: TenantId, name: &str) -> Result<bool> {
    let changed = conn.execute(
        "update tenants set name = :name where id = :id",
        named_params! { ":id": id.to_string(), ":name": name },
    )?;
    Ok(changed == 1)
}

/// Moves a tenant's home to `region` (the end of `voxedge tenant move`).
pub fn set_home(conn: &Connection, id: TenantId, region: &str) -> Result<bool> {
    let changed = conn.execute(
        "update tenants set home_region = :region where id = :id",
        named_params! { ":id": id.to_string(), ":region": region },
    )?;
    Ok(changed == 1)
}

/// Tenants whose home is `region` (with `or_unset`, also those with no home: a single-region server's).
pub fn list_homed(conn: &Connection, region: &str, or_unset: bool) -> Result<Vec<TenantRecord>> {
    let mut stmt = conn.prepare(&format!(
        "select {COLUMNS} from tenants
         where home_region = :region or (:or_unset and home_region is null)
         order by created_at, id"
    ))?;
    Ok(stmt
        .query_map(
            named_params! { ":region": region, ":or_unset": or_unset },
            from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

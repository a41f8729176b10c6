//! `catalog.db` → `memberships`: which users belong to which tenant, with which role.

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

use crate::db::TenantId;
use crate::model::Role;

/// A user's membership of a tenant, with the user's public details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub tenant_id: TenantId,
    pub user_id: String,
    pub role: Role,
    pub created_at: i64,
    pub email: String,
    pub name: Option<String>,
    /// When the user signed up.
    pub user_created_at: i64,
    /// When the user verified their email address (`None`: not yet).
    pub email_verified_at: Option<i64>,
}

const COLUMNS: &str = "m.tenant_id, m.user_id, m.role, m.created_at, u.email, u.name, u.created_at, u.email_verified_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<MemberRow> {
    Ok(MemberRow {
        tenant_id: row.get(0)?,
        user_id: row.get(1)?,
        role: row.get(2)?,
        created_at: row.get(3)?,
        email: row.get(4)?,
        name: row.get(5)?,
        user_created_at: row.get(6)?,
        email_verified_at: row.get(7)?,
    })
}

pub fn insert(
    conn: &Connection,
    tenant_id: TenantId,
    user_id: &str,
    role: Role,
    now: i64,
) -> Result<()> {
    conn.execute(
        "insert into memberships (tenant_id, user_id, role, created_at)
         values (:tenant_id, :user_id, :role, :now)",
        named_params! {
            ":tenant_id": tenant_id.to_string(), ":user_id": user_id, ":role": role.as_str(), ":now": now,
        },
    )?;
    Ok(())
}

pub fn get(conn: &Connection, tenant_id: TenantId, user_id: &str) -> Result<Option<MemberRow>> {
    Ok(conn
        .query_row(
            &format!(
                "select {COLUMNS} from memberships m join users u on u.id = m.user_id
             where m.tenant_id = :tenant_id and m.user_id = :user_id"
            ),
            named_params! { ":tenant_id": tenant_id.to_string(), ":user_id": user_id },
            from_row,
        )
        .optional()?)
}

/// The tenant's members, oldest first, strictly after the `(created_at, user_id)` cursor when given.
pub fn list_for_tenant(
    conn: &Connection,
    tenant_id: TenantId,
    after: Option<(i64, &str)>,
    limit: usize,
) -> Result<Vec<MemberRow>> {
    let (created_at, id) = after.unwrap_or((i64::MIN, ""));
    let mut stmt = conn.prepare_cached(&format!(
        "select {COLUMNS} from memberships m join users u on u.id = m.user_id
         where m.tenant_id = :tenant_id and (m.created_at, m.user_id) > (:created_at, :id)
         order by m.created_at, m.user_id limit :limit"
    ))?;
    Ok(stmt
        .query_map(
            named_params! {
                ":tenant_id": tenant_id.to_string(),
                ":created_at": created_at,
                ":id": id,
                ":limit": i64::try_from(limit).unwrap_or(i64::MAX),
            },
            from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// Every membership of a user, oldest first.
pub fn list_for_user(conn: &Connection, user_id: &str) -> Result<Vec<MemberRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {COLUMNS} from memberships m join users u on u.id = m.user_id
         where m.user_id = :user_id order by m.created_at, m.tenant_id"
    ))?;
    Ok(stmt
        .query_map(named_params! { ":user_id": user_id }, from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Changes a member's role; false if there is no such member.
pub fn set_role(conn: &Connection, tenant_id: TenantId, user_id: &str, role: Role) -> Result<bool> {
    let changed = conn.execute(
        "update memberships set role = :role where tenant_id = :tenant_id and user_id = :user_id",
        named_params! { ":tenant_id": tenant_id.to_string(), ":user_id": user_id, ":role": role.as_str() },
    )?;
    Ok(changed == 1)
}

/// Removes a membership; false if there was none.
pub fn delete(conn: &Connection, tenant_id: TenantId, user_id: &str) -> Result<bool> {
    let changed = conn.execute(
        "delete from memberships where tenant_id = :tenant_id and user_id = :user_id",
        named_params! { ":tenant_id": tenant_id.to_string(), ":user_id": user_id },
    )?;
    Ok(changed == 1)
}

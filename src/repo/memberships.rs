//! `catalog.db` → `memberships`: which users belong to which tenant, with which role.

use rusqlite::{Connection, OptionalExtension, Row, named_params};

use crate::auth::Role;
use crate::db::TenantId;

/// A user's membership of a tenant, with the user's public details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    pub tenant_id: TenantId,
    pub user_id: String,
    pub role: Role,
    pub created_at: i64,
    pub email: String,
    pub name: Option<String>,
}

const COLUMNS: &str = "m.tenant_id, m.user_id, m.role, m.created_at, u.email, u.name";

pub(crate) fn parse_role(row: &Row<'_>, index: usize) -> rusqlite::Result<Role> {
    let role: String = row.get(index)?;
    role.parse().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            format!("unknown role {role}").into(),
        )
    })
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<MemberRow> {
    let tenant: String = row.get(0)?;
    Ok(MemberRow {
        tenant_id: tenant.parse().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })?,
        user_id: row.get(1)?,
        role: parse_role(row, 2)?,
        created_at: row.get(3)?,
        email: row.get(4)?,
        name: row.get(5)?,
    })
}

pub fn insert(
    conn: &Connection,
    tenant_id: TenantId,
    user_id: &str,
    role: Role,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "insert into memberships (tenant_id, user_id, role, created_at)
         values (:tenant_id, :user_id, :role, :now)",
        named_params! {
            ":tenant_id": tenant_id.to_string(), ":user_id": user_id, ":role": role.as_str(), ":now": now,
        },
    )?;
    Ok(())
}

pub fn get(
    conn: &Connection,
    tenant_id: TenantId,
    user_id: &str,
) -> rusqlite::Result<Option<MemberRow>> {
    conn.query_row(
        &format!(
            "select {COLUMNS} from memberships m join users u on u.id = m.user_id
             where m.tenant_id = :tenant_id and m.user_id = :user_id"
        ),
        named_params! { ":tenant_id": tenant_id.to_string(), ":user_id": user_id },
        from_row,
    )
    .optional()
}

/// The tenant's members, oldest first, strictly after the `(created_at, user_id)` cursor when given.
pub fn list_for_tenant(
    conn: &Connection,
    tenant_id: TenantId,
    after: Option<(i64, &str)>,
    limit: usize,
) -> rusqlite::Result<Vec<MemberRow>> {
    let (created_at, id) = after.unwrap_or((i64::MIN, ""));
    let mut stmt = conn.prepare_cached(&format!(
        "select {COLUMNS} from memberships m join users u on u.id = m.user_id
         where m.tenant_id = :tenant_id and (m.created_at, m.user_id) > (:created_at, :id)
         order by m.created_at, m.user_id limit :limit"
    ))?;
    stmt.query_map(
        named_params! {
            ":tenant_id": tenant_id.to_string(),
            ":created_at": created_at,
            ":id": id,
            ":limit": i64::try_from(limit).unwrap_or(i64::MAX),
        },
        from_row,
    )?
    .collect()
}

/// Every membership of a user, oldest first.
pub fn list_for_user(conn: &Connection, user_id: &str) -> rusqlite::Result<Vec<MemberRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {COLUMNS} from memberships m join users u on u.id = m.user_id
         where m.user_id = :user_id order by m.created_at, m.tenant_id"
    ))?;
    stmt.query_map(named_params! { ":user_id": user_id }, from_row)?
        .collect()
}

/// Changes a member's role; false if there is no such member.
pub fn set_role(
    conn: &Connection,
    tenant_id: TenantId,
    user_id: &str,
    role: Role,
) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "update memberships set role = :role where tenant_id = :tenant_id and user_id = :user_id",
        named_params! { ":tenant_id": tenant_id.to_string(), ":user_id": user_id, ":role": role.as_str() },
    )?;
    Ok(changed == 1)
}

/// Removes a membership; false if there was none.
pub fn delete(conn: &Connection, tenant_id: TenantId, user_id: &str) -> rusqlite::Result<bool> {
    let changed = conn.execute(
        "delete from memberships where tenant_id = :tenant_id and user_id = :user_id",
        named_params! { ":tenant_id": tenant_id.to_string(), ":user_id": user_id },
    )?;
    Ok(changed == 1)
}

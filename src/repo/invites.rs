//! `catalog.db` → `invites`.

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

use crate::db::TenantId;
use crate::model::Role;

/// An invitation to join a tenant (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteRow {
    pub id: String,
    pub tenant_id: TenantId,
    pub email: String,
    pub email_key: String,
    pub role: Role,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub accepted_by: Option<String>,
    pub revoked_at: Option<i64>,
    /// Wrong passwords given to accept it.
    pub failed_attempts: i64,
}

const COLUMNS: &str = "id, tenant_id, email, email_key, role, secret_hash, invited_by, created_at, \
                       expires_at, accepted_at, accepted_by, revoked_at, failed_attempts";

fn from_row(row: &Row<'_>) -> rusqlite::Result<InviteRow> {
    Ok(InviteRow {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        email: row.get(2)?,
        email_key: row.get(3)?,
        role: row.get(4)?,
        secret_hash: row.get(5)?,
        invited_by: row.get(6)?,
        created_at: row.get(7)?,
        expires_at: row.get(8)?,
        accepted_at: row.get(9)?,
        accepted_by: row.get(10)?,
        revoked_at: row.get(11)?,
        failed_attempts: row.get(12)?,
    })
}

pub fn insert(conn: &Connection, invite: &InviteRow) -> Result<()> {
    conn.execute(
        &format!("insert into invites ({COLUMNS}) values (:id, :tenant_id, :email, :email_key, :role, :secret_hash, :invited_by, :created_at, :expires_at, null, null, null, 0)"),
        named_params! {
            ":id": invite.id,
            ":tenant_id": invite.tenant_id.to_string(),
            ":email": invite.email,
            ":email_key": invite.email_key,
            ":role": invite.role.as_str(),
            ":secret_hash": invite.secret_hash,
            ":invited_by": invite.invited_by,
            ":created_at": invite.created_at,
            ":expires_at": invite.expires_at,
        },
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<InviteRow>> {
    Ok(conn
        .query_row(
            &format!("select {COLUMNS} from invites where id = :id"),
            named_params! { ":id": id },
            from_row,
        )
        .optional()?)
}

/// The tenant's invites that are neither accepted nor revoked nor expired, newest first.
pub fn list_pending(
    conn: &Connection,
    tenant_id: TenantId,
    now: i64,
    after: Option<(i64, &str)>,
    limit: usize,
) -> Result<Vec<InviteRow>> {
    let (created_at, id) = after.unwrap_or((i64::MAX, ""));
    let mut stmt = conn.prepare_cached(&format!(
        "select {COLUMNS} from invites
         where tenant_id = :tenant_id and accepted_at is null and revoked_at is null
           and expires_at > :now and (created_at, id) < (:created_at, :id)
         order by created_at desc, id desc limit :limit"
    ))?;
    Ok(stmt
        .query_map(
            named_params! {
                ":tenant_id": tenant_id.to_string(),
                ":now": now,
                ":created_at": created_at,
                ":id": id,
                ":limit": i64::try_from(limit).unwrap_or(i64::MAX),
            },
            from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// Revokes the tenant's pending invites for an email (a new invite replaces them).
pub fn revoke_pending_for_email(
    conn: &Connection,
    tenant_id: TenantId,
    email_key: &str,
    now: i64,
) -> Result<()> {
    conn.execute(
        "update invites set revoked_at = :now
         where tenant_id = :tenant_id and email_key = :email_key
           and accepted_at is null and revoked_at is null",
        named_params! { ":tenant_id": tenant_id.to_string(), ":email_key": email_key, ":now": now },
    )?;
    Ok(())
}

/// Revokes one pending invite of the tenant; false if there is none.
pub fn revoke(conn: &Connection, tenant_id: TenantId, id: &str, now: i64) -> Result<bool> {
    let changed = conn.execute(
        "update invites set revoked_at = :now
         where id = :id and tenant_id = :tenant_id and accepted_at is null and revoked_at is null",
        named_params! { ":id": id, ":tenant_id": tenant_id.to_string(), ":now": now },
    )?;
    Ok(changed == 1)
}

/// Counts a wrong password given for an invite; returns how many there have been.
pub fn record_failed_attempt(conn: &Connection, id: &str) -> Result<i64> {
    Ok(conn.query_row(
        "update invites set failed_attempts = failed_attempts + 1 where id = :id returning failed_attempts",
        named_params! { ":id": id },
        |row| row.get(0),
    )?)
}

/// Marks an invite accepted; false if it was already accepted or revoked (a race lost).
pub fn mark_accepted(conn: &Connection, id: &str, user_id: &str, now: i64) -> Result<bool> {
    let changed = conn.execute(
        "update invites set accepted_at = :now, accepted_by = :user_id
         where id = :id and accepted_at is null and revoked_at is null",
        named_params! { ":id": id, ":user_id": user_id, ":now": now },
    )?;
    Ok(changed == 1)
}

//! `catalog.db` → `token_families` and `refresh_tokens`: sign-in sessions and their rotating tokens.

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

use crate::db::TenantId;

/// One sign-in session, scoped to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyRow {
    pub id: String,
    pub user_id: String,
    pub tenant_id: TenantId,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A stored refresh token (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRow {
    pub id: String,
    pub family_id: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

fn family_from_row(row: &Row<'_>) -> rusqlite::Result<FamilyRow> {
    Ok(FamilyRow {
        id: row.get(0)?,
        user_id: row.get(1)?,
        tenant_id: row.get(2)?,
        created_at: row.get(3)?,
        revoked_at: row.get(4)?,
    })
}

pub fn insert_family(conn: &Connection, family: &FamilyRow) -> Result<()> {
    conn.execute(
        "insert into token_families (id, user_id, tenant_id, created_at, revoked_at)
         values (:id, :user_id, :tenant_id, :created_at, :revoked_at)",
        named_params! {
            ":id": family.id,
            ":user_id": family.user_id,
            ":tenant_id": family.tenant_id.to_string(),
            ":created_at": family.created_at,
            ":revoked_at": family.revoked_at,
        },
    )?;
    Ok(())
}

pub fn get_family(conn: &Connection, id: &str) -> Result<Option<FamilyRow>> {
    Ok(conn.query_row(
        "select id, user_id, tenant_id, created_at, revoked_at from token_families where id = :id",
        named_params! { ":id": id },
        family_from_row,
    )
    .optional()?)
}

/// Revokes one family (idempotent: the first revocation is kept).
pub fn revoke_family(conn: &Connection, id: &str, reason: &str, now: i64) -> Result<()> {
    conn.execute(
        "update token_families set revoked_at = :now, revoked_reason = :reason
         where id = :id and revoked_at is null",
        named_params! { ":id": id, ":reason": reason, ":now": now },
    )?;
    Ok(())
}

/// Revokes every live family of a user in a tenant. Returns the ids revoked.
pub fn revoke_member_families(
    conn: &Connection,
    user_id: &str,
    tenant_id: TenantId,
    reason: &str,
    now: i64,
) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "update token_families set revoked_at = :now, revoked_reason = :reason
         where user_id = :user_id and tenant_id = :tenant_id and revoked_at is null
         returning id",
    )?;
    Ok(stmt.query_map(
        named_params! {
            ":user_id": user_id, ":tenant_id": tenant_id.to_string(), ":reason": reason, ":now": now,
        },
        |row| row.get(0),
    )?
    .collect::<rusqlite::Result<_>>()?)
}

pub fn insert_refresh_token(conn: &Connection, token: &RefreshTokenRow) -> Result<()> {
    conn.execute(
        "insert into refresh_tokens (id, family_id, secret_hash, created_at, expires_at, used_at)
         values (:id, :family_id, :secret_hash, :created_at, :expires_at, :used_at)",
        named_params! {
            ":id": token.id,
            ":family_id": token.family_id,
            ":secret_hash": token.secret_hash,
            ":created_at": token.created_at,
            ":expires_at": token.expires_at,
            ":used_at": token.used_at,
        },
    )?;
    Ok(())
}

pub fn get_refresh_token(conn: &Connection, id: &str) -> Result<Option<RefreshTokenRow>> {
    Ok(conn
        .query_row(
            "select id, family_id, secret_hash, created_at, expires_at, used_at
         from refresh_tokens where id = :id",
            named_params! { ":id": id },
            |row| {
                Ok(RefreshTokenRow {
                    id: row.get(0)?,
                    family_id: row.get(1)?,
                    secret_hash: row.get(2)?,
                    created_at: row.get(3)?,
                    expires_at: row.get(4)?,
                    used_at: row.get(5)?,
                })
            },
        )
        .optional()?)
}

/// Marks a token spent. False if it already was (a concurrent refresh won the race).
pub fn mark_used(conn: &Connection, id: &str, now: i64) -> Result<bool> {
    let changed = conn.execute(
        "update refresh_tokens set used_at = :now where id = :id and used_at is null",
        named_params! { ":id": id, ":now": now },
    )?;
    Ok(changed == 1)
}

/// Revokes every live family of a user, in every tenant (a password reset). Returns the ids revoked.
pub fn revoke_user_families(
    conn: &Connection,
    user_id: &str,
    reason: &str,
    now: i64,
) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "update token_families set revoked_at = :now, revoked_reason = :reason
         where user_id = :user_id and revoked_at is null
         returning id",
    )?;
    Ok(stmt
        .query_map(
            named_params! { ":user_id": user_id, ":reason": reason, ":now": now },
            |row| row.get(0),
        )?
        .collect::<rusqlite::Result<_>>()?)
}

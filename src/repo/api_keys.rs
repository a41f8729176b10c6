//! Tenant database → `api_keys`.

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

use crate::model::Role;

/// A stored API key (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// argon2id PHC string of the secret.
    pub secret_hash: String,
    /// Who created it: `cli`, `api_key:<id>`, `user:<id>`.
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str =
    "id, name, role, secret_hash, created_by, created_at, expires_at, last_used_at, revoked_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: row.get(0)?,
        name: row.get(1)?,
        role: row.get(2)?,
        secret_hash: row.get(3)?,
        created_by: row.get(4)?,
        created_at: row.get(5)?,
        expires_at: row.get(6)?,
        last_used_at: row.get(7)?,
        revoked_at: row.get(8)?,
    })
}

pub fn insert(conn: &Connection, key: &ApiKeyRow) -> Result<()> {
    conn.execute(
        "insert into api_keys (id, name, role, secret_hash, created_by, created_at, expires_at, last_used_at, revoked_at)
         values (:id, :name, :role, :secret_hash, :created_by, :created_at, :expires_at, :last_used_at, :revoked_at)",
        named_params! {
            ":id": key.id,
            ":name": key.name,
            ":role": key.role.as_str(),
            ":secret_hash": key.secret_hash,
            ":created_by": key.created_by,
            ":created_at": key.created_at,
            ":expires_at": key.expires_at,
            ":last_used_at": key.last_used_at,
            ":revoked_at": key.revoked_at,
        },
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<ApiKeyRow>> {
    Ok(conn
        .query_row(
            &format!("select {COLUMNS} from api_keys where id = :id"),
            named_params! { ":id": id },
            from_row,
        )
        .optional()?)
}

/// One page of keys, newest first, strictly after the `(created_at, id)` cursor when given (no cursor
/// means "after the end of time", which every row precedes).
pub fn list(conn: &Connection, after: Option<(i64, &str)>, limit: usize) -> Result<Vec<ApiKeyRow>> {
    let (created_at, id) = after.unwrap_or((i64::MAX, ""));
    let mut stmt = conn.prepare_cached(&format!(
        "select {COLUMNS} from api_keys
         where (created_at, id) < (:created_at, :id)
         order by created_at desc, id desc limit :limit"
    ))?;
    Ok(stmt
        .query_map(
            named_params! {
                ":created_at": created_at,
                ":id": id,
                ":limit": i64::try_from(limit).unwrap_or(i64::MAX),
            },
            from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// Marks a key revoked (idempotent: the first revocation time is kept). Returns the key as it now is.
pub fn revoke(conn: &Connection, id: &str, now: i64) -> Result<Option<ApiKeyRow>> {
    conn.execute(
        "update api_keys set revoked_at = coalesce(revoked_at, :now) where id = :id",
        named_params! { ":id": id, ":now": now },
    )?;
    get(conn, id)
}

/// Revokes every live key `creator` (an actor label, `user:<id>`) created, and every key those keys
/// created, at any depth. Returns the ids revoked now.
pub fn revoke_created_by(conn: &Connection, creator: &str, now: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "with recursive doomed(id) as (
             select id from api_keys where created_by = :creator
             union
             select k.id from api_keys k join doomed d on k.created_by = 'api_key:' || d.id
         )
         update api_keys set revoked_at = :now
         where id in (select id from doomed) and revoked_at is null
         returning id",
    )?;
    Ok(stmt
        .query_map(named_params! { ":creator": creator, ":now": now }, |row| {
            row.get(0)
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// Replaces a key's stored secret hash (with a hash of the same secret).
pub fn set_secret_hash(conn: &Connection, id: &str, secret_hash: &str) -> Result<()> {
    conn.execute(
        "update api_keys set secret_hash = :hash where id = :id",
        named_params! { ":id": id, ":hash": secret_hash },
    )?;
    Ok(())
}

pub fn touch_last_used(conn: &Connection, id: &str, now: i64) -> Result<()> {
    conn.execute(
        "update api_keys set last_used_at = :now where id = :id",
        named_params! { ":id": id, ":now": now },
    )?;
    Ok(())
}

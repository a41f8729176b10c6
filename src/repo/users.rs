//! `catalog.db` → `users`.

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

/// A portal user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    /// As entered (trimmed, domain lowercased); shown to the user.
    pub email: String,
    /// Fully lowercased: what sign-in matches on.
    pub email_key: String,
    pub name: Option<String>,
    /// argon2id PHC string.
    pub password_hash: String,
    pub created_at: i64,
    /// When the user proved they own the address (a verification link, or an invitation sent to it).
    pub email_verified_at: Option<i64>,
}

const COLUMNS: &str = "id, email, email_key, name, password_hash, created_at, email_verified_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: row.get(0)?,
        email: row.get(1)?,
        email_key: row.get(2)?,
        name: row.get(3)?,
        password_hash: row.get(4)?,
        created_at: row.get(5)?,
        email_verified_at: row.get(6)?,
    })
}

pub fn insert(conn: &Connection, user: &UserRow) -> Result<()> {
    conn.execute(
        "insert into users (id, email, email_key, name, password_hash, created_at, email_verified_at)
         values (:id, :email, :email_key, :name, :password_hash, :created_at, :email_verified_at)",
        named_params! {
            ":id": user.id,
            ":email": user.email,
            ":email_key": user.email_key,
            ":name": user.name,
            ":password_hash": user.password_hash,
            ":created_at": user.created_at,
            ":email_verified_at": user.email_verified_at,
        },
    )?;
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<UserRow>> {
    Ok(conn
        .query_row(
            &format!("select {COLUMNS} from users where id = :id"),
            named_params! { ":id": id },
            from_row,
        )
        .optional()?)
}

pub fn find_by_email_key(conn: &Connection, email_key: &str) -> Result<Option<UserRow>> {
    Ok(conn
        .query_row(
            &format!("select {COLUMNS} from users where email_key = :email_key"),
            named_params! { ":email_key": email_key },
            from_row,
        )
        .optional()?)
}

/// Marks the user's address verified (the first verification is kept).
pub fn mark_email_verified(conn: &Connection, id: &str, now: i64) -> Result<()> {
    conn.execute(
        "update users set email_verified_at = coalesce(email_verified_at, :now) where id = :id",
        named_params! { ":id": id, ":now": now },
    )?;
    Ok(())
}

/// Replaces the user's password hash.
pub fn set_password_hash(conn: &Connection, id: &str, password_hash: &str) -> Result<bool> {
    let changed = conn.execute(
        "update users set password_hash = :password_hash where id = :id",
        named_params! { ":id": id, ":password_hash": password_hash },
    )?;
    Ok(changed == 1)
}

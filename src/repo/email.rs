//! `catalog.db` → `email_tokens` (single-use links mailed to users) and `email_outbox` (every email until sent).

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

/// A stored link token (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTokenRow {
    pub id: String,
    pub user_id: String,
    /// `verify_email` or `reset_password`.
    pub purpose: String,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub fn insert_token(conn: &Connection, token: &EmailTokenRow) -> Result<()> {
    conn.execute(
        "insert into email_tokens (id, user_id, purpose, secret_hash, created_at, expires_at, used_at)
         values (:id, :user_id, :purpose, :secret_hash, :created_at, :expires_at, null)",
        named_params! {
            ":id": token.id,
            ":user_id": token.user_id,
            ":purpose": token.purpose,
            ":secret_hash": token.secret_hash,
            ":created_at": token.created_at,
            ":expires_at": token.expires_at,
        },
    )?;
    Ok(())
}

pub fn get_token(conn: &Connection, id: &str) -> Result<Option<EmailTokenRow>> {
    Ok(conn
        .query_row(
            "select id, user_id, purpose, secret_hash, created_at, expires_at, used_at
             from email_tokens where id = :id",
            named_params! { ":id": id },
            |row| {
                Ok(EmailTokenRow {
                    id: row.get(0)?,
                    user_id: row.get(1)?,
                    purpose: row.get(2)?,
                    secret_hash: row.get(3)?,
                    created_at: row.get(4)?,
                    expires_at: row.get(5)?,
                    used_at: row.get(6)?,
                })
            },
        )
        .optional()?)
}

/// Spends a token. False if it already was (a concurrent use won).
pub fn use_token(conn: &Connection, id: &str, now: i64) -> Result<bool> {
    let changed = conn.execute(
        "update email_tokens set used_at = :now where id = :id and used_at is null",
        named_params! { ":id": id, ":now": now },
    )?;
    Ok(changed == 1)
}

/// Spends every unused token of a user for `purpose` (a newer link, or the deed done, replaces them).
pub fn spend_unused(conn: &Connection, user_id: &str, purpose: &str, now: i64) -> Result<()> {
    conn.execute(
        "update email_tokens set used_at = :now
         where user_id = :user_id and purpose = :purpose and used_at is null",
        named_params! { ":user_id": user_id, ":purpose": purpose, ":now": now },
    )?;
    Ok(())
}

/// A queued email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: String,
    pub kind: String,
    /// The sealed message; `None` once sent or given up.
    pub sealed: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

const OUTBOX_COLUMNS: &str =
    "id, kind, sealed, status, attempts, next_attempt_at, last_error, created_at, sent_at";

fn outbox_from_row(row: &Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: row.get(0)?,
        kind: row.get(1)?,
        sealed: row.get(2)?,
        status: row.get(3)?,
        attempts: row.get(4)?,
        next_attempt_at: row.get(5)?,
        last_error: row.get(6)?,
        created_at: row.get(7)?,
        sent_at: row.get(8)?,
    })
}

pub fn enqueue(conn: &Connection, id: &str, kind: &str, sealed: &str, now: i64) -> Result<()> {
    conn.execute(
        "insert into email_outbox (id, kind, sealed, status, attempts, next_attempt_at, created_at)
         values (:id, :kind, :sealed, 'pending', 0, :now, :now)",
        named_params! { ":id": id, ":kind": kind, ":sealed": sealed, ":now": now },
    )?;
    Ok(())
}

/// Pending emails due by `now`, oldest first.
pub fn due(conn: &Connection, now: i64, limit: usize) -> Result<Vec<OutboxRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {OUTBOX_COLUMNS} from email_outbox
         where status = 'pending' and next_attempt_at <= :now
         order by next_attempt_at, id limit :limit"
    ))?;
    Ok(stmt
        .query_map(
            named_params! { ":now": now, ":limit": i64::try_from(limit).unwrap_or(i64::MAX) },
            outbox_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?)
}

/// When the earliest pending email is due.
pub fn next_due(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "select min(next_attempt_at) from email_outbox where status = 'pending'",
        [],
        |row| row.get(0),
    )?)
}

/// How long the most overdue pending email has waited past its due time, in ms (0: none overdue).
pub fn overdue_ms(conn: &Connection, now: i64) -> Result<i64> {
    let earliest: Option<i64> = next_due(conn)?;
    Ok(earliest.map_or(0, |at| (now - at).max(0)))
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<OutboxRow>> {
    Ok(conn
        .query_row(
            &format!("select {OUTBOX_COLUMNS} from email_outbox where id = :id"),
            named_params! { ":id": id },
            outbox_from_row,
        )
        .optional()?)
}

/// Records a delivered email (`status`: `sent`, or `logged` when no SMTP server is configured) and wipes its
/// sealed message.
pub fn mark_sent(conn: &Connection, id: &str, status: &str, now: i64) -> Result<()> {
    conn.execute(
        "update email_outbox set status = :status, sealed = null, attempts = attempts + 1,
             next_attempt_at = null, last_error = null, sent_at = :now
         where id = :id",
        named_params! { ":id": id, ":status": status, ":now": now },
    )?;
    Ok(())
}

/// Records a failed attempt: try again at `retry_at`, or (`None`) give up and wipe the message.
pub fn mark_failed(conn: &Connection, id: &str, error: &str, retry_at: Option<i64>) -> Result<()> {
    conn.execute(
        "update email_outbox set attempts = attempts + 1, last_error = :error,
             next_attempt_at = :retry_at,
             status = case when :retry_at is null then 'failed' else 'pending' end,
             sealed = case when :retry_at is null then null else sealed end
         where id = :id",
        named_params! { ":id": id, ":error": error, ":retry_at": retry_at },
    )?;
    Ok(())
}

/// Forgets finished emails older than `before` (their rows only say what was sent when).
pub fn purge_finished(conn: &Connection, before: i64) -> Result<usize> {
    Ok(conn.execute(
        "delete from email_outbox where status != 'pending' and created_at < :before",
        named_params! { ":before": before },
    )?)
}

/// Emails by kind and status, for operators.
pub fn counts(conn: &Connection) -> Result<Vec<(String, String, i64)>> {
    let mut stmt = conn.prepare_cached(
        "select kind, status, count(*) from email_outbox group by kind, status order by kind, status",
    )?;
    Ok(stmt
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?)
}

/// When the user's latest token for `purpose` was issued.
pub fn latest_created(conn: &Connection, user_id: &str, purpose: &str) -> Result<Option<i64>> {
    Ok(conn.query_row(
        "select max(created_at) from email_tokens where user_id = :user_id and purpose = :purpose",
        named_params! { ":user_id": user_id, ":purpose": purpose },
        |row| row.get(0),
    )?)
}

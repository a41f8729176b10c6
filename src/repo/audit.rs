//! Tenant database → `audit_log`.

use super::Result;
use rusqlite::{Connection, Row, named_params};

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    /// `user:<id>`, `api_key:<id>`, `anonymous`.
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    pub error_code: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

const COLUMNS: &str = "id, at, actor, action, target, outcome, error_code, ip, user_agent";

fn from_row(row: &Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        id: row.get(0)?,
        at: row.get(1)?,
        actor: row.get(2)?,
        action: row.get(3)?,
        target: row.get(4)?,
        outcome: row.get(5)?,
        error_code: row.get(6)?,
        ip: row.get(7)?,
        user_agent: row.get(8)?,
    })
}

pub fn insert(conn: &Connection, entry: &AuditRow) -> Result<()> {
    conn.execute(
        &format!(
            "insert into audit_log ({COLUMNS})
             values (:id, :at, :actor, :action, :target, :outcome, :error_code, :ip, :user_agent)"
        ),
        named_params! {
            ":id": entry.id,
            ":at": entry.at,
            ":actor": entry.actor,
            ":action": entry.action,
            ":target": entry.target,
            ":outcome": entry.outcome,
            ":error_code": entry.error_code,
            ":ip": entry.ip,
            ":user_agent": entry.user_agent,
        },
    )?;
    Ok(())
}

/// One page of entries, newest first, strictly after the `(at, id)` cursor when given.
pub fn list(conn: &Connection, after: Option<(i64, &str)>, limit: usize) -> Result<Vec<AuditRow>> {
    let (at, id) = after.unwrap_or((i64::MAX, ""));
    let mut stmt = conn.prepare_cached(&format!(
        "select {COLUMNS} from audit_log where (at, id) < (:at, :id)
         order by at desc, id desc limit :limit"
    ))?;
    Ok(stmt.query_map(
        named_params! { ":at": at, ":id": id, ":limit": i64::try_from(limit).unwrap_or(i64::MAX) },
        from_row,
    )?
    .collect::<rusqlite::Result<_>>()?)
}

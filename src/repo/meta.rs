//! `tenant_meta`: facts about a tenant database itself.

use super::Result;
use rusqlite::{Connection, OptionalExtension, named_params};

use crate::db::{StorageError, TenantId};

/// The tenant id recorded in the file when it was created.
pub fn tenant_id(conn: &Connection) -> Result<Option<String>, StorageError> {
    Ok(conn
        .query_row(
            "select value from tenant_meta where key = 'tenant_id'",
            [],
            |row| row.get(0),
        )
        .optional()?)
}

pub fn set_tenant_id(conn: &Connection, id: TenantId) -> Result<()> {
    conn.execute(
        "insert into tenant_meta (key, value) values ('tenant_id', :id)
         on conflict (key) do update set value = excluded.value",
        named_params! { ":id": id.to_string() },
    )?;
    Ok(())
}

/// The id of the move that last took this file away from a region (`voxedge tenant move`): written as the very
/// last change before the move, so a restored copy that shows it holds everything.
pub fn move_marker(conn: &Connection) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "select value from tenant_meta where key = 'move_id'",
            [],
            |row| row.get(0),
        )
        .optional()?)
}

pub fn set_move_marker(conn: &Connection, move_id: &str) -> Result<()> {
    conn.execute(
        "insert into tenant_meta (key, value) values ('move_id', :id)
         on conflict (key) do update set value = excluded.value",
        named_params! { ":id": move_id },
    )?;
    Ok(())
}

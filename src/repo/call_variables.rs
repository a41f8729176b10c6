//! Tenant database → `call_variables`: the variables a call was placed with, sealed in the file
//! ([`crate::pii`]: they hold the caller's and the called number).

use super::Result;
use rusqlite::{Connection, OptionalExtension, named_params};

/// Stores the variables a call was placed with.
pub fn insert(conn: &Connection, call_id: &str, variables: &crate::model::Variables) -> Result<()> {
    conn.prepare_cached(
        "insert into call_variables (call_id, variables)
         values (:call_id, pii_seal(:variables, 'call_variables.variables'))",
    )?
    .execute(named_params! {
        ":call_id": call_id,
        ":variables": serde_json::to_string(variables).expect("invariant: variables serialise"),
    })?;
    Ok(())
}

/// The variables a call was placed with (empty when none were given).
pub fn get(conn: &Connection, call_id: &str) -> Result<crate::model::Variables> {
    Ok(conn
        .prepare_cached(
            "select pii_open(variables, 'call_variables.variables') from call_variables
             where call_id = :call_id",
        )?
        .query_row(named_params! { ":call_id": call_id }, |row| {
            super::json_column(row, 0)
        })
        .optional()?
        .unwrap_or_default())
}

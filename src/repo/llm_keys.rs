//! Tenant database → `llm_keys`.

use super::Result;
use rusqlite::{Connection, OptionalExtension, Row, named_params};

/// A tenant's key for one LLM provider. `api_key` is the sealed (encrypted) key, never the key itself.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmKeyRow {
    pub provider: String,
    pub api_key: String,
    pub api_key_last4: String,
    /// Where else than the provider's public endpoint the key may be sent.
    pub base_url: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "provider, api_key, api_key_last4, base_url, created_at, updated_at";

fn row(row: &Row<'_>) -> rusqlite::Result<LlmKeyRow> {
    Ok(LlmKeyRow {
        provider: row.get(0)?,
        api_key: row.get(1)?,
        api_key_last4: row.get(2)?,
        base_url: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

pub fn list(conn: &Connection) -> Result<Vec<LlmKeyRow>> {
    let mut stmt =
        conn.prepare_cached(&format!("select {COLUMNS} from llm_keys order by provider"))?;
    Ok(stmt.query_map([], row)?.collect::<rusqlite::Result<_>>()?)
}

pub fn get(conn: &Connection, provider: &str) -> Result<Option<LlmKeyRow>> {
    Ok(conn
        .query_row(
            &format!("select {COLUMNS} from llm_keys where provider = :provider"),
            named_params! { ":provider": provider },
            row,
        )
        .optional()?)
}

/// Inserts or replaces the provider's key (keeping its first `created_at`).
pub fn put(conn: &Connection, key: &LlmKeyRow) -> Result<()> {
    conn.execute(
        "insert into llm_keys (provider, api_key, api_key_last4, base_url, created_at, updated_at)
         values (:provider, :api_key, :last4, :base_url, :created_at, :updated_at)
         on conflict (provider) do update set api_key = excluded.api_key,
            api_key_last4 = excluded.api_key_last4, base_url = excluded.base_url,
            updated_at = excluded.updated_at",
        named_params! {
            ":provider": key.provider, ":api_key": key.api_key, ":last4": key.api_key_last4,
            ":base_url": key.base_url, ":created_at": key.created_at, ":updated_at": key.updated_at,
        },
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, provider: &str) -> Result<bool> {
    Ok(conn.execute(
        "delete from llm_keys where provider = :provider",
        named_params! { ":provider": provider },
    )? == 1)
}

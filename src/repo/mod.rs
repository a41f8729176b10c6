//! SQL, as plain functions over `&Connection` / `&Transaction` with named parameters.
//!
//! Resolvers and handlers never build SQL; they call these functions through `Database::read` / `write`.
//! `catalog.db` tables: [`tenants`], [`users`], [`memberships`], [`sessions`], [`invites`], email links and
//! the outbox in [`email`], the price book and payment accounts in [`billing`], the heartbeat in [`regions`].
//! `region.db` (this machine's own state): the webhook queue in [`webhooks`], the outbound queue in
//! [`outbound`], the analysis queue in [`analysis`], moved tenants in [`regions`]. Tenant database tables:
//! [`meta`], [`api_keys`], [`agents`], [`calls`], [`webhooks`], [`audit`], [`usage`], [`invoices`], [`telephony`],
//! [`llm_keys`], [`outbound`] (calls placed through Twilio), [`campaigns`], [`milestones`], [`analysis`]
//! (post-call analyses), [`recordings`].

pub mod agents;
pub mod analysis;
pub mod api_keys;
pub mod audit;
pub mod billing;
pub mod call_deletion;
pub mod call_variables;
pub mod calls;
pub mod campaigns;
pub mod email;
pub mod invites;
pub mod invoices;
pub mod llm_keys;
pub mod memberships;
pub mod meta;
pub mod milestones;
pub mod outbound;
pub mod recordings;
pub mod regions;
pub mod sessions;
pub mod telephony;
pub mod tenants;
pub mod usage;
pub mod users;
pub mod webhooks;

use rusqlite::Row;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};

use crate::db::{StorageError, TenantId};
use crate::model::Role;

/// What every repository function returns: storage failures are the only errors SQL code knows.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A text column parsed with `FromStr`: a value this binary cannot read is a conversion error, not a panic.
fn parse_text<T>(value: ValueRef<'_>) -> FromSqlResult<T>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    value
        .as_str()?
        .parse()
        .map_err(|e| FromSqlError::Other(Box::new(e)))
}

impl FromSql for TenantId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        parse_text(value)
    }
}

impl FromSql for Role {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        parse_text(value)
    }
}

/// A JSON text column as `T`.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// `value` as JSON text for a column read back with [`json_column`].
pub(crate) fn json_text(value: &impl serde::Serialize) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// True if `err` is a UNIQUE or PRIMARY KEY constraint violation, which callers turn into a `CONFLICT`.
pub fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::ConstraintViolation)
    ) && matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

//! SQL, as plain functions over `&Connection` / `&Transaction` with named parameters.
//!
//! Resolvers and handlers never build SQL; they call these functions through `Database::read` / `write`.
//! `catalog.db` tables: [`tenants`], [`users`], [`memberships`], [`sessions`], [`invites`], and the
//! webhook queue in [`webhooks`]. Tenant database tables: [`meta`], [`api_keys`], [`agents`], [`calls`],
//! [`webhooks`], [`audit`], [`usage`], [`telephony`], [`llm_keys`].

pub mod agents;
pub mod api_keys;
pub mod audit;
pub mod calls;
pub mod invites;
pub mod llm_keys;
pub mod memberships;
pub mod meta;
pub mod sessions;
pub mod telephony;
pub mod tenants;
pub mod usage;
pub mod users;
pub mod webhooks;

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

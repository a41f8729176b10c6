//! The storage engine: one SQLite file for the catalog, one per tenant.
//!
//! - [`Database`]: one SQLite file with one writer connection and a small read pool; all SQLite work runs
//!   on tokio's blocking pool, never on an async worker thread.
//! - [`TenantStore`]: the open tenant databases, in a bounded `moka` cache whose eviction closes files.
//! - [`migrations`]: numbered SQL migrations applied through `PRAGMA user_version`.
//! - [`backup`]: consistent online copies (SQLite backup API) and restores.
//!
//! SQL itself lives in `crate::repo`, as plain functions over `&Connection`.

pub mod backup;
mod database;
pub mod ids;
pub mod migrations;
pub mod store;

pub use database::{Database, OpenMode, SqliteSettings, open_writer};
pub use ids::{TenantId, new_id, new_ulid};
pub use store::{TenantCacheSettings, TenantStore};

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode as SqliteCode;

use crate::error::{ApiError, ErrorCode};

/// Failures of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("tenant {0} does not exist")]
    TenantNotFound(TenantId),
    #[error("database is corrupt or not a voxedge database: {0}")]
    Corrupt(String),
    #[error(
        "{kind} database has schema version {found}, newer than version {supported} this binary understands"
    )]
    SchemaTooNew {
        kind: &'static str,
        found: u32,
        supported: u32,
    },
    #[error("{kind} migration {name} failed: {source}")]
    Migration {
        kind: &'static str,
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("database is busy")]
    Busy,
    #[error(transparent)]
    Sqlite(rusqlite::Error),
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl StorageError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// True when the file itself cannot be used (as opposed to a transient failure).
    pub fn is_unusable_file(&self) -> bool {
        matches!(self, Self::Corrupt(_) | Self::SchemaTooNew { .. })
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(SqliteCode::NotADatabase | SqliteCode::DatabaseCorrupt) => {
                Self::Corrupt(err.to_string())
            }
            Some(SqliteCode::DatabaseBusy | SqliteCode::DatabaseLocked) => Self::Busy,
            _ => Self::Sqlite(err),
        }
    }
}

impl From<&StorageError> for ApiError {
    fn from(err: &StorageError) -> Self {
        match err {
            StorageError::TenantNotFound(_) => ApiError::not_found("tenant"),
            StorageError::Corrupt(_)
            | StorageError::SchemaTooNew { .. }
            | StorageError::Migration { .. } => {
                tracing::error!(error = %err, "tenant database refused");
                ApiError::new(
                    ErrorCode::TenantUnavailable,
                    "this tenant's data is temporarily unavailable; the operator has been alerted",
                )
            }
            StorageError::Busy => ApiError::new(
                ErrorCode::ServiceUnavailable,
                "database is busy, retry shortly",
            )
            .with_retry_after(1),
            other => ApiError::internal(other),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> Self {
        ApiError::from(&err)
    }
}

impl From<std::sync::Arc<StorageError>> for ApiError {
    fn from(err: std::sync::Arc<StorageError>) -> Self {
        ApiError::from(err.as_ref())
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(err: rusqlite::Error) -> Self {
        ApiError::from(StorageError::from(err))
    }
}

/// Current time as unix milliseconds, the timestamp format of every table.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

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
mod open;
pub mod store;

pub use database::{ConnectionInit, Database, SqliteSettings};
pub use ids::{TenantId, new_id, new_ulid};
pub use open::{OpenMode, open_writer, open_writer_with};
pub use store::{TenantCacheSettings, TenantStore};

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode as SqliteCode;

use crate::error::{ErrorCode, Reportable};

/// Failures of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("tenant {0} not found")]
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
    #[error("database is busy, retry shortly")]
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
    /// A failure several requests share: opening a tenant they all waited on, or committing a group of writes
    /// they were part of.
    #[error(transparent)]
    Shared(std::sync::Arc<StorageError>),
    /// A write to a replica (the catalog outside the primary region): it belongs in the primary.
    #[error(
        "this is a read-only replica of the catalog; catalog changes are made in the primary region"
    )]
    Replica,
    /// A write stopped before it could say how it went (it panicked; the server log has why). Nothing of it was
    /// kept.
    #[error("the write was interrupted")]
    Interrupted,
    /// The tenant is being moved or restored: reads work, writes wait until it is done.
    #[error("the tenant is read-only for a moment ({0}); retry shortly")]
    Frozen(String),
}

impl StorageError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// True for a UNIQUE or PRIMARY KEY constraint violation, which callers turn into a conflict.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Self::Sqlite(err) if crate::repo::is_unique_violation(err))
    }

    /// True when the file itself cannot be used (as opposed to a transient failure).
    pub fn is_unusable_file(&self) -> bool {
        match self {
            Self::Shared(inner) => inner.is_unusable_file(),
            other => matches!(other, Self::Corrupt(_) | Self::SchemaTooNew { .. }),
        }
    }
}

/// Gives a file operation's failure the path it concerns: `std::fs::write(&path, bytes).at(&path)?`.
pub(crate) trait AtPath<T> {
    fn at(self, path: &Path) -> Result<T, StorageError>;
}

impl<T> AtPath<T> for std::io::Result<T> {
    fn at(self, path: &Path) -> Result<T, StorageError> {
        self.map_err(|source| StorageError::io(path, source))
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

/// JSON kept in storage that cannot be written or read back is a corrupt value.
impl From<serde_json::Error> for StorageError {
    fn from(err: serde_json::Error) -> Self {
        Self::Corrupt(err.to_string())
    }
}

/// A failure shared by every waiter (on the same tenant cache entry, or in the same group commit).
impl From<std::sync::Arc<StorageError>> for StorageError {
    fn from(err: std::sync::Arc<StorageError>) -> Self {
        Self::Shared(err)
    }
}

impl Reportable for StorageError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::TenantNotFound(_) => ErrorCode::NotFound,
            Self::Corrupt(_) | Self::SchemaTooNew { .. } | Self::Migration { .. } => {
                ErrorCode::TenantUnavailable
            }
            Self::Busy => ErrorCode::ServiceUnavailable,
            Self::Shared(inner) => inner.code(),
            Self::Replica => ErrorCode::WrongRegion,
            Self::Frozen(_) => ErrorCode::TenantReadOnly,
            _ => ErrorCode::Internal,
        }
    }

    fn message(&self) -> String {
        match self.code() {
            ErrorCode::TenantUnavailable => {
                tracing::error!(error = %self, "tenant database refused");
                "this tenant's data is temporarily unavailable; the operator has been alerted"
                    .into()
            }
            _ => self.to_string(),
        }
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Shared(inner) => inner.retry_after_secs(),
            Self::Frozen(_) => Some(2),
            other => matches!(other, Self::Busy).then_some(1),
        }
    }
}

//! Failures of cross-region work: reaching another region, the Litestream replica, moves and restores.

use crate::db::StorageError;
use crate::error::{ErrorCode, InvalidInput, Reportable};

#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// Something this needs is not configured (`--public-url`, `--replica-url`, `--region`).
    #[error("{0}")]
    NotConfigured(String),
    /// Another region did not answer (network, proxy, no machine there).
    #[error("region {region} could not be reached: {reason}")]
    Unreachable { region: String, reason: String },
    /// Another region answered with an error; its code is kept.
    #[error("{message}")]
    Remote { code: ErrorCode, message: String },
    /// Litestream failed, or the replica holds nothing usable.
    #[error("replica: {0}")]
    Replica(String),
    /// The request conflicts with the tenant's state (moving to where it is, a move already running, ...).
    #[error("{0}")]
    Conflict(String),
    #[error("tenant not found")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
}

impl From<tokio::task::JoinError> for EdgeError {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::Storage(err.into())
    }
}

impl From<crate::tenants::TenantError> for EdgeError {
    fn from(err: crate::tenants::TenantError) -> Self {
        use crate::tenants::TenantError;
        match err {
            TenantError::NotFound => Self::NotFound,
            TenantError::Invalid(e) => e.into(),
            TenantError::Storage(e) => e.into(),
        }
    }
}

impl Reportable for EdgeError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotConfigured(_) => ErrorCode::ServiceUnavailable,
            Self::Unreachable { .. } => ErrorCode::RegionUnavailable,
            Self::Remote { code, .. } => *code,
            Self::Replica(_) => ErrorCode::ReplicaUnavailable,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::NotFound => ErrorCode::NotFound,
            Self::Invalid(e) => e.code(),
            Self::Storage(e) => e.code(),
            Self::Auth(e) => e.code(),
        }
    }

    fn inner(&self) -> Option<&dyn Reportable> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::Storage(e) => Some(e),
            Self::Auth(e) => Some(e),
            _ => None,
        }
    }
}

//! [`AgentError`]: why an agent could not be read or changed.

use crate::db::StorageError;
use crate::error::{ErrorCode, InvalidInput, Reportable};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("agent not found")]
    NotFound,
    #[error("agent version not found")]
    VersionNotFound,
    #[error("nothing to change: give a name, a config or both")]
    NothingToChange,
    /// Optimistic concurrency: the change was made against an older version.
    #[error("the agent is at version {current}, not {expected}: reload and retry")]
    VersionConflict { current: i64, expected: i64 },
    /// Stored data that breaks an invariant (never the client's fault).
    #[error("{0}")]
    Corrupt(String),
    /// A stored LLM key cannot be opened (e.g. the server key changed).
    #[error("the {provider} LLM key cannot be opened: {why}")]
    UnreadableKey { provider: String, why: String },
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Reportable for AgentError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound | Self::VersionNotFound => ErrorCode::NotFound,
            Self::NothingToChange => ErrorCode::InvalidInput,
            Self::VersionConflict { .. } => ErrorCode::Conflict,
            Self::Corrupt(_) | Self::UnreadableKey { .. } => ErrorCode::Internal,
            Self::Invalid(e) => e.code(),
            Self::Storage(e) => e.code(),
        }
    }

    fn inner(&self) -> Option<&dyn Reportable> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::Storage(e) => Some(e),
            _ => None,
        }
    }
}

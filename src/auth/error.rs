//! [`AuthError`]: why credentials were refused or an action is not allowed.

use crate::db::StorageError;
use crate::error::{ErrorCode, InvalidInput, Reportable};

/// Everything authentication and authorization can refuse.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials, where the operation needs some.
    #[error("authentication required")]
    Unauthenticated,
    /// No credentials; the message says how to send them.
    #[error("{0}")]
    Missing(&'static str),
    /// Credentials not of a form we understand.
    #[error("{0}")]
    Malformed(&'static str),
    #[error("invalid API key")]
    InvalidApiKey,
    #[error("this API key was revoked")]
    ApiKeyRevoked,
    #[error("this API key has expired")]
    ApiKeyExpired,
    #[error("the token has expired")]
    TokenExpired,
    /// Not a token we issued, or not one for this endpoint.
    #[error("{0}")]
    InvalidToken(&'static str),
    /// The token's session was signed out or revoked, or its membership ended.
    #[error("this session has ended")]
    TokenRevoked,
    /// Authenticated, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    #[error("API key not found")]
    KeyNotFound,
    /// A user past the grace period without a verified email address.
    #[error("verify your email address to go on: follow the link we sent, or ask for a new one")]
    EmailNotVerified,
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Signing or hashing failed (never the client's fault).
    #[error("{0}")]
    Internal(String),
    /// The tenant's home region refused or could not check the credential; its code is kept.
    #[error("{message}")]
    Elsewhere { code: ErrorCode, message: String },
}

/// Blocking work (hashing, key checks) that panicked or was cancelled.
impl From<tokio::task::JoinError> for AuthError {
    fn from(err: tokio::task::JoinError) -> Self {
        Self::internal(err)
    }
}

impl AuthError {
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

/// Auth reaches another region only to check a credential there: whatever went wrong keeps its code.
impl From<crate::edge::EdgeError> for AuthError {
    fn from(err: crate::edge::EdgeError) -> Self {
        Self::Elsewhere {
            code: err.code(),
            message: err.to_string(),
        }
    }
}

/// Hashing a key secret fails only on our side (parameters, salt generation): never the client's fault.
impl From<argon2::password_hash::Error> for AuthError {
    fn from(err: argon2::password_hash::Error) -> Self {
        Self::internal(err)
    }
}

/// Argon2 parameters out of bounds: our bug, never the client's fault.
impl From<argon2::Error> for AuthError {
    fn from(err: argon2::Error) -> Self {
        Self::internal(err)
    }
}

impl Reportable for AuthError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated | Self::Missing(_) => ErrorCode::Unauthenticated,
            Self::Malformed(_) => ErrorCode::MalformedCredentials,
            Self::InvalidApiKey => ErrorCode::InvalidApiKey,
            Self::ApiKeyRevoked => ErrorCode::ApiKeyRevoked,
            Self::ApiKeyExpired => ErrorCode::ApiKeyExpired,
            Self::TokenExpired => ErrorCode::TokenExpired,
            Self::InvalidToken(_) => ErrorCode::InvalidToken,
            Self::TokenRevoked => ErrorCode::TokenRevoked,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::KeyNotFound => ErrorCode::NotFound,
            Self::EmailNotVerified => ErrorCode::EmailNotVerified,
            Self::Invalid(e) => e.code(),
            Self::Storage(e) => e.code(),
            Self::Internal(_) => ErrorCode::Internal,
            Self::Elsewhere { code, .. } => *code,
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

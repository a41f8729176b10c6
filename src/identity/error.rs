//! [`IdentityError`]: why signing up, signing in or managing members failed.

use crate::auth::AuthError;
use crate::db::StorageError;
use crate::error::{ErrorCode, InvalidInput, Reportable};
use crate::ratelimit::RateLimited;
use crate::tenants::TenantError;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Wrong email or password (deliberately not saying which).
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("an account with this email already exists")]
    EmailTaken,
    /// A refresh token or invitation that is not ours, spent or expired; the message says which kind.
    #[error("{0}")]
    InvalidToken(&'static str),
    /// A mailed link (verification, reset, invitation) past its lifetime.
    #[error("{0}")]
    LinkExpired(&'static str),
    /// A mailed link that was already followed.
    #[error("{0}")]
    LinkUsed(&'static str),
    #[error("the refresh token has expired")]
    RefreshExpired,
    #[error("this session has ended")]
    SessionEnded,
    #[error("this refresh token was already used; the session has been revoked")]
    RefreshTokenReused,
    /// The session reached its absolute lifetime, however often it was refreshed.
    #[error("this session reached its maximum lifetime; sign in again")]
    SessionExpired,
    /// Too many wrong passwords were given for this invitation.
    #[error("this invitation is locked after too many wrong passwords; ask for a new one")]
    InviteLocked,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Tenant(#[from] TenantError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Creating the tenant in its home region failed.
    #[error(transparent)]
    Edge(#[from] crate::edge::EdgeError),
    /// Hashing failed (never the client's fault).
    #[error("{0}")]
    Internal(String),
    /// A worker thread (password hashing runs on the blocking pool) died.
    #[error("worker failed: {0}")]
    Worker(#[from] tokio::task::JoinError),
}

impl IdentityError {
    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }
}

/// Hashing a password fails only on our side (salt generation, parameters): never the client's fault.
impl From<argon2::password_hash::Error> for IdentityError {
    fn from(err: argon2::password_hash::Error) -> Self {
        Self::internal(err)
    }
}

impl Reportable for IdentityError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidCredentials => ErrorCode::InvalidCredentials,
            Self::EmailTaken | Self::Conflict(_) => ErrorCode::Conflict,
            Self::InvalidToken(_) => ErrorCode::InvalidToken,
            Self::LinkExpired(_) => ErrorCode::LinkExpired,
            Self::LinkUsed(_) => ErrorCode::LinkAlreadyUsed,
            Self::RefreshExpired | Self::SessionExpired => ErrorCode::TokenExpired,
            Self::InviteLocked => ErrorCode::InviteLocked,
            Self::SessionEnded => ErrorCode::TokenRevoked,
            Self::RefreshTokenReused => ErrorCode::RefreshTokenReused,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Internal(_) | Self::Worker(_) => ErrorCode::Internal,
            Self::RateLimited(e) => e.code(),
            Self::Invalid(e) => e.code(),
            Self::Auth(e) => e.code(),
            Self::Tenant(e) => e.code(),
            Self::Storage(e) => e.code(),
            Self::Edge(e) => e.code(),
        }
    }

    fn inner(&self) -> Option<&dyn Reportable> {
        match self {
            Self::RateLimited(e) => Some(e),
            Self::Invalid(e) => Some(e),
            Self::Auth(e) => Some(e),
            Self::Tenant(e) => Some(e),
            Self::Storage(e) => Some(e),
            Self::Edge(e) => Some(e),
            _ => None,
        }
    }
}

//! [`TelephonyError`]: why a Twilio account, number or call could not be set up.

use crate::auth::AuthError;
use crate::calls::CallError;
use crate::db::StorageError;
use crate::error::{ErrorCode, FieldError, InvalidInput, Reportable};
use crate::live::plan::PlanError;

#[derive(Debug, thiserror::Error)]
pub enum TelephonyError {
    /// No Twilio account, or no public URL for Twilio to reach us at; the message says which.
    #[error("{0}")]
    NotConfigured(&'static str),
    /// Twilio refused or could not be reached; the message carries its status, code and reason.
    #[error("{0}")]
    Provider(String),
    #[error("agent not found")]
    AgentNotFound,
    #[error("phone number not found")]
    NumberNotFound,
    #[error("this number is already routed to an agent")]
    NumberTaken,
    /// The stored auth token cannot be opened (e.g. the server key changed), or Twilio answered nonsense.
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<FieldError> for TelephonyError {
    fn from(error: FieldError) -> Self {
        Self::Invalid(error.into())
    }
}

/// A dial lacking variables is the caller's input to fix: see [`missing_variables`](super::outbound::missing_variables).
impl From<PlanError> for TelephonyError {
    fn from(error: PlanError) -> Self {
        Self::Invalid(super::outbound::missing_variables(error))
    }
}

impl Reportable for TelephonyError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotConfigured(_) => ErrorCode::TelephonyNotConfigured,
            Self::Provider(_) => ErrorCode::TelephonyProviderError,
            Self::AgentNotFound | Self::NumberNotFound => ErrorCode::NotFound,
            Self::NumberTaken => ErrorCode::Conflict,
            Self::Internal(_) => ErrorCode::Internal,
            Self::Invalid(e) => e.code(),
            Self::Call(e) => e.code(),
            Self::Auth(e) => e.code(),
            Self::Storage(e) => e.code(),
        }
    }

    fn inner(&self) -> Option<&dyn Reportable> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::Call(e) => Some(e),
            Self::Auth(e) => Some(e),
            Self::Storage(e) => Some(e),
            _ => None,
        }
    }
}

//! [`WebhookError`]: why an endpoint or delivery could not be changed.

use crate::db::StorageError;
use crate::error::{ErrorCode, InvalidInput, Reportable};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook endpoint not found")]
    EndpointNotFound,
    #[error("webhook delivery not found")]
    DeliveryNotFound,
    /// Only failed deliveries are retried by hand; the field is the delivery's status.
    #[error("only failed deliveries can be retried (this one is {0})")]
    NotRetryable(String),
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Reportable for WebhookError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::EndpointNotFound | Self::DeliveryNotFound => ErrorCode::NotFound,
            Self::NotRetryable(_) => ErrorCode::Conflict,
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

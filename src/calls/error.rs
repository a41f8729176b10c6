//! [`CallError`]: why a call could not be created or changed.

use crate::billing::BillingError;
use crate::db::StorageError;
use crate::error::{ErrorCode, InvalidInput, Reportable};
use crate::model::CallStatus;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("call not found")]
    NotFound,
    #[error("agent not found")]
    AgentNotFound,
    #[error("the agent is archived and takes no new calls")]
    AgentArchived,
    #[error("the call has not ended; delete it once it has")]
    InProgress,
    #[error("a {} call cannot become {}", .from.as_str(), .to.as_str())]
    InvalidTransition { from: CallStatus, to: CallStatus },
    /// Admission refused a new call (quota, suspension): the only billing check calls make.
    #[error(transparent)]
    Refused(#[from] BillingError),
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Reportable for CallError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound | Self::AgentNotFound => ErrorCode::NotFound,
            Self::AgentArchived => ErrorCode::Conflict,
            Self::InProgress => ErrorCode::CallInProgress,
            Self::InvalidTransition { .. } => ErrorCode::InvalidStateTransition,
            Self::Refused(e) => e.code(),
            Self::Invalid(e) => e.code(),
            Self::Storage(e) => e.code(),
        }
    }

    fn inner(&self) -> Option<&dyn Reportable> {
        match self {
            Self::Refused(e) => Some(e),
            Self::Invalid(e) => Some(e),
            Self::Storage(e) => Some(e),
            _ => None,
        }
    }
}

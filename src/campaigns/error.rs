//! [`CampaignError`]: why a campaign could not be created or changed.

use crate::billing::BillingError;
use crate::calls::CallError;
use crate::db::StorageError;
use crate::error::{ErrorCode, InvalidInput, Reportable};
use crate::model::campaign::CampaignStatus;
use crate::telephony::TelephonyError;

#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("campaign not found")]
    NotFound,
    #[error("agent not found")]
    AgentNotFound,
    #[error("the agent is archived and takes no new calls")]
    AgentArchived,
    #[error("a {} campaign cannot {action}", .status.as_str())]
    InvalidState {
        status: CampaignStatus,
        action: &'static str,
    },
    #[error("{0}")]
    NothingToCall(&'static str),
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Telephony(#[from] TelephonyError),
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Billing(#[from] BillingError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Reportable for CampaignError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound | Self::AgentNotFound => ErrorCode::NotFound,
            Self::AgentArchived => ErrorCode::AgentArchived,
            Self::InvalidState { .. } | Self::NothingToCall(_) => ErrorCode::InvalidCampaignState,
            Self::Invalid(e) => e.code(),
            Self::Telephony(e) => e.code(),
            Self::Call(e) => e.code(),
            Self::Billing(e) => e.code(),
            Self::Storage(e) => e.code(),
        }
    }

    fn inner(&self) -> Option<&dyn Reportable> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::Telephony(e) => Some(e),
            Self::Call(e) => Some(e),
            Self::Billing(e) => Some(e),
            Self::Storage(e) => Some(e),
            _ => None,
        }
    }
}

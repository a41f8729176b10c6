//! [`BillingError`]: why a billing operation failed, or why a call may not start.

use crate::db::StorageError;
use crate::error::{ErrorCode, InvalidInput, Reportable};

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// Admission: at the plan's concurrent-call limit.
    #[error(
        "the plan allows {limit} calls at once and {limit} are in progress; try again when one ends"
    )]
    ConcurrentCallLimit { limit: u32 },
    /// Admission: this month's call minutes are used up.
    #[error("the plan's {limit} call minutes for this month are used up")]
    MonthlyMinutesExhausted { limit: u64 },
    /// Admission: suspended for an unpaid invoice.
    #[error("this tenant is suspended for an unpaid invoice; pay it to start calls again")]
    TenantSuspended,
    #[error("no such plan: {0}")]
    PlanNotFound(String),
    #[error("the {0} plan is assigned by an operator; contact sales to change to it")]
    PlanNotAvailable(String),
    #[error("invoice not found")]
    InvoiceNotFound,
    #[error("a {from} invoice cannot become {to}")]
    InvalidTransition { from: String, to: String },
    #[error("{0}")]
    Conflict(String),
    #[error("no payment provider is configured on this server")]
    NotConfigured,
    #[error("Stripe: {0}")]
    Provider(String),
    #[error("{0}")]
    BadSignature(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// An invoice stored with a currency code that is not one: what Stripe would be sent cannot be built.
impl From<crate::model::money::InvalidCurrency> for BillingError {
    fn from(err: crate::model::money::InvalidCurrency) -> Self {
        Self::Provider(err.to_string())
    }
}

impl Reportable for BillingError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::ConcurrentCallLimit { .. } => ErrorCode::ConcurrentCallLimit,
            Self::MonthlyMinutesExhausted { .. } => ErrorCode::MonthlyMinutesExhausted,
            Self::TenantSuspended => ErrorCode::TenantSuspended,
            Self::PlanNotFound(_) | Self::InvoiceNotFound => ErrorCode::NotFound,
            Self::PlanNotAvailable(_) => ErrorCode::PlanNotAvailable,
            Self::InvalidTransition { .. } => ErrorCode::InvalidStateTransition,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::NotConfigured => ErrorCode::BillingNotConfigured,
            Self::Provider(_) => ErrorCode::PaymentProviderError,
            Self::BadSignature(_) => ErrorCode::WebhookSignatureInvalid,
            Self::BadRequest(_) => ErrorCode::BadRequest,
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

impl BillingError {
    /// Refusals of a new call (quota, suspension): reported to the caller, never logged as failures.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::ConcurrentCallLimit { .. }
                | Self::MonthlyMinutesExhausted { .. }
                | Self::TenantSuspended
        )
    }

    /// The label of a refusal in `voxedge_call_admissions_refused_total`.
    pub fn refusal_reason(&self) -> &'static str {
        match self {
            Self::ConcurrentCallLimit { .. } => "concurrent_calls",
            Self::MonthlyMinutesExhausted { .. } => "monthly_minutes",
            Self::TenantSuspended => "suspended",
            _ => "other",
        }
    }
}

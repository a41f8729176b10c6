//! A tenant's standing: whether it may start calls, as dunning moves it.

use async_graphql::Enum;

/// `tenants.status` in the catalog, as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum)]
pub enum TenantStatus {
    /// In good standing.
    Active,
    /// A payment failed: calls still work until the grace period ends.
    PastDue,
    /// Unpaid past the grace period (or closed): no new calls; the portal and API stay readable.
    Suspended,
}

impl TenantStatus {
    /// The stored value (`deleted` tenants read as suspended: they take no calls either).
    pub fn parse(stored: &str) -> Self {
        match stored {
            "active" => Self::Active,
            "past_due" => Self::PastDue,
            _ => Self::Suspended,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Suspended => "suspended",
        }
    }

    /// Whether new calls may start (live, placed, or answered).
    pub fn accepts_new_calls(self) -> bool {
        !matches!(self, Self::Suspended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_suspended_tenants_refuse_calls() {
        assert!(TenantStatus::parse("active").accepts_new_calls());
        assert!(TenantStatus::parse("past_due").accepts_new_calls());
        assert!(!TenantStatus::parse("suspended").accepts_new_calls());
        assert!(!TenantStatus::parse("deleted").accepts_new_calls());
        for status in [
            TenantStatus::Active,
            TenantStatus::PastDue,
            TenantStatus::Suspended,
        ] {
            assert_eq!(TenantStatus::parse(status.as_str()), status);
        }
    }
}

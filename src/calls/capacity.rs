//! How many calls a tenant may have going at once — the one place that answers "may this tenant start another
//! call now?" ([`CallCapacity::may_start_call`]). Today the limit is a setting per plan
//! (`--max-concurrent-calls-*`); billing plugs its plan limits in here.

use std::sync::Arc;

use crate::db::{StorageError, TenantId};
use crate::ratelimit::{LimitError, PlanLimits, RateLimits};
use crate::repo;
use crate::tenants::Tenant;

/// Concurrent-call limits by plan. Cheap to clone.
#[derive(Clone)]
pub struct CallCapacity {
    limits: PlanLimits,
    /// Reads (and caches) tenants' plans.
    plans: Arc<RateLimits>,
}

impl CallCapacity {
    pub fn new(limits: PlanLimits, plans: Arc<RateLimits>) -> Self {
        Self { limits, plans }
    }

    /// The most calls `tenant`'s plan may have going at once (0: unlimited).
    pub async fn plan_limit(&self, tenant: TenantId) -> Result<u32, StorageError> {
        let plan = match self.plans.plan_of(tenant).await {
            Ok(plan) => plan,
            Err(LimitError::Storage(e)) => return Err(e),
            // Reading a plan is never rate limited; should it be, the smallest plan's limit applies.
            Err(LimitError::Limited(_)) => "free".to_string(),
        };
        Ok(self.limits.for_plan(&plan))
    }

    /// How many more calls `tenant` may start now: its plan's limit less the calls queued, ringing or in
    /// progress. `None`: no limit.
    pub async fn free_slots(&self, tenant: &Tenant) -> Result<Option<usize>, StorageError> {
        let limit = self.plan_limit(tenant.id).await?;
        if limit == 0 {
            return Ok(None);
        }
        let active = tenant.db.read(repo::calls::count_active).await?;
        Ok(Some((limit as usize).saturating_sub(active)))
    }

    /// Whether `tenant` may start another call now.
    pub async fn may_start_call(&self, tenant: &Tenant) -> Result<bool, StorageError> {
        Ok(self.free_slots(tenant).await?.is_none_or(|free| free > 0))
    }
}

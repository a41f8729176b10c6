//! Which tenants have analyses to run: `region.db`'s `analysis_queue`, and a wake-up for the [`super::Analyst`].

use std::sync::Arc;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::db::{Database, StorageError, TenantId};
use crate::repo;

/// A handle on the analysis queue. Cheap to clone; every [`crate::tenants::Tenant`] carries one.
#[derive(Clone)]
pub struct AnalysisQueue {
    region_db: Database,
    clock: Clock,
    pub(super) wake: Arc<Notify>,
}

impl AnalysisQueue {
    pub fn new(region_db: Database, clock: Clock) -> Self {
        Self {
            region_db,
            clock,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Marks `tenant` as having analyses due now. Called before the change that may queue one commits, so a
    /// restart in between leaves at most a stale entry (one look), never a forgotten analysis.
    pub async fn queue(&self, tenant: TenantId) -> Result<(), StorageError> {
        let now = self.clock.now_ms();
        self.region_db
            .write(move |tx| repo::analysis::queue_tenant(tx, tenant, now))
            .await
    }

    /// Tells the analyst to look at the queue now (after the change committed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(super) fn region_db(&self) -> &Database {
        &self.region_db
    }
}

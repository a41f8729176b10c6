//! Live calls per tenant on this machine, so a move can wait for them to end and keep new ones out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::db::TenantId;

#[derive(Debug, Default)]
struct Entry {
    live: usize,
    /// New calls are refused (the tenant is moving).
    closed: bool,
}

/// Counts live calls per tenant. Cheap to clone.
#[derive(Clone, Default)]
pub struct LiveCalls {
    inner: Arc<Mutex<HashMap<TenantId, Entry>>>,
}

/// Held by a live call for as long as it runs.
pub struct CallGuard {
    calls: LiveCalls,
    tenant: TenantId,
}

impl LiveCalls {
    fn lock(&self) -> MutexGuard<'_, HashMap<TenantId, Entry>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a new call, unless the tenant is closed to new calls.
    pub fn enter(&self, tenant: TenantId) -> Option<CallGuard> {
        let mut map = self.lock();
        let entry = map.entry(tenant).or_default();
        if entry.closed {
            return None;
        }
        entry.live += 1;
        Some(CallGuard {
            calls: self.clone(),
            tenant,
        })
    }

    /// Refuses new calls for `tenant` until [`reopen`](Self::reopen).
    pub fn close(&self, tenant: TenantId) {
        self.lock().entry(tenant).or_default().closed = true;
    }

    pub fn reopen(&self, tenant: TenantId) {
        let mut map = self.lock();
        if let Some(entry) = map.get_mut(&tenant) {
            entry.closed = false;
            if entry.live == 0 {
                map.remove(&tenant);
            }
        }
    }

    /// Calls of `tenant` running now.
    pub fn live(&self, tenant: TenantId) -> usize {
        self.lock().get(&tenant).map_or(0, |e| e.live)
    }

    /// Waits up to `timeout` for `tenant`'s calls to end; true when none is left.
    pub async fn wait_idle(&self, tenant: TenantId, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.live(tenant) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        true
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let mut map = self.calls.lock();
        if let Some(entry) = map.get_mut(&self.tenant) {
            entry.live = entry.live.saturating_sub(1);
            if entry.live == 0 && !entry.closed {
                map.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_tenant_takes_no_new_calls_and_counts_the_running_ones() {
        let calls = LiveCalls::default();
        let tenant = TenantId::generate();
        let first = calls.enter(tenant).unwrap();
        calls.close(tenant);
        assert!(calls.enter(tenant).is_none());
        assert_eq!(calls.live(tenant), 1);
        drop(first);
        assert_eq!(calls.live(tenant), 0);
        calls.reopen(tenant);
        assert!(calls.enter(tenant).is_some());
    }
}

//! Calls a dead process left open. A server killed mid-call (`kill -9`, a crashed machine) never moved its
//! live calls to a final state; left alone they would stay `in_progress` forever and hold concurrent-call
//! slots. The first time this process opens a tenant, those calls are ended `failed`, `endedReason`
//! `server_crashed`, at the moment they were last heard of (their latest timeline event, transcript segment or
//! status change), so their duration and metered minutes stop there; the usual `call.ended` and
//! `transcript.ready` webhooks go out. Only calls voxedge carries are touched (calls recorded through
//! `createCall` are their owner's to end), and placed calls still queued or ringing are left to Twilio's
//! status callbacks and the reconciler.
//!
//! One process serves a data directory, and a tenant is checked before this process runs any call for it,
//! so an open call found then belongs to no one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::{CallError, transition_at};
use crate::db::TenantId;
use crate::model::CallStatus;
use crate::repo;
use crate::tenants::Tenant;

/// Which tenants this process has checked. Cheap to clone.
#[derive(Clone, Default)]
pub struct Recovery {
    checked: Arc<Mutex<HashMap<TenantId, Arc<OnceCell<()>>>>>,
}

impl Recovery {
    /// Ends `tenant`'s orphaned calls, the first time this process asks; whoever asks while that runs waits for
    /// it (a request must not see a dead process's call as still in progress because a background job opened
    /// the tenant a moment earlier). Failures are logged and retried on the next open; they never keep the
    /// tenant from being served.
    pub async fn once(&self, tenant: &Tenant) {
        let check = Arc::clone(
            self.checked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(tenant.id)
                .or_default(),
        );
        if check.initialized() {
            return;
        }
        let done = check
            .get_or_try_init(|| async { close_orphans(tenant).await.map(drop) })
            .await;
        if let Err(e) = done {
            tracing::error!(tenant_id = %tenant.id, error = %e, "cannot end the calls a previous process left open");
        }
    }
}

/// Ends every orphaned call of `tenant`; returns how many.
pub async fn close_orphans(tenant: &Tenant) -> Result<usize, CallError> {
    let orphans = tenant.db.read(repo::calls::orphaned_calls).await?;
    for (call_id, last_heard) in &orphans {
        let ended = transition_at(
            tenant,
            call_id.clone(),
            CallStatus::Failed,
            Some("server_crashed".into()),
            Some(*last_heard),
        )
        .await;
        match ended {
            Ok(_) => {
                tracing::warn!(tenant_id = %tenant.id, call_id, "ended a call a previous process left open")
            }
            // Ended meanwhile by something else: nothing left to do.
            Err(CallError::InvalidTransition { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if !orphans.is_empty() {
        metrics::counter!("voxedge_calls_recovered_total").increment(orphans.len() as u64);
    }
    Ok(orphans.len())
}

//! The calls this server is running right now, so that what arrives for a call from elsewhere — Twilio's
//! status and answering-machine callbacks — can reach its session, and so that a callback for a call no
//! session holds (the server restarted mid-call) can end the call instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::voicemail::AnsweredBy;
use crate::db::TenantId;

/// Something for a running call's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Twilio's answering-machine detection decided.
    AnsweredBy(AnsweredBy),
}

type Key = (TenantId, String);

/// Running calls by tenant and call id. Cheap to clone.
#[derive(Clone, Default)]
pub struct LiveCalls {
    calls: Arc<Mutex<HashMap<Key, mpsc::UnboundedSender<Signal>>>>,
}

/// A call's place in the registry; dropping it (the session ended) removes the call.
pub struct Registration {
    calls: LiveCalls,
    key: Key,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.calls.lock().remove(&self.key);
    }
}

impl LiveCalls {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, mpsc::UnboundedSender<Signal>>> {
        self.calls
            .lock()
            .expect("invariant: the registry lock is never poisoned")
    }

    /// Registers a running call; its signals arrive on the receiver until the registration is dropped.
    pub fn register(
        &self,
        tenant: TenantId,
        call_id: &str,
    ) -> (Registration, mpsc::UnboundedReceiver<Signal>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let key = (tenant, call_id.to_string());
        self.lock().insert(key.clone(), tx);
        (
            Registration {
                calls: self.clone(),
                key,
            },
            rx,
        )
    }

    /// Whether a session on this server holds the call.
    pub fn is_live(&self, tenant: TenantId, call_id: &str) -> bool {
        self.lock().contains_key(&(tenant, call_id.to_string()))
    }

    /// Hands `signal` to the call's session; false when no session holds it.
    pub fn signal(&self, tenant: TenantId, call_id: &str, signal: Signal) -> bool {
        self.lock()
            .get(&(tenant, call_id.to_string()))
            .is_some_and(|tx| tx.send(signal).is_ok())
    }

    /// Calls running now.
    pub fn count(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn signals_reach_the_session_until_it_ends() {
        let calls = LiveCalls::new();
        let tenant = TenantId::generate();
        let (registration, mut rx) = calls.register(tenant, "c1");
        assert!(calls.is_live(tenant, "c1"));
        assert!(!calls.is_live(TenantId::generate(), "c1"), "per tenant");
        let signal = Signal::AnsweredBy(AnsweredBy::Human);
        assert!(calls.signal(tenant, "c1", signal));
        assert_eq!(rx.recv().await, Some(signal));
        drop(registration);
        assert!(!calls.is_live(tenant, "c1"));
        assert!(!calls.signal(tenant, "c1", signal));
        assert_eq!(calls.count(), 0);
    }
}

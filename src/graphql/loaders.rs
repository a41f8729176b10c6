//! Batch loading: a page of calls resolving their agents costs one query for all agents, not one each.
//!
//! Keys asked for while a request is being resolved are loaded together as soon as the request's task yields —
//! batching per scheduler turn, as JavaScript's DataLoader batches per tick — rather than after a timer. The timer
//! (async-graphql's `DataLoader` waits 1 ms for more keys, and tokio rounds sleeps up to the next millisecond)
//! made every single-agent read ten times slower than the query itself. Sibling fields of a list are polled in
//! the same turn, so they still share one query.
//!
//! Loaders are created per request (or WebSocket operation) for the principal's tenant only. Agent versions never
//! change once saved, so they come from the process-wide [`AgentCache`] when they are there (no database read at
//! all) and go into it when they are read.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::oneshot;

use crate::agents::AgentCache;
use crate::db::{TenantId, TenantStore};
use crate::error::ApiError;
use crate::repo;
use crate::repo::agents::{AgentRow, VersionRow};

/// The request's loaders for one tenant.
pub struct TenantLoaders {
    tenant: TenantId,
    /// Agents by id.
    pub agents: Batcher<String, AgentRow>,
    /// Agent versions by (agent id, version), for those not cached.
    versions: Batcher<(String, i64), Arc<VersionRow>>,
    cache: AgentCache,
}

impl TenantLoaders {
    /// Version `version` of agent `agent_id` (`None`: there is no such version).
    pub async fn version(
        &self,
        agent_id: &str,
        version: i64,
    ) -> Result<Option<VersionRow>, ApiError> {
        if let Some(row) = self.cache.version(self.tenant, agent_id, version).await {
            return Ok(Some(VersionRow::clone(&row)));
        }
        let loaded = self.versions.load((agent_id.to_string(), version)).await?;
        Ok(loaded.map(|row| VersionRow::clone(&row)))
    }
}

/// The loaders for `tenant`, to attach to a request's data.
pub fn for_tenant(tenants: &TenantStore, cache: &AgentCache, tenant: TenantId) -> TenantLoaders {
    let store = tenants.clone();
    let agents = Batcher::new(move |ids: Vec<String>| {
        let store = store.clone();
        async move {
            let db = store.get(tenant).await?;
            let rows = db
                .read(move |conn| repo::agents::get_agents(conn, &ids))
                .await?;
            Ok(rows.into_iter().map(|row| (row.id.clone(), row)).collect())
        }
    });
    let (store, versions_cache) = (tenants.clone(), cache.clone());
    let versions = Batcher::new(move |pairs: Vec<(String, i64)>| {
        let (store, cache) = (store.clone(), versions_cache.clone());
        async move {
            let db = store.get(tenant).await?;
            let rows = db
                .read(move |conn| repo::agents::get_versions(conn, &pairs))
                .await?;
            let mut found = HashMap::with_capacity(rows.len());
            for row in rows {
                let row = Arc::new(row);
                cache.remember_version(tenant, Arc::clone(&row)).await;
                found.insert((row.agent_id.clone(), row.version), row);
            }
            Ok(found)
        }
    });
    TenantLoaders {
        tenant,
        agents,
        versions,
        cache: cache.clone(),
    }
}

type Fetch<K, V> =
    dyn Fn(Vec<K>) -> BoxFuture<'static, Result<HashMap<K, V>, ApiError>> + Send + Sync;

type Reply<V> = oneshot::Sender<Result<Option<V>, ApiError>>;

/// Keys waiting for the next batch, each with where its value goes.
type Waiting<K, V> = Arc<Mutex<Vec<(K, Reply<V>)>>>;

/// Collects keys and loads each batch with one call of its fetch function.
pub struct Batcher<K, V> {
    waiting: Waiting<K, V>,
    fetch: Arc<Fetch<K, V>>,
}

impl<K, V> Batcher<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    /// A batcher loading with `fetch`, which returns the rows it found by key (missing keys are absent).
    pub fn new<F, Fut>(fetch: F) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HashMap<K, V>, ApiError>> + Send + 'static,
    {
        Self {
            waiting: Arc::new(Mutex::new(Vec::new())),
            fetch: Arc::new(move |keys| Box::pin(fetch(keys))),
        }
    }

    /// The value for `key` (`None` when there is none), loaded with the other keys asked for in this turn.
    pub async fn load(&self, key: K) -> Result<Option<V>, ApiError> {
        let (reply, answer) = oneshot::channel();
        let first = {
            let mut waiting = lock(&self.waiting);
            waiting.push((key, reply));
            waiting.len() == 1
        };
        if first {
            // A task of its own, so the batch is loaded even if the request that started it stops waiting.
            tokio::spawn(load_batch(
                Arc::clone(&self.waiting),
                Arc::clone(&self.fetch),
            ));
        }
        answer
            .await
            .map_err(|_| ApiError::internal("a batch load was abandoned"))?
    }
}

async fn load_batch<K, V>(waiting: Waiting<K, V>, fetch: Arc<Fetch<K, V>>)
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    // The request that asked first is still resolving its sibling fields: let it finish this turn.
    tokio::task::yield_now().await;
    let batch = std::mem::take(&mut *lock(&waiting));
    let mut keys: Vec<K> = batch.iter().map(|(key, _)| key.clone()).collect();
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.retain(|key| seen.insert(key.clone()));
    match fetch(keys).await {
        Ok(found) => {
            for (key, reply) in batch {
                let _ = reply.send(Ok(found.get(&key).cloned()));
            }
        }
        Err(e) => {
            for (_, reply) in batch {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// The waiting list is only pushed to and taken whole, so a panic elsewhere cannot leave it inconsistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn squares(calls: Arc<AtomicUsize>) -> Batcher<u32, u32> {
        Batcher::new(move |keys: Vec<u32>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if keys.contains(&1000) {
                    return Err(ApiError::internal("unlucky"));
                }
                Ok(keys
                    .into_iter()
                    .filter(|k| *k < 100)
                    .map(|k| (k, k * k))
                    .collect())
            }
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_asked_for_together_are_loaded_in_one_call() {
        let calls = Arc::new(AtomicUsize::new(0));
        let batcher = Arc::new(squares(Arc::clone(&calls)));
        // Resolved in a task of its own, as a request is.
        let request = Arc::clone(&batcher);
        let values = tokio::spawn(async move {
            futures::future::join_all((0..50).map(|k| request.load(k % 25))).await
        })
        .await
        .unwrap();
        let values: Vec<_> = values.into_iter().map(Result::unwrap).collect();
        assert_eq!(values[7], Some(49));
        assert_eq!(values[32], Some(49));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(batcher.load(200).await.unwrap(), None);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_batch_fails_each_of_its_keys_and_not_the_next_batch() {
        let batcher = squares(Arc::new(AtomicUsize::new(0)));
        let (a, b) = futures::join!(batcher.load(1000), batcher.load(2));
        assert!(a.is_err() && b.is_err());
        assert_eq!(batcher.load(3).await.unwrap(), Some(9));
    }
}

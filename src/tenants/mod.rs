//! Tenants: the handle domain code works through ([`Tenant`]), and provisioning new ones ([`provision`]).
//!
//! A [`Tenant`] is one open tenant database plus where that tenant's changes are announced: the live event
//! bus (subscriptions), the webhook dispatcher and the post-call analysis queue. Domain functions take a
//! `&Tenant` — never the whole application state — and [`Tenant::commit`] is the one way a change is
//! written, published in commit order, and handed to webhook delivery.

mod provision;

pub use provision::{MAX_NAME_CHARS, find, provision, register, slugify, validate_name};

use rusqlite::Transaction;

use crate::analysis::AnalysisQueue;
use crate::db::{Database, StorageError, TenantId};
use crate::error::{ErrorCode, InvalidInput, Reportable};
use crate::events::{EventBus, TenantEvent};
use crate::webhooks::Dispatcher;

/// One open tenant, as domain code sees it. Cheap to clone.
#[derive(Clone)]
pub struct Tenant {
    pub id: TenantId,
    pub db: Database,
    events: EventBus,
    webhooks: Dispatcher,
    analysis: AnalysisQueue,
}

/// What a committed change produced: its value, the events to publish, and how many webhook deliveries it
/// queued in the same transaction.
pub struct Change<T> {
    pub value: T,
    pub events: Vec<TenantEvent>,
    pub deliveries: usize,
}

impl<T> Change<T> {
    /// A change that publishes nothing.
    pub fn quiet(value: T) -> Self {
        Self {
            value,
            events: Vec::new(),
            deliveries: 0,
        }
    }
}

impl Tenant {
    pub fn new(
        id: TenantId,
        db: Database,
        events: EventBus,
        webhooks: Dispatcher,
        analysis: AnalysisQueue,
    ) -> Self {
        Self {
            id,
            db,
            events,
            webhooks,
            analysis,
        }
    }

    /// Where this tenant's post-call analyses are queued.
    pub fn analysis(&self) -> &AnalysisQueue {
        &self.analysis
    }

    /// Runs `f` in one write transaction. After it commits, its events are published (while the writer is
    /// still held, so subscribers see commit order) and queued webhook deliveries are handed to the dispatcher.
    pub async fn commit<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Transaction<'_>) -> Result<Change<T>, E> + Send + 'static,
        E: From<StorageError> + Send + 'static,
        T: Send + 'static,
    {
        let (bus, id) = (self.events.clone(), self.id);
        let change = self
            .db
            .write_then(f, move |change: &Change<T>| {
                bus.publish_all(id, change.events.iter().cloned())
            })
            .await?;
        if change.deliveries > 0 {
            self.webhooks.queued(self.id).await;
        }
        Ok(change.value)
    }
}

/// Opens tenants by id, for background work that serves many (the billing job, Stripe's webhooks). Cheap to
/// clone.
#[derive(Clone)]
pub struct Tenants {
    store: crate::db::TenantStore,
    events: EventBus,
    webhooks: Dispatcher,
    analysis: AnalysisQueue,
    recovery: crate::calls::Recovery,
}

impl Tenants {
    pub fn new(
        store: crate::db::TenantStore,
        events: EventBus,
        webhooks: Dispatcher,
        analysis: AnalysisQueue,
        recovery: crate::calls::Recovery,
    ) -> Self {
        Self {
            store,
            events,
            webhooks,
            analysis,
            recovery,
        }
    }

    /// The tenant, its database opened on demand; the first time in this process, the calls a previous
    /// process left open are ended ([`crate::calls::Recovery`]).
    pub async fn open(&self, id: TenantId) -> Result<Tenant, StorageError> {
        let db = self.store.get(id).await?;
        let tenant = Tenant::new(
            id,
            db,
            self.events.clone(),
            self.webhooks.clone(),
            self.analysis.clone(),
        );
        self.recovery.once(&tenant).await;
        Ok(tenant)
    }
}

/// Failures looking up or provisioning tenants.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("tenant not found")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] InvalidInput),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl Reportable for TenantError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound => ErrorCode::NotFound,
            Self::Invalid(e) => e.code(),
            Self::Storage(e) => e.code(),
        }
    }

    fn inner(&self) -> Option<&dyn Reportable> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::Storage(e) => Some(e),
            Self::NotFound => None,
        }
    }
}

//! The DNS resolver of [`OutboundClient`](super::OutboundClient)s: resolves a name once and hands the
//! connector only addresses the policy allows, so the address checked is the address connected to.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{OutboundPolicy, ResolveError};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(super) struct PolicyResolver {
    policy: OutboundPolicy,
    /// What the client is for, to label refusals.
    purpose: &'static str,
}

impl PolicyResolver {
    pub(super) fn new(policy: OutboundPolicy, purpose: &'static str) -> Self {
        Self { policy, purpose }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let purpose = self.purpose;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            match policy.resolve(&host).await {
                Ok(addrs) => Ok(Box::new(addrs.into_iter()) as Addrs),
                // Boxed as itself, so `outbound::refusal` can find it under reqwest's error.
                Err(ResolveError::Refused(refused)) => {
                    super::count_refused(purpose);
                    Err(Box::new(refused) as BoxError)
                }
                Err(ResolveError::Lookup(error)) => Err(Box::new(error) as BoxError),
            }
        })
    }
}

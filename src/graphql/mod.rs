//! The GraphQL schema, assembled from one file per domain.
//!
//! Every resolver runs as the request's [`Principal`](crate::auth::Principal) (see [`context`]); errors
//! carry a stable `extensions.code` (see [`codes`]). `schema.graphql` at the repository root is this
//! schema's SDL, kept in sync by a test.

mod agents;
mod analysis;
mod api_keys;
pub mod audit;
mod audit_log;
mod auth;
mod calls;
mod campaign_progress;
mod campaigns;
pub mod codes;
pub mod context;
mod heartbeat;
mod live;
mod llm_keys;
pub mod loaders;
mod members;
pub mod pagination;
mod recordings;
mod session_tokens;
mod telephony;
mod transcript_search;
mod usage;
mod viewer;
mod webhooks;

use async_graphql::{MergedObject, MergedSubscription, Schema};

use crate::config::GraphqlLimits;
use crate::state::AppState;

#[derive(MergedObject, Default)]
pub struct Query(
    viewer::ViewerQuery,
    api_keys::ApiKeyQuery,
    agents::AgentQuery,
    calls::CallQuery,
    campaigns::CampaignQuery,
    transcript_search::TranscriptSearchQuery,
    webhooks::WebhookQuery,
    telephony::TelephonyQuery,
    llm_keys::LlmKeyQuery,
    members::MemberQuery,
    audit_log::AuditQuery,
    usage::UsageQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    viewer::TenantMutation,
    api_keys::ApiKeyMutation,
    agents::AgentMutation,
    calls::CallMutation,
    recordings::RecordingMutation,
    campaigns::CampaignMutation,
    webhooks::WebhookMutation,
    telephony::TelephonyMutation,
    llm_keys::LlmKeyMutation,
    auth::AuthMutation,
    members::MemberMutation,
    session_tokens::SessionTokenMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(
    heartbeat::HeartbeatSubscription,
    live::LiveSubscription,
    campaign_progress::CampaignSubscription,
);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The schema served by the API, with its limits and the application state resolvers use.
pub fn build(state: AppState, limits: GraphqlLimits) -> AppSchema {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .data(state)
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .extension(codes::ErrorCodes)
    .extension(audit::Audit)
    .finish()
}

/// The schema's SDL, as printed by `voxedge schema` and stored in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .finish()
    .sdl()
}

//! The GraphQL schema, assembled from one file per domain.
//!
//! Every resolver runs as the request's [`Principal`](crate::auth::Principal) (see [`context`]); errors
//! carry a stable `extensions.code` (see [`codes`]). `schema.graphql` at the repository root is this
//! schema's SDL, kept in sync by a test.

mod account;
mod agents;
mod analysis;
mod api_keys;
pub mod audit;
mod audit_log;
mod auth;
mod billing;
mod billing_types;
mod calls;
mod campaign_progress;
mod campaigns;
pub mod codes;
pub mod context;
pub mod guard;
mod heartbeat;
mod live;
mod llm_keys;
pub mod loaders;
mod members;
mod onboarding;
pub mod pagination;
mod recordings;
pub mod session_cookie;
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
    billing::BillingQuery,
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
    account::AccountMutation,
    members::MemberMutation,
    session_tokens::SessionTokenMutation,
    billing::BillingMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(
    heartbeat::HeartbeatSubscription,
    live::LiveSubscription,
    campaign_progress::CampaignSubscription,
);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The mutations that write the catalog (users, sessions, memberships, invitations, email links, plans and
/// payment accounts, tenants). Outside the primary
/// region they are replayed there before anything runs (`http::routing`); every other mutation writes only its
/// tenant's own file, in the tenant's home region. A test makes every mutation of the schema choose a side.
pub const CATALOG_MUTATIONS: &[&str] = &[
    "signUp",
    "login",
    "refreshSession",
    "logout",
    "switchTenant",
    "inviteMember",
    "revokeInvite",
    "acceptInvite",
    "changeMemberRole",
    "removeMember",
    "transferOwnership",
    "updateTenant",
    "logoutEverywhere",
    "verifyEmail",
    "resendVerificationEmail",
    "requestPasswordReset",
    "resetPassword",
    "changePlan",
    "createBillingPortalSession",
];

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
    .limit_directives(limits.max_directives)
    .extension(codes::ErrorCodes)
    .extension(guard::DocumentGuard {
        max_aliases: limits.max_aliases,
        max_fields: limits.max_complexity,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Mutations that write only their tenant's file (served in its home region).
    const TENANT_MUTATIONS: &[&str] = &[
        "createAgent",
        "updateAgent",
        "rollbackAgent",
        "archiveAgent",
        "unarchiveAgent",
        "createApiKey",
        "revokeApiKey",
        "createCall",
        "updateCallStatus",
        "addTranscriptSegments",
        "createWebhookEndpoint",
        "updateWebhookEndpoint",
        "deleteWebhookEndpoint",
        "rotateWebhookSecret",
        "retryWebhookDelivery",
        "setTwilioAccount",
        "deleteTwilioAccount",
        "addPhoneNumber",
        "updatePhoneNumber",
        "removePhoneNumber",
        "placeCall",
        "setLlmKey",
        "deleteLlmKey",
        "createSessionToken",
        "createCampaign",
        "addCampaignContacts",
        "startCampaign",
        "pauseCampaign",
        "resumeCampaign",
        "cancelCampaign",
        "deleteCall",
        "deleteCallRecording",
        "setRecordingRetention",
    ];

    #[test]
    fn every_mutation_says_whether_it_writes_the_catalog() {
        let sdl = sdl();
        let start = sdl
            .find("type Mutation {")
            .expect("the schema has mutations");
        let end = start + sdl[start..].find("\n}").expect("the type ends");
        // Descriptions go; field lines are one tab in and start with the field's name.
        let without_docs: String = sdl[start..end].split("\"\"\"").step_by(2).collect();
        let fields: Vec<&str> = without_docs
            .lines()
            .filter_map(|line| line.strip_prefix('\t'))
            .filter(|line| line.starts_with(|c: char| c.is_ascii_lowercase()))
            .filter_map(|line| line.split(['(', ':']).next())
            .collect();
        assert!(fields.len() > 20, "parsed {fields:?}");
        for field in &fields {
            let catalog = CATALOG_MUTATIONS.contains(field);
            let tenant = TENANT_MUTATIONS.contains(field);
            assert!(
                catalog ^ tenant,
                "mutation {field}: list it in CATALOG_MUTATIONS if it writes the catalog, else in TENANT_MUTATIONS"
            );
        }
        for listed in CATALOG_MUTATIONS.iter().chain(TENANT_MUTATIONS) {
            assert!(
                fields.contains(listed),
                "{listed} is not a mutation any more"
            );
        }
    }
}

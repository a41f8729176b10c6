//! Value types shared by the domain, storage and the API: small enums and records that say what something
//! is, with no I/O. `repo` stores them, domain modules decide with them, `graphql` exposes them.
//!
//! - [`agent`]: an agent's versioned configuration ([`AgentConfig`]), complete and valid once stored.
//! - [`analysis`]: post-call analysis status and the caller's sentiment.
//! - [`campaign`]: outbound campaigns — status, calling windows, retry rules, call outcomes.
//! - [`call`]: call status (the state machine), direction, transport, speaker.
//! - [`role`]: member and API key roles.
//! - [`tenant`]: a tenant's standing (active, past due, suspended).
//! - [`usage`]: metered quantities.
//! - [`money`]: exact decimal amounts, currencies, the rounding rule.
//! - [`plan`]: plan terms (prices, inclusions, limits) and billing units.
//! - [`variables`]: a call's dynamic variables, the values `{{name}}` placeholders are filled with.

pub mod agent;
pub mod analysis;
pub mod call;
pub mod campaign;
pub mod money;
pub mod plan;
pub mod role;
pub mod tenant;
pub mod usage;
pub mod variables;

pub use agent::AgentConfig;
pub use call::{CallStatus, Direction, Speaker, Transport};
pub use money::{Currency, Money, round_cents};
pub use plan::{PerMetric, PlanTerms, TermsOverride};
pub use role::Role;
pub use tenant::TenantStatus;
pub use usage::{Metric, NewUsage};
pub use variables::Variables;

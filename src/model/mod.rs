//! Value types shared by the domain, storage and the API: small enums and records that say what something
//! is, with no I/O. `repo` stores them, domain modules decide with them, `graphql` exposes them.
//!
//! - [`agent`]: an agent's versioned configuration ([`AgentConfig`]), complete and valid once stored.
//! - [`analysis`]: post-call analysis status and the caller's sentiment.
//! - [`campaign`]: outbound campaigns — status, calling windows, retry rules, call outcomes.
//! - [`call`]: call status (the state machine), direction, transport, speaker.
//! - [`role`]: member and API key roles.
//! - [`usage`]: metered quantities.
//! - [`variables`]: a call's dynamic variables, the values `{{name}}` placeholders are filled with.

pub mod agent;
pub mod analysis;
pub mod call;
pub mod campaign;
pub mod role;
pub mod usage;
pub mod variables;

pub use agent::AgentConfig;
pub use call::{CallStatus, Direction, Speaker, Transport};
pub use role::Role;
pub use usage::{Metric, NewUsage};
pub use variables::Variables;

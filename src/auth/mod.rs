//! Who is calling, and what they may do.
//!
//! Every request runs as a [`Principal`] scoped to exactly one tenant. Credentials are resolved into a
//! principal at the edge (HTTP `Authorization`, WebSocket `connection_init`) by the [`Authenticator`];
//! resolvers only ever see the principal and check [`Permission`]s against its [`Role`].

mod api_key;
mod authenticator;
mod error;
pub mod keys;
pub mod tokens;

pub use api_key::{ApiKeyToken, IssuedApiKey, display_prefix, hash_secret, issue_api_key};
pub use authenticator::{Authenticator, KeyToVerify, KeyVerdict, Revocation, Verified};
pub use error::AuthError;
pub use tokens::{AccessGrant, SessionGrant, TokenSigner};

use crate::db::TenantId;
use crate::model::Role;

/// Things a principal may be allowed to do. The role matrix lives in [`Role::allows`] and nowhere else
/// (the README's Roles table is checked against it by a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// See the tenant (`viewer`).
    ReadTenant,
    /// Rename the tenant.
    ManageTenant,
    /// List, create and revoke API keys.
    ManageApiKeys,
    /// List members and pending invites.
    ReadMembers,
    /// Invite members, change their roles, remove them.
    ManageMembers,
    /// Hand ownership to another member.
    TransferOwnership,
    /// Read the audit log.
    ReadAuditLog,
    /// Mint ephemeral live-call session tokens.
    CreateSessionTokens,
    /// Read agents and their versions.
    ReadAgents,
    /// Create, change, roll back and archive agents.
    EditAgents,
    /// Read calls, timelines and transcripts; subscribe to them; export them.
    ReadCalls,
    /// See callers' and contacts' phone numbers in full (others see them masked: `+1 415 ••• 0199`).
    ReadPhoneNumbers,
    /// Create calls, move them through their states, add transcript segments.
    ManageCalls,
    /// Manage webhook endpoints and see their delivery logs.
    ManageWebhooks,
    /// See the Twilio account (never its auth token) and the phone numbers.
    ReadTelephony,
    /// Configure telephony (Twilio account, phone numbers).
    ManageTelephony,
    /// See usage and invoices.
    ReadBilling,
    /// Change plans and payment.
    ManageBilling,
}

impl Permission {
    pub const ALL: [Permission; 18] = [
        Permission::ReadTenant,
        Permission::ManageTenant,
        Permission::ManageApiKeys,
        Permission::ReadMembers,
        Permission::ManageMembers,
        Permission::TransferOwnership,
        Permission::ReadAuditLog,
        Permission::CreateSessionTokens,
        Permission::ReadAgents,
        Permission::EditAgents,
        Permission::ReadCalls,
        Permission::ReadPhoneNumbers,
        Permission::ManageCalls,
        Permission::ManageWebhooks,
        Permission::ReadTelephony,
        Permission::ManageTelephony,
        Permission::ReadBilling,
        Permission::ManageBilling,
    ];
}

impl Role {
    /// The role matrix.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            ReadTenant | ReadMembers => true,
            ManageTenant | ManageMembers | ReadAuditLog => matches!(self, Owner | Admin),
            TransferOwnership => self == Owner,
            ManageApiKeys | CreateSessionTokens | EditAgents | ManageCalls | ManageWebhooks
            | ManageTelephony | ReadPhoneNumbers => matches!(self, Owner | Admin | Developer),
            ReadAgents | ReadCalls | ReadTelephony => {
                matches!(self, Owner | Admin | Developer | Viewer)
            }
            ReadBilling => matches!(self, Owner | Admin | Billing),
            ManageBilling => matches!(self, Owner | Billing),
        }
    }

    /// Whether a principal with this role may hand `other` to a new key or member: never above its own.
    pub fn can_grant(self, other: Role) -> bool {
        use Role::*;
        match self {
            Owner => true,
            Admin => other != Owner,
            Developer => matches!(other, Developer | Viewer),
            Viewer => other == Viewer,
            Billing => other == Billing,
        }
    }
}

/// What kind of credential a principal authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A tenant API key.
    ApiKey { key_id: String },
    /// A portal user, signed in with an access token.
    User { user_id: String },
    /// An ephemeral live-call session token, scoped to one agent. Never valid for GraphQL.
    Session { agent_id: String },
}

impl Actor {
    /// How the actor is recorded in `created_by` columns and the audit log.
    pub fn label(&self) -> String {
        match self {
            Actor::ApiKey { key_id } => format!("api_key:{key_id}"),
            Actor::User { user_id } => format!("user:{user_id}"),
            Actor::Session { agent_id } => format!("session:{agent_id}"),
        }
    }
}

/// An authenticated caller, scoped to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: TenantId,
    pub role: Role,
    pub actor: Actor,
    /// For a user whose email address is not verified yet: when they signed up (the grace period runs from
    /// there). `None` for verified users and API keys.
    pub unverified_since: Option<i64>,
}

impl Principal {
    /// Refuses with `FORBIDDEN` unless the principal's role allows `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        // Session tokens only ever open a live call; they hold no permission at all.
        let session = matches!(self.actor, Actor::Session { .. });
        if self.role.allows(permission) && !session {
            Ok(())
        } else {
            Err(AuthError::Forbidden(format!(
                "the {} role may not do this ({permission:?})",
                self.role
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_roles_table_is_the_matrix() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        for permission in Permission::ALL {
            let name = format!("`{permission:?}`");
            let row = readme
                .lines()
                .find(|line| line.starts_with('|') && line.contains(&name))
                .unwrap_or_else(|| panic!("README Roles table has no row for {name}"));
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            // | permission | owner | admin | developer | viewer | billing |
            for (i, role) in Role::ALL.into_iter().enumerate() {
                let ticked = cells.get(i + 2).is_some_and(|c| *c == "✓");
                assert_eq!(
                    ticked,
                    role.allows(permission),
                    "README says {role} {} {name}",
                    if ticked { "has" } else { "lacks" }
                );
            }
        }
    }

    #[test]
    fn session_principals_hold_no_permission() {
        let principal = Principal {
            tenant_id: TenantId::generate(),
            role: Role::Owner,
            actor: Actor::Session {
                agent_id: "a".into(),
            },
            unverified_since: None,
        };
        for permission in Permission::ALL {
            assert!(principal.require(permission).is_err());
        }
    }

    #[test]
    fn nobody_grants_above_themselves() {
        for granter in Role::ALL {
            assert!(granter.can_grant(granter) || granter == Role::Owner);
            if granter != Role::Owner {
                assert!(!granter.can_grant(Role::Owner), "{granter} granted owner");
            }
        }
        assert!(!Role::Developer.can_grant(Role::Admin));
        assert!(!Role::Viewer.can_grant(Role::Developer));
        assert!(!Role::Billing.can_grant(Role::Viewer));
    }
}

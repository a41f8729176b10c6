//! Who is calling, and what they may do.
//!
//! Every request runs as a [`Principal`] scoped to exactly one tenant. Credentials are resolved into a
//! principal at the edge (HTTP `Authorization`, WebSocket `connection_init`) by the [`Authenticator`];
//! resolvers only ever see the principal and check [`Permission`]s against its [`Role`].

mod api_key;
mod authenticator;
pub mod keys;

pub use api_key::{ApiKeyToken, IssuedApiKey, display_prefix, hash_secret, issue_api_key};
pub use authenticator::Authenticator;

use std::fmt;
use std::str::FromStr;

use crate::db::TenantId;
use crate::error::{ApiError, ErrorCode};

/// A member's or key's role within a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
pub enum Role {
    /// Everything, including ownership transfer and deleting the tenant.
    Owner,
    /// Everything but ownership and billing changes.
    Admin,
    /// Builds integrations: agents, keys, webhooks, telephony.
    Developer,
    /// Reads agents, calls and transcripts.
    Viewer,
    /// Reads and manages invoices and payment.
    Billing,
}

/// Things a principal may be allowed to do. The role matrix lives in [`Role::allows`] and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ReadTenant,
    ManageTenant,
    ManageApiKeys,
    ReadAgents,
    EditAgents,
    ReadCalls,
    ManageCalls,
    ManageWebhooks,
    ManageTelephony,
    ReadBilling,
    ManageBilling,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Developer,
        Role::Viewer,
        Role::Billing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
            Role::Billing => "billing",
        }
    }

    /// The role matrix.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match permission {
            ReadTenant => true,
            ManageTenant => matches!(self, Owner | Admin),
            ManageApiKeys | EditAgents | ManageCalls | ManageWebhooks | ManageTelephony => {
                matches!(self, Owner | Admin | Developer)
            }
            ReadAgents | ReadCalls => matches!(self, Owner | Admin | Developer | Viewer),
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

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ApiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ApiError::new(ErrorCode::InvalidInput, format!("unknown role {s:?}")))
    }
}

/// What kind of credential a principal authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A tenant API key.
    ApiKey { key_id: String },
}

impl Actor {
    /// How the actor is recorded in `created_by` columns and the audit log.
    pub fn label(&self) -> String {
        match self {
            Actor::ApiKey { key_id } => format!("api_key:{key_id}"),
        }
    }
}

/// An authenticated caller, scoped to one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: TenantId,
    pub role: Role,
    pub actor: Actor,
}

impl Principal {
    /// Refuses with `FORBIDDEN` unless the principal's role allows `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.role.allows(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
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
    fn roles_parse_from_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
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

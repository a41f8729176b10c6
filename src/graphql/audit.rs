//! Audits every mutation automatically.
//!
//! An async-graphql extension wraps each top-level `Mutation` field: once it has resolved, an entry is
//! appended to the tenant's audit log with action = the field name, target = the `id` / `userId` /
//! `agentId` argument (also inside `input`) or else the result's `id`, success or failure with the error
//! code, and the request's IP and user agent. Resolvers written later are covered without doing anything.
//!
//! Resolvers of mutations that run without a principal (sign-up, sign-in, refresh, ...) say which
//! tenant(s) and actor the entry belongs to, and may rename the action, with [`note`].

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextResolve, ResolveInfo,
};
use async_graphql::{Context, Name, Request, ServerResult, Value, Variables};

use super::codes::code_of;
use super::context::RequestMeta;
use crate::audit::Event;
use crate::auth::Principal;
use crate::db::TenantId;
use crate::state::AppState;

/// Argument names that identify what a mutation acts on, in order of preference.
const TARGET_ARGS: [&str; 4] = ["id", "userId", "agentId", "tenantId"];

/// What a resolver says about its own audit entry.
#[derive(Debug, Clone, Default)]
pub struct Notes {
    /// Tenants to record in (default: the principal's).
    pub tenants: Vec<TenantId>,
    /// Who acted (default: the principal, or `anonymous`).
    pub actor: Option<String>,
    /// The action's name (default: the mutation field's name).
    pub action: Option<String>,
    /// What was acted on (default: from the arguments or the result).
    pub target: Option<String>,
}

/// Per-request state: the variables (to read arguments) and the current field's notes.
struct AuditState {
    variables: Variables,
    notes: Mutex<Notes>,
}

/// Lets the running mutation resolver shape its audit entry.
pub fn note(ctx: &Context<'_>, update: impl FnOnce(&mut Notes)) {
    if let Some(state) = ctx.data_opt::<AuditState>() {
        update(&mut state.notes.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// The extension factory to register on the schema.
pub struct Audit;

impl ExtensionFactory for Audit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AuditExtension)
    }
}

struct AuditExtension;

#[async_trait::async_trait]
impl Extension for AuditExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let state = AuditState {
            variables: request.variables.clone(),
            notes: Mutex::default(),
        };
        next.run(ctx, request.data(state)).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type != "Mutation" {
            return next.run(ctx, info).await;
        }
        let state = ctx.data_opt::<AuditState>();
        let action = info.name.to_string();
        let arg_target = state.and_then(|s| target_from_arguments(info.field, &s.variables));
        let result = next.run(ctx, info).await;
        let (Some(app), Some(state)) = (ctx.data_opt::<AppState>(), state) else {
            return result;
        };
        let notes = std::mem::take(&mut *state.notes.lock().unwrap_or_else(|e| e.into_inner()));
        let principal = ctx.data_opt::<Principal>();
        let meta = ctx.data_opt::<RequestMeta>().cloned().unwrap_or_default();
        let tenants = if notes.tenants.is_empty() {
            principal.map(|p| vec![p.tenant_id]).unwrap_or_default()
        } else {
            notes.tenants
        };
        let event = Event {
            actor: notes
                .actor
                .or_else(|| principal.map(|p| p.actor.label()))
                .unwrap_or_else(|| "anonymous".into()),
            action: notes.action.unwrap_or(action),
            target: notes.target.or(arg_target).or_else(|| {
                result
                    .as_ref()
                    .ok()
                    .and_then(|v| v.as_ref().and_then(result_id))
            }),
            error_code: result
                .as_ref()
                .err()
                .map(|e| code_of(e).unwrap_or("INTERNAL").to_string()),
            ip: meta.ip,
            user_agent: meta.user_agent,
        };
        if tenants.is_empty() {
            // No tenant to record in (e.g. a failed sign-up): the log line is the record.
            tracing::info!(action = %event.action, outcome = event.error_code.as_deref().unwrap_or("ok"), ip = event.ip.as_deref().unwrap_or("-"), "unscoped mutation");
        }
        for tenant_id in tenants {
            // In its home region's file, which for catalog changes made in the primary may be elsewhere.
            let recorded = app
                .edge
                .record_audit(tenant_id, app.clock.now_ms(), event.clone())
                .await;
            if let Err(err) = recorded {
                tracing::error!(tenant_id = %tenant_id, action = %event.action, error = %err, "audit entry not recorded");
            }
        }
        result
    }
}

/// The first identifying argument, from the field itself or its `input` object, variables resolved.
fn target_from_arguments(
    field: &async_graphql::parser::types::Field,
    variables: &Variables,
) -> Option<String> {
    let args: Vec<(String, Value)> = field
        .arguments
        .iter()
        .filter_map(|(name, value)| {
            let value = value
                .node
                .clone()
                .into_const_with(|var: Name| variables.get(&var).cloned().ok_or(()))
                .ok()?;
            Some((name.node.to_string(), value))
        })
        .collect();
    let direct = |name: &str| args.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let input = direct("input").and_then(|v| match v {
        Value::Object(map) => Some(map),
        _ => None,
    });
    TARGET_ARGS.iter().find_map(|name| {
        let value = direct(name).or_else(|| input.and_then(|m| m.get(*name)))?;
        match value {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    })
}

/// The result's `id`, or the `id` of an object directly inside it (payload types).
fn result_id(value: &Value) -> Option<String> {
    let Value::Object(map) = value else {
        return None;
    };
    if let Some(Value::String(id)) = map.get("id") {
        return Some(id.clone());
    }
    map.values().find_map(|v| match v {
        Value::Object(inner) => match inner.get("id") {
            Some(Value::String(id)) => Some(id.clone()),
            _ => None,
        },
        _ => None,
    })
}

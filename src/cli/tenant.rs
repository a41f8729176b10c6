//! `voxedge tenant create|list`.

use clap::Subcommand;
use serde_json::json;

use crate::auth::keys;
use crate::model::Role;
use crate::repo;
use crate::state::AppState;

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and its database; prints {"tenant_id", "api_key"} (an owner key, shown only once).
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Home region (defaults to the current region, if any).
        #[arg(long, env = "VOXEDGE_REGION")]
        region: Option<String>,
    },
    /// List tenants.
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(state: AppState, command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create { name, region } => {
            let region = region
                .or_else(|| std::env::var("FLY_REGION").ok())
                .filter(|r| !r.is_empty());
            let tenant =
                crate::tenants::provision(&state.catalog, &state.tenants, &name, region).await?;
            let db = state.tenants.get(tenant.id).await?;
            let issued = keys::create(
                &db,
                tenant.id,
                Role::Owner,
                "cli".into(),
                keys::NewApiKey {
                    name: "owner key (CLI)".into(),
                    role: Role::Owner,
                    expires_at: None,
                },
            )
            .await?;
            println!(
                "{}",
                json!({ "tenant_id": tenant.id.to_string(), "api_key": issued.key })
            );
        }
        TenantCommand::List { json } => {
            let tenants = state.catalog.read(repo::tenants::list).await?;
            if json {
                for t in tenants {
                    println!(
                        "{}",
                        json!({
                            "tenant_id": t.id.to_string(), "slug": t.slug, "name": t.name,
                            "region": t.home_region, "plan": t.plan, "status": t.status, "created_at": t.created_at,
                        })
                    );
                }
            } else {
                println!(
                    "{:<26}  {:<24}  {:<8}  {:<6}  NAME",
                    "TENANT ID", "SLUG", "STATUS", "REGION"
                );
                for t in tenants {
                    println!(
                        "{:<26}  {:<24}  {:<8}  {:<6}  {}",
                        t.id.to_string(),
                        t.slug,
                        t.status,
                        t.home_region.as_deref().unwrap_or("-"),
                        t.name
                    );
                }
            }
        }
    }
    Ok(())
}

//! `voxedge tenant create|list`.

use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use crate::clock::datetime;
use crate::config::Config;
use crate::repo;
use crate::repo::milestones::Milestone;
use crate::state::AppState;

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and its database; prints {"tenant_id", "api_key"} (an owner key, shown only once).
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Home region (default: this region). Another region creates the tenant's file there (needs
        /// --public-url).
        #[arg(long)]
        region: Option<String>,
    },
    /// Move a tenant to another region through its Litestream replica: writes wait for the seconds it takes,
    /// nothing is lost. Prints what the move did.
    Move {
        /// The tenant to move.
        #[arg(long)]
        tenant: String,
        /// The region it moves to.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        server: super::remote::ServerArg,
    },
    /// List tenants.
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Onboarding per tenant: when each first made an agent, had a call, routed a phone number, paid an
    /// invoice; then how many tenants reached each.
    Milestones {
        /// One JSON object per tenant per line (no summary) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// `tenant move`: asks the server, which routes the request to the tenant's home region.
pub async fn move_tenant(
    config: Config,
    tenant: String,
    to: String,
    server: super::remote::ServerArg,
) -> anyhow::Result<()> {
    let id = super::tenant_id(&tenant)?;
    super::remote::call(
        &config,
        server.server,
        &format!("/internal/tenants/{id}/move"),
        json!({ "to": to }),
        Duration::from_secs(600),
    )
    .await
}

pub async fn run(state: AppState, command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create { name, region } => {
            let settings = &state.config.edge;
            let region = region.filter(|r| !r.is_empty());
            if !settings.is_primary() {
                anyhow::bail!(
                    "tenants are created where the catalog is written: run this in the primary region ({})",
                    settings.primary()
                );
            }
            let created = crate::edge::provision::provision(
                &state.edge,
                &name,
                region.as_deref(),
                "region",
                true,
            )
            .await?;
            println!(
                "{}",
                json!({ "tenant_id": created.record.id.to_string(), "api_key": created.owner_key })
            );
        }
        TenantCommand::Move { .. } => {
            anyhow::bail!("tenant move is sent to a server, not run on the state")
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
        TenantCommand::Milestones { json } => milestones(&state, json).await?,
    }
    Ok(())
}

/// Reads every tenant's milestones (opening each database, like `voxedge migrate`).
async fn milestones(state: &AppState, json: bool) -> anyhow::Result<()> {
    let tenants = state.catalog.read(repo::tenants::list).await?;
    let mut reached = [0usize; 4];
    if !json {
        println!(
            "{:<26}  {:<20}  {:<20}  {:<20}  {:<20}  NAME",
            "TENANT ID", "FIRST AGENT", "FIRST CALL", "FIRST PHONE NUMBER", "FIRST PAID INVOICE"
        );
    }
    for t in &tenants {
        let found = match state.tenants.get(t.id).await {
            Ok(db) => db.read(repo::milestones::get).await,
            Err(e) => Err(e),
        };
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                eprintln!("{}: {e}", t.id);
                continue;
            }
        };
        let at = |m: Milestone| found.at(m).map(|ms| datetime(ms).to_rfc3339());
        for (count, m) in reached.iter_mut().zip(Milestone::ALL) {
            *count += usize::from(found.at(m).is_some());
        }
        if json {
            println!(
                "{}",
                json!({
                    "tenant_id": t.id.to_string(), "name": t.name, "created_at": datetime(t.created_at).to_rfc3339(),
                    "first_agent_at": at(Milestone::FirstAgent), "first_call_at": at(Milestone::FirstCall),
                    "first_phone_number_at": at(Milestone::FirstPhoneNumber),
                    "first_paid_invoice_at": at(Milestone::FirstPaidInvoice),
                })
            );
        } else {
            let cell = |m: Milestone| {
                found.at(m).map_or("-".to_string(), |ms| {
                    datetime(ms).format("%Y-%m-%d %H:%M").to_string()
                })
            };
            println!(
                "{:<26}  {:<20}  {:<20}  {:<20}  {:<20}  {}",
                t.id.to_string(),
                cell(Milestone::FirstAgent),
                cell(Milestone::FirstCall),
                cell(Milestone::FirstPhoneNumber),
                cell(Milestone::FirstPaidInvoice),
                t.name
            );
        }
    }
    if !json {
        let [agent, call, phone, paid] = reached;
        println!(
            "{} tenants: {agent} made an agent, {call} had a call, {phone} routed a number, {paid} paid an invoice",
            tenants.len()
        );
    }
    Ok(())
}

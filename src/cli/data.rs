//! `voxedge migrate|backup|restore`: whole-data-directory operations.

use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::json;

use crate::config::Config;
use crate::db::{TenantId, backup};
use crate::repo;
use crate::state::AppState;

/// Migrates every tenant in the catalog (the catalog itself migrated when it was opened). Prints a JSON
/// summary; fails if any tenant could not be migrated, after trying all of them.
pub async fn migrate(state: AppState) -> anyhow::Result<()> {
    let tenants = state.catalog.read(repo::tenants::list).await?;
    let store = state.tenants.clone();
    let (migrated, failed) = tokio::task::spawn_blocking(move || {
        let mut migrated = 0usize;
        let mut failed = Vec::new();
        for tenant in tenants {
            match store.migrate_file(&store.path_of(tenant.id), tenant.id) {
                Ok(_) => migrated += 1,
                Err(err) => failed
                    .push(json!({ "tenant_id": tenant.id.to_string(), "error": err.to_string() })),
            }
        }
        (migrated, failed)
    })
    .await?;
    println!(
        "{}",
        json!({ "schema_version": crate::db::migrations::TENANT.latest(), "migrated": migrated, "failed": failed })
    );
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} tenant(s) could not be migrated", failed.len())
    }
}

pub async fn backup(config: Config, out: PathBuf, tenant: Option<String>) -> anyhow::Result<()> {
    let only = parse_tenant(tenant)?;
    let manifest = tokio::task::spawn_blocking(move || {
        backup::backup(&config.data_dir, &out, only, &config.sqlite)
    })
    .await?
    .context("backup failed")?;
    println!("{}", serde_json::to_string(&manifest)?);
    Ok(())
}

/// `voxedge restore`: three ways, by the flags given.
#[derive(Debug, Clone, clap::Args)]
pub struct RestoreArgs {
    /// A backup directory made by `voxedge backup`.
    #[arg(long, conflicts_with = "from_replica")]
    pub from: Option<PathBuf>,
    /// Restore only this tenant (with --from: its file and catalog row; with --at: to that time, online).
    #[arg(long)]
    pub tenant: Option<String>,
    /// A point in time (RFC 3339, e.g. 2026-01-02T03:04:05Z): with --tenant, that tenant is restored to it from
    /// the Litestream replica while the server runs (asked of --server, which routes it to the tenant's home);
    /// with --from-replica, the whole data directory is.
    #[arg(long)]
    pub at: Option<String>,
    /// Restore this region's whole data directory (catalog on the primary, every tenant homed here, region.db)
    /// from the Litestream replica (--replica-url) into an empty data directory, the server stopped.
    #[arg(long)]
    pub from_replica: bool,
    /// With --from-replica: an empty replica (a first start) is not an error.
    #[arg(long, requires = "from_replica")]
    pub if_replica_exists: bool,
    #[command(flatten)]
    pub server: super::remote::ServerArg,
}

pub async fn restore(config: Config, args: RestoreArgs) -> anyhow::Result<()> {
    if args.from_replica {
        if args.tenant.is_some() {
            anyhow::bail!(
                "--from-replica restores a whole data directory; use --tenant ID --at TIME for one tenant"
            );
        }
        let restored = crate::edge::restore::data_dir(
            &config.edge,
            &config.data_dir,
            args.at.as_deref(),
            args.if_replica_exists,
        )
        .await
        .context("restore failed")?;
        match restored {
            Some(report) => println!("{}", serde_json::to_string(&report)?),
            None => println!(
                "{}",
                json!({ "restored": false, "reason": "the replica is empty" })
            ),
        }
        return Ok(());
    }
    if let Some(at) = args.at {
        let Some(tenant) = args.tenant else {
            anyhow::bail!(
                "--at needs --tenant (one tenant) or --from-replica (the whole data directory)"
            );
        };
        let id = super::tenant_id(&tenant)?;
        return super::remote::call(
            &config,
            args.server.server,
            &format!("/internal/tenants/{id}/restore"),
            json!({ "at": at }),
            std::time::Duration::from_secs(1800),
        )
        .await;
    }
    let Some(from) = args.from else {
        anyhow::bail!(
            "say what to restore from: --from DIR, --tenant ID --at TIME, or --from-replica"
        );
    };
    let only = parse_tenant(args.tenant)?;
    let report = tokio::task::spawn_blocking(move || {
        backup::restore(&config.data_dir, &from, only, &config.sqlite)
    })
    .await?
    .context("restore failed")?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn parse_tenant(tenant: Option<String>) -> anyhow::Result<Option<TenantId>> {
    tenant.as_deref().map(super::tenant_id).transpose()
}

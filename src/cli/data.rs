//! `voxedge migrate|backup|restore`: whole-data-directory operations.

use std::path::PathBuf;

use anyhow::Context as _;
use serde_json::json;

use crate::config::Config;
use crate::db::store::open_tenant_writer;
use crate::db::{TenantId, backup};
use crate::repo;
use crate::state::AppState;

/// Migrates every tenant in the catalog (the catalog itself migrated when it was opened). Prints a JSON
/// summary; fails if any tenant could not be migrated, after trying all of them.
pub async fn migrate(state: AppState) -> anyhow::Result<()> {
    let tenants = state.catalog.read(repo::tenants::list).await?;
    let sqlite = state.config.sqlite.clone();
    let dir = state.tenants.dir().to_path_buf();
    let (migrated, failed) = tokio::task::spawn_blocking(move || {
        let mut migrated = 0usize;
        let mut failed = Vec::new();
        for tenant in tenants {
            match open_tenant_writer(&dir.join(tenant.id.file_name()), tenant.id, &sqlite) {
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

pub async fn restore(config: Config, from: PathBuf, tenant: Option<String>) -> anyhow::Result<()> {
    let only = parse_tenant(tenant)?;
    let report = tokio::task::spawn_blocking(move || {
        backup::restore(&config.data_dir, &from, only, &config.sqlite)
    })
    .await?
    .context("restore failed")?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn parse_tenant(tenant: Option<String>) -> anyhow::Result<Option<TenantId>> {
    tenant
        .map(|t| {
            t.parse::<TenantId>()
                .map_err(|_| anyhow::anyhow!("--tenant {t:?} is not a tenant id"))
        })
        .transpose()
}

//! `usageSummary`: what the tenant consumed, per metric. Owners, admins and billing.

use async_graphql::{Context, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::{ContextExt, tenant_db};
use crate::auth::Permission;
use crate::error::ApiError;
use crate::repo;
use crate::usage::Metric;

/// The total of one metric over a period.
#[derive(SimpleObject)]
pub struct UsageTotal {
    pub metric: Metric,
    /// In the metric's unit: milliseconds, tokens or characters.
    pub quantity: i64,
}

#[derive(Default)]
pub struct UsageQuery;

#[Object]
impl UsageQuery {
    /// Usage per metric from `since` (default: the beginning) until `until` (default: now), every metric listed.
    async fn usage_summary(
        &self,
        ctx: &Context<'_>,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
    ) -> Result<Vec<UsageTotal>> {
        let principal = ctx.authorize(Permission::ReadBilling)?;
        let since = since.map_or(0, |t| t.timestamp_millis());
        let until = until.map_or(i64::MAX, |t| t.timestamp_millis());
        let db = tenant_db(ctx, principal).await?;
        let totals = db
            .read(move |conn| repo::usage::totals(conn, since, until).map_err(ApiError::from))
            .await?;
        Ok(totals
            .into_iter()
            .map(|(metric, quantity)| UsageTotal { metric, quantity })
            .collect())
    }
}

//! `usageSummary`: what the tenant consumed, per metric. Owners, admins and billing.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::{ContextExt, tenant};
use crate::auth::Permission;
use crate::error::ApiResult;
use crate::model::Metric;
use crate::repo;

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
    ) -> ApiResult<Vec<UsageTotal>> {
        let principal = ctx.authorize(Permission::ReadBilling)?;
        let since = since.map_or(0, |t| t.timestamp_millis());
        let until = until.map_or(i64::MAX, |t| t.timestamp_millis());
        let db = tenant(ctx, principal).await?.db;
        let totals = db
            .read(move |conn| repo::usage::totals(conn, since, until))
            .await?;
        Ok(totals
            .into_iter()
            .map(|(metric, quantity)| UsageTotal { metric, quantity })
            .collect())
    }
}

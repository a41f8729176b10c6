//! A campaign's progress: counts by contact status and outcome, now (`Campaign.progress`) and live
//! (`campaignProgress` subscription).

use async_graphql::{Context, ID, SimpleObject, Subscription};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::context::{ContextExt, tenant};
use crate::auth::Permission;
use crate::db::{Database, StorageError};
use crate::error::{ApiError, ApiResult};
use crate::events::TenantEvent;
use crate::model::campaign::{CallOutcome, CampaignStatus};
use crate::repo;
use crate::repo::campaigns::{CampaignRow, Progress};

/// How many contacts finished with an outcome.
#[derive(SimpleObject)]
pub struct OutcomeCount {
    pub outcome: CallOutcome,
    pub count: i64,
}

/// Where a campaign's contacts stand.
#[derive(SimpleObject)]
pub struct CampaignProgress {
    pub campaign_id: ID,
    pub total: i64,
    /// Waiting for an attempt (a first one, or a retry).
    pub pending: i64,
    /// On the phone now.
    pub in_progress: i64,
    /// Finished with a person reached (`ANSWERED`).
    pub completed: i64,
    /// Finished without reaching a person (voicemail, busy, no answer, failed), by outcome in `outcomes`.
    pub failed: i64,
    /// Canceled before being called.
    pub canceled: i64,
    /// Finished contacts by their final outcome (every outcome listed, zeros included).
    pub outcomes: Vec<OutcomeCount>,
    /// Calls placed, retries included.
    pub attempts: i64,
}

impl CampaignProgress {
    pub(super) fn new(campaign_id: &str, p: Progress) -> Self {
        let count = |o: CallOutcome| {
            p.outcomes
                .iter()
                .find(|(x, _)| *x == o)
                .map_or(0, |(_, n)| *n)
        };
        let completed = count(CallOutcome::Answered);
        Self {
            campaign_id: ID(campaign_id.to_string()),
            total: p.total,
            pending: p.pending,
            in_progress: p.calling,
            completed,
            failed: p.done - completed,
            canceled: p.canceled,
            outcomes: CallOutcome::ALL
                .iter()
                .map(|&outcome| OutcomeCount {
                    outcome,
                    count: count(outcome),
                })
                .collect(),
            attempts: p.attempts,
        }
    }
}

#[derive(Default)]
pub struct CampaignSubscription;

#[Subscription]
impl CampaignSubscription {
    /// The campaign's progress now, then again whenever it changes (changes arriving together are sent once);
    /// completes once the campaign has completed or been canceled and its last calls have ended.
    async fn campaign_progress(
        &self,
        ctx: &Context<'_>,
        campaign_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = CampaignProgress> + use<>> {
        let principal = ctx.authorize(Permission::ReadCalls)?;
        let app = ctx.app().clone();
        let mut events = app.events.subscribe(principal.tenant_id);
        let tenant = tenant(ctx, principal).await?;
        let id = campaign_id.0;
        let first = snapshot(&tenant.db, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("campaign"))?;
        Ok(async_stream::stream! {
            let (mut campaign, mut progress) = first;
            loop {
                let over = matches!(campaign.status, CampaignStatus::Completed | CampaignStatus::Canceled)
                    && progress.in_progress == 0;
                yield progress;
                if over {
                    break;
                }
                loop {
                    match events.recv().await {
                        Ok(TenantEvent::Campaign(changed)) if *changed == id => break,
                        Ok(_) => continue,
                        Err(RecvError::Lagged(_)) => break,
                        Err(RecvError::Closed) => return,
                    }
                }
                // Coalesce a burst of changes into one message.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                while events.try_recv().is_ok() {}
                match snapshot(&tenant.db, &id).await {
                    Ok(Some(next)) => (campaign, progress) = next,
                    _ => break,
                }
            }
        })
    }
}

async fn snapshot(db: &Database, id: &str) -> ApiResult<Option<(CampaignRow, CampaignProgress)>> {
    let id = id.to_string();
    Ok(db
        .read(move |conn| -> Result<_, StorageError> {
            let Some(campaign) = repo::campaigns::get_campaign(conn, &id)? else {
                return Ok(None);
            };
            let progress = repo::campaigns::progress(conn, &id)?;
            Ok(Some((campaign, CampaignProgress::new(&id, progress))))
        })
        .await?)
}

//! The analyst: a background task that runs due post-call analyses, tenant by tenant.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{AnalysisQueue, Findings, answer_schema, instructions, read_answer, transcript};
use crate::agents::{AgentError, llm_keys};
use crate::brain::{AgentSpec, Brain, BrainError, BrainEvent, Conversation, Finish};
use crate::calls::call_json;
use crate::clock::{Clock, datetime};
use crate::db::{StorageError, TenantId, TenantStore};
use crate::error::{ErrorCode, Reportable as _};
use crate::events::EventBus;
use crate::live::LlmSettings;
use crate::live::plan::analysis_spec;
use crate::model::analysis::AnalysisStatus;
use crate::model::{AgentConfig, Metric, NewUsage, Variables};
use crate::repo;
use crate::repo::analysis::AnalysisRow;
use crate::repo::calls::{CallRow, SegmentRow};
use crate::secrets::Secrets;
use crate::tenants::{Change, Tenant};
use crate::webhooks::{self, Dispatcher, WebhookEvent};

/// Why the model could not be asked, or no model answered: the attempt is tried again later.
#[derive(Debug, thiserror::Error)]
enum Unanswered {
    #[error("cannot open the tenant's LLM keys: {0}")]
    Keys(#[from] AgentError),
    #[error("the agent's LLM settings cannot work: {0}")]
    Settings(#[from] BrainError),
    #[error("the agent's extraction schema cannot be used: {0}")]
    Schema(#[from] jsonschema::ValidationError<'static>),
    #[error("{0}")]
    Provider(String),
}

/// Attempts at reaching a model before an analysis is given up.
const MAX_ATTEMPTS: i64 = 5;
/// Delay after the first failed attempt; each later one waits four times longer.
const RETRY_BASE: Duration = Duration::from_secs(30);
/// How often the queue is read when nothing wakes the analyst (retries coming due, a moved clock).
const POLL: Duration = Duration::from_secs(2);
/// Analyses run at once (each is one LLM request at a time), and per tenant turn.
const CONCURRENCY: usize = 2;
const BATCH: usize = 8;

/// What the analyst works with.
pub struct AnalystParts {
    pub queue: AnalysisQueue,
    pub tenants: TenantStore,
    pub events: EventBus,
    pub webhooks: Dispatcher,
    pub brain: Brain,
    pub secrets: Secrets,
    pub llm: LlmSettings,
    pub clock: Clock,
}

/// Runs post-call analyses in the background. Cheap to clone.
#[derive(Clone)]
pub struct Analyst {
    inner: Arc<AnalystParts>,
}

/// What one request to the model came back with.
struct Answer {
    text: String,
    usage: Option<(u32, u32)>,
}

impl Analyst {
    pub fn new(parts: AnalystParts) -> Self {
        Self {
            inner: Arc::new(parts),
        }
    }

    /// Runs until `stop` resolves.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let wake = self.inner.queue.wake.clone();
        loop {
            let now = self.inner.clock.now_ms();
            let due = self
                .inner
                .queue
                .region_db()
                .read(move |conn| repo::analysis::due_tenants(conn, now, 64))
                .await
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "cannot read the analysis queue");
                    Vec::new()
                });
            futures::stream::iter(due)
                .for_each_concurrent(CONCURRENCY, |(tenant, version)| {
                    let this = self.clone();
                    async move { this.process(tenant, version).await }
                })
                .await;
            tokio::select! {
                () = &mut stop => break,
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    async fn process(&self, tenant: String, version: i64) {
        let next = match tenant.parse::<TenantId>() {
            Ok(id) => self.turn(id).await.unwrap_or_else(|e| {
                tracing::error!(tenant_id = %tenant, code = %e.code(), error = %e, "analysis turn failed");
                Some(self.inner.clock.now_ms() + ms(RETRY_BASE))
            }),
            Err(_) => None,
        };
        let settled = self
            .inner
            .queue
            .region_db()
            .write(move |tx| repo::analysis::settle_tenant(tx, &tenant, version, next))
            .await;
        if let Err(e) = settled {
            tracing::error!(error = %e, "cannot update the analysis queue");
        }
    }

    /// Runs a tenant's due analyses; returns when its next one is due (`None`: nothing pending).
    pub async fn turn(&self, id: TenantId) -> Result<Option<i64>, StorageError> {
        let inner = &self.inner;
        let db = inner.tenants.get(id).await?;
        let tenant = Tenant::new(
            id,
            db,
            inner.events.clone(),
            inner.webhooks.clone(),
            inner.queue.clone(),
        );
        let now = inner.clock.now_ms();
        let due = tenant
            .db
            .read(move |conn| repo::analysis::due(conn, now, BATCH))
            .await?;
        for job in due {
            let call_id = job.call_id.clone();
            if let Err(e) = self.analyse(&tenant, job).await {
                tracing::error!(tenant_id = %id, call_id, code = %e.code(), error = %e, "cannot store an analysis");
            }
        }
        tenant.db.read(repo::analysis::earliest_pending).await
    }

    /// One attempt at one call's analysis, its outcome stored in one transaction.
    async fn analyse(&self, tenant: &Tenant, mut job: AnalysisRow) -> Result<(), StorageError> {
        let call_id = job.call_id.clone();
        let facts = tenant
            .db
            .read(move |conn| -> Result<_, StorageError> {
                let Some(call) = repo::calls::get_call(conn, &call_id)? else {
                    return Ok(None);
                };
                let version = repo::agents::get_version(conn, &call.agent_id, call.agent_version)?;
                let variables = repo::call_variables::get(conn, &call.id)?;
                let segments = repo::calls::list_segments(conn, &call.id, 0, 10_000)?;
                Ok(version.map(|v| (call, v.config, variables, segments)))
            })
            .await?;
        let Some((call, config, variables, segments)) = facts else {
            // The call or its agent version is gone: nothing to analyse, ever.
            job.error = Some("the call or its agent version no longer exists".into());
            return self
                .store(
                    tenant,
                    job,
                    None,
                    AnalysisStatus::Failed,
                    Vec::new(),
                    Some(ErrorCode::NotFound),
                )
                .await;
        };
        job.attempts += 1;
        let attempt = job.attempts;
        let mut usage = Vec::new();
        let outcome = self
            .ask(
                tenant, &config, &call, &variables, &segments, &mut usage, attempt,
            )
            .await;
        match outcome {
            Ok(Ok(findings)) => {
                self.store(
                    tenant,
                    job,
                    Some(findings),
                    AnalysisStatus::Done,
                    usage,
                    None,
                )
                .await
            }
            Ok(Err(why)) => {
                job.error = Some(why);
                self.store(
                    tenant,
                    job,
                    None,
                    AnalysisStatus::Failed,
                    usage,
                    Some(ErrorCode::AnalysisInvalidOutput),
                )
                .await
            }
            Err(why) => {
                job.error = Some(why.to_string());
                if attempt >= MAX_ATTEMPTS {
                    self.store(
                        tenant,
                        job,
                        None,
                        AnalysisStatus::Failed,
                        usage,
                        Some(ErrorCode::AnalysisLlmFailed),
                    )
                    .await
                } else {
                    let factor =
                        4u32.saturating_pow(u32::try_from(attempt - 1).unwrap_or(u32::MAX));
                    job.next_attempt_at =
                        self.inner.clock.now_ms() + ms(RETRY_BASE.saturating_mul(factor));
                    self.store(
                        tenant,
                        job,
                        None,
                        AnalysisStatus::Pending,
                        usage,
                        Some(ErrorCode::AnalysisLlmFailed),
                    )
                    .await
                }
            }
        }
    }

    /// Asks the model, and once more with the validation errors if its answer does not match. `Err`: no model
    /// answered (try again later); `Ok(Err(why))`: answers that never matched.
    #[allow(clippy::too_many_arguments)]
    async fn ask(
        &self,
        tenant: &Tenant,
        config: &AgentConfig,
        call: &CallRow,
        variables: &Variables,
        segments: &[SegmentRow],
        usage: &mut Vec<NewUsage>,
        attempt: i64,
    ) -> Result<Result<Findings, String>, Unanswered> {
        let inner = &self.inner;
        let keys = llm_keys::open_keys(&tenant.db, &inner.secrets, tenant.id).await?;
        let spec = Arc::new(analysis_spec(config, tenant.id, &keys, &inner.llm)?);
        let validator = jsonschema::validator_for(&answer_schema(&config.analysis))?;
        let mut conversation = Conversation::new(instructions(&config.analysis));
        conversation.push_user(transcript(call, variables, segments));
        let mut why = String::new();
        for round in 1..=2 {
            let answer = self.request(spec.clone(), &conversation).await;
            let answer = answer?;
            if let Some((input, output)) = answer.usage {
                let what = format!("analysis:{attempt}:{round}");
                usage.push(NewUsage::for_call(
                    &call.id,
                    &format!("{what}:in"),
                    Metric::LlmInputTokens,
                    input.into(),
                ));
                usage.push(NewUsage::for_call(
                    &call.id,
                    &format!("{what}:out"),
                    Metric::LlmOutputTokens,
                    output.into(),
                ));
            }
            match read_answer(&answer.text, &validator) {
                Ok(findings) => return Ok(Ok(findings)),
                Err(problem) => {
                    tracing::warn!(call_id = %call.id, round, %problem, "post-call analysis answer refused");
                    conversation.push_assistant(answer.text);
                    conversation.push_user(format!(
                        "That answer cannot be used: {problem}. Answer again with only the JSON object, matching \
                         the keys and schema asked for."
                    ));
                    why = problem.to_string();
                }
            }
        }
        Ok(Err(why))
    }

    /// One reply from the agent's provider chain, collected whole.
    async fn request(
        &self,
        spec: Arc<AgentSpec>,
        conversation: &Conversation,
    ) -> Result<Answer, Unanswered> {
        let mut reply = self
            .inner
            .brain
            .reply(spec, conversation, CancellationToken::new());
        let mut answer = Answer {
            text: String::new(),
            usage: None,
        };
        let mut failure = None;
        let mut finish = None;
        while let Some(event) = reply.next().await {
            match event {
                BrainEvent::TextDelta(text) => answer.text.push_str(&text),
                BrainEvent::Usage {
                    prompt_tokens,
                    completion_tokens,
                    ..
                } => {
                    answer.usage = Some((prompt_tokens, completion_tokens));
                }
                BrainEvent::ProviderFailed {
                    provider, error, ..
                } => {
                    failure = Some(format!("{provider}: {error}"));
                }
                BrainEvent::Done(summary) => finish = Some(summary.finish),
                _ => {}
            }
        }
        match finish {
            Some(Finish::Stop | Finish::Length) => Ok(answer),
            _ => Err(Unanswered::Provider(
                failure.unwrap_or_else(|| "no LLM provider answered".into()),
            )),
        }
    }

    /// Stores an attempt's outcome with the usage it measured; a final outcome goes out as `call.analyzed`.
    async fn store(
        &self,
        tenant: &Tenant,
        mut job: AnalysisRow,
        findings: Option<Findings>,
        status: AnalysisStatus,
        usage: Vec<NewUsage>,
        code: Option<ErrorCode>,
    ) -> Result<(), StorageError> {
        let now = self.inner.clock.now_ms();
        job.status = status;
        job.updated_at = now;
        if let Some(found) = findings {
            job.summary = Some(found.summary);
            job.success = found.success;
            job.success_reason = found.success_reason;
            job.sentiment = Some(found.sentiment);
            job.extraction = found.extraction;
            job.error = None;
            job.error_code = None;
        } else {
            job.error_code = code.map(|c| c.as_str().to_string());
        }
        let outcome = match status {
            AnalysisStatus::Pending => "retry",
            done_or_failed => done_or_failed.as_str(),
        };
        metrics::counter!("voxedge_call_analyses_total", "outcome" => outcome).increment(1);
        if status != AnalysisStatus::Pending {
            job.completed_at = Some(now);
        }
        let tenant_id = tenant.id;
        tenant
            .commit(move |tx| {
                if !repo::analysis::update(tx, &job)? {
                    // Another worker stored this attempt first: nothing more to record.
                    return Ok(Change::quiet(()));
                }
                for usage in &usage {
                    repo::usage::record(tx, usage, now)?;
                }
                let mut deliveries = 0;
                if status != AnalysisStatus::Pending
                    && let Some(call) = repo::calls::get_call(tx, &job.call_id)?
                {
                    deliveries = webhooks::enqueue(
                        tx,
                        tenant_id,
                        WebhookEvent::CallAnalyzed,
                        json!({ "call": call_json(&call), "analysis": analysis_json(&job) }),
                    )?;
                }
                Ok(Change {
                    value: (),
                    events: Vec::new(),
                    deliveries,
                })
            })
            .await
    }
}

/// An analysis as webhooks show it.
pub fn analysis_json(row: &AnalysisRow) -> serde_json::Value {
    json!({
        "status": row.status.as_str(),
        "summary": row.summary,
        "success": row.success,
        "successReason": row.success_reason,
        "sentiment": row.sentiment.map(|s| s.as_str()),
        "extraction": row.extraction,
        "errorCode": row.error_code,
        "error": row.error,
        "attempts": row.attempts,
        "completedAt": row.completed_at.map(datetime),
    })
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

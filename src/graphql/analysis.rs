//! A call's post-call analysis, as `Call.analysis`.

use async_graphql::{Json, Object};
use chrono::{DateTime, Utc};

use crate::clock::datetime;
use crate::model::analysis::{AnalysisStatus, Sentiment};
use crate::repo::analysis::AnalysisRow;

/// What the agent's LLM read from a finished call: summary, success, sentiment, extracted data.
pub struct CallAnalysis(pub AnalysisRow);

#[Object]
impl CallAnalysis {
    async fn status(&self) -> AnalysisStatus {
        self.0.status
    }

    /// What happened, in a few sentences.
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }

    /// Whether the call met the agent's success criteria (null without criteria, or before it is done).
    async fn success(&self) -> Option<bool> {
        self.0.success
    }

    /// Why the call was judged a success or not.
    async fn success_reason(&self) -> Option<&str> {
        self.0.success_reason.as_deref()
    }

    /// The caller's overall sentiment.
    async fn sentiment(&self) -> Option<Sentiment> {
        self.0.sentiment
    }

    /// The data extracted, matching the agent's `analysis.extractionSchema`.
    async fn extraction(&self) -> Option<Json<&serde_json::Value>> {
        self.0.extraction.as_ref().map(Json)
    }

    /// Why it failed (`ANALYSIS_INVALID_OUTPUT`, `ANALYSIS_LLM_FAILED`), or why the last attempt did.
    async fn error_code(&self) -> Option<&str> {
        self.0.error_code.as_deref()
    }

    /// What went wrong, in words (e.g. the validation errors of the model's last answer).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    /// Attempts at reaching the model so far.
    async fn attempts(&self) -> i64 {
        self.0.attempts
    }

    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at.map(datetime)
    }
}

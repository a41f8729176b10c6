//! Post-call analysis as stored and served: where a call's analysis stands and what the caller felt.

use async_graphql::Enum;

/// Where a call's analysis stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum AnalysisStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// Summary, evaluation, sentiment and extraction are stored.
    Done,
    /// Given up: no model answered in every attempt, or its answer never matched the schema.
    Failed,
}

impl AnalysisStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Done, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// The caller's sentiment over the call, as the model judged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Sentiment {
    Positive,
    Neutral,
    Negative,
}

impl Sentiment {
    pub const ALL: [Sentiment; 3] = [Self::Positive, Self::Neutral, Self::Negative];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Positive => "positive",
            Self::Neutral => "neutral",
            Self::Negative => "negative",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}
